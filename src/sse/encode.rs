//! Writing the frames gatehouse sends to clients.

use bytes::{BufMut, BytesMut};
use serde::Serialize;

/// Appends `event: {name}\ndata: {data}\n\n`.
///
/// Clients dispatch on the `event:` line, so every frame gatehouse writes is
/// named. A `data` containing line breaks is split over several `data:` lines,
/// which a parser joins back into the same text.
pub fn encode_event(name: &str, data: &str, out: &mut BytesMut) {
    out.reserve(name.len() + data.len() + 17);
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\n");
    let mut rest = data.as_bytes();
    loop {
        let end = memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&rest[..end]);
        out.extend_from_slice(b"\n");
        if end == rest.len() {
            break;
        }
        let is_crlf = rest[end] == b'\r' && rest.get(end + 1) == Some(&b'\n');
        rest = &rest[end + if is_crlf { 2 } else { 1 }..];
    }
    out.extend_from_slice(b"\n");
}

/// Appends `event: {name}\ndata: {compact JSON of payload}\n\n`, serializing
/// straight into `out`. Compact JSON has no line breaks, so one `data:` line
/// always suffices. On a serialization error nothing is appended.
pub fn encode_json_event<T: Serialize + ?Sized>(
    name: &str,
    payload: &T,
    out: &mut BytesMut,
) -> Result<(), serde_json::Error> {
    let start = out.len();
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    if let Err(err) = serde_json::to_writer((&mut *out).writer(), payload) {
        out.truncate(start);
        return Err(err);
    }
    out.extend_from_slice(b"\n\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::{SseEvent, SseParser};

    fn parse_chunks(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut parser = SseParser::default();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.push(chunk, &mut out).unwrap();
        }
        parser.finish(&mut out);
        out
    }

    fn named(name: &str, d: &str) -> SseEvent {
        SseEvent { event: Some(name.to_string()), data: d.to_string() }
    }

    #[test]
    fn encode_event_frames_and_splits_lines() {
        let mut out = BytesMut::new();
        encode_event("ping", r#"{"type":"ping"}"#, &mut out);
        encode_event("x", "a\nb\r\nc", &mut out);
        assert_eq!(&out[..], b"event: ping\ndata: {\"type\":\"ping\"}\n\nevent: x\ndata: a\ndata: b\ndata: c\n\n");
        let events = parse_chunks(&[&out[..]]);
        assert_eq!(events, vec![named("ping", r#"{"type":"ping"}"#), named("x", "a\nb\nc")]);
    }

    #[test]
    fn encode_json_event_writes_compact_json() {
        let mut out = BytesMut::new();
        encode_json_event("x", &serde_json::json!({"a": "b\nc"}), &mut out).unwrap();
        assert_eq!(&out[..], b"event: x\ndata: {\"a\":\"b\\nc\"}\n\n");
        let len = out.len();
        let mut bad = std::collections::BTreeMap::new();
        bad.insert(vec![1u8], 1);
        assert!(encode_json_event("x", &bad, &mut out).is_err());
        assert_eq!(out.len(), len, "a failed event leaves nothing behind");
    }
}
