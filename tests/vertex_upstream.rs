//! End-to-end: a `vertex` provider behind the Anthropic routes, against an in-process mock Vertex AI endpoint
//! that accepts only the access tokens a test says are valid, and a mock OAuth token endpoint that verifies the
//! service account's JWT (RS256, with the test key's public half) before issuing short-lived tokens. Covers the
//! body and URL mapping, SSE relayed byte for byte, Google errors, a token command's cache and its refresh after
//! a 401, and the service-account flow with expiry.
//!
//! `tests/fixtures/cloud/test_service_account_key.pem` is an RSA key generated for these tests only.

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use common::{client, error_type, start_gateway, Gateway, MESSAGE_JSON, STREAM_EVENTS};

#[derive(Default)]
struct VertexState {
    seen: Mutex<Vec<Seen>>,
    /// Access tokens the mock accepts.
    valid_tokens: Mutex<Vec<String>>,
    /// Tokens issued by the mock token endpoint, in order.
    issued: Mutex<Vec<String>>,
    /// `expires_in` of issued tokens.
    token_life: Mutex<u64>,
}

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
    body: Bytes,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

struct MockVertex {
    url: String,
    state: Arc<VertexState>,
    handle: ServerHandle,
}

impl Drop for MockVertex {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl MockVertex {
    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
    fn last(&self) -> Seen {
        self.seen().pop().expect("vertex received a request")
    }
    fn accept_only(&self, token: &str) {
        *self.state.valid_tokens.lock().unwrap() = vec![token.to_string()];
    }
    fn issued(&self) -> Vec<String> {
        self.state.issued.lock().unwrap().clone()
    }
}

fn start_vertex() -> MockVertex {
    let state = Arc::new(VertexState { token_life: Mutex::new(3600), ..Default::default() });
    let data = web::Data::from(state.clone());
    let (url, handle) = common::serve(move |app| {
        app.app_data(data.clone()).route("/token", web::post().to(token_endpoint)).default_service(web::to(vertex));
    });
    MockVertex { url, state, handle }
}

const PREFIX: &str = "/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models/";

async fn vertex(req: HttpRequest, body: Bytes, state: web::Data<VertexState>) -> HttpResponse {
    let headers = req.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let path = req.uri().path().to_string();
    state.seen.lock().unwrap().push(Seen { path: path.clone(), headers, body: body.clone() });
    let token =
        req.headers().get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if !token.is_some_and(|t| state.valid_tokens.lock().unwrap().iter().any(|v| v == t)) {
        return HttpResponse::Unauthorized().content_type("application/json").body(
            r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#,
        );
    }
    let Some((model, method)) = path.strip_prefix(PREFIX).and_then(|rest| rest.rsplit_once(':')) else {
        return HttpResponse::NotFound().body("not a publisher model path");
    };
    match (model, method) {
        ("count-tokens", "rawPredict") => {
            HttpResponse::Ok().content_type("application/json").body(r#"{"input_tokens":23}"#)
        }
        ("overloaded", _) => HttpResponse::build(actix_web::http::StatusCode::from_u16(529).unwrap())
            .content_type("application/json")
            .body(r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#),
        ("quota", _) => HttpResponse::TooManyRequests().content_type("application/json").body(
            r#"{"error":{"code":429,"message":"Quota exceeded for aiplatform.googleapis.com","status":"RESOURCE_EXHAUSTED"}}"#,
        ),
        (_, "rawPredict") => HttpResponse::Ok().content_type("application/json").body(MESSAGE_JSON),
        (_, "streamRawPredict") => {
            let chunks = STREAM_EVENTS.iter().map(|e| Ok::<_, actix_web::Error>(Bytes::from_static(e.as_bytes())));
            HttpResponse::Ok().content_type("text/event-stream").streaming(futures_util::stream::iter(chunks))
        }
        _ => HttpResponse::NotFound().finish(),
    }
}

/// The OAuth token endpoint: verifies the JWT-bearer assertion, then issues `sa-token-<n>`.
async fn token_endpoint(form: web::Form<Vec<(String, String)>>, state: web::Data<VertexState>) -> HttpResponse {
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
    if field("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
        return HttpResponse::BadRequest().json(serde_json::json!({"error": "unsupported_grant_type"}));
    }
    let public = std::fs::read(fixture("test_service_account_pub.pem")).unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    let audience = format!("{}/token", state_url(&state));
    validation.set_audience(&[audience.as_str()]);
    validation.set_issuer(&["gatehouse-test@proj-1.iam.gserviceaccount.com"]);
    let claims = match jsonwebtoken::decode::<serde_json::Value>(&field("assertion"), &key, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            return HttpResponse::BadRequest()
                .json(serde_json::json!({"error": "invalid_grant", "error_description": e.to_string()}))
        }
    };
    if claims["scope"] != "https://www.googleapis.com/auth/cloud-platform"
        || claims["exp"].as_u64() != claims["iat"].as_u64().map(|iat| iat + 3600)
    {
        return HttpResponse::BadRequest().json(serde_json::json!({"error": "invalid_scope"}));
    }
    let mut issued = state.issued.lock().unwrap();
    let token = format!("sa-token-{}", issued.len() + 1);
    issued.push(token.clone());
    state.valid_tokens.lock().unwrap().push(token.clone());
    let life = *state.token_life.lock().unwrap();
    HttpResponse::Ok().json(serde_json::json!({"access_token": token, "expires_in": life, "token_type": "Bearer"}))
}

/// The mock's own URL, as the service-account file names it (kept in the valid-tokens list's first slot).
fn state_url(state: &VertexState) -> String {
    state.valid_tokens.lock().unwrap().first().cloned().unwrap_or_default()
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloud").join(name)
}

fn temp_file(name: &str, content: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let path = std::env::temp_dir().join(format!("gatehouse-vertex-{}-{nanos}-{name}", std::process::id()));
    std::fs::write(&path, content).unwrap();
    path
}

fn gateway(mock: &MockVertex, credentials: &[(&str, &str)]) -> Gateway {
    let base = format!("{}/v1", mock.url);
    let mut env = vec![
        ("VX_API_FORMAT", "vertex"),
        ("VX_BASE_URL", base.as_str()),
        ("ANTHROPIC_VERTEX_PROJECT_ID", "proj-1"),
        ("CLOUD_ML_REGION", "us-east5"),
        ("MAX_RETRIES", "0"),
    ];
    env.extend_from_slice(credentials);
    start_gateway(&env)
}

async fn post(gw: &Gateway, path: &str, body: String) -> (u16, Bytes) {
    let mut res = client()
        .post(format!("{}{path}", gw.url))
        .insert_header(("x-api-key", "client-key-never-forwarded"))
        .insert_header(("anthropic-beta", "interleaved-thinking-2025-05-14"))
        .send_body(body)
        .await
        .unwrap();
    (res.status().as_u16(), res.body().limit(1 << 20).await.unwrap())
}

fn request(model: &str, stream: bool) -> String {
    common::body(model, stream)
}

#[actix_rt::test]
async fn messages_and_streams_are_mapped_and_relayed_byte_for_byte() {
    let mock = start_vertex();
    mock.accept_only("static-token");
    let gw = gateway(&mock, &[("VX_API_KEY", "static-token")]);

    let (status, body) = post(&gw, "/v1/messages", request("vx:claude-sonnet-4-5@20250929", false)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, Bytes::from_static(MESSAGE_JSON.as_bytes()));
    let seen = mock.last();
    assert_eq!(seen.path, format!("{PREFIX}claude-sonnet-4-5@20250929:rawPredict"));
    assert_eq!(seen.header("authorization"), Some("Bearer static-token"));
    assert_eq!(seen.header("x-api-key"), None, "the client's key never goes to Vertex");
    assert_eq!(seen.header("anthropic-beta"), Some("interleaved-thinking-2025-05-14"), "betas stay a header");
    let sent = seen.json();
    assert_eq!(sent["anthropic_version"], "vertex-2023-10-16");
    assert!(sent.get("model").is_none(), "{sent}");
    assert_eq!(sent["stream"], false, "stream is kept");

    let (status, body) = post(&gw, "/v1/messages", request("vx:claude-sonnet-4-5@20250929", true)).await;
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8(body.to_vec()).unwrap(), STREAM_EVENTS.concat(), "SSE relayed byte for byte");
    let seen = mock.last();
    assert_eq!(seen.path, format!("{PREFIX}claude-sonnet-4-5@20250929:streamRawPredict"));
    assert_eq!(seen.json()["stream"], true);
}

#[actix_rt::test]
async fn count_tokens_keeps_the_model_in_the_body() {
    let mock = start_vertex();
    mock.accept_only("t");
    let gw = gateway(&mock, &[("VX_API_KEY", "t"), ("VX_ALIAS_SONNET", "claude-sonnet-4-5@20250929")]);
    let body = serde_json::json!({"model": "vx:sonnet", "messages": [{"role": "user", "content": "Hi"}]});
    let (status, answer) = post(&gw, "/v1/messages/count_tokens", body.to_string()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(answer, Bytes::from_static(br#"{"input_tokens":23}"#));
    let seen = mock.last();
    assert_eq!(seen.path, format!("{PREFIX}count-tokens:rawPredict"));
    assert_eq!(seen.json()["model"], "claude-sonnet-4-5@20250929", "the alias's target, in the body");
    assert_eq!(seen.json()["anthropic_version"], "vertex-2023-10-16");
}

#[actix_rt::test]
async fn errors_come_back_in_anthropic_terms() {
    let mock = start_vertex();
    mock.accept_only("t");
    let gw = gateway(&mock, &[("VX_API_KEY", "t")]);
    let (status, body) = post(&gw, "/v1/messages", request("vx:overloaded", false)).await;
    assert_eq!(status, 529);
    assert_eq!(error_type(&body), "overloaded_error", "Anthropic envelopes from Vertex are relayed");
    let (status, body) = post(&gw, "/v1/messages", request("vx:quota", false)).await;
    assert_eq!(status, 429);
    assert_eq!(error_type(&body), "rate_limit_error");
    let text = String::from_utf8_lossy(&body).to_string();
    assert!(text.contains("provider 'vx' (vertex): RESOURCE_EXHAUSTED: Quota exceeded"), "{text}");

    let refused = gateway(&mock, &[("VX_API_KEY", "wrong-token")]);
    let (status, body) = post(&refused, "/v1/messages", request("vx:claude", false)).await;
    assert_eq!(status, 403);
    assert_eq!(error_type(&body), "permission_error");
    let text = String::from_utf8_lossy(&body).to_string();
    assert!(text.contains("refused the gateway's Google credentials: UNAUTHENTICATED"), "{text}");
    assert!(!text.contains("wrong-token"), "the token is never echoed");
}

#[actix_rt::test]
async fn a_token_command_is_cached_and_run_again_after_a_401() {
    let mock = start_vertex();
    let counter = temp_file("count", "");
    let command = format!("echo x >> '{0}'; echo cmd-token-$(wc -l < '{0}' | tr -d ' ')", counter.display());
    let gw = gateway(&mock, &[("VX_TOKEN_COMMAND", command.as_str())]);
    let runs = || std::fs::read_to_string(&counter).unwrap().lines().count();

    mock.accept_only("cmd-token-1");
    for _ in 0..3 {
        let (status, body) = post(&gw, "/v1/messages", request("vx:claude", false)).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
    assert_eq!(runs(), 1, "the token is reused within its TTL");

    // The token is revoked: Vertex answers 401, the gateway runs the command again and retries once.
    mock.accept_only("cmd-token-2");
    let before = mock.seen().len();
    let (status, body) = post(&gw, "/v1/messages", request("vx:claude", false)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(runs(), 2);
    let attempts: Vec<_> =
        mock.seen()[before..].iter().map(|s| s.header("authorization").unwrap().to_string()).collect();
    assert_eq!(attempts, ["Bearer cmd-token-1", "Bearer cmd-token-2"]);

    // A token that stays refused is refused once more, not retried forever.
    mock.accept_only("nothing-valid");
    let before = mock.seen().len();
    let (status, _) = post(&gw, "/v1/messages", request("vx:claude", false)).await;
    assert_eq!(status, 403);
    assert_eq!(mock.seen().len() - before, 2, "one attempt, one with a fresh token");
    let _ = std::fs::remove_file(counter);
}

#[actix_rt::test]
async fn a_service_account_token_is_exchanged_cached_and_refreshed_before_expiry() {
    let mock = start_vertex();
    // The mock reads its own URL (the JWT's audience) from the first valid-token slot.
    mock.accept_only(&mock.url);
    *mock.state.token_life.lock().unwrap() = 61; // one second of use before the 60 s refresh margin
    let key = std::fs::read_to_string(fixture("test_service_account_key.pem")).unwrap();
    let account = serde_json::json!({
        "type": "service_account",
        "project_id": "proj-1",
        "private_key_id": "test-key-1",
        "private_key": key,
        "client_email": "gatehouse-test@proj-1.iam.gserviceaccount.com",
        "token_uri": format!("{}/token", mock.url),
    });
    let file = temp_file("sa.json", &account.to_string());
    let path = file.display().to_string();
    let gw = gateway(&mock, &[("GOOGLE_APPLICATION_CREDENTIALS", path.as_str())]);

    let (status, body) = post(&gw, "/v1/messages", request("vx:claude", false)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let (status, _) = post(&gw, "/v1/messages", request("vx:claude", true)).await;
    assert_eq!(status, 200);
    assert_eq!(mock.issued(), ["sa-token-1"], "cached while more than 60 s of life remain");
    assert_eq!(mock.last().header("authorization"), Some("Bearer sa-token-1"));

    actix_rt::time::sleep(Duration::from_millis(1300)).await;
    let (status, _) = post(&gw, "/v1/messages", request("vx:claude", false)).await;
    assert_eq!(status, 200);
    assert_eq!(mock.issued(), ["sa-token-1", "sa-token-2"], "refreshed once less than 60 s remained");
    assert_eq!(mock.last().header("authorization"), Some("Bearer sa-token-2"));
    let _ = std::fs::remove_file(file);
}

#[actix_rt::test]
async fn chat_completions_reach_vertex_through_the_messages_conversion() {
    let mock = start_vertex();
    mock.accept_only("t");
    let gw = gateway(&mock, &[("VX_API_KEY", "t")]);
    let chat = serde_json::json!({"model": "vx:claude-x@1", "messages": [{"role": "user", "content": "Hi"}]});
    let (status, body) = post(&gw, "/v1/chat/completions", chat.to_string()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let completion: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(completion["choices"][0]["message"]["content"], "Hello from the mock");
    let seen = mock.last();
    assert_eq!(seen.path, format!("{PREFIX}claude-x@1:rawPredict"));
    assert_eq!(seen.json()["anthropic_version"], "vertex-2023-10-16");
}
