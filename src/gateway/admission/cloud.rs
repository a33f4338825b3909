//! Requests in a cloud platform's client dialect — Bedrock's InvokeModel, Vertex AI's rawPredict — read into the
//! Anthropic request they mean, so that everything after admission (routing, keys, limits, the exchanges to
//! Anthropic- and OpenAI-format providers) treats them like `/v1/messages` and `/v1/messages/count_tokens`.
//!
//! - The model comes from the URL path, with raw `:` or `%3A` (percent-decoded here); Vertex's count-tokens
//!   carries it in the body instead.
//! - The body becomes an Anthropic body (the *view*): `model` (the path's id) and `stream` put first, and the
//!   dialect's own members taken out — `anthropic_version` (each format has its own value), `anthropic_beta`
//!   (merged into the `anthropic-beta` header, where Anthropic reads betas). Every other member is copied byte
//!   for byte. Bedrock's count-tokens wraps an InvokeModel body in base64; it is unwrapped and keeps only the
//!   members Anthropic's count_tokens accepts.
//! - The client's body as sent is kept for a provider of the dialect's own format, which gets it unchanged.
//! - Headers for providers of other formats leave out the platforms' own (`x-amz(n)-*`, `amz-sdk-*`, `x-goog-*`): an
//!   AWS signature or a Google token belongs to the client's platform, never to the gateway's providers.

use std::ops::Range;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use percent_encoding::percent_decode_str;

use super::body::{inspect_spans, Inspected, JsonBody};
use crate::error::GatewayError;
use crate::gateway::endpoint::Endpoint;
use crate::json::member::{top_level_members, MemberSpan};
use crate::json::scan::Member;

const ANTHROPIC_BETA: HeaderName = HeaderName::from_static("anthropic-beta");

/// The members of a Messages body that Anthropic's count_tokens also accepts (it refuses the others, such as
/// `max_tokens`, which an InvokeModel body always has).
const COUNT_TOKENS_MEMBERS: [&str; 7] =
    ["messages", "system", "tools", "tool_choice", "thinking", "mcp_servers", "context_management"];

/// What a cloud-dialect request keeps besides its Anthropic view.
#[derive(Debug, Clone)]
pub struct CloudRequest {
    /// The body as the client sent it: what a provider of the dialect's own format gets.
    pub original: Bytes,
    /// The model id as the client wrote it in the path (decoded), or from the body (Vertex's count-tokens).
    pub model: String,
    /// The client's headers as a provider of another format sees them: the body's `anthropic_beta` merged into
    /// `anthropic-beta`, the platforms' own headers (`x-amz-*`, `x-amzn-*`, `amz-sdk-*`, `x-goog-*`) left out.
    pub headers: HeaderMap,
}

/// A cloud-dialect request read into Anthropic terms.
#[derive(Debug)]
pub struct Viewed {
    /// The Anthropic body (Messages, or count_tokens).
    pub body: Bytes,
    pub inspected: Inspected,
    pub cloud: CloudRequest,
}

/// A Vertex AI method in a path's last segment (`{model}:{method}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VertexMethod {
    RawPredict,
    StreamRawPredict,
}

/// The endpoint a Vertex path names, and the model in it (`None` for count-tokens, whose model is in the body).
/// `Err` when the path names no method the gateway serves.
pub fn vertex_endpoint(path: &str) -> Result<(Endpoint, Option<String>), GatewayError> {
    let tail = path.split_once("/publishers/anthropic/models/").map(|(_, tail)| tail).unwrap_or_default();
    let decoded = decode(tail)?;
    let unknown = || {
        GatewayError::NotFound(format!(
            "no Vertex AI method at '{}': gatehouse serves …/publishers/anthropic/models/{{model}}:rawPredict, \
             :streamRawPredict and count-tokens:rawPredict",
            shown(path)
        ))
    };
    let (model, method) = decoded.rsplit_once(':').ok_or_else(unknown)?;
    let method = match method {
        "rawPredict" => VertexMethod::RawPredict,
        "streamRawPredict" => VertexMethod::StreamRawPredict,
        _ => return Err(unknown()),
    };
    Ok(match (model, method) {
        ("count-tokens", VertexMethod::RawPredict) => (Endpoint::VertexCountTokens, None),
        (model, VertexMethod::RawPredict) => (Endpoint::VertexPredict, Some(model.to_string())),
        (model, VertexMethod::StreamRawPredict) => (Endpoint::VertexStreamPredict, Some(model.to_string())),
    })
}

/// The endpoint a Bedrock path (`/bedrock/model/{id}/{action}`) names, and its model id. `Err` when the action is
/// not one the gateway serves.
pub fn bedrock_endpoint(path: &str) -> Result<(Endpoint, String), GatewayError> {
    let rest = path.strip_prefix("/bedrock/model/").unwrap_or_default();
    let (id, action) = rest.rsplit_once('/').unwrap_or(("", rest));
    let endpoint = match action {
        "invoke" => Endpoint::BedrockInvoke,
        "invoke-with-response-stream" => Endpoint::BedrockStream,
        "count-tokens" => Endpoint::BedrockCountTokens,
        _ => {
            return Err(GatewayError::NotFound(format!(
                "no Bedrock operation at '{}': gatehouse serves /bedrock/model/{{id}}/invoke, \
                 /invoke-with-response-stream and /count-tokens",
                shown(path)
            )))
        }
    };
    Ok((endpoint, decode(id)?))
}

/// A path segment percent-decoded (boto3 writes `:` as `%3A`; Claude Code leaves it raw).
fn decode(segment: &str) -> Result<String, GatewayError> {
    percent_decode_str(segment).decode_utf8().map(|s| s.into_owned()).map_err(|_| {
        GatewayError::InvalidRequest(format!(
            "the model id in the path is not UTF-8 once decoded: '{}'",
            shown(segment)
        ))
    })
}

/// A client-supplied path for an error message: at most 120 characters, control characters escaped.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(120).flat_map(char::escape_debug).collect();
    if text.chars().count() > 120 {
        out.push('…');
    }
    out
}

/// Reads a cloud-dialect request on `endpoint` at `path` into its Anthropic view.
pub fn view(endpoint: Endpoint, path: &str, body: JsonBody, headers: &HeaderMap) -> Result<Viewed, GatewayError> {
    let original = body.bytes.clone();
    let (anthropic, model) = match endpoint {
        Endpoint::BedrockInvoke | Endpoint::BedrockStream => {
            let (_, model) = bedrock_endpoint(path)?;
            let stream = endpoint == Endpoint::BedrockStream;
            (Rewrite::messages(&original, &members_of(&original)?, &model, stream)?, Some(model))
        }
        Endpoint::BedrockCountTokens => {
            let (_, model) = bedrock_endpoint(path)?;
            let invoke = invoke_body_of_count_tokens(&original)?;
            // The unwrapped body is the client's JSON too: checked like any body before it is read.
            let invoke = JsonBody::whole(invoke)?.bytes;
            (Rewrite::count_tokens(&invoke, &model)?, Some(model))
        }
        Endpoint::VertexPredict | Endpoint::VertexStreamPredict => {
            let (_, model) = vertex_endpoint(path)?;
            let model = model.unwrap_or_default();
            let members = members_of(&original)?;
            let asked = member(&original, &members, "stream").is_some_and(|v| v == b"true");
            let stream = asked || endpoint == Endpoint::VertexStreamPredict;
            (Rewrite::messages(&original, &members, &model, stream)?, Some(model))
        }
        Endpoint::VertexCountTokens => (Rewrite::dialect_members_out(&original)?, None),
        Endpoint::Messages | Endpoint::CountTokens | Endpoint::ChatCompletions => {
            return Err(GatewayError::Internal(format!("{} is not a cloud dialect", endpoint.label())))
        }
    };
    // Assembled from members of a checked body: valid JSON whose members' places are known, so no second scan.
    let inspected = inspect_spans(&anthropic.body, |m| anthropic.span(m), endpoint.required())?;
    let model = model.unwrap_or_else(|| inspected.model.clone());
    let headers = headers_for_other_formats(headers, &anthropic.betas)?;
    Ok(Viewed { body: anthropic.body, inspected, cloud: CloudRequest { original, model, headers } })
}

/// An Anthropic body made from a dialect's body, where its members sit, and the betas its `anthropic_beta`
/// carried.
struct Rewrite {
    body: Bytes,
    spans: Vec<MemberSpan>,
    betas: Vec<String>,
}

impl Rewrite {
    /// `body` rebuilt by [`rebuilt`], with the betas of its `anthropic_beta`.
    fn of(
        body: &[u8],
        members: &[MemberSpan],
        front: &[(&str, &[u8])],
        keep: impl Fn(&[u8]) -> bool,
    ) -> Result<Self, GatewayError> {
        let betas = betas(body, members)?;
        let (body, spans) = rebuilt(body, members, front, keep);
        Ok(Self { body, spans, betas })
    }

    /// A Messages body: `model` and (when streamed) `stream` first, the dialect's own members out.
    fn messages(body: &[u8], members: &[MemberSpan], model: &str, stream: bool) -> Result<Self, GatewayError> {
        let model = json_string(model);
        let mut front: Vec<(&str, &[u8])> = vec![("model", &model)];
        if stream {
            front.push(("stream", b"true"));
        }
        let keep = |name: &[u8]| !matches!(name, b"model" | b"stream" | b"anthropic_version" | b"anthropic_beta");
        Self::of(body, members, &front, keep)
    }

    /// A count_tokens body from an InvokeModel body: `model` first, then only what count_tokens accepts.
    fn count_tokens(body: &[u8], model: &str) -> Result<Self, GatewayError> {
        let model = json_string(model);
        let keep = |name: &[u8]| COUNT_TOKENS_MEMBERS.iter().any(|m| m.as_bytes() == name);
        Self::of(body, &members_of(body)?, &[("model", &model)], keep)
    }

    /// The body with the dialect's own members out (Vertex's count-tokens, which has its `model`).
    fn dialect_members_out(body: &[u8]) -> Result<Self, GatewayError> {
        let keep = |name: &[u8]| !matches!(name, b"anthropic_version" | b"anthropic_beta");
        Self::of(body, &members_of(body)?, &[], keep)
    }

    /// Where `member`'s value sits in the rebuilt body.
    fn span(&self, member: Member) -> Option<Range<usize>> {
        let name = member.name().as_bytes();
        self.spans.iter().find(|m| m.name_in(&self.body).as_ref() == name).map(|m| m.value.clone())
    }
}

fn members_of(body: &[u8]) -> Result<Vec<MemberSpan>, GatewayError> {
    top_level_members(body).ok_or_else(|| GatewayError::InvalidRequest("request body must be a JSON object".into()))
}

/// The raw value of the top-level member `name`, if the body has it.
fn member<'b>(body: &'b [u8], members: &[MemberSpan], name: &str) -> Option<&'b [u8]> {
    members.iter().find(|m| m.name_in(body).as_ref() == name.as_bytes()).map(|m| &body[m.value.clone()])
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> Vec<u8> {
    // Serialising a `str` into a `Vec` cannot fail.
    serde_json::to_vec(text).unwrap_or_default()
}

/// `{` + the `front` members + every member of `body` that `keep` accepts (copied as written) + `}`, and where
/// each member sits in it.
fn rebuilt(
    body: &[u8],
    members: &[MemberSpan],
    front: &[(&str, &[u8])],
    keep: impl Fn(&[u8]) -> bool,
) -> (Bytes, Vec<MemberSpan>) {
    let kept: Vec<&MemberSpan> = members.iter().filter(|m| keep(&m.name_in(body))).collect();
    let size = 2
        + front.iter().map(|(n, v)| n.len() + v.len() + 4).sum::<usize>()
        + kept.iter().map(|m| m.whole().len() + 1).sum::<usize>();
    let mut out = BytesMut::with_capacity(size);
    let mut spans = Vec::with_capacity(front.len() + kept.len());
    out.put_u8(b'{');
    for (name, value) in front {
        if out.len() > 1 {
            out.put_u8(b',');
        }
        out.put_u8(b'"');
        let name_at = out.len();
        out.put_slice(name.as_bytes());
        out.put_slice(b"\":");
        let value_at = out.len();
        out.put_slice(value);
        spans.push(MemberSpan { name: name_at..name_at + name.len(), value: value_at..out.len() });
    }
    for member in kept {
        if out.len() > 1 {
            out.put_u8(b',');
        }
        // The member's ranges, moved from where it was in `body` to where it lands in `out`.
        let whole = member.whole();
        let moved = |r: &Range<usize>| r.start - whole.start + out.len()..r.end - whole.start + out.len();
        spans.push(MemberSpan { name: moved(&member.name), value: moved(&member.value) });
        out.put_slice(&body[whole]);
    }
    out.put_u8(b'}');
    (out.freeze(), spans)
}

/// The betas of the body's `anthropic_beta` member (an array of strings), if any.
fn betas(body: &[u8], members: &[MemberSpan]) -> Result<Vec<String>, GatewayError> {
    let Some(raw) = member(body, members, "anthropic_beta") else { return Ok(Vec::new()) };
    serde_json::from_slice::<Option<Vec<String>>>(raw)
        .map(Option::unwrap_or_default)
        .map_err(|_| GatewayError::InvalidRequest("anthropic_beta: must be an array of strings".into()))
}

/// The InvokeModel body inside Bedrock's CountTokens request `{"input":{"invokeModel":{"body":"<base64>"}}}`.
fn invoke_body_of_count_tokens(outer: &[u8]) -> Result<Bytes, GatewayError> {
    #[derive(serde::Deserialize)]
    struct Outer {
        input: Input,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Input {
        invoke_model: Option<InvokeModel>,
    }
    #[derive(serde::Deserialize)]
    struct InvokeModel {
        body: String,
    }
    let invalid = |what: &str| GatewayError::InvalidRequest(format!("input.invokeModel.body: {what}"));
    let outer: Outer = serde_json::from_slice(outer).map_err(|_| {
        GatewayError::InvalidRequest(
            "count-tokens: the body must be {\"input\":{\"invokeModel\":{\"body\":\"<base64 of the InvokeModel body>\"}}}"
                .into(),
        )
    })?;
    let Some(invoke) = outer.input.invoke_model else {
        return Err(GatewayError::InvalidRequest(
            "count-tokens: only input.invokeModel is supported (not input.converse)".into(),
        ));
    };
    let decoded =
        base64::engine::general_purpose::STANDARD.decode(invoke.body.trim()).map_err(|_| invalid("not base64"))?;
    Ok(Bytes::from(decoded))
}

/// The client's headers for a provider of another format: the platforms' own headers out, the body's betas merged
/// into `anthropic-beta` (after the header's own, each beta once).
fn headers_for_other_formats(client: &HeaderMap, body_betas: &[String]) -> Result<HeaderMap, GatewayError> {
    let mut out = HeaderMap::with_capacity(client.len());
    for (name, value) in client.iter() {
        let n = name.as_str();
        let platform = n.starts_with("x-amz-")
            || n.starts_with("x-amzn-")
            || n.starts_with("amz-sdk-")
            || n.starts_with("x-goog-");
        if !(platform || name == ANTHROPIC_BETA) {
            out.append(name.clone(), value.clone());
        }
    }
    let mut all: Vec<&str> = Vec::new();
    let from_header = client.get_all(ANTHROPIC_BETA).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
    for beta in from_header.chain(body_betas.iter().map(String::as_str)).map(str::trim) {
        if !beta.is_empty() && !all.contains(&beta) {
            all.push(beta);
        }
    }
    if !all.is_empty() {
        let value = HeaderValue::from_str(&all.join(",")).map_err(|_| {
            GatewayError::InvalidRequest("anthropic_beta: a beta name is not a valid header value".into())
        })?;
        out.insert(ANTHROPIC_BETA, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        h
    }

    fn viewed(endpoint: Endpoint, path: &str, body: Value, h: &HeaderMap) -> Result<Viewed, GatewayError> {
        let json = JsonBody::whole(Bytes::from(body.to_string()))?;
        view(endpoint, path, json, h)
    }

    fn as_json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn bedrock_paths_name_the_operation_and_the_decoded_id() {
        let id = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
        for path in [
            format!("/bedrock/model/{id}/invoke"),
            "/bedrock/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke".into(),
        ] {
            assert_eq!(bedrock_endpoint(&path).unwrap(), (Endpoint::BedrockInvoke, id.to_string()));
        }
        assert_eq!(
            bedrock_endpoint("/bedrock/model/a/invoke-with-response-stream").unwrap().0,
            Endpoint::BedrockStream
        );
        assert_eq!(bedrock_endpoint("/bedrock/model/a/count-tokens").unwrap().0, Endpoint::BedrockCountTokens);
        assert_eq!(bedrock_endpoint("/bedrock/model/a/converse").unwrap_err().kind(), "not_found");
        assert_eq!(bedrock_endpoint("/bedrock/model/%FF/invoke").unwrap_err().kind(), "invalid_request");
    }

    #[test]
    fn vertex_paths_name_the_method_and_the_model_before_the_last_colon() {
        let base = "/vertex/v1/projects/p/locations/us-east5/publishers/anthropic/models";
        let (endpoint, model) =
            vertex_endpoint(&format!("{base}/claude-sonnet-4-5@20250929:streamRawPredict")).unwrap();
        assert_eq!((endpoint, model.as_deref()), (Endpoint::VertexStreamPredict, Some("claude-sonnet-4-5@20250929")));
        let (endpoint, model) = vertex_endpoint(&format!("{base}/vertex:agent%3Aparallel:rawPredict")).unwrap();
        assert_eq!((endpoint, model.as_deref()), (Endpoint::VertexPredict, Some("vertex:agent:parallel")));
        assert_eq!(
            vertex_endpoint(&format!("{base}/count-tokens:rawPredict")).unwrap(),
            (Endpoint::VertexCountTokens, None)
        );
        assert_eq!(vertex_endpoint(&format!("{base}/m:predict")).unwrap_err().kind(), "not_found");
        assert_eq!(vertex_endpoint(&format!("{base}/m")).unwrap_err().kind(), "not_found");
    }

    #[test]
    fn a_bedrock_body_becomes_a_messages_body_and_its_betas_a_header() {
        let body = json!({"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": ["b-2", "a-1"], "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}], "system": "s", "stream": false});
        let h = headers(&[
            ("anthropic-beta", "a-1,c-3"),
            ("x-amz-date", "20250101T000000Z"),
            ("x-amz-security-token", "t"),
            ("amz-sdk-invocation-id", "i"),
            ("x-app", "cli"),
        ]);
        let path = "/bedrock/model/us.anthropic.claude-x-v1:0/invoke-with-response-stream";
        let v = viewed(Endpoint::BedrockStream, path, body.clone(), &h).unwrap();
        assert_eq!(
            as_json(&v.body),
            json!({"model": "us.anthropic.claude-x-v1:0", "stream": true, "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}], "system": "s"})
        );
        assert!(v.body.starts_with(br#"{"model":"us.anthropic.claude-x-v1:0","stream":true,"max_tokens":5,"#));
        assert_eq!((v.inspected.model.as_str(), v.inspected.stream), ("us.anthropic.claude-x-v1:0", true));
        assert_eq!(v.cloud.original, body.to_string().as_bytes());
        assert_eq!(v.cloud.headers.get("anthropic-beta").unwrap(), "a-1,c-3,b-2");
        assert_eq!(v.cloud.headers.get("x-app").unwrap(), "cli");
        assert!(v.cloud.headers.keys().all(|k| !k.as_str().starts_with("x-amz") && !k.as_str().starts_with("amz-")));
        let v = viewed(Endpoint::BedrockInvoke, "/bedrock/model/m/invoke", body, &HeaderMap::new()).unwrap();
        assert_eq!(as_json(&v.body)["stream"], Value::Null);
        assert_eq!(v.cloud.headers.get("anthropic-beta").unwrap(), "b-2,a-1");
    }

    #[test]
    fn members_written_with_escapes_are_known_by_their_meaning() {
        let body = r#"{"mod\u0065l":"other","max_tokens":1,"messages":[1],"anthropic\u005fversion":"v"}"#;
        let json = JsonBody::whole(Bytes::from(body)).unwrap();
        let v = view(Endpoint::BedrockInvoke, "/bedrock/model/m/invoke", json, &HeaderMap::new()).unwrap();
        assert_eq!(as_json(&v.body), json!({"model": "m", "max_tokens": 1, "messages": [1]}));
    }

    #[test]
    fn bedrock_bodies_are_checked_like_messages_bodies() {
        let path = "/bedrock/model/m/invoke";
        let error = viewed(
            Endpoint::BedrockInvoke,
            path,
            json!({"messages": [{"role": "user", "content": "x"}]}),
            &HeaderMap::new(),
        );
        assert!(error.unwrap_err().to_string().starts_with("max_tokens:"));
        let error = viewed(
            Endpoint::BedrockInvoke,
            path,
            json!({"max_tokens": 1, "messages": [1], "anthropic_beta": "x"}),
            &HeaderMap::new(),
        );
        assert!(error.unwrap_err().to_string().starts_with("anthropic_beta:"));
    }

    #[test]
    fn a_vertex_body_keeps_stream_and_loses_its_version() {
        let body = json!({"anthropic_version": "vertex-2023-10-16", "stream": true, "max_tokens": 5, "messages": [1]});
        let path = "/vertex/v1/projects/p/locations/r/publishers/anthropic/models/claude-x@1:rawPredict";
        let v = viewed(Endpoint::VertexPredict, path, body, &HeaderMap::new()).unwrap();
        assert_eq!(as_json(&v.body), json!({"model": "claude-x@1", "stream": true, "max_tokens": 5, "messages": [1]}));
        let count = json!({"anthropic_version": "vertex-2023-10-16", "model": "claude-x@1", "messages": [1]});
        let path = "/vertex/v1/projects/p/locations/r/publishers/anthropic/models/count-tokens:rawPredict";
        let v = viewed(Endpoint::VertexCountTokens, path, count, &HeaderMap::new()).unwrap();
        assert_eq!(as_json(&v.body), json!({"model": "claude-x@1", "messages": [1]}));
        assert_eq!(v.cloud.model, "claude-x@1");
    }

    #[test]
    fn bedrock_count_tokens_unwraps_the_invoke_body() {
        let invoke = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 9, "messages": [1], "system": "s",
            "tools": [], "temperature": 0.5});
        let encoded = base64::engine::general_purpose::STANDARD.encode(invoke.to_string());
        let outer = json!({"input": {"invokeModel": {"body": encoded}}});
        let v =
            viewed(Endpoint::BedrockCountTokens, "/bedrock/model/m:1/count-tokens", outer.clone(), &HeaderMap::new())
                .unwrap();
        assert_eq!(as_json(&v.body), json!({"model": "m:1", "messages": [1], "system": "s", "tools": []}));
        assert_eq!(v.cloud.original, outer.to_string().as_bytes());
        for bad in
            [json!({"input": {"converse": {}}}), json!({"input": {"invokeModel": {"body": "%%"}}}), json!({"x": 1})]
        {
            let error = viewed(Endpoint::BedrockCountTokens, "/bedrock/model/m/count-tokens", bad, &HeaderMap::new());
            assert_eq!(error.unwrap_err().kind(), "invalid_request");
        }
    }
}
