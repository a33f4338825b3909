//! How gateway errors look on the OpenAI-compatible route: the one place a [`GatewayError`] becomes an OpenAI
//! error response (`{"error":{"message","type","param","code"}}`) or a mid-stream error chunk.
//!
//! The status, the Anthropic error type and `retry-after` come from the error's own rendering (so a new
//! variant needs no change here); [`openai_error_kind`](crate::convert::inbound::errors::openai_error_kind) maps the type to OpenAI's `type` and `code`.

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use bytes::{BufMut, Bytes, BytesMut};

use super::recorder::Recorder;
use crate::convert::inbound::OpenAiError;
use crate::convert::Usage;
use crate::error::GatewayError;

/// The OpenAI error object for a gateway error.
fn openai_error<'a>(error: &GatewayError, message: &'a str) -> OpenAiError<'a> {
    let mut openai = OpenAiError::from_anthropic(error.error_type(), message, error.status_code().as_u16());
    if error.kind() == "unknown_provider" {
        openai.code = Some("model_not_found");
    }
    openai
}

/// The HTTP response for `error` on the OpenAI-compatible route.
pub fn openai_error_response(error: &GatewayError) -> HttpResponse {
    let status = error.status_code();
    let message = error.to_string();
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, "application/json"));
    if let Some(retry_after) = error.error_response().headers().get(header::RETRY_AFTER) {
        response.insert_header((header::RETRY_AFTER, retry_after.clone()));
    }
    response.body(openai_error(error, &message).body())
}

/// One `data:` chunk carrying the error, for failures after a 200 stream began. OpenAI streams have no event
/// names: the SDKs recognise the `error` key.
pub fn openai_error_frame(error: &GatewayError) -> Bytes {
    let message = error.to_string();
    data_frame(&openai_error(error, &message).body())
}

/// A `data:` chunk for an error known only by its Anthropic type and message.
pub fn openai_error_frame_for(error_type: &str, message: &str) -> Bytes {
    data_frame(&OpenAiError::from_anthropic(error_type, message, 502).body())
}

fn data_frame(json: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(json.len() + 8);
    out.put_slice(b"data: ");
    out.put_slice(json);
    out.put_slice(b"\n\n");
    out.freeze()
}

/// The OpenAI route's counterpart of [`super::admission::answer`]: the handler's response, or its error in the
/// OpenAI shape (recorded, if the recorder was not handed on).
pub fn answer_openai(outcome: Result<HttpResponse, GatewayError>, recorder: Option<Recorder>) -> HttpResponse {
    match (outcome, recorder) {
        (Ok(response), _) => response,
        (Err(error), Some(recorder)) => fail_openai(recorder, &error),
        (Err(error), None) => openai_error_response(&error),
    }
}

/// Answers with `error` in the OpenAI shape (plus the request id) and records the failure.
pub fn fail_openai(recorder: Recorder, error: &GatewayError) -> HttpResponse {
    let mut response = openai_error_response(error);
    if let Ok(id) = HeaderValue::from_str(&recorder.record.request_id) {
        response.headers_mut().insert(HeaderName::from_static("x-gatehouse-request-id"), id);
    }
    recorder.finish(response.status().as_u16(), Some(error.kind()), Usage::default(), None);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::MessageBody;
    use serde_json::{json, Value};

    fn render(error: GatewayError) -> (u16, Option<String>, Value) {
        let response = openai_error_response(&error);
        let status = response.status().as_u16();
        let retry = response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
        let body = response.into_body().try_into_bytes().unwrap();
        (status, retry, serde_json::from_slice(&body).unwrap())
    }

    #[test]
    fn statuses_types_and_codes() {
        let (status, _, body) = render(GatewayError::InvalidRequest("messages: must be a non-empty array".into()));
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"error": {"message": "messages: must be a non-empty array", "type": "invalid_request_error", "param": null, "code": null}})
        );
        let (status, _, body) = render(GatewayError::Authentication("bad key".into()));
        assert_eq!((status, &body["error"]["code"]), (401, &json!("invalid_api_key")));
        let unknown = GatewayError::UnknownProvider { name: "x".into(), model: "x:y".into(), configured: "a".into() };
        assert_eq!(render(unknown).2["error"]["code"], "model_not_found");
        let (status, _, body) = render(GatewayError::PayloadTooLarge { limit: 1 });
        assert_eq!((status, &body["error"]["code"]), (413, &json!("request_too_large")));
        let (status, _, body) = render(GatewayError::UpstreamTimeout { provider: "p".into(), secs: 1 });
        assert_eq!((status, &body["error"]["type"]), (504, &json!("server_error")));
        let (status, _, body) = render(GatewayError::UpstreamUnreachable { provider: "p".into(), detail: "d".into() });
        assert_eq!((status, &body["error"]["type"]), (502, &json!("server_error")));
    }

    #[test]
    fn rate_limits_keep_retry_after() {
        let error = GatewayError::Upstream {
            status: actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            error_type: "rate_limit_error",
            message: "slow down".into(),
            retry_after: Some("7".into()),
        };
        let (status, retry, body) = render(error);
        assert_eq!((status, retry.as_deref()), (429, Some("7")));
        assert_eq!(body["error"]["type"], "requests");
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        let (_, retry, _) = render(GatewayError::ProviderUnavailable { provider: "p".into(), retry_in_secs: 3 });
        assert_eq!(retry.as_deref(), Some("3"));
    }

    #[test]
    fn frames_are_data_chunks() {
        let frame = openai_error_frame(&GatewayError::UpstreamTimeout { provider: "p".into(), secs: 2 });
        let text = std::str::from_utf8(&frame).unwrap();
        assert!(text.starts_with("data: {\"error\":{") && text.ends_with("}\n\n"), "{text}");
    }
}
