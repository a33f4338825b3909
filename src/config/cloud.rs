//! Settings of the two cloud formats, `bedrock` and `vertex`: their environment fallbacks (the standard AWS and
//! Google variables), their validation into [`CloudSettings`], their default base URLs and how they
//! authenticate. The names are those of the shared interface in `docs/bedrock-and-vertex.md`.

use std::sync::Arc;
use std::time::Duration;

use super::raw::RawProvider;
use super::{ApiFormat, Auth, ConfigError};
use crate::cloud::google_token::{ServiceAccount, TokenProvider, TokenSource};
use crate::secret::Secret;

/// How long a Bedrock stream relayed as SSE may stay silent before the gateway sends a `ping` event.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(15);

/// How long a token printed by `token_command` is reused when nothing else says.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(300);

/// What a Bedrock or Vertex provider needs beyond the common provider settings.
#[derive(Debug)]
pub enum CloudSettings {
    Bedrock(BedrockSettings),
    Vertex(VertexSettings),
}

/// A Bedrock provider's region and, when it signs, its AWS credentials.
#[derive(Debug)]
pub struct BedrockSettings {
    pub region: String,
    /// SigV4 credentials; `None` when the provider presents bearer API keys (`Auth::Static` / `Auth::Passthrough`).
    pub sigv4: Option<AwsCredentials>,
    /// Upstream silence after which an SSE client gets a `ping` event.
    pub ping_interval: Duration,
}

/// Static AWS credentials for SigV4.
#[derive(Debug, Clone)]
pub struct AwsCredentials {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// A Vertex provider's project, region and, unless it presents a static token, where its tokens come from.
#[derive(Debug)]
pub struct VertexSettings {
    pub project: String,
    pub region: String,
    /// The token command or service account, with its cache; `None` with a static token or passthrough.
    pub tokens: Option<Arc<TokenProvider>>,
}

impl CloudSettings {
    pub fn bedrock(&self) -> Option<&BedrockSettings> {
        match self {
            Self::Bedrock(b) => Some(b),
            Self::Vertex(_) => None,
        }
    }

    pub fn vertex(&self) -> Option<&VertexSettings> {
        match self {
            Self::Vertex(v) => Some(v),
            Self::Bedrock(_) => None,
        }
    }
}

fn var(vars: &[(String, String)], name: &str) -> Option<String> {
    vars.iter().rev().find(|(k, v)| k == name && !v.trim().is_empty()).map(|(_, v)| v.clone())
}

fn is_format(entry: &RawProvider, format: &str) -> bool {
    entry.api_format.as_deref().is_some_and(|f| f.trim().eq_ignore_ascii_case(format))
}

/// Fills a bedrock or vertex provider's unset settings from the standard variables, in the documented order of
/// precedence: per-provider settings (already applied) first.
pub(super) fn apply_standard_env(entry: &mut RawProvider, vars: &[(String, String)]) {
    let has_key = entry.api_key.is_some() || entry.api_keys.is_some();
    if is_format(entry, "bedrock") {
        if entry.aws_region.is_none() {
            entry.aws_region = var(vars, "AWS_REGION").or_else(|| var(vars, "AWS_DEFAULT_REGION"));
        }
        if has_key || entry.aws_access_key_id.is_some() {
            return;
        }
        if let Some(token) = var(vars, "AWS_BEARER_TOKEN_BEDROCK") {
            entry.api_key = Some(token);
        } else if let (Some(id), Some(secret)) = (var(vars, "AWS_ACCESS_KEY_ID"), var(vars, "AWS_SECRET_ACCESS_KEY")) {
            entry.aws_access_key_id = Some(id);
            entry.aws_secret_access_key = Some(secret);
            entry.aws_session_token = var(vars, "AWS_SESSION_TOKEN");
        }
    } else if is_format(entry, "vertex") {
        if entry.vertex_project.is_none() {
            entry.vertex_project =
                var(vars, "ANTHROPIC_VERTEX_PROJECT_ID").or_else(|| var(vars, "GOOGLE_CLOUD_PROJECT"));
        }
        if entry.vertex_region.is_none() {
            entry.vertex_region = var(vars, "CLOUD_ML_REGION");
        }
        if !has_key && entry.token_command.is_none() && entry.credentials_file.is_none() {
            entry.credentials_file = var(vars, "GOOGLE_APPLICATION_CREDENTIALS");
        }
    }
}

/// The default base URL of a cloud provider, or `None` (the format has none, or its region is missing: the
/// validation of [`settings`] names the variable then).
pub(super) fn default_base_url(format: ApiFormat, raw: &RawProvider) -> Option<String> {
    let region = |r: &Option<String>| r.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_string);
    match format {
        ApiFormat::Bedrock => region(&raw.aws_region).map(|r| format!("https://bedrock-runtime.{r}.amazonaws.com")),
        ApiFormat::Vertex => region(&raw.vertex_region).map(|r| match r.as_str() {
            "global" => "https://aiplatform.googleapis.com/v1".to_string(),
            r => format!("https://{r}-aiplatform.googleapis.com/v1"),
        }),
        ApiFormat::Anthropic | ApiFormat::OpenAi => None,
    }
}

/// Whether the provider has API keys (or `!PASSTHRU`) configured: these win over every other credential.
pub(super) fn has_api_key(raw: &RawProvider) -> bool {
    raw.api_key.as_deref().is_some_and(|k| !k.trim().is_empty()) || raw.api_keys.as_ref().is_some_and(|l| !l.is_empty())
}

/// Validates a bedrock or vertex provider's own settings. `auth` is the result of the API-key rules when the
/// provider has keys, `None` when it does not (it must then have the format's own credentials).
pub(super) fn settings(
    name: &str,
    format: ApiFormat,
    raw: &RawProvider,
    key_auth: Option<Auth>,
) -> Result<(Option<CloudSettings>, Auth), ConfigError> {
    let upper = name.to_ascii_uppercase();
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    match format {
        ApiFormat::Anthropic | ApiFormat::OpenAi => match key_auth {
            Some(auth) => Ok((None, auth)),
            None => Err(ConfigError::new(format!("provider '{name}': api key is missing (set {upper}_API_KEY)"))),
        },
        ApiFormat::Bedrock => {
            let region = text(&raw.aws_region).ok_or_else(|| {
                ConfigError::new(format!(
                    "provider '{name}': bedrock needs an AWS region (set {upper}_AWS_REGION, AWS_REGION or \
                     AWS_DEFAULT_REGION; aws_region in the file)"
                ))
            })?;
            if !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(ConfigError::new(format!("provider '{name}': aws_region '{region}' is not a region name")));
            }
            let ping_interval = ping_interval(name, raw)?;
            let (sigv4, auth) = match key_auth {
                Some(auth) => (None, auth),
                None => (Some(aws_credentials(name, raw)?), Auth::Cloud),
            };
            Ok((Some(CloudSettings::Bedrock(BedrockSettings { region, sigv4, ping_interval })), auth))
        }
        ApiFormat::Vertex => {
            let project = text(&raw.vertex_project).ok_or_else(|| {
                ConfigError::new(format!(
                    "provider '{name}': vertex needs a Google Cloud project (set {upper}_VERTEX_PROJECT, \
                     ANTHROPIC_VERTEX_PROJECT_ID or GOOGLE_CLOUD_PROJECT; vertex_project in the file)"
                ))
            })?;
            let region = text(&raw.vertex_region).ok_or_else(|| {
                ConfigError::new(format!(
                    "provider '{name}': vertex needs a region (set {upper}_VERTEX_REGION or CLOUD_ML_REGION; \
                     vertex_region in the file)"
                ))
            })?;
            for (field, value) in [("vertex_project", &project), ("vertex_region", &region)] {
                if !value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') {
                    return Err(ConfigError::new(format!(
                        "provider '{name}': {field} '{value}' may only use letters, digits, '-', '_' and '.'"
                    )));
                }
            }
            let (tokens, auth) = match key_auth {
                Some(auth) => (None, auth),
                None => (Some(Arc::new(TokenProvider::new(name, token_source(name, raw)?))), Auth::Cloud),
            };
            Ok((Some(CloudSettings::Vertex(VertexSettings { project, region, tokens })), auth))
        }
    }
}

fn ping_interval(name: &str, raw: &RawProvider) -> Result<Duration, ConfigError> {
    match raw.ping_interval_secs {
        Some(0) => Err(ConfigError::new(format!("provider '{name}': ping_interval_secs must be at least 1 second"))),
        Some(secs) => Ok(Duration::from_secs(secs)),
        None => Ok(DEFAULT_PING_INTERVAL),
    }
}

fn aws_credentials(name: &str, raw: &RawProvider) -> Result<AwsCredentials, ConfigError> {
    let upper = name.to_ascii_uppercase();
    let secret = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(Secret::new);
    match (secret(&raw.aws_access_key_id), secret(&raw.aws_secret_access_key)) {
        (Some(access_key_id), Some(secret_access_key)) => {
            Ok(AwsCredentials { access_key_id, secret_access_key, session_token: secret(&raw.aws_session_token) })
        }
        (Some(_), None) | (None, Some(_)) => Err(ConfigError::new(format!(
            "provider '{name}': AWS credentials need both an access key id and a secret access key \
             ({upper}_AWS_ACCESS_KEY_ID and {upper}_AWS_SECRET_ACCESS_KEY)"
        ))),
        (None, None) => Err(ConfigError::new(format!(
            "provider '{name}': bedrock has no credentials (set {upper}_API_KEY to a Bedrock API key or \
             {PASSTHROUGH}, {upper}_AWS_ACCESS_KEY_ID + {upper}_AWS_SECRET_ACCESS_KEY, AWS_BEARER_TOKEN_BEDROCK, or \
             AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY)",
            PASSTHROUGH = super::PASSTHROUGH_MARKER
        ))),
    }
}

fn token_source(name: &str, raw: &RawProvider) -> Result<TokenSource, ConfigError> {
    let upper = name.to_ascii_uppercase();
    if let Some(command) = raw.token_command.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        let ttl = match raw.token_ttl_secs {
            Some(0) => {
                return Err(ConfigError::new(format!("provider '{name}': token_ttl_secs must be at least 1 second")))
            }
            Some(secs) => Duration::from_secs(secs),
            None => DEFAULT_TOKEN_TTL,
        };
        return Ok(TokenSource::Command { command: command.to_string(), ttl });
    }
    if let Some(path) = raw.credentials_file.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        let account = ServiceAccount::from_file(std::path::Path::new(path))
            .map_err(|e| ConfigError::new(format!("provider '{name}': credentials file '{path}': {e}")))?;
        return Ok(TokenSource::ServiceAccount(Arc::new(account)));
    }
    Err(ConfigError::new(format!(
        "provider '{name}': vertex has no credentials (set {upper}_API_KEY to an access token or {PASSTHROUGH}, \
         {upper}_TOKEN_COMMAND, {upper}_CREDENTIALS_FILE or GOOGLE_APPLICATION_CREDENTIALS)",
        PASSTHROUGH = super::PASSTHROUGH_MARKER
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn bedrock() -> RawProvider {
        RawProvider { api_format: Some("bedrock".into()), ..Default::default() }
    }

    #[test]
    fn bedrock_credentials_follow_the_documented_order() {
        let standard = vars(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_BEARER_TOKEN_BEDROCK", "brk"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ]);
        let mut own_keys = RawProvider { aws_access_key_id: Some("own".into()), ..bedrock() };
        apply_standard_env(&mut own_keys, &standard);
        assert_eq!(own_keys.api_key, None, "per-provider AWS keys win over AWS_BEARER_TOKEN_BEDROCK");
        assert_eq!(own_keys.aws_region.as_deref(), Some("eu-west-1"));

        let mut bare = bedrock();
        apply_standard_env(&mut bare, &standard);
        assert_eq!(bare.api_key.as_deref(), Some("brk"));
        assert_eq!(bare.aws_access_key_id, None);

        let mut keys_only = bedrock();
        apply_standard_env(&mut keys_only, &standard[..1].iter().chain(&standard[2..]).cloned().collect::<Vec<_>>());
        assert_eq!(keys_only.aws_access_key_id.as_deref(), Some("AKIA"));
    }

    #[test]
    fn bedrock_without_region_or_credentials_names_the_variables() {
        let e = settings("br", ApiFormat::Bedrock, &bedrock(), None).unwrap_err().to_string();
        assert!(e.contains("BR_AWS_REGION") && e.contains("AWS_DEFAULT_REGION"), "{e}");
        let raw = RawProvider { aws_region: Some("us-east-1".into()), ..bedrock() };
        let e = settings("br", ApiFormat::Bedrock, &raw, None).unwrap_err().to_string();
        assert!(e.contains("AWS_BEARER_TOKEN_BEDROCK"), "{e}");
        assert_eq!(
            default_base_url(ApiFormat::Bedrock, &raw).as_deref(),
            Some("https://bedrock-runtime.us-east-1.amazonaws.com")
        );
    }

    #[test]
    fn vertex_defaults_and_requirements() {
        let mut raw = RawProvider { api_format: Some("vertex".into()), ..Default::default() };
        apply_standard_env(
            &mut raw,
            &vars(&[
                ("GOOGLE_CLOUD_PROJECT", "p"),
                ("CLOUD_ML_REGION", "global"),
                ("GOOGLE_APPLICATION_CREDENTIALS", "/x"),
            ]),
        );
        assert_eq!(raw.vertex_project.as_deref(), Some("p"));
        assert_eq!(raw.credentials_file.as_deref(), Some("/x"));
        assert_eq!(default_base_url(ApiFormat::Vertex, &raw).as_deref(), Some("https://aiplatform.googleapis.com/v1"));
        raw.vertex_region = Some("us-east5".into());
        assert_eq!(
            default_base_url(ApiFormat::Vertex, &raw).as_deref(),
            Some("https://us-east5-aiplatform.googleapis.com/v1")
        );
        let e = settings("vx", ApiFormat::Vertex, &raw, None).unwrap_err().to_string();
        assert!(e.contains("credentials file '/x'"), "{e}");
        raw.credentials_file = None;
        raw.token_command = Some("echo t".into());
        let (cloud, auth) = settings("vx", ApiFormat::Vertex, &raw, None).unwrap();
        assert_eq!(auth, Auth::Cloud);
        assert!(cloud.and_then(|c| c.vertex().and_then(|v| v.tokens.clone())).is_some());
    }
}
