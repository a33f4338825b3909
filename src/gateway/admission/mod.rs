//! The first stage every model request meets: authenticate the client, read the body within the limit
//! (validated as it arrives), check the fields needed to route it, and resolve the model to its targets. Each
//! failure here is the client's to fix. The hang-up watch ([`disconnect`]) also lives here: it is set up when
//! the request is admitted and guards it until its answer begins. Before any of it, on every route, the request
//! [`guard`] (a middleware) checks where the request comes from and how it is framed.

pub mod auth;
pub mod body;
pub mod cloud;
pub mod disconnect;
pub mod guard;
pub mod keys;
pub mod metering;

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest};
use bytes::Bytes;

use super::endpoint::Endpoint;
use crate::config::routing::resolve_in_dialect;
use crate::config::{resolve, Route, Snapshot};
use crate::keys::Directory;
use crate::upstream::ClientKey;
use body::{inspect, read_json, Inspected};
use cloud::{view, CloudRequest, Viewed};
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
    /// A cloud dialect's request (Bedrock, Vertex): what it keeps besides its Anthropic view in `body`.
    pub cloud: Option<CloudRequest>,
}

/// Authenticates, reads and inspects the body, and routes it. A cloud dialect's body is read into the Anthropic
/// request it means ([`cloud`]), with the model from the path.
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
    let Some(dialect) = endpoint.cloud() else {
        let inspected = inspect(&body, endpoint.required()).map_err(refused)?;
        let route = resolve(snapshot, &inspected.model).map_err(refused)?;
        return Ok(Admitted {
            caller,
            client_key,
            body: body.bytes,
            inspected,
            route,
            input_estimate: None,
            cloud: None,
        });
    };
    let Viewed { body, inspected, cloud } = view(endpoint, req.uri().path(), body, req.headers()).map_err(refused)?;
    let route = resolve_in_dialect(snapshot, &cloud.model, dialect).map_err(refused)?;
    Ok(Admitted { caller, client_key, body, inspected, route, input_estimate: None, cloud: Some(cloud) })
}

/// Who the caller is: with virtual keys in use, a key holder or the master proxy key; otherwise anyone past the
/// proxy-key check. Every `/v1/*` route asks this first. Either way, the key a client presents as its own provider
/// key is never one of the gateway's secrets (its proxy or admin key, or a virtual key): that would send it to a
/// passthrough provider.
pub fn credentials(headers: &HeaderMap, snapshot: &Snapshot, directory: &Directory) -> Result<Credentials, KeyRefusal> {
    let is_gateway_secret = |key: &str| snapshot.is_gateway_secret(key) || key.starts_with(crate::keys::secret::PREFIX);
    if directory.in_use() {
        let credentials =
            keys::identify(headers, directory, snapshot.proxy_key.as_ref(), crate::resilience::runtime::now_millis())?;
        // `identify` refuses the proxy key and virtual keys there; the admin key is the gateway's too.
        return match auth::refuse_gateway_secret(credentials.client_key, is_gateway_secret) {
            Ok(client_key) => Ok(Credentials { client_key, ..credentials }),
            Err(error) => Err(error.into()),
        };
    }
    match auth::authenticate(headers, snapshot.proxy_key.as_ref(), is_gateway_secret) {
        Ok(client_key) => Ok(Credentials { caller: Caller::Open, client_key }),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_from, ConfigSource};
    use crate::keys::{secret, VirtualKey};
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn snapshot() -> Snapshot {
        let env = [("ANTHROPIC_API_KEY", "!PASSTHRU"), ("PROXY_API_KEY", "proxy-k"), ("ADMIN_API_KEY", "admin-k")];
        let source =
            ConfigSource { path: None, env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        load_from(&source).unwrap().snapshot
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn directory_with(key_secret: &str) -> Directory {
        let key = VirtualKey {
            id: "k1".into(),
            name: "dev".into(),
            team: None,
            models: vec![],
            limits: Default::default(),
            expires_at: None,
            disabled: false,
            metadata: Default::default(),
            created_at: 0,
            secret_hash: secret::hash(key_secret),
            declared: false,
        };
        Directory::new(vec![key], vec![], Default::default())
    }

    #[test]
    fn no_gateway_secret_passes_as_a_provider_key() {
        let snapshot = snapshot();
        let open = Directory::default();
        let virtual_key = "gh_0123456789abcdef";
        for own in ["proxy-k", "admin-k", virtual_key] {
            let h = headers(&[("x-gatehouse-key", "proxy-k"), ("x-api-key", own)]);
            let refused = credentials(&h, &snapshot, &open).unwrap_err();
            assert_eq!(refused.error.kind(), "authentication", "{own}");
        }
        // With virtual keys in use: a holder's own key may not be the admin key either.
        let keyed = directory_with(virtual_key);
        let h = headers(&[("x-gatehouse-key", virtual_key), ("x-api-key", "admin-k")]);
        let refused = credentials(&h, &snapshot, &keyed).unwrap_err();
        assert_eq!(refused.error.kind(), "authentication");
        let h = headers(&[("x-gatehouse-key", virtual_key), ("x-api-key", "sk-ant-own")]);
        let ok = credentials(&h, &snapshot, &keyed).unwrap();
        assert_eq!(ok.client_key.unwrap().key, "sk-ant-own");
    }
}
