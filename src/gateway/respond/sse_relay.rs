//! Relaying an event stream byte for byte while reading it on the side (usage, whether it completed).
//!
//! Bytes are forwarded as soon as they complete an event — in any of the stream's line endings (`\n`, `\r\n`,
//! `\r`); only the unfinished tail of an event waits for the next chunk, so that a failure can be reported as a
//! well-formed error frame instead of being glued to half an event. The relay only ever sees plain event-stream
//! bytes: an upstream body sent with a content coding is decoded (or refused) before it gets here
//! ([`crate::upstream::decode`]), so nothing is ever written into an encoded body. Forwarded bytes are parsed lazily, so parsing never delays a byte. What an event means is the
//! [`WireReader`]'s business: one per wire format.

use bytes::{Bytes, BytesMut};

use super::relay::StreamTransform;
use crate::convert::Usage;
use crate::error::{render, Dialect, GatewayError};
use crate::sse::{ends_with_event_boundary, last_event_end, SseEvent, SseParser, STREAM_START};

/// An unfinished event longer than this is forwarded anyway rather than held.
const MAX_HELD_TAIL: usize = 1024 * 1024;
/// Events larger than this are not parsed (they are still relayed).
const MAX_PARSED_EVENT: usize = 16 * 1024 * 1024;

/// Reads what a relayed answer in one wire format says about itself: its usage, and for a stream, whether it
/// completed. One reader follows one stream.
pub trait WireReader: Default + Unpin + 'static {
    /// The dialect of the answer (and of the error frame that closes a cut stream).
    const DIALECT: Dialect;
    /// Usage from a whole (non-streamed) answer body.
    fn usage_of_body(body: &[u8]) -> Usage;
    /// One relayed event.
    fn scan(&mut self, event: &SseEvent);
    /// What the events read so far said.
    fn progress(&self) -> &Progress;
}

/// What a stream's events said so far.
#[derive(Debug, Default, Clone, Copy)]
pub struct Progress {
    /// Token usage, as the latest event that carried it said.
    pub usage: Usage,
    /// The stream's end marker arrived.
    pub ended: bool,
    /// The stream carried the upstream's own error.
    pub errored: bool,
}

impl Progress {
    /// The stream reached its end marker or carried its own error: nothing was cut.
    pub fn complete(&self) -> bool {
        self.ended || self.errored
    }

    /// The stream carried an error or ended without its end marker.
    pub fn ended_badly(&self) -> bool {
        self.errored || !self.ended
    }
}

/// State of one relayed stream.
pub struct SseRelay<S: WireReader> {
    tail: BytesMut,
    /// The last two bytes forwarded: where the held tail starts, for line ends split across chunks.
    before: [u8; 2],
    unscanned: Option<Bytes>,
    parser: SseParser,
    events: Vec<SseEvent>,
    scan: S,
}

impl<S: WireReader> Default for SseRelay<S> {
    fn default() -> Self {
        Self {
            tail: BytesMut::new(),
            before: STREAM_START,
            unscanned: None,
            parser: SseParser::new(MAX_PARSED_EVENT),
            events: Vec::new(),
            scan: S::default(),
        }
    }
}

impl<S: WireReader> SseRelay<S> {
    /// The event reader, once everything relayed has been read.
    pub fn scanned(&mut self) -> &S {
        self.scan_unscanned();
        &self.scan
    }

    fn scan_unscanned(&mut self) {
        let Some(bytes) = self.unscanned.take() else { return };
        if self.parser.push(&bytes, &mut self.events).is_err() {
            self.parser = SseParser::new(MAX_PARSED_EVENT);
        }
        for event in self.events.drain(..) {
            self.scan.scan(&event);
        }
    }

    /// The upstream ended: reads the held tail (an event that lacked its blank line) and hands it back.
    fn take_tail(&mut self) -> Option<Bytes> {
        self.scan_unscanned();
        let tail = (!self.tail.is_empty()).then(|| self.tail.split().freeze())?;
        self.unscanned = Some(tail.clone());
        self.scan_unscanned();
        self.parser.finish(&mut self.events);
        for event in self.events.drain(..) {
            self.scan.scan(&event);
        }
        Some(tail)
    }
}

impl<S: WireReader> StreamTransform for SseRelay<S> {
    fn on_chunk(&mut self, chunk: Bytes) -> Option<Bytes> {
        self.scan_unscanned();
        let out = if self.tail.is_empty() && ends_with_event_boundary(&chunk) {
            chunk
        } else {
            // The held tail has no event end (it was cut after the last one): only the new bytes are searched.
            let from = self.tail.len();
            self.tail.extend_from_slice(&chunk);
            let end = last_event_end(&self.tail, from, self.before);
            let cut = end.or((self.tail.len() > MAX_HELD_TAIL).then_some(self.tail.len()))?;
            self.tail.split_to(cut).freeze()
        };
        self.before = match *out {
            [.., a, b] => [a, b],
            [b] => [self.before[1], b],
            [] => self.before,
        };
        self.unscanned = Some(out.clone());
        Some(out)
    }

    /// A complete stream's last event may lack its blank line: it is relayed. A cut stream's unfinished event is
    /// dropped so the closing error frame parses on its own.
    fn on_end(&mut self) -> Option<Bytes> {
        let tail = self.take_tail();
        if self.scan.progress().complete() {
            tail
        } else {
            Some(render::stream_frame_for(S::DIALECT, "api_error", "upstream stream ended before completion"))
        }
    }

    fn on_error(&mut self, error: &GatewayError) -> Bytes {
        self.take_tail();
        render::stream_frame(S::DIALECT, error)
    }

    fn error_kind(&mut self) -> Option<&'static str> {
        self.scanned().progress().ended_badly().then_some("upstream_stream_error")
    }

    fn usage(&mut self) -> Usage {
        self.scanned().progress().usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts events (as output tokens) and completes at an event named `end`.
    #[derive(Default)]
    struct Counting(Progress);

    impl WireReader for Counting {
        const DIALECT: Dialect = Dialect::Anthropic;
        fn usage_of_body(_: &[u8]) -> Usage {
            Usage::default()
        }
        fn scan(&mut self, event: &SseEvent) {
            self.0.usage.output_tokens += 1;
            self.0.ended |= event.event.as_deref() == Some("end");
        }
        fn progress(&self) -> &Progress {
            &self.0
        }
    }

    const STREAM: &[u8] =
        b"event: a\ndata: {}\n\nevent: b\r\ndata: {}\r\n\r\nevent: c\rdata: {}\r\revent: end\ndata: {}\n\n";

    fn relay(chunks: &[&[u8]]) -> (Vec<u8>, SseRelay<Counting>) {
        let mut relay = SseRelay::<Counting>::default();
        let mut out = Vec::new();
        for c in chunks {
            if let Some(b) = relay.on_chunk(Bytes::copy_from_slice(c)) {
                out.extend_from_slice(&b);
            }
        }
        (out, relay)
    }

    #[test]
    fn bytes_pass_unchanged_at_every_split_and_every_event_is_read() {
        for split in 1..=STREAM.len() {
            let chunks: Vec<&[u8]> = STREAM.chunks(split).collect();
            let (mut out, mut relay) = relay(&chunks);
            if let Some(tail) = relay.on_end() {
                out.extend_from_slice(&tail);
            }
            assert_eq!(out, STREAM, "split {split}");
            assert_eq!(relay.usage().output_tokens, 4, "split {split}");
            assert_eq!(relay.error_kind(), None);
        }
    }

    #[test]
    fn whole_events_are_forwarded_without_copy() {
        let mut relay = SseRelay::<Counting>::default();
        let chunk = Bytes::from_static(b"event: ping\ndata: {}\n\n");
        assert_eq!(relay.on_chunk(chunk.clone()).unwrap().as_ptr(), chunk.as_ptr());
    }

    #[test]
    fn half_an_event_is_held_then_completed() {
        let mut relay = SseRelay::<Counting>::default();
        assert_eq!(relay.on_chunk(Bytes::from_static(b"event: ping\ndata: {")), None);
        assert_eq!(
            relay.on_chunk(Bytes::from_static(b"}\n\nevent: x")).unwrap(),
            Bytes::from_static(b"event: ping\ndata: {}\n\n")
        );
    }

    #[test]
    fn cr_only_events_are_forwarded_as_they_complete() {
        let mut relay = SseRelay::<Counting>::default();
        let chunk = Bytes::from_static(b"event: a\rdata: {}\r\r");
        assert_eq!(relay.on_chunk(chunk.clone()).unwrap().as_ptr(), chunk.as_ptr(), "whole event, no copy");
        assert_eq!(relay.on_chunk(Bytes::from_static(b"event: b\rdata: {}\r")), None);
        assert_eq!(
            relay.on_chunk(Bytes::from_static(b"\revent: c")).unwrap(),
            Bytes::from_static(b"event: b\rdata: {}\r\r")
        );
        // A cut stream keeps every complete event; only the unfinished one gives way to the error frame.
        let frame = relay.on_end().unwrap();
        assert!(frame.starts_with(b"event: error\n"), "{frame:?}");
        assert_eq!(relay.usage().output_tokens, 2);
    }

    #[test]
    fn a_lone_lf_after_a_forwarded_cr_completes_that_line_end() {
        let mut relay = SseRelay::<Counting>::default();
        assert!(relay.on_chunk(Bytes::from_static(b"data: a\r\n\r")).is_some());
        assert_eq!(relay.on_chunk(Bytes::from_static(b"\ndata: b\r\n")), Some(Bytes::from_static(b"\n")));
        assert_eq!(relay.on_chunk(Bytes::from_static(b"\r\n")).unwrap(), Bytes::from_static(b"data: b\r\n\r\n"));
        assert_eq!(relay.usage().output_tokens, 2);
    }

    #[test]
    fn a_complete_stream_keeps_a_last_event_without_its_blank_line() {
        let (mut out, mut relay) = relay(&[b"event: a\ndata: {}\n\nevent: end\ndata: {}"]);
        out.extend_from_slice(&relay.on_end().unwrap());
        assert_eq!(out, b"event: a\ndata: {}\n\nevent: end\ndata: {}");
        assert_eq!(relay.error_kind(), None);
    }

    #[test]
    fn a_cut_stream_ends_with_one_error_frame() {
        let (_, mut relay) = relay(&[b"event: a\ndata: {}\n\nevent: b\ndata: {\"half"]);
        let frame = relay.on_end().unwrap();
        assert!(frame.starts_with(b"event: error\ndata: {\"type\":\"error\""), "{frame:?}");
        assert_eq!(relay.error_kind(), Some("upstream_stream_error"));
    }
}
