//! End-to-end: every error path answers with the right status and the Anthropic envelope, and never hangs.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;

fn gateway_for(base_url: &str, extra: &[(&str, &str)]) -> Gateway {
    let mut env = vec![
        ("MOCK_API_KEY", "provider-key"),
        ("MOCK_BASE_URL", base_url),
        ("MOCK_API_FORMAT", "anthropic"),
        ("MAX_RETRIES", "0"),
        ("CIRCUIT_BREAKER_THRESHOLD", "1000"),
    ];
    env.extend_from_slice(extra);
    start_gateway(&env)
}

async fn post(gw: &Gateway, body: impl Into<bytes::Bytes>) -> (u16, bytes::Bytes) {
    let mut res = client().post(format!("{}/v1/messages", gw.url)).send_body(body.into()).await.unwrap();
    let status = res.status().as_u16();
    (status, res.body().limit(1 << 20).await.unwrap())
}

#[actix_rt::test]
async fn client_mistakes_are_400_naming_the_field_and_never_reach_upstream() {
    let mock = start_mock();
    let gw = gateway_for(&mock.url, &[]);
    let cases: [(&str, &str); 11] = [
        ("{not json", "not valid JSON"),
        (
            r#"{"model":"mock:m","max_tokens":5,"messages":[{"role":"user","content":"x"},]}"#,
            "expected a value at byte 75",
        ),
        ("{\"model\":\"mock:m\",\"max_tokens\":5,\"messages\":[{\"content\":\"a\u{1}b\"}]}", "control character"),
        (r#"{"model":"mock:m","model":"mock:n","max_tokens":5,"messages":[1]}"#, "model: appears more than once"),
        (
            r#"{"model":"mock:m","system":"a","max_tokens":5,"system":"b","messages":[1]}"#,
            "system: appears more than once",
        ),
        ("[]", "JSON object"),
        (r#"{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}"#, "model"),
        (r#"{"model":"mock:m","max_tokens":5,"messages":[]}"#, "messages"),
        (r#"{"model":"mock:m","messages":[{"role":"user","content":"x"}]}"#, "max_tokens"),
        (r#"{"model":"mock:m","max_tokens":"lots","messages":[{"role":"user","content":"x"}]}"#, "max_tokens"),
        ("", "empty"),
    ];
    for (body, needle) in cases {
        let (status, res) = post(&gw, body.to_string()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(error_type(&res), "invalid_request_error");
        let text = String::from_utf8_lossy(&res);
        assert!(text.contains(needle), "{body} → {text}");
    }
    let (status, res) = post(&gw, b"{\"model\":\"mock:\xff\"}".to_vec()).await;
    assert_eq!(status, 400, "invalid UTF-8");
    assert_eq!(error_type(&res), "invalid_request_error");
    assert_eq!(mock.hits(), 0);
}

#[actix_rt::test]
async fn unknown_provider_is_named_with_the_configured_list() {
    let mock = start_mock();
    let gw = gateway_for(&mock.url, &[]);
    let (status, res) = post(&gw, body("nosuch:model", false)).await;
    assert_eq!(status, 400);
    assert_eq!(error_type(&res), "invalid_request_error");
    let text = String::from_utf8_lossy(&res);
    assert!(text.contains("'nosuch'") && text.contains("mock"), "{text}");
}

#[actix_rt::test]
async fn body_over_the_limit_is_413() {
    let mock = start_mock();
    let gw = gateway_for(&mock.url, &[("MAX_BODY_BYTES", "1000")]);
    let big = body(&format!("mock:{}", "x".repeat(2000)), false);
    let (status, res) = post(&gw, big).await;
    assert_eq!(status, 413);
    assert_eq!(error_type(&res), "request_too_large");
    assert_eq!(mock.hits(), 0);
}

#[actix_rt::test]
async fn upstream_errors_keep_status_body_and_retry_after() {
    let mock = start_mock();
    let gw = gateway_for(&mock.url, &[]);
    for status in [400u16, 401, 403, 404, 429, 500, 529] {
        let mut res = client()
            .post(format!("{}/v1/messages", gw.url))
            .send_body(body(&format!("mock:error-{status}"), true))
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status);
        if status == 429 {
            assert_eq!(res.headers().get("retry-after").unwrap(), "7");
        }
        assert_eq!(res.headers().get("request-id").unwrap(), "req_mock_err");
        let got = res.body().await.unwrap();
        assert_eq!(error_type(&got), format!("mock_error_{status}"), "upstream body relayed unchanged");
    }
}

#[actix_rt::test]
async fn unreachable_upstream_is_502() {
    let gw = gateway_for(&dead_url(), &[]);
    let (status, res) = post(&gw, body("mock:m", false)).await;
    assert_eq!(status, 502);
    assert_eq!(error_type(&res), "api_error");
    assert!(String::from_utf8_lossy(&res).contains("'mock'"));
}

#[actix_rt::test]
async fn silent_upstream_is_504_after_request_timeout() {
    let mock = start_mock();
    let gw = gateway_for(&mock.url, &[("REQUEST_TIMEOUT", "1")]);
    let started = Instant::now();
    let (status, res) = post(&gw, body("mock:hang", false)).await;
    assert_eq!(status, 504);
    assert_eq!(error_type(&res), "timeout_error");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

async fn read_stream(gw: &Gateway, model: &str) -> String {
    let mut res = client().post(format!("{}/v1/messages", gw.url)).send_body(body(model, true)).await.unwrap();
    assert_eq!(res.status(), 200);
    String::from_utf8(res.body().await.unwrap().to_vec()).unwrap()
}

#[actix_rt::test]
async fn upstream_drop_mid_stream_becomes_one_error_event() {
    let mock = start_mock();
    let gw = gateway_for(&mock.url, &[]);
    for model in ["mock:drop-mid-stream", "mock:truncated-stream"] {
        let text = read_stream(&gw, model).await;
        assert!(
            text.starts_with(&STREAM_EVENTS[..3].concat()),
            "{model}: events before the failure are relayed: {text}"
        );
        let tail = &text[STREAM_EVENTS[..3].concat().len()..];
        assert!(tail.starts_with("event: error\ndata: {\"type\":\"error\""), "{model}: {tail}");
        assert!(tail.ends_with("\n\n") && tail.matches("event:").count() == 1, "{model}: {tail}");
    }
}

#[actix_rt::test]
async fn idle_stream_times_out_with_an_error_event() {
    let mock = start_mock();
    let gw = gateway_for(&mock.url, &[("STREAM_IDLE_TIMEOUT", "1")]);
    let text = read_stream(&gw, "mock:slow-stream").await;
    assert_eq!(text, stream_body(), "gaps shorter than the idle limit are fine");
    let started = Instant::now();
    let text = read_stream(&gw, "mock:stall-stream").await;
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let tail = text.strip_prefix(&STREAM_EVENTS[..3].concat()).expect("events before the stall are relayed");
    assert!(tail.starts_with("event: error\n") && tail.contains("timeout_error"), "{tail}");
}

#[actix_rt::test]
async fn client_disconnect_cancels_the_upstream_stream() {
    let mock = start_mock();
    let gw = gateway_for(&mock.url, &[]);
    let mut res =
        client().post(format!("{}/v1/messages", gw.url)).send_body(body("mock:endless-stream", true)).await.unwrap();
    assert_eq!(res.status(), 200);
    res.next().await.unwrap().unwrap();
    drop(res);
    let deadline = Instant::now() + Duration::from_secs(5);
    while mock.state.streams_cancelled.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "upstream stream still running 5 s after the client left");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_rt::test]
async fn client_disconnect_before_the_response_head_cancels_the_upstream_request() {
    let (url, closed) = start_silent_upstream();
    let gw = gateway_for(&url, &[]);
    let impatient = client_with_timeout(Duration::from_millis(300));
    assert!(impatient.post(format!("{}/v1/messages", gw.url)).send_body(body("mock:m", false)).await.is_err());
    let deadline = Instant::now() + Duration::from_secs(5);
    while closed.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the upstream request was still open 5 s after the client left");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_rt::test]
async fn unknown_routes_get_the_envelope() {
    let mock = start_mock();
    let gw = gateway_for(&mock.url, &[]);
    let mut res = client().get(format!("{}/v2/nothing", gw.url)).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(error_type(&res.body().await.unwrap()), "not_found_error");
}
