//! The `chat.completion.chunk` payloads gatehouse writes to OpenAI clients, as typed structs with a fixed field
//! order (the bytes do not depend on how serde_json orders maps), and their `data:` framing.

use bytes::{BufMut, BytesMut};
use serde::Serialize;
use serde_json::Value;

/// One streamed chunk. `choices` is empty only in the final usage chunk.
#[derive(Serialize)]
pub(super) struct Chunk<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
    pub choices: &'a [Choice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Value>,
}

#[derive(Serialize)]
pub(super) struct Choice<'a> {
    pub index: u32,
    pub delta: Delta<'a>,
    pub logprobs: Option<()>,
    pub finish_reason: Option<&'a str>,
}

impl<'a> Choice<'a> {
    /// The one choice gatehouse writes (index 0: requests never get more than one).
    pub fn new(delta: Delta<'a>, finish_reason: Option<&'a str>) -> Self {
        Choice { index: 0, delta, logprobs: None, finish_reason }
    }
}

/// What a chunk adds; absent fields are left out, so an empty delta is `{}`.
#[derive(Serialize, Default)]
pub(super) struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<[ToolCallDelta<'a>; 1]>,
}

/// A tool call's first delta carries `id`, `type` and `function.name`; later ones only `arguments`.
#[derive(Serialize)]
pub(super) struct ToolCallDelta<'a> {
    pub index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionDelta<'a>,
}

#[derive(Serialize)]
pub(super) struct FunctionDelta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub arguments: &'a str,
}

/// Appends `data: <json>\n\n`. These payloads are strings, integers and fixed shapes, so serialising cannot
/// fail; if it did, nothing would be appended.
pub(super) fn write_data<T: Serialize>(payload: &T, out: &mut BytesMut) {
    let mark = out.len();
    out.put_slice(b"data: ");
    if serde_json::to_writer(out.writer(), payload).is_err() {
        out.truncate(mark);
        return;
    }
    out.put_slice(b"\n\n");
}

/// The stream's last frame.
pub(super) fn write_done(out: &mut BytesMut) {
    out.put_slice(b"data: [DONE]\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_bytes_have_a_fixed_shape() {
        let mut out = BytesMut::new();
        let choices = [Choice::new(Delta { role: Some("assistant"), content: Some(""), ..Delta::default() }, None)];
        let chunk = Chunk {
            id: "chatcmpl-1",
            object: "chat.completion.chunk",
            created: 7,
            model: "m",
            choices: &choices,
            usage: None,
        };
        write_data(&chunk, &mut out);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":7,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}\n\n"
        );
    }
}
