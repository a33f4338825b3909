//! Validating a JSON request body in one pass, chunk by chunk as it arrives: its grammar, how deeply it nests, and
//! where the top-level members the gateway routes on (`model`, `messages`, `max_tokens`, `stream`) sit.
//!
//! The passthrough path never parses a body into a tree; it only needs to know that the body is JSON (so the client
//! gets a clear 400 from the gateway rather than whatever the upstream makes of it) and where those members are.
//! serde_json can tell both, but only once the whole body is in, and on a 230 KB agent request its pass cost
//! ~63 µs, plus ~16 µs for a separate depth scan: more CPU than the bare relay spends on the whole request. This
//! scanner is a small push state machine that crosses string contents (most of a body) 16 bytes at a time, so the
//! body is checked as it arrives, for ~46 µs on that request (`examples/body_cost.rs`).
//!
//! It accepts what serde_json accepts (RFC 8259), and refuses the same texts, with one difference: invalid UTF-8
//! is refused wherever it is, where serde_json does not look inside strings it skips unread. The tests compare the
//! two on generated and mutated texts cut into arbitrary pieces.

use std::ops::Range;

use crate::json::number::Number;

/// Deepest nesting of arrays and objects accepted (serde_json's own limit for parsing into values).
pub const MAX_DEPTH: usize = 128;

/// The top-level members whose value spans the scan records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    Model,
    Messages,
    MaxTokens,
    Stream,
}

impl Member {
    const ALL: [Member; 4] = [Member::Model, Member::Messages, Member::MaxTokens, Member::Stream];

    /// The member's name in the JSON text.
    pub fn name(self) -> &'static str {
        match self {
            Member::Model => "model",
            Member::Messages => "messages",
            Member::MaxTokens => "max_tokens",
            Member::Stream => "stream",
        }
    }

    fn named(name: &[u8]) -> Option<Member> {
        Member::ALL.into_iter().find(|m| m.name().as_bytes() == name)
    }
}

/// Where each located member's value (its JSON text, without surrounding whitespace) sits in the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Located {
    spans: [Option<Range<usize>>; 4],
}

impl Located {
    /// The byte range of `member`'s value, if the object has that member.
    pub fn span(&self, member: Member) -> Option<Range<usize>> {
        self.spans[member as usize].clone()
    }
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanError {
    /// Nothing but whitespace.
    Empty,
    /// Valid or not, the text does not start with `{`.
    NotAnObject,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A grammar error: what was wrong, and the byte offset where it was seen.
    Syntax { at: usize, problem: &'static str },
    /// A located member written twice (serde's derived readers refuse that too; which one would the upstream use?).
    Duplicate(Member),
    /// The text is not valid UTF-8.
    NotUtf8 { at: usize },
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanError::Empty => f.write_str("request body is empty; send a JSON object with model and messages"),
            ScanError::NotAnObject => f.write_str("request body must be a JSON object"),
            ScanError::TooDeep => {
                write!(f, "request body nests arrays and objects deeper than {MAX_DEPTH} levels")
            }
            ScanError::Syntax { at, problem } => write!(f, "request body is not valid JSON: {problem} at byte {at}"),
            ScanError::Duplicate(m) => write!(f, "{}: appears more than once in the request body", m.name()),
            ScanError::NotUtf8 { at } => write!(f, "request body is not valid UTF-8 (at byte {at})"),
        }
    }
}

/// What the grammar allows next, outside a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A value: at the start, after `:`, after `,` in an array.
    Value,
    /// Right after `[`: a value or `]`.
    ValueOrClose,
    /// After `,` in an object: a member name.
    Key,
    /// Right after `{`: a member name or `}`.
    KeyOrClose,
    Colon,
    /// After a value inside a container.
    CommaOrClose,
    /// After the top-level value: only whitespace.
    End,
}

/// A token that may be split across chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    None,
    /// Inside a string (`key`: a member name).
    Str {
        key: bool,
        escape: Escape,
    },
    Number(Number),
    /// `true`, `false` or `null`: the word and how many of its bytes were seen.
    Word {
        word: &'static [u8],
        seen: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    /// Just after a backslash.
    Backslash,
    /// Inside `\uXXXX`: hex digits still to come.
    Hex(u8),
}

/// The located member a top-level member name (its raw text between the quotes) stands for. A name written with
/// escapes is decoded first, as serde_json decodes it: `"mod\u0065l"` is `model`, and a name whose `\u` escapes
/// make no string (a lone surrogate) is an error there, so it is one here.
fn member_named(raw: &[u8]) -> Result<Option<Member>, ()> {
    if !raw.contains(&b'\\') {
        return Ok(Member::named(raw));
    }
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    let name: String = serde_json::from_slice(&quoted).map_err(|_| ())?;
    Ok(Member::named(name.as_bytes()))
}

/// The scan's state between chunks. Feed every chunk in order with [`JsonScan::feed`], then call
/// [`JsonScan::finish`] with the whole body.
#[derive(Debug, Clone)]
pub struct JsonScan {
    /// Bytes fed before the current chunk.
    offset: usize,
    expect: Expect,
    token: Token,
    depth: usize,
    /// Bit `d` set: the container at depth `d + 1` is an object.
    objects: u128,
    /// Some string held a byte outside ASCII: the body's UTF-8 is checked at the end.
    non_ascii: bool,
    /// The raw text of the top-level member name being read.
    key: Vec<u8>,
    /// Where that name started.
    key_at: usize,
    /// The located member whose value is being read, and where that value started.
    current: Option<(Member, Option<usize>)>,
    located: Located,
}

impl Default for JsonScan {
    fn default() -> Self {
        JsonScan {
            offset: 0,
            expect: Expect::Value,
            token: Token::None,
            depth: 0,
            objects: 0,
            non_ascii: false,
            key: Vec::new(),
            key_at: 0,
            current: None,
            located: Located::default(),
        }
    }
}

impl JsonScan {
    /// Scans the next chunk. An error is final: feeding more after it means nothing.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), ScanError> {
        // First the token the previous chunk ended in, if any; then token by token, each read to its end (or to
        // the chunk's end, where it is left in `self.token` for the next chunk).
        let mut i = match self.token {
            Token::None => 0,
            Token::Str { key, escape } => self.string(chunk, 0, key, escape)?,
            Token::Number(n) => self.number(chunk, 0, n)?,
            Token::Word { word, seen } => self.word(chunk, 0, word, seen)?,
        };
        while i < chunk.len() {
            i = self.structural(chunk, i)?;
        }
        self.offset += chunk.len();
        Ok(())
    }

    /// Checks that the text ended where a complete object ends, and its UTF-8 (`body`: the whole text fed).
    pub fn finish(mut self, body: &[u8]) -> Result<Located, ScanError> {
        if let Token::Number(n) = self.token {
            if !n.is_complete() {
                return Err(self.syntax(body.len(), "the number is cut short"));
            }
            self.token = Token::None;
            self.value_done(body.len());
        }
        match (self.expect, self.token) {
            (Expect::End, Token::None) => {}
            (Expect::Value, Token::None) if self.depth == 0 => return Err(ScanError::Empty),
            _ => return Err(self.syntax(body.len(), "the text ends before the JSON object is complete")),
        }
        if self.non_ascii {
            std::str::from_utf8(body).map_err(|e| ScanError::NotUtf8 { at: e.valid_up_to() })?;
        }
        Ok(self.located)
    }

    fn syntax(&self, at: usize, problem: &'static str) -> ScanError {
        ScanError::Syntax { at, problem }
    }

    /// One byte outside any token, and the token it starts; returns the index to go on from.
    fn structural(&mut self, chunk: &[u8], i: usize) -> Result<usize, ScanError> {
        let b = chunk[i];
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            return Ok(i + 1);
        }
        let at = self.offset + i;
        match self.expect {
            Expect::Value | Expect::ValueOrClose => {
                if self.depth == 0 && b != b'{' {
                    return Err(ScanError::NotAnObject);
                }
                if self.expect == Expect::ValueOrClose && b == b']' {
                    self.close(at);
                    return Ok(i + 1);
                }
                if self.depth == 1 {
                    if let Some((_, start @ None)) = &mut self.current {
                        *start = Some(at);
                    }
                }
                if let Some(number) = Number::start(b) {
                    return self.number(chunk, i + 1, number);
                }
                return match b {
                    b'"' => self.string(chunk, i + 1, false, Escape::None),
                    b'{' => self.open(true).map(|()| i + 1),
                    b'[' => self.open(false).map(|()| i + 1),
                    b't' => self.word(chunk, i + 1, b"true", 1),
                    b'f' => self.word(chunk, i + 1, b"false", 1),
                    b'n' => self.word(chunk, i + 1, b"null", 1),
                    _ => Err(self.syntax(at, "expected a value")),
                };
            }
            Expect::Key | Expect::KeyOrClose => match b {
                b'"' => {
                    if self.depth == 1 {
                        self.key.clear();
                        self.key_at = at;
                    }
                    return self.string(chunk, i + 1, true, Escape::None);
                }
                b'}' if self.expect == Expect::KeyOrClose => self.close(at),
                _ => return Err(self.syntax(at, "expected a member name in double quotes")),
            },
            Expect::Colon if b == b':' => self.expect = Expect::Value,
            Expect::Colon => return Err(self.syntax(at, "expected ':' after the member name")),
            Expect::CommaOrClose => {
                let in_object = self.in_object();
                match b {
                    b',' => self.expect = if in_object { Expect::Key } else { Expect::Value },
                    b'}' if in_object => self.close(at),
                    b']' if !in_object => self.close(at),
                    _ if in_object => return Err(self.syntax(at, "expected ',' or '}' after a member")),
                    _ => return Err(self.syntax(at, "expected ',' or ']' after an element")),
                }
            }
            Expect::End => return Err(self.syntax(at, "unexpected text after the JSON object")),
        }
        Ok(i + 1)
    }

    fn in_object(&self) -> bool {
        self.depth > 0 && self.objects & (1 << (self.depth - 1)) != 0
    }

    fn open(&mut self, object: bool) -> Result<(), ScanError> {
        if self.depth == MAX_DEPTH {
            return Err(ScanError::TooDeep);
        }
        self.objects = (self.objects & !(1 << self.depth)) | (u128::from(object) << self.depth);
        self.depth += 1;
        self.expect = if object { Expect::KeyOrClose } else { Expect::ValueOrClose };
        Ok(())
    }

    /// `}` or `]` at `at`, already checked to match the open container.
    fn close(&mut self, at: usize) {
        self.depth -= 1;
        self.value_done(at + 1);
    }

    /// A value ended just before `end`: back in its container (or at the end of the text).
    fn value_done(&mut self, end: usize) {
        if self.depth == 1 {
            if let Some((member, Some(start))) = self.current.take() {
                self.located.spans[member as usize] = Some(start..end);
            }
        }
        self.expect = if self.depth == 0 { Expect::End } else { Expect::CommaOrClose };
    }

    /// A member name just ended at depth 1: is it one to locate?
    fn key_done(&mut self) -> Result<(), ScanError> {
        self.current = None;
        let named = member_named(&self.key)
            .map_err(|()| self.syntax(self.key_at, "a member name's \\u escapes do not make a string"))?;
        if let Some(member) = named {
            if self.located.spans[member as usize].is_some() {
                return Err(ScanError::Duplicate(member));
            }
            self.current = Some((member, None));
        }
        Ok(())
    }

    /// Inside a string from `i`: jumps from one quote, backslash or control character to the next. An escape that
    /// lies whole within the chunk is checked in place; one cut by the chunk's end goes through [`Self::escape`].
    fn string(&mut self, chunk: &[u8], mut i: usize, key: bool, mut escape: Escape) -> Result<usize, ScanError> {
        let keep = key && self.depth == 1;
        loop {
            if escape != Escape::None {
                let from = i;
                (i, escape) = self.escape(chunk, i, escape)?;
                if keep {
                    self.key.extend_from_slice(&chunk[from..i]);
                }
                if escape != Escape::None {
                    self.token = Token::Str { key, escape };
                    return Ok(i);
                }
            }
            let (run, high) = plain_run(&chunk[i..]);
            self.non_ascii |= high;
            if keep {
                self.key.extend_from_slice(&chunk[i..i + run]);
            }
            i += run;
            let Some(&end) = chunk.get(i) else {
                self.token = Token::Str { key, escape: Escape::None };
                return Ok(i);
            };
            match end {
                b'"' => break,
                b'\\' => {
                    let whole = match chunk.get(i + 1) {
                        Some(&c) if SHORT_ESCAPES[usize::from(c)] => 2,
                        Some(b'u') if chunk.get(i + 2..i + 6).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) => 6,
                        _ => 0,
                    };
                    if whole == 0 {
                        if keep {
                            self.key.push(b'\\');
                        }
                        escape = Escape::Backslash;
                        i += 1;
                    } else {
                        if keep {
                            self.key.extend_from_slice(&chunk[i..i + whole]);
                        }
                        i += whole;
                    }
                }
                _ => return Err(self.syntax(self.offset + i, "control character in a string (write it as an escape)")),
            }
        }
        self.token = Token::None;
        if !key {
            self.value_done(self.offset + i + 1);
        } else {
            if keep {
                self.key_done()?;
            }
            self.expect = Expect::Colon;
        }
        Ok(i + 1)
    }

    /// Goes on with an escape from `i`, byte by byte: the index after what was read, and the escape's state there
    /// (`Escape::None` once it is complete).
    fn escape(&self, chunk: &[u8], mut i: usize, mut escape: Escape) -> Result<(usize, Escape), ScanError> {
        while let Some(&b) = chunk.get(i) {
            escape = match escape {
                Escape::None => break,
                Escape::Backslash => match b {
                    _ if SHORT_ESCAPES[usize::from(b)] => Escape::None,
                    b'u' => Escape::Hex(4),
                    _ => return Err(self.syntax(self.offset + i, "invalid escape in a string")),
                },
                Escape::Hex(left) => {
                    if !b.is_ascii_hexdigit() {
                        return Err(self.syntax(self.offset + i, "expected four hex digits after \\u"));
                    }
                    if left == 1 {
                        Escape::None
                    } else {
                        Escape::Hex(left - 1)
                    }
                }
            };
            i += 1;
        }
        Ok((i, escape))
    }

    fn number(&mut self, chunk: &[u8], mut i: usize, mut state: Number) -> Result<usize, ScanError> {
        while let Some(&b) = chunk.get(i) {
            match state.next(b) {
                Some(next) => state = next,
                None if state == Number::Zero && b.is_ascii_digit() => {
                    return Err(self.syntax(self.offset + i, "a number must not start with 0"));
                }
                None if state.is_complete() => {
                    self.token = Token::None;
                    self.value_done(self.offset + i);
                    return Ok(i);
                }
                None => return Err(self.syntax(self.offset + i, "a number ends before its digits")),
            }
            i += 1;
        }
        self.token = Token::Number(state);
        Ok(i)
    }

    fn word(&mut self, chunk: &[u8], mut i: usize, word: &'static [u8], mut seen: usize) -> Result<usize, ScanError> {
        while seen < word.len() {
            let Some(&b) = chunk.get(i) else {
                self.token = Token::Word { word, seen };
                return Ok(i);
            };
            if b != word[seen] {
                return Err(self.syntax(self.offset + i, "expected true, false or null"));
            }
            seen += 1;
            i += 1;
        }
        self.token = Token::None;
        self.value_done(self.offset + i);
        Ok(i)
    }
}

/// The bytes that may follow a backslash on their own (`\u` takes four hex digits). A table rather than a `match`:
/// this runs once per escape, and a long text has thousands.
const SHORT_ESCAPES: [bool; 256] = {
    let mut table = [false; 256];
    let mut k = 0;
    let short = *b"\"\\/bfnrt";
    while k < short.len() {
        table[short[k] as usize] = true;
        k += 1;
    }
    table
};

/// Whether `b` ends a run of plain string content: a quote, a backslash or a control character.
fn ends_plain(b: u8) -> bool {
    (b == b'"') | (b == b'\\') | (b < 0x20)
}

/// The length of the run of plain string content at the start of `text`, and whether it holds a byte outside ASCII.
/// This is where a request body's bytes go (most of them are string contents), so on x86_64 it tests 16 bytes at a
/// time with SSE2 (part of the x86_64 baseline) and finds the run's end from a bit mask; the bytes past the last
/// whole block, and other architectures, go byte by byte.
fn plain_run(text: &[u8]) -> (usize, bool) {
    let mut i = 0;
    let mut high = false;
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        // SAFETY: SSE2 is enabled on every x86_64 target; each load reads the 16 bytes at `i..i + 16`, which the loop
        // condition keeps inside `text` (unaligned loads are allowed).
        unsafe {
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let below_space = _mm_set1_epi8(0x1f);
            while i + 16 <= text.len() {
                let block = _mm_loadu_si128(text.as_ptr().add(i).cast());
                let control = _mm_cmpeq_epi8(_mm_min_epu8(block, below_space), block);
                let ends =
                    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(block, quote), _mm_cmpeq_epi8(block, backslash)), control);
                let ends = _mm_movemask_epi8(ends) as u32;
                let high_bits = _mm_movemask_epi8(block) as u32;
                if ends != 0 {
                    let run = ends.trailing_zeros();
                    return (i + run as usize, high || high_bits & ((1 << run) - 1) != 0);
                }
                high |= high_bits != 0;
                i += 16;
            }
        }
    }
    while let Some(&b) = text.get(i) {
        if ends_plain(b) {
            break;
        }
        high |= b >= 0x80;
        i += 1;
    }
    (i, high)
}

/// Scans a whole body at once.
pub fn scan(body: &[u8]) -> Result<Located, ScanError> {
    let mut scan = JsonScan::default();
    scan.feed(body)?;
    scan.finish(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    mod serde_probe {
        include!("../../tests/support/serde_probe.rs");
    }

    /// What serde_json makes of the same text (see `tests/support/serde_probe.rs`).
    fn oracle(text: &[u8]) -> Option<Located> {
        serde_probe::serde_spans(text).map(|spans| Located { spans })
    }

    /// The scan's spans as serde reads them into `Option`s: a member whose value is `null` reads as absent there.
    fn as_options(located: Located, text: &[u8]) -> Located {
        Located { spans: located.spans.map(|span| span.filter(|r| &text[r.clone()] != b"null")) }
    }

    /// Scans `text` fed in pieces cut at `cuts`.
    fn scan_in_pieces(text: &[u8], cuts: &[usize]) -> Result<Located, ScanError> {
        let mut points = cuts.to_vec();
        points.sort_unstable();
        let mut scan = JsonScan::default();
        let mut start = 0;
        for end in points.into_iter().chain([text.len()]) {
            scan.feed(&text[start..end])?;
            start = end;
        }
        scan.finish(text).map(|located| as_options(located, text))
    }

    fn agrees(text: &[u8]) {
        let scanned = scan(text).ok().map(|located| as_options(located, text));
        assert_eq!(scanned, oracle(text), "{:?}", String::from_utf8_lossy(text));
        for cut in 0..=text.len() {
            assert_eq!(scan_in_pieces(text, &[cut]).ok(), scanned, "cut at {cut}: {:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn accepts_and_refuses_what_serde_json_does() {
        let cases: &[&str] = &[
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":10,"stream":true}"#,
            " { \"model\" : \"p:m\\u00e9\" , \"messages\" : [ 1 , -2.5e+3 , 0 , -0 , 1E9 , 0.25 ] } \n",
            r#"{"a":{"model":1},"model":"x","b":[{"messages":[]}]}"#,
            r#"{"mod\u0065l":"escaped key","max_tokens":7}"#,
            r#"{"model":"a","mod\u0065l":"b"}"#,
            r#"{"model":"a","model":"b"}"#,
            r#"{"messages":null,"stream":false,"x":[true,false,null,{},[],""]}"#,
            r#"{"s":"\"\\\/\b\f\n\r\t\u0000\uD83D\uDE00\ud800"}"#,
            r#"{"\ud800":1}"#,
            r#"{"a":[[]],"b":{"c":{}}}"#,
            "{}",
            "{\"a\":\"\u{7f}é😀\"}",
            "",
            "   ",
            "[1]",
            "\"s\"",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":1",
            "{\"a\":1,}",
            "{\"a\":[1,]}",
            "{\"a\":[,1]}",
            "{\"a\" 1}",
            "{\"a\":1 \"b\":2}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":.5}",
            "{\"a\":-}",
            "{\"a\":1e}",
            "{\"a\":1e+}",
            "{\"a\":+1}",
            "{\"a\":tru}",
            "{\"a\":truex}",
            "{\"a\":nul}",
            "{\"a\":NaN}",
            "{\"a\":\"\\q\"}",
            "{\"a\":\"\\u12G4\"}",
            "{\"a\":\"tab\there\"}",
            "{\"a\":\"nl\nhere\"}",
            "{\"a\":\"unterminated}",
            "{\"a\":1} x",
            "{\"a\":1}{}",
            "{'a':1}",
            "{a:1}",
            "{\"a\":[1}",
            "{\"a\":{]}",
            "{\"a\":1]",
            "\u{feff}{}",
        ];
        for case in cases {
            agrees(case.as_bytes());
        }
        agrees(b"{\"a\":\"\xff\"}");
        agrees(b"{\"a\":\"\xc3\"}");
        agrees(b"{\"a\":\xc3\xa9}");
    }

    #[test]
    fn errors_say_what_is_wrong_and_where() {
        assert_eq!(scan(b" \n").unwrap_err(), ScanError::Empty);
        assert_eq!(scan(b" [1]").unwrap_err(), ScanError::NotAnObject);
        assert_eq!(
            scan(br#"{"a":1,}"#).unwrap_err().to_string(),
            "request body is not valid JSON: expected a member name in double quotes at byte 7"
        );
        assert_eq!(
            scan(br#"{"model":"a","model":"b"}"#).unwrap_err().to_string(),
            "model: appears more than once in the request body"
        );
        assert!(scan(b"{\"a\":\"x\x01\"}").unwrap_err().to_string().contains("control character"));
        assert_eq!(scan(b"{\"a\":\"\xff\"}").unwrap_err(), ScanError::NotUtf8 { at: 6 });
    }

    #[test]
    fn spans_cover_each_located_value_exactly() {
        let text =
            br#"{ "stream" : true , "model":"a:b", "x":{"model":1}, "messages" :[ {"c":"]"} ] , "max_tokens":12 }"#;
        let located = scan(text).unwrap();
        let get = |m| located.span(m).map(|r| std::str::from_utf8(&text[r]).unwrap().to_string());
        assert_eq!(get(Member::Model).as_deref(), Some(r#""a:b""#));
        assert_eq!(get(Member::Messages).as_deref(), Some(r#"[ {"c":"]"} ]"#));
        assert_eq!(get(Member::MaxTokens).as_deref(), Some("12"));
        assert_eq!(get(Member::Stream).as_deref(), Some("true"));
    }

    fn nested(levels: usize) -> String {
        format!(r#"{{"a":{}1{}}}"#, "[".repeat(levels - 1), "]".repeat(levels - 1))
    }

    #[test]
    fn nesting_is_bounded_at_the_limit() {
        assert!(scan(nested(MAX_DEPTH).as_bytes()).is_ok());
        assert_eq!(scan(nested(MAX_DEPTH + 1).as_bytes()).unwrap_err(), ScanError::TooDeep);
        // Refused as soon as the offending piece arrives, whatever follows.
        let mut scan = JsonScan::default();
        scan.feed(br#"{"a":"[[[[","b":"#).unwrap();
        assert_eq!(scan.feed("[".repeat(MAX_DEPTH).as_bytes()).unwrap_err(), ScanError::TooDeep);
    }

    #[test]
    fn escapes_and_words_split_across_pieces_are_carried_over() {
        let text = br#"{"model":"a\"\\\u00e9b","messages":[true,false,null,-12.5e-3],"max_tokens":100}"#;
        for a in 0..text.len() {
            for b in a..text.len() {
                assert_eq!(scan_in_pieces(text, &[a, b]), scan(text), "cuts {a} {b}");
            }
        }
    }

    fn ws() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["", "", "", " ", "\n", "\t ", "\r\n  "])
    }

    fn leaf() -> impl Strategy<Value = String> {
        prop_oneof![
            "\\PC{0,6}".prop_map(|s| serde_json::Value::String(s).to_string()),
            prop::sample::select(vec![r#""a\u00e9\n\"\\\/""#, r#""\uD83D\uDE00""#, r#""\ud800""#, r#""""#])
                .prop_map(String::from),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| serde_json::json!(f).to_string()),
            prop::sample::select(vec!["-0", "1e10", "2.5E-3", "0.0", "true", "false", "null", "[]", "{}"])
                .prop_map(String::from),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec!["model", "messages", "max_tokens", "stream", r"mod\u0065l", "a", r"b\n", ""])
                .prop_map(|k| format!("\"{k}\"")),
            "\\PC{0,4}".prop_map(|s| serde_json::Value::String(s).to_string()),
        ]
    }

    /// JSON texts with located members (sometimes twice), escapes, every kind of value and assorted whitespace.
    fn object_text() -> impl Strategy<Value = String> {
        let value = leaf().prop_recursive(5, 48, 4, |inner| {
            prop_oneof![
                prop::collection::vec((ws(), inner.clone(), ws()), 0..4).prop_map(|v| format!(
                    "[{}]",
                    v.iter().map(|(a, x, b)| format!("{a}{x}{b}")).collect::<Vec<_>>().join(",")
                )),
                prop::collection::vec((key(), ws(), inner), 0..4).prop_map(|v| {
                    format!("{{{}}}", v.iter().map(|(k, w, x)| format!("{k}{w}:{w}{x}")).collect::<Vec<_>>().join(","))
                }),
            ]
        });
        (ws(), prop::collection::vec((key(), ws(), value), 0..6)).prop_map(|(w, members)| {
            let body: Vec<String> = members.iter().map(|(k, w, x)| format!("{w}{k}{w}:{w}{x}{w}")).collect();
            format!("{w}{{{}}}{w}", body.join(","))
        })
    }

    /// One byte inserted, replaced or removed: most such texts are broken in some way serde_json names.
    fn mutate(text: &str, at: prop::sample::Index, op: u8, byte: u8) -> Vec<u8> {
        let mut bytes = text.as_bytes().to_vec();
        let i = at.index(bytes.len() + 1);
        match op % 3 {
            0 => bytes.insert(i, byte),
            1 if i < bytes.len() => bytes[i] = byte,
            _ if i < bytes.len() => {
                bytes.remove(i);
            }
            _ => bytes.push(byte),
        }
        bytes
    }

    /// Bytes around the ends of a plain run: quotes, backslashes, control characters, and bytes outside ASCII.
    fn string_bytes() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(b"ab \"\\\x00\x1f\x20\x7f\x80\xff".to_vec()), 0..80)
    }

    fn cut_points() -> impl Strategy<Value = Vec<prop::sample::Index>> {
        prop::collection::vec(any::<prop::sample::Index>(), 0..5)
    }

    const NOISE: &[u8] = b"{}[],:\"\\ /0123456789-+.eEtrufalsnu\x00\x1f\t\n\x7f\xc3\xa9\xffab";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn plain_runs_end_at_the_first_quote_backslash_or_control(text in string_bytes(), skip in 0usize..40) {
            let text = &text[skip.min(text.len())..];
            let end = text.iter().position(|&b| ends_plain(b)).unwrap_or(text.len());
            prop_assert_eq!(plain_run(text), (end, text[..end].iter().any(|&b| b >= 0x80)));
        }

        #[test]
        fn agrees_with_serde_json_on_generated_texts(text in object_text(), cuts in cut_points()) {
            let cuts: Vec<usize> = cuts.iter().map(|c| c.index(text.len() + 1)).collect();
            prop_assert_eq!(scan_in_pieces(text.as_bytes(), &cuts).ok(), oracle(text.as_bytes()), "{}", text);
        }

        #[test]
        fn agrees_with_serde_json_on_broken_texts(
            text in object_text(),
            at in any::<prop::sample::Index>(),
            op in any::<u8>(),
            byte in prop::sample::select(NOISE),
            cuts in cut_points(),
        ) {
            let text = mutate(&text, at, op, byte);
            let cuts: Vec<usize> = cuts.iter().map(|c| c.index(text.len() + 1)).collect();
            prop_assert_eq!(scan_in_pieces(&text, &cuts).ok(), oracle(&text), "{}", String::from_utf8_lossy(&text));
        }
    }
}
