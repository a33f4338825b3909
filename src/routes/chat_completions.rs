//! `POST /v1/chat/completions`: the OpenAI-compatible route, for applications built on the OpenAI SDKs.
//!
//! Admission (client authentication, body limit, routing with aliases), fallbacks, hang-up detection and
//! recording are those of `/v1/messages`. To an
//! OpenAI-format provider the client's body goes through with only `model` rewritten and the answer comes back
//! unchanged; to an Anthropic-format provider the request is converted to Messages and the answer back to Chat
//! Completions (`convert::inbound`). Every error on this route is in the OpenAI shape.

use std::sync::Arc;
use std::time::Instant;

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

use crate::actors::forwarder::forward_upstream;
use crate::app::AppState;
use crate::config::{ApiFormat, Snapshot, UpstreamCall};
use crate::convert::inbound::to_anthropic_request;
use crate::error::GatewayError;
use crate::proxy::admission::{admit, Admitted};
use crate::proxy::body::{with_model, Required};
use crate::proxy::chat_from_anthropic::{self, Shape};
use crate::proxy::client_auth::{ClientKey, KeyStyle};
use crate::proxy::disconnect::client_gone;
use crate::proxy::openai_errors::answer_openai;
use crate::proxy::openai_passthrough;
use crate::proxy::recorder::Recorder;
use crate::proxy::routing::falls_back;

/// The route label in metrics and logs.
pub const ROUTE: &str = "chat_completions";

/// The handler: any failure, before or after routing, is answered in the OpenAI error shape.
pub async fn chat_completions(req: HttpRequest, payload: web::Payload, app: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let snapshot = app.snapshots.current();
    let mut recorder = Some(Recorder::start(app.metrics.clone(), ROUTE, started));
    let outcome = tokio::select! {
        outcome = handle(&req, payload, &snapshot, &mut recorder) => outcome,
        _ = client_gone(&req) => Err(GatewayError::ClientClosed),
    };
    answer_openai(outcome, recorder)
}

/// How the answer of one target is read.
enum Plan {
    /// OpenAI-format provider: relayed.
    Passthrough,
    /// Anthropic-format provider: converted.
    Convert { include_usage: bool },
}

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    snapshot: &Arc<Snapshot>,
    recorder: &mut Option<Recorder>,
) -> Result<HttpResponse, GatewayError> {
    let Admitted { client_key, body, inspected, route } =
        admit(req, payload, snapshot, Required::ChatCompletions).await?;
    // Parsed into a tree only if an Anthropic-format target needs converting, and then once.
    let mut tree: Option<serde_json::Value> = None;
    for (i, target) in route.targets.iter().enumerate() {
        let provider = &target.provider;
        if let Some(r) = recorder.as_mut() {
            r.routed(&provider.name, &target.model, inspected.stream);
        }
        let (upstream_body, plan, key) = match provider.format {
            ApiFormat::OpenAi => (with_model(&body, &inspected, &target.model), Plan::Passthrough, client_key.clone()),
            ApiFormat::Anthropic => {
                let value =
                    match &tree {
                        Some(value) => value,
                        None => tree.insert(serde_json::from_slice(&body).map_err(|e| {
                            GatewayError::InvalidRequest(format!("request body is not valid JSON: {e}"))
                        })?),
                    };
                let converted = to_anthropic_request(value, &target.model)
                    .map_err(|e| GatewayError::InvalidRequest(e.to_string()))?;
                let bytes = serde_json::to_vec(&converted.body)
                    .map_err(|e| GatewayError::Internal(format!("serialising request: {e}")))?;
                let plan = Plan::Convert { include_usage: converted.include_usage };
                (Bytes::from(bytes).into(), plan, client_key.clone().map(anthropic_style))
            }
        };
        // Until the head arrives, a client that goes away drops this future and with it the upstream request.
        let result =
            forward_upstream(provider, &snapshot.limits, UpstreamCall::Messages, upstream_body, req.headers(), key)
                .await;
        if falls_back(&result, &route.targets, i) {
            continue;
        }
        let reply = result?;
        let recorder = recorder.take().ok_or_else(|| GatewayError::Internal("request recorded twice".into()))?;
        let name = provider.name.as_str();
        return Ok(match plan {
            Plan::Passthrough => openai_passthrough::respond(reply, inspected.stream, recorder, name).await,
            Plan::Convert { include_usage } => {
                let shape = Shape { requested_model: &inspected.model, streamed: inspected.stream, include_usage };
                chat_from_anthropic::respond(reply, shape, recorder, name).await
            }
        });
    }
    Err(GatewayError::Internal("route without targets".into()))
}

/// OpenAI SDKs send their key as `Authorization: Bearer`; Anthropic's API takes API keys in `x-api-key` (Bearer
/// is for OAuth tokens, `sk-ant-oat…`), so a passthrough key is presented the Anthropic way.
fn anthropic_style(key: ClientKey) -> ClientKey {
    if key.key.starts_with("sk-ant-oat") {
        key
    } else {
        ClientKey { style: KeyStyle::XApiKey, ..key }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_api_keys_become_x_api_key_but_oauth_tokens_stay() {
        let key = |k: &str| ClientKey { key: k.into(), style: KeyStyle::Bearer };
        assert_eq!(anthropic_style(key("sk-ant-api03-x")).style, KeyStyle::XApiKey);
        assert_eq!(anthropic_style(key("sk-ant-oat01-x")).style, KeyStyle::Bearer);
    }
}
