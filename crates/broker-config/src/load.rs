//! Loading a config file in either format: ferromq's TOML or an ActiveMQ Classic
//! `activemq.xml`, told apart by content.

use std::path::Path;

use crate::{BrokerConfig, ConfigError};

/// The format of a config text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigFormat {
    /// ferromq's native TOML.
    Toml,
    /// An ActiveMQ Classic `activemq.xml`.
    ActiveMqXml,
}

impl ConfigFormat {
    /// An XML document (first non-blank character `<`: an XML declaration, a comment or the
    /// `<beans>`/`<broker>` root) is an activemq.xml; anything else is TOML, which can never
    /// start with `<`. The XML reader then insists on a `<beans>` or `<broker>` root, so a
    /// stray XML file gets an error naming its root rather than a TOML syntax error.
    pub fn detect(text: &str) -> Self {
        if text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('<')
        {
            Self::ActiveMqXml
        } else {
            Self::Toml
        }
    }
}

/// A parsed (not yet validated) config, with what the loader could not carry over.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The configuration.
    pub config: BrokerConfig,
    /// The format it was read from.
    pub format: ConfigFormat,
    /// One line per setting that was ignored or changed, e.g.
    /// ``line 12: broker/…/policyEntry[queue=">"]@useCache is not supported yet; ignored``.
    /// Always empty for TOML, whose unknown keys are errors.
    pub warnings: Vec<String>,
}

impl BrokerConfig {
    /// Parses a config text in either format (see [`ConfigFormat::detect`]). Does not
    /// [`validate`](Self::validate).
    pub fn from_str_any(text: &str) -> Result<Loaded, ConfigError> {
        match ConfigFormat::detect(text) {
            ConfigFormat::Toml => Ok(Loaded {
                config: Self::from_toml_str(text)?,
                format: ConfigFormat::Toml,
                warnings: Vec::new(),
            }),
            ConfigFormat::ActiveMqXml => Self::from_activemq_xml_str(text),
        }
    }

    /// Reads and parses the file at `path`, TOML or activemq.xml, like
    /// [`from_str_any`](Self::from_str_any); errors name the file. Does not
    /// [`validate`](Self::validate).
    pub fn load_file(path: &Path) -> Result<Loaded, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_str_any(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: Some(path.to_owned()),
                message,
            },
            other => other,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_the_format_by_content() {
        use ConfigFormat::{ActiveMqXml, Toml};
        for (text, format) in [
            ("", Toml),
            ("[stomp]\nport = 1\n", Toml),
            ("# <beans> in a comment\n[core]\n", Toml),
            ("<beans xmlns=\"x\"/>", ActiveMqXml),
            ("  \n<broker/>", ActiveMqXml),
            ("\u{feff}<?xml version=\"1.0\"?>\n<beans/>", ActiveMqXml),
            ("<!-- licence -->\n<beans/>", ActiveMqXml),
        ] {
            assert_eq!(ConfigFormat::detect(text), format, "{text:?}");
        }
    }

    #[test]
    fn from_str_any_dispatches() {
        let toml = BrokerConfig::from_str_any("[stomp]\nport = 1\n").unwrap();
        assert_eq!(toml.format, ConfigFormat::Toml);
        assert_eq!(toml.config.stomp.port, 1);
        assert!(toml.warnings.is_empty());

        let xml = BrokerConfig::from_str_any(
            "<?xml version=\"1.0\"?>\n<!-- c -->\n<broker brokerName=\"b\" schedulerSupport=\"true\">\
             <transportConnectors><transportConnector name=\"stomp\" uri=\"stomp://127.0.0.1:1\"/>\
             </transportConnectors></broker>",
        )
        .unwrap();
        assert_eq!(xml.format, ConfigFormat::ActiveMqXml);
        assert_eq!(xml.config.stomp.port, 1);
        assert_eq!(xml.config.network.bind, "127.0.0.1");
        assert!(xml.warnings.is_empty(), "{:?}", xml.warnings);
        assert!(!xml.config.policy_defaults.prioritized_messages);

        // XML, but not ActiveMQ's: an error naming the root, not a TOML syntax error.
        let err = BrokerConfig::from_str_any("<configuration/>").unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot parse config <string>: line 1: the root element is <configuration>; an \
             activemq.xml has <beans> or <broker>"
        );
    }

    #[test]
    fn load_file_reads_either_format_and_names_the_file() {
        let dir = std::env::temp_dir().join(format!("broker-config-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();

        let good = dir.join("good.toml");
        std::fs::write(&good, "[core]\nmailbox_capacity = 8\n").unwrap();
        let c = BrokerConfig::load_file(&good).unwrap();
        assert_eq!(c.config.core.mailbox_capacity, 8);
        assert_eq!(c.format, ConfigFormat::Toml);

        let bad = dir.join("bad.toml");
        std::fs::write(&bad, "[core]\nmailbox = 8\n").unwrap();
        match BrokerConfig::load_file(&bad) {
            Err(ConfigError::Parse { path, message }) => {
                assert_eq!(path.as_deref(), Some(bad.as_path()));
                assert!(message.contains("unknown field `mailbox`"), "{message}");
            }
            other => panic!("expected a parse error, got {other:?}"),
        }

        let xml = dir.join("activemq.xml");
        std::fs::write(&xml, "<beans><broker useJmx=\"false\"/></beans>").unwrap();
        let c = BrokerConfig::load_file(&xml).unwrap();
        assert_eq!(c.format, ConfigFormat::ActiveMqXml);
        assert!(
            c.warnings
                .contains(&"line 1: broker@useJmx is not supported yet; ignored".to_owned()),
            "{:?}",
            c.warnings
        );

        let bad_xml = dir.join("bad.xml");
        std::fs::write(&bad_xml, "<beans>\n<broker></beans>").unwrap();
        match BrokerConfig::load_file(&bad_xml) {
            Err(e @ ConfigError::Parse { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains("bad.xml: line 2"), "{msg}");
            }
            other => panic!("expected a parse error, got {other:?}"),
        }

        let missing = dir.join("missing.toml");
        let err = BrokerConfig::load_file(&missing).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Io { path, source }
                if path == &missing && source.kind() == std::io::ErrorKind::NotFound),
            "{err:?}"
        );
        assert!(err.to_string().contains("missing.toml"), "{err}");

        std::fs::remove_dir_all(&dir).unwrap();
    }
}
