//! Parser from tokens to [`Expr`], with the static checks ActiveMQ makes at parse time (a
//! JMS `InvalidSelectorException` up front rather than a selector that can never match).
//!
//! Grammar (SQL-92 precedence: arithmetic, then comparisons, then NOT, AND, OR):
//!
//! ```text
//! selector   = or EOF
//! or         = and { OR and }
//! and        = not { AND not }
//! not        = NOT not | predicate
//! predicate  = sum [ cmp-op sum
//!                  | [NOT] BETWEEN sum AND sum
//!                  | [NOT] IN '(' string { ',' string } ')'      (left side: identifier)
//!                  | [NOT] LIKE string [ ESCAPE string ]          (left side: identifier)
//!                  | IS [NOT] NULL ]
//! sum        = product { ('+' | '-') product }
//! product    = unary { ('*' | '/') unary }
//! unary      = ('+' | '-') unary | primary          ('-' before a number folds into it)
//! primary    = literal | identifier | '(' or ')'
//! ```
//!
//! A comparison's result cannot be compared again without parentheses (`a = b = c` is an
//! error; `(a = b) = c` is fine), as in SQL.
//!
//! The grammar is implemented by operator precedence with explicit stacks (shunting-yard),
//! not by recursive descent: a recursive parser spends a frame per grammar level for every
//! parenthesis (about 17 KiB per `(` in a debug build), so hostile nesting would need a
//! huge stack or a tiny limit. Here the parser's stack use is constant; [`MAX_DEPTH`] only
//! protects the (recursive) evaluator, `Display` and `Drop`.

use std::collections::BTreeSet;

use crate::ast::{ArithOp, CmpOp, Expr, Literal};
use crate::lex::{quote, Keyword, Punct, Token, TokenKind};
use crate::like::LikePattern;
use crate::{SelectorError, MAX_DEPTH};

/// What an expression is known to produce before any message is seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Bool,
    Num,
    Str,
    /// An identifier: any type, or NULL.
    Any,
}

impl Ty {
    fn describe(self) -> &'static str {
        match self {
            Self::Bool => "a boolean",
            Self::Num => "a number",
            Self::Str => "a string",
            Self::Any => "an identifier",
        }
    }
}

/// The operator at the top of an expression that is not in parentheses: `OR`/`AND` chains
/// extend into one flat list, and a comparison may not be compared again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bare {
    None,
    Or,
    And,
    Cmp,
}

/// A parsed expression with what the checks need.
struct Node {
    expr: Expr,
    /// Character offset where the expression starts.
    pos: usize,
    ty: Ty,
    /// Tree depth, for [`MAX_DEPTH`].
    depth: usize,
    bare: Bare,
}

/// An operator waiting on the stack for its right operand(s).
#[derive(Debug, Clone, Copy)]
enum Op {
    LParen,
    Not {
        pos: usize,
    },
    Sign {
        minus: bool,
        pos: usize,
    },
    Or,
    And,
    Cmp(CmpOp),
    Arith(ArithOp),
    /// `[NOT] BETWEEN`; `high` once its `AND` has been read.
    Between {
        negated: bool,
        high: bool,
    },
}

impl Op {
    /// Binding strength: an incoming operator first applies the stacked ones that bind at
    /// least as tightly (left associativity). Prefix `NOT` and signs sit at their own level.
    fn prec(self) -> u8 {
        match self {
            Self::LParen => 0,
            Self::Or => 1,
            Self::And => 2,
            Self::Not { .. } => 3,
            Self::Cmp(_) | Self::Between { .. } => 4,
            Self::Arith(ArithOp::Add | ArithOp::Sub) => 5,
            Self::Arith(ArithOp::Mul | ArithOp::Div) => 6,
            Self::Sign { .. } => 7,
        }
    }
}

const PREC_CMP: u8 = 4;

pub(crate) struct Parser<'t> {
    tokens: Vec<Token<'t>>,
    next: usize,
    ops: Vec<Op>,
    operands: Vec<Node>,
    /// Open parentheses, limited to [`MAX_DEPTH`].
    parens: usize,
    /// `convert_string_expressions:` relaxes the string-vs-number/boolean checks.
    convert: bool,
}

fn err<T>(pos: usize, message: impl Into<String>) -> Result<T, SelectorError> {
    Err(SelectorError::new(pos, message))
}

fn describe(t: &Token<'_>) -> String {
    match t.kind {
        TokenKind::Eof => "end of selector".to_owned(),
        _ => quote(t.text),
    }
}

fn nested_too_deep<T>(pos: usize) -> Result<T, SelectorError> {
    err(pos, format!("expression nested more than {MAX_DEPTH} deep"))
}

impl<'t> Parser<'t> {
    pub(crate) fn new(tokens: Vec<Token<'t>>, convert: bool) -> Self {
        Self {
            tokens,
            next: 0,
            ops: Vec::new(),
            operands: Vec::new(),
            parens: 0,
            convert,
        }
    }

    /// Parses a whole selector: one condition, then the end.
    pub(crate) fn selector(mut self) -> Result<Expr, SelectorError> {
        loop {
            self.operand()?;
            // After an operand: operators that take no further operand keep us here.
            loop {
                let t = self.bump();
                match t.kind {
                    TokenKind::Eof => return self.finish(&t),
                    TokenKind::Punct(Punct::RParen) => self.close_paren(&t)?,
                    TokenKind::Keyword(Keyword::Or) => {
                        self.infix(Op::Or, &t)?;
                        break;
                    }
                    TokenKind::Keyword(Keyword::And) => {
                        self.and(&t)?;
                        break;
                    }
                    TokenKind::Punct(p) => {
                        let op = match p {
                            Punct::Eq => Op::Cmp(CmpOp::Eq),
                            Punct::Ne => Op::Cmp(CmpOp::Ne),
                            Punct::Lt => Op::Cmp(CmpOp::Lt),
                            Punct::Le => Op::Cmp(CmpOp::Le),
                            Punct::Gt => Op::Cmp(CmpOp::Gt),
                            Punct::Ge => Op::Cmp(CmpOp::Ge),
                            Punct::Plus => Op::Arith(ArithOp::Add),
                            Punct::Minus => Op::Arith(ArithOp::Sub),
                            Punct::Star => Op::Arith(ArithOp::Mul),
                            Punct::Slash => Op::Arith(ArithOp::Div),
                            Punct::LParen | Punct::RParen | Punct::Comma => {
                                return err(t.pos, self.unexpected(&t))
                            }
                        };
                        self.infix(op, &t)?;
                        break;
                    }
                    TokenKind::Keyword(Keyword::Not) => {
                        let after = self.bump();
                        match after.kind {
                            TokenKind::Keyword(Keyword::Between) => {
                                self.between(true, &t)?;
                                break;
                            }
                            TokenKind::Keyword(Keyword::In) => self.in_list(true, &t)?,
                            TokenKind::Keyword(Keyword::Like) => self.like(true, &t)?,
                            _ => {
                                return err(
                                    after.pos,
                                    format!(
                                        "expected BETWEEN, IN or LIKE after NOT, found {}",
                                        describe(&after)
                                    ),
                                )
                            }
                        }
                    }
                    TokenKind::Keyword(Keyword::Between) => {
                        self.between(false, &t)?;
                        break;
                    }
                    TokenKind::Keyword(Keyword::In) => self.in_list(false, &t)?,
                    TokenKind::Keyword(Keyword::Like) => self.like(false, &t)?,
                    TokenKind::Keyword(Keyword::Is) => self.is_null(&t)?,
                    _ => return err(t.pos, self.unexpected(&t)),
                }
            }
        }
    }

    fn peek(&self) -> &Token<'t> {
        // The tokenizer always ends the list with Eof, and `bump` never passes it.
        &self.tokens[self.next]
    }

    fn bump(&mut self) -> Token<'t> {
        let t = self.tokens[self.next].clone();
        if t.kind != TokenKind::Eof {
            self.next += 1;
        }
        t
    }

    /// The message for a token that cannot follow a complete operand.
    fn unexpected(&self, t: &Token<'_>) -> String {
        let end = if self.parens > 0 {
            "')'"
        } else {
            "end of selector"
        };
        format!("expected AND, OR or {end}, found {}", describe(t))
    }

    /// Reads prefix operators and parentheses up to one primary operand, and pushes it.
    fn operand(&mut self) -> Result<(), SelectorError> {
        loop {
            let t = self.bump();
            let (expr, ty) = match t.kind {
                TokenKind::Punct(Punct::LParen) => {
                    self.parens += 1;
                    if self.parens > MAX_DEPTH {
                        return nested_too_deep(t.pos);
                    }
                    self.ops.push(Op::LParen);
                    continue;
                }
                TokenKind::Keyword(Keyword::Not) => {
                    // NOT starts a `not` term: only at the start, after `(`, AND, OR, NOT.
                    if matches!(
                        self.ops.last(),
                        Some(Op::Cmp(_) | Op::Arith(_) | Op::Sign { .. } | Op::Between { .. })
                    ) {
                        return err(
                            t.pos,
                            format!("expected an expression, found {}", describe(&t)),
                        );
                    }
                    self.ops.push(Op::Not { pos: t.pos });
                    continue;
                }
                TokenKind::Punct(sign @ (Punct::Minus | Punct::Plus)) => {
                    let minus = sign == Punct::Minus;
                    // A sign directly on a numeric literal is part of the literal (the
                    // spec's `-957`), which is also the only way to write Long.MIN_VALUE.
                    match self.peek().kind {
                        TokenKind::Int(m) => {
                            let value = if minus {
                                Some(0i64.wrapping_sub_unsigned(m))
                            } else {
                                i64::try_from(m).ok()
                            };
                            let Some(value) = value else {
                                return err(self.peek().pos, "integer literal out of range");
                            };
                            self.bump();
                            (Expr::Literal(Literal::Long(value)), Ty::Num)
                        }
                        TokenKind::Float(v) => {
                            self.bump();
                            (
                                Expr::Literal(Literal::Double(if minus { -v } else { v })),
                                Ty::Num,
                            )
                        }
                        _ => {
                            self.ops.push(Op::Sign { minus, pos: t.pos });
                            continue;
                        }
                    }
                }
                TokenKind::Int(m) => match i64::try_from(m) {
                    Ok(n) => (Expr::Literal(Literal::Long(n)), Ty::Num),
                    Err(_) => return err(t.pos, "integer literal out of range"),
                },
                TokenKind::Float(v) => (Expr::Literal(Literal::Double(v)), Ty::Num),
                TokenKind::Str(s) => (Expr::Literal(Literal::String(s)), Ty::Str),
                TokenKind::Keyword(Keyword::True) => (Expr::Literal(Literal::Bool(true)), Ty::Bool),
                TokenKind::Keyword(Keyword::False) => {
                    (Expr::Literal(Literal::Bool(false)), Ty::Bool)
                }
                TokenKind::Ident => (Expr::Ident(t.text.to_owned()), Ty::Any),
                TokenKind::Keyword(Keyword::Null) => {
                    return err(t.pos, "NULL can only be used in IS NULL or IS NOT NULL")
                }
                TokenKind::Eof => {
                    return err(t.pos, "unexpected end of selector: expected an expression")
                }
                _ => {
                    return err(
                        t.pos,
                        format!("expected an expression, found {}", describe(&t)),
                    )
                }
            };
            let node = self.node(expr, t.pos, ty, &[], Bare::None)?;
            self.operands.push(node);
            return Ok(());
        }
    }

    /// Applies stacked operators binding at least as tightly as `prec`, stopping at `(` and
    /// at a BETWEEN still waiting for its AND.
    fn reduce_while(&mut self, prec: u8) -> Result<(), SelectorError> {
        while let Some(&op) = self.ops.last() {
            if matches!(op, Op::LParen | Op::Between { high: false, .. }) || op.prec() < prec {
                break;
            }
            self.ops.pop();
            self.apply(op)?;
        }
        Ok(())
    }

    /// Errors if a BETWEEN is still waiting for its AND where `t` arrived.
    fn between_needs_and(&self, t: &Token<'_>) -> Result<(), SelectorError> {
        if matches!(self.ops.last(), Some(Op::Between { high: false, .. })) {
            return err(
                t.pos,
                format!("expected AND in BETWEEN, found {}", describe(t)),
            );
        }
        Ok(())
    }

    /// Errors if the operand just completed is a bare comparison (`a = b = c`).
    fn not_after_comparison(&self, t: &Token<'_>) -> Result<(), SelectorError> {
        match self.operands.last() {
            Some(n) if n.bare == Bare::Cmp => err(t.pos, self.unexpected(t)),
            _ => Ok(()),
        }
    }

    fn infix(&mut self, op: Op, t: &Token<'_>) -> Result<(), SelectorError> {
        let prec = op.prec();
        self.reduce_while(prec)?;
        if prec <= PREC_CMP {
            self.between_needs_and(t)?;
        }
        if matches!(op, Op::Cmp(_)) {
            self.not_after_comparison(t)?;
        }
        self.ops.push(op);
        Ok(())
    }

    /// `AND` is BETWEEN's separator when a BETWEEN is waiting for one, else logical AND.
    fn and(&mut self, t: &Token<'_>) -> Result<(), SelectorError> {
        self.reduce_while(Op::And.prec())?;
        if let Some(Op::Between { high, .. }) = self.ops.last_mut() {
            if !*high {
                *high = true;
                return Ok(());
            }
        }
        self.infix(Op::And, t)
    }

    /// Prepares for a predicate (BETWEEN, IN, LIKE, IS) whose left side is the operand just
    /// completed.
    fn predicate(&mut self, t: &Token<'_>) -> Result<(), SelectorError> {
        self.reduce_while(PREC_CMP)?;
        self.between_needs_and(t)?;
        self.not_after_comparison(t)
    }

    fn close_paren(&mut self, t: &Token<'_>) -> Result<(), SelectorError> {
        self.reduce_while(1)?;
        match self.ops.pop() {
            Some(Op::LParen) => {
                self.parens -= 1;
                if let Some(n) = self.operands.last_mut() {
                    n.bare = Bare::None;
                }
                Ok(())
            }
            Some(Op::Between { .. }) => err(
                t.pos,
                format!("expected AND in BETWEEN, found {}", describe(t)),
            ),
            _ => err(t.pos, self.unexpected(t)),
        }
    }

    fn finish(mut self, t: &Token<'_>) -> Result<Expr, SelectorError> {
        self.reduce_while(1)?;
        match self.ops.last() {
            Some(Op::LParen) => return err(t.pos, format!("expected ')', found {}", describe(t))),
            Some(_) => {
                return err(
                    t.pos,
                    format!("expected AND in BETWEEN, found {}", describe(t)),
                )
            }
            None => {}
        }
        let node = self.pop_operand();
        self.need_bool(&node)?;
        Ok(node.expr)
    }

    fn pop_operand(&mut self) -> Node {
        // Every operator is pushed after its left operand and applied only after its right
        // one (the parser alternates operand / operator), so an operand is always there.
        self.operands
            .pop()
            .expect("an operator always has its operands on the stack")
    }

    /// Builds a node, refusing trees deeper than [`MAX_DEPTH`].
    fn node(
        &self,
        expr: Expr,
        pos: usize,
        ty: Ty,
        children: &[usize],
        bare: Bare,
    ) -> Result<Node, SelectorError> {
        let depth = 1 + children.iter().copied().max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return nested_too_deep(pos);
        }
        Ok(Node {
            expr,
            pos,
            ty,
            depth,
            bare,
        })
    }

    fn need_bool(&self, n: &Node) -> Result<(), SelectorError> {
        match n.ty {
            Ty::Bool | Ty::Any => Ok(()),
            ty => err(
                n.pos,
                format!(
                    "expected a condition (a comparison, a boolean identifier, TRUE or FALSE), found {}",
                    ty.describe()
                ),
            ),
        }
    }

    fn need_num(&self, n: &Node, context: &str) -> Result<(), SelectorError> {
        match n.ty {
            Ty::Num | Ty::Any => Ok(()),
            ty => err(
                n.pos,
                format!("{context} needs numbers, found {}", ty.describe()),
            ),
        }
    }

    /// Applies `op` (already popped) to its operands and pushes the result.
    fn apply(&mut self, op: Op) -> Result<(), SelectorError> {
        let node = match op {
            Op::Not { pos } => {
                let x = self.pop_operand();
                self.need_bool(&x)?;
                self.node(
                    Expr::Not(Box::new(x.expr)),
                    pos,
                    Ty::Bool,
                    &[x.depth],
                    Bare::None,
                )?
            }
            Op::Sign { minus, pos } => {
                let x = self.pop_operand();
                self.need_num(&x, if minus { "unary -" } else { "unary +" })?;
                let inner = Box::new(x.expr);
                let expr = if minus {
                    Expr::Neg(inner)
                } else {
                    Expr::Pos(inner)
                };
                self.node(expr, pos, Ty::Num, &[x.depth], Bare::None)?
            }
            Op::Or | Op::And => {
                let r = self.pop_operand();
                let l = self.pop_operand();
                self.need_bool(&l)?;
                self.need_bool(&r)?;
                let bare = if matches!(op, Op::Or) {
                    Bare::Or
                } else {
                    Bare::And
                };
                // Extend an unparenthesised chain of the same operator rather than nest it.
                let extend = l.bare == bare;
                let depth = if extend {
                    l.depth.max(r.depth + 1)
                } else {
                    1 + l.depth.max(r.depth)
                };
                if depth > MAX_DEPTH {
                    return nested_too_deep(r.pos);
                }
                let expr = match l.expr {
                    Expr::Or(mut items) | Expr::And(mut items) if extend => {
                        items.push(r.expr);
                        if bare == Bare::Or {
                            Expr::Or(items)
                        } else {
                            Expr::And(items)
                        }
                    }
                    left if bare == Bare::Or => Expr::Or(vec![left, r.expr]),
                    left => Expr::And(vec![left, r.expr]),
                };
                Node {
                    expr,
                    pos: l.pos,
                    ty: Ty::Bool,
                    depth,
                    bare,
                }
            }
            Op::Cmp(op) => {
                let r = self.pop_operand();
                let l = self.pop_operand();
                self.comparison(op, l, r)?
            }
            Op::Arith(op) => {
                let r = self.pop_operand();
                let l = self.pop_operand();
                self.need_num(&l, "arithmetic")?;
                self.need_num(&r, "arithmetic")?;
                let depths = [l.depth, r.depth];
                let expr = Expr::Arith(op, Box::new(l.expr), Box::new(r.expr));
                self.node(expr, l.pos, Ty::Num, &depths, Bare::None)?
            }
            Op::Between { negated, .. } => {
                let high = self.pop_operand();
                let low = self.pop_operand();
                let value = self.pop_operand();
                for n in [&value, &low, &high] {
                    self.need_num(n, "BETWEEN")?;
                }
                let depths = [value.depth, low.depth, high.depth];
                let expr = Expr::Between {
                    negated,
                    value: Box::new(value.expr),
                    low: Box::new(low.expr),
                    high: Box::new(high.expr),
                };
                self.node(expr, value.pos, Ty::Bool, &depths, Bare::Cmp)?
            }
            // `reduce_while` never applies a parenthesis.
            Op::LParen => return Ok(()),
        };
        self.operands.push(node);
        Ok(())
    }

    fn comparison(&self, op: CmpOp, left: Node, right: Node) -> Result<Node, SelectorError> {
        if matches!(op, CmpOp::Eq | CmpOp::Ne) {
            // Spec: only like types compare; ActiveMQ refuses e.g. `TRUE = 1` up front.
            // Under convert_string_expressions a string may stand for a number or boolean.
            let ok = match (left.ty, right.ty) {
                (Ty::Any, _) | (_, Ty::Any) => true,
                (a, b) if a == b => true,
                (Ty::Str, _) | (_, Ty::Str) => self.convert,
                _ => false,
            };
            if !ok {
                return err(
                    right.pos,
                    format!(
                        "cannot compare {} with {}",
                        left.ty.describe(),
                        right.ty.describe()
                    ),
                );
            }
        } else {
            // Spec: string and boolean comparison is restricted to = and <>.
            self.need_num(&left, "an ordering comparison (<, <=, >, >=)")?;
            self.need_num(&right, "an ordering comparison (<, <=, >, >=)")?;
        }
        let depths = [left.depth, right.depth];
        let expr = Expr::Cmp(op, Box::new(left.expr), Box::new(right.expr));
        self.node(expr, left.pos, Ty::Bool, &depths, Bare::Cmp)
    }

    fn between(&mut self, negated: bool, t: &Token<'_>) -> Result<(), SelectorError> {
        self.predicate(t)?;
        self.ops.push(Op::Between {
            negated,
            high: false,
        });
        Ok(())
    }

    fn is_null(&mut self, t: &Token<'_>) -> Result<(), SelectorError> {
        self.predicate(t)?;
        let negated = self.peek().kind == TokenKind::Keyword(Keyword::Not);
        if negated {
            self.bump();
        }
        let n = self.bump();
        if n.kind != TokenKind::Keyword(Keyword::Null) {
            return err(n.pos, format!("expected NULL, found {}", describe(&n)));
        }
        let value = self.pop_operand();
        let expr = Expr::IsNull {
            negated,
            value: Box::new(value.expr),
        };
        let node = self.node(expr, value.pos, Ty::Bool, &[value.depth], Bare::Cmp)?;
        self.operands.push(node);
        Ok(())
    }

    /// The spec (and ActiveMQ, for IN) put an identifier left of IN and LIKE.
    fn identifier(&mut self, op: &str) -> Result<(String, usize), SelectorError> {
        let left = self.pop_operand();
        match left.expr {
            Expr::Ident(name) => Ok((name, left.pos)),
            _ => err(left.pos, format!("{op} needs an identifier on its left")),
        }
    }

    fn string(&mut self, what: &str) -> Result<(String, usize), SelectorError> {
        let t = self.bump();
        match t.kind {
            TokenKind::Str(s) => Ok((s, t.pos)),
            _ => err(t.pos, format!("expected {what}, found {}", describe(&t))),
        }
    }

    fn expect_punct(&mut self, p: Punct, what: &str) -> Result<(), SelectorError> {
        let t = self.bump();
        if t.kind == TokenKind::Punct(p) {
            return Ok(());
        }
        err(t.pos, format!("expected {what}, found {}", describe(&t)))
    }

    fn in_list(&mut self, negated: bool, t: &Token<'_>) -> Result<(), SelectorError> {
        self.predicate(t)?;
        let (ident, pos) = self.identifier("IN")?;
        self.expect_punct(Punct::LParen, "'(' after IN")?;
        let mut list = BTreeSet::new();
        loop {
            let (s, _) = self.string("a string literal in the IN list")?;
            list.insert(s);
            if self.peek().kind != TokenKind::Punct(Punct::Comma) {
                break;
            }
            self.bump();
        }
        self.expect_punct(Punct::RParen, "',' or ')' in the IN list")?;
        let expr = Expr::In {
            negated,
            ident,
            list,
        };
        let node = self.node(expr, pos, Ty::Bool, &[1], Bare::Cmp)?;
        self.operands.push(node);
        Ok(())
    }

    fn like(&mut self, negated: bool, t: &Token<'_>) -> Result<(), SelectorError> {
        self.predicate(t)?;
        let (ident, pos) = self.identifier("LIKE")?;
        let (pattern, _) = self.string("a string literal pattern after LIKE")?;
        let mut escape = None;
        if self.peek().kind == TokenKind::Keyword(Keyword::Escape) {
            self.bump();
            let (e, epos) = self.string("a string literal after ESCAPE")?;
            let mut chars = e.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => escape = Some(c),
                _ => return err(epos, "the ESCAPE string must be exactly one character"),
            }
        }
        let expr = Expr::Like {
            negated,
            ident,
            pattern: LikePattern::new(&pattern, escape),
        };
        let node = self.node(expr, pos, Ty::Bool, &[1], Bare::Cmp)?;
        self.operands.push(node);
        Ok(())
    }
}
