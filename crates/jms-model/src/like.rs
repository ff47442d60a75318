//! `LIKE` patterns, compiled once at parse time.
//!
//! A pattern is split on `%` into segments of literal characters and `_` (any one
//! character). Each segment matches a fixed number of characters, so matching the first
//! segment at the start, the last at the end, and every middle one at its leftmost position
//! is exact: a later position could only end later and leave less room for the rest. That
//! makes matching O(text × pattern) in the worst case, with no backtracking blow-up
//! (compare a naive recursive matcher on `'%a%a%a%a%b'` against a long run of `a`s).

/// One `%`-free piece of a pattern.
#[derive(Debug, Clone, PartialEq)]
struct Segment {
    /// `Some(c)` matches `c`; `None` is `_` and matches any one character.
    chars: Vec<Option<char>>,
    /// The segment as a string when it has no `_`, so substring search can do the work.
    literal: Option<String>,
}

impl Segment {
    fn new(chars: Vec<Option<char>>) -> Self {
        let literal = chars.iter().copied().collect::<Option<String>>();
        Self { chars, literal }
    }

    /// If the segment matches `text` starting at byte `at`, the byte offset just past it.
    fn match_at(&self, text: &str, at: usize) -> Option<usize> {
        let rest = &text[at..];
        if let Some(lit) = &self.literal {
            return rest.starts_with(lit.as_str()).then(|| at + lit.len());
        }
        let mut it = rest.char_indices();
        for want in &self.chars {
            let (_, got) = it.next()?;
            if want.is_some_and(|w| w != got) {
                return None;
            }
        }
        Some(at + it.next().map_or(rest.len(), |(i, _)| i))
    }

    /// The end (byte offset) of the leftmost match in `text[from..]`.
    fn find(&self, text: &str, from: usize) -> Option<usize> {
        if let Some(lit) = &self.literal {
            return text[from..]
                .find(lit.as_str())
                .map(|i| from + i + lit.len());
        }
        text[from..]
            .char_indices()
            .map(|(i, _)| from + i)
            .find_map(|start| self.match_at(text, start))
    }
}

/// A compiled `LIKE` pattern with its optional `ESCAPE` character.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LikePattern {
    pattern: String,
    escape: Option<char>,
    /// The pattern split on unescaped `%`: one segment means no `%` at all.
    segments: Vec<Segment>,
}

impl LikePattern {
    /// Compiles `pattern`. As in ActiveMQ, the escape character only escapes `_`, `%` and
    /// itself; before any other character, or at the end, it stands for itself (SQL would
    /// reject such patterns; ActiveMQ users may rely on them).
    pub(crate) fn new(pattern: &str, escape: Option<char>) -> Self {
        let mut segments = Vec::new();
        let mut current = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            if Some(c) == escape {
                match chars.peek() {
                    Some(&next) if next == '_' || next == '%' || Some(next) == escape => {
                        chars.next();
                        current.push(Some(next));
                    }
                    _ => current.push(Some(c)),
                }
            } else if c == '%' {
                segments.push(Segment::new(std::mem::take(&mut current)));
            } else if c == '_' {
                current.push(None);
            } else {
                current.push(Some(c));
            }
        }
        segments.push(Segment::new(current));
        Self {
            pattern: pattern.to_owned(),
            escape,
            segments,
        }
    }

    /// The pattern text as written (unescaped from the string literal).
    pub(crate) fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The `ESCAPE` character, if any.
    pub(crate) fn escape(&self) -> Option<char> {
        self.escape
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        // `new` always pushes at least one segment.
        let Some((first, rest)) = self.segments.split_first() else {
            return text.is_empty();
        };
        let Some((last, middle)) = rest.split_last() else {
            return first.match_at(text, 0) == Some(text.len());
        };
        let Some(mut pos) = first.match_at(text, 0) else {
            return false;
        };
        // The last segment is pinned to the end: find where it would have to start.
        let need = last.chars.len();
        let tail_start = if need == 0 {
            text.len()
        } else {
            match text.char_indices().rev().nth(need - 1) {
                Some((i, _)) => i,
                None => return false,
            }
        };
        if tail_start < pos || last.match_at(text, tail_start) != Some(text.len()) {
            return false;
        }
        let body = &text[..tail_start];
        for seg in middle {
            match seg.find(body, pos) {
                Some(end) => pos = end,
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn like(p: &str, esc: Option<char>, s: &str) -> bool {
        LikePattern::new(p, esc).matches(s)
    }

    /// Obviously-correct exponential matcher over chars, for small inputs only.
    fn reference(p: &[Option<Option<char>>], s: &[char]) -> bool {
        // Outer None = '%', Some(None) = '_', Some(Some(c)) = literal.
        match p.split_first() {
            None => s.is_empty(),
            Some((None, rest)) => (0..=s.len()).any(|k| reference(rest, &s[k..])),
            Some((Some(t), rest)) => match s.split_first() {
                Some((c, srest)) => t.is_none_or(|t| t == *c) && reference(rest, srest),
                None => false,
            },
        }
    }

    fn reference_tokens(p: &str, esc: Option<char>) -> Vec<Option<Option<char>>> {
        let mut out = Vec::new();
        let mut it = p.chars().peekable();
        while let Some(c) = it.next() {
            if Some(c) == esc {
                match it.peek() {
                    Some(&n) if n == '_' || n == '%' || Some(n) == esc => {
                        it.next();
                        out.push(Some(Some(n)));
                    }
                    _ => out.push(Some(Some(c))),
                }
            } else if c == '%' {
                out.push(None);
            } else if c == '_' {
                out.push(Some(None));
            } else {
                out.push(Some(Some(c)));
            }
        }
        out
    }

    #[test]
    fn spec_examples() {
        // Jakarta Messaging 3.1 §3.8.1.1.
        assert!(like("12%3", None, "123"));
        assert!(like("12%3", None, "12993"));
        assert!(!like("12%3", None, "1234"));
        assert!(like("l_se", None, "lose"));
        assert!(!like("l_se", None, "loose"));
        assert!(like("\\_%", Some('\\'), "_foo"));
        assert!(!like("\\_%", Some('\\'), "bar"));
    }

    #[test]
    fn anchoring_and_wildcards() {
        assert!(like("", None, ""));
        assert!(!like("", None, "a"));
        assert!(like("%", None, ""));
        assert!(like("%%", None, "abc"));
        assert!(like("a%", None, "a"));
        assert!(like("%a", None, "ba"));
        assert!(!like("%a", None, "ab"));
        assert!(like("a%a", None, "aa"));
        assert!(!like("a%a", None, "a"));
        assert!(like("_", None, "é"));
        assert!(!like("__", None, "é"));
        assert!(like("%b_d%", None, "abcde"));
        assert!(like("a%b%c", None, "abbbc"));
        assert!(!like("a%b%c", None, "acb"));
        // Literal pieces are not regexes.
        assert!(like("a.c", None, "a.c"));
        assert!(!like("a.c", None, "abc"));
    }

    #[test]
    fn escapes() {
        assert!(like("100!%", Some('!'), "100%"));
        assert!(!like("100!%", Some('!'), "1000"));
        assert!(like("a!!b", Some('!'), "a!b"));
        // ActiveMQ: an escape before an ordinary character, or at the end, is literal.
        assert!(like("a!b", Some('!'), "a!b"));
        assert!(like("ab!", Some('!'), "ab!"));
        // The escape character is not special without ESCAPE.
        assert!(like("a\\%", None, "a\\xyz"));
    }

    #[test]
    fn no_exponential_backtracking() {
        let text = "a".repeat(20_000);
        let pattern = "%a%a%a%a%a%a%a%a%a%a%b";
        assert!(!like(pattern, None, &text));
        let pattern = "%a_a_a_a_a_a_a_a_a_a_b%";
        assert!(!like(pattern, None, &text));
    }

    proptest! {
        #[test]
        fn agrees_with_reference(
            p in "[ab_%!é]{0,8}",
            s in "[ab!é_%]{0,10}",
            esc in prop::option::of(prop::sample::select(vec!['!', 'a', '%', '_'])),
        ) {
            let chars: Vec<char> = s.chars().collect();
            prop_assert_eq!(
                like(&p, esc, &s),
                reference(&reference_tokens(&p, esc), &chars),
                "pattern {:?} escape {:?} text {:?}", p, esc, s
            );
        }
    }
}
