//! The Anthropic stream events gatehouse writes, as typed payloads with a
//! fixed field order (`type` first), so the bytes do not depend on how
//! serde_json orders maps.

use bytes::BytesMut;
use serde::Serialize;

use crate::convert::usage::Usage;
use crate::sse::encode_json_event;

/// One Anthropic stream event; its `type` is also the SSE event name.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Event<'a> {
    MessageStart { message: StartMessage<'a> },
    Ping,
    ContentBlockStart { index: usize, content_block: BlockStart<'a> },
    ContentBlockDelta { index: usize, delta: Delta<'a> },
    ContentBlockStop { index: usize },
    MessageDelta { delta: StopDelta<'a>, usage: UsageOut },
    MessageStop,
}

impl Event<'_> {
    fn name(&self) -> &'static str {
        match self {
            Event::MessageStart { .. } => "message_start",
            Event::Ping => "ping",
            Event::ContentBlockStart { .. } => "content_block_start",
            Event::ContentBlockDelta { .. } => "content_block_delta",
            Event::ContentBlockStop { .. } => "content_block_stop",
            Event::MessageDelta { .. } => "message_delta",
            Event::MessageStop => "message_stop",
        }
    }

    /// Appends the event as one SSE frame.
    pub(super) fn write(&self, out: &mut BytesMut) {
        let written = encode_json_event(self.name(), self, out);
        // These payloads are strings, integers and fixed shapes: serializing
        // them cannot fail, and a failure would append nothing.
        debug_assert!(written.is_ok());
    }
}

#[derive(Serialize)]
pub(super) struct StartMessage<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub role: &'static str,
    pub model: &'a str,
    pub content: [(); 0],
    pub stop_reason: Option<&'static str>,
    pub stop_sequence: Option<&'static str>,
    pub usage: UsageOut,
}

impl<'a> StartMessage<'a> {
    /// `input_tokens`: the estimate known before the answer (0 when none).
    pub(super) fn new(id: &'a str, model: &'a str, input_tokens: u64) -> Self {
        StartMessage {
            id,
            kind: "message",
            role: "assistant",
            model,
            content: [],
            stop_reason: None,
            stop_sequence: None,
            usage: UsageOut::from(Usage { input_tokens, ..Usage::default() }),
        }
    }
}

/// Serializes as `{}`: a tool block's input starts empty and fills from deltas.
#[derive(Serialize)]
pub(super) struct EmptyObject {}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum BlockStart<'a> {
    Text { text: &'static str },
    Thinking { thinking: &'static str, signature: &'static str },
    ToolUse { id: &'a str, name: &'a str, input: EmptyObject },
}

/// Variants serialize as `text_delta`, `thinking_delta`, … (the wire names).
#[derive(Serialize)]
#[serde(tag = "type")]
pub(super) enum Delta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

#[derive(Serialize)]
pub(super) struct StopDelta<'a> {
    pub stop_reason: &'a str,
    pub stop_sequence: Option<&'static str>,
}

/// Usage as the stream reports it: all four counts, so clients that read
/// `input_tokens` from `message_delta` (the counts arrive only at the end) see them.
#[derive(Serialize)]
pub(super) struct UsageOut {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}

impl From<Usage> for UsageOut {
    fn from(u: Usage) -> Self {
        UsageOut {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_input_tokens: u.cache_read_input_tokens,
            cache_creation_input_tokens: u.cache_creation_input_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(event: Event<'_>) -> String {
        let mut out = BytesMut::new();
        event.write(&mut out);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn shapes_match_anthropic() {
        assert_eq!(
            frame(Event::MessageStart { message: StartMessage::new("msg_1", "m", 0) }),
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,\"output_tokens\":0,\"cache_read_input_tokens\":0,\"cache_creation_input_tokens\":0}}}\n\n"
        );
        assert_eq!(frame(Event::Ping), "event: ping\ndata: {\"type\":\"ping\"}\n\n");
        assert_eq!(
            frame(Event::ContentBlockStart {
                index: 1,
                content_block: BlockStart::ToolUse { id: "t", name: "n", input: EmptyObject {} }
            }),
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\",\"input\":{}}}\n\n"
        );
        assert_eq!(
            frame(Event::ContentBlockDelta { index: 0, delta: Delta::InputJson { partial_json: "{\"a" } }),
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"a\"}}\n\n"
        );
        assert_eq!(
            String::from_utf8(
                crate::error::render::stream_frame_for(crate::error::Dialect::Anthropic, "api_error", "x").to_vec()
            )
            .unwrap(),
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}\n\n"
        );
    }
}
