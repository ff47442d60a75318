//! The configuration types and their defaults. Each struct is one TOML section; field names
//! are the TOML keys. Accepted ranges are enforced by [`BrokerConfig::validate`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::policy::{PolicyDefaults, PolicyEntryConfig, RedeliverySection};
use crate::virtual_destinations::{CompositeConfig, VirtualTopicConfig};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const MIB_U64: u64 = 1024 * 1024;

/// The whole broker configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerConfig {
    /// `[network]`: listeners shared by every protocol.
    pub network: NetworkConfig,
    /// `[stomp]`: the STOMP listener, its frame limits and session settings.
    pub stomp: StompSection,
    /// `[storage]`: where broker data lives, durability, and the memory and store limits.
    pub storage: StorageConfig,
    /// `[core]`: queue sizes inside the broker core.
    pub core: CoreSection,
    /// `[admin]`: the admin HTTP API.
    pub admin: AdminSection,
    /// `[redelivery]`: broker-side redelivery (ActiveMQ's `redeliveryPlugin`).
    pub redelivery: RedeliverySection,
    /// `[policy_defaults]`: the policy of destinations no `[[policy]]` entry matches.
    pub policy_defaults: PolicyDefaults,
    /// `[[policy]]`: per-destination policies (ActiveMQ's `policyEntry`s). Last, because TOML
    /// writes arrays of tables after the plain sections.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policy: Vec<PolicyEntryConfig>,
    /// `[[virtual_topic]]`: virtual topic rules (ActiveMQ's `<virtualTopic>`). Absent
    /// (`None`): ActiveMQ's default, `VirtualTopic.>` copied to `Consumer.*.VirtualTopic.>`
    /// queues; present, the entries replace it (`virtual_topic = []`: no virtual topics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_topic: Option<Vec<VirtualTopicConfig>>,
    /// `[[composite]]`: composite queues and topics (ActiveMQ's `<compositeQueue>` and
    /// `<compositeTopic>`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub composite: Vec<CompositeConfig>,
}

impl BrokerConfig {
    /// The virtual topic rules in force: the configured ones, or ActiveMQ's default.
    pub fn virtual_topics(&self) -> Vec<VirtualTopicConfig> {
        self.virtual_topic
            .clone()
            .unwrap_or_else(|| vec![VirtualTopicConfig::default()])
    }
}

/// `[admin]`: the admin HTTP API (ActiveMQ's web console port is 8161).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminSection {
    /// Whether the admin API listens.
    pub enabled: bool,
    /// IP address it binds to; loopback by default, since it can change the broker.
    pub bind: String,
    /// TCP port; 0 picks a free port (it is logged).
    pub port: u16,
}

impl Default for AdminSection {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: "127.0.0.1".to_owned(),
            port: 8161,
        }
    }
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

/// `[storage]`: where broker data lives, when writes reach the disk, how much of it the broker
/// keeps in memory, and how large the store may grow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// Directory for broker data, created if missing; relative paths are relative to the
    /// working directory. The message store lives in its `store` subdirectory. Must not be
    /// empty.
    pub data_dir: String,
    /// When a store write reaches the disk (KahaDB `journalDiskSyncStrategy`).
    pub sync: SyncMode,
    /// With [`SyncMode::Periodic`], the time between two syncs of the write-ahead log, in ms
    /// (KahaDB `journalDiskSyncInterval`). Validated even when `sync` is `always`.
    /// Range 1..=60000.
    pub sync_interval_ms: u64,
    /// How much message data queues may hold in memory, in MiB (ActiveMQ
    /// `systemUsage/memoryUsage`). Past it, durable queues keep new persistent messages in
    /// the store only and producers of memory-only messages wait. 0 means automatic: 25% of
    /// physical memory. Range 0..=1048576.
    pub memory_limit_mb: u64,
    /// Messages read from the store at a time: at start, and when a paging queue runs low
    /// (compare ActiveMQ's `maxPageSize`). Range 1..=100000.
    pub page_size: usize,
    /// How large the message store may grow, in MiB (ActiveMQ `systemUsage/storeUsage`
    /// `limit`, default 100 GiB). Past it, producers of persistent queue messages wait until
    /// consumers free space, or are refused per `send_fail_if_no_space`. The size is RocksDB's
    /// live SST files plus memtables, measured after every group write. 0 means no limit.
    /// Range 0..=1073741824 (1 PiB).
    pub store_limit_mb: u64,
    /// At the memory limit (for a message that can only live in memory) or the store limit
    /// (for a persistent one), refuse the message at once instead of making its producer wait
    /// (ActiveMQ `systemUsage` `sendFailIfNoSpace`).
    pub send_fail_if_no_space: bool,
    /// At the memory or store limit, refuse such a message after its producer waited this
    /// long, in ms; 0 means wait as long as it takes (ActiveMQ `systemUsage`
    /// `sendFailIfNoSpaceAfterTimeout`). `send_fail_if_no_space` takes precedence.
    /// Range 0..=3600000.
    pub send_fail_if_no_space_after_timeout_ms: u64,
    /// Free disk space, in MiB, below which the store refuses new messages (producers get an
    /// ERROR) while acknowledgements may still use part of it so consumers can drain. RocksDB
    /// must never meet a full disk. Range 0..=1048576; 0 disables the guard.
    pub min_free_disk_mb: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            data_dir: "./data".to_owned(),
            sync: SyncMode::Always,
            sync_interval_ms: 1_000,
            memory_limit_mb: 0,
            page_size: 1_000,
            // ActiveMQ's default storeUsage: 100 GiB.
            store_limit_mb: 102_400,
            send_fail_if_no_space: false,
            send_fail_if_no_space_after_timeout_ms: 0,
            min_free_disk_mb: 256,
        }
    }
}

/// An automatic memory limit (`memory_limit_mb = 0`) is physical memory divided by this.
const AUTO_MEMORY_DIVISOR: u64 = 4;
/// The automatic memory limit when physical memory is unknown: 1024 MiB.
const AUTO_MEMORY_FALLBACK: u64 = 1024 * MIB_U64;

impl StorageConfig {
    /// The store limit in bytes (`store_limit_mb` × 1 MiB); 0 means no limit.
    pub fn store_limit_bytes(&self) -> u64 {
        self.store_limit_mb.saturating_mul(MIB_U64)
    }

    /// The memory limit in bytes. For `memory_limit_mb = 0` (automatic) it is a quarter of
    /// `physical_memory` (bytes; the caller reads it, since this crate does no I/O), or
    /// 1024 MiB when that is unknown or 0.
    pub fn memory_limit_bytes(&self, physical_memory: Option<u64>) -> u64 {
        match self.memory_limit_mb {
            0 => physical_memory
                .filter(|&m| m > 0)
                .map_or(AUTO_MEMORY_FALLBACK, |m| (m / AUTO_MEMORY_DIVISOR).max(1)),
            mb => mb.saturating_mul(MIB_U64),
        }
    }

    /// How long a producer may wait for memory (memory-only message) or store space
    /// (persistent message) before its message is refused: `Some(0)` with `send_fail_if_no_space`, else `Some(timeout)` when
    /// `send_fail_if_no_space_after_timeout_ms` is above 0, else `None` (wait as long as it
    /// takes).
    pub fn send_fail_after(&self) -> Option<Duration> {
        if self.send_fail_if_no_space {
            Some(Duration::ZERO)
        } else if self.send_fail_if_no_space_after_timeout_ms > 0 {
            Some(Duration::from_millis(
                self.send_fail_if_no_space_after_timeout_ms,
            ))
        } else {
            None
        }
    }
}

/// `storage.sync`: when a store write reaches the disk. KahaDB's `journalDiskSyncStrategy`
/// names (its `never` is not offered).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// `"always"`: every write is synced to disk before the client is told it is done.
    /// Nothing acknowledged is lost, even by a power failure.
    #[default]
    Always,
    /// `"periodic"`: writes reach the operating system at once and the disk every
    /// `sync_interval_ms`. A process crash loses nothing; a power failure or kernel crash can
    /// lose about the last interval of acknowledged writes.
    Periodic,
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
        assert_eq!(
            c.storage,
            StorageConfig {
                data_dir: "./data".to_owned(),
                sync: SyncMode::Always,
                sync_interval_ms: 1_000,
                memory_limit_mb: 0,
                page_size: 1_000,
                store_limit_mb: 102_400,
                send_fail_if_no_space: false,
                send_fail_if_no_space_after_timeout_ms: 0,
                min_free_disk_mb: 256,
            }
        );
        assert_eq!(
            c.storage.store_limit_bytes(),
            100 * 1024 * 1024 * 1024,
            "ActiveMQ's default storeUsage"
        );
        assert_eq!(
            c.core,
            CoreSection {
                mailbox_capacity: 4096,
                delivery_channel_capacity: 4096,
                topic_pending_limit: 100_000,
                max_transaction_ops: 100_000,
            }
        );
        assert_eq!(
            c.admin,
            AdminSection {
                enabled: true,
                bind: "127.0.0.1".to_owned(),
                port: 8161,
            },
            "ActiveMQ's web console port, loopback only"
        );
        // No redelivery entries: immediate redelivery; priority on natively.
        assert_eq!(c.redelivery.default_entry, None);
        assert!(c.redelivery.entry.is_empty());
        assert!(c.redelivery.send_to_dlq_if_max_retries_exceeded);
        assert!(c.redelivery.fallback_to_dead_letter);
        assert!(c.policy_defaults.prioritized_messages);
        assert!(c.policy.is_empty());
        // ActiveMQ's default virtual topic, no composites.
        assert_eq!(c.virtual_topic, None);
        assert_eq!(c.virtual_topics(), [VirtualTopicConfig::default()]);
        assert_eq!(c.virtual_topics()[0].name, "VirtualTopic.>");
        assert_eq!(c.virtual_topics()[0].prefix, "Consumer.*.");
        assert!(c.composite.is_empty());
    }

    #[test]
    fn memory_limit_in_bytes() {
        let storage = |memory_limit_mb| StorageConfig {
            memory_limit_mb,
            ..StorageConfig::default()
        };
        const MIB: u64 = 1024 * 1024;
        // An explicit limit ignores physical memory.
        assert_eq!(storage(1).memory_limit_bytes(None), MIB);
        assert_eq!(
            storage(512).memory_limit_bytes(Some(64 * 1024 * MIB)),
            512 * MIB
        );
        assert_eq!(
            storage(1_048_576).memory_limit_bytes(None),
            1024 * 1024 * MIB,
            "the largest accepted value, 1 TiB"
        );
        // Automatic: a quarter of physical memory, or 1024 MiB when it is unknown.
        let auto = storage(0);
        assert_eq!(
            auto.memory_limit_bytes(Some(16 * 1024 * MIB)),
            4 * 1024 * MIB
        );
        assert_eq!(auto.memory_limit_bytes(Some(1001)), 250);
        assert_eq!(auto.memory_limit_bytes(Some(3)), 1, "never 0");
        assert_eq!(auto.memory_limit_bytes(None), 1024 * MIB);
        assert_eq!(auto.memory_limit_bytes(Some(0)), 1024 * MIB);
    }

    #[test]
    fn store_limit_in_bytes() {
        let storage = |store_limit_mb| StorageConfig {
            store_limit_mb,
            ..StorageConfig::default()
        };
        const MIB: u64 = 1024 * 1024;
        assert_eq!(storage(0).store_limit_bytes(), 0, "0 stays 0: no limit");
        assert_eq!(storage(1).store_limit_bytes(), MIB);
        assert_eq!(storage(102_400).store_limit_bytes(), 100 * 1024 * MIB);
        assert_eq!(
            storage(1_073_741_824).store_limit_bytes(),
            1 << 50,
            "the largest accepted value, 1 PiB"
        );
        assert_eq!(storage(u64::MAX).store_limit_bytes(), u64::MAX, "saturates");
    }

    #[test]
    fn send_fail_after_maps_activemq_semantics() {
        let storage = |fail: bool, timeout_ms: u64| StorageConfig {
            send_fail_if_no_space: fail,
            send_fail_if_no_space_after_timeout_ms: timeout_ms,
            ..StorageConfig::default()
        };
        // Default: wait as long as it takes.
        assert_eq!(StorageConfig::default().send_fail_after(), None);
        assert_eq!(storage(false, 0).send_fail_after(), None);
        // sendFailIfNoSpace: fail at once, whatever the timeout says.
        assert_eq!(storage(true, 0).send_fail_after(), Some(Duration::ZERO));
        assert_eq!(storage(true, 3000).send_fail_after(), Some(Duration::ZERO));
        // sendFailIfNoSpaceAfterTimeout: wait that long, then fail.
        assert_eq!(
            storage(false, 3000).send_fail_after(),
            Some(Duration::from_millis(3000))
        );
    }

    #[test]
    fn defaults_are_valid() {
        BrokerConfig::default()
            .validate()
            .expect("defaults must validate");
    }
}
