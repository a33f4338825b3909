//! The gateway's one error type and its rendering: the Anthropic error envelope on HTTP responses and as an SSE
//! `event: error` frame once a stream has begun.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use bytes::{BufMut, Bytes, BytesMut};
use derive_more::Display;

/// Everything that can go wrong between a client request and its answer.
///
/// `status_code` and `error_type` match exhaustively, so a new variant forces a decision about how it looks on
/// the wire.
#[derive(Debug, Display)]
pub enum GatewayError {
    /// The client's request is malformed; the message says what to fix.
    #[display("{_0}")]
    InvalidRequest(String),
    /// Missing or wrong credentials.
    #[display("{_0}")]
    Authentication(String),
    /// No route here, or the named thing does not exist.
    #[display("{_0}")]
    NotFound(String),
    /// The request contradicts the current state (removing the default provider).
    #[display("{_0}")]
    Conflict(String),
    /// Something the request needs is down (the shared configuration store); the same request can succeed later.
    #[display("{_0}")]
    Unavailable(String),
    /// The request body exceeds the configured limit.
    #[display("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// The model names a provider that is not configured.
    #[display("unknown provider '{name}' in model '{model}'; configured providers: {configured}")]
    UnknownProvider { name: String, model: String, configured: String },
    /// The upstream could not be reached (DNS, connect, TLS, reset before the response head).
    #[display("upstream of provider '{provider}' is unreachable: {detail}")]
    UpstreamUnreachable { provider: String, detail: String },
    /// The upstream did not answer within the timeout.
    #[display("upstream of provider '{provider}' did not answer within {secs} s")]
    UpstreamTimeout { provider: String, secs: u64 },
    /// The upstream answered something we cannot relay (broken body, bad JSON where JSON was needed).
    #[display("upstream of provider '{provider}' sent an invalid response: {detail}")]
    UpstreamProtocol { provider: String, detail: String },
    /// Every static key of the provider was refused (401, 403 or 429) for this request.
    #[display("all API keys of provider '{provider}' exhausted (last upstream status {last_status})")]
    KeysExhausted { provider: String, last_status: u16 },
    /// The provider's circuit breaker is open: it failed repeatedly and is given time to recover.
    #[display("provider '{provider}' is temporarily unavailable after repeated failures; retry in {retry_in_secs} s")]
    ProviderUnavailable { provider: String, retry_in_secs: u64 },
    /// An upstream error already translated into Anthropic terms (OpenAI-format upstreams).
    #[display("{message}")]
    Upstream { status: StatusCode, error_type: &'static str, message: String, retry_after: Option<String> },
    /// The client hung up before its answer began; nothing more is sent (the status is only for logs and metrics).
    #[display("the client closed the connection before the response began")]
    ClientClosed,
    /// A bug or resource failure inside the gateway.
    #[display("internal gateway error: {_0}")]
    Internal(String),
}

impl GatewayError {
    /// The Anthropic `error.type` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) | Self::UnknownProvider { .. } | Self::Conflict(_) => "invalid_request_error",
            Self::Authentication(_) => "authentication_error",
            Self::NotFound(_) => "not_found_error",
            Self::PayloadTooLarge { .. } => "request_too_large",
            Self::UpstreamUnreachable { .. } | Self::UpstreamProtocol { .. } | Self::Internal(_) => "api_error",
            Self::ClientClosed => "invalid_request_error",
            Self::Unavailable(_) => "api_error",
            Self::UpstreamTimeout { .. } => "timeout_error",
            Self::KeysExhausted { .. } => "rate_limit_error",
            Self::ProviderUnavailable { .. } => "overloaded_error",
            Self::Upstream { error_type, .. } => error_type,
        }
    }

    /// A short, low-cardinality label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::Authentication(_) => "authentication",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Unavailable(_) => "unavailable",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnknownProvider { .. } => "unknown_provider",
            Self::UpstreamUnreachable { .. } => "upstream_unreachable",
            Self::UpstreamTimeout { .. } => "upstream_timeout",
            Self::UpstreamProtocol { .. } => "upstream_protocol",
            Self::KeysExhausted { .. } => "keys_exhausted",
            Self::ProviderUnavailable { .. } => "circuit_open",
            Self::Upstream { .. } => "upstream_status",
            Self::Internal(_) => "internal",
            Self::ClientClosed => "client_disconnected",
        }
    }

    /// Whether the error says the provider is failing (counted by its circuit breaker and worth a fallback).
    pub fn is_provider_failure(&self) -> bool {
        match self {
            Self::UpstreamUnreachable { .. } | Self::UpstreamTimeout { .. } | Self::UpstreamProtocol { .. } => true,
            Self::ProviderUnavailable { .. } | Self::KeysExhausted { .. } => true,
            Self::Upstream { status, .. } => crate::upstream::retry::is_retriable_status(status.as_u16()),
            Self::InvalidRequest(_)
            | Self::Authentication(_)
            | Self::NotFound(_)
            | Self::Conflict(_)
            | Self::Unavailable(_)
            | Self::PayloadTooLarge { .. }
            | Self::UnknownProvider { .. }
            | Self::ClientClosed
            | Self::Internal(_) => false,
        }
    }

    /// The envelope `{"type":"error","error":{"type":…,"message":…}}` as JSON bytes.
    pub fn envelope(&self) -> Bytes {
        envelope(self.error_type(), &self.to_string())
    }

    /// The envelope as one SSE `event: error` frame, for failures after a stream has begun.
    pub fn sse_frame(&self) -> Bytes {
        sse_error_frame(self.error_type(), &self.to_string())
    }
}

/// The HTTP status that goes with an Anthropic `error.type` (wire-formats §3); unknown types are upstream
/// failures (502).
pub fn status_for_error_type(error_type: &str) -> StatusCode {
    match error_type {
        "invalid_request_error" => StatusCode::BAD_REQUEST,
        "authentication_error" => StatusCode::UNAUTHORIZED,
        "billing_error" => StatusCode::PAYMENT_REQUIRED,
        "permission_error" => StatusCode::FORBIDDEN,
        "not_found_error" => StatusCode::NOT_FOUND,
        "request_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "rate_limit_error" => StatusCode::TOO_MANY_REQUESTS,
        "timeout_error" => StatusCode::GATEWAY_TIMEOUT,
        "overloaded_error" => StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        _ => StatusCode::BAD_GATEWAY,
    }
}

/// The Anthropic error envelope for a type and message.
pub fn envelope(error_type: &str, message: &str) -> Bytes {
    #[derive(serde::Serialize)]
    struct Envelope<'a> {
        r#type: &'static str,
        error: Detail<'a>,
    }
    #[derive(serde::Serialize)]
    struct Detail<'a> {
        r#type: &'a str,
        message: &'a str,
    }
    let envelope = Envelope { r#type: "error", error: Detail { r#type: error_type, message } };
    // Serialising two borrowed strings cannot fail.
    Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default())
}

/// One SSE `event: error` frame carrying the envelope. Clients dispatch on the `event:` line, so it must be there.
pub fn sse_error_frame(error_type: &str, message: &str) -> Bytes {
    let json = envelope(error_type, message);
    let mut out = BytesMut::with_capacity(json.len() + 24);
    out.put_slice(b"event: error\ndata: ");
    out.put_slice(&json);
    out.put_slice(b"\n\n");
    out.freeze()
}

impl ResponseError for GatewayError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) | Self::UnknownProvider { .. } => StatusCode::BAD_REQUEST,
            Self::Authentication(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UpstreamUnreachable { .. } | Self::UpstreamProtocol { .. } => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Self::KeysExhausted { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::ProviderUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Upstream { status, .. } => *status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            // nginx's "client closed request": never seen by the client, useful in logs and metrics.
            Self::ClientClosed => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/json"));
        match self {
            Self::Upstream { retry_after: Some(value), .. } => {
                response.insert_header((header::RETRY_AFTER, value.as_str()));
            }
            Self::ProviderUnavailable { retry_in_secs, .. } => {
                response.insert_header((header::RETRY_AFTER, retry_in_secs.to_string()));
            }
            _ => {}
        }
        response.body(self.envelope())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_anthropic_shape() {
        let err = GatewayError::InvalidRequest("messages: must be a non-empty array".into());
        let value: serde_json::Value = serde_json::from_slice(&err.envelope()).unwrap();
        assert_eq!(value["type"], "error");
        assert_eq!(value["error"]["type"], "invalid_request_error");
        assert_eq!(value["error"]["message"], "messages: must be a non-empty array");
        assert_eq!(err.status_code(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn sse_frame_is_a_named_event() {
        let err = GatewayError::UpstreamTimeout { provider: "p".into(), secs: 3 };
        let frame = err.sse_frame();
        let text = std::str::from_utf8(&frame).unwrap();
        assert!(text.starts_with("event: error\ndata: {"));
        assert!(text.ends_with("}\n\n"));
        assert!(text.contains("\"timeout_error\""));
    }

    #[test]
    fn statuses_follow_the_anthropic_table() {
        let unreachable = GatewayError::UpstreamUnreachable { provider: "p".into(), detail: "refused".into() };
        assert_eq!(unreachable.status_code(), StatusCode::BAD_GATEWAY);
        assert_eq!(unreachable.error_type(), "api_error");
        let too_large = GatewayError::PayloadTooLarge { limit: 10 };
        assert_eq!(too_large.status_code(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(too_large.error_type(), "request_too_large");
    }
}
