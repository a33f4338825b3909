//! OpenAI Chat Completions request → Anthropic Messages request, for OpenAI-SDK clients routed to an
//! Anthropic-format provider.
//!
//! Like the other direction, the output is built from an allow-list, so OpenAI-only fields
//! (`frequency_penalty`, `presence_penalty`, `logit_bias`, `logprobs`, `seed`, `response_format`, `store`,
//! `metadata`, `service_tier`, `modalities`, `audio`, `prediction`, …) never reach Anthropic. Decisions:
//!
//! - `max_completion_tokens` (else `max_tokens`) → `max_tokens`; absent → [`DEFAULT_MAX_TOKENS`].
//! - `temperature` is clamped to Anthropic's 0–1 (OpenAI accepts up to 2; above 1 means "most random" on both).
//! - `reasoning_effort` → `thinking` with a budget ([`thinking_budget`]). OpenAI's limit counts reasoning
//!   tokens too, as Anthropic's does, so an explicit limit is kept and the budget fits under it; without a
//!   limit, `max_tokens` is the budget plus [`DEFAULT_MAX_TOKENS`]. Thinking is left off when Anthropic would
//!   refuse it: a forced tool choice, a limit too small for the minimum budget, or a tool-use loop whose last
//!   assistant turn (replayed by an OpenAI client) has no thinking block to send back. With thinking on,
//!   `temperature` and `top_p` are dropped (Anthropic only accepts their defaults then).
//! - `n` other than 1 is refused: there is one answer per request.

use serde_json::{json, Map, Value};

use super::{field, messages, tools};
use crate::convert::errors::ConvertError;

/// `max_tokens` sent when the client gave no limit (Anthropic requires one).
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
/// Anthropic's smallest thinking budget.
pub const MIN_THINKING_BUDGET: u64 = 1024;

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConvertError {
    ConvertError::invalid_request(path, message)
}

/// The converted request and what the route needs to shape the answer.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundRequest {
    /// The Anthropic Messages body.
    pub body: Value,
    pub stream: bool,
    /// The client asked for a final usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
}

/// Converts a client's Chat Completions body for an Anthropic-format provider serving `upstream_model`.
pub fn to_anthropic_request(openai_body: &Value, upstream_model: &str) -> Result<InboundRequest, ConvertError> {
    let body = openai_body.as_object().ok_or_else(|| invalid("body", "must be a JSON object"))?;
    let messages = field(body, "messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| invalid("messages", "must be a non-empty array"))?;
    if let Some(n) = field(body, "n") {
        if n.as_u64() != Some(1) {
            return Err(invalid("n", "only n = 1 is supported by this provider"));
        }
    }
    let conversation = messages::convert(messages)?;
    let mut out = Map::new();
    out.insert("model".into(), json!(upstream_model));
    let explicit_limit = max_tokens(body)?;
    out.insert("max_tokens".into(), json!(explicit_limit.unwrap_or(DEFAULT_MAX_TOKENS)));
    let tool_use_loop = conversation.last_assistant_called_tools();
    if !conversation.system.is_empty() {
        out.insert("system".into(), Value::Array(conversation.system));
    }
    out.insert("messages".into(), Value::Array(conversation.messages));
    tools::put_tools(body, &mut out)?;
    put_sampling(body, &mut out)?;
    put_user(body, &mut out)?;
    let stream = match field(body, "stream") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err(invalid("stream", "must be a boolean")),
    };
    if stream {
        out.insert("stream".into(), json!(true));
    }
    let include_usage = stream
        && field(body, "stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool) == Some(true);
    if let Some(budget) = effort_budget(body)? {
        let forced = out.get("tool_choice").and_then(|c| c.get("type")).is_some_and(|t| t == "any" || t == "tool");
        if !forced && !tool_use_loop {
            put_thinking(budget, explicit_limit, &mut out);
        }
    }
    Ok(InboundRequest { body: Value::Object(out), stream, include_usage })
}

fn max_tokens(body: &Map<String, Value>) -> Result<Option<u64>, ConvertError> {
    for key in ["max_completion_tokens", "max_tokens"] {
        if let Some(v) = field(body, key) {
            let n = v.as_u64().filter(|n| *n > 0).ok_or_else(|| invalid(key, "must be a positive integer"))?;
            return Ok(Some(n));
        }
    }
    Ok(None)
}

fn put_sampling(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), ConvertError> {
    if let Some(t) = field(body, "temperature") {
        let t = t.as_f64().ok_or_else(|| invalid("temperature", "must be a number"))?;
        out.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
    }
    if let Some(p) = field(body, "top_p") {
        if !p.is_number() {
            return Err(invalid("top_p", "must be a number"));
        }
        out.insert("top_p".into(), p.clone());
    }
    let stops: Vec<Value> = match field(body, "stop") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![json!(s)],
        Some(Value::Array(list)) => {
            for (i, stop) in list.iter().enumerate() {
                if !stop.is_string() {
                    return Err(invalid(format!("stop[{i}]"), "must be a string"));
                }
            }
            list.clone()
        }
        Some(_) => return Err(invalid("stop", "must be a string or an array of strings")),
    };
    let stops: Vec<Value> = stops.into_iter().filter(|s| s.as_str().is_some_and(|s| !s.is_empty())).collect();
    if !stops.is_empty() {
        out.insert("stop_sequences".into(), Value::Array(stops));
    }
    Ok(())
}

fn put_user(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), ConvertError> {
    match field(body, "user") {
        None => Ok(()),
        Some(Value::String(user)) => {
            out.insert("metadata".into(), json!({"user_id": user}));
            Ok(())
        }
        Some(_) => Err(invalid("user", "must be a string")),
    }
}

/// The thinking budget for a reasoning effort: `Some(None)` for `none`/`minimal` (no thinking), `None` for a
/// value OpenAI does not define.
pub fn thinking_budget(effort: &str) -> Option<Option<u64>> {
    match effort {
        "none" | "minimal" => Some(None),
        "low" => Some(Some(MIN_THINKING_BUDGET)),
        "medium" => Some(Some(4096)),
        "high" => Some(Some(16384)),
        _ => None,
    }
}

fn effort_budget(body: &Map<String, Value>) -> Result<Option<u64>, ConvertError> {
    let Some(effort) = field(body, "reasoning_effort") else { return Ok(None) };
    let effort = effort.as_str().ok_or_else(|| invalid("reasoning_effort", "must be a string"))?;
    thinking_budget(effort).ok_or_else(|| {
        invalid("reasoning_effort", format!("unknown value {effort:?}; expected none, minimal, low, medium or high"))
    })
}

fn put_thinking(budget: u64, explicit_limit: Option<u64>, out: &mut Map<String, Value>) {
    let (budget, max_tokens) = match explicit_limit {
        Some(limit) => (budget.min(limit.saturating_sub(1)), limit),
        None => (budget, budget + DEFAULT_MAX_TOKENS),
    };
    if budget < MIN_THINKING_BUDGET {
        return;
    }
    out.insert("max_tokens".into(), json!(max_tokens));
    out.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": budget}));
    out.remove("temperature");
    out.remove("top_p");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(body: Value) -> InboundRequest {
        to_anthropic_request(&body, "claude-up").unwrap()
    }

    fn err(body: Value) -> String {
        to_anthropic_request(&body, "m").unwrap_err().to_string()
    }

    fn hi() -> Value {
        json!([{"role": "user", "content": "hi"}])
    }

    #[test]
    fn minimal_request_gets_the_default_limit() {
        let out = convert(json!({"model": "anthropic:claude", "messages": hi()}));
        assert_eq!(
            out.body,
            json!({"model": "claude-up", "max_tokens": 4096, "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})
        );
        assert!(!out.stream && !out.include_usage);
    }

    #[test]
    fn sampling_stop_user_and_stream_fields() {
        let out = convert(json!({
            "model": "m", "messages": hi(), "max_tokens": 50, "max_completion_tokens": 70, "temperature": 1.7,
            "top_p": 0.9, "stop": "END", "user": "u-1", "stream": true, "stream_options": {"include_usage": true},
            "frequency_penalty": 0.5, "seed": 3, "response_format": {"type": "json_object"}, "n": 1,
        }));
        let b = &out.body;
        assert_eq!(b["max_tokens"], 70);
        assert_eq!(b["temperature"], 1.0);
        assert_eq!(b["top_p"], 0.9);
        assert_eq!(b["stop_sequences"], json!(["END"]));
        assert_eq!(b["metadata"], json!({"user_id": "u-1"}));
        assert_eq!(b["stream"], true);
        assert!(out.stream && out.include_usage);
        for dropped in ["frequency_penalty", "seed", "response_format", "n", "stream_options", "user", "stop"] {
            assert!(b.get(dropped).is_none(), "{dropped}");
        }
        let listed = convert(json!({"model": "m", "messages": hi(), "stop": ["a", "", "b"]}));
        assert_eq!(listed.body["stop_sequences"], json!(["a", "b"]));
    }

    #[test]
    fn reasoning_effort_becomes_thinking_within_limits() {
        let out = convert(json!({"model": "m", "messages": hi(), "reasoning_effort": "high", "temperature": 0.2}));
        assert_eq!(out.body["thinking"], json!({"type": "enabled", "budget_tokens": 16384}));
        assert_eq!(out.body["max_tokens"], 16384 + DEFAULT_MAX_TOKENS);
        assert!(out.body.get("temperature").is_none());
        let capped = convert(json!({"model": "m", "messages": hi(), "reasoning_effort": "high", "max_tokens": 3000}));
        assert_eq!(capped.body["thinking"]["budget_tokens"], 2999);
        assert_eq!(capped.body["max_tokens"], 3000);
        let tiny = convert(json!({"model": "m", "messages": hi(), "reasoning_effort": "low", "max_tokens": 500}));
        assert!(tiny.body.get("thinking").is_none());
        let none = convert(json!({"model": "m", "messages": hi(), "reasoning_effort": "minimal"}));
        assert!(none.body.get("thinking").is_none());
    }

    #[test]
    fn thinking_is_skipped_where_anthropic_would_refuse_it() {
        let tools = json!([{"type": "function", "function": {"name": "f"}}]);
        let forced = convert(
            json!({"model": "m", "messages": hi(), "tools": tools, "tool_choice": "required", "reasoning_effort": "low"}),
        );
        assert!(forced.body.get("thinking").is_none());
        let looping = convert(json!({"model": "m", "reasoning_effort": "low", "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "ok"},
        ]}));
        assert!(looping.body.get("thinking").is_none());
    }

    #[test]
    fn mistakes_name_the_field() {
        assert!(err(json!([])).starts_with("body"));
        assert!(err(json!({"messages": []})).starts_with("messages"));
        assert!(err(json!({"messages": hi(), "n": 2})).starts_with("n:"));
        assert!(err(json!({"messages": hi(), "max_tokens": -1})).starts_with("max_tokens"));
        assert!(err(json!({"messages": hi(), "max_completion_tokens": 0})).starts_with("max_completion_tokens"));
        assert!(err(json!({"messages": hi(), "temperature": "hot"})).starts_with("temperature"));
        assert!(err(json!({"messages": hi(), "stop": [1]})).starts_with("stop[0]"));
        assert!(err(json!({"messages": hi(), "user": 5})).starts_with("user"));
        assert!(err(json!({"messages": hi(), "stream": "yes"})).starts_with("stream"));
        assert!(err(json!({"messages": hi(), "reasoning_effort": "extreme"})).starts_with("reasoning_effort"));
    }
}
