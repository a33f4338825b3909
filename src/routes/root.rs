//! `GET /` and `HEAD /`: a reachability probe (Claude Code sends `HEAD /` before its first request); and the
//! answer for every path no route serves.

use actix_web::{HttpRequest, HttpResponse};

use crate::error::{render, GatewayError};
use crate::gateway::admission::guard::dialect_of;

pub async fn root() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "name": "gatehouse",
        "version": env!("CARGO_PKG_VERSION"),
        "endpoints": ["/v1/messages", "/health", "/metrics/summary"],
    }))
}

/// Any request no route serves: 404 in the dialect of its path (Bedrock's under `/bedrock/`, …; Anthropic's
/// envelope elsewhere).
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    render::response(
        dialect_of(req.path()),
        &GatewayError::NotFound(format!("no route for {} {}", req.method(), req.path())),
    )
}
