//! Anthropic message → OpenAI `chat.completion`, plus the small mappings the stream shares: finish reasons,
//! usage and ids.
//!
//! Text blocks are joined into `content`; each `tool_use` becomes a `tool_calls` entry with its input as a JSON
//! string; thinking is exposed as `reasoning_content` (the field DeepSeek, vLLM and many OpenAI-compatible
//! clients read) — its signature cannot travel in the OpenAI shape, so it is dropped; server-tool blocks are
//! dropped.

use serde_json::{json, Value};

use super::errors::read_anthropic_error;
use crate::convert::errors::ConvertError;
use crate::convert::ids;
use crate::convert::usage::Usage;

/// Converts a non-streaming Anthropic response. The model is the one the client asked for; `created` is the
/// Unix time of the answer. An error body (`type: error`) becomes a [`ConvertError`] with its type and message.
pub fn to_chat_completion(
    message: &Value,
    requested_model: &str,
    created: u64,
) -> Result<(Value, Usage), ConvertError> {
    let body = message
        .as_object()
        .ok_or_else(|| ConvertError::invalid_upstream("body", "upstream response is not a JSON object"))?;
    if body.get("type").and_then(Value::as_str) == Some("error") {
        let (error_type, text) = read_anthropic_error(200, message.to_string().as_bytes());
        return Err(ConvertError::upstream_error(error_type, text));
    }
    let blocks = body
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| ConvertError::invalid_upstream("content", "upstream response has no content array"))?;
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("thinking") => reasoning.push_str(block.get("thinking").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => tool_calls.push(tool_call(block)),
            _ => {}
        }
    }
    let usage = body.get("usage").map(usage_from_anthropic).unwrap_or_default();
    let mut message = json!({"role": "assistant", "content": text, "refusal": null});
    if text.is_empty() && !tool_calls.is_empty() {
        message["content"] = Value::Null;
    }
    if !reasoning.is_empty() {
        message["reasoning_content"] = json!(reasoning);
    }
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    let completion = json!({
        "id": chat_id(body.get("id").and_then(Value::as_str)),
        "object": "chat.completion",
        "created": created,
        "model": requested_model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(body.get("stop_reason").and_then(Value::as_str)),
        }],
        "usage": openai_usage(usage),
    });
    Ok((completion, usage))
}

fn tool_call(block: &Value) -> Value {
    let arguments = match block.get("input") {
        None | Some(Value::Null) => "{}".to_string(),
        Some(input) => input.to_string(),
    };
    json!({
        "id": block.get("id").and_then(Value::as_str).unwrap_or_default(),
        "type": "function",
        "function": {"name": block.get("name").and_then(Value::as_str).unwrap_or_default(), "arguments": arguments},
    })
}

/// OpenAI `finish_reason` for an Anthropic `stop_reason`.
pub fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens") | Some("model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        _ => "stop",
    }
}

/// `chatcmpl-…` from an Anthropic message id (`msg_…`), so logs on both sides can be matched up.
pub fn chat_id(message_id: Option<&str>) -> String {
    let generated;
    let id = match message_id.filter(|id| !id.is_empty()) {
        Some(id) => id,
        None => {
            generated = ids::generate_message_id();
            &generated
        }
    };
    format!("chatcmpl-{}", id.strip_prefix("msg_").unwrap_or(id))
}

/// Reads an Anthropic `usage` object; missing or malformed counts read as 0 (usage never fails a response).
/// Values present overwrite `into`'s (stream events carry running totals).
pub fn merge_anthropic_usage(into: &mut Usage, usage: &Value) {
    let set = |field: &mut u64, key: &str| {
        if let Some(n) = usage.get(key).and_then(Value::as_u64) {
            *field = n;
        }
    };
    set(&mut into.input_tokens, "input_tokens");
    set(&mut into.output_tokens, "output_tokens");
    set(&mut into.cache_read_input_tokens, "cache_read_input_tokens");
    set(&mut into.cache_creation_input_tokens, "cache_creation_input_tokens");
}

fn usage_from_anthropic(usage: &Value) -> Usage {
    let mut out = Usage::default();
    merge_anthropic_usage(&mut out, usage);
    out
}

/// The OpenAI `usage` object: `prompt_tokens` includes cached tokens (read and written), unlike Anthropic's
/// `input_tokens`; `cached_tokens` are the ones read from the cache.
pub fn openai_usage(usage: Usage) -> Value {
    let prompt = usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens;
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": usage.output_tokens,
        "total_tokens": prompt + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_input_tokens},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_tools_thinking_and_usage() {
        let message = json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "server_tool_use", "id": "srv", "name": "web_search", "input": {}},
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 3},
        });
        let (out, usage) = to_chat_completion(&message, "anthropic:claude", 1700000000).unwrap();
        assert_eq!(usage.output_tokens, 5);
        assert_eq!(
            out,
            json!({
                "id": "chatcmpl-01", "object": "chat.completion", "created": 1700000000, "model": "anthropic:claude",
                "choices": [{"index": 0, "logprobs": null, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": "Let me check.", "refusal": null, "reasoning_content": "hmm",
                    "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}],
                }}],
                "usage": {"prompt_tokens": 33, "completion_tokens": 5, "total_tokens": 38, "prompt_tokens_details": {"cached_tokens": 20}},
            })
        );
    }

    #[test]
    fn tool_only_answer_has_null_content() {
        let message = json!({"id": "msg_2", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}], "stop_reason": "tool_use"});
        let (out, _) = to_chat_completion(&message, "m", 0).unwrap();
        assert_eq!(out["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(out["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"], "{}");
    }

    #[test]
    fn finish_reasons() {
        for (stop, finish) in [
            (Some("end_turn"), "stop"),
            (Some("stop_sequence"), "stop"),
            (Some("pause_turn"), "stop"),
            (Some("max_tokens"), "length"),
            (Some("model_context_window_exceeded"), "length"),
            (Some("tool_use"), "tool_calls"),
            (Some("refusal"), "content_filter"),
            (None, "stop"),
        ] {
            assert_eq!(finish_reason(stop), finish, "{stop:?}");
        }
    }

    #[test]
    fn errors_and_malformed_bodies() {
        let error = json!({"type": "error", "error": {"type": "overloaded_error", "message": "busy"}});
        let e = to_chat_completion(&error, "m", 0).unwrap_err();
        assert_eq!((e.error_type(), e.message()), ("overloaded_error", "busy"));
        for bad in [json!([]), json!({"id": "x"}), json!({"content": "text"})] {
            assert_eq!(to_chat_completion(&bad, "m", 0).unwrap_err().error_type(), "api_error", "{bad}");
        }
    }

    #[test]
    fn ids() {
        assert_eq!(chat_id(Some("msg_abc")), "chatcmpl-abc");
        assert_eq!(chat_id(Some("other")), "chatcmpl-other");
        assert!(chat_id(None).starts_with("chatcmpl-"));
    }
}
