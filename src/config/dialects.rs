//! The client dialects of the cloud platforms (Bedrock's InvokeModel, Vertex AI's rawPredict) and where their
//! requests go when the model id in their path names no configured provider: `BEDROCK_DEFAULT_PROVIDER` /
//! `VERTEX_DEFAULT_PROVIDER` (`[server] bedrock_default_provider`, `vertex_default_provider`), or else the first
//! provider of the platform's own format by name order.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::raw::RawServer;
use super::{ApiFormat, ConfigError, Provider, Snapshot};

/// A cloud platform's client dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudDialect {
    /// Amazon Bedrock's InvokeModel (`/bedrock/model/{id}/…`).
    Bedrock,
    /// Google Vertex AI's rawPredict (`/vertex/v1/projects/…/models/{model}:…`).
    Vertex,
}

impl CloudDialect {
    /// The variable naming the dialect's default provider.
    pub fn variable(self) -> &'static str {
        match self {
            Self::Bedrock => "BEDROCK_DEFAULT_PROVIDER",
            Self::Vertex => "VERTEX_DEFAULT_PROVIDER",
        }
    }

    /// Whether providers of `format` speak this dialect natively (they get the client's request as it is).
    pub fn is_native(self, format: ApiFormat) -> bool {
        matches!((self, format), (Self::Bedrock, ApiFormat::Bedrock) | (Self::Vertex, ApiFormat::Vertex))
    }
}

/// The providers named by `BEDROCK_DEFAULT_PROVIDER` and `VERTEX_DEFAULT_PROVIDER` (lower case), if set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialectDefaults {
    pub bedrock: Option<String>,
    pub vertex: Option<String>,
}

impl DialectDefaults {
    /// The configured names, each checked to name a configured provider.
    pub fn validated(server: &RawServer, providers: &BTreeMap<String, Arc<Provider>>) -> Result<Self, ConfigError> {
        let check = |dialect: CloudDialect, value: Option<&str>| -> Result<Option<String>, ConfigError> {
            let Some(name) = value.map(|v| v.trim().to_ascii_lowercase()).filter(|v| !v.is_empty()) else {
                return Ok(None);
            };
            if providers.contains_key(&name) {
                return Ok(Some(name));
            }
            Err(ConfigError::new(format!(
                "{}: provider '{name}' does not exist; configured providers: {}",
                dialect.variable(),
                providers.keys().cloned().collect::<Vec<_>>().join(", ")
            )))
        };
        Ok(Self {
            bedrock: check(CloudDialect::Bedrock, server.bedrock_default_provider.as_deref())?,
            vertex: check(CloudDialect::Vertex, server.vertex_default_provider.as_deref())?,
        })
    }
}

impl Snapshot {
    /// Where a `dialect` request whose model names no provider goes: the configured default, else the first
    /// provider of the dialect's own format by name; `None` when neither exists.
    pub fn dialect_default(&self, dialect: CloudDialect) -> Option<&Arc<Provider>> {
        let named = match dialect {
            CloudDialect::Bedrock => self.dialect_defaults.bedrock.as_deref(),
            CloudDialect::Vertex => self.dialect_defaults.vertex.as_deref(),
        };
        match named {
            Some(name) => self.provider(name),
            None => self.providers.values().find(|p| dialect.is_native(p.format)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_from, ConfigSource};

    fn load(env: &[(&str, &str)]) -> Result<Snapshot, ConfigError> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        load_from(&ConfigSource { path: None, env }).map(|s| s.snapshot)
    }

    #[test]
    fn a_named_default_must_exist() {
        let error = load(&[("ANTHROPIC_API_KEY", "k"), ("BEDROCK_DEFAULT_PROVIDER", "nope")]).unwrap_err();
        assert!(error.to_string().starts_with("BEDROCK_DEFAULT_PROVIDER: provider 'nope'"), "{error}");
        let s = load(&[("ANTHROPIC_API_KEY", "k"), ("VERTEX_DEFAULT_PROVIDER", "Anthropic")]).unwrap();
        assert_eq!(s.dialect_default(CloudDialect::Vertex).map(|p| p.name.as_str()), Some("anthropic"));
    }

    #[test]
    fn without_a_default_or_a_provider_of_the_format_there_is_none() {
        let s = load(&[("ANTHROPIC_API_KEY", "k"), ("OPENAI_API_KEY", "k")]).unwrap();
        assert!(s.dialect_default(CloudDialect::Bedrock).is_none());
        assert!(s.dialect_default(CloudDialect::Vertex).is_none());
        let s = load(&[("ANTHROPIC_API_KEY", "k"), ("OPENAI_API_KEY", "k"), ("BEDROCK_DEFAULT_PROVIDER", "openai")])
            .unwrap();
        assert_eq!(s.dialect_default(CloudDialect::Bedrock).map(|p| p.name.as_str()), Some("openai"));
    }
}
