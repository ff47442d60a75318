//! Evaluation with SQL three-valued logic (Jakarta Messaging 3.1 §3.8.1.2).
//!
//! Type rules, in one place:
//!
//! - NULL (an absent identifier, or UNKNOWN) in a comparison or arithmetic gives UNKNOWN.
//! - Numbers compare and compute with Java numeric promotion: long with long stays long
//!   (wrapping on overflow, truncating division), anything with a double is double.
//! - Division by zero gives UNKNOWN (Java would throw; there is no error channel per message).
//! - A comparison whose operands are of types that cannot be compared (string with number,
//!   boolean with number, strings or booleans with `<`...) is FALSE, for the `NOT`/`<>`
//!   forms as well (§3.8.1.1: "the value of the operation is false").
//! - Arithmetic on a non-number gives UNKNOWN.
//! - A non-boolean value where a condition is expected is FALSE (ActiveMQ's boolean cast).
//! - With `convert_string_expressions:`, a string meeting a number (in a comparison or in
//!   arithmetic) is read as a long, else a double; one meeting a boolean is read as `true`
//!   or `false` (any case). A string that does not read so is not converted.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::ast::{ArithOp, CmpOp, Expr, Literal};
use crate::{SelectorSource, Value};

/// SQL's three truth values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Truth {
    True,
    False,
    Unknown,
}

impl Truth {
    fn from_bool(b: bool) -> Self {
        if b {
            Self::True
        } else {
            Self::False
        }
    }

    fn not(self) -> Self {
        match self {
            Self::True => Self::False,
            Self::False => Self::True,
            Self::Unknown => Self::Unknown,
        }
    }

    /// Table 3-4.
    fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::False, _) | (_, Self::False) => Self::False,
            (Self::True, Self::True) => Self::True,
            _ => Self::Unknown,
        }
    }

    /// Table 3-5.
    fn or(self, other: Self) -> Self {
        match (self, other) {
            (Self::True, _) | (_, Self::True) => Self::True,
            (Self::False, Self::False) => Self::False,
            _ => Self::Unknown,
        }
    }

    fn into_value(self) -> Option<Value<'static>> {
        match self {
            Self::True => Some(Value::Bool(true)),
            Self::False => Some(Value::Bool(false)),
            Self::Unknown => None,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Num {
    Long(i64),
    Double(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            // Java's long-to-double widening: rounds to nearest.
            Self::Long(n) => n as f64,
            Self::Double(d) => d,
        }
    }

    fn into_value(self) -> Value<'static> {
        match self {
            Self::Long(n) => Value::Long(n),
            Self::Double(d) => Value::Double(d),
        }
    }
}

/// A string read as a number under `convert_string_expressions:`: a long if it is one
/// (`Long.valueOf`), else a finite double (`Double.valueOf`, which trims whitespace).
fn parse_number(s: &str) -> Option<Num> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(Num::Long(n));
    }
    s.trim_matches(|c: char| c <= ' ')
        .parse::<f64>()
        .ok()
        .filter(|d| d.is_finite())
        .map(Num::Double)
}

/// A string read as a boolean under `convert_string_expressions:`.
fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn as_num(v: &Value<'_>, convert: bool) -> Option<Num> {
    match v {
        Value::Long(n) => Some(Num::Long(*n)),
        Value::Double(d) => Some(Num::Double(*d)),
        Value::String(s) if convert => parse_number(s),
        _ => None,
    }
}

fn arith(op: ArithOp, a: Num, b: Num) -> Option<Num> {
    if let (Num::Long(x), Num::Long(y)) = (a, b) {
        return Some(Num::Long(match op {
            ArithOp::Add => x.wrapping_add(y),
            ArithOp::Sub => x.wrapping_sub(y),
            ArithOp::Mul => x.wrapping_mul(y),
            ArithOp::Div if y == 0 => return None,
            // Java: Long.MIN_VALUE / -1 == Long.MIN_VALUE.
            ArithOp::Div => x.wrapping_div(y),
        }));
    }
    let (x, y) = (a.as_f64(), b.as_f64());
    Some(Num::Double(match op {
        ArithOp::Add => x + y,
        ArithOp::Sub => x - y,
        ArithOp::Mul => x * y,
        ArithOp::Div if y == 0.0 => return None,
        ArithOp::Div => x / y,
    }))
}

fn num_cmp(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Long(x), Num::Long(y)) => Some(x.cmp(&y)),
        _ => a.as_f64().partial_cmp(&b.as_f64()),
    }
}

fn apply(op: CmpOp, ord: Option<Ordering>) -> bool {
    // `None` is NaN: every comparison is false except `<>` (Java's `!=`).
    match (op, ord) {
        (CmpOp::Ne, None) => true,
        (_, None) => false,
        (CmpOp::Eq, Some(o)) => o.is_eq(),
        (CmpOp::Ne, Some(o)) => o.is_ne(),
        (CmpOp::Lt, Some(o)) => o.is_lt(),
        (CmpOp::Le, Some(o)) => o.is_le(),
        (CmpOp::Gt, Some(o)) => o.is_gt(),
        (CmpOp::Ge, Some(o)) => o.is_ge(),
    }
}

fn equality(op: CmpOp, equal: bool) -> Truth {
    match op {
        CmpOp::Eq => Truth::from_bool(equal),
        CmpOp::Ne => Truth::from_bool(!equal),
        // Spec: strings and booleans only support = and <>.
        _ => Truth::False,
    }
}

fn compare(op: CmpOp, l: Option<&Value<'_>>, r: Option<&Value<'_>>, convert: bool) -> Truth {
    let (Some(l), Some(r)) = (l, r) else {
        return Truth::Unknown;
    };
    match (l, r) {
        (Value::String(a), Value::String(b)) => equality(op, a == b),
        (Value::Bool(a), Value::Bool(b)) => equality(op, a == b),
        (Value::Bool(b), Value::String(s)) | (Value::String(s), Value::Bool(b)) if convert => {
            match parse_bool(s) {
                Some(sb) => equality(op, sb == *b),
                None => Truth::False,
            }
        }
        _ => match (as_num(l, convert), as_num(r, convert)) {
            (Some(a), Some(b)) => Truth::from_bool(apply(op, num_cmp(a, b))),
            _ => Truth::False,
        },
    }
}

fn literal(l: &Literal) -> Value<'_> {
    match l {
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Long(n) => Value::Long(*n),
        Literal::Double(d) => Value::Double(*d),
        Literal::String(s) => Value::String(Cow::Borrowed(s)),
    }
}

/// Evaluation of one expression against one message; borrows both, allocates nothing
/// unless the source hands out owned strings.
pub(crate) struct Eval<'a> {
    pub(crate) source: &'a dyn SelectorSource,
    pub(crate) convert: bool,
}

impl<'a> Eval<'a> {
    /// The value of `e`; `None` is NULL / UNKNOWN. Conditions yield booleans.
    pub(crate) fn value(&self, e: &'a Expr) -> Option<Value<'a>> {
        match e {
            Expr::Literal(l) => Some(literal(l)),
            Expr::Ident(name) => self.source.value(name),
            Expr::Neg(x) => {
                let n = as_num(&self.value(x)?, self.convert)?;
                Some(match n {
                    Num::Long(n) => Value::Long(n.wrapping_neg()),
                    Num::Double(d) => Value::Double(-d),
                })
            }
            Expr::Pos(x) => Some(as_num(&self.value(x)?, self.convert)?.into_value()),
            Expr::Arith(op, l, r) => {
                let l = as_num(&self.value(l)?, self.convert)?;
                let r = as_num(&self.value(r)?, self.convert)?;
                arith(*op, l, r).map(Num::into_value)
            }
            _ => self.truth(e).into_value(),
        }
    }

    /// The truth value of `e` used as a condition.
    pub(crate) fn truth(&self, e: &'a Expr) -> Truth {
        match e {
            Expr::Not(x) => self.truth(x).not(),
            Expr::And(items) => {
                let mut acc = Truth::True;
                for x in items {
                    acc = acc.and(self.truth(x));
                    if acc == Truth::False {
                        break;
                    }
                }
                acc
            }
            Expr::Or(items) => {
                let mut acc = Truth::False;
                for x in items {
                    acc = acc.or(self.truth(x));
                    if acc == Truth::True {
                        break;
                    }
                }
                acc
            }
            Expr::Cmp(op, l, r) => {
                let l = self.value(l);
                let r = self.value(r);
                compare(*op, l.as_ref(), r.as_ref(), self.convert)
            }
            Expr::Between {
                negated,
                value,
                low,
                high,
            } => {
                // Spec: `v BETWEEN a AND b` is `v >= a AND v <= b`, and `v NOT BETWEEN a
                // AND b` is `v < a OR v > b`; `v` is evaluated once.
                let v = self.value(value);
                let lo = self.value(low);
                let hi = self.value(high);
                let (v, lo, hi) = (v.as_ref(), lo.as_ref(), hi.as_ref());
                if *negated {
                    compare(CmpOp::Lt, v, lo, self.convert).or(compare(
                        CmpOp::Gt,
                        v,
                        hi,
                        self.convert,
                    ))
                } else {
                    compare(CmpOp::Ge, v, lo, self.convert).and(compare(
                        CmpOp::Le,
                        v,
                        hi,
                        self.convert,
                    ))
                }
            }
            Expr::In {
                negated,
                ident,
                list,
            } => match self.source.value(ident) {
                None => Truth::Unknown,
                Some(Value::String(s)) => Truth::from_bool(list.contains(s.as_ref()) != *negated),
                Some(_) => Truth::False,
            },
            Expr::Like {
                negated,
                ident,
                pattern,
            } => match self.source.value(ident) {
                None => Truth::Unknown,
                Some(Value::String(s)) => Truth::from_bool(pattern.matches(&s) != *negated),
                Some(_) => Truth::False,
            },
            Expr::IsNull { negated, value } => {
                Truth::from_bool(self.value(value).is_none() != *negated)
            }
            _ => match self.value(e) {
                None => Truth::Unknown,
                Some(Value::Bool(b)) => Truth::from_bool(b),
                Some(_) => Truth::False,
            },
        }
    }
}
