//! Every example and truth-table row of Jakarta Messaging 3.1 §3.8.1 ("Message selector"),
//! plus the type rules and ActiveMQ's `convert_string_expressions:` switch.

use std::borrow::Cow;
use std::collections::HashMap;

use jms_model::{Selector, SelectorSource, Value};

/// A message as (name, value) pairs.
fn msg(props: &[(&str, Value<'static>)]) -> HashMap<String, Value<'static>> {
    props
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn s(v: &str) -> Value<'static> {
    Value::String(Cow::Owned(v.to_owned()))
}

/// The selector's truth value on `src`: `Some(true)`, `Some(false)` or `None` (UNKNOWN).
fn eval(selector: &str, src: &dyn SelectorSource) -> Option<bool> {
    let sel = Selector::parse(selector).unwrap_or_else(|e| panic!("{selector:?}: {e}"));
    let truth = sel.evaluate(src);
    assert_eq!(sel.matches(src), truth == Some(true), "{selector:?}");
    // Cross-check UNKNOWN through the language itself: `(x) IS NULL` is TRUE exactly then.
    let (prefix, body) = match selector.strip_prefix(jms_model::CONVERT_STRING_EXPRESSIONS_PREFIX) {
        Some(body) => (jms_model::CONVERT_STRING_EXPRESSIONS_PREFIX, body),
        None => ("", selector),
    };
    let is_null = Selector::parse(&format!("{prefix}({body}) IS NULL")).unwrap();
    assert_eq!(is_null.matches(src), truth.is_none(), "{selector:?}");
    truth
}

fn matches(selector: &str, src: &dyn SelectorSource) -> bool {
    eval(selector, src) == Some(true)
}

const T: Option<bool> = Some(true);
const F: Option<bool> = Some(false);
const U: Option<bool> = None;

/// `t` is TRUE, `f` is FALSE, `u` is NULL (absent).
fn tfu() -> HashMap<String, Value<'static>> {
    msg(&[("t", Value::Bool(true)), ("f", Value::Bool(false))])
}

#[test]
fn table_3_4_and() {
    let src = tfu();
    let rows = [("t", [T, F, U]), ("f", [F, F, F]), ("u", [U, F, U])];
    for (left, expected) in rows {
        for (right, want) in ["t", "f", "u"].into_iter().zip(expected) {
            assert_eq!(
                eval(&format!("{left} AND {right}"), &src),
                want,
                "{left} AND {right}"
            );
        }
    }
}

#[test]
fn table_3_5_or() {
    let src = tfu();
    let rows = [("t", [T, T, T]), ("f", [T, F, U]), ("u", [T, U, U])];
    for (left, expected) in rows {
        for (right, want) in ["t", "f", "u"].into_iter().zip(expected) {
            assert_eq!(
                eval(&format!("{left} OR {right}"), &src),
                want,
                "{left} OR {right}"
            );
        }
    }
}

#[test]
fn table_3_6_not() {
    let src = tfu();
    assert_eq!(eval("NOT t", &src), F);
    assert_eq!(eval("NOT f", &src), T);
    assert_eq!(eval("NOT u", &src), U);
}

#[test]
fn flat_chains_follow_the_tables() {
    let src = tfu();
    assert_eq!(eval("t AND t AND u", &src), U);
    assert_eq!(eval("u AND t AND f", &src), F);
    assert_eq!(eval("f OR u OR f", &src), U);
    assert_eq!(eval("u OR f OR t", &src), T);
}

#[test]
fn the_car_example() {
    let sel = "JMSType = 'car' AND color = 'blue' AND weight > 2500";
    let car = msg(&[
        ("JMSType", s("car")),
        ("color", s("blue")),
        ("weight", Value::Long(3000)),
    ]);
    assert_eq!(eval(sel, &car), T);
    let light = msg(&[
        ("JMSType", s("car")),
        ("color", s("blue")),
        ("weight", Value::Long(2500)),
    ]);
    assert_eq!(eval(sel, &light), F);
    let unweighed = msg(&[("JMSType", s("car")), ("color", s("blue"))]);
    assert_eq!(eval(sel, &unweighed), U);
    let red = msg(&[("JMSType", s("car")), ("color", s("red"))]);
    assert_eq!(eval(sel, &red), F, "FALSE AND UNKNOWN is FALSE");
}

#[test]
fn literals() {
    let src = msg(&[
        ("str", s("literal's")),
        ("n", Value::Long(57)),
        ("d", Value::Double(7000.0)),
    ]);
    assert!(matches("str = 'literal''s'", &src));
    assert!(matches("'literal' <> str", &src));
    // Exact numerics, signs included.
    assert!(matches("n = 57", &src));
    assert!(matches("-n = -57", &src));
    assert!(matches("n - 1014 = -957", &src));
    assert!(matches("n + 5 = +62", &src));
    assert!(matches("n = 57L", &src));
    assert!(matches("n = 0x39", &src));
    assert!(matches("n = 071", &src));
    // Approximate numerics.
    assert!(matches("d = 7E3", &src));
    assert!(matches("d = 7e3", &src));
    assert!(matches("-5790 = -57.9E2", &src));
    assert!(matches("7. = 7", &src));
    assert!(matches("-95.7 < -95", &src));
    assert!(matches("+6.2 > 6", &src));
    assert!(matches(".5 = 0.5", &src));
    // Boolean literals, any case.
    assert!(matches("TRUE", &src));
    assert!(matches("true AND True", &src));
    assert!(!matches("FALSE", &src));
    assert!(matches("NOT false", &src));
    // Java's long range, including Long.MIN_VALUE written as a literal.
    assert!(matches("-9223372036854775808 < 9223372036854775807", &src));
}

#[test]
fn identifiers() {
    let src = msg(&[
        ("JMSType", s("car")),
        ("_under", Value::Long(1)),
        ("$dollar", Value::Long(2)),
        ("café", Value::Long(3)),
        ("a1", Value::Long(4)),
    ]);
    assert!(matches("JMSType = 'car'", &src));
    // Identifiers are case-sensitive: `jmstype` is another, absent, property.
    assert_eq!(eval("jmstype = 'car'", &src), U);
    assert!(matches("_under + $dollar + café + a1 = 10", &src));
    // Keywords are case-insensitive and reserved.
    for kw in [
        "null", "True", "fAlSe", "not", "And", "OR", "between", "like", "in", "is", "escape",
    ] {
        assert!(Selector::parse(&format!("{kw} = 1")).is_err(), "{kw}");
    }
    assert!(matches(
        "isx IS NULL AND notx IS NULL AND nullable IS NULL",
        &src
    ));
}

#[test]
fn null_values() {
    let src = msg(&[
        ("n", Value::Long(1)),
        ("s", s("x")),
        ("b", Value::Bool(true)),
    ]);
    // Comparison or arithmetic with an unknown value is unknown.
    for sel in [
        "u = 1",
        "1 = u",
        "u <> 1",
        "u < 1",
        "u >= 1",
        "u = 's'",
        "'s' <> u",
        "u = TRUE",
        "u + 1 = 2",
        "n + u = 2",
        "-u = 1",
        "n * u > 0",
        "u / 2 < 1",
        "u BETWEEN 1 AND 2",
        "u NOT BETWEEN 1 AND 2",
        "u IN ('a')",
        "u NOT IN ('a')",
        "u LIKE 'a%'",
        "u NOT LIKE 'a%'",
        "u",
        "NOT u",
    ] {
        assert_eq!(eval(sel, &src), U, "{sel}");
    }
    // IS NULL and IS NOT NULL turn unknown into TRUE/FALSE.
    assert_eq!(eval("u IS NULL", &src), T);
    assert_eq!(eval("u IS NOT NULL", &src), F);
    assert_eq!(eval("n IS NULL", &src), F);
    assert_eq!(eval("n IS NOT NULL", &src), T);
    assert_eq!(eval("s IS NOT NULL AND b IS NOT NULL", &src), T);
    assert_eq!(eval("u + 1 IS NULL", &src), T);
    // A NULL bound makes only its half unknown.
    assert_eq!(eval("n BETWEEN u AND 0", &src), F);
    assert_eq!(eval("n BETWEEN 0 AND u", &src), U);
    assert_eq!(eval("n NOT BETWEEN u AND 0", &src), T);
}

#[test]
fn comparisons_and_types() {
    let src = msg(&[
        ("n", Value::Long(2)),
        ("d", Value::Double(2.0)),
        ("s", s("2")),
        ("b", Value::Bool(true)),
        ("s2", s("abc")),
        ("nan", Value::Double(f64::NAN)),
    ]);
    // Exact and approximate numerics compare after promotion.
    assert_eq!(eval("n = d", &src), T);
    assert_eq!(eval("n = 2.0", &src), T);
    assert_eq!(eval("n < 2.5", &src), T);
    assert_eq!(eval("d >= 2", &src), T);
    assert_eq!(eval("n <> 3", &src), T);
    assert_eq!(eval("n <= 1", &src), F);
    // Unlike types: FALSE, for <> as well.
    assert_eq!(eval("s = 2", &src), F);
    assert_eq!(eval("s <> 2", &src), F);
    assert_eq!(eval("s > 1", &src), F);
    assert_eq!(eval("b = 1", &src), F);
    assert_eq!(eval("n = s", &src), F);
    assert_eq!(eval("b <> s2", &src), F);
    assert_eq!(eval("s BETWEEN 1 AND 3", &src), F);
    assert_eq!(eval("s NOT BETWEEN 1 AND 3", &src), F);
    assert_eq!(eval("n IN ('2')", &src), F);
    assert_eq!(eval("n NOT IN ('2')", &src), F);
    assert_eq!(eval("n LIKE '2'", &src), F);
    assert_eq!(eval("n NOT LIKE '2'", &src), F);
    // Strings and booleans: = and <> only; ordering between two of them is FALSE.
    assert_eq!(eval("s2 = 'abc'", &src), T);
    assert_eq!(eval("s2 <> 'abd'", &src), T);
    assert_eq!(eval("s2 > s", &src), F);
    assert_eq!(eval("s2 < s", &src), F);
    assert_eq!(eval("b = TRUE", &src), T);
    assert_eq!(eval("b <> FALSE", &src), T);
    assert_eq!(eval("b > b", &src), F);
    // A non-boolean where a condition is expected is FALSE (ActiveMQ's boolean cast).
    assert_eq!(eval("s2", &src), F);
    assert_eq!(eval("NOT s2", &src), T);
    // NaN: nothing is equal or ordered, everything is different (Java's == and !=).
    assert_eq!(eval("nan = nan", &src), F);
    assert_eq!(eval("nan < 1", &src), F);
    assert_eq!(eval("nan <> 1", &src), T);
    // Comparison results compare as booleans when parenthesised.
    assert_eq!(eval("(n = 2) = TRUE", &src), T);
    assert_eq!(eval("(n = 2) <> (d = 2)", &src), F);
}

#[test]
fn a_string_is_not_a_number_by_default() {
    // §3.8.1.1: setStringProperty("NumberOfOrders", "2"); "NumberOfOrders > 1" is false.
    let src = msg(&[("NumberOfOrders", s("2"))]);
    assert_eq!(eval("NumberOfOrders > 1", &src), F);
    assert_eq!(
        eval("NumberOfOrders + 1 = 3", &src),
        U,
        "arithmetic on a string is unknown"
    );
    assert_eq!(
        eval("convert_string_expressions:NumberOfOrders > 1", &src),
        T
    );
}

#[test]
fn convert_string_expressions() {
    let src = msg(&[
        ("age", s("21")),
        ("price", s(" 9.5 ")),
        ("flag", s("TRUE")),
        ("word", s("abc")),
        ("n", Value::Long(21)),
    ]);
    let c = |sel: &str| eval(&format!("convert_string_expressions:{sel}"), &src);
    // The ActiveMQ documentation's example.
    assert_eq!(c("age > 18"), T);
    assert_eq!(eval("age > 18", &src), F);
    assert_eq!(c("18 < age"), T);
    assert_eq!(c("age = 21.0"), T);
    assert_eq!(c("age = n"), T);
    assert_eq!(c("age BETWEEN 20 AND 22"), T);
    assert_eq!(c("price > 9"), T);
    assert_eq!(c("price * 2 = 19"), T);
    assert_eq!(c("age + 1 = 22"), T);
    assert_eq!(c("-age = -21"), T);
    // Booleans: "true"/"false" in any case.
    assert_eq!(c("flag = TRUE"), T);
    assert_eq!(c("flag <> FALSE"), T);
    // A string that does not read as a number stays a string: unlike types are FALSE and
    // arithmetic is UNKNOWN.
    assert_eq!(c("word > 1"), F);
    assert_eq!(c("word = TRUE"), F);
    assert_eq!(c("word + 1 = 2"), U);
    // Strings still compare as strings with strings.
    assert_eq!(c("age = '21'"), T);
    assert_eq!(c("age = '21.0'"), F);
    // IN and LIKE do not convert.
    assert_eq!(c("n IN ('21')"), F);
    // The prefix is case-sensitive and must come first (as in ActiveMQ).
    assert!(Selector::parse("CONVERT_STRING_EXPRESSIONS:age > 18").is_err());
    assert!(Selector::parse(" convert_string_expressions:age > 18").is_err());
    let sel = Selector::parse("convert_string_expressions:age > 18").unwrap();
    assert!(sel.converts_string_expressions());
    assert_eq!(sel.text(), "convert_string_expressions:age > 18");
    assert!(!Selector::parse("age > 18")
        .unwrap()
        .converts_string_expressions());
    // Static checks relax only where conversion can make sense.
    assert!(Selector::parse("age = '5' AND 5 = '5'").is_err());
    assert!(Selector::parse("convert_string_expressions:5 = '5'").is_ok());
    assert!(Selector::parse("convert_string_expressions:'5' > 4").is_err());
}

#[test]
fn precedence_and_associativity() {
    let src = tfu();
    // NOT binds tighter than AND, which binds tighter than OR.
    assert_eq!(eval("t OR f AND f", &src), T);
    assert_eq!(eval("(t OR f) AND f", &src), F);
    assert_eq!(eval("NOT t OR t", &src), T);
    assert_eq!(eval("NOT f AND f", &src), F);
    assert_eq!(eval("NOT NOT t", &src), T);
    // Comparisons bind tighter than NOT (SQL): NOT applies to the whole comparison.
    let src = msg(&[("a", Value::Long(1)), ("color", s("red"))]);
    assert_eq!(eval("NOT a = 2", &src), T);
    assert_eq!(eval("NOT color = 'blue'", &src), T);
    // Arithmetic: unary, then * /, then + -, left to right within a level.
    assert!(matches("2 + 3 * 4 = 14", &src));
    assert!(matches("(2 + 3) * 4 = 20", &src));
    assert!(matches("10 - 2 - 3 = 5", &src));
    assert!(matches("12 / 2 / 3 = 2", &src));
    assert!(matches("-2 * -3 = 6", &src));
    assert!(matches("- -a = 1", &src));
    assert!(matches("-(a + 1) = -2", &src));
    assert!(matches("a + 1 > 1 AND a * 2 < 3", &src));
}

#[test]
fn arithmetic_follows_java() {
    let src = msg(&[
        ("a", Value::Long(7)),
        ("z", Value::Long(0)),
        ("zd", Value::Double(0.0)),
    ]);
    // long op long stays long: truncating division.
    assert_eq!(eval("a / 2 = 3", &src), T);
    assert_eq!(eval("-a / 2 = -3", &src), T);
    assert_eq!(eval("a / 2.0 = 3.5", &src), T);
    assert_eq!(eval("a * 1.5 = 10.5", &src), T);
    // Division by zero is UNKNOWN (Java would throw).
    assert_eq!(eval("a / z = 1", &src), U);
    assert_eq!(eval("a / zd = 1", &src), U);
    assert_eq!(eval("a / 0 > 0 OR TRUE", &src), T);
    // Overflow wraps, as Java's long arithmetic does.
    assert_eq!(
        eval("9223372036854775807 + 1 = -9223372036854775808", &src),
        T
    );
    assert_eq!(
        eval("-9223372036854775808 / -1 = -9223372036854775808", &src),
        T
    );
    assert_eq!(
        eval("-(-9223372036854775808) = -9223372036854775808", &src),
        T
    );
}

#[test]
fn between() {
    let at = |age: i64| msg(&[("age", Value::Long(age))]);
    for (age, inside) in [(14, false), (15, true), (17, true), (19, true), (20, false)] {
        let src = at(age);
        // "age BETWEEN 15 AND 19" is equivalent to "age >= 15 AND age <= 19".
        assert_eq!(matches("age BETWEEN 15 AND 19", &src), inside, "{age}");
        assert_eq!(matches("age >= 15 AND age <= 19", &src), inside, "{age}");
        // "age NOT BETWEEN 15 AND 19" is equivalent to "age < 15 OR age > 19".
        assert_eq!(matches("age NOT BETWEEN 15 AND 19", &src), !inside, "{age}");
        assert_eq!(matches("age < 15 OR age > 19", &src), !inside, "{age}");
    }
    let src = msg(&[("x", Value::Double(1.5))]);
    assert!(matches("x BETWEEN 1 AND 2", &src));
    assert!(matches("x + 1 BETWEEN 2 * 1 AND 5 - 2 AND TRUE", &src));
    assert!(matches("x between 1 and 2", &src));
}

#[test]
fn in_lists() {
    let sel = "Country IN ('UK', 'US', 'France')";
    let not = "Country NOT IN ('UK', 'US', 'France')";
    let or = "(Country = 'UK') OR (Country = 'US') OR (Country = 'France')";
    let uk = msg(&[("Country", s("UK"))]);
    let peru = msg(&[("Country", s("Peru"))]);
    let none = msg(&[]);
    assert_eq!(eval(sel, &uk), T);
    assert_eq!(eval(sel, &peru), F);
    assert_eq!(eval(or, &uk), T);
    assert_eq!(eval(or, &peru), F);
    assert_eq!(eval(not, &uk), F);
    assert_eq!(eval(not, &peru), T);
    assert_eq!(eval(&format!("NOT ({or})"), &peru), T);
    // If the identifier is NULL, IN and NOT IN are unknown.
    assert_eq!(eval(sel, &none), U);
    assert_eq!(eval(not, &none), U);
    // Matching is exact and case-sensitive.
    assert_eq!(eval("Country IN ('uk', 'UK ')", &uk), F);
    assert_eq!(eval("Country IN ('UK')", &uk), T);
}

#[test]
fn like() {
    let p = |v: &str| msg(&[("phone", s(v)), ("word", s(v)), ("underscored", s(v))]);
    // "phone LIKE '12%3'" is true for '123' or '12993' and false for '1234'.
    assert!(matches("phone LIKE '12%3'", &p("123")));
    assert!(matches("phone LIKE '12%3'", &p("12993")));
    assert_eq!(eval("phone LIKE '12%3'", &p("1234")), F);
    // "word LIKE 'l_se'" is true for 'lose' and false for 'loose'.
    assert!(matches("word LIKE 'l_se'", &p("lose")));
    assert_eq!(eval("word LIKE 'l_se'", &p("loose")), F);
    // "underscored LIKE '\_%' ESCAPE '\'" is true for '_foo' and false for 'bar'.
    assert!(matches("underscored LIKE '\\_%' ESCAPE '\\'", &p("_foo")));
    assert_eq!(eval("underscored LIKE '\\_%' ESCAPE '\\'", &p("bar")), F);
    // "phone NOT LIKE '12%3'" is false for '123' and '12993' and true for '1234'.
    assert_eq!(eval("phone NOT LIKE '12%3'", &p("123")), F);
    assert_eq!(eval("phone NOT LIKE '12%3'", &p("12993")), F);
    assert_eq!(eval("phone NOT LIKE '12%3'", &p("1234")), T);
    // NULL identifier: unknown.
    assert_eq!(eval("phone LIKE '12%3'", &msg(&[])), U);
    assert_eq!(eval("phone NOT LIKE '12%3'", &msg(&[])), U);
    // The escape character is any single character; `%` in the text is literal data.
    assert!(matches("phone LIKE '100!%' ESCAPE '!'", &p("100%")));
    assert_eq!(eval("phone LIKE '100!%' ESCAPE '!'", &p("1000")), F);
    assert!(matches("phone LIKE 'it''s%'", &p("it's here")));
    assert!(matches("phone like '%' escape '%'", &p("%")));
}

#[test]
fn is_null_and_is_not_null() {
    let src = msg(&[("prop_name", s("v"))]);
    assert_eq!(eval("prop_name IS NULL", &src), F);
    assert_eq!(eval("prop_name IS NOT NULL", &src), T);
    assert_eq!(eval("other IS NULL", &src), T);
    assert_eq!(eval("other IS NOT NULL", &src), F);
    assert_eq!(eval("other is not null or prop_name Is Not Null", &src), T);
}

/// A message as the broker would present it: header fields computed, nothing allocated.
struct Message {
    persistent: bool,
    priority: u8,
    kind: Option<String>,
}

impl SelectorSource for Message {
    fn value(&self, identifier: &str) -> Option<Value<'_>> {
        use jms_model::headers::*;
        match identifier {
            JMS_DELIVERY_MODE => Some(Value::String(Cow::Borrowed(if self.persistent {
                PERSISTENT
            } else {
                NON_PERSISTENT
            }))),
            JMS_PRIORITY => Some(Value::Long(self.priority.into())),
            JMS_TYPE => self
                .kind
                .as_deref()
                .map(|k| Value::String(Cow::Borrowed(k))),
            _ => None,
        }
    }
}

#[test]
fn header_fields() {
    let m = Message {
        persistent: true,
        priority: jms_model::DEFAULT_PRIORITY,
        kind: None,
    };
    // §3.8.1.3: JMSDeliveryMode is treated as 'PERSISTENT' / 'NON_PERSISTENT'.
    assert_eq!(eval("JMSDeliveryMode = 'PERSISTENT'", &m), T);
    assert_eq!(eval("JMSDeliveryMode = 'NON_PERSISTENT'", &m), F);
    assert_eq!(eval("JMSPriority = 4", &m), T);
    assert_eq!(eval("JMSPriority > 4", &m), F);
    // JMSType may be null: unknown.
    assert_eq!(eval("JMSType = 'car'", &m), U);
    assert_eq!(eval("JMSType IS NULL", &m), T);
    assert_eq!(jms_model::headers::DEFAULT_PRIORITY, 4);
}

#[test]
fn empty_source_and_owned_values() {
    assert_eq!(eval("a = 1", &()), U);
    assert_eq!(eval("TRUE", &()), T);
    let owned: HashMap<String, Value<'static>> = msg(&[("a", s("x"))]);
    assert_eq!(eval("a = 'x'", &owned), T);
}

#[test]
fn canonical_text() {
    let sel = Selector::parse("a>1 and not b   or c IN ('y','x','y') OR -x + 2 = 3").unwrap();
    assert_eq!(
        sel.to_string(),
        "(((a > 1) AND (NOT b)) OR (c IN ('x', 'y')) OR ((-(x) + 2) = 3))"
    );
    assert_eq!(
        sel.text(),
        "a>1 and not b   or c IN ('y','x','y') OR -x + 2 = 3"
    );
    let sel = Selector::parse("convert_string_expressions:s LIKE 'a''%' ESCAPE '\\'").unwrap();
    assert_eq!(
        sel.to_string(),
        "convert_string_expressions:(s LIKE 'a''%' ESCAPE '\\')"
    );
    let again = Selector::parse(&sel.to_string()).unwrap();
    assert_eq!(again.to_string(), sel.to_string());
    assert_eq!(
        Selector::parse("-5 = - 5.0").unwrap().to_string(),
        "(-5 = -5.0)"
    );
}

/// Subscriptions share a parsed selector across tasks (`Arc<Selector>`).
#[test]
fn selector_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_send_sync::<Selector>();
    assert_send_sync::<jms_model::SelectorError>();
}

#[test]
fn parse_converting_compares_string_values_as_numbers_without_the_prefix() {
    use jms_model::{Selector, Value};
    use std::collections::HashMap;
    let mut m: HashMap<String, Value<'static>> = HashMap::new();
    m.insert("weight".into(), Value::String("3000".into()));
    m.insert("flag".into(), Value::String("true".into()));
    let plain = Selector::parse("weight > 2500").unwrap();
    assert!(!plain.matches(&m));
    let converting = Selector::parse_converting("weight > 2500 AND flag = TRUE").unwrap();
    assert!(converting.matches(&m));
    assert!(converting.converts_string_expressions());
    assert_eq!(converting.text(), "weight > 2500 AND flag = TRUE");
    // The explicit prefix is still accepted, once.
    assert!(
        Selector::parse_converting("convert_string_expressions:weight > 2500")
            .unwrap()
            .matches(&m)
    );
    // Error positions count from the start of the text given.
    assert_eq!(
        Selector::parse_converting("weight >").unwrap_err().position,
        8
    );
}
