//! Bedrock's errors in Anthropic terms: the exception names of its event streams (`throttlingException`, …) and
//! of its HTTP errors (`x-amzn-ErrorType: ThrottlingException:…`, body `{"message": …}`) mapped to Anthropic
//! error types, and the message a client sees, naming the provider.

/// The Anthropic error type for a Bedrock exception name, in either spelling (`throttlingException` in stream
/// frames, `ThrottlingException` in HTTP errors). Unknown names are `api_error`.
pub fn anthropic_type(exception: &str) -> &'static str {
    let name = exception.split(':').next().unwrap_or(exception).trim();
    let lower = name.to_ascii_lowercase();
    match lower.trim_end_matches("exception") {
        "throttling" | "servicequotaexceeded" | "modelnotready" | "toomanyrequests" => "rate_limit_error",
        "validation" => "invalid_request_error",
        "serviceunavailable" => "overloaded_error",
        "modeltimeout" => "timeout_error",
        "accessdenied" => "permission_error",
        "unrecognizedclient"
        | "invalidsignature"
        | "expiredtoken"
        | "incompletesignature"
        | "missingauthenticationtoken"
        | "invalidclienttokenid"
        | "unauthorized" => "authentication_error",
        "resourcenotfound" => "not_found_error",
        _ => "api_error",
    }
}

/// The Anthropic error type of an exception frame inside a 200 stream. A model timeout is an `api_error` there
/// (Anthropic streams carry no `timeout_error`); its message says it timed out.
pub fn stream_error_type(exception: &str) -> &'static str {
    match anthropic_type(exception) {
        "timeout_error" => "api_error",
        other => other,
    }
}

/// Whether the error means the credentials themselves were refused (expired, unknown, badly signed).
pub fn is_credentials_error(exception: &str) -> bool {
    anthropic_type(exception) == "authentication_error"
}

/// The exception name from `x-amzn-ErrorType` (`ValidationException:http://internal.amazon.com/…`) or from the
/// body's `__type` (`com.amazon.coral.service#UnrecognizedClientException`).
pub fn exception_name(error_type_header: Option<&str>, body: &[u8]) -> Option<String> {
    if let Some(name) = error_type_header.map(|h| h.split(':').next().unwrap_or(h).trim()).filter(|n| !n.is_empty()) {
        return Some(name.to_string());
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let raw = value.get("__type").and_then(serde_json::Value::as_str)?;
    Some(raw.rsplit('#').next().unwrap_or(raw).to_string())
}

/// The message of a Bedrock error body (`message` or `Message`), or `None`.
pub fn body_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("message").or_else(|| value.get("Message")).and_then(serde_json::Value::as_str).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stream_exceptions_map_as_documented() {
        for (name, expected) in [
            ("throttlingException", "rate_limit_error"),
            ("validationException", "invalid_request_error"),
            ("modelStreamErrorException", "api_error"),
            ("modelTimeoutException", "api_error"),
            ("serviceUnavailableException", "overloaded_error"),
            ("internalServerException", "api_error"),
            ("somethingNewException", "api_error"),
        ] {
            assert_eq!(stream_error_type(name), expected, "{name}");
        }
    }

    #[test]
    fn http_error_names_and_messages() {
        assert_eq!(
            exception_name(Some("ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"), b""),
            Some("ThrottlingException".into())
        );
        assert_eq!(
            exception_name(None, br#"{"__type":"com.amazon.coral.service#ExpiredTokenException","message":"x"}"#),
            Some("ExpiredTokenException".into())
        );
        assert!(is_credentials_error("ExpiredTokenException"));
        assert!(is_credentials_error("UnrecognizedClientException"));
        assert!(!is_credentials_error("AccessDeniedException"));
        assert_eq!(anthropic_type("AccessDeniedException"), "permission_error");
        assert_eq!(body_message(br#"{"Message":"Too many"}"#).as_deref(), Some("Too many"));
        assert_eq!(body_message(b"<html>"), None);
    }

    proptest! {
        #[test]
        fn every_name_maps_to_a_known_anthropic_type(name in ".*") {
            prop_assert!(crate::error::known_error_type(anthropic_type(&name)).is_some());
            prop_assert!(crate::error::known_error_type(stream_error_type(&name)).is_some());
        }
    }
}
