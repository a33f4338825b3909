//! Non-streaming OpenAI chat completion → Anthropic message (wire-formats §7),
//! plus the small readers of OpenAI message fields that the stream shares.

use serde_json::{json, Map, Value};

use super::errors::{classify_error_json, ConvertError};
use super::ids;
use super::tool_names::ToolNames;
use super::usage::Usage;

/// Key under which tool arguments that are not a JSON object are kept, so a
/// malformed call reaches the client (and its error handling) instead of
/// silently turning into an empty input.
pub const RAW_ARGUMENTS_KEY: &str = "_raw_arguments";

/// Converts an OpenAI chat completion into an Anthropic message; `Usage` is
/// returned separately for metrics.
///
/// The id is the upstream id prefixed with `msg_`; the model is the one the
/// client asked for. An `error` object in the body (some providers answer 200
/// with one) becomes a [`ConvertError`] carrying the upstream's type and message.
pub fn to_anthropic(
    openai_body: &Value,
    requested_model: &str,
    names: &ToolNames,
) -> Result<(Value, Usage), ConvertError> {
    let body = openai_body
        .as_object()
        .ok_or_else(|| ConvertError::invalid_upstream("body", "upstream response is not a JSON object"))?;
    if body.get("error").is_some_and(|e| !e.is_null()) {
        let (error_type, message) = classify_error_json(200, openai_body);
        return Err(ConvertError::upstream_error(error_type, message));
    }
    let choice = body
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|choices| choices.first())
        .ok_or_else(|| ConvertError::invalid_upstream("choices", "upstream response has no choices"))?;
    let message = choice
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| ConvertError::invalid_upstream("choices[0].message", "missing message object"))?;

    let id = ids::message_id_from_upstream(body.get("id").and_then(Value::as_str));
    let content = content_blocks(message, &id, names);
    let has_tool_use = content.iter().any(|b| b["type"] == "tool_use");
    let finish_reason = choice.get("finish_reason").and_then(Value::as_str);
    let usage = body.get("usage").map(Usage::from_openai).unwrap_or_default();

    let anthropic = json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": requested_model,
        "content": content,
        "stop_reason": stop_reason(finish_reason, has_tool_use),
        "stop_sequence": null,
        "usage": usage.to_anthropic_json(),
    });
    Ok((anthropic, usage))
}

/// thinking → text → tool_use, the order Anthropic itself uses.
fn content_blocks(message: &Value, message_id: &str, names: &ToolNames) -> Vec<Value> {
    let mut blocks = Vec::new();
    if let Some(thinking) = reasoning_text(message) {
        blocks.push(json!({"type": "thinking", "thinking": thinking, "signature": ""}));
    }
    let text = message_text(message);
    if !text.is_empty() {
        blocks.push(json!({"type": "text", "text": text}));
    }
    let calls = message.get("tool_calls").and_then(Value::as_array);
    for call in calls.into_iter().flatten() {
        if let Some(block) = tool_use_block(call, message_id, blocks.len(), names) {
            blocks.push(block);
        }
    }
    blocks
}

/// A call without a function name cannot be represented and is skipped.
fn tool_use_block(call: &Value, message_id: &str, index: usize, names: &ToolNames) -> Option<Value> {
    let function = call.get("function")?;
    let name = function.get("name").and_then(Value::as_str).filter(|n| !n.is_empty())?;
    let id = match call.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => ids::tool_use_id(message_id, index),
    };
    Some(json!({
        "type": "tool_use",
        "id": id,
        "name": names.restore(name),
        "input": parse_arguments(function.get("arguments")),
    }))
}

/// Tool arguments as an input object: `""`, `"null"` and absent mean `{}`; a
/// string that is not a JSON object is kept under [`RAW_ARGUMENTS_KEY`].
pub fn parse_arguments(arguments: Option<&Value>) -> Value {
    let raw = match arguments {
        None | Some(Value::Null) => return Value::Object(Map::new()),
        Some(Value::Object(obj)) => return Value::Object(obj.clone()),
        Some(Value::String(s)) => s.as_str(),
        Some(other) => return raw_arguments(other.to_string()),
    };
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(obj)) => Value::Object(obj),
        Ok(Value::Null) => Value::Object(Map::new()),
        _ if raw.trim().is_empty() => Value::Object(Map::new()),
        _ => raw_arguments(raw.to_string()),
    }
}

fn raw_arguments(raw: String) -> Value {
    let mut obj = Map::new();
    obj.insert(RAW_ARGUMENTS_KEY.to_string(), Value::String(raw));
    Value::Object(obj)
}

/// The reasoning text of a message or delta: `reasoning_content` (DeepSeek,
/// vLLM, SGLang) or `reasoning` (OpenRouter-style); empty counts as absent.
pub(crate) fn reasoning_text(message: &Value) -> Option<&str> {
    ["reasoning_content", "reasoning"]
        .iter()
        .filter_map(|key| message.get(*key).and_then(Value::as_str))
        .find(|s| !s.is_empty())
}

/// `content` as a string, or the text parts of a content array joined; when
/// there is none, OpenAI's `refusal` text so a refusal is not an empty answer.
fn message_text(message: &Value) -> String {
    let text = match message.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect(),
        _ => String::new(),
    };
    if text.is_empty() {
        if let Some(refusal) = message.get("refusal").and_then(Value::as_str) {
            return refusal.to_string();
        }
    }
    text
}

/// Anthropic `stop_reason` for an OpenAI `finish_reason`. Some providers
/// (vLLM, Ollama) say `stop` after tool calls; clients decide whether to run
/// tools on `tool_use`, so a response with tool calls ends in `tool_use`
/// unless it was cut by the token limit or a content filter.
pub(crate) fn stop_reason(finish_reason: Option<&str>, has_tool_use: bool) -> &'static str {
    match finish_reason {
        Some("length") => "max_tokens",
        Some("content_filter") => "refusal",
        Some("tool_calls") | Some("function_call") => "tool_use",
        _ if has_tool_use => "tool_use",
        _ => "end_turn",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(body: Value) -> Value {
        to_anthropic(&body, "claude-x", &ToolNames::default()).unwrap().0
    }

    #[test]
    fn arguments_edge_cases() {
        assert_eq!(parse_arguments(None), json!({}));
        assert_eq!(parse_arguments(Some(&json!(""))), json!({}));
        assert_eq!(parse_arguments(Some(&json!("  "))), json!({}));
        assert_eq!(parse_arguments(Some(&json!("null"))), json!({}));
        assert_eq!(parse_arguments(Some(&json!("{\"a\":1}"))), json!({"a": 1}));
        assert_eq!(parse_arguments(Some(&json!({"a": 1}))), json!({"a": 1}));
        assert_eq!(parse_arguments(Some(&json!("{\"a\":"))), json!({"_raw_arguments": "{\"a\":"}));
        assert_eq!(parse_arguments(Some(&json!("[1]"))), json!({"_raw_arguments": "[1]"}));
        assert_eq!(parse_arguments(Some(&json!(5))), json!({"_raw_arguments": "5"}));
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(stop_reason(Some("stop"), false), "end_turn");
        assert_eq!(stop_reason(Some("stop"), true), "tool_use");
        assert_eq!(stop_reason(Some("length"), true), "max_tokens");
        assert_eq!(stop_reason(Some("tool_calls"), false), "tool_use");
        assert_eq!(stop_reason(Some("function_call"), false), "tool_use");
        assert_eq!(stop_reason(Some("content_filter"), false), "refusal");
        assert_eq!(stop_reason(Some("eos"), false), "end_turn");
        assert_eq!(stop_reason(None, false), "end_turn");
    }

    #[test]
    fn error_in_200_body_is_an_error() {
        let body = json!({"error": {"message": "quota", "code": 429}});
        let err = to_anthropic(&body, "m", &ToolNames::default()).unwrap_err();
        assert_eq!(err.error_type(), "rate_limit_error");
        assert_eq!(err.message(), "quota");
    }

    #[test]
    fn missing_choices_or_message_are_upstream_errors() {
        for body in [json!({}), json!({"choices": []}), json!({"choices": [{}]}), json!([1])] {
            let err = to_anthropic(&body, "m", &ToolNames::default()).unwrap_err();
            assert_eq!(err.error_type(), "api_error", "{body}");
        }
    }

    #[test]
    fn content_parts_refusal_and_generated_tool_ids() {
        let out = convert(json!({
            "id": "x1",
            "choices": [{"message": {"content": null, "refusal": "I can't help with that",
                "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}, {"id": "c2"}]},
                "finish_reason": "stop"}]
        }));
        assert_eq!(out["content"][0], json!({"type": "text", "text": "I can't help with that"}));
        assert_eq!(out["content"][1]["id"], "toolu_x1_1");
        assert_eq!(out["content"].as_array().unwrap().len(), 2);
        assert_eq!(out["stop_reason"], "tool_use");
        let parts = convert(
            json!({"choices": [{"message": {"content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}}]}),
        );
        assert_eq!(parts["content"][0]["text"], "ab");
        assert!(parts["id"].as_str().unwrap().starts_with("msg_"));
    }
}
