//! SigV4 signing of Bedrock requests with the AWS SDK's signer (`aws-sigv4`): the headers one attempt adds
//! (`authorization`, `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token`) for the exact method, URL
//! (path as sent, percent-encoded) and body bytes that go out. Requests of the plain shape gatehouse sends are
//! signed by [`lean`] (the same signature, with the day's signing key kept), the rest by the crate's signer.

mod lean;

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// The SigV4 service name of Bedrock's runtime API.
pub const BEDROCK_SERVICE: &str = "bedrock";

/// Static AWS credentials, borrowed for one signature.
#[derive(Clone, Copy)]
pub struct Keys<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// One request as it will go out.
#[derive(Clone, Copy)]
pub struct Outgoing<'a> {
    pub method: &'a str,
    /// The full URL, its path exactly as sent (percent-encoded).
    pub url: &'a str,
    /// The request's other headers to cover by the signature (`host` is taken from `url`).
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// The headers a signature adds: `(name, value)` pairs to add as they are.
pub type Signed = Vec<(&'static str, String)>;

/// The headers that sign `request` for `service` in `region` at `time`.
pub fn sign_request(
    keys: Keys<'_>,
    region: &str,
    service: &str,
    request: Outgoing<'_>,
    time: SystemTime,
) -> Result<Signed, String> {
    match lean::sign(keys, region, service, request, time) {
        Some(signed) => Ok(signed),
        None => sign_with_crate(keys, region, service, request, time),
    }
}

/// The headers the crate's signer adds for `request`.
fn sign_with_crate(
    keys: Keys<'_>,
    region: &str,
    service: &str,
    request: Outgoing<'_>,
    time: SystemTime,
) -> Result<Signed, String> {
    let Outgoing { method, url, headers, body } = request;
    let identity: Identity = Credentials::new(
        keys.access_key_id,
        keys.secret_access_key,
        keys.session_token.map(str::to_string),
        None,
        "gatehouse",
    )
    .into();
    let mut settings = SigningSettings::default();
    // Sent as `x-amz-content-sha256` too, as the AWS SDKs do for Bedrock: the server then checks the body hash.
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| format!("SigV4 parameters: {e}"))?
        .into();
    let request = SignableRequest::new(method, url, headers.iter().copied(), SignableBody::Bytes(body))
        .map_err(|e| format!("SigV4 request: {e}"))?;
    let (instructions, _signature) = sign(request, &params).map_err(|e| format!("SigV4 signing: {e}"))?.into_parts();
    const NAMES: [&str; 4] = ["authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"];
    instructions
        .headers()
        .map(|(name, value)| match NAMES.iter().find(|n| n.eq_ignore_ascii_case(name)) {
            Some(name) => Ok((*name, value.to_string())),
            None => Err(format!("the signer added an unexpected header '{name}'")),
        })
        .collect()
}

/// Percent-encodes one path segment as boto3 does for a model id: everything but unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`), so `:` becomes `%3A`.
pub fn encode_path_segment(segment: &str) -> String {
    utf8_percent_encode(segment, PATH_SEGMENT).to_string()
}

/// Everything but unreserved characters.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEYS: Keys<'static> = Keys {
        access_key_id: "AKIDEXAMPLE",
        secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        session_token: None,
    };

    #[test]
    fn signs_with_service_region_and_date() {
        let time = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let headers = sign_request(
            KEYS,
            "us-east-1",
            BEDROCK_SERVICE,
            Outgoing {
                method: "POST",
                url: "https://bedrock-runtime.us-east-1.amazonaws.com/model/a%3A0/invoke",
                headers: &[("content-type", "application/json")],
                body: b"{}",
            },
            time,
        )
        .unwrap();
        let get = |n: &str| headers.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        let auth = get("authorization").unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/bedrock/aws4_request"));
        assert!(auth.contains("SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date"), "{auth}");
        assert_eq!(get("x-amz-date"), Some("20231114T221320Z"));
        assert_eq!(
            get("x-amz-content-sha256"),
            Some("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")
        );
        assert_eq!(get("x-amz-security-token"), None);
        let with_token = Keys { session_token: Some("tok"), ..KEYS };
        let headers = sign_request(
            with_token,
            "us-east-1",
            "bedrock",
            Outgoing { method: "POST", url: "http://127.0.0.1:9/x", headers: &[], body: b"" },
            time,
        )
        .unwrap();
        assert!(headers.iter().any(|(k, v)| *k == "x-amz-security-token" && v == "tok"));
    }

    #[test]
    fn model_ids_are_encoded_like_boto3() {
        assert_eq!(
            encode_path_segment("us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0"
        );
        assert_eq!(
            encode_path_segment("arn:aws:bedrock:us-east-1:1:x/y"),
            "arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ax%2Fy"
        );
    }

    proptest! {
        #[test]
        fn an_encoded_segment_is_one_safe_segment(s in ".*") {
            let encoded = encode_path_segment(&s);
            prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
            prop_assert!(encoded.len() >= s.len());
        }
    }
}
