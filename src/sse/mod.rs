//! Server-sent events framing: an incremental parser for upstream bodies, the
//! encoder for the frames gatehouse writes to clients, and the event-boundary
//! helpers a byte-exact relay cuts its output on.
//!
//! The parser follows the WHATWG event-stream rules that matter for LLM APIs:
//! any of `\n`, `\r\n` or `\r` ends a line (also when a `\r\n` pair is split
//! across two chunks), `:` starts a comment, one space after `field:` is
//! stripped, `data` lines accumulate, and a blank line dispatches the event.
//! It never panics on hostile input and keeps at most one event in memory.

pub mod encode;
pub mod parser;

pub use encode::{encode_event, encode_json_event};
pub use parser::{SseError, SseEvent, SseParser, DEFAULT_MAX_EVENT_BYTES};

/// The two bytes an event stream starts after, for [`last_event_end`]: as if a blank line had just ended.
pub const STREAM_START: [u8; 2] = *b"\n\n";

/// Whether a chunk ends exactly at the end of an event (so it can be forwarded without holding a tail): it ends
/// with a blank line, in any of the three line endings (`\n`, `\r\n`, `\r`) or a mix. Judged from the chunk alone,
/// so `false` when the chunk is too short to tell (a lone `\r\n` could end a line or a blank line).
pub fn ends_with_event_boundary(chunk: &[u8]) -> bool {
    matches!(chunk, [.., b'\n', b'\n'] | [.., b'\r' | b'\n', b'\r'] | [.., b'\r' | b'\n', b'\r', b'\n'])
}

/// The index just past the last blank line (the end of the last complete event) in `data`, looking only at line
/// ends at `from` or later (the caller knows there is none before). `before` is the two bytes that preceded
/// `data` in the stream ([`STREAM_START`] at its start), so a `\r\n` pair or a blank line split across the edge
/// is read as one.
///
/// A blank line is a line end right after another line end, where a line end is `\n`, `\r\n` or `\r`. A cut
/// after a lone `\r` is an event end even if a `\n` follows later: that `\n` only completes the same line end.
pub fn last_event_end(data: &[u8], from: usize, before: [u8; 2]) -> Option<usize> {
    let byte = |i: usize, back: usize| match i.checked_sub(back) {
        Some(j) => data[j],
        None => before[2 + i - back],
    };
    let is_eol = |b: u8| b == b'\n' || b == b'\r';
    let mut end = data.len();
    while end > from {
        let Some(i) = memchr::memrchr2(b'\n', b'\r', &data[from..end]).map(|i| from + i) else { break };
        let blank = match data[i] {
            // The `\n` of a `\r\n` pair: a blank line when a line end precedes the pair.
            b'\n' if byte(i, 1) == b'\r' => is_eol(byte(i, 2)),
            b'\n' => byte(i, 1) == b'\n',
            _ => is_eol(byte(i, 1)),
        };
        if blank {
            return Some(i + 1);
        }
        end = i;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn boundaries_in_every_line_ending() {
        for yes in [&b"a\n\n"[..], b"a\r\r", b"a\r\n\r\n", b"a\n\r\n", b"a\r\n\r", b"a\n\r", b"a\r\r\n", b"\n\n"] {
            assert!(ends_with_event_boundary(yes), "{yes:?}");
            assert_eq!(last_event_end(yes, 0, STREAM_START), Some(yes.len()), "{yes:?}");
        }
        for no in [&b"a\n"[..], b"a\r", b"a\r\n", b"a\n\ra", b"", b"\r\n"] {
            assert!(!ends_with_event_boundary(no), "{no:?}");
        }
        assert_eq!(last_event_end(b"data: a\r\ndata: b", 0, STREAM_START), None);
        assert_eq!(last_event_end(b"data: a\r\rdata: b", 0, STREAM_START), Some(9));
        assert_eq!(last_event_end(b"data: a\n\r\ndata: b\r", 0, STREAM_START), Some(10));
    }

    #[test]
    fn the_bytes_before_decide_at_the_edge() {
        // `\r` forwarded last: a leading `\n` completes that line end; it is a blank line if a line end came first.
        assert_eq!(last_event_end(b"\nx", 0, *b"a\r"), None);
        assert_eq!(last_event_end(b"\nx", 0, *b"\n\r"), Some(1));
        assert_eq!(last_event_end(b"\rx", 0, *b"a\n"), Some(1));
        assert_eq!(last_event_end(b"\rx", 0, *b"ab"), None);
        // Line ends before `from` are not looked at, but are looked back to.
        assert_eq!(last_event_end(b"a\n\nb\n", 4, STREAM_START), None);
        assert_eq!(last_event_end(b"a\n\n", 2, STREAM_START), Some(3));
    }

    /// One event in a random mix of line endings.
    fn events() -> impl Strategy<Value = Vec<(String, usize)>> {
        proptest::collection::vec(("[a-z: ]{0,12}", 0usize..3), 1..12)
    }

    fn render(lines: &[(String, usize)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, (text, eol)) in lines.iter().enumerate() {
            out.extend_from_slice(format!("data: {text}").as_bytes());
            let eol: &[u8] = [&b"\n"[..], b"\r", b"\r\n"][*eol];
            out.extend_from_slice(eol);
            if i % 3 == 2 {
                out.extend_from_slice(eol);
            }
        }
        out
    }

    proptest! {
        /// Cutting a stream wherever `last_event_end` says, chunk by chunk, gives the same events as parsing it
        /// whole, and every cut falls where the parser has no event half read.
        #[test]
        fn cuts_fall_on_event_ends(lines in events(), splits in proptest::collection::vec(1usize..9, 1..40)) {
            let stream = render(&lines);
            let mut whole = Vec::new();
            let mut parser = SseParser::default();
            parser.push(&stream, &mut whole).unwrap();
            parser.finish(&mut whole);

            let mut relayed = Vec::new();
            let mut held: Vec<u8> = Vec::new();
            let mut before = STREAM_START;
            let mut events = Vec::new();
            let mut check = SseParser::default();
            let (mut at, mut i) = (0, 0);
            while at < stream.len() {
                let n = splits[i % splits.len()].min(stream.len() - at);
                let from = held.len();
                held.extend_from_slice(&stream[at..at + n]);
                at += n;
                i += 1;
                if let Some(cut) = last_event_end(&held, from, before) {
                    let out: Vec<u8> = held.drain(..cut).collect();
                    let dispatched = events.len();
                    check.push(&out, &mut events).unwrap();
                    // Nothing of the next event is pending in the parser: finishing now adds no event.
                    let mut probe = Vec::new();
                    let mut copy = SseParser::default();
                    copy.push(&relayed, &mut probe).unwrap();
                    copy.push(&out, &mut probe).unwrap();
                    let before_finish = probe.len();
                    copy.finish(&mut probe);
                    prop_assert_eq!(probe.len(), before_finish, "cut inside an event");
                    prop_assert!(events.len() >= dispatched);
                    before = match out.len() {
                        0 => before,
                        1 => [before[1], out[0]],
                        n => [out[n - 2], out[n - 1]],
                    };
                    relayed.extend_from_slice(&out);
                }
            }
            relayed.extend_from_slice(&held);
            prop_assert_eq!(&relayed, &stream);
            check.push(&held, &mut events).unwrap();
            check.finish(&mut events);
            prop_assert_eq!(events, whole);
        }
    }
}
