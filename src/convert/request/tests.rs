use serde_json::{json, Value};

use super::{to_openai, ConvertError};
use crate::convert::options::{ConvertOptions, MaxTokensField};
use crate::convert::ToolNames;

/// Converts `body` as the gateway does (a borrowed tree) and returns the OpenAI request as it would be sent.
fn try_convert(body: &Value, model: &str, opts: &ConvertOptions) -> Result<(Value, ToolNames), ConvertError> {
    let bytes = serde_json::to_vec(body).unwrap();
    let tree = super::parse(&bytes)?;
    let (request, names) = to_openai(&tree, model, opts)?;
    Ok((serde_json::from_slice(&serde_json::to_vec(&request).unwrap()).unwrap(), names))
}

fn convert_with(body: Value, opts: &ConvertOptions) -> Value {
    try_convert(&body, "up-model", opts).unwrap().0
}

fn convert(body: Value) -> Value {
    convert_with(body, &ConvertOptions::default())
}

fn error_of(body: Value) -> String {
    try_convert(&body, "m", &ConvertOptions::default()).unwrap_err().to_string()
}

fn minimal(messages: Value) -> Value {
    json!({"model": "claude", "max_tokens": 10, "messages": messages})
}

#[test]
fn minimal_request() {
    let out = convert(minimal(json!([{"role": "user", "content": "hi"}])));
    assert_eq!(out, json!({"model": "up-model", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}));
}

#[test]
fn system_blocks_are_joined_and_cache_control_dropped() {
    let mut body = minimal(json!([{"role": "user", "content": "hi"}]));
    body["system"] = json!([
        {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "b"}
    ]);
    let out = convert(body);
    assert_eq!(out["messages"][0], json!({"role": "system", "content": "a\n\nb"}));
}

#[test]
fn user_blocks_images_and_documents() {
    let out = convert(minimal(json!([{"role": "user", "content": [
        {"type": "text", "text": "look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}},
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"}}
    ]}])));
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA"}},
            {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            {"type": "text", "text": "doc"},
            {"type": "file", "file": {"filename": "document.pdf", "file_data": "data:application/pdf;base64,JVBER"}}
        ])
    );
    let mystery = minimal(json!([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "mystery"}]}]));
    assert_eq!(
        error_of(mystery),
        "messages[0].content[1].type: content block type \"mystery\" in a user turn cannot be converted for an \
         OpenAI-format provider"
    );
}

#[test]
fn text_only_user_turn_becomes_a_string() {
    let out = convert(minimal(json!([{"role": "user", "content": [
        {"type": "text", "text": "a"}, {"type": "text", "text": "b"},
        {"type": "document", "source": {"type": "content", "content": [{"type": "text", "text": "c"}]}}
    ]}])));
    assert_eq!(out["messages"][0]["content"], "a\n\nb\n\nc");
}

#[test]
fn tool_results_come_first_with_errors_and_images() {
    let out = convert(minimal(json!([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "calling"},
            {"type": "tool_use", "id": "t1", "name": "a", "input": {"x": 1}},
            {"type": "tool_use", "id": "t2", "name": "b", "input": {}}
        ]},
        {"role": "user", "content": [
            {"type": "text", "text": "after"},
            {"type": "tool_result", "tool_use_id": "t1", "content": "ok"},
            {"type": "tool_result", "tool_use_id": "t2", "is_error": true, "content": [
                {"type": "text", "text": "boom"},
                {"type": "image", "source": {"type": "url", "url": "https://s.png"}}
            ]}
        ]}
    ])));
    let messages = out["messages"].as_array().unwrap();
    assert_eq!(
        messages[1],
        json!({"role": "assistant", "content": "calling", "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "a", "arguments": "{\"x\":1}"}},
            {"id": "t2", "type": "function", "function": {"name": "b", "arguments": "{}"}}
        ]})
    );
    assert_eq!(messages[2], json!({"role": "tool", "tool_call_id": "t1", "content": "ok"}));
    assert_eq!(
        messages[3],
        json!({"role": "tool", "tool_call_id": "t2",
               "content": "Error: boom\n\n[1 image(s) attached in the next user message]"})
    );
    assert_eq!(
        messages[4],
        json!({"role": "user", "content": [
            {"type": "text", "text": "Image output of tool call t2:"},
            {"type": "image_url", "image_url": {"url": "https://s.png"}},
            {"type": "text", "text": "after"}
        ]})
    );
    assert_eq!(messages.len(), 5);
}

#[test]
fn tool_only_assistant_turn_has_null_content_and_empty_turns_vanish() {
    let out = convert(minimal(json!([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t"}]},
        {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "xx"}]},
        {"role": "user", "content": "next"}
    ])));
    let messages = out["messages"].as_array().unwrap();
    assert_eq!(messages[1]["content"], Value::Null);
    assert_eq!(messages[2], json!({"role": "tool", "tool_call_id": "t", "content": ""}));
    assert_eq!(messages[3], json!({"role": "user", "content": "next"}));
}

#[test]
fn thinking_is_sent_back_when_asked() {
    let opts = ConvertOptions { send_reasoning_back: true, ..ConvertOptions::default() };
    let out = convert_with(
        minimal(json!([
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "step", "signature": ""},
                {"type": "text", "text": "a"}
            ]}
        ])),
        &opts,
    );
    assert_eq!(out["messages"][1], json!({"role": "assistant", "content": "a", "reasoning_content": "step"}));
}

#[test]
fn mid_conversation_system_message_keeps_its_place() {
    let out = convert(minimal(json!([
        {"role": "user", "content": "a"},
        {"role": "system", "content": [{"type": "text", "text": "note"}]},
        {"role": "user", "content": "b"}
    ])));
    assert_eq!(out["messages"][1], json!({"role": "system", "content": "note"}));
}

#[test]
fn tools_and_tool_choice() {
    let mut body = minimal(json!([{"role": "user", "content": "x"}]));
    body["tools"] = json!([
        {"name": "get", "description": "d", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}},
        {"type": "custom", "name": "put", "input_schema": {"type": "object", "properties": {}}},
        {"name": "bare"}
    ]);
    body["tool_choice"] = json!({"type": "tool", "name": "get", "disable_parallel_tool_use": true});
    let out = convert(body);
    assert_eq!(
        out["tools"],
        json!([
            {"type": "function", "function": {"name": "get", "description": "d", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "put", "parameters": {"type": "object", "properties": {}}}},
            {"type": "function", "function": {"name": "bare", "parameters": {"type": "object", "properties": {}}}}
        ])
    );
    assert_eq!(out["tool_choice"], json!({"type": "function", "function": {"name": "get"}}));
    assert_eq!(out["parallel_tool_calls"], json!(false));

    for (anthropic, openai) in [("auto", "auto"), ("any", "required"), ("none", "none")] {
        let mut body = minimal(json!([{"role": "user", "content": "x"}]));
        body["tools"] = json!([{"name": "t", "input_schema": {"type": "object"}}]);
        body["tool_choice"] = json!({"type": anthropic});
        let out = convert(body);
        assert_eq!(out["tool_choice"], openai);
        assert!(out.get("parallel_tool_calls").is_none());
    }
}

#[test]
fn tool_choice_without_tools_is_dropped_and_must_name_a_tool() {
    let mut body = minimal(json!([{"role": "user", "content": "x"}]));
    body["tool_choice"] = json!({"type": "any"});
    let out = convert(body.clone());
    assert!(out.get("tools").is_none() && out.get("tool_choice").is_none());
    body["tools"] = json!([{"name": "a"}]);
    body["tool_choice"] = json!({"type": "tool", "name": "b"});
    assert_eq!(error_of(body), "tool_choice.name: \"b\" is not one of the request's tools");
}

#[test]
fn invalid_tool_names_are_rewritten_everywhere() {
    let long = "x".repeat(70);
    let mut body = minimal(json!([
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "mcp.read", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r"}]}
    ]));
    body["tools"] = json!([
        {"name": "mcp.read", "input_schema": {"type": "object"}},
        {"name": long, "input_schema": {"type": "object"}}
    ]);
    body["tool_choice"] = json!({"type": "tool", "name": long});
    let (out, names) = try_convert(&body, "m", &ConvertOptions::default()).unwrap();
    let read = names.to_upstream("mcp.read").to_string();
    assert_ne!(read, "mcp.read");
    assert_eq!(out["tools"][0]["function"]["name"], read.as_str());
    assert_eq!(out["messages"][1]["tool_calls"][0]["function"]["name"], read.as_str());
    let long_up = out["tools"][1]["function"]["name"].as_str().unwrap();
    assert!(long_up.len() <= 64);
    assert_eq!(out["tool_choice"]["function"]["name"], long_up);
    assert_eq!(names.restore(long_up), long);

    let opts = ConvertOptions { rewrite_tool_names: false, ..ConvertOptions::default() };
    let out = convert_with(body, &opts);
    assert_eq!(out["tools"][0]["function"]["name"], "mcp.read");
}

#[test]
fn scalar_fields_and_dropped_anthropic_fields() {
    let mut body = minimal(json!([{"role": "user", "content": "x"}]));
    for (k, v) in [
        ("temperature", json!(0.5)),
        ("top_p", json!(0.9)),
        ("top_k", json!(5)),
        ("stop_sequences", json!(["END"])),
        ("metadata", json!({"user_id": "u1", "other": 1})),
        ("stream", json!(true)),
        ("service_tier", json!("standard_only")),
        ("context_management", json!({"edits": []})),
        ("mcp_servers", json!([])),
        ("cache_control", json!({"type": "ephemeral"})),
        ("brand_new_field", json!(1)),
    ] {
        body[k] = v;
    }
    let out = convert(body);
    let key = out["prompt_cache_key"].as_str().unwrap().to_string();
    assert_eq!(key.len(), 32);
    assert_eq!(
        out,
        json!({
            "model": "up-model", "max_tokens": 10,
            "messages": [{"role": "user", "content": "x"}],
            "temperature": 0.5, "top_p": 0.9, "stop": ["END"], "safety_identifier": "u1", "prompt_cache_key": key,
            "service_tier": "default", "stream": true, "stream_options": {"include_usage": true}
        })
    );
}

#[test]
fn max_completion_tokens_option() {
    let opts =
        ConvertOptions { max_tokens_field: Some(MaxTokensField::MaxCompletionTokens), ..ConvertOptions::default() };
    let out = convert_with(minimal(json!([{"role": "user", "content": "x"}])), &opts);
    assert_eq!(out["max_completion_tokens"], 10);
    assert!(out.get("max_tokens").is_none());
    let (o3, _) =
        try_convert(&minimal(json!([{"role": "user", "content": "x"}])), "o3", &ConvertOptions::default()).unwrap();
    assert_eq!((o3.get("max_tokens"), &o3["max_completion_tokens"]), (None, &json!(10)));
}

#[test]
fn reasoning_effort_mapping_for_an_opted_in_provider() {
    let opts = ConvertOptions { reasoning_effort: Some(true), ..ConvertOptions::default() };
    let effort = |extra: Value| {
        let mut body = minimal(json!([{"role": "user", "content": "x"}]));
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        convert_with(body, &opts).get("reasoning_effort").cloned()
    };
    let budget = |n: u64| effort(json!({"thinking": {"type": "enabled", "budget_tokens": n}}));
    assert_eq!(budget(1024), Some(json!("low")));
    assert_eq!(budget(2048), Some(json!("medium")));
    assert_eq!(budget(8191), Some(json!("medium")));
    assert_eq!(budget(8192), Some(json!("high")));
    assert_eq!(
        effort(json!({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}})),
        Some(json!("high"))
    );
    assert_eq!(effort(json!({"output_config": {"effort": "low"}})), Some(json!("low")));
    assert_eq!(effort(json!({"thinking": {"type": "adaptive"}})), Some(json!("high")));
    assert_eq!(effort(json!({"thinking": {"type": "disabled"}, "output_config": {"effort": "high"}})), None);
    // Providers without the option never see the field for models the table does not know.
    let mut body = minimal(json!([{"role": "user", "content": "x"}]));
    body["output_config"] = json!({"effort": "high"});
    assert!(convert(body).get("reasoning_effort").is_none());
}

#[test]
fn errors_name_the_field() {
    let base = |messages: Value| minimal(messages);
    assert_eq!(error_of(json!([])), "body: must be a JSON object");
    assert_eq!(error_of(json!({"max_tokens": 1})), "messages: must be a non-empty array");
    assert_eq!(error_of(json!({"messages": [{"role": "user", "content": "x"}]})), "max_tokens: field required");
    assert!(error_of(base(json!([{"role": "robot", "content": "x"}]))).starts_with("messages[0].role:"));
    assert!(error_of(base(json!([{"role": "user", "content": 5}]))).starts_with("messages[0].content:"));
    assert!(error_of(base(json!([{"role": "user", "content": [7]}]))).starts_with("messages[0].content[0].type:"));
    assert!(error_of(base(json!([{"role": "user", "content": [{"type": "text"}]}])))
        .starts_with("messages[0].content[0].text:"));
    let image = json!([{"role": "user", "content": [
        {"type": "text", "text": "a"},
        {"type": "image", "source": {"type": "file", "file_id": "f"}}
    ]}]);
    assert!(error_of(base(image)).starts_with("messages[0].content[1].source.type:"));
    let tool_result = json!([{"role": "user", "content": [{"type": "tool_result", "content": "x"}]}]);
    assert!(error_of(base(tool_result)).starts_with("messages[0].content[0].tool_use_id:"));
    let mut bad_choice = base(json!([{"role": "user", "content": "x"}]));
    bad_choice["tools"] = json!([{"name": "t"}]);
    bad_choice["tool_choice"] = json!({"type": "sometimes"});
    assert!(error_of(bad_choice).starts_with("tool_choice.type:"));
    let mut bad_temp = base(json!([{"role": "user", "content": "x"}]));
    bad_temp["temperature"] = json!("hot");
    assert_eq!(error_of(bad_temp), "temperature: must be a number");
}

#[test]
fn colliding_names_are_rejected() {
    let rewritten = crate::convert::tool_names::upstream_name("a.b");
    let mut body = minimal(json!([{"role": "user", "content": "x"}]));
    body["tools"] = json!([{"name": rewritten}, {"name": "a.b"}]);
    assert!(error_of(body).starts_with("tools[1].name: tool names"));
}
