//! Reading a request body within the limit (validated as it arrives, see [`crate::json::scan`]) and its
//! deadlines, checking the few fields the gateway needs, and rewriting `model` in place. The body is never parsed
//! into a tree and re-serialised: every byte the client sent, apart from the model string, reaches the upstream
//! unchanged.
//!
//! Before the first byte is read, two headers that describe the body are checked: an `Expect` other than
//! `100-continue` is refused with 417 (actix-web has already answered `100 Continue` for that one), and a
//! `Content-Encoding` other than `identity` with 415 — the gateway reads the body as JSON, so an encoded body is
//! either mislabelled or unreadable, and never goes upstream with that header.

use std::future::Future;
use std::ops::Range;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use actix_web::http::header::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_LENGTH, EXPECT};
use actix_web::web;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::time::{Instant, Sleep};

use crate::config::Limits;
use crate::error::GatewayError;
use crate::json::scan::{scan, JsonScan, Located, Member, ScanError};
use crate::tokens::BodyParts;
use crate::upstream::OutgoingBody;

/// How long a request body may take to arrive: silence between two chunks, and the whole body. A client that
/// announces a body and then stalls (or trickles it) would otherwise hold its connection for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyDeadlines {
    /// Longest silence between two chunks (`body_idle_timeout`).
    pub idle: Duration,
    /// Longest time for the whole body, from the first read (`body_read_timeout`).
    pub total: Duration,
}

impl BodyDeadlines {
    /// The configured deadlines.
    pub fn of(limits: &Limits) -> Self {
        Self { idle: limits.body_idle_timeout, total: limits.body_read_timeout }
    }
}

/// Reads the whole body, refusing early (from `content-length`) or as soon as the limit is passed.
pub async fn read_limited(
    payload: web::Payload,
    headers: &HeaderMap,
    limit: usize,
    deadlines: BodyDeadlines,
) -> Result<Bytes, GatewayError> {
    read_checked(payload, headers, limit, deadlines, |_| Ok(())).await
}

/// A JSON request body, read whole and validated as it arrived, with the members the gateway routes on located.
#[derive(Debug, Clone)]
pub struct JsonBody {
    pub bytes: Bytes,
    located: Located,
}

/// Reads a JSON request body like [`read_limited`] (within `limits.max_body_bytes` and the body deadlines),
/// validating each chunk as it arrives (grammar, UTF-8, nesting no deeper than
/// [`MAX_DEPTH`](crate::json::scan::MAX_DEPTH)): a broken body is refused as soon as the offending chunk is in,
/// and a good one costs no second pass.
pub async fn read_json(payload: web::Payload, headers: &HeaderMap, limits: &Limits) -> Result<JsonBody, GatewayError> {
    let mut scan = JsonScan::default();
    let deadlines = BodyDeadlines::of(limits);
    let check = |chunk: &[u8]| scan.feed(chunk).map_err(refused);
    let bytes = read_checked(payload, headers, limits.max_body_bytes, deadlines, check).await?;
    let located = scan.finish(&bytes).map_err(refused)?;
    Ok(JsonBody { bytes, located })
}

impl JsonBody {
    /// Scans a body that is already whole (what [`read_json`] does chunk by chunk).
    pub fn whole(bytes: Bytes) -> Result<JsonBody, GatewayError> {
        let located = scan(&bytes).map_err(refused)?;
        Ok(JsonBody { bytes, located })
    }
}

fn refused(error: ScanError) -> GatewayError {
    GatewayError::InvalidRequest(error.to_string())
}

/// The read loop: `check` sees every chunk in order. A body that arrives in one chunk is kept as it is, not copied.
/// One timer serves both deadlines. A chunk only notes the time it arrived; when the timer fires, it either ends
/// the read or is set again from that time (so chunks never touch the timer wheel). The timer is armed only if the
/// body does not come at once: on the first wait the task asks to be polled again instead — actix-web feeds a body
/// that arrived with the head right after the handler first yields — so a body already in the server's buffer
/// (the common case) costs no timer at all.
async fn read_checked(
    mut payload: web::Payload,
    headers: &HeaderMap,
    limit: usize,
    deadlines: BodyDeadlines,
    mut check: impl FnMut(&[u8]) -> Result<(), GatewayError>,
) -> Result<Bytes, GatewayError> {
    refuse_unmet_expectation(headers)?;
    refuse_encoded_body(headers)?;
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(GatewayError::PayloadTooLarge { limit });
    }
    let mut last = Instant::now();
    let read_by = last + deadlines.total;
    let mut timer: Pin<&mut Option<Sleep>> = pin!(None);
    let mut free_pass = true;
    let mut first: Option<Bytes> = None;
    let mut joined: Option<BytesMut> = None;
    let mut total = 0usize;
    loop {
        // `Some(item)`: the payload's next item; `None`: the timer fired.
        let next = std::future::poll_fn(|cx| {
            if let Poll::Ready(item) = payload.poll_next_unpin(cx) {
                return Poll::Ready(Some(item));
            }
            if std::mem::take(&mut free_pass) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if timer.is_none() {
                timer.set(Some(tokio::time::sleep_until(read_by.min(last + deadlines.idle))));
            }
            match timer.as_mut().as_pin_mut() {
                Some(sleep) => sleep.poll(cx).map(|()| None),
                None => Poll::Pending,
            }
        })
        .await;
        let Some(next) = next else {
            let (now, silent_until) = (Instant::now(), last + deadlines.idle);
            if now >= read_by || now >= silent_until {
                return Err(stalled(deadlines, now >= read_by));
            }
            if let Some(sleep) = timer.as_mut().as_pin_mut() {
                sleep.reset(read_by.min(silent_until));
            }
            continue;
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| GatewayError::InvalidRequest(format!("could not read the request body: {e}")))?;
        last = Instant::now();
        total += chunk.len();
        if total > limit {
            return Err(GatewayError::PayloadTooLarge { limit });
        }
        check(&chunk)?;
        match (&mut joined, first.take()) {
            (Some(buffer), _) => buffer.extend_from_slice(&chunk),
            (None, None) => first = Some(chunk),
            (None, Some(earlier)) => {
                let mut buffer = BytesMut::with_capacity(declared.unwrap_or(0).max(total));
                buffer.extend_from_slice(&earlier);
                buffer.extend_from_slice(&chunk);
                joined = Some(buffer);
            }
        }
    }
    Ok(joined.map(BytesMut::freeze).or(first).unwrap_or_default())
}

/// 408: the body stopped arriving (`whole`: it kept arriving, too slowly to finish in time).
fn stalled(deadlines: BodyDeadlines, whole: bool) -> GatewayError {
    GatewayError::BodyTimeout(match whole {
        true => format!(
            "the request body did not arrive within {} s (body_read_timeout); send it faster, or ask the operator to \
             raise BODY_READ_TIMEOUT",
            deadlines.total.as_secs()
        ),
        false => format!(
            "the request body stalled: nothing arrived for {} s (body_idle_timeout); send the whole body that \
             Content-Length announces",
            deadlines.idle.as_secs()
        ),
    })
}

/// 417 for any expectation but `100-continue` (RFC 9110 §10.1.1), the only one the gateway meets (actix-web
/// answers it before the handler runs).
fn refuse_unmet_expectation(headers: &HeaderMap) -> Result<(), GatewayError> {
    let unmet = headers.get_all(EXPECT).find(|value| !only_tokens(value, "100-continue"));
    match unmet {
        None => Ok(()),
        Some(value) => Err(GatewayError::ExpectationFailed(format!(
            "Expect: {}: the only expectation gatehouse meets is 100-continue; remove the Expect header",
            shown(value)
        ))),
    }
}

/// 415 for a body with a content coding: the gateway reads request bodies as JSON and does not decode them.
fn refuse_encoded_body(headers: &HeaderMap) -> Result<(), GatewayError> {
    let encoded = headers.get_all(CONTENT_ENCODING).find(|value| !only_tokens(value, "identity"));
    match encoded {
        None => Ok(()),
        Some(value) => Err(GatewayError::UnsupportedMediaType(format!(
            "Content-Encoding: {}: request bodies must be sent uncompressed; remove the Content-Encoding header \
             (and the compression)",
            shown(value)
        ))),
    }
}

/// Whether a comma-separated header value holds nothing but `token` (case-insensitive) and empty members.
fn only_tokens(value: &HeaderValue, token: &str) -> bool {
    let mut members = value.as_bytes().split(|&b| b == b',').map(<[u8]>::trim_ascii);
    members.all(|m| m.is_empty() || m.eq_ignore_ascii_case(token.as_bytes()))
}

/// A client-supplied header value for an error message: at most 64 characters, control characters escaped.
fn shown(value: &HeaderValue) -> String {
    let text = String::from_utf8_lossy(value.as_bytes());
    let mut out: String = text.chars().take(64).flat_map(char::escape_debug).collect();
    if text.chars().count() > 64 {
        out.push('…');
    }
    out
}

/// What the gateway needs to know about a Messages, count_tokens or Chat Completions request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// The model as the client wrote it (JSON-decoded).
    pub model: String,
    /// Byte range of the model's JSON string literal (quotes included) within the body.
    model_span: Range<usize>,
    pub stream: bool,
    /// `max_tokens`, when the body has it as a non-negative integer (required on `/v1/messages`).
    pub max_tokens: Option<u64>,
    /// Where the parts a token estimate reads sit (a keyed request's reservation counts them).
    pub parts: BodyParts,
}

/// Which fields a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    /// `POST /v1/messages`: model, messages, max_tokens.
    Messages,
    /// `POST /v1/messages/count_tokens`: model, messages.
    CountTokens,
    /// `POST /v1/chat/completions` (OpenAI format): model, messages; `max_tokens` is optional there.
    ChatCompletions,
}

/// Checks the located members just enough to route the body; everything else is the upstream's business.
pub fn inspect(body: &JsonBody, required: Required) -> Result<Inspected, GatewayError> {
    inspect_spans(&body.bytes, |m| body.located.span(m), required)
}

/// [`inspect`] for a body whose members' spans are known another way (a body the gateway assembled from pieces of
/// a checked one, [`super::cloud`]): `span` gives where each member's value sits in `text`.
pub fn inspect_spans(
    text: &[u8],
    span: impl Fn(Member) -> Option<Range<usize>>,
    required: Required,
) -> Result<Inspected, GatewayError> {
    let invalid = |m: &str| GatewayError::InvalidRequest(m.to_string());
    let member = |m: Member| span(m).map(|span| (&text[span.clone()], span));

    let (model_raw, model_span) = member(Member::Model).ok_or_else(|| invalid("model: field is required"))?;
    let model: String = serde_json::from_slice(model_raw)
        .map_err(|_| invalid("model: must be a string such as \"anthropic:claude-sonnet-4-5\""))?;
    if model.trim().is_empty() {
        return Err(invalid("model: must not be empty"));
    }
    let (messages, _) = member(Member::Messages).ok_or_else(|| invalid("messages: field is required"))?;
    if !is_non_empty_array(messages) {
        return Err(invalid("messages: must be a non-empty array"));
    }
    let max_tokens =
        member(Member::MaxTokens).map(|(raw, _)| std::str::from_utf8(raw).ok().and_then(|n| n.parse().ok()));
    if required == Required::Messages {
        match max_tokens {
            None => return Err(invalid("max_tokens: field is required")),
            Some(None) => return Err(invalid("max_tokens: must be a non-negative integer")),
            Some(Some(_)) => {}
        }
    }
    let max_tokens = max_tokens.flatten();
    let stream = match member(Member::Stream).map(|(raw, _)| raw) {
        None | Some(b"false") | Some(b"null") => false,
        Some(b"true") => true,
        Some(_) => return Err(invalid("stream: must be a boolean")),
    };
    Ok(Inspected { model, model_span, stream, max_tokens, parts: BodyParts::located(span) })
}

fn is_non_empty_array(raw: &[u8]) -> bool {
    raw.strip_prefix(b"[").is_some_and(|rest| !rest.trim_ascii_start().starts_with(b"]"))
}

/// The body with `model` replaced by `new_model`; every other byte unchanged. Only the model literal is new: the
/// rest are shared slices of the client's body, so a 230 KB request is not copied to change a dozen bytes.
pub fn with_model(body: &Bytes, inspected: &Inspected, new_model: &str) -> OutgoingBody {
    if new_model == inspected.model {
        return OutgoingBody::from(body.clone());
    }
    // Serialising a `str` into a `Vec` cannot fail (no I/O, no map keys); the `Value` route stays as the fallback.
    let literal = serde_json::to_vec(new_model)
        .unwrap_or_else(|_| serde_json::Value::String(new_model.to_string()).to_string().into_bytes());
    let span = &inspected.model_span;
    OutgoingBody::spliced(body, span.clone(), Bytes::from(literal))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Scans and inspects a whole body, as `admit` does chunk by chunk.
    fn inspect(body: &[u8], required: Required) -> Result<Inspected, GatewayError> {
        super::inspect(&JsonBody::whole(Bytes::copy_from_slice(body))?, required)
    }

    fn err(body: &str) -> String {
        inspect(body.as_bytes(), Required::Messages).unwrap_err().to_string()
    }

    #[test]
    fn accepts_a_minimal_request() {
        let body =
            br#"{"model":"openai:gpt-4o","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"stream":true}"#;
        let i = inspect(body, Required::Messages).unwrap();
        assert_eq!(i.model, "openai:gpt-4o");
        assert!(i.stream);
    }

    #[test]
    fn each_missing_or_wrong_field_is_named() {
        assert!(err("").contains("empty"));
        assert!(err("[1]").contains("JSON object"));
        assert!(err("{").contains("not valid JSON"));
        assert!(err(r#"{"messages":[1],"max_tokens":1}"#).starts_with("model:"));
        assert!(err(r#"{"model":5,"messages":[1],"max_tokens":1}"#).starts_with("model:"));
        assert!(err(r#"{"model":"m","max_tokens":1}"#).starts_with("messages:"));
        assert!(err(r#"{"model":"m","messages":[ ],"max_tokens":1}"#).starts_with("messages:"));
        assert!(err(r#"{"model":"m","messages":{},"max_tokens":1}"#).starts_with("messages:"));
        assert!(err(r#"{"model":"m","messages":[1]}"#).starts_with("max_tokens:"));
        assert!(err(r#"{"model":"m","messages":[1],"max_tokens":1.5}"#).starts_with("max_tokens:"));
        assert!(err(r#"{"model":"m","messages":[1],"max_tokens":"9"}"#).starts_with("max_tokens:"));
        assert!(err(r#"{"model":"m","messages":[1],"max_tokens":1,"stream":"yes"}"#).starts_with("stream:"));
    }

    #[test]
    fn count_tokens_and_chat_completions_do_not_need_max_tokens() {
        assert!(inspect(br#"{"model":"m","messages":[1]}"#, Required::CountTokens).is_ok());
        let chat = inspect(br#"{"model":"m","messages":[1],"stream":true}"#, Required::ChatCompletions).unwrap();
        assert!(chat.stream);
        assert!(inspect(br#"{"model":"m","messages":[]}"#, Required::ChatCompletions).is_err());
    }

    #[test]
    fn rewrite_changes_only_the_model() {
        let body = Bytes::from_static(
            br#"{ "max_tokens" : 5, "model" : "p:m\u00e9", "messages":[{"x":"model"}], "zz": {"model":"keep"} }"#,
        );
        let i = inspect(&body, Required::Messages).unwrap();
        assert_eq!(i.model, "p:mé");
        let out = with_model(&body, &i, "m\"é").to_bytes();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{ "max_tokens" : 5, "model" : "m\"é", "messages":[{"x":"model"}], "zz": {"model":"keep"} }"#
        );
    }

    #[test]
    fn unchanged_model_shares_the_buffer() {
        let body = Bytes::from_static(br#"{"model":"m","messages":[1],"max_tokens":1}"#);
        let i = inspect(&body, Required::Messages).unwrap();
        assert_eq!(with_model(&body, &i, "m").to_bytes().as_ptr(), body.as_ptr());
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(actix_web::http::header::HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_100_continue_is_an_expectation_the_gateway_meets() {
        for ok in [&[][..], &[("expect", "100-continue")], &[("expect", "100-Continue , ")]] {
            assert!(refuse_unmet_expectation(&headers(ok)).is_ok(), "{ok:?}");
        }
        for bad in [
            &[("expect", "200-ok")][..],
            &[("expect", "100-continue, x=1")],
            &[("expect", "100-continue"), ("expect", "x")],
        ] {
            let error = refuse_unmet_expectation(&headers(bad)).unwrap_err();
            assert_eq!(error.kind(), "expectation_failed", "{bad:?}");
        }
        let error = refuse_unmet_expectation(&headers(&[("expect", "200-ok")])).unwrap_err();
        assert!(error.to_string().starts_with("Expect: 200-ok:"), "{error}");
    }

    #[test]
    fn encoded_request_bodies_are_refused_identity_is_not() {
        assert!(refuse_encoded_body(&headers(&[])).is_ok());
        assert!(refuse_encoded_body(&headers(&[("content-encoding", "identity")])).is_ok());
        for bad in ["gzip", "identity, gzip", "br", "x-gzip"] {
            let h = headers(&[("content-encoding", bad)]);
            assert_eq!(refuse_encoded_body(&h).unwrap_err().kind(), "unsupported_media_type", "{bad}");
        }
    }

    #[test]
    fn header_values_are_shown_short_and_escaped() {
        let long = HeaderValue::from_bytes("ab".repeat(40).as_bytes()).unwrap();
        let text = shown(&long);
        assert_eq!(text.chars().count(), 65, "{text}");
        assert!(text.ends_with('…'));
        let tab = HeaderValue::from_bytes(b"x\ty").unwrap();
        assert_eq!(shown(&tab), "x\\ty");
    }

    proptest! {
        #[test]
        fn rewrite_equals_tree_edit(model in "\\PC{0,20}", new_model in "\\PC{0,20}", extra in "\\PC{0,30}") {
            prop_assume!(!model.trim().is_empty());
            let original = serde_json::json!({"extra": extra, "model": model, "max_tokens": 3, "messages": [{"role":"user","content": extra}]});
            let body = Bytes::from(original.to_string());
            let i = inspect(&body, Required::Messages).unwrap();
            prop_assert_eq!(&i.model, &model);
            let out: serde_json::Value = serde_json::from_slice(&with_model(&body, &i, &new_model).to_bytes()).unwrap();
            let mut expected = original.clone();
            expected["model"] = serde_json::Value::String(new_model.clone());
            prop_assert_eq!(out, expected);
        }
    }
}
