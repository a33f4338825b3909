//! End-to-end: an Anthropic client talks to a Gemini-like OpenAI-format upstream that returns thought signatures
//! with its tool calls; the client drops them (it does not know the fields), and when it replays the tool calls
//! the upstream receives them back.

mod common;

use common::*;
use serde_json::{json, Value};

fn gateway(mock: &MockUpstream, extra: &[(&str, &str)]) -> Gateway {
    let base = format!("{}/v1", mock.url);
    let mut env = vec![("GEMINI_API_KEY", "g-key"), ("GEMINI_BASE_URL", base.as_str()), ("MAX_RETRIES", "0")];
    env.extend_from_slice(extra);
    start_gateway(&env)
}

const TOOLS: &str =
    r#"[{"name":"get_weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}}}}]"#;

fn first_turn(model: &str, stream: bool) -> String {
    json!({"model": model, "max_tokens": 100, "stream": stream, "tools": serde_json::from_str::<Value>(TOOLS).unwrap(),
           "messages": [{"role": "user", "content": "Weather?"}]})
    .to_string()
}

/// The second turn as an Anthropic client sends it: the assistant's tool calls (without any signature) and the
/// results.
fn replay(calls: &[(&str, &str)]) -> String {
    let tool_uses: Vec<Value> = calls
        .iter()
        .map(|(id, city)| json!({"type": "tool_use", "id": id, "name": "get_weather", "input": {"location": city}}))
        .collect();
    let results: Vec<Value> =
        calls.iter().map(|(id, _)| json!({"type": "tool_result", "tool_use_id": id, "content": "sunny"})).collect();
    json!({"model": "gemini:fixture-text", "max_tokens": 100, "tools": serde_json::from_str::<Value>(TOOLS).unwrap(),
    "messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": tool_uses},
        {"role": "user", "content": results},
    ]})
    .to_string()
}

async fn post(gw: &Gateway, body: String) -> (u16, String) {
    let mut res = client().post(format!("{}/v1/messages", gw.url)).send_body(body).await.unwrap();
    let status = res.status().as_u16();
    (status, String::from_utf8(res.body().limit(1 << 22).await.unwrap().to_vec()).unwrap())
}

fn replayed_assistant(mock: &MockUpstream) -> Value {
    let sent = mock.last().json();
    sent["messages"].as_array().unwrap().iter().find(|m| m["role"] == "assistant").cloned().unwrap()
}

#[actix_rt::test]
async fn streamed_signature_is_sent_back_with_the_replayed_tool_call() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let (status, stream) = post(&gw, first_turn("gemini:fixture-thought_signature", true)).await;
    assert_eq!(status, 200);
    assert!(
        stream.contains("function-call-paris") && !stream.contains("SIG-PARIS"),
        "the client never sees the signature (the model name mentions it, the value must not appear)"
    );

    let (status, _) = post(&gw, replay(&[("function-call-paris", "Paris"), ("function-call-tokyo", "Tokyo")])).await;
    assert_eq!(status, 200);
    let assistant = replayed_assistant(&mock);
    let calls = assistant["tool_calls"].as_array().unwrap();
    assert_eq!(calls[0]["id"], "function-call-paris");
    assert_eq!(calls[0]["extra_content"], json!({"google": {"thought_signature": "CiQBjz1rX2dTSIG-PARIS=="}}));
    assert!(calls[1].get("extra_content").is_none(), "Gemini signs only the first call of a parallel set");
}

#[actix_rt::test]
async fn non_streaming_signature_and_reasoning_details_are_sent_back() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    let (status, message) = post(&gw, first_turn("gemini:fixture-thought_signature", false)).await;
    assert_eq!(status, 200);
    let message: Value = serde_json::from_str(&message).unwrap();
    assert_eq!(message["content"][0]["id"], "function-call-berlin");

    post(&gw, replay(&[("function-call-berlin", "Berlin")])).await;
    let assistant = replayed_assistant(&mock);
    assert_eq!(assistant["tool_calls"][0]["extra_content"]["google"]["thought_signature"], "CiQBjz1rX2dTSIG-BERLIN==");
    assert_eq!(assistant["reasoning_details"][0]["data"], "ENCRYPTED-REASONING-1");
}

#[actix_rt::test]
async fn unknown_ids_and_disabled_providers_send_nothing_extra() {
    let mock = start_mock();
    let gw = gateway(&mock, &[]);
    post(&gw, replay(&[("toolu_never_seen", "Oslo")])).await;
    let assistant = replayed_assistant(&mock);
    assert!(assistant["tool_calls"][0].get("extra_content").is_none());
    assert!(assistant.get("reasoning_details").is_none());

    let off = gateway(&mock, &[("GEMINI_THOUGHT_SIGNATURES", "false")]);
    post(&off, first_turn("gemini:fixture-thought_signature", false)).await;
    post(&off, replay(&[("function-call-berlin", "Berlin")])).await;
    let assistant = replayed_assistant(&mock);
    assert!(assistant["tool_calls"][0].get("extra_content").is_none(), "the hook is off for this provider");
}
