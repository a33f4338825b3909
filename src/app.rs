//! Shared application state handed to every handler, and the route table.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use actix::Addr;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::actors::metrics::MetricsHandle;
use crate::actors::registry::{Registry, SnapshotHandle};
use crate::error::GatewayError;
use crate::models::ModelsCache;
use crate::routes;

/// What handlers need: the snapshot to route with and the actors to talk to.
#[derive(Clone)]
pub struct AppState {
    pub snapshots: SnapshotHandle,
    pub metrics: MetricsHandle,
    pub registry: Addr<Registry>,
    pub started: Instant,
    /// Provider model lists for `GET /v1/models`, shared by every worker.
    pub models: Arc<ModelsCache>,
}

/// The route table, shared by the binary and the tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(routes::root::root))
        .route("/", web::head().to(routes::root::root))
        .route("/health", web::get().to(routes::health::health))
        .route("/v1/messages", web::post().to(routes::messages::messages))
        .route("/v1/chat/completions", web::post().to(routes::chat_completions::chat_completions))
        .route("/v1/messages/count_tokens", web::post().to(routes::count_tokens::count_tokens))
        .route("/v1/models", web::get().to(routes::models::list_models))
        .route("/v1/aliases", web::get().to(routes::aliases::aliases))
        .route("/metrics", web::get().to(routes::metrics::prometheus))
        .route("/metrics/summary", web::get().to(routes::metrics::summary))
        .route("/metrics/series", web::get().to(routes::metrics::series))
        .route("/dashboard", web::get().to(routes::dashboard::dashboard))
        .configure(routes::admin::configure)
        .default_service(web::to(not_found));
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    error_response(&GatewayError::NotFound(format!("no route for {} {}", req.method(), req.path())))
}

/// A short unique id for each request, shown in logs and in the `x-gatehouse-request-id` response header.
pub fn next_request_id() -> String {
    static SEED: OnceLock<u32> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = SEED.get_or_init(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        nanos ^ std::process::id().rotate_left(16)
    });
    format!("gh-{seed:08x}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The `HttpResponse` for a handler error (kept here so every route renders errors the same way).
pub fn error_response(error: &GatewayError) -> HttpResponse {
    actix_web::ResponseError::error_response(error)
}
