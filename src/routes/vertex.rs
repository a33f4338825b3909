//! Google Vertex AI's rawPredict API for Anthropic models, for Claude Code in Vertex mode
//! (`ANTHROPIC_VERTEX_BASE_URL=<gateway>/vertex/v1`) and the SDKs' Vertex clients:
//! `POST /vertex/{version}/projects/{p}/locations/{r}/publishers/anthropic/models/{model}:rawPredict`,
//! `:streamRawPredict` and `…/models/count-tokens:rawPredict`, through the pipeline. The project and region in
//! the path are the client's; a Vertex-format provider uses its own.

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::{render, Dialect};
use crate::gateway::admission::cloud::vertex_endpoint;
use crate::gateway::serve;
use crate::state::AppState;

/// `POST …/publishers/anthropic/models/{model}:{method}`: the method names the endpoint.
pub async fn model(req: HttpRequest, payload: web::Payload, app: web::Data<AppState>) -> HttpResponse {
    match vertex_endpoint(req.uri().path()) {
        Ok((endpoint, _)) => serve(endpoint, req, payload, &app).await,
        Err(error) => render::response(Dialect::Vertex, &error),
    }
}
