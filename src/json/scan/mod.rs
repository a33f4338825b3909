//! Validating a JSON request body in one pass, chunk by chunk as it arrives: its grammar, how deeply it nests, and
//! where the top-level members the gateway routes on (`model`, `messages`, `max_tokens`, `stream`) and those a
//! token estimate reads (`system`, `messages`, `tools`) sit.
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

use crate::json::number::Number;

/// Deepest nesting of arrays and objects accepted (serde_json's own limit for parsing into values).
pub const MAX_DEPTH: usize = 128;

mod located;
mod strings;
#[cfg(test)]
mod tests;

pub use located::{Located, Member, ScanError};
use strings::{plain_run, SHORT_ESCAPES};

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

/// Scans a whole body at once.
pub fn scan(body: &[u8]) -> Result<Located, ScanError> {
    let mut scan = JsonScan::default();
    scan.feed(body)?;
    scan.finish(body)
}
