//! `GET /metrics` (Prometheus text or OpenMetrics, by `Accept`), `GET /metrics/summary` (running totals as JSON)
//! and `GET /metrics/series` (the last minutes, second by second, as JSON). All three ask the metrics actor.

use actix::dev::ToEnvelope;
use actix::{Handler, Message};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::actors::metrics::{GetSeries, GetSummary, MetricsActor, RenderPrometheus};
use crate::error::GatewayError;
use crate::keys::usd;
use crate::limits::store::SubjectRef;
use crate::metrics::series::SECONDS;
use crate::metrics::{Format, ProviderHealth};
use crate::resilience::runtime::now_millis;
use crate::state::AppState;

/// Sends `msg` to the metrics actor and waits for the answer.
async fn ask<M>(app: &AppState, msg: M) -> Result<M::Result, GatewayError>
where
    M: Message + Send + 'static,
    M::Result: Send,
    MetricsActor: Handler<M>,
    <MetricsActor as actix::Actor>::Context: ToEnvelope<MetricsActor, M>,
{
    // This worker's batch first, so a client that just finished a request sees it counted.
    app.metrics.flush_local();
    app.metrics.addr().send(msg).await.map_err(|e| GatewayError::Internal(format!("metrics actor: {e}")))
}

pub async fn prometheus(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, GatewayError> {
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let providers = app
        .snapshots
        .current()
        .providers
        .values()
        .map(|p| ProviderHealth {
            provider: p.name.clone(),
            breaker: p.runtime.breaker.state(),
            keys_cooling_down: p.runtime.keys.cooling(),
        })
        .collect();
    let mut text = ask(&app, RenderPrometheus(format, providers)).await?;
    append_store_up(&mut text, app.limits.is_up());
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text))
}

pub async fn summary(app: web::Data<AppState>) -> Result<HttpResponse, GatewayError> {
    let mut summary = ask(&app, GetSummary).await?;
    // Each key's remaining budget comes from the limits store (where reservations and spend are), not the metrics.
    let now = now_millis();
    for key in app.keys.current().keys().filter(|k| k.limits.budget_nanos.is_some()) {
        let subject = SubjectRef { id: key.id.clone(), limits: key.limits.clone() };
        if let (Ok(usage), Some(budget)) = (app.limits.usage(&subject, now).await, key.limits.budget_nanos) {
            let remaining = budget.saturating_sub(usage.spent.saturating_add(usage.reserved.nanos));
            summary.set_remaining_budget(&key.name, Some(usd(remaining)));
        }
    }
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(summary))
}

/// Query of `GET /metrics/series`: `window` seconds back (default and most: the ring's 15 minutes less the
/// current second), in steps of `step` seconds (default: as fine as 300 points allow).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeriesQuery {
    window: Option<u64>,
    step: Option<u64>,
}

pub async fn series(req: HttpRequest, app: web::Data<AppState>) -> Result<HttpResponse, GatewayError> {
    let query = web::Query::<SeriesQuery>::from_query(req.query_string())
        .map_err(|e| GatewayError::InvalidRequest(format!("query: {e} (expected window=SECONDS&step=SECONDS)")))?;
    let window = query.window.unwrap_or(SECONDS - 1);
    let step = query.step.unwrap_or(1);
    let view = ask(&app, GetSeries { window, step }).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(view))
}

/// `gatehouse_limits_store_up`: whether the limits store answers (1) or not (0). Read at scrape time from the
/// store, outside the metrics registry, and written where the format allows (before OpenMetrics' `# EOF`).
fn append_store_up(text: &mut String, up: bool) {
    let lines = format!(
        "# HELP gatehouse_limits_store_up Whether the limits store of virtual keys (Redis or embedded) answers.\n\
         # TYPE gatehouse_limits_store_up gauge\ngatehouse_limits_store_up {}\n",
        u8::from(up)
    );
    match text.rfind("# EOF") {
        Some(at) => text.insert_str(at, &lines),
        None => text.push_str(&lines),
    }
}
