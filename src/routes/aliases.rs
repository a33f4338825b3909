//! `GET /v1/aliases`: every configured model alias and what it resolves to. Once virtual keys are in use, like
//! every `/v1/*` route, it needs one.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::config::routing::list_aliases;
use crate::error::{render, Dialect};
use crate::gateway::admission::credentials;
use crate::state::AppState;

pub async fn aliases(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    let snapshot = app.snapshots.current();
    let directory = app.keys.current();
    if directory.in_use() {
        if let Err(refused) = credentials(req.headers(), &snapshot, &directory) {
            return render::response(Dialect::Anthropic, &refused.error);
        }
    }
    HttpResponse::Ok().json(json!({ "data": list_aliases(&snapshot) }))
}
