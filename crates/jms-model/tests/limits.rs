//! The deepest selectors the limits allow parse, evaluate, print, re-parse and drop within a
//! small thread stack, even in a debug build; and matching stays fast on hostile LIKE
//! patterns.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jms_model::{Selector, Value, MAX_DEPTH};

/// Far below the 2 MiB Rust and tokio threads get by default.
const STACK: usize = 512 * 1024;

fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no stack overflow or panic");
}

fn deepest() -> Vec<String> {
    let parens = format!("{}a = 1{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    let nots = format!("{}a", "NOT ".repeat(MAX_DEPTH - 1));
    let negs = format!("{}a = 1", "- ".repeat(MAX_DEPTH - 2));
    let sum = format!("a{} = 1", " + a".repeat(MAX_DEPTH - 2));
    // Alternate NOT and parentheses, the two kinds of nesting.
    let mixed = format!(
        "{}a{}",
        "NOT (".repeat(MAX_DEPTH - 1),
        ")".repeat(MAX_DEPTH - 1)
    );
    // Parentheses around arithmetic around parentheses...
    let arith = format!(
        "{}a{} = 1",
        "-(1 + ".repeat(MAX_DEPTH / 2 - 1),
        ")".repeat(MAX_DEPTH / 2 - 1)
    );
    vec![parens, nots, negs, sum, mixed, arith]
}

#[test]
fn deepest_selectors_fit_a_small_stack() {
    on_small_stack(|| {
        let mut src = HashMap::new();
        src.insert("a".to_owned(), Value::Long(1));
        for text in deepest() {
            let sel = Selector::parse(&text).unwrap_or_else(|e| panic!("{e}"));
            let _ = sel.matches(&src);
            let _ = sel.matches(&());
            // The canonical text of a tree within the limits is itself within the limits.
            let canonical = sel.to_string();
            let again = Selector::parse(&canonical).unwrap_or_else(|e| panic!("{canonical}: {e}"));
            assert_eq!(again.to_string(), canonical);
            assert_eq!(again.evaluate(&src), sel.evaluate(&src));
            drop(sel);
        }
    });
}

#[test]
fn hostile_input_fits_a_small_stack() {
    on_small_stack(|| {
        for text in [
            "(".repeat(60_000),
            "NOT ".repeat(16_000),
            "-".repeat(60_000),
            format!("a{}", " + a".repeat(16_000)),
        ] {
            assert!(Selector::parse(&text).is_err());
        }
    });
}

#[test]
fn like_matching_is_not_exponential() {
    let pattern = "%a%a%a%a%a%a%a%a%a%a%a%a%b";
    let sel = Selector::parse(&format!("s LIKE '{pattern}'")).unwrap();
    let mut src = HashMap::new();
    src.insert("s".to_owned(), Value::String("a".repeat(60_000).into()));
    let start = Instant::now();
    for _ in 0..10 {
        assert!(!sel.matches(&src));
    }
    // A backtracking matcher takes astronomically long here; ours is linear in practice.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
}
