//! Property test of the non-streaming answer path: an OpenAI completion whose members may have any JSON type
//! (as a careless or hostile provider might send) converts exactly as a reader of the parsed tree would read it
//! with `get(..).and_then(as_str)`-style lookups: wrong types read as absent, nothing fails but a body that is
//! not an object. The oracle below is that tree reading, written out independently of the typed readers the
//! gateway uses (`gatehouse::convert::lax`).

use gatehouse::convert::response::parse_arguments;
use gatehouse::convert::{to_anthropic, Completion, ToolNames};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// Any JSON value of a few kinds: what a wrong-typed member holds.
fn junk() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        "[a-z\"\\\\é {}:,]{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::from),
            vec(("[a-z]{1,3}", inner), 0..3).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A string, or sometimes junk.
fn text() -> impl Strategy<Value = Value> {
    prop_oneof![4 => "[a-zé\"\\\\ ]{0,8}".prop_map(Value::from), 1 => junk()]
}

fn count() -> impl Strategy<Value = Value> {
    prop_oneof![4 => (0u64..5000).prop_map(Value::from), 1 => (-5000i64..0).prop_map(Value::from), 1 => junk()]
}

/// An object with each member present or not.
fn object(members: Vec<(&'static str, Option<Value>)>) -> Value {
    Value::Object(members.into_iter().filter_map(|(k, v)| Some((k.to_string(), v?))).collect::<Map<_, _>>())
}

fn arguments() -> impl Strategy<Value = Value> {
    prop_oneof![
        junk().prop_map(|v| Value::from(v.to_string())),
        vec(("[a-z]{1,3}", junk()), 0..3).prop_map(|kv| {
            let object: Map<String, Value> = kv.into_iter().collect();
            Value::from(Value::Object(object).to_string())
        }),
        Just(json!("")),
        Just(json!("null")),
        "[{}\\[\\]a-z\": ]{0,8}".prop_map(Value::from),
        junk(),
    ]
}

fn tool_call() -> impl Strategy<Value = Value> {
    let function = (option::of(text()), option::of(arguments()))
        .prop_map(|(name, arguments)| object(vec![("name", name), ("arguments", arguments)]));
    let call = (option::of(text()), option::of(prop_oneof![4 => function, 1 => junk()]))
        .prop_map(|(id, function)| object(vec![("id", id), ("type", Some(json!("function"))), ("function", function)]));
    prop_oneof![5 => call, 1 => junk()]
}

fn content() -> impl Strategy<Value = Value> {
    let part = prop_oneof![4 => option::of(text()).prop_map(|t| object(vec![("type", Some(json!("text"))), ("text", t)])), 1 => junk()];
    prop_oneof![text(), vec(part, 0..4).prop_map(Value::from)]
}

fn message() -> impl Strategy<Value = Value> {
    (
        option::of(content()),
        option::of(text()),
        option::of(text()),
        option::of(text()),
        option::of(prop_oneof![4 => vec(tool_call(), 0..4).prop_map(Value::from), 1 => junk()]),
    )
        .prop_map(|(content, refusal, reasoning_content, reasoning, tool_calls)| {
            object(vec![
                ("role", Some(json!("assistant"))),
                ("content", content),
                ("refusal", refusal),
                ("reasoning_content", reasoning_content),
                ("reasoning", reasoning),
                ("tool_calls", tool_calls),
            ])
        })
}

fn completion() -> impl Strategy<Value = Value> {
    let choice =
        (option::of(prop_oneof![5 => message(), 1 => junk()]), option::of(text())).prop_map(|(message, finish)| {
            object(vec![("index", Some(json!(0))), ("message", message), ("finish_reason", finish)])
        });
    let details = option::of(count()).prop_map(|cached| object(vec![("cached_tokens", cached)]));
    let usage =
        (option::of(count()), option::of(count()), option::of(prop_oneof![details, junk()]), option::of(count()))
            .prop_map(|(prompt, completion, details, hits)| {
                object(vec![
                    ("prompt_tokens", prompt),
                    ("completion_tokens", completion),
                    ("prompt_tokens_details", details),
                    ("prompt_cache_hit_tokens", hits),
                ])
            });
    (
        option::of(text()),
        option::of(
            prop_oneof![4 => vec(prop_oneof![5 => choice, 1 => junk()], 0..3).prop_map(Value::from), 1 => junk()],
        ),
        option::of(prop_oneof![4 => usage, 1 => junk()]),
        option::of(junk()),
    )
        .prop_map(|(id, choices, usage, extra)| {
            object(vec![
                ("id", id),
                ("object", Some(json!("chat.completion"))),
                ("choices", choices),
                ("usage", usage),
                ("system_fingerprint", extra),
            ])
        })
}

fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn u64_at(value: &Value, key: &str) -> Option<u64> {
    value.get(key).and_then(Value::as_u64)
}

/// What the converted answer must hold, read from the tree: content blocks, stop reason, usage; `None` when the
/// answer has no first choice with a message object.
fn oracle(body: &Value, message_id: &str) -> Option<(Vec<Value>, &'static str, Value)> {
    let choice = body.get("choices")?.as_array()?.first()?;
    let message = choice.get("message").filter(|m| m.is_object())?;
    let mut blocks = Vec::new();
    let reasoning =
        ["reasoning_content", "reasoning"].into_iter().filter_map(|k| str_at(message, k)).find(|s| !s.is_empty());
    if let Some(thinking) = reasoning {
        blocks.push(json!({"type": "thinking", "thinking": thinking, "signature": ""}));
    }
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(|p| str_at(p, "text")).collect(),
        _ => String::new(),
    };
    if !text.is_empty() {
        blocks.push(json!({"type": "text", "text": text}));
    }
    // A refusal is its own text block after the content, and makes the stop reason `refusal`.
    let refusal = str_at(message, "refusal").filter(|r| !r.is_empty());
    if let Some(refusal) = refusal {
        blocks.push(json!({"type": "text", "text": refusal}));
    }
    for call in message.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
        let Some(function) = call.get("function").filter(|f| f.is_object()) else { continue };
        let Some(name) = str_at(function, "name").filter(|n| !n.is_empty()) else { continue };
        let id = match str_at(call, "id") {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => format!("toolu_{}_{}", message_id.trim_start_matches("msg_"), blocks.len()),
        };
        let input = parse_arguments(function.get("arguments"));
        blocks.push(json!({"type": "tool_use", "id": id, "name": name, "input": input}));
    }
    let has_tool_use = blocks.iter().any(|b| b["type"] == "tool_use");
    let stop = match str_at(choice, "finish_reason") {
        _ if refusal.is_some() => "refusal",
        Some("length") => "max_tokens",
        Some("content_filter") => "refusal",
        Some("tool_calls" | "function_call") => "tool_use",
        _ if has_tool_use => "tool_use",
        _ => "end_turn",
    };
    let usage = body.get("usage").cloned().unwrap_or(Value::Null);
    let prompt = u64_at(&usage, "prompt_tokens").unwrap_or(0);
    let cached = usage
        .get("prompt_tokens_details")
        .and_then(|d| u64_at(d, "cached_tokens"))
        .or_else(|| u64_at(&usage, "prompt_cache_hit_tokens"))
        .unwrap_or(0);
    let usage = json!({
        "input_tokens": prompt.saturating_sub(cached),
        "output_tokens": u64_at(&usage, "completion_tokens").unwrap_or(0),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    });
    Some((blocks, stop, usage))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(500)
    ))]

    #[test]
    fn answers_convert_as_the_tree_reads_them(body in completion()) {
        let bytes = serde_json::to_vec(&body).unwrap();
        let completion = Completion::parse(&bytes).expect("an object always parses");
        match (to_anthropic(&completion, "claude-x", &ToolNames::default()), oracle(&body, "")) {
            (Ok((out, usage)), Some(_)) => {
                let out: Value = serde_json::from_slice(&out).unwrap();
                let id = out["id"].as_str().unwrap().to_string();
                let (blocks, stop, expected_usage) = oracle(&body, &id).unwrap();
                prop_assert_eq!(&out["content"], &Value::from(blocks));
                prop_assert_eq!(out["stop_reason"].as_str(), Some(stop));
                prop_assert_eq!(&out["usage"], &expected_usage);
                prop_assert_eq!(out["usage"]["output_tokens"].as_u64(), Some(usage.output_tokens));
                if let Some(upstream_id) = str_at(&body, "id").filter(|s| !s.is_empty()) {
                    let expected = if upstream_id.starts_with("msg_") { upstream_id.to_string() } else { format!("msg_{upstream_id}") };
                    prop_assert_eq!(id, expected);
                }
            }
            (Err(e), None) => prop_assert_eq!(e.error_type(), "api_error"),
            (converted, expected) => prop_assert!(false, "converted {:?}, expected {:?}", converted.map(|_| ()), expected),
        }
    }
}
