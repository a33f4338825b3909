// serde_json's reading of a request body, the oracle the body scan (`gatehouse::json::scan`) is compared
// with: its unit tests and the `body_scan` fuzz target include this file (plain comments, so that `include!` takes
// it as well as `#[path]`).

use std::ops::Range;

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
    #[serde(borrow, default)]
    system: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<&'a RawValue>,
}

/// The spans of `model`, `messages`, `max_tokens`, `stream`, `system` and `tools` (in that order) as serde_json reads them into
/// `Option<&RawValue>` — a `null` value reads as absent — or `None` when it refuses the text. Also `None` for a text
/// that is not an object or not UTF-8: serde_json does not look inside strings it skips unread; the scan does.
pub fn serde_spans(text: &[u8]) -> Option<[Option<Range<usize>>; 6]> {
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
    Some([
        span(probe.model),
        span(probe.messages),
        span(probe.max_tokens),
        span(probe.stream),
        span(probe.system),
        span(probe.tools),
    ])
}
