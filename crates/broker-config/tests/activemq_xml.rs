//! The activemq.xml reader on a realistic file in ActiveMQ's own format
//! (`fixtures/activemq.xml`: the shipped conf/activemq.xml plus policies, redelivery and a few
//! settings ferromq does not support).

use broker_config::{
    BrokerConfig, ConfigFormat, DeadLetterStrategyConfig, IndividualDeadLetterConfig,
    PolicyDefaults, PolicyEntryConfig, RedeliveryPolicyConfig, RedeliverySection,
    SharedDeadLetterConfig, SyncMode,
};

const FIXTURE: &str = include_str!("fixtures/activemq.xml");

fn fixture() -> broker_config::Loaded {
    BrokerConfig::from_str_any(FIXTURE).expect("the fixture loads")
}

#[test]
fn fixture_is_recognised_and_valid() {
    let l = fixture();
    assert_eq!(l.format, ConfigFormat::ActiveMqXml);
    l.config.validate().expect("the fixture's config validates");
}

#[test]
fn fixture_maps_broker_storage_and_listener_settings() {
    let c = fixture().config;
    // dataDirectory="${activemq.data}".
    assert_eq!(c.storage.data_dir, "data");
    // kahaDB journalDiskSyncStrategy / journalDiskSyncInterval.
    assert_eq!(c.storage.sync, SyncMode::Periodic);
    assert_eq!(c.storage.sync_interval_ms, 500);
    // storeUsage limit="10 gb"; memoryUsage percentOfJvmHeap stays automatic.
    assert_eq!(c.storage.store_limit_mb, 10 * 1024);
    assert_eq!(c.storage.memory_limit_mb, 0);
    assert_eq!(c.storage.send_fail_if_no_space_after_timeout_ms, 3000);
    // The stomp:// connector.
    assert_eq!(c.network.bind, "0.0.0.0");
    assert_eq!(c.stomp.port, 61613);
    assert_eq!(c.network.max_connections, 1000);
    assert_eq!(c.stomp.max_frame_size, 104_857_600);
    // The topic=">" constantPendingMessageLimitStrategy.
    assert_eq!(c.core.topic_pending_limit, 1000);
    // Nothing in the XML touches these.
    assert_eq!(c.admin, BrokerConfig::default().admin);
    assert_eq!(c.stomp.max_body, BrokerConfig::default().stomp.max_body);
}

#[test]
fn fixture_maps_policies_with_activemq_defaults() {
    let c = fixture().config;
    // No defaultEntry: ActiveMQ's defaults, priority off.
    assert_eq!(c.policy_defaults, PolicyDefaults::activemq());
    // Every entry complete: absent attributes take ActiveMQ's PolicyEntry defaults.
    let entry = |queue: Option<&str>, topic: Option<&str>| PolicyEntryConfig {
        queue: queue.map(str::to_owned),
        topic: topic.map(str::to_owned),
        prioritized_messages: Some(false),
        expire_messages_period: Some(30_000),
        priority_lanes: None,
        dead_letter_strategy: Some(DeadLetterStrategyConfig::default()),
    };
    assert_eq!(
        c.policy,
        vec![
            PolicyEntryConfig {
                prioritized_messages: Some(true),
                dead_letter_strategy: Some(DeadLetterStrategyConfig::Individual(
                    IndividualDeadLetterConfig {
                        queue_prefix: "DLQ.".into(),
                        use_queue_for_queue_messages: true,
                        ..IndividualDeadLetterConfig::default()
                    }
                )),
                ..entry(Some(">"), None)
            },
            PolicyEntryConfig {
                expire_messages_period: Some(0),
                dead_letter_strategy: Some(DeadLetterStrategyConfig::Shared(
                    SharedDeadLetterConfig {
                        process_expired: false,
                        ..SharedDeadLetterConfig::default()
                    }
                )),
                ..entry(Some("audit.>"), None)
            },
            entry(None, Some(">")),
            PolicyEntryConfig {
                dead_letter_strategy: Some(DeadLetterStrategyConfig::Discarding {}),
                ..entry(None, Some("prices.>"))
            },
            // The tempQueue entry is dropped (with a warning).
        ]
    );
}

#[test]
fn fixture_maps_the_redelivery_plugin() {
    let c = fixture().config;
    assert_eq!(
        c.redelivery,
        RedeliverySection {
            send_to_dlq_if_max_retries_exceeded: true,
            fallback_to_dead_letter: true,
            default_entry: Some(RedeliveryPolicyConfig {
                maximum_redeliveries: 3,
                initial_redelivery_delay: 1000,
                redelivery_delay: 1000,
                ..RedeliveryPolicyConfig::default()
            }),
            entry: vec![RedeliveryPolicyConfig {
                queue: Some("orders.>".into()),
                maximum_redeliveries: 5,
                use_exponential_back_off: true,
                back_off_multiplier: 2.0,
                maximum_redelivery_delay: 30_000,
                ..RedeliveryPolicyConfig::default()
            }],
        }
    );
}

#[test]
fn fixture_warns_once_per_unsupported_setting() {
    let policies = "broker/destinationPolicy/policyMap/policyEntries";
    let expected = vec![
        "line 19: broker@dataDirectory=\"${activemq.data}\": ${activemq.data} is read as \"data\", relative to the working directory".to_owned(),
        "line 19: broker@useJmx is not supported yet; ignored".to_owned(),
        format!("line 25: {policies}/policyEntry[queue=\">\"]@useCache is not supported yet; ignored"),
        format!("line 33: {policies}/policyEntry[queue=\"audit.>\"]/deadLetterStrategy/sharedDeadLetterStrategy@enableAudit is not supported yet; ignored"),
        format!("line 45: {policies}/policyEntry[topic=\"prices.>\"]/subscriptionRecoveryPolicy is not supported yet; ignored"),
        format!("line 49: {policies}/policyEntry[tempQueue=\"true\"]: entries for temporary destinations are not supported yet; ignored"),
        "line 54: broker/managementContext is not supported yet; ignored".to_owned(),
        "line 75: broker/plugins/simpleAuthenticationPlugin is not supported yet; ignored: clients are NOT authenticated".to_owned(),
        "line 83: broker/persistenceAdapter/kahaDB@directory is not used: the store lives in <storage.data_dir>/store; ignored".to_owned(),
        "line 90: broker/systemUsage/systemUsage/memoryUsage/memoryUsage@percentOfJvmHeap has no JVM heap to refer to; storage.memory_limit_mb stays automatic (25% of physical memory)".to_owned(),
        "line 95: broker/systemUsage/systemUsage/tempUsage is not supported yet; ignored".to_owned(),
        "line 103: broker/transportConnectors/transportConnector[name=\"openwire\"] (tcp://0.0.0.0:61616): ferromq serves only STOMP yet; ignored".to_owned(),
        "line 104: broker/transportConnectors/transportConnector[name=\"amqp\"] (amqp://0.0.0.0:5672): ferromq serves only STOMP yet (AMQP is upcoming); ignored".to_owned(),
    ];
    // Spring's <bean>, <import>, xmlns/xsi attributes, comments and <shutdownHooks> are
    // skipped silently; so are the attributes ferromq maps (brokerName, schedulerSupport="true").
    assert_eq!(fixture().warnings, expected);
}

#[test]
fn shipped_example_loads() {
    // ActiveMQ's own conf/activemq.xml, unchanged.
    let l = BrokerConfig::from_str_any(include_str!("fixtures/activemq-shipped.xml")).unwrap();
    l.config.validate().unwrap();
    assert_eq!(l.config.stomp.port, 61613);
    assert_eq!(l.config.core.topic_pending_limit, 1000);
    assert_eq!(l.config.storage.store_limit_mb, 100 * 1024);
    assert!(l
        .config
        .policy
        .iter()
        .all(|p| p.topic.as_deref() == Some(">")));
    let unsupported = l
        .warnings
        .iter()
        .filter(|w| w.contains("not supported yet") || w.contains("only STOMP"))
        .count();
    // managementContext, tempUsage and the openwire, amqp, mqtt and ws connectors.
    assert_eq!(unsupported, 6, "{:#?}", l.warnings);
    // Plus the notes on dataDirectory, kahaDB@directory and percentOfJvmHeap.
    assert_eq!(l.warnings.len(), 9, "{:#?}", l.warnings);
}
