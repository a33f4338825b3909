//! End-to-end: OpenAI clients on `POST /v1/chat/completions`, routed to an OpenAI-format provider (passthrough)
//! and to an Anthropic-format provider (converted both ways), errors in the OpenAI shape, and fallbacks.

mod common;
#[path = "support/openai_invariants.rs"]
mod openai_invariants;

use actix_web::http::header::HeaderMap;
use bytes::Bytes;
use common::*;
use serde_json::{json, Value};

fn gateway(mock: &MockUpstream, extra: &[(&str, &str)]) -> Gateway {
    let base = format!("{}/v1", mock.url);
    let mut env = vec![
        ("MOCK_API_KEY", "provider-key"),
        ("MOCK_BASE_URL", mock.url.as_str()),
        ("MOCK_API_FORMAT", "anthropic"),
        ("OAI_API_KEY", "sk-provider"),
        ("OAI_BASE_URL", base.as_str()),
        ("MAX_RETRIES", "0"),
        ("CIRCUIT_BREAKER_THRESHOLD", "1000"),
    ];
    env.extend_from_slice(extra);
    start_gateway(&env)
}

async fn post_with(gw: &Gateway, body: impl Into<Bytes>, headers: &[(&str, &str)]) -> (u16, HeaderMap, Bytes) {
    let mut request = client().post(format!("{}/v1/chat/completions", gw.url));
    for (k, v) in headers {
        request = request.insert_header((*k, *v));
    }
    let mut res = request.send_body(body.into()).await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.body().limit(1 << 24).await.unwrap())
}

async fn post(gw: &Gateway, body: impl Into<Bytes>) -> (u16, HeaderMap, Bytes) {
    post_with(gw, body, &[("content-type", "application/json")]).await
}

fn chat(model: &str, stream: bool) -> String {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "What's the weather in Paris and Tokyo?"}]})
        .to_string()
}

/// The OpenAI error object, asserting the envelope's shape.
fn openai_error(body: &[u8]) -> Value {
    let v: Value = serde_json::from_slice(body).unwrap_or_else(|_| panic!("error body is JSON: {body:?}"));
    let error = v["error"].clone();
    assert!(error["message"].is_string() && error["type"].is_string(), "OpenAI error shape: {v}");
    assert!(error.get("param").is_some_and(Value::is_null) && error.get("code").is_some(), "param and code: {v}");
    assert!(v.get("type").is_none(), "not the Anthropic envelope: {v}");
    error
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[actix_rt::test]
async fn openai_provider_gets_the_body_with_only_the_model_rewritten_and_json_comes_back_unchanged() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let body = r#"{ "messages" : [{"role":"user","content":"hi"}], "model":"oai:fixture-text",  "logit_bias":{"50256":-100}, "seed": 7 }"#;
    let (status, headers, answer) = post(&gw, body).await;
    assert_eq!(status, 200);
    assert_eq!(answer.as_ref(), fixture("openai_responses/text.json").as_slice(), "relayed unchanged");
    assert!(headers.get("x-gatehouse-request-id").is_some());
    let sent = mock.last();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        std::str::from_utf8(&sent.body).unwrap(),
        body.replace("\"oai:fixture-text\"", "\"fixture-text\""),
        "every other byte as sent"
    );
    assert_eq!(sent.header("authorization"), Some("Bearer sk-provider"));
}

#[actix_rt::test]
async fn openai_provider_streams_are_relayed_byte_for_byte_including_done() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let (status, headers, answer) = post(&gw, chat("oai:fixture-parallel_tools", true)).await;
    assert_eq!(status, 200);
    assert!(headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/event-stream"));
    assert_eq!(answer.as_ref(), fixture("openai_streams/parallel_tools.sse").as_slice());
    assert!(String::from_utf8_lossy(&answer).trim_end().ends_with("data: [DONE]"));
}

#[actix_rt::test]
async fn openai_provider_errors_are_relayed_with_status_and_body() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let (status, headers, answer) = post(&gw, chat("oai:error-429", false)).await;
    assert_eq!(status, 429);
    assert_eq!(headers.get("retry-after").unwrap(), "7");
    assert_eq!(openai_error(&answer)["code"], "mock_code", "the upstream's own body");
}

#[actix_rt::test]
async fn anthropic_provider_json_is_converted_both_ways() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let body = json!({
        "model": "mock:tool-use", "max_completion_tokens": 300, "temperature": 1.5, "user": "u1",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris and Tokyo?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}}],
        "tool_choice": "required", "parallel_tool_calls": true,
    });
    let (status, _, answer) = post_with(&gw, body.to_string(), &[("authorization", "Bearer sk-client")]).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    let completion: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(completion["model"], "mock:tool-use");
    let choice = &completion["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    let args: Value = serde_json::from_str(calls[1]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"location": "Tokyo, Japan", "unit": "celsius"}));
    assert_eq!(completion["usage"]["prompt_tokens"], 472);

    let sent = mock.last();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some("provider-key"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    let sent = sent.json();
    assert_eq!(sent["model"], "tool-use");
    assert_eq!(sent["max_tokens"], 300);
    assert_eq!(sent["temperature"], 1.0);
    assert_eq!(sent["system"][0]["text"], "Be brief.");
    assert_eq!(sent["metadata"]["user_id"], "u1");
    assert_eq!(sent["tool_choice"], json!({"type": "any"}));
    assert_eq!(sent["tools"][0]["input_schema"]["properties"]["location"]["type"], "string");
}

/// Every Anthropic stream fixture through the gateway: the converted stream equals the golden file (the model
/// and `created` aside), or — when the stream fails before its first chunk — a real HTTP error.
#[actix_rt::test]
async fn anthropic_provider_streams_convert_exactly_as_golden_through_the_gateway() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let dir = format!("{}/tests/fixtures/anthropic_streams", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".sse") && !n.contains(".expected."))
        .map(|n| n.trim_end_matches(".sse").to_string())
        .collect();
    names.sort();
    assert!(names.len() >= 10);
    for name in names {
        let model = format!("mock:fixture-{name}");
        let body = json!({"model": model, "stream": true, "stream_options": {"include_usage": true},
                          "messages": [{"role": "user", "content": "go"}]});
        let (status, headers, answer) = post(&gw, body.to_string()).await;
        let expected = std::fs::read_to_string(format!("{dir}/{name}.expected.openai.sse")).unwrap();
        if expected.starts_with("data: {\"error\"") {
            assert_ne!(status, 200, "{name}: failed before the first chunk, so an HTTP error");
            openai_error(&answer);
            continue;
        }
        assert_eq!(status, 200, "{name}");
        assert!(headers.get("content-type").unwrap().to_str().unwrap().starts_with("text/event-stream"));
        let text = String::from_utf8(answer.to_vec()).unwrap();
        openai_invariants::check_openai_stream(text.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let created = text.split("\"created\":").nth(1).and_then(|r| r.split(',').next()).unwrap_or("0");
        let normalized = text
            .replace(&format!("\"model\":\"{model}\""), "\"model\":\"anthropic:claude-sonnet-4-5\"")
            .replace(&format!("\"created\":{created},"), "\"created\":1700000000,");
        assert_eq!(normalized, expected, "{name}");
        assert_eq!(mock.last().json()["stream"], true);
    }
}

#[actix_rt::test]
async fn usage_chunk_only_when_asked_for() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let (_, _, answer) = post(&gw, chat("mock:claude", true)).await;
    let collected = openai_invariants::check_openai_stream(&answer).unwrap();
    assert_eq!(collected.content, "Hello world");
    assert_eq!(collected.usage, None);
}

#[actix_rt::test]
async fn gateway_errors_are_in_the_openai_shape() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("MAX_BODY_BYTES", "2000")]);
    let cases: [(String, u16, &str, Value); 7] = [
        ("{not json".into(), 400, "not valid JSON", Value::Null),
        (r#"{"messages":[{"role":"user","content":"x"}]}"#.into(), 400, "model", Value::Null),
        (r#"{"model":"mock:m","messages":[]}"#.into(), 400, "messages", Value::Null),
        (chat("nosuch:model", false), 400, "nosuch", json!("model_not_found")),
        (format!(r#"{{"model":"mock:m","messages":[{{"role":"user","content":"{}"}}]}}"#, "x".repeat(3000)), 413, "limit", json!("request_too_large")),
        (
            json!({"model": "mock:m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]}).to_string(),
            400,
            "messages[0].content[0].type",
            Value::Null,
        ),
        (json!({"model": "mock:m", "n": 3, "messages": [{"role": "user", "content": "x"}]}).to_string(), 400, "n:", Value::Null),
    ];
    for (body, want_status, needle, want_code) in cases {
        let (status, _, answer) = post(&gw, body.clone()).await;
        assert_eq!(status, want_status, "{body:.80}");
        let error = openai_error(&answer);
        assert!(error["message"].as_str().unwrap().contains(needle), "{body:.80} → {error}");
        assert_eq!(error["code"], want_code, "{body:.80}");
        if status == 400 {
            assert_eq!(error["type"], "invalid_request_error");
        }
    }
    assert_eq!(mock.hits(), 0, "client mistakes never reach the upstream");
}

#[actix_rt::test]
async fn proxy_key_is_checked_with_openai_style_bearer() {
    let mock = start_mock();
    let gw = gateway(&mock, &[("PROXY_API_KEY", "gw-secret")]);
    let (status, _, answer) = post(&gw, chat("mock:claude", false)).await;
    assert_eq!(status, 401);
    let error = openai_error(&answer);
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("invalid_request_error"), Some("invalid_api_key"))
    );
    let (status, _, _) = post_with(&gw, chat("mock:claude", false), &[("authorization", "Bearer gw-secret")]).await;
    assert_eq!(status, 200);
    assert_eq!(mock.last().header("x-api-key"), Some("provider-key"), "the proxy key is never sent upstream");
}

#[actix_rt::test]
async fn anthropic_upstream_errors_become_openai_errors_with_status() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let (status, headers, answer) = post(&gw, chat("mock:error-429", false)).await;
    assert_eq!(status, 429);
    assert_eq!(headers.get("retry-after").unwrap(), "7");
    let error = openai_error(&answer);
    assert_eq!((error["type"].as_str(), error["code"].as_str()), (Some("requests"), Some("rate_limit_exceeded")));
    assert_eq!(error["message"], "mock upstream says 429");
    let (status, _, answer) = post(&gw, chat("mock:error-529", true)).await;
    assert_eq!(status, 529);
    assert_eq!(openai_error(&answer)["code"], "overloaded");
    let (status, _, answer) = post(&gw, chat("mock:error-401", false)).await;
    assert_eq!(status, 401);
    assert_eq!(openai_error(&answer)["code"], "invalid_api_key");
}

#[actix_rt::test]
async fn unreachable_and_mid_stream_failures() {
    let mock = start_mock();
    let dead = dead_url();
    let gw =
        gateway(&mock, &[("DEAD_API_KEY", "k"), ("DEAD_BASE_URL", dead.as_str()), ("DEAD_API_FORMAT", "anthropic")]);
    let (status, _, answer) = post(&gw, chat("dead:claude", false)).await;
    assert_eq!(status, 502);
    assert_eq!(openai_error(&answer)["type"], "server_error");
    for model in ["mock:drop-mid-stream", "mock:truncated-stream"] {
        let (status, _, answer) = post(&gw, chat(model, true)).await;
        assert_eq!(status, 200, "{model}: the stream had begun");
        let collected = openai_invariants::check_openai_stream(&answer).unwrap_or_else(|e| panic!("{model}: {e}"));
        assert_eq!(collected.error.unwrap()["type"], "server_error", "{model}");
    }
}

#[actix_rt::test]
async fn fallbacks_cross_formats_in_both_directions() {
    let mock = start_mock();
    let gw = gateway(
        &mock,
        &[("OAI_ALIAS_SMART", "error-503, mock:claude"), ("MOCK_ALIAS_CLEVER", "error-500, oai:fixture-text")],
    );
    let (status, headers, answer) = post(&gw, chat("smart", false)).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(headers.get("x-gatehouse-target").unwrap(), "mock:claude");
    let completion: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(completion["choices"][0]["message"]["content"], "Hello from the mock");
    let (status, headers, answer) = post(&gw, chat("clever", true)).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("x-gatehouse-target").unwrap(), "oai:fixture-text");
    assert_eq!(answer.as_ref(), fixture("openai_streams/text.sse").as_slice());
    let paths: Vec<String> = mock.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/v1/chat/completions", "/v1/messages", "/v1/messages", "/v1/chat/completions"]);
}

#[actix_rt::test]
async fn passthrough_keys_from_openai_sdks_are_sent_to_anthropic_as_x_api_key() {
    let mock = start_mock();
    let gw = start_gateway(&[
        ("ANTHROPIC_API_KEY", "!PASSTHRU"),
        ("ANTHROPIC_BASE_URL", mock.url.as_str()),
        ("MAX_RETRIES", "0"),
    ]);
    let (status, _, _) =
        post_with(&gw, chat("claude", false), &[("authorization", "Bearer sk-ant-api03-client")]).await;
    assert_eq!(status, 200);
    let sent = mock.last();
    assert_eq!(sent.header("x-api-key"), Some("sk-ant-api03-client"));
    assert_eq!(sent.header("authorization"), None);
    let (status, _, answer) = post(&gw, chat("claude", false)).await;
    assert_eq!(status, 401, "no key for a passthrough provider");
    assert_eq!(openai_error(&answer)["code"], "invalid_api_key");
}

#[actix_rt::test]
async fn usage_is_recorded_under_the_chat_completions_route() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    // Passthrough stream (the fixture carries usage: 25 in, 9 out) and a converted answer (21 in, 9 out, 4 cache
    // read, 3 cache creation).
    let (status, _, _) = post(&gw, chat("oai:fixture-text", true)).await;
    assert_eq!(status, 200);
    let (status, _, _) = post(&gw, chat("mock:claude", false)).await;
    assert_eq!(status, 200);
    let mut route = Value::Null;
    for _ in 0..100 {
        let mut res = client().get(format!("{}/metrics/summary", gw.url)).send().await.unwrap();
        let summary: Value = serde_json::from_slice(&res.body().await.unwrap()).unwrap();
        route = summary["routes"]["chat_completions"].clone();
        if route["requests"] == 2 {
            break;
        }
        actix_rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(route["requests"], 2, "{route}");
    assert_eq!(route["input_tokens"], 25 + 21);
    assert_eq!(route["output_tokens"], 9 + 9);
    assert_eq!(route["cache_read_input_tokens"], 4);
    assert_eq!(route["cache_creation_input_tokens"], 3);
}

#[actix_rt::test]
async fn client_disconnect_before_the_head_cancels_the_upstream_request_for_both_formats() {
    for format in ["anthropic", "openai"] {
        let (url, closed) = start_silent_upstream();
        let gw = start_gateway(&[
            ("SILENT_API_KEY", "k"),
            ("SILENT_BASE_URL", url.as_str()),
            ("SILENT_API_FORMAT", format),
            ("MAX_RETRIES", "0"),
        ]);
        let impatient = client_with_timeout(std::time::Duration::from_millis(300));
        let sent = impatient.post(format!("{}/v1/chat/completions", gw.url)).send_body(chat("silent:m", false)).await;
        assert!(sent.is_err(), "{format}: the client gave up");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while closed.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            assert!(std::time::Instant::now() < deadline, "{format}: the upstream request outlived its client");
            actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

#[actix_rt::test]
async fn client_disconnect_mid_stream_cancels_the_upstream_stream() {
    use futures_util::StreamExt;
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let mut res = client()
        .post(format!("{}/v1/chat/completions", gw.url))
        .send_body(chat("mock:slow-stream", true))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let first = res.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("\"role\":\"assistant\""));
    drop(res);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while mock.state.streams_cancelled.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < deadline, "the upstream stream outlived its client");
        actix_rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
