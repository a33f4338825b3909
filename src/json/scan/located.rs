//! What the scan reports: where the members the gateway routes on sit, and why a text was refused.

use std::ops::Range;

use super::MAX_DEPTH;

/// The top-level members whose value spans the scan records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    Model,
    Messages,
    MaxTokens,
    Stream,
    /// Located for the token estimate of a keyed request (with `messages` and `tools`), so it needs no scan of its own.
    System,
    Tools,
}

impl Member {
    const ALL: [Member; 6] =
        [Member::Model, Member::Messages, Member::MaxTokens, Member::Stream, Member::System, Member::Tools];

    /// The member's name in the JSON text.
    pub fn name(self) -> &'static str {
        match self {
            Member::Model => "model",
            Member::Messages => "messages",
            Member::MaxTokens => "max_tokens",
            Member::Stream => "stream",
            Member::System => "system",
            Member::Tools => "tools",
        }
    }

    pub(super) fn named(name: &[u8]) -> Option<Member> {
        Member::ALL.into_iter().find(|m| m.name().as_bytes() == name)
    }
}

/// Where each located member's value (its JSON text, without surrounding whitespace) sits in the body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Located {
    pub(super) spans: [Option<Range<usize>>; 6],
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
