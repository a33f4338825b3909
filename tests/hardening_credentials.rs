//! Credentials that must stay where they belong (issue 19, items 1–3): the gateway's own keys never go upstream as
//! a client's provider key; a client's key only goes to providers it was meant for, and its model list is never
//! served to another key; a password in a base URL is refused rather than published.

mod common;

use std::collections::HashMap;

use common::admin::{put_provider, ADMIN_KEY};
use common::raw::check_config;
use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const PROXY: &str = "the-proxy-key-for-tests";

/// A gateway with a proxy key and an admin key, and passthrough providers of both formats on `mock`.
fn gateway(mock: &MockUpstream) -> Gateway {
    let v1 = format!("{}/v1", mock.url);
    start_gateway(&[
        ("PROXY_API_KEY", PROXY),
        ("ADMIN_API_KEY", ADMIN_KEY),
        ("MOCK_API_KEY", "!PASSTHRU"),
        ("MOCK_BASE_URL", &mock.url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("MOCK_LIST_MODELS_WITH_CLIENT_KEY", "true"),
        ("OAI_API_KEY", "!PASSTHRU"),
        ("OAI_BASE_URL", &v1),
        ("OAI_API_FORMAT", "openai"),
        ("OAI_LIST_MODELS_WITH_CLIENT_KEY", "true"),
        ("MAX_RETRIES", "0"),
    ])
}

fn chat(model: &str) -> String {
    json!({"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}).to_string()
}

/// Sends `method path` with `headers` (and `body` for a POST): status and body.
async fn call(gw: &Gateway, path: &str, headers: &[(&str, &str)], body: Option<String>) -> (u16, Value) {
    let mut request = match body {
        Some(_) => client().post(format!("{}{path}", gw.url)),
        None => client().get(format!("{}{path}", gw.url)),
    };
    for (k, v) in headers {
        request = request.insert_header((*k, *v));
    }
    let mut res = match body {
        Some(body) => request.send_body(body).await.unwrap(),
        None => request.send().await.unwrap(),
    };
    let status = res.status().as_u16();
    (status, serde_json::from_slice(&res.body().await.unwrap()).unwrap_or(Value::Null))
}

/// Whether any request the mock received carried `key`, in any header.
fn received_key(mock: &MockUpstream, key: &str) -> bool {
    mock.requests().iter().any(|r| r.headers.iter().any(|(_, v)| v.contains(key)))
}

#[actix_rt::test]
async fn the_proxy_key_sent_as_the_clients_own_key_is_refused_on_every_model_route() {
    let mock = start_mock();
    let gw = gateway(&mock);
    let own_keys: [(&str, String); 2] =
        [("x-api-key", PROXY.to_string()), ("authorization", format!("Bearer {PROXY}"))];
    for (header, value) in &own_keys {
        let headers = [("x-gatehouse-key", PROXY), (*header, value.as_str())];
        for (path, body) in [
            ("/v1/messages", Some(body("mock:claude", false))),
            ("/v1/messages/count_tokens", Some(body("mock:claude", false))),
            ("/v1/chat/completions", Some(chat("mock:claude"))),
            ("/v1/chat/completions", Some(chat("oai:gpt-4o"))),
            ("/v1/models", None),
        ] {
            let (status, answer) = call(&gw, path, &headers, body).await;
            assert_eq!(status, 401, "{path} with {header}: {answer}");
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("one of this gateway's own keys"), "{path}: {answer}");
            assert!(!message.contains(PROXY), "the key is not echoed: {message}");
            if path == "/v1/chat/completions" {
                assert_eq!(answer["error"]["code"], "invalid_api_key", "OpenAI shape: {answer}");
            } else {
                assert_eq!(answer["type"], "error", "Anthropic envelope: {answer}");
            }
        }
    }
    assert!(!received_key(&mock, PROXY), "the proxy key reached the upstream: {:?}", mock.requests());
    assert_eq!(mock.hits(), 0);

    // The admin key is the gateway's too.
    let headers = [("x-gatehouse-key", PROXY), ("x-api-key", ADMIN_KEY)];
    let (status, _) = call(&gw, "/v1/messages", &headers, Some(body("mock:claude", false))).await;
    assert_eq!(status, 401);
    assert!(!received_key(&mock, ADMIN_KEY));

    // A real provider key alongside the proxy key still goes through.
    let headers = [("x-gatehouse-key", PROXY), ("x-api-key", "sk-ant-client-own")];
    let (status, _) = call(&gw, "/v1/messages", &headers, Some(body("mock:claude", false))).await;
    assert_eq!(status, 200);
    assert_eq!(mock.last().header("x-api-key"), Some("sk-ant-client-own"));
}

/// Three passthrough upstreams on separate mocks: Anthropic format opted in, OpenAI format opted in, Anthropic
/// format not opted in.
struct Three {
    anthropic: MockUpstream,
    openai: MockUpstream,
    quiet: MockUpstream,
    gw: Gateway,
}

fn three() -> Three {
    let (anthropic, openai, quiet) = (start_mock(), start_mock(), start_mock());
    let v1 = format!("{}/v1", openai.url);
    let gw = start_gateway(&[
        ("ANTH_API_KEY", "!PASSTHRU"),
        ("ANTH_BASE_URL", &anthropic.url),
        ("ANTH_API_FORMAT", "anthropic"),
        ("ANTH_LIST_MODELS_WITH_CLIENT_KEY", "true"),
        ("OAI_API_KEY", "!PASSTHRU"),
        ("OAI_BASE_URL", &v1),
        ("OAI_API_FORMAT", "openai"),
        ("OAI_LIST_MODELS_WITH_CLIENT_KEY", "true"),
        ("QUIET_API_KEY", "!PASSTHRU"),
        ("QUIET_BASE_URL", &quiet.url),
        ("QUIET_API_FORMAT", "anthropic"),
        ("MAX_RETRIES", "0"),
    ]);
    Three { anthropic, openai, quiet, gw }
}

async fn model_ids(gw: &Gateway, header: (&str, &str)) -> Vec<String> {
    let (status, list) = call(gw, "/v1/models?limit=100", &[header], None).await;
    assert_eq!(status, 200, "{list}");
    list["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect()
}

#[actix_rt::test]
async fn a_clients_key_lists_models_only_where_it_was_meant_to_go() {
    let t = three();

    // x-api-key is an Anthropic key: only the opted-in Anthropic-format provider sees it.
    let ids = model_ids(&t.gw, ("x-api-key", "sk-ant-api03-client")).await;
    assert_eq!(ids, ["anth:claude-mock-1", "anth:claude-mock-2"]);
    assert!(received_key(&t.anthropic, "sk-ant-api03-client"));
    assert!(!received_key(&t.openai, "sk-ant-api03-client"), "an OpenAI-format third party got an Anthropic key");
    assert_eq!(t.quiet.hits(), 0, "not opted in: never contacted with a client key");

    // A bearer token is an OpenAI key...
    let ids = model_ids(&t.gw, ("authorization", "Bearer sk-proj-client")).await;
    assert_eq!(ids, ["oai:gpt-mock"]);
    assert!(received_key(&t.openai, "sk-proj-client") && !received_key(&t.anthropic, "sk-proj-client"));

    // ...unless it is an Anthropic OAuth token (Claude Code after /login).
    let ids = model_ids(&t.gw, ("authorization", "Bearer sk-ant-oat01-client")).await;
    assert_eq!(ids, ["anth:claude-mock-1", "anth:claude-mock-2"]);
    assert!(!received_key(&t.openai, "sk-ant-oat01-client"));
    assert_eq!(t.quiet.hits(), 0);
}

/// Two different keys whose SHA-256 begin with the same 32 bits (found by trying: about 2^16 keys).
fn colliding_keys() -> (String, String) {
    let mut seen: HashMap<[u8; 4], String> = HashMap::new();
    for i in 0u64.. {
        let key = format!("sk-ant-api03-collide-{i}");
        let digest = Sha256::digest(key.as_bytes());
        let prefix = [digest[0], digest[1], digest[2], digest[3]];
        if let Some(first) = seen.insert(prefix, key.clone()) {
            return (first, key);
        }
    }
    unreachable!()
}

#[actix_rt::test]
async fn two_keys_never_share_a_cached_model_list() {
    let t = three();
    let (first, second) = colliding_keys();
    model_ids(&t.gw, ("x-api-key", &first)).await;
    assert!(received_key(&t.anthropic, &first));
    model_ids(&t.gw, ("x-api-key", &second)).await;
    assert!(
        received_key(&t.anthropic, &second),
        "the second key was answered from the first key's cache entry (their 32-bit fingerprints are equal)"
    );
    let hits = t.anthropic.hits();
    model_ids(&t.gw, ("x-api-key", &second)).await;
    assert_eq!(t.anthropic.hits(), hits, "the same key is still served from the cache");
}

#[actix_rt::test]
async fn a_password_in_a_base_url_is_refused_everywhere() {
    // Environment.
    let (ok, text) = check_config(&[("X_API_KEY", "k"), ("X_BASE_URL", "http://user:hunter2@127.0.0.1:9/v1")], None);
    assert!(!ok, "accepted: {text}");
    assert!(text.contains("provider 'x'") && text.contains("custom header"), "{text}");
    assert!(text.contains("X_CUSTOM_HEADER_AUTHORIZATION"), "says how: {text}");
    assert!(!text.contains("hunter2"), "the password is not repeated: {text}");
    // The file; a user name alone is refused too.
    let file = "[providers.x]\napi_key = \"k\"\nbase_url = \"https://deploy@llm.example/v1\"\n";
    let (ok, text) = check_config(&[], Some(file));
    assert!(!ok && text.contains("user name or password"), "{text}");

    // The admin API.
    let mock = start_mock();
    let gw = gateway(&mock);
    let url = mock.url.replace("http://", "http://user:hunter2@");
    let (status, answer) = put_provider(&gw, "leaky", json!({"base_url": url, "api_keys": ["k"]})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]["message"].as_str().unwrap().contains("custom header"), "{answer}");
    assert!(!answer.to_string().contains("hunter2"), "{answer}");
    let health = common::admin::health(&gw).await;
    assert!(!health.to_string().contains("hunter2") && !health.to_string().contains("leaky"), "{health}");
}
