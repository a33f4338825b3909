//! `GET /` and `HEAD /`: a reachability probe (Claude Code sends `HEAD /` before its first request).

use actix_web::HttpResponse;

pub async fn root() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "name": "gatehouse",
        "version": env!("CARGO_PKG_VERSION"),
        "endpoints": ["/v1/messages", "/health", "/metrics/summary"],
    }))
}
