//! Amazon Bedrock's runtime API, for Claude Code in Bedrock mode (`ANTHROPIC_BEDROCK_BASE_URL=<gateway>/bedrock`)
//! and the SDKs' Bedrock clients: `POST /bedrock/model/{id}/invoke`, `/invoke-with-response-stream` and
//! `/count-tokens` through the pipeline, and the inference-profile listing Claude Code asks for at startup. The
//! model id may hold raw `:` and `/` (an inference-profile ARN) or their percent-encodings.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use super::root::not_found;
use crate::error::{render, Dialect};
use crate::gateway::admission::cloud::bedrock_endpoint;
use crate::gateway::serve;
use crate::state::AppState;

/// `POST /bedrock/model/{id}/invoke`, `/invoke-with-response-stream` and `/count-tokens`: the last segment names
/// the endpoint; anything else under `/bedrock/` is a 404.
pub async fn model(req: HttpRequest, payload: web::Payload, app: web::Data<AppState>) -> HttpResponse {
    if req.method() != Method::POST || !req.path().starts_with("/bedrock/model/") {
        return not_found(req).await;
    }
    match bedrock_endpoint(req.path()) {
        Ok((endpoint, id)) if !id.is_empty() => serve(endpoint, req, payload, &app).await,
        Ok(_) => not_found(req).await,
        Err(error) => render::response(Dialect::Bedrock, &error),
    }
}

/// `GET /bedrock/inference-profiles`: none. Claude Code lists the profiles at startup and probes each model the
/// listing names with a real (billable) one-token request; an empty list means no probes. Any model id is routed
/// when it is used.
pub async fn inference_profiles() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(r#"{"inferenceProfileSummaries":[]}"#)
}
