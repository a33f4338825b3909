//! The admin API (`/admin/*`): list, create, replace and remove providers, reload, and show the effective
//! configuration. Every handler authenticates first (404 when the admin API is disabled, 401 without the right
//! bearer token); changes go to the registry actor, which validates, stores, publishes and logs them.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::actors::registry::{ApplyEdit, Describe, Reload};
use crate::admin::auth::authorize;
use crate::admin::body::provider_from_json;
use crate::admin::view;
use crate::error::GatewayError;
use crate::gateway::admission::body::{read_limited, BodyDeadlines};
use crate::registry::{Edit, Transition};
use crate::state::AppState;

/// Largest provider body accepted (a provider definition is a few hundred bytes).
const MAX_ADMIN_BODY: usize = 64 * 1024;

/// Registers the admin routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/providers", web::get().to(list_providers))
        .route("/admin/providers/{name}", web::put().to(put_provider))
        .route("/admin/providers/{name}", web::delete().to(delete_provider))
        .route("/admin/reload", web::post().to(reload))
        .route("/admin/config", web::get().to(config))
        .configure(super::admin_keys::configure);
}

fn caller(req: &HttpRequest, app: &AppState) -> Result<String, GatewayError> {
    authorize(req, app.snapshots.current().admin_key.as_ref())
}

async fn list_providers(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, GatewayError> {
    let by = caller(&req, &app)?;
    log::info!("admin {by}: list providers");
    Ok(HttpResponse::Ok().json(view::providers(&app.snapshots.current())))
}

async fn put_provider(
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
    app: web::Data<AppState>,
) -> Result<HttpResponse, GatewayError> {
    let by = caller(&req, &app)?;
    let deadlines = BodyDeadlines::of(&app.snapshots.current().limits);
    let body = read_limited(payload, req.headers(), MAX_ADMIN_BODY, deadlines).await?;
    let provider = provider_from_json(&body)?;
    let edit = Edit::Upsert { name: name.into_inner(), provider };
    change(&app, edit, by).await
}

async fn delete_provider(
    req: HttpRequest,
    name: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, GatewayError> {
    let by = caller(&req, &app)?;
    change(&app, Edit::Remove { name: name.into_inner() }, by).await
}

async fn change(app: &AppState, edit: Edit, by: String) -> Result<HttpResponse, GatewayError> {
    let name = edit.name();
    let transition = app.registry.send(ApplyEdit { edit, by }).await.map_err(registry_gone)??;
    let snapshot = app.snapshots.current();
    let mut body = versions(&transition);
    body["provider"] = json!(snapshot.providers.get(&name).map(|p| view::ProviderView::of(p)));
    Ok(HttpResponse::Ok().json(body))
}

async fn reload(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, GatewayError> {
    let by = caller(&req, &app)?;
    let transition = app.registry.send(Reload { by }).await.map_err(registry_gone)??;
    Ok(HttpResponse::Ok().json(versions(&transition)))
}

async fn config(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, GatewayError> {
    let by = caller(&req, &app)?;
    log::info!("admin {by}: show config");
    let description = app.registry.send(Describe).await.map_err(registry_gone)?;
    Ok(HttpResponse::Ok().json(view::config(&description)))
}

fn versions(t: &Transition) -> serde_json::Value {
    json!({ "config_version": t.to, "previous_config_version": t.from, "overlay_version": t.overlay_to })
}

fn registry_gone(error: actix::MailboxError) -> GatewayError {
    GatewayError::Internal(format!("configuration registry unavailable: {error}"))
}
