//! Answering the client with the upstream's reply, the same way for every exchange: the exchange says how its
//! answer is read back ([`ReadBack`]: relayed or converted, whole or streamed); this module does the rest —
//! reading a whole body, peeking at a stream before committing to a 200, the response head, the streamed body —
//! and records the request (now, or when the stream ends).

pub mod converting;
pub mod event_frames;
pub mod frame_relay;
pub mod from_event_stream;
pub mod head;
pub mod relay;
pub mod sse_relay;

use std::time::Instant;

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use bytes::Bytes;

use crate::convert::Usage;
use crate::error::GatewayError;
use crate::gateway::recorder::Recorder;
use crate::upstream::UpstreamReply;
use head::{response_head, Body};
use relay::{Relay, StreamTransform};

/// How an exchange reads the upstream's answer back for its client: pingora's response filter and body filter.
pub trait ReadBack {
    /// The per-chunk filter of a streamed answer.
    type Stream: StreamTransform;

    /// Whether a successful answer goes to the client as a stream (otherwise it is read whole).
    fn streams(&self, reply: &UpstreamReply) -> bool;

    /// A successful answer read whole: the body for the client and its usage.
    fn whole(&mut self, body: Bytes) -> Result<Whole, GatewayError>;

    /// An upstream error status with its body: relayed as it is, or an error in the client's dialect.
    fn upstream_error(&mut self, reply: &UpstreamReply, body: Bytes) -> Result<Whole, GatewayError>;

    /// Waits for anything the stream filter needs that was being worked out while the upstream answered. (The
    /// answer stays on its worker thread, so the future needs no `Send` bound.)
    #[allow(async_fn_in_trait)]
    async fn ready_to_stream(&mut self) {}

    /// The stream filter, and how the stream goes out.
    fn into_stream(self) -> StreamPlan<Self::Stream>;
}

/// How a streamed answer goes out.
pub struct StreamPlan<T> {
    pub transform: T,
    /// How much of the stream to read before the 200 is committed.
    pub peek: Peek,
    /// Relayed byte for byte with the upstream's status and headers; otherwise the gateway writes the stream.
    pub relayed: bool,
}

/// A whole answer for the client.
pub struct Whole {
    pub body: Bytes,
    pub usage: Usage,
    /// Relayed with the upstream's status and headers; otherwise JSON the gateway wrote, with status 200.
    pub relayed: bool,
}

impl Whole {
    /// The upstream's body as it is.
    pub fn relayed(body: Bytes, usage: Usage) -> Self {
        Self { body, usage, relayed: true }
    }

    /// A body the gateway converted.
    pub fn converted(body: Bytes, usage: Usage) -> Self {
        Self { body, usage, relayed: false }
    }
}

/// An upstream's error status read into Anthropic terms: keeps the status and the upstream's `retry-after`.
pub fn upstream_failure(reply: &UpstreamReply, (error_type, message): (&'static str, String)) -> GatewayError {
    let retry_after = reply.headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    GatewayError::Upstream { status: reply.status, error_type, message, retry_after }
}

/// How far into a stream to read before committing to a 200, so that a stream that fails at once becomes a real
/// HTTP error rather than a 200 with an error event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peek {
    /// Nothing: the head goes out at once (byte-exact relays).
    Nothing,
    /// The first upstream chunk; a stream that ends before it is an upstream protocol error.
    FirstChunk,
    /// Until the filter has output or the stream is over; the filter may report a failure before its first output.
    FirstOutput,
}

/// Answers the client with `reply`, read back by `exchange`. Records the request.
pub async fn answer<E: ReadBack>(mut exchange: E, mut reply: UpstreamReply, recorder: Recorder) -> HttpResponse {
    if reply.status.is_success() && exchange.streams(&reply) {
        return stream(exchange, reply, recorder).await;
    }
    let body = match reply.body.collect(&recorder.record.provider).await {
        Ok(body) => body,
        Err(error) => return recorder.fail(&error),
    };
    let whole = match reply.status.is_success() {
        true => exchange.whole(body),
        false => exchange.upstream_error(&reply, body),
    };
    match whole {
        Ok(whole) => whole_answer(&reply, whole, recorder),
        Err(error) => recorder.fail(&error),
    }
}

fn whole_answer(reply: &UpstreamReply, whole: Whole, recorder: Recorder) -> HttpResponse {
    let (status, body) = match whole.relayed {
        true => (reply.status, Body::Relayed),
        false => (StatusCode::OK, Body::ConvertedJson),
    };
    let response = response_head(reply, status, &recorder, body).body(whole.body);
    let ttfb = Some(recorder.elapsed());
    let error_kind = (!status.is_success()).then_some("upstream_status");
    recorder.finish(status.as_u16(), error_kind, whole.usage, ttfb);
    response
}

/// A streamed answer: peek as the exchange asks (time waiting here is the upstream's), then the head and the
/// relayed body.
async fn stream<E: ReadBack>(mut exchange: E, mut reply: UpstreamReply, mut recorder: Recorder) -> HttpResponse {
    exchange.ready_to_stream().await;
    let StreamPlan { mut transform, peek, relayed } = exchange.into_stream();
    let waiting = Instant::now();
    let mut first = None;
    let mut ended = false;
    match peek {
        Peek::Nothing => {}
        Peek::FirstChunk => match reply.body.recv().await {
            Some(Ok(chunk)) => first = transform.on_chunk(chunk),
            Some(Err(error)) => return recorder.fail(&error),
            None => {
                let provider = recorder.record.provider.to_string();
                let detail = "the stream ended before its first event".to_string();
                return recorder.fail(&GatewayError::UpstreamProtocol { provider, detail });
            }
        },
        Peek::FirstOutput => {
            while first.is_none() && !transform.is_finished() {
                match reply.body.recv().await {
                    Some(Ok(chunk)) => first = transform.on_chunk(chunk),
                    Some(Err(error)) => return recorder.fail(&error),
                    None => {
                        first = transform.on_end();
                        ended = true;
                    }
                }
                if let Some(error) = transform.failed_before_start() {
                    return recorder.fail(&error);
                }
            }
        }
    }
    recorder.add_upstream_time(waiting.elapsed());
    let (status, body) = match relayed {
        true => (reply.status, Body::RelayedStream),
        false => (StatusCode::OK, Body::ConvertedStream(transform.content_type())),
    };
    let mut response = response_head(&reply, status, &recorder, body);
    response.streaming(Relay::new(reply.body, transform, recorder, status.as_u16(), first, ended))
}
