//! The rate-limit headers of a keyed request's answer, as Anthropic's own API names them, for the tightest of
//! the key's and its team's limits that are set. When the upstream's answer already carries Anthropic's headers
//! (passthrough), those reach the client unchanged and the gateway's own go under `x-gatehouse-ratelimit-*`.

use std::cell::RefCell;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use bytes::BytesMut;

use crate::limits::period::rfc3339;
use crate::limits::Headroom;

/// The names of one kind of limit's headers: limit, remaining, reset.
type Names = [HeaderName; 3];

const fn names(limit: &'static str, remaining: &'static str, reset: &'static str) -> Names {
    [HeaderName::from_static(limit), HeaderName::from_static(remaining), HeaderName::from_static(reset)]
}

/// By [relayed][kind]: Anthropic's names, or the gateway's own beside the upstream's. A `static`: indexing a
/// `const` array of names makes (and drops) a copy of all twelve each time.
static NAMES: [[Names; 2]; 2] = [
    [
        names(
            "anthropic-ratelimit-requests-limit",
            "anthropic-ratelimit-requests-remaining",
            "anthropic-ratelimit-requests-reset",
        ),
        names(
            "anthropic-ratelimit-tokens-limit",
            "anthropic-ratelimit-tokens-remaining",
            "anthropic-ratelimit-tokens-reset",
        ),
    ],
    [
        names(
            "x-gatehouse-ratelimit-requests-limit",
            "x-gatehouse-ratelimit-requests-remaining",
            "x-gatehouse-ratelimit-requests-reset",
        ),
        names(
            "x-gatehouse-ratelimit-tokens-limit",
            "x-gatehouse-ratelimit-tokens-remaining",
            "x-gatehouse-ratelimit-tokens-reset",
        ),
    ],
];

/// Adds the headers for `headroom` to an answer's `headers`.
pub fn ratelimit_headers(headers: &mut HeaderMap, headroom: Headroom) {
    let relayed = headers.keys().any(|name| name.as_str().starts_with("anthropic-ratelimit-"));
    // Anthropic's names are absent unless relayed, so they are appended: a map's `insert` also moves out and drops
    // what it replaces. The gateway's own names could come from the upstream too (a gateway behind a gateway):
    // those replace it.
    let mut put = |name: &HeaderName, value: HeaderValue| match relayed {
        false => headers.append(name.clone(), value),
        true => drop(headers.insert(name.clone(), value)),
    };
    for (names, limit) in NAMES[usize::from(relayed)].iter().zip([headroom.requests, headroom.tokens]) {
        let Some((limit, remaining, reset)) = limit else { continue };
        let [limit_name, remaining_name, reset_name] = names;
        put(limit_name, limit_value(limit));
        put(remaining_name, number_value(remaining));
        if let Some(reset) = reset_value(reset) {
            put(reset_name, reset);
        }
    }
}

thread_local! {
    /// Where this thread writes the "remaining" numbers, which change with each answer: each value is a slice of
    /// one shared buffer (a reference count, not an allocation of its own), a new buffer once this one is full.
    static DIGITS: RefCell<BytesMut> = RefCell::new(BytesMut::new());
}

/// Room for this many values' digits in each buffer.
const DIGITS_BUFFER: usize = 4096;

/// `n` as a header value, its digits in this thread's shared buffer.
fn number_value(n: u64) -> HeaderValue {
    let mut text = itoa::Buffer::new();
    let digits = text.format(n).as_bytes();
    let bytes = DIGITS.with_borrow_mut(|buffer| {
        if buffer.capacity() - buffer.len() < digits.len() {
            *buffer = BytesMut::with_capacity(DIGITS_BUFFER);
        }
        buffer.extend_from_slice(digits);
        buffer.split().freeze()
    });
    HeaderValue::from_maybe_shared(bytes).unwrap_or_else(|_| HeaderValue::from(n))
}

/// The last two values this thread wrote for one kind of header, by what they were made from: an answer has up to
/// two of each, and they change rarely (limits) or once a second (reset times).
type Recent = RefCell<[(u64, Option<HeaderValue>); 2]>;

thread_local! {
    static RESETS: Recent = const { RefCell::new([(u64::MAX, None), (u64::MAX, None)]) };
    static LIMITS: Recent = const { RefCell::new([(u64::MAX, None), (u64::MAX, None)]) };
}

/// The value remembered in `recent` for `at`, or `make()`, remembered in place of the older of the two.
fn recently(
    recent: &'static std::thread::LocalKey<Recent>,
    at: u64,
    make: impl FnOnce() -> Option<HeaderValue>,
) -> Option<HeaderValue> {
    recent.with_borrow_mut(|slots| {
        if let Some((_, value)) = slots.iter().find(|(seen, _)| *seen == at) {
            return value.clone();
        }
        let value = make();
        slots.swap(0, 1);
        slots[0] = (at, value.clone());
        value
    })
}

/// `limit` as a header value, written once per thread while it stays among the last two.
fn limit_value(limit: u64) -> HeaderValue {
    recently(&LIMITS, limit, || Some(HeaderValue::from(limit))).unwrap_or_else(|| HeaderValue::from(limit))
}

/// `reset_ms` as the header's RFC 3339 value, formatted once per second and thread.
fn reset_value(reset_ms: u64) -> Option<HeaderValue> {
    recently(&RESETS, reset_ms / 1000, || HeaderValue::try_from(rfc3339(reset_ms)).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_names_unless_the_upstream_sent_its_own() {
        let headroom = Headroom { requests: Some((60, 59, 1_000)), tokens: None };
        let mut headers = HeaderMap::new();
        ratelimit_headers(&mut headers, headroom);
        assert_eq!(headers.get("anthropic-ratelimit-requests-limit").unwrap(), "60");
        assert_eq!(headers.get("anthropic-ratelimit-requests-remaining").unwrap(), "59");
        assert_eq!(headers.get("anthropic-ratelimit-requests-reset").unwrap(), "1970-01-01T00:00:01Z");
        assert!(headers.get("anthropic-ratelimit-tokens-limit").is_none(), "only limits that are set");
        for (ms, text) in
            [(1_000, "1970-01-01T00:00:01Z"), (61_999, "1970-01-01T00:01:01Z"), (1_500, "1970-01-01T00:00:01Z")]
        {
            let headroom = Headroom { requests: Some((60, 0, ms)), tokens: Some((10, 0, ms + 1_000)) };
            let mut headers = HeaderMap::new();
            ratelimit_headers(&mut headers, headroom);
            assert_eq!(headers.get("anthropic-ratelimit-requests-reset").unwrap(), text);
            assert_eq!(headers.get("anthropic-ratelimit-tokens-reset").unwrap(), rfc3339(ms + 1_000).as_str());
        }
        let mut relayed = HeaderMap::new();
        relayed.insert(HeaderName::from_static("anthropic-ratelimit-requests-limit"), HeaderValue::from_static("4000"));
        ratelimit_headers(&mut relayed, headroom);
        assert_eq!(relayed.get("anthropic-ratelimit-requests-limit").unwrap(), "4000", "the upstream's, unchanged");
        assert_eq!(relayed.get("x-gatehouse-ratelimit-requests-remaining").unwrap(), "59");
        // The gateway's own names from an upstream (a gateway behind a gateway) are replaced, not repeated.
        relayed.insert(HeaderName::from_static("x-gatehouse-ratelimit-requests-limit"), HeaderValue::from_static("9"));
        ratelimit_headers(&mut relayed, headroom);
        assert_eq!(relayed.get_all("x-gatehouse-ratelimit-requests-limit").collect::<Vec<_>>(), ["60"]);
    }

    #[test]
    fn remaining_numbers_share_buffers_and_stay_intact() {
        // Enough values to fill several buffers; each keeps its own digits after later ones are written.
        let values: Vec<(u64, HeaderValue)> =
            (0..3_000u64).map(|i| i * 7_919 % 1_000_003).map(|n| (n, number_value(n))).collect();
        for (n, value) in &values {
            assert_eq!(value.to_str().unwrap(), n.to_string());
        }
        assert_eq!(number_value(u64::MAX).to_str().unwrap(), u64::MAX.to_string());
        assert_eq!(number_value(0).to_str().unwrap(), "0");
    }
}
