//! The one place an error becomes bytes on the wire, in the client's dialect: a JSON error body, an error frame
//! for a stream that has already begun, or a whole HTTP response (status, `content-type`, `retry-after`).
//!
//! | dialect | body | frame in a stream |
//! |---|---|---|
//! | Anthropic | `{"type":"error","error":{"type","message"}}` | `event: error` + `data: <body>` |
//! | OpenAI | `{"error":{"message","type","param","code"}}` | `data: <body>` (OpenAI streams have no event names) |
//! | Bedrock | `{"message"}` + header `x-amzn-ErrorType: <Type>Exception` | an AWS event-stream exception frame |
//! | Vertex | Anthropic's (Vertex relays Anthropic's errors) | Anthropic's |
//!
//! Errors are known internally by their Anthropic `error.type`; one table ([`openai_error_kind`]) decides how
//! each type looks to an OpenAI client:
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
//! | timeout_error | server_error (408, a client's stalled body: invalid_request_error) | timeout |
//! | api_error and anything else | server_error (4xx statuses: invalid_request_error) | null |
//!
//! and one more ([`bedrock_error_kind`]) how it looks to a Bedrock client: its `x-amzn-ErrorType` (HTTP errors)
//! and `:exception-type` (exception frames in a stream):
//!
//! | Anthropic type | Bedrock error type | exception frame |
//! |---|---|---|
//! | invalid_request_error, request_too_large | ValidationException | validationException |
//! | authentication_error | UnrecognizedClientException | internalServerException |
//! | permission_error | AccessDeniedException | internalServerException |
//! | billing_error | ServiceQuotaExceededException | internalServerException |
//! | not_found_error | ResourceNotFoundException | internalServerException |
//! | rate_limit_error | ThrottlingException | throttlingException |
//! | timeout_error | ModelTimeoutException | modelTimeoutException |
//! | overloaded_error | ServiceUnavailableException | serviceUnavailableException |
//! | api_error | InternalServerException | modelStreamErrorException |
//! | anything else | InternalServerException (4xx statuses: ValidationException) | internalServerException |

use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

use super::{status_for_error_type, GatewayError};

/// The API shape a client speaks, which decides how its errors look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// Anthropic Messages (`/v1/messages`, `count_tokens`, and every non-model route).
    Anthropic,
    /// OpenAI Chat Completions (`/v1/chat/completions`).
    OpenAi,
    /// Amazon Bedrock's InvokeModel (`/bedrock/…`): `{"message"}` bodies typed by `x-amzn-ErrorType`.
    Bedrock,
    /// Google Vertex AI's rawPredict (`/vertex/…`): Anthropic's errors, as Vertex relays them.
    Vertex,
}

/// The header naming a Bedrock error's type.
pub const AMZN_ERROR_TYPE: &str = "x-amzn-errortype";

/// The JSON error body for `error` in `dialect`.
pub fn body(dialect: Dialect, error: &GatewayError) -> Bytes {
    let message = error.to_string();
    match dialect {
        Dialect::Anthropic | Dialect::Vertex => anthropic_envelope(error.error_type(), &message),
        Dialect::Bedrock => bedrock_body(&message),
        Dialect::OpenAi => {
            let status = error.status_code().as_u16();
            let (kind, code) = openai_error_kind(error.error_type(), status);
            // A model naming no configured provider is OpenAI's "model not found".
            let code = if error.kind() == "unknown_provider" { Some("model_not_found") } else { code };
            openai_envelope(&message, kind, code)
        }
    }
}

/// The HTTP response for `error` in `dialect`: its status, the body, and `retry-after` when the error has one.
pub fn response(dialect: Dialect, error: &GatewayError) -> HttpResponse {
    let mut response = HttpResponse::build(error.status_code());
    response.insert_header((header::CONTENT_TYPE, "application/json"));
    if let Some(retry_after) = error.retry_after() {
        response.insert_header((header::RETRY_AFTER, retry_after));
    }
    if let Some(should_retry) = error.should_retry() {
        response.insert_header(("x-should-retry", if should_retry { "true" } else { "false" }));
    }
    if dialect == Dialect::Bedrock {
        let (error_type, _) = bedrock_error_kind(error.error_type(), error.status_code().as_u16());
        response.insert_header((AMZN_ERROR_TYPE, error_type));
    }
    response.body(body(dialect, error))
}

/// One error frame for a stream that has already begun: the client's stream ends with it.
pub fn stream_frame(dialect: Dialect, error: &GatewayError) -> Bytes {
    match dialect {
        Dialect::Bedrock => bedrock_exception_frame(error.error_type(), &error.to_string()),
        Dialect::Anthropic | Dialect::Vertex | Dialect::OpenAi => sse_frame(dialect, &body(dialect, error)),
    }
}

/// One error frame for an error known only by its Anthropic type and message (a converter's or relay's own
/// verdict on a stream, or an upstream's error event being translated).
pub fn stream_frame_for(dialect: Dialect, error_type: &str, message: &str) -> Bytes {
    let json = match dialect {
        Dialect::Anthropic | Dialect::Vertex => anthropic_envelope(error_type, message),
        Dialect::Bedrock => return bedrock_exception_frame(error_type, message),
        Dialect::OpenAi => {
            let (kind, code) = openai_error_kind(error_type, status_for_error_type(error_type).as_u16());
            openai_envelope(message, kind, code)
        }
    };
    sse_frame(dialect, &json)
}

/// An SSE error event: named `error` for the Anthropic shapes (clients dispatch on the `event:` line, so it must
/// be there), a bare `data:` line for OpenAI's (its streams have no event names).
fn sse_frame(dialect: Dialect, json: &[u8]) -> Bytes {
    let prefix: &[u8] = match dialect {
        Dialect::OpenAi => b"data: ",
        Dialect::Anthropic | Dialect::Vertex | Dialect::Bedrock => b"event: error\ndata: ",
    };
    let mut out = BytesMut::with_capacity(prefix.len() + json.len() + 2);
    out.put_slice(prefix);
    out.put_slice(json);
    out.put_slice(b"\n\n");
    out.freeze()
}

/// Bedrock's error body `{"message":…}` (its type goes in the `x-amzn-ErrorType` header).
fn bedrock_body(message: &str) -> Bytes {
    #[derive(Serialize)]
    struct Body<'a> {
        message: &'a str,
    }
    // Serialising a borrowed string cannot fail.
    Bytes::from(serde_json::to_vec(&Body { message }).unwrap_or_default())
}

/// An AWS event-stream exception frame for a Bedrock client's stream: `:exception-type` from
/// [`bedrock_error_kind`], payload `{"message":…}`.
pub fn bedrock_exception_frame(anthropic_type: &str, message: &str) -> Bytes {
    let (_, exception) = bedrock_error_kind(anthropic_type, status_for_error_type(anthropic_type).as_u16());
    crate::cloud::eventstream::encode_exception(exception, message)
}

/// A Bedrock client's names for an Anthropic error type: the `x-amzn-ErrorType` of an HTTP error, and the
/// `:exception-type` of an exception frame in a stream. `status` decides for types the table does not know.
pub fn bedrock_error_kind(anthropic_type: &str, status: u16) -> (&'static str, &'static str) {
    match anthropic_type {
        "invalid_request_error" | "request_too_large" => ("ValidationException", "validationException"),
        "authentication_error" => ("UnrecognizedClientException", "internalServerException"),
        "permission_error" => ("AccessDeniedException", "internalServerException"),
        "billing_error" => ("ServiceQuotaExceededException", "internalServerException"),
        "not_found_error" => ("ResourceNotFoundException", "internalServerException"),
        "rate_limit_error" => ("ThrottlingException", "throttlingException"),
        "timeout_error" => ("ModelTimeoutException", "modelTimeoutException"),
        "overloaded_error" => ("ServiceUnavailableException", "serviceUnavailableException"),
        "api_error" => ("InternalServerException", "modelStreamErrorException"),
        _ if (400..500).contains(&status) => ("ValidationException", "internalServerException"),
        _ => ("InternalServerException", "internalServerException"),
    }
}

/// Anthropic's envelope `{"type":"error","error":{"type":…,"message":…}}`.
pub fn anthropic_envelope(error_type: &str, message: &str) -> Bytes {
    #[derive(Serialize)]
    struct Envelope<'a> {
        r#type: &'static str,
        error: Detail<'a>,
    }
    #[derive(Serialize)]
    struct Detail<'a> {
        r#type: &'a str,
        message: &'a str,
    }
    let envelope = Envelope { r#type: "error", error: Detail { r#type: error_type, message } };
    // Serialising two borrowed strings cannot fail.
    Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default())
}

/// OpenAI's envelope `{"error":{"message","type","param","code"}}`; `param` is always null (the gateway names
/// the field in the message).
fn openai_envelope(message: &str, kind: &str, code: Option<&str>) -> Bytes {
    #[derive(Serialize)]
    struct Envelope<'a> {
        error: Detail<'a>,
    }
    #[derive(Serialize)]
    struct Detail<'a> {
        message: &'a str,
        r#type: &'a str,
        param: Option<&'a str>,
        code: Option<&'a str>,
    }
    let envelope = Envelope { error: Detail { message, r#type: kind, param: None, code } };
    // Serialising borrowed strings cannot fail.
    Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default())
}

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
        "timeout_error" if status == 408 => ("invalid_request_error", Some("timeout")),
        "timeout_error" => ("server_error", Some("timeout")),
        _ if (400..500).contains(&status) => ("invalid_request_error", None),
        _ => ("server_error", None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;
    use actix_web::http::StatusCode;
    use serde_json::{json, Value};

    fn render(dialect: Dialect, error: GatewayError) -> (u16, Option<String>, Value) {
        let response = response(dialect, &error);
        let status = response.status().as_u16();
        let retry = response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
        let body = response.into_body().try_into_bytes().unwrap();
        (status, retry, serde_json::from_slice(&body).unwrap())
    }

    #[test]
    fn envelope_has_anthropic_shape() {
        let (status, _, value) =
            render(Dialect::Anthropic, GatewayError::InvalidRequest("messages: must be a non-empty array".into()));
        assert_eq!(status, 400);
        assert_eq!(value["type"], "error");
        assert_eq!(value["error"]["type"], "invalid_request_error");
        assert_eq!(value["error"]["message"], "messages: must be a non-empty array");
    }

    #[test]
    fn sse_frame_is_a_named_event() {
        let frame = stream_frame(Dialect::Anthropic, &GatewayError::UpstreamTimeout { provider: "p".into(), secs: 3 });
        let text = std::str::from_utf8(&frame).unwrap();
        assert!(text.starts_with("event: error\ndata: {"));
        assert!(text.ends_with("}\n\n"));
        assert!(text.contains("\"timeout_error\""));
    }

    #[test]
    fn openai_statuses_types_and_codes() {
        let (status, _, body) =
            render(Dialect::OpenAi, GatewayError::InvalidRequest("messages: must be a non-empty array".into()));
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"error": {"message": "messages: must be a non-empty array", "type": "invalid_request_error", "param": null, "code": null}})
        );
        let (status, _, body) = render(Dialect::OpenAi, GatewayError::Authentication("bad key".into()));
        assert_eq!((status, &body["error"]["code"]), (401, &json!("invalid_api_key")));
        let unknown = GatewayError::UnknownProvider { name: "x".into(), model: "x:y".into(), configured: "a".into() };
        assert_eq!(render(Dialect::OpenAi, unknown).2["error"]["code"], "model_not_found");
        let (status, _, body) = render(Dialect::OpenAi, GatewayError::PayloadTooLarge { limit: 1 });
        assert_eq!((status, &body["error"]["code"]), (413, &json!("request_too_large")));
        let (status, _, body) =
            render(Dialect::OpenAi, GatewayError::UpstreamTimeout { provider: "p".into(), secs: 1 });
        assert_eq!((status, &body["error"]["type"]), (504, &json!("server_error")));
        let (status, _, body) =
            render(Dialect::OpenAi, GatewayError::UpstreamUnreachable { provider: "p".into(), detail: "d".into() });
        assert_eq!((status, &body["error"]["type"]), (502, &json!("server_error")));
    }

    #[test]
    fn rate_limits_keep_retry_after_in_both_dialects() {
        for dialect in [Dialect::Anthropic, Dialect::OpenAi] {
            let error = GatewayError::Upstream {
                status: StatusCode::TOO_MANY_REQUESTS,
                error_type: "rate_limit_error",
                message: "slow down".into(),
                retry_after: Some("7".into()),
            };
            let (status, retry, _) = render(dialect, error);
            assert_eq!((status, retry.as_deref()), (429, Some("7")));
            let breaker = GatewayError::ProviderUnavailable { provider: "p".into(), retry_in_secs: 3 };
            assert_eq!(render(dialect, breaker).1.as_deref(), Some("3"));
        }
        let error = GatewayError::upstream("rate_limit_error", "slow down".into(), None);
        let (_, _, body) = render(Dialect::OpenAi, error);
        assert_eq!(body["error"]["type"], "requests");
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    }

    #[test]
    fn openai_frames_are_data_chunks() {
        let frame = stream_frame(Dialect::OpenAi, &GatewayError::UpstreamTimeout { provider: "p".into(), secs: 2 });
        let text = std::str::from_utf8(&frame).unwrap();
        assert!(text.starts_with("data: {\"error\":{") && text.ends_with("}\n\n"), "{text}");
        let frame = stream_frame_for(Dialect::OpenAi, "rate_limit_error", "slow down");
        let value: Value = serde_json::from_str(std::str::from_utf8(&frame).unwrap()[6..].trim()).unwrap();
        assert_eq!(
            value,
            json!({"error": {"message": "slow down", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})
        );
    }

    #[test]
    fn openai_kind_table_and_status_fallback() {
        assert_eq!(openai_error_kind("authentication_error", 401), ("invalid_request_error", Some("invalid_api_key")));
        assert_eq!(openai_error_kind("timeout_error", 504), ("server_error", Some("timeout")));
        assert_eq!(openai_error_kind("timeout_error", 408), ("invalid_request_error", Some("timeout")));
        assert_eq!(openai_error_kind("api_error", 502), ("server_error", None));
        assert_eq!(openai_error_kind("mock_error_418", 418), ("invalid_request_error", None));
        assert_eq!(openai_error_kind("something_new", 503), ("server_error", None));
    }

    #[test]
    fn bedrock_errors_are_a_message_typed_by_a_header() {
        let response = response(Dialect::Bedrock, &GatewayError::Authentication("no key".into()));
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(response.headers().get(AMZN_ERROR_TYPE).unwrap(), "UnrecognizedClientException");
        let body = response.into_body().try_into_bytes().unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), json!({"message": "no key"}));
        let limited = GatewayError::upstream("rate_limit_error", "slow".into(), Some("3".into()));
        let (status, retry, body) = render(Dialect::Bedrock, limited);
        assert_eq!((status, retry.as_deref(), body), (429, Some("3"), json!({"message": "slow"})));
        assert_eq!(bedrock_error_kind("mock_error_418", 418), ("ValidationException", "internalServerException"));
        assert_eq!(bedrock_error_kind("overloaded_error", 529).1, "serviceUnavailableException");
    }

    #[test]
    fn bedrock_stream_errors_are_exception_frames() {
        use crate::cloud::eventstream::{bedrock_event, BedrockEvent, Decoder};
        let frame = stream_frame(Dialect::Bedrock, &GatewayError::upstream("rate_limit_error", "slow".into(), None));
        let mut decoder = Decoder::new();
        decoder.push(&frame);
        let event = bedrock_event(&decoder.next_frame().unwrap().unwrap()).unwrap();
        assert_eq!(event, BedrockEvent::Exception { kind: "throttlingException".into(), message: "slow".into() });
    }

    #[test]
    fn vertex_errors_are_anthropic_errors() {
        let error = GatewayError::NotFound("no such model".into());
        assert_eq!(
            render(Dialect::Vertex, GatewayError::NotFound("no such model".into())),
            render(Dialect::Anthropic, error)
        );
        let frame = stream_frame_for(Dialect::Vertex, "api_error", "x");
        assert_eq!(frame, stream_frame_for(Dialect::Anthropic, "api_error", "x"));
    }
}
