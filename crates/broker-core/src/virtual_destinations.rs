//! Broker-side virtual destinations (ActiveMQ's `virtualDestinationInterceptor`):
//! virtual topics, whose messages are copied to consumer queues named after them, and
//! composite queues and topics, whose messages are forwarded to other destinations.
//!
//! Virtual topics are wired as topic forwards ([`crate::routing`]); composites apply where a
//! message is sent ([`crate::Connection::send`]).

use std::sync::Arc;

use crate::select::View;
use crate::{Destination, DestinationKind, DestinationPattern, Message};

/// One virtual topic rule (`<virtualTopic name=".." prefix=".." postfix=".."/>`): a topic
/// matching `name` is copied to every existing queue named `prefix + topic + postfix`, where a
/// `*` in `prefix` or `postfix` stands for one name (any run of characters without `.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VirtualTopic {
    /// The topics this rule makes virtual (an ActiveMQ wildcard pattern).
    pub name: DestinationPattern,
    /// Consumer queue names start with this (`Consumer.*.` by default).
    pub prefix: String,
    /// Consumer queue names end with this (empty by default).
    pub postfix: String,
}

impl VirtualTopic {
    /// A rule over the topics `name` matches.
    pub fn new(name: &str, prefix: &str, postfix: &str) -> Self {
        Self {
            name: DestinationPattern::topic(name),
            prefix: prefix.to_owned(),
            postfix: postfix.to_owned(),
        }
    }

    /// ActiveMQ's default: `VirtualTopic.>` copied to `Consumer.*.VirtualTopic.>`.
    pub fn activemq_default() -> Self {
        Self::new("VirtualTopic.>", "Consumer.*.", "")
    }

    /// The topic names whose copies queue `queue` receives under this rule.
    fn topics_for(&self, queue: &str, out: &mut Vec<String>) {
        let q = queue.as_bytes();
        let pre = self.prefix.as_bytes();
        let post = self.postfix.as_bytes();
        for i in 0..=q.len() {
            if !glob(pre, &q[..i]) {
                continue;
            }
            for j in (i + 1..=q.len()).rev() {
                if !glob(post, &q[j..]) {
                    continue;
                }
                let Ok(topic) = std::str::from_utf8(&q[i..j]) else {
                    continue;
                };
                let plain = topic
                    .split('.')
                    .all(|s| !s.is_empty() && s != "*" && s != ">");
                if plain
                    && self.name.matches(&Destination::topic(topic))
                    && !out.iter().any(|t| t == topic)
                {
                    out.push(topic.to_owned());
                }
            }
        }
    }
}

/// Whether `s` matches `pattern`, in which `*` stands for one or more characters other than
/// `.` and everything else is literal.
fn glob(pattern: &[u8], s: &[u8]) -> bool {
    match pattern.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (1..=s.len())
            .take_while(|&n| s[n - 1] != b'.')
            .any(|n| glob(rest, &s[n..])),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

/// The topics the (non-temporary) queue `queue` receives copies of as a virtual topic
/// consumer queue under `rules`.
pub(crate) fn virtual_topics_of(rules: &[VirtualTopic], queue: &Destination) -> Vec<Destination> {
    if queue.kind() != DestinationKind::Queue
        || queue.name().starts_with(crate::DURABLE_QUEUE_PREFIX)
    {
        return Vec::new();
    }
    let mut names = Vec::new();
    for rule in rules {
        rule.topics_for(queue.name(), &mut names);
    }
    names.into_iter().map(Destination::topic).collect()
}

/// Whether some rule makes topic `topic` virtual.
pub(crate) fn is_virtual_topic(rules: &[VirtualTopic], topic: &Destination) -> bool {
    topic.kind() == DestinationKind::Topic && rules.iter().any(|r| r.name.matches(topic))
}

/// One destination a composite forwards to, with an optional selector
/// (`<filteredDestination selector=".."/>`): only the messages it selects are forwarded.
#[derive(Debug, Clone)]
pub struct CompositeTarget {
    /// Where copies go.
    pub destination: Destination,
    /// Only messages this selects are forwarded; `None`: all.
    pub selector: Option<Arc<jms_model::Selector>>,
}

impl CompositeTarget {
    /// A target that takes every message.
    pub fn all(destination: Destination) -> Self {
        Self {
            destination,
            selector: None,
        }
    }

    /// A target that takes what the JMS selector `selector` selects, or why it is not one.
    pub fn filtered(destination: Destination, selector: &str) -> Result<Self, String> {
        let selector = jms_model::Selector::parse(selector).map_err(|e| e.to_string())?;
        Ok(Self {
            destination,
            selector: Some(Arc::new(selector)),
        })
    }
}

/// A composite queue or topic (`<compositeQueue>` / `<compositeTopic>`): a message sent to
/// a destination `name` matches is forwarded to each of `forward_to` (same message id), and
/// also kept by the destination itself unless `forward_only`.
#[derive(Debug, Clone)]
pub struct CompositeDestination {
    /// The queues (`compositeQueue`) or topics (`compositeTopic`) it applies to.
    pub name: DestinationPattern,
    /// `forwardOnly` (ActiveMQ default `true`): the destination itself keeps nothing.
    pub forward_only: bool,
    /// The `forwardTo` destinations.
    pub forward_to: Vec<CompositeTarget>,
}

/// Bound on how deep composites forwarding to composites are followed.
const MAX_DEPTH: usize = 16;

/// Where a message sent to `msg.destination` goes under `composites`: `None` when no
/// composite applies (the message goes where it was sent), else the physical destinations,
/// each once. A composite reached again (a cycle) or too deep is treated as a plain
/// destination.
pub(crate) fn composite_targets(
    composites: &[CompositeDestination],
    msg: &Message,
) -> Option<Vec<Destination>> {
    if composites.is_empty() || !composites.iter().any(|c| c.name.matches(&msg.destination)) {
        return None;
    }
    let view = View {
        msg,
        redeliveries: 0,
    };
    let mut out = Vec::new();
    let mut expanded = Vec::new();
    expand(
        composites,
        &view,
        &msg.destination,
        0,
        &mut expanded,
        &mut out,
    );
    Some(out)
}

fn expand(
    composites: &[CompositeDestination],
    view: &View<'_>,
    dest: &Destination,
    depth: usize,
    expanded: &mut Vec<Destination>,
    out: &mut Vec<Destination>,
) {
    let rule = composites.iter().find(|c| c.name.matches(dest));
    match rule {
        Some(c) if depth < MAX_DEPTH && !expanded.contains(dest) => {
            expanded.push(dest.clone());
            for t in &c.forward_to {
                if t.selector.as_ref().is_none_or(|s| s.matches(view)) {
                    expand(composites, view, &t.destination, depth + 1, expanded, out);
                }
            }
            if !c.forward_only && !out.contains(dest) {
                out.push(dest.clone());
            }
        }
        _ => {
            if !out.contains(dest) {
                out.push(dest.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(rule: &VirtualTopic, queue: &str) -> Vec<String> {
        virtual_topics_of(std::slice::from_ref(rule), &Destination::queue(queue))
            .into_iter()
            .map(|d| d.name().to_owned())
            .collect()
    }

    #[test]
    fn default_rule_consumer_queues() {
        let r = VirtualTopic::activemq_default();
        assert_eq!(
            topics(&r, "Consumer.A.VirtualTopic.Orders"),
            ["VirtualTopic.Orders"]
        );
        assert_eq!(
            topics(&r, "Consumer.A.VirtualTopic.a.b"),
            ["VirtualTopic.a.b"]
        );
        assert!(topics(&r, "Consumer..VirtualTopic.X").is_empty());
        assert!(topics(&r, "Consumer.A.Other.X").is_empty());
        assert!(topics(&r, "Consumer.A.VirtualTopic.").is_empty());
        assert!(topics(&r, "Consumer.A.VirtualTopic.*").is_empty());
        assert!(virtual_topics_of(
            std::slice::from_ref(&r),
            &Destination::topic("Consumer.A.VirtualTopic.X")
        )
        .is_empty());
        assert!(topics(&r, "ActiveMQ.Durable.Consumer.A.VirtualTopic.X").is_empty());
    }

    #[test]
    fn custom_prefix_and_postfix() {
        let all = VirtualTopic::new(">", "VirtualTopicConsumers.*.", "");
        assert_eq!(topics(&all, "VirtualTopicConsumers.A.news.x"), ["news.x"]);
        let post = VirtualTopic::new("events.>", "", ".*.sub");
        assert_eq!(topics(&post, "events.a.billing.sub"), ["events.a"]);
        assert!(topics(&post, "other.a.billing.sub").is_empty());
        let fixed = VirtualTopic::new("VT.>", "app.", ".q");
        assert_eq!(topics(&fixed, "app.VT.x.q"), ["VT.x"]);
        assert!(topics(&fixed, "app.VT.x").is_empty());
    }

    #[test]
    fn glob_star_is_one_name() {
        assert!(glob(b"Consumer.*.", b"Consumer.A."));
        assert!(!glob(b"Consumer.*.", b"Consumer.A.B."));
        assert!(!glob(b"Consumer.*.", b"Consumer.."));
        assert!(glob(b"", b""));
        assert!(!glob(b"", b"x"));
    }

    fn msg(to: Destination, props: &[(&str, &str)]) -> Message {
        Message {
            properties: props
                .iter()
                .map(|(k, v)| {
                    (
                        bytes::Bytes::copy_from_slice(k.as_bytes()),
                        bytes::Bytes::copy_from_slice(v.as_bytes()),
                    )
                })
                .collect(),
            ..Message::new(Arc::from("id"), to, crate::ConnectionId(0))
        }
    }

    fn to(d: Destination) -> CompositeTarget {
        CompositeTarget {
            destination: d,
            selector: None,
        }
    }

    #[test]
    fn composites_expand() {
        let odd = jms_model::Selector::parse("odd = 'yes'").unwrap();
        let rules = vec![
            CompositeDestination {
                name: DestinationPattern::queue("MY.QUEUE"),
                forward_only: true,
                forward_to: vec![
                    to(Destination::queue("FOO")),
                    to(Destination::topic("BAR")),
                    CompositeTarget {
                        destination: Destination::queue("ODD"),
                        selector: Some(Arc::new(odd)),
                    },
                ],
            },
            CompositeDestination {
                name: DestinationPattern::queue("TAP"),
                forward_only: false,
                forward_to: vec![to(Destination::queue("MY.QUEUE"))],
            },
            CompositeDestination {
                name: DestinationPattern::queue("LOOP"),
                forward_only: true,
                forward_to: vec![to(Destination::queue("LOOP")), to(Destination::queue("X"))],
            },
        ];
        assert_eq!(
            composite_targets(&rules, &msg(Destination::queue("other"), &[])),
            None
        );
        assert_eq!(
            composite_targets(&rules, &msg(Destination::topic("MY.QUEUE"), &[])),
            None,
            "a compositeQueue is about queues"
        );
        assert_eq!(
            composite_targets(&rules, &msg(Destination::queue("MY.QUEUE"), &[])).unwrap(),
            [Destination::queue("FOO"), Destination::topic("BAR")]
        );
        assert_eq!(
            composite_targets(
                &rules,
                &msg(Destination::queue("MY.QUEUE"), &[("odd", "yes")])
            )
            .unwrap(),
            [
                Destination::queue("FOO"),
                Destination::topic("BAR"),
                Destination::queue("ODD")
            ]
        );
        assert_eq!(
            composite_targets(&rules, &msg(Destination::queue("TAP"), &[])).unwrap(),
            [
                Destination::queue("FOO"),
                Destination::topic("BAR"),
                Destination::queue("TAP")
            ],
            "composites chain; forwardOnly=false keeps the message too"
        );
        assert_eq!(
            composite_targets(&rules, &msg(Destination::queue("LOOP"), &[])).unwrap(),
            [Destination::queue("LOOP"), Destination::queue("X")],
            "a cycle ends at a plain destination"
        );
    }
}
