//! The incremental event-stream parser for upstream bodies.

use std::fmt;

/// Per-event memory bound used by [`SseParser::default`]. Generous because a
/// single upstream chunk may carry a whole tool call's arguments (a file the
/// model is writing, say), yet finite so a broken upstream cannot exhaust memory.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched event. `event` is `None` when the stream named no type
/// (the spec's implicit `message`); `data` is every `data` line joined with `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Why parsing stopped. The parser stays failed afterwards: the rest of the
/// stream cannot be framed reliably once an event has been cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseError {
    /// One event (its pending line plus accumulated data) exceeded the limit.
    EventTooLarge { limit: usize },
}

impl fmt::Display for SseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SseError::EventTooLarge { limit } => {
                write!(f, "server-sent event larger than {limit} bytes")
            }
        }
    }
}

impl std::error::Error for SseError {}

/// Incremental event-stream parser: feed it bytes at whatever boundaries the
/// network delivers them; it yields the same events for every split.
#[derive(Debug)]
pub struct SseParser {
    max_event_bytes: usize,
    /// Bytes of a line whose end has not arrived yet.
    partial_line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` opening the next one belongs to it.
    pending_cr: bool,
    /// No line has been completed yet, so a leading BOM is still to be skipped.
    at_stream_start: bool,
    event_name: Option<String>,
    data: String,
    has_data: bool,
    failed: Option<SseError>,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_EVENT_BYTES)
    }
}

impl SseParser {
    /// `max_event_bytes` bounds the memory one event may occupy.
    pub fn new(max_event_bytes: usize) -> Self {
        SseParser {
            max_event_bytes,
            partial_line: Vec::new(),
            pending_cr: false,
            at_stream_start: true,
            event_name: None,
            data: String::new(),
            has_data: false,
            failed: None,
        }
    }

    /// Feed raw bytes in arbitrary chunk boundaries; completed events are appended to `out`.
    ///
    /// Events completed before an error are still appended. After an error every
    /// further call returns the same error.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let result = self.push_lines(chunk, out);
        if let Err(err) = &result {
            self.failed = Some(err.clone());
            self.partial_line = Vec::new();
            self.data = String::new();
        }
        result
    }

    /// Upstream ended: flush a final event that lacked the trailing blank line, if any.
    ///
    /// The parser is then ready for a new stream.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if self.failed.is_none() {
            if !self.partial_line.is_empty() {
                let line = std::mem::take(&mut self.partial_line);
                // The size of a pending line was checked as it grew.
                self.process_line(&line, out);
            }
            self.dispatch(out);
        }
        *self = SseParser::new(self.max_event_bytes);
    }

    fn push_lines(&mut self, mut rest: &[u8], out: &mut Vec<SseEvent>) -> Result<(), SseError> {
        if self.pending_cr && !rest.is_empty() {
            self.pending_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(end) = memchr::memchr2(b'\n', b'\r', rest) {
            let consumed = match rest[end] {
                b'\r' if end + 1 == rest.len() => {
                    self.pending_cr = true;
                    end + 1
                }
                b'\r' if rest[end + 1] == b'\n' => end + 2,
                _ => end + 1,
            };
            if self.partial_line.is_empty() {
                self.check_size(end)?;
                self.process_line(&rest[..end], out);
            } else {
                self.check_size(self.partial_line.len() + end)?;
                let mut line = std::mem::take(&mut self.partial_line);
                line.extend_from_slice(&rest[..end]);
                self.process_line(&line, out);
                line.clear();
                self.partial_line = line;
            }
            rest = &rest[consumed..];
        }
        if !rest.is_empty() {
            self.check_size(self.partial_line.len() + rest.len())?;
            self.partial_line.extend_from_slice(rest);
        }
        Ok(())
    }

    /// The size counted for a line is its own length plus the event data so
    /// far; because a pending line only grows, the verdict does not depend on
    /// where the chunks were split.
    fn check_size(&self, line_len: usize) -> Result<(), SseError> {
        let name_len = self.event_name.as_ref().map_or(0, String::len);
        if line_len + self.data.len() + name_len > self.max_event_bytes {
            Err(SseError::EventTooLarge { limit: self.max_event_bytes })
        } else {
            Ok(())
        }
    }

    fn process_line(&mut self, mut line: &[u8], out: &mut Vec<SseEvent>) {
        if self.at_stream_start {
            self.at_stream_start = false;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return; // comment
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&String::from_utf8_lossy(value));
                self.has_data = true;
            }
            b"event" => {
                self.event_name = (!value.is_empty()).then(|| String::from_utf8_lossy(value).into_owned());
            }
            // `id` and `retry` only matter for reconnecting clients; a proxy
            // relaying one response has no use for them. Unknown fields are ignored.
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        let event = self.event_name.take();
        if self.has_data {
            self.has_data = false;
            out.push(SseEvent { event, data: std::mem::take(&mut self.data) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.push(chunk, &mut out).unwrap();
        }
        parser.finish(&mut out);
        out
    }

    fn data(d: &str) -> SseEvent {
        SseEvent { event: None, data: d.to_string() }
    }

    fn named(name: &str, d: &str) -> SseEvent {
        SseEvent { event: Some(name.to_string()), data: d.to_string() }
    }

    #[test]
    fn parses_named_and_unnamed_events() {
        let out = parse_chunks(&[b"event: ping\ndata: {}\n\ndata: x\n\n"]);
        assert_eq!(out, vec![named("ping", "{}"), data("x")]);
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        let out = parse_chunks(&[b"data: a\r", b"\n\r", b"\ndata: b\r\n\r\n"]);
        assert_eq!(out, vec![data("a"), data("b")]);
    }

    #[test]
    fn lone_cr_ends_lines() {
        let out = parse_chunks(&[b"data: a\r\rdata: b\r\r"]);
        assert_eq!(out, vec![data("a"), data("b")]);
    }

    #[test]
    fn cr_at_chunk_end_followed_by_other_byte() {
        let out = parse_chunks(&[b"data: a\r", b"\r", b"data: b\n\n"]);
        assert_eq!(out, vec![data("a"), data("b")]);
    }

    #[test]
    fn comments_are_ignored() {
        let out = parse_chunks(&[b": OPENROUTER PROCESSING\n\n:keepalive\ndata: x\n\n"]);
        assert_eq!(out, vec![data("x")]);
    }

    #[test]
    fn multi_line_data_is_joined_with_newline() {
        let out = parse_chunks(&[b"data: a\ndata:b\ndata:  c\ndata\n\n"]);
        assert_eq!(out, vec![data("a\nb\n c\n")]);
    }

    #[test]
    fn event_without_data_is_not_dispatched_and_resets_its_name() {
        let out = parse_chunks(&[b"event: lonely\n\ndata: x\n\n"]);
        assert_eq!(out, vec![data("x")]);
    }

    #[test]
    fn bom_at_stream_start_is_skipped_even_when_split() {
        let out = parse_chunks(&[b"\xEF\xBB", b"\xBFdata: x\n\n"]);
        assert_eq!(out, vec![data("x")]);
        // A BOM later in the stream is ordinary bytes of a field name.
        let out = parse_chunks(&[b"data: x\n\n\xEF\xBB\xBFdata: y\n\n"]);
        assert_eq!(out, vec![data("x")]);
    }

    #[test]
    fn final_event_without_blank_line_is_flushed_by_finish() {
        assert_eq!(parse_chunks(&[b"data: tail"]), vec![data("tail")]);
        assert_eq!(parse_chunks(&[b"data: tail\n"]), vec![data("tail")]);
        assert_eq!(parse_chunks(&[b"data: tail\r"]), vec![data("tail")]);
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let out = parse_chunks(&[b"data: a\xFF", b"b\n\n"]);
        assert_eq!(out, vec![data("a\u{FFFD}b")]);
    }

    #[test]
    fn multibyte_char_split_across_chunks_survives() {
        let bytes = "data: é\n\n".as_bytes();
        let out = parse_chunks(&[&bytes[..7], &bytes[7..]]);
        assert_eq!(out, vec![data("é")]);
    }

    #[test]
    fn field_without_colon_and_unknown_fields() {
        let out = parse_chunks(&[b"id: 7\nretry: 10\nfoo: bar\ndata\n\n"]);
        assert_eq!(out, vec![data("")]);
    }

    #[test]
    fn oversize_event_is_an_error_whatever_the_split() {
        let body = b"data: 0123456789\n\n";
        for split in 0..body.len() {
            let mut parser = SseParser::new(8);
            let mut out = Vec::new();
            let first = parser.push(&body[..split], &mut out);
            let second = parser.push(&body[split..], &mut out);
            assert_eq!(first.and(second), Err(SseError::EventTooLarge { limit: 8 }), "split at {split}");
            assert!(out.is_empty());
        }
    }

    #[test]
    fn error_is_sticky_and_events_before_it_are_kept() {
        let mut parser = SseParser::new(12);
        let mut out = Vec::new();
        let err = parser.push(b"data: ok\n\ndata: far too long\n\n", &mut out);
        assert!(err.is_err());
        assert_eq!(out, vec![data("ok")]);
        assert!(parser.push(b"data: x\n\n", &mut out).is_err());
        assert_eq!(SseError::EventTooLarge { limit: 12 }.to_string(), "server-sent event larger than 12 bytes");
    }

    #[test]
    fn many_events_within_limit_are_fine() {
        let mut parser = SseParser::new(16);
        let mut out = Vec::new();
        for _ in 0..100 {
            parser.push(b"data: 0123456789\n\n", &mut out).unwrap();
        }
        assert_eq!(out.len(), 100);
    }
}
