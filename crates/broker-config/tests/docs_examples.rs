//! The TOML examples in docs/configuration.md parse and validate, so the reference cannot
//! drift from the model.

use broker_config::BrokerConfig;

const DOC: &str = include_str!("../../../docs/configuration.md");

/// The bodies of the doc's ```toml blocks.
fn toml_blocks() -> Vec<&'static str> {
    let mut blocks = Vec::new();
    let mut rest = DOC;
    while let Some(start) = rest.find("```toml\n") {
        let body = &rest[start + "```toml\n".len()..];
        let end = body.find("```").expect("unterminated ```toml block");
        blocks.push(&body[..end]);
        rest = &body[end + 3..];
    }
    blocks
}

#[test]
fn toml_examples_are_valid() {
    let blocks = toml_blocks();
    assert!(
        blocks.len() >= 2,
        "expected the policy examples, found {blocks:?}"
    );
    for block in blocks {
        let cfg =
            BrokerConfig::from_toml_str(block).unwrap_or_else(|e| panic!("{e}\nin:\n{block}"));
        cfg.validate()
            .unwrap_or_else(|e| panic!("{e}\nin:\n{block}"));
        assert_ne!(
            cfg,
            BrokerConfig::default(),
            "example sets nothing:\n{block}"
        );
    }
}
