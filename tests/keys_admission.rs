//! Virtual keys at admission, end to end against an in-process gatehouse with the embedded store: who may call
//! once a key exists (every header style, the master key), which models a key may reach (aliases and fallbacks
//! resolved first), the refusals a client sees (429 with `retry-after` and the limit named, 402 that says not to
//! retry, 401 saying disabled / expired / revoked, 403 for a model or a missing price, 400 without `max_tokens`),
//! the rate-limit headers, reserve-then-settle, and `/v1/me`.

mod common;

use std::time::Duration;

use common::admin::ADMIN_KEY;
use common::keys::*;
use common::*;
use serde_json::{json, Value};

const MASTER: &str = "master-proxy-key";

/// A gateway with an Anthropic-format mock as `mock` and the same mock as the OpenAI-format `oai`, the master
/// proxy key, the admin key, and `extra`.
fn gateway(mock: &MockUpstream, extra: &[(&str, &str)]) -> Gateway {
    let mut env = vec![
        ("MOCK_API_KEY", "provider-key"),
        ("MOCK_BASE_URL", mock.url.as_str()),
        ("MOCK_API_FORMAT", "anthropic"),
        ("OAI_API_KEY", "provider-key"),
        ("OAI_BASE_URL", mock.url.as_str()),
        ("OAI_API_FORMAT", "openai"),
        ("PROXY_API_KEY", MASTER),
        ("ADMIN_API_KEY", ADMIN_KEY),
    ];
    env.extend_from_slice(extra);
    start_gateway(&env)
}

/// A `/v1/messages` request with `headers` and `body`.
async fn call(url: &str, path: &str, headers: &[(&str, &str)], body: String) -> Answer {
    let started = std::time::Instant::now();
    let mut request = client().post(format!("{url}{path}"));
    for header in headers {
        request = request.insert_header(*header);
    }
    let mut res = request.send_body(body).await.unwrap();
    let bytes = res.body().limit(1 << 20).await.unwrap();
    Answer {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        took: started.elapsed(),
    }
}

async fn messages(url: &str, headers: &[(&str, &str)], model: &str) -> Answer {
    call(url, "/v1/messages", headers, body(model, false)).await
}

fn error_of(answer: &Answer) -> (u16, String) {
    (answer.status, answer.body["error"]["type"].as_str().unwrap_or_default().to_string())
}

#[actix_rt::test]
async fn once_a_key_exists_every_v1_route_needs_one_in_any_header_and_none_goes_upstream() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let url = gw.url.as_str();
    assert_eq!(messages(url, &[], "mock:m").await.status, 401, "the proxy key is required before any key exists");
    let (_, secret) = create_key(url, json!({"name": "alice"})).await;

    let refused = messages(url, &[], "mock:m").await;
    assert_eq!(error_of(&refused), (401, "authentication_error".into()));
    assert!(refused.message().contains("x-gatehouse-key"), "says where to send the key: {}", refused.message());
    let unknown = messages(url, &[("x-gatehouse-key", "gh_not-a-real-key")], "mock:m").await;
    assert_eq!(error_of(&unknown), (401, "authentication_error".into()));
    let counted = call(url, "/v1/messages/count_tokens", &[], body("mock:m", false)).await;
    assert_eq!(counted.status, 401, "count_tokens needs a key too");
    let me = client().get(format!("{url}/v1/me")).send().await.unwrap();
    assert_eq!(me.status().as_u16(), 401, "so does /v1/me");

    let bearer = format!("Bearer {secret}");
    for headers in [
        vec![("x-gatehouse-key", secret.as_str())],
        vec![("x-api-key", secret.as_str())],
        vec![("authorization", bearer.as_str())],
        vec![("x-api-key", MASTER)],
    ] {
        let answer = messages(url, &headers, "mock:m").await;
        assert_eq!(answer.status, 200, "{headers:?}: {}", answer.body);
    }
    assert_eq!(
        call(url, "/v1/messages/count_tokens", &[("x-api-key", &secret)], body("mock:m", false)).await.status,
        200
    );
    for request in mock.requests() {
        assert_eq!(request.header("x-api-key"), Some("provider-key"), "only the provider's key goes upstream");
        assert!(request.header("x-gatehouse-key").is_none() && request.header("authorization").is_none());
    }

    let both = messages(url, &[("x-gatehouse-key", &secret), ("x-api-key", &secret)], "mock:m").await;
    assert_eq!(error_of(&both), (401, "authentication_error".into()), "a gatehouse key in x-api-key is refused");
}

#[actix_rt::test]
async fn a_models_list_is_applied_after_aliases_and_fallbacks() {
    let mock = start_mock();
    let gw = gateway(
        &mock,
        &[("MOCK_ALIAS_SNEAKY", "mock:forbidden-model"), ("MOCK_ALIAS_MIXED", "mock:forbidden-model, mock:allowed-1")],
    );
    let url = gw.url.as_str();
    let (_, secret) = create_key(url, json!({"name": "bob", "models": ["mock:allowed-*"]})).await;
    let key = [("x-gatehouse-key", secret.as_str())];

    assert_eq!(messages(url, &key, "mock:allowed-1").await.status, 200);
    for model in ["mock:forbidden-model", "sneaky"] {
        let refused = messages(url, &key, model).await;
        assert_eq!(error_of(&refused), (403, "permission_error".into()), "{model}");
        assert!(refused.message().contains("mock:forbidden-model"), "names the model: {}", refused.message());
        assert!(refused.message().contains("mock:allowed-*"), "and what is allowed: {}", refused.message());
    }
    let hits = mock.hits();
    let mixed = messages(url, &key, "mixed").await;
    assert_eq!(mixed.status, 200, "the out-of-list fallback is skipped: {}", mixed.body);
    assert_eq!(mock.hits(), hits + 1);
    assert_eq!(mock.last().json()["model"], "allowed-1");
}

#[actix_rt::test]
async fn over_its_rpm_a_key_gets_429_naming_the_limit_with_retry_after_and_the_anthropic_headers() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let url = gw.url.as_str();
    let (_, secret) = create_key(url, json!({"name": "carol", "rpm": 2})).await;
    let key = [("x-gatehouse-key", secret.as_str())];

    let first = messages(url, &key, "mock:m").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("anthropic-ratelimit-requests-limit"), Some("1000"), "the upstream's header, unchanged");
    assert_eq!(first.header("x-gatehouse-ratelimit-requests-limit"), Some("2"));
    assert_eq!(first.header("x-gatehouse-ratelimit-requests-remaining"), Some("1"));
    assert!(first.header("x-gatehouse-ratelimit-tokens-limit").is_none(), "only limits that are set");

    let converted = messages(url, &key, "oai:gpt-4o").await;
    assert_eq!(converted.status, 200, "{}", converted.body);
    assert_eq!(
        converted.header("anthropic-ratelimit-requests-limit"),
        Some("2"),
        "the gateway's own, by Anthropic's name"
    );
    assert_eq!(converted.header("anthropic-ratelimit-requests-remaining"), Some("0"));
    let reset = converted.header("anthropic-ratelimit-requests-reset").unwrap();
    assert!(reset.parse::<jiff::Timestamp>().is_ok(), "reset is RFC 3339: {reset}");

    let refused = messages(url, &key, "mock:m").await;
    assert_eq!(error_of(&refused), (429, "rate_limit_error".into()));
    assert!(refused.message().contains("rpm") && refused.message().contains("carol"), "{}", refused.message());
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "retry-after {retry_after}");
    assert_eq!(refused.header("anthropic-ratelimit-requests-remaining"), Some("0"));
    assert_eq!(mock.hits(), 2, "the refused request never reached the upstream");

    let chat = json!({"model": "mock:m", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]});
    let refused = call(url, "/v1/chat/completions", &key, chat.to_string()).await;
    assert_eq!(refused.status, 429);
    assert!(refused.body.get("type").is_none(), "OpenAI's shape on the chat route: {}", refused.body);
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("rpm"), "{}", refused.body);
    assert!(refused.header("retry-after").is_some());
}

#[actix_rt::test]
async fn a_spent_budget_is_402_that_says_not_to_retry_and_spend_is_exact() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let url = gw.url.as_str();
    let (id, secret) = create_key(url, json!({"name": "dave", "budget_usd": 0.002, "budget_period": "day"})).await;
    let key = [("x-gatehouse-key", secret.as_str())];

    // The mock's usage: 21 input, 9 output, 3 cache-write (5 min), 4 cache-read tokens; claude-sonnet-4-5 costs
    // $3 / $15 / $3.75 / $0.30 per million: 210.45 µ$ a request.
    let mut admitted = 0u64;
    let refused = loop {
        let answer = messages(url, &key, "mock:claude-sonnet-4-5").await;
        if answer.status != 200 {
            break answer;
        }
        admitted += 1;
        assert!(admitted < 20, "the budget never ran out");
    };
    assert!(admitted >= 1);
    assert_eq!(error_of(&refused), (402, "billing_error".into()), "{}", refused.body);
    assert_eq!(refused.header("x-should-retry"), Some("false"));
    let retry_after: u64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry_after), "until the day resets: {retry_after}");
    assert!(refused.message().contains("dave") && refused.message().contains("renews at"), "{}", refused.message());

    let usage = usage(url, &id).await;
    let spent_nanos = (usage["spend_usd"].as_f64().unwrap() * 1e9).round() as u64;
    assert_eq!(spent_nanos, admitted * 210_450, "spend is the sum of the admitted answers' prices: {usage}");
    assert!(spent_nanos <= 2_000_000, "never above the budget");
    assert_eq!(usage["reserved_usd"].as_f64(), Some(0.0), "every reservation was settled: {usage}");
}

#[actix_rt::test]
async fn spend_is_priced_at_the_target_that_answered_when_a_fallback_answers() {
    let mock = start_mock();
    // The first target fails (529) every time; the fallback, a cheaper model, answers.
    let gw = gateway(&mock, &[("MOCK_ALIAS_FALLS", "mock:fail-1000-529, mock:claude-haiku-4-5")]);
    let url = gw.url.as_str();
    let (id, secret) = create_key(url, json!({"name": "fay", "rpm": 100})).await;
    let key = [("x-gatehouse-key", secret.as_str())];
    let spent = |usage: Value| (usage["spend_usd"].as_f64().unwrap() * 1e9).round() as u64;

    assert_eq!(messages(url, &key, "mock:claude-haiku-4-5").await.status, 200);
    let direct = spent(usage(url, &id).await);
    assert!(direct > 0, "the model has a price");
    let answer = messages(url, &key, "falls").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(mock.last().json()["model"], "claude-haiku-4-5", "the fallback answered");
    assert_eq!(spent(usage(url, &id).await), 2 * direct, "priced as the fallback, like the direct call");
}

#[actix_rt::test]
async fn reservations_are_replaced_by_the_real_usage_for_json_and_streams() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let url = gw.url.as_str();
    let (id, secret) = create_key(url, json!({"name": "erin", "tpm": 100000})).await;
    let key = [("x-gatehouse-key", secret.as_str())];

    assert_eq!(messages(url, &key, "mock:m").await.status, 200);
    let after_json = usage(url, &id).await;
    assert_eq!(after_json["tokens_in_window"], 21 + 9 + 3 + 4, "the usage, not the estimate: {after_json}");

    let mut streamed = client()
        .post(format!("{url}/v1/messages"))
        .insert_header(key[0])
        .send_body(body("mock:m", true))
        .await
        .unwrap();
    assert_eq!(streamed.status().as_u16(), 200);
    streamed.body().limit(1 << 20).await.unwrap();
    within(Duration::from_secs(2), "the stream's usage is settled", || async {
        usage(url, &id).await["tokens_in_window"] == json!(37 + 30 + 12 + 6)
    })
    .await;

    let no_max = json!({"model": "mock:m", "messages": [{"role": "user", "content": "hi"}]});
    let refused = call(url, "/v1/messages", &key, no_max.to_string()).await;
    assert_eq!(error_of(&refused), (400, "invalid_request_error".into()));
    assert!(refused.message().contains("max_tokens"), "{}", refused.message());

    let huge = json!({"model": "mock:m", "max_tokens": 200000, "messages": [{"role": "user", "content": "hi"}]});
    let refused = call(url, "/v1/messages", &key, huge.to_string()).await;
    assert_eq!(error_of(&refused), (429, "rate_limit_error".into()));
    assert!(
        refused.message().contains("lower max_tokens"),
        "a request that can never fit says so: {}",
        refused.message()
    );
}

#[actix_rt::test]
async fn a_budget_needs_a_price_for_the_model() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let url = gw.url.as_str();
    let (_, secret) = create_key(url, json!({"name": "frank", "budget_usd": 5.0})).await;
    let refused = messages(url, &[("x-gatehouse-key", &secret)], "mock:home-grown-model").await;
    assert_eq!(error_of(&refused), (403, "permission_error".into()));
    assert!(refused.message().contains("mock:home-grown-model"), "{}", refused.message());
    assert!(refused.message().contains("[prices"), "says how to add the price: {}", refused.message());
    assert_eq!(mock.hits(), 0);
}

#[actix_rt::test]
async fn disabled_expired_and_revoked_keys_are_told_which() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let url = gw.url.as_str();
    let (id, secret) = create_key(url, json!({"name": "gina"})).await;
    let key = [("x-gatehouse-key", secret.as_str())];
    assert_eq!(messages(url, &key, "mock:m").await.status, 200);

    let (status, _) = admin_at(url, "PATCH", &format!("/admin/keys/{id}"), Some(json!({"disabled": true}))).await;
    assert_eq!(status, 200);
    let refused = messages(url, &key, "mock:m").await;
    assert_eq!(error_of(&refused), (401, "authentication_error".into()));
    assert!(refused.message().contains("disabled"), "{}", refused.message());

    let (status, _) = admin_at(url, "DELETE", &format!("/admin/keys/{id}"), None).await;
    assert!(status == 200 || status == 204, "{status}");
    let refused = messages(url, &key, "mock:m").await;
    assert_eq!(error_of(&refused), (401, "authentication_error".into()));
    assert!(refused.message().contains("revoked"), "{}", refused.message());

    let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_millis(1500);
    let (_, short_lived) = create_key(url, json!({"name": "hal", "expires_at": soon.to_string()})).await;
    assert_eq!(messages(url, &[("x-gatehouse-key", &short_lived)], "mock:m").await.status, 200);
    actix_rt::time::sleep(Duration::from_millis(1700)).await;
    let refused = messages(url, &[("x-gatehouse-key", &short_lived)], "mock:m").await;
    assert_eq!(error_of(&refused), (401, "authentication_error".into()));
    assert!(refused.message().contains("expired"), "{}", refused.message());
}

#[actix_rt::test]
async fn v1_me_shows_a_key_holder_its_own_limits_and_usage() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let url = gw.url.as_str();
    let (id, secret) =
        create_key(url, json!({"name": "ivy", "rpm": 30, "budget_usd": 1.0, "budget_period": "month"})).await;
    assert_eq!(messages(url, &[("x-gatehouse-key", &secret)], "mock:claude-sonnet-4-5").await.status, 200);

    let mut res =
        client().get(format!("{url}/v1/me")).insert_header(("x-api-key", secret.as_str())).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let me: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
    assert_eq!(me["id"], id.as_str());
    assert_eq!(me["name"], "ivy");
    assert!(me.get("key").is_none(), "never the secret: {me}");
    assert_eq!(me["limits"]["rpm"], 30);
    assert_eq!(me["usage"]["requests_in_window"], 1);
    let remaining = me["usage"]["remaining_usd"].as_f64().unwrap();
    assert!((remaining - (1.0 - 0.00021045)).abs() < 1e-9, "{me}");
    assert!(me["usage"]["period_resets_at"].as_str().unwrap().ends_with('Z'));
}
