//! Property tests: chunk boundaries never change what the SSE parser or the
//! stream converter produce, and arbitrary (even hostile) upstream streams
//! always convert into a stream an Anthropic client accepts. Generated streams
//! mix text, refusals, reasoning and tool calls; a refusal is text that ends in
//! `stop_reason: "refusal"`.

#[path = "support/invariants.rs"]
mod invariants;

use std::fs;
use std::path::Path;

use bytes::BytesMut;
use gatehouse::convert::tool_names::upstream_name;
use gatehouse::convert::StreamConvert;
use gatehouse::convert::{StreamConverter, ToolNames};
use gatehouse::sse::{SseEvent, SseParser};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Value};

const CLIENT_NAMES: &[&str] = &["Read", "Bash", "mcp__filesystem.read_file"];

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

fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let mut parser = SseParser::default();
    let mut out = Vec::new();
    for chunk in chunks {
        parser.push(chunk, &mut out).unwrap();
    }
    parser.finish(&mut out);
    out
}

fn names() -> ToolNames {
    let mut names = ToolNames::new(true);
    for n in CLIENT_NAMES {
        names.register(n).unwrap();
    }
    names
}

fn convert(chunks: &[&[u8]]) -> Vec<u8> {
    let mut converter = StreamConverter::new("claude-test".into(), "msg_prop".into(), names());
    let mut out = BytesMut::new();
    for chunk in chunks {
        converter.push(chunk, &mut out);
    }
    converter.finish(&mut out);
    assert!(converter.is_finished());
    // Nothing more is written once finished.
    let len = out.len();
    converter.push(b"data: {\"choices\":[]}\n\n", &mut out);
    converter.finish(&mut out);
    converter.fail("api_error", "late", &mut out);
    assert_eq!(out.len(), len);
    out.to_vec()
}

fn sse_line() -> impl Strategy<Value = String> {
    let body = prop_oneof![
        "data: [a-z{}\" ]{0,12}",
        "data:[a-z]{0,4}",
        "data",
        "event: [a-z_]{1,8}",
        ": [a-z ]{0,10}",
        "id: [0-9]{1,3}",
        "retry: [0-9]{1,4}",
        Just(String::new()),
        "[a-zé]{1,5}: ?[a-z]{0,4}",
    ];
    let end = prop_oneof![Just("\n"), Just("\r\n"), Just("\r")];
    (body, end).prop_map(|(b, e)| b + e)
}

fn fixture_inputs() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openai_streams");
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(".sse") && !name.ends_with(".expected.sse")
        })
        .collect();
    files.sort();
    files.iter().map(|p| fs::read(p).unwrap()).collect()
}

/// One generated tool call: client name, arguments object (None: no
/// arguments at all), and the points where its JSON text is cut.
#[derive(Debug, Clone)]
struct ToolCall {
    name: &'static str,
    arguments: Option<Value>,
    cuts: Vec<Index>,
}

/// A generated upstream response: content pieces, a merge order that
/// interleaves them, and where the finish, usage and `[DONE]` go.
#[derive(Debug, Clone)]
struct Script {
    /// Text pieces; `true`: sent as `delta.refusal` instead of `delta.content`.
    texts: Vec<(bool, String)>,
    thinking: Vec<String>,
    tools: Vec<ToolCall>,
    order: Vec<Index>,
    finish: Option<(Index, &'static str)>,
    usage: Option<Index>,
    done: bool,
    role_chunk: bool,
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z\"\\\\{}\\[\\]é ,:]{0,8}".prop_map(|s| json!(s)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(Value::Null),
        vec(any::<u8>(), 0..3).prop_map(|v| json!(v)),
    ]
}

fn tool_call() -> impl Strategy<Value = ToolCall> {
    let args = prop_oneof![
        1 => Just(None),
        4 => btree_map("[a-z_]{1,6}", json_leaf(), 0..4)
            .prop_map(|m| Some(Value::Object(m.into_iter().collect()))),
    ];
    (prop::sample::select(CLIENT_NAMES), args, vec(any::<Index>(), 0..5)).prop_map(|(name, arguments, cuts)| ToolCall {
        name,
        arguments,
        cuts,
    })
}

fn script() -> impl Strategy<Value = Script> {
    let piece = "[a-zé\"\\\\\n {}]{1,6}";
    (
        vec((prop::bool::weighted(0.2), piece), 0..4),
        vec(piece, 0..4),
        vec(tool_call(), 0..4),
        vec(any::<Index>(), 0..40),
        prop::option::weighted(
            0.8,
            (any::<Index>(), prop::sample::select(&["stop", "tool_calls", "length", "content_filter", "weird"][..])),
        ),
        prop::option::of(any::<Index>()),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(texts, thinking, tools, order, finish, usage, done, role_chunk)| Script {
            texts,
            thinking,
            tools,
            order,
            finish,
            usage,
            done,
            role_chunk,
        })
}

fn frame(delta: Value, finish: Option<&str>) -> String {
    let chunk = json!({
        "id": "chatcmpl-prop", "object": "chat.completion.chunk", "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    });
    format!("data: {chunk}\n\n")
}

fn argument_pieces(text: &str, cuts: &[Index]) -> Vec<String> {
    let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let mut points: Vec<usize> = cuts.iter().map(|c| boundaries[c.index(boundaries.len())]).collect();
    points.sort_unstable();
    points.dedup();
    let mut pieces = Vec::new();
    let mut start = 0;
    for p in points.into_iter().chain([text.len()]) {
        if p > start {
            pieces.push(text[start..p].to_string());
            start = p;
        }
    }
    pieces
}

impl Script {
    /// The content chunks of each source (texts, thinking, each tool call),
    /// each in its own order.
    fn queues(&self) -> Vec<Vec<String>> {
        let mut queues = vec![
            self.texts
                .iter()
                .map(|(refusal, t)| frame(if *refusal { json!({"refusal": t}) } else { json!({"content": t}) }, None))
                .collect(),
            self.thinking.iter().map(|t| frame(json!({"reasoning_content": t}), None)).collect(),
        ];
        for (i, call) in self.tools.iter().enumerate() {
            let text = call.arguments.as_ref().map(Value::to_string).unwrap_or_default();
            let mut pieces = argument_pieces(&text, &call.cuts).into_iter();
            let first = pieces.next().unwrap_or_default();
            let mut queue = vec![frame(
                json!({"tool_calls": [{"index": i, "id": format!("call_{i}"), "type": "function",
                    "function": {"name": upstream_name(call.name), "arguments": first}}]}),
                None,
            )];
            queue.extend(
                pieces.map(|p| frame(json!({"tool_calls": [{"index": i, "function": {"arguments": p}}]}), None)),
            );
            queues.push(queue);
        }
        queues
    }

    /// The upstream body, and whether the finish came after all content.
    fn body(&self) -> (String, bool) {
        let mut queues: Vec<std::collections::VecDeque<String>> = self.queues().into_iter().map(Into::into).collect();
        let mut content = Vec::new();
        let mut order = self.order.iter();
        loop {
            let live: Vec<usize> = (0..queues.len()).filter(|&q| !queues[q].is_empty()).collect();
            if live.is_empty() {
                break;
            }
            let pick = order.next().map_or(0, |i| i.index(live.len()));
            content.extend(queues[live[pick]].pop_front());
        }
        let mut chunks = content;
        let mut finish_last = true;
        if let Some((at, reason)) = self.finish {
            let pos = at.index(chunks.len() + 1);
            finish_last = pos == chunks.len();
            chunks.insert(pos, frame(json!({}), Some(reason)));
        }
        if let Some(at) = self.usage {
            let usage = json!({"id": "x", "choices": [], "usage": {"prompt_tokens": 50, "completion_tokens": 9,
                "prompt_tokens_details": {"cached_tokens": 20}}});
            chunks.insert(at.index(chunks.len() + 1), format!("data: {usage}\n\n"));
        }
        if self.role_chunk {
            chunks.insert(0, frame(json!({"role": "assistant", "content": ""}), None));
        }
        if self.done {
            chunks.push("data: [DONE]\n\n".to_string());
        }
        (chunks.concat(), finish_last)
    }
}

/// 300 by default; `PROPTEST_CASES=N` for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

/// The `stop_reason` of the stream's `message_delta`.
fn stop_reason(out: &[u8]) -> String {
    parse_all(&[out])
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(&e.data).ok())
        .find(|p| p["type"] == "message_delta")
        .and_then(|p| p["delta"]["stop_reason"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn last_event_type(out: &[u8]) -> String {
    let events = parse_all(&[out]);
    events.last().and_then(|e| e.event.clone()).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn sse_parser_ignores_chunk_boundaries(
        bom in any::<bool>(),
        lines in vec(sse_line(), 0..30),
        cuts in vec(any::<Index>(), 0..10),
    ) {
        let mut text = if bom { "\u{FEFF}".to_string() } else { String::new() };
        text.extend(lines);
        let bytes = text.as_bytes();
        prop_assert_eq!(parse_all(&[bytes]), parse_all(&split(bytes, &cuts)));
    }

    #[test]
    fn sse_parser_limit_does_not_depend_on_boundaries(
        lines in vec(sse_line(), 0..20),
        limit in 0usize..40,
        cuts in vec(any::<Index>(), 0..10),
    ) {
        let text: String = lines.concat();
        let run = |chunks: &[&[u8]]| {
            let mut parser = SseParser::new(limit);
            let mut out = Vec::new();
            let mut result = Ok(());
            for chunk in chunks {
                result = parser.push(chunk, &mut out);
                if result.is_err() { break; }
            }
            if result.is_ok() { parser.finish(&mut out); }
            (out, result)
        };
        prop_assert_eq!(run(&[text.as_bytes()]), run(&split(text.as_bytes(), &cuts)));
    }

    #[test]
    fn converter_ignores_chunk_boundaries_on_fixtures(
        which in any::<Index>(),
        cuts in vec(any::<Index>(), 0..16),
    ) {
        let inputs = fixture_inputs();
        let input = &inputs[which.index(inputs.len())];
        prop_assert_eq!(convert(&[input]), convert(&split(input, &cuts)));
    }

    #[test]
    fn generated_streams_convert_to_valid_lossless_anthropic_streams(
        script in script(),
        cuts in vec(any::<Index>(), 0..12),
    ) {
        let (body, finish_last) = script.body();
        let whole = convert(&[body.as_bytes()]);
        prop_assert_eq!(&whole, &convert(&split(body.as_bytes(), &cuts)));
        if let Err(e) = invariants::check_anthropic_stream(&whole) {
            return Err(TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&whole))));
        }
        let completed = script.finish.is_some() || script.done;
        prop_assert_eq!(last_event_type(&whole), if completed { "message_stop" } else { "error" });
        if !(completed && finish_last) {
            return Ok(());
        }
        let texts: String = script.texts.iter().map(|(_, t)| t.as_str()).collect();
        prop_assert_eq!(invariants::delta_text(&whole, "text_delta", "text"), texts);
        let refused = script.texts.iter().any(|(refusal, _)| *refusal);
        let stop = stop_reason(&whole);
        prop_assert_eq!(stop == "refusal", refused || script.finish.is_some_and(|(_, r)| r == "content_filter"), "{}", stop);
        prop_assert_eq!(invariants::delta_text(&whole, "thinking_delta", "thinking"), script.thinking.concat());
        let mut tools = invariants::tool_inputs(&whole);
        tools.sort_by(|a, b| a.0.cmp(&b.0));
        let expected: Vec<(String, String, Value)> = script.tools.iter().enumerate().map(|(i, call)| {
            (format!("call_{i}"), call.name.to_string(), call.arguments.clone().unwrap_or_else(|| json!({})))
        }).collect();
        prop_assert_eq!(tools, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_end_cleanly(
        chunks in vec(prop_oneof![
            vec(any::<u8>(), 0..64),
            "(data: |data:|event: |: )?[\\[\\]{}\"a-z:,0-9 ]{0,40}(\n|\r\n|\r)".prop_map(String::into_bytes),
        ], 0..20),
    ) {
        let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
        let out = convert(&refs);
        if let Err(e) = invariants::check_anthropic_stream(&out) {
            return Err(TestCaseError::fail(e));
        }
    }
}
