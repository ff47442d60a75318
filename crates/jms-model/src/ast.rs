//! The parsed selector, and its canonical text form.

use std::collections::BTreeSet;
use std::fmt;

use crate::like::LikePattern;

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Bool(bool),
    Long(i64),
    /// Always finite: the tokenizer refuses literals that overflow.
    Double(f64),
    String(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A selector expression. Built once per subscription; evaluated per message.
///
/// `AND`/`OR` chains are flat lists (as in ActiveMQ's `LogicExpression`) so that a long
/// `a = 1 OR a = 2 OR ...` list does not nest: only parentheses and arithmetic add depth.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Literal(Literal),
    Ident(String),
    /// Unary minus on anything but a numeric literal (those fold into the literal).
    Neg(Box<Expr>),
    /// Unary plus on anything but a numeric literal.
    Pos(Box<Expr>),
    Arith(ArithOp, Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Between {
        negated: bool,
        value: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
    },
    /// `ident [NOT] IN (...)`; a set because order and repeats do not matter, and lookups
    /// by `&str` then cost no allocation.
    In {
        negated: bool,
        ident: String,
        list: BTreeSet<String>,
    },
    Like {
        negated: bool,
        ident: String,
        pattern: LikePattern,
    },
    IsNull {
        negated: bool,
        value: Box<Expr>,
    },
    Not(Box<Expr>),
    /// Two or more operands.
    And(Vec<Expr>),
    /// Two or more operands.
    Or(Vec<Expr>),
}

fn write_str_literal(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    for (i, part) in s.split('\'').enumerate() {
        if i > 0 {
            f.write_str("''")?;
        }
        f.write_str(part)?;
    }
    f.write_str("'")
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bool(true) => f.write_str("TRUE"),
            Self::Bool(false) => f.write_str("FALSE"),
            Self::Long(n) => write!(f, "{n}"),
            // Debug prints the shortest text that parses back to the same f64, and always
            // with a `.` or an exponent, so it re-reads as an approximate literal.
            Self::Double(d) => write!(f, "{d:?}"),
            Self::String(s) => write_str_literal(f, s),
        }
    }
}

impl fmt::Display for ArithOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
        })
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Eq => "=",
            Self::Ne => "<>",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        })
    }
}

fn not(negated: bool) -> &'static str {
    if negated {
        "NOT "
    } else {
        ""
    }
}

fn write_list(f: &mut fmt::Formatter<'_>, items: &[Expr], sep: &str) -> fmt::Result {
    f.write_str("(")?;
    for (i, e) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        write!(f, "{e}")?;
    }
    f.write_str(")")
}

/// The canonical form: every compound expression in parentheses, keywords upper case,
/// single spaces. It parses back to an equal `Expr`. Unary operators wrap their operand in
/// parentheses so that `-(5)` (a negation node) stays distinct from the literal `-5`, and
/// `- -5` never turns into `--5`.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Literal(l) => write!(f, "{l}"),
            Self::Ident(name) => f.write_str(name),
            Self::Neg(e) => write!(f, "-({e})"),
            Self::Pos(e) => write!(f, "+({e})"),
            Self::Arith(op, l, r) => write!(f, "({l} {op} {r})"),
            Self::Cmp(op, l, r) => write!(f, "({l} {op} {r})"),
            Self::Between {
                negated,
                value,
                low,
                high,
            } => write!(f, "({value} {}BETWEEN {low} AND {high})", not(*negated)),
            Self::In {
                negated,
                ident,
                list,
            } => {
                write!(f, "({ident} {}IN (", not(*negated))?;
                for (i, s) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_str_literal(f, s)?;
                }
                f.write_str("))")
            }
            Self::Like {
                negated,
                ident,
                pattern,
            } => {
                write!(f, "({ident} {}LIKE ", not(*negated))?;
                write_str_literal(f, pattern.pattern())?;
                if let Some(c) = pattern.escape() {
                    f.write_str(" ESCAPE ")?;
                    write_str_literal(f, c.encode_utf8(&mut [0; 4]))?;
                }
                f.write_str(")")
            }
            Self::IsNull { negated, value } => {
                write!(f, "({value} IS {}NULL)", not(*negated))
            }
            Self::Not(e) => write!(f, "(NOT {e})"),
            Self::And(items) => write_list(f, items, " AND "),
            Self::Or(items) => write_list(f, items, " OR "),
        }
    }
}
