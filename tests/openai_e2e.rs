//! End-to-end: Anthropic clients talking to an OpenAI-format provider through gatehouse. The mock upstream serves
//! the golden fixtures, so every converted stream is checked against the exact expected output and the stream
//! invariants.

mod common;
#[path = "support/invariants.rs"]
mod invariants;

use common::*;
use serde_json::{json, Value};

/// Tool names the golden fixtures use (as in tests/convert_golden.rs).
const CLIENT_TOOL_NAMES: &[&str] = &[
    "get_weather",
    "Read",
    "Bash",
    "mcp__filesystem.read_file",
    "mcp__a_very_long_server_name_for_testing__and_an_even_longer_tool_name_that_exceeds_limits",
];

fn openai_gateway(mock: &MockUpstream, key: &str) -> Gateway {
    let base = format!("{}/v1", mock.url);
    start_gateway(&[
        ("OAI_API_KEY", key),
        ("OAI_BASE_URL", &base),
        ("OAI_REASONING_EFFORT", "true"),
        ("MAX_RETRIES", "0"),
        ("CIRCUIT_BREAKER_THRESHOLD", "1000"),
    ])
}

fn request_with_tools(model: &str, stream: bool) -> String {
    let tools: Vec<Value> = CLIENT_TOOL_NAMES
        .iter()
        .map(|n| json!({"name": n, "description": "d", "input_schema": {"type": "object", "properties": {}}}))
        .collect();
    json!({"model": model, "max_tokens": 100, "stream": stream, "tools": tools,
           "messages": [{"role": "user", "content": "go"}]})
    .to_string()
}

/// Replaces the generated message id, the client's model name and `message_start`'s input estimate (the local
/// tokenizer's count of the request, checked apart) with the golden fixtures' fixed values.
fn normalize(stream: &str, model: &str) -> String {
    let id_start = stream.find("\"id\":\"msg_").map(|i| i + 6);
    let mut out = stream.to_string();
    if let Some(estimate) = message_start_input_tokens(stream) {
        let usage = format!("\"usage\":{{\"input_tokens\":{estimate},\"output_tokens\":0,");
        out = out.replacen(&usage, "\"usage\":{\"input_tokens\":0,\"output_tokens\":0,", 1);
    }
    if let Some(start) = id_start {
        let end = start + stream[start..].find('"').unwrap();
        out = out.replace(&stream[start..end], "msg_golden");
    }
    out.replace(&format!("\"model\":\"{model}\""), "\"model\":\"claude-sonnet-4-5\"")
}

/// The `input_tokens` of a stream's `message_start`.
fn message_start_input_tokens(stream: &str) -> Option<u64> {
    let data = stream.lines().find(|l| l.starts_with("data: {\"type\":\"message_start\""))?;
    let event: serde_json::Value = serde_json::from_str(&data[6..]).ok()?;
    event["message"]["usage"]["input_tokens"].as_u64()
}

#[actix_rt::test]
async fn every_fixture_stream_converts_exactly_as_golden_through_the_gateway() {
    let mock = start_mock();
    let gw = openai_gateway(&mock, "sk-provider");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/openai_streams");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".sse") && !n.contains(".expected."))
        // A fixture with `.options.json` needs data only the converter's caller supplies (convert_golden runs it).
        .filter(|n| !std::path::Path::new(dir).join(n.replace(".sse", ".options.json")).exists())
        .map(|n| n.trim_end_matches(".sse").to_string())
        .collect();
    names.sort();
    assert!(names.len() >= 10);
    for name in names {
        let model = format!("oai:fixture-{name}");
        let mut res =
            client().post(format!("{}/v1/messages", gw.url)).send_body(request_with_tools(&model, true)).await.unwrap();
        assert_eq!(res.status(), 200, "{name}");
        assert!(res.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/event-stream"));
        let body = res.body().limit(1 << 24).await.unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        let expected = std::fs::read_to_string(format!("{dir}/{name}.expected.sse")).unwrap();
        assert_eq!(normalize(&text, &model), expected, "{name}");
        if let Some(estimate) = message_start_input_tokens(&text) {
            assert!(estimate > 20, "{name}: message_start carries the request's estimated input tokens ({estimate})");
        }
        if !text.contains("event: error") {
            invariants::check_anthropic_stream(text.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let sent = mock.last().json();
        assert_eq!(sent["stream_options"]["include_usage"], true, "{name}");
        assert_eq!(sent["model"], format!("fixture-{name}"));
    }
}

#[actix_rt::test]
async fn non_streaming_answer_is_an_anthropic_message() {
    let mock = start_mock();
    let gw = openai_gateway(&mock, "sk-provider");
    let mut res =
        client().post(format!("{}/v1/messages", gw.url)).send_body(body("oai:fixture-text", false)).await.unwrap();
    assert_eq!(res.status(), 200);
    let message: Value = res.json().await.unwrap();
    assert_eq!(message["type"], "message");
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["model"], "oai:fixture-text", "the model the client asked for");
    assert_eq!(message["content"][0]["type"], "text");
    assert!(message["usage"]["output_tokens"].as_u64().unwrap() > 0);
    let sent = mock.last();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-provider"));
    assert_eq!(sent.header("x-api-key"), None);
}

#[actix_rt::test]
async fn claude_code_request_is_converted_as_golden() {
    let mock = start_mock();
    let gw = openai_gateway(&mock, "sk-provider");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/requests");
    let mut request: Value =
        serde_json::from_slice(&std::fs::read(format!("{dir}/claude_code_like.json")).unwrap()).unwrap();
    request["model"] = json!("oai:upstream-model");
    let mut res = client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("anthropic-beta", "claude-code-20250219,context-management-2025-06-27"))
        .send_body(request.to_string())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    invariants::check_anthropic_stream(text.as_bytes()).unwrap();
    let sent = mock.last();
    assert_eq!(sent.header("anthropic-beta"), None, "Anthropic headers do not reach an OpenAI upstream");
    let mut expected: Value =
        serde_json::from_slice(&std::fs::read(format!("{dir}/claude_code_like.expected.openai.json")).unwrap())
            .unwrap();
    let mut actual = sent.json();
    for v in [&mut expected, &mut actual] {
        for message in v["messages"].as_array_mut().unwrap() {
            for call in message.get_mut("tool_calls").and_then(Value::as_array_mut).into_iter().flatten() {
                let args = call["function"]["arguments"].as_str().unwrap().to_string();
                call["function"]["arguments"] = serde_json::from_str(&args).unwrap();
            }
        }
    }
    assert_eq!(actual, expected);
}

#[actix_rt::test]
async fn openai_errors_become_anthropic_envelopes_with_status_kept() {
    let mock = start_mock();
    let gw = openai_gateway(&mock, "sk-provider");
    for (status, error_type_name) in [
        (400u16, "invalid_request_error"),
        (401, "authentication_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (503, "api_error"),
    ] {
        for stream in [false, true] {
            let mut res = client()
                .post(format!("{}/v1/messages", gw.url))
                .send_body(body(&format!("oai:error-{status}"), stream))
                .await
                .unwrap();
            assert_eq!(res.status().as_u16(), status);
            if status == 429 {
                assert_eq!(res.headers().get("retry-after").unwrap(), "7");
            }
            let got = res.body().await.unwrap();
            assert_eq!(error_type(&got), error_type_name);
            assert!(
                String::from_utf8_lossy(&got).contains(&format!("openai mock says {status}")),
                "upstream message kept"
            );
        }
    }
}

#[actix_rt::test]
async fn passthrough_key_goes_upstream_as_bearer() {
    let mock = start_mock();
    let gw = openai_gateway(&mock, "!PASSTHRU");
    let mut res = client()
        .post(format!("{}/v1/messages", gw.url))
        .insert_header(("x-api-key", "sk-client-own"))
        .send_body(body("oai:fixture-text", false))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.body().await.unwrap();
    assert_eq!(mock.last().header("authorization"), Some("Bearer sk-client-own"));
}

#[actix_rt::test]
async fn a_request_the_converter_cannot_read_is_400_naming_the_field() {
    let mock = start_mock();
    let gw = openai_gateway(&mock, "sk");
    let bad = json!({"model": "oai:x", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": 5}]}]});
    let mut res = client().post(format!("{}/v1/messages", gw.url)).send_body(bad.to_string()).await.unwrap();
    assert_eq!(res.status(), 400);
    let got = res.body().await.unwrap();
    assert_eq!(error_type(&got), "invalid_request_error");
    assert!(String::from_utf8_lossy(&got).contains("messages[0].content[0]"), "{}", String::from_utf8_lossy(&got));
    assert_eq!(mock.hits(), 0);
}
