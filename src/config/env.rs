//! Provider definitions from environment variables, in the convention vandamme-proxy users already know:
//! `<P>_API_KEY` creates provider `<p>`; `<P>_BASE_URL`, `<P>_API_FORMAT`, `<P>_CUSTOM_HEADER_<NAME>` and the
//! conversion options refine it. Pure: it takes the variables as a list, so tests need no process environment.

use super::alias::RawAliasTargets;
use super::raw::{Origin, RawConfig, RawProvider};
use super::ConfigError;

/// Variables ending in `_API_KEY` that are gateway keys, not providers.
const RESERVED_KEY_VARS: [&str; 2] = ["PROXY_API_KEY", "ADMIN_API_KEY"];

/// Applies every provider variable in `vars` on top of `raw` (the environment wins over the file).
///
/// With no provider from the file or the environment, the embedded default is added first: provider `anthropic`
/// in key-passthrough mode, so that a bare `cargo run --release` serves Claude Code.
pub fn apply_provider_env(raw: &mut RawConfig, vars: &[(String, String)]) -> Result<(), ConfigError> {
    for (name, value) in vars {
        if let Some(provider) = provider_from_key_var(name) {
            let entry = raw
                .providers
                .entry(provider)
                .or_insert_with(|| RawProvider { origin: Origin::Env, ..Default::default() });
            entry.api_key = Some(value.clone());
            entry.api_keys = None;
        }
    }
    for (name, value) in vars {
        if let Some(provider) = provider_from_cloud_format_var(name, value) {
            raw.providers.entry(provider).or_insert_with(|| RawProvider { origin: Origin::Env, ..Default::default() });
        }
    }
    if raw.providers.is_empty() {
        raw.providers.insert(
            "anthropic".into(),
            RawProvider {
                api_key: Some(super::PASSTHROUGH_MARKER.into()),
                origin: Origin::Default,
                ..Default::default()
            },
        );
    }
    // Longest names first, so `MY_LLM_BASE_URL` belongs to `my_llm`, not to a provider `my`.
    let mut names: Vec<String> = raw.providers.keys().cloned().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    for (var, value) in vars {
        let Some((provider, setting)) = split_provider_var(var, &names) else { continue };
        if let Some(entry) = raw.providers.get_mut(&provider) {
            apply_setting(entry, &provider, var, setting, value)?;
        }
    }
    for entry in raw.providers.values_mut() {
        super::cloud::apply_standard_env(entry, vars);
    }
    Ok(())
}

/// `<P>_API_FORMAT=bedrock|vertex` defines provider `<p>` on its own: those formats can authenticate without
/// `<P>_API_KEY` (AWS credentials, a token command, a service-account file).
fn provider_from_cloud_format_var(var: &str, value: &str) -> Option<String> {
    let prefix = var.strip_suffix("_API_FORMAT")?;
    let format = value.trim().to_ascii_lowercase();
    if prefix.is_empty() || !is_env_name(prefix) || !matches!(format.as_str(), "bedrock" | "vertex") {
        return None;
    }
    Some(prefix.to_ascii_lowercase())
}

fn provider_from_key_var(var: &str) -> Option<String> {
    let prefix = var.strip_suffix("_API_KEY")?;
    if prefix.is_empty() || RESERVED_KEY_VARS.contains(&var) || !is_env_name(prefix) {
        return None;
    }
    Some(prefix.to_ascii_lowercase())
}

fn is_env_name(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

fn split_provider_var<'v>(var: &'v str, names: &[String]) -> Option<(String, &'v str)> {
    names.iter().find_map(|name| {
        let rest = var.strip_prefix(&name.to_ascii_uppercase())?.strip_prefix('_')?;
        Some((name.clone(), rest))
    })
}

fn apply_setting(
    entry: &mut RawProvider,
    provider: &str,
    var: &str,
    setting: &str,
    value: &str,
) -> Result<(), ConfigError> {
    match setting {
        "BASE_URL" => entry.base_url = Some(value.to_string()),
        "API_FORMAT" => entry.api_format = Some(value.to_string()),
        "REQUEST_TIMEOUT" => entry.request_timeout = Some(parse_number(var, value)?),
        "MAX_TOKENS_FIELD" => entry.max_tokens_field = Some(value.to_string()),
        "REASONING_EFFORT" if value.trim().eq_ignore_ascii_case("auto") => entry.reasoning_effort = None,
        "REASONING_EFFORT" => entry.reasoning_effort = Some(parse_bool(var, value)?),
        "WEB_SEARCH" => entry.web_search = Some(value.to_string()),
        "PROMPT_CACHE_KEY" => entry.prompt_cache_key = Some(parse_bool(var, value)?),
        "USER_ID_FIELD" => entry.user_id_field = Some(value.to_string()),
        "MODELS" => {
            entry.models = serde_json::from_str(value).map_err(|e| {
                ConfigError::new(format!(
                    "{var}: must be a JSON object of model patterns to settings, e.g. \
                     {{\"gpt-5*\": {{\"reasoning_effort\": true}}}} ({e})"
                ))
            })?
        }
        "SEND_REASONING_BACK" => entry.send_reasoning_back = Some(parse_bool(var, value)?),
        "REWRITE_TOOL_NAMES" => entry.rewrite_tool_names = Some(parse_bool(var, value)?),
        "THOUGHT_SIGNATURES" => entry.thought_signatures = Some(parse_bool(var, value)?),
        "AWS_REGION" => entry.aws_region = Some(value.to_string()),
        "AWS_ACCESS_KEY_ID" => entry.aws_access_key_id = Some(value.to_string()),
        "AWS_SECRET_ACCESS_KEY" => entry.aws_secret_access_key = Some(value.to_string()),
        "AWS_SESSION_TOKEN" => entry.aws_session_token = Some(value.to_string()),
        "VERTEX_PROJECT" => entry.vertex_project = Some(value.to_string()),
        "VERTEX_REGION" => entry.vertex_region = Some(value.to_string()),
        "TOKEN_COMMAND" => entry.token_command = Some(value.to_string()),
        "TOKEN_TTL_SECS" => entry.token_ttl_secs = Some(parse_number(var, value)?),
        "CREDENTIALS_FILE" => entry.credentials_file = Some(value.to_string()),
        "PING_INTERVAL_SECS" => entry.ping_interval_secs = Some(parse_number(var, value)?),
        "LIST_MODELS_WITH_CLIENT_KEY" => entry.list_models_with_client_key = Some(parse_bool(var, value)?),
        other => {
            if let Some(alias) = other.strip_prefix("ALIAS_").filter(|a| !a.is_empty()) {
                entry.aliases.insert(alias.to_ascii_lowercase(), RawAliasTargets::from_env(value));
            } else if let Some(header) = other.strip_prefix("CUSTOM_HEADER_") {
                if header.is_empty() {
                    return Err(ConfigError::new(format!("{var}: provider '{provider}': custom header name is empty")));
                }
                let name = header.to_ascii_lowercase().replace('_', "-");
                entry.custom_headers.insert(name, value.to_string());
            }
            // Any other suffix (API_KEY, handled above, or a variable of another tool) is not ours.
        }
    }
    Ok(())
}

/// Parses a whole number of seconds or bytes from a variable, naming the variable on failure.
pub fn parse_number<T: std::str::FromStr>(var: &str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError::new(format!("{var}: '{value}' is not a valid whole number")))
}

/// Parses `true/false/1/0/yes/no/on/off`, naming the variable on failure.
pub fn parse_bool(var: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::new(format!("{var}: '{value}' is not a boolean (use true or false)"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn empty_environment_gives_the_passthrough_default() {
        let mut raw = RawConfig::default();
        apply_provider_env(&mut raw, &[]).unwrap();
        let p = &raw.providers["anthropic"];
        assert_eq!(p.api_key.as_deref(), Some("!PASSTHRU"));
        assert_eq!(p.origin, Origin::Default);
    }

    #[test]
    fn api_key_creates_a_lowercase_provider_with_settings() {
        let mut raw = RawConfig::default();
        let env = vars(&[
            ("MY_LLM_API_KEY", "k1 k2"),
            ("MY_LLM_BASE_URL", "http://x/v1"),
            ("MY_LLM_API_FORMAT", "openai"),
            ("MY_LLM_CUSTOM_HEADER_X_TEAM_ID", "42"),
            ("MY_LLM_REASONING_EFFORT", "yes"),
            ("MY_LLM_WEB_SEARCH", "web_search_options"),
            ("MY_LLM_MODELS", r#"{"o3*": {"max_tokens_field": "max_tokens"}}"#),
            ("MY_LLM_ALIAS_FAST_ONE", "a, other:b"),
            ("PROXY_API_KEY", "p"),
            ("ADMIN_API_KEY", "a"),
            ("PATH", "/bin"),
        ]);
        apply_provider_env(&mut raw, &env).unwrap();
        assert_eq!(raw.providers.len(), 1, "reserved keys are not providers");
        let p = &raw.providers["my_llm"];
        assert_eq!(p.api_key.as_deref(), Some("k1 k2"));
        assert_eq!(p.base_url.as_deref(), Some("http://x/v1"));
        assert_eq!(p.api_format.as_deref(), Some("openai"));
        assert_eq!(p.custom_headers["x-team-id"], "42");
        assert_eq!(p.reasoning_effort, Some(true));
        assert_eq!(p.web_search.as_deref(), Some("web_search_options"));
        assert_eq!(p.models["o3*"].max_tokens_field.as_deref(), Some("max_tokens"));
        assert_eq!(p.aliases["fast_one"], RawAliasTargets::Many(vec!["a".into(), "other:b".into()]));
        assert_eq!(p.origin, Origin::Env);
    }

    #[test]
    fn longest_provider_name_owns_the_variable() {
        let mut raw = RawConfig::default();
        let env = vars(&[("MY_API_KEY", "a"), ("MY_LLM_API_KEY", "b"), ("MY_LLM_BASE_URL", "http://llm")]);
        apply_provider_env(&mut raw, &env).unwrap();
        assert_eq!(raw.providers["my_llm"].base_url.as_deref(), Some("http://llm"));
        assert_eq!(raw.providers["my"].base_url, None);
    }

    #[test]
    fn environment_overrides_file_keys() {
        let mut raw = RawConfig::default();
        raw.providers
            .insert("openai".into(), RawProvider { api_keys: Some(vec!["file".into()]), ..Default::default() });
        apply_provider_env(&mut raw, &vars(&[("OPENAI_API_KEY", "env")])).unwrap();
        let p = &raw.providers["openai"];
        assert_eq!(p.api_key.as_deref(), Some("env"));
        assert_eq!(p.api_keys, None);
        assert_eq!(p.origin, Origin::File);
    }

    #[test]
    fn auto_reasoning_and_bad_model_settings() {
        let mut raw = RawConfig::default();
        apply_provider_env(&mut raw, &vars(&[("X_API_KEY", "k"), ("X_REASONING_EFFORT", "Auto")])).unwrap();
        assert_eq!(raw.providers["x"].reasoning_effort, None);
        let err = apply_provider_env(&mut raw, &vars(&[("X_API_KEY", "k"), ("X_MODELS", r#"{"m": {"colour": 1}}"#)]))
            .unwrap_err();
        assert!(err.to_string().starts_with("X_MODELS: must be a JSON object"), "{err}");
    }

    #[test]
    fn cloud_format_alone_defines_a_provider() {
        let mut raw = RawConfig::default();
        let env = vars(&[
            ("BR_API_FORMAT", "bedrock"),
            ("BR_AWS_REGION", "us-west-2"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("VX_API_FORMAT", "Vertex"),
            ("VX_TOKEN_COMMAND", "gcloud auth print-access-token"),
            ("VX_TOKEN_TTL_SECS", "60"),
            ("OTHER_API_FORMAT", "openai"),
        ]);
        apply_provider_env(&mut raw, &env).unwrap();
        let br = &raw.providers["br"];
        assert_eq!(br.aws_region.as_deref(), Some("us-west-2"));
        assert_eq!(br.aws_access_key_id.as_deref(), Some("AKIA"), "standard AWS variables fill in");
        let vx = &raw.providers["vx"];
        assert_eq!(vx.token_command.as_deref(), Some("gcloud auth print-access-token"));
        assert_eq!(vx.token_ttl_secs, Some(60));
        assert!(!raw.providers.contains_key("other"), "only the cloud formats define a provider without a key");
    }

    #[test]
    fn bad_boolean_names_the_variable() {
        let mut raw = RawConfig::default();
        let err =
            apply_provider_env(&mut raw, &vars(&[("X_API_KEY", "k"), ("X_REWRITE_TOOL_NAMES", "maybe")])).unwrap_err();
        assert!(err.to_string().contains("X_REWRITE_TOOL_NAMES"), "{err}");
    }
}
