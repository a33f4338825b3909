//! End-to-end resilience: retries (and when not to), retry-after, key rotation and exhaustion, circuit breaker.

mod common;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;

fn gateway(mock_url: &str, keys: &str, extra: &[(&str, &str)]) -> Gateway {
    let mut env = vec![
        ("MOCK_API_KEY", keys),
        ("MOCK_BASE_URL", mock_url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("RETRY_BASE_DELAY_MS", "20"),
    ];
    env.extend_from_slice(extra);
    start_gateway(&env)
}

async fn post(gw: &Gateway, model: &str, stream: bool) -> (u16, String, awc::http::header::HeaderMap) {
    let mut res = client().post(format!("{}/v1/messages", gw.url)).send_body(body(model, stream)).await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, String::from_utf8_lossy(&res.body().await.unwrap()).to_string(), headers)
}

fn hits(mock: &MockUpstream, model: &str) -> usize {
    mock.requests().iter().filter(|r| r.json()["model"] == model).count()
}

#[actix_rt::test]
async fn transient_failures_are_retried_then_succeed() {
    let mock = start_mock();
    let gw = gateway(&mock.url, "k", &[("MAX_RETRIES", "2")]);
    for status in [500, 502, 503, 504, 529, 429] {
        let model = format!("fail-2-{status}");
        let (got, _, _) = post(&gw, &format!("mock:{model}"), false).await;
        assert_eq!(got, 200, "{model}");
        assert_eq!(hits(&mock, &model), 3, "{model}: two failures and one success");
    }
}

#[actix_rt::test]
async fn retries_stop_at_max_retries_and_relay_the_last_answer() {
    let mock = start_mock();
    let gw = gateway(&mock.url, "k", &[("MAX_RETRIES", "2"), ("CIRCUIT_BREAKER_THRESHOLD", "100")]);
    let (status, body, _) = post(&gw, "mock:fail-9-503", false).await;
    assert_eq!(status, 503);
    assert!(body.contains("mock says 503"));
    assert_eq!(hits(&mock, "fail-9-503"), 3);
}

#[actix_rt::test]
async fn client_errors_are_never_retried() {
    let mock = start_mock();
    let gw = gateway(&mock.url, "k", &[("MAX_RETRIES", "3")]);
    for status in [400, 404, 413, 422] {
        let model = format!("fail-1-{status}");
        let (got, _, _) = post(&gw, &format!("mock:{model}"), false).await;
        assert_eq!(got, status);
        assert_eq!(hits(&mock, &model), 1, "{model}");
    }
}

#[actix_rt::test]
async fn retry_after_is_honoured_up_to_the_cap() {
    let mock = start_mock();
    let gw = gateway(&mock.url, "k", &[("MAX_RETRIES", "1"), ("RETRY_AFTER_CAP", "2")]);
    let started = Instant::now();
    let (status, _, headers) = post(&gw, "mock:ratelimit-1", false).await;
    assert_eq!(status, 429);
    assert_eq!(headers.get("retry-after").unwrap(), "1");
    assert!(started.elapsed() >= Duration::from_millis(1000), "waited {:?}", started.elapsed());
    assert_eq!(hits(&mock, "ratelimit-1"), 2);

    let started = Instant::now();
    let (status, _, _) = post(&gw, "mock:ratelimit-30", false).await;
    assert_eq!(status, 429);
    assert!(started.elapsed() < Duration::from_millis(900), "a retry-after above the cap is not waited for");
    assert_eq!(hits(&mock, "ratelimit-30"), 1);
}

#[actix_rt::test]
async fn nothing_is_retried_after_the_first_byte() {
    let mock = start_mock();
    let gw = gateway(&mock.url, "k", &[("MAX_RETRIES", "3")]);
    let (status, body, _) = post(&gw, "mock:drop-mid-stream", true).await;
    assert_eq!(status, 200);
    assert!(body.contains("event: error"));
    assert_eq!(hits(&mock, "drop-mid-stream"), 1);
}

#[actix_rt::test]
async fn connection_failures_are_retried() {
    let (url, connections) = start_resetter();
    let gw = gateway(&url, "k", &[("MAX_RETRIES", "2")]);
    let (status, body, _) = post(&gw, "mock:m", false).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(error_type(body.as_bytes()), "api_error");
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

#[actix_rt::test]
async fn keys_rotate_on_401_and_a_failing_key_cools_down() {
    let mock = start_mock();
    let gw = gateway(&mock.url, "k1 k2 k3", &[("MAX_RETRIES", "0")]);
    let (status, _, _) = post(&gw, "mock:keys-ok-k3", false).await;
    assert_eq!(status, 200);
    let keys: Vec<String> = mock.requests().iter().map(|r| r.header("x-api-key").unwrap().to_string()).collect();
    assert_eq!(keys, ["k1", "k2", "k3"], "rotation order");
    // k1 and k2 are cooling down now: the next request goes straight to k3.
    let (status, _, _) = post(&gw, "mock:keys-ok-k3", false).await;
    assert_eq!(status, 200);
    assert_eq!(mock.requests().len(), 4);
    assert_eq!(mock.last().header("x-api-key"), Some("k3"));
    let mut res = client().get(format!("{}/health", gw.url)).send().await.unwrap();
    let health: serde_json::Value = res.json().await.unwrap();
    assert_eq!(health["providers"][0]["keys_cooling_down"], 2);
}

#[actix_rt::test]
async fn all_keys_refused_is_429_exhausted() {
    let mock = start_mock();
    let gw = gateway(&mock.url, "k1 k2", &[("MAX_RETRIES", "2")]);
    let (status, body, _) = post(&gw, "mock:keys-ok-none", false).await;
    assert_eq!(status, 429);
    assert_eq!(error_type(body.as_bytes()), "rate_limit_error");
    assert!(body.contains("all API keys of provider 'mock' exhausted"), "{body}");
    assert_eq!(mock.requests().len(), 2, "each key once, no retries of a refused key");
}

#[actix_rt::test]
async fn single_key_401_is_relayed_not_rotated() {
    let mock = start_mock();
    let gw = gateway(&mock.url, "only", &[("MAX_RETRIES", "2")]);
    let (status, body, _) = post(&gw, "mock:keys-ok-other", false).await;
    assert_eq!(status, 401);
    assert!(body.contains("mock says 401"));
    assert_eq!(mock.requests().len(), 1);
}

#[actix_rt::test]
async fn breaker_opens_fails_fast_then_half_opens_and_closes() {
    let mock = start_mock();
    let gw = gateway(
        &mock.url,
        "k",
        &[("MAX_RETRIES", "0"), ("CIRCUIT_BREAKER_THRESHOLD", "2"), ("CIRCUIT_BREAKER_COOLDOWN", "1")],
    );
    for _ in 0..2 {
        assert_eq!(post(&gw, "mock:fail-99-500", false).await.0, 500);
    }
    let health = |gw: &Gateway| {
        let url = format!("{}/health", gw.url);
        async move {
            let mut res = client().get(url).send().await.unwrap();
            let v: serde_json::Value = res.json().await.unwrap();
            v["providers"][0]["circuit_breaker"].as_str().unwrap().to_string()
        }
    };
    assert_eq!(health(&gw).await, "open");
    let mut res = client().get(format!("{}/metrics", gw.url)).send().await.unwrap();
    let metrics = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(metrics.contains(r#"gatehouse_circuit_breaker_state{provider="mock",state="open"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"gatehouse_circuit_breaker_state{provider="mock",state="closed"} 0"#));
    let started = Instant::now();
    let (status, body, headers) = post(&gw, "mock:anything", false).await;
    assert_eq!(status, 503);
    assert_eq!(error_type(body.as_bytes()), "overloaded_error");
    assert!(headers.get("retry-after").is_some());
    assert!(started.elapsed() < Duration::from_millis(200), "fails fast");
    assert_eq!(mock.requests().len(), 2, "an open breaker sends nothing upstream");

    actix_rt::time::sleep(Duration::from_millis(1100)).await;
    let (status, _, _) = post(&gw, "mock:healthy-again", false).await;
    assert_eq!(status, 200, "the half-open probe goes through");
    assert_eq!(health(&gw).await, "closed");
}

#[actix_rt::test]
async fn failed_probe_reopens() {
    let mock = start_mock();
    let gw = gateway(
        &mock.url,
        "k",
        &[("MAX_RETRIES", "0"), ("CIRCUIT_BREAKER_THRESHOLD", "1"), ("CIRCUIT_BREAKER_COOLDOWN", "1")],
    );
    assert_eq!(post(&gw, "mock:fail-99-502", false).await.0, 502);
    actix_rt::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(post(&gw, "mock:fail-99-502", false).await.0, 502, "probe fails");
    assert_eq!(post(&gw, "mock:fine", false).await.0, 503, "open again");
}
