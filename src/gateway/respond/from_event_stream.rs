//! Bedrock's event stream read as Anthropic SSE: each `chunk` frame carries one Anthropic event (base64 JSON),
//! written out as `event: <type>\ndata: <the event's bytes as Bedrock carried them>\n\n` and handed to the
//! exchange's own SSE filter (relayed with usage read on the side, or converted for an OpenAI client). An
//! exception frame becomes one Anthropic `error` event of the matching type and ends the stream; a broken frame
//! likewise. During upstream silence a `ping` event keeps the client's connection alive.

use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::relay::StreamTransform;
use crate::cloud::bedrock_errors::stream_error_type;
use crate::cloud::eventstream::{bedrock_event, BedrockEvent, Decoder};
use crate::convert::Usage;
use crate::error::{render, Dialect, GatewayError};

/// Anthropic's keep-alive event.
pub const PING_EVENT: &[u8] = b"event: ping\ndata: {\"type\": \"ping\"}\n\n";

/// The keep-alive for clients whose stream has no ping event (OpenAI's): an SSE comment.
pub const KEEPALIVE_COMMENT: &[u8] = b": ping\n\n";

/// Decodes Bedrock frames into SSE for the inner filter `T`.
pub struct FromEventStream<T: StreamTransform> {
    decoder: Decoder,
    inner: T,
    sse: BytesMut,
    provider: String,
    ping_every: Duration,
    /// The exception (Anthropic type, message) that ended the stream.
    stopped: Option<(&'static str, String)>,
    /// Whether any event went to the inner filter before the stream stopped.
    events_seen: bool,
    /// The stream stopped before any event: the client can get a real HTTP error.
    stopped_before_events: bool,
}

impl<T: StreamTransform> FromEventStream<T> {
    /// Reads frames of `provider`'s stream into `inner`, with a `ping` after `ping_every` of silence.
    pub fn new(inner: T, provider: &str, ping_every: Duration) -> Self {
        Self {
            decoder: Decoder::new(),
            inner,
            sse: BytesMut::new(),
            provider: provider.to_string(),
            ping_every,
            stopped: None,
            events_seen: false,
            stopped_before_events: false,
        }
    }

    fn stop(&mut self, error_type: &'static str, message: String) {
        self.stopped_before_events = !self.events_seen;
        self.sse.extend_from_slice(&render::stream_frame_for(Dialect::Anthropic, error_type, &message));
        self.stopped = Some((error_type, message));
    }

    fn read_frames(&mut self) {
        while self.stopped.is_none() {
            let message = match self.decoder.next_frame() {
                None => return,
                Some(Ok(message)) => message,
                Some(Err(e)) => {
                    let message = format!("provider '{}' sent a broken event stream: {e}", self.provider);
                    return self.stop("api_error", message);
                }
            };
            match bedrock_event(&message) {
                Ok(BedrockEvent::Chunk(json)) => match write_event(&mut self.sse, &json) {
                    Ok(()) => self.events_seen = true,
                    Err(e) => self.stop("api_error", format!("provider '{}' sent {e}", self.provider)),
                },
                Ok(BedrockEvent::Exception { kind, message }) => {
                    let text = format!("provider '{}' (bedrock): {kind}: {message}", self.provider);
                    self.stop(stream_error_type(&kind), text)
                }
                Ok(BedrockEvent::Error { code, message }) => {
                    let text = format!("provider '{}' (bedrock): {code}: {message}", self.provider);
                    self.stop(stream_error_type(&code), text)
                }
                Ok(BedrockEvent::Other(_)) => {}
                Err(e) => self.stop("api_error", format!("provider '{}' sent an unreadable frame: {e}", self.provider)),
            }
        }
    }

    fn pass_on(&mut self) -> Option<Bytes> {
        if self.sse.is_empty() {
            return None;
        }
        let sse = self.sse.split().freeze();
        self.inner.on_chunk(sse)
    }
}

/// Appends one SSE event for the Anthropic event `json`: its `type` names the event; the data is the JSON as it
/// came (a line break in it, legal JSON whitespace, starts another `data:` line, which SSE joins back).
fn write_event(out: &mut BytesMut, json: &[u8]) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Typed<'a> {
        #[serde(borrow, rename = "type")]
        kind: std::borrow::Cow<'a, str>,
    }
    let typed: Typed<'_> =
        serde_json::from_slice(json).map_err(|_| "a chunk that is not an Anthropic event".to_string())?;
    if typed.kind.is_empty() || typed.kind.contains(['\r', '\n']) {
        return Err("a chunk with an unusable event type".into());
    }
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(typed.kind.as_bytes());
    out.extend_from_slice(b"\n");
    for line in json.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.extend_from_slice(b"\n");
    }
    out.extend_from_slice(b"\n");
    Ok(())
}

impl<T: StreamTransform> StreamTransform for FromEventStream<T> {
    fn on_chunk(&mut self, chunk: Bytes) -> Option<Bytes> {
        if self.stopped.is_some() {
            return None;
        }
        self.decoder.push(&chunk);
        self.read_frames();
        self.pass_on()
    }

    fn on_end(&mut self) -> Option<Bytes> {
        // A frame cut off mid-way is dropped; the inner filter closes an unfinished stream with its error event.
        self.inner.on_end()
    }

    fn on_error(&mut self, error: &GatewayError) -> Bytes {
        self.inner.on_error(error)
    }

    fn error_kind(&mut self) -> Option<&'static str> {
        match self.stopped {
            Some(_) => Some("upstream_stream_error"),
            None => self.inner.error_kind(),
        }
    }

    fn usage(&mut self) -> Usage {
        self.inner.usage()
    }

    fn is_finished(&self) -> bool {
        self.stopped.is_some() || self.inner.is_finished()
    }

    fn failed_before_start(&self) -> Option<GatewayError> {
        match &self.stopped {
            Some((error_type, message)) if self.stopped_before_events => {
                Some(GatewayError::upstream(error_type, message.clone(), None))
            }
            _ => self.inner.failed_before_start(),
        }
    }

    fn keepalive(&self) -> Option<Duration> {
        Some(self.ping_every)
    }

    /// A `ping` event through the inner filter; when that filter writes nothing for it (a conversion to Chat
    /// Completions), an SSE comment line, which every SSE client skips.
    fn on_idle(&mut self) -> Option<Bytes> {
        if self.stopped.is_some() {
            return None;
        }
        self.inner.on_chunk(Bytes::from_static(PING_EVENT)).or(Some(Bytes::from_static(KEEPALIVE_COMMENT)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::eventstream::{encode_chunk, encode_exception};
    use crate::gateway::exchange::wire_readers::AnthropicReader;
    use crate::gateway::respond::sse_relay::SseRelay;
    use proptest::prelude::*;

    const START: &[u8] = br#"{"type":"message_start","message":{"usage":{"input_tokens":7,"output_tokens":1}}}"#;
    const DELTA: &[u8] = br#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}"#;
    const STOP: &[u8] = br#"{"type":"message_stop"}"#;

    fn transform() -> FromEventStream<SseRelay<AnthropicReader>> {
        FromEventStream::new(SseRelay::default(), "br", Duration::from_secs(15))
    }

    fn run(stream: &[u8], piece: usize) -> (Vec<u8>, FromEventStream<SseRelay<AnthropicReader>>) {
        let mut t = transform();
        let mut out = Vec::new();
        for chunk in stream.chunks(piece) {
            if let Some(b) = t.on_chunk(Bytes::copy_from_slice(chunk)) {
                out.extend_from_slice(&b);
            }
        }
        if let Some(b) = t.on_end() {
            out.extend_from_slice(&b);
        }
        (out, t)
    }

    fn expected_sse(events: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (kind, json) in events {
            out.extend_from_slice(format!("event: {kind}\ndata: ").as_bytes());
            out.extend_from_slice(json);
            out.extend_from_slice(b"\n\n");
        }
        out
    }

    #[test]
    fn chunks_become_sse_events_byte_for_byte_with_usage() {
        let stream = [encode_chunk(START), encode_chunk(DELTA), encode_chunk(STOP)].concat();
        for piece in [1, 3, 17, stream.len()] {
            let (out, mut t) = run(&stream, piece);
            assert_eq!(
                out,
                expected_sse(&[("message_start", START), ("message_delta", DELTA), ("message_stop", STOP)]),
                "piece {piece}"
            );
            let usage = t.usage();
            assert_eq!((usage.input_tokens, usage.output_tokens), (7, 5));
            assert_eq!(t.error_kind(), None);
        }
    }

    #[test]
    fn an_exception_mid_stream_is_one_error_event_and_a_clean_end() {
        let stream =
            [encode_chunk(START), encode_exception("throttlingException", "Too many tokens"), encode_chunk(STOP)]
                .concat();
        let (out, mut t) = run(&stream, 7);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("event: error").count(), 1, "{text}");
        assert!(text.ends_with(
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"provider 'br' (bedrock): throttlingException: Too many tokens\"}}\n\n"
        ), "{text}");
        assert!(!text.contains("message_stop"), "nothing after the exception");
        assert_eq!(t.error_kind(), Some("upstream_stream_error"));
        assert!(t.failed_before_start().is_none(), "events were relayed before it");
    }

    #[test]
    fn an_exception_first_is_a_real_http_error() {
        let mut t = transform();
        t.on_chunk(encode_exception("serviceUnavailableException", "busy"));
        let error = t.failed_before_start().unwrap();
        assert_eq!(error.error_type(), "overloaded_error");
    }

    #[test]
    fn a_cut_stream_and_garbage_end_with_an_error_event() {
        let stream = [encode_chunk(START).to_vec(), encode_chunk(STOP)[..10].to_vec()].concat();
        let (out, _) = run(&stream, 5);
        assert!(
            String::from_utf8_lossy(&out).ends_with("\"message\":\"upstream stream ended before completion\"}}\n\n")
        );
        let (out, _) = run(b"this is not an event stream at all", 4);
        assert!(String::from_utf8_lossy(&out).contains("broken event stream"), "{}", String::from_utf8_lossy(&out));
    }

    #[test]
    fn pings_during_silence_until_the_stream_stops() {
        let mut t = transform();
        assert_eq!(t.keepalive(), Some(Duration::from_secs(15)));
        assert_eq!(t.on_idle().unwrap(), Bytes::from_static(PING_EVENT));
        t.on_chunk(encode_exception("internalServerException", "x"));
        assert_eq!(t.on_idle(), None);
    }

    #[test]
    fn converted_streams_get_a_comment_as_keep_alive() {
        let converter = crate::convert::inbound::ChatStreamConverter::new("m".into(), 0, false);
        let mut t = FromEventStream::new(
            crate::gateway::respond::converting::Converting::new(converter),
            "br",
            Duration::from_secs(15),
        );
        assert_eq!(t.on_idle().unwrap(), Bytes::from_static(KEEPALIVE_COMMENT));
    }

    #[test]
    fn multi_line_json_keeps_its_bytes_across_data_lines() {
        let mut out = BytesMut::new();
        write_event(&mut out, b"{\"type\":\"ping\",\n \"x\":1}").unwrap();
        assert_eq!(&out[..], b"event: ping\ndata: {\"type\":\"ping\",\ndata:  \"x\":1}\n\n");
        assert!(write_event(&mut out, b"[]").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_in_any_pieces_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600), piece in 1usize..50) {
            let (out, _) = run(&bytes, piece);
            prop_assert!(!out.is_empty(), "always closed by an event");
        }
    }
}
