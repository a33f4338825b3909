//! Answering an OpenAI client with an OpenAI-format upstream's response (`/v1/chat/completions` passthrough):
//! a successful event stream is relayed byte for byte (`data: [DONE]` included); anything else — JSON answers
//! and upstream errors — is read whole and returned with its status and body. Usage is read on the side.

use actix_web::http::header;
use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::Value;

use super::openai_errors::fail_openai;
use super::openai_sse_passthrough::OpenAiSsePassthrough;
use super::recorder::Recorder;
use super::relay::{BodyTransform, Relay};
use super::response::{collect, is_event_stream, relay_whole, response_head};
use crate::actors::forwarder::UpstreamReply;
use crate::convert::Usage;

/// Builds the client's response. Records the request (now, or when the stream ends).
pub async fn respond(mut reply: UpstreamReply, streamed: bool, mut recorder: Recorder, provider: &str) -> HttpResponse {
    recorder.record.upstream_time = Some(reply.upstream_time);
    if streamed && reply.status.is_success() && is_event_stream(&reply) {
        let mut response = response_head(&reply, reply.status, &recorder, true);
        response.insert_header((header::CACHE_CONTROL, "no-cache")).insert_header(("x-accel-buffering", "no"));
        let status = reply.status.as_u16();
        let transform = BodyTransform::OpenAiPassthrough(OpenAiSsePassthrough::default());
        return response.streaming(Relay::new(reply.body, transform, recorder, status, None));
    }
    let body = match collect(&mut reply.body, provider).await {
        Ok(body) => body,
        Err(error) => return fail_openai(recorder, &error),
    };
    relay_whole(&reply, body, recorder, usage_of_completion)
}

/// Usage of a non-streaming `chat.completion` (only its `usage` member is materialised).
fn usage_of_completion(body: &[u8]) -> Usage {
    #[derive(Deserialize)]
    struct Completion {
        #[serde(default)]
        usage: Option<Value>,
    }
    serde_json::from_slice::<Completion>(body)
        .ok()
        .and_then(|c| c.usage)
        .map(|u| Usage::from_openai(&u))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_usage() {
        let body =
            br#"{"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#;
        assert_eq!(usage_of_completion(body), Usage { input_tokens: 9, output_tokens: 2, ..Usage::default() });
        assert_eq!(usage_of_completion(b"not json"), Usage::default());
    }
}
