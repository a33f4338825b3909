//! What both stream converters share: they are fed raw upstream bytes at any chunk boundaries, parse them into
//! events, and write the client's stream; the upstream's end completes the answer (or, before its stop reason,
//! fails it); a transport failure ends it with one error frame. Each converter implements the state machine
//! (the required methods); the driving is written once (the provided ones).

use bytes::BytesMut;

use super::usage::Usage;
use crate::sse::{SseEvent, SseParser};

/// A stream converter: OpenAI chunks → Anthropic events ([`super::StreamConverter`]), or Anthropic events →
/// OpenAI chunks ([`super::inbound::ChatStreamConverter`]).
pub trait StreamConvert {
    /// The converter's parser and its reused buffer of parsed events.
    fn parser(&mut self) -> (&mut SseParser, &mut Vec<SseEvent>);
    /// Converts parsed events, appending to `out`.
    fn handle_events(&mut self, events: &mut Vec<SseEvent>, out: &mut BytesMut);
    /// Whether the answer's end is known (the upstream sent its stop reason), so the upstream's end completes it.
    fn stop_known(&self) -> bool;
    /// Writes the end of the answer (held usage, the final events).
    fn complete(&mut self, out: &mut BytesMut);
    /// Writes one error frame and ends the stream.
    fn error(&mut self, error_type: &str, message: &str, out: &mut BytesMut);
    /// Whether the last bytes have been written: nothing more will be.
    fn is_finished(&self) -> bool;
    /// Usage known so far, in Anthropic's terms (final once the stream is finished).
    fn usage(&self) -> Usage;
    /// The Anthropic error type of the frame that ended the stream, if one did.
    fn failed_with(&self) -> Option<&str>;
    /// The stream failed before any of the answer was written: (Anthropic type, message), so the client can still
    /// get a real HTTP error.
    fn failed_before_start(&self) -> Option<(&str, &str)> {
        None
    }

    /// Raw upstream bytes (any chunking) in; converted bytes appended to `out`.
    fn push(&mut self, chunk: &[u8], out: &mut BytesMut) {
        if self.is_finished() {
            return;
        }
        let (parser, pending) = self.parser();
        let mut events = std::mem::take(pending);
        let parsed = parser.push(chunk, &mut events);
        self.handle_events(&mut events, out);
        *self.parser().1 = events;
        if let Err(err) = parsed {
            self.error("api_error", &format!("upstream stream could not be read: {err}"), out);
        }
    }

    /// The upstream body ended (cleanly or not): after a stop reason the answer is completed; without one the
    /// stream was cut, and the client gets an error rather than a truncated answer that looks complete.
    fn finish(&mut self, out: &mut BytesMut) {
        if self.is_finished() {
            return;
        }
        let (parser, pending) = self.parser();
        let mut events = std::mem::take(pending);
        parser.finish(&mut events);
        self.handle_events(&mut events, out);
        *self.parser().1 = events;
        if self.is_finished() {
            return;
        }
        if self.stop_known() {
            self.complete(out);
        } else {
            self.error("api_error", "upstream stream ended before completion", out);
        }
    }

    /// A transport failure after bytes were sent: one error frame (given type and message), then the end.
    fn fail(&mut self, error_type: &str, message: &str, out: &mut BytesMut) {
        if !self.is_finished() {
            self.error(error_type, message, out);
        }
    }
}
