//! The stream filter for Bedrock-dialect clients (`invoke-with-response-stream`) of providers whose answer reaches
//! the gateway as Anthropic events — relayed (Anthropic format) or converted (OpenAI, Vertex): it wraps that
//! exchange's own filter and re-frames its output the way Bedrock streams, in AWS event-stream frames
//! (`application/vnd.amazon.eventstream`):
//!
//! - each Anthropic event becomes one `chunk` frame whose payload is `{"bytes":"<base64 of the event's JSON>"}`
//!   (`ping` events too: they keep a quiet stream alive);
//! - an `error` event becomes one exception frame of the matching type (`rate_limit_error` →
//!   `throttlingException`, … — [`crate::error::render::bedrock_error_kind`]), and the stream ends there.
//!
//! The inner filter hands over whole events, so the work per chunk is one SSE parse of what it wrote, a base64
//! encoding and two CRCs per event, into one reused buffer.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::relay::StreamTransform;
use crate::cloud::eventstream::{encode_chunk, CONTENT_TYPE};
use crate::convert::inbound::read_anthropic_error;
use crate::convert::Usage;
use crate::error::render::bedrock_exception_frame;
use crate::error::GatewayError;
use crate::sse::{SseEvent, SseParser};

/// An event larger than this (from the inner filter, which the gateway trusts) ends the stream with an exception.
const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;
/// Silence after which a stream whose source sends no pings of its own gets one.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// The keep-alive event.
const PING: &[u8] = br#"{"type":"ping"}"#;

/// The frames of one Bedrock-dialect stream, written from the Anthropic events of `T`'s output.
pub struct EventFrames<T: StreamTransform> {
    inner: T,
    parser: SseParser,
    events: Vec<SseEvent>,
    out: BytesMut,
    /// An exception frame went out: the stream is over for the client, whatever follows.
    closed: bool,
    /// A chunk went out (the stream's `message_start`): keep-alive pings may follow.
    started: bool,
}

impl<T: StreamTransform> EventFrames<T> {
    pub fn new(inner: T) -> Self {
        let parser = SseParser::new(MAX_EVENT_BYTES);
        Self { inner, parser, events: Vec::new(), out: BytesMut::new(), closed: false, started: false }
    }

    /// Frames the inner filter's output `sse`; `end`: nothing more will come from it.
    fn frame(&mut self, sse: Option<Bytes>, end: bool) -> Option<Bytes> {
        if self.closed {
            return None;
        }
        if let Some(sse) = sse {
            if self.parser.push(&sse, &mut self.events).is_err() {
                self.events.clear();
                self.exception("api_error", "a stream event was too large to relay");
            }
        }
        if end {
            self.parser.finish(&mut self.events);
        }
        let mut events = std::mem::take(&mut self.events);
        for event in events.drain(..) {
            if self.closed {
                break;
            }
            self.encode(&event);
        }
        self.events = events;
        (!self.out.is_empty()).then(|| self.out.split().freeze())
    }

    fn encode(&mut self, event: &SseEvent) {
        if event.event.as_deref() == Some("error") {
            let (error_type, message) = read_anthropic_error(500, event.data.as_bytes());
            self.exception(error_type, &message);
        } else if !event.data.is_empty() {
            self.out.extend_from_slice(&encode_chunk(event.data.as_bytes()));
            self.started = true;
        }
    }

    fn exception(&mut self, error_type: &str, message: &str) {
        self.out.extend_from_slice(&bedrock_exception_frame(error_type, message));
        self.closed = true;
    }
}

impl<T: StreamTransform> StreamTransform for EventFrames<T> {
    fn on_chunk(&mut self, chunk: Bytes) -> Option<Bytes> {
        let sse = self.inner.on_chunk(chunk);
        self.frame(sse, false)
    }

    fn on_end(&mut self) -> Option<Bytes> {
        let sse = self.inner.on_end();
        self.frame(sse, true)
    }

    fn on_error(&mut self, error: &GatewayError) -> Bytes {
        let sse = self.inner.on_error(error);
        let framed = self.frame(Some(sse), true);
        match (framed, self.closed) {
            (Some(bytes), true) => bytes,
            // The inner filter's closing frame was not an error event: the failure still ends the stream typed.
            (framed, _) => {
                let mut out = BytesMut::from(framed.unwrap_or_default().as_ref());
                if !self.closed {
                    out.extend_from_slice(&bedrock_exception_frame(error.error_type(), &error.to_string()));
                    self.closed = true;
                }
                out.freeze()
            }
        }
    }

    fn error_kind(&mut self) -> Option<&'static str> {
        self.inner.error_kind()
    }

    fn usage(&mut self) -> Usage {
        self.inner.usage()
    }

    fn is_finished(&self) -> bool {
        self.closed || self.inner.is_finished()
    }

    fn failed_before_start(&self) -> Option<GatewayError> {
        self.inner.failed_before_start()
    }

    fn content_type(&self) -> &'static str {
        CONTENT_TYPE
    }

    /// The inner filter's keep-alive, or the gateway's own: a converted source may stay silent for minutes (a
    /// reasoning model), and Claude Code gives up on a stream that sends nothing.
    fn keepalive(&self) -> Option<Duration> {
        self.inner.keepalive().or(Some(KEEPALIVE))
    }

    /// The inner filter's keep-alive (a `ping` event) goes out as a chunk like any event; without one, a `ping`
    /// chunk of the gateway's own, once the stream has begun (`message_start` must come first).
    fn on_idle(&mut self) -> Option<Bytes> {
        if self.inner.keepalive().is_some() {
            let sse = self.inner.on_idle();
            return self.frame(sse, false);
        }
        (self.started && !self.closed && !self.inner.is_finished()).then(|| encode_chunk(PING))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::eventstream::{bedrock_event, BedrockEvent, Decoder};
    use proptest::prelude::*;

    /// Passes bytes through and reports a fixed usage.
    #[derive(Default)]
    struct Identity;

    impl StreamTransform for Identity {
        fn on_chunk(&mut self, chunk: Bytes) -> Option<Bytes> {
            Some(chunk)
        }
        fn on_end(&mut self) -> Option<Bytes> {
            None
        }
        fn on_error(&mut self, _: &GatewayError) -> Bytes {
            Bytes::from_static(b"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"timeout_error\",\"message\":\"late\"}}\n\n")
        }
        fn error_kind(&mut self) -> Option<&'static str> {
            None
        }
        fn usage(&mut self) -> Usage {
            Usage::default()
        }
    }

    const EVENTS: [&str; 4] = [
        r#"{"type":"message_start","message":{"id":"m","usage":{"input_tokens":3}}}"#,
        r#"{"type": "ping"}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"h\u00e9\n"}}"#,
        r#"{"type":"message_stop"}"#,
    ];

    fn sse(events: &[&str]) -> String {
        events.iter().map(|e| format!("event: x\ndata: {e}\n\n")).collect()
    }

    /// Decodes frames into Bedrock events (CRCs checked by the decoder).
    fn decode(bytes: &[u8]) -> Vec<BedrockEvent> {
        let mut decoder = Decoder::new();
        decoder.push(bytes);
        let mut out = Vec::new();
        while let Some(frame) = decoder.next_frame() {
            out.push(bedrock_event(&frame.expect("a valid frame")).expect("a Bedrock event"));
        }
        assert_eq!(decoder.pending(), 0, "no partial frame left");
        out
    }

    fn run(chunks: &[&[u8]]) -> Vec<u8> {
        let mut frames = EventFrames::new(Identity);
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend_from_slice(&frames.on_chunk(Bytes::copy_from_slice(chunk)).unwrap_or_default());
        }
        out.extend_from_slice(&frames.on_end().unwrap_or_default());
        out
    }

    #[test]
    fn each_event_is_one_chunk_frame_carrying_its_json() {
        let out = run(&[sse(&EVENTS).as_bytes()]);
        let expected: Vec<BedrockEvent> =
            EVENTS.iter().map(|e| BedrockEvent::Chunk(Bytes::from(e.to_string()))).collect();
        assert_eq!(decode(&out), expected);
    }

    #[test]
    fn an_error_event_is_one_exception_frame_and_the_end() {
        let error = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let text = format!("{}event: error\ndata: {error}\n\n{}", sse(&EVENTS[..1]), sse(&EVENTS[3..]));
        let events = decode(&run(&[text.as_bytes()]));
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(
            events[1],
            BedrockEvent::Exception { kind: "serviceUnavailableException".into(), message: "Overloaded".into() }
        );
        for (anthropic, bedrock) in [
            ("rate_limit_error", "throttlingException"),
            ("invalid_request_error", "validationException"),
            ("api_error", "modelStreamErrorException"),
            ("something_else", "modelStreamErrorException"),
        ] {
            let data = format!(r#"{{"type":"error","error":{{"type":"{anthropic}","message":"m"}}}}"#);
            let events = decode(&run(&[format!("event: error\ndata: {data}\n\n").as_bytes()]));
            assert_eq!(events, [BedrockEvent::Exception { kind: bedrock.into(), message: "m".into() }], "{anthropic}");
        }
    }

    #[test]
    fn a_transport_failure_ends_with_the_inner_filters_error_as_an_exception() {
        let mut frames = EventFrames::new(Identity);
        let first = frames.on_chunk(Bytes::from(sse(&EVENTS[..1]))).unwrap();
        let last = frames.on_error(&GatewayError::UpstreamTimeout { provider: "p".into(), secs: 1 });
        let events = decode(&[first.as_ref(), last.as_ref()].concat());
        assert_eq!(events[1], BedrockEvent::Exception { kind: "modelTimeoutException".into(), message: "late".into() });
        assert!(frames.is_finished());
        assert_eq!(frames.on_chunk(Bytes::from(sse(&EVENTS[1..2]))), None, "nothing after the exception");
        assert_eq!(frames.content_type(), "application/vnd.amazon.eventstream");
    }

    #[test]
    fn a_silent_source_gets_ping_chunks_once_the_stream_began() {
        let mut frames = EventFrames::new(Identity);
        assert_eq!(frames.keepalive(), Some(KEEPALIVE));
        assert_eq!(frames.on_idle(), None, "nothing before message_start");
        frames.on_chunk(Bytes::from(sse(&EVENTS[..1]))).unwrap();
        let ping = frames.on_idle().unwrap();
        assert_eq!(decode(&ping), [BedrockEvent::Chunk(Bytes::from_static(PING))]);
        frames.on_chunk(Bytes::from_static(b"event: error\ndata: {}\n\n")).unwrap();
        assert_eq!(frames.on_idle(), None, "nothing after the end");
    }

    proptest! {
        /// However the inner output is cut, the frames carry exactly its events, in order.
        #[test]
        fn any_split_gives_the_same_frames(cuts in prop::collection::vec(0usize..400, 0..8)) {
            let text = sse(&EVENTS);
            let bytes = text.as_bytes();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut pieces = Vec::new();
            let mut at = 0;
            for cut in cuts {
                pieces.push(&bytes[at..cut]);
                at = cut;
            }
            pieces.push(&bytes[at..]);
            let expected: Vec<BedrockEvent> =
                EVENTS.iter().map(|e| BedrockEvent::Chunk(Bytes::from(e.to_string()))).collect();
            prop_assert_eq!(decode(&run(&pieces)), expected);
        }
    }
}
