//! A validated provider: where its upstream is, how to authenticate, and how requests are shaped for it.

use std::time::Duration;

use actix_web::http::header::{HeaderName, HeaderValue};
use derive_more::Display;
use serde::Serialize;

use super::{Alias, Connections, Origin};
use crate::convert::ConvertOptions;
use crate::resilience::{ProviderRuntime, RetryPolicy};
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
    /// Amazon Bedrock InvokeModel: Anthropic bodies with `anthropic_version`, SigV4 or a bearer key, event-stream
    /// answers (`config::cloud`, `gateway/exchange/messages_via_bedrock.rs`).
    #[display("bedrock")]
    Bedrock,
    /// Google Vertex AI rawPredict: Anthropic bodies with `anthropic_version`, a Google access token, SSE answers.
    #[display("vertex")]
    Vertex,
}

/// The kinds of request gatehouse makes to a provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamCall {
    /// `POST` a generation (`/v1/messages` or `/chat/completions`).
    Messages,
    /// `POST /v1/messages/count_tokens` (Anthropic format only).
    CountTokens,
    /// `GET` the provider's model list.
    ListModels,
}

/// How gatehouse authenticates to the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Gatehouse's own keys, used round-robin.
    Static(Vec<Secret>),
    /// Each client's own key is forwarded (`!PASSTHRU`).
    Passthrough,
    /// The gateway's cloud credentials in [`Provider::cloud`]: SigV4 keys (Bedrock) or a Google token source
    /// (Vertex). No key to rotate.
    Cloud,
}

impl Auth {
    /// `static` or `passthrough`, for `/health` and logs.
    pub fn mode(&self) -> &'static str {
        match self {
            Self::Static(_) => "static",
            Self::Passthrough => "passthrough",
            Self::Cloud => "cloud",
        }
    }
}

/// One upstream provider, immutable once built; a config change builds a new one (its runtime state — breaker,
/// key cool-downs — is carried over by name, see [`crate::resilience::runtime`]).
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
    pub retry: RetryPolicy,
    pub runtime: ProviderRuntime,
    /// Model aliases owned by this provider.
    pub aliases: Vec<Alias>,
    pub origin: Origin,
    /// Passthrough providers: `GET /v1/models` may list this provider's models with a client's own key (when the
    /// key's style matches the provider's format).
    pub list_models_with_client_key: bool,
    /// How connections to the upstream are made (shared by the snapshot's providers).
    pub connections: std::sync::Arc<Connections>,
    /// Bedrock and Vertex settings (region, project, credentials); `None` for the other formats.
    pub cloud: Option<super::cloud::CloudSettings>,
}

impl Provider {
    /// Where a provider of `format` at `base_url` takes requests.
    pub fn endpoint_for(format: ApiFormat, base_url: &str) -> String {
        match format {
            ApiFormat::Anthropic => format!("{base_url}/v1/messages"),
            ApiFormat::OpenAi => format!("{base_url}/chat/completions"),
            // The path depends on the model (and on streaming): the exchange names it per request.
            ApiFormat::Bedrock | ApiFormat::Vertex => base_url.to_string(),
        }
    }

    /// The URL of one kind of upstream call.
    pub fn url_for(&self, call: UpstreamCall) -> String {
        match (call, self.format) {
            (UpstreamCall::Messages, _) => self.endpoint.clone(),
            (UpstreamCall::CountTokens, _) => format!("{}/v1/messages/count_tokens", self.base_url),
            (UpstreamCall::ListModels, ApiFormat::Anthropic) => format!("{}/v1/models?limit=1000", self.base_url),
            (UpstreamCall::ListModels, ApiFormat::OpenAi) => format!("{}/models", self.base_url),
            // Neither cloud lists Anthropic models in a shape the gateway reads: nothing is listed from them.
            (UpstreamCall::ListModels, ApiFormat::Bedrock | ApiFormat::Vertex) => self.base_url.clone(),
        }
    }

    /// Static key `index`, if the provider has static keys.
    pub fn static_key(&self, index: usize) -> Option<&Secret> {
        match &self.auth {
            Auth::Static(keys) => keys.get(index),
            Auth::Passthrough | Auth::Cloud => None,
        }
    }

    /// Number of static keys (0 for passthrough).
    pub fn key_count(&self) -> usize {
        match &self.auth {
            Auth::Static(keys) => keys.len(),
            Auth::Passthrough | Auth::Cloud => 0,
        }
    }
}
