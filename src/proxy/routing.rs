//! Model name → provider. `provider:model` (prefix case-insensitive) picks the provider and the part after the
//! first colon is the upstream model; a name without a provider prefix goes to the default provider unchanged.

use std::sync::Arc;

use crate::config::{Provider, Snapshot};
use crate::error::GatewayError;

/// Where one request goes.
#[derive(Debug, Clone)]
pub struct Route {
    pub provider: Arc<Provider>,
    /// The model name sent upstream.
    pub upstream_model: String,
}

/// Resolves the model a client asked for against the current snapshot.
pub fn resolve(snapshot: &Snapshot, model: &str) -> Result<Route, GatewayError> {
    match split_prefix(model) {
        Some((prefix, rest)) => {
            let Some(provider) = snapshot.provider(prefix) else {
                return Err(GatewayError::UnknownProvider {
                    name: prefix.to_string(),
                    model: model.to_string(),
                    configured: snapshot.provider_names(),
                });
            };
            if rest.trim().is_empty() {
                return Err(GatewayError::InvalidRequest(format!(
                    "model: nothing follows the provider prefix in '{model}'"
                )));
            }
            Ok(Route { provider: provider.clone(), upstream_model: rest.to_string() })
        }
        None => {
            let provider = snapshot.provider(&snapshot.default_provider).ok_or_else(|| {
                GatewayError::Internal(format!(
                    "default provider '{}' is missing from the configuration",
                    snapshot.default_provider
                ))
            })?;
            Ok(Route { provider: provider.clone(), upstream_model: model.to_string() })
        }
    }
}

/// Splits `provider:model` when the part before the first colon could be a provider name. Model ids that merely
/// contain a colon after other punctuation (`anthropic.claude-v2:1`) are not prefixed.
fn split_prefix(model: &str) -> Option<(&str, &str)> {
    let (prefix, rest) = model.split_once(':')?;
    let is_name = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    is_name.then_some((prefix, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_from, ConfigSource};

    fn snapshot() -> Snapshot {
        let env = [("ANTHROPIC_API_KEY", "!PASSTHRU"), ("OPENAI_API_KEY", "k"), ("DEFAULT_PROVIDER", "anthropic")];
        let src = ConfigSource { path: None, env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        load_from(&src).unwrap().snapshot
    }

    #[test]
    fn prefix_selects_provider_case_insensitively() {
        let s = snapshot();
        let r = resolve(&s, "OpenAI:gpt-4o").unwrap();
        assert_eq!(r.provider.name, "openai");
        assert_eq!(r.upstream_model, "gpt-4o");
    }

    #[test]
    fn only_the_first_colon_splits() {
        let r = resolve(&snapshot(), "openai:llama3:8b").unwrap();
        assert_eq!(r.upstream_model, "llama3:8b");
    }

    #[test]
    fn no_prefix_goes_to_default_unchanged() {
        let r = resolve(&snapshot(), "claude-sonnet-4-5").unwrap();
        assert_eq!(r.provider.name, "anthropic");
        assert_eq!(r.upstream_model, "claude-sonnet-4-5");
        let r = resolve(&snapshot(), "anthropic.claude-v2:1").unwrap();
        assert_eq!(r.upstream_model, "anthropic.claude-v2:1");
    }

    #[test]
    fn unknown_provider_lists_configured_ones() {
        let e = resolve(&snapshot(), "groq:llama").unwrap_err().to_string();
        assert!(e.contains("'groq'") && e.contains("anthropic, openai"), "{e}");
    }

    #[test]
    fn empty_model_after_prefix_is_refused() {
        assert!(resolve(&snapshot(), "openai:").is_err());
    }
}
