//! The JMS model shared by ferromq's protocol adapters and its core: header field names and
//! defaults ([`headers`], [`DEFAULT_PRIORITY`]) and the JMS message selector language
//! ([`Selector`]), per Jakarta Messaging 3.1 §3.8 and ActiveMQ Classic's behaviour.
//!
//! # Invariants
//!
//! - **Pure.** No I/O, clocks, tasks or global state; depends only on `nom` and `thiserror`.
//! - **Parse once, evaluate per message.** [`Selector::parse`] builds the expression tree and
//!   compiles every `LIKE` pattern; [`Selector::matches`] only walks the tree, borrowing
//!   values from the [`SelectorSource`] (no allocation unless the source hands out owned
//!   strings).
//! - **Bounded.** A selector longer than [`MAX_SELECTOR_LEN`] bytes, or nested deeper than
//!   [`MAX_DEPTH`], is a [`SelectorError`]. The parser uses explicit stacks, not recursion,
//!   and the depth limit keeps the recursive evaluator, `Display` and `Drop` within a small
//!   stack, so a hostile selector cannot overflow it. `AND`/`OR` chains are flat and do not
//!   count towards the depth. `LIKE` matching is O(text × pattern), never exponential.
//! - **Total.** Parsing and evaluation never panic, whatever the text or the values: long
//!   arithmetic wraps like Java's, division by zero is UNKNOWN.
//! - **Canonical text.** A selector's `Display` is a fully parenthesised form that parses
//!   back to the same expression (property-tested).
//!
//! # Semantics in brief
//!
//! SQL three-valued logic: a missing identifier is NULL, comparisons and arithmetic with NULL
//! are UNKNOWN, and only TRUE matches. Values of unlike types never compare equal, and the
//! comparison is FALSE (not UNKNOWN), for `<>` too. Strings are not read as numbers unless
//! the selector starts with `convert_string_expressions:` (ActiveMQ's switch for STOMP,
//! whose headers are all strings). The full rules, and where ActiveMQ differs, are in
//! `docs/selectors.md`.
//!
//! # Example
//!
//! ```
//! use std::collections::HashMap;
//! use jms_model::{Selector, Value};
//!
//! let sel = Selector::parse("JMSType = 'car' AND color = 'blue' AND weight > 2500").unwrap();
//! let mut msg = HashMap::new();
//! msg.insert("JMSType".to_owned(), Value::String("car".into()));
//! msg.insert("color".to_owned(), Value::String("blue".into()));
//! msg.insert("weight".to_owned(), Value::Long(3000));
//! assert!(sel.matches(&msg));
//!
//! // A STOMP header is a string: no match unless conversion is asked for.
//! msg.insert("weight".to_owned(), Value::String("3000".into()));
//! assert!(!sel.matches(&msg));
//! let converting = Selector::parse(
//!     "convert_string_expressions:JMSType = 'car' AND weight > 2500",
//! ).unwrap();
//! assert!(converting.matches(&msg));
//!
//! let err = Selector::parse("weight > ").unwrap_err();
//! assert_eq!(err.position, 9);
//! ```
#![deny(missing_docs, missing_debug_implementations)]

mod ast;
mod error;
mod eval;
pub mod headers;
mod lex;
mod like;
mod parse;
#[cfg(test)]
mod proptests;
mod value;

use std::fmt;

pub use error::SelectorError;
pub use value::{SelectorSource, Value};

/// The priority of a message whose sender set none (JMS `Message.DEFAULT_PRIORITY`).
pub const DEFAULT_PRIORITY: u8 = 4;

/// The prefix that turns on ActiveMQ's string-to-number (and string-to-boolean) conversion
/// in comparisons and arithmetic. It must be the very first characters of the selector.
pub const CONVERT_STRING_EXPRESSIONS_PREFIX: &str = "convert_string_expressions:";

/// The longest selector accepted, in bytes of UTF-8. Real selectors are a few hundred bytes;
/// 64 KiB leaves room for machine-generated `IN` lists while bounding the work per parse.
pub const MAX_SELECTOR_LEN: usize = 64 * 1024;

/// How deep parentheses, `NOT`s, unary signs and arithmetic may nest. Far beyond anything
/// written by hand, and small enough that evaluating, printing and dropping the deepest tree
/// needs about 230 KiB of stack in a debug build and 45 KiB in release (`tests/limits.rs`
/// runs it on a 512 KiB thread); tokio and std threads get 2 MiB.
pub const MAX_DEPTH: usize = 128;

/// A parsed selector; parse once per subscription, evaluate per message.
#[derive(Debug, Clone)]
pub struct Selector {
    text: String,
    convert: bool,
    expr: ast::Expr,
}

impl Selector {
    /// Parses a selector. An empty or all-whitespace text is an error here (callers treat "" as no selector).
    pub fn parse(text: &str) -> Result<Self, SelectorError> {
        Self::parse_with(text, false)
    }

    /// Parses a selector with string conversion on whether or not it carries the
    /// [`CONVERT_STRING_EXPRESSIONS_PREFIX`]: what ActiveMQ does for every STOMP
    /// subscription, whose headers can only be strings (`weight > 2500` selects
    /// `weight:3000`). Positions in errors count from the start of `text`.
    pub fn parse_converting(text: &str) -> Result<Self, SelectorError> {
        Self::parse_with(text, true)
    }

    fn parse_with(text: &str, force_convert: bool) -> Result<Self, SelectorError> {
        if text.len() > MAX_SELECTOR_LEN {
            let position = text
                .char_indices()
                .take_while(|&(i, _)| i < MAX_SELECTOR_LEN)
                .count();
            return Err(SelectorError::new(
                position,
                format!("selector longer than {MAX_SELECTOR_LEN} bytes"),
            ));
        }
        // ActiveMQ: a case-sensitive prefix, stripped before parsing.
        let (convert, body, base) = match text.strip_prefix(CONVERT_STRING_EXPRESSIONS_PREFIX) {
            Some(body) => (true, body, CONVERT_STRING_EXPRESSIONS_PREFIX.len()),
            None => (force_convert, text, 0),
        };
        let tokens = lex::tokenize(body, base)?;
        if tokens.len() == 1 {
            return Err(SelectorError::new(base, "empty selector"));
        }
        let expr = parse::Parser::new(tokens, convert).selector()?;
        Ok(Self {
            text: text.to_owned(),
            convert,
            expr,
        })
    }

    /// The selector text as given.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether string values convert to numbers and booleans: the selector started with
    /// [`CONVERT_STRING_EXPRESSIONS_PREFIX`] or was parsed with [`Selector::parse_converting`].
    pub fn converts_string_expressions(&self) -> bool {
        self.convert
    }

    /// True only when the expression evaluates to TRUE (UNKNOWN and FALSE do not match).
    pub fn matches(&self, source: &dyn SelectorSource) -> bool {
        self.evaluate(source) == Some(true)
    }

    /// The expression's truth value: `Some(true)`, `Some(false)`, or `None` for UNKNOWN.
    pub fn evaluate(&self, source: &dyn SelectorSource) -> Option<bool> {
        let eval = eval::Eval {
            source,
            convert: self.convert,
        };
        match eval.truth(&self.expr) {
            eval::Truth::True => Some(true),
            eval::Truth::False => Some(false),
            eval::Truth::Unknown => None,
        }
    }
}

/// The canonical form: keywords in upper case, every compound expression in parentheses,
/// `IN` lists sorted and de-duplicated, and the conversion prefix if it was given. It parses
/// to a selector that behaves identically; [`Selector::text`] keeps the original.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.convert {
            f.write_str(CONVERT_STRING_EXPRESSIONS_PREFIX)?;
        }
        write!(f, "{}", self.expr)
    }
}
