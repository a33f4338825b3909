//! `POST /v1/messages`: authenticate, read and inspect the body, route by model, forward through the provider's
//! forwarder on this worker, and answer with the upstream's response (relayed or converted).

use std::sync::Arc;
use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::actors::forwarder::forward_upstream;
use crate::app::AppState;
use crate::config::{ApiFormat, Snapshot, UpstreamCall};
use crate::error::GatewayError;
use crate::proxy::admission::{admit, answer, Admitted};
use crate::proxy::body::{with_model, Required};
use crate::proxy::disconnect::client_gone;
use crate::proxy::openai_upstream::convert_request;
use crate::proxy::recorder::Recorder;
use crate::proxy::routing::falls_back;
use crate::proxy::{anthropic_upstream, openai_upstream};

pub async fn messages(req: HttpRequest, payload: web::Payload, app: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let snapshot = app.snapshots.current();
    let mut recorder = Some(Recorder::start(app.metrics.clone(), "messages", started));
    let outcome = tokio::select! {
        outcome = handle(&req, payload, &snapshot, &mut recorder) => outcome,
        _ = client_gone(&req) => Err(GatewayError::ClientClosed),
    };
    answer(outcome, recorder)
}

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    snapshot: &Arc<Snapshot>,
    recorder: &mut Option<Recorder>,
) -> Result<HttpResponse, GatewayError> {
    let Admitted { client_key, body, inspected, route } = admit(req, payload, snapshot, Required::Messages).await?;
    for (i, target) in route.targets.iter().enumerate() {
        let provider = &target.provider;
        if let Some(r) = recorder.as_mut() {
            r.routed(&provider.name, &target.model, inspected.stream);
        }
        let (upstream_body, names) = match provider.format {
            ApiFormat::Anthropic => (with_model(&body, &inspected, &target.model), None),
            ApiFormat::OpenAi => {
                let converted = convert_request(&body, &target.model, provider)?;
                (converted.body.into(), Some((converted.names, converted.hooks)))
            }
        };
        let result = forward_upstream(
            provider,
            &snapshot.limits,
            UpstreamCall::Messages,
            upstream_body,
            req.headers(),
            client_key.clone(),
        )
        .await;
        if falls_back(&result, &route.targets, i) {
            continue;
        }
        let reply = result?;
        let recorder = recorder.take().ok_or_else(|| GatewayError::Internal("request recorded twice".into()))?;
        let name = provider.name.as_str();
        return Ok(match names {
            None => anthropic_upstream::respond(reply, inspected.stream, recorder, name).await,
            Some(read_back) => {
                openai_upstream::respond(reply, inspected.stream, &inspected.model, read_back, recorder, name).await
            }
        });
    }
    Err(GatewayError::Internal("route without targets".into()))
}
