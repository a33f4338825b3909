//! The gateway's one error type: every failure between a client request and its answer, with the decisions that
//! go with it (Anthropic error type, HTTP status, metric label, whether the provider is failing). How an error
//! looks on the wire, in each client dialect, is decided in [`render`] and nowhere else.

pub mod render;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use derive_more::Display;

pub use render::Dialect;

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
    /// The caller may not do this (a virtual key asking for a model outside its list, or one without a price).
    #[display("{_0}")]
    Forbidden(String),
    /// A virtual key's (or its team's) rate limit is reached; the same request can succeed after `retry_after`
    /// (`None`: never — the request alone is larger than the limit).
    #[display("{message}")]
    RateLimited { message: String, retry_after_secs: Option<u64> },
    /// A virtual key's (or its team's) budget is spent for the period; retrying before it renews is pointless.
    #[display("{message}")]
    BudgetExhausted { message: String, retry_after_secs: Option<u64> },
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
    /// The request body is in a form the gateway does not accept (a `Content-Encoding` on a body it must read).
    #[display("{_0}")]
    UnsupportedMediaType(String),
    /// The request carries an `Expect` expectation other than `100-continue`, which the gateway cannot meet.
    #[display("{_0}")]
    ExpectationFailed(String),
    /// The client stopped sending its request body (or sent it too slowly) within the configured deadlines.
    #[display("{_0}")]
    BodyTimeout(String),
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
    /// An upstream error already translated into Anthropic terms (converted exchanges).
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
    /// An upstream error known by its Anthropic type and message: the status follows from the type.
    pub fn upstream(error_type: &'static str, message: String, retry_after: Option<String>) -> Self {
        Self::Upstream { status: status_for_error_type(error_type), error_type, message, retry_after }
    }

    /// The Anthropic `error.type` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) | Self::UnknownProvider { .. } | Self::Conflict(_) => "invalid_request_error",
            Self::UnsupportedMediaType(_) | Self::ExpectationFailed(_) => "invalid_request_error",
            Self::BodyTimeout(_) => "timeout_error",
            Self::Authentication(_) => "authentication_error",
            Self::Forbidden(_) => "permission_error",
            Self::RateLimited { .. } => "rate_limit_error",
            Self::BudgetExhausted { .. } => "billing_error",
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
            Self::Forbidden(_) => "forbidden",
            Self::RateLimited { .. } => "rate_limited",
            Self::BudgetExhausted { .. } => "budget_exhausted",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Unavailable(_) => "unavailable",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::ExpectationFailed(_) => "expectation_failed",
            Self::BodyTimeout(_) => "body_timeout",
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

    /// The `retry-after` value a client should see with this error, if any.
    pub fn retry_after(&self) -> Option<String> {
        match self {
            Self::Upstream { retry_after, .. } => retry_after.clone(),
            Self::ProviderUnavailable { retry_in_secs, .. } => Some(retry_in_secs.to_string()),
            Self::RateLimited { retry_after_secs, .. } | Self::BudgetExhausted { retry_after_secs, .. } => {
                retry_after_secs.map(|s| s.to_string())
            }
            _ => None,
        }
    }

    /// Whether a client should retry at all (`x-should-retry`), when the gateway knows better than the status
    /// says: a spent budget (or a request larger than a limit) gets the same answer however often it is sent, so
    /// clients should stop at once.
    pub fn should_retry(&self) -> Option<bool> {
        let never = matches!(self, Self::BudgetExhausted { .. } | Self::RateLimited { retry_after_secs: None, .. });
        never.then_some(false)
    }

    /// The provider itself is in trouble — unreachable, silent, or answering garbage. This is what a provider's
    /// circuit breaker counts (with 5xx answers, [`is_outage_status`]); rate limits and the client's own mistakes
    /// are not outages.
    pub fn is_outage(&self) -> bool {
        matches!(self, Self::UpstreamUnreachable { .. } | Self::UpstreamTimeout { .. } | Self::UpstreamProtocol { .. })
    }

    /// Whether the error says the provider cannot serve this request now, so the next target of an alias should
    /// be tried: an outage, an open breaker, every key refused, or an upstream status worth retrying.
    pub fn is_provider_failure(&self) -> bool {
        match self {
            Self::UpstreamUnreachable { .. } | Self::UpstreamTimeout { .. } | Self::UpstreamProtocol { .. } => true,
            Self::ProviderUnavailable { .. } | Self::KeysExhausted { .. } => true,
            Self::Upstream { status, .. } => is_retriable_status(status.as_u16()),
            Self::InvalidRequest(_)
            | Self::Authentication(_)
            | Self::Forbidden(_)
            | Self::RateLimited { .. }
            | Self::BudgetExhausted { .. }
            | Self::NotFound(_)
            | Self::Conflict(_)
            | Self::Unavailable(_)
            | Self::PayloadTooLarge { .. }
            | Self::UnsupportedMediaType(_)
            | Self::ExpectationFailed(_)
            | Self::BodyTimeout(_)
            | Self::UnknownProvider { .. }
            | Self::ClientClosed
            | Self::Internal(_) => false,
        }
    }
}

/// Upstream statuses worth another attempt (and, failing that, the next target): rate limiting and transient
/// server trouble. Other 4xx are the request's fault.
pub fn is_retriable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504 | 529)
}

/// Upstream statuses that count against the provider's circuit breaker: the server's own failures.
pub fn is_outage_status(status: u16) -> bool {
    (500..=599).contains(&status)
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

/// The Anthropic `error.type` for an upstream HTTP status (wire-formats §3; other 4xx → `invalid_request_error`,
/// other 5xx → `api_error`).
pub fn error_type_for_status(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Anthropic's own error types (wire-formats §3), as the gateway's static names; `None` for anything else.
pub fn known_error_type(name: &str) -> Option<&'static str> {
    const TYPES: [&str; 10] = [
        "invalid_request_error",
        "authentication_error",
        "billing_error",
        "permission_error",
        "not_found_error",
        "request_too_large",
        "rate_limit_error",
        "api_error",
        "timeout_error",
        "overloaded_error",
    ];
    TYPES.into_iter().find(|t| *t == name)
}

impl ResponseError for GatewayError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) | Self::UnknownProvider { .. } => StatusCode::BAD_REQUEST,
            Self::Authentication(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::BudgetExhausted { .. } => StatusCode::PAYMENT_REQUIRED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ExpectationFailed(_) => StatusCode::EXPECTATION_FAILED,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
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

    /// Handlers outside the model routes (admin, models) answer in the Anthropic dialect.
    fn error_response(&self) -> HttpResponse {
        render::response(Dialect::Anthropic, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_anthropic_table() {
        let unreachable = GatewayError::UpstreamUnreachable { provider: "p".into(), detail: "refused".into() };
        assert_eq!(unreachable.status_code(), StatusCode::BAD_GATEWAY);
        assert_eq!(unreachable.error_type(), "api_error");
        let too_large = GatewayError::PayloadTooLarge { limit: 10 };
        assert_eq!(too_large.status_code(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(too_large.error_type(), "request_too_large");
    }

    #[test]
    fn status_table() {
        let table = [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (402, "billing_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (422, "invalid_request_error"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (504, "timeout_error"),
            (529, "overloaded_error"),
        ];
        for (status, expected) in table {
            assert_eq!(error_type_for_status(status), expected, "{status}");
        }
    }

    #[test]
    fn retriable_statuses() {
        for s in [429, 500, 502, 503, 504, 529] {
            assert!(is_retriable_status(s));
        }
        for s in [200, 400, 401, 403, 404, 413, 422, 501] {
            assert!(!is_retriable_status(s));
        }
    }

    #[test]
    fn outages_are_a_subset_of_provider_failures() {
        let all = [
            GatewayError::UpstreamUnreachable { provider: "p".into(), detail: "d".into() },
            GatewayError::UpstreamTimeout { provider: "p".into(), secs: 1 },
            GatewayError::UpstreamProtocol { provider: "p".into(), detail: "d".into() },
            GatewayError::KeysExhausted { provider: "p".into(), last_status: 429 },
            GatewayError::ProviderUnavailable { provider: "p".into(), retry_in_secs: 1 },
            GatewayError::InvalidRequest("x".into()),
        ];
        for error in &all {
            assert!(!error.is_outage() || error.is_provider_failure(), "{error}");
        }
        assert!(!all[3].is_outage() && all[3].is_provider_failure(), "exhausted keys: fall back, but no outage");
    }
}
