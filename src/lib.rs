//! gatehouse: an LLM API gateway. Clients speak the Anthropic Messages API; requests are routed by
//! `provider:model` to Anthropic-format upstreams (passed through) or OpenAI-format upstreams (converted).

pub mod actors;
pub mod admin;
pub mod allocator;
pub mod app;
pub mod config;
pub mod convert;
pub mod error;
pub mod hooks;
pub mod json_number;
pub mod metrics;
pub mod models;
pub mod proxy;
pub mod registry;
pub mod replication;
pub mod routes;
pub mod secret;
pub mod sse;
pub mod tokens;
pub mod upstream;

use std::net::TcpListener;
use std::time::Instant;

use actix::Actor;
use actix_web::{web, App, HttpServer};

use actors::metrics::MetricsHandle;
use actors::registry::{Registry, SnapshotHandle};
use app::AppState;
use config::{ConfigSource, Settings};

/// How long a provider's model list is reused before it is fetched again.
pub const MODELS_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// Installs rustls' process-wide crypto provider (needed before the first TLS client is built). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Starts the actors and the HTTP server on `listener`. Must be called inside an actix system; the returned
/// server future runs until shutdown.
pub fn serve(
    settings: Settings,
    source: ConfigSource,
    listener: TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    install_crypto_provider();
    let grace = settings.snapshot.limits.shutdown_grace.as_secs();
    let snapshots = SnapshotHandle::new(settings.snapshot);
    let redis = settings
        .redis_url
        .map(|url| redis::Client::open(url.expose()))
        .transpose()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("REDIS_URL: {:?}", e.kind())))?;
    let live = registry::LiveConfig::new(source, settings.raw, snapshots.clone());
    let registry = Registry::new(live, redis).start();
    let metrics = MetricsHandle::start();
    let models = std::sync::Arc::new(models::ModelsCache::new(MODELS_CACHE_TTL, 1024));
    let state = AppState { snapshots, metrics, registry, started: Instant::now(), models };
    let server = HttpServer::new(move || App::new().app_data(web::Data::new(state.clone())).configure(app::configure))
        .workers(settings.listen.workers)
        .on_connect(proxy::disconnect::record_socket)
        .shutdown_timeout(grace)
        .listen(listener)?
        .run();
    Ok(server)
}
