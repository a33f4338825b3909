//! Anthropic Messages request → OpenAI Chat Completions request (wire-formats §6; the full mapping, field by
//! field, is `docs/conversion.md`).
//!
//! The OpenAI body is built from an allow-list: every field is written on purpose. Each Anthropic field is
//! converted, refused with a [`ConvertError`] naming it (a feature the provider cannot offer, such as
//! `mcp_servers`, a server tool or a URL document), or dropped by a documented rule where it has no meaning
//! there (`context_management`, `cache_control`, `top_k`, and parameters this version does not know). Content
//! is never dropped unnoticed: a block type that cannot be converted is refused. Malformed input is a
//! [`ConvertError`] naming the field, never a panic.

mod builtin_tools;
pub mod chat;
mod content;
mod documents;
mod history;
mod messages;
mod params;
mod reasoning;
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

/// What one request brings besides its body.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContext<'a> {
    /// A stable id of the client's session (Claude Code's `x-claude-code-session-id` header): the
    /// `prompt_cache_key` is derived from it, else from `metadata.user_id`.
    pub session_id: Option<&'a str>,
}

/// Converts a client request for an OpenAI-format provider. The returned
/// [`ToolNames`] must be used to read the response (names may be rewritten).
pub fn to_openai<'a>(
    anthropic_body: &'a Json<'a>,
    upstream_model: &'a str,
    opts: &ConvertOptions,
) -> Result<(ChatRequest<'a>, ToolNames), ConvertError> {
    to_openai_with(anthropic_body, upstream_model, opts, &RequestContext::default())
}

/// [`to_openai`] with what the request brings besides its body (see [`RequestContext`]).
pub fn to_openai_with<'a>(
    anthropic_body: &'a Json<'a>,
    upstream_model: &'a str,
    opts: &ConvertOptions,
    ctx: &RequestContext<'_>,
) -> Result<(ChatRequest<'a>, ToolNames), ConvertError> {
    let body = anthropic_body.as_object().ok_or_else(|| invalid("body", "must be a JSON object"))?;
    let profile = opts.openai_profile(upstream_model);
    // Checked in this order, so the first mistake reported is always the same one.
    params::refuse_unsupported(body)?;
    let names = tools::collect_names(body, opts)?;
    let tools = tools::convert(body, &names, opts)?;
    let messages = messages::convert(body, &names, opts)?;
    let max_tokens = params::max_tokens(body)?;
    let (max_tokens, max_completion_tokens) = match profile.max_tokens_field {
        MaxTokensField::MaxTokens => (Some(max_tokens), None),
        MaxTokensField::MaxCompletionTokens => (None, Some(max_tokens)),
    };
    let temperature = params::number(body, "temperature")?;
    let top_p = params::number(body, "top_p")?;
    let stop = params::stop_sequences(body)?;
    let identity = params::identity(body, opts, ctx)?;
    let stream = params::stream(body)?;
    let reasoning_effort = reasoning::reasoning_effort(body, &profile)?;
    let response_format = params::response_format(body)?;
    let service_tier = params::service_tier(body)?;
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
        response_format,
        reasoning_effort,
        web_search_options: tools.web_search,
        service_tier,
        prompt_cache_key: identity.prompt_cache_key,
        safety_identifier: identity.safety_identifier,
        user: identity.user,
        stream,
        stream_options: stream.then_some(StreamOptions { include_usage: true }),
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

#[cfg(test)]
mod fidelity_tests;
#[cfg(test)]
mod tests;
