use bytes::BytesMut;
use serde_json::{json, Value};

use super::StreamConverter;
use crate::convert::tool_names::ToolNames;
use crate::convert::usage::Usage;
use crate::convert::StreamConvert;
use crate::sse::SseParser;

fn converter() -> StreamConverter {
    StreamConverter::new("claude-x".into(), "msg_t".into(), ToolNames::default())
}

fn chunk(delta: Value, finish: Option<&str>) -> String {
    let c = json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
    format!("data: {c}\n\n")
}

fn tool(index: u64, id: Option<&str>, name: Option<&str>, arguments: &str) -> Value {
    let mut call = json!({"index": index, "function": {"arguments": arguments}});
    if let Some(id) = id {
        call["id"] = json!(id);
    }
    if let Some(name) = name {
        call["function"]["name"] = json!(name);
    }
    json!({"tool_calls": [call]})
}

/// The output events as JSON payloads.
fn events(bytes: &[u8]) -> Vec<Value> {
    let mut parser = SseParser::default();
    let mut out = Vec::new();
    parser.push(bytes, &mut out).unwrap();
    parser.finish(&mut out);
    out.iter().map(|e| serde_json::from_str(&e.data).unwrap()).collect()
}

fn types(bytes: &[u8]) -> Vec<String> {
    events(bytes)
        .iter()
        .map(|e| {
            let t = e["type"].as_str().unwrap().to_string();
            match e.get("delta").and_then(|d| d.get("type")) {
                Some(d) => format!("{t}:{}", d.as_str().unwrap()),
                None => match e.get("content_block") {
                    Some(b) => format!("{t}:{}", b["type"].as_str().unwrap()),
                    None => t,
                },
            }
        })
        .collect()
}

fn run(body: &str) -> BytesMut {
    let mut c = converter();
    let mut out = BytesMut::new();
    c.push(body.as_bytes(), &mut out);
    c.finish(&mut out);
    assert!(c.is_finished());
    out
}

#[test]
fn nothing_is_written_after_the_end() {
    let mut c = converter();
    let mut out = BytesMut::new();
    c.push(chunk(json!({"content": "a"}), Some("stop")).as_bytes(), &mut out);
    assert!(!c.is_finished(), "message_delta waits for usage");
    c.push(b"data: [DONE]\n\n", &mut out);
    assert!(c.is_finished());
    let len = out.len();
    c.push(chunk(json!({"content": "late"}), None).as_bytes(), &mut out);
    c.fail("api_error", "late", &mut out);
    c.finish(&mut out);
    assert_eq!(out.len(), len);
}

#[test]
fn empty_body_is_a_cut_stream() {
    let out = run("");
    assert_eq!(types(&out), ["error"]);
    assert_eq!(events(&out)[0]["error"]["message"], "upstream stream ended before completion");
}

#[test]
fn fail_emits_one_error_frame() {
    let mut c = converter();
    let mut out = BytesMut::new();
    c.push(chunk(json!({"content": "a"}), None).as_bytes(), &mut out);
    c.fail("timeout_error", "upstream timed out", &mut out);
    assert!(c.is_finished());
    let events = events(&out);
    assert_eq!(
        events.last().unwrap(),
        &json!({"type": "error", "error": {"type": "timeout_error", "message": "upstream timed out"}})
    );
}

#[test]
fn usage_is_tracked_for_metrics() {
    let mut c = converter();
    let mut out = BytesMut::new();
    let usage = json!({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": 3,
        "prompt_tokens_details": {"cached_tokens": 4}}});
    c.push(format!("{}data: {usage}\n\ndata: [DONE]\n\n", chunk(json!({}), Some("stop"))).as_bytes(), &mut out);
    assert_eq!(c.usage(), Usage { input_tokens: 6, output_tokens: 3, cache_read_input_tokens: 4, ..Usage::default() });
}

#[test]
fn finish_without_done_closes_normally() {
    let out = run(&chunk(json!({"content": "a"}), Some("length")));
    let all = events(&out);
    assert_eq!(all[all.len() - 2]["delta"]["stop_reason"], "max_tokens");
}

#[test]
fn oversized_upstream_event_is_an_error() {
    let mut c = StreamConverter::new("m".into(), "msg".into(), ToolNames::default());
    c.parser = SseParser::new(64);
    let mut out = BytesMut::new();
    c.push(chunk(json!({"content": "x".repeat(100)}), None).as_bytes(), &mut out);
    assert!(c.is_finished());
    assert_eq!(types(&out), ["error"]);
}

#[test]
fn event_named_error_is_an_error() {
    let out = run("event: error\ndata: {\"message\":\"overloaded\",\"code\":529}\n\n");
    assert_eq!(events(&out)[0]["error"], json!({"type": "overloaded_error", "message": "overloaded"}));
}

#[test]
fn text_after_an_argumentless_tool_waits_for_the_finish() {
    let body = [
        chunk(tool(0, Some("c1"), Some("ping"), ""), None),
        chunk(json!({"content": "after"}), None),
        chunk(json!({}), Some("tool_calls")),
    ]
    .concat();
    let out = run(&body);
    assert_eq!(
        types(&out),
        [
            "message_start",
            "ping",
            "content_block_start:tool_use",
            "content_block_delta:input_json_delta",
            "content_block_stop",
            "content_block_start:text",
            "content_block_delta:text_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(events(&out)[3]["delta"]["partial_json"], "{}");
}

#[test]
fn one_index_reused_for_several_calls_with_distinct_ids() {
    let body = [
        chunk(tool(0, Some("a"), Some("f"), "{\"x\":1}"), None),
        chunk(tool(0, Some("b"), Some("g"), "{\"y\":2}"), None),
        chunk(json!({}), Some("tool_calls")),
    ]
    .concat();
    let all = events(&run(&body));
    let starts: Vec<&Value> = all.iter().filter(|e| e["type"] == "content_block_start").collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[1]["content_block"]["id"], "b");
}

#[test]
fn repeated_name_continues_the_open_call_and_missing_ids_are_generated() {
    let body = [
        chunk(tool(0, None, Some("f"), "{\"x\":"), None),
        chunk(tool(0, None, Some("f"), "1}"), None),
        chunk(tool(5, None, None, "{\"orphan\":1}"), None),
        chunk(json!({}), Some("tool_calls")),
    ]
    .concat();
    let all = events(&run(&body));
    let starts: Vec<&Value> = all.iter().filter(|e| e["type"] == "content_block_start").collect();
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0]["content_block"]["id"], "toolu_t_0");
    let json: String = all.iter().filter_map(|e| e["delta"]["partial_json"].as_str()).collect();
    assert_eq!(json, "{\"x\":1}");
}

#[test]
fn finish_in_the_middle_of_arguments_completes_the_json() {
    let body = [
        chunk(tool(0, Some("c"), Some("Write"), "{\"content\":\"half a fi"), None),
        chunk(json!({}), Some("length")),
        "data: [DONE]\n\n".to_string(),
    ]
    .concat();
    let all = events(&run(&body));
    let json: String = all.iter().filter_map(|e| e["delta"]["partial_json"].as_str()).collect();
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), json!({"content": "half a fi"}));
    assert_eq!(all[all.len() - 2]["delta"]["stop_reason"], "max_tokens");
}

#[test]
fn choices_other_than_the_first_are_ignored() {
    let body = format!(
        "data: {}\n\n{}",
        json!({"choices": [{"index": 1, "delta": {"content": "other"}}, {"index": 0, "delta": {"content": "mine"}}]}),
        chunk(json!({}), Some("stop"))
    );
    let all = events(&run(&body));
    let text: String = all.iter().filter_map(|e| e["delta"]["text"].as_str()).collect();
    assert_eq!(text, "mine");
}

#[test]
fn streamed_refusals_are_text_with_stop_reason_refusal() {
    let body = [
        chunk(json!({"role": "assistant", "content": ""}), None),
        chunk(json!({"refusal": "I can't "}), None),
        chunk(json!({"refusal": "help with that."}), None),
        chunk(json!({}), Some("stop")),
        "data: [DONE]\n\n".to_string(),
    ]
    .concat();
    let out = run(&body);
    assert_eq!(
        types(&out),
        [
            "message_start",
            "ping",
            "content_block_start:text",
            "content_block_delta:text_delta",
            "content_block_delta:text_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let all = events(&out);
    assert_eq!(all[4]["delta"]["text"], "help with that.");
    assert_eq!(all[6]["delta"]["stop_reason"], "refusal");
}

#[test]
fn message_start_carries_the_input_estimate_and_the_end_the_real_counts() {
    let body = [
        chunk(json!({"content": "hi"}), Some("stop")),
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":3}}\n\n".to_string(),
    ]
    .concat();
    let mut c = converter().with_input_estimate(118);
    let mut out = BytesMut::new();
    c.push(body.as_bytes(), &mut out);
    c.finish(&mut out);
    let all = events(&out);
    assert_eq!(all[0]["message"]["usage"]["input_tokens"], 118);
    assert_eq!(all[0]["message"]["usage"]["output_tokens"], 0);
    let delta = all.iter().find(|e| e["type"] == "message_delta").unwrap();
    assert_eq!(
        (delta["usage"]["input_tokens"].as_u64(), delta["usage"]["output_tokens"].as_u64()),
        (Some(120), Some(3))
    );
    assert_eq!(events(&run(&body))[0]["message"]["usage"]["input_tokens"], 0, "no estimate: zero, as before");
}
