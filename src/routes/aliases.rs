//! `GET /v1/aliases`: every configured model alias and what it resolves to.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::config::routing::list_aliases;
use crate::state::AppState;

pub async fn aliases(app: web::Data<AppState>) -> HttpResponse {
    let snapshot = app.snapshots.current();
    HttpResponse::Ok().json(json!({ "data": list_aliases(&snapshot) }))
}
