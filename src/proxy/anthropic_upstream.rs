//! Answering with an Anthropic-format upstream's response: a successful event stream is relayed byte for byte;
//! anything else is read whole and returned with its status and body (upstream errors keep both).

use actix_web::http::header;
use actix_web::HttpResponse;

use super::recorder::Recorder;
use super::relay::{BodyTransform, Relay};
use super::response::{collect, is_event_stream, relay_whole, response_head};
use super::sse_passthrough::{usage_of_message, SsePassthrough};
use crate::actors::forwarder::UpstreamReply;

/// Builds the client's response. Records the request (now, or when the stream ends).
pub async fn respond(mut reply: UpstreamReply, streamed: bool, mut recorder: Recorder, provider: &str) -> HttpResponse {
    recorder.record.upstream_time = Some(reply.upstream_time);
    if streamed && reply.status.is_success() && is_event_stream(&reply) {
        let mut response = response_head(&reply, reply.status, &recorder, true);
        response.insert_header((header::CACHE_CONTROL, "no-cache")).insert_header(("x-accel-buffering", "no"));
        let status = reply.status.as_u16();
        let relay =
            Relay::new(reply.body, BodyTransform::AnthropicSse(SsePassthrough::default()), recorder, status, None);
        return response.streaming(relay);
    }
    let body = match collect(&mut reply.body, provider).await {
        Ok(body) => body,
        Err(error) => return recorder.fail(&error),
    };
    relay_whole(&reply, body, recorder, usage_of_message)
}
