//! Errors of the conversion and the mapping of upstream errors onto
//! Anthropic's error types (wire-formats §3).

use std::fmt;

use serde_json::Value;

use crate::error::error_type_for_status;

/// Upstream messages are relayed to clients; a provider that answers with a
/// whole HTML page should not make every error that large.
pub(crate) const MAX_MESSAGE_CHARS: usize = 2000;

/// A body that cannot be converted. `path` names the offending field
/// (`messages[3].content[1].source.type`) so a client can fix its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError {
    path: String,
    message: String,
    error_type: &'static str,
}

impl ConvertError {
    /// The client's request is malformed: answer 400 `invalid_request_error`.
    pub fn invalid_request(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConvertError { path: path.into(), message: message.into(), error_type: "invalid_request_error" }
    }

    /// The provider's answer is unusable: the client did nothing wrong.
    pub fn invalid_upstream(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConvertError { path: path.into(), message: message.into(), error_type: "api_error" }
    }

    /// The provider answered 200 with an `error` object; keep its type and message.
    pub fn upstream_error(error_type: &'static str, message: String) -> Self {
        ConvertError { path: "error".to_string(), message, error_type }
    }

    /// Dotted path of the offending field.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The message without the path.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The Anthropic `error.type` to answer with: `invalid_request_error` for
    /// request errors (HTTP 400), another type for upstream failures.
    pub fn error_type(&self) -> &'static str {
        self.error_type
    }
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ConvertError {}

/// Turn an OpenAI-format upstream error body into (anthropic error type, message), keeping the upstream's message; robust to non-JSON bodies.
///
/// The HTTP status decides the type when it is an error status; for an error
/// inside a 200 body the error's `code` or `type` decides, else `api_error`.
pub fn openai_error_to_anthropic(status: u16, body: &[u8]) -> (&'static str, String) {
    match serde_json::from_slice::<Value>(body) {
        Ok(json) => classify_error_json(status, &json),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let message = if text.trim().is_empty() {
                format!("upstream returned HTTP {status} with an empty body")
            } else {
                truncate_chars(text.trim(), MAX_MESSAGE_CHARS)
            };
            (type_for_status_or_api(status), message)
        }
    }
}

/// Classifies a parsed error body: `{"error":{"message","type","code"}}`,
/// `{"error":"text"}`, vLLM's `{"object":"error","message","code"}` or
/// FastAPI's `{"detail": …}`.
pub(crate) fn classify_error_json(status: u16, json: &Value) -> (&'static str, String) {
    let error = json.get("error").filter(|e| !e.is_null()).unwrap_or(json);
    let message = error_message(error)
        .or_else(|| json.get("detail").map(compact_text))
        .unwrap_or_else(|| format!("upstream returned HTTP {status}"));
    let message = truncate_chars(&message, MAX_MESSAGE_CHARS);
    let error_type = if (400..=599).contains(&status) {
        error_type_for_status(status)
    } else {
        type_from_error_fields(error).unwrap_or("api_error")
    };
    (error_type, message)
}

fn error_message(error: &Value) -> Option<String> {
    match error {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => map.get("message").map(compact_text),
        _ => None,
    }
}

fn compact_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// For errors without an HTTP error status (mid-stream, or inside a 200):
/// a numeric `code` is read as a status, known OpenAI codes and types by name.
fn type_from_error_fields(error: &Value) -> Option<&'static str> {
    let code = error.get("code");
    let numeric = code.and_then(|c| c.as_u64().or_else(|| c.as_str().and_then(|s| s.parse::<u64>().ok())));
    if let Some(status) = numeric.and_then(|n| u16::try_from(n).ok()) {
        if (400..=599).contains(&status) {
            return Some(error_type_for_status(status));
        }
    }
    let names = [code.and_then(Value::as_str), error.get("type").and_then(Value::as_str)];
    names.into_iter().flatten().find_map(type_for_error_name)
}

fn type_for_error_name(name: &str) -> Option<&'static str> {
    let t = match name {
        "rate_limit_exceeded" | "rate_limit_error" | "tokens_exceeded" => "rate_limit_error",
        "insufficient_quota" | "billing_error" => "billing_error",
        "invalid_api_key" | "authentication_error" => "authentication_error",
        "permission_error" | "permission_denied" => "permission_error",
        "context_length_exceeded" | "invalid_request_error" | "BadRequestError" => "invalid_request_error",
        "overloaded" | "overloaded_error" | "server_overloaded" => "overloaded_error",
        "timeout" | "timeout_error" => "timeout_error",
        _ => return None,
    };
    Some(t)
}

fn type_for_status_or_api(status: u16) -> &'static str {
    if (400..=599).contains(&status) {
        error_type_for_status(status)
    } else {
        "api_error"
    }
}

/// `s` cut to `max` characters, with an ellipsis when cut.
pub(crate) fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_error_body_keeps_message() {
        let body = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
        assert_eq!(openai_error_to_anthropic(429, body), ("rate_limit_error", "Rate limit reached".to_string()));
    }

    #[test]
    fn other_shapes() {
        assert_eq!(
            openai_error_to_anthropic(400, br#"{"object":"error","message":"bad","code":400}"#),
            ("invalid_request_error", "bad".to_string())
        );
        assert_eq!(
            openai_error_to_anthropic(422, br#"{"detail":[{"msg":"field required"}]}"#).1,
            r#"[{"msg":"field required"}]"#
        );
        assert_eq!(openai_error_to_anthropic(500, br#"{"error":"boom"}"#).1, "boom");
        assert_eq!(openai_error_to_anthropic(503, br#"{}"#), ("api_error", "upstream returned HTTP 503".to_string()));
    }

    #[test]
    fn non_json_bodies() {
        assert_eq!(
            openai_error_to_anthropic(502, b"<html>Bad Gateway</html>\n"),
            ("api_error", "<html>Bad Gateway</html>".to_string())
        );
        assert_eq!(
            openai_error_to_anthropic(404, b""),
            ("not_found_error", "upstream returned HTTP 404 with an empty body".to_string())
        );
        let long = vec![b'x'; 5000];
        assert_eq!(openai_error_to_anthropic(500, &long).1.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert_eq!(openai_error_to_anthropic(500, b"\xff\xfe").0, "api_error");
    }

    #[test]
    fn errors_inside_a_200_use_code_or_type() {
        let t = |body: &[u8]| openai_error_to_anthropic(200, body).0;
        assert_eq!(t(br#"{"error":{"message":"m","code":429}}"#), "rate_limit_error");
        assert_eq!(t(br#"{"error":{"message":"m","code":"504"}}"#), "timeout_error");
        assert_eq!(t(br#"{"error":{"message":"m","type":"insufficient_quota"}}"#), "billing_error");
        assert_eq!(t(br#"{"error":{"message":"m","code":"weird"}}"#), "api_error");
    }

    #[test]
    fn convert_error_display_names_the_path() {
        let e = ConvertError::invalid_request("messages[3].content[1].source.type", "unsupported");
        assert_eq!(e.to_string(), "messages[3].content[1].source.type: unsupported");
        assert_eq!(e.error_type(), "invalid_request_error");
        assert_eq!(ConvertError::invalid_upstream("choices", "missing").error_type(), "api_error");
    }
}
