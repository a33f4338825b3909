//! Keeps a tool call's streamed arguments a valid JSON object for the client.
//!
//! Fragments are forwarded as they arrive while they extend a valid prefix of
//! a JSON object; an incremental validator tracks where in the grammar the
//! text is. When the block has to close early (the output was cut by
//! `length`, the upstream broke off, or it sent malformed JSON) the validator
//! knows the shortest suffix that turns what was already sent into a valid
//! object, so the client never receives unparsable tool input:
//!
//! - malformed bytes and anything after the finished object are dropped;
//! - a cut right after a comma gets a placeholder member (`"":null` in an
//!   object, `null` in an array): every fragment is forwarded at once, so the
//!   comma has already gone out;
//! - arguments that do not start with `{` are wrapped as
//!   `{"_raw_arguments":"<the text>"}`, as in non-streaming responses;
//! - no arguments at all become `{}`.

use std::borrow::Cow;

use crate::convert::response::RAW_ARGUMENTS_KEY;
use crate::json::number::Number;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

/// Position inside a string literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InString {
    Plain,
    Escape,
    /// After `\u` and this many hex digits.
    Unicode(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Only whitespace so far.
    Start,
    /// After `{` (`first`: `}` may follow) or after a comma in an object.
    ExpectKey {
        first: bool,
    },
    Key(InString),
    /// After a key, before `:`.
    Colon,
    /// After `:` or a comma in an array, or after `[` (`can_close`).
    ExpectValue {
        can_close: bool,
    },
    Str(InString),
    Num(Number),
    Literal {
        word: &'static [u8],
        matched: usize,
    },
    AfterValue,
    /// The outermost object closed.
    Done,
}

/// What to do with one input byte.
enum Step {
    Forward,
    Drop,
    /// The arguments are not an object: wrap them as a raw string.
    Wrap,
}

/// The arguments of one tool block.
#[derive(Debug, Clone)]
pub(super) struct ToolInput {
    state: State,
    stack: Vec<Container>,
    /// Wrapping non-object arguments in `{"_raw_arguments":"…"}`.
    wrapped: bool,
    /// Malformed input was seen; everything after it is dropped.
    broken: bool,
    /// Stop waiting for completion (the block is being closed anyway).
    forced: bool,
}

impl Default for ToolInput {
    fn default() -> Self {
        ToolInput { state: State::Start, stack: Vec::new(), wrapped: false, broken: false, forced: false }
    }
}

impl ToolInput {
    /// The text to forward for `fragment` now (often `fragment` itself).
    pub(super) fn push<'a>(&mut self, fragment: &'a str) -> Cow<'a, str> {
        if self.wrapped {
            return Cow::Owned(escape_string_content(fragment));
        }
        let bytes = fragment.as_bytes();
        // `None` while every byte so far is forwarded unchanged.
        let mut rewritten: Option<Vec<u8>> = None;
        for (i, &b) in bytes.iter().enumerate() {
            let step = self.step(b);
            if !matches!(step, Step::Forward) {
                rewritten.get_or_insert_with(|| bytes[..i].to_vec());
            }
            let Some(out) = rewritten.as_mut() else {
                continue;
            };
            match step {
                Step::Forward => out.push(b),
                Step::Drop => {}
                Step::Wrap => {
                    self.wrapped = true;
                    out.extend_from_slice(format!("{{\"{RAW_ARGUMENTS_KEY}\":\"").as_bytes());
                    // `i` follows ASCII whitespace only, so it is a char boundary.
                    let rest = fragment.get(i..).unwrap_or_default();
                    out.extend_from_slice(escape_string_content(rest).as_bytes());
                    break;
                }
            }
        }
        match rewritten {
            None => Cow::Borrowed(fragment),
            // Cuts happen only at ASCII bytes or before a rejected lead byte.
            Some(out) => Cow::Owned(
                String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
        }
    }

    /// The suffix that completes what was forwarded into a JSON object.
    pub(super) fn finish(&mut self) -> String {
        if self.wrapped {
            return "\"}".to_string();
        }
        if self.state == State::Start {
            return "{}".to_string();
        }
        let mut suffix = self.value_completion();
        for container in self.stack.iter().rev() {
            suffix.push(match container {
                Container::Object => '}',
                Container::Array => ']',
            });
        }
        self.state = State::Done;
        self.stack.clear();
        suffix
    }

    /// Nothing more will be forwarded for this call: its object closed, or
    /// its input broke, or completion was forced.
    pub(super) fn is_complete(&self) -> bool {
        self.state == State::Done || self.broken || self.forced
    }

    pub(super) fn force_complete(&mut self) {
        self.forced = true;
    }

    /// What ends the value (or key) currently being written.
    fn value_completion(&self) -> String {
        let close_string = |s: InString| match s {
            InString::Plain => String::new(),
            InString::Escape => "\\".to_string(),
            InString::Unicode(n) => "0".repeat(4 - usize::from(n)),
        };
        match self.state {
            State::ExpectKey { first: false } => "\"\":null".to_string(),
            State::Key(s) => close_string(s) + "\":null",
            State::Colon => ":null".to_string(),
            State::ExpectValue { can_close: false } => "null".to_string(),
            State::Str(s) => close_string(s) + "\"",
            State::Num(n) if !n.is_complete() => "0".to_string(),
            State::Literal { word, matched } => String::from_utf8_lossy(&word[matched..]).into_owned(),
            _ => String::new(),
        }
    }

    fn step(&mut self, b: u8) -> Step {
        if self.broken || self.state == State::Done {
            return Step::Drop;
        }
        match self.next_state(b) {
            Ok(Some(next)) => {
                self.state = next;
                Step::Forward
            }
            Ok(None) => Step::Forward, // whitespace between tokens
            Err(Wrap) if self.state == State::Start => Step::Wrap,
            Err(_) => {
                self.broken = true;
                Step::Drop
            }
        }
    }

    /// The state after `b`; `Ok(None)` for insignificant whitespace.
    fn next_state(&mut self, b: u8) -> Result<Option<State>, Wrap> {
        use State::*;
        let ws = is_json_whitespace(b);
        let next = match self.state {
            Key(s) => string_step(s, b).map(|n| n.map_or(Colon, Key)),
            Str(s) => string_step(s, b).map(|n| n.map_or(AfterValue, Str)),
            Num(n) => match n.next(b) {
                Some(n) => Some(Num(n)),
                None if n.is_complete() => {
                    self.state = AfterValue;
                    return self.next_state(b);
                }
                None => None,
            },
            Literal { word, matched } => (word.get(matched) == Some(&b)).then(|| {
                if matched + 1 == word.len() {
                    AfterValue
                } else {
                    Literal { word, matched: matched + 1 }
                }
            }),
            _ if ws => return Ok(None),
            Start => (b == b'{').then(|| self.open(Container::Object)),
            ExpectKey { first } => match b {
                b'"' => Some(Key(InString::Plain)),
                b'}' if first => self.close(Container::Object),
                _ => None,
            },
            Colon => (b == b':').then_some(ExpectValue { can_close: false }),
            ExpectValue { can_close } => match b {
                b']' if can_close => self.close(Container::Array),
                _ => self.value_start(b),
            },
            AfterValue => match (b, self.stack.last()) {
                (b',', Some(Container::Object)) => Some(ExpectKey { first: false }),
                (b',', Some(Container::Array)) => Some(ExpectValue { can_close: false }),
                (b'}', Some(Container::Object)) => self.close(Container::Object),
                (b']', Some(Container::Array)) => self.close(Container::Array),
                _ => None,
            },
            Done => None,
        };
        next.map(Some).ok_or(Wrap)
    }

    fn value_start(&mut self, b: u8) -> Option<State> {
        Some(match b {
            b'{' => self.open(Container::Object),
            b'[' => self.open(Container::Array),
            b'"' => State::Str(InString::Plain),
            b'-' => State::Num(Number::Minus),
            b'0' => State::Num(Number::Zero),
            b'1'..=b'9' => State::Num(Number::Int),
            b't' => State::Literal { word: b"true", matched: 1 },
            b'f' => State::Literal { word: b"false", matched: 1 },
            b'n' => State::Literal { word: b"null", matched: 1 },
            _ => return None,
        })
    }

    fn open(&mut self, container: Container) -> State {
        self.stack.push(container);
        match container {
            Container::Object => State::ExpectKey { first: true },
            Container::Array => State::ExpectValue { can_close: true },
        }
    }

    fn close(&mut self, container: Container) -> Option<State> {
        (self.stack.pop() == Some(container)).then_some(if self.stack.is_empty() {
            State::Done
        } else {
            State::AfterValue
        })
    }
}

/// The byte does not fit the grammar here (or, at the start, is not `{`).
struct Wrap;

/// The next string position after `b`; `Some(None)` when `b` closes the string.
fn string_step(s: InString, b: u8) -> Option<Option<InString>> {
    Some(Some(match (s, b) {
        (InString::Plain, b'"') => return Some(None),
        (InString::Plain, b'\\') => InString::Escape,
        (InString::Plain, 0x00..=0x1f) => return None,
        (InString::Plain, _) => InString::Plain,
        (InString::Escape, b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => InString::Plain,
        (InString::Escape, b'u') => InString::Unicode(0),
        (InString::Unicode(n), h) if h.is_ascii_hexdigit() => {
            if n == 3 {
                InString::Plain
            } else {
                InString::Unicode(n + 1)
            }
        }
        _ => return None,
    }))
}

fn is_json_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// `text` escaped for the inside of a JSON string literal.
fn escape_string_content(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    /// Everything forwarded for `fragments`, then the closing suffix.
    fn run(fragments: &[&str]) -> (String, String) {
        let mut input = ToolInput::default();
        let forwarded: String = fragments.iter().map(|f| input.push(f).into_owned()).collect();
        (forwarded, input.finish())
    }

    fn completed(fragments: &[&str]) -> Value {
        let (forwarded, suffix) = run(fragments);
        serde_json::from_str(&(forwarded.clone() + &suffix))
            .unwrap_or_else(|e| panic!("{forwarded:?} + {suffix:?}: {e}"))
    }

    #[test]
    fn valid_fragments_pass_through_unchanged() {
        let mut input = ToolInput::default();
        for f in ["{\"a\"", ": [1, 2.5e-3, ", "true, null], \"b\": {\"c\": \"é\\\"}\"}", "}"] {
            assert!(matches!(input.push(f), Cow::Borrowed(_)), "{f}");
        }
        assert!(input.is_complete());
        assert_eq!(input.finish(), "");
        assert_eq!(completed(&["{\"a\"", ":1,", "\"b\":2}"]), json!({"a": 1, "b": 2}));
    }

    #[test]
    fn truncations_are_completed() {
        let cases: &[(&str, Value)] = &[
            ("", json!({})),
            ("  ", json!({})),
            ("{", json!({})),
            ("{\"pa", json!({"pa": null})),
            ("{\"path\"", json!({"path": null})),
            ("{\"path\":", json!({"path": null})),
            ("{\"path\": \"/tm", json!({"path": "/tm"})),
            ("{\"path\": \"a\\", json!({"path": "a\\"})),
            ("{\"path\": \"a\\u00", json!({"path": "a\u{0}"})),
            ("{\"n\": -", json!({"n": -0.0})),
            ("{\"n\": 1.", json!({"n": 1.0})),
            ("{\"n\": 12e+", json!({"n": 12.0})),
            ("{\"n\": 12", json!({"n": 12})),
            ("{\"b\": tr", json!({"b": true})),
            ("{\"a\": [1, [2", json!({"a": [1, [2]]})),
            ("{\"a\": [", json!({"a": []})),
            ("{\"a\": 1,", json!({"a": 1, "": null})),
            ("{\"a\": [1, ", json!({"a": [1, null]})),
        ];
        for (prefix, expected) in cases {
            assert_eq!(&completed(&[prefix]), expected, "{prefix:?}");
        }
    }

    #[test]
    fn malformed_input_and_trailing_bytes_are_dropped() {
        assert_eq!(completed(&["{\"a\" 1}", "more"]), json!({"a": null}));
        assert_eq!(completed(&["{\"a\":1}", " {\"b\":2}"]), json!({"a": 1}));
        assert_eq!(completed(&["{\"a\":\"x\ny\"}"]), json!({"a": "x"}));
        assert_eq!(completed(&["{\"a\":1,}"]), json!({"a": 1, "": null}));
        let mut broken = ToolInput::default();
        broken.push("{\"a\" 1");
        assert!(broken.is_complete(), "a broken input stops waiting");
    }

    #[test]
    fn non_object_arguments_are_wrapped() {
        assert_eq!(completed(&[" null"]), json!({"_raw_arguments": "null"}));
        assert_eq!(completed(&["[1,", "2]"]), json!({"_raw_arguments": "[1,2]"}));
        assert_eq!(completed(&["say \"hi\"\n"]), json!({"_raw_arguments": "say \"hi\"\n"}));
        let mut wrapped = ToolInput::default();
        wrapped.push("x");
        assert!(!wrapped.is_complete());
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(|n| json!(n)),
            // Exact binary fractions: serde_json's default float parsing is not
            // guaranteed to round-trip every f64.
            (-100_000i32..100_000).prop_map(|n| json!(f64::from(n) / 64.0)),
            "[a-z\"\\\\/\\n\\t\u{1}é😀 ]{0,8}".prop_map(|s| json!(s)),
            any::<bool>().prop_map(|b| json!(b)),
            Just(Value::Null),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z\"]{0,4}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any cut of any object's text, in any fragments, completes to a valid
        /// object; uncut, it reproduces the object exactly.
        #[test]
        fn every_prefix_completes_to_an_object(
            map in prop::collection::btree_map("[a-z]{1,4}", json_value(), 0..4),
            pretty in any::<bool>(),
            cut in any::<prop::sample::Index>(),
            splits in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        ) {
            let object = Value::Object(map.into_iter().collect());
            let text = if pretty { serde_json::to_string_pretty(&object).unwrap() } else { object.to_string() };
            let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
            let end = boundaries[cut.index(boundaries.len())];
            let mut points: Vec<usize> = splits.iter().map(|s| boundaries[s.index(boundaries.len())]).filter(|&p| p <= end).collect();
            points.sort_unstable();
            let mut fragments = Vec::new();
            let mut start = 0;
            for p in points.into_iter().chain([end]) {
                fragments.push(&text[start..p]);
                start = p;
            }
            let value = completed(&fragments);
            prop_assert!(value.is_object());
            if end == text.len() {
                prop_assert_eq!(value, object);
            }
        }

        #[test]
        fn arbitrary_text_completes_to_an_object(fragments in prop::collection::vec("[\\[\\]{}\":,a-z0-9.eE+\\- \\\\]{0,8}", 0..6)) {
            let refs: Vec<&str> = fragments.iter().map(String::as_str).collect();
            prop_assert!(completed(&refs).is_object());
        }
    }
}
