//! Model aliases, in vandamme-proxy's convention: `<P>_ALIAS_<NAME>=target` or an `aliases` table per provider.
//! A target is a model of the same provider, `provider:model`, or an ordered list of them (fallbacks).

use serde::{Deserialize, Serialize};

use super::ConfigError;

/// What an alias points at, as written: one target or an ordered list (the first is tried first).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum RawAliasTargets {
    One(String),
    Many(Vec<String>),
}

impl RawAliasTargets {
    /// Parses the environment form: targets separated by commas.
    pub fn from_env(value: &str) -> Self {
        let targets: Vec<String> =
            value.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect();
        match targets.len() {
            1 => Self::One(targets.into_iter().next().unwrap_or_default()),
            _ => Self::Many(targets),
        }
    }

    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(t) => vec![t],
            Self::Many(ts) => ts,
        }
    }
}

/// A validated alias of one provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The name as configured.
    pub name: String,
    /// The name normalised for matching (lower case, `_` → `-`).
    pub key: String,
    /// Targets in order, as written (`model`, `provider:model` or `!model`).
    pub targets: Vec<String>,
}

/// Lower case with `_` and `-` equivalent: how alias names and requested models are compared.
pub fn normalize(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('_', "-")
}

impl Alias {
    /// Validates one alias definition of `provider`.
    pub fn new(provider: &str, name: &str, raw: RawAliasTargets) -> Result<Self, ConfigError> {
        let key = normalize(name);
        if key.is_empty() {
            return Err(ConfigError::new(format!("provider '{provider}': an alias has an empty name")));
        }
        let targets: Vec<String> = raw.into_vec().into_iter().map(|t| t.trim().to_string()).collect();
        if targets.is_empty() || targets.iter().any(|t| t.trim_start_matches('!').is_empty()) {
            return Err(ConfigError::new(format!("provider '{provider}': alias '{name}' has an empty target")));
        }
        Ok(Self { name: name.to_string(), key, targets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_form_splits_on_commas() {
        assert_eq!(RawAliasTargets::from_env("gpt-4o"), RawAliasTargets::One("gpt-4o".into()));
        assert_eq!(
            RawAliasTargets::from_env("groq:llama, openai:gpt-4o-mini"),
            RawAliasTargets::Many(vec!["groq:llama".into(), "openai:gpt-4o-mini".into()])
        );
    }

    #[test]
    fn names_are_normalised_and_targets_required() {
        let a = Alias::new("p", "Fast_Model", RawAliasTargets::One("x".into())).unwrap();
        assert_eq!(a.key, "fast-model");
        assert!(Alias::new("p", "a", RawAliasTargets::Many(vec![])).is_err());
        assert!(Alias::new("p", "a", RawAliasTargets::One("!".into())).is_err());
    }
}
