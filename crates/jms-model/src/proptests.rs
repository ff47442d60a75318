//! Property tests that need the expression tree: the canonical text of any well-typed
//! expression parses back to the same expression, and evaluation never panics.

use std::borrow::Cow;
use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::ast::{ArithOp, CmpOp, Expr, Literal};
use crate::like::LikePattern;
use crate::{Selector, Value};

/// Identifiers from a small pool (so sources can bind them), plus arbitrary Java-ish ones.
fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "s", "n", "t", "JMSPriority", "$x", "_y", "café"])
            .prop_map(str::to_owned),
        1 => "[a-zA-Z_$é][a-zA-Z0-9_$é]{0,6}",
    ]
    .prop_filter("keywords are not identifiers", |s| {
        crate::lex::Keyword::lookup(s).is_none()
    })
}

fn text() -> impl Strategy<Value = String> {
    "[a-z'%_!\\\\ é]{0,6}"
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("literals are finite", |d| d.is_finite()),
        prop::sample::select(vec![0.0, -0.0, 0.5, -1.5, 1e300, 5e-324, 2.0]),
    ]
}

fn long() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        prop::sample::select(vec![0, 1, -1, i64::MIN, i64::MAX]),
    ]
}

fn arith_op() -> impl Strategy<Value = ArithOp> {
    prop::sample::select(vec![ArithOp::Add, ArithOp::Sub, ArithOp::Mul, ArithOp::Div])
}

fn cmp_op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ])
}

fn eq_op() -> impl Strategy<Value = CmpOp> {
    prop::sample::select(vec![CmpOp::Eq, CmpOp::Ne])
}

/// Numeric expressions: literals, identifiers, signs and arithmetic.
fn num() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        long().prop_map(|n| Expr::Literal(Literal::Long(n))),
        finite().prop_map(|d| Expr::Literal(Literal::Double(d))),
        ident().prop_map(Expr::Ident),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Neg(Box::new(e))),
            inner.clone().prop_map(|e| Expr::Pos(Box::new(e))),
            (arith_op(), inner.clone(), inner).prop_map(|(op, l, r)| Expr::Arith(
                op,
                Box::new(l),
                Box::new(r)
            )),
        ]
    })
}

fn string_operand() -> impl Strategy<Value = Expr> {
    prop_oneof![
        text().prop_map(|s| Expr::Literal(Literal::String(s))),
        ident().prop_map(Expr::Ident),
    ]
}

/// Conditions, built only from well-typed pieces.
fn cond() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        any::<bool>().prop_map(|b| Expr::Literal(Literal::Bool(b))),
        ident().prop_map(Expr::Ident),
        (cmp_op(), num(), num()).prop_map(|(op, l, r)| Expr::Cmp(op, Box::new(l), Box::new(r))),
        (eq_op(), string_operand(), string_operand()).prop_map(|(op, l, r)| Expr::Cmp(
            op,
            Box::new(l),
            Box::new(r)
        )),
        (any::<bool>(), num(), num(), num()).prop_map(|(negated, v, lo, hi)| Expr::Between {
            negated,
            value: Box::new(v),
            low: Box::new(lo),
            high: Box::new(hi),
        }),
        (
            any::<bool>(),
            ident(),
            prop::collection::btree_set(text(), 1..4)
        )
            .prop_map(|(negated, ident, list)| Expr::In {
                negated,
                ident,
                list
            }),
        (
            any::<bool>(),
            ident(),
            text(),
            prop::option::of(prop::sample::select(vec!['!', '\\', '\'', '%', 'é']))
        )
            .prop_map(|(negated, ident, p, esc)| Expr::Like {
                negated,
                ident,
                pattern: LikePattern::new(&p, esc),
            }),
        (any::<bool>(), num()).prop_map(|(negated, v)| Expr::IsNull {
            negated,
            value: Box::new(v),
        }),
    ];
    leaf.prop_recursive(4, 32, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| Expr::Not(Box::new(e))),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::Or),
            (eq_op(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| Expr::Cmp(
                op,
                Box::new(l),
                Box::new(r)
            )),
            (any::<bool>(), inner).prop_map(|(negated, v)| Expr::IsNull {
                negated,
                value: Box::new(v),
            }),
        ]
    })
}

fn value() -> impl Strategy<Value = Value<'static>> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        long().prop_map(Value::Long),
        prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(0.0)]
            .prop_map(Value::Double),
        prop_oneof![
            text(),
            Just("42".to_owned()),
            Just(" 4.5 ".to_owned()),
            Just("TRUE".to_owned()),
            Just("-9223372036854775808".to_owned()),
        ]
        .prop_map(|s| Value::String(Cow::Owned(s))),
    ]
}

fn source() -> impl Strategy<Value = BTreeMap<String, Value<'static>>> {
    prop::collection::btree_map(
        prop::sample::select(vec![
            "a",
            "b",
            "s",
            "n",
            "t",
            "JMSPriority",
            "$x",
            "_y",
            "café",
        ])
        .prop_map(str::to_owned),
        value(),
        0..9,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonical_text_round_trips(expr in cond(), convert in any::<bool>()) {
        let text = expr.to_string();
        let sel = Selector::parse(&text)
            .map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&sel.expr, &expr, "text {:?}", text);
        prop_assert_eq!(&sel.to_string(), &text);
        let prefixed = format!("convert_string_expressions:{text}");
        let sel = Selector::parse(if convert { &prefixed } else { &text }).unwrap();
        prop_assert_eq!(sel.converts_string_expressions(), convert);
        prop_assert_eq!(&sel.expr, &expr);
    }

    #[test]
    fn evaluation_is_total_and_consistent(
        expr in cond(),
        src in source(),
        convert in any::<bool>(),
    ) {
        let sel = Selector { text: String::new(), convert, expr };
        let truth = sel.evaluate(&src);
        prop_assert_eq!(sel.matches(&src), truth == Some(true));
        // NOT flips TRUE and FALSE and keeps UNKNOWN (table 3-6).
        let negated = Selector {
            expr: Expr::Not(Box::new(sel.expr.clone())),
            ..sel.clone()
        };
        prop_assert_eq!(negated.evaluate(&src), truth.map(|b| !b));
        // IS NULL observes UNKNOWN exactly.
        let is_null = Selector {
            expr: Expr::IsNull { negated: false, value: Box::new(sel.expr.clone()) },
            ..sel
        };
        prop_assert_eq!(is_null.evaluate(&src), Some(truth.is_none()));
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC{0,40}") {
        match Selector::parse(&text) {
            Ok(sel) => {
                let again = Selector::parse(&sel.to_string()).unwrap();
                prop_assert_eq!(&again.expr, &sel.expr);
            }
            Err(e) => prop_assert!(e.position <= text.chars().count()),
        }
    }

    #[test]
    fn parsing_selector_like_text_never_panics(
        parts in prop::collection::vec(
            prop::sample::select(vec![
                "a", "b", "s", "NOT", "AND", "OR", "BETWEEN", "IN", "LIKE", "IS", "NULL",
                "ESCAPE", "TRUE", "false", "(", ")", ",", "=", "<>", "<", ">=", "+", "-",
                "*", "/", "1", "2.5", "'x'", "'%'", "0x1F", "-9223372036854775808",
            ]),
            0..14,
        )
    ) {
        let text = parts.join(" ");
        match Selector::parse(&text) {
            Ok(sel) => {
                let again = Selector::parse(&sel.to_string()).unwrap();
                prop_assert_eq!(&again.expr, &sel.expr);
            }
            Err(e) => prop_assert!(e.position <= text.chars().count(), "{text:?}: {e}"),
        }
    }
}
