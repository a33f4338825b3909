//! Relaying a Bedrock event stream (`application/vnd.amazon.eventstream`) byte for byte to a Bedrock-dialect
//! client while reading it on the side: each `chunk` frame's Anthropic event for usage and completion (the
//! Anthropic [`WireReader`](super::sse_relay::WireReader) reads them, as it reads a relayed SSE stream), exception
//! frames as the upstream's own error.
//!
//! Bytes go out as soon as they complete a frame (frame lengths are read from each prelude, so finding the
//! boundaries costs nothing per byte); only the unfinished tail of a frame waits for the next chunk, so that a
//! stream cut short can still end with a well-formed exception frame rather than one glued to half a frame.

use bytes::{Buf, Bytes, BytesMut};

use super::relay::StreamTransform;
use super::sse_relay::{Progress, WireReader};
use crate::cloud::eventstream::{bedrock_event, BedrockEvent, Decoder, MAX_FRAME_BYTES};
use crate::convert::Usage;
use crate::error::render::bedrock_exception_frame;
use crate::error::GatewayError;
use crate::gateway::exchange::wire_readers::AnthropicReader;
use crate::json::member::top_level_member;
use crate::sse::SseEvent;

/// The frame prelude and message CRC: the smallest frame.
const MIN_FRAME: usize = 16;

/// State of one relayed Bedrock stream.
#[derive(Default)]
pub struct FrameRelay {
    /// The unfinished frame at the end of what arrived.
    tail: BytesMut,
    /// Decodes what was forwarded, for reading; once it fails, reading stops (the bytes still go out).
    decoder: Decoder,
    reading: bool,
    events: AnthropicReader,
    /// The frame lengths stopped making sense: everything is forwarded as it comes.
    unframed: bool,
}

impl FrameRelay {
    pub fn new() -> Self {
        Self { reading: true, ..Self::default() }
    }

    fn read(&mut self, forwarded: &[u8]) {
        if !self.reading {
            return;
        }
        self.decoder.push(forwarded);
        while let Some(frame) = self.decoder.next_frame() {
            let Ok(frame) = frame else {
                self.reading = false;
                return;
            };
            match bedrock_event(&frame) {
                Ok(BedrockEvent::Chunk(json)) => self.read_event(&json),
                Ok(BedrockEvent::Exception { .. } | BedrockEvent::Error { .. }) => self.scan("error", &[]),
                Ok(BedrockEvent::Other(_)) | Err(_) => {}
            }
        }
    }

    /// One Anthropic event: only the kinds that carry usage or end the stream are handed to the reader.
    fn read_event(&mut self, json: &[u8]) {
        let Some(kind) = top_level_member(json, b"type").and_then(string_prefix) else { return };
        if matches!(kind, "message_start" | "message_delta" | "message_stop" | "error") {
            self.scan(kind, json);
        }
    }

    fn scan(&mut self, kind: &str, json: &[u8]) {
        let event = SseEvent { event: Some(kind.to_string()), data: String::from_utf8_lossy(json).into_owned() };
        self.events.scan(&event);
    }

    fn progress(&self) -> &Progress {
        self.events.progress()
    }
}

/// The string a JSON value starts with, when it is a plain string (no escapes).
fn string_prefix(value: &[u8]) -> Option<&str> {
    let rest = value.trim_ascii_start().strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    (rest[end] == b'"').then(|| std::str::from_utf8(&rest[..end]).ok()).flatten()
}

/// The length of the whole frames at the start of `bytes`; `None` when a prelude declares an impossible length.
fn whole_frames(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    while bytes.len() - at >= 4 {
        let total = (&bytes[at..at + 4]).get_u32() as usize;
        if !(MIN_FRAME..=MAX_FRAME_BYTES).contains(&total) {
            return None;
        }
        if bytes.len() - at < total {
            break;
        }
        at += total;
    }
    Some(at)
}

impl StreamTransform for FrameRelay {
    fn on_chunk(&mut self, chunk: Bytes) -> Option<Bytes> {
        let whole = self.unframed || (self.tail.is_empty() && whole_frames(&chunk) == Some(chunk.len()));
        let out = if whole {
            chunk
        } else {
            self.tail.extend_from_slice(&chunk);
            match whole_frames(&self.tail) {
                Some(0) => return None,
                Some(cut) => self.tail.split_to(cut).freeze(),
                None => {
                    self.unframed = true;
                    self.tail.split().freeze()
                }
            }
        };
        self.read(&out);
        Some(out)
    }

    /// A stream that ended without `message_stop` or an exception of its own gets one exception frame.
    fn on_end(&mut self) -> Option<Bytes> {
        let cut = !self.tail.is_empty();
        self.tail.clear();
        if cut || !self.progress().complete() {
            return Some(bedrock_exception_frame("api_error", "upstream stream ended before completion"));
        }
        None
    }

    fn on_error(&mut self, error: &GatewayError) -> Bytes {
        self.tail.clear();
        bedrock_exception_frame(error.error_type(), &error.to_string())
    }

    fn error_kind(&mut self) -> Option<&'static str> {
        self.progress().ended_badly().then_some("upstream_stream_error")
    }

    fn usage(&mut self) -> Usage {
        self.progress().usage
    }

    fn content_type(&self) -> &'static str {
        crate::cloud::eventstream::CONTENT_TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::eventstream::{encode_chunk, encode_exception};

    fn stream() -> Vec<u8> {
        let events = [
            r#"{"type":"message_start","message":{"usage":{"input_tokens":30,"output_tokens":1}}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":12}}"#,
            r#"{"type":"message_stop"}"#,
        ];
        events.iter().flat_map(|e| encode_chunk(e.as_bytes()).to_vec()).collect()
    }

    fn relay(chunks: &[&[u8]]) -> (Vec<u8>, FrameRelay) {
        let mut relay = FrameRelay::new();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend_from_slice(&relay.on_chunk(Bytes::copy_from_slice(chunk)).unwrap_or_default());
        }
        (out, relay)
    }

    #[test]
    fn bytes_pass_unchanged_at_every_split_and_usage_is_read() {
        let bytes = stream();
        for split in [1, 3, 7, 16, 100, bytes.len()] {
            let chunks: Vec<&[u8]> = bytes.chunks(split).collect();
            let (mut out, mut relay) = relay(&chunks);
            assert_eq!(relay.on_end(), None, "split {split}");
            out.extend_from_slice(&[]);
            assert_eq!(out, bytes, "split {split}");
            let usage = relay.usage();
            assert_eq!((usage.input_tokens, usage.output_tokens), (30, 12), "split {split}");
            assert_eq!(relay.error_kind(), None);
        }
    }

    #[test]
    fn whole_frames_go_out_without_a_copy() {
        let frame = encode_chunk(br#"{"type":"ping"}"#);
        let mut relay = FrameRelay::new();
        assert_eq!(relay.on_chunk(frame.clone()).unwrap().as_ptr(), frame.as_ptr());
    }

    #[test]
    fn a_cut_stream_ends_with_one_exception_frame_after_its_whole_frames() {
        let bytes = stream();
        let (out, mut relay) = relay(&[&bytes[..bytes.len() - 5]]);
        let last = relay.on_end().unwrap();
        let mut decoder = Decoder::new();
        decoder.push(&out);
        decoder.push(&last);
        let mut events = Vec::new();
        while let Some(frame) = decoder.next_frame() {
            events.push(bedrock_event(&frame.unwrap()).unwrap());
        }
        assert_eq!(events.len(), 4, "three whole chunks, then the exception");
        assert!(matches!(&events[3], BedrockEvent::Exception { kind, .. } if kind == "modelStreamErrorException"));
        assert_eq!(relay.error_kind(), Some("upstream_stream_error"));
    }

    #[test]
    fn the_upstreams_exception_is_its_own_end() {
        let mut bytes = stream()[..0].to_vec();
        bytes.extend_from_slice(&encode_chunk(br#"{"type":"message_start","message":{"usage":{"input_tokens":5}}}"#));
        bytes.extend_from_slice(&encode_exception("throttlingException", "slow down"));
        let (out, mut relay) = relay(&[&bytes]);
        assert_eq!(out, bytes);
        assert_eq!(relay.on_end(), None, "nothing added after the upstream's own exception");
        assert_eq!(relay.error_kind(), Some("upstream_stream_error"));
        assert_eq!(relay.usage().input_tokens, 5);
    }

    #[test]
    fn nonsense_lengths_are_forwarded_as_they_come() {
        let (out, _) = relay(&[b"\xff\xff\xff\xffgarbage", b"more"]);
        assert_eq!(out, b"\xff\xff\xff\xffgarbagemore");
    }
}
