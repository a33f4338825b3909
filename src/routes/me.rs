//! `GET /v1/me`: a virtual key's holder sees its own key — limits, allowed models, usage and remaining budget, and
//! its team's — without the admin key.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{render, Dialect, GatewayError};
use crate::gateway::admission::credentials;
use crate::keys::{key_json, team_json, usage_json};
use crate::limits::store::SubjectRef;
use crate::limits::Limits;
use crate::resilience::runtime::now_millis;
use crate::state::AppState;

pub async fn me(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    match describe(&req, &app).await {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(error) => render::response(Dialect::Anthropic, &error),
    }
}

async fn describe(req: &HttpRequest, app: &AppState) -> Result<serde_json::Value, GatewayError> {
    let snapshot = app.snapshots.current();
    let caller = credentials(req.headers(), &snapshot, &app.keys.current()).map_err(|refused| refused.error)?.caller;
    let Some(holder) = caller.holder() else {
        return Err(GatewayError::InvalidRequest(
            "GET /v1/me describes a virtual key: present one in x-gatehouse-key, x-api-key or Authorization".into(),
        ));
    };
    let (key, team) = holder.subjects();
    let mut body = key_json(&holder.key);
    body["usage"] = usage_of(app, &key).await?;
    if let (Some(team), Some(subject)) = (&holder.team, team) {
        let mut team_body = team_json(team);
        team_body["usage"] = usage_of(app, &subject).await?;
        body["team"] = team_body;
    }
    Ok(body)
}

async fn usage_of(app: &AppState, subject: &SubjectRef) -> Result<serde_json::Value, GatewayError> {
    let now = now_millis();
    let usage = app
        .limits
        .usage(subject, now)
        .await
        .map_err(|e| GatewayError::Unavailable(format!("the limits store is unavailable: {}", e.0)))?;
    let period_end = period_end(&subject.limits, now);
    Ok(usage_json(&subject.limits, &usage, period_end))
}

fn period_end(limits: &Limits, now: u64) -> Option<u64> {
    limits.budget_period.span(now).1
}
