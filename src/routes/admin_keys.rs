//! The admin API of virtual keys and teams (`/admin/keys`, `/admin/teams`): create (the key's secret shown
//! once), list (never a secret), show with usage, change, delete. Authenticated like every admin route; the
//! changes themselves (validation, storage, propagation, the audit log) are the keyring's.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::admin::auth::authorize;
use crate::error::GatewayError;
use crate::gateway::admission::body::{read_limited, BodyDeadlines};
use crate::keys::{key_json, team_json};
use crate::limits::period::rfc3339;
use crate::state::AppState;

/// Largest key or team body accepted (metadata included).
const MAX_BODY: usize = 64 * 1024;

/// Registers the key and team routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/keys", web::post().to(create_key))
        .route("/admin/keys", web::get().to(list_keys))
        .route("/admin/keys/{id}", web::get().to(show_key))
        .route("/admin/keys/{id}", web::patch().to(update_key))
        .route("/admin/keys/{id}", web::delete().to(delete_key))
        .route("/admin/teams", web::post().to(create_team))
        .route("/admin/teams", web::get().to(list_teams))
        .route("/admin/teams/{id}", web::get().to(show_team))
        .route("/admin/teams/{id}", web::patch().to(update_team))
        .route("/admin/teams/{id}", web::delete().to(delete_team));
}

fn caller(req: &HttpRequest, app: &AppState) -> Result<String, GatewayError> {
    authorize(req, app.snapshots.current().admin_key.as_ref())
}

async fn body(req: &HttpRequest, payload: web::Payload, app: &AppState) -> Result<web::Bytes, GatewayError> {
    let deadlines = BodyDeadlines::of(&app.snapshots.current().limits);
    read_limited(payload, req.headers(), MAX_BODY, deadlines).await
}

async fn create_key(
    req: HttpRequest,
    payload: web::Payload,
    app: web::Data<AppState>,
) -> Result<HttpResponse, GatewayError> {
    let by = caller(&req, &app)?;
    let body = body(&req, payload, &app).await?;
    let (key, secret) = app.keyring.create_key(&body, &by).await?;
    let mut shown = key_json(&key);
    shown["key"] = json!(secret);
    Ok(HttpResponse::build(StatusCode::CREATED).insert_header(("cache-control", "no-store")).json(shown))
}

async fn list_keys(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, GatewayError> {
    caller(&req, &app)?;
    let directory = app.keyring.directory();
    let mut keys: Vec<Value> = directory.keys().map(|k| key_json(k)).collect();
    keys.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(HttpResponse::Ok().json(json!({ "keys": keys })))
}

async fn show_key(
    req: HttpRequest,
    id: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, GatewayError> {
    caller(&req, &app)?;
    let directory = app.keyring.directory();
    let key = directory.key(&id).ok_or_else(|| GatewayError::NotFound(format!("no key '{id}'")))?;
    Ok(HttpResponse::Ok().json(app.keyring.key_status(key).await?))
}

async fn update_key(
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    app: web::Data<AppState>,
) -> Result<HttpResponse, GatewayError> {
    let by = caller(&req, &app)?;
    let body = body(&req, payload, &app).await?;
    let key = app.keyring.update_key(&id, &body, &by).await?;
    Ok(HttpResponse::Ok().json(key_json(&key)))
}

async fn delete_key(
    req: HttpRequest,
    id: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, GatewayError> {
    let by = caller(&req, &app)?;
    let key = app.keyring.delete_key(&id, &by).await?;
    let now = crate::limits::now_ms();
    Ok(HttpResponse::Ok().json(json!({ "id": key.id, "name": key.name, "deleted": true, "revoked_at": rfc3339(now) })))
}

async fn create_team(
    req: HttpRequest,
    payload: web::Payload,
    app: web::Data<AppState>,
) -> Result<HttpResponse, GatewayError> {
    let by = caller(&req, &app)?;
    let body = body(&req, payload, &app).await?;
    let team = app.keyring.create_team(&body, &by).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(team_json(&team)))
}

async fn list_teams(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, GatewayError> {
    caller(&req, &app)?;
    let directory = app.keyring.directory();
    let mut teams: Vec<Value> = directory.teams().map(|t| team_json(t)).collect();
    teams.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Ok(HttpResponse::Ok().json(json!({ "teams": teams })))
}

async fn show_team(
    req: HttpRequest,
    id: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, GatewayError> {
    caller(&req, &app)?;
    let team = app.keyring.team(&id).ok_or_else(|| GatewayError::NotFound(format!("no team '{id}'")))?;
    Ok(HttpResponse::Ok().json(app.keyring.team_status(&team).await?))
}

async fn update_team(
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
    app: web::Data<AppState>,
) -> Result<HttpResponse, GatewayError> {
    let by = caller(&req, &app)?;
    let body = body(&req, payload, &app).await?;
    let team = app.keyring.update_team(&id, &body, &by).await?;
    Ok(HttpResponse::Ok().json(team_json(&team)))
}

async fn delete_team(
    req: HttpRequest,
    id: web::Path<String>,
    app: web::Data<AppState>,
) -> Result<HttpResponse, GatewayError> {
    let by = caller(&req, &app)?;
    let team = app.keyring.delete_team(&id, &by).await?;
    Ok(HttpResponse::Ok().json(json!({ "id": team.id, "name": team.name, "deleted": true })))
}
