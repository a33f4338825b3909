//! The request-body scan (`gatehouse::proxy::json_scan`) against serde_json on arbitrary bytes, fed in pieces of
//! an input-chosen size: it must never panic, accept exactly the texts serde_json accepts (plus its own stricter
//! UTF-8 check), and locate the same `model`, `messages`, `max_tokens` and `stream` values.
#![no_main]

use gatehouse::proxy::json_scan::{JsonScan, Member};
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(borrow, default)]
    messages: Option<&'a RawValue>,
    #[serde(borrow, default)]
    max_tokens: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stream: Option<&'a RawValue>,
}

type Spans = [Option<std::ops::Range<usize>>; 4];

/// serde_json's reading: the members' spans (a `null` value reads as absent into an `Option`), or `None` when it
/// refuses the text. Nesting is bounded below both limits so that only the grammar is compared.
fn oracle(text: &[u8]) -> Option<Spans> {
    if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    std::str::from_utf8(text).ok()?;
    let probe: Probe = serde_json::from_slice(text).ok()?;
    let span = |raw: Option<&RawValue>| {
        raw.map(|r| {
            let start = r.get().as_ptr() as usize - text.as_ptr() as usize;
            start..start + r.get().len()
        })
    };
    Some([span(probe.model), span(probe.messages), span(probe.max_tokens), span(probe.stream)])
}

fn scanned(text: &[u8], piece: usize) -> Option<Spans> {
    let mut scan = JsonScan::default();
    for chunk in text.chunks(piece) {
        scan.feed(chunk).ok()?;
    }
    let located = scan.finish(text).ok()?;
    let members = [Member::Model, Member::Messages, Member::MaxTokens, Member::Stream];
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
        assert_eq!(whole, oracle(text));
    }
});
