//! How the admin API shows configuration: everything an operator needs to check a change, and no secret. Keys
//! appear as fingerprints (first 8 hex digits of their SHA-256), custom headers by name only (their values are
//! often credentials), Redis by address only.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Value};

use crate::actors::registry::Description;
use crate::config::{ApiFormat, Auth, Origin, Provider, Snapshot};
use crate::convert::{MaxTokensField, ModelOptions};

/// One provider as `GET /admin/providers` and `GET /admin/config` show it.
#[derive(Debug, Serialize)]
pub struct ProviderView<'a> {
    pub name: &'a str,
    pub format: ApiFormat,
    pub base_url: &'a str,
    pub endpoint: &'a str,
    /// `static` or `passthrough`.
    pub auth: &'static str,
    pub keys: usize,
    pub key_hashes: Vec<String>,
    pub custom_headers: Vec<&'a str>,
    /// This provider's model aliases: name → targets, in fallback order.
    pub aliases: BTreeMap<&'a str, &'a [String]>,
    /// `file`, `env`, `default` or `admin`.
    pub origin: Origin,
    pub request_timeout: u64,
    /// `auto`: by model name.
    pub max_tokens_field: &'static str,
    /// `null`: by model name.
    pub reasoning_effort: Option<bool>,
    pub send_reasoning_back: bool,
    pub rewrite_tool_names: bool,
    pub thought_signatures: bool,
    pub web_search: &'static str,
    pub prompt_cache_key: bool,
    pub user_id_field: &'static str,
    /// Per-model conversion settings, in the order they are tried.
    pub models: Vec<ModelView<'a>>,
    pub list_models_with_client_key: bool,
}

/// One per-model settings entry.
#[derive(Debug, Serialize)]
pub struct ModelView<'a> {
    pub pattern: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens_field: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_levels: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<&'static str>,
}

impl<'a> ModelView<'a> {
    fn of(model: &'a ModelOptions) -> Self {
        ModelView {
            pattern: &model.pattern,
            max_tokens_field: model.max_tokens_field.map(MaxTokensField::as_str),
            reasoning_effort: model.reasoning_effort,
            reasoning_levels: model.reasoning_levels.map(|l| l.values()),
            thinking: model.thinking.map(|t| t.as_str()),
        }
    }
}

impl<'a> ProviderView<'a> {
    /// The view of one provider; keys become fingerprints, header values are dropped.
    pub fn of(provider: &'a Provider) -> Self {
        let key_hashes = match &provider.auth {
            Auth::Static(keys) => keys.iter().map(|k| k.fingerprint()).collect(),
            Auth::Passthrough | Auth::Cloud => vec![],
        };
        let options = &provider.options;
        Self {
            name: &provider.name,
            format: provider.format,
            base_url: &provider.base_url,
            endpoint: &provider.endpoint,
            auth: provider.auth.mode(),
            keys: provider.key_count(),
            key_hashes,
            custom_headers: provider.custom_headers.iter().map(|(name, _)| name.as_str()).collect(),
            aliases: provider.aliases.iter().map(|a| (a.name.as_str(), a.targets.as_slice())).collect(),
            origin: provider.origin,
            request_timeout: provider.request_timeout.as_secs(),
            max_tokens_field: options.max_tokens_field.map_or("auto", MaxTokensField::as_str),
            reasoning_effort: options.reasoning_effort,
            send_reasoning_back: options.send_reasoning_back,
            rewrite_tool_names: options.rewrite_tool_names,
            thought_signatures: options.thought_signatures,
            web_search: options.web_search.as_str(),
            prompt_cache_key: options.prompt_cache_key,
            user_id_field: options.user_id_field.as_str(),
            models: options.models.iter().map(ModelView::of).collect(),
            list_models_with_client_key: provider.list_models_with_client_key,
        }
    }
}

/// `GET /admin/providers`.
pub fn providers(snapshot: &Snapshot) -> Value {
    let providers: Vec<ProviderView> = snapshot.providers.values().map(|p| ProviderView::of(p)).collect();
    json!({
        "config_version": snapshot.version,
        "default_provider": snapshot.default_provider,
        "providers": providers,
    })
}

/// `GET /admin/config`: the effective configuration with its version, the admin overlay (which providers it
/// touches, not their keys) and the replication state.
pub fn config(description: &Description) -> Value {
    let snapshot = &description.snapshot;
    let limits = &snapshot.limits;
    let changes: Vec<Value> = description
        .overlay
        .changes
        .iter()
        .map(|(name, change)| json!({ "provider": name, "op": change.op() }))
        .collect();
    let replication = match &description.link {
        None => json!({ "mode": "process", "note": "admin changes live in this process until it restarts" }),
        Some(link) => json!({
            "mode": "redis",
            "redis": link.address,
            "connected": link.connected,
            "error": link.error,
            "refused_overlay": description.refused.as_ref().map(|(version, reason)| {
                json!({ "version": version, "reason": reason })
            }),
        }),
    };
    let providers = providers(snapshot);
    let connections = &limits.connections;
    let (upstream_allow, upstream_deny) = connections.outbound.describe();
    json!({
        "version": snapshot.version,
        "overlay_version": description.overlay.version,
        "default_provider": snapshot.default_provider,
        "proxy_key_hash": snapshot.proxy_key.as_ref().map(|k| k.fingerprint()),
        "admin_key_hash": snapshot.admin_key.as_ref().map(|k| k.fingerprint()),
        "limits": {
            "max_body_bytes": limits.max_body_bytes,
            "request_timeout": limits.request_timeout.as_secs(),
            "connect_timeout": connections.connect_timeout.as_secs(),
            "stream_idle_timeout": limits.stream_idle_timeout.as_secs(),
            "upstream_idle_timeout": connections.idle_timeout.as_secs(),
            "upstream_max_connections": connections.max_per_provider,
        },
        "outbound_policy": { "upstream_allow": upstream_allow, "upstream_deny": upstream_deny },
        "providers": providers["providers"],
        "overlay": { "version": description.overlay.version, "changes": changes },
        "replication": replication,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_from, ConfigSource, Overlay};

    fn snapshot() -> Snapshot {
        let env = [
            ("OPENAI_API_KEY", "sk-one sk-two"),
            ("OPENAI_CUSTOM_HEADER_X_AUTH_TOKEN", "header-secret"),
            ("PROXY_API_KEY", "proxy-secret"),
            ("ADMIN_API_KEY", "admin-secret"),
        ];
        let source =
            ConfigSource { path: None, env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        load_from(&source).unwrap().snapshot
    }

    #[test]
    fn no_secret_is_shown() {
        let description = Description {
            snapshot: std::sync::Arc::new(snapshot()),
            overlay: Overlay::default(),
            link: None,
            refused: None,
        };
        let text = config(&description).to_string() + &providers(&description.snapshot).to_string();
        for secret in ["sk-one", "sk-two", "header-secret", "proxy-secret", "admin-secret"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        let shown = providers(&description.snapshot);
        let openai = &shown["providers"][0];
        assert_eq!(openai["keys"], 2);
        assert_eq!(openai["key_hashes"][0], crate::secret::fingerprint("sk-one"));
        assert_eq!(openai["custom_headers"][0], "x-auth-token");
        assert_eq!(openai["origin"], "env");
        assert_eq!(openai["aliases"], json!({}));
        assert_eq!(config(&description)["version"], 1);
    }
}
