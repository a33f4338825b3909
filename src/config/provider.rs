//! A validated provider: where its upstream is, how to authenticate, and how requests are shaped for it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use derive_more::Display;
use serde::Serialize;

use super::Origin;
use crate::convert::ConvertOptions;
use crate::secret::Secret;

/// The wire format an upstream speaks.
#[derive(Debug, Display, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiFormat {
    /// Anthropic Messages: requests and responses pass through.
    #[display("anthropic")]
    Anthropic,
    /// OpenAI Chat Completions: requests and responses are converted.
    #[display("openai")]
    OpenAi,
}

/// How gatehouse authenticates to the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Gatehouse's own keys, used round-robin.
    Static(Vec<Secret>),
    /// Each client's own key is forwarded (`!PASSTHRU`).
    Passthrough,
}

impl Auth {
    /// `static` or `passthrough`, for `/health` and logs.
    pub fn mode(&self) -> &'static str {
        match self {
            Self::Static(_) => "static",
            Self::Passthrough => "passthrough",
        }
    }
}

/// One upstream provider, immutable once built; a config change builds a new one.
#[derive(Debug)]
pub struct Provider {
    pub name: String,
    pub format: ApiFormat,
    /// The base URL as configured, without a trailing slash.
    pub base_url: String,
    /// The full URL requests are POSTed to.
    pub endpoint: String,
    pub auth: Auth,
    /// Added to every upstream request (after the client's headers, so they win).
    pub custom_headers: Vec<(HeaderName, HeaderValue)>,
    pub options: ConvertOptions,
    pub request_timeout: Duration,
    pub origin: Origin,
    next_key: AtomicUsize,
}

impl Provider {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: String,
        format: ApiFormat,
        base_url: String,
        auth: Auth,
        custom_headers: Vec<(HeaderName, HeaderValue)>,
        options: ConvertOptions,
        request_timeout: Duration,
        origin: Origin,
    ) -> Self {
        let endpoint = match format {
            ApiFormat::Anthropic => format!("{base_url}/v1/messages"),
            ApiFormat::OpenAi => format!("{base_url}/chat/completions"),
        };
        Self {
            name,
            format,
            base_url,
            endpoint,
            auth,
            custom_headers,
            options,
            request_timeout,
            origin,
            next_key: AtomicUsize::new(0),
        }
    }

    /// The next static key in round-robin order, shared by every worker thread. `None` for passthrough.
    pub fn next_static_key(&self) -> Option<&Secret> {
        match &self.auth {
            Auth::Static(keys) if !keys.is_empty() => {
                let i = self.next_key.fetch_add(1, Ordering::Relaxed) % keys.len();
                Some(&keys[i])
            }
            _ => None,
        }
    }

    /// Number of static keys (0 for passthrough).
    pub fn key_count(&self) -> usize {
        match &self.auth {
            Auth::Static(keys) => keys.len(),
            Auth::Passthrough => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(auth: Auth) -> Provider {
        Provider::new(
            "p".into(),
            ApiFormat::OpenAi,
            "http://h/v1".into(),
            auth,
            vec![],
            ConvertOptions::default(),
            Duration::from_secs(1),
            Origin::File,
        )
    }

    #[test]
    fn round_robin_cycles_through_keys() {
        let p = provider(Auth::Static(vec![Secret::new("a"), Secret::new("b"), Secret::new("c")]));
        let picked: Vec<&str> = (0..6).map(|_| p.next_static_key().unwrap().expose()).collect();
        assert_eq!(picked, ["a", "b", "c", "a", "b", "c"]);
        assert_eq!(p.endpoint, "http://h/v1/chat/completions");
    }

    #[test]
    fn passthrough_has_no_static_key() {
        let p = provider(Auth::Passthrough);
        assert!(p.next_static_key().is_none());
        assert_eq!(p.auth.mode(), "passthrough");
    }
}
