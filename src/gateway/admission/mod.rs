//! The first stage every model request meets: authenticate the client, read the body within the limit
//! (validated as it arrives), check the fields needed to route it, and resolve the model to its targets. Each
//! failure here is the client's to fix. The hang-up watch ([`disconnect`]) also lives here: it is set up when
//! the request is admitted and guards it until its answer begins.

pub mod auth;
pub mod body;
pub mod disconnect;
pub mod keys;
pub mod metering;

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest};
use bytes::Bytes;

use super::endpoint::Endpoint;
use crate::config::{resolve, Route, Snapshot};
use crate::keys::Directory;
use crate::upstream::ClientKey;
use body::{inspect, read_json, Inspected};
use keys::{Caller, Credentials, KeyRefusal};

/// A request that passed admission.
pub struct Admitted {
    pub caller: Caller,
    /// The client's own provider key, for passthrough providers.
    pub client_key: Option<ClientKey>,
    pub body: Bytes,
    pub inspected: Inspected,
    pub route: Route,
    /// The input tokens estimated by the local tokenizer, once something needed them (a key's reservation).
    pub input_estimate: Option<u64>,
}

/// Authenticates, reads and inspects the body, and routes it.
pub async fn admit(
    req: &HttpRequest,
    payload: web::Payload,
    snapshot: &Snapshot,
    directory: &Directory,
    endpoint: Endpoint,
) -> Result<Admitted, KeyRefusal> {
    let Credentials { caller, client_key } = credentials(req.headers(), snapshot, directory)?;
    let refused = KeyRefusal::from;
    let body = read_json(payload, req.headers(), &snapshot.limits).await.map_err(refused)?;
    let inspected = inspect(&body, endpoint.required()).map_err(refused)?;
    let route = resolve(snapshot, &inspected.model).map_err(refused)?;
    Ok(Admitted { caller, client_key, body: body.bytes, inspected, route, input_estimate: None })
}

/// Who the caller is: with virtual keys in use, a key holder or the master proxy key; otherwise anyone past the
/// proxy-key check. Every `/v1/*` route asks this first.
pub fn credentials(headers: &HeaderMap, snapshot: &Snapshot, directory: &Directory) -> Result<Credentials, KeyRefusal> {
    if directory.in_use() {
        return keys::identify(
            headers,
            directory,
            snapshot.proxy_key.as_ref(),
            crate::resilience::runtime::now_millis(),
        );
    }
    match auth::authenticate(headers, snapshot.proxy_key.as_ref()) {
        Ok(client_key) => Ok(Credentials { caller: Caller::Open, client_key }),
        Err(error) => Err(error.into()),
    }
}
