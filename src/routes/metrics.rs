//! `GET /metrics/summary`: running totals as JSON.

use actix_web::{web, HttpResponse};

use crate::actors::metrics::GetSummary;
use crate::app::AppState;
use crate::error::GatewayError;

pub async fn summary(app: web::Data<AppState>) -> Result<HttpResponse, GatewayError> {
    let summary =
        app.metrics.send(GetSummary).await.map_err(|e| GatewayError::Internal(format!("metrics actor: {e}")))?;
    Ok(HttpResponse::Ok().json(summary))
}
