//! End-to-end: Vertex-dialect clients (Claude Code in Vertex mode, the SDKs' Vertex clients) talking to
//! gatehouse's `/vertex/…` routes, with Anthropic- and OpenAI-format providers behind it (mock upstreams).

mod common;

use common::dialects::post;
use common::keys::create_key;
use common::*;
use serde_json::json;

const MODELS: &str = "/vertex/v1/projects/my-project/locations/us-east5/publishers/anthropic/models";

fn gateway(mock: &MockUpstream, extra: &[(&str, &str)]) -> Gateway {
    let base = format!("{}/v1", mock.url);
    let mut env = vec![
        ("MOCK_API_KEY", "provider-key"),
        ("MOCK_BASE_URL", mock.url.as_str()),
        ("MOCK_API_FORMAT", "anthropic"),
        ("OAI_API_KEY", "oai-key"),
        ("OAI_BASE_URL", base.as_str()),
        ("OAI_API_FORMAT", "openai"),
        ("MAX_RETRIES", "0"),
    ];
    env.extend_from_slice(extra);
    start_gateway(&env)
}

fn with_default(mock: &MockUpstream) -> Gateway {
    gateway(mock, &[("VERTEX_DEFAULT_PROVIDER", "mock")])
}

/// A rawPredict body as Claude Code sends it: no `model`, `stream` kept, Vertex's version in the body.
fn predict_body(stream: bool) -> String {
    json!({"anthropic_version": "vertex-2023-10-16", "stream": stream, "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hi"}]})
    .to_string()
}

#[actix_rt::test]
async fn raw_predict_reaches_an_anthropic_provider_as_a_messages_request() {
    let mock = start_mock();
    let gw = with_default(&mock);
    let headers = [("anthropic-beta", "claude-code-20250219"), ("x-goog-user-project", "p"), ("x-app", "cli")];
    let answer =
        post(&gw, &format!("{MODELS}/claude-sonnet-4-5@20250929:rawPredict"), predict_body(false), &headers).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body, MESSAGE_JSON.as_bytes(), "Anthropic's answer is Vertex's");
    let sent = mock.last();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(
        sent.json(),
        json!({"model": "claude-sonnet-4-5@20250929", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]})
    );
    assert_eq!(sent.header("anthropic-beta"), Some("claude-code-20250219"));
    assert_eq!(sent.header("x-app"), Some("cli"));
    assert!(sent.header("x-goog-user-project").is_none());
}

#[actix_rt::test]
async fn stream_raw_predict_relays_the_anthropic_stream_byte_for_byte() {
    let mock = start_mock();
    let gw = with_default(&mock);
    for (id, method) in [("claude-sonnet-4-5@20250929", "streamRawPredict"), ("mock:claude%3Ax", "streamRawPredict")] {
        let answer = post(&gw, &format!("{MODELS}/{id}:{method}"), predict_body(true), &[]).await;
        assert_eq!(answer.status, 200, "{id}");
        assert!(answer.header("content-type").unwrap().starts_with("text/event-stream"));
        assert_eq!(answer.body, stream_body().as_bytes(), "{id}");
        assert_eq!(mock.last().json()["stream"], true);
    }
    assert_eq!(mock.last().json()["model"], "claude:x", "a provider prefix and %3A decoded");
}

#[actix_rt::test]
async fn an_openai_provider_is_converted() {
    let mock = start_mock();
    let gw = with_default(&mock);
    let answer = post(&gw, &format!("{MODELS}/oai:fixture-text:streamRawPredict"), predict_body(true), &[]).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    assert!(text.starts_with("event: message_start\n") && text.contains("event: message_stop"), "{text}");
    assert_eq!(mock.last().path, "/v1/chat/completions");
    assert_eq!(mock.last().json()["model"], "fixture-text");
}

#[actix_rt::test]
async fn ids_without_a_provider_need_the_default() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("MOCK_ALIAS_SONNET", "sonnet-routed")]);
    let answer = post(&gw, &format!("{MODELS}/claude-sonnet-4-5@20250929:rawPredict"), predict_body(false), &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(mock.last().json()["model"], "sonnet-routed");
    let answer = post(&gw, &format!("{MODELS}/claude-haiku-4-5@20251001:rawPredict"), predict_body(false), &[]).await;
    assert_eq!(answer.status, 404);
    assert_eq!(error_type(&answer.body), "not_found_error");
    assert!(answer.json()["error"]["message"].as_str().unwrap().contains("VERTEX_DEFAULT_PROVIDER"));
}

#[actix_rt::test]
async fn errors_are_anthropic_envelopes_and_keys_are_asked_for() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("VERTEX_DEFAULT_PROVIDER", "mock"), ("PROXY_API_KEY", "gw-key")]);
    let path = format!("{MODELS}/claude-x:rawPredict");
    let answer = post(&gw, &path, predict_body(false), &[]).await;
    assert_eq!((answer.status, error_type(&answer.body).as_str()), (401, "authentication_error"));
    // ANTHROPIC_AUTH_TOKEN=<gateway key>: Claude Code sends it as a bearer.
    let answer = post(&gw, &path, predict_body(false), &[("authorization", "Bearer gw-key")]).await;
    assert_eq!(answer.status, 200);
    let answer =
        post(&gw, &format!("{MODELS}/mock:error-429:rawPredict"), predict_body(false), &[("x-api-key", "gw-key")])
            .await;
    assert_eq!((answer.status, answer.header("retry-after")), (429, Some("7")));
    let answer =
        post(&gw, &format!("{MODELS}/claude-x:predict"), predict_body(false), &[("x-api-key", "gw-key")]).await;
    assert_eq!((answer.status, error_type(&answer.body).as_str()), (404, "not_found_error"));
    let answer = post(&gw, &path, json!({"messages": [1]}).to_string(), &[("x-api-key", "gw-key")]).await;
    assert_eq!((answer.status, error_type(&answer.body).as_str()), (400, "invalid_request_error"));
}

#[actix_rt::test]
async fn virtual_keys_work_on_the_dialect_routes() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("VERTEX_DEFAULT_PROVIDER", "mock"), ("ADMIN_API_KEY", common::admin::ADMIN_KEY)]);
    let (_, secret) = create_key(&gw.url, json!({"name": "vertex-user", "models": ["mock:*"]})).await;
    let bearer = format!("Bearer {secret}");
    let path = format!("{MODELS}/claude-x:rawPredict");
    assert_eq!(post(&gw, &path, predict_body(false), &[("authorization", bearer.as_str())]).await.status, 200);
    let answer = post(&gw, &path, predict_body(false), &[]).await;
    assert_eq!((answer.status, error_type(&answer.body).as_str()), (401, "authentication_error"));
}

#[actix_rt::test]
async fn count_tokens_takes_the_model_from_the_body() {
    let mock = start_mock();
    let gw = with_default(&mock);
    let body = json!({"anthropic_version": "vertex-2023-10-16", "model": "claude-x@1",
        "messages": [{"role": "user", "content": "Hi"}]});
    let answer = post(&gw, &format!("{MODELS}/count-tokens:rawPredict"), body.to_string(), &[]).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.json(), json!({"input_tokens": 42}));
    let sent = mock.last();
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    assert_eq!(sent.json(), json!({"model": "claude-x@1", "messages": [{"role": "user", "content": "Hi"}]}));
}

#[actix_rt::test]
async fn a_vertex_provider_gets_the_request_as_sent_and_its_stream_comes_back_byte_for_byte() {
    let mock = start_mock();
    let gw = start_gateway(&[
        ("VX_API_FORMAT", "vertex"),
        ("VX_BASE_URL", mock.url.as_str()),
        ("VX_VERTEX_PROJECT", "gw-project"),
        ("VX_VERTEX_REGION", "europe-west1"),
        ("VX_API_KEY", "gateway-token"),
    ]);
    // A client's own Google token (the gateway has no proxy key) never reaches a provider with the gateway's token.
    let client_token = [("authorization", "Bearer ya29.client-google-token")];
    let answer =
        post(&gw, &format!("{MODELS}/claude-sonnet-4-5@20250929:streamRawPredict"), predict_body(true), &client_token)
            .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body, stream_body().as_bytes());
    let sent = mock.last();
    assert_eq!(
        sent.path,
        "/projects/gw-project/locations/europe-west1/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
    );
    assert_eq!(sent.body, predict_body(true).as_bytes(), "the body as the client sent it");
    assert_eq!(sent.header("authorization"), Some("Bearer gateway-token"));

    let count = json!({"anthropic_version": "vertex-2023-10-16", "model": "claude-x@1", "messages": [1]});
    let answer = post(&gw, &format!("{MODELS}/count-tokens:rawPredict"), count.to_string(), &[]).await;
    assert_eq!(answer.status, 200);
    let sent = mock.last();
    assert_eq!(
        sent.path,
        "/projects/gw-project/locations/europe-west1/publishers/anthropic/models/count-tokens:rawPredict"
    );
    assert_eq!(sent.body, count.to_string().as_bytes());
}
