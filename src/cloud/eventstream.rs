//! The AWS event-stream codec (`application/vnd.amazon.eventstream`) that Bedrock's streaming answers use: a thin
//! layer over `aws-smithy-eventstream`, which reads and writes the binary frames (prelude, headers, payload) and
//! checks both CRC32s. This module owns what the crate does not: decoding an HTTP body that arrives in arbitrary
//! pieces with a bounded buffer, telling Bedrock's `chunk` events from exception and error frames, and encoding
//! the frames a Bedrock-dialect client expects (`chunk` events carrying `{"bytes":"<base64>"}`, exceptions).

use aws_smithy_eventstream::frame::{read_message_from, write_message_to};
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use base64::Engine;
use bytes::{Buf, Bytes, BytesMut};

/// The content type of an event stream.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// The largest frame accepted: AWS caps event-stream messages at 16 MiB; a larger declared length is a corrupt or
/// hostile stream, refused before anything is buffered for it.
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;

/// Prelude (total length, headers length, prelude CRC) plus the trailing message CRC: the smallest frame.
const MIN_FRAME_BYTES: usize = 16;

/// Why a stream could not be decoded. After an error the decoder stays failed: the frame boundaries are lost.
#[derive(Debug, Clone, PartialEq, Eq, derive_more::Display)]
pub enum DecodeError {
    /// A frame declared a length below the minimum or above [`MAX_FRAME_BYTES`].
    #[display("event-stream frame length {_0} is out of bounds")]
    BadLength(usize),
    /// The crate refused the frame: a CRC mismatch, a malformed header, …
    #[display("invalid event-stream frame: {_0}")]
    Frame(String),
    /// A previous error ended the stream.
    #[display("event-stream decoding already failed")]
    Failed,
}

impl std::error::Error for DecodeError {}

/// Decodes frames from a byte stream fed in pieces of any size. Buffers at most one frame (plus whatever the
/// last piece carried beyond it).
#[derive(Debug, Default)]
pub struct Decoder {
    buffer: BytesMut,
    failed: bool,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `piece` to the bytes waiting to be decoded. Call [`Decoder::next_frame`] until it answers `None`.
    pub fn push(&mut self, piece: &[u8]) {
        if !self.failed {
            self.buffer.extend_from_slice(piece);
        }
    }

    /// Bytes received but not yet decoded (a frame in progress).
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// The next whole frame, `None` when more bytes are needed, or the error that ends the stream.
    pub fn next_frame(&mut self) -> Option<Result<Message, DecodeError>> {
        if self.failed {
            return Some(Err(DecodeError::Failed));
        }
        if self.buffer.len() < 4 {
            return None;
        }
        let total = (&self.buffer[..4]).get_u32() as usize;
        if !(MIN_FRAME_BYTES..=MAX_FRAME_BYTES).contains(&total) {
            return Some(self.fail(DecodeError::BadLength(total)));
        }
        if self.buffer.len() < total {
            self.buffer.reserve(total - self.buffer.len());
            return None;
        }
        let frame = self.buffer.split_to(total).freeze();
        match read_message_from(frame) {
            Ok(message) => Some(Ok(message)),
            Err(e) => Some(self.fail(DecodeError::Frame(e.to_string()))),
        }
    }

    fn fail(&mut self, error: DecodeError) -> Result<Message, DecodeError> {
        self.failed = true;
        self.buffer = BytesMut::new();
        Err(error)
    }
}

/// What a decoded frame means to Bedrock's InvokeModelWithResponseStream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BedrockEvent {
    /// A `chunk` event: the bytes of one Anthropic stream event (JSON), base64-decoded from the payload.
    Chunk(Bytes),
    /// An exception frame (`:message-type: exception`): its `:exception-type` and the payload's message.
    Exception { kind: String, message: String },
    /// An error frame (`:message-type: error`): `:error-code` and `:error-message`.
    Error { code: String, message: String },
    /// An event of another type, ignored by readers (its `:event-type`).
    Other(String),
}

/// Why a well-framed message is not a usable Bedrock event.
#[derive(Debug, Clone, PartialEq, Eq, derive_more::Display)]
#[display("{_0}")]
pub struct EventError(pub String);

impl std::error::Error for EventError {}

/// The string value of header `name`, if present and a string.
pub fn header_str<'m>(message: &'m Message, name: &str) -> Option<&'m str> {
    message.headers().iter().find(|h| h.name().as_str() == name).and_then(|h| match h.value() {
        HeaderValue::String(s) => Some(s.as_str()),
        _ => None,
    })
}

/// Reads a decoded frame as Bedrock means it.
pub fn bedrock_event(message: &Message) -> Result<BedrockEvent, EventError> {
    match header_str(message, ":message-type").unwrap_or("event") {
        "exception" => Ok(BedrockEvent::Exception {
            kind: header_str(message, ":exception-type").unwrap_or("unknownException").to_string(),
            message: payload_message(message.payload()),
        }),
        "error" => Ok(BedrockEvent::Error {
            code: header_str(message, ":error-code").unwrap_or("unknownError").to_string(),
            message: header_str(message, ":error-message").unwrap_or_default().to_string(),
        }),
        _ => match header_str(message, ":event-type") {
            Some("chunk") => chunk_bytes(message.payload()).map(BedrockEvent::Chunk),
            other => Ok(BedrockEvent::Other(other.unwrap_or_default().to_string())),
        },
    }
}

/// The decoded `bytes` member of a `chunk` payload (`{"bytes":"<base64>"}`; other members, such as Bedrock's
/// padding `p`, are ignored).
pub fn chunk_bytes(payload: &[u8]) -> Result<Bytes, EventError> {
    #[derive(serde::Deserialize)]
    struct Chunk<'a> {
        #[serde(borrow)]
        bytes: std::borrow::Cow<'a, str>,
    }
    let chunk: Chunk<'_> = serde_json::from_slice(payload)
        .map_err(|e| EventError(format!("chunk payload is not {{\"bytes\": \"<base64>\"}}: {e}")))?;
    base64::engine::general_purpose::STANDARD
        .decode(chunk.bytes.as_bytes())
        .map(Bytes::from)
        .map_err(|e| EventError(format!("chunk payload's bytes are not base64: {e}")))
}

/// The `message` (or `Message`) member of an exception payload, or the payload as text.
fn payload_message(payload: &[u8]) -> String {
    let value: Option<serde_json::Value> = serde_json::from_slice(payload).ok();
    value
        .as_ref()
        .and_then(|v| v.get("message").or_else(|| v.get("Message")))
        .and_then(serde_json::Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(payload).into_owned())
}

/// A `chunk` event frame carrying `event_json` (one Anthropic stream event) base64-encoded, as Bedrock sends it.
pub fn encode_chunk(event_json: &[u8]) -> Bytes {
    let mut payload = Vec::with_capacity(event_json.len() * 4 / 3 + 16);
    payload.extend_from_slice(b"{\"bytes\":\"");
    let encoded = base64::engine::general_purpose::STANDARD.encode(event_json);
    payload.extend_from_slice(encoded.as_bytes());
    payload.extend_from_slice(b"\"}");
    encode(
        vec![
            string_header(":event-type", "chunk"),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "event"),
        ],
        payload,
    )
}

/// An exception frame: `:exception-type` `kind` (e.g. `throttlingException`), payload `{"message":…}`.
pub fn encode_exception(kind: &str, message: &str) -> Bytes {
    let payload = serde_json::json!({ "message": message }).to_string();
    encode(
        vec![
            string_header(":exception-type", kind),
            string_header(":content-type", "application/json"),
            string_header(":message-type", "exception"),
        ],
        payload,
    )
}

/// Any frame: `headers` (name, string value) and `payload`.
pub fn encode_frame(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    encode(headers.iter().map(|(n, v)| string_header(n, v)).collect(), payload.to_vec())
}

fn string_header(name: &str, value: &str) -> Header {
    Header::new(name.to_string(), HeaderValue::String(value.to_string().into()))
}

fn encode(headers: Vec<Header>, payload: impl Into<Bytes>) -> Bytes {
    let message = Message::new_from_parts(headers, payload);
    let mut out = Vec::new();
    // Writing fails only for a header or payload beyond the format's limits (16 MiB payload, 255-byte names):
    // the gateway's own frames are far below them, and the frame is then dropped rather than sent corrupt.
    match write_message_to(&message, &mut out) {
        Ok(()) => Bytes::from(out),
        Err(e) => {
            log::error!("event-stream frame not encodable: {e}");
            Bytes::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(pieces: &[&[u8]]) -> (Vec<Message>, Option<DecodeError>) {
        let mut decoder = Decoder::new();
        let mut out = Vec::new();
        for piece in pieces {
            decoder.push(piece);
            while let Some(frame) = decoder.next_frame() {
                match frame {
                    Ok(m) => out.push(m),
                    Err(e) => return (out, Some(e)),
                }
            }
        }
        (out, None)
    }

    #[test]
    fn chunk_round_trips_through_the_decoder_byte_by_byte() {
        let event = br#"{"type":"message_stop"}"#;
        let frame = encode_chunk(event);
        let pieces: Vec<&[u8]> = frame.chunks(1).collect();
        let (messages, error) = decode_all(&pieces);
        assert_eq!(error, None);
        assert_eq!(messages.len(), 1);
        assert_eq!(bedrock_event(&messages[0]).unwrap(), BedrockEvent::Chunk(Bytes::from_static(event)));
    }

    #[test]
    fn exception_frame_reads_back() {
        let frame = encode_exception("throttlingException", "Too many tokens");
        let (messages, _) = decode_all(&[&frame]);
        assert_eq!(
            bedrock_event(&messages[0]).unwrap(),
            BedrockEvent::Exception { kind: "throttlingException".into(), message: "Too many tokens".into() }
        );
    }

    #[test]
    fn corrupted_crc_is_reported_and_sticks() {
        let mut frame = encode_chunk(b"{}").to_vec();
        let last = frame.len() - 1;
        frame[last] ^= 0xff;
        let mut decoder = Decoder::new();
        decoder.push(&frame);
        let first = decoder.next_frame().unwrap().unwrap_err();
        assert!(first.to_string().contains("checksum") || first.to_string().contains("crc"), "{first}");
        decoder.push(&encode_chunk(b"{}"));
        assert_eq!(decoder.next_frame().unwrap().unwrap_err(), DecodeError::Failed);
    }

    #[test]
    fn oversized_length_is_refused_before_buffering() {
        let mut decoder = Decoder::new();
        decoder.push(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
        assert!(matches!(decoder.next_frame(), Some(Err(DecodeError::BadLength(_)))));
        assert_eq!(decoder.pending(), 0);
    }

    #[test]
    fn chunk_payload_with_padding_and_bad_base64() {
        assert_eq!(chunk_bytes(br#"{"bytes":"e30=","p":"abcd"}"#).unwrap(), Bytes::from_static(b"{}"));
        assert!(chunk_bytes(br#"{"bytes":"***"}"#).is_err());
        assert!(chunk_bytes(b"[]").is_err());
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip_in_any_pieces(
            events in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..6),
            cuts in proptest::collection::vec(1usize..64, 1..40),
        ) {
            let mut stream = Vec::new();
            for event in &events {
                stream.extend_from_slice(&encode_chunk(event));
            }
            stream.extend_from_slice(&encode_exception("validationException", "bad"));
            let mut pieces = Vec::new();
            let mut rest: &[u8] = &stream;
            for cut in cuts.iter().cycle() {
                if rest.is_empty() { break; }
                let n = (*cut).min(rest.len());
                pieces.push(&rest[..n]);
                rest = &rest[n..];
            }
            let (messages, error) = decode_all(&pieces);
            prop_assert_eq!(error, None);
            prop_assert_eq!(messages.len(), events.len() + 1);
            for (message, event) in messages.iter().zip(&events) {
                prop_assert_eq!(bedrock_event(message).unwrap(), BedrockEvent::Chunk(Bytes::from(event.clone())));
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            bytes in proptest::collection::vec(any::<u8>(), 0..2000),
            cut in 1usize..100,
        ) {
            let pieces: Vec<&[u8]> = bytes.chunks(cut).collect();
            let (messages, _) = decode_all(&pieces);
            for message in &messages {
                let _ = bedrock_event(message);
            }
        }

        #[test]
        fn a_flipped_bit_never_yields_a_wrong_frame(event in proptest::collection::vec(any::<u8>(), 1..200), at in any::<usize>(), bit in 0u8..8) {
            let mut frame = encode_chunk(&event).to_vec();
            let at = at % frame.len();
            frame[at] ^= 1 << bit;
            let (messages, error) = decode_all(&[&frame]);
            // Either the corruption is detected, or (a length byte grown) the decoder still waits for more bytes.
            prop_assert!(messages.is_empty());
            let _ = error;
        }
    }
}
