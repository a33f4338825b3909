//! `GET /health`: liveness plus what is configured, never a key. Always 200 while the process serves: the
//! limits store's state (kind, up or down, failure policy) is reported, not judged.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::state::AppState;

pub async fn health(app: web::Data<AppState>) -> HttpResponse {
    let snapshot = app.snapshots.current();
    let providers: Vec<_> = snapshot
        .providers
        .values()
        .map(|p| {
            json!({
                "name": p.name,
                "format": p.format,
                "base_url": p.base_url,
                "auth": p.auth.mode(),
                "keys": p.key_count(),
                "keys_cooling_down": p.runtime.keys.cooling(),
                "circuit_breaker": p.runtime.breaker.state(),
                "origin": p.origin,
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "config_version": snapshot.version,
        "uptime_seconds": app.started.elapsed().as_secs(),
        "default_provider": snapshot.default_provider,
        "proxy_auth": snapshot.proxy_key.is_some(),
        "providers": providers,
        "limits_store": app.limits.status(),
        "keys": keys_state(&app),
    }))
}

/// Whether virtual keys are in use and loaded, and how many there are.
fn keys_state(app: &AppState) -> serde_json::Value {
    let directory = app.keys.current();
    json!({
        "in_use": directory.in_use(),
        "loaded": directory.loaded(),
        "keys": directory.keys().count(),
        "teams": directory.teams().count(),
    })
}
