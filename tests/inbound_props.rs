//! Property tests of the inbound stream conversion (Anthropic SSE → OpenAI chunks): chunk boundaries never
//! change the output, generated Anthropic streams convert into chunk streams the OpenAI SDKs accept with the
//! same text and tool inputs (refusals end in `content_filter`), and arbitrary upstream bytes never break those
//! invariants. Generated requests with system and developer messages anywhere and every `response_format` convert
//! with each message kept in place and the structured output asked for.

#[path = "support/openai_invariants.rs"]
mod openai_invariants;

use std::fs;
use std::path::Path;

use bytes::BytesMut;
use gatehouse::convert::inbound::{to_anthropic_request, ChatStreamConverter, JSON_OBJECT_INSTRUCTION};
use gatehouse::convert::StreamConvert;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Value};

fn convert(chunks: &[&[u8]], include_usage: bool) -> Vec<u8> {
    let mut converter = ChatStreamConverter::new("client-model".into(), 7, include_usage);
    let mut out = BytesMut::new();
    for chunk in chunks {
        converter.push(chunk, &mut out);
    }
    converter.finish(&mut out);
    assert!(converter.is_finished());
    let len = out.len();
    converter.push(b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n", &mut out);
    converter.finish(&mut out);
    converter.fail("api_error", "late", &mut out);
    assert_eq!(out.len(), len, "nothing is written once finished");
    out.to_vec()
}

/// `bytes` cut at the given points.
fn split<'a>(bytes: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut chunks = Vec::new();
    let mut start = 0;
    for p in points.into_iter().chain([bytes.len()]) {
        chunks.push(&bytes[start..p]);
        start = p;
    }
    chunks
}

/// Replaces chunk ids with a fixed one: a stream without `message_start` gets a generated id.
fn fixed_ids(out: &[u8]) -> String {
    let text = String::from_utf8_lossy(out);
    let mut result = String::with_capacity(text.len());
    let mut rest = text.as_ref();
    let marker = "\"id\":\"chatcmpl-";
    while let Some(at) = rest.find(marker) {
        result.push_str(&rest[..at + marker.len()]);
        rest = &rest[at + marker.len()..];
        rest = &rest[rest.find('"').unwrap_or(rest.len())..];
        result.push('x');
    }
    result.push_str(rest);
    result
}

fn fixture_inputs() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/anthropic_streams");
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".sse") && !name.contains(".expected.")
        })
        .collect();
    files.sort();
    files.iter().map(|p| fs::read(p).unwrap()).collect()
}

fn event(name: &str, data: Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// One generated content block.
#[derive(Debug, Clone)]
enum Block {
    Text(Vec<String>),
    Thinking(Vec<String>),
    /// Tool input and the points where its JSON text is cut.
    Tool(Value, Vec<Index>),
}

fn block() -> impl Strategy<Value = Block> {
    let text = vec("[a-zA-Z0-9 .,é\"\\\\\n{}]{0,12}", 1..4);
    let input = btree_map(
        "[a-z]{1,6}",
        prop_oneof![any::<i32>().prop_map(|n| json!(n)), "[a-z \"]{0,8}".prop_map(|s| json!(s))],
        0..4,
    )
    .prop_map(|m| json!(m));
    prop_oneof![
        text.clone().prop_map(Block::Text),
        text.prop_map(Block::Thinking),
        (input, vec(any::<Index>(), 0..4)).prop_map(|(i, c)| Block::Tool(i, c)),
    ]
}

/// An Anthropic stream of `blocks`, with pings at `pings` (event positions), ending with `stop_reason`.
fn render(blocks: &[Block], stop_reason: &str, pings: &[Index]) -> String {
    let mut events = vec![event(
        "message_start",
        json!({"type": "message_start", "message": {"id": "msg_p", "type": "message", "role": "assistant", "content": [],
               "usage": {"input_tokens": 3, "output_tokens": 1}}}),
    )];
    for (i, block) in blocks.iter().enumerate() {
        let (start, deltas): (Value, Vec<Value>) = match block {
            Block::Text(parts) => (
                json!({"type": "text", "text": ""}),
                parts.iter().map(|t| json!({"type": "text_delta", "text": t})).collect(),
            ),
            Block::Thinking(parts) => (
                json!({"type": "thinking", "thinking": ""}),
                parts
                    .iter()
                    .map(|t| json!({"type": "thinking_delta", "thinking": t}))
                    .chain([json!({"type": "signature_delta", "signature": "sig"})])
                    .collect(),
            ),
            Block::Tool(input, cuts) => {
                let text = input.to_string();
                let fragments = split(text.as_bytes(), cuts);
                (
                    json!({"type": "tool_use", "id": format!("toolu_{i}"), "name": format!("tool_{i}"), "input": {}}),
                    fragments
                        .iter()
                        .map(|f| json!({"type": "input_json_delta", "partial_json": String::from_utf8_lossy(f)}))
                        .collect(),
                )
            }
        };
        events.push(event(
            "content_block_start",
            json!({"type": "content_block_start", "index": i, "content_block": start}),
        ));
        for delta in deltas {
            events
                .push(event("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": delta})));
        }
        events.push(event("content_block_stop", json!({"type": "content_block_stop", "index": i})));
    }
    events.push(event(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": stop_reason}, "usage": {"output_tokens": 9}}),
    ));
    events.push(event("message_stop", json!({"type": "message_stop"})));
    let mut positions: Vec<usize> = pings.iter().map(|p| p.index(events.len()) + 1).collect();
    positions.sort_unstable_by(|a, b| b.cmp(a));
    for p in positions {
        events.insert(p, event("ping", json!({"type": "ping"})));
    }
    events.concat()
}

fn sse_line() -> impl Strategy<Value = String> {
    let body = prop_oneof![
        "data: [a-z{}\" ]{0,12}",
        Just("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_x\"}}".to_string()),
        Just("data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\",\"input\":{}}}".to_string()),
        Just("data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"x\"}}".to_string()),
        Just("data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":1}\"}}".to_string()),
        Just("data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"y\"}}".to_string()),
        Just("data: {\"type\":\"content_block_stop\",\"index\":0}".to_string()),
        Just("data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"}}".to_string()),
        Just("data: {\"type\":\"message_stop\"}".to_string()),
        Just("data: {\"type\":\"error\",\"error\":{\"type\":\"x\",\"message\":\"m\"}}".to_string()),
        "event: [a-z_]{1,8}",
        ": [a-z ]{0,10}",
        Just(String::new()),
    ];
    let end = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
    (body, end).prop_map(|(b, e)| b + e)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn fixtures_do_not_depend_on_chunk_boundaries(which in any::<Index>(), cuts in vec(any::<Index>(), 0..40)) {
        let inputs = fixture_inputs();
        let input = &inputs[which.index(inputs.len())];
        let whole = convert(&[input], true);
        prop_assert_eq!(convert(&split(input, &cuts), true), whole.clone());
        openai_invariants::check_openai_stream(&whole).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn generated_streams_keep_text_and_tool_inputs(
        blocks in vec(block(), 0..6),
        stop in prop_oneof![Just("end_turn"), Just("tool_use"), Just("max_tokens"), Just("stop_sequence"), Just("refusal")],
        pings in vec(any::<Index>(), 0..4),
        cuts in vec(any::<Index>(), 0..30),
        include_usage in any::<bool>(),
    ) {
        let stream = render(&blocks, stop, &pings);
        let out = convert(&split(stream.as_bytes(), &cuts), include_usage);
        let collected = openai_invariants::check_openai_stream(&out).map_err(TestCaseError::fail)?;
        let text: String = blocks.iter().filter_map(|b| match b { Block::Text(p) => Some(p.concat()), _ => None }).collect();
        let thinking: String = blocks.iter().filter_map(|b| match b { Block::Thinking(p) => Some(p.concat()), _ => None }).collect();
        let inputs: Vec<Value> = blocks.iter().filter_map(|b| match b { Block::Tool(i, _) => Some(i.clone()), _ => None }).collect();
        prop_assert_eq!(collected.content, text);
        prop_assert_eq!(collected.reasoning, thinking);
        let args: Vec<Value> = collected.tool_calls.iter().map(|(_, _, a)| serde_json::from_str(a).unwrap()).collect();
        prop_assert_eq!(args, inputs);
        prop_assert_eq!(collected.usage.is_some(), include_usage);
        let expected_finish = match stop {
            "tool_use" => "tool_calls",
            "max_tokens" => "length",
            "refusal" => "content_filter",
            _ => "stop",
        };
        prop_assert_eq!(collected.finish_reason.as_deref(), Some(expected_finish));
    }

    #[test]
    fn truncated_streams_end_with_an_error_or_complete(blocks in vec(block(), 1..4), cut in any::<Index>()) {
        let stream = render(&blocks, "end_turn", &[]);
        let truncated = &stream.as_bytes()[..cut.index(stream.len())];
        let out = convert(&[truncated], true);
        openai_invariants::check_openai_stream(&out).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn hostile_upstreams_never_break_the_invariants(lines in vec(sse_line(), 0..40), cuts in vec(any::<Index>(), 0..10)) {
        let bytes = lines.concat();
        let whole = convert(&[bytes.as_bytes()], false);
        prop_assert_eq!(fixed_ids(&convert(&split(bytes.as_bytes(), &cuts), false)), fixed_ids(&whole));
        // Upstream garbage may produce tool arguments that are not JSON; everything else must hold.
        if let Err(e) = openai_invariants::check_openai_stream(&whole) {
            prop_assert!(e.contains("arguments are not a JSON object"), "{}", e);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let out = convert(&[&bytes], true);
        let text = String::from_utf8_lossy(&out);
        prop_assert!(text.ends_with("data: [DONE]\n\n") || text.contains("\"error\""));
    }
}

/// One generated OpenAI message: (role, text).
fn chat_message() -> impl Strategy<Value = (&'static str, String)> {
    (prop::sample::select(&["system", "developer", "user", "user", "assistant"][..]), "[a-z]{1,8}( [a-z]{1,8})?")
}

fn response_format() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(json!({"type": "text"}))),
        Just(Some(json!({"type": "json_object"}))),
        "[A-Za-z]{1,10}".prop_map(|name| Some(
            json!({"type": "json_schema", "json_schema": {"name": name, "strict": true,
            "schema": {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
                       "additionalProperties": false}}})
        )),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn system_messages_keep_their_place_and_structured_outputs_are_asked_for(
        messages in vec(chat_message(), 1..8),
        format in response_format(),
        effort in prop::option::of(prop::sample::select(&["none", "minimal", "low", "medium", "high", "xhigh"][..])),
        model in prop::sample::select(&["claude-opus-4-6", "claude-sonnet-4-5"][..]),
    ) {
        let chat: Vec<Value> = messages.iter().map(|(role, text)| json!({"role": role, "content": text})).collect();
        let mut body = json!({"model": "m", "messages": chat});
        if let Some(format) = &format {
            body["response_format"] = format.clone();
        }
        if let Some(effort) = effort {
            body["reasoning_effort"] = json!(effort);
        }
        let converted = match to_anthropic_request(&body, model) {
            Ok(converted) => converted.body,
            Err(e) => {
                // Only a conversation without any user or assistant message is refused.
                prop_assert!(messages.iter().all(|(r, _)| *r == "system" || *r == "developer"), "{}", e);
                return Ok(());
            }
        };
        let leading = messages.iter().take_while(|(r, _)| *r == "system" || *r == "developer").count();
        let mut system: Vec<String> = messages[..leading].iter().map(|(_, t)| t.clone()).collect();
        let json_object = format.as_ref().is_some_and(|f| f["type"] == "json_object");
        if json_object {
            system.push(JSON_OBJECT_INSTRUCTION.to_string());
        }
        let system_text = converted["system"][0]["text"].as_str().unwrap_or_default().to_string();
        prop_assert_eq!(system_text, system.join("\n\n"));
        // After the first turn, every message is where it was: the turns' texts, roles mapped, in order.
        let turns: Vec<(String, String)> = converted["messages"].as_array().unwrap().iter().flat_map(|m| {
            let role = m["role"].as_str().unwrap().to_string();
            m["content"].as_array().unwrap().iter().map(move |b| (role.clone(), b["text"].as_str().unwrap().to_string()))
        }).collect();
        let expected: Vec<(String, String)> = messages[leading..].iter().map(|(role, text)| {
            let role = if *role == "developer" { "system" } else { role };
            (role.to_string(), text.clone())
        }).collect();
        prop_assert_eq!(turns, expected);
        let schema = format.as_ref().filter(|f| f["type"] == "json_schema").map(|f| f["json_schema"]["schema"].clone());
        prop_assert_eq!(converted["output_config"].get("format").cloned(), schema.map(|s| json!({"type": "json_schema", "schema": s})));
        let adaptive = model == "claude-opus-4-6";
        let thinking = converted["thinking"]["type"].as_str();
        match effort {
            Some("low" | "medium" | "high" | "xhigh") => prop_assert_eq!(thinking, Some(if adaptive { "adaptive" } else { "enabled" })),
            _ => prop_assert_eq!(thinking, None),
        }
        prop_assert_eq!(converted["output_config"].get("effort").is_some(), adaptive && effort.is_some_and(|e| e != "none"));
    }
}
