//! Topic routing beyond a topic's own subscribers, all built on topic forwards
//! ([`crate::actor::Forward`]): durable subscriptions (a queue per subscription that keeps the
//! topic's messages while the subscriber is away), virtual topics (by default `VirtualTopic.X`
//! copies to every `Consumer.<name>.VirtualTopic.X` queue; the rules are
//! [`crate::CoreConfig::virtual_topics`]) and wildcard topic subscriptions (every
//! matching topic copies to the subscription's own temporary topic).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use broker_store::{Batch, DestinationRecord, Op};
use tokio::sync::oneshot;

use crate::actor::{send_without_waiting, Command, Forward};
use crate::broker::{Found, Lookup};
use crate::virtual_destinations::{is_virtual_topic, virtual_topics_of};
use crate::{
    Broker, ConnectionId, CoreError, Destination, DestinationKind, DestinationPattern, WatchId,
};

/// How long removing a durable subscription waits for its queue's actor to stop.
const ACTOR_EXIT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Prefix of the queues that hold durable subscriptions.
pub const DURABLE_QUEUE_PREFIX: &str = "ActiveMQ.Durable.";

const ATTR_TOPIC: &str = "durable.topic";
const ATTR_CLIENT: &str = "durable.client-id";
const ATTR_NAME: &str = "durable.name";
const ATTR_SELECTOR: &str = "durable.selector";
/// Present when the selector compares string values as numbers (STOMP subscriptions).
const ATTR_CONVERTS: &str = "durable.selector.converts";

/// The names of the (non-temporary) topics, as a tree of their `.`-separated names, so a
/// wildcard subscription finds the topics it covers by walking only matching branches
/// instead of testing every destination (ActiveMQ's DestinationMap does the same).
#[derive(Debug, Default)]
pub(crate) struct TopicTree {
    children: HashMap<String, TopicTree>,
    /// A topic ends here.
    here: bool,
}

impl TopicTree {
    pub(crate) fn insert(&mut self, name: &str) {
        let mut node = self;
        for seg in name.split('.') {
            node = node.children.entry(seg.to_owned()).or_default();
        }
        node.here = true;
    }

    /// The topic names `pattern` matches.
    pub(crate) fn matching(&self, pattern: &DestinationPattern) -> Vec<String> {
        let mut out = Vec::new();
        let mut path = Vec::new();
        self.walk(pattern.segments(), &mut path, &mut out);
        out
    }

    fn walk<'a>(&'a self, pattern: &[String], path: &mut Vec<&'a str>, out: &mut Vec<String>) {
        let Some((first, rest)) = pattern.split_first() else {
            if self.here {
                out.push(path.join("."));
            }
            return;
        };
        match first.as_str() {
            // Whatever follows, nothing included: this topic and every one below it.
            ">" => self.collect_all(path, out),
            "*" => {
                for (seg, child) in &self.children {
                    path.push(seg);
                    child.walk(rest, path, out);
                    path.pop();
                }
            }
            lit => {
                if let Some((seg, child)) = self.children.get_key_value(lit) {
                    path.push(seg);
                    child.walk(rest, path, out);
                    path.pop();
                }
            }
        }
    }

    fn collect_all<'a>(&'a self, path: &mut Vec<&'a str>, out: &mut Vec<String>) {
        if self.here {
            out.push(path.join("."));
        }
        for (seg, child) in &self.children {
            path.push(seg);
            child.collect_all(path, out);
            path.pop();
        }
    }
}

/// Values registered under ActiveMQ wildcard patterns (wildcard topic subscriptions, wildcard
/// queue consumers), as a tree of the patterns' segments, so a new destination finds the
/// patterns covering it by walking its own name (O(name length x `*` branches)) instead of
/// testing every pattern (O(patterns) per new destination, quadratic when patterns and
/// destinations grow together). `K` identifies a registration for removal.
#[derive(Debug)]
pub(crate) struct PatternIndex<K, V> {
    root: PatternNode<K, V>,
    by_key: HashMap<K, Vec<DestinationPattern>>,
}

/// Wildcard topic subscriptions, by target.
pub(crate) type WildcardIndex = PatternIndex<Destination, Wildcard>;

/// Wildcard queue consumers, by connection and watch.
pub(crate) type QueueWatchers = PatternIndex<(ConnectionId, WatchId), QueueWatcher>;

/// Where a wildcard queue consumer hears of a new matching queue.
#[derive(Debug, Clone)]
pub(crate) struct QueueWatcher {
    pub(crate) watch: WatchId,
    /// One event per queue created while the consumer exists: it must not be dropped (the
    /// consumer would miss the queue) nor block the creating task, so a full channel hands
    /// the event to a task.
    pub(crate) tx: tokio::sync::mpsc::Sender<(WatchId, Destination)>,
}

impl<K, V> Default for PatternIndex<K, V> {
    fn default() -> Self {
        Self {
            root: PatternNode::default(),
            by_key: HashMap::new(),
        }
    }
}

#[derive(Debug)]
struct PatternNode<K, V> {
    /// Next segment: a literal name or `*`.
    children: HashMap<String, PatternNode<K, V>>,
    /// Patterns that end here.
    ends: Vec<(K, V)>,
    /// Patterns whose next segment is `>`: they cover this name and everything below it.
    below: Vec<(K, V)>,
}

impl<K, V> Default for PatternNode<K, V> {
    fn default() -> Self {
        Self {
            children: HashMap::new(),
            ends: Vec::new(),
            below: Vec::new(),
        }
    }
}

impl<K: Clone + Eq + std::hash::Hash, V: Clone> PatternIndex<K, V> {
    pub(crate) fn insert(&mut self, pattern: &DestinationPattern, key: K, value: V) {
        self.by_key
            .entry(key.clone())
            .or_default()
            .push(pattern.clone());
        let mut node = &mut self.root;
        for seg in pattern.segments() {
            if seg == ">" {
                node.below.push((key, value));
                return;
            }
            node = node.children.entry(seg.clone()).or_default();
        }
        node.ends.push((key, value));
    }

    /// Removes (and returns) the values registered under `key`.
    pub(crate) fn remove(&mut self, key: &K) -> Vec<V> {
        let mut removed = Vec::new();
        'patterns: for pattern in self.by_key.remove(key).unwrap_or_default() {
            let mut node = &mut self.root;
            let mut below = false;
            for seg in pattern.segments() {
                if seg == ">" {
                    below = true;
                    break;
                }
                match node.children.get_mut(seg) {
                    Some(child) => node = child,
                    None => continue 'patterns,
                }
            }
            let list = if below {
                &mut node.below
            } else {
                &mut node.ends
            };
            let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(list)
                .into_iter()
                .partition(|(k, _)| k == key);
            *list = kept;
            removed.extend(gone.into_iter().map(|(_, v)| v));
        }
        // Emptied branches stay; destination names are few compared to messages.
        removed
    }

    /// The values whose pattern matches the destination name `name`.
    pub(crate) fn matching(&self, name: &str) -> Vec<V> {
        let segments: Vec<&str> = name.split('.').collect();
        let mut out = Vec::new();
        Self::walk(&self.root, &segments, &mut out);
        out
    }

    fn walk(node: &PatternNode<K, V>, rest: &[&str], out: &mut Vec<V>) {
        out.extend(node.below.iter().map(|(_, v)| v.clone()));
        let Some((first, rest)) = rest.split_first() else {
            out.extend(node.ends.iter().map(|(_, v)| v.clone()));
            return;
        };
        if let Some(child) = node.children.get(*first) {
            Self::walk(child, rest, out);
        }
        if *first != "*" {
            if let Some(child) = node.children.get("*") {
                Self::walk(child, rest, out);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_key.values().map(Vec::len).sum()
    }
}

/// A durable subscription as the broker remembers it. `topic` may be a wildcard.
#[derive(Debug, Clone)]
pub(crate) struct Durable {
    pub(crate) topic: Destination,
    pub(crate) selector: Option<String>,
    /// The connection whose messages it does not keep (`noLocal`; 0: none), shared with its
    /// forwards.
    pub(crate) no_local: Arc<AtomicU64>,
}

/// A wildcard topic subscription: topics matching `pattern` copy to `target` what
/// `selector` selects (a durable wildcard subscription's selector; else all).
#[derive(Debug, Clone)]
pub(crate) struct Wildcard {
    pub(crate) pattern: DestinationPattern,
    pub(crate) target: Destination,
    pub(crate) found: Found,
    pub(crate) selector: Option<Arc<jms_model::Selector>>,
    pub(crate) no_local: Option<Arc<AtomicU64>>,
}

/// True when a topic name subscribes to several topics (`*` or `>` as a name segment).
pub fn is_wildcard(name: &str) -> bool {
    name.split('.').any(|s| s == "*" || s == ">")
}

fn attribute<'a>(rec: &'a DestinationRecord, key: &str) -> Option<&'a str> {
    rec.attributes
        .iter()
        .find(|(n, _)| n == key)
        .map(|(_, v)| v.as_str())
}

/// The topic of the durable subscription a stored destination record describes (`None`
/// for any other destination).
pub(crate) fn durable_topic(rec: &DestinationRecord) -> Option<Destination> {
    attribute(rec, ATTR_TOPIC).and_then(crate::record::parse_destination)
}

/// True for the queue of a durable subscription: its messages keep their topic as
/// destination, and are dead-lettered as that topic's.
pub(crate) fn is_durable_queue(dest: &Destination) -> bool {
    dest.kind() == DestinationKind::Queue && dest.name().starts_with(DURABLE_QUEUE_PREFIX)
}

/// ActiveMQ's key of the durable subscription whose queue is `dest` (`<client-id>:<name>`),
/// or `None` for any other destination.
pub(crate) fn durable_key(dest: &Destination) -> Option<String> {
    if !is_durable_queue(dest) {
        return None;
    }
    let escaped = &dest.name()[DURABLE_QUEUE_PREFIX.len()..];
    let (client, name) = escaped.split_once(':')?;
    let unescape = |s: &str| s.replace("%3A", ":").replace("%25", "%");
    Some(format!("{}:{}", unescape(client), unescape(name)))
}

/// The queue holding the durable subscription `name` of client `client_id`. Both parts are
/// escaped so that no two subscriptions share a queue.
pub fn durable_queue(client_id: &str, name: &str) -> Destination {
    let esc = |s: &str| s.replace('%', "%25").replace(':', "%3A");
    Destination::queue(format!(
        "{DURABLE_QUEUE_PREFIX}{}:{}",
        esc(client_id),
        esc(name)
    ))
}

impl Broker {
    /// Wiring a newly created destination needs: a virtual topic consumer queue gets its
    /// topics' forwards; a new topic gets the forwards of the virtual topic consumer queues
    /// and wildcard subscriptions it matches. Runs after the registry lock is released.
    pub(crate) fn wire_new(&self, dest: &Destination, found: &Found) {
        // Durable subscriptions' queues are topic state (not queues in ActiveMQ): no
        // wildcard queue consumer may take from them.
        if dest.kind() == DestinationKind::Queue && !is_durable_queue(dest) {
            self.queue_tree().insert(dest.name());
            let watchers = self.queue_watchers().matching(dest.name());
            for w in watchers {
                match w.tx.try_send((w.watch, dest.clone())) {
                    // A closed receiver is a connection that is going; its cleanup
                    // unregisters.
                    Ok(()) | Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {}
                    Err(tokio::sync::mpsc::error::TrySendError::Full(event)) => {
                        tokio::spawn(async move {
                            let _ = w.tx.send(event).await;
                        });
                    }
                }
            }
        }
        let rules = &self.inner.cfg.virtual_topics;
        let topics = virtual_topics_of(rules, dest);
        if !topics.is_empty() {
            for topic in topics {
                if let Ok(t) = self.lookup(&topic, Lookup::Create(None)) {
                    add_forward(&t, dest, found, None, None, true);
                }
            }
            return;
        }
        if dest.kind() != DestinationKind::Topic {
            return;
        }
        self.topic_tree().insert(dest.name());
        if is_virtual_topic(rules, dest) {
            let consumers =
                self.registered_where(|d| virtual_topics_of(rules, d).iter().any(|t| t == dest));
            for (queue, q) in consumers {
                add_forward(found, &queue, &q, None, None, true);
            }
        }
        let wildcards = self.wildcards().matching(dest.name());
        for w in wildcards {
            add_forward(found, &w.target, &w.found, w.selector, w.no_local, false);
        }
    }

    /// Re-creates a durable subscription found in the store at start-up.
    pub(crate) fn restore_durable(&self, rec: &DestinationRecord, queue: &Destination) {
        let attr = |k: &str| attribute(rec, k).map(str::to_owned);
        let Some(topic) = durable_topic(rec) else {
            return;
        };
        let selector_text = attr(ATTR_SELECTOR);
        let parse = if attr(ATTR_CONVERTS).is_some() {
            jms_model::Selector::parse_converting
        } else {
            jms_model::Selector::parse
        };
        let selector = match selector_text.as_deref().map(parse) {
            None => None,
            Some(Ok(s)) => Some(Arc::new(s)),
            Some(Err(e)) => {
                tracing::error!(queue = %queue, error = %e, "stored durable subscription has a bad selector; forwarding everything");
                None
            }
        };
        let Ok(q) = self.lookup(queue, Lookup::Subscription(topic.clone())) else {
            return;
        };
        // Offline, every connection's messages are kept (ActiveMQ's noLocal compares with
        // the subscriber's connection, and there is none).
        let no_local = Arc::new(AtomicU64::new(0));
        if is_wildcard(topic.name()) {
            // Nothing is published during start-up, so nobody waits for the forwards.
            drop(self.add_wildcard(
                topic.name(),
                queue,
                q,
                selector,
                Some(Arc::clone(&no_local)),
            ));
        } else {
            let Ok(t) = self.lookup(&topic, Lookup::Create(None)) else {
                return;
            };
            add_forward(&t, queue, &q, selector, Some(Arc::clone(&no_local)), false);
        }
        self.durables().insert(
            queue.clone(),
            Durable {
                topic,
                selector: selector_text,
                no_local,
            },
        );
    }

    /// Creates (or keeps) the durable subscription `name` of `client_id` on `topic` (which
    /// may be a wildcard: every matching topic, now or later, feeds it). A subscription that
    /// exists with another topic or selector is replaced, its messages dropped, as ActiveMQ
    /// does. `no_local` names the subscribing connection when it asked for `noLocal`: its own
    /// messages are then not kept. Returns its queue once the subscription is stored and
    /// wired, so it survives a crash and sees every later publication from then on.
    pub(crate) async fn ensure_durable(
        &self,
        client_id: &str,
        name: &str,
        topic: &Destination,
        selector: Option<&Arc<jms_model::Selector>>,
        no_local: Option<ConnectionId>,
    ) -> Result<Destination, CoreError> {
        if topic.kind() != DestinationKind::Topic {
            return Err(CoreError::InvalidSubscription(
                "a durable subscription needs a topic".into(),
            ));
        }
        let local = no_local.map_or(0, |c| c.0);
        if client_id.is_empty() {
            return Err(CoreError::InvalidSubscription(
                "a durable subscription needs a client id (CONNECT client-id)".into(),
            ));
        }
        let queue = durable_queue(client_id, name);
        let wanted = Durable {
            topic: topic.clone(),
            selector: selector.map(|s| s.text().to_owned()),
            no_local: Arc::new(AtomicU64::new(local)),
        };
        let existing = self.durables().get(&queue).cloned();
        match existing {
            Some(d) if d.topic == wanted.topic && d.selector == wanted.selector => {
                d.no_local.store(local, Ordering::Relaxed);
                return Ok(queue);
            }
            Some(_) => self.remove_durable(&queue).await?,
            None => {}
        }
        let q = self.lookup(&queue, Lookup::Subscription(topic.clone()))?;
        let mut attributes = vec![
            (ATTR_TOPIC.to_owned(), topic.to_string()),
            (ATTR_CLIENT.to_owned(), client_id.to_owned()),
            (ATTR_NAME.to_owned(), name.to_owned()),
        ];
        if let Some(s) = &wanted.selector {
            attributes.push((ATTR_SELECTOR.to_owned(), s.clone()));
        }
        if selector.is_some_and(|s| s.converts_string_expressions()) {
            attributes.push((ATTR_CONVERTS.to_owned(), "true".to_owned()));
        }
        let batch = Batch {
            ops: vec![Op::PutDestination(DestinationRecord {
                name: queue.to_string(),
                attributes,
            })],
        };
        let (tx, rx) = oneshot::channel();
        self.inner.writer.write(batch, vec![tx]).await;
        rx.await.map_err(|_| CoreError::ShuttingDown)??;
        let wired = if is_wildcard(topic.name()) {
            self.add_wildcard(
                topic.name(),
                &queue,
                q,
                selector.cloned(),
                Some(Arc::clone(&wanted.no_local)),
            )
        } else {
            let t = self.lookup(topic, Lookup::Create(None))?;
            let (reply, done) = oneshot::channel();
            t.tx.send(Command::AddForward {
                fwd: forward(
                    &queue,
                    &q,
                    selector.cloned(),
                    Some(Arc::clone(&wanted.no_local)),
                    false,
                ),
                reply: Some(reply),
            })
            .await
            .map_err(|_| CoreError::ShuttingDown)?;
            vec![done]
        };
        // Publications after this return are behind the forwards in each topic's mailbox.
        for done in wired {
            done.await.map_err(|_| CoreError::ShuttingDown)??;
        }
        self.durables().insert(queue.clone(), wanted);
        Ok(queue)
    }

    /// Removes a durable subscription: no more copies, and its queue and stored messages go.
    pub(crate) async fn remove_durable(&self, queue: &Destination) -> Result<(), CoreError> {
        let Some(d) = self.durables().remove(queue) else {
            return Err(CoreError::InvalidSubscription(format!(
                "no durable subscription {}",
                queue.name()
            )));
        };
        if is_wildcard(d.topic.name()) {
            self.remove_wildcard(queue);
        } else if let Ok(t) = self.lookup(&d.topic, Lookup::Existing) {
            let (reply, done) = oneshot::channel();
            if t.tx
                .send(Command::RemoveForward {
                    target: queue.clone(),
                    reply: Some(reply),
                })
                .await
                .is_ok()
            {
                let _ = done.await;
            }
        }
        if let Some(tx) = self.remove(queue) {
            if tx.send(Command::Delete).await.is_ok() {
                // Wait for the actor to be gone: until then a connection's cached mailbox
                // still reaches it, and a subscription re-created under the same name at
                // once would subscribe to the dying actor (and fail). Bounded, so a stuck
                // actor cannot hold the caller.
                let gone = tokio::time::timeout(ACTOR_EXIT_WAIT, tx.closed()).await;
                if gone.is_err() {
                    tracing::warn!(queue = %queue, "durable subscription queue still running after Delete");
                }
            }
        }
        let batch = Batch {
            ops: vec![Op::DeleteDestination {
                name: queue.to_string(),
            }],
        };
        let (tx, rx) = oneshot::channel();
        self.inner.writer.write(batch, vec![tx]).await;
        rx.await.map_err(|_| CoreError::ShuttingDown)?
    }

    /// Registers a wildcard subscription whose copies go to `target` (a temporary topic of
    /// the subscribing connection, or a durable subscription's queue), and wires every
    /// existing matching topic. Returns the topics' confirmations of the wiring.
    pub(crate) fn add_wildcard(
        &self,
        pattern: &str,
        target: &Destination,
        found: Found,
        selector: Option<Arc<jms_model::Selector>>,
        no_local: Option<Arc<AtomicU64>>,
    ) -> Vec<oneshot::Receiver<Result<(), CoreError>>> {
        let pattern = DestinationPattern::topic(pattern);
        // The topic tree yields just the matching topics: testing every destination made
        // each wildcard SUBSCRIBE O(all destinations), the subscriptions' own temporary
        // topics included (found by the wildcard-fanout benchmark).
        let topics = self.topics_matching(&pattern);
        self.wildcards().insert(
            &pattern,
            target.clone(),
            Wildcard {
                pattern: pattern.clone(),
                target: target.clone(),
                found: found.clone(),
                selector: selector.clone(),
                no_local: no_local.clone(),
            },
        );
        let mut confirmations = Vec::with_capacity(topics.len());
        for (_, t) in topics {
            let (reply, done) = oneshot::channel();
            send_without_waiting(
                &t.tx,
                Command::AddForward {
                    fwd: forward(target, &found, selector.clone(), no_local.clone(), false),
                    reply: Some(reply),
                },
            );
            confirmations.push(done);
        }
        confirmations
    }

    /// Registers a wildcard queue consumer: queues matching `pattern` created from now on
    /// are sent to `tx`. Returns the matching queues that exist (one created meanwhile may be
    /// both returned and sent; the consumer ignores the second).
    pub(crate) fn watch_queues(
        &self,
        conn: ConnectionId,
        watch: WatchId,
        pattern: &str,
        tx: tokio::sync::mpsc::Sender<(WatchId, Destination)>,
    ) -> Vec<Destination> {
        let pattern = DestinationPattern::queue(pattern);
        self.queue_watchers()
            .insert(&pattern, (conn, watch), QueueWatcher { watch, tx });
        let names = self.queue_tree().matching(&pattern);
        names.into_iter().map(Destination::queue).collect()
    }

    /// Forgets a wildcard queue consumer.
    pub(crate) fn unwatch_queues(&self, conn: ConnectionId, watch: WatchId) {
        self.queue_watchers().remove(&(conn, watch));
    }

    /// The existing topics `pattern` covers, with their mailboxes: O(matches), not
    /// O(destinations).
    fn topics_matching(&self, pattern: &DestinationPattern) -> Vec<(Destination, Found)> {
        let names = self.topic_tree().matching(pattern);
        let dests: Vec<Destination> = names.into_iter().map(Destination::topic).collect();
        self.registered_among(&dests)
    }

    /// Forgets a wildcard subscription.
    pub(crate) fn remove_wildcard(&self, target: &Destination) {
        let removed = self.wildcards().remove(target);
        for w in removed {
            for (_, t) in self.topics_matching(&w.pattern) {
                send_without_waiting(
                    &t.tx,
                    Command::RemoveForward {
                        target: target.clone(),
                        reply: None,
                    },
                );
            }
        }
    }
}

fn forward(
    target: &Destination,
    to: &Found,
    selector: Option<Arc<jms_model::Selector>>,
    no_local: Option<Arc<AtomicU64>>,
    readdress: bool,
) -> Forward {
    Forward {
        target: target.clone(),
        tx: to.tx.clone(),
        policy: Arc::clone(&to.policy),
        selector,
        readdress,
        no_local,
    }
}

fn add_forward(
    topic: &Found,
    target: &Destination,
    to: &Found,
    selector: Option<Arc<jms_model::Selector>>,
    no_local: Option<Arc<AtomicU64>>,
    readdress: bool,
) {
    send_without_waiting(
        &topic.tx,
        Command::AddForward {
            fwd: forward(target, to, selector, no_local, readdress),
            reply: None,
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durable_key_is_activemq_s_subscription_key() {
        for (client, name) in [("app", "s"), ("a:b", "x%3Ay"), ("%", ":")] {
            let queue = durable_queue(client, name);
            assert_eq!(
                durable_key(&queue).as_deref(),
                Some(format!("{client}:{name}").as_str())
            );
        }
        assert_eq!(durable_key(&Destination::queue("orders")), None);
        assert_eq!(
            durable_key(&Destination::topic("ActiveMQ.Durable.a:b")),
            None
        );
    }

    fn wildcard(pattern: &str, target: &str) -> Wildcard {
        let (tx, _) = tokio::sync::mpsc::channel(1);
        Wildcard {
            pattern: DestinationPattern::topic(pattern),
            target: Destination::topic(target),
            found: Found {
                tx,
                owner: None,
                policy: Arc::default(),
                created: false,
            },
            selector: None,
            no_local: None,
        }
    }

    proptest::proptest! {
        /// The index finds exactly the patterns `DestinationPattern::matches` accepts, and
        /// forgets a target's patterns on removal.
        #[test]
        fn wildcard_index_agrees_with_pattern_matching(
            patterns in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec!["a", "b", "*", ">"]), 1..4),
                1..12,
            ),
            names in proptest::collection::vec(
                proptest::collection::vec(proptest::sample::select(vec!["a", "b", "c"]), 1..5),
                1..12,
            ),
            remove in 0usize..12,
        ) {
            let mut index = WildcardIndex::default();
            let all: Vec<Wildcard> = patterns
                .iter()
                .enumerate()
                .map(|(i, p)| wildcard(&p.join("."), &format!("target-{}", i % 4)))
                .collect();
            for w in &all {
                index.insert(&w.pattern, w.target.clone(), w.clone());
            }
            let gone = Destination::topic(format!("target-{}", remove % 4));
            let removed = index.remove(&gone);
            proptest::prop_assert_eq!(
                removed.len(),
                all.iter().filter(|w| w.target == gone).count()
            );
            proptest::prop_assert_eq!(index.len(), all.len() - removed.len());
            for name in &names {
                let name = name.join(".");
                let topic = Destination::topic(name.as_str());
                let mut found: Vec<String> = index
                    .matching(&name)
                    .iter()
                    .map(|w| format!("{} {}", w.pattern.segments().join("."), w.target))
                    .collect();
                let mut expected: Vec<String> = all
                    .iter()
                    .filter(|w| w.target != gone && w.pattern.matches(&topic))
                    .map(|w| format!("{} {}", w.pattern.segments().join("."), w.target))
                    .collect();
                found.sort();
                expected.sort();
                proptest::prop_assert_eq!(found, expected, "topic {}", name);
            }
        }
    }

    #[test]
    fn topic_tree_finds_what_patterns_match() {
        let mut t = TopicTree::default();
        for n in ["a", "a.b", "a.b.c", "a.x.c", "b.b.c"] {
            t.insert(n);
        }
        let m = |p: &str| {
            let mut v = t.matching(&DestinationPattern::topic(p));
            v.sort();
            v
        };
        assert_eq!(m("a.>"), ["a", "a.b", "a.b.c", "a.x.c"]);
        assert_eq!(m("a.*.c"), ["a.b.c", "a.x.c"]);
        assert_eq!(m("*.b.c"), ["a.b.c", "b.b.c"]);
        assert_eq!(m(">"), ["a", "a.b", "a.b.c", "a.x.c", "b.b.c"]);
        assert_eq!(m("a"), ["a"]);
        assert!(m("c.>").is_empty());
        // The tree agrees with DestinationPattern::matches.
        for p in ["a.>", "a.*.c", "*.b.c", ">", "a", "*", "*.*"] {
            let pat = DestinationPattern::topic(p);
            let mut by_match: Vec<String> = ["a", "a.b", "a.b.c", "a.x.c", "b.b.c"]
                .iter()
                .filter(|n| pat.matches(&Destination::topic(**n)))
                .map(|n| (*n).to_owned())
                .collect();
            by_match.sort();
            assert_eq!(m(p), by_match, "{p}");
        }
    }

    #[test]
    fn durable_queue_names_do_not_collide() {
        assert_ne!(durable_queue("a:b", "c"), durable_queue("a", "b:c"));
        assert_ne!(durable_queue("a%3Ab", "c"), durable_queue("a:b", "c"));
        assert!(is_wildcard("news.>") && is_wildcard("a.*.b") && !is_wildcard("a.b*"));
    }
}
