//! Requests to OpenAI-format providers: the Anthropic body is converted to Chat Completions before forwarding,
//! and the answer — JSON, stream or error — is converted back to Anthropic's shapes. The provider's hook chain
//! (`crate::hooks`) sees the converted request and the answer on the way.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use bytes::{Bytes, BytesMut};

use super::recorder::Recorder;
use super::relay::{BodyTransform, Relay};
use super::response::{answer_converted, collect, response_head};
use crate::actors::forwarder::UpstreamReply;
use crate::config::Provider;
use crate::convert::{
    generate_message_id, openai_error_to_anthropic, parse_request, to_anthropic, to_openai, Completion,
    StreamConverter, ToolNames,
};
use crate::error::{status_for_error_type, GatewayError};
use crate::hooks::HookChain;

/// The converted request body and what is needed to read the answer.
pub struct Converted {
    pub body: Bytes,
    pub names: ToolNames,
    /// The provider's middleware for this request; it has seen the request and must see the answer.
    pub hooks: HookChain,
}

/// Converts a client's Anthropic request body for `provider`; a body the converter cannot read is the client's
/// mistake (400 naming the field).
pub fn convert_request(body: &[u8], upstream_model: &str, provider: &Provider) -> Result<Converted, GatewayError> {
    let client_error = |e: crate::convert::ConvertError| match e.error_type() {
        "invalid_request_error" => GatewayError::InvalidRequest(e.to_string()),
        _ => GatewayError::Internal(e.to_string()),
    };
    let tree = parse_request(body).map_err(client_error)?;
    let (mut openai, names) = to_openai(&tree, upstream_model, &provider.options).map_err(client_error)?;
    let mut hooks = HookChain::for_provider(provider);
    hooks.on_request(&mut openai);
    let body = serde_json::to_vec(&openai).map_err(|e| GatewayError::Internal(format!("serialising request: {e}")))?;
    Ok(Converted { body: Bytes::from(body), names, hooks })
}

/// Builds the client's response from an OpenAI-format upstream's reply. Records the request.
pub async fn respond(
    mut reply: UpstreamReply,
    streamed: bool,
    requested_model: &str,
    (names, mut hooks): (ToolNames, HookChain),
    mut recorder: Recorder,
    provider: &str,
) -> HttpResponse {
    recorder.record.upstream_time = Some(reply.upstream_time);
    let result = if !reply.status.is_success() {
        upstream_error(&mut reply, provider).await
    } else if streamed {
        return stream(reply, requested_model, (names, hooks), recorder, provider).await;
    } else {
        message(&mut reply, requested_model, &names, &mut hooks, provider).await
    };
    match result {
        Ok((body, usage)) => answer_converted(&reply, body, usage, recorder),
        Err(error) => recorder.fail(&error),
    }
}

/// A non-streaming answer, converted.
async fn message(
    reply: &mut UpstreamReply,
    requested_model: &str,
    names: &ToolNames,
    hooks: &mut HookChain,
    provider: &str,
) -> Result<(Bytes, crate::convert::Usage), GatewayError> {
    let body = collect(&mut reply.body, provider).await?;
    // A 200 that carried an error object keeps its type; any other unusable answer is a protocol error.
    let answer_error = |e: crate::convert::ConvertError| match e.error_type() {
        "api_error" if e.path() != "error" => {
            GatewayError::UpstreamProtocol { provider: provider.to_string(), detail: e.to_string() }
        }
        error_type => GatewayError::Upstream {
            status: status_for_error_type(error_type),
            error_type,
            message: e.message().to_string(),
            retry_after: None,
        },
    };
    let completion = Completion::parse(&body).map_err(answer_error)?;
    hooks.on_response(&completion);
    let (bytes, usage) = to_anthropic(&completion, requested_model, names).map_err(answer_error)?;
    Ok((Bytes::from(bytes), usage))
}

/// An upstream error status: its body becomes the Anthropic envelope; status and `retry-after` are kept.
async fn upstream_error(
    reply: &mut UpstreamReply,
    provider: &str,
) -> Result<(Bytes, crate::convert::Usage), GatewayError> {
    let body = collect(&mut reply.body, provider).await?;
    let status = reply.status.as_u16();
    let (error_type, message) = openai_error_to_anthropic(status, &body);
    let retry_after = reply.headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    Err(GatewayError::Upstream { status: reply.status, error_type, message, retry_after })
}

/// A streamed answer. Waits for the first upstream chunk before committing to a 200, so a stream that dies
/// at once becomes a real HTTP error; then converts chunk by chunk.
async fn stream(
    mut reply: UpstreamReply,
    requested_model: &str,
    (names, hooks): (ToolNames, HookChain),
    recorder: Recorder,
    provider: &str,
) -> HttpResponse {
    let first = match reply.body.recv().await {
        Some(Ok(chunk)) => chunk,
        Some(Err(error)) => return recorder.fail(&error),
        None => {
            let detail = "the stream ended before its first event".to_string();
            return recorder.fail(&GatewayError::UpstreamProtocol { provider: provider.to_string(), detail });
        }
    };
    let mut response = response_head(&reply, StatusCode::OK, &recorder, false);
    response
        .insert_header((header::CONTENT_TYPE, "text/event-stream; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"));
    let converter = StreamConverter::new(requested_model.to_string(), generate_message_id(), names).with_hooks(hooks);
    let transform = BodyTransform::OpenAiSse(Box::new(converter), BytesMut::new());
    response.streaming(Relay::new(reply.body, transform, recorder, 200, Some(first)))
}
