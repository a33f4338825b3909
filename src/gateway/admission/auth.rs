//! Who the client is: the proxy key check and the client's own provider key.
//!
//! A client may present two keys at once: the gateway's proxy key in `x-gatehouse-key`, and its own provider key
//! in `x-api-key` or `Authorization: Bearer` (used by passthrough providers). Without `x-gatehouse-key`, a key in
//! `x-api-key`/`Authorization` that equals the proxy key authenticates to the gateway and is never sent upstream.
//!
//! A provider key the client presents as its own is refused (401) when it is one of the gateway's own secrets
//! (the proxy key sent alongside `x-gatehouse-key`, the admin key, later virtual keys): a passthrough provider
//! would otherwise receive it. The caller says what the gateway's secrets are, as a predicate.

use actix_web::http::header::{HeaderMap, HeaderName, AUTHORIZATION};

use crate::error::GatewayError;
use crate::secret::Secret;
use crate::upstream::{ClientKey, KeyStyle, PROXY_KEY_HEADER};

// Header names looked up as `HeaderName`s: a `&str` name outside the standard set is copied into a new
// `HeaderName` on every lookup.
const PROXY_KEY: HeaderName = HeaderName::from_static(PROXY_KEY_HEADER);
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Checks the proxy key (when one is configured) and returns the client's provider key, if any.
/// `is_gateway_secret` says whether a key is one the gateway owns (`Snapshot::is_gateway_secret`): such a key
/// is never returned as the client's provider key.
pub fn authenticate(
    headers: &HeaderMap,
    proxy_key: Option<&Secret>,
    is_gateway_secret: impl Fn(&str) -> bool,
) -> Result<Option<ClientKey>, GatewayError> {
    let presented = presented_key(headers);
    let Some(proxy_key) = proxy_key else { return refuse_gateway_secret(presented, is_gateway_secret) };
    if let Some(gatehouse_key) = headers.get(&PROXY_KEY) {
        let ok = gatehouse_key.to_str().is_ok_and(|k| proxy_key.matches(k.trim()));
        return if ok {
            refuse_gateway_secret(presented, is_gateway_secret)
        } else {
            Err(GatewayError::Authentication(format!("invalid proxy key in {PROXY_KEY_HEADER}")))
        };
    }
    match presented {
        Some(client) if proxy_key.matches(&client.key) => Ok(None),
        Some(_) => Err(GatewayError::Authentication(format!(
            "invalid proxy key: send the gateway's key in {PROXY_KEY_HEADER} (or in x-api-key when you have no provider key)"
        ))),
        None => Err(GatewayError::Authentication(format!(
            "this gateway requires a proxy key: send it in {PROXY_KEY_HEADER}, x-api-key or Authorization: Bearer"
        ))),
    }
}

/// The client's own key, unless it is one of the gateway's secrets.
pub fn refuse_gateway_secret(
    presented: Option<ClientKey>,
    is_gateway_secret: impl Fn(&str) -> bool,
) -> Result<Option<ClientKey>, GatewayError> {
    match presented {
        Some(client) if is_gateway_secret(&client.key) => {
            let header = match client.style {
                KeyStyle::XApiKey => "x-api-key",
                KeyStyle::Bearer => "Authorization: Bearer",
            };
            Err(GatewayError::Authentication(format!(
                "the key in {header} is one of this gateway's own keys, not a provider key: it is never sent to a \
                 provider. Put your own provider key there, or leave the header out (the gateway key goes in \
                 {PROXY_KEY_HEADER} only)"
            )))
        }
        other => Ok(other),
    }
}

/// The key in `x-api-key` or `Authorization: Bearer`, if any.
pub(crate) fn presented_key(headers: &HeaderMap) -> Option<ClientKey> {
    let x_api_key = headers.get(&X_API_KEY).and_then(|v| v.to_str().ok()).map(str::trim).filter(|k| !k.is_empty());
    if let Some(key) = x_api_key {
        return Some(ClientKey { key: key.to_string(), style: KeyStyle::XApiKey });
    }
    let auth = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = auth.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
        .then(|| ClientKey { key: token.to_string(), style: KeyStyle::Bearer })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(HeaderName::from_bytes(k.as_bytes()).unwrap(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    /// The gateway's secrets in these tests: the proxy key `gw` and the admin key `adm`.
    fn ours(key: &str) -> bool {
        key == "gw" || key == "adm"
    }

    #[test]
    fn without_proxy_key_the_client_key_is_returned() {
        let k = authenticate(&headers(&[("x-api-key", "sk-1")]), None, ours).unwrap().unwrap();
        assert_eq!(k, ClientKey { key: "sk-1".into(), style: KeyStyle::XApiKey });
        let k = authenticate(&headers(&[("authorization", "Bearer tok")]), None, ours).unwrap().unwrap();
        assert_eq!(k, ClientKey { key: "tok".into(), style: KeyStyle::Bearer });
        assert_eq!(authenticate(&headers(&[("authorization", "Basic x")]), None, ours).unwrap(), None);
    }

    #[test]
    fn proxy_key_in_standard_header_is_consumed() {
        let proxy = Secret::new("gw");
        assert_eq!(authenticate(&headers(&[("x-api-key", "gw")]), Some(&proxy), ours).unwrap(), None);
        assert!(authenticate(&headers(&[("x-api-key", "nope")]), Some(&proxy), ours).is_err());
        assert!(authenticate(&headers(&[]), Some(&proxy), ours).is_err());
    }

    #[test]
    fn dedicated_header_allows_passthrough_key_alongside() {
        let proxy = Secret::new("gw");
        let h = headers(&[("x-gatehouse-key", "gw"), ("x-api-key", "sk-client")]);
        assert_eq!(authenticate(&h, Some(&proxy), ours).unwrap().unwrap().key, "sk-client");
        let h = headers(&[("x-gatehouse-key", "bad"), ("x-api-key", "gw")]);
        assert!(authenticate(&h, Some(&proxy), ours).is_err(), "a wrong dedicated header is not rescued by x-api-key");
    }

    #[test]
    fn a_gateway_secret_is_never_the_clients_provider_key() {
        let proxy = Secret::new("gw");
        for own in [("x-api-key", "gw"), ("authorization", "Bearer gw"), ("x-api-key", "adm")] {
            let h = headers(&[("x-gatehouse-key", "gw"), own]);
            let e = authenticate(&h, Some(&proxy), ours).unwrap_err();
            assert!(e.to_string().contains("one of this gateway's own keys"), "{own:?}: {e}");
        }
        let e = authenticate(&headers(&[("authorization", "Bearer adm")]), None, ours).unwrap_err();
        assert!(e.to_string().contains("Authorization: Bearer") && !e.to_string().contains("adm"), "{e}");
    }
}
