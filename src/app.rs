//! Shared application state handed to every handler, and the route table.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use actix::Addr;
use actix_web::http::Method;
use actix_web::{guard, web, HttpRequest, HttpResponse};

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
    cfg.route("/", on(Method::GET).to(routes::root::root))
        .route("/", on(Method::HEAD).to(routes::root::root))
        .route("/health", on(Method::GET).to(routes::health::health))
        .route("/v1/messages", on(Method::POST).to(routes::messages::messages))
        .route("/v1/chat/completions", on(Method::POST).to(routes::chat_completions::chat_completions))
        .route("/v1/messages/count_tokens", on(Method::POST).to(routes::count_tokens::count_tokens))
        .route("/v1/models", on(Method::GET).to(routes::models::list_models))
        .route("/v1/aliases", on(Method::GET).to(routes::aliases::aliases))
        .route("/metrics", on(Method::GET).to(routes::metrics::prometheus))
        .route("/metrics/summary", on(Method::GET).to(routes::metrics::summary))
        .route("/metrics/series", on(Method::GET).to(routes::metrics::series))
        .route("/dashboard", on(Method::GET).to(routes::dashboard::dashboard))
        .configure(routes::admin::configure)
        .default_service(web::to(not_found));
}

/// A route for one method. actix-web's own method routes (`web::post()`) record the method in the request's
/// extensions every time they are checked (two allocations per request, for a 405 `Allow` header this route
/// table never sends: unmatched requests get the 404 envelope); this guard only compares.
fn on(method: Method) -> actix_web::Route {
    web::route().guard(guard::fn_guard(move |ctx| ctx.head().method == method))
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    error_response(&GatewayError::NotFound(format!("no route for {} {}", req.method(), req.path())))
}

/// A short unique id for each request, shown in logs and in the `x-gatehouse-request-id` response header.
pub fn next_request_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        format!("gh-{:08x}-", nanos ^ std::process::id().rotate_left(16))
    });
    // The counter in lower-case hex, written by hand: `format!` was a visible share of a request's instructions.
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[(rest & 0xf) as usize];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    let mut id = String::with_capacity(prefix.len() + digits.len() - at);
    id.push_str(prefix);
    id.extend(digits[at..].iter().map(|&d| char::from(d)));
    id
}

/// The `HttpResponse` for a handler error (kept here so every route renders errors the same way).
pub fn error_response(error: &GatewayError) -> HttpResponse {
    actix_web::ResponseError::error_response(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_and_shaped_gh_seed_counter() {
        let (a, b) = (next_request_id(), next_request_id());
        assert_ne!(a, b);
        for id in [&a, &b] {
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(parts.len(), 3, "{id}");
            assert_eq!(parts[0], "gh");
            assert_eq!(parts[1].len(), 8, "{id}");
            assert!(parts[1..].iter().all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_hexdigit())), "{id}");
            assert!(!parts[2].starts_with('0') || parts[2] == "0", "no leading zeros: {id}");
        }
        let counter = |id: &str| u64::from_str_radix(id.rsplit('-').next().unwrap(), 16).unwrap();
        assert!(counter(&b) > counter(&a));
    }
}
