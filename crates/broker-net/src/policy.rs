//! The core's [`PolicyMap`] from the config's `[[policy]]`, `[policy_defaults]` and
//! `[redelivery]` (read from TOML or an activemq.xml alike).

use broker_config::{
    pattern_parts, BrokerConfig, DeadLetterStrategyConfig, PriorityLaneConfig,
    RedeliveryPolicyConfig,
};
use broker_core::{
    CompositeDestination, CompositeTarget, DeadLetterPolicy, DeadLetterStrategy, Destination,
    DestinationPattern, DestinationPolicy, PolicyEntry, PolicyMap, PriorityLane, RedeliveryPolicy,
    VirtualTopic,
};

/// The policies of a validated config. A composite pattern (`"A.>,B.*"`) becomes one entry per
/// part, in order, so ties still go to the entry listed first.
pub fn policy_map(cfg: &BrokerConfig) -> PolicyMap {
    let d = &cfg.policy_defaults;
    let defaults = DestinationPolicy {
        prioritized_messages: d.prioritized_messages,
        priority_lanes: lanes(&d.priority_lanes),
        redelivery: cfg
            .redelivery
            .default_entry
            .as_ref()
            .map_or_else(RedeliveryPolicy::immediate, redelivery),
        dead_letter: dead_letter(&d.dead_letter_strategy),
        expire_messages_period: ms(d.expire_messages_period),
    };
    let mut entries = Vec::new();
    for e in &cfg.policy {
        let entry = PolicyEntry {
            prioritized_messages: e.prioritized_messages,
            priority_lanes: e.priority_lanes.as_deref().map(lanes),
            dead_letter: e.dead_letter_strategy.as_ref().map(dead_letter),
            expire_messages_period: e.expire_messages_period.map(ms),
        };
        for pattern in patterns(e.queue.as_deref(), e.topic.as_deref()) {
            entries.push((pattern, entry.clone()));
        }
    }
    let mut redeliveries = Vec::new();
    for r in &cfg.redelivery.entry {
        let policy = redelivery(r);
        for pattern in patterns(r.queue.as_deref(), r.topic.as_deref()) {
            redeliveries.push((pattern, policy.clone()));
        }
    }
    PolicyMap {
        defaults,
        entries,
        redelivery: redeliveries,
    }
}

/// The virtual topic rules of a config: its `[[virtual_topic]]` entries, or ActiveMQ's default.
pub fn virtual_topics(cfg: &BrokerConfig) -> Vec<VirtualTopic> {
    cfg.virtual_topics()
        .iter()
        .map(|v| VirtualTopic::new(&v.name, &v.prefix, &v.postfix))
        .collect()
}

/// The composite destinations of a validated config, or the first bad selector (named by its
/// TOML path), which [`BrokerConfig::validate`] cannot check.
pub fn composites(cfg: &BrokerConfig) -> Result<Vec<CompositeDestination>, String> {
    let mut out = Vec::new();
    for (i, c) in cfg.composite.iter().enumerate() {
        let Some(name) = patterns(c.queue.as_deref(), c.topic.as_deref())
            .into_iter()
            .next()
        else {
            continue;
        };
        let mut forward_to = Vec::new();
        for (j, f) in c.forward_to.iter().enumerate() {
            let destination = match (&f.queue, &f.topic) {
                (Some(q), _) => Destination::queue(q.as_str()),
                (None, Some(t)) => Destination::topic(t.as_str()),
                (None, None) => continue,
            };
            forward_to.push(match &f.selector {
                None => CompositeTarget::all(destination),
                Some(s) => CompositeTarget::filtered(destination, s).map_err(|e| {
                    format!(
                        "`composite[{i}].forwardTo[{j}].selector` is not a valid JMS selector \
                         ({e}); got {s:?}"
                    )
                })?,
            });
        }
        out.push(CompositeDestination {
            name,
            forward_only: c.forward_only,
            forward_to,
        });
    }
    Ok(out)
}

fn patterns(queue: Option<&str>, topic: Option<&str>) -> Vec<DestinationPattern> {
    match (queue, topic) {
        (Some(q), _) => pattern_parts(q).map(DestinationPattern::queue).collect(),
        (None, Some(t)) => pattern_parts(t).map(DestinationPattern::topic).collect(),
        // Validation refuses an entry naming neither.
        (None, None) => Vec::new(),
    }
}

/// Validation keeps delays non-negative; clamp anyway rather than wrap.
fn ms(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn lanes(lanes: &[PriorityLaneConfig]) -> Vec<PriorityLane> {
    lanes
        .iter()
        .filter_map(|l| {
            Some(PriorityLane {
                priorities: l.priority_range().ok()?,
                delay_ms: ms(l.delay),
            })
        })
        .collect()
}

fn dead_letter(s: &DeadLetterStrategyConfig) -> DeadLetterPolicy {
    match s {
        DeadLetterStrategyConfig::Shared(c) => DeadLetterPolicy {
            strategy: DeadLetterStrategy::Shared {
                queue: c.dead_letter_queue.clone(),
            },
            process_expired: c.process_expired,
            process_non_persistent: c.process_non_persistent,
            expiration: c.expiration,
        },
        DeadLetterStrategyConfig::Individual(c) => DeadLetterPolicy {
            strategy: DeadLetterStrategy::Individual {
                queue_prefix: c.queue_prefix.clone(),
                topic_prefix: c.topic_prefix.clone(),
                queue_suffix: c.queue_suffix.clone(),
                topic_suffix: c.topic_suffix.clone(),
                use_queue_for_queue_messages: c.use_queue_for_queue_messages,
                use_queue_for_topic_messages: c.use_queue_for_topic_messages,
                destination_per_durable_subscriber: c.destination_per_durable_subscriber,
            },
            process_expired: c.process_expired,
            process_non_persistent: c.process_non_persistent,
            expiration: c.expiration,
        },
        // Nothing reaches a dead-letter destination, so the process flags do not matter.
        DeadLetterStrategyConfig::Discarding {} => DeadLetterPolicy {
            strategy: DeadLetterStrategy::Discarding,
            ..DeadLetterPolicy::default()
        },
    }
}

fn redelivery(r: &RedeliveryPolicyConfig) -> RedeliveryPolicy {
    RedeliveryPolicy {
        maximum_redeliveries: r.maximum_redeliveries,
        initial_redelivery_delay: ms(r.initial_redelivery_delay),
        redelivery_delay: ms(r.redelivery_delay),
        use_exponential_back_off: r.use_exponential_back_off,
        back_off_multiplier: r.back_off_multiplier,
        maximum_redelivery_delay: r.maximum_redelivery_delay,
        use_collision_avoidance: r.use_collision_avoidance,
        collision_avoidance_factor: r.collision_avoidance_factor,
    }
}

#[cfg(test)]
mod tests {
    use broker_core::Destination;

    use super::*;

    fn toml(text: &str) -> BrokerConfig {
        let c = BrokerConfig::from_toml_str(text).unwrap();
        c.validate().unwrap();
        c
    }

    /// The ActiveMQ documentation's example (queue=">" prioritizedMessages + DLQ. prefix)
    /// plus a redelivery defaultEntry of 3 redeliveries 1 s apart, as docs/configuration.md
    /// gives it.
    const DOC_EXAMPLE: &str = r#"
        [redelivery]
        defaultEntry = { maximumRedeliveries = 3, initialRedeliveryDelay = 1000, redeliveryDelay = 1000 }

        [[policy]]
        queue = ">"
        prioritizedMessages = true
        deadLetterStrategy = { type = "individual", queuePrefix = "DLQ.", useQueueForQueueMessages = true }
    "#;

    #[test]
    fn doc_example_resolves_for_a_queue() {
        let map = policy_map(&toml(DOC_EXAMPLE));
        let orders = Destination::queue("orders");
        let p = map.resolve(&orders);
        assert!(p.prioritized_messages);
        assert_eq!(
            p.dead_letter
                .strategy
                .dead_letter_destination(&orders, None),
            Some(Destination::queue("DLQ.orders"))
        );
        assert!(p.dead_letter.process_expired);
        assert!(!p.dead_letter.process_non_persistent);
        assert_eq!(p.redelivery.maximum_redeliveries, 3);
        assert_eq!(
            (1..=3)
                .map(|n| p.redelivery.delay_for(n, 0.0))
                .collect::<Vec<_>>(),
            vec![1000, 1000, 1000]
        );
        assert!(!p.redelivery.exceeded(3));
        assert!(p.redelivery.exceeded(4));
        assert_eq!(p.expire_messages_period, 30_000);
        // Topics match no entry: the native defaults, ActiveMQ's shared DLQ.
        let news = Destination::topic("news");
        let t = map.resolve(&news);
        assert!(t.prioritized_messages);
        assert_eq!(
            t.dead_letter.strategy.dead_letter_destination(&news, None),
            Some(Destination::queue("ActiveMQ.DLQ"))
        );
        assert_eq!(t.redelivery.maximum_redeliveries, 3);
    }

    #[test]
    fn the_same_settings_from_activemq_xml_resolve_alike() {
        let xml = r#"<beans><broker schedulerSupport="true">
            <destinationPolicy><policyMap><policyEntries>
              <policyEntry queue=">" prioritizedMessages="true">
                <deadLetterStrategy>
                  <individualDeadLetterStrategy queuePrefix="DLQ." useQueueForQueueMessages="true"/>
                </deadLetterStrategy>
              </policyEntry>
            </policyEntries></policyMap></destinationPolicy>
            <plugins><redeliveryPlugin><redeliveryPolicyMap><redeliveryPolicyMap><defaultEntry>
              <redeliveryPolicy maximumRedeliveries="3" initialRedeliveryDelay="1000" redeliveryDelay="1000"/>
            </defaultEntry></redeliveryPolicyMap></redeliveryPolicyMap></redeliveryPlugin></plugins>
        </broker></beans>"#;
        let cfg = BrokerConfig::from_activemq_xml_str(xml).unwrap().config;
        cfg.validate().unwrap();
        let from_xml = policy_map(&cfg);
        let from_toml = policy_map(&toml(DOC_EXAMPLE));
        let orders = Destination::queue("orders");
        assert_eq!(from_xml.resolve(&orders), from_toml.resolve(&orders));
        // Where no entry applies, ActiveMQ's default: no priority.
        assert!(
            !from_xml
                .resolve(&Destination::topic("t"))
                .prioritized_messages
        );
    }

    #[test]
    fn defaults_without_policies() {
        let native = policy_map(&BrokerConfig::default());
        assert_eq!(native, PolicyMap::default());
        let p = native.resolve(&Destination::queue("x"));
        assert_eq!(p.redelivery, RedeliveryPolicy::immediate());
        assert_eq!(p.redelivery.maximum_redeliveries, 6);
        assert_eq!(p.redelivery.delay_for(1, 0.0), 0);
    }

    #[test]
    fn virtual_destinations_map_to_the_core() {
        assert_eq!(
            virtual_topics(&BrokerConfig::default()),
            [VirtualTopic::activemq_default()]
        );
        assert!(composites(&BrokerConfig::default()).unwrap().is_empty());
        let cfg = toml(
            r#"
            [[virtual_topic]]
            name = "events.>"
            postfix = ".in"

            [[composite]]
            topic = "fan"
            forwardTo = [{ queue = "a" }, { topic = "b", selector = "x = 'y'" }]
            "#,
        );
        assert_eq!(
            virtual_topics(&cfg),
            [VirtualTopic::new("events.>", "Consumer.*.", ".in")]
        );
        let c = composites(&cfg).unwrap();
        assert_eq!(c.len(), 1);
        assert!(c[0].forward_only);
        assert!(c[0].name.matches(&Destination::topic("fan")));
        assert!(!c[0].name.matches(&Destination::queue("fan")));
        assert_eq!(c[0].forward_to[0].destination, Destination::queue("a"));
        assert!(c[0].forward_to[0].selector.is_none());
        assert_eq!(c[0].forward_to[1].destination, Destination::topic("b"));
        assert_eq!(
            c[0].forward_to[1].selector.as_ref().map(|s| s.text()),
            Some("x = 'y'")
        );
        assert!(virtual_topics(&toml("virtual_topic = []")).is_empty());
        let bad = toml(
            r#"
            [[composite]]
            queue = "q"
            forwardTo = [{ queue = "a" }, { queue = "b", selector = "x = " }]
            "#,
        );
        let e = composites(&bad).unwrap_err();
        assert!(
            e.starts_with("`composite[0].forwardTo[1].selector` is not a valid JMS selector"),
            "{e}"
        );
        assert!(crate::check_config(&bad).is_err());
        assert!(crate::check_config(&cfg).is_ok());
    }

    #[test]
    fn entries_lanes_and_redelivery_patterns() {
        let map = policy_map(&toml(
            r#"
            [policy_defaults]
            priorityLanes = [{ priorities = "0-3", delay = 60000 }]

            [[redelivery.entry]]
            queue = "orders.>, billing"
            initialRedeliveryDelay = 500
            useExponentialBackOff = true
            backOffMultiplier = 2
            maximumRedeliveryDelay = 4000
            redeliveryDelay = 500

            [[policy]]
            topic = "prices.*"
            prioritizedMessages = false
            expireMessagesPeriod = 0
            deadLetterStrategy = { type = "discarding" }

            [[policy]]
            queue = "orders.>"
            priorityLanes = [{ priorities = "7-9" }, { priorities = "4", delay = 30000 }]
            deadLetterStrategy = { type = "shared", deadLetterQueue = "Orders.DLQ", processNonPersistent = true }
            "#,
        ));
        let prices = map.resolve(&Destination::topic("prices.nyse"));
        assert!(!prices.prioritized_messages);
        assert_eq!(prices.expire_messages_period, 0);
        assert_eq!(prices.dead_letter.strategy, DeadLetterStrategy::Discarding);
        // Lanes from the defaults where the entry sets none.
        assert_eq!(prices.lane_delay(2), 60_000);

        let orders = map.resolve(&Destination::queue("orders.eu"));
        assert!(
            orders.prioritized_messages,
            "inherited from [policy_defaults]"
        );
        assert_eq!(orders.lane_delay(8), 0);
        assert_eq!(orders.lane_delay(4), 30_000);
        assert_eq!(
            orders.lane_delay(2),
            0,
            "the entry's lanes replace the defaults'"
        );
        assert_eq!(
            orders.dead_letter,
            DeadLetterPolicy {
                strategy: DeadLetterStrategy::Shared {
                    queue: "Orders.DLQ".into()
                },
                process_expired: true,
                process_non_persistent: true,
                expiration: 0,
            }
        );
        let delays: Vec<u64> = (1..=5)
            .map(|n| orders.redelivery.delay_for(n, 0.0))
            .collect();
        assert_eq!(delays, vec![500, 1000, 2000, 4000, 4000]);
        // The composite's second part.
        assert_eq!(
            map.resolve(&Destination::queue("billing"))
                .redelivery
                .initial_redelivery_delay,
            500
        );
        // Neither part matches: the default, immediate redelivery.
        assert_eq!(
            map.resolve(&Destination::queue("other")).redelivery,
            RedeliveryPolicy::immediate()
        );
    }
}
