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
    ServiceAccount(std::sync::Arc<ServiceAccount>),
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

/// How long a token command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the token endpoint may take.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);
/// A service-account token is replaced when less than this much of its life remains.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

impl TokenProvider {
    /// A usable access token: the cached one, or a fresh one when none is cached, it is due for refresh, or it is
    /// `refused` (Vertex answered 401 with it). Concurrent callers wait for one fetch.
    pub async fn token(&self, refused: Option<&Secret>) -> Result<Secret, String> {
        let mut cached = self.cached.lock().await;
        let now = std::time::Instant::now();
        if let Some(current) = cached.as_ref() {
            let refused_this = refused.is_some_and(|r| r == &current.token);
            if now < current.refresh_at && !refused_this {
                return Ok(current.token.clone());
            }
        }
        let fresh = match &self.source {
            TokenSource::Command { command, ttl } => {
                CachedToken { token: run_command(command).await?, refresh_at: now + *ttl }
            }
            TokenSource::ServiceAccount(account) => exchange_jwt(account).await?,
        };
        log::debug!("provider {}: new Google access token {}", self.provider, fresh.token.fingerprint());
        *cached = Some(fresh.clone());
        Ok(fresh.token)
    }
}

/// Runs `command` with `sh -c`; its trimmed standard output is the token.
async fn run_command(command: &str) -> Result<Secret, String> {
    let mut child = tokio::process::Command::new("sh");
    child.arg("-c").arg(command).stdin(std::process::Stdio::null()).kill_on_drop(true);
    let output = tokio::time::timeout(COMMAND_TIMEOUT, child.output())
        .await
        .map_err(|_| format!("the token command did not finish within {} s", COMMAND_TIMEOUT.as_secs()))?
        .map_err(|e| format!("the token command could not be started ({e})"))?;
    if !output.status.success() {
        // Its error output goes to the gateway's log (escaped), not to clients.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let shown: String = stderr.trim().chars().take(300).collect();
        log::warn!("token command failed ({}): {}", output.status, crate::log_safe::escaped(&shown));
        return Err(format!("the token command failed ({}); its error output is in the gateway's log", output.status));
    }
    let token =
        String::from_utf8(output.stdout).map_err(|_| "the token command printed something not UTF-8".to_string())?;
    let token = token.trim();
    if token.is_empty() || token.contains(char::is_whitespace) {
        return Err("the token command printed no token (or several words)".into());
    }
    Ok(Secret::new(token))
}

/// The JWT-bearer grant: the signed assertion POSTed to the account's token endpoint.
async fn exchange_jwt(account: &std::sync::Arc<ServiceAccount>) -> Result<CachedToken, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970".to_string())?
        .as_secs();
    // An RSA signature takes a millisecond or two: not on the worker's event loop.
    let signer = account.clone();
    let assertion = tokio::task::spawn_blocking(move || signer.assertion(now))
        .await
        .map_err(|e| format!("signing the JWT failed: {e}"))??;
    let form = [("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("assertion", assertion.as_str())];
    let sent_at = std::time::Instant::now();
    let client = awc::Client::builder().timeout(EXCHANGE_TIMEOUT).finish();
    let mut response = client
        .post(&account.token_uri)
        .send_form(&form)
        .await
        .map_err(|e| format!("the token endpoint is unreachable ({e})"))?;
    let body =
        response.body().limit(64 * 1024).await.map_err(|e| format!("reading the token endpoint's answer: {e}"))?;
    let status = response.status();
    parse_token_answer(status.as_u16(), &body, sent_at)
}

/// Reads the token endpoint's answer: `{"access_token", "expires_in", "token_type"}`, or an OAuth error.
fn parse_token_answer(status: u16, body: &[u8], sent_at: std::time::Instant) -> Result<CachedToken, String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        access_token: Option<String>,
        expires_in: Option<u64>,
        error: Option<String>,
        error_description: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|_| format!("the token endpoint answered HTTP {status} with something that is not JSON"))?;
    if !(200..300).contains(&status) {
        let why = [answer.error, answer.error_description].into_iter().flatten().collect::<Vec<_>>().join(": ");
        return Err(format!("the token endpoint refused the service account (HTTP {status}: {why})"));
    }
    let token =
        answer.access_token.filter(|t| !t.is_empty()).ok_or("the token endpoint's answer has no access_token")?;
    let life = Duration::from_secs(answer.expires_in.unwrap_or(3600));
    Ok(CachedToken { token: Secret::new(token), refresh_at: sent_at + life.saturating_sub(REFRESH_MARGIN) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers_are_read_with_the_refresh_margin() {
        let at = std::time::Instant::now();
        let ok = parse_token_answer(200, br#"{"access_token":"ya29.x","expires_in":3600,"token_type":"Bearer"}"#, at)
            .unwrap();
        assert_eq!(ok.token.expose(), "ya29.x");
        assert_eq!(ok.refresh_at, at + Duration::from_secs(3540));
        let short = parse_token_answer(200, br#"{"access_token":"t","expires_in":30}"#, at).unwrap();
        assert_eq!(short.refresh_at, at, "a token with less than the margin left is refreshed at once");
        let refused = parse_token_answer(400, br#"{"error":"invalid_grant","error_description":"bad"}"#, at);
        assert_eq!(
            refused.err().unwrap(),
            "the token endpoint refused the service account (HTTP 400: invalid_grant: bad)"
        );
        assert!(parse_token_answer(200, b"<html>", at).is_err());
    }

    #[test]
    fn service_account_files_are_checked_without_quoting_the_key() {
        let e =
            ServiceAccount::from_json(br#"{"client_email":"a@b","private_key":"secret-ish","token_uri":"https://t"}"#)
                .unwrap_err();
        assert!(e.contains("private_key is not an RSA private key") && !e.contains("secret-ish"), "{e}");
        assert!(ServiceAccount::from_json(br#"{"type":"authorized_user"}"#).unwrap_err().contains("client_email"));
    }

    #[actix_rt::test]
    async fn a_command_token_is_cached_and_replaced_when_refused() {
        let dir = std::env::temp_dir().join(format!("gatehouse-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let counter = dir.join("n");
        let command = format!("echo x >> '{0}'; echo token-$(wc -l < '{0}' | tr -d ' ')", counter.display());
        let tokens = TokenProvider::new("vx", TokenSource::Command { command, ttl: Duration::from_secs(300) });
        let first = tokens.token(None).await.unwrap();
        assert_eq!(first.expose(), "token-1");
        assert_eq!(tokens.token(None).await.unwrap().expose(), "token-1", "cached");
        assert_eq!(tokens.token(Some(&first)).await.unwrap().expose(), "token-2", "refused → run again");
        assert_eq!(tokens.token(Some(&first)).await.unwrap().expose(), "token-2", "an old refusal changes nothing");
        let failing =
            TokenProvider::new("vx", TokenSource::Command { command: "exit 3".into(), ttl: Duration::from_secs(1) });
        assert!(failing.token(None).await.unwrap_err().contains("failed"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
