//! End-to-end: `count_tokens` (forwarded for Anthropic format, estimated locally for OpenAI format) and the merged
//! `GET /v1/models`.

mod common;

use common::*;
use serde_json::{json, Value};

fn gateway(mock: &MockUpstream, extra: &[(&str, &str)]) -> Gateway {
    let base = format!("{}/v1", mock.url);
    let mut env = vec![
        ("MOCK_API_KEY", "provider-key"),
        ("MOCK_BASE_URL", mock.url.as_str()),
        ("MOCK_API_FORMAT", "anthropic"),
        ("OAI_API_KEY", "sk-oai"),
        ("OAI_BASE_URL", base.as_str()),
        ("MAX_RETRIES", "0"),
    ];
    env.extend_from_slice(extra);
    start_gateway(&env)
}

async fn count(gw: &Gateway, model: &str) -> (u16, Value, Option<String>) {
    let body = json!({"model": model, "system": "Be brief.", "messages": [{"role": "user", "content": "How many tokens is this?"}],
                      "tools": [{"name": "t", "description": "d", "input_schema": {"type": "object"}}]});
    let mut res = client()
        .post(format!("{}/v1/messages/count_tokens", gw.url))
        .insert_header(("anthropic-beta", "token-counting-2024-11-01"))
        .send_body(body.to_string())
        .await
        .unwrap();
    let kind = res.headers().get("x-gatehouse-token-count").map(|v| v.to_str().unwrap().to_string());
    (res.status().as_u16(), res.json().await.unwrap(), kind)
}

#[actix_rt::test]
async fn count_tokens_is_forwarded_for_anthropic_format() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let (status, body, kind) = count(&gw, "mock:claude-sonnet-4-5").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"input_tokens": 42}));
    assert_eq!(kind, None);
    let sent = mock.last();
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    assert_eq!(sent.header("x-api-key"), Some("provider-key"));
    assert_eq!(sent.header("anthropic-beta"), Some("token-counting-2024-11-01"));
    assert_eq!(sent.json()["model"], "claude-sonnet-4-5");
}

#[actix_rt::test]
async fn count_tokens_is_estimated_locally_for_openai_format() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let (status, body, kind) = count(&gw, "oai:gpt-4o").await;
    assert_eq!(status, 200);
    let n = body["input_tokens"].as_u64().unwrap();
    assert!((15..60).contains(&n), "a plausible estimate: {n}");
    assert_eq!(kind.as_deref(), Some("estimate"));
    assert_eq!(mock.hits(), 0, "never a generation call");
}

#[actix_rt::test]
async fn count_tokens_validates_like_messages() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let mut res =
        client().post(format!("{}/v1/messages/count_tokens", gw.url)).send_body(r#"{"model":"mock:x"}"#).await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(error_type(&res.body().await.unwrap()), "invalid_request_error");
}

#[actix_rt::test]
async fn models_are_merged_with_aliases_and_a_failing_provider_is_skipped() {
    let mock = start_mock();
    let dead = dead_url();
    let gw = gateway(&mock, &[("MOCK_ALIAS_FAST", "claude-mock-1"), ("DEAD_API_KEY", "k"), ("DEAD_BASE_URL", &dead)]);
    let mut res = client().get(format!("{}/v1/models?limit=100", gw.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("x-gatehouse-models-unavailable").unwrap(), "dead");
    let list: Value = res.json().await.unwrap();
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["mock:claude-mock-1", "mock:claude-mock-2", "mock:fast", "oai:gpt-mock"]);
    assert_eq!(list["data"][0]["type"], "model");
    assert_eq!(list["has_more"], false);
    assert_eq!(list["first_id"], "mock:claude-mock-1");
    assert_eq!(list["last_id"], "oai:gpt-mock");

    let hits = mock.hits();
    let mut res = client().get(format!("{}/v1/models?format=openai", gw.url)).send().await.unwrap();
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][3]["owned_by"], "oai");
    assert_eq!(mock.hits(), hits, "served from the cache");

    let mut res = client().get(format!("{}/v1/models?limit=2", gw.url)).send().await.unwrap();
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["has_more"], true);
    let after = page["last_id"].as_str().unwrap();
    let mut res = client().get(format!("{}/v1/models?limit=2&after_id={after}", gw.url)).send().await.unwrap();
    let page: Value = res.json().await.unwrap();
    assert_eq!(page["first_id"], "mock:fast");
}

#[actix_rt::test]
async fn passthrough_providers_are_listed_with_the_clients_key_when_they_opt_in() {
    let mock = start_mock();
    let env = [("MOCK_API_KEY", "!PASSTHRU"), ("MOCK_BASE_URL", mock.url.as_str()), ("MOCK_API_FORMAT", "anthropic")];
    let gw = start_gateway(&env);
    let mut res =
        client().get(format!("{}/v1/models", gw.url)).insert_header(("x-api-key", "sk-own")).send().await.unwrap();
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "not opted in: the key is not sent");
    assert_eq!(mock.hits(), 0);

    let gw = start_gateway(&[env.as_slice(), &[("MOCK_LIST_MODELS_WITH_CLIENT_KEY", "true")]].concat());
    let mut res = client().get(format!("{}/v1/models", gw.url)).send().await.unwrap();
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0, "no key, nothing to list with");
    let mut res =
        client().get(format!("{}/v1/models", gw.url)).insert_header(("x-api-key", "sk-own")).send().await.unwrap();
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    assert_eq!(mock.last().header("x-api-key"), Some("sk-own"));
}
