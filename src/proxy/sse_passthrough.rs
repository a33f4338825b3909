//! Relaying an Anthropic SSE stream unchanged while reading usage on the side.
//!
//! Bytes are forwarded as soon as they complete an event; only the unfinished tail of an event waits for the
//! next chunk, so that a failure can be reported as a well-formed `event: error` frame instead of being glued to
//! half an event. Usage (`message_start`, `message_delta`) is parsed from already-forwarded bytes, lazily, so
//! parsing never delays a byte.

use bytes::{Bytes, BytesMut};
use memchr::memmem;
use serde::Deserialize;

use super::json_member::top_level_member;
use crate::convert::Usage;
use crate::sse::{SseEvent, SseParser};

/// An unfinished event longer than this is forwarded anyway rather than held.
pub(crate) const MAX_HELD_TAIL: usize = 1024 * 1024;
/// Events larger than this are not parsed for usage (they are still relayed).
pub(crate) const MAX_PARSED_EVENT: usize = 16 * 1024 * 1024;

/// State of one relayed Anthropic stream.
pub struct SsePassthrough {
    tail: BytesMut,
    unscanned: Option<Bytes>,
    parser: SseParser,
    events: Vec<SseEvent>,
    usage: Usage,
    saw_message_stop: bool,
    saw_error: bool,
}

impl Default for SsePassthrough {
    fn default() -> Self {
        Self {
            tail: BytesMut::new(),
            unscanned: None,
            parser: SseParser::new(MAX_PARSED_EVENT),
            events: Vec::new(),
            usage: Usage::default(),
            saw_message_stop: false,
            saw_error: false,
        }
    }
}

impl SsePassthrough {
    /// Takes one upstream chunk; returns the bytes to send now (complete events), if any.
    pub fn on_chunk(&mut self, chunk: Bytes) -> Option<Bytes> {
        self.scan_unscanned();
        let out = if self.tail.is_empty() && ends_with_event_boundary(&chunk) {
            chunk
        } else {
            self.tail.extend_from_slice(&chunk);
            let cut = last_event_end(&self.tail).or((self.tail.len() > MAX_HELD_TAIL).then_some(self.tail.len()))?;
            self.tail.split_to(cut).freeze()
        };
        self.unscanned = Some(out.clone());
        Some(out)
    }

    /// The upstream ended cleanly. Returns `true` if the stream was complete (it reached `message_stop` or carried
    /// its own error event); `false` means it was cut and the caller should append an error frame.
    pub fn on_end(&mut self) -> bool {
        self.scan_unscanned();
        self.tail.clear();
        self.saw_message_stop || self.saw_error
    }

    /// Whether the stream carried the upstream's own error event or ended before `message_stop` (valid once the
    /// stream is over).
    pub fn ended_badly(&mut self) -> bool {
        self.scan_unscanned();
        self.saw_error || !self.saw_message_stop
    }

    /// Token usage seen so far.
    pub fn usage(&mut self) -> Usage {
        self.scan_unscanned();
        self.usage
    }

    fn scan_unscanned(&mut self) {
        let Some(bytes) = self.unscanned.take() else { return };
        if self.parser.push(&bytes, &mut self.events).is_err() {
            self.parser = SseParser::new(MAX_PARSED_EVENT);
        }
        for event in self.events.drain(..) {
            match event.event.as_deref() {
                Some("message_start") | Some("message_delta") => merge_usage(&mut self.usage, &event.data),
                Some("message_stop") => self.saw_message_stop = true,
                Some("error") => self.saw_error = true,
                _ => {}
            }
        }
    }
}

/// Whether a chunk ends exactly at the end of an event (so it can be forwarded without holding a tail).
pub(crate) fn ends_with_event_boundary(chunk: &[u8]) -> bool {
    chunk.ends_with(b"\n\n") || chunk.ends_with(b"\r\n\r\n")
}

/// The index just past the last blank line (end of the last complete event).
pub(crate) fn last_event_end(data: &[u8]) -> Option<usize> {
    let lf = memmem::rfind(data, b"\n\n").map(|i| i + 2);
    let crlf = memmem::rfind(data, b"\n\r\n").map(|i| i + 3);
    lf.max(crlf)
}

#[derive(Deserialize)]
struct UsageEvent {
    #[serde(default)]
    message: Option<UsageHolder>,
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct UsageHolder {
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize, Default)]
struct RawUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
}

/// Merges the usage object of a `message_start` or `message_delta` event (values are running totals).
fn merge_usage(usage: &mut Usage, data: &str) {
    let Ok(event) = serde_json::from_str::<UsageEvent>(data) else { return };
    if let Some(raw) = event.message.and_then(|m| m.usage).or(event.usage) {
        apply_raw_usage(usage, &raw);
    }
}

fn apply_raw_usage(usage: &mut Usage, raw: &RawUsage) {
    let set = |field: &mut u64, value: Option<u64>| {
        if let Some(v) = value {
            *field = v;
        }
    };
    set(&mut usage.input_tokens, raw.input_tokens);
    set(&mut usage.output_tokens, raw.output_tokens);
    set(&mut usage.cache_read_input_tokens, raw.cache_read_input_tokens);
    set(&mut usage.cache_creation_input_tokens, raw.cache_creation_input_tokens);
}

/// Usage from a non-streaming Anthropic response body (`usage` at the top level).
pub fn usage_of_message(body: &[u8]) -> Usage {
    let mut usage = Usage::default();
    // Only the `usage` object is parsed when it can be found by a scan; otherwise the whole body is.
    if let Some(value) = top_level_member(body, b"usage") {
        if let Ok(raw) = RawUsage::deserialize(&mut serde_json::Deserializer::from_slice(value)) {
            apply_raw_usage(&mut usage, &raw);
            return usage;
        }
    }
    if let Ok(event) = serde_json::from_slice::<UsageEvent>(body) {
        if let Some(raw) = event.usage {
            apply_raw_usage(&mut usage, &raw);
        }
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":12,\"output_tokens\":1,\"cache_read_input_tokens\":5,\"cache_creation_input_tokens\":2}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    fn relay(chunks: &[&[u8]]) -> (Vec<u8>, SsePassthrough) {
        let mut p = SsePassthrough::default();
        let mut out = Vec::new();
        for c in chunks {
            if let Some(b) = p.on_chunk(Bytes::copy_from_slice(c)) {
                out.extend_from_slice(&b);
            }
        }
        (out, p)
    }

    #[test]
    fn bytes_pass_unchanged_and_usage_is_read() {
        let bytes = STREAM.as_bytes();
        for split in [1, 7, 50, bytes.len()] {
            let chunks: Vec<&[u8]> = bytes.chunks(split).collect();
            let (out, mut p) = relay(&chunks);
            assert!(p.on_end(), "complete stream");
            assert_eq!(out, bytes, "split {split}");
            assert_eq!(
                p.usage(),
                Usage {
                    input_tokens: 12,
                    output_tokens: 7,
                    cache_read_input_tokens: 5,
                    cache_creation_input_tokens: 2
                }
            );
        }
    }

    #[test]
    fn whole_events_are_forwarded_without_copy() {
        let mut p = SsePassthrough::default();
        let chunk = Bytes::from_static(b"event: ping\ndata: {}\n\n");
        let out = p.on_chunk(chunk.clone()).unwrap();
        assert_eq!(out.as_ptr(), chunk.as_ptr());
    }

    #[test]
    fn half_event_is_held_then_completed() {
        let mut p = SsePassthrough::default();
        assert_eq!(p.on_chunk(Bytes::from_static(b"event: ping\ndata: {")), None);
        assert_eq!(
            p.on_chunk(Bytes::from_static(b"}\n\nevent: x")).unwrap(),
            Bytes::from_static(b"event: ping\ndata: {}\n\n")
        );
    }

    #[test]
    fn cut_stream_is_reported() {
        let cut = &STREAM.as_bytes()[..STREAM.len() / 2];
        let (_, mut p) = relay(&[cut]);
        assert!(!p.on_end());
    }

    #[test]
    fn message_usage() {
        let u = usage_of_message(br#"{"type":"message","usage":{"input_tokens":3,"output_tokens":4}}"#);
        assert_eq!((u.input_tokens, u.output_tokens), (3, 4));
        // Nested `usage` keys (a tool's input) are not the answer's; the top-level one is, wherever it sits.
        let body =
            br#"{"usage":{"output_tokens":9},"content":[{"type":"tool_use","input":{"usage":{"output_tokens":1}}}]}"#;
        assert_eq!(usage_of_message(body).output_tokens, 9);
        // A key the scan cannot see (written with an escape) is still read, by the full parse.
        assert_eq!(usage_of_message(br#"{"\u0075sage":{"output_tokens":5}}"#).output_tokens, 5);
    }
}
