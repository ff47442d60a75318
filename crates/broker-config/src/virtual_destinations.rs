//! Virtual destinations: `[[virtual_topic]]` (ActiveMQ's `<virtualTopic>`) and
//! `[[composite]]` (`<compositeQueue>` / `<compositeTopic>`), the two kinds of entry of
//! ActiveMQ's `virtualDestinationInterceptor`. Keys are ActiveMQ's attribute names, so moving
//! an entry from an activemq.xml is a copy. Accepted values are enforced by
//! [`BrokerConfig::validate`].
//!
//! [`BrokerConfig::validate`]: crate::BrokerConfig::validate

use serde::{Deserialize, Serialize};

/// `[[virtual_topic]]`: topics matching `name` are copied to every queue named
/// `prefix + topic + postfix`, where a `*` in `prefix` or `postfix` stands for one name.
/// Without any `[[virtual_topic]]` the broker has ActiveMQ's default one (this struct's
/// default); `virtual_topic = []` switches virtual topics off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VirtualTopicConfig {
    /// The topics that are virtual: an ActiveMQ wildcard pattern (default `VirtualTopic.>`).
    pub name: String,
    /// Start of the consumer queues' names (default `Consumer.*.`).
    pub prefix: String,
    /// End of the consumer queues' names (default empty).
    pub postfix: String,
}

impl Default for VirtualTopicConfig {
    /// ActiveMQ's default virtual topic: `VirtualTopic.>` to `Consumer.*.VirtualTopic.>`.
    fn default() -> Self {
        Self {
            name: "VirtualTopic.>".to_owned(),
            prefix: "Consumer.*.".to_owned(),
            postfix: String::new(),
        }
    }
}

/// `[[composite]]`: a composite queue (`queue = ".."`) or topic (`topic = ".."`). A message
/// sent to it is forwarded to each `forwardTo` destination, as a copy with the same message
/// id, and also kept by the destination itself unless `forwardOnly`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CompositeConfig {
    /// The composite queue's name (a wildcard pattern is allowed). Exactly one of `queue`
    /// and `topic`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The composite topic's name, as `queue`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Whether the destination itself keeps nothing (ActiveMQ default `true`).
    #[serde(default = "yes")]
    pub forward_only: bool,
    /// Where messages go: `[{ queue = "A" }, { topic = "B" }, { queue = "C", selector = ".." }]`.
    #[serde(default)]
    pub forward_to: Vec<ForwardToConfig>,
}

fn yes() -> bool {
    true
}

/// One `forwardTo` destination: a queue or a topic name (no wildcards), with an optional
/// JMS selector (ActiveMQ's `<filteredDestination>`): only the messages it selects go there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForwardToConfig {
    /// A queue name. Exactly one of `queue` and `topic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// A topic name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Only messages this JMS selector selects are forwarded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
}

/// Whether the destination name `name` matches the ActiveMQ wildcard pattern `pattern`
/// (`*` one name, `>` the rest, nothing included). The same rule as broker-core's
/// `DestinationPattern::matches`, restated because this crate depends on no other
/// (tests/tests/dependency_direction.rs); the config check needs it before a core exists.
pub(crate) fn pattern_matches(pattern: &str, name: &str) -> bool {
    let mut names = name.split('.');
    for seg in pattern.split('.') {
        match seg {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_activemq() {
        assert!(pattern_matches("a.>", "a.b.c"));
        assert!(pattern_matches("a.>", "a"));
        assert!(pattern_matches("a.*", "a.b"));
        assert!(!pattern_matches("a.*", "a.b.c"));
        assert!(pattern_matches("a", "a"));
        assert!(!pattern_matches("a", "b"));
    }
}
