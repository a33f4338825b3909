//! Amazon Bedrock's runtime API, for Claude Code in Bedrock mode (`ANTHROPIC_BEDROCK_BASE_URL=<gateway>/bedrock`)
//! and the SDKs' Bedrock clients: `POST /bedrock/model/{id}/invoke`, `/invoke-with-response-stream` and
//! `/count-tokens` through the pipeline, and the inference-profile listing Claude Code asks for at startup.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::gateway::{serve, Endpoint};
use crate::state::AppState;

/// `POST /bedrock/model/{id}/invoke`.
pub async fn invoke(req: HttpRequest, payload: web::Payload, app: web::Data<AppState>) -> HttpResponse {
    serve(Endpoint::BedrockInvoke, req, payload, &app).await
}

/// `POST /bedrock/model/{id}/invoke-with-response-stream`.
pub async fn invoke_stream(req: HttpRequest, payload: web::Payload, app: web::Data<AppState>) -> HttpResponse {
    serve(Endpoint::BedrockStream, req, payload, &app).await
}

/// `POST /bedrock/model/{id}/count-tokens`.
pub async fn count_tokens(req: HttpRequest, payload: web::Payload, app: web::Data<AppState>) -> HttpResponse {
    serve(Endpoint::BedrockCountTokens, req, payload, &app).await
}

/// `GET /bedrock/inference-profiles`: none. Claude Code lists the profiles at startup and probes each model the
/// listing names with a real (billable) one-token request; an empty list means no probes. Any model id is routed
/// when it is used.
pub async fn inference_profiles() -> HttpResponse {
    HttpResponse::Ok().content_type("application/json").body(r#"{"inferenceProfileSummaries":[]}"#)
}
