//! OpenAI Chat Completions request → Anthropic Messages request, for OpenAI-SDK clients routed to an
//! Anthropic-format provider (the full mapping is `docs/conversion.md`).
//!
//! Like the other direction, the output is built from an allow-list. Each OpenAI field is converted, refused with
//! a 400 naming it (`n` > 1, `logprobs`, `top_logprobs`, `logit_bias`, audio output, `allowed_tools`), or dropped
//! by a documented rule (`frequency_penalty`, `presence_penalty`, `seed`, `store`, `metadata`, `prediction`,
//! `verbosity`, `prompt_cache_key`, …). Decisions:
//!
//! - `max_completion_tokens` (else `max_tokens`) → `max_tokens`; absent → [`DEFAULT_MAX_TOKENS`].
//! - `temperature` is clamped to Anthropic's 0–1 (OpenAI accepts up to 2; above 1 means "most random" on both).
//! - `reasoning_effort` → adaptive thinking and `output_config.effort`, or a thinking budget, by model (see
//!   `reasoning`).
//! - `response_format`: a JSON schema → `output_config.format`; `json_object` → an instruction at the end of the
//!   system prompt ([`JSON_OBJECT_INSTRUCTION`](super::output::JSON_OBJECT_INSTRUCTION)).
//! - `user` (else `safety_identifier`) → `metadata.user_id`.

use serde_json::{json, Map, Value};

use super::reasoning::{put_reasoning, Situation};
use super::{field, messages, output, tools};
use crate::convert::errors::ConvertError;
use crate::convert::options::ConvertOptions;

pub use super::reasoning::thinking_budget;

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

/// Converts a client's Chat Completions body for an Anthropic-format provider serving `upstream_model`, with
/// default settings (the model table decides the thinking style).
pub fn to_anthropic_request(openai_body: &Value, upstream_model: &str) -> Result<InboundRequest, ConvertError> {
    to_anthropic_request_with(openai_body, upstream_model, &ConvertOptions::default())
}

/// [`to_anthropic_request`] with the provider's settings (per-model `thinking` style).
pub fn to_anthropic_request_with(
    openai_body: &Value,
    upstream_model: &str,
    opts: &ConvertOptions,
) -> Result<InboundRequest, ConvertError> {
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
    output::refuse_unsupported(body)?;
    let mut conversation = messages::convert(messages)?;
    let mut output_config = Map::new();
    if let output::Format::JsonObject = output::response_format(body, &mut output_config)? {
        conversation.append_system(output::JSON_OBJECT_INSTRUCTION);
    }
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
    if let Some(tier) = output::service_tier(body)? {
        out.insert("service_tier".into(), json!(tier));
    }
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
    let forced = out.get("tool_choice").and_then(|c| c.get("type")).is_some_and(|t| t == "any" || t == "tool");
    let situation = Situation { explicit_limit, thinking_refused: forced || tool_use_loop };
    let style = opts.thinking_style(upstream_model);
    put_reasoning(body, upstream_model, style, &situation, &mut output_config, &mut out)?;
    if !output_config.is_empty() {
        out.insert("output_config".into(), Value::Object(output_config));
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

/// `user`, else `safety_identifier` → `metadata.user_id`.
fn put_user(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), ConvertError> {
    for key in ["user", "safety_identifier"] {
        match field(body, key) {
            None => {}
            Some(Value::String(user)) => {
                out.insert("metadata".into(), json!({"user_id": user}));
                return Ok(());
            }
            Some(_) => return Err(invalid(key, "must be a string")),
        }
    }
    Ok(())
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
    fn structured_outputs_and_effort_share_output_config() {
        let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
            "additionalProperties": false});
        let body = json!({"model": "m", "messages": hi(), "reasoning_effort": "medium", "response_format":
            {"type": "json_schema", "json_schema": {"name": "City", "strict": true, "schema": schema}}});
        let out = to_anthropic_request(&body, "claude-sonnet-4-6").unwrap().body;
        assert_eq!(
            out["output_config"],
            json!({"format": {"type": "json_schema", "schema": schema}, "effort": "medium"})
        );
        assert_eq!(out["thinking"], json!({"type": "adaptive"}));
        let older = to_anthropic_request(&body, "claude-sonnet-4-5").unwrap().body;
        assert_eq!(older["output_config"], json!({"format": {"type": "json_schema", "schema": schema}}));
        assert_eq!(older["thinking"], json!({"type": "enabled", "budget_tokens": 4096}));
        let budget_override = ConvertOptions {
            models: vec![crate::convert::ModelOptions {
                pattern: "claude-sonnet-4-6".into(),
                max_tokens_field: None,
                reasoning_effort: None,
                reasoning_levels: None,
                thinking: Some(crate::convert::ThinkingStyle::Budget),
            }],
            ..ConvertOptions::default()
        };
        let overridden = to_anthropic_request_with(&body, "claude-sonnet-4-6", &budget_override).unwrap().body;
        assert_eq!(overridden["thinking"]["type"], "enabled");
    }

    #[test]
    fn json_object_mode_is_an_instruction_in_the_system_prompt() {
        let body = json!({"model": "m", "messages": [{"role": "system", "content": "You list cities."},
            {"role": "user", "content": "two cities"}], "response_format": {"type": "json_object"}});
        let out = convert(body).body;
        assert_eq!(
            out["system"],
            json!([{"type": "text", "text": format!("You list cities.\n\n{}",
            super::super::output::JSON_OBJECT_INSTRUCTION)}])
        );
        assert!(out.get("output_config").is_none());
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
        assert!(err(json!({"messages": hi(), "logprobs": true})).starts_with("logprobs"));
        assert!(err(json!({"messages": hi(), "response_format": {"type": "xml"}})).starts_with("response_format.type"));
    }
}
