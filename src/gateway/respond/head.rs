//! The response head every answer from an upstream shares: the status, the upstream headers worth relaying
//! (passthrough only), `Server-Timing` (the gateway's share and the upstream's), the target that answered, and
//! — for streams — the event-stream headers, written here once.

use std::time::Duration;

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};

use crate::gateway::recorder::Recorder;
use crate::upstream::UpstreamReply;

// Named once: a `&str` name outside the standard set is parsed into a new `HeaderName` each time it is used.
const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");
const TARGET: HeaderName = HeaderName::from_static("x-gatehouse-target");
const ACCEL_BUFFERING: HeaderName = HeaderName::from_static("x-accel-buffering");

/// What the head of an answer carries besides the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// The upstream's body, relayed: its headers go too.
    Relayed,
    /// JSON the gateway wrote (converted): no upstream header but the timing ones.
    ConvertedJson,
    /// An event stream relayed byte for byte: the upstream's headers, and never buffered.
    RelayedStream,
    /// A stream the gateway writes (converted), of this content type.
    ConvertedStream(&'static str),
}

/// The head of an answer: status, headers by `body`, `Server-Timing` and the target.
pub fn response_head(
    reply: &UpstreamReply,
    status: StatusCode,
    recorder: &Recorder,
    body: Body,
) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    if matches!(body, Body::Relayed | Body::RelayedStream) {
        for (name, value) in reply.headers.iter() {
            response.append_header((name.clone(), value.clone()));
        }
    }
    match body {
        Body::Relayed => {}
        Body::ConvertedJson => {
            response.insert_header((header::CONTENT_TYPE, "application/json"));
        }
        Body::RelayedStream | Body::ConvertedStream(_) => {
            if let Body::ConvertedStream(content_type) = body {
                response.insert_header((header::CONTENT_TYPE, content_type));
            }
            response
                .insert_header((header::CACHE_CONTROL, "no-cache"))
                .insert_header((ACCEL_BUFFERING, HeaderValue::from_static("no")));
        }
    }
    let upstream = recorder.upstream_time();
    let gateway = recorder.elapsed().saturating_sub(upstream);
    response.insert_header((SERVER_TIMING, server_timing(gateway, upstream)));
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
