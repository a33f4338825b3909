//! Configuration: the TOML file and environment variables (raw), validated into an immutable [`Snapshot`] that
//! every request reads and that a reload replaces whole.

pub mod address;
pub mod alias;
pub mod cloud;
mod convert_options;
pub mod dialects;
mod env;
pub mod keys;
mod load;
pub mod outbound;
pub mod overlay;
pub mod prices;
mod provider;
pub mod raw;
pub mod routing;
mod validate;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use derive_more::Display;

pub use alias::Alias;
pub use load::{load, load_from, load_raw, ConfigSource};
pub use outbound::OutboundPolicy;
pub use overlay::{Change, Overlay};
pub use provider::{ApiFormat, Auth, Provider, UpstreamCall};
pub use raw::{Origin, RawConfig, RawModelOptions, RawProvider};
pub use routing::{resolve, Route, Target};
pub use validate::validate;

use crate::prices::PriceTable;
use crate::resilience::runtime::RuntimeSettings;
use crate::resilience::RetryPolicy;
use crate::secret::Secret;

/// The value of `<P>_API_KEY` that makes a provider use each client's own key.
pub const PASSTHROUGH_MARKER: &str = "!PASSTHRU";

/// A configuration problem: one line naming the provider or variable and the field.
#[derive(Debug, Display, Clone, PartialEq, Eq)]
#[display("{_0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl std::error::Error for ConfigError {}

/// Where the gateway listens, and who may talk to it from a browser. Fixed for the life of the process (a reload
/// does not rebind).
#[derive(Debug, Clone)]
pub struct Listen {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub log_level: Option<String>,
    /// Browser origins whose requests the model and admin routes accept, as browsers write them (lower case, no
    /// trailing slash). Empty: every request with an `Origin` header is refused.
    pub allowed_origins: Vec<String>,
    /// `Host` names accepted besides loopback ones when the gateway listens on a loopback address: exact names
    /// (lower case), `*.suffix`, or `*` for any.
    pub allowed_hosts: Vec<String>,
}

/// How upstream connections are opened and kept. Shared by every provider of a snapshot; each provider's
/// connection pool (one per worker) is built from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connections {
    /// TCP + TLS connect, DNS included.
    pub connect_timeout: Duration,
    /// How long an idle connection is kept for reuse; a provider unused that long has its idle connections closed.
    pub idle_timeout: Duration,
    /// Simultaneous connections per provider and worker; requests beyond it wait for one. 0: no cap.
    pub max_per_provider: usize,
    /// Where connections may go.
    pub outbound: OutboundPolicy,
}

impl Default for Connections {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            max_per_provider: 512,
            outbound: OutboundPolicy::default(),
        }
    }
}

/// Limits and timeouts that apply to every provider unless a provider overrides them.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub request_timeout: Duration,
    pub connections: Arc<Connections>,
    pub stream_idle_timeout: Duration,
    /// How long a client's request body may stay silent between two chunks (then 408).
    pub body_idle_timeout: Duration,
    /// How long reading a client's whole request body may take (then 408), however steadily it trickles in.
    pub body_read_timeout: Duration,
    pub retry: RetryPolicy,
    pub runtime: RuntimeSettings,
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 32 * 1024 * 1024,
            request_timeout: Duration::from_secs(600),
            connections: Arc::new(Connections::default()),
            stream_idle_timeout: Duration::from_secs(300),
            body_idle_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(300),
            retry: RetryPolicy::default(),
            runtime: RuntimeSettings::default(),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// One immutable, validated configuration. Requests hold an `Arc` of the snapshot they started with.
#[derive(Debug)]
pub struct Snapshot {
    /// Incremented by every accepted change; shown in `/health`.
    pub version: u64,
    pub default_provider: String,
    pub providers: BTreeMap<String, Arc<Provider>>,
    pub proxy_key: Option<Secret>,
    /// The admin API's bearer token; `None` disables the admin API (it answers 404).
    pub admin_key: Option<Secret>,
    pub limits: Limits,
    /// What tokens cost: the shipped prices with the file's `[prices."provider:model"]` on top. Looked up with
    /// the target after aliases (provider name, upstream model).
    pub prices: Arc<PriceTable>,
    /// Where Bedrock- and Vertex-dialect requests go when their model names no provider.
    pub dialect_defaults: dialects::DialectDefaults,
}

impl Snapshot {
    /// The provider a request names, case-insensitively.
    pub fn provider(&self, name: &str) -> Option<&Arc<Provider>> {
        self.providers.get(name).or_else(|| self.providers.get(&name.to_ascii_lowercase()))
    }

    /// Carries runtime state (breakers, key cool-downs) over from the snapshot this one replaces. Call before
    /// publishing, while this snapshot's providers are not shared yet. A provider repointed at another upstream
    /// (admin API, reload) starts fresh: the old upstream's failures say nothing about the new one.
    pub fn inherit_runtime(&mut self, previous: &Snapshot) {
        for (name, provider) in self.providers.iter_mut() {
            let (Some(old), Some(new)) = (previous.providers.get(name), Arc::get_mut(provider)) else { continue };
            if old.endpoint != new.endpoint {
                continue;
            }
            new.runtime.inherit(&old.runtime);
        }
    }

    /// Whether `presented` is one of the gateway's own secrets (the proxy key, the admin key): a key a client
    /// presents as its own provider key must never be one of them, or a passthrough provider would receive it.
    /// Virtual keys, when they come, belong here too.
    pub fn is_gateway_secret(&self, presented: &str) -> bool {
        [&self.proxy_key, &self.admin_key].into_iter().flatten().any(|secret| secret.matches(presented))
    }

    /// Provider names, comma-separated, for error messages that list what exists.
    pub fn provider_names(&self) -> String {
        self.providers.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

/// Everything loaded at startup: the listener and the first snapshot.
#[derive(Debug)]
pub struct Settings {
    pub listen: Listen,
    pub snapshot: Snapshot,
    /// Redis shared by the replicas for admin changes (`REDIS_URL`); a secret, since it may carry a password.
    pub redis_url: Option<Secret>,
    /// File and environment as merged before validation: the base that admin changes are re-applied on.
    pub raw: RawConfig,
    /// Virtual keys: data directory, lease time, store failure policy, declared keys and teams.
    pub keys: keys::KeySettings,
}
