//! gatehouse: an LLM API gateway. Clients speak the Anthropic Messages API (or OpenAI Chat Completions); requests
//! are routed by `provider:model` to Anthropic-format upstreams (passed through) or OpenAI-format upstreams
//! (converted). `docs/architecture.md` shows the request's path and where each concern lives.

pub mod actors;
pub mod admin;
pub mod allocator;
pub mod cloud;
pub mod config;
pub mod convert;
pub mod error;
pub mod gateway;
pub mod hooks;
pub mod hops;
pub mod json;
pub mod keys;
pub mod limits;
pub mod log_safe;
pub mod metrics;
pub mod models;
pub mod prices;
pub mod registry;
pub mod replication;
pub mod resilience;
pub mod routes;
pub mod secret;
pub mod sse;
pub mod state;
pub mod tokens;
pub mod upstream;

use std::net::TcpListener;
use std::time::Instant;

use actix::Actor;
use actix_web::http::Method;
use actix_web::{guard, web, App, HttpServer};

use actors::forwarder::ForwarderHandle;
use actors::metrics::MetricsHandle;
use actors::registry::{Registry, SnapshotHandle};
use config::{ConfigSource, Settings};
use gateway::admission::guard::RequestGuard;
use state::AppState;

/// How long a provider's model list is reused before it is fetched again.
pub const MODELS_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// Installs rustls' process-wide crypto provider (needed before the first TLS client is built). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The running server: await it (it ends after a graceful shutdown, once the limits store has written what is
/// pending), or stop it through its handle.
pub struct Serving {
    server: actix_web::dev::Server,
    limits: limits::Store,
}

impl Serving {
    /// Stops or pauses the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

impl std::future::IntoFuture for Serving {
    type Output = std::io::Result<()>;
    type IntoFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Self::Output>>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            let result = self.server.await;
            // Every worker has stopped: nothing settles any more. Write the last ledgers or settlements.
            self.limits.flush().await;
            result
        })
    }
}

/// The keys' directory, the ledgers and the keyring: in Redis with `REDIS_URL`, else under `DATA_DIR`.
fn key_stores(
    settings: &config::keys::KeySettings,
    redis: Option<&redis::Client>,
) -> std::io::Result<(keys::DirectoryHandle, limits::Store, keys::Keyring)> {
    let failed = |e: limits::StoreError| std::io::Error::other(e.0);
    let directory = keys::DirectoryHandle::default();
    let declared = settings.declared.clone();
    let (store, keyring) = match redis {
        Some(client) => {
            let link = limits::redis::RedisLink::new(client.clone()).map_err(failed)?;
            let policy = settings.on_store_failure;
            let clock = limits::redis::Clock::Redis;
            let store = limits::Store::redis(link.clone(), policy, settings.lease_ttl, clock, settings.standby);
            let keyring = keys::Keyring::redis(link, declared, store.clone(), directory.clone());
            log::info!("virtual keys and limits in Redis (on store failure: {})", policy.name());
            (store, keyring)
        }
        None => {
            let db = limits::db::Db::open(&settings.data_dir).map_err(failed)?;
            let store = limits::Store::persisted(db.clone(), settings.lease_ttl).map_err(failed)?;
            let keyring =
                keys::Keyring::embedded(db.clone(), declared, store.clone(), directory.clone()).map_err(failed)?;
            log::info!("virtual keys and limits in {}", db.path().display());
            (store, keyring)
        }
    };
    store.start();
    keyring.start();
    Ok((directory, store, keyring))
}

/// Starts the actors and the HTTP server on `listener`. Must be called inside an actix system; the returned
/// future runs until shutdown.
pub fn serve(settings: Settings, source: ConfigSource, listener: TcpListener) -> std::io::Result<Serving> {
    install_crypto_provider();
    let grace = settings.snapshot.limits.shutdown_grace.as_secs();
    let snapshots = SnapshotHandle::new(settings.snapshot);
    let redis = settings
        .redis_url
        .map(|url| redis::Client::open(url.expose()))
        .transpose()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("REDIS_URL: {:?}", e.kind())))?;
    let (directory, limits, keyring) = key_stores(&settings.keys, redis.as_ref())?;
    let live = registry::LiveConfig::new(source, settings.raw, snapshots.clone());
    let registry = Registry::new(live, redis).start();
    let metrics = MetricsHandle::start();
    let models = std::sync::Arc::new(models::ModelsCache::new(MODELS_CACHE_TTL, 1024));
    let started = Instant::now();
    let guard = std::sync::Arc::new(RequestGuard::new(&settings.listen, listener.local_addr().ok()));
    let ledgers = limits.clone();
    // Called once per worker thread: each worker gets its own forwarder (its upstream connections).
    let server = HttpServer::new(move || {
        let state = AppState {
            snapshots: snapshots.clone(),
            metrics: metrics.clone(),
            registry: registry.clone(),
            started,
            models: models.clone(),
            forwarder: ForwarderHandle::start(),
            keys: directory.clone(),
            limits: limits.clone(),
            keyring: keyring.clone(),
        };
        let guard = guard.clone();
        App::new()
            .app_data(web::Data::new(state))
            .wrap_fn(move |req, service| guard.serve(req, service))
            .configure(configure)
    })
    .workers(settings.listen.workers)
    .on_connect(gateway::admission::disconnect::record_socket)
    .shutdown_timeout(grace)
    .listen(listener)?
    .run();
    Ok(Serving { server, limits: ledgers })
}

/// The route table, shared by the binary and the tests. Every route is behind the request guard (`serve` wraps
/// the app in it).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", on(Method::GET).to(routes::root::root))
        .route("/", on(Method::HEAD).to(routes::root::root))
        .route("/health", on(Method::GET).to(routes::health::health))
        .route("/health", on(Method::HEAD).to(routes::health::health))
        .route("/v1/messages", on(Method::POST).to(routes::messages::messages))
        .route("/v1/chat/completions", on(Method::POST).to(routes::chat_completions::chat_completions))
        .route("/v1/messages/count_tokens", on(Method::POST).to(routes::count_tokens::count_tokens))
        .route("/v1/models", on(Method::GET).to(routes::models::list_models))
        .route("/bedrock/inference-profiles", on(Method::GET).to(routes::bedrock::inference_profiles))
        // The cloud dialects' model paths are matched by prefix and read by their handlers: a pattern route
        // (`/bedrock/model/{id}/invoke`) is matched by a regex, which cost more than the rest of the request's
        // routing (some 30,000 instructions), on these paths and every path checked after them.
        .service(web::scope("/bedrock").default_service(web::to(routes::bedrock::model)))
        .service(web::scope("/vertex").default_service(web::to(routes::vertex::model)))
        .route("/v1/aliases", on(Method::GET).to(routes::aliases::aliases))
        .route("/v1/me", on(Method::GET).to(routes::me::me))
        .route("/metrics", on(Method::GET).to(routes::metrics::prometheus))
        .route("/metrics/summary", on(Method::GET).to(routes::metrics::summary))
        .route("/metrics/series", on(Method::GET).to(routes::metrics::series))
        .route("/dashboard", on(Method::GET).to(routes::dashboard::dashboard))
        .configure(routes::admin::configure)
        .default_service(web::to(routes::root::not_found));
}

/// A route for one method. actix-web's own method routes (`web::post()`) record the method in the request's
/// extensions every time they are checked (two allocations per request, for a 405 `Allow` header this route
/// table never sends: unmatched requests get the 404 envelope); this guard only compares.
fn on(method: Method) -> actix_web::Route {
    web::route().guard(guard::fn_guard(move |ctx| ctx.head().method == method))
}
