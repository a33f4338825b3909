//! Relaying an OpenAI-format SSE stream unchanged (the OpenAI-compatible route to an OpenAI-format provider)
//! while reading usage on the side.
//!
//! Like [`super::sse_passthrough`]: bytes go out as soon as they complete an event, and forwarded events are
//! scanned lazily. Most chunks carry `"usage":null` and `"finish_reason":null`, so a chunk is parsed only when
//! a cheap byte scan finds a `usage` object, a `finish_reason` string or an `error` key in it.

use bytes::{Bytes, BytesMut};
use memchr::memmem;
use serde_json::Value;

use super::sse_passthrough::{ends_with_event_boundary, last_event_end, MAX_HELD_TAIL, MAX_PARSED_EVENT};
use crate::convert::Usage;
use crate::sse::{SseEvent, SseParser};

/// State of one relayed OpenAI stream.
pub struct OpenAiSsePassthrough {
    tail: BytesMut,
    unscanned: Option<Bytes>,
    parser: SseParser,
    events: Vec<SseEvent>,
    usage: Usage,
    saw_done: bool,
    saw_finish: bool,
    saw_error: bool,
}

impl Default for OpenAiSsePassthrough {
    fn default() -> Self {
        Self {
            tail: BytesMut::new(),
            unscanned: None,
            parser: SseParser::new(MAX_PARSED_EVENT),
            events: Vec::new(),
            usage: Usage::default(),
            saw_done: false,
            saw_finish: false,
            saw_error: false,
        }
    }
}

impl OpenAiSsePassthrough {
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

    /// The upstream ended. Returns the unfinished tail, if any, and whether the stream was complete (`[DONE]`,
    /// a finish reason, or the upstream's own error chunk); `false` means it was cut.
    pub fn on_end(&mut self) -> (Option<Bytes>, bool) {
        self.scan_unscanned();
        let tail = (!self.tail.is_empty()).then(|| self.tail.split().freeze());
        if let Some(tail) = &tail {
            self.unscanned = Some(tail.clone());
            self.scan_unscanned();
            let mut events = std::mem::take(&mut self.events);
            self.parser.finish(&mut events);
            for event in events.drain(..) {
                self.scan_event(&event);
            }
            self.events = events;
        }
        (tail, self.saw_done || self.saw_finish || self.saw_error)
    }

    /// Whether the stream carried an error chunk or ended without finishing (valid once the stream is over).
    pub fn ended_badly(&mut self) -> bool {
        self.scan_unscanned();
        self.saw_error || !(self.saw_done || self.saw_finish)
    }

    /// Token usage seen so far (OpenAI streams report it only with `stream_options.include_usage`).
    pub fn usage(&mut self) -> Usage {
        self.scan_unscanned();
        self.usage
    }

    fn scan_unscanned(&mut self) {
        let Some(bytes) = self.unscanned.take() else { return };
        let mut events = std::mem::take(&mut self.events);
        if self.parser.push(&bytes, &mut events).is_err() {
            self.parser = SseParser::new(MAX_PARSED_EVENT);
        }
        for event in events.drain(..) {
            self.scan_event(&event);
        }
        self.events = events;
    }

    fn scan_event(&mut self, event: &SseEvent) {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.saw_done = true;
            return;
        }
        let bytes = data.as_bytes();
        let has_usage = value_starts_with(bytes, b"\"usage\"", b'{');
        let has_finish = !self.saw_finish && value_starts_with(bytes, b"\"finish_reason\"", b'"');
        let has_error = event.event.as_deref() == Some("error") || memmem::find(bytes, b"\"error\"").is_some();
        if !(has_usage || has_finish || has_error) {
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else { return };
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Usage::from_openai(usage);
        }
        let finish = chunk.get("choices").and_then(Value::as_array).into_iter().flatten();
        if finish.filter_map(|c| c.get("finish_reason")).any(Value::is_string) {
            self.saw_finish = true;
        }
        if chunk.get("error").is_some_and(|e| !e.is_null()) {
            self.saw_error = true;
        }
    }
}

/// Whether `key` occurs in `data` followed (after optional whitespace and the colon) by `first`: the start of
/// a string or an object rather than `null`.
fn value_starts_with(data: &[u8], key: &[u8], first: u8) -> bool {
    memmem::find_iter(data, key).any(|at| {
        let rest = &data[at + key.len()..];
        let mut after = rest.iter().skip_while(|b| b.is_ascii_whitespace());
        after.next() == Some(&b':') && after.find(|b| !b.is_ascii_whitespace()) == Some(&first)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = concat!(
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[],\"usage\": {\"prompt_tokens\":10,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n",
        "data: [DONE]\n\n",
    );

    fn relay(chunks: &[&[u8]]) -> (Vec<u8>, OpenAiSsePassthrough) {
        let mut p = OpenAiSsePassthrough::default();
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
        for split in [1, 5, 64, bytes.len()] {
            let chunks: Vec<&[u8]> = bytes.chunks(split).collect();
            let (out, mut p) = relay(&chunks);
            let (tail, complete) = p.on_end();
            assert!(complete && tail.is_none(), "split {split}");
            assert_eq!(out, bytes, "split {split}");
            assert!(!p.ended_badly());
            assert_eq!(
                p.usage(),
                Usage { input_tokens: 6, output_tokens: 2, cache_read_input_tokens: 4, cache_creation_input_tokens: 0 }
            );
        }
    }

    #[test]
    fn cut_streams_and_error_chunks() {
        let (_, mut p) = relay(&[&STREAM.as_bytes()[..150]]);
        let (tail, complete) = p.on_end();
        assert!(tail.is_some() && !complete);
        let (_, mut p) = relay(&[b"data: {\"error\":{\"message\":\"boom\"}}\n\n"]);
        assert!(p.on_end().1);
        assert!(p.ended_badly());
    }

    #[test]
    fn value_scan() {
        assert!(value_starts_with(br#"{"usage" : {"a":1}}"#, b"\"usage\"", b'{'));
        assert!(!value_starts_with(br#"{"usage":null}"#, b"\"usage\"", b'{'));
        assert!(value_starts_with(
            br#"{"finish_reason":null,"x":{"finish_reason":"stop"}}"#,
            b"\"finish_reason\"",
            b'"'
        ));
        assert!(!value_starts_with(br#"{"usage""#, b"\"usage\"", b'{'));
    }
}
