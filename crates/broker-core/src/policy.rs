//! Per-destination policies, as ActiveMQ's `policyEntry` and `redeliveryPolicy`: priority,
//! priority lanes with delays, redelivery back-off, dead-letter strategy and expiry sweep.
//!
//! The config loaders (TOML, activemq.xml) build a [`PolicyMap`]; each destination actor
//! resolves its own [`DestinationPolicy`] once, when it starts.

use std::ops::RangeInclusive;
use std::sync::Arc;

use crate::Destination;

/// ActiveMQ's default shared dead-letter queue.
pub const DEFAULT_DLQ: &str = "ActiveMQ.DLQ";

/// Broker-side redelivery (ActiveMQ `redeliveryPolicy`; all delays in ms).
#[derive(Debug, Clone, PartialEq)]
pub struct RedeliveryPolicy {
    /// Redeliveries allowed before the message is dead-lettered; -1 = unlimited.
    pub maximum_redeliveries: i32,
    /// Delay before the first redelivery.
    pub initial_redelivery_delay: u64,
    /// Delay before later redeliveries (without back-off: every one of them).
    pub redelivery_delay: u64,
    /// Multiply the previous delay by `back_off_multiplier` each time.
    pub use_exponential_back_off: bool,
    /// Back-off factor.
    pub back_off_multiplier: f64,
    /// Cap on the back-off delay; -1 = none.
    pub maximum_redelivery_delay: i64,
    /// Spread delays randomly by ±`collision_avoidance_factor`.
    pub use_collision_avoidance: bool,
    /// Spread factor (0.15 = ±15%).
    pub collision_avoidance_factor: f64,
}

impl RedeliveryPolicy {
    /// ActiveMQ's `RedeliveryPolicy` defaults: what an entry's absent attributes take.
    pub fn activemq_defaults() -> Self {
        Self {
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

    /// What applies when no redelivery entry is configured: ActiveMQ without a
    /// `redeliveryPlugin` redelivers at once, and dead-letters after 6 redeliveries.
    pub fn immediate() -> Self {
        Self {
            initial_redelivery_delay: 0,
            redelivery_delay: 0,
            ..Self::activemq_defaults()
        }
    }

    /// True when redelivery number `n` (1 = the first) is past the limit.
    pub fn exceeded(&self, n: u32) -> bool {
        self.maximum_redeliveries >= 0 && i64::from(n) > i64::from(self.maximum_redeliveries)
    }

    /// The delay before redelivery number `n` (1 = the first), as ActiveMQ's
    /// `RedeliveryPlugin` computes it: the initial delay first, then `redeliveryDelay`, or
    /// with back-off the previous delay times the multiplier, capped. `spread` in [-1, 1]
    /// scales the collision-avoidance variance (callers pass a random value).
    pub fn delay_for(&self, n: u32, spread: f64) -> u64 {
        let mut delay = self.initial_redelivery_delay as f64;
        // Past 64 steps the sequence has long reached its cap (or saturated).
        for _ in 1..n.min(64) {
            delay = self.next_delay(delay);
        }
        if self.use_collision_avoidance {
            delay += delay * self.collision_avoidance_factor * spread.clamp(-1.0, 1.0);
        }
        if delay.is_finite() && delay > 0.0 {
            delay.min(u64::MAX as f64 / 2.0) as u64
        } else {
            0
        }
    }

    fn next_delay(&self, previous: f64) -> f64 {
        let base = self.redelivery_delay as f64;
        if previous > 0.0 && self.use_exponential_back_off && self.back_off_multiplier > 1.0 {
            let next = previous * self.back_off_multiplier;
            if self.maximum_redelivery_delay >= 0 && next > self.maximum_redelivery_delay as f64 {
                return (self.maximum_redelivery_delay as f64).max(base);
            }
            return next;
        }
        base
    }
}

impl Default for RedeliveryPolicy {
    fn default() -> Self {
        Self::immediate()
    }
}

/// Where undeliverable messages go (ActiveMQ `deadLetterStrategy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLetterStrategy {
    /// One queue for everything (`sharedDeadLetterStrategy`, default `ActiveMQ.DLQ`).
    Shared {
        /// The dead-letter queue's name.
        queue: String,
    },
    /// One dead-letter destination per destination (`individualDeadLetterStrategy`).
    Individual {
        /// Prefix for queues' DLQs (ActiveMQ default `ActiveMQ.DLQ.Queue.`).
        queue_prefix: String,
        /// Prefix for topics' DLQs (ActiveMQ default `ActiveMQ.DLQ.Topic.`).
        topic_prefix: String,
        /// Suffix for queues' DLQs.
        queue_suffix: String,
        /// Suffix for topics' DLQs.
        topic_suffix: String,
        /// A queue's DLQ is a queue (else a topic).
        use_queue_for_queue_messages: bool,
        /// A topic's DLQ is a queue (else a topic).
        use_queue_for_topic_messages: bool,
        /// Each durable subscription gets its own DLQ: the topic's name plus
        /// `.<client-id>:<subscription name>` (ActiveMQ `destinationPerDurableSubscriber`).
        destination_per_durable_subscriber: bool,
    },
    /// Drop undeliverable messages (`discarding`).
    Discarding,
}

impl DeadLetterStrategy {
    /// ActiveMQ's `individualDeadLetterStrategy` with its defaults.
    pub fn individual_defaults() -> Self {
        Self::Individual {
            queue_prefix: "ActiveMQ.DLQ.Queue.".into(),
            topic_prefix: "ActiveMQ.DLQ.Topic.".into(),
            queue_suffix: String::new(),
            topic_suffix: String::new(),
            use_queue_for_queue_messages: true,
            use_queue_for_topic_messages: true,
            destination_per_durable_subscriber: false,
        }
    }

    /// The dead-letter destination for messages of `dest`; `None` when they are discarded.
    /// `subscription` is the durable subscription (`<client-id>:<name>`, ActiveMQ's
    /// subscription key) the message failed in, if any.
    pub fn dead_letter_destination(
        &self,
        dest: &Destination,
        subscription: Option<&str>,
    ) -> Option<Destination> {
        match self {
            Self::Shared { queue } => Some(Destination::queue(queue.as_str())),
            Self::Individual {
                queue_prefix,
                topic_prefix,
                queue_suffix,
                topic_suffix,
                use_queue_for_queue_messages,
                use_queue_for_topic_messages,
                destination_per_durable_subscriber,
            } => {
                let (prefix, suffix, as_queue) = if dest.kind().is_queue() {
                    (queue_prefix, queue_suffix, *use_queue_for_queue_messages)
                } else {
                    (topic_prefix, topic_suffix, *use_queue_for_topic_messages)
                };
                let name = match subscription.filter(|_| *destination_per_durable_subscriber) {
                    Some(key) => format!("{prefix}{}.{key}{suffix}", dest.name()),
                    None => format!("{prefix}{}{suffix}", dest.name()),
                };
                Some(if as_queue {
                    Destination::queue(name)
                } else {
                    Destination::topic(name)
                })
            }
            Self::Discarding => None,
        }
    }
}

impl Default for DeadLetterStrategy {
    fn default() -> Self {
        Self::Shared {
            queue: DEFAULT_DLQ.into(),
        }
    }
}

/// A dead-letter strategy plus what it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterPolicy {
    /// Where the messages go.
    pub strategy: DeadLetterStrategy,
    /// Expired messages are dead-lettered (ActiveMQ `processExpired`, default true).
    pub process_expired: bool,
    /// Non-persistent messages are dead-lettered too (ActiveMQ `processNonPersistent`,
    /// default false: they are dropped).
    pub process_non_persistent: bool,
    /// A dead-lettered message expires this many ms after it was dead-lettered, and is then
    /// dropped (ActiveMQ `expiration`); 0 = never.
    pub expiration: u64,
}

impl Default for DeadLetterPolicy {
    fn default() -> Self {
        Self {
            strategy: DeadLetterStrategy::default(),
            process_expired: true,
            process_non_persistent: false,
            expiration: 0,
        }
    }
}

/// A priority class with its own delivery delay (ferromq's priority lanes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorityLane {
    /// The JMS priorities in this lane, e.g. 7..=9.
    pub priorities: RangeInclusive<u8>,
    /// Delay before a message of this lane is first delivered, in ms.
    pub delay_ms: u64,
}

/// What applies to one destination.
#[derive(Debug, Clone, PartialEq)]
pub struct DestinationPolicy {
    /// Dispatch by JMS priority, highest first (`prioritizedMessages`); FIFO otherwise.
    pub prioritized_messages: bool,
    /// Per-priority delivery delays; priorities in no lane have none.
    pub priority_lanes: Vec<PriorityLane>,
    /// Redelivery back-off and limit.
    pub redelivery: RedeliveryPolicy,
    /// Dead-letter handling.
    pub dead_letter: DeadLetterPolicy,
    /// Period of the expired-message sweep in ms (`expireMessagesPeriod`); 0 = no sweep
    /// (expired messages are still never delivered).
    pub expire_messages_period: u64,
}

impl Default for DestinationPolicy {
    /// ferromq's defaults: priority on; everything else as ActiveMQ.
    fn default() -> Self {
        Self {
            prioritized_messages: true,
            priority_lanes: Vec::new(),
            redelivery: RedeliveryPolicy::default(),
            dead_letter: DeadLetterPolicy::default(),
            expire_messages_period: 30_000,
        }
    }
}

impl DestinationPolicy {
    /// The lane delay for a message of `priority`.
    pub fn lane_delay(&self, priority: u8) -> u64 {
        self.priority_lanes
            .iter()
            .find(|l| l.priorities.contains(&priority))
            .map_or(0, |l| l.delay_ms)
    }
}

/// Which destinations an entry applies to: a kind and an ActiveMQ wildcard name
/// (`.` separates names, `*` matches one name, `>` matches whatever follows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationPattern {
    /// Queues (temporary ones included) or topics.
    pub queues: bool,
    segments: Vec<String>,
}

impl DestinationPattern {
    /// A pattern over queues.
    pub fn queue(pattern: &str) -> Self {
        Self::new(true, pattern)
    }

    /// A pattern over topics.
    pub fn topic(pattern: &str) -> Self {
        Self::new(false, pattern)
    }

    fn new(queues: bool, pattern: &str) -> Self {
        let mut segments: Vec<String> = pattern.split('.').map(str::to_owned).collect();
        // ActiveMQ ignores whatever follows `>`.
        if let Some(i) = segments.iter().position(|s| s == ">") {
            segments.truncate(i + 1);
        }
        Self { queues, segments }
    }

    /// The pattern's names (`*` and `>` included), `>` last if present.
    pub(crate) fn segments(&self) -> &[String] {
        &self.segments
    }

    /// True when `dest` matches.
    pub fn matches(&self, dest: &Destination) -> bool {
        if self.queues != dest.kind().is_queue() {
            return false;
        }
        let mut names = dest.name().split('.');
        for seg in &self.segments {
            match seg.as_str() {
                // `>` matches whatever follows, nothing included: `a.>` covers `a` too, as
                // ActiveMQ (its reference run delivers topic `a` to an `a.>` subscriber).
                ">" => return true,
                "*" => {
                    if names.next().is_none() {
                        return false;
                    }
                }
                lit => {
                    if names.next() != Some(lit) {
                        return false;
                    }
                }
            }
        }
        names.next().is_none()
    }

    /// Orders matching patterns: the higher, the more specific. Literal names count most,
    /// then `*`; a trailing `>` counts least.
    fn specificity(&self) -> (usize, usize, bool) {
        let literal = self
            .segments
            .iter()
            .filter(|s| *s != "*" && *s != ">")
            .count();
        let star = self.segments.iter().filter(|s| *s == "*").count();
        let no_rest = self.segments.last().is_none_or(|s| s != ">");
        (literal, star, no_rest)
    }
}

/// A policy entry: every field is optional so entries can leave some knobs to the defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyEntry {
    /// `prioritizedMessages`.
    pub prioritized_messages: Option<bool>,
    /// Priority lanes.
    pub priority_lanes: Option<Vec<PriorityLane>>,
    /// Dead-letter handling.
    pub dead_letter: Option<DeadLetterPolicy>,
    /// `expireMessagesPeriod` in ms.
    pub expire_messages_period: Option<u64>,
}

/// All configured policies; resolves one destination's [`DestinationPolicy`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyMap {
    /// What applies where no entry matches (the native default, or ActiveMQ's when the
    /// config came from an activemq.xml).
    pub defaults: DestinationPolicy,
    /// `policyEntry`s.
    pub entries: Vec<(DestinationPattern, PolicyEntry)>,
    /// `redeliveryPolicyEntries`; `defaults.redelivery` is the `defaultEntry`.
    pub redelivery: Vec<(DestinationPattern, RedeliveryPolicy)>,
}

impl PolicyMap {
    /// The policy of `dest`: the most specific matching entry's values over the defaults
    /// (on a tie the entry listed first wins); redelivery from the most specific matching
    /// redelivery entry.
    pub fn resolve(&self, dest: &Destination) -> Arc<DestinationPolicy> {
        let mut policy = self.defaults.clone();
        if let Some(entry) = best(&self.entries, dest) {
            if let Some(v) = entry.prioritized_messages {
                policy.prioritized_messages = v;
            }
            if let Some(v) = &entry.priority_lanes {
                policy.priority_lanes = v.clone();
            }
            if let Some(v) = &entry.dead_letter {
                policy.dead_letter = v.clone();
            }
            if let Some(v) = entry.expire_messages_period {
                policy.expire_messages_period = v;
            }
        }
        if let Some(r) = best(&self.redelivery, dest) {
            policy.redelivery = r.clone();
        }
        Arc::new(policy)
    }
}

fn best<'a, T>(entries: &'a [(DestinationPattern, T)], dest: &Destination) -> Option<&'a T> {
    let mut found: Option<&(DestinationPattern, T)> = None;
    for e in entries.iter().filter(|(p, _)| p.matches(dest)) {
        if found.is_none_or(|f| e.0.specificity() > f.0.specificity()) {
            found = Some(e);
        }
    }
    found.map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DestinationKind;

    #[test]
    fn wildcards_match_as_activemq() {
        let q = |n: &str| Destination::queue(n);
        assert!(DestinationPattern::queue(">").matches(&q("a.b")));
        assert!(DestinationPattern::queue("PRICE.>").matches(&q("PRICE.STOCK.NYSE")));
        assert!(DestinationPattern::queue("PRICE.>").matches(&q("PRICE")));
        assert!(!DestinationPattern::queue("PRICE.>").matches(&q("PRICES.X")));
        assert!(DestinationPattern::queue("PRICE.*.IBM").matches(&q("PRICE.STOCK.IBM")));
        assert!(!DestinationPattern::queue("PRICE.*.IBM").matches(&q("PRICE.IBM")));
        assert!(!DestinationPattern::queue("PRICE.*").matches(&q("PRICE.A.B")));
        assert!(DestinationPattern::queue("a.>.ignored").matches(&q("a.b.c")));
        assert!(!DestinationPattern::topic(">").matches(&q("a")));
        assert!(DestinationPattern::queue("x")
            .matches(&Destination::new(DestinationKind::TempQueue, "x")));
    }

    #[test]
    fn most_specific_entry_wins() {
        let entry = |p: bool| PolicyEntry {
            prioritized_messages: Some(p),
            expire_messages_period: Some(if p { 1 } else { 2 }),
            ..PolicyEntry::default()
        };
        let map = PolicyMap {
            entries: vec![
                (DestinationPattern::queue(">"), entry(false)),
                (DestinationPattern::queue("orders.*"), entry(true)),
                (DestinationPattern::queue("orders.>"), entry(false)),
            ],
            ..PolicyMap::default()
        };
        assert!(!map.resolve(&Destination::queue("x")).prioritized_messages);
        assert!(
            map.resolve(&Destination::queue("orders.eu"))
                .prioritized_messages
        );
        assert!(
            !map.resolve(&Destination::queue("orders.eu.x"))
                .prioritized_messages
        );
        // Topics match no queue entry: defaults.
        assert!(
            map.resolve(&Destination::topic("orders.eu"))
                .prioritized_messages
        );
        assert_eq!(
            map.resolve(&Destination::topic("x")).expire_messages_period,
            30_000
        );
    }

    #[test]
    fn redelivery_delays_follow_activemq() {
        let fixed = RedeliveryPolicy {
            initial_redelivery_delay: 500,
            redelivery_delay: 1000,
            ..RedeliveryPolicy::activemq_defaults()
        };
        assert_eq!(fixed.delay_for(1, 0.0), 500);
        assert_eq!(fixed.delay_for(2, 0.0), 1000);
        assert_eq!(fixed.delay_for(5, 0.0), 1000);
        let exp = RedeliveryPolicy {
            initial_redelivery_delay: 100,
            use_exponential_back_off: true,
            back_off_multiplier: 2.0,
            maximum_redelivery_delay: 500,
            ..RedeliveryPolicy::activemq_defaults()
        };
        let d: Vec<u64> = (1..=5).map(|n| exp.delay_for(n, 0.0)).collect();
        // Capped at max(maximumRedeliveryDelay, redeliveryDelay) = 1000 per ActiveMQ.
        assert_eq!(d, vec![100, 200, 400, 1000, 1000]);
        let spread = RedeliveryPolicy {
            use_collision_avoidance: true,
            ..fixed
        };
        assert_eq!(spread.delay_for(2, 1.0), 1150);
        assert_eq!(spread.delay_for(2, -1.0), 850);
        assert!(!fixed.exceeded(6));
        assert!(fixed.exceeded(7));
        let unlimited = RedeliveryPolicy {
            maximum_redeliveries: -1,
            ..fixed
        };
        assert!(!unlimited.exceeded(u32::MAX));
        assert_eq!(RedeliveryPolicy::immediate().delay_for(3, 0.0), 0);
    }

    #[test]
    fn dead_letter_destinations() {
        let ind = DeadLetterStrategy::Individual {
            queue_prefix: "DLQ.".into(),
            topic_prefix: "DLQ.T.".into(),
            queue_suffix: ".dead".into(),
            topic_suffix: String::new(),
            use_queue_for_queue_messages: true,
            use_queue_for_topic_messages: false,
            destination_per_durable_subscriber: false,
        };
        assert_eq!(
            ind.dead_letter_destination(&Destination::queue("orders"), None),
            Some(Destination::queue("DLQ.orders.dead"))
        );
        assert_eq!(
            ind.dead_letter_destination(&Destination::topic("news"), Some("app:s")),
            Some(Destination::topic("DLQ.T.news"))
        );
        let per_subscriber = DeadLetterStrategy::Individual {
            queue_prefix: "DLQ.".into(),
            topic_prefix: "DLQ.T.".into(),
            queue_suffix: String::new(),
            topic_suffix: ".x".into(),
            use_queue_for_queue_messages: true,
            use_queue_for_topic_messages: false,
            destination_per_durable_subscriber: true,
        };
        assert_eq!(
            per_subscriber.dead_letter_destination(&Destination::topic("news"), Some("app:s")),
            Some(Destination::topic("DLQ.T.news.app:s.x")),
            "ActiveMQ's form: prefix, topic, '.', subscription key, suffix"
        );
        assert_eq!(
            per_subscriber.dead_letter_destination(&Destination::topic("news"), None),
            Some(Destination::topic("DLQ.T.news.x"))
        );
        assert_eq!(
            DeadLetterStrategy::default()
                .dead_letter_destination(&Destination::topic("news"), None),
            Some(Destination::queue("ActiveMQ.DLQ"))
        );
        assert_eq!(
            DeadLetterStrategy::Discarding.dead_letter_destination(&Destination::queue("x"), None),
            None
        );
    }

    #[test]
    fn lane_delays() {
        let p = DestinationPolicy {
            priority_lanes: vec![
                PriorityLane {
                    priorities: 7..=9,
                    delay_ms: 0,
                },
                PriorityLane {
                    priorities: 4..=6,
                    delay_ms: 30_000,
                },
                PriorityLane {
                    priorities: 0..=3,
                    delay_ms: 120_000,
                },
            ],
            ..DestinationPolicy::default()
        };
        assert_eq!(p.lane_delay(9), 0);
        assert_eq!(p.lane_delay(4), 30_000);
        assert_eq!(p.lane_delay(0), 120_000);
    }
}
