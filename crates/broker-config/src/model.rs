//! The configuration types and their defaults. Each struct is one TOML section; field names
//! are the TOML keys. Accepted ranges are enforced by [`BrokerConfig::validate`].

use serde::{Deserialize, Serialize};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

/// The whole broker configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// `[network]`: listeners shared by every protocol.
    pub network: NetworkConfig,
    /// `[stomp]`: the STOMP listener, its frame limits and session settings.
    pub stomp: StompSection,
    /// `[storage]`: where broker data lives.
    pub storage: StorageConfig,
    /// `[core]`: queue sizes inside the broker core.
    pub core: CoreSection,
}

/// `[network]`: settings shared by every listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// IP address every listener binds to (`0.0.0.0` all IPv4, `::` all IPv6, `127.0.0.1`
    /// loopback only). Must be an IP literal, not a host name.
    pub bind: String,
    /// Most client connections open at once, over all protocols; a connection beyond it gets
    /// an ERROR frame (`Connection limit reached`) and is closed. Range 1..=1000000.
    pub max_connections: usize,
    /// On shutdown, how long open connections get to finish, in ms, before they are cut.
    /// Range 0..=3600000.
    pub shutdown_grace_ms: u64,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            bind: "0.0.0.0".to_owned(),
            max_connections: 10_000,
            shutdown_grace_ms: 5_000,
        }
    }
}

/// `[stomp]`: the STOMP listener. The size limits bound what one connection may make the
/// broker buffer (architecture §2.4, §2.8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StompSection {
    /// Whether the STOMP listener runs.
    pub enabled: bool,
    /// TCP port; 0 picks a free port (it is logged). ActiveMQ's STOMP port is 61613.
    pub port: u16,
    /// Largest frame in bytes (command, headers and body together); a larger frame closes
    /// the connection with an ERROR. Range 1..=2147483648, and at least `max_body` and
    /// `max_header_line`.
    pub max_frame_size: usize,
    /// Most headers in one frame. Range 1..=100000.
    pub max_header_count: usize,
    /// Longest header line in bytes (name, colon and value, escaped).
    /// Range 1..=16777216, and at most `max_frame_size`.
    pub max_header_line: usize,
    /// Largest message body in bytes. Range 1..=1073741824, and at most `max_frame_size`.
    pub max_body: usize,
    /// A client whose heart-beats are this many intervals late is disconnected (ActiveMQ
    /// `transport.hbGracePeriodMultiplier`). Range 1.0..=100.0.
    pub hb_grace_multiplier: f64,
    /// Smallest interval in ms at which the broker sends heart-beats. Otherwise the broker
    /// sends as often as the client asks (the second `heart-beat` number, `cy`), as ActiveMQ
    /// does; a client asking for none gets none. 0 means no floor. Range 0..=3600000.
    pub min_server_heartbeat_ms: u32,
    /// Smallest client heart-beat interval in ms the broker asks for: a client offering to
    /// send more often (the first `heart-beat` number, `cx`) is asked for this interval
    /// instead. 0 means no floor. Range 0..=3600000.
    pub min_client_heartbeat_ms: u32,
    /// How long a new connection may take to send CONNECT/STOMP, in ms. Range 1..=3600000.
    pub connect_timeout_ms: u64,
    /// Prefetch for a SUBSCRIBE without `activemq.prefetchSize`: how many unacknowledged
    /// messages a consumer may hold (ActiveMQ: 1000). Range 1..=1000000.
    pub default_prefetch: u32,
    /// How long one write to a client may take, in ms: a client that does not take a write
    /// within this time is dropped as a slow consumer. Range 1..=3600000.
    pub write_timeout_ms: u64,
}

impl Default for StompSection {
    fn default() -> Self {
        Self {
            enabled: true,
            port: 61613,
            // Room for a full-size body plus its headers.
            max_frame_size: 10 * MIB + 64 * KIB,
            max_header_count: 1000,
            max_header_line: 64 * KIB,
            max_body: 10 * MIB,
            hb_grace_multiplier: 1.5,
            min_server_heartbeat_ms: 1_000,
            min_client_heartbeat_ms: 1_000,
            connect_timeout_ms: 10_000,
            default_prefetch: 1000,
            write_timeout_ms: 30_000,
        }
    }
}

/// `[storage]`: where broker data lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Directory for broker data, created if missing; relative paths are relative to the
    /// working directory. Must not be empty.
    pub data_dir: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: "./data".to_owned(),
        }
    }
}

/// `[core]`: bounds inside the broker core: queues, slow topic subscribers and transactions
/// (architecture §2.8, §2.9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoreSection {
    /// Commands that may wait in each destination's mailbox; when it is full, senders wait
    /// (producer backpressure). Range 1..=1048576.
    pub mailbox_capacity: usize,
    /// Deliveries that may wait for each connection. Prefetch normally keeps deliveries below
    /// it; when it is full the destination retries shortly. Range 1..=1048576.
    pub delivery_channel_capacity: usize,
    /// Messages kept waiting for one slow non-durable topic subscriber beyond its prefetch;
    /// past it the oldest are discarded. A SUBSCRIBE's `activemq.maximumPendingMessageLimit`
    /// greater than 0 overrides it. Range 1..=100000000.
    pub topic_pending_limit: usize,
    /// Most SEND/ACK/NACK operations one open transaction may stage; past it the operation
    /// gets an ERROR. Range 1..=10000000.
    pub max_transaction_ops: usize,
}

impl Default for CoreSection {
    fn default() -> Self {
        Self {
            mailbox_capacity: 4096,
            delivery_channel_capacity: 4096,
            topic_pending_limit: 100_000,
            max_transaction_ops: 100_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_values() {
        let c = BrokerConfig::default();
        assert_eq!(
            c.network,
            NetworkConfig {
                bind: "0.0.0.0".to_owned(),
                max_connections: 10_000,
                shutdown_grace_ms: 5_000,
            }
        );
        assert_eq!(
            c.stomp,
            StompSection {
                enabled: true,
                port: 61613,
                max_frame_size: 10_551_296,
                max_header_count: 1000,
                max_header_line: 65_536,
                max_body: 10_485_760,
                hb_grace_multiplier: 1.5,
                min_server_heartbeat_ms: 1_000,
                min_client_heartbeat_ms: 1_000,
                connect_timeout_ms: 10_000,
                default_prefetch: 1000,
                write_timeout_ms: 30_000,
            }
        );
        assert_eq!(c.storage.data_dir, "./data");
        assert_eq!(
            c.core,
            CoreSection {
                mailbox_capacity: 4096,
                delivery_channel_capacity: 4096,
                topic_pending_limit: 100_000,
                max_transaction_ops: 100_000,
            }
        );
    }

    #[test]
    fn defaults_are_valid() {
        BrokerConfig::default()
            .validate()
            .expect("defaults must validate");
    }
}
