//! [`BrokerConfig::validate`]: the ranges and cross-field rules a config must satisfy before
//! the broker starts. Bounds reject nonsense and unit mix-ups (seconds for ms) early, with the
//! field's dotted TOML path; 0 is accepted only where it has a documented meaning.

use std::fmt::Display;
use std::net::IpAddr;
use std::ops::RangeInclusive;

use crate::{BrokerConfig, ConfigError, CoreSection, NetworkConfig, StompSection, StorageConfig};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;
/// One hour, the longest interval or timeout accepted.
const HOUR_MS: u64 = 3_600_000;

const MAX_CONNECTIONS: RangeInclusive<u64> = 1..=1_000_000;
const SHUTDOWN_GRACE_MS: RangeInclusive<u64> = 0..=HOUR_MS;
const MAX_FRAME_SIZE: RangeInclusive<u64> = 1..=2 * GIB;
const MAX_HEADER_COUNT: RangeInclusive<u64> = 1..=100_000;
const MAX_HEADER_LINE: RangeInclusive<u64> = 1..=16 * MIB;
const MAX_BODY: RangeInclusive<u64> = 1..=GIB;
const HB_GRACE_MULTIPLIER: RangeInclusive<f64> = 1.0..=100.0;
const HEARTBEAT_MS: RangeInclusive<u64> = 0..=HOUR_MS;
const CONNECT_TIMEOUT_MS: RangeInclusive<u64> = 1..=HOUR_MS;
const DEFAULT_PREFETCH: RangeInclusive<u64> = 1..=1_000_000;
const WRITE_TIMEOUT_MS: RangeInclusive<u64> = 1..=HOUR_MS;
const CHANNEL_CAPACITY: RangeInclusive<u64> = 1..=1_048_576;
const TOPIC_PENDING_LIMIT: RangeInclusive<u64> = 1..=100_000_000;
const MAX_TRANSACTION_OPS: RangeInclusive<u64> = 1..=10_000_000;
const SYNC_INTERVAL_MS: RangeInclusive<u64> = 1..=60_000;
/// Up to 1 TiB; 0 is automatic.
const MEMORY_LIMIT_MB: RangeInclusive<u64> = 0..=1_048_576;
const PAGE_SIZE: RangeInclusive<u64> = 1..=100_000;
/// Up to 1 PiB; 0 is no limit.
const STORE_LIMIT_MB: RangeInclusive<u64> = 0..=1_073_741_824;
const MIN_FREE_DISK_MB: RangeInclusive<u64> = 0..=1_048_576;
const SEND_FAIL_TIMEOUT_MS: RangeInclusive<u64> = 0..=HOUR_MS;

impl BrokerConfig {
    /// Checks every field and returns the first violation, naming the field by its dotted
    /// TOML path and quoting the rejected value, e.g.
    /// ``"`stomp.max_body` must be in 1..=1073741824; got 0"``.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.network.validate()?;
        self.stomp.validate()?;
        self.storage.validate()?;
        self.core.validate()
    }
}

impl NetworkConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.bind.parse::<IpAddr>().is_err() {
            return Err(ConfigError::invalid(
                "network.bind",
                format!(
                    "must be an IP address such as 0.0.0.0, :: or 127.0.0.1; got {:?}",
                    self.bind
                ),
            ));
        }
        in_range(
            "network.max_connections",
            self.max_connections,
            MAX_CONNECTIONS,
        )?;
        in_range(
            "network.shutdown_grace_ms",
            self.shutdown_grace_ms,
            SHUTDOWN_GRACE_MS,
        )
    }
}

impl StompSection {
    fn validate(&self) -> Result<(), ConfigError> {
        // `port` needs no check: every u16 is usable and 0 asks the OS for a free port.
        in_range("stomp.max_frame_size", self.max_frame_size, MAX_FRAME_SIZE)?;
        in_range(
            "stomp.max_header_count",
            self.max_header_count,
            MAX_HEADER_COUNT,
        )?;
        in_range(
            "stomp.max_header_line",
            self.max_header_line,
            MAX_HEADER_LINE,
        )?;
        in_range("stomp.max_body", self.max_body, MAX_BODY)?;
        // A limit above the frame limit could never be reached: the frame check fires first.
        at_most_frame(
            "stomp.max_header_line",
            self.max_header_line,
            self.max_frame_size,
        )?;
        at_most_frame("stomp.max_body", self.max_body, self.max_frame_size)?;
        // NaN fails `contains`, so it is rejected too; infinity would overflow a Duration.
        if !HB_GRACE_MULTIPLIER.contains(&self.hb_grace_multiplier) {
            return Err(ConfigError::invalid(
                "stomp.hb_grace_multiplier",
                format!(
                    "must be a number in {:.1}..={:.1} (at least 1.0: a client may not be \
                     dropped before its heart-beat is due); got {}",
                    HB_GRACE_MULTIPLIER.start(),
                    HB_GRACE_MULTIPLIER.end(),
                    self.hb_grace_multiplier
                ),
            ));
        }
        in_range(
            "stomp.min_server_heartbeat_ms",
            self.min_server_heartbeat_ms,
            HEARTBEAT_MS,
        )?;
        in_range(
            "stomp.min_client_heartbeat_ms",
            self.min_client_heartbeat_ms,
            HEARTBEAT_MS,
        )?;
        in_range(
            "stomp.connect_timeout_ms",
            self.connect_timeout_ms,
            CONNECT_TIMEOUT_MS,
        )?;
        in_range(
            "stomp.default_prefetch",
            self.default_prefetch,
            DEFAULT_PREFETCH,
        )?;
        in_range(
            "stomp.write_timeout_ms",
            self.write_timeout_ms,
            WRITE_TIMEOUT_MS,
        )
    }
}

impl StorageConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.trim().is_empty() {
            return Err(ConfigError::invalid(
                "storage.data_dir",
                format!("must name a directory; got {:?}", self.data_dir),
            ));
        }
        // `sync` needs no check: serde accepts only its two names.
        in_range(
            "storage.sync_interval_ms",
            self.sync_interval_ms,
            SYNC_INTERVAL_MS,
        )?;
        in_range(
            "storage.memory_limit_mb",
            self.memory_limit_mb,
            MEMORY_LIMIT_MB,
        )?;
        in_range("storage.page_size", self.page_size, PAGE_SIZE)?;
        in_range(
            "storage.store_limit_mb",
            self.store_limit_mb,
            STORE_LIMIT_MB,
        )?;
        in_range(
            "storage.min_free_disk_mb",
            self.min_free_disk_mb,
            MIN_FREE_DISK_MB,
        )?;
        in_range(
            "storage.send_fail_if_no_space_after_timeout_ms",
            self.send_fail_if_no_space_after_timeout_ms,
            SEND_FAIL_TIMEOUT_MS,
        )
    }
}

impl CoreSection {
    fn validate(&self) -> Result<(), ConfigError> {
        in_range(
            "core.mailbox_capacity",
            self.mailbox_capacity,
            CHANNEL_CAPACITY,
        )?;
        in_range(
            "core.delivery_channel_capacity",
            self.delivery_channel_capacity,
            CHANNEL_CAPACITY,
        )?;
        in_range(
            "core.topic_pending_limit",
            self.topic_pending_limit,
            TOPIC_PENDING_LIMIT,
        )?;
        in_range(
            "core.max_transaction_ops",
            self.max_transaction_ops,
            MAX_TRANSACTION_OPS,
        )
    }
}

/// Integer range check; values are widened to u64 so one helper serves every integer field.
fn in_range<T>(field: &str, value: T, range: RangeInclusive<u64>) -> Result<(), ConfigError>
where
    T: Copy + Display + TryInto<u64>,
{
    match value.try_into() {
        Ok(v) if range.contains(&v) => Ok(()),
        _ => Err(ConfigError::invalid(
            field,
            format!(
                "must be in {}..={}; got {value}",
                range.start(),
                range.end()
            ),
        )),
    }
}

fn at_most_frame(field: &str, value: usize, max_frame_size: usize) -> Result<(), ConfigError> {
    if value > max_frame_size {
        return Err(ConfigError::invalid(
            field,
            format!("must not exceed `stomp.max_frame_size` ({max_frame_size}); got {value}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SyncMode;

    /// Applies `change` to the defaults and returns the validation message.
    fn rejected(change: impl FnOnce(&mut BrokerConfig)) -> String {
        let mut c = BrokerConfig::default();
        change(&mut c);
        match c.validate() {
            Err(e @ ConfigError::Invalid { .. }) => e.to_string(),
            other => panic!("expected an Invalid error, got {other:?} for {c:?}"),
        }
    }

    fn accepted(change: impl FnOnce(&mut BrokerConfig)) {
        let mut c = BrokerConfig::default();
        change(&mut c);
        if let Err(e) = c.validate() {
            panic!("expected {c:?} to validate, got: {e}");
        }
    }

    #[test]
    fn invalid_error_names_the_field() {
        let mut c = BrokerConfig::default();
        c.stomp.max_body = 0;
        match c.validate() {
            Err(ConfigError::Invalid { field, reason }) => {
                assert_eq!(field, "stomp.max_body");
                assert_eq!(reason, "must be in 1..=1073741824; got 0");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn network_rules() {
        assert_eq!(
            rejected(|c| c.network.bind = "localhost".into()),
            "`network.bind` must be an IP address such as 0.0.0.0, :: or 127.0.0.1; got \"localhost\""
        );
        assert_eq!(
            rejected(|c| c.network.bind = "0.0.0.0:61613".into()),
            "`network.bind` must be an IP address such as 0.0.0.0, :: or 127.0.0.1; got \"0.0.0.0:61613\""
        );
        accepted(|c| c.network.bind = "::".into());
        accepted(|c| c.network.bind = "127.0.0.1".into());
        assert_eq!(
            rejected(|c| c.network.max_connections = 0),
            "`network.max_connections` must be in 1..=1000000; got 0"
        );
        assert_eq!(
            rejected(|c| c.network.max_connections = 1_000_001),
            "`network.max_connections` must be in 1..=1000000; got 1000001"
        );
        accepted(|c| c.network.shutdown_grace_ms = 0);
        assert_eq!(
            rejected(|c| c.network.shutdown_grace_ms = 3_600_001),
            "`network.shutdown_grace_ms` must be in 0..=3600000; got 3600001"
        );
    }

    #[test]
    fn stomp_port_zero_means_any() {
        accepted(|c| c.stomp.port = 0);
        accepted(|c| c.stomp.port = u16::MAX);
    }

    #[test]
    fn stomp_size_rules() {
        assert_eq!(
            rejected(|c| c.stomp.max_frame_size = 0),
            "`stomp.max_frame_size` must be in 1..=2147483648; got 0"
        );
        assert_eq!(
            rejected(|c| c.stomp.max_header_count = 0),
            "`stomp.max_header_count` must be in 1..=100000; got 0"
        );
        assert_eq!(
            rejected(|c| c.stomp.max_header_line = 0),
            "`stomp.max_header_line` must be in 1..=16777216; got 0"
        );
        assert_eq!(
            rejected(|c| c.stomp.max_header_line = 16 * 1024 * 1024 + 1),
            "`stomp.max_header_line` must be in 1..=16777216; got 16777217"
        );
        assert_eq!(
            rejected(|c| c.stomp.max_body = 0),
            "`stomp.max_body` must be in 1..=1073741824; got 0"
        );
        assert_eq!(
            rejected(|c| {
                c.stomp.max_frame_size = 2 * 1024 * 1024 * 1024;
                c.stomp.max_body = 1024 * 1024 * 1024 + 1;
            }),
            "`stomp.max_body` must be in 1..=1073741824; got 1073741825"
        );
        assert_eq!(
            rejected(|c| c.stomp.max_body = c.stomp.max_frame_size + 1),
            "`stomp.max_body` must not exceed `stomp.max_frame_size` (10551296); got 10551297"
        );
        assert_eq!(
            rejected(|c| {
                c.stomp.max_frame_size = 1000;
                c.stomp.max_body = 1000;
            }),
            "`stomp.max_header_line` must not exceed `stomp.max_frame_size` (1000); got 65536"
        );
        accepted(|c| c.stomp.max_body = c.stomp.max_frame_size);
    }

    #[test]
    fn stomp_heartbeat_and_session_rules() {
        let grace = |v: f64| {
            format!(
                "`stomp.hb_grace_multiplier` must be a number in 1.0..=100.0 (at least 1.0: a \
                 client may not be dropped before its heart-beat is due); got {v}"
            )
        };
        assert_eq!(
            rejected(|c| c.stomp.hb_grace_multiplier = 0.99),
            grace(0.99)
        );
        assert_eq!(
            rejected(|c| c.stomp.hb_grace_multiplier = f64::NAN),
            grace(f64::NAN)
        );
        assert_eq!(
            rejected(|c| c.stomp.hb_grace_multiplier = f64::INFINITY),
            grace(f64::INFINITY)
        );
        accepted(|c| c.stomp.hb_grace_multiplier = 1.0);
        accepted(|c| c.stomp.hb_grace_multiplier = 100.0);

        accepted(|c| c.stomp.min_server_heartbeat_ms = 0);
        accepted(|c| c.stomp.min_server_heartbeat_ms = 3_600_000);
        assert_eq!(
            rejected(|c| c.stomp.min_server_heartbeat_ms = 3_600_001),
            "`stomp.min_server_heartbeat_ms` must be in 0..=3600000; got 3600001"
        );
        accepted(|c| c.stomp.min_client_heartbeat_ms = 0);
        assert_eq!(
            rejected(|c| c.stomp.min_client_heartbeat_ms = u32::MAX),
            "`stomp.min_client_heartbeat_ms` must be in 0..=3600000; got 4294967295"
        );
        assert_eq!(
            rejected(|c| c.stomp.connect_timeout_ms = 0),
            "`stomp.connect_timeout_ms` must be in 1..=3600000; got 0"
        );
        assert_eq!(
            rejected(|c| c.stomp.default_prefetch = 0),
            "`stomp.default_prefetch` must be in 1..=1000000; got 0"
        );
        accepted(|c| c.stomp.write_timeout_ms = 1);
        accepted(|c| c.stomp.write_timeout_ms = 3_600_000);
        assert_eq!(
            rejected(|c| c.stomp.write_timeout_ms = 0),
            "`stomp.write_timeout_ms` must be in 1..=3600000; got 0"
        );
        assert_eq!(
            rejected(|c| c.stomp.write_timeout_ms = 3_600_001),
            "`stomp.write_timeout_ms` must be in 1..=3600000; got 3600001"
        );
    }

    #[test]
    fn storage_rules() {
        assert_eq!(
            rejected(|c| c.storage.data_dir = String::new()),
            "`storage.data_dir` must name a directory; got \"\""
        );
        assert_eq!(
            rejected(|c| c.storage.data_dir = "  ".into()),
            "`storage.data_dir` must name a directory; got \"  \""
        );

        accepted(|c| c.storage.sync = SyncMode::Periodic);
        accepted(|c| c.storage.sync_interval_ms = 1);
        accepted(|c| c.storage.sync_interval_ms = 60_000);
        assert_eq!(
            rejected(|c| c.storage.sync_interval_ms = 0),
            "`storage.sync_interval_ms` must be in 1..=60000; got 0"
        );
        // Checked under `always` too, so switching to `periodic` later cannot fail.
        assert_eq!(
            rejected(|c| {
                c.storage.sync = SyncMode::Always;
                c.storage.sync_interval_ms = 60_001;
            }),
            "`storage.sync_interval_ms` must be in 1..=60000; got 60001"
        );

        accepted(|c| c.storage.memory_limit_mb = 0);
        accepted(|c| c.storage.memory_limit_mb = 1);
        accepted(|c| c.storage.memory_limit_mb = 1_048_576);
        assert_eq!(
            rejected(|c| c.storage.memory_limit_mb = 1_048_577),
            "`storage.memory_limit_mb` must be in 0..=1048576; got 1048577"
        );

        accepted(|c| c.storage.page_size = 1);
        accepted(|c| c.storage.page_size = 100_000);
        assert_eq!(
            rejected(|c| c.storage.page_size = 0),
            "`storage.page_size` must be in 1..=100000; got 0"
        );
        assert_eq!(
            rejected(|c| c.storage.page_size = 100_001),
            "`storage.page_size` must be in 1..=100000; got 100001"
        );

        accepted(|c| c.storage.store_limit_mb = 0);
        accepted(|c| c.storage.store_limit_mb = 1);
        accepted(|c| c.storage.store_limit_mb = 1_073_741_824);
        assert_eq!(
            rejected(|c| c.storage.store_limit_mb = 1_073_741_825),
            "`storage.store_limit_mb` must be in 0..=1073741824; got 1073741825"
        );
        assert_eq!(
            rejected(|c| c.storage.store_limit_mb = u64::MAX),
            "`storage.store_limit_mb` must be in 0..=1073741824; got 18446744073709551615"
        );

        accepted(|c| c.storage.send_fail_if_no_space = true);
        accepted(|c| c.storage.send_fail_if_no_space_after_timeout_ms = 3_600_000);
        assert_eq!(
            rejected(|c| c.storage.send_fail_if_no_space_after_timeout_ms = 3_600_001),
            "`storage.send_fail_if_no_space_after_timeout_ms` must be in 0..=3600000; got 3600001"
        );
    }

    #[test]
    fn core_rules() {
        assert_eq!(
            rejected(|c| c.core.mailbox_capacity = 0),
            "`core.mailbox_capacity` must be in 1..=1048576; got 0"
        );
        assert_eq!(
            rejected(|c| c.core.delivery_channel_capacity = 1_048_577),
            "`core.delivery_channel_capacity` must be in 1..=1048576; got 1048577"
        );
        assert_eq!(
            rejected(|c| c.core.topic_pending_limit = 0),
            "`core.topic_pending_limit` must be in 1..=100000000; got 0"
        );
        assert_eq!(
            rejected(|c| c.core.topic_pending_limit = 100_000_001),
            "`core.topic_pending_limit` must be in 1..=100000000; got 100000001"
        );
        accepted(|c| c.core.topic_pending_limit = 1);
        accepted(|c| c.core.topic_pending_limit = 100_000_000);
        assert_eq!(
            rejected(|c| c.core.max_transaction_ops = 0),
            "`core.max_transaction_ops` must be in 1..=10000000; got 0"
        );
        assert_eq!(
            rejected(|c| c.core.max_transaction_ops = 10_000_001),
            "`core.max_transaction_ops` must be in 1..=10000000; got 10000001"
        );
        accepted(|c| c.core.max_transaction_ops = 1);
        accepted(|c| c.core.max_transaction_ops = 10_000_000);
    }

    #[test]
    fn first_violation_is_reported() {
        assert_eq!(
            rejected(|c| {
                c.core.mailbox_capacity = 0;
                c.network.max_connections = 0;
            }),
            "`network.max_connections` must be in 1..=1000000; got 0"
        );
    }
}
