//! [`BrokerConfig::validate`]: the ranges and cross-field rules a config must satisfy before
//! the broker starts. Bounds reject nonsense and unit mix-ups (seconds for ms) early, with the
//! field's dotted TOML path; 0 is accepted only where it has a documented meaning.

use std::fmt::Display;
use std::net::IpAddr;
use std::ops::RangeInclusive;

use crate::policy::pattern_parts;
use crate::virtual_destinations::{pattern_matches, CompositeConfig, VirtualTopicConfig};
use crate::{
    AdminSection, BrokerConfig, ConfigError, CoreSection, DeadLetterStrategyConfig, NetworkConfig,
    PolicyDefaults, PolicyEntryConfig, PriorityLaneConfig, RedeliveryPolicyConfig,
    RedeliverySection, StompSection, StorageConfig,
};

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
const COLLISION_AVOIDANCE_FACTOR: RangeInclusive<f64> = 0.0..=0.5;

impl BrokerConfig {
    /// Checks every field and returns the first violation, naming the field by its dotted
    /// TOML path and quoting the rejected value, e.g.
    /// ``"`stomp.max_body` must be in 1..=1073741824; got 0"``.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.network.validate()?;
        self.stomp.validate()?;
        self.storage.validate()?;
        self.core.validate()?;
        self.admin.validate()?;
        self.redelivery.validate()?;
        self.policy_defaults.validate()?;
        for (i, entry) in self.policy.iter().enumerate() {
            entry.validate(&format!("policy[{i}]"))?;
        }
        for (i, vt) in self.virtual_topic.iter().flatten().enumerate() {
            vt.validate(&format!("virtual_topic[{i}]"))?;
        }
        for (i, c) in self.composite.iter().enumerate() {
            c.validate(&format!("composite[{i}]"))?;
        }
        Ok(())
    }
}

fn ip_literal(field: &str, value: &str) -> Result<(), ConfigError> {
    if value.parse::<IpAddr>().is_err() {
        return Err(ConfigError::invalid(
            field,
            format!("must be an IP address such as 0.0.0.0, :: or 127.0.0.1; got {value:?}"),
        ));
    }
    Ok(())
}

impl NetworkConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        ip_literal("network.bind", &self.bind)?;
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

impl AdminSection {
    fn validate(&self) -> Result<(), ConfigError> {
        // `port` needs no check: every u16 is usable and 0 asks the OS for a free port.
        ip_literal("admin.bind", &self.bind)
    }
}

impl PolicyDefaults {
    fn validate(&self) -> Result<(), ConfigError> {
        non_negative(
            "policy_defaults.expireMessagesPeriod",
            self.expire_messages_period,
        )?;
        lanes("policy_defaults.priorityLanes", &self.priority_lanes)?;
        dead_letter(
            "policy_defaults.deadLetterStrategy",
            &self.dead_letter_strategy,
        )
    }
}

impl PolicyEntryConfig {
    fn validate(&self, at: &str) -> Result<(), ConfigError> {
        destinations(at, self.queue.as_deref(), self.topic.as_deref())?;
        if let Some(period) = self.expire_messages_period {
            non_negative(&format!("{at}.expireMessagesPeriod"), period)?;
        }
        if let Some(l) = &self.priority_lanes {
            lanes(&format!("{at}.priorityLanes"), l)?;
        }
        if let Some(d) = &self.dead_letter_strategy {
            dead_letter(&format!("{at}.deadLetterStrategy"), d)?;
        }
        Ok(())
    }
}

impl RedeliverySection {
    fn validate(&self) -> Result<(), ConfigError> {
        // Refused rather than ignored: the config asks to drop messages the broker would
        // dead-letter.
        if !self.send_to_dlq_if_max_retries_exceeded {
            return Err(ConfigError::invalid(
                "redelivery.sendToDlqIfMaxRetriesExceeded",
                "= false (drop messages past maximumRedeliveries) is not supported yet; use \
                 true, or a `discarding` deadLetterStrategy to drop every undeliverable message",
            ));
        }
        if !self.fallback_to_dead_letter {
            return Err(ConfigError::invalid(
                "redelivery.fallbackToDeadLetter",
                "= false is not supported yet; use true",
            ));
        }
        if let Some(d) = &self.default_entry {
            if d.queue.is_some() || d.topic.is_some() {
                return Err(ConfigError::invalid(
                    "redelivery.defaultEntry",
                    "applies to every destination and takes no queue or topic",
                ));
            }
            d.validate("redelivery.defaultEntry")?;
        }
        for (i, entry) in self.entry.iter().enumerate() {
            let at = format!("redelivery.entry[{i}]");
            destinations(&at, entry.queue.as_deref(), entry.topic.as_deref())?;
            entry.validate(&at)?;
        }
        Ok(())
    }
}

impl RedeliveryPolicyConfig {
    fn validate(&self, at: &str) -> Result<(), ConfigError> {
        if self.maximum_redeliveries < -1 {
            return Err(ConfigError::invalid(
                &format!("{at}.maximumRedeliveries"),
                format!(
                    "must be -1 (unlimited) or more; got {}",
                    self.maximum_redeliveries
                ),
            ));
        }
        non_negative(
            &format!("{at}.initialRedeliveryDelay"),
            self.initial_redelivery_delay,
        )?;
        non_negative(&format!("{at}.redeliveryDelay"), self.redelivery_delay)?;
        if self.maximum_redelivery_delay < -1 {
            return Err(ConfigError::invalid(
                &format!("{at}.maximumRedeliveryDelay"),
                format!(
                    "must be -1 (no cap) or a delay in ms; got {}",
                    self.maximum_redelivery_delay
                ),
            ));
        }
        let multiplier = self.back_off_multiplier;
        if !multiplier.is_finite() || (self.use_exponential_back_off && multiplier < 1.0) {
            return Err(ConfigError::invalid(
                &format!("{at}.backOffMultiplier"),
                format!(
                    "must be a number, at least 1.0 with useExponentialBackOff (below 1 the \
                     delays would shrink); got {multiplier}"
                ),
            ));
        }
        // NaN fails `contains` too.
        if !COLLISION_AVOIDANCE_FACTOR.contains(&self.collision_avoidance_factor) {
            return Err(ConfigError::invalid(
                &format!("{at}.collisionAvoidanceFactor"),
                format!(
                    "must be in 0.0..=0.5 (the spread either side of the delay); got {}",
                    self.collision_avoidance_factor
                ),
            ));
        }
        Ok(())
    }
}

impl VirtualTopicConfig {
    fn validate(&self, at: &str) -> Result<(), ConfigError> {
        single_pattern(&format!("{at}.name"), &self.name)?;
        for (key, value) in [("prefix", &self.prefix), ("postfix", &self.postfix)] {
            if value.contains(['>', ',']) || value.chars().any(char::is_whitespace) {
                return Err(ConfigError::invalid(
                    &format!("{at}.{key}"),
                    format!(
                        "must be part of a queue name, where `*` stands for one name (such as \
                         \"Consumer.*.\"); `>`, `,` and spaces are not allowed; got {value:?}"
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl CompositeConfig {
    fn validate(&self, at: &str) -> Result<(), ConfigError> {
        destinations(at, self.queue.as_deref(), self.topic.as_deref())?;
        let (queue, name) = match (&self.queue, &self.topic) {
            (Some(q), _) => (true, q.as_str()),
            (None, Some(t)) => (false, t.as_str()),
            (None, None) => unreachable!("checked by destinations()"),
        };
        let key = if queue { "queue" } else { "topic" };
        single_pattern(&format!("{at}.{key}"), name)?;
        if self.forward_to.is_empty() {
            return Err(ConfigError::invalid(
                &format!("{at}.forwardTo"),
                "is empty: a composite destination needs at least one destination to forward \
                 to, e.g. forwardTo = [{ queue = \"A\" }]",
            ));
        }
        for (j, f) in self.forward_to.iter().enumerate() {
            let field = format!("{at}.forwardTo[{j}]");
            let (to_queue, to) = match (&f.queue, &f.topic) {
                (Some(q), None) => (true, q.as_str()),
                (None, Some(t)) => (false, t.as_str()),
                _ => {
                    return Err(ConfigError::invalid(
                        &field,
                        "needs exactly one of `queue` and `topic`, e.g. { queue = \"A\" }",
                    ))
                }
            };
            let to_key = format!("{field}.{}", if to_queue { "queue" } else { "topic" });
            pattern(&to_key, to)?;
            if to.contains([',', '*', '>']) {
                return Err(ConfigError::invalid(
                    &to_key,
                    format!("must name one destination, without wildcards or `,`; got {to:?}"),
                ));
            }
            if to_queue == queue && pattern_matches(name, to) {
                return Err(ConfigError::invalid(
                    &to_key,
                    format!(
                        "forwards {name:?} to itself ({to:?}); use forwardOnly = false to keep \
                         messages in the composite destination too"
                    ),
                ));
            }
            // The selector's syntax is checked where selectors are parsed
            // (broker_net::check_config); this crate has no selector parser.
            if f.selector.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(ConfigError::invalid(
                    &format!("{field}.selector"),
                    "is empty: leave `selector` out to forward every message",
                ));
            }
        }
        Ok(())
    }
}

/// One ActiveMQ wildcard pattern (no `,` list).
fn single_pattern(field: &str, value: &str) -> Result<(), ConfigError> {
    pattern(field, value)?;
    if value.contains(',') {
        return Err(ConfigError::invalid(
            field,
            format!("must be one destination pattern, not a `,` list; got {value:?}"),
        ));
    }
    Ok(())
}

/// Exactly one of `queue` and `topic`, holding valid patterns.
fn destinations(at: &str, queue: Option<&str>, topic: Option<&str>) -> Result<(), ConfigError> {
    match (queue, topic) {
        (Some(q), None) => pattern(&format!("{at}.queue"), q),
        (None, Some(t)) => pattern(&format!("{at}.topic"), t),
        (Some(_), Some(_)) => Err(ConfigError::invalid(
            at,
            "names both a queue and a topic pattern; an entry applies to one of them (use two \
             entries)",
        )),
        (None, None) => Err(ConfigError::invalid(
            at,
            "needs `queue` or `topic`: the pattern of the destinations it applies to, e.g. \
             queue = \">\"",
        )),
    }
}

/// An ActiveMQ wildcard pattern, or several separated by commas: names separated by `.`,
/// each a literal, `*` (one name) or `>` (the rest; last only).
fn pattern(field: &str, pattern: &str) -> Result<(), ConfigError> {
    for part in pattern_parts(pattern) {
        let names: Vec<&str> = part.split('.').collect();
        let why = if part.is_empty() {
            Some("an empty pattern")
        } else if names.iter().any(|n| n.is_empty()) {
            Some("an empty name (a leading, trailing or doubled `.`)")
        } else if names
            .iter()
            .any(|n| n.len() > 1 && (n.contains('*') || n.contains('>')))
        {
            Some("a wildcard inside a name; `*` and `>` stand alone between dots")
        } else if names[..names.len() - 1].contains(&">") {
            Some("`>` before the last name; it matches everything after it")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(ConfigError::invalid(
                field,
                format!(
                    "must be a destination pattern such as \"orders\", \"orders.*\" or \
                     \">\"; {why} in {pattern:?}"
                ),
            ));
        }
    }
    Ok(())
}

fn lanes(field: &str, lanes: &[PriorityLaneConfig]) -> Result<(), ConfigError> {
    let mut seen: Vec<(usize, RangeInclusive<u8>)> = Vec::new();
    for (i, lane) in lanes.iter().enumerate() {
        let range = lane
            .priority_range()
            .map_err(|why| ConfigError::invalid(&format!("{field}[{i}].priorities"), why))?;
        if let Some((j, _)) = seen
            .iter()
            .find(|(_, r)| r.start() <= range.end() && range.start() <= r.end())
        {
            return Err(ConfigError::invalid(
                &format!("{field}[{i}].priorities"),
                format!(
                    "overlaps {field}[{j}] ({:?}): each priority belongs to one lane at most; \
                     got {:?}",
                    lanes[*j].priorities, lane.priorities
                ),
            ));
        }
        non_negative(&format!("{field}[{i}].delay"), lane.delay)?;
        seen.push((i, range));
    }
    Ok(())
}

fn dead_letter(field: &str, strategy: &DeadLetterStrategyConfig) -> Result<(), ConfigError> {
    match strategy {
        DeadLetterStrategyConfig::Shared(s) => {
            let q = s.dead_letter_queue.trim();
            if q.is_empty() || q.contains('*') || q.contains('>') || q.contains(',') {
                return Err(ConfigError::invalid(
                    &format!("{field}.deadLetterQueue"),
                    format!(
                        "must name one queue (no wildcards); got {:?}",
                        s.dead_letter_queue
                    ),
                ));
            }
        }
        DeadLetterStrategyConfig::Individual(i) => {
            // An empty prefix and suffix would make a destination its own dead-letter queue:
            // a message would be dead-lettered into the place it failed from, forever.
            if i.queue_prefix.is_empty()
                && i.queue_suffix.is_empty()
                && i.use_queue_for_queue_messages
            {
                return Err(ConfigError::invalid(
                    &format!("{field}.queuePrefix"),
                    "and queueSuffix are both empty: every queue would be its own dead-letter \
                     queue",
                ));
            }
            if i.topic_prefix.is_empty()
                && i.topic_suffix.is_empty()
                && !i.use_queue_for_topic_messages
            {
                return Err(ConfigError::invalid(
                    &format!("{field}.topicPrefix"),
                    "and topicSuffix are both empty with useQueueForTopicMessages = false: \
                     every topic would be its own dead-letter topic",
                ));
            }
        }
        DeadLetterStrategyConfig::Discarding {} => {}
    }
    Ok(())
}

fn non_negative(field: &str, value: i64) -> Result<(), ConfigError> {
    if value < 0 {
        return Err(ConfigError::invalid(
            field,
            format!("must be 0 or more (ms); got {value}"),
        ));
    }
    Ok(())
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
    use crate::{IndividualDeadLetterConfig, SharedDeadLetterConfig, SyncMode};

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

    fn entry(queue: &str) -> PolicyEntryConfig {
        PolicyEntryConfig {
            queue: Some(queue.to_owned()),
            ..PolicyEntryConfig::default()
        }
    }

    fn lane(priorities: &str, delay: i64) -> PriorityLaneConfig {
        PriorityLaneConfig {
            priorities: priorities.to_owned(),
            delay,
        }
    }

    #[test]
    fn admin_rules() {
        assert_eq!(
            rejected(|c| c.admin.bind = "localhost".into()),
            "`admin.bind` must be an IP address such as 0.0.0.0, :: or 127.0.0.1; got \"localhost\""
        );
        accepted(|c| c.admin.port = 0);
        accepted(|c| {
            c.admin.enabled = false;
            c.admin.bind = "::".into();
        });
    }

    #[test]
    fn policy_patterns() {
        for good in [
            ">",
            "orders",
            "orders.*",
            "orders.>",
            "*.eu.*",
            "a.b.c",
            "A.>, B.*",
            "PRICE.*.IBM",
        ] {
            accepted(|c| c.policy = vec![entry(good)]);
        }
        let bad = |p: &str, why: &str| {
            format!(
                "`policy[0].queue` must be a destination pattern such as \"orders\", \"orders.*\" \
                 or \">\"; {why} in {p:?}"
            )
        };
        let empty_name = "an empty name (a leading, trailing or doubled `.`)";
        for (p, why) in [
            ("", "an empty pattern"),
            ("a,", "an empty pattern"),
            ("a..b", empty_name),
            (".a", empty_name),
            ("a.", empty_name),
            (
                "orders*",
                "a wildcard inside a name; `*` and `>` stand alone between dots",
            ),
            (
                "a.b>",
                "a wildcard inside a name; `*` and `>` stand alone between dots",
            ),
            (
                ">.a",
                "`>` before the last name; it matches everything after it",
            ),
        ] {
            assert_eq!(
                rejected(|c| c.policy = vec![entry(p)]),
                bad(p, why),
                "{p:?}"
            );
        }
        assert_eq!(
            rejected(|c| c.policy = vec![
                entry(">"),
                PolicyEntryConfig {
                    topic: Some("t".into()),
                    ..entry("q")
                }
            ]),
            "`policy[1]` names both a queue and a topic pattern; an entry applies to one of \
             them (use two entries)"
        );
        assert_eq!(
            rejected(|c| c.policy = vec![PolicyEntryConfig::default()]),
            "`policy[0]` needs `queue` or `topic`: the pattern of the destinations it applies \
             to, e.g. queue = \">\""
        );
        assert_eq!(
            rejected(|c| c.policy = vec![PolicyEntryConfig {
                queue: None,
                topic: Some("a..b".into()),
                ..entry("")
            }]),
            "`policy[0].topic` must be a destination pattern such as \"orders\", \"orders.*\" or \
             \">\"; an empty name (a leading, trailing or doubled `.`) in \"a..b\""
        );
    }

    #[test]
    fn policy_lanes_and_periods() {
        accepted(|c| {
            c.policy = vec![PolicyEntryConfig {
                priority_lanes: Some(vec![
                    lane("7-9", 0),
                    lane("4-6", 30_000),
                    lane("0-3", 120_000),
                ]),
                ..entry(">")
            }]
        });
        assert_eq!(
            rejected(|c| c.policy = vec![PolicyEntryConfig {
                priority_lanes: Some(vec![lane("7-9", 0), lane("3-10", 0)]),
                ..entry(">")
            }]),
            "`policy[0].priorityLanes[1].priorities` must be a priority or a range of them \
             within 0..=9, such as \"7-9\" or \"4\"; got \"3-10\""
        );
        assert_eq!(
            rejected(|c| c.policy_defaults.priority_lanes = vec![lane("5-9", 0), lane("0-5", 10)]),
            "`policy_defaults.priorityLanes[1].priorities` overlaps \
             policy_defaults.priorityLanes[0] (\"5-9\"): each priority belongs to one lane at \
             most; got \"0-5\""
        );
        assert_eq!(
            rejected(|c| c.policy_defaults.priority_lanes = vec![lane("7", 0), lane("7", 10)]),
            "`policy_defaults.priorityLanes[1].priorities` overlaps \
             policy_defaults.priorityLanes[0] (\"7\"): each priority belongs to one lane at \
             most; got \"7\""
        );
        assert_eq!(
            rejected(|c| c.policy = vec![PolicyEntryConfig {
                priority_lanes: Some(vec![lane("0-3", -1)]),
                ..entry(">")
            }]),
            "`policy[0].priorityLanes[0].delay` must be 0 or more (ms); got -1"
        );
        assert_eq!(
            rejected(|c| c.policy = vec![PolicyEntryConfig {
                expire_messages_period: Some(-5),
                ..entry(">")
            }]),
            "`policy[0].expireMessagesPeriod` must be 0 or more (ms); got -5"
        );
        assert_eq!(
            rejected(|c| c.policy_defaults.expire_messages_period = -1),
            "`policy_defaults.expireMessagesPeriod` must be 0 or more (ms); got -1"
        );
    }

    #[test]
    fn dead_letter_rules() {
        let individual = |f: fn(&mut IndividualDeadLetterConfig)| {
            let mut i = IndividualDeadLetterConfig::default();
            f(&mut i);
            Some(DeadLetterStrategyConfig::Individual(i))
        };
        accepted(|c| {
            c.policy = vec![PolicyEntryConfig {
                dead_letter_strategy: individual(|i| i.queue_prefix = "DLQ.".into()),
                ..entry(">")
            }]
        });
        // A suffix alone is enough to tell the dead-letter queue apart.
        accepted(|c| {
            c.policy = vec![PolicyEntryConfig {
                dead_letter_strategy: individual(|i| {
                    i.queue_prefix.clear();
                    i.queue_suffix = ".DLQ".into();
                }),
                ..entry(">")
            }]
        });
        assert_eq!(
            rejected(|c| c.policy = vec![PolicyEntryConfig {
                dead_letter_strategy: individual(|i| i.queue_prefix.clear()),
                ..entry(">")
            }]),
            "`policy[0].deadLetterStrategy.queuePrefix` and queueSuffix are both empty: every \
             queue would be its own dead-letter queue"
        );
        assert_eq!(
            rejected(|c| c.policy = vec![PolicyEntryConfig {
                dead_letter_strategy: individual(|i| {
                    i.topic_prefix.clear();
                    i.use_queue_for_topic_messages = false;
                }),
                ..entry(">")
            }]),
            "`policy[0].deadLetterStrategy.topicPrefix` and topicSuffix are both empty with \
             useQueueForTopicMessages = false: every topic would be its own dead-letter topic"
        );
        // Topics dead-lettered into a queue of the same name are not a loop.
        accepted(|c| {
            c.policy = vec![PolicyEntryConfig {
                dead_letter_strategy: individual(|i| i.topic_prefix.clear()),
                ..entry(">")
            }]
        });
        assert_eq!(
            rejected(|c| {
                c.policy_defaults.dead_letter_strategy =
                    DeadLetterStrategyConfig::Shared(SharedDeadLetterConfig {
                        dead_letter_queue: "DLQ.>".into(),
                        ..SharedDeadLetterConfig::default()
                    })
            }),
            "`policy_defaults.deadLetterStrategy.deadLetterQueue` must name one queue (no \
             wildcards); got \"DLQ.>\""
        );
        accepted(|c| {
            c.policy_defaults.dead_letter_strategy = DeadLetterStrategyConfig::Discarding {}
        });
    }

    #[test]
    fn redelivery_rules() {
        let default_entry = |f: fn(&mut RedeliveryPolicyConfig)| {
            move |c: &mut BrokerConfig| {
                let mut r = RedeliveryPolicyConfig::default();
                f(&mut r);
                c.redelivery.default_entry = Some(r);
            }
        };
        accepted(default_entry(|r| r.maximum_redeliveries = -1));
        accepted(default_entry(|r| {
            r.initial_redelivery_delay = 0;
            r.redelivery_delay = 0;
        }));
        assert_eq!(
            rejected(default_entry(|r| r.maximum_redeliveries = -2)),
            "`redelivery.defaultEntry.maximumRedeliveries` must be -1 (unlimited) or more; got -2"
        );
        assert_eq!(
            rejected(default_entry(|r| r.initial_redelivery_delay = -1)),
            "`redelivery.defaultEntry.initialRedeliveryDelay` must be 0 or more (ms); got -1"
        );
        assert_eq!(
            rejected(default_entry(|r| r.redelivery_delay = -1000)),
            "`redelivery.defaultEntry.redeliveryDelay` must be 0 or more (ms); got -1000"
        );
        assert_eq!(
            rejected(default_entry(|r| r.maximum_redelivery_delay = -2)),
            "`redelivery.defaultEntry.maximumRedeliveryDelay` must be -1 (no cap) or a delay in \
             ms; got -2"
        );
        let multiplier = |v: f64| {
            format!(
                "`redelivery.defaultEntry.backOffMultiplier` must be a number, at least 1.0 with \
                 useExponentialBackOff (below 1 the delays would shrink); got {v}"
            )
        };
        assert_eq!(
            rejected(default_entry(|r| {
                r.use_exponential_back_off = true;
                r.back_off_multiplier = 0.5;
            })),
            multiplier(0.5)
        );
        // Unused without back-off, but still a number.
        accepted(default_entry(|r| r.back_off_multiplier = 0.5));
        assert_eq!(
            rejected(default_entry(|r| r.back_off_multiplier = f64::NAN)),
            multiplier(f64::NAN)
        );
        let factor = |v: f64| {
            format!(
                "`redelivery.defaultEntry.collisionAvoidanceFactor` must be in 0.0..=0.5 (the \
                 spread either side of the delay); got {v}"
            )
        };
        assert_eq!(
            rejected(default_entry(|r| r.collision_avoidance_factor = 0.6)),
            factor(0.6)
        );
        assert_eq!(
            rejected(default_entry(|r| r.collision_avoidance_factor = -0.1)),
            factor(-0.1)
        );
        accepted(default_entry(|r| r.collision_avoidance_factor = 0.5));
        assert_eq!(
            rejected(default_entry(|r| r.queue = Some(">".into()))),
            "`redelivery.defaultEntry` applies to every destination and takes no queue or topic"
        );
        assert_eq!(
            rejected(|c| c.redelivery.entry = vec![RedeliveryPolicyConfig::default()]),
            "`redelivery.entry[0]` needs `queue` or `topic`: the pattern of the destinations it \
             applies to, e.g. queue = \">\""
        );
        assert_eq!(
            rejected(|c| c.redelivery.entry = vec![RedeliveryPolicyConfig {
                topic: Some("news.*".into()),
                use_exponential_back_off: true,
                back_off_multiplier: 0.0,
                ..RedeliveryPolicyConfig::default()
            }]),
            "`redelivery.entry[0].backOffMultiplier` must be a number, at least 1.0 with \
             useExponentialBackOff (below 1 the delays would shrink); got 0"
        );
        assert_eq!(
            rejected(|c| c.redelivery.send_to_dlq_if_max_retries_exceeded = false),
            "`redelivery.sendToDlqIfMaxRetriesExceeded` = false (drop messages past \
             maximumRedeliveries) is not supported yet; use true, or a `discarding` \
             deadLetterStrategy to drop every undeliverable message"
        );
        assert_eq!(
            rejected(|c| c.redelivery.fallback_to_dead_letter = false),
            "`redelivery.fallbackToDeadLetter` = false is not supported yet; use true"
        );
    }
}
