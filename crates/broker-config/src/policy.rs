//! Per-destination policies: `[[policy]]` (ActiveMQ's `policyEntry`), `[policy_defaults]`
//! (the policy map's `defaultEntry`) and `[redelivery]` (the `redeliveryPlugin`). Keys inside
//! these tables are ActiveMQ's attribute names (camelCase), so moving a setting from an
//! activemq.xml is a copy. Accepted values are enforced by [`BrokerConfig::validate`].
//!
//! [`BrokerConfig::validate`]: crate::BrokerConfig::validate

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

/// ActiveMQ's shared dead-letter queue.
pub const ACTIVEMQ_DLQ: &str = "ActiveMQ.DLQ";
/// ActiveMQ's `expireMessagesPeriod` default, in ms.
const EXPIRE_MESSAGES_PERIOD: i64 = 30_000;

/// `[[policy]]`: one ActiveMQ `policyEntry`. Applies to the queues or the topics its wildcard
/// pattern matches; the most specific matching entry wins. An absent key takes the
/// `[policy_defaults]` value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyEntryConfig {
    /// Queue pattern (`.` separates names, `*` one name, `>` the rest; `,` lists several).
    /// Exactly one of `queue` and `topic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Topic pattern, as `queue`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Dispatch by JMS priority (`prioritizedMessages`; `prioritySupport` is read as an alias).
    #[serde(alias = "prioritySupport", skip_serializing_if = "Option::is_none")]
    pub prioritized_messages: Option<bool>,
    /// Period of the expired-message sweep in ms; 0 = no sweep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_messages_period: Option<i64>,
    /// Per-priority delivery delays (a ferromq extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_lanes: Option<Vec<PriorityLaneConfig>>,
    /// Where undeliverable messages go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_strategy: Option<DeadLetterStrategyConfig>,
}

/// `[policy_defaults]`: what applies to a destination no `[[policy]]` matches, and to the keys
/// a matching entry leaves out (ActiveMQ's `policyMap` `defaultEntry`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyDefaults {
    /// Dispatch by JMS priority. `true` natively; ActiveMQ's default (and an activemq.xml's)
    /// is `false`.
    #[serde(alias = "prioritySupport")]
    pub prioritized_messages: bool,
    /// Period of the expired-message sweep in ms; 0 = no sweep.
    pub expire_messages_period: i64,
    /// Per-priority delivery delays.
    pub priority_lanes: Vec<PriorityLaneConfig>,
    /// Where undeliverable messages go.
    pub dead_letter_strategy: DeadLetterStrategyConfig,
}

impl Default for PolicyDefaults {
    /// ferromq's native defaults: ActiveMQ's, except that priority is on.
    fn default() -> Self {
        Self {
            prioritized_messages: true,
            ..Self::activemq()
        }
    }
}

impl PolicyDefaults {
    /// ActiveMQ's `PolicyEntry` defaults: what a config read from an activemq.xml starts from.
    pub fn activemq() -> Self {
        Self {
            prioritized_messages: false,
            expire_messages_period: EXPIRE_MESSAGES_PERIOD,
            priority_lanes: Vec::new(),
            dead_letter_strategy: DeadLetterStrategyConfig::default(),
        }
    }
}

/// One priority lane: `{ priorities = "7-9", delay = 0 }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityLaneConfig {
    /// JMS priorities of the lane: `"a-b"` or `"n"`, within 0..=9.
    pub priorities: String,
    /// Delay before a message of the lane is first delivered, in ms.
    #[serde(default)]
    pub delay: i64,
}

impl PriorityLaneConfig {
    /// The priorities as a range, or why `priorities` is not one.
    pub fn priority_range(&self) -> Result<RangeInclusive<u8>, String> {
        let bad = || {
            format!(
                "must be a priority or a range of them within 0..=9, such as \"7-9\" or \"4\"; got {:?}",
                self.priorities
            )
        };
        let one = |s: &str| -> Result<u8, String> {
            match s.trim().parse::<u8>() {
                Ok(p) if p <= 9 => Ok(p),
                _ => Err(bad()),
            }
        };
        let (lo, hi) = match self.priorities.split_once('-') {
            Some((a, b)) => (one(a)?, one(b)?),
            None => {
                let p = one(&self.priorities)?;
                (p, p)
            }
        };
        if lo > hi {
            return Err(format!(
                "must run from the lower priority to the higher; got {:?}",
                self.priorities
            ));
        }
        Ok(lo..=hi)
    }
}

/// `deadLetterStrategy = { type = "shared" | "individual" | "discarding", ... }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum DeadLetterStrategyConfig {
    /// `sharedDeadLetterStrategy`: one queue for every destination.
    Shared(SharedDeadLetterConfig),
    /// `individualDeadLetterStrategy`: one dead-letter destination per destination.
    Individual(IndividualDeadLetterConfig),
    /// `discarding`: drop undeliverable messages.
    Discarding {},
}

impl Default for DeadLetterStrategyConfig {
    fn default() -> Self {
        Self::Shared(SharedDeadLetterConfig::default())
    }
}

/// `sharedDeadLetterStrategy`'s attributes, with ActiveMQ's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct SharedDeadLetterConfig {
    /// The dead-letter queue.
    pub dead_letter_queue: String,
    /// Expired messages are dead-lettered (else dropped).
    pub process_expired: bool,
    /// Non-persistent messages are dead-lettered too (else dropped).
    pub process_non_persistent: bool,
    /// A dead letter expires this many ms after it was dead-lettered, and is then dropped;
    /// 0 = never.
    pub expiration: u64,
}

impl Default for SharedDeadLetterConfig {
    fn default() -> Self {
        Self {
            dead_letter_queue: ACTIVEMQ_DLQ.to_owned(),
            process_expired: true,
            process_non_persistent: false,
            expiration: 0,
        }
    }
}

/// `individualDeadLetterStrategy`'s attributes, with ActiveMQ's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct IndividualDeadLetterConfig {
    /// Prefix of a queue's dead-letter destination.
    pub queue_prefix: String,
    /// Prefix of a topic's dead-letter destination.
    pub topic_prefix: String,
    /// Suffix of a queue's dead-letter destination.
    pub queue_suffix: String,
    /// Suffix of a topic's dead-letter destination.
    pub topic_suffix: String,
    /// A queue's dead-letter destination is a queue (else a topic).
    pub use_queue_for_queue_messages: bool,
    /// A topic's dead-letter destination is a queue (else a topic).
    pub use_queue_for_topic_messages: bool,
    /// Each durable subscription gets a dead-letter destination of its own: the topic's
    /// name plus `.<client-id>:<subscription name>`.
    pub destination_per_durable_subscriber: bool,
    /// Expired messages are dead-lettered (else dropped).
    pub process_expired: bool,
    /// Non-persistent messages are dead-lettered too (else dropped).
    pub process_non_persistent: bool,
    /// A dead letter expires this many ms after it was dead-lettered, and is then dropped;
    /// 0 = never.
    pub expiration: u64,
}

impl Default for IndividualDeadLetterConfig {
    fn default() -> Self {
        Self {
            queue_prefix: "ActiveMQ.DLQ.Queue.".to_owned(),
            topic_prefix: "ActiveMQ.DLQ.Topic.".to_owned(),
            queue_suffix: String::new(),
            topic_suffix: String::new(),
            use_queue_for_queue_messages: true,
            use_queue_for_topic_messages: true,
            destination_per_durable_subscriber: false,
            process_expired: true,
            process_non_persistent: false,
            expiration: 0,
        }
    }
}

/// `[redelivery]`: broker-side redelivery, as ActiveMQ's `redeliveryPlugin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RedeliverySection {
    /// Messages past `maximumRedeliveries` are dead-lettered; `false` (drop them) is not
    /// supported yet.
    pub send_to_dlq_if_max_retries_exceeded: bool,
    /// Destinations no entry covers use the dead-letter strategy; only `true` is supported.
    pub fallback_to_dead_letter: bool,
    /// What applies where no `entry` matches. Absent: immediate redelivery, 6 at most (ActiveMQ
    /// without a `redeliveryPlugin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_entry: Option<RedeliveryPolicyConfig>,
    /// Per-destination policies (`[[redelivery.entry]]`, each with `queue` or `topic`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entry: Vec<RedeliveryPolicyConfig>,
}

impl Default for RedeliverySection {
    fn default() -> Self {
        Self {
            send_to_dlq_if_max_retries_exceeded: true,
            fallback_to_dead_letter: true,
            default_entry: None,
            entry: Vec::new(),
        }
    }
}

/// One ActiveMQ `redeliveryPolicy`; absent keys take ActiveMQ's `RedeliveryPolicy` defaults.
/// Delays in ms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct RedeliveryPolicyConfig {
    /// Queue pattern (entries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Topic pattern (entries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Redeliveries before the message is dead-lettered; -1 = unlimited.
    pub maximum_redeliveries: i32,
    /// Delay before the first redelivery.
    pub initial_redelivery_delay: i64,
    /// Delay before later redeliveries.
    pub redelivery_delay: i64,
    /// Multiply the delay by `backOffMultiplier` after each redelivery.
    pub use_exponential_back_off: bool,
    /// Back-off factor.
    pub back_off_multiplier: f64,
    /// Cap on the back-off delay; -1 = none.
    pub maximum_redelivery_delay: i64,
    /// Spread delays randomly by ±`collisionAvoidanceFactor`.
    pub use_collision_avoidance: bool,
    /// Spread factor, 0..=0.5.
    pub collision_avoidance_factor: f64,
}

impl Default for RedeliveryPolicyConfig {
    fn default() -> Self {
        Self {
            queue: None,
            topic: None,
            maximum_redeliveries: 6,
            initial_redelivery_delay: 1000,
            redelivery_delay: 1000,
            use_exponential_back_off: false,
            back_off_multiplier: 5.0,
            maximum_redelivery_delay: -1,
            use_collision_avoidance: false,
            collision_avoidance_factor: 0.15,
        }
    }
}

/// A `queue`/`topic` pattern split into its comma-separated parts (ActiveMQ composite
/// destinations), trimmed.
pub fn pattern_parts(pattern: &str) -> impl Iterator<Item = &str> {
    pattern.split(',').map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lane(p: &str) -> Result<RangeInclusive<u8>, String> {
        PriorityLaneConfig {
            priorities: p.to_owned(),
            delay: 0,
        }
        .priority_range()
    }

    #[test]
    fn priority_ranges() {
        assert_eq!(lane("7-9"), Ok(7..=9));
        assert_eq!(lane("4"), Ok(4..=4));
        assert_eq!(lane(" 0 - 3 "), Ok(0..=3));
        for bad in ["", "10", "-1", "a", "1-", "3-10", "1-2-3"] {
            let err = lane(bad).unwrap_err();
            assert!(err.starts_with("must be a priority"), "{bad}: {err}");
        }
        assert_eq!(
            lane("9-7").unwrap_err(),
            "must run from the lower priority to the higher; got \"9-7\""
        );
    }

    #[test]
    fn defaults_are_activemq_but_priority() {
        let native = PolicyDefaults::default();
        let amq = PolicyDefaults::activemq();
        assert!(native.prioritized_messages);
        assert!(!amq.prioritized_messages);
        assert_eq!(
            PolicyDefaults {
                prioritized_messages: false,
                ..native
            },
            amq
        );
        assert_eq!(amq.expire_messages_period, 30_000);
        assert_eq!(
            amq.dead_letter_strategy,
            DeadLetterStrategyConfig::Shared(SharedDeadLetterConfig {
                dead_letter_queue: "ActiveMQ.DLQ".into(),
                process_expired: true,
                process_non_persistent: false,
                expiration: 0,
            })
        );
    }

    #[test]
    fn composite_patterns_split() {
        let parts: Vec<&str> = pattern_parts("A.>, B.*").collect();
        assert_eq!(parts, vec!["A.>", "B.*"]);
    }
}
