//! The selector tokenizer, written with nom; the grammar itself is the recursive-descent
//! parser in `parse.rs`, which works on these tokens.
//!
//! Lexical rules follow Jakarta Messaging 3.1 §3.8.1.1: Java whitespace, Java identifiers,
//! case-insensitive keywords, `'...'` strings with `''` for a quote, Java integer literals
//! (decimal, `0x` hex, `0` octal, optional `L`) and Java floating-point literals (decimal
//! point and/or exponent, optional `f`/`d`). No SQL comments.

use nom::branch::alt;
use nom::bytes::complete::{is_not, tag, tag_no_case, take_while};
use nom::character::complete::{char, digit1, hex_digit1, one_of, satisfy};
use nom::combinator::{opt, recognize};
use nom::multi::many0_count;
use nom::sequence::delimited;
use nom::{IResult, Parser};

use crate::SelectorError;

type NomError<'a> = nom::error::Error<&'a str>;

/// Reserved words; they cannot be identifiers, in any letter case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    Null,
    True,
    False,
    Not,
    And,
    Or,
    Between,
    Like,
    In,
    Is,
    Escape,
}

impl Keyword {
    const ALL: [(&'static str, Self); 11] = [
        ("NULL", Self::Null),
        ("TRUE", Self::True),
        ("FALSE", Self::False),
        ("NOT", Self::Not),
        ("AND", Self::And),
        ("OR", Self::Or),
        ("BETWEEN", Self::Between),
        ("LIKE", Self::Like),
        ("IN", Self::In),
        ("IS", Self::Is),
        ("ESCAPE", Self::Escape),
    ];

    pub(crate) fn lookup(word: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
            .map(|&(_, k)| k)
    }
}

/// Operators and punctuation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Punct {
    LParen,
    RParen,
    Comma,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    Ident,
    Keyword(Keyword),
    /// A string literal, already unescaped.
    Str(String),
    /// An integer literal's magnitude; up to 2^63 so that `-9223372036854775808` works.
    Int(u64),
    Float(f64),
    Punct(Punct),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token<'t> {
    pub(crate) kind: TokenKind,
    /// The token's source text (empty for `Eof`).
    pub(crate) text: &'t str,
    /// Character offset into the full selector text.
    pub(crate) pos: usize,
}

/// Java whitespace: space, tab, form feed and line terminators.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}')
}

/// Currency symbols (Unicode Sc), which Java accepts anywhere in an identifier.
fn is_currency(c: char) -> bool {
    matches!(c,
        '$' | '\u{a2}'..='\u{a5}' | '\u{58f}' | '\u{60b}' | '\u{7fe}'..='\u{7ff}'
        | '\u{9f2}'..='\u{9f3}' | '\u{9fb}' | '\u{af1}' | '\u{bf9}' | '\u{e3f}' | '\u{17db}'
        | '\u{20a0}'..='\u{20c0}' | '\u{a838}' | '\u{fdfc}' | '\u{fe69}' | '\u{ff04}'
        | '\u{ffe0}'..='\u{ffe1}' | '\u{ffe5}'..='\u{ffe6}')
}

/// Connector punctuation (Unicode Pc), such as `_`.
fn is_connector(c: char) -> bool {
    matches!(c,
        '_' | '\u{203f}'..='\u{2040}' | '\u{2054}' | '\u{fe33}'..='\u{fe34}'
        | '\u{fe4d}'..='\u{fe4f}' | '\u{ff3f}')
}

/// `Character.isJavaIdentifierStart`, approximated with Rust's Unicode tables: letters
/// (and letter numbers), currency symbols and connector punctuation.
pub(crate) fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || is_currency(c) || is_connector(c)
}

/// `Character.isJavaIdentifierPart`, approximated: a start character or a digit. Java's
/// "ignorable" control and format characters are not accepted.
pub(crate) fn is_ident_part(c: char) -> bool {
    is_ident_start(c) || c.is_numeric()
}

fn whitespace(i: &str) -> IResult<&str, &str, NomError<'_>> {
    take_while(is_space).parse(i)
}

fn identifier(i: &str) -> IResult<&str, &str, NomError<'_>> {
    recognize((satisfy(is_ident_start), take_while(is_ident_part))).parse(i)
}

/// The raw text between the quotes, `''` still doubled.
fn string_literal(i: &str) -> IResult<&str, &str, NomError<'_>> {
    delimited(
        char('\''),
        recognize(many0_count(alt((tag("''"), is_not("'"))))),
        char('\''),
    )
    .parse(i)
}

fn exponent(i: &str) -> IResult<&str, &str, NomError<'_>> {
    recognize((one_of("eE"), opt(one_of("+-")), digit1)).parse(i)
}

/// A numeric literal's text including any type suffix; classified by `number_token`.
fn number(i: &str) -> IResult<&str, &str, NomError<'_>> {
    recognize((
        alt((
            recognize((tag_no_case("0x"), hex_digit1)),
            recognize((digit1, char('.'), opt(digit1), opt(exponent))),
            recognize((char('.'), digit1, opt(exponent))),
            recognize((digit1, exponent)),
            digit1,
        )),
        opt(one_of("lLfFdD")),
    ))
    .parse(i)
}

fn punct(i: &str) -> IResult<&str, &str, NomError<'_>> {
    alt((
        tag("<>"),
        tag("<="),
        tag(">="),
        tag("<"),
        tag(">"),
        tag("="),
        tag("("),
        tag(")"),
        tag(","),
        tag("+"),
        tag("-"),
        tag("*"),
        tag("/"),
    ))
    .parse(i)
}

fn punct_kind(text: &str) -> Punct {
    match text {
        "<>" => Punct::Ne,
        "<=" => Punct::Le,
        ">=" => Punct::Ge,
        "<" => Punct::Lt,
        ">" => Punct::Gt,
        "=" => Punct::Eq,
        "(" => Punct::LParen,
        ")" => Punct::RParen,
        "," => Punct::Comma,
        "+" => Punct::Plus,
        "-" => Punct::Minus,
        "*" => Punct::Star,
        _ => Punct::Slash,
    }
}

/// Classifies a numeric literal's text (as matched by `number`).
fn number_token(text: &str) -> Result<TokenKind, &'static str> {
    let (body, suffix) = match text.char_indices().last() {
        Some((i, c)) if "lLfFdD".contains(c) && !is_hex(text) => (&text[..i], Some(c)),
        _ => (text, None),
    };
    let out_of_range = "integer literal out of range";
    if is_hex(body) {
        // The number parser gives hex digits no room for an f/d suffix: they are digits.
        let digits = body[2..].trim_end_matches(['l', 'L']);
        return u64::from_str_radix(digits, 16)
            .ok()
            .filter(|&m| m <= 1 << 63)
            .map(TokenKind::Int)
            .ok_or(out_of_range);
    }
    let is_float = body.contains(['.', 'e', 'E']) || matches!(suffix, Some('f' | 'F' | 'd' | 'D'));
    if is_float {
        if matches!(suffix, Some('l' | 'L')) {
            return Err("invalid numeric literal");
        }
        // Java's `f` literals are floats; widening keeps the float's value exactly.
        let value = if matches!(suffix, Some('f' | 'F')) {
            body.parse::<f32>().map(f64::from)
        } else {
            body.parse::<f64>()
        };
        return match value {
            Ok(v) if v.is_finite() => Ok(TokenKind::Float(v)),
            _ => Err("floating-point literal out of range"),
        };
    }
    let (digits, radix) = if body.len() > 1 && body.starts_with('0') {
        if !body.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return Err("invalid octal literal");
        }
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    u64::from_str_radix(digits, radix)
        .ok()
        .filter(|&m| m <= 1 << 63)
        .map(TokenKind::Int)
        .ok_or(out_of_range)
}

fn is_hex(text: &str) -> bool {
    text.len() > 1 && text.as_bytes()[0] == b'0' && matches!(text.as_bytes()[1], b'x' | b'X')
}

/// A short, quoted rendering of source text for error messages.
pub(crate) fn quote(text: &str) -> String {
    const MAX: usize = 24;
    let mut out: String = text.chars().take(MAX).collect();
    if text.chars().nth(MAX).is_some() {
        out.push_str("...");
    }
    format!("'{out}'")
}

/// Splits `input` (the selector after any prefix) into tokens ending with `Eof`.
/// `base` is the character offset of `input` within the text the caller was given.
pub(crate) fn tokenize(input: &str, base: usize) -> Result<Vec<Token<'_>>, SelectorError> {
    let mut tokens = Vec::new();
    let mut rest = input;
    let mut pos = base;
    loop {
        let (after_ws, ws) = whitespace(rest).unwrap_or((rest, ""));
        pos += ws.chars().count();
        rest = after_ws;
        let Some(first) = rest.chars().next() else {
            tokens.push(Token {
                kind: TokenKind::Eof,
                text: "",
                pos,
            });
            return Ok(tokens);
        };
        let starts_number = first.is_ascii_digit()
            || (first == '.' && rest[1..].starts_with(|c: char| c.is_ascii_digit()));
        let (next, text, kind) = if first == '\'' {
            let Ok((next, raw)) = string_literal(rest) else {
                return Err(SelectorError::new(pos, "unterminated string literal"));
            };
            (
                next,
                &rest[..rest.len() - next.len()],
                TokenKind::Str(raw.replace("''", "'")),
            )
        } else if starts_number {
            let Ok((next, text)) = number(rest) else {
                return Err(SelectorError::new(pos, "invalid numeric literal"));
            };
            // `5abc` or `1.2.3` is not two tokens: Java would refuse it too.
            if next.starts_with(|c: char| is_ident_part(c) || c == '.') {
                let bad = &rest
                    [..rest.len() - next.len() + next.chars().next().map_or(0, char::len_utf8)];
                return Err(SelectorError::new(
                    pos,
                    format!("invalid numeric literal {}", quote(bad)),
                ));
            }
            let kind = number_token(text).map_err(|m| SelectorError::new(pos, m))?;
            (next, text, kind)
        } else if is_ident_start(first) {
            let Ok((next, text)) = identifier(rest) else {
                return Err(SelectorError::new(pos, "invalid identifier"));
            };
            let kind = Keyword::lookup(text).map_or(TokenKind::Ident, TokenKind::Keyword);
            (next, text, kind)
        } else if let Ok((next, text)) = punct(rest) {
            (next, text, TokenKind::Punct(punct_kind(text)))
        } else {
            return Err(SelectorError::new(
                pos,
                format!("unexpected character {}", quote(&first.to_string())),
            ));
        };
        tokens.push(Token { kind, text, pos });
        pos += text.chars().count();
        rest = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<TokenKind> {
        tokenize(s, 0)
            .unwrap()
            .into_iter()
            .map(|t| t.kind)
            .collect()
    }

    fn lex_err(s: &str) -> SelectorError {
        tokenize(s, 0).unwrap_err()
    }

    #[test]
    fn integer_literals() {
        assert_eq!(kinds("57"), [TokenKind::Int(57), TokenKind::Eof]);
        assert_eq!(kinds("57L")[0], TokenKind::Int(57));
        assert_eq!(kinds("57l")[0], TokenKind::Int(57));
        assert_eq!(kinds("0")[0], TokenKind::Int(0));
        assert_eq!(kinds("0x1F")[0], TokenKind::Int(31));
        assert_eq!(kinds("0XffL")[0], TokenKind::Int(255));
        assert_eq!(kinds("017")[0], TokenKind::Int(15));
        assert_eq!(kinds("9223372036854775808")[0], TokenKind::Int(1 << 63));
        assert_eq!(
            lex_err("9223372036854775809").message,
            "integer literal out of range"
        );
        assert_eq!(lex_err("a = 09").position, 4);
        assert_eq!(lex_err("09").message, "invalid octal literal");
        assert_eq!(lex_err("0x").message, "invalid numeric literal '0x'");
        assert_eq!(lex_err("5abc").message, "invalid numeric literal '5a'");
    }

    #[test]
    fn float_literals() {
        assert_eq!(kinds("7E3")[0], TokenKind::Float(7000.0));
        assert_eq!(kinds("57.9E2")[0], TokenKind::Float(5790.0));
        assert_eq!(kinds("7.")[0], TokenKind::Float(7.0));
        assert_eq!(kinds(".5")[0], TokenKind::Float(0.5));
        assert_eq!(kinds("5.E1")[0], TokenKind::Float(50.0));
        assert_eq!(kinds("1e-3")[0], TokenKind::Float(0.001));
        assert_eq!(kinds("2d")[0], TokenKind::Float(2.0));
        assert_eq!(kinds("0.1f")[0], TokenKind::Float(f64::from(0.1f32)));
        assert_eq!(kinds("08.5")[0], TokenKind::Float(8.5));
        assert_eq!(
            lex_err("1e999").message,
            "floating-point literal out of range"
        );
        assert_eq!(lex_err("1.5L").message, "invalid numeric literal");
        assert_eq!(lex_err("1.2.3").message, "invalid numeric literal '1.2.'");
        assert_eq!(lex_err("1e").message, "invalid numeric literal '1e'");
    }

    #[test]
    fn strings_identifiers_keywords() {
        assert_eq!(kinds("'literal''s'")[0], TokenKind::Str("literal's".into()));
        assert_eq!(kinds("''")[0], TokenKind::Str(String::new()));
        assert_eq!(kinds("'é'")[0], TokenKind::Str("é".into()));
        assert_eq!(
            kinds("$a_1 _x JMSXGroupID café")[..4],
            [const { TokenKind::Ident }; 4]
        );
        assert_eq!(kinds("nOt")[0], TokenKind::Keyword(Keyword::Not));
        assert_eq!(kinds("Null")[0], TokenKind::Keyword(Keyword::Null));
        assert_eq!(kinds("notx")[0], TokenKind::Ident);
        let e = lex_err("a = 'abc");
        assert_eq!(
            (e.position, e.message.as_str()),
            (4, "unterminated string literal")
        );
    }

    #[test]
    fn punctuation_and_positions() {
        let toks = tokenize("a<>b <= c>=d", 0).unwrap();
        let got: Vec<(usize, &str)> = toks.iter().map(|t| (t.pos, t.text)).collect();
        assert_eq!(
            got,
            [
                (0, "a"),
                (1, "<>"),
                (3, "b"),
                (5, "<="),
                (8, "c"),
                (9, ">="),
                (11, "d"),
                (12, "")
            ]
        );
        // Positions count characters, not bytes.
        let toks = tokenize("é = 'ü' #", 0);
        assert_eq!(toks.unwrap_err().position, 8);
        let e = lex_err("a # 1");
        assert_eq!(
            (e.position, e.message.as_str()),
            (2, "unexpected character '#'")
        );
        assert_eq!(lex_err("a != 1").message, "unexpected character '!'");
        // Only Java whitespace separates tokens.
        assert_eq!(lex_err("a\u{a0}= 1").position, 1);
        assert_eq!(kinds("a\t\r\n\u{c}=1").len(), 4);
    }
}
