//! The OpenAI error shape `{"error":{"message","type","param","code"}}` for clients of the OpenAI-compatible
//! route, and the reading of an Anthropic error envelope (an Anthropic-format upstream's error body or stream
//! `error` event) into the gateway's Anthropic terms.
//!
//! Everything is keyed by the Anthropic `error.type` the gateway already uses internally, so one table decides
//! how each failure looks to an OpenAI client:
//!
//! | Anthropic type | OpenAI `type` | OpenAI `code` |
//! |---|---|---|
//! | invalid_request_error | invalid_request_error | null |
//! | authentication_error | invalid_request_error | invalid_api_key |
//! | billing_error | insufficient_quota | insufficient_quota |
//! | permission_error | invalid_request_error | permission_denied |
//! | not_found_error | invalid_request_error | not_found |
//! | request_too_large | invalid_request_error | request_too_large |
//! | rate_limit_error | requests | rate_limit_exceeded |
//! | overloaded_error | server_error | overloaded |
//! | timeout_error | server_error | timeout |
//! | api_error and anything else | server_error (4xx statuses: invalid_request_error) | null |

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;

use crate::convert::errors::error_type_for_status;

/// Upstream messages are relayed; a provider that answers with a whole HTML page should not make every error
/// that large.
const MAX_MESSAGE_CHARS: usize = 2000;

/// OpenAI's `type` and `code` for an Anthropic error type. `status` decides for types the table does not know.
pub fn openai_error_kind(anthropic_type: &str, status: u16) -> (&'static str, Option<&'static str>) {
    match anthropic_type {
        "invalid_request_error" => ("invalid_request_error", None),
        "authentication_error" => ("invalid_request_error", Some("invalid_api_key")),
        "billing_error" => ("insufficient_quota", Some("insufficient_quota")),
        "permission_error" => ("invalid_request_error", Some("permission_denied")),
        "not_found_error" => ("invalid_request_error", Some("not_found")),
        "request_too_large" => ("invalid_request_error", Some("request_too_large")),
        "rate_limit_error" => ("requests", Some("rate_limit_exceeded")),
        "overloaded_error" => ("server_error", Some("overloaded")),
        "timeout_error" => ("server_error", Some("timeout")),
        _ if (400..500).contains(&status) => ("invalid_request_error", None),
        _ => ("server_error", None),
    }
}

/// The error object of the OpenAI shape; `param` is always null (the gateway names the field in the message).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct OpenAiError<'a> {
    pub message: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub param: Option<&'a str>,
    pub code: Option<&'a str>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: OpenAiError<'a>,
}

impl<'a> OpenAiError<'a> {
    /// The OpenAI error for an Anthropic error type, message and HTTP status.
    pub fn from_anthropic(anthropic_type: &str, message: &'a str, status: u16) -> Self {
        let (kind, code) = openai_error_kind(anthropic_type, status);
        OpenAiError { message, kind, param: None, code }
    }

    /// `{"error":{…}}` as JSON bytes: an HTTP error body, or the data of a mid-stream error chunk.
    pub fn body(&self) -> Bytes {
        // Serialising borrowed strings cannot fail.
        Bytes::from(serde_json::to_vec(&Envelope { error: *self }).unwrap_or_default())
    }
}

/// Reads an Anthropic error (`{"type":"error","error":{"type","message"}}`, or just its inner object) into
/// (Anthropic type, message). A body that is not the envelope keeps its text as the message and gets the type
/// of `status`. The type is one of the gateway's static names, so it can live in a `GatewayError`.
pub fn read_anthropic_error(status: u16, body: &[u8]) -> (&'static str, String) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let inner = parsed.as_ref().map(|v| v.get("error").filter(|e| e.is_object()).unwrap_or(v));
    let message = inner.and_then(|e| e.get("message")).and_then(Value::as_str).map(str::to_string);
    let named = inner.and_then(|e| e.get("type")).and_then(Value::as_str).and_then(known_type);
    let fallback = if (400..=599).contains(&status) { error_type_for_status(status) } else { "api_error" };
    let message = message.unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        match text.trim() {
            "" => format!("upstream returned HTTP {status} with an empty body"),
            text => text.to_string(),
        }
    });
    (named.unwrap_or(fallback), truncate_chars(&message, MAX_MESSAGE_CHARS))
}

/// The gateway's static name for an Anthropic error type; types Anthropic does not define read as `api_error`.
pub fn anthropic_type(name: &str) -> &'static str {
    known_type(name).unwrap_or("api_error")
}

/// Anthropic's own error types (wire-formats §3), as static names.
fn known_type(name: &str) -> Option<&'static str> {
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

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_has_the_openai_shape() {
        let body = OpenAiError::from_anthropic("rate_limit_error", "slow down", 429).body();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"error": {"message": "slow down", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})
        );
    }

    #[test]
    fn table_and_status_fallback() {
        assert_eq!(openai_error_kind("authentication_error", 401), ("invalid_request_error", Some("invalid_api_key")));
        assert_eq!(openai_error_kind("timeout_error", 504), ("server_error", Some("timeout")));
        assert_eq!(openai_error_kind("api_error", 502), ("server_error", None));
        assert_eq!(openai_error_kind("mock_error_418", 418), ("invalid_request_error", None));
        assert_eq!(openai_error_kind("something_new", 503), ("server_error", None));
    }

    #[test]
    fn anthropic_envelopes_are_read() {
        let body = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        assert_eq!(read_anthropic_error(529, body), ("overloaded_error", "Overloaded".to_string()));
        let inner = br#"{"type":"rate_limit_error","message":"later"}"#;
        assert_eq!(read_anthropic_error(200, inner), ("rate_limit_error", "later".to_string()));
        let unknown = br#"{"type":"error","error":{"type":"mock_error_404","message":"m"}}"#;
        assert_eq!(read_anthropic_error(404, unknown), ("not_found_error", "m".to_string()));
        assert_eq!(read_anthropic_error(502, b"<html>bad</html>"), ("api_error", "<html>bad</html>".to_string()));
        assert_eq!(read_anthropic_error(500, b"").1, "upstream returned HTTP 500 with an empty body");
        assert_eq!(read_anthropic_error(500, &vec![b'x'; 5000]).1.chars().count(), MAX_MESSAGE_CHARS + 1);
    }
}
