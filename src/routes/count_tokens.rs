//! `POST /v1/messages/count_tokens`: Anthropic-format providers count upstream (same key rules as messages);
//! OpenAI-format providers, which have no counting endpoint, get a local estimate with a real tokenizer. Never a
//! billable generation call.

use std::sync::Arc;
use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::actors::forwarder::forward_upstream;
use crate::app::AppState;
use crate::config::{ApiFormat, Snapshot, UpstreamCall};
use crate::error::GatewayError;
use crate::proxy::admission::{admit, answer, Admitted};
use crate::proxy::anthropic_upstream;
use crate::proxy::body::{with_model, Required};
use crate::proxy::recorder::Recorder;
use crate::tokens::estimate_input_tokens;

pub async fn count_tokens(req: HttpRequest, payload: web::Payload, app: web::Data<AppState>) -> HttpResponse {
    let snapshot = app.snapshots.current();
    let mut recorder = Some(Recorder::start(app.metrics.clone(), "count_tokens", Instant::now()));
    let outcome = handle(&req, payload, &snapshot, &mut recorder).await;
    answer(outcome, recorder)
}

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    snapshot: &Arc<Snapshot>,
    recorder: &mut Option<Recorder>,
) -> Result<HttpResponse, GatewayError> {
    let Admitted { client_key, body, inspected, route } = admit(req, payload, snapshot, Required::CountTokens).await?;
    let target = route.primary();
    let mut recorder = recorder.take().ok_or_else(|| GatewayError::Internal("request recorded twice".into()))?;
    recorder.routed(&target.provider.name, &target.model, false);
    match target.provider.format {
        ApiFormat::Anthropic => {
            let reply = forward_upstream(
                &target.provider,
                &snapshot.limits,
                UpstreamCall::CountTokens,
                with_model(&body, &inspected, &target.model),
                req.headers(),
                client_key,
            )
            .await;
            match reply {
                Ok(reply) => Ok(anthropic_upstream::respond(reply, false, recorder, &target.provider.name).await),
                Err(error) => Ok(recorder.fail(&error)),
            }
        }
        ApiFormat::OpenAi => {
            let value: serde_json::Value = match serde_json::from_slice(&body) {
                Ok(value) => value,
                Err(e) => {
                    return Ok(
                        recorder.fail(&GatewayError::InvalidRequest(format!("request body is not valid JSON: {e}")))
                    )
                }
            };
            let model = target.model.clone();
            // Tokenising a long conversation takes milliseconds: keep it off the worker's event loop.
            let tokens = match web::block(move || estimate_input_tokens(&value, &model)).await {
                Ok(tokens) => tokens,
                Err(e) => return Ok(recorder.fail(&GatewayError::Internal(format!("token counting failed: {e}")))),
            };
            let ttfb = Some(recorder.elapsed());
            recorder.finish(200, None, Default::default(), ttfb);
            Ok(HttpResponse::Ok()
                .insert_header(("x-gatehouse-token-count", "estimate"))
                .json(json!({ "input_tokens": tokens })))
        }
    }
}
