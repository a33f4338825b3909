//! The first stage every model request meets: authenticate the client, read the body within the limit
//! (validated as it arrives), check the fields needed to route it, and resolve the model to its targets. Each
//! failure here is the client's to fix. The hang-up watch ([`disconnect`]) also lives here: it is set up when
//! the request is admitted and guards it until its answer begins.

pub mod auth;
pub mod body;
pub mod disconnect;

use actix_web::{web, HttpRequest};
use bytes::Bytes;

use super::endpoint::Endpoint;
use crate::config::{resolve, Route, Snapshot};
use crate::error::GatewayError;
use crate::upstream::ClientKey;
use body::{inspect, read_json, Inspected};

/// A request that passed admission.
pub struct Admitted {
    /// The client's own provider key, for passthrough providers.
    pub client_key: Option<ClientKey>,
    pub body: Bytes,
    pub inspected: Inspected,
    pub route: Route,
}

/// Authenticates, reads and inspects the body, and routes it.
pub async fn admit(
    req: &HttpRequest,
    payload: web::Payload,
    snapshot: &Snapshot,
    endpoint: Endpoint,
) -> Result<Admitted, GatewayError> {
    let client_key = auth::authenticate(req.headers(), snapshot.proxy_key.as_ref())?;
    let body = read_json(payload, req.headers(), &snapshot.limits).await?;
    let inspected = inspect(&body, endpoint.required())?;
    let route = resolve(snapshot, &inspected.model)?;
    Ok(Admitted { client_key, body: body.bytes, inspected, route })
}
