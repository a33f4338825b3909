//! The signature `aws-sigv4` computes, for the one request shape gatehouse sends Bedrock (a POST to a plain path,
//! a few ordinary headers, the body hashed into `x-amz-content-sha256`), without the crate's general machinery:
//! the canonical request is written straight into one buffer, and the day's signing key (four HMACs, the same
//! for every request of a UTC day, region and service) is derived once per thread and day with the crate's own
//! `generate_signing_key`, and kept as a prepared HMAC-SHA256 (its padded key blocks hashed once) that signs each
//! request's string to sign.
//!
//! Anything outside that shape (a query string, dot or empty path segments, headers that need normalising or that
//! the crate treats specially) is declined, and [`super::sign_request`] falls back to the crate's signer. A
//! property test checks that both give the same headers for the shapes this one accepts.

use std::cell::RefCell;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sigv4::sign::v4::generate_signing_key;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};

use super::{Keys, Outgoing, Signed};
use crate::secret::lower_hex;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What SigV4 escapes in a canonical path: everything but unreserved characters and `/` (so an already encoded
/// `%3A` is written `%253A`).
const CANONICAL_PATH: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');

/// Headers the crate leaves out of a signature or sets itself: a request carrying one is signed by the crate.
const NOT_PLAIN: [&str; 5] = ["authorization", "user-agent", "x-amzn-trace-id", "transfer-encoding", "host"];

/// The day's signing keys this thread derived lately (a handful of providers at most).
struct DayKey {
    secret: String,
    region: String,
    service: String,
    date: [u8; 8],
    /// HMAC-SHA256 keyed with the day's signing key.
    mac: Hmac<Sha256>,
}

const DAY_KEYS: usize = 4;

thread_local! {
    static DAY_KEYS_CACHE: RefCell<Vec<DayKey>> = const { RefCell::new(Vec::new()) };
    /// The last second formatted as `YYYYMMDDTHHMMSSZ`.
    static STAMP: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// The signed headers for `request`, or `None` when its shape is not the plain one (see the module docs).
pub(super) fn sign(
    keys: Keys<'_>,
    region: &str,
    service: &str,
    request: Outgoing<'_>,
    time: SystemTime,
) -> Option<Signed> {
    let (host, path) = host_and_path(request.url)?;
    if !request.headers.iter().all(|(name, value)| plain_header(name, value)) {
        return None;
    }
    let stamp = amz_date(time)?;
    let payload_hash = lower_hex(&Sha256::digest(request.body));
    let mut named: Vec<(&str, &str)> = Vec::with_capacity(request.headers.len() + 4);
    named.extend(request.headers.iter().copied());
    named.push(("host", host));
    named.push(("x-amz-content-sha256", &payload_hash));
    named.push(("x-amz-date", &stamp));
    if let Some(token) = keys.session_token {
        if !plain_value(token) {
            return None;
        }
        named.push(("x-amz-security-token", token));
    }
    named.sort_unstable_by(|a, b| a.0.cmp(b.0));
    if named.windows(2).any(|w| w[0].0 == w[1].0) {
        return None;
    }

    let mut canonical = String::with_capacity(256 + 3 * path.len());
    canonical.push_str(request.method);
    canonical.push('\n');
    canonical.extend(utf8_percent_encode(path, CANONICAL_PATH));
    canonical.push_str("\n\n");
    for (name, value) in &named {
        for piece in [name, ":", value, "\n"] {
            canonical.push_str(piece);
        }
    }
    canonical.push('\n');
    let signed_from = canonical.len();
    for (i, (name, _)) in named.iter().enumerate() {
        if i > 0 {
            canonical.push(';');
        }
        canonical.push_str(name);
    }
    let signed_headers = signed_from..canonical.len();
    canonical.push('\n');
    canonical.push_str(&payload_hash);

    let date = &stamp[..8];
    let mut string_to_sign = String::with_capacity(160);
    for piece in [ALGORITHM, "\n", &stamp, "\n"] {
        string_to_sign.push_str(piece);
    }
    let scope_from = string_to_sign.len();
    for piece in [date, "/", region, "/", service, "/aws4_request"] {
        string_to_sign.push_str(piece);
    }
    let scope = scope_from..string_to_sign.len();
    string_to_sign.push('\n');
    string_to_sign.push_str(&lower_hex(&Sha256::digest(canonical.as_bytes())));
    let signature = with_day_key(keys.secret_access_key, region, service, date, time, |mac| {
        lower_hex(&mac.clone().chain_update(string_to_sign.as_bytes()).finalize().into_bytes())
    })?;
    let mut authorization = String::with_capacity(200);
    for piece in [
        ALGORITHM,
        " Credential=",
        keys.access_key_id,
        "/",
        &string_to_sign[scope],
        ", SignedHeaders=",
        &canonical[signed_headers],
        ", Signature=",
        &signature,
    ] {
        authorization.push_str(piece);
    }
    let mut headers =
        vec![("authorization", authorization), ("x-amz-date", stamp), ("x-amz-content-sha256", payload_hash)];
    if let Some(token) = keys.session_token {
        headers.push(("x-amz-security-token", token.to_string()));
    }
    Some(headers)
}

/// The host as signed (the authority without a default port) and the path, for a URL without userinfo, query
/// or fragment whose path has no empty, `.` or `..` segment.
fn host_and_path(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
    // A host name or address with an optional port: no userinfo, query or fragment in it.
    if authority.is_empty() || !authority.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b)) {
        return None;
    }
    if path.bytes().any(|b| b == b'?' || b == b'#') {
        return None;
    }
    if path != "/" && path[1..].split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return None;
    }
    let host = match (scheme, authority.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host,
        ("http" | "https", _) => authority,
        _ => return None,
    };
    Some((host, path))
}

/// A header the crate signs as it is: a lower-case token name it does not treat specially, and a value that
/// needs no trimming or space folding.
fn plain_header(name: &str, value: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with("x-amz-")
        && !NOT_PLAIN.contains(&name)
        && plain_value(value)
}

fn plain_value(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && !value.contains("  ")
}

/// `time` as `YYYYMMDDTHHMMSSZ`, formatted once per second per thread.
fn amz_date(time: SystemTime) -> Option<String> {
    let secs = time.duration_since(UNIX_EPOCH).ok()?.as_secs();
    STAMP.with_borrow_mut(|(at, text)| {
        if *at != secs {
            let stamp = jiff::Timestamp::from_second(i64::try_from(secs).ok()?).ok()?;
            *text = stamp.strftime("%Y%m%dT%H%M%SZ").to_string();
            *at = secs;
        }
        Some(text.clone())
    })
}

/// Runs `f` with the HMAC keyed by the signing key of `secret` for `date`, `region` and `service`, derived once
/// per thread.
fn with_day_key<T>(
    secret: &str,
    region: &str,
    service: &str,
    date: &str,
    time: SystemTime,
    f: impl FnOnce(&Hmac<Sha256>) -> T,
) -> Option<T> {
    DAY_KEYS_CACHE.with_borrow_mut(|keys| {
        let found = keys.iter().position(|k| {
            k.date.as_slice() == date.as_bytes() && k.region == region && k.service == service && k.secret == secret
        });
        let at = match found {
            Some(at) => at,
            None => {
                let mac = Hmac::<Sha256>::new_from_slice(generate_signing_key(secret, time, region, service).as_ref())
                    .ok()?;
                let date: [u8; 8] = date.as_bytes().try_into().ok()?;
                if keys.len() == DAY_KEYS {
                    keys.remove(0);
                }
                keys.push(DayKey {
                    secret: secret.to_string(),
                    region: region.to_string(),
                    service: service.to_string(),
                    date,
                    mac,
                });
                keys.len() - 1
            }
        };
        Some(f(&keys[at].mac))
    })
}

#[cfg(test)]
mod tests {
    use super::super::{encode_path_segment, sign_with_crate};
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    fn sorted(mut headers: Signed) -> Signed {
        headers.sort();
        headers
    }

    const KEYS: Keys<'static> = Keys {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token: None,
    };

    #[test]
    fn declines_what_the_crate_must_sign() {
        let time = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let declined = |url: &str, headers: &[(&str, &str)]| {
            let request = Outgoing { method: "POST", url, headers, body: b"{}" };
            sign(KEYS, "us-east-1", "bedrock", request, time).is_none()
        };
        let json = [("content-type", "application/json")];
        assert!(!declined("https://bedrock-runtime.us-east-1.amazonaws.com/model/a%3A0/invoke", &json));
        assert!(declined("https://h/model/x/invoke?y=1", &json));
        assert!(declined("https://h/model/./x/invoke", &json));
        assert!(declined("https://h/model//invoke", &json));
        assert!(declined("https://user@h/model/x/invoke", &json));
        assert!(declined("ftp://h/model/x/invoke", &json));
        assert!(declined("https://h/x", &[("content-type", " application/json")]));
        assert!(declined("https://h/x", &[("user-agent", "me")]));
        assert!(declined("https://h/x", &[("X-Upper", "v")]));
    }

    #[test]
    fn the_day_key_is_derived_per_day() {
        let request = Outgoing { method: "POST", url: "https://h/x", headers: &[], body: b"" };
        let day = |secs| sign(KEYS, "us-east-1", "bedrock", request, UNIX_EPOCH + Duration::from_secs(secs));
        for secs in [1_700_000_000, 1_700_000_001, 1_700_090_000, 1_700_000_002] {
            let time = UNIX_EPOCH + Duration::from_secs(secs);
            assert_eq!(
                day(secs).map(sorted),
                sign_with_crate(KEYS, "us-east-1", "bedrock", request, time).ok().map(sorted)
            );
        }
    }

    fn url() -> impl Strategy<Value = String> {
        let scheme = prop_oneof![Just("http"), Just("https")];
        let port = prop_oneof![
            Just(String::new()),
            Just(":80".to_string()),
            Just(":443".to_string()),
            (1u16..).prop_map(|p| format!(":{p}"))
        ];
        let host = prop_oneof![Just("bedrock-runtime.us-east-1.amazonaws.com"), Just("127.0.0.1"), Just("[::1]")];
        let prefix = prop_oneof![Just(""), Just("/v1"), Just("/a-b/c_d")];
        let model = "[ -~]{1,40}".prop_filter("a dot segment is the crate's to sign", |m| m != "." && m != "..");
        let action = prop_oneof![Just("invoke"), Just("invoke-with-response-stream"), Just("count-tokens")];
        (scheme, host, port, prefix, model, action)
            .prop_map(|(s, h, p, prefix, m, a)| format!("{s}://{h}{p}{prefix}/model/{}/{a}", encode_path_segment(&m)))
    }

    proptest! {
        #[test]
        fn signs_as_the_crate_does(
            url in url(),
            body in proptest::collection::vec(any::<u8>(), 0..600),
            secs in 0u64..4_000_000_000,
            token in proptest::option::of("[!-~]{1,40}"),
            region in prop_oneof![Just("us-east-1"), Just("eu-west-3")],
        ) {
            let keys = Keys { session_token: token.as_deref(), ..KEYS };
            let headers = [("content-type", "application/json")];
            let request = Outgoing { method: "POST", url: &url, headers: &headers, body: &body };
            let time = UNIX_EPOCH + Duration::from_secs(secs);
            let lean = sign(keys, region, "bedrock", request, time);
            prop_assert!(lean.is_some(), "{url}");
            let expected = sign_with_crate(keys, region, "bedrock", request, time).map_err(TestCaseError::fail)?;
            prop_assert_eq!(lean.map(sorted), Some(sorted(expected)));
        }
    }
}
