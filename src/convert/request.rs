//! Anthropic Messages request → OpenAI Chat Completions request (wire-formats §6).
//!
//! The OpenAI body is built from an allow-list: every field is written on
//! purpose, so Anthropic-only fields (`context_management`, `cache_control`,
//! `top_k`, `service_tier`, `container`, `mcp_servers`, `output_config`,
//! `thinking`, anything new) never reach a provider that would reject them.
//! Malformed input is a [`ConvertError`] naming the field, never a panic.

pub mod chat;
mod content;
mod messages;
mod tools;

use serde_json_borrow::{Map, Value as Json};

pub use self::chat::ChatRequest;
use self::chat::StreamOptions;
use super::errors::ConvertError;
use super::options::{ConvertOptions, MaxTokensField};
use super::tool_names::ToolNames;

/// Reads a client's request body into the borrowed tree [`to_openai`] converts: strings and keys point into
/// `body`, objects are vectors, so nothing of it is copied or hashed.
pub fn parse(body: &[u8]) -> Result<Json<'_>, ConvertError> {
    serde_json::from_slice(body).map_err(|e| invalid("body", format!("request body is not valid JSON: {e}")))
}

/// Converts a client request for an OpenAI-format provider. The returned
/// [`ToolNames`] must be used to read the response (names may be rewritten).
pub fn to_openai<'a>(
    anthropic_body: &'a Json<'a>,
    upstream_model: &'a str,
    opts: &ConvertOptions,
) -> Result<(ChatRequest<'a>, ToolNames), ConvertError> {
    let body = anthropic_body.as_object().ok_or_else(|| invalid("body", "must be a JSON object"))?;
    let names = tools::collect_names(body, opts)?;
    let messages = messages::convert(body, &names, opts)?;
    let max_tokens = max_tokens(body)?;
    let (max_tokens, max_completion_tokens) = match opts.max_tokens_field {
        MaxTokensField::MaxTokens => (Some(max_tokens), None),
        MaxTokensField::MaxCompletionTokens => (None, Some(max_tokens)),
    };
    let tools = tools::convert(body, &names)?;
    // Checked in this order, so the first mistake reported is always the same one.
    let (temperature, top_p, stop) = (number(body, "temperature")?, number(body, "top_p")?, stop_sequences(body)?);
    let (user, stream) = (user(body)?, stream(body)?);
    let request = ChatRequest {
        model: upstream_model,
        messages,
        max_tokens,
        max_completion_tokens,
        temperature,
        top_p,
        stop,
        tools: tools.functions,
        tool_choice: tools.choice,
        parallel_tool_calls: tools.parallel_tool_calls,
        user,
        stream,
        stream_options: stream.then_some(StreamOptions { include_usage: true }),
        reasoning_effort: if opts.reasoning_effort { reasoning_effort(body) } else { None },
    };
    Ok((request, names))
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConvertError {
    ConvertError::invalid_request(path, message)
}

/// A present, non-null member.
fn field<'a>(body: &'a Map<'a>, key: &str) -> Option<&'a Json<'a>> {
    body.get(key).filter(|v| !v.is_null())
}

/// A member of a value that is an object.
fn member<'a>(value: &'a Json<'a>, key: &str) -> Option<&'a Json<'a>> {
    value.as_object()?.get(key)
}

fn max_tokens(body: &Map<'_>) -> Result<u64, ConvertError> {
    field(body, "max_tokens")
        .ok_or_else(|| invalid("max_tokens", "field required"))?
        .as_u64()
        .ok_or_else(|| invalid("max_tokens", "must be a non-negative integer"))
}

fn number<'a>(body: &'a Map<'a>, key: &str) -> Result<Option<&'a Json<'a>>, ConvertError> {
    match field(body, key) {
        Some(v) if !v.is_number() => Err(invalid(key, "must be a number")),
        v => Ok(v),
    }
}

/// `stop_sequences` → `stop` (left out when empty).
fn stop_sequences<'a>(body: &'a Map<'a>) -> Result<Option<&'a [Json<'a>]>, ConvertError> {
    let Some(stops) = field(body, "stop_sequences") else { return Ok(None) };
    let stops = stops.as_array().ok_or_else(|| invalid("stop_sequences", "must be an array of strings"))?;
    if let Some(i) = stops.iter().position(|stop| !stop.is_string()) {
        return Err(invalid(format!("stop_sequences[{i}]"), "must be a string"));
    }
    Ok((!stops.is_empty()).then_some(stops))
}

/// `metadata.user_id` → `user`; the rest of `metadata` is Anthropic's.
fn user<'a>(body: &'a Map<'a>) -> Result<Option<&'a str>, ConvertError> {
    let Some(metadata) = field(body, "metadata") else {
        return Ok(None);
    };
    let metadata = metadata.as_object().ok_or_else(|| invalid("metadata", "must be an object"))?;
    match field(metadata, "user_id") {
        None => Ok(None),
        Some(Json::Str(user)) => Ok(Some(user)),
        Some(_) => Err(invalid("metadata.user_id", "must be a string")),
    }
}

fn stream(body: &Map<'_>) -> Result<bool, ConvertError> {
    match field(body, "stream") {
        None => Ok(false),
        Some(Json::Bool(stream)) => Ok(*stream),
        Some(_) => Err(invalid("stream", "must be a boolean")),
    }
}

/// `output_config.effort` (sent with adaptive thinking, or alone) wins over
/// `thinking.budget_tokens`; thinking disabled means no reasoning effort.
/// Unknown values are ignored rather than guessed.
fn reasoning_effort(body: &Map<'_>) -> Option<&'static str> {
    let thinking = field(body, "thinking");
    let thinking_type = thinking.and_then(|t| member(t, "type")).and_then(Json::as_str);
    if thinking_type == Some("disabled") {
        return None;
    }
    let effort =
        field(body, "output_config").and_then(|c| member(c, "effort")).and_then(Json::as_str).and_then(|effort| {
            match effort {
                "low" => Some("low"),
                "medium" => Some("medium"),
                "high" | "max" => Some("high"),
                _ => None,
            }
        });
    effort.or_else(|| {
        let budget = member(thinking?, "budget_tokens")?.as_u64()?;
        (thinking_type == Some("enabled")).then_some(match budget {
            0..=2047 => "low",
            2048..=8191 => "medium",
            _ => "high",
        })
    })
}

#[cfg(test)]
mod tests;
