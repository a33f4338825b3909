//! Google OAuth2 access tokens for Vertex AI: where they come from (a shell command such as `gcloud auth
//! print-access-token`, or a service-account JSON file whose RS256-signed JWT is exchanged at its `token_uri`),
//! and the per-provider cache that reuses a token until shortly before it expires, or until Vertex refuses it.

use std::time::Duration;

use jsonwebtoken::EncodingKey;

use crate::secret::Secret;

/// The OAuth scope Vertex AI needs.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Where a provider's access tokens come from.
#[derive(Debug)]
pub enum TokenSource {
    /// A shell command (`sh -c`) whose trimmed standard output is the token, reused for `ttl`.
    Command { command: String, ttl: Duration },
    /// A service account's key: tokens from a signed JWT exchanged at its token endpoint.
    ServiceAccount(Box<ServiceAccount>),
}

/// The parts of a service-account JSON file the JWT flow needs. The private key never leaves this struct.
pub struct ServiceAccount {
    pub client_email: String,
    pub token_uri: String,
    key: EncodingKey,
    key_id: Option<String>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Reads and checks a service-account JSON file (the error never quotes the key).
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read(path).map_err(|e| format!("cannot be read ({e})"))?;
        Self::from_json(&text)
    }

    /// Parses a service-account JSON document.
    pub fn from_json(text: &[u8]) -> Result<Self, String> {
        #[derive(serde::Deserialize)]
        struct File {
            client_email: Option<String>,
            private_key: Option<String>,
            private_key_id: Option<String>,
            token_uri: Option<String>,
        }
        let file: File = serde_json::from_slice(text).map_err(|e| format!("is not JSON ({e})"))?;
        let field = |v: Option<String>, name: &str| {
            v.filter(|v| !v.trim().is_empty()).ok_or_else(|| format!("has no {name} (is it a service-account key?)"))
        };
        let client_email = field(file.client_email, "client_email")?;
        let private_key = field(file.private_key, "private_key")?;
        let token_uri = field(file.token_uri, "token_uri")?;
        if !(token_uri.starts_with("https://") || token_uri.starts_with("http://")) {
            return Err("token_uri is not an http(s) URL".into());
        }
        let key = EncodingKey::from_rsa_pem(private_key.as_bytes())
            .map_err(|_| "private_key is not an RSA private key in PEM".to_string())?;
        Ok(Self { client_email, token_uri, key, key_id: file.private_key_id })
    }

    /// The signed assertion for the JWT-bearer grant, issued at `now` (seconds since the epoch), valid one hour.
    pub fn assertion(&self, now: u64) -> Result<String, String> {
        #[derive(serde::Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            scope: &'a str,
            aud: &'a str,
            iat: u64,
            exp: u64,
        }
        let claims = Claims {
            iss: &self.client_email,
            scope: CLOUD_PLATFORM_SCOPE,
            aud: &self.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = self.key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| format!("signing the JWT failed: {e}"))
    }
}

/// One provider's token source and its cached token.
#[derive(Debug)]
pub struct TokenProvider {
    provider: String,
    source: TokenSource,
    cached: tokio::sync::Mutex<Option<CachedToken>>,
}

/// A token and when to stop using it.
#[derive(Debug, Clone)]
struct CachedToken {
    token: Secret,
    refresh_at: std::time::Instant,
}

impl TokenProvider {
    pub fn new(provider: &str, source: TokenSource) -> Self {
        Self { provider: provider.to_string(), source, cached: tokio::sync::Mutex::new(None) }
    }

    /// The token source, for `/health` and tests.
    pub fn source(&self) -> &TokenSource {
        &self.source
    }

    /// The provider's name (error messages).
    pub fn provider(&self) -> &str {
        &self.provider
    }
}
