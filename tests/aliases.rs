//! End-to-end: aliases route requests, fallbacks take over on retriable failures before the first byte, and the
//! response names the target that served it.

mod common;

use common::*;

fn gateway(mock: &MockUpstream, extra: &[(&str, &str)]) -> Gateway {
    let base = format!("{}/v1", mock.url);
    let mut env = vec![
        ("MOCK_API_KEY", "k"),
        ("MOCK_BASE_URL", mock.url.as_str()),
        ("MOCK_API_FORMAT", "anthropic"),
        ("OAI_API_KEY", "k"),
        ("OAI_BASE_URL", base.as_str()),
        ("DEFAULT_PROVIDER", "mock"),
        ("MAX_RETRIES", "0"),
    ];
    env.extend_from_slice(extra);
    start_gateway(&env)
}

async fn post(gw: &Gateway, model: &str, stream: bool) -> (u16, String, Option<String>) {
    let mut res = client().post(format!("{}/v1/messages", gw.url)).send_body(body(model, stream)).await.unwrap();
    let target = res.headers().get("x-gatehouse-target").map(|v| v.to_str().unwrap().to_string());
    (res.status().as_u16(), String::from_utf8_lossy(&res.body().await.unwrap()).to_string(), target)
}

#[actix_rt::test]
async fn alias_routes_across_providers_and_formats() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("MOCK_ALIAS_HAIKU", "oai:fixture-text")]);
    let (status, body, target) = post(&gw, "claude-3-5-haiku-20241022", false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(target.as_deref(), Some("oai:fixture-text"));
    let message: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(message["model"], "claude-3-5-haiku-20241022", "the client sees the model it asked for");
    assert_eq!(mock.last().path, "/v1/chat/completions");
}

#[actix_rt::test]
async fn fallback_takes_over_on_retriable_failure_and_says_so() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("MOCK_ALIAS_SMART", "fail-99-503, oai:error-429, oai:fixture-text")]);
    for stream in [false, true] {
        let (status, body, target) = post(&gw, "smart", stream).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(target.as_deref(), Some("oai:fixture-text"));
    }
    let models: Vec<String> = mock.requests().iter().map(|r| r.json()["model"].as_str().unwrap().to_string()).collect();
    assert_eq!(models, ["fail-99-503", "error-429", "fixture-text", "fail-99-503", "error-429", "fixture-text"]);
}

#[actix_rt::test]
async fn non_retriable_errors_do_not_fall_back() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("MOCK_ALIAS_STRICT", "fail-99-400, oai:fixture-text")]);
    let (status, _, target) = post(&gw, "strict", false).await;
    assert_eq!(status, 400);
    assert_eq!(target.as_deref(), Some("mock:fail-99-400"), "relayed as it is, from the first target");
    assert_eq!(mock.hits(), 1);
}

#[actix_rt::test]
async fn last_target_failure_is_relayed() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("MOCK_ALIAS_DOOMED", "fail-99-503, error-500")]);
    let (status, _, _) = post(&gw, "doomed", false).await;
    assert_eq!(status, 500);
    assert_eq!(mock.hits(), 2);
}

#[actix_rt::test]
async fn aliases_are_listed() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("MOCK_ALIAS_SMART", "oai:gpt-4o, claude-opus-4")]);
    let mut res = client().get(format!("{}/v1/aliases", gw.url)).send().await.unwrap();
    let list: serde_json::Value = res.json().await.unwrap();
    assert_eq!(list["data"][0]["alias"], "smart");
    assert_eq!(list["data"][0]["resolved"], serde_json::json!(["oai:gpt-4o", "mock:claude-opus-4"]));
}
