//! Via Bedrock: an Anthropic-reading exchange (Messages passthrough, or Chat Completions converted to Messages)
//! carried to a `bedrock` provider. The request body becomes an InvokeModel body (`cloud::bodies`) POSTed to
//! `/model/{id}/invoke` or `/invoke-with-response-stream`; a JSON answer is read back by the inner exchange as
//! Anthropic's, an event stream is decoded frame by frame into Anthropic SSE for the inner exchange's own filter
//! (`respond/from_event_stream.rs`, with pings during silence), and Bedrock's HTTP errors become errors in the
//! client's dialect naming the provider.

use std::time::Duration;

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use bytes::Bytes;

use super::chat_via_anthropic::{self, ChatViaAnthropic};
use super::passthrough::Passthrough;
use super::wire_readers::AnthropicReader;
use super::{Attempt, Outbound, Prepared};
use crate::cloud::bedrock_errors::{anthropic_type, body_message, exception_name, is_credentials_error};
use crate::cloud::bodies::bedrock_body;
use crate::cloud::eventstream;
use crate::cloud::sigv4::encode_path_segment;
use crate::config::cloud::BedrockSettings;
use crate::config::{Auth, Provider};
use crate::error::{error_type_for_status, GatewayError};
use crate::gateway::respond::from_event_stream::FromEventStream;
use crate::gateway::respond::{Peek, ReadBack, StreamPlan, Whole};
use crate::upstream::headers::is_aws_event_stream;
use crate::upstream::{UpstreamReply, UpstreamRequest};

/// `inner` reading a bedrock provider's answer.
pub struct ViaBedrock<E> {
    inner: E,
    streamed: bool,
    provider: String,
    /// The client's own key is presented (`!PASSTHRU`), not the gateway's credentials.
    client_credentials: bool,
    ping_every: Duration,
}

/// The bedrock settings of `provider` (every bedrock provider has them once validated).
pub(super) fn settings(provider: &Provider) -> Result<&BedrockSettings, GatewayError> {
    provider
        .cloud
        .as_ref()
        .and_then(|c| c.bedrock())
        .ok_or_else(|| GatewayError::Internal(format!("provider '{}' has no bedrock settings", provider.name)))
}

/// `{base}/model/{id}/{action}`, the id encoded as boto3 encodes it.
pub(super) fn model_url(provider: &Provider, model: &str, action: &str) -> String {
    format!("{}/model/{}/{action}", provider.base_url, encode_path_segment(model))
}

/// The client's `anthropic-beta` header values, for the body's `anthropic_beta`.
pub(super) fn header_betas(headers: &HeaderMap) -> Vec<&str> {
    headers.get_all("anthropic-beta").filter_map(|v| v.to_str().ok()).collect()
}

/// The request for Bedrock: `body` (an InvokeModel body) to `url`, with the gateway's `accept`.
pub(super) fn upstream_request(
    attempt: &Attempt<'_>,
    url: String,
    body: Vec<u8>,
    accept: &'static str,
) -> UpstreamRequest {
    let Attempt { endpoint, request, target, client_headers } = *attempt;
    let mut upstream = UpstreamRequest::new(
        &target.provider,
        endpoint.call(),
        Bytes::new(),
        client_headers,
        request.client_key.clone(),
    )
    .redirected(url, Bytes::from(body));
    upstream.headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
    upstream
}

impl<E> ViaBedrock<E> {
    fn new(inner: E, streamed: bool, provider: &Provider, settings: &BedrockSettings) -> Self {
        Self {
            inner,
            streamed,
            provider: provider.name.clone(),
            client_credentials: provider.auth == Auth::Passthrough,
            ping_every: settings.ping_interval,
        }
    }
}

/// `/v1/messages` to a bedrock provider.
pub fn prepare_messages(
    attempt: &Attempt<'_>,
) -> Result<Prepared<ViaBedrock<Passthrough<AnthropicReader>>>, GatewayError> {
    let Attempt { request, target, client_headers, .. } = *attempt;
    let settings = settings(&target.provider)?;
    let body = bedrock_body(&request.body, &header_betas(client_headers)).map_err(GatewayError::InvalidRequest)?;
    let streamed = request.inspected.stream;
    let upstream = streamed_request(attempt, streamed, body);
    let exchange = ViaBedrock::new(Passthrough::new(streamed), streamed, &target.provider, settings);
    Ok(Prepared::upstream(exchange, upstream))
}

/// `/v1/chat/completions` to a bedrock provider: converted to Messages as for an Anthropic provider, then as
/// [`prepare_messages`].
pub fn prepare_chat(attempt: &Attempt<'_>) -> Result<Prepared<ViaBedrock<ChatViaAnthropic>>, GatewayError> {
    let Attempt { request, target, client_headers, .. } = *attempt;
    let settings = settings(&target.provider)?;
    let Prepared { exchange, outbound } = chat_via_anthropic::prepare(attempt)?;
    let Outbound::Upstream(converted) = outbound else {
        return Err(GatewayError::Internal("chat conversion answered locally".into()));
    };
    let body = bedrock_body(&converted.body.to_bytes(), &header_betas(client_headers))
        .map_err(GatewayError::InvalidRequest)?;
    let streamed = request.inspected.stream;
    let upstream = streamed_request(attempt, streamed, body);
    Ok(Prepared::upstream(ViaBedrock::new(exchange, streamed, &target.provider, settings), upstream))
}

fn streamed_request(attempt: &Attempt<'_>, streamed: bool, body: Vec<u8>) -> UpstreamRequest {
    let (action, accept) = match streamed {
        true => ("invoke-with-response-stream", eventstream::CONTENT_TYPE),
        false => ("invoke", "application/json"),
    };
    upstream_request(attempt, model_url(&attempt.target.provider, &attempt.target.model, action), body, accept)
}

/// Bedrock's error answer (`x-amzn-ErrorType`, `{"message": …}`) as an error in Anthropic terms, naming the
/// provider; refused credentials say whose they were.
pub(super) fn bedrock_failure(
    provider: &str,
    client_credentials: bool,
    reply: &UpstreamReply,
    body: &[u8],
) -> GatewayError {
    let header = reply.headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok());
    let name = exception_name(header, body);
    let detail =
        body_message(body).unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(500)]).into_owned());
    let status = reply.status;
    let shown = name.as_deref().unwrap_or("error");
    let retry_after = reply.headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let credentials =
        name.as_deref().is_some_and(is_credentials_error) || (name.is_none() && matches!(status.as_u16(), 401 | 403));
    if credentials && !client_credentials {
        let message = format!(
            "provider '{provider}' (bedrock) refused the gateway's credentials: {shown}: {detail} (check or renew \
             the credentials configured for provider '{provider}')"
        );
        let status = actix_web::http::StatusCode::FORBIDDEN;
        return GatewayError::Upstream { status, error_type: "permission_error", message, retry_after };
    }
    let error_type = match (credentials, &name) {
        (true, _) => "authentication_error",
        (false, Some(name)) => anthropic_type(name),
        (false, None) => error_type_for_status(status.as_u16()),
    };
    let message = match credentials {
        true => format!("provider '{provider}' (bedrock) refused the key you sent: {shown}: {detail}"),
        false => format!("provider '{provider}' (bedrock): {shown}: {detail}"),
    };
    GatewayError::Upstream { status, error_type, message, retry_after }
}

impl<E: ReadBack> ReadBack for ViaBedrock<E> {
    type Stream = FromEventStream<E::Stream>;

    fn streams(&self, reply: &UpstreamReply) -> bool {
        self.streamed && is_aws_event_stream(&reply.headers)
    }

    fn whole(&mut self, body: Bytes) -> Result<Whole, GatewayError> {
        self.inner.whole(body)
    }

    fn upstream_error(&mut self, reply: &UpstreamReply, body: Bytes) -> Result<Whole, GatewayError> {
        Err(bedrock_failure(&self.provider, self.client_credentials, reply, &body))
    }

    async fn ready_to_stream(&mut self) {
        self.inner.ready_to_stream().await
    }

    /// Frames are read until the first event for the client exists, so an exception first (throttling, …) is a
    /// real HTTP error; the stream is the gateway's own SSE (status 200) after that.
    fn into_stream(self) -> StreamPlan<Self::Stream> {
        let inner = self.inner.into_stream();
        let transform = FromEventStream::new(inner.transform, &self.provider, self.ping_every);
        StreamPlan { transform, peek: Peek::FirstOutput, relayed: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::UpstreamBody;
    use actix_web::http::StatusCode;

    fn reply(status: u16, error_type: Option<&str>) -> UpstreamReply {
        let mut headers = HeaderMap::new();
        if let Some(t) = error_type {
            headers.insert(header::HeaderName::from_static("x-amzn-errortype"), HeaderValue::from_str(t).unwrap());
        }
        UpstreamReply {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: UpstreamBody::whole(Bytes::new()),
            upstream_time: Duration::ZERO,
        }
    }

    #[test]
    fn errors_name_the_provider_and_keep_the_status() {
        let e = bedrock_failure(
            "br",
            false,
            &reply(429, Some("ThrottlingException:http://x/")),
            br#"{"message":"slow down"}"#,
        );
        assert_eq!(e.error_type(), "rate_limit_error");
        assert_eq!(e.to_string(), "provider 'br' (bedrock): ThrottlingException: slow down");
        let e = bedrock_failure("br", false, &reply(400, Some("ValidationException")), br#"{"message":"bad"}"#);
        assert_eq!(e.error_type(), "invalid_request_error");
    }

    #[test]
    fn refused_credentials_are_explained() {
        let body = br#"{"message":"The security token included in the request is expired"}"#;
        let e = bedrock_failure("br", false, &reply(403, Some("ExpiredTokenException")), body);
        assert_eq!(actix_web::ResponseError::status_code(&e), StatusCode::FORBIDDEN);
        assert_eq!(e.error_type(), "permission_error");
        assert!(e.to_string().contains("refused the gateway's credentials: ExpiredTokenException"), "{e}");
        let e = bedrock_failure("br", true, &reply(403, Some("UnrecognizedClientException")), body);
        assert_eq!(e.error_type(), "authentication_error");
        assert!(e.to_string().contains("refused the key you sent"), "{e}");
        let e = bedrock_failure(
            "br",
            false,
            &reply(403, Some("AccessDeniedException")),
            br#"{"message":"no access to model"}"#,
        );
        assert_eq!(e.error_type(), "permission_error");
        assert!(e.to_string().ends_with("AccessDeniedException: no access to model"), "{e}");
    }
}
