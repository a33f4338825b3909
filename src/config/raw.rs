//! The configuration as written: serde structs for the TOML file, before validation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::alias::RawAliasTargets;

/// The whole file. Unknown keys are errors, so a typo is reported instead of silently ignored.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub providers: BTreeMap<String, RawProvider>,
    /// Virtual keys declared in the file (by the SHA-256 of their secret), read-only on the admin API.
    #[serde(default)]
    pub keys: BTreeMap<String, crate::keys::declared::RawKey>,
    /// Teams declared in the file.
    #[serde(default)]
    pub teams: BTreeMap<String, crate::keys::declared::RawTeam>,
    /// `[prices."provider:model"]`: prices on top of the shipped table (USD per million tokens).
    #[serde(default)]
    pub prices: BTreeMap<String, super::prices::RawPrice>,
}

/// `[server]`: listener, limits, timeouts and gateway-wide keys.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub workers: Option<usize>,
    pub default_provider: Option<String>,
    /// The provider a Bedrock-dialect model id naming no provider goes to (`BEDROCK_DEFAULT_PROVIDER`).
    pub bedrock_default_provider: Option<String>,
    /// The provider a Vertex-dialect model naming no provider goes to (`VERTEX_DEFAULT_PROVIDER`).
    pub vertex_default_provider: Option<String>,
    pub proxy_api_key: Option<String>,
    /// Seconds until the upstream's response head must arrive.
    pub request_timeout: Option<u64>,
    /// Seconds to establish an upstream connection (TCP + TLS).
    pub connect_timeout: Option<u64>,
    /// Seconds a stream may stay silent between two chunks.
    pub stream_idle_timeout: Option<u64>,
    /// Seconds a client's request body may stay silent between two chunks.
    pub body_idle_timeout: Option<u64>,
    /// Seconds reading a client's whole request body may take.
    pub body_read_timeout: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub log_level: Option<String>,
    /// Retries of a failed upstream attempt before any byte reached the client.
    pub max_retries: Option<u32>,
    /// First retry backoff in milliseconds (doubled per retry, with jitter).
    pub retry_base_delay_ms: Option<u64>,
    /// Largest backoff, seconds.
    pub retry_max_delay: Option<u64>,
    /// Longest upstream `retry-after` worth waiting for, seconds.
    pub retry_after_cap: Option<u64>,
    /// Seconds a key refused with 401/403/429 is skipped.
    pub key_cooldown: Option<u64>,
    /// Failed requests in a row that open a provider's circuit breaker.
    pub circuit_breaker_threshold: Option<u32>,
    /// Seconds an open breaker waits before a half-open probe.
    pub circuit_breaker_cooldown: Option<u64>,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_grace: Option<u64>,
    /// Enables the admin API (`/admin/*`) and is the bearer token it requires.
    pub admin_api_key: Option<String>,
    /// Redis holding the admin overlay shared by every replica; read at startup only.
    pub redis_url: Option<String>,
    /// Browser origins (`https://app.example.com`) whose requests the model and admin routes accept; read at
    /// startup only. Requests with any other `Origin` are refused.
    pub allowed_origins: Option<Vec<String>>,
    /// Extra `Host` names accepted when the gateway listens on a loopback address (`name`, `*.suffix`, or `*`);
    /// read at startup only.
    pub allowed_hosts: Option<Vec<String>>,
    /// Outbound address policy: the only destinations upstream connections may go to (CIDRs, host patterns).
    pub upstream_allow: Option<Vec<String>>,
    /// Outbound address policy: destinations upstream connections may never go to (default: link-local and cloud
    /// metadata addresses).
    pub upstream_deny: Option<Vec<String>>,
    /// Seconds an idle upstream connection is kept for reuse.
    pub upstream_idle_timeout: Option<u64>,
    /// Simultaneous upstream connections per provider and worker (0: no cap).
    pub upstream_max_connections: Option<usize>,
    /// Where the embedded store keeps keys, teams and spend without Redis (`./gatehouse-data`).
    pub data_dir: Option<String>,
    /// Seconds a reservation's lease lives unless renewed (20).
    pub lease_ttl_secs: Option<u64>,
    /// `closed` (the default) or `open`: keyed requests while the limits store (Redis) cannot answer.
    pub limits_on_store_failure: Option<String>,
    /// Standby leases with Redis (true): a worker's next request of a key admitted without a round trip.
    pub limits_standby: Option<bool>,
}

/// `[providers.<name>]`. Also the form an admin change is stored in (serialised into the shared overlay).
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// One key, several whitespace-separated keys, or `!PASSTHRU`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The same as a list, one key per element (an element with whitespace is refused, not split).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_keys: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_headers: BTreeMap<String, String>,
    /// Per-provider override of `server.request_timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout: Option<u64>,
    /// Conversion options for OpenAI-format providers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens_field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_reasoning_back: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrite_tool_names: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thought_signatures: Option<bool>,
    /// `refuse` (default) or `web_search_options`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub web_search: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<bool>,
    /// `safety_identifier` (default), `user` or `none`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id_field: Option<String>,
    /// Per-model conversion settings: model name or `prefix*` → settings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, RawModelOptions>,
    /// Passthrough providers: whether `GET /v1/models` may send a client's own key here to list models.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub list_models_with_client_key: Option<bool>,
    /// Model aliases: name → target(s).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aliases: BTreeMap<String, RawAliasTargets>,
    /// Bedrock: the AWS region (`<P>_AWS_REGION`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
    /// Bedrock: SigV4 credentials (`<P>_AWS_ACCESS_KEY_ID` …, else the standard `AWS_*` variables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_access_key_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_secret_access_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_session_token: Option<String>,
    /// Vertex: the Google Cloud project (`<P>_VERTEX_PROJECT`, `ANTHROPIC_VERTEX_PROJECT_ID`, `GOOGLE_CLOUD_PROJECT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vertex_project: Option<String>,
    /// Vertex: the region (`<P>_VERTEX_REGION`, `CLOUD_ML_REGION`), e.g. `us-east5` or `global`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vertex_region: Option<String>,
    /// Vertex: a shell command printing an access token (`gcloud auth print-access-token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_command: Option<String>,
    /// Vertex: seconds a token from `token_command` is reused (300).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_ttl_secs: Option<u64>,
    /// Vertex: a service-account JSON file (`<P>_CREDENTIALS_FILE`, else `GOOGLE_APPLICATION_CREDENTIALS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
    /// Bedrock streams relayed as SSE: seconds of upstream silence after which the gateway sends a `ping` (15).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping_interval_secs: Option<u64>,
    /// Where the provider was defined; filled in by the loader, never read from the file.
    #[serde(skip)]
    pub origin: Origin,
}

/// `[providers.<name>.models."<pattern>"]`: conversion settings for the models a pattern matches.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RawModelOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens_field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<bool>,
    /// The `reasoning_effort` values the model accepts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_levels: Option<Vec<String>>,
    /// Anthropic format: `adaptive` or `budget`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
}

/// Where a provider's definition came from (shown by `/health` and the admin API).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    #[default]
    File,
    Env,
    Default,
    Admin,
}
