//! The body of `PUT /admin/providers/{name}`: a JSON object read field by field, so that every unknown field is
//! named at once and a mistyped field is named too. The result is the same raw provider definition the file
//! gives; validation (formats, URLs, keys) is the configuration's own.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::config::RawProvider;
use crate::error::GatewayError;

/// Every field the body may have.
/// (The cloud formats' token command and credentials file are not among them: through the admin API they would
/// let an admin key run commands and read files on the gateway's host.)
pub const FIELDS: [&str; 23] = [
    "base_url",
    "api_format",
    "api_keys",
    "custom_headers",
    "aliases",
    "max_tokens_field",
    "reasoning_effort",
    "send_reasoning_back",
    "rewrite_tool_names",
    "thought_signatures",
    "web_search",
    "prompt_cache_key",
    "user_id_field",
    "models",
    "request_timeout",
    "list_models_with_client_key",
    "aws_region",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "ping_interval_secs",
    "vertex_project",
    "vertex_region",
];

/// Parses a provider body. Errors are 400 and name the field; they never quote a value (keys are values).
pub fn provider_from_json(body: &[u8]) -> Result<RawProvider, GatewayError> {
    let object: Map<String, Value> = serde_json::from_slice(body)
        .map_err(|_| GatewayError::InvalidRequest("body: must be a JSON object describing the provider".into()))?;
    let unknown: Vec<&str> = object.keys().map(String::as_str).filter(|k| !FIELDS.contains(k)).collect();
    if !unknown.is_empty() {
        return Err(GatewayError::InvalidRequest(format!(
            "unknown field{} {}; known fields: {}",
            if unknown.len() > 1 { "s" } else { "" },
            unknown.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", "),
            FIELDS.join(", ")
        )));
    }
    let mut provider = RawProvider::default();
    for (name, value) in object {
        match name.as_str() {
            "base_url" => provider.base_url = field(&name, value, "a string")?,
            "api_format" => provider.api_format = field(&name, value, "a string")?,
            "api_keys" => provider.api_keys = field(&name, value, "a list of strings (keys, or [\"!PASSTHRU\"])")?,
            "custom_headers" => {
                provider.custom_headers =
                    field::<Option<_>>(&name, value, "an object of header names to string values")?.unwrap_or_default()
            }
            "aliases" => {
                let expected = "an object of alias names to a model or a list of models";
                provider.aliases = field::<Option<_>>(&name, value, expected)?.unwrap_or_default()
            }
            "max_tokens_field" => provider.max_tokens_field = field(&name, value, "a string")?,
            "reasoning_effort" => provider.reasoning_effort = field(&name, value, "true or false")?,
            "send_reasoning_back" => provider.send_reasoning_back = field(&name, value, "true or false")?,
            "rewrite_tool_names" => provider.rewrite_tool_names = field(&name, value, "true or false")?,
            "thought_signatures" => provider.thought_signatures = field(&name, value, "true or false")?,
            "web_search" => provider.web_search = field(&name, value, "a string")?,
            "prompt_cache_key" => provider.prompt_cache_key = field(&name, value, "true or false")?,
            "user_id_field" => provider.user_id_field = field(&name, value, "a string")?,
            "models" => {
                let expected = "an object of model patterns to settings (max_tokens_field, reasoning_effort, \
                                reasoning_levels, thinking)";
                provider.models = field::<Option<_>>(&name, value, expected)?.unwrap_or_default()
            }
            "request_timeout" => provider.request_timeout = field(&name, value, "a whole number of seconds")?,
            "list_models_with_client_key" => {
                provider.list_models_with_client_key = field(&name, value, "true or false")?
            }
            "aws_region" => provider.aws_region = field(&name, value, "a string")?,
            "aws_access_key_id" => provider.aws_access_key_id = field(&name, value, "a string")?,
            "aws_secret_access_key" => provider.aws_secret_access_key = field(&name, value, "a string")?,
            "aws_session_token" => provider.aws_session_token = field(&name, value, "a string")?,
            "ping_interval_secs" => provider.ping_interval_secs = field(&name, value, "a whole number of seconds")?,
            "vertex_project" => provider.vertex_project = field(&name, value, "a string")?,
            "vertex_region" => provider.vertex_region = field(&name, value, "a string")?,
            _ => {} // Unknown fields were refused above.
        }
    }
    Ok(provider)
}

fn field<T: DeserializeOwned>(name: &str, value: Value, expected: &str) -> Result<T, GatewayError> {
    serde_json::from_value(value).map_err(|_| GatewayError::InvalidRequest(format!("{name}: must be {expected}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::alias::RawAliasTargets;

    fn message(body: &str) -> String {
        provider_from_json(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn cloud_settings_but_no_commands_or_files() {
        let p = provider_from_json(
            br#"{"api_format":"bedrock","aws_region":"eu-west-1","aws_access_key_id":"AKIA","aws_secret_access_key":"s"}"#,
        )
        .unwrap();
        assert_eq!(p.aws_region.as_deref(), Some("eu-west-1"));
        assert_eq!(p.aws_secret_access_key.as_deref(), Some("s"));
        for field in ["token_command", "credentials_file"] {
            let body = format!(r#"{{"api_format":"vertex","{field}":"x"}}"#);
            let e = provider_from_json(body.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(&format!("unknown field '{field}'")), "{e}");
        }
    }

    #[test]
    fn a_full_body_maps_onto_the_raw_provider() {
        let body = r#"{"base_url":"http://h/v1","api_format":"openai","api_keys":["a","b"],
            "custom_headers":{"x-team":"t"},"aliases":{},"max_tokens_field":"max_completion_tokens",
            "reasoning_effort":true,"send_reasoning_back":false,"rewrite_tool_names":true,"request_timeout":30}"#;
        let p = provider_from_json(body.as_bytes()).unwrap();
        assert_eq!(p.base_url.as_deref(), Some("http://h/v1"));
        assert_eq!(p.api_keys, Some(vec!["a".into(), "b".into()]));
        assert_eq!(p.custom_headers["x-team"], "t");
        assert!(p.aliases.is_empty());
        assert_eq!(p.request_timeout, Some(30));
        assert_eq!(p.reasoning_effort, Some(true));
        assert_eq!(p.api_key, None);
    }

    #[test]
    fn every_unknown_field_is_named() {
        let m = message(r#"{"base_url":"http://h","api_key":"k","colour":"red"}"#);
        assert!(m.contains("'api_key'") && m.contains("'colour'") && m.contains("unknown fields"), "{m}");
    }

    #[test]
    fn mistyped_fields_are_named_without_echoing_the_value() {
        let m = message(r#"{"api_keys":"sk-secret"}"#);
        assert!(m.starts_with("api_keys: must be a list"), "{m}");
        assert!(!m.contains("sk-secret"));
        assert!(message(r#"{"request_timeout":"soon"}"#).starts_with("request_timeout:"));
        assert!(message(r#"{"reasoning_effort":"yes"}"#).starts_with("reasoning_effort:"));
        assert!(message("[1]").starts_with("body:"));
        assert!(message("not json").starts_with("body:"));
    }

    #[test]
    fn aliases_take_one_target_or_a_list() {
        let p = provider_from_json(br#"{"aliases":{"fast":"m1","smart":["a:m2","m3"]}}"#).unwrap();
        assert_eq!(p.aliases["fast"], RawAliasTargets::One("m1".into()));
        assert_eq!(p.aliases["smart"], RawAliasTargets::Many(vec!["a:m2".into(), "m3".into()]));
        assert!(provider_from_json(br#"{"aliases":null}"#).unwrap().aliases.is_empty());
        assert!(message(r#"{"aliases":["fast"]}"#).starts_with("aliases:"));
    }
}
