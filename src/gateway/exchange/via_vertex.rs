//! Via Vertex: an Anthropic-reading exchange (Messages or count_tokens passthrough, or Chat Completions converted
//! to Messages) carried to a `vertex` provider. The body loses `model` (count-tokens keeps it) and gains Vertex's
//! `anthropic_version`; it goes to `…/publishers/anthropic/models/{model}:rawPredict` or `:streamRawPredict`.
//! Vertex answers in Anthropic's own shapes, so the answer goes through the inner exchange unchanged (SSE byte
//! for byte for Messages); only Google's own errors (`{"error":{"code","message","status"}}`: auth, quota) are
//! put into Anthropic terms.

use bytes::Bytes;

use super::chat_via_anthropic::{self, ChatViaAnthropic};
use super::passthrough::Passthrough;
use super::wire_readers::AnthropicReader;
use super::{Attempt, Outbound, Prepared};
use crate::cloud::bodies::vertex_body;
use crate::config::cloud::VertexSettings;
use crate::config::{Auth, Provider};
use crate::error::{error_type_for_status, GatewayError};
use crate::gateway::respond::{ReadBack, StreamPlan, Whole};
use crate::upstream::{UpstreamReply, UpstreamRequest};

/// `inner` reading a vertex provider's answer.
pub struct ViaVertex<E> {
    inner: E,
    provider: String,
    client_credentials: bool,
}

pub(super) fn settings(provider: &Provider) -> Result<&VertexSettings, GatewayError> {
    provider
        .cloud
        .as_ref()
        .and_then(|c| c.vertex())
        .ok_or_else(|| GatewayError::Internal(format!("provider '{}' has no vertex settings", provider.name)))
}

/// `{base}/projects/{project}/locations/{region}/publishers/anthropic/models/{model}:{method}`.
pub(super) fn model_url(provider: &Provider, settings: &VertexSettings, model: &str, method: &str) -> String {
    format!(
        "{}/projects/{}/locations/{}/publishers/anthropic/models/{}:{method}",
        provider.base_url,
        settings.project,
        settings.region,
        encode_model(model)
    )
}

/// A model in a path segment: unreserved characters and `@` (`claude-sonnet-4-5@20250929`) as they are, the
/// rest percent-encoded.
fn encode_model(model: &str) -> String {
    model.split('@').map(crate::cloud::sigv4::encode_path_segment).collect::<Vec<_>>().join("@")
}

fn wrap<E>(inner: E, provider: &Provider) -> ViaVertex<E> {
    ViaVertex { inner, provider: provider.name.clone(), client_credentials: provider.auth == Auth::Passthrough }
}

fn upstream_request(attempt: &Attempt<'_>, url: String, body: Vec<u8>) -> UpstreamRequest {
    let Attempt { endpoint, request, target, client_headers } = *attempt;
    UpstreamRequest::new(&target.provider, endpoint.call(), Bytes::new(), client_headers, request.client_key.clone())
        .redirected(url, Bytes::from(body))
}

/// `/v1/messages` to a vertex provider.
pub fn prepare_messages(
    attempt: &Attempt<'_>,
) -> Result<Prepared<ViaVertex<Passthrough<AnthropicReader>>>, GatewayError> {
    let Attempt { request, target, .. } = *attempt;
    let settings = settings(&target.provider)?;
    let body = vertex_body(&request.body, None).map_err(GatewayError::InvalidRequest)?;
    let streamed = request.inspected.stream;
    let method = if streamed { "streamRawPredict" } else { "rawPredict" };
    let url = model_url(&target.provider, settings, &target.model, method);
    Ok(Prepared::upstream(wrap(Passthrough::new(streamed), &target.provider), upstream_request(attempt, url, body)))
}

/// `/v1/messages/count_tokens` to a vertex provider: `count-tokens:rawPredict`, the model in the body.
pub fn prepare_count_tokens(
    attempt: &Attempt<'_>,
) -> Result<Prepared<ViaVertex<Passthrough<AnthropicReader>>>, GatewayError> {
    let Attempt { request, target, .. } = *attempt;
    let settings = settings(&target.provider)?;
    let body = vertex_body(&request.body, Some(&target.model)).map_err(GatewayError::InvalidRequest)?;
    let url = model_url(&target.provider, settings, "count-tokens", "rawPredict");
    Ok(Prepared::upstream(wrap(Passthrough::new(false), &target.provider), upstream_request(attempt, url, body)))
}

/// `/v1/chat/completions` to a vertex provider: converted to Messages as for an Anthropic provider, then as
/// [`prepare_messages`].
pub fn prepare_chat(attempt: &Attempt<'_>) -> Result<Prepared<ViaVertex<ChatViaAnthropic>>, GatewayError> {
    let Attempt { request, target, .. } = *attempt;
    let settings = settings(&target.provider)?;
    let Prepared { exchange, outbound } = chat_via_anthropic::prepare(attempt)?;
    let Outbound::Upstream(converted) = outbound else {
        return Err(GatewayError::Internal("chat conversion answered locally".into()));
    };
    let body = vertex_body(&converted.body.to_bytes(), None).map_err(GatewayError::InvalidRequest)?;
    let method = if request.inspected.stream { "streamRawPredict" } else { "rawPredict" };
    let url = model_url(&target.provider, settings, &target.model, method);
    Ok(Prepared::upstream(wrap(exchange, &target.provider), request_with(converted, url, body)))
}

fn request_with(converted: UpstreamRequest, url: String, body: Vec<u8>) -> UpstreamRequest {
    converted.redirected(url, Bytes::from(body))
}

/// Whether `body` is an Anthropic error envelope (`{"type":"error",…}`), which the inner exchange reads.
fn is_anthropic_error(body: &[u8]) -> bool {
    crate::json::member::top_level_member(body, b"type").is_some_and(|t| t.trim_ascii_start().starts_with(b"\"error\""))
}

/// Google's error answer (`{"error":{"code","message","status"}}`, possibly inside a one-element array) in
/// Anthropic terms, naming the provider.
fn google_failure(provider: &str, client_credentials: bool, reply: &UpstreamReply, body: &[u8]) -> GatewayError {
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let error = value.as_ref().map(|v| v.get(0).unwrap_or(v)).and_then(|v| v.get("error"));
    let field = |name: &str| error.and_then(|e| e.get(name)).and_then(serde_json::Value::as_str);
    let detail = field("message")
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned());
    let status_name = field("status").unwrap_or("error");
    let status = reply.status;
    let retry_after =
        reply.headers.get(actix_web::http::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (error_type, message) = match (status.as_u16(), client_credentials) {
        (401 | 403, false) => (
            "permission_error",
            format!(
                "provider '{provider}' (vertex) refused the gateway's Google credentials: {status_name}: {detail} \
                 (check the token source configured for provider '{provider}' and its access to the project)"
            ),
        ),
        (code, _) => (error_type_for_status(code), format!("provider '{provider}' (vertex): {status_name}: {detail}")),
    };
    let status = if error_type == "permission_error" { actix_web::http::StatusCode::FORBIDDEN } else { status };
    GatewayError::Upstream { status, error_type, message, retry_after }
}

impl<E: ReadBack> ReadBack for ViaVertex<E> {
    type Stream = E::Stream;

    fn streams(&self, reply: &UpstreamReply) -> bool {
        self.inner.streams(reply)
    }

    fn whole(&mut self, body: Bytes) -> Result<Whole, GatewayError> {
        self.inner.whole(body)
    }

    fn upstream_error(&mut self, reply: &UpstreamReply, body: Bytes) -> Result<Whole, GatewayError> {
        if is_anthropic_error(&body) {
            return self.inner.upstream_error(reply, body);
        }
        Err(google_failure(&self.provider, self.client_credentials, reply, &body))
    }

    async fn ready_to_stream(&mut self) {
        self.inner.ready_to_stream().await
    }

    fn into_stream(self) -> StreamPlan<Self::Stream> {
        self.inner.into_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::UpstreamBody;
    use actix_web::http::header::HeaderMap;
    use actix_web::http::StatusCode;

    fn reply(status: u16) -> UpstreamReply {
        UpstreamReply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: UpstreamBody::whole(Bytes::new()),
            upstream_time: Default::default(),
        }
    }

    #[test]
    fn models_keep_their_at_sign() {
        assert_eq!(encode_model("claude-sonnet-4-5@20250929"), "claude-sonnet-4-5@20250929");
        assert_eq!(encode_model("a:b/c"), "a%3Ab%2Fc");
    }

    #[test]
    fn google_errors_become_anthropic_errors() {
        let body = br#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}"#;
        let e = google_failure("vx", false, &reply(429), body);
        assert_eq!(e.error_type(), "rate_limit_error");
        assert_eq!(e.to_string(), "provider 'vx' (vertex): RESOURCE_EXHAUSTED: Quota exceeded");
        let body = br#"[{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}]"#;
        let e = google_failure("vx", false, &reply(401), body);
        assert_eq!(e.error_type(), "permission_error");
        assert!(e.to_string().contains("refused the gateway's Google credentials: UNAUTHENTICATED"), "{e}");
        assert!(is_anthropic_error(br#"{"type":"error","error":{"type":"overloaded_error","message":"x"}}"#));
        assert!(!is_anthropic_error(body));
    }
}
