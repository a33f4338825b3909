//! Anthropic Messages request → OpenAI Chat Completions request (wire-formats §6).
//!
//! The OpenAI body is built from an allow-list: every field is written on
//! purpose, so Anthropic-only fields (`context_management`, `cache_control`,
//! `top_k`, `service_tier`, `container`, `mcp_servers`, `output_config`,
//! `thinking`, anything new) never reach a provider that would reject them.
//! Malformed input is a [`ConvertError`] naming the field, never a panic.

mod content;
mod messages;
mod tools;

use serde_json::{json, Map, Value};

use super::errors::ConvertError;
use super::options::ConvertOptions;
use super::tool_names::ToolNames;

/// Converts a client request for an OpenAI-format provider. The returned
/// [`ToolNames`] must be used to read the response (names may be rewritten).
pub fn to_openai(
    anthropic_body: &Value,
    upstream_model: &str,
    opts: &ConvertOptions,
) -> Result<(Value, ToolNames), ConvertError> {
    let body = anthropic_body.as_object().ok_or_else(|| invalid("body", "must be a JSON object"))?;
    let names = tools::collect_names(body, opts)?;
    let mut out = Map::new();
    out.insert("model".into(), json!(upstream_model));
    out.insert("messages".into(), Value::Array(messages::convert(body, &names, opts)?));
    put_max_tokens(body, opts, &mut out)?;
    tools::put_tools(body, &names, &mut out)?;
    put_sampling(body, &mut out)?;
    put_user(body, &mut out)?;
    put_stream(body, &mut out)?;
    if opts.reasoning_effort {
        if let Some(effort) = reasoning_effort(body) {
            out.insert("reasoning_effort".into(), json!(effort));
        }
    }
    Ok((Value::Object(out), names))
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConvertError {
    ConvertError::invalid_request(path, message)
}

/// A present, non-null field.
fn field<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|v| !v.is_null())
}

fn put_max_tokens(
    body: &Map<String, Value>,
    opts: &ConvertOptions,
    out: &mut Map<String, Value>,
) -> Result<(), ConvertError> {
    let max_tokens = field(body, "max_tokens")
        .ok_or_else(|| invalid("max_tokens", "field required"))?
        .as_u64()
        .ok_or_else(|| invalid("max_tokens", "must be a non-negative integer"))?;
    out.insert(opts.max_tokens_field.as_str().into(), json!(max_tokens));
    Ok(())
}

fn put_sampling(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), ConvertError> {
    for key in ["temperature", "top_p"] {
        if let Some(v) = field(body, key) {
            if !v.is_number() {
                return Err(invalid(key, "must be a number"));
            }
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(stops) = field(body, "stop_sequences") {
        let stops = stops.as_array().ok_or_else(|| invalid("stop_sequences", "must be an array of strings"))?;
        for (i, stop) in stops.iter().enumerate() {
            if !stop.is_string() {
                return Err(invalid(format!("stop_sequences[{i}]"), "must be a string"));
            }
        }
        if !stops.is_empty() {
            out.insert("stop".into(), Value::Array(stops.clone()));
        }
    }
    Ok(())
}

/// `metadata.user_id` → `user`; the rest of `metadata` is Anthropic's.
fn put_user(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), ConvertError> {
    let Some(metadata) = field(body, "metadata") else {
        return Ok(());
    };
    let metadata = metadata.as_object().ok_or_else(|| invalid("metadata", "must be an object"))?;
    match field(metadata, "user_id") {
        None => {}
        Some(Value::String(user)) => {
            out.insert("user".into(), json!(user));
        }
        Some(_) => return Err(invalid("metadata.user_id", "must be a string")),
    }
    Ok(())
}

/// Streaming also asks for usage: without `include_usage` an OpenAI stream
/// reports no token counts at all.
fn put_stream(body: &Map<String, Value>, out: &mut Map<String, Value>) -> Result<(), ConvertError> {
    match field(body, "stream") {
        None | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            out.insert("stream".into(), json!(true));
            out.insert("stream_options".into(), json!({"include_usage": true}));
        }
        Some(_) => return Err(invalid("stream", "must be a boolean")),
    }
    Ok(())
}

/// `output_config.effort` (sent with adaptive thinking, or alone) wins over
/// `thinking.budget_tokens`; thinking disabled means no reasoning effort.
/// Unknown values are ignored rather than guessed.
fn reasoning_effort(body: &Map<String, Value>) -> Option<&'static str> {
    let thinking = field(body, "thinking");
    let thinking_type = thinking.and_then(|t| t.get("type")).and_then(Value::as_str);
    if thinking_type == Some("disabled") {
        return None;
    }
    let effort =
        field(body, "output_config").and_then(|c| c.get("effort")).and_then(Value::as_str).and_then(|effort| {
            match effort {
                "low" => Some("low"),
                "medium" => Some("medium"),
                "high" | "max" => Some("high"),
                _ => None,
            }
        });
    effort.or_else(|| {
        let budget = thinking?.get("budget_tokens")?.as_u64()?;
        (thinking_type == Some("enabled")).then_some(match budget {
            0..=2047 => "low",
            2048..=8191 => "medium",
            _ => "high",
        })
    })
}

#[cfg(test)]
mod tests;
