//! Server-sent events framing: an incremental parser for upstream bodies, the
//! encoder for the frames gatehouse writes to clients, and the event-boundary
//! helpers a byte-exact relay cuts its output on.
//!
//! The parser follows the WHATWG event-stream rules that matter for LLM APIs:
//! any of `\n`, `\r\n` or `\r` ends a line (also when a `\r\n` pair is split
//! across two chunks), `:` starts a comment, one space after `field:` is
//! stripped, `data` lines accumulate, and a blank line dispatches the event.
//! It never panics on hostile input and keeps at most one event in memory.

pub mod encode;
pub mod parser;

pub use encode::{encode_event, encode_json_event};
pub use parser::{SseError, SseEvent, SseParser, DEFAULT_MAX_EVENT_BYTES};

/// Whether a chunk ends exactly at the end of an event (so it can be forwarded without holding a tail).
pub fn ends_with_event_boundary(chunk: &[u8]) -> bool {
    chunk.ends_with(b"\n\n") || chunk.ends_with(b"\r\n\r\n")
}

/// The index just past the last blank line (the end of the last complete event).
pub fn last_event_end(data: &[u8]) -> Option<usize> {
    let lf = memchr::memmem::rfind(data, b"\n\n").map(|i| i + 2);
    let crlf = memchr::memmem::rfind(data, b"\n\r\n").map(|i| i + 3);
    lf.max(crlf)
}
