//! The TOML format of [`BrokerConfig`]: sections `[network]`, `[stomp]`, `[storage]`, `[core]`
//! and `[admin]` with snake_case keys; `[redelivery]`, `[policy_defaults]`, `[[policy]]`,
//! `[[virtual_topic]]` and `[[composite]]` with ActiveMQ's camelCase attribute names. Every key
//! is optional.

use crate::{BrokerConfig, ConfigError};

impl BrokerConfig {
    /// Parses a TOML document. Missing keys and sections take their defaults; unknown keys
    /// and wrongly typed values are errors. Does not [`validate`](Self::validate).
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        ::toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: None,
            message: e.to_string(),
        })
    }

    /// This config as a TOML document (every key, no comments) that
    /// [`from_toml_str`](Self::from_toml_str) reads back to an equal config.
    pub fn to_toml_string(&self) -> Result<String, ConfigError> {
        ::toml::to_string(self).map_err(|e| ConfigError::Serialize {
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::{
        CoreSection, DeadLetterStrategyConfig, IndividualDeadLetterConfig, NetworkConfig,
        PolicyDefaults, PolicyEntryConfig, PriorityLaneConfig, RedeliveryPolicyConfig,
        RedeliverySection, SharedDeadLetterConfig, StompSection, StorageConfig, SyncMode,
    };

    /// The commented sample shipped in `deploy/`.
    const SAMPLE: &str = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/ferromq.toml"
    ));

    fn parse_err(text: &str) -> String {
        match BrokerConfig::from_toml_str(text) {
            Err(e @ ConfigError::Parse { .. }) => e.to_string(),
            other => panic!("expected a parse error for {text:?}, got {other:?}"),
        }
    }

    /// Every `section.key` of a TOML document.
    fn keys(text: &str) -> BTreeSet<String> {
        let table: ::toml::Table = ::toml::from_str(text).expect("valid TOML");
        let mut keys = BTreeSet::new();
        for (section, value) in table {
            let inner = value.as_table().expect("only sections at top level");
            keys.extend(inner.keys().map(|k| format!("{section}.{k}")));
        }
        keys
    }

    #[test]
    fn empty_document_is_the_default() {
        assert_eq!(
            BrokerConfig::from_toml_str("").unwrap(),
            BrokerConfig::default()
        );
        assert_eq!(
            BrokerConfig::from_toml_str("[network]\n[stomp]\n[storage]\n[core]\n").unwrap(),
            BrokerConfig::default()
        );
    }

    #[test]
    fn full_file_parses() {
        let text = r#"
            [network]
            bind = "127.0.0.1"
            max_connections = 50
            shutdown_grace_ms = 250

            [stomp]
            enabled = false
            port = 0
            max_frame_size = 2_000_000
            max_header_count = 64
            max_header_line = 8192
            max_body = 1_000_000
            hb_grace_multiplier = 2.5
            min_server_heartbeat_ms = 5000
            min_client_heartbeat_ms = 0
            connect_timeout_ms = 3000
            default_prefetch = 10
            write_timeout_ms = 2500

            [storage]
            data_dir = "/var/lib/ferromq"
            sync = "periodic"
            sync_interval_ms = 250
            memory_limit_mb = 2048
            page_size = 200
            store_limit_mb = 4096
            send_fail_if_no_space = true
            send_fail_if_no_space_after_timeout_ms = 3000
            min_free_disk_mb = 64

            [core]
            mailbox_capacity = 16
            delivery_channel_capacity = 32
            topic_pending_limit = 500
            max_transaction_ops = 64
        "#;
        let expected = BrokerConfig {
            network: NetworkConfig {
                bind: "127.0.0.1".to_owned(),
                max_connections: 50,
                shutdown_grace_ms: 250,
            },
            stomp: StompSection {
                enabled: false,
                port: 0,
                max_frame_size: 2_000_000,
                max_header_count: 64,
                max_header_line: 8192,
                max_body: 1_000_000,
                hb_grace_multiplier: 2.5,
                min_server_heartbeat_ms: 5000,
                min_client_heartbeat_ms: 0,
                connect_timeout_ms: 3000,
                default_prefetch: 10,
                write_timeout_ms: 2500,
            },
            storage: StorageConfig {
                data_dir: "/var/lib/ferromq".to_owned(),
                sync: SyncMode::Periodic,
                sync_interval_ms: 250,
                memory_limit_mb: 2048,
                page_size: 200,
                store_limit_mb: 4096,
                send_fail_if_no_space: true,
                send_fail_if_no_space_after_timeout_ms: 3000,
                min_free_disk_mb: 64,
            },
            core: CoreSection {
                mailbox_capacity: 16,
                delivery_channel_capacity: 32,
                topic_pending_limit: 500,
                max_transaction_ops: 64,
            },
            ..BrokerConfig::default()
        };
        let parsed = BrokerConfig::from_toml_str(text).unwrap();
        assert_eq!(parsed, expected);
        parsed.validate().unwrap();
    }

    #[test]
    fn missing_keys_keep_their_defaults() {
        let c = BrokerConfig::from_toml_str("[stomp]\nport = 61614\n").unwrap();
        assert_eq!(c.stomp.port, 61614);
        assert_eq!(
            c,
            BrokerConfig {
                stomp: StompSection {
                    port: 61614,
                    ..StompSection::default()
                },
                ..BrokerConfig::default()
            }
        );
    }

    #[test]
    fn integer_multiplier_is_accepted() {
        let c = BrokerConfig::from_toml_str("[stomp]\nhb_grace_multiplier = 2\n").unwrap();
        assert_eq!(c.stomp.hb_grace_multiplier, 2.0);
    }

    #[test]
    fn unknown_key_is_rejected() {
        let msg = parse_err("[stomp]\nmax_frame = 10\n");
        assert!(msg.contains("unknown field `max_frame`"), "{msg}");
        assert!(
            msg.contains("line 2"),
            "message should locate the key: {msg}"
        );
    }

    #[test]
    fn renamed_keys_are_rejected() {
        // Renamed before any release; an old file must fail loudly, not lose the setting.
        let msg = parse_err("[stomp]\nserver_heartbeat_ms = 5000\n");
        assert!(msg.contains("unknown field `server_heartbeat_ms`"), "{msg}");
        let msg = parse_err("[stomp]\nmax_outbound_bytes = 1024\n");
        assert!(msg.contains("unknown field `max_outbound_bytes`"), "{msg}");
    }

    #[test]
    fn unknown_section_is_rejected() {
        let msg = parse_err("[amqp]\nport = 5672\n");
        assert!(msg.contains("unknown field `amqp`"), "{msg}");
    }

    #[test]
    fn wrong_type_is_rejected() {
        let msg = parse_err("[stomp]\nport = \"61613\"\n");
        assert!(msg.contains("invalid type"), "{msg}");
        let msg = parse_err("[stomp]\nport = 70000\n");
        assert!(msg.contains("integer `70000`, expected u16"), "{msg}");
        let msg = parse_err("[network]\nmax_connections = -1\n");
        assert!(msg.contains("integer `-1`, expected usize"), "{msg}");
    }

    #[test]
    fn malformed_toml_is_a_parse_error() {
        let msg = parse_err("[stomp\nport = 1\n");
        assert!(msg.starts_with("cannot parse config <string>:"), "{msg}");
    }

    #[test]
    fn round_trip_through_toml() {
        let default = BrokerConfig::default();
        let text = default.to_toml_string().unwrap();
        assert_eq!(BrokerConfig::from_toml_str(&text).unwrap(), default);

        let custom = BrokerConfig {
            network: NetworkConfig {
                bind: "::1".to_owned(),
                ..NetworkConfig::default()
            },
            stomp: StompSection {
                enabled: false,
                hb_grace_multiplier: 3.0,
                port: 0,
                ..StompSection::default()
            },
            storage: StorageConfig {
                data_dir: "data dir/with \"quotes\" and ü".to_owned(),
                sync: SyncMode::Periodic,
                sync_interval_ms: 60_000,
                memory_limit_mb: 1_048_576,
                page_size: 1,
                store_limit_mb: 1_073_741_824,
                send_fail_if_no_space: true,
                send_fail_if_no_space_after_timeout_ms: 3_600_000,
                min_free_disk_mb: 0,
            },
            core: CoreSection {
                mailbox_capacity: 1,
                delivery_channel_capacity: 1_048_576,
                topic_pending_limit: 100_000_000,
                max_transaction_ops: 1,
            },
            ..BrokerConfig::default()
        };
        let text = custom.to_toml_string().unwrap();
        assert_eq!(
            BrokerConfig::from_toml_str(&text).unwrap(),
            custom,
            "{text}"
        );
    }

    #[test]
    fn generated_toml_has_every_key_in_its_section() {
        let text = BrokerConfig::default().to_toml_string().unwrap();
        let keys = keys(&text);
        // network, stomp, storage, core, admin, redelivery (without the optional
        // defaultEntry and entries), policy_defaults; no [[policy]] entries.
        assert_eq!(keys.len(), 3 + 12 + 9 + 4 + 3 + 2 + 4, "{keys:?}");
        assert!(keys.contains("admin.port"), "{keys:?}");
        assert!(
            keys.contains("policy_defaults.deadLetterStrategy"),
            "{keys:?}"
        );
        assert!(
            keys.contains("redelivery.sendToDlqIfMaxRetriesExceeded"),
            "{keys:?}"
        );
        assert!(keys.contains("stomp.min_server_heartbeat_ms"), "{keys:?}");
        assert!(keys.contains("stomp.write_timeout_ms"), "{keys:?}");
        assert!(keys.contains("core.delivery_channel_capacity"), "{keys:?}");
        assert!(keys.contains("core.topic_pending_limit"), "{keys:?}");
        assert!(keys.contains("core.max_transaction_ops"), "{keys:?}");
        assert!(keys.contains("storage.sync"), "{keys:?}");
        assert!(keys.contains("storage.store_limit_mb"), "{keys:?}");
        assert!(
            keys.contains("storage.send_fail_if_no_space_after_timeout_ms"),
            "{keys:?}"
        );
    }

    #[test]
    fn store_limit_parses_and_round_trips() {
        let limit =
            |text: &str| BrokerConfig::from_toml_str(text).map(|c| c.storage.store_limit_mb);
        assert_eq!(limit("").unwrap(), 102_400, "default: ActiveMQ's 100 GiB");
        assert_eq!(limit("[storage]\nstore_limit_mb = 0\n").unwrap(), 0);
        assert_eq!(
            limit("[storage]\nstore_limit_mb = 1_073_741_824\n").unwrap(),
            1_073_741_824
        );
        let msg = parse_err("[storage]\nstore_limit_mb = -1\n");
        assert!(msg.contains("integer `-1`, expected u64"), "{msg}");
        let msg = parse_err("[storage]\nstore_limit_mb = \"100GB\"\n");
        assert!(msg.contains("invalid type"), "{msg}");
        // Written back and read again unchanged.
        let c = BrokerConfig {
            storage: StorageConfig {
                store_limit_mb: 0,
                ..StorageConfig::default()
            },
            ..BrokerConfig::default()
        };
        let text = c.to_toml_string().unwrap();
        assert!(text.contains("store_limit_mb = 0\n"), "{text}");
        assert_eq!(BrokerConfig::from_toml_str(&text).unwrap(), c);
    }

    #[test]
    fn sync_mode_names() {
        let sync = |text: &str| BrokerConfig::from_toml_str(text).map(|c| c.storage.sync);
        assert_eq!(
            sync("[storage]\nsync = \"always\"\n").unwrap(),
            SyncMode::Always
        );
        assert_eq!(
            sync("[storage]\nsync = \"periodic\"\n").unwrap(),
            SyncMode::Periodic
        );
        // KahaDB's third strategy is not offered, and names are lowercase.
        for bad in ["never", "Always", "PERIODIC", ""] {
            let msg = parse_err(&format!("[storage]\nsync = {bad:?}\n"));
            assert!(msg.contains("unknown variant"), "{bad}: {msg}");
            assert!(
                msg.contains("expected `always` or `periodic`"),
                "{bad}: {msg}"
            );
        }
        let msg = parse_err("[storage]\nsync = true\n");
        assert!(msg.contains("line 2"), "{msg}");
        // Written back by name.
        let text = BrokerConfig::default().to_toml_string().unwrap();
        assert!(text.contains("sync = \"always\"\n"), "{text}");
    }

    #[test]
    fn deploy_sample_equals_the_defaults() {
        let sample = BrokerConfig::from_toml_str(SAMPLE).expect("deploy/ferromq.toml parses");
        assert_eq!(
            sample,
            BrokerConfig::default(),
            "deploy/ferromq.toml drifted from BrokerConfig::default()"
        );
    }

    #[test]
    fn deploy_sample_lists_every_key() {
        let generated = BrokerConfig::default().to_toml_string().unwrap();
        assert_eq!(
            keys(SAMPLE),
            keys(&generated),
            "deploy/ferromq.toml must list every key of BrokerConfig"
        );
    }

    #[test]
    fn policy_tables_parse() {
        let text = r#"
            [redelivery]
            defaultEntry = { maximumRedeliveries = 3, initialRedeliveryDelay = 1000, redeliveryDelay = 1000 }

            [[redelivery.entry]]
            queue = "orders.>"
            maximumRedeliveries = -1
            useExponentialBackOff = true
            backOffMultiplier = 2
            maximumRedeliveryDelay = 60000
            useCollisionAvoidance = true
            collisionAvoidanceFactor = 0.5

            [policy_defaults]
            prioritizedMessages = false
            deadLetterStrategy = { type = "discarding" }

            [[policy]]
            queue = ">"
            prioritizedMessages = true
            deadLetterStrategy = { type = "individual", queuePrefix = "DLQ.", useQueueForQueueMessages = true }

            [[policy]]
            topic = "news.*"
            prioritySupport = false
            expireMessagesPeriod = 0
            priorityLanes = [{ priorities = "7-9", delay = 0 }, { priorities = "4-6", delay = 30000 }, { priorities = "0" }]
            deadLetterStrategy = { type = "shared", deadLetterQueue = "News.DLQ", processExpired = false, processNonPersistent = true }
        "#;
        let c = BrokerConfig::from_toml_str(text).unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.redelivery,
            RedeliverySection {
                default_entry: Some(RedeliveryPolicyConfig {
                    maximum_redeliveries: 3,
                    ..RedeliveryPolicyConfig::default()
                }),
                entry: vec![RedeliveryPolicyConfig {
                    queue: Some("orders.>".into()),
                    maximum_redeliveries: -1,
                    use_exponential_back_off: true,
                    back_off_multiplier: 2.0,
                    maximum_redelivery_delay: 60_000,
                    use_collision_avoidance: true,
                    collision_avoidance_factor: 0.5,
                    ..RedeliveryPolicyConfig::default()
                }],
                ..RedeliverySection::default()
            }
        );
        assert_eq!(
            c.policy_defaults,
            PolicyDefaults {
                prioritized_messages: false,
                dead_letter_strategy: DeadLetterStrategyConfig::Discarding {},
                ..PolicyDefaults::default()
            }
        );
        assert_eq!(
            c.policy,
            vec![
                PolicyEntryConfig {
                    queue: Some(">".into()),
                    prioritized_messages: Some(true),
                    dead_letter_strategy: Some(DeadLetterStrategyConfig::Individual(
                        IndividualDeadLetterConfig {
                            queue_prefix: "DLQ.".into(),
                            ..IndividualDeadLetterConfig::default()
                        }
                    )),
                    ..PolicyEntryConfig::default()
                },
                PolicyEntryConfig {
                    topic: Some("news.*".into()),
                    prioritized_messages: Some(false),
                    expire_messages_period: Some(0),
                    priority_lanes: Some(vec![
                        PriorityLaneConfig {
                            priorities: "7-9".into(),
                            delay: 0
                        },
                        PriorityLaneConfig {
                            priorities: "4-6".into(),
                            delay: 30_000
                        },
                        PriorityLaneConfig {
                            priorities: "0".into(),
                            delay: 0
                        },
                    ]),
                    dead_letter_strategy: Some(DeadLetterStrategyConfig::Shared(
                        SharedDeadLetterConfig {
                            dead_letter_queue: "News.DLQ".into(),
                            process_expired: false,
                            process_non_persistent: true,
                            expiration: 0,
                        }
                    )),
                    ..PolicyEntryConfig::default()
                },
            ]
        );
        // And back.
        let again = BrokerConfig::from_toml_str(&c.to_toml_string().unwrap()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn absent_strategy_attributes_take_activemq_defaults() {
        let c = BrokerConfig::from_toml_str(
            "[[policy]]\nqueue = \"a\"\ndeadLetterStrategy = { type = \"individual\" }\n\
             [[policy]]\nqueue = \"b\"\ndeadLetterStrategy = { type = \"shared\" }\n",
        )
        .unwrap();
        assert_eq!(
            c.policy[0].dead_letter_strategy,
            Some(DeadLetterStrategyConfig::Individual(
                IndividualDeadLetterConfig {
                    queue_prefix: "ActiveMQ.DLQ.Queue.".into(),
                    topic_prefix: "ActiveMQ.DLQ.Topic.".into(),
                    queue_suffix: String::new(),
                    topic_suffix: String::new(),
                    use_queue_for_queue_messages: true,
                    use_queue_for_topic_messages: true,
                    destination_per_durable_subscriber: false,
                    process_expired: true,
                    process_non_persistent: false,
                    expiration: 0,
                }
            ))
        );
        assert_eq!(
            c.policy[1].dead_letter_strategy,
            Some(DeadLetterStrategyConfig::default())
        );
        // Keys the entry leaves out stay unset: they come from [policy_defaults].
        assert_eq!(c.policy[0].prioritized_messages, None);
        assert_eq!(c.policy[0].expire_messages_period, None);
    }

    #[test]
    fn policy_typos_are_rejected() {
        let msg = parse_err("[[policy]]\nqueue = \">\"\nuseCache = false\n");
        assert!(msg.contains("unknown field `useCache`"), "{msg}");
        // Snake case is not the ActiveMQ name.
        let msg = parse_err("[[policy]]\nqueue = \">\"\nprioritized_messages = true\n");
        assert!(
            msg.contains("unknown field `prioritized_messages`"),
            "{msg}"
        );
        let msg =
            parse_err("[[policy]]\nqueue = \">\"\ndeadLetterStrategy = { type = \"fancy\" }\n");
        assert!(msg.contains("unknown variant `fancy`"), "{msg}");
        let msg = parse_err(
            "[[policy]]\nqueue = \">\"\ndeadLetterStrategy = { type = \"shared\", queuePrefix = \"x\" }\n",
        );
        assert!(msg.contains("unknown field `queuePrefix`"), "{msg}");
        let msg = parse_err(
            "[[policy]]\nqueue = \">\"\ndeadLetterStrategy = { type = \"discarding\", processExpired = false }\n",
        );
        assert!(msg.contains("unknown field `processExpired`"), "{msg}");
        let msg =
            parse_err("[[policy]]\nqueue = \">\"\ndeadLetterStrategy = { queuePrefix = \"x\" }\n");
        assert!(msg.contains("missing field `type`"), "{msg}");
        let msg = parse_err("[redelivery.defaultEntry]\nmaxRedeliveries = 3\n");
        assert!(msg.contains("unknown field `maxRedeliveries`"), "{msg}");
        let msg = parse_err("[[policy]]\nqueue = \">\"\npriorityLanes = [{ priorities = 7 }]\n");
        assert!(msg.contains("invalid type"), "{msg}");
        let msg = parse_err("[admin]\nport = 80800\n");
        assert!(msg.contains("expected u16"), "{msg}");
    }
}
