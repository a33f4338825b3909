//! Google Vertex AI's rawPredict API for Anthropic models, for Claude Code in Vertex mode
//! (`ANTHROPIC_VERTEX_BASE_URL=<gateway>/vertex/v1`) and the SDKs' Vertex clients:
//! `POST /vertex/{version}/projects/{p}/locations/{r}/publishers/anthropic/models/{model}:rawPredict`,
//! `:streamRawPredict` and `…/models/count-tokens:rawPredict`, through the pipeline. The project and region in
//! the path are the client's; a Vertex-format provider uses its own.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use super::root::not_found;
use crate::error::{render, Dialect};
use crate::gateway::admission::cloud::vertex_endpoint;
use crate::gateway::serve;
use crate::state::AppState;

/// `POST /vertex/{version}/projects/{p}/locations/{r}/publishers/anthropic/models/{model}:{method}`: the method
/// names the endpoint; other paths under `/vertex/` are a 404.
pub async fn model(req: HttpRequest, payload: web::Payload, app: web::Data<AppState>) -> HttpResponse {
    if req.method() != Method::POST || !is_model_path(req.path()) {
        return not_found(req).await;
    }
    match vertex_endpoint(req.path()) {
        Ok((endpoint, _)) => serve(endpoint, req, payload, &app).await,
        Err(error) => render::response(Dialect::Vertex, &error),
    }
}

/// Whether `path` has the shape of a Vertex model path, every named segment present.
fn is_model_path(path: &str) -> bool {
    // `None`: any non-empty segment (version, project, region, model).
    const SHAPE: [Option<&str>; 9] = [
        None,
        Some("projects"),
        None,
        Some("locations"),
        None,
        Some("publishers"),
        Some("anthropic"),
        Some("models"),
        None,
    ];
    let Some(rest) = path.strip_prefix("/vertex/") else { return false };
    let mut segments = rest.split('/');
    SHAPE.iter().all(|want| segments.next().is_some_and(|s| !s.is_empty() && want.is_none_or(|w| w == s)))
        && segments.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_paths_have_every_segment() {
        let ok = "/vertex/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude@1:rawPredict";
        assert!(is_model_path(ok));
        assert!(!is_model_path("/vertex/v1/projects/p/locations/us-east5/publishers/anthropic/models/"));
        assert!(!is_model_path("/vertex/v1/projects//locations/r/publishers/anthropic/models/m:rawPredict"));
        assert!(!is_model_path("/vertex/v1/projects/p/locations/r/publishers/google/models/m:rawPredict"));
        assert!(!is_model_path("/vertex/v1/projects/p/locations/r/publishers/anthropic/models/m/x:rawPredict"));
        assert!(!is_model_path("/vertexx/v1/projects/p/locations/r/publishers/anthropic/models/m:rawPredict"));
    }
}
