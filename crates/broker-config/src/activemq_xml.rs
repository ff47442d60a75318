//! Reading an ActiveMQ Classic `activemq.xml` into a [`BrokerConfig`].
//!
//! The document is parsed (quick-xml) into a small element tree, then walked from `<broker>`.
//! What ferromq has an equivalent for is mapped; every other element or attribute yields one
//! warning naming it by line and path, e.g.
//! ``line 40: broker/destinationPolicy/policyMap/policyEntries/policyEntry[queue=">"]@useCache
//! is not supported yet; ignored``; an ignored element's subtree yields no more warnings.
//! Spring plumbing (`<bean>`, `<import>`, elements in Spring namespaces, `xmlns`/`xsi:`
//! attributes), comments and text are skipped silently. Malformed XML and values ActiveMQ
//! itself would reject (a non-number where a number belongs) are errors.
//!
//! Policy semantics follow ActiveMQ: a `policyEntry` is complete (its absent attributes take
//! ActiveMQ's defaults, not the `defaultEntry`'s), and destinations no entry covers get the
//! `defaultEntry`, or ActiveMQ's defaults (`prioritizedMessages` off).

use std::fmt::Display;
use std::str::FromStr;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, XmlVersion};

use crate::load::{ConfigFormat, Loaded};
use crate::policy::{
    DeadLetterStrategyConfig, IndividualDeadLetterConfig, PolicyDefaults, PolicyEntryConfig,
    RedeliveryPolicyConfig, SharedDeadLetterConfig,
};
use crate::virtual_destinations::{CompositeConfig, ForwardToConfig, VirtualTopicConfig};
use crate::{BrokerConfig, ConfigError, SyncMode};

const SPRING_NS: &str = "http://www.springframework.org/schema/";
/// Spring's own elements, skipped whatever namespace they are written in.
const SPRING_ELEMENTS: &[&str] = &["bean", "import", "alias", "description"];
const MIB: u64 = 1024 * 1024;
/// The largest `stomp.max_frame_size` / `stomp.max_body` accepted (see validate.rs).
const MAX_FRAME: u64 = 2 * 1024 * MIB;
const MAX_BODY: u64 = 1024 * MIB;

impl BrokerConfig {
    /// Reads an ActiveMQ Classic `activemq.xml` (a Spring `<beans>` document or a bare
    /// `<broker>`). Settings without a ferromq equivalent become [`Loaded::warnings`]; the
    /// policy defaults are ActiveMQ's ([`PolicyDefaults::activemq`]). Does not
    /// [`validate`](Self::validate).
    pub fn from_activemq_xml_str(text: &str) -> Result<Loaded, ConfigError> {
        let root = parse_tree(text).map_err(|message| ConfigError::Parse {
            path: None,
            message,
        })?;
        let mut walker = Walker {
            cfg: BrokerConfig {
                policy_defaults: PolicyDefaults::activemq(),
                ..BrokerConfig::default()
            },
            warnings: Vec::new(),
            stomp_connector: false,
            frame_size_set: false,
            body_set: false,
        };
        walker.root(&root)?;
        Ok(Loaded {
            config: walker.cfg,
            format: ConfigFormat::ActiveMqXml,
            warnings: walker.warnings,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The element tree
// ---------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Element {
    /// Local name (an `amq:` prefix is dropped).
    name: String,
    /// Spring plumbing, skipped silently.
    spring: bool,
    line: usize,
    /// Attributes by qualified name, without `xmlns`/`xsi:` ones.
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
}

impl Element {
    fn children(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter(|c| !c.spring)
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The name plus what tells siblings apart, e.g. `policyEntry[queue=">"]`.
    fn label(&self) -> String {
        ["queue", "topic", "tempQueue", "tempTopic", "name"]
            .iter()
            .find_map(|k| self.attr(k).map(|v| format!("{}[{k}={v:?}]", self.name)))
            .unwrap_or_else(|| self.name.clone())
    }
}

/// Byte offset → 1-based line.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Self {
        Self(text.match_indices('\n').map(|(i, _)| i).collect())
    }

    fn line(&self, offset: u64) -> usize {
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        self.0.partition_point(|&nl| nl < offset) + 1
    }
}

fn parse_tree(text: &str) -> Result<Element, String> {
    let lines = Lines::new(text);
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        // Without text trimming every tag starts exactly where the previous event ended.
        let start = reader.buffer_position();
        let (spring_ns, event) = match reader.read_resolved_event() {
            Ok((ns, event)) => (
                matches!(&ns, ResolveResult::Bound(n) if n.as_ref().starts_with(SPRING_NS)),
                event,
            ),
            Err(e) => {
                return Err(format!(
                    "line {}: malformed XML: {e}",
                    lines.line(reader.error_position())
                ))
            }
        };
        let line = lines.line(start);
        let done = match event {
            Event::Start(e) => {
                stack.push(element(&e, spring_ns, line)?);
                None
            }
            Event::Empty(e) => Some(element(&e, spring_ns, line)?),
            Event::End(_) => stack.pop(),
            Event::Eof => break,
            // Text, comments, declarations, processing instructions, DOCTYPE, entities.
            _ => None,
        };
        if let Some(el) = done {
            match stack.last_mut() {
                Some(parent) => parent.children.push(el),
                None if root.is_none() => root = Some(el),
                None => {
                    return Err(format!(
                        "line {line}: malformed XML: a second root element <{}>",
                        el.name
                    ))
                }
            }
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!(
            "line {}: malformed XML: <{}> is never closed",
            open.line, open.name
        ));
    }
    root.ok_or_else(|| "line 1: no root element: the document is empty".to_owned())
}

fn element(e: &BytesStart<'_>, spring_ns: bool, line: usize) -> Result<Element, String> {
    let name = e.local_name().as_ref().to_owned();
    let mut attrs = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|err| format!("line {line}: malformed XML: {err}"))?;
        let key: &str = attr.key.as_ref();
        // Namespace plumbing, not settings.
        if key == "xmlns" || key.starts_with("xmlns:") || key.starts_with("xsi:") {
            continue;
        }
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| format!("line {line}: malformed XML in {name}@{key}: {err}"))?;
        attrs.push((key.to_owned(), value.into_owned()));
    }
    Ok(Element {
        spring: spring_ns || SPRING_ELEMENTS.contains(&name.as_str()),
        name,
        line,
        attrs,
        children: Vec::new(),
    })
}

// ---------------------------------------------------------------------------------------------
// The walk
// ---------------------------------------------------------------------------------------------

struct Walker {
    cfg: BrokerConfig,
    warnings: Vec<String>,
    stomp_connector: bool,
    frame_size_set: bool,
    body_set: bool,
}

/// A `policyEntry` as ActiveMQ reads it: every value set.
struct XmlPolicyEntry {
    queue: Option<String>,
    topic: Option<String>,
    temp: bool,
    values: PolicyDefaults,
}

impl Walker {
    fn warn(&mut self, line: usize, msg: impl Display) {
        self.warnings.push(format!("line {line}: {msg}"));
    }

    fn unsupported_element(&mut self, parent: &str, el: &Element) {
        self.warn(
            el.line,
            format_args!("{parent}/{} is not supported yet; ignored", el.label()),
        );
    }

    fn unsupported_attr(&mut self, path: &str, el: &Element, name: &str) {
        self.warn(
            el.line,
            format_args!("{path}@{name} is not supported yet; ignored"),
        );
    }

    /// For elements whose attributes ferromq has no use for.
    fn no_attrs(&mut self, path: &str, el: &Element) {
        for (name, _) in &el.attrs {
            self.unsupported_attr(path, el, name);
        }
    }

    /// `value`, or `None` (with a warning) when it holds a `${...}` placeholder, which only
    /// ActiveMQ's Spring context could resolve.
    fn value<'v>(
        &mut self,
        path: &str,
        el: &Element,
        name: &str,
        value: &'v str,
    ) -> Option<&'v str> {
        if value.contains("${") {
            self.warn(
                el.line,
                format_args!(
                    "{path}@{name}={value:?} uses a property placeholder, which is not \
                     resolved; the default is used"
                ),
            );
            None
        } else {
            Some(value)
        }
    }

    fn root(&mut self, root: &Element) -> Result<(), ConfigError> {
        match root.name.as_str() {
            "broker" => self.broker(root),
            "beans" => {
                let mut broker = None;
                for child in root.children() {
                    match (child.name.as_str(), broker) {
                        ("broker", None) => broker = Some(child),
                        ("broker", Some(_)) => self.warn(
                            child.line,
                            "a second <broker> is not supported; only the first is read",
                        ),
                        _ => self.unsupported_element("beans", child),
                    }
                }
                match broker {
                    Some(b) => self.broker(b),
                    None => Err(xml_error(root.line, "<beans> holds no <broker> element")),
                }
            }
            other => Err(xml_error(
                root.line,
                format_args!(
                    "the root element is <{other}>; an activemq.xml has <beans> or <broker>"
                ),
            )),
        }
    }

    fn broker(&mut self, el: &Element) -> Result<(), ConfigError> {
        let path = "broker";
        for (name, raw) in &el.attrs {
            if name == "dataDirectory" {
                self.data_directory(el, raw);
                continue;
            }
            let Some(v) = self.value(path, el, name, raw) else {
                continue;
            };
            match name.as_str() {
                // Names the broker in JMX and advisories, neither of which ferromq has.
                "brokerName" => {}
                "schedulerSupport" => {
                    if !parse_bool(path, el, name, v)? {
                        self.warn(
                            el.line,
                            "broker@schedulerSupport=\"false\": scheduled delivery \
                             (AMQ_SCHEDULED_* properties) cannot be switched off yet; ignored",
                        );
                    }
                }
                "persistent" => {
                    if !parse_bool(path, el, name, v)? {
                        self.warn(
                            el.line,
                            "broker@persistent=\"false\" is not supported yet: persistent \
                             messages are still stored; ignored",
                        );
                    }
                }
                _ => self.unsupported_attr(path, el, name),
            }
        }
        for child in el.children() {
            let p = format!("{path}/{}", child.name);
            match child.name.as_str() {
                "destinationPolicy" => self.destination_policy(&p, child)?,
                "plugins" => self.plugins(&p, child)?,
                "destinationInterceptors" => self.destination_interceptors(&p, child)?,
                "systemUsage" => self.system_usage(&p, child)?,
                "transportConnectors" => self.transport_connectors(&p, child)?,
                "persistenceAdapter" => self.persistence_adapter(&p, child)?,
                // Holds Spring hooks that stop the JVM's context; nothing to carry over.
                "shutdownHooks" => {}
                _ => self.unsupported_element(path, child),
            }
        }
        if !self.stomp_connector {
            let (bind, port) = (self.cfg.network.bind.clone(), self.cfg.stomp.port);
            self.warn(
                el.line,
                format_args!(
                    "broker has no stomp:// transportConnector; STOMP listens on {bind}:{port}"
                ),
            );
        }
        // ActiveMQ's maxFrameSize bounds everything in a frame: shrink the limits it implies.
        let stomp = &mut self.cfg.stomp;
        if self.frame_size_set {
            if !self.body_set {
                stomp.max_body = stomp.max_body.min(stomp.max_frame_size);
            }
            stomp.max_header_line = stomp.max_header_line.min(stomp.max_frame_size);
        }
        Ok(())
    }

    fn data_directory(&mut self, el: &Element, raw: &str) {
        // ActiveMQ's start script sets activemq.data to $ACTIVEMQ_BASE/data.
        let value = raw.replace("${activemq.data}", "data");
        if self.value("broker", el, "dataDirectory", &value).is_none() {
            return;
        }
        if value != raw {
            self.warn(
                el.line,
                format_args!(
                    "broker@dataDirectory={raw:?}: ${{activemq.data}} is read as \"data\", \
                     relative to the working directory"
                ),
            );
        }
        self.cfg.storage.data_dir = value;
    }

    // --- destinationPolicy -------------------------------------------------------------------

    fn destination_policy(&mut self, path: &str, el: &Element) -> Result<(), ConfigError> {
        self.no_attrs(path, el);
        for map in el.children() {
            if map.name != "policyMap" {
                self.unsupported_element(path, map);
                continue;
            }
            let path = format!("{path}/policyMap");
            self.no_attrs(&path, map);
            for child in map.children() {
                let p = format!("{path}/{}", child.name);
                match child.name.as_str() {
                    "policyEntries" => {
                        self.no_attrs(&p, child);
                        for entry in child.children() {
                            if entry.name == "policyEntry" {
                                self.policy_entry(&p, entry)?;
                            } else {
                                self.unsupported_element(&p, entry);
                            }
                        }
                    }
                    "defaultEntry" => {
                        self.no_attrs(&p, child);
                        for entry in child.children() {
                            if entry.name == "policyEntry" {
                                let e = self.policy_entry_values(&p, entry)?;
                                if e.queue.is_some() || e.topic.is_some() || e.temp {
                                    self.warn(
                                        entry.line,
                                        format_args!(
                                            "{p}/{}: a defaultEntry applies to every \
                                             destination; its destination is ignored",
                                            entry.label()
                                        ),
                                    );
                                }
                                self.cfg.policy_defaults = e.values;
                            } else {
                                self.unsupported_element(&p, entry);
                            }
                        }
                    }
                    _ => self.unsupported_element(&path, child),
                }
            }
        }
        Ok(())
    }

    fn policy_entry(&mut self, parent: &str, el: &Element) -> Result<(), ConfigError> {
        let path = format!("{parent}/{}", el.label());
        // Checked first so that an ignored entry's attributes add no warnings of their own.
        for name in ["tempQueue", "tempTopic"] {
            if let Some(v) = el.attr(name) {
                if parse_bool(&path, el, name, v)? {
                    self.warn(
                        el.line,
                        format_args!(
                            "{path}: entries for temporary destinations are not supported yet; \
                             ignored"
                        ),
                    );
                    return Ok(());
                }
            }
        }
        let e = self.policy_entry_values(parent, el)?;
        if e.queue.is_some() && e.topic.is_some() {
            return Err(xml_error(
                el.line,
                format_args!("{path} has both queue and topic; an entry names one of them"),
            ));
        }
        if e.queue.is_none() && e.topic.is_none() {
            self.warn(
                el.line,
                format_args!("{path} has neither queue nor topic; ignored"),
            );
            return Ok(());
        }
        // Complete, as in ActiveMQ: nothing inherited from the defaultEntry.
        self.cfg.policy.push(PolicyEntryConfig {
            queue: e.queue,
            topic: e.topic,
            prioritized_messages: Some(e.values.prioritized_messages),
            expire_messages_period: Some(e.values.expire_messages_period),
            priority_lanes: None,
            dead_letter_strategy: Some(e.values.dead_letter_strategy),
        });
        Ok(())
    }

    fn policy_entry_values(
        &mut self,
        parent: &str,
        el: &Element,
    ) -> Result<XmlPolicyEntry, ConfigError> {
        let path = format!("{parent}/{}", el.label());
        let mut e = XmlPolicyEntry {
            queue: None,
            topic: None,
            temp: false,
            values: PolicyDefaults::activemq(),
        };
        for (name, raw) in &el.attrs {
            let Some(v) = self.value(&path, el, name, raw) else {
                continue;
            };
            match name.as_str() {
                "queue" => e.queue = Some(v.to_owned()),
                "topic" => e.topic = Some(v.to_owned()),
                "tempQueue" | "tempTopic" => e.temp |= parse_bool(&path, el, name, v)?,
                // `prioritySupport` is no ActiveMQ attribute, but a common guess at one.
                "prioritizedMessages" | "prioritySupport" => {
                    e.values.prioritized_messages = parse_bool(&path, el, name, v)?;
                }
                "expireMessagesPeriod" => {
                    e.values.expire_messages_period = parse_num(&path, el, name, v)?;
                }
                _ => self.unsupported_attr(&path, el, name),
            }
        }
        for child in el.children() {
            let p = format!("{path}/{}", child.name);
            match child.name.as_str() {
                "deadLetterStrategy" => {
                    if let Some(s) = self.dead_letter_strategy(&p, child)? {
                        e.values.dead_letter_strategy = s;
                    }
                }
                "pendingMessageLimitStrategy" if e.topic.as_deref() == Some(">") => {
                    self.pending_message_limit(&p, child)?;
                }
                "pendingMessageLimitStrategy" => self.warn(
                    child.line,
                    format_args!(
                        "{p} is not supported on this entry; ignored: ferromq's pending limit is \
                         broker-wide, read only from a policyEntry topic=\">\" \
                         (core.topic_pending_limit)"
                    ),
                ),
                _ => self.unsupported_element(&path, child),
            }
        }
        Ok(e)
    }

    /// The shipped activemq.xml's `policyEntry topic=">"` pending limit is ferromq's
    /// broker-wide `core.topic_pending_limit`; per-destination limits have no equivalent.
    fn pending_message_limit(&mut self, path: &str, el: &Element) -> Result<(), ConfigError> {
        self.no_attrs(path, el);
        for s in el.children() {
            if s.name != "constantPendingMessageLimitStrategy" {
                self.unsupported_element(path, s);
                continue;
            }
            let p = format!("{path}/{}", s.name);
            for (name, raw) in &s.attrs {
                let Some(v) = self.value(&p, s, name, raw) else {
                    continue;
                };
                if name != "limit" {
                    self.unsupported_attr(&p, s, name);
                    continue;
                }
                let limit: i64 = parse_num(&p, s, name, v)?;
                match usize::try_from(limit) {
                    Ok(l) if l > 0 => self.cfg.core.topic_pending_limit = l,
                    _ => {
                        let kept = self.cfg.core.topic_pending_limit;
                        self.warn(
                            s.line,
                            format_args!(
                                "{p}@limit={v:?}: an unlimited pending limit is not supported; \
                                 core.topic_pending_limit stays {kept}"
                            ),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn dead_letter_strategy(
        &mut self,
        path: &str,
        el: &Element,
    ) -> Result<Option<DeadLetterStrategyConfig>, ConfigError> {
        self.no_attrs(path, el);
        let mut found = None;
        for s in el.children() {
            let p = format!("{path}/{}", s.name);
            let strategy = match s.name.as_str() {
                "sharedDeadLetterStrategy" => {
                    DeadLetterStrategyConfig::Shared(self.shared_dead_letter(&p, s)?)
                }
                "individualDeadLetterStrategy" => {
                    DeadLetterStrategyConfig::Individual(self.individual_dead_letter(&p, s)?)
                }
                "discarding" => {
                    self.no_attrs(&p, s);
                    DeadLetterStrategyConfig::Discarding {}
                }
                _ => {
                    self.unsupported_element(path, s);
                    continue;
                }
            };
            if found.is_some() {
                self.warn(
                    s.line,
                    format_args!("{p}: a second strategy; only the first is used"),
                );
            } else {
                found = Some(strategy);
            }
        }
        Ok(found)
    }

    fn shared_dead_letter(
        &mut self,
        path: &str,
        el: &Element,
    ) -> Result<SharedDeadLetterConfig, ConfigError> {
        let mut c = SharedDeadLetterConfig::default();
        for (name, raw) in &el.attrs {
            let Some(v) = self.value(path, el, name, raw) else {
                continue;
            };
            match name.as_str() {
                "deadLetterQueue" => c.dead_letter_queue = v.to_owned(),
                "processExpired" => c.process_expired = parse_bool(path, el, name, v)?,
                "processNonPersistent" => {
                    c.process_non_persistent = parse_bool(path, el, name, v)?;
                }
                "expiration" => c.expiration = parse_num(path, el, name, v)?,
                _ => self.unsupported_attr(path, el, name),
            }
        }
        for child in el.children() {
            if child.name != "deadLetterQueue" {
                self.unsupported_element(path, child);
                continue;
            }
            // `<deadLetterQueue><queue physicalName="..."/></deadLetterQueue>`.
            let p = format!("{path}/deadLetterQueue");
            for dest in child.children() {
                match (dest.name.as_str(), dest.attr("physicalName")) {
                    ("queue", Some(name)) => c.dead_letter_queue = name.to_owned(),
                    _ => self.unsupported_element(&p, dest),
                }
            }
        }
        Ok(c)
    }

    fn individual_dead_letter(
        &mut self,
        path: &str,
        el: &Element,
    ) -> Result<IndividualDeadLetterConfig, ConfigError> {
        let mut c = IndividualDeadLetterConfig::default();
        for (name, raw) in &el.attrs {
            let Some(v) = self.value(path, el, name, raw) else {
                continue;
            };
            match name.as_str() {
                "queuePrefix" => c.queue_prefix = v.to_owned(),
                "topicPrefix" => c.topic_prefix = v.to_owned(),
                "queueSuffix" => c.queue_suffix = v.to_owned(),
                "topicSuffix" => c.topic_suffix = v.to_owned(),
                "useQueueForQueueMessages" => {
                    c.use_queue_for_queue_messages = parse_bool(path, el, name, v)?;
                }
                "useQueueForTopicMessages" => {
                    c.use_queue_for_topic_messages = parse_bool(path, el, name, v)?;
                }
                "destinationPerDurableSubscriber" => {
                    c.destination_per_durable_subscriber = parse_bool(path, el, name, v)?;
                }
                "processExpired" => c.process_expired = parse_bool(path, el, name, v)?,
                "processNonPersistent" => {
                    c.process_non_persistent = parse_bool(path, el, name, v)?;
                }
                "expiration" => c.expiration = parse_num(path, el, name, v)?,
                _ => self.unsupported_attr(path, el, name),
            }
        }
        for child in el.children() {
            self.unsupported_element(path, child);
        }
        Ok(c)
    }

    // --- plugins -----------------------------------------------------------------------------

    fn plugins(&mut self, path: &str, el: &Element) -> Result<(), ConfigError> {
        self.no_attrs(path, el);
        for plugin in el.children() {
            let name = plugin.name.as_str();
            if name == "redeliveryPlugin" {
                self.redelivery_plugin(&format!("{path}/{name}"), plugin)?;
            } else if name.ends_with("AuthenticationPlugin") {
                self.warn(
                    plugin.line,
                    format_args!(
                        "{path}/{name} is not supported yet; ignored: clients are NOT \
                         authenticated"
                    ),
                );
            } else if name == "authorizationPlugin" {
                self.warn(
                    plugin.line,
                    format_args!(
                        "{path}/{name} is not supported yet; ignored: destinations are NOT \
                         access-controlled"
                    ),
                );
            } else {
                self.unsupported_element(path, plugin);
            }
        }
        Ok(())
    }

    fn destination_interceptors(&mut self, path: &str, el: &Element) -> Result<(), ConfigError> {
        self.no_attrs(path, el);
        for child in el.children() {
            if child.name == "virtualDestinationInterceptor" {
                self.virtual_destination_interceptor(&format!("{path}/{}", child.name), child)?;
            } else {
                self.unsupported_element(path, child);
            }
        }
        Ok(())
    }

    /// Its `virtualTopic` entries replace ActiveMQ's default virtual topic, as in ActiveMQ,
    /// where configuring the interceptor drops the default one.
    fn virtual_destination_interceptor(
        &mut self,
        path: &str,
        el: &Element,
    ) -> Result<(), ConfigError> {
        self.no_attrs(path, el);
        self.cfg.virtual_topic.get_or_insert_with(Vec::new);
        for child in el.children() {
            let p = format!("{path}/{}", child.name);
            if child.name != "virtualDestinations" {
                self.unsupported_element(path, child);
                continue;
            }
            self.no_attrs(&p, child);
            for entry in child.children() {
                let ep = format!("{p}/{}", entry.label());
                match entry.name.as_str() {
                    "virtualTopic" => self.virtual_topic(&ep, entry)?,
                    "compositeQueue" => self.composite(&ep, entry, true)?,
                    "compositeTopic" => self.composite(&ep, entry, false)?,
                    _ => self.unsupported_element(&p, entry),
                }
            }
        }
        if self.cfg.virtual_topic.as_ref().is_some_and(Vec::is_empty) {
            self.warn(
                el.line,
                format_args!(
                    "{path} has no virtualTopic: as in ActiveMQ, the default virtual topics \
                     (VirtualTopic.> to Consumer.*.VirtualTopic.>) are off"
                ),
            );
        }
        Ok(())
    }

    fn virtual_topic(&mut self, path: &str, el: &Element) -> Result<(), ConfigError> {
        let mut vt = VirtualTopicConfig::default();
        for (name, raw) in &el.attrs {
            let Some(v) = self.value(path, el, name, raw) else {
                continue;
            };
            match name.as_str() {
                "name" => vt.name = v.trim().to_owned(),
                "prefix" => vt.prefix = v.trim().to_owned(),
                "postfix" => vt.postfix = v.trim().to_owned(),
                "selectorAware" => {
                    if parse_bool(path, el, name, v)? {
                        self.warn(
                            el.line,
                            format_args!(
                                "{path}@selectorAware=\"true\" is not supported yet: every \
                                 message is copied to every consumer queue, selected or not"
                            ),
                        );
                    }
                }
                // Only messages from a network of brokers differ, and ferromq has none.
                "local" => {
                    parse_bool(path, el, name, v)?;
                }
                _ => self.unsupported_attr(path, el, name),
            }
        }
        for child in el.children() {
            self.unsupported_element(path, child);
        }
        self.cfg.virtual_topic.get_or_insert_with(Vec::new).push(vt);
        Ok(())
    }

    fn composite(&mut self, path: &str, el: &Element, queue: bool) -> Result<(), ConfigError> {
        let mut name = None;
        let mut forward_only = true;
        for (attr, raw) in &el.attrs {
            let Some(v) = self.value(path, el, attr, raw) else {
                continue;
            };
            match attr.as_str() {
                "name" => name = Some(v.trim().to_owned()),
                "forwardOnly" => forward_only = parse_bool(path, el, attr, v)?,
                "copyMessage" => {
                    if !parse_bool(path, el, attr, v)? {
                        self.warn(
                            el.line,
                            format_args!(
                                "{path}@copyMessage=\"false\" is not supported yet: \
                                 forwarded messages are copies addressed to their target"
                            ),
                        );
                    }
                }
                _ => self.unsupported_attr(path, el, attr),
            }
        }
        let mut forward_to = Vec::new();
        for child in el.children() {
            if child.name != "forwardTo" {
                self.unsupported_element(path, child);
                continue;
            }
            let p = format!("{path}/forwardTo");
            self.no_attrs(&p, child);
            for target in child.children() {
                if let Some(f) = self.forward_to(&p, target) {
                    forward_to.push(f);
                }
            }
        }
        let Some(name) = name else {
            self.warn(el.line, format_args!("{path} has no name; ignored"));
            return Ok(());
        };
        if forward_to.is_empty() {
            self.warn(
                el.line,
                format_args!("{path} forwards to no destination ferromq can use; ignored"),
            );
            return Ok(());
        }
        self.cfg.composite.push(CompositeConfig {
            queue: queue.then(|| name.clone()),
            topic: (!queue).then_some(name),
            forward_only,
            forward_to,
        });
        Ok(())
    }

    /// A `forwardTo` child: `<queue physicalName=".."/>`, `<topic physicalName=".."/>` or
    /// `<filteredDestination selector=".." queue=".."/>` (or `topic=".."`).
    fn forward_to(&mut self, parent: &str, el: &Element) -> Option<ForwardToConfig> {
        let path = format!("{parent}/{}", el.name);
        let mut f = ForwardToConfig::default();
        match el.name.as_str() {
            "queue" | "topic" => {
                for (attr, raw) in &el.attrs {
                    let v = self.value(&path, el, attr, raw);
                    match (attr.as_str(), v) {
                        ("physicalName", Some(v)) => {
                            let v = Some(v.trim().to_owned());
                            if el.name == "queue" {
                                f.queue = v;
                            } else {
                                f.topic = v;
                            }
                        }
                        ("physicalName", None) => {}
                        _ => self.unsupported_attr(&path, el, attr),
                    }
                }
            }
            "filteredDestination" => {
                for (attr, raw) in &el.attrs {
                    let v = self
                        .value(&path, el, attr, raw)
                        .map(|v| v.trim().to_owned());
                    match attr.as_str() {
                        "queue" => f.queue = v,
                        "topic" => f.topic = v,
                        "selector" => f.selector = v.filter(|s| !s.is_empty()),
                        _ => self.unsupported_attr(&path, el, attr),
                    }
                }
            }
            _ => {
                self.unsupported_element(parent, el);
                return None;
            }
        }
        for child in el.children() {
            self.unsupported_element(&path, child);
        }
        if f.queue.is_none() && f.topic.is_none() {
            self.warn(
                el.line,
                format_args!("{path} names no queue or topic ferromq can use; ignored"),
            );
            return None;
        }
        Some(f)
    }

    fn redelivery_plugin(&mut self, path: &str, el: &Element) -> Result<(), ConfigError> {
        for (name, raw) in &el.attrs {
            let Some(v) = self.value(path, el, name, raw) else {
                continue;
            };
            // Both land in the model as read: validation refuses `false`, which ferromq
            // cannot honour yet, rather than silently dead-lettering.
            match name.as_str() {
                "fallbackToDeadLetter" => {
                    self.cfg.redelivery.fallback_to_dead_letter = parse_bool(path, el, name, v)?;
                }
                "sendToDlqIfMaxRetriesExceeded" => {
                    self.cfg.redelivery.send_to_dlq_if_max_retries_exceeded =
                        parse_bool(path, el, name, v)?;
                }
                _ => self.unsupported_attr(path, el, name),
            }
        }
        for outer in el.children() {
            if outer.name != "redeliveryPolicyMap" {
                self.unsupported_element(path, outer);
                continue;
            }
            // A property element wrapping the bean of the same name.
            let (map, map_path) = unwrap_property(outer, &format!("{path}/redeliveryPolicyMap"));
            self.no_attrs(&map_path, map);
            for child in map.children() {
                let p = format!("{map_path}/{}", child.name);
                match child.name.as_str() {
                    "redeliveryPolicyEntries" => {
                        self.no_attrs(&p, child);
                        for entry in child.children() {
                            if entry.name != "redeliveryPolicy" {
                                self.unsupported_element(&p, entry);
                                continue;
                            }
                            let ep = format!("{p}/{}", entry.label());
                            let r = self.redelivery_policy(&ep, entry)?;
                            if r.queue.is_none() && r.topic.is_none() {
                                self.warn(
                                    entry.line,
                                    format_args!(
                                        "{ep} names no queue or topic (temporary destinations \
                                         are not supported yet); ignored"
                                    ),
                                );
                            } else if r.queue.is_some() && r.topic.is_some() {
                                return Err(xml_error(
                                    entry.line,
                                    format_args!(
                                        "{ep} has both queue and topic; an entry names one \
                                         of them"
                                    ),
                                ));
                            } else {
                                self.cfg.redelivery.entry.push(r);
                            }
                        }
                    }
                    "defaultEntry" => {
                        self.no_attrs(&p, child);
                        for entry in child.children() {
                            if entry.name != "redeliveryPolicy" {
                                self.unsupported_element(&p, entry);
                                continue;
                            }
                            let ep = format!("{p}/{}", entry.label());
                            let mut r = self.redelivery_policy(&ep, entry)?;
                            let had_queue = r.queue.take().is_some();
                            if r.topic.take().is_some() || had_queue {
                                self.warn(
                                    entry.line,
                                    format_args!(
                                        "{ep}: a defaultEntry applies to every destination; \
                                         its destination is ignored"
                                    ),
                                );
                            }
                            self.cfg.redelivery.default_entry = Some(r);
                        }
                    }
                    _ => self.unsupported_element(&map_path, child),
                }
            }
        }
        Ok(())
    }

    fn redelivery_policy(
        &mut self,
        path: &str,
        el: &Element,
    ) -> Result<RedeliveryPolicyConfig, ConfigError> {
        let mut r = RedeliveryPolicyConfig::default();
        for (name, raw) in &el.attrs {
            let Some(v) = self.value(path, el, name, raw) else {
                continue;
            };
            match name.as_str() {
                "queue" => r.queue = Some(v.to_owned()),
                "topic" => r.topic = Some(v.to_owned()),
                "maximumRedeliveries" => r.maximum_redeliveries = parse_num(path, el, name, v)?,
                "initialRedeliveryDelay" => {
                    r.initial_redelivery_delay = parse_num(path, el, name, v)?;
                }
                "redeliveryDelay" => r.redelivery_delay = parse_num(path, el, name, v)?,
                "useExponentialBackOff" => {
                    r.use_exponential_back_off = parse_bool(path, el, name, v)?;
                }
                "backOffMultiplier" => r.back_off_multiplier = parse_num(path, el, name, v)?,
                "maximumRedeliveryDelay" => {
                    r.maximum_redelivery_delay = parse_num(path, el, name, v)?;
                }
                "useCollisionAvoidance" => {
                    r.use_collision_avoidance = parse_bool(path, el, name, v)?;
                }
                "collisionAvoidanceFactor" => {
                    r.collision_avoidance_factor = parse_num(path, el, name, v)?;
                }
                // ActiveMQ's older spelling of the factor, in percent.
                "collisionAvoidancePercent" => {
                    let percent: f64 = parse_num(path, el, name, v)?;
                    r.collision_avoidance_factor = percent / 100.0;
                }
                _ => self.unsupported_attr(path, el, name),
            }
        }
        for child in el.children() {
            self.unsupported_element(path, child);
        }
        Ok(r)
    }

    // --- systemUsage -------------------------------------------------------------------------

    fn system_usage(&mut self, path: &str, el: &Element) -> Result<(), ConfigError> {
        let (usage, path) = unwrap_property(el, path);
        let path = path.as_str();
        for (name, raw) in &usage.attrs {
            let Some(v) = self.value(path, usage, name, raw) else {
                continue;
            };
            match name.as_str() {
                "sendFailIfNoSpace" => {
                    self.cfg.storage.send_fail_if_no_space = parse_bool(path, usage, name, v)?;
                }
                "sendFailIfNoSpaceAfterTimeout" => {
                    self.cfg.storage.send_fail_if_no_space_after_timeout_ms =
                        parse_num(path, usage, name, v)?;
                }
                _ => self.unsupported_attr(path, usage, name),
            }
        }
        for child in usage.children() {
            let (limit, p) = unwrap_property(child, &format!("{path}/{}", child.name));
            match child.name.as_str() {
                "memoryUsage" => {
                    for (name, raw) in &limit.attrs {
                        let Some(v) = self.value(&p, limit, name, raw) else {
                            continue;
                        };
                        match name.as_str() {
                            "limit" => {
                                if let Some(mb) = self.size_mb(&p, limit, name, v)? {
                                    self.cfg.storage.memory_limit_mb = mb;
                                }
                            }
                            "percentOfJvmHeap" => self.warn(
                                limit.line,
                                format_args!(
                                    "{p}@percentOfJvmHeap has no JVM heap to refer to; \
                                     storage.memory_limit_mb stays automatic (25% of physical \
                                     memory)"
                                ),
                            ),
                            _ => self.unsupported_attr(&p, limit, name),
                        }
                    }
                }
                "storeUsage" => {
                    for (name, raw) in &limit.attrs {
                        let Some(v) = self.value(&p, limit, name, raw) else {
                            continue;
                        };
                        if name == "limit" {
                            if let Some(mb) = self.size_mb(&p, limit, name, v)? {
                                self.cfg.storage.store_limit_mb = mb;
                            }
                        } else {
                            self.unsupported_attr(&p, limit, name);
                        }
                    }
                }
                _ => {
                    self.unsupported_element(path, child);
                    continue;
                }
            }
            for c in limit.children() {
                self.unsupported_element(&p, c);
            }
        }
        Ok(())
    }

    /// An ActiveMQ size (`"64 mb"`) in MiB, rounded up; `None` (with a warning) for 0, which
    /// would mean "automatic" or "no limit" here.
    fn size_mb(
        &mut self,
        path: &str,
        el: &Element,
        name: &str,
        v: &str,
    ) -> Result<Option<u64>, ConfigError> {
        let bytes = parse_size(v).ok_or_else(|| {
            value_error(
                path,
                el,
                name,
                "must be a size such as \"64 mb\", \"100 gb\" or a number of bytes",
                v,
            )
        })?;
        if bytes == 0 {
            self.warn(
                el.line,
                format_args!("{path}@{name}={v:?}: a zero limit is not supported; ignored"),
            );
            return Ok(None);
        }
        let mb = bytes.div_ceil(MIB);
        if bytes % MIB != 0 {
            self.warn(
                el.line,
                format_args!("{path}@{name}={v:?} is rounded up to {mb} MiB"),
            );
        }
        Ok(Some(mb))
    }

    // --- transportConnectors -----------------------------------------------------------------

    fn transport_connectors(&mut self, path: &str, el: &Element) -> Result<(), ConfigError> {
        self.no_attrs(path, el);
        for c in el.children() {
            if c.name != "transportConnector" {
                self.unsupported_element(path, c);
                continue;
            }
            let p = format!("{path}/{}", c.label());
            let mut uri = None;
            for (name, raw) in &c.attrs {
                let Some(v) = self.value(&p, c, name, raw) else {
                    continue;
                };
                match name.as_str() {
                    "name" => {}
                    "uri" => uri = Some(v),
                    _ => self.unsupported_attr(&p, c, name),
                }
            }
            for child in c.children() {
                self.unsupported_element(&p, child);
            }
            match uri {
                Some(uri) => self.connector_uri(&p, c, uri)?,
                None => self.warn(c.line, format_args!("{p} has no uri; ignored")),
            }
        }
        Ok(())
    }

    fn connector_uri(&mut self, path: &str, el: &Element, uri: &str) -> Result<(), ConfigError> {
        let bad = |what: &str| value_error(path, el, "uri", what, uri);
        let (scheme, rest) = uri
            .split_once("://")
            .ok_or_else(|| bad("must be a URI such as stomp://0.0.0.0:61613"))?;
        let scheme = scheme.to_ascii_lowercase();
        match scheme.as_str() {
            "stomp" | "stomp+nio" => {}
            "stomp+ssl" | "stomp+nio+ssl" => {
                let address = uri.split('?').next().unwrap_or(uri);
                self.warn(
                    el.line,
                    format_args!("{path} ({address}): TLS is not supported yet; ignored"),
                );
                return Ok(());
            }
            _ => {
                let amqp = if scheme.starts_with("amqp") {
                    " (AMQP is upcoming)"
                } else {
                    ""
                };
                let address = uri.split('?').next().unwrap_or(uri);
                self.warn(
                    el.line,
                    format_args!(
                        "{path} ({address}): ferromq serves only STOMP yet{amqp}; ignored"
                    ),
                );
                return Ok(());
            }
        }
        if self.stomp_connector {
            self.warn(
                el.line,
                format_args!("{path}: a second STOMP listener is not supported; ignored"),
            );
            return Ok(());
        }
        self.stomp_connector = true;
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.trim_end_matches('/');
        let (host, port) = match authority.strip_prefix('[') {
            // `[::]:61613`
            Some(v6) => v6
                .split_once("]:")
                .ok_or_else(|| bad("must name a host and a port"))?,
            None => authority
                .rsplit_once(':')
                .ok_or_else(|| bad("must name a host and a port"))?,
        };
        self.cfg.stomp.port = port
            .parse()
            .map_err(|_| bad("must have a port in 0..=65535"))?;
        if host.parse::<std::net::IpAddr>().is_ok() {
            self.cfg.network.bind = host.to_owned();
        } else if host.eq_ignore_ascii_case("localhost") {
            self.cfg.network.bind = "127.0.0.1".to_owned();
        } else {
            let bind = self.cfg.network.bind.clone();
            self.warn(
                el.line,
                format_args!(
                    "{path}: host {host:?} is not an IP address; network.bind stays {bind}"
                ),
            );
        }
        for option in query.split('&').filter(|o| !o.is_empty()) {
            let (key, value) = option.split_once('=').unwrap_or((option, ""));
            let bad_option = |what: &str| value_error(path, el, key, what, value);
            match key {
                "maximumConnections" => {
                    self.cfg.network.max_connections = value
                        .parse()
                        .map_err(|_| bad_option("must be a whole number"))?;
                }
                "transport.hbGracePeriodMultiplier" => {
                    let m: f64 = value.parse().map_err(|_| bad_option("must be a number"))?;
                    // ActiveMQ ignores values up to 1.0.
                    if m > 1.0 {
                        self.cfg.stomp.hb_grace_multiplier = m;
                    }
                }
                "wireFormat.maxFrameSize" => {
                    let size = self.clamped_size(path, el, key, value, MAX_FRAME)?;
                    self.cfg.stomp.max_frame_size = size;
                    self.frame_size_set = true;
                }
                "wireFormat.maxDataLength" => {
                    let size = self.clamped_size(path, el, key, value, MAX_BODY)?;
                    self.cfg.stomp.max_body = size;
                    self.body_set = true;
                }
                _ => self.warn(
                    el.line,
                    format_args!("{path}: uri option {key} is not supported yet; ignored"),
                ),
            }
        }
        Ok(())
    }

    /// A byte count from a URI option, capped at what ferromq accepts (ActiveMQ's defaults
    /// are effectively unlimited).
    fn clamped_size(
        &mut self,
        path: &str,
        el: &Element,
        key: &str,
        value: &str,
        max: u64,
    ) -> Result<usize, ConfigError> {
        let n: u64 = value
            .parse()
            .map_err(|_| value_error(path, el, key, "must be a number of bytes", value))?;
        if n > max {
            self.warn(
                el.line,
                format_args!("{path}: uri option {key}={value} is capped at {max}"),
            );
        }
        usize::try_from(n.min(max))
            .map_err(|_| value_error(path, el, key, "is too large for this platform", value))
    }

    // --- persistenceAdapter ------------------------------------------------------------------

    fn persistence_adapter(&mut self, path: &str, el: &Element) -> Result<(), ConfigError> {
        self.no_attrs(path, el);
        for adapter in el.children() {
            if adapter.name != "kahaDB" {
                self.warn(
                    adapter.line,
                    format_args!(
                        "{path}/{} is not supported: ferromq stores messages in RocksDB under \
                         storage.data_dir; ignored",
                        adapter.name
                    ),
                );
                continue;
            }
            let p = format!("{path}/kahaDB");
            for (name, raw) in &adapter.attrs {
                if name == "directory" {
                    self.warn(
                        adapter.line,
                        format_args!(
                            "{p}@directory is not used: the store lives in \
                             <storage.data_dir>/store; ignored"
                        ),
                    );
                    continue;
                }
                let Some(v) = self.value(&p, adapter, name, raw) else {
                    continue;
                };
                match name.as_str() {
                    "journalDiskSyncStrategy" => {
                        self.cfg.storage.sync = match v.trim().to_ascii_lowercase().as_str() {
                            "always" => SyncMode::Always,
                            "periodic" => SyncMode::Periodic,
                            "never" => {
                                self.warn(
                                    adapter.line,
                                    format_args!(
                                        "{p}@journalDiskSyncStrategy=\"never\" is not offered; \
                                         using periodic (synced every \
                                         storage.sync_interval_ms)"
                                    ),
                                );
                                SyncMode::Periodic
                            }
                            _ => {
                                return Err(value_error(
                                    &p,
                                    adapter,
                                    name,
                                    "must be always, periodic or never",
                                    v,
                                ))
                            }
                        };
                    }
                    "journalDiskSyncInterval" => {
                        self.cfg.storage.sync_interval_ms = parse_num(&p, adapter, name, v)?;
                    }
                    _ => self.unsupported_attr(&p, adapter, name),
                }
            }
            for child in adapter.children() {
                self.unsupported_element(&p, child);
            }
        }
        Ok(())
    }
}

/// XBean's property-element form: `<systemUsage><systemUsage .../></systemUsage>` is the
/// property `systemUsage` holding a bean of the same name. Returns the bean and its path, or
/// `el` itself when it is not such a wrapper.
fn unwrap_property<'e>(el: &'e Element, path: &str) -> (&'e Element, String) {
    let mut children = el.children();
    match (children.next(), children.next()) {
        (Some(inner), None) if inner.name == el.name && el.attrs.is_empty() => {
            (inner, format!("{path}/{}", inner.name))
        }
        _ => (el, path.to_owned()),
    }
}

fn xml_error(line: usize, msg: impl Display) -> ConfigError {
    ConfigError::Parse {
        path: None,
        message: format!("line {line}: {msg}"),
    }
}

fn value_error(path: &str, el: &Element, name: &str, what: &str, value: &str) -> ConfigError {
    xml_error(el.line, format_args!("{path}@{name} {what}; got {value:?}"))
}

/// Spring's boolean conversion: true/false, on/off, yes/no, 1/0, any case.
fn parse_bool(path: &str, el: &Element, name: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(value_error(path, el, name, "must be true or false", v)),
    }
}

fn parse_num<T: FromStr>(path: &str, el: &Element, name: &str, v: &str) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| value_error(path, el, name, "must be a number", v))
}

/// ActiveMQ's `MemoryPropertyEditor`: a whole number with an optional unit b, kb, mb, gb
/// or tb (1024-based, any case, the `b` optional after k/m/g/t).
fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim().to_ascii_lowercase();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let n: u64 = v[..digits].parse().ok()?;
    let unit = v[digits..].trim();
    let unit = unit.strip_suffix('b').unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(xml: &str) -> Loaded {
        BrokerConfig::from_activemq_xml_str(xml).unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(xml: &str) -> String {
        match BrokerConfig::from_activemq_xml_str(xml) {
            Err(e @ ConfigError::Parse { .. }) => e.to_string(),
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    /// A `<broker>` with a STOMP connector (so its absence warns nowhere) and `inner`.
    fn broker(inner: &str) -> String {
        format!(
            "<broker>\n<transportConnectors><transportConnector name=\"stomp\" \
             uri=\"stomp://0.0.0.0:61613\"/></transportConnectors>\n{inner}\n</broker>"
        )
    }

    #[test]
    fn sizes_follow_activemq() {
        assert_eq!(parse_size("64 mb"), Some(64 * MIB));
        assert_eq!(parse_size("100 GB"), Some(100 * 1024 * MIB));
        assert_eq!(parse_size("1k"), Some(1024));
        assert_eq!(parse_size("2 t"), Some(2 << 40));
        assert_eq!(parse_size(" 512 "), Some(512));
        assert_eq!(parse_size("12b"), Some(12));
        for bad in ["", "mb", "1.5 gb", "-1 mb", "64 megs", "99999999999 tb"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn bare_broker_and_amq_prefix() {
        let l = load(
            "<beans xmlns=\"http://www.springframework.org/schema/beans\" \
             xmlns:amq=\"http://activemq.apache.org/schema/core\">\
             <amq:broker brokerName=\"x\"><amq:transportConnectors>\
             <amq:transportConnector uri=\"stomp://[::1]:1234\"/>\
             </amq:transportConnectors></amq:broker></beans>",
        );
        assert_eq!(l.config.network.bind, "::1");
        assert_eq!(l.config.stomp.port, 1234);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    }

    #[test]
    fn malformed_and_foreign_documents_are_errors() {
        assert!(
            error("<beans><broker></beans>").contains("malformed XML"),
            "mismatched end tag"
        );
        assert_eq!(
            error("<beans>\n  <broker>\n"),
            "cannot parse config <string>: line 2: malformed XML: <broker> is never closed"
        );
        assert_eq!(
            error("<!-- only a comment -->"),
            "cannot parse config <string>: line 1: no root element: the document is empty"
        );
        assert_eq!(
            error("<beans>\n<bean class=\"x\"/>\n</beans>"),
            "cannot parse config <string>: line 1: <beans> holds no <broker> element"
        );
        assert_eq!(
            error("<broker/><broker/>"),
            "cannot parse config <string>: line 1: malformed XML: a second root element <broker>"
        );
    }

    #[test]
    fn bad_values_are_errors_naming_the_attribute() {
        assert_eq!(
            error(&broker(
                "<destinationPolicy><policyMap><policyEntries>\n\
                 <policyEntry queue=\">\" expireMessagesPeriod=\"soon\"/>\
                 </policyEntries></policyMap></destinationPolicy>"
            )),
            "cannot parse config <string>: line 4: broker/destinationPolicy/policyMap/\
             policyEntries/policyEntry[queue=\">\"]@expireMessagesPeriod must be a number; got \
             \"soon\""
        );
        assert!(error(&broker("<systemUsage><systemUsage><memoryUsage><memoryUsage limit=\"lots\"/></memoryUsage></systemUsage></systemUsage>"))
            .contains("broker/systemUsage/systemUsage/memoryUsage/memoryUsage@limit must be a size"));
        assert!(error("<broker persistent=\"maybe\"/>")
            .contains("broker@persistent must be true or false; got \"maybe\""));
        assert!(error(
            "<broker><transportConnectors><transportConnector uri=\"stomp://0.0.0.0:http\"/>\
             </transportConnectors></broker>"
        )
        .contains("must have a port in 0..=65535"));
        assert!(error(&broker(
            "<destinationPolicy><policyMap><policyEntries>\
             <policyEntry queue=\"a\" topic=\"b\"/></policyEntries></policyMap></destinationPolicy>"
        ))
        .contains("has both queue and topic"));
    }

    #[test]
    fn placeholders_warn_and_keep_defaults() {
        let l = load(&broker(
            "<systemUsage><systemUsage><storeUsage><storeUsage limit=\"${store.limit}\"/>\
             </storeUsage></systemUsage></systemUsage>",
        ));
        assert_eq!(l.config.storage.store_limit_mb, 102_400);
        assert_eq!(
            l.warnings,
            vec![
                "line 3: broker/systemUsage/systemUsage/storeUsage/storeUsage@limit=\
                 \"${store.limit}\" uses a property placeholder, which is not resolved; the \
                 default is used"
            ]
        );
        let l = load("<broker dataDirectory=\"${activemq.base}/data\"/>");
        assert_eq!(l.config.storage.data_dir, "./data");
        assert!(
            l.warnings[0].contains("uses a property placeholder"),
            "{:?}",
            l.warnings
        );
    }

    #[test]
    fn connectors() {
        let l = load(
            "<broker><transportConnectors>\n\
             <transportConnector name=\"openwire\" uri=\"tcp://0.0.0.0:61616\"/>\n\
             <transportConnector name=\"amqp\" uri=\"amqp://0.0.0.0:5672\"/>\n\
             <transportConnector name=\"stomp\" uri=\"stomp+nio://localhost:61614?transport.hbGracePeriodMultiplier=2&amp;wireFormat.maxFrameSize=1048576&amp;transport.closeAsync=false\"/>\n\
             <transportConnector name=\"stomp2\" uri=\"stomp://0.0.0.0:61615\"/>\n\
             <transportConnector name=\"stomp+ssl\" uri=\"stomp+ssl://0.0.0.0:61612\"/>\n\
             </transportConnectors></broker>",
        );
        let c = &l.config;
        assert_eq!(c.network.bind, "127.0.0.1");
        assert_eq!(c.stomp.port, 61614);
        assert_eq!(c.stomp.hb_grace_multiplier, 2.0);
        assert_eq!(c.stomp.max_frame_size, 1_048_576);
        // Shrunk to fit the frame limit, as ActiveMQ's maxFrameSize bounds the body too.
        assert_eq!(c.stomp.max_body, 1_048_576);
        c.validate().unwrap();
        let p = "broker/transportConnectors/transportConnector";
        assert_eq!(
            l.warnings,
            vec![
                format!("line 2: {p}[name=\"openwire\"] (tcp://0.0.0.0:61616): ferromq serves only STOMP yet; ignored"),
                format!("line 3: {p}[name=\"amqp\"] (amqp://0.0.0.0:5672): ferromq serves only STOMP yet (AMQP is upcoming); ignored"),
                format!("line 4: {p}[name=\"stomp\"]: uri option transport.closeAsync is not supported yet; ignored"),
                format!("line 5: {p}[name=\"stomp2\"]: a second STOMP listener is not supported; ignored"),
                format!("line 6: {p}[name=\"stomp+ssl\"] (stomp+ssl://0.0.0.0:61612): TLS is not supported yet; ignored"),
            ]
        );
        let none = load("<broker/>");
        assert_eq!(
            none.warnings,
            vec![
                "line 1: broker has no stomp:// transportConnector; STOMP listens on 0.0.0.0:61613"
            ]
        );
    }

    #[test]
    fn kahadb_sync_settings() {
        let l = load(&broker(
            "<persistenceAdapter><kahaDB journalDiskSyncStrategy=\"PERIODIC\" \
             journalDiskSyncInterval=\"250\" journalMaxFileLength=\"32mb\"/></persistenceAdapter>",
        ));
        assert_eq!(l.config.storage.sync, SyncMode::Periodic);
        assert_eq!(l.config.storage.sync_interval_ms, 250);
        assert_eq!(
            l.warnings,
            vec!["line 3: broker/persistenceAdapter/kahaDB@journalMaxFileLength is not supported yet; ignored"]
        );
        let l = load(&broker(
            "<persistenceAdapter><kahaDB journalDiskSyncStrategy=\"never\"/></persistenceAdapter>\
             <persistenceAdapter><jdbcPersistenceAdapter/></persistenceAdapter>",
        ));
        assert_eq!(l.config.storage.sync, SyncMode::Periodic);
        assert_eq!(l.warnings.len(), 2, "{:?}", l.warnings);
        assert!(l.warnings[1].contains(
            "jdbcPersistenceAdapter is not supported: ferromq stores messages in RocksDB"
        ));
    }

    #[test]
    fn default_entry_and_complete_entries() {
        let l = load(&broker(
            "<destinationPolicy><policyMap>\
             <policyEntries><policyEntry queue=\"orders.>\" expireMessagesPeriod=\"0\"/></policyEntries>\
             <defaultEntry><policyEntry prioritizedMessages=\"true\">\
             <deadLetterStrategy><discarding/></deadLetterStrategy></policyEntry></defaultEntry>\
             </policyMap></destinationPolicy>",
        ));
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let d = &l.config.policy_defaults;
        assert!(d.prioritized_messages);
        assert_eq!(
            d.dead_letter_strategy,
            DeadLetterStrategyConfig::Discarding {}
        );
        // The entry does not inherit from the defaultEntry: ActiveMQ's defaults fill it.
        assert_eq!(
            l.config.policy,
            vec![PolicyEntryConfig {
                queue: Some("orders.>".into()),
                topic: None,
                prioritized_messages: Some(false),
                expire_messages_period: Some(0),
                priority_lanes: None,
                dead_letter_strategy: Some(DeadLetterStrategyConfig::default()),
            }]
        );
    }

    #[test]
    fn pending_limit_only_from_the_all_topics_entry() {
        let l = load(&broker(
            "<destinationPolicy><policyMap><policyEntries>\
             <policyEntry topic=\"prices.>\"><pendingMessageLimitStrategy>\
             <constantPendingMessageLimitStrategy limit=\"10\"/></pendingMessageLimitStrategy>\
             </policyEntry></policyEntries></policyMap></destinationPolicy>",
        ));
        assert_eq!(l.config.core.topic_pending_limit, 100_000);
        assert_eq!(
            l.warnings,
            vec![
                "line 3: broker/destinationPolicy/policyMap/policyEntries/policyEntry[topic=\
                 \"prices.>\"]/pendingMessageLimitStrategy is not supported on this entry; \
                 ignored: ferromq's pending limit is broker-wide, read only from a policyEntry \
                 topic=\">\" (core.topic_pending_limit)"
            ]
        );
        let l = load(&broker(
            "<destinationPolicy><policyMap><policyEntries>\
             <policyEntry topic=\">\"><pendingMessageLimitStrategy>\
             <constantPendingMessageLimitStrategy limit=\"-1\"/></pendingMessageLimitStrategy>\
             </policyEntry></policyEntries></policyMap></destinationPolicy>",
        ));
        assert_eq!(l.config.core.topic_pending_limit, 100_000);
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        assert!(l.warnings[0].contains("an unlimited pending limit is not supported"));
    }

    #[test]
    fn shared_dead_letter_queue_as_element() {
        let l = load(&broker(
            "<destinationPolicy><policyMap><policyEntries><policyEntry topic=\"t.>\">\
             <deadLetterStrategy><sharedDeadLetterStrategy processNonPersistent=\"yes\">\
             <deadLetterQueue><queue physicalName=\"My.DLQ\"/></deadLetterQueue>\
             </sharedDeadLetterStrategy></deadLetterStrategy></policyEntry></policyEntries>\
             </policyMap></destinationPolicy>",
        ));
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(
            l.config.policy[0].dead_letter_strategy,
            Some(DeadLetterStrategyConfig::Shared(SharedDeadLetterConfig {
                dead_letter_queue: "My.DLQ".into(),
                process_expired: true,
                process_non_persistent: true,
                expiration: 0,
            }))
        );
    }

    #[test]
    fn individual_dead_letter_per_durable_subscriber() {
        let l = load(&broker(
            "<destinationPolicy><policyMap><policyEntries><policyEntry topic=\">\">\
             <deadLetterStrategy><individualDeadLetterStrategy topicPrefix=\"DLQ.\" \
             destinationPerDurableSubscriber=\"true\" expiration=\"86400000\"/>\
             </deadLetterStrategy></policyEntry>\
             </policyEntries></policyMap></destinationPolicy>",
        ));
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        assert_eq!(
            l.config.policy[0].dead_letter_strategy,
            Some(DeadLetterStrategyConfig::Individual(
                IndividualDeadLetterConfig {
                    topic_prefix: "DLQ.".into(),
                    destination_per_durable_subscriber: true,
                    expiration: 86_400_000,
                    ..IndividualDeadLetterConfig::default()
                }
            ))
        );
    }
}
