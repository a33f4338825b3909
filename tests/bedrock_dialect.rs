//! End-to-end: Bedrock-dialect clients (Claude Code in Bedrock mode, the SDKs' Bedrock clients) talking to
//! gatehouse's `/bedrock/…` routes, with Anthropic- and OpenAI-format providers behind it (mock upstreams).

#[path = "common/bedrock_frames.rs"]
mod bedrock_frames;
mod common;

use bedrock_frames::{chunk_json, frames};
use common::dialects::post;
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
    // An inference-profile ARN holds a `/`: sent raw or encoded, it is one id.
    for arn in [
        "mock:arn:aws:bedrock:us-east-1:1:application-inference-profile/abc",
        "mock%3Aarn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aapplication-inference-profile%2Fabc",
    ] {
        assert_eq!(post(&gw, &path(arn, "invoke"), invoke_body(), &[]).await.status, 200);
        assert_eq!(mock.last().json()["model"], "arn:aws:bedrock:us-east-1:1:application-inference-profile/abc");
    }
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
    assert!(
        answer.json()["message"].as_str().unwrap().contains("/invoke-with-response-stream"),
        "names what is served"
    );
    for other in ["/bedrock/model//invoke", "/bedrock/models/x/invoke", "/bedrock/"] {
        let answer = post(&gw, other, invoke_body(), &[]).await;
        assert_eq!((answer.status, answer.header("x-amzn-errortype")), (404, Some("ResourceNotFoundException")));
    }
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

/// A mock Bedrock runtime: records each request; by operation (and the id) answers
/// - `invoke`: [`MESSAGE_JSON`]; an id containing `throttled`: 429 with `x-amzn-ErrorType`;
/// - `invoke-with-response-stream`: [`STREAM_EVENTS`] as `chunk` frames sent in 13-byte pieces; an id containing
///   `exception`: one chunk, then a `throttlingException` frame;
/// - `count-tokens`: `{"inputTokens":7}`.
mod bedrock_mock {
    use std::sync::{Arc, Mutex};

    use actix_web::dev::ServerHandle;
    use actix_web::{web, HttpRequest, HttpResponse};
    use bytes::Bytes;
    use gatehouse::cloud::eventstream::{encode_chunk, encode_exception};

    use super::common::{Recorded, MESSAGE_JSON, STREAM_EVENTS};

    pub struct BedrockMock {
        pub url: String,
        pub requests: Arc<Mutex<Vec<Recorded>>>,
        handle: ServerHandle,
    }

    impl BedrockMock {
        pub fn last(&self) -> Recorded {
            self.requests.lock().unwrap().last().cloned().expect("the mock received a request")
        }
    }

    impl Drop for BedrockMock {
        fn drop(&mut self) {
            drop(self.handle.stop(false));
        }
    }

    /// The frames the mock streams for a plain id.
    pub fn stream_frames() -> Vec<u8> {
        STREAM_EVENTS
            .iter()
            .flat_map(|e| encode_chunk(e.split_once("data: ").unwrap().1.trim_end().as_bytes()).to_vec())
            .collect()
    }

    pub fn start() -> BedrockMock {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let data = web::Data::new(requests.clone());
        let (url, handle) = crate::common::serve(move |app| {
            app.app_data(data.clone()).default_service(web::to(handle));
        });
        BedrockMock { url, requests, handle }
    }

    async fn handle(req: HttpRequest, body: Bytes, state: web::Data<Arc<Mutex<Vec<Recorded>>>>) -> HttpResponse {
        let headers =
            req.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
        // The path as sent (still percent-encoded), as a signature covers it.
        let path = req.uri().path().to_string();
        state.lock().unwrap().push(Recorded { path: path.clone(), headers, body });
        let eventstream = "application/vnd.amazon.eventstream";
        if path.ends_with("/invoke") {
            if path.contains("throttled") {
                return HttpResponse::TooManyRequests()
                    .insert_header((
                        "x-amzn-ErrorType",
                        "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                    ))
                    .insert_header(("x-amzn-RequestId", "req-1"))
                    .content_type("application/json")
                    .body(r#"{"message":"Too many requests, please wait before trying again."}"#);
            }
            return HttpResponse::Ok().content_type("application/json").body(MESSAGE_JSON);
        }
        if path.ends_with("/invoke-with-response-stream") {
            let frames = if path.contains("exception") {
                let mut out =
                    encode_chunk(br#"{"type":"message_start","message":{"usage":{"input_tokens":3}}}"#).to_vec();
                out.extend_from_slice(&encode_exception("throttlingException", "slow down"));
                out
            } else {
                stream_frames()
            };
            let pieces: Vec<Result<Bytes, actix_web::Error>> =
                frames.chunks(13).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
            return HttpResponse::Ok().content_type(eventstream).streaming(futures_util::stream::iter(pieces));
        }
        if path.ends_with("/count-tokens") {
            return HttpResponse::Ok().content_type("application/json").body(r#"{"inputTokens":7}"#);
        }
        HttpResponse::NotFound().body("no such operation")
    }
}

fn bedrock_gateway(bedrock: &bedrock_mock::BedrockMock, extra: &[(&str, &str)]) -> Gateway {
    let mut env = vec![
        ("BR_API_FORMAT", "bedrock"),
        ("BR_BASE_URL", bedrock.url.as_str()),
        ("BR_AWS_REGION", "us-east-1"),
        ("MAX_RETRIES", "0"),
    ];
    env.extend_from_slice(extra);
    start_gateway(&env)
}

#[actix_rt::test]
async fn a_bedrock_provider_gets_the_request_as_sent_and_its_frames_come_back_byte_for_byte() {
    let bedrock = bedrock_mock::start();
    let gw = bedrock_gateway(&bedrock, &[("BR_API_KEY", "bedrock-api-key")]);
    let client_signature = [
        ("authorization", "AWS4-HMAC-SHA256 Credential=CLIENTKEY/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0"),
        ("x-amz-date", "20250101T000000Z"),
        ("x-amz-security-token", "client-session"),
    ];
    for id in [SONNET.to_string(), SONNET.replace(':', "%3A")] {
        let answer = post(&gw, &path(&id, "invoke-with-response-stream"), invoke_body(), &client_signature).await;
        assert_eq!(answer.status, 200, "{id}");
        assert_eq!(answer.header("content-type"), Some("application/vnd.amazon.eventstream"));
        assert_eq!(answer.body, bedrock_mock::stream_frames(), "{id}: the frames as Bedrock sent them");
        let sent = bedrock.last();
        assert_eq!(sent.path, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream");
        assert_eq!(sent.body, invoke_body().as_bytes(), "the body as the client sent it");
        assert_eq!(sent.header("authorization"), Some("Bearer bedrock-api-key"), "the gateway's key, not the client's");
        assert!(sent.header("x-amz-security-token").is_none() && sent.header("x-amz-date").is_none());
    }
    let answer = post(&gw, &path(SONNET, "invoke"), invoke_body(), &[]).await;
    assert_eq!((answer.status, answer.body.as_ref()), (200, MESSAGE_JSON.as_bytes()));
    assert!(bedrock.last().path.ends_with("/invoke"));
}

#[actix_rt::test]
async fn a_bedrock_providers_errors_and_exceptions_are_relayed() {
    let bedrock = bedrock_mock::start();
    let gw = bedrock_gateway(&bedrock, &[("BR_API_KEY", "k")]);
    let answer = post(&gw, &path("br:throttled-model", "invoke"), invoke_body(), &[]).await;
    assert_eq!(answer.status, 429);
    assert!(answer.header("x-amzn-errortype").unwrap().starts_with("ThrottlingException"));
    assert_eq!(answer.json()["message"], "Too many requests, please wait before trying again.");
    assert_eq!(bedrock.last().path, "/model/throttled-model/invoke", "the provider prefix is the gateway's");

    let answer = post(&gw, &path("br:exception-model", "invoke-with-response-stream"), invoke_body(), &[]).await;
    let events = frames(&answer.body);
    assert_eq!(events.len(), 2);
    assert_eq!(events[1], BedrockEvent::Exception { kind: "throttlingException".into(), message: "slow down".into() });
}

#[actix_rt::test]
async fn a_bedrock_provider_signs_with_the_gateways_aws_keys_and_counts_tokens() {
    use base64::Engine;
    let bedrock = bedrock_mock::start();
    let gw = bedrock_gateway(
        &bedrock,
        &[("BR_AWS_ACCESS_KEY_ID", "AKIDGATEWAY"), ("BR_AWS_SECRET_ACCESS_KEY", "gateway-secret")],
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(invoke_body());
    let request = json!({"input": {"invokeModel": {"body": encoded}}}).to_string();
    let answer = post(
        &gw,
        &path(SONNET, "count-tokens"),
        request.clone(),
        &[("authorization", "AWS4-HMAC-SHA256 Credential=CLIENT/x")],
    )
    .await;
    assert_eq!((answer.status, answer.json()), (200, json!({"inputTokens": 7})));
    let sent = bedrock.last();
    assert_eq!(sent.body, request.as_bytes());
    let authorization = sent.header("authorization").unwrap();
    assert!(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDGATEWAY/"), "{authorization}");
    assert!(sent.header("x-amz-date").is_some());
}

#[actix_rt::test]
async fn the_first_bedrock_provider_is_the_dialects_default() {
    // With a Bedrock-format provider configured, it is the Bedrock dialect's default.
    let bedrock = bedrock_mock::start();
    let gw = bedrock_gateway(&bedrock, &[("BR_API_KEY", "k")]);
    assert_eq!(post(&gw, &path(SONNET, "invoke"), invoke_body(), &[]).await.status, 200);
    assert!(bedrock.last().path.starts_with("/model/us.anthropic."));
}

#[actix_rt::test]
async fn a_bedrock_client_reaches_a_vertex_provider_through_anthropic_events() {
    // The common mock answers Anthropic JSON and SSE on any path, as Vertex does.
    let mock = start_mock();
    let gw = start_gateway(&[
        ("VX_API_FORMAT", "vertex"),
        ("VX_BASE_URL", mock.url.as_str()),
        ("VX_VERTEX_PROJECT", "p"),
        ("VX_VERTEX_REGION", "us-east5"),
        ("VX_API_KEY", "token"),
        ("BEDROCK_DEFAULT_PROVIDER", "vx"),
    ]);
    let answer =
        post(&gw, &path("claude-sonnet-4-5@20250929", "invoke-with-response-stream"), invoke_body(), &[]).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let got: Vec<Value> = frames(&answer.body).iter().map(chunk_json).collect();
    let expected: Vec<Value> =
        STREAM_EVENTS.iter().map(|e| serde_json::from_str(e.split_once("data: ").unwrap().1.trim()).unwrap()).collect();
    assert_eq!(got, expected);
    let sent = mock.last();
    assert_eq!(
        sent.path,
        "/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict"
    );
    let body = sent.json();
    assert_eq!(body["anthropic_version"], "vertex-2023-10-16", "converting sets the target format's version");
    assert_eq!(body["stream"], true);
    assert!(body.get("model").is_none() && body.get("anthropic_beta").is_none(), "{body}");
    assert_eq!(sent.header("anthropic-beta"), Some("interleaved-thinking-2025-05-14"));
}

#[actix_rt::test]
async fn a_vertex_client_reaches_a_bedrock_provider_through_anthropic_events() {
    let bedrock = bedrock_mock::start();
    let gw = bedrock_gateway(&bedrock, &[("BR_API_KEY", "k"), ("VERTEX_DEFAULT_PROVIDER", "br")]);
    let models = "/vertex/v1/projects/p/locations/r/publishers/anthropic/models";
    let body = json!({"anthropic_version": "vertex-2023-10-16", "stream": true, "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hi"}]})
    .to_string();
    let answer = post(&gw, &format!("{models}/{SONNET}:streamRawPredict"), body, &[("anthropic-beta", "b-1")]).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    for event in STREAM_EVENTS.iter().filter(|e| !e.starts_with("event: ping")) {
        let data = event.split_once("data: ").unwrap().1.trim_end();
        assert!(text.contains(data), "{data} in {text}");
    }
    let sent = bedrock.last();
    assert_eq!(sent.path, "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream");
    let sent = sent.json();
    assert_eq!(sent["anthropic_version"], "bedrock-2023-05-31", "converting sets the target format's version");
    assert_eq!(sent["anthropic_beta"], json!(["b-1"]));
    assert!(sent.get("model").is_none() && sent.get("stream").is_none(), "{sent}");
}

/// `/metrics/summary` once it has counted `requests` requests (records arrive asynchronously).
async fn summary_after(gw: &Gateway, requests: u64) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut res = client().get(format!("{}/metrics/summary", gw.url)).send().await.unwrap();
        let summary: Value = serde_json::from_slice(&res.body().limit(1 << 22).await.unwrap()).unwrap();
        if summary["totals"]["requests"] == requests {
            return summary;
        }
        assert!(std::time::Instant::now() < deadline, "summary never reached {requests} requests: {summary}");
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[actix_rt::test]
async fn dialect_requests_are_counted_with_their_route_and_tokens() {
    let mock = start_mock();
    let gw = with_default(&mock);
    assert_eq!(post(&gw, &path(SONNET, "invoke-with-response-stream"), invoke_body(), &[]).await.status, 200);
    let s = summary_after(&gw, 1).await;
    assert_eq!(s["routes"]["bedrock_invoke_stream"]["requests"], 1, "{s}");
    let model = &s["models"][format!("mock:{SONNET}")];
    assert_eq!((model["input_tokens"].as_u64(), model["output_tokens"].as_u64()), (Some(30), Some(12)), "{s}");

    // Relayed byte for byte from a Bedrock provider: the usage is read from the frames on the side.
    let bedrock = bedrock_mock::start();
    let gw = bedrock_gateway(&bedrock, &[("BR_API_KEY", "k")]);
    assert_eq!(post(&gw, &path(SONNET, "invoke-with-response-stream"), invoke_body(), &[]).await.status, 200);
    let s = summary_after(&gw, 1).await;
    let model = &s["models"][format!("br:{SONNET}")];
    assert_eq!((model["input_tokens"].as_u64(), model["output_tokens"].as_u64()), (Some(30), Some(12)), "{s}");
    assert_eq!(model["errors"], 0, "{s}");
}
