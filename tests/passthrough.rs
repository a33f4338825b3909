//! End-to-end: Anthropic-format passthrough through a real gatehouse to a mock upstream.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use futures_util::StreamExt;

fn passthrough_gateway(mock: &MockUpstream, extra: &[(&str, &str)]) -> Gateway {
    let mut env =
        vec![("MOCK_API_KEY", "provider-key"), ("MOCK_BASE_URL", mock.url.as_str()), ("MOCK_API_FORMAT", "anthropic")];
    env.extend_from_slice(extra);
    start_gateway(&env)
}

#[actix_rt::test]
async fn claude_code_request_reaches_upstream_byte_for_byte_except_model() {
    let mock = start_mock();
    let gw = passthrough_gateway(&mock, &[]);
    let original = std::fs::read("tests/fixtures/passthrough/claude_code_request.json").unwrap();
    let mut res = client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("content-type", "application/json"))
        .insert_header(("x-api-key", "client-key"))
        .send_body(original.clone())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let got = res.body().await.unwrap();
    assert_eq!(got, Bytes::from_static(MESSAGE_JSON.as_bytes()), "response body relayed byte for byte");

    let sent = mock.last();
    assert_eq!(sent.path, "/v1/messages");
    let expected =
        String::from_utf8(original).unwrap().replacen("\"mock:claude-sonnet-4-5\"", "\"claude-sonnet-4-5\"", 1);
    assert_eq!(std::str::from_utf8(&sent.body).unwrap(), expected, "only the model changed");
}

#[actix_rt::test]
async fn response_status_and_useful_headers_are_relayed() {
    let mock = start_mock();
    let gw = passthrough_gateway(&mock, &[]);
    let res = client().post(format!("{}/v1/messages", gw.url)).send_body(body("mock:claude", false)).await.unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers();
    assert_eq!(h.get("request-id").unwrap(), "req_mock_1");
    assert_eq!(h.get("anthropic-ratelimit-requests-limit").unwrap(), "1000");
    assert_eq!(h.get("content-type").unwrap(), "application/json");
    assert!(h.get("set-cookie").is_none(), "upstream cookies are not relayed");
    let timing = h.get("server-timing").unwrap().to_str().unwrap();
    assert!(timing.starts_with("gateway;dur=") && timing.contains("upstream;dur="), "{timing}");
    assert!(h.get("x-gatehouse-request-id").is_some());
}

#[actix_rt::test]
async fn headers_forwarded_upstream() {
    let mock = start_mock();
    let gw = passthrough_gateway(&mock, &[("MOCK_CUSTOM_HEADER_X_TEAM_ID", "team-7")]);
    let beta = "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,some-future-beta-2027-01-01";
    let res = client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("x-api-key", "client-key"))
        .insert_header(("anthropic-beta", beta))
        .insert_header(("user-agent", "claude-cli/2.1.197 (external, sdk-cli)"))
        .insert_header(("x-stainless-retry-count", "0"))
        .insert_header(("accept-encoding", "gzip, br"))
        .send_body(body("mock:claude", false))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let sent = mock.last();
    assert_eq!(sent.header("anthropic-beta"), Some(beta));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"), "default version added");
    assert_eq!(sent.header("user-agent"), Some("claude-cli/2.1.197 (external, sdk-cli)"));
    assert_eq!(sent.header("x-stainless-retry-count"), Some("0"));
    assert_eq!(sent.header("x-api-key"), Some("provider-key"), "client key replaced by the provider's");
    assert_eq!(sent.header("x-team-id"), Some("team-7"));
    assert_eq!(sent.header("accept-encoding"), Some("identity"));

    // A header named by `Connection` is hop-by-hop. awc rewrites `Connection`, so speak HTTP/1.1 by hand.
    let raw_body = body("mock:claude", false);
    let request = format!(
        "POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close, x-hop-header\r\nx-hop-header: secret-hop\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{raw_body}",
        raw_body.len()
    );
    let addr = gw.url.trim_start_matches("http://").to_string();
    let response = actix_rt::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        tcp.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(mock.last().header("x-hop-header"), None, "headers named by Connection are not forwarded");

    client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("anthropic-version", "2099-01-01"))
        .send_body(body("mock:claude", false))
        .await
        .unwrap();
    assert_eq!(mock.last().header("anthropic-version"), Some("2099-01-01"), "client's version kept");
}

#[actix_rt::test]
async fn stream_is_relayed_byte_for_byte_with_no_cache() {
    let mock = start_mock();
    let gw = passthrough_gateway(&mock, &[]);
    let mut res = client().post(format!("{}/v1/messages", gw.url)).send_body(body("mock:claude", true)).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-cache");
    assert!(res.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/event-stream"));
    let got = res.body().await.unwrap();
    assert_eq!(std::str::from_utf8(&got).unwrap(), stream_body());
    assert!(!std::str::from_utf8(&got).unwrap().contains("[DONE]"));
}

#[actix_rt::test]
async fn first_event_arrives_before_the_upstream_sends_its_last() {
    let mock = start_mock();
    let gw = passthrough_gateway(&mock, &[]);
    let started = Instant::now();
    let mut res =
        client().post(format!("{}/v1/messages", gw.url)).send_body(body("mock:slow-stream", true)).await.unwrap();
    let first = res.next().await.unwrap().unwrap();
    let first_at = started.elapsed();
    assert!(std::str::from_utf8(&first).unwrap().starts_with("event: message_start"));
    // The mock spaces 8 events 300 ms apart (2.1 s in all); the first must not wait for the rest.
    assert!(first_at < Duration::from_millis(1000), "first event after {first_at:?}");
    let mut all = first.to_vec();
    while let Some(chunk) = res.next().await {
        all.extend_from_slice(&chunk.unwrap());
    }
    assert!(started.elapsed() >= Duration::from_millis(2000));
    assert_eq!(String::from_utf8(all).unwrap(), stream_body());
}

#[actix_rt::test]
async fn usage_reaches_metrics_for_streams_and_messages() {
    let mock = start_mock();
    let gw = passthrough_gateway(&mock, &[]);
    let c = client();
    for stream in [true, false] {
        let mut res = c.post(format!("{}/v1/messages", gw.url)).send_body(body("mock:claude", stream)).await.unwrap();
        res.body().await.unwrap();
    }
    let mut res = c.post(format!("{}/v1/messages", gw.url)).send_body(body("mock:error-500", false)).await.unwrap();
    res.body().await.unwrap();
    // The metrics actor receives records asynchronously; poll briefly.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut res = c.get(format!("{}/metrics/summary", gw.url)).send().await.unwrap();
        let summary: serde_json::Value = res.json().await.unwrap();
        let claude = &summary["models"]["mock:claude"];
        if claude["requests"] == 2 && summary["models"]["mock:error-500"]["requests"] == 1 {
            assert_eq!(claude["input_tokens"], 30 + 21);
            assert_eq!(claude["output_tokens"], 12 + 9);
            assert_eq!(claude["cache_read_input_tokens"], 6 + 4);
            assert_eq!(claude["cache_creation_input_tokens"], 3);
            assert_eq!(claude["streamed"], 1);
            assert_eq!(summary["models"]["mock:error-500"]["errors"], 1);
            break;
        }
        assert!(Instant::now() < deadline, "metrics never showed the requests: {summary}");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_rt::test]
async fn head_and_get_root_answer_200_and_health_shows_no_keys() {
    let mock = start_mock();
    let gw = passthrough_gateway(
        &mock,
        &[("OTHER_API_KEY", "sk-secret-1 sk-secret-2"), ("OTHER_BASE_URL", "http://127.0.0.1:9/v1")],
    );
    let c = client();
    assert_eq!(c.head(format!("{}/", gw.url)).send().await.unwrap().status(), 200);
    assert_eq!(c.get(format!("{}/", gw.url)).send().await.unwrap().status(), 200);
    let mut res = c.get(format!("{}/health", gw.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(!text.contains("sk-secret") && !text.contains("provider-key"), "{text}");
    let health: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(health["status"], "ok");
    let other = health["providers"].as_array().unwrap().iter().find(|p| p["name"] == "other").unwrap();
    assert_eq!(other["format"], "openai");
    assert_eq!(other["auth"], "static");
    assert_eq!(other["keys"], 2);
}
