//! Who the client is: the proxy key check and the client's own provider key.
//!
//! A client may present two keys at once: the gateway's proxy key in `x-gatehouse-key`, and its own provider key
//! in `x-api-key` or `Authorization: Bearer` (used by passthrough providers). Without `x-gatehouse-key`, a key in
//! `x-api-key`/`Authorization` that equals the proxy key authenticates to the gateway and is never sent upstream.

use actix_web::http::header::{HeaderMap, HeaderName, AUTHORIZATION};

use crate::error::GatewayError;
use crate::secret::Secret;
use crate::upstream::{ClientKey, KeyStyle, PROXY_KEY_HEADER};

// Header names looked up as `HeaderName`s: a `&str` name outside the standard set is copied into a new
// `HeaderName` on every lookup.
const PROXY_KEY: HeaderName = HeaderName::from_static(PROXY_KEY_HEADER);
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// Checks the proxy key (when one is configured) and returns the client's provider key, if any.
pub fn authenticate(headers: &HeaderMap, proxy_key: Option<&Secret>) -> Result<Option<ClientKey>, GatewayError> {
    let presented = presented_key(headers);
    let Some(proxy_key) = proxy_key else { return Ok(presented) };
    if let Some(gatehouse_key) = headers.get(&PROXY_KEY) {
        let ok = gatehouse_key.to_str().is_ok_and(|k| proxy_key.matches(k.trim()));
        return if ok {
            Ok(presented)
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

    #[test]
    fn without_proxy_key_the_client_key_is_returned() {
        let k = authenticate(&headers(&[("x-api-key", "sk-1")]), None).unwrap().unwrap();
        assert_eq!(k, ClientKey { key: "sk-1".into(), style: KeyStyle::XApiKey });
        let k = authenticate(&headers(&[("authorization", "Bearer tok")]), None).unwrap().unwrap();
        assert_eq!(k, ClientKey { key: "tok".into(), style: KeyStyle::Bearer });
        assert_eq!(authenticate(&headers(&[("authorization", "Basic x")]), None).unwrap(), None);
    }

    #[test]
    fn proxy_key_in_standard_header_is_consumed() {
        let proxy = Secret::new("gw");
        assert_eq!(authenticate(&headers(&[("x-api-key", "gw")]), Some(&proxy)).unwrap(), None);
        assert!(authenticate(&headers(&[("x-api-key", "nope")]), Some(&proxy)).is_err());
        assert!(authenticate(&headers(&[]), Some(&proxy)).is_err());
    }

    #[test]
    fn dedicated_header_allows_passthrough_key_alongside() {
        let proxy = Secret::new("gw");
        let h = headers(&[("x-gatehouse-key", "gw"), ("x-api-key", "sk-client")]);
        assert_eq!(authenticate(&h, Some(&proxy)).unwrap().unwrap().key, "sk-client");
        let h = headers(&[("x-gatehouse-key", "bad"), ("x-api-key", "gw")]);
        assert!(authenticate(&h, Some(&proxy)).is_err(), "a wrong dedicated header is not rescued by x-api-key");
    }
}
