//! OpenAI request fields about the shape of the answer and the service, for an Anthropic-format provider:
//! structured outputs (`response_format`), the OpenAI features Anthropic has no counterpart for (refused with a
//! 400 naming them: `logprobs`, `top_logprobs`, `logit_bias`, audio output), and `service_tier`.

use serde_json::{json, Map, Value};

use super::field;
use crate::convert::errors::ConvertError;

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConvertError {
    ConvertError::invalid_request(path, message)
}

/// The system instruction that stands in for `response_format: {type: "json_object"}`: Anthropic's structured
/// outputs need a schema, and an object schema without properties would only allow `{}`.
pub const JSON_OBJECT_INSTRUCTION: &str =
    "Respond with a single valid JSON object and nothing else: no prose before or after it, no code fences.";

/// What `response_format` asks for.
pub(super) enum Format {
    /// Nothing (absent, or `text`).
    Text,
    /// `json_schema`: `output_config.format` was written.
    Schema,
    /// `json_object`: the caller appends [`JSON_OBJECT_INSTRUCTION`] to the system prompt.
    JsonObject,
}

/// Reads `response_format`; a JSON schema goes into `output_config.format` (`name`, `description` and `strict`
/// have no counterpart: Anthropic's structured outputs always hold to the schema).
pub(super) fn response_format(
    body: &Map<String, Value>,
    output_config: &mut Map<String, Value>,
) -> Result<Format, ConvertError> {
    let Some(format) = field(body, "response_format") else { return Ok(Format::Text) };
    let kind = format.get("type").and_then(Value::as_str);
    match kind {
        Some("text") => Ok(Format::Text),
        Some("json_object") => Ok(Format::JsonObject),
        Some("json_schema") => {
            let schema = format
                .get("json_schema")
                .and_then(|s| s.get("schema"))
                .filter(|s| s.is_object())
                .ok_or_else(|| invalid("response_format.json_schema.schema", "must be a JSON schema object"))?;
            output_config.insert("format".into(), json!({"type": "json_schema", "schema": schema}));
            Ok(Format::Schema)
        }
        _ => Err(invalid("response_format.type", "must be text, json_object or json_schema")),
    }
}

/// OpenAI features an Anthropic-format provider cannot give; refused rather than answered without them.
pub(super) fn refuse_unsupported(body: &Map<String, Value>) -> Result<(), ConvertError> {
    match field(body, "logprobs") {
        None | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => {
            return Err(invalid("logprobs", "token log probabilities are not available from this provider"))
        }
        Some(_) => return Err(invalid("logprobs", "must be a boolean")),
    }
    if field(body, "top_logprobs").is_some() {
        return Err(invalid("top_logprobs", "token log probabilities are not available from this provider"));
    }
    if field(body, "logit_bias").is_some_and(|b| b.as_object().is_none_or(|m| !m.is_empty())) {
        return Err(invalid("logit_bias", "token biases cannot be applied by this provider (its tokens differ)"));
    }
    let modalities = field(body, "modalities").map(|m| m.as_array().map(|list| list.iter().all(|v| v == "text")));
    if modalities.is_some_and(|text_only| text_only != Some(true)) || field(body, "audio").is_some() {
        return Err(invalid("modalities", "this provider answers with text only; audio output is not available"));
    }
    Ok(())
}

/// `service_tier`: `auto` and `priority` → `auto` (Anthropic uses priority capacity when the organisation has
/// it), `default` → `standard_only`; `flex` and `scale` have no counterpart.
pub(super) fn service_tier(body: &Map<String, Value>) -> Result<Option<&'static str>, ConvertError> {
    match field(body, "service_tier") {
        None => Ok(None),
        Some(Value::String(tier)) => match tier.as_str() {
            "auto" | "priority" => Ok(Some("auto")),
            "default" => Ok(Some("standard_only")),
            other => Err(invalid(
                "service_tier",
                format!("{other:?} is not available from this provider; use auto, default or priority"),
            )),
        },
        Some(_) => Err(invalid("service_tier", "must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn response_formats() {
        let mut config = Map::new();
        let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
        let body = map(json!({"response_format": {"type": "json_schema",
            "json_schema": {"name": "A", "strict": true, "schema": schema}}}));
        assert!(matches!(response_format(&body, &mut config).unwrap(), Format::Schema));
        assert_eq!(config["format"], json!({"type": "json_schema", "schema": schema}));
        let object = map(json!({"response_format": {"type": "json_object"}}));
        assert!(matches!(response_format(&object, &mut Map::new()).unwrap(), Format::JsonObject));
        let text = map(json!({"response_format": {"type": "text"}}));
        assert!(matches!(response_format(&text, &mut Map::new()).unwrap(), Format::Text));
        let bad = map(json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}));
        let err = response_format(&bad, &mut Map::new()).err().unwrap().to_string();
        assert!(err.starts_with("response_format.json_schema.schema"), "{err}");
    }

    #[test]
    fn unsupported_features_are_named() {
        let err = |v: Value| refuse_unsupported(&map(v)).unwrap_err().to_string();
        assert!(err(json!({"logprobs": true})).starts_with("logprobs:"));
        assert!(err(json!({"top_logprobs": 3})).starts_with("top_logprobs:"));
        assert!(err(json!({"logit_bias": {"50256": -100}})).starts_with("logit_bias:"));
        assert!(err(json!({"modalities": ["text", "audio"]})).starts_with("modalities:"));
        assert!(err(json!({"audio": {"voice": "alloy"}})).starts_with("modalities:"));
        let fine = json!({"logprobs": false, "logit_bias": {}, "modalities": ["text"], "top_logprobs": null});
        assert!(refuse_unsupported(&map(fine)).is_ok());
        assert_eq!(service_tier(&map(json!({"service_tier": "default"}))).unwrap(), Some("standard_only"));
        assert_eq!(service_tier(&map(json!({"service_tier": "priority"}))).unwrap(), Some("auto"));
        assert!(service_tier(&map(json!({"service_tier": "flex"}))).is_err());
    }
}
