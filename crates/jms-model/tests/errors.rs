//! Invalid selectors: each is refused with the position (a 0-based character offset) and
//! message a user needs to fix it.

use jms_model::{Selector, SelectorError, MAX_DEPTH, MAX_SELECTOR_LEN};

fn error(selector: &str) -> SelectorError {
    match Selector::parse(selector) {
        Ok(sel) => panic!("{selector:?} parsed as {sel}"),
        Err(e) => e,
    }
}

#[track_caller]
fn check(selector: &str, position: usize, message: &str) {
    let e = error(selector);
    assert_eq!(
        (e.position, e.message.as_str()),
        (position, message),
        "{selector:?}"
    );
}

#[test]
fn syntax_errors() {
    check(
        "a = ",
        4,
        "unexpected end of selector: expected an expression",
    );
    check("a === 1", 3, "expected an expression, found '='");
    check("a == 1", 3, "expected an expression, found '='");
    check(
        "a = 1 = 2",
        6,
        "expected AND, OR or end of selector, found '='",
    );
    check(
        "a = 1 b = 2",
        6,
        "expected AND, OR or end of selector, found 'b'",
    );
    check("(a = 1", 6, "expected ')', found end of selector");
    check(
        "a = 1)",
        5,
        "expected AND, OR or end of selector, found ')'",
    );
    check("()", 1, "expected an expression, found ')'");
    check(
        "a AND",
        5,
        "unexpected end of selector: expected an expression",
    );
    check("AND a", 0, "expected an expression, found 'AND'");
    check(
        "a NOT = 1",
        6,
        "expected BETWEEN, IN or LIKE after NOT, found '='",
    );
    check("a IS 5", 5, "expected NULL, found '5'");
    check("a IS NOT", 8, "expected NULL, found end of selector");
    check(
        "a BETWEEN 1 OR 2",
        12,
        "expected AND in BETWEEN, found 'OR'",
    );
    check("a IN 'x'", 5, "expected '(' after IN, found ''x''");
    check(
        "a IN ()",
        6,
        "expected a string literal in the IN list, found ')'",
    );
    check(
        "a IN ('x',)",
        10,
        "expected a string literal in the IN list, found ')'",
    );
    check(
        "a IN ('x' 'y')",
        10,
        "expected ',' or ')' in the IN list, found ''y''",
    );
    check(
        "a IN (1)",
        6,
        "expected a string literal in the IN list, found '1'",
    );
    check(
        "a LIKE 5",
        7,
        "expected a string literal pattern after LIKE, found '5'",
    );
    check(
        "a LIKE b",
        7,
        "expected a string literal pattern after LIKE, found 'b'",
    );
    check(
        "a LIKE 'x' ESCAPE 'ab'",
        18,
        "the ESCAPE string must be exactly one character",
    );
    check(
        "a LIKE 'x' ESCAPE ''",
        18,
        "the ESCAPE string must be exactly one character",
    );
    check(
        "a = NULL",
        4,
        "NULL can only be used in IS NULL or IS NOT NULL",
    );
    check(
        "NULL IS NULL",
        0,
        "NULL can only be used in IS NULL or IS NOT NULL",
    );
}

#[test]
fn lexical_errors() {
    check("a = #", 4, "unexpected character '#'");
    check("a != 1", 2, "unexpected character '!'");
    check("a = 'abc", 4, "unterminated string literal");
    check("a = 'it''s", 4, "unterminated string literal");
    check("a = \"x\"", 4, "unexpected character '\"'");
    check("a = 5x", 4, "invalid numeric literal '5x'");
    check("a = 09", 4, "invalid octal literal");
    check("a = 1e400", 4, "floating-point literal out of range");
    check("a = 9223372036854775808", 4, "integer literal out of range");
    check(
        "a = +9223372036854775808",
        5,
        "integer literal out of range",
    );
    check(
        "a = 99999999999999999999",
        4,
        "integer literal out of range",
    );
    check("a.b = 1", 1, "unexpected character '.'");
    // SQL comments are not part of the JMS grammar (§3.8.1.3); `--` is two minus signs.
    check("a = 1 /* note */", 7, "expected an expression, found '*'");
    check(
        "a = 1 -- note\n AND",
        18,
        "unexpected end of selector: expected an expression",
    );
    assert!(Selector::parse("5--3 = 8").unwrap().matches(&()));
    // Positions count characters, not bytes, and include the prefix.
    check("é = 'ü' AND #", 12, "unexpected character '#'");
    check(
        "convert_string_expressions:a = ",
        31,
        "unexpected end of selector: expected an expression",
    );
}

#[test]
fn empty_selectors() {
    check("", 0, "empty selector");
    check("  \t\r\n", 0, "empty selector");
    check("convert_string_expressions:", 27, "empty selector");
    check("convert_string_expressions: ", 27, "empty selector");
}

#[test]
fn type_errors() {
    check(
        "a + 1",
        0,
        "expected a condition (a comparison, a boolean identifier, TRUE or FALSE), found a number",
    );
    check(
        "'x'",
        0,
        "expected a condition (a comparison, a boolean identifier, TRUE or FALSE), found a string",
    );
    check(
        "a = 1 AND 5",
        10,
        "expected a condition (a comparison, a boolean identifier, TRUE or FALSE), found a number",
    );
    check(
        "NOT 'x' OR a",
        4,
        "expected a condition (a comparison, a boolean identifier, TRUE or FALSE), found a string",
    );
    check(
        "'x' > 1",
        0,
        "an ordering comparison (<, <=, >, >=) needs numbers, found a string",
    );
    check(
        "a < TRUE",
        4,
        "an ordering comparison (<, <=, >, >=) needs numbers, found a boolean",
    );
    check(
        "(a = 1) > 0",
        1,
        "an ordering comparison (<, <=, >, >=) needs numbers, found a boolean",
    );
    check("TRUE = 1", 7, "cannot compare a boolean with a number");
    check("'x' = 1", 6, "cannot compare a string with a number");
    check(
        "(a = 1) <> 'x'",
        11,
        "cannot compare a boolean with a string",
    );
    check("a + 'x' > 1", 4, "arithmetic needs numbers, found a string");
    check("-'x' = a", 1, "unary - needs numbers, found a string");
    check("+TRUE = a", 1, "unary + needs numbers, found a boolean");
    check(
        "a BETWEEN 'a' AND 'z'",
        10,
        "BETWEEN needs numbers, found a string",
    );
    check("1 LIKE 'x'", 0, "LIKE needs an identifier on its left");
    check("'x' IN ('x')", 0, "IN needs an identifier on its left");
    check("a + 1 IN ('x')", 0, "IN needs an identifier on its left");
}

#[test]
fn display_is_the_documented_format() {
    let e = error("a = ");
    assert_eq!(
        e.to_string(),
        "invalid selector at position 4: unexpected end of selector: expected an expression"
    );
    // Long tokens are shortened in messages.
    let long = format!("a = 1 {}", "x".repeat(100));
    assert_eq!(
        error(&long).message,
        format!(
            "expected AND, OR or end of selector, found '{}...'",
            "x".repeat(24)
        )
    );
}

#[test]
fn length_limit() {
    let max = format!("a IN ('{}')", "x".repeat(MAX_SELECTOR_LEN - 9));
    assert_eq!(max.len(), MAX_SELECTOR_LEN);
    assert!(Selector::parse(&max).is_ok());
    let over = format!("a IN ('{}')", "x".repeat(MAX_SELECTOR_LEN - 8));
    check(&over, MAX_SELECTOR_LEN, "selector longer than 65536 bytes");
    // The position is in characters: two-byte characters halve it.
    let wide = format!("a IN ('{}')", "é".repeat(MAX_SELECTOR_LEN / 2));
    let e = error(&wide);
    assert_eq!(e.position, 7 + (MAX_SELECTOR_LEN - 7).div_ceil(2));
}

#[test]
fn nesting_limit_for_parentheses() {
    let nested = |n: usize| format!("{}a{}", "(".repeat(n), ")".repeat(n));
    assert!(Selector::parse(&nested(MAX_DEPTH)).is_ok());
    check(
        &nested(MAX_DEPTH + 1),
        MAX_DEPTH,
        "expression nested more than 128 deep",
    );
    // Far past the limit: an error, not a stack overflow.
    let e = error(&nested(30_000));
    assert_eq!(e.position, MAX_DEPTH);
}

#[test]
fn nesting_limit_for_expression_trees() {
    // `NOT NOT ... a`: one node per NOT over the identifier.
    let nots = |n: usize| format!("{}a", "NOT ".repeat(n));
    assert!(Selector::parse(&nots(MAX_DEPTH - 1)).is_ok());
    assert_eq!(
        error(&nots(MAX_DEPTH)).message,
        "expression nested more than 128 deep"
    );
    assert!(error(&nots(16_000)).message.contains("nested"));
    // `- - ... a = 1`: signs nest the same way, under the comparison.
    let negs = |n: usize| format!("{}a = 1", "- ".repeat(n));
    assert!(Selector::parse(&negs(MAX_DEPTH - 2)).is_ok());
    assert!(error(&negs(MAX_DEPTH - 1)).message.contains("nested"));
    // Left-associative arithmetic chains nest without parentheses.
    let sum = |n: usize| format!("a{} = 1", " + a".repeat(n));
    assert!(Selector::parse(&sum(MAX_DEPTH - 2)).is_ok());
    assert!(error(&sum(MAX_DEPTH - 1)).message.contains("nested"));
    assert!(error(&sum(10_000)).message.contains("nested"));
    // AND / OR chains are flat: thousands of terms are fine.
    let terms: Vec<String> = (0..5_000).map(|i| format!("a = {i}")).collect();
    assert!(Selector::parse(&terms.join(" OR ")).is_ok());
    assert!(Selector::parse(&terms.join(" AND ")).is_ok());
}

/// The table in docs/selectors.md ("Errors").
#[test]
fn documented_examples() {
    let rows = [
        (
            "weight > ",
            9,
            "unexpected end of selector: expected an expression",
        ),
        ("weight === 1", 8, "expected an expression, found '='"),
        ("color = 'blue", 8, "unterminated string literal"),
        ("color = #", 8, "unexpected character '#'"),
        (
            "a = 1 = 2",
            6,
            "expected AND, OR or end of selector, found '='",
        ),
        (
            "color = NULL",
            8,
            "NULL can only be used in IS NULL or IS NOT NULL",
        ),
        (
            "'x' > 1",
            0,
            "an ordering comparison (<, <=, >, >=) needs numbers, found a string",
        ),
    ];
    for (selector, position, message) in rows {
        check(selector, position, message);
    }
    assert_eq!(
        error("weight > ").to_string(),
        "invalid selector at position 9: unexpected end of selector: expected an expression"
    );
}
