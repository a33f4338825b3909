//! Pieces shared by every way of answering with an upstream's response: the response head (status, relayed
//! headers, `Server-Timing`, request id) and reading a whole upstream body within a limit.

use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use bytes::{Bytes, BytesMut};

use super::recorder::Recorder;
use crate::actors::forwarder::{UpstreamBody, UpstreamReply};
use crate::error::GatewayError;

// Named once: a `&str` name outside the standard set is parsed into a new `HeaderName` each time it is used.
const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");
const REQUEST_ID: HeaderName = HeaderName::from_static("x-gatehouse-request-id");
const TARGET: HeaderName = HeaderName::from_static("x-gatehouse-target");

/// Largest non-streaming upstream response body accepted.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// Status, relayed upstream headers (when `relay_headers`), `Server-Timing` and the request id.
pub fn response_head(
    reply: &UpstreamReply,
    status: StatusCode,
    recorder: &Recorder,
    relay_headers: bool,
) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    if relay_headers {
        for (name, value) in reply.headers.iter() {
            response.append_header((name.clone(), value.clone()));
        }
    }
    let upstream = recorder.record.upstream_time.unwrap_or(reply.upstream_time);
    let gateway = recorder.elapsed().saturating_sub(upstream);
    response.insert_header((SERVER_TIMING, server_timing(gateway, upstream)));
    if let Ok(id) = HeaderValue::from_str(&recorder.record.request_id) {
        response.insert_header((REQUEST_ID, id));
    }
    // The model comes from the client and may hold characters a header cannot carry: then the header is left out.
    let (provider, model) = (&recorder.record.provider, &recorder.record.model);
    let mut target = String::with_capacity(provider.len() + 1 + model.len());
    target.push_str(provider);
    target.push(':');
    target.push_str(model);
    if let Ok(value) = HeaderValue::try_from(target) {
        response.insert_header((TARGET, value));
    }
    response
}

/// `gateway;dur=0.123, upstream;dur=4.567` (milliseconds with microsecond precision). Written without `format!`:
/// formatting was a visible share of the per-request CPU.
fn server_timing(gateway: Duration, upstream: Duration) -> String {
    let mut out = String::with_capacity(64);
    out.push_str("gateway;dur=");
    push_millis(&mut out, gateway);
    out.push_str(", upstream;dur=");
    push_millis(&mut out, upstream);
    out
}

/// Appends `d` in milliseconds with three decimals.
fn push_millis(out: &mut String, d: Duration) {
    let us = d.as_micros();
    out.push_str(itoa::Buffer::new().format(us / 1000));
    out.push('.');
    let frac = (us % 1000) as u32;
    for digit in [frac / 100, frac / 10 % 10, frac % 10] {
        out.push(char::from_digit(digit, 10).unwrap_or('0'));
    }
}

/// Answers with an upstream body read whole, relayed unchanged with its status and headers, and records the
/// request (usage read by `usage_of` from a successful body). Shared by every passthrough route.
pub fn relay_whole(
    reply: &UpstreamReply,
    body: Bytes,
    mut recorder: Recorder,
    usage_of: fn(&[u8]) -> crate::convert::Usage,
) -> HttpResponse {
    recorder.record.upstream_time = Some(recorder.elapsed());
    let status = reply.status;
    let usage = if status.is_success() { usage_of(&body) } else { Default::default() };
    let error_kind = (!status.is_success()).then_some("upstream_status");
    let response = response_head(reply, status, &recorder, true).body(body);
    let ttfb = Some(recorder.elapsed());
    recorder.finish(status.as_u16(), error_kind, usage, ttfb);
    response
}

/// Answers 200 with a JSON body the gateway converted from the upstream's (so no upstream header but the timing
/// ones is relayed), and records the request with its usage.
pub fn answer_converted(
    reply: &UpstreamReply,
    body: Bytes,
    usage: crate::convert::Usage,
    mut recorder: Recorder,
) -> HttpResponse {
    recorder.record.upstream_time = Some(recorder.elapsed());
    let response = response_head(reply, StatusCode::OK, &recorder, false)
        .insert_header((actix_web::http::header::CONTENT_TYPE, "application/json"))
        .body(body);
    let ttfb = Some(recorder.elapsed());
    recorder.finish(200, None, usage, ttfb);
    response
}

/// Whether the upstream answered with an event stream.
pub fn is_event_stream(reply: &UpstreamReply) -> bool {
    super::headers::is_event_stream(&reply.headers)
}

/// Reads a whole upstream body (non-streaming answers and errors).
pub async fn collect(body: &mut UpstreamBody, provider: &str) -> Result<Bytes, GatewayError> {
    let mut out = BytesMut::new();
    while let Some(chunk) = body.recv().await {
        let chunk = chunk?;
        if out.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(GatewayError::UpstreamProtocol {
                provider: provider.to_string(),
                detail: format!("response body larger than {MAX_RESPONSE_BYTES} bytes"),
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_is_in_milliseconds_with_microsecond_precision() {
        let t = server_timing(Duration::from_micros(42), Duration::from_micros(1_234_567));
        assert_eq!(t, "gateway;dur=0.042, upstream;dur=1234.567");
        let t = server_timing(Duration::from_micros(7_000), Duration::from_nanos(999));
        assert_eq!(t, "gateway;dur=7.000, upstream;dur=0.000");
        let t = server_timing(Duration::from_micros(10_250), Duration::from_micros(100_105));
        assert_eq!(t, "gateway;dur=10.250, upstream;dur=100.105");
    }
}
