//! Answering an OpenAI client (`/v1/chat/completions`) with an Anthropic-format upstream's response: errors in
//! the OpenAI shape, a message as a `chat.completion`, a stream as `chat.completion.chunk`s.

use std::time::{SystemTime, UNIX_EPOCH};

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use bytes::{Bytes, BytesMut};

use super::openai_errors::fail_openai;
use super::recorder::Recorder;
use super::relay::{BodyTransform, Relay};
use super::response::{answer_converted, collect, response_head};
use crate::actors::forwarder::UpstreamReply;
use crate::convert::inbound::{anthropic_type, read_anthropic_error, to_chat_completion, ChatStreamConverter};
use crate::convert::Usage;
use crate::error::{status_for_error_type, GatewayError};

/// What the answer must look like.
#[derive(Debug, Clone)]
pub struct Shape<'a> {
    /// The model the client asked for (echoed in every object).
    pub requested_model: &'a str,
    pub streamed: bool,
    /// The client asked for a final usage chunk.
    pub include_usage: bool,
}

/// Builds the client's response. Records the request (now, or when the stream ends).
pub async fn respond(
    mut reply: UpstreamReply,
    shape: Shape<'_>,
    mut recorder: Recorder,
    provider: &str,
) -> HttpResponse {
    recorder.record.upstream_time = Some(reply.upstream_time);
    if !reply.status.is_success() {
        let error = match upstream_error(&mut reply, provider).await {
            Ok(error) | Err(error) => error,
        };
        return fail_openai(recorder, &error);
    }
    if shape.streamed {
        return stream(reply, shape, recorder).await;
    }
    match completion(&mut reply, shape.requested_model, provider).await {
        Ok((body, usage)) => answer_converted(&reply, body, usage, recorder),
        Err(error) => fail_openai(recorder, &error),
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The upstream's error (an Anthropic envelope, or whatever it sent) with its status and `retry-after`.
async fn upstream_error(reply: &mut UpstreamReply, provider: &str) -> Result<GatewayError, GatewayError> {
    let body = collect(&mut reply.body, provider).await?;
    let (error_type, message) = read_anthropic_error(reply.status.as_u16(), &body);
    let retry_after = reply.headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    Ok(GatewayError::Upstream { status: reply.status, error_type, message, retry_after })
}

async fn completion(
    reply: &mut UpstreamReply,
    requested_model: &str,
    provider: &str,
) -> Result<(Bytes, Usage), GatewayError> {
    let body = collect(&mut reply.body, provider).await?;
    let protocol = |detail: String| GatewayError::UpstreamProtocol { provider: provider.to_string(), detail };
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| protocol(format!("response is not JSON: {e}")))?;
    let (completion, usage) = to_chat_completion(&value, requested_model, unix_now()).map_err(|e| match e.path() {
        "error" => GatewayError::Upstream {
            status: status_for_error_type(e.error_type()),
            error_type: e.error_type(),
            message: e.message().to_string(),
            retry_after: None,
        },
        _ => protocol(e.to_string()),
    })?;
    let bytes =
        serde_json::to_vec(&completion).map_err(|e| GatewayError::Internal(format!("serialising response: {e}")))?;
    Ok((Bytes::from(bytes), usage))
}

/// A streamed answer. Converts upstream bytes until the first chunk for the client exists (the role chunk at
/// `message_start`) before committing to a 200, so a stream that fails at once — an `error` event first, a cut,
/// a body that is not SSE — becomes a real HTTP error; then relays the rest chunk by chunk.
async fn stream(mut reply: UpstreamReply, shape: Shape<'_>, recorder: Recorder) -> HttpResponse {
    let mut converter = ChatStreamConverter::new(shape.requested_model.to_string(), unix_now(), shape.include_usage);
    let mut out = BytesMut::new();
    while out.is_empty() && !converter.is_finished() {
        match reply.body.recv().await {
            Some(Ok(chunk)) => converter.push(&chunk, &mut out),
            Some(Err(error)) => return fail_openai(recorder, &error),
            None => converter.finish(&mut out),
        }
        if let Some((error_type, message)) = converter.failed_before_start() {
            let error_type = anthropic_type(error_type);
            let error = GatewayError::Upstream {
                status: status_for_error_type(error_type),
                error_type,
                message: message.to_string(),
                retry_after: None,
            };
            return fail_openai(recorder, &error);
        }
    }
    let mut response = response_head(&reply, StatusCode::OK, &recorder, false);
    response
        .insert_header((header::CONTENT_TYPE, "text/event-stream; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"));
    let transform = BodyTransform::ChatFromAnthropic(Box::new(converter), out);
    // The output converted while peeking is in the transform's buffer; an empty prefetched chunk flushes it first.
    response.streaming(Relay::new(reply.body, transform, recorder, 200, Some(Bytes::new())))
}
