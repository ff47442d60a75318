//! Configuration model of the ferromq broker.
//!
//! This crate owns [`BrokerConfig`] and its sections, their defaults, the TOML loader
//! ([`BrokerConfig::from_toml_str`], [`BrokerConfig::to_toml_string`]), the activemq.xml
//! reader ([`BrokerConfig::from_activemq_xml_str`]), [`BrokerConfig::load_file`] (either
//! format, told apart by content, plus warnings for what an activemq.xml sets that ferromq
//! cannot honour) and [`BrokerConfig::validate`]. It knows nothing of sockets, tasks or storage engines: the
//! `ferromq` binary loads and validates a config, then hands plain values to the crates that
//! use them. `deploy/ferromq.toml` is the commented sample, kept equal to the defaults by a
//! test.
//!
//! Invariants worth naming:
//! - Every field has a default and every section is `#[serde(default)]`, so an empty file is a
//!   valid config and a key added later never breaks an older file.
//! - Unknown keys are rejected (`deny_unknown_fields`), so a misspelt key is an error rather
//!   than a silently ignored setting.
//! - Loading only parses; [`BrokerConfig::validate`] runs once after every layer (file,
//!   command line, later environment and `activemq.xml`) is applied, and reports the first bad
//!   field by its dotted TOML path, e.g. ``"`stomp.max_body` must be in 1..=1073741824; got 0"``.
//! - No I/O beyond reading the file in [`BrokerConfig::load_file`].
//!
//! Layout: `model` (the types and defaults), `policy` (per-destination policies and
//! redelivery), `virtual_destinations` (virtual topics and composite destinations), `toml` (the TOML format), `activemq_xml` (reading an ActiveMQ `activemq.xml`),
//! `load` (files in either format), `validate` (the rules), `error` ([`ConfigError`]).

mod activemq_xml;
mod error;
mod load;
mod model;
mod policy;
mod toml;
mod validate;
mod virtual_destinations;

pub use error::ConfigError;
pub use load::{ConfigFormat, Loaded};
pub use model::{
    AdminSection, BrokerConfig, CoreSection, NetworkConfig, StompSection, StorageConfig, SyncMode,
};
pub use policy::{
    pattern_parts, DeadLetterStrategyConfig, IndividualDeadLetterConfig, PolicyDefaults,
    PolicyEntryConfig, PriorityLaneConfig, RedeliveryPolicyConfig, RedeliverySection,
    SharedDeadLetterConfig, ACTIVEMQ_DLQ,
};
pub use virtual_destinations::{CompositeConfig, ForwardToConfig, VirtualTopicConfig};
