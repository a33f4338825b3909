//! The first steps every model route shares: authenticate the client, read the body within the limit, check the
//! fields needed to route it, and resolve the model to targets. Also how a handler's outcome becomes the answer.

use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;

use super::body::{inspect, read_json, Inspected, Required};
use super::client_auth::{authenticate, ClientKey};
use super::recorder::Recorder;
use super::routing::{resolve, Route};
use crate::app::error_response;
use crate::config::Snapshot;
use crate::error::GatewayError;

/// A request that passed admission.
pub struct Admitted {
    /// The client's own provider key, for passthrough providers.
    pub client_key: Option<ClientKey>,
    pub body: Bytes,
    pub inspected: Inspected,
    pub route: Route,
}

/// Authenticates, reads and inspects the body, and routes it; each failure is the client's error to fix.
pub async fn admit(
    req: &HttpRequest,
    payload: web::Payload,
    snapshot: &Snapshot,
    required: Required,
) -> Result<Admitted, GatewayError> {
    let client_key = authenticate(req.headers(), snapshot.proxy_key.as_ref())?;
    let body = read_json(payload, req.headers(), snapshot.limits.max_body_bytes).await?;
    let inspected = inspect(&body, required)?;
    let route = resolve(snapshot, &inspected.model)?;
    Ok(Admitted { client_key, body: body.bytes, inspected, route })
}

/// The handler's answer: its response, or its error rendered (and recorded, if the recorder was not handed on).
pub fn answer(outcome: Result<HttpResponse, GatewayError>, recorder: Option<Recorder>) -> HttpResponse {
    match (outcome, recorder) {
        (Ok(response), _) => response,
        (Err(error), Some(recorder)) => recorder.fail(&error),
        (Err(error), None) => error_response(&error),
    }
}
