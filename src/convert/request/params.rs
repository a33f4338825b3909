//! The request's parameters other than messages and tools: limits, sampling, stop sequences, identity and cache
//! hints, service tier, structured outputs, and the Anthropic features an OpenAI request cannot carry (refused).

use std::borrow::Cow;

use serde_json_borrow::{Map, Value as Json};
use sha2::{Digest, Sha256};

use super::chat::{JsonSchema, ResponseFormat};
use super::{field, invalid, member, RequestContext};
use crate::convert::errors::ConvertError;
use crate::convert::options::{ConvertOptions, UserIdField};

/// OpenAI's limit on `stop`.
pub(super) const MAX_STOP_SEQUENCES: usize = 4;
/// OpenAI's limit on `safety_identifier`.
const MAX_SAFETY_IDENTIFIER: usize = 64;
/// Hex digits of a derived `prompt_cache_key`.
const CACHE_KEY_HEX: usize = 32;
/// The `json_schema.name` written for structured outputs (Anthropic's format has no name).
const SCHEMA_NAME: &str = "response";

pub(super) fn max_tokens(body: &Map<'_>) -> Result<u64, ConvertError> {
    field(body, "max_tokens")
        .ok_or_else(|| invalid("max_tokens", "field required"))?
        .as_u64()
        .ok_or_else(|| invalid("max_tokens", "must be a non-negative integer"))
}

pub(super) fn number<'a>(body: &'a Map<'a>, key: &str) -> Result<Option<&'a Json<'a>>, ConvertError> {
    match field(body, key) {
        Some(v) if !v.is_number() => Err(invalid(key, "must be a number")),
        v => Ok(v),
    }
}

/// `stop_sequences` → `stop` (left out when empty). OpenAI takes at most four; more are refused rather than
/// cut, since a dropped stop sequence would let the model run past where the client wanted it to stop.
pub(super) fn stop_sequences<'a>(body: &'a Map<'a>) -> Result<Option<&'a [Json<'a>]>, ConvertError> {
    let Some(stops) = field(body, "stop_sequences") else { return Ok(None) };
    let stops = stops.as_array().ok_or_else(|| invalid("stop_sequences", "must be an array of strings"))?;
    if let Some(i) = stops.iter().position(|stop| !stop.is_string()) {
        return Err(invalid(format!("stop_sequences[{i}]"), "must be a string"));
    }
    if stops.len() > MAX_STOP_SEQUENCES {
        return Err(invalid(
            "stop_sequences",
            format!("{} stop sequences given; OpenAI-format providers take at most {MAX_STOP_SEQUENCES}", stops.len()),
        ));
    }
    Ok((!stops.is_empty()).then_some(stops))
}

pub(super) fn stream(body: &Map<'_>) -> Result<bool, ConvertError> {
    match field(body, "stream") {
        None => Ok(false),
        Some(Json::Bool(stream)) => Ok(*stream),
        Some(_) => Err(invalid("stream", "must be a boolean")),
    }
}

/// Who is asking: `safety_identifier` or `user` from `metadata.user_id`, and `prompt_cache_key` from the
/// session id (else the user id).
pub(super) struct Identity<'a> {
    pub safety_identifier: Option<Cow<'a, str>>,
    pub user: Option<&'a str>,
    pub prompt_cache_key: Option<String>,
}

pub(super) fn identity<'a>(
    body: &'a Map<'a>,
    opts: &ConvertOptions,
    ctx: &RequestContext<'_>,
) -> Result<Identity<'a>, ConvertError> {
    let user_id = match field(body, "metadata") {
        None => None,
        Some(metadata) => {
            let metadata = metadata.as_object().ok_or_else(|| invalid("metadata", "must be an object"))?;
            match field(metadata, "user_id") {
                None => None,
                Some(Json::Str(user)) => Some(user.as_ref()),
                Some(_) => return Err(invalid("metadata.user_id", "must be a string")),
            }
        }
    };
    let user_id = user_id.filter(|u| !u.is_empty());
    let (safety_identifier, user) = match opts.user_id_field {
        UserIdField::SafetyIdentifier => (user_id.map(safety_identifier), None),
        UserIdField::User => (None, user_id),
        UserIdField::None => (None, None),
    };
    let session = ctx.session_id.filter(|s| !s.is_empty()).or(user_id);
    let prompt_cache_key = session.filter(|_| opts.prompt_cache_key).map(|s| {
        let digest = Sha256::new().chain_update(b"prompt_cache_key\0").chain_update(s.as_bytes()).finalize();
        crate::secret::lower_hex(&digest[..CACHE_KEY_HEX / 2])
    });
    Ok(Identity { safety_identifier, user, prompt_cache_key })
}

/// The user id as it is when it fits OpenAI's 64 characters, else its SHA-256 (64 hex digits).
fn safety_identifier(user_id: &str) -> Cow<'_, str> {
    if user_id.chars().count() <= MAX_SAFETY_IDENTIFIER {
        Cow::Borrowed(user_id)
    } else {
        Cow::Owned(crate::secret::lower_hex(&Sha256::digest(user_id.as_bytes())))
    }
}

/// `service_tier`: `auto` → `auto`, `standard_only` → `default`.
pub(super) fn service_tier(body: &Map<'_>) -> Result<Option<&'static str>, ConvertError> {
    match field(body, "service_tier") {
        None => Ok(None),
        Some(Json::Str(tier)) => match tier.as_ref() {
            "auto" => Ok(Some("auto")),
            "standard_only" => Ok(Some("default")),
            other => Err(invalid("service_tier", format!("unknown value {other:?}; expected auto or standard_only"))),
        },
        Some(_) => Err(invalid("service_tier", "must be a string")),
    }
}

/// Anthropic features an OpenAI-format provider does not have and that would silently not exist: MCP servers
/// the model could call and a code-execution container.
pub(super) fn refuse_unsupported(body: &Map<'_>) -> Result<(), ConvertError> {
    match field(body, "mcp_servers") {
        Some(Json::Array(servers)) if servers.is_empty() => {}
        Some(_) => {
            return Err(invalid(
                "mcp_servers",
                "MCP servers are connected by Anthropic's API; an OpenAI-format provider cannot reach them (route \
                 the request to an Anthropic-format provider, or give the tools to the client)",
            ))
        }
        None => {}
    }
    if field(body, "container").is_some() {
        return Err(invalid(
            "container",
            "containers belong to Anthropic's code execution, which an OpenAI-format provider does not run",
        ));
    }
    Ok(())
}

/// `output_config.format` (or the older top-level `output_format`) → `response_format` with a strict JSON schema.
pub(super) fn response_format<'a>(body: &'a Map<'a>) -> Result<Option<ResponseFormat<'a>>, ConvertError> {
    let config_format = field(body, "output_config").and_then(|c| member(c, "format")).filter(|f| !f.is_null());
    let (format, path) = match (config_format, field(body, "output_format")) {
        (Some(format), _) => (format, "output_config.format"),
        (None, Some(format)) => (format, "output_format"),
        (None, None) => return Ok(None),
    };
    let kind = member(format, "type").and_then(Json::as_str);
    if kind != Some("json_schema") {
        return Err(invalid(format!("{path}.type"), "must be json_schema"));
    }
    let schema = member(format, "schema")
        .filter(|s| s.is_object())
        .ok_or_else(|| invalid(format!("{path}.schema"), "must be a JSON schema object"))?;
    let json_schema = JsonSchema { name: SCHEMA_NAME, schema, strict: true };
    Ok(Some(ResponseFormat { kind: "json_schema", json_schema }))
}
