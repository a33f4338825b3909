//! End-to-end: Bedrock-dialect clients (Claude Code in Bedrock mode, the SDKs' Bedrock clients) talking to
//! gatehouse's `/bedrock/…` routes, with Anthropic- and OpenAI-format providers behind it (mock upstreams).

#[path = "common/bedrock_frames.rs"]
mod bedrock_frames;
mod common;

use bedrock_frames::{chunk_json, frames};
use common::keys::create_key;
use common::*;
use gatehouse::cloud::eventstream::BedrockEvent;
use serde_json::{json, Value};

const SONNET: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

/// A gateway with an Anthropic-format mock (`mock`, the Bedrock default provider) and an OpenAI-format one (`oai`).
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
    gateway(mock, &[("BEDROCK_DEFAULT_PROVIDER", "mock")])
}

/// An InvokeModel body as Claude Code sends it: no `model`, no `stream`, Bedrock's version and betas in the body.
fn invoke_body() -> String {
    json!({"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": ["interleaved-thinking-2025-05-14"],
        "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}], "system": "be brief"})
    .to_string()
}

struct Answer {
    status: u16,
    headers: actix_web::http::header::HeaderMap,
    body: bytes::Bytes,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("JSON body: {:?}", self.body))
    }
}

async fn post(gw: &Gateway, path: &str, body: String, headers: &[(&str, &str)]) -> Answer {
    let mut request = client().post(format!("{}{path}", gw.url));
    for (k, v) in headers {
        request = request.insert_header((*k, *v));
    }
    let mut res = request.send_body(body).await.unwrap();
    let body = res.body().limit(1 << 24).await.unwrap();
    Answer { status: res.status().as_u16(), headers: res.headers().clone(), body }
}

fn path(id: &str, action: &str) -> String {
    format!("/bedrock/model/{id}/{action}")
}

#[actix_rt::test]
async fn invoke_reaches_an_anthropic_provider_as_a_messages_request() {
    let mock = start_mock();
    let gw = with_default(&mock);
    let signed = [
        ("authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=abc"),
        ("x-amz-date", "20250101T000000Z"),
        ("x-amz-security-token", "session"),
        ("x-amz-content-sha256", "e3b0"),
        ("anthropic-beta", "claude-code-20250219"),
        ("x-app", "cli"),
    ];
    for id in [SONNET.to_string(), SONNET.replace(':', "%3A")] {
        let answer = post(&gw, &path(&id, "invoke"), invoke_body(), &signed).await;
        assert_eq!(answer.status, 200, "{id}: {:?}", answer.body);
        assert_eq!(answer.body, MESSAGE_JSON.as_bytes(), "the message JSON is Bedrock's answer as it is");
        let sent = mock.last();
        assert_eq!(sent.path, "/v1/messages");
        assert_eq!(
            sent.json(),
            json!({"model": SONNET, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}], "system": "be brief"}),
            "{id}: model from the path, Bedrock's own members out"
        );
        assert_eq!(sent.header("anthropic-beta"), Some("claude-code-20250219,interleaved-thinking-2025-05-14"));
        assert_eq!(sent.header("x-api-key"), Some("provider-key"));
        assert_eq!(sent.header("x-app"), Some("cli"));
        assert!(sent.header("authorization").is_none(), "the client's AWS signature is never forwarded");
        assert!(sent.headers.iter().all(|(k, _)| !k.starts_with("x-amz-")), "{:?}", sent.headers);
    }
}

#[actix_rt::test]
async fn streams_are_event_stream_frames_carrying_the_upstream_events() {
    let mock = start_mock();
    let gw = with_default(&mock);
    let answer = post(&gw, &path(SONNET, "invoke-with-response-stream"), invoke_body(), &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/vnd.amazon.eventstream"));
    assert_eq!(mock.last().json()["stream"], true);
    let events = frames(&answer.body);
    let expected: Vec<Value> =
        STREAM_EVENTS.iter().map(|e| serde_json::from_str(e.split_once("data: ").unwrap().1.trim()).unwrap()).collect();
    let got: Vec<Value> = events.iter().map(chunk_json).collect();
    assert_eq!(got, expected, "one chunk per upstream event, in order (pings included)");
    // The exact bytes of each event, not only its meaning.
    let BedrockEvent::Chunk(first) = &events[0] else { panic!("{:?}", events[0]) };
    assert_eq!(first.as_ref(), STREAM_EVENTS[0].split_once("data: ").unwrap().1.trim_end().as_bytes());
}

#[actix_rt::test]
async fn a_mid_stream_error_is_an_exception_frame_and_the_end() {
    let mock = start_mock();
    let gw = with_default(&mock);
    let answer =
        post(&gw, &path("mock:fixture-mid_stream_error", "invoke-with-response-stream"), invoke_body(), &[]).await;
    assert_eq!(answer.status, 200);
    let events = frames(&answer.body);
    assert_eq!(events.len(), 5, "{events:?}");
    assert!(events[..4].iter().all(|e| matches!(e, BedrockEvent::Chunk(_))));
    assert_eq!(
        events[4],
        BedrockEvent::Exception { kind: "serviceUnavailableException".into(), message: "Overloaded".into() }
    );
}

#[actix_rt::test]
async fn an_openai_provider_answers_in_bedrocks_shapes() {
    let mock = start_mock();
    let gw = with_default(&mock);
    let answer = post(&gw, &path("oai:fixture-text", "invoke"), invoke_body(), &[]).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let message = answer.json();
    assert_eq!((message["type"].as_str(), message["role"].as_str()), (Some("message"), Some("assistant")));
    assert_eq!(message["model"], "oai:fixture-text", "the id the client asked for");
    let sent = mock.last();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.json()["model"], "fixture-text");
    assert_eq!(sent.header("authorization"), Some("Bearer oai-key"));

    let answer = post(&gw, &path("oai:fixture-text", "invoke-with-response-stream"), invoke_body(), &[]).await;
    assert_eq!(answer.status, 200);
    let types: Vec<String> =
        frames(&answer.body).iter().map(|e| chunk_json(e)["type"].as_str().unwrap().to_string()).collect();
    assert_eq!(types.first().map(String::as_str), Some("message_start"));
    assert_eq!(types.last().map(String::as_str), Some("message_stop"));
    assert!(types.iter().any(|t| t == "content_block_delta"), "{types:?}");
}

#[actix_rt::test]
async fn ids_route_by_alias_then_provider_prefix_then_the_default_provider() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("MOCK_ALIAS_SONNET", "sonnet-routed")]);
    assert_eq!(post(&gw, &path(SONNET, "invoke"), invoke_body(), &[]).await.status, 200);
    assert_eq!(mock.last().json()["model"], "sonnet-routed", "an alias matched inside the Bedrock id");
    assert_eq!(post(&gw, &path("mock:us.anthropic.x-v1:0", "invoke"), invoke_body(), &[]).await.status, 200);
    assert_eq!(mock.last().json()["model"], "us.anthropic.x-v1:0", "a provider prefix keeps the rest whole");
    let answer = post(&gw, &path("us.anthropic.claude-haiku-4-5-20251001-v1:0", "invoke"), invoke_body(), &[]).await;
    assert_eq!(answer.status, 404, "no default provider for Bedrock ids");
    assert_eq!(answer.header("x-amzn-errortype"), Some("ResourceNotFoundException"));
    assert!(answer.json()["message"].as_str().unwrap().contains("BEDROCK_DEFAULT_PROVIDER"), "{:?}", answer.body);

    let gw = with_default(&mock);
    assert_eq!(
        post(&gw, &path("us.anthropic.claude-haiku-4-5-20251001-v1:0", "invoke"), invoke_body(), &[]).await.status,
        200
    );
    assert_eq!(mock.last().json()["model"], "us.anthropic.claude-haiku-4-5-20251001-v1:0");
}

#[actix_rt::test]
async fn fallbacks_apply_to_the_dialect_routes() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("MOCK_ALIAS_SONNET", "fail-99-503, oai:fixture-text")]);
    let answer = post(&gw, &path(SONNET, "invoke"), invoke_body(), &[]).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.header("x-gatehouse-target"), Some("oai:fixture-text"));
}

#[actix_rt::test]
async fn gateway_keys_are_asked_for_in_the_dialect() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("BEDROCK_DEFAULT_PROVIDER", "mock"), ("PROXY_API_KEY", "gw-key")]);
    let sigv4 = (
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0",
    );
    for headers in [&[][..], &[sigv4]] {
        let answer = post(&gw, &path(SONNET, "invoke"), invoke_body(), headers).await;
        assert_eq!(answer.status, 401, "{headers:?}");
        assert_eq!(answer.header("x-amzn-errortype"), Some("UnrecognizedClientException"));
        assert!(answer.json()["message"].as_str().unwrap().contains("proxy key"), "{:?}", answer.body);
    }
    // AWS_BEARER_TOKEN_BEDROCK=<gateway key>: Claude Code sends it as a bearer.
    let answer = post(&gw, &path(SONNET, "invoke"), invoke_body(), &[("authorization", "Bearer gw-key")]).await;
    assert_eq!(answer.status, 200);
    assert!(mock.last().header("authorization").is_none());

    // Without a proxy key, a SigV4 signature is no key at all: served.
    let open = with_default(&mock);
    assert_eq!(post(&open, &path(SONNET, "invoke"), invoke_body(), &[sigv4]).await.status, 200);
}

#[actix_rt::test]
async fn virtual_keys_work_on_the_dialect_routes() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("BEDROCK_DEFAULT_PROVIDER", "mock"), ("ADMIN_API_KEY", common::admin::ADMIN_KEY)]);
    let (_, secret) = create_key(&gw.url, json!({"name": "bedrock-user", "models": ["mock:*"]})).await;
    let bearer = format!("Bearer {secret}");
    let answer = post(&gw, &path(SONNET, "invoke"), invoke_body(), &[("authorization", bearer.as_str())]).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let answer =
        post(&gw, &path("oai:fixture-text", "invoke"), invoke_body(), &[("authorization", bearer.as_str())]).await;
    assert_eq!(answer.status, 403, "outside the key's models");
    assert_eq!(answer.header("x-amzn-errortype"), Some("AccessDeniedException"));
    let answer = post(&gw, &path(SONNET, "invoke"), invoke_body(), &[("authorization", "Bearer gh_unknown")]).await;
    assert_eq!(answer.status, 401);
}

#[actix_rt::test]
async fn errors_are_written_in_bedrocks_shape() {
    let mock = start_mock();
    let gw = with_default(&mock);
    let answer = post(&gw, &path("mock:error-429", "invoke"), invoke_body(), &[]).await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("x-amzn-errortype"), Some("ThrottlingException"));
    assert_eq!(answer.header("retry-after"), Some("7"));
    assert_eq!(answer.json(), json!({"message": "mock upstream says 429"}));

    let answer = post(&gw, &path("mock:error-429", "invoke-with-response-stream"), invoke_body(), &[]).await;
    assert_eq!((answer.status, answer.header("x-amzn-errortype")), (429, Some("ThrottlingException")));

    let missing = json!({"messages": [{"role": "user", "content": "Hi"}]}).to_string();
    let answer = post(&gw, &path(SONNET, "invoke"), missing, &[]).await;
    assert_eq!((answer.status, answer.header("x-amzn-errortype")), (400, Some("ValidationException")));
    assert!(answer.json()["message"].as_str().unwrap().starts_with("max_tokens:"));

    let answer = post(&gw, &path(SONNET, "invoke"), "{".into(), &[]).await;
    assert_eq!((answer.status, answer.header("x-amzn-errortype")), (400, Some("ValidationException")));

    let answer = post(&gw, &path(SONNET, "converse"), invoke_body(), &[]).await;
    assert_eq!((answer.status, answer.header("x-amzn-errortype")), (404, Some("ResourceNotFoundException")));
    assert!(answer.json()["message"].is_string());
}

#[actix_rt::test]
async fn count_tokens_unwraps_the_invoke_body() {
    use base64::Engine;
    let mock = start_mock();
    let gw = with_default(&mock);
    let encoded = base64::engine::general_purpose::STANDARD.encode(invoke_body());
    let request = json!({"input": {"invokeModel": {"body": encoded}}}).to_string();
    let answer = post(&gw, &path(SONNET, "count-tokens"), request.clone(), &[]).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.json(), json!({"inputTokens": 42}));
    let sent = mock.last();
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    assert_eq!(
        sent.json(),
        json!({"model": SONNET, "messages": [{"role": "user", "content": "Hi"}], "system": "be brief"})
    );

    let answer = post(&gw, &path("oai:gpt-4o", "count-tokens"), request, &[]).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(answer.json()["inputTokens"].as_u64().unwrap() > 0, "the local estimate");
}

#[actix_rt::test]
async fn inference_profiles_are_an_empty_list() {
    let mock = start_mock();
    let gw = with_default(&mock);
    let mut res =
        client().get(format!("{}/bedrock/inference-profiles?type=SYSTEM_DEFINED", gw.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
    assert_eq!(body, json!({"inferenceProfileSummaries": []}));
    assert_eq!(mock.hits(), 0);
}
