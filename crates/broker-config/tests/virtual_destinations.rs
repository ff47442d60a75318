//! Virtual destinations in both formats: `[[virtual_topic]]` and `[[composite]]` in TOML, and
//! ActiveMQ's `virtualDestinationInterceptor` in an activemq.xml
//! (`fixtures/activemq-virtual.xml`), with their validation and warnings.

use broker_config::{BrokerConfig, CompositeConfig, ForwardToConfig, VirtualTopicConfig};

fn vt(name: &str, prefix: &str, postfix: &str) -> VirtualTopicConfig {
    VirtualTopicConfig {
        name: name.to_owned(),
        prefix: prefix.to_owned(),
        postfix: postfix.to_owned(),
    }
}

fn queue(name: &str) -> ForwardToConfig {
    ForwardToConfig {
        queue: Some(name.to_owned()),
        ..ForwardToConfig::default()
    }
}

fn topic(name: &str) -> ForwardToConfig {
    ForwardToConfig {
        topic: Some(name.to_owned()),
        ..ForwardToConfig::default()
    }
}

/// The composites both the TOML example and the XML fixture describe.
fn expected_composites() -> Vec<CompositeConfig> {
    vec![
        CompositeConfig {
            queue: Some("MY.QUEUE".into()),
            topic: None,
            forward_only: true,
            forward_to: vec![
                queue("FOO"),
                topic("BAR"),
                ForwardToConfig {
                    selector: Some("odd = 'yes'".into()),
                    ..queue("ODD")
                },
            ],
        },
        CompositeConfig {
            queue: Some("IncomingOrders".into()),
            topic: None,
            forward_only: false,
            forward_to: vec![topic("Notifications")],
        },
        CompositeConfig {
            queue: None,
            topic: Some("FANOUT".into()),
            forward_only: true,
            forward_to: vec![queue("Q1"), queue("Q2")],
        },
    ]
}

const TOML: &str = r#"
    [[virtual_topic]]
    name = "VirtualTopic.>"
    prefix = "Consumer.*."

    [[virtual_topic]]
    name = "events.>"
    prefix = "Sub.*."
    postfix = ".in"

    [[virtual_topic]]
    name = "alerts.>"

    [[composite]]
    queue = "MY.QUEUE"
    forwardTo = [
        { queue = "FOO" },
        { topic = "BAR" },
        { queue = "ODD", selector = "odd = 'yes'" },
    ]

    [[composite]]
    queue = "IncomingOrders"
    forwardOnly = false
    forwardTo = [{ topic = "Notifications" }]

    [[composite]]
    topic = "FANOUT"
    forwardTo = [{ queue = "Q1" }, { queue = "Q2" }]
"#;

#[test]
fn toml_entries_parse_validate_and_round_trip() {
    let c = BrokerConfig::from_toml_str(TOML).unwrap();
    c.validate().unwrap();
    assert_eq!(
        c.virtual_topic,
        Some(vec![
            vt("VirtualTopic.>", "Consumer.*.", ""),
            vt("events.>", "Sub.*.", ".in"),
            // Absent keys take ActiveMQ's defaults.
            vt("alerts.>", "Consumer.*.", ""),
        ])
    );
    assert_eq!(c.composite, expected_composites());
    let again = BrokerConfig::from_toml_str(&c.to_toml_string().unwrap()).unwrap();
    assert_eq!(again, c);
}

#[test]
fn toml_virtual_topics_default_and_off() {
    let none = BrokerConfig::from_toml_str("").unwrap();
    assert_eq!(none.virtual_topic, None);
    assert_eq!(
        none.virtual_topics(),
        [vt("VirtualTopic.>", "Consumer.*.", "")]
    );
    let off = BrokerConfig::from_toml_str("virtual_topic = []").unwrap();
    off.validate().unwrap();
    assert!(off.virtual_topics().is_empty());
    let again = BrokerConfig::from_toml_str(&off.to_toml_string().unwrap()).unwrap();
    assert_eq!(again, off);
    // Typos are errors, as everywhere else.
    assert!(BrokerConfig::from_toml_str("[[virtual_topic]]\nsuffix = \".x\"").is_err());
    assert!(BrokerConfig::from_toml_str(
        "[[composite]]\nqueue = \"a\"\nforward_to = [{ queue = \"b\" }]"
    )
    .is_err());
}

fn invalid(text: &str) -> String {
    let c = BrokerConfig::from_toml_str(text).unwrap();
    c.validate().unwrap_err().to_string()
}

#[test]
fn validation_names_the_bad_entry() {
    let e = invalid("[[virtual_topic]]\nname = \"a..b\"");
    assert!(e.contains("`virtual_topic[0].name`"), "{e}");
    let e = invalid("[[virtual_topic]]\nname = \"a.>.b\"");
    assert!(e.contains("`virtual_topic[0].name`"), "{e}");
    let e = invalid("[[virtual_topic]]\nname = \"a.>,b.>\"");
    assert!(e.contains("not a `,` list"), "{e}");
    let e = invalid("[[virtual_topic]]\nprefix = \"Consumer.>.\"");
    assert!(e.contains("`virtual_topic[0].prefix`"), "{e}");
    let e = invalid("[[composite]]\nqueue = \"a\"");
    assert!(e.contains("`composite[0].forwardTo` is empty"), "{e}");
    let e = invalid("[[composite]]\nqueue = \"a\"\nforwardTo = []");
    assert!(e.contains("`composite[0].forwardTo` is empty"), "{e}");
    let e = invalid("[[composite]]\nforwardTo = [{ queue = \"b\" }]");
    assert!(e.contains("`composite[0]` needs `queue` or `topic`"), "{e}");
    let e =
        invalid("[[composite]]\nqueue = \"a\"\nforwardTo = [{ queue = \"b\" }, { queue = \"a\" }]");
    assert!(
        e.contains("`composite[0].forwardTo[1].queue`") && e.contains("to itself"),
        "{e}"
    );
    let e = invalid("[[composite]]\nqueue = \"a.>\"\nforwardTo = [{ queue = \"a.b\" }]");
    assert!(e.contains("to itself"), "{e}");
    let e = invalid("[[composite]]\nqueue = \"a\"\nforwardTo = [{ queue = \"b.*\" }]");
    assert!(e.contains("without wildcards"), "{e}");
    let e = invalid("[[composite]]\nqueue = \"a\"\nforwardTo = [{ queue = \"b\", topic = \"c\" }]");
    assert!(
        e.contains("`composite[0].forwardTo[0]` needs exactly one"),
        "{e}"
    );
    let e =
        invalid("[[composite]]\nqueue = \"a\"\nforwardTo = [{ queue = \"b\", selector = \" \" }]");
    assert!(
        e.contains("`composite[0].forwardTo[0].selector` is empty"),
        "{e}"
    );
    // A queue and a topic of one name are different destinations.
    let c = BrokerConfig::from_toml_str(
        "[[composite]]\nqueue = \"a\"\nforwardOnly = false\nforwardTo = [{ topic = \"a\" }]",
    )
    .unwrap();
    c.validate().unwrap();
}

#[test]
fn activemq_xml_interceptor_maps_to_the_same_config() {
    let l = BrokerConfig::from_str_any(include_str!("fixtures/activemq-virtual.xml")).unwrap();
    l.config.validate().unwrap();
    assert_eq!(
        l.config.virtual_topic,
        Some(vec![
            vt("VirtualTopic.>", "Consumer.*.", ""),
            vt("events.>", "Sub.*.", ".in"),
            vt("alerts.>", "Consumer.*.", ""),
        ])
    );
    assert_eq!(l.config.composite, expected_composites());
    let toml = BrokerConfig::from_toml_str(TOML).unwrap();
    assert_eq!(l.config.virtual_topic, toml.virtual_topic);
    assert_eq!(l.config.composite, toml.composite);
    let path = "broker/destinationInterceptors";
    let vd = format!("{path}/virtualDestinationInterceptor/virtualDestinations");
    let expected = vec![
        format!("line 19: {vd}/virtualTopic[name=\"events.>\"]@concurrentSend is not supported yet; ignored"),
        format!("line 20: {vd}/virtualTopic[name=\"alerts.>\"]@selectorAware=\"true\" is not supported yet: every message is copied to every consumer queue, selected or not"),
        format!("line 28: {vd}/compositeQueue[name=\"IncomingOrders\"]@sendWhenNotMatched is not supported yet; ignored"),
        format!("line 33: {vd}/compositeTopic[name=\"FANOUT\"]@copyMessage=\"false\" is not supported yet: forwarded messages are copies addressed to their target"),
        format!("line 37: {vd}/compositeTopic[name=\"FANOUT\"]/forwardTo/tempQueue is not supported yet; ignored"),
        format!("line 42: {path}/mirroredQueue is not supported yet; ignored"),
    ];
    assert_eq!(l.warnings, expected);
}

#[test]
fn an_interceptor_without_virtual_topics_turns_the_default_off() {
    let xml = r#"<broker xmlns="http://activemq.apache.org/schema/core">
        <destinationInterceptors>
            <virtualDestinationInterceptor>
                <virtualDestinations>
                    <compositeQueue name="A"><forwardTo><queue physicalName="B"/></forwardTo></compositeQueue>
                    <compositeQueue name="C"><forwardTo><queue/></forwardTo></compositeQueue>
                </virtualDestinations>
            </virtualDestinationInterceptor>
        </destinationInterceptors>
        <transportConnectors>
            <transportConnector name="stomp" uri="stomp://0.0.0.0:61613"/>
        </transportConnectors>
    </broker>"#;
    let l = BrokerConfig::from_str_any(xml).unwrap();
    l.config.validate().unwrap();
    assert_eq!(l.config.virtual_topic, Some(Vec::new()));
    assert!(l.config.virtual_topics().is_empty());
    assert_eq!(l.config.composite.len(), 1);
    assert!(
        l.warnings.iter().any(|w| w.contains("no virtualTopic")),
        "{:#?}",
        l.warnings
    );
    assert!(
        l.warnings
            .iter()
            .any(|w| w.contains("compositeQueue[name=\"C\"] forwards to no destination")),
        "{:#?}",
        l.warnings
    );
}
