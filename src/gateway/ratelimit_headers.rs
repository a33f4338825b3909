//! The rate-limit headers of a keyed request's answer, as Anthropic's own API names them, for the tightest of
//! the key's and its team's limits that are set. When the upstream's answer already carries Anthropic's headers
//! (passthrough), those reach the client unchanged and the gateway's own go under `x-gatehouse-ratelimit-*`.

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

use crate::limits::period::rfc3339;
use crate::limits::Headroom;

/// Adds the headers for `headroom` to an answer's `headers`.
pub fn ratelimit_headers(headers: &mut HeaderMap, headroom: Headroom) {
    let relayed = headers.keys().any(|name| name.as_str().starts_with("anthropic-ratelimit-"));
    let prefix = if relayed { "x-gatehouse-ratelimit-" } else { "anthropic-ratelimit-" };
    for (kind, limit) in [("requests", headroom.requests), ("tokens", headroom.tokens)] {
        let Some((limit, remaining, reset)) = limit else { continue };
        let values = [("limit", limit.to_string()), ("remaining", remaining.to_string()), ("reset", rfc3339(reset))];
        for (field, value) in values {
            let name = HeaderName::try_from(format!("{prefix}{kind}-{field}"));
            if let (Ok(name), Ok(value)) = (name, HeaderValue::try_from(value)) {
                headers.insert(name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_names_unless_the_upstream_sent_its_own() {
        let headroom = Headroom { requests: Some((60, 59, 1_000)), tokens: None };
        let mut headers = HeaderMap::new();
        ratelimit_headers(&mut headers, headroom);
        assert_eq!(headers.get("anthropic-ratelimit-requests-limit").unwrap(), "60");
        assert_eq!(headers.get("anthropic-ratelimit-requests-remaining").unwrap(), "59");
        assert_eq!(headers.get("anthropic-ratelimit-requests-reset").unwrap(), "1970-01-01T00:00:01Z");
        assert!(headers.get("anthropic-ratelimit-tokens-limit").is_none(), "only limits that are set");
        let mut relayed = HeaderMap::new();
        relayed.insert(HeaderName::from_static("anthropic-ratelimit-requests-limit"), HeaderValue::from_static("4000"));
        ratelimit_headers(&mut relayed, headroom);
        assert_eq!(relayed.get("anthropic-ratelimit-requests-limit").unwrap(), "4000", "the upstream's, unchanged");
        assert_eq!(relayed.get("x-gatehouse-ratelimit-requests-remaining").unwrap(), "59");
    }
}
