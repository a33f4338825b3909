//! Request and answer bodies of the cloud formats, as pure byte-to-byte mappings: an Anthropic Messages body
//! becomes a Bedrock InvokeModel body (no `model`, no `stream`, Bedrock's `anthropic_version`, the betas in
//! `anthropic_beta`) or a Vertex rawPredict body (no `model`, Vertex's `anthropic_version`); Bedrock's
//! CountTokens request wraps the InvokeModel body and its answer is renamed. Member names and values are copied
//! as the client wrote them (only the top level is walked, and nothing is re-parsed).

use base64::Engine;
use serde::Deserialize;

use crate::json::member::top_level_members;

/// The `anthropic_version` Bedrock's Messages API takes in the body.
pub const BEDROCK_VERSION: &str = "bedrock-2023-05-31";
/// The `anthropic_version` Vertex AI's Messages API takes in the body.
pub const VERTEX_VERSION: &str = "vertex-2023-10-16";

/// One top-level member: its name as JSON means it, the name as written (quotes included) and its value's text.
struct Member<'a> {
    name: std::borrow::Cow<'a, [u8]>,
    written_name: &'a [u8],
    value: &'a [u8],
}

/// The top-level members of a JSON object, in order. The body is one the gateway already checked (the request scan,
/// or its own serialisation), so values are skipped at memchr speed, not parsed.
fn members(body: &[u8]) -> Result<Vec<Member<'_>>, String> {
    let spans = top_level_members(body).ok_or_else(|| "request body is not a JSON object".to_string())?;
    Ok(spans
        .into_iter()
        .map(|span| Member {
            name: span.name_in(body),
            written_name: &body[span.name.start - 1..span.name.end + 1],
            value: &body[span.value.clone()],
        })
        .collect())
}

fn find<'m>(members: &'m [Member<'_>], name: &str) -> Option<&'m Member<'m>> {
    members.iter().find(|m| m.name.as_ref() == name.as_bytes())
}

/// Writes `{` + `first` members + the body's members except `dropped` + `last` + `}`.
fn rebuild(
    body_members: &[Member<'_>],
    first: &[(&str, String)],
    dropped: &[&str],
    last: &[(&str, String)],
    capacity: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(capacity + 64);
    out.push(b'{');
    let put = |out: &mut Vec<u8>, written_name: &[u8], value: &[u8]| {
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(written_name);
        out.push(b':');
        out.extend_from_slice(value);
    };
    for (name, value) in first {
        put(&mut out, json_string(name).as_bytes(), value.as_bytes());
    }
    for member in body_members.iter().filter(|m| !dropped.iter().any(|d| m.name.as_ref() == d.as_bytes())) {
        put(&mut out, member.written_name, member.value);
    }
    for (name, value) in last {
        put(&mut out, json_string(name).as_bytes(), value.as_bytes());
    }
    out.push(b'}');
    out
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The betas of a request: the body's `anthropic_beta` array, then the `anthropic-beta` header values
/// (comma-separated), each once, in order of first appearance.
pub fn merged_betas(body_betas: Option<&[u8]>, header_values: &[&str]) -> Result<Vec<String>, String> {
    let from_body: Vec<String> = match body_betas {
        None => Vec::new(),
        Some(raw) => {
            serde_json::from_slice(raw).map_err(|_| "anthropic_beta must be an array of strings".to_string())?
        }
    };
    let from_headers = header_values.iter().flat_map(|v| v.split(',')).map(str::trim).filter(|b| !b.is_empty());
    let mut betas: Vec<String> = Vec::with_capacity(from_body.len() + 4);
    for beta in from_body.iter().map(String::as_str).chain(from_headers) {
        if !betas.iter().any(|b| b == beta) {
            betas.push(beta.to_string());
        }
    }
    Ok(betas)
}

/// A Messages body as Bedrock's InvokeModel takes it: without `model` and `stream`, with
/// `"anthropic_version":"bedrock-2023-05-31"` first and the betas (body and `anthropic-beta` headers) in
/// `anthropic_beta`.
pub fn bedrock_body(messages: &[u8], header_betas: &[&str]) -> Result<Vec<u8>, String> {
    let members = members(messages)?;
    let betas = merged_betas(find(&members, "anthropic_beta").map(|m| m.value), header_betas)?;
    let last: Vec<(&str, String)> = if betas.is_empty() {
        vec![]
    } else {
        vec![("anthropic_beta", serde_json::to_string(&betas).unwrap_or_default())]
    };
    Ok(rebuild(
        &members,
        &[("anthropic_version", json_string(BEDROCK_VERSION))],
        &["model", "stream", "anthropic_version", "anthropic_beta"],
        &last,
        messages.len(),
    ))
}

/// A Messages body as Vertex's rawPredict takes it: without `model` (with `model` set to `model` when given: the
/// count-tokens endpoint reads it from the body), `stream` kept, `"anthropic_version":"vertex-2023-10-16"` first.
pub fn vertex_body(messages: &[u8], model: Option<&str>) -> Result<Vec<u8>, String> {
    let members = members(messages)?;
    let mut first = vec![("anthropic_version", json_string(VERTEX_VERSION))];
    if let Some(model) = model {
        first.push(("model", json_string(model)));
    }
    Ok(rebuild(&members, &first, &["model", "anthropic_version"], &[], messages.len()))
}

/// The InvokeModel body whose tokens Bedrock's CountTokens counts, from a `count_tokens` body: as
/// [`bedrock_body`], plus the `max_tokens` InvokeModel requires and `count_tokens` bodies lack (one more than a
/// thinking budget, else 1; it does not change the count).
pub fn bedrock_count_invoke_body(count_request: &[u8], header_betas: &[&str]) -> Result<Vec<u8>, String> {
    let body = bedrock_body(count_request, header_betas)?;
    let members = members(&body)?;
    if find(&members, "max_tokens").is_some() {
        return Ok(body);
    }
    #[derive(Deserialize)]
    struct Thinking {
        budget_tokens: Option<u64>,
    }
    let budget = find(&members, "thinking")
        .and_then(|m| serde_json::from_slice::<Thinking>(m.value).ok())
        .and_then(|t| t.budget_tokens);
    let max_tokens = budget.map_or(1, |b| b.saturating_add(1));
    Ok(rebuild(&members, &[], &[], &[("max_tokens", max_tokens.to_string())], body.len()))
}

/// Bedrock's CountTokens request for an InvokeModel body: `{"input":{"invokeModel":{"body":"<base64>"}}}`.
pub fn bedrock_count_body(invoke_body: &[u8]) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(invoke_body);
    format!(r#"{{"input":{{"invokeModel":{{"body":"{encoded}"}}}}}}"#).into_bytes()
}

/// Bedrock's CountTokens answer `{"inputTokens": n}` as Anthropic's `{"input_tokens": n}`.
pub fn anthropic_count_answer(bedrock: &[u8]) -> Result<(Vec<u8>, u64), String> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "inputTokens")]
        input_tokens: u64,
    }
    let answer: Answer = serde_json::from_slice(bedrock)
        .map_err(|e| format!("count-tokens answer is not {{\"inputTokens\": n}}: {e}"))?;
    Ok((format!(r#"{{"input_tokens":{}}}"#, answer.input_tokens).into_bytes(), answer.input_tokens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn value(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn bedrock_body_drops_model_and_stream_and_merges_betas() {
        let body = br#"{"model":"m","max_tokens":5,"stream":true,"anthropic_beta":["a","b"],"messages":[{"role":"user","content":"h\u00e9"}]}"#;
        let out = bedrock_body(body, &["b, c", "d"]).unwrap();
        assert!(out.starts_with(br#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":"h\u00e9"}]"#), "{}", String::from_utf8_lossy(&out));
        assert_eq!(
            value(&out),
            json!({"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"anthropic_beta":["a","b","c","d"],
                   "messages":[{"role":"user","content":"hé"}]})
        );
        let plain = bedrock_body(br#"{"model":"m","anthropic_version":"x"}"#, &[]).unwrap();
        assert_eq!(plain, br#"{"anthropic_version":"bedrock-2023-05-31"}"#);
        assert!(bedrock_body(br#"{"anthropic_beta":"a"}"#, &[]).unwrap_err().contains("array of strings"));
        assert!(bedrock_body(b"[1]", &[]).is_err());
    }

    #[test]
    fn names_written_with_escapes_are_recognised_and_others_kept_as_written() {
        let out = bedrock_body(br#"{"mod\u0065l":"m","str\u0065am":true,"m\u00e9ta":{"a" : [1, "}"]}}"#, &[]).unwrap();
        assert_eq!(out, br#"{"anthropic_version":"bedrock-2023-05-31","m\u00e9ta":{"a" : [1, "}"]}}"#);
        let betas = bedrock_body(br#"{"anthropic_beta":["a","a","b"]}"#, &["b,c"]).unwrap();
        assert_eq!(value(&betas)["anthropic_beta"], json!(["a", "b", "c"]));
    }

    #[test]
    fn vertex_body_keeps_stream_and_sets_the_version() {
        let out = vertex_body(br#"{"model":"m","stream":true,"max_tokens":1}"#, None).unwrap();
        assert_eq!(out, br#"{"anthropic_version":"vertex-2023-10-16","stream":true,"max_tokens":1}"#);
        let count = vertex_body(br#"{"model":"alias","messages":[]}"#, Some("claude-x@1")).unwrap();
        assert_eq!(count, br#"{"anthropic_version":"vertex-2023-10-16","model":"claude-x@1","messages":[]}"#);
    }

    #[test]
    fn count_invoke_body_gets_a_max_tokens_above_the_budget() {
        let out = bedrock_count_invoke_body(br#"{"model":"m","messages":[]}"#, &[]).unwrap();
        assert_eq!(out, br#"{"anthropic_version":"bedrock-2023-05-31","messages":[],"max_tokens":1}"#);
        let out = bedrock_count_invoke_body(br#"{"thinking":{"type":"enabled","budget_tokens":1024}}"#, &[]).unwrap();
        assert_eq!(value(&out)["max_tokens"], json!(1025));
        let out = bedrock_count_invoke_body(br#"{"max_tokens":9}"#, &[]).unwrap();
        assert_eq!(value(&out)["max_tokens"], json!(9));
    }

    #[test]
    fn count_tokens_wrapping_and_answer() {
        let wrapped = bedrock_count_body(b"{}");
        assert_eq!(wrapped, br#"{"input":{"invokeModel":{"body":"e30="}}}"#);
        assert_eq!(anthropic_count_answer(br#"{"inputTokens":42}"#).unwrap(), (br#"{"input_tokens":42}"#.to_vec(), 42));
        assert!(anthropic_count_answer(br#"{"input_tokens":42}"#).is_err());
    }

    proptest! {
        #[test]
        fn bedrock_body_is_the_messages_body_minus_model_and_stream(
            fields in proptest::collection::btree_map("[a-z_]{1,8}", any::<i64>(), 0..8),
            betas in proptest::collection::vec("[a-z0-9-]{1,12}", 0..4),
            header in proptest::collection::vec("[a-z0-9-]{1,12}", 0..4),
        ) {
            let mut object = serde_json::Map::new();
            for (k, v) in &fields { object.insert(k.clone(), json!(v)); }
            object.insert("model".into(), json!("m"));
            object.insert("stream".into(), json!(true));
            if !betas.is_empty() { object.insert("anthropic_beta".into(), json!(betas)); }
            let body = serde_json::to_vec(&Value::Object(object.clone())).unwrap();
            let header_value = header.join(",");
            let out = value(&bedrock_body(&body, &[header_value.as_str()]).unwrap());
            let out = out.as_object().unwrap();
            prop_assert_eq!(&out["anthropic_version"], &json!(BEDROCK_VERSION));
            prop_assert!(!out.contains_key("model") && !out.contains_key("stream"));
            for (k, v) in &fields {
                if !["model", "stream", "anthropic_version", "anthropic_beta"].contains(&k.as_str()) {
                    prop_assert_eq!(&out[k], &json!(v));
                }
            }
            let sent: Vec<String> = out.get("anthropic_beta").map(|b| serde_json::from_value(b.clone()).unwrap()).unwrap_or_default();
            for beta in betas.iter().chain(&header) {
                prop_assert!(sent.contains(beta));
            }
            let mut unique = sent.clone();
            unique.sort();
            unique.dedup();
            prop_assert_eq!(unique.len(), sent.len(), "each beta once");
        }
    }
}
