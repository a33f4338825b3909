//! Reading an Anthropic error envelope (an Anthropic-format upstream's error body or stream `error` event) into
//! the gateway's Anthropic terms, for clients of the OpenAI-compatible route. How such an error is then shown to
//! the OpenAI client is decided by [`crate::error::render`].

use serde_json::Value;

use crate::convert::errors::{truncate_chars, MAX_MESSAGE_CHARS};
use crate::error::{error_type_for_status, known_error_type};

/// Reads an Anthropic error (`{"type":"error","error":{"type","message"}}`, or just its inner object) into
/// (Anthropic type, message). A body that is not the envelope keeps its text as the message and gets the type
/// of `status`. The type is one of the gateway's static names, so it can live in a `GatewayError`.
pub fn read_anthropic_error(status: u16, body: &[u8]) -> (&'static str, String) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let inner = parsed.as_ref().map(|v| v.get("error").filter(|e| e.is_object()).unwrap_or(v));
    let message = inner.and_then(|e| e.get("message")).and_then(Value::as_str).map(str::to_string);
    let named = inner.and_then(|e| e.get("type")).and_then(Value::as_str).and_then(known_error_type);
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
    known_error_type(name).unwrap_or("api_error")
}

#[cfg(test)]
mod tests {
    use super::*;

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
