//! The request-body scan (`gatehouse::json::scan`) against serde_json on arbitrary bytes, fed in pieces of
//! an input-chosen size: it must never panic, accept exactly the texts serde_json accepts (plus its own stricter
//! UTF-8 check), and locate the same `model`, `messages`, `max_tokens`, `stream`, `system` and `tools` values.
#![no_main]

use gatehouse::json::scan::{JsonScan, Member};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/serde_probe.rs"]
mod serde_probe;

type Spans = [Option<std::ops::Range<usize>>; 6];

fn scanned(text: &[u8], piece: usize) -> Option<Spans> {
    let mut scan = JsonScan::default();
    for chunk in text.chunks(piece) {
        scan.feed(chunk).ok()?;
    }
    let located = scan.finish(text).ok()?;
    let members =
        [Member::Model, Member::Messages, Member::MaxTokens, Member::Stream, Member::System, Member::Tools];
    Some(members.map(|m| located.span(m).filter(|r| &text[r.clone()] != b"null")))
}

fn depth_at_most(text: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    text.iter().all(|&b| {
        match b {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        depth <= limit
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, text)) = data.split_first() else {
        return;
    };
    let piece = usize::from(control % 32) + 1;
    let whole = scanned(text, text.len().max(1));
    assert_eq!(scanned(text, piece), whole, "pieces of {piece}");
    if depth_at_most(text, 100) {
        assert_eq!(whole, serde_probe::serde_spans(text));
    }
});
