//! Streaming Anthropic Messages → OpenAI `chat.completion.chunk`s: a state machine fed raw upstream bytes at any
//! chunk boundaries.
//!
//! Output: one chunk with `role: assistant` when the message starts; text deltas as `content`, thinking deltas as
//! `reasoning_content`; each `tool_use` block as a tool call (`index` counts tool calls from 0; the first delta
//! carries `id`, `type` and `function.name`, later ones `arguments` fragments from `input_json_delta`; a call
//! without any fragment gets `{}`, so arguments always concatenate to JSON); at `message_stop` one chunk with
//! an empty delta and the `finish_reason`, then — when the client asked for `include_usage` — a usage chunk with
//! `choices: []`, then `data: [DONE]`. An Anthropic `error` event becomes one `data:` chunk with an OpenAI
//! `error` object, after which nothing more is written. Only the open block is remembered (Anthropic opens one
//! at a time), so memory does not grow with the stream.

use bytes::BytesMut;
use serde_json::Value;

use super::chunks::{write_data, write_done, Choice, Chunk, Delta, FunctionDelta, ToolCallDelta};
use super::response::{chat_id, finish_reason, merge_anthropic_usage, openai_usage};
use crate::convert::stream_convert::StreamConvert;
use crate::convert::usage::Usage;
use crate::error::render::{stream_frame_for, Dialect};
use crate::sse::{SseEvent, SseParser};

const CHUNK_OBJECT: &str = "chat.completion.chunk";

#[derive(Debug)]
enum BlockKind {
    Text,
    Thinking,
    /// `call`: the tool call's OpenAI index; `complete`: the input came whole with the block start.
    Tool {
        call: usize,
        has_arguments: bool,
        complete: bool,
    },
    /// Blocks without an OpenAI counterpart (server tools, redacted thinking): their deltas are dropped.
    Other,
}

#[derive(Debug)]
struct OpenBlock {
    index: u64,
    kind: BlockKind,
}

/// Converts one upstream Anthropic stream; create one per request.
#[derive(Debug)]
pub struct ChatStreamConverter {
    parser: SseParser,
    /// Reused buffer of parsed upstream events.
    pending: Vec<SseEvent>,
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    started: bool,
    open: Option<OpenBlock>,
    tool_calls: usize,
    stop_reason: Option<String>,
    usage: Usage,
    finished: bool,
    /// The Anthropic error type and message of the error chunk that ended the stream, if one did.
    failure: Option<(String, String)>,
}

impl ChatStreamConverter {
    /// `requested_model` is echoed back; `created` is the Unix time of the answer; `include_usage` asks for the
    /// final usage chunk.
    pub fn new(requested_model: String, created: u64, include_usage: bool) -> Self {
        ChatStreamConverter {
            parser: SseParser::default(),
            pending: Vec::new(),
            id: chat_id(None),
            created,
            model: requested_model,
            include_usage,
            started: false,
            open: None,
            tool_calls: 0,
            stop_reason: None,
            usage: Usage::default(),
            finished: false,
            failure: None,
        }
    }

    fn handle_events(&mut self, events: &mut Vec<SseEvent>, out: &mut BytesMut) {
        for event in events.drain(..) {
            if !self.finished {
                self.handle_event(&event, out);
            }
        }
    }

    fn handle_event(&mut self, event: &SseEvent, out: &mut BytesMut) {
        let data = event.data.trim();
        if data.is_empty() {
            return;
        }
        let payload: Value = match serde_json::from_str(data) {
            Ok(payload) => payload,
            Err(err) => return self.error("api_error", &format!("upstream sent a malformed stream event: {err}"), out),
        };
        let kind = payload.get("type").and_then(Value::as_str).or(event.event.as_deref()).unwrap_or_default();
        match kind {
            "message_start" => self.message_start(&payload, out),
            "content_block_start" => self.block_start(&payload, out),
            "content_block_delta" => self.block_delta(&payload, out),
            "content_block_stop" => self.block_stop(&payload, out),
            "message_delta" => {
                if let Some(reason) = payload.get("delta").and_then(|d| d.get("stop_reason")).and_then(Value::as_str) {
                    self.stop_reason = Some(reason.to_string());
                }
                if let Some(usage) = payload.get("usage").filter(|u| u.is_object()) {
                    merge_anthropic_usage(&mut self.usage, usage);
                }
            }
            "message_stop" => self.complete(out),
            "error" => {
                let error = payload.get("error").unwrap_or(&payload);
                let error_type = error.get("type").and_then(Value::as_str).unwrap_or("api_error");
                let message = error.get("message").and_then(Value::as_str).unwrap_or("upstream stream error");
                self.error(error_type, message, out);
            }
            _ => {} // ping, and event types that do not exist yet
        }
    }

    fn message_start(&mut self, payload: &Value, out: &mut BytesMut) {
        let message = payload.get("message");
        if !self.started {
            if let Some(id) = message.and_then(|m| m.get("id")).and_then(Value::as_str) {
                self.id = chat_id(Some(id));
            }
        }
        if let Some(usage) = message.and_then(|m| m.get("usage")).filter(|u| u.is_object()) {
            merge_anthropic_usage(&mut self.usage, usage);
        }
        self.start(out);
    }

    fn block_start(&mut self, payload: &Value, out: &mut BytesMut) {
        self.start(out);
        self.close_block(out);
        let index = payload.get("index").and_then(Value::as_u64).unwrap_or(0);
        let block = payload.get("content_block").unwrap_or(&Value::Null);
        let text_of = |key: &str| block.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
        let kind = match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                if let Some(text) = text_of("text") {
                    self.write_delta(Delta { content: Some(text), ..Delta::default() }, out);
                }
                BlockKind::Text
            }
            Some("thinking") => {
                if let Some(thinking) = text_of("thinking") {
                    self.write_delta(Delta { reasoning_content: Some(thinking), ..Delta::default() }, out);
                }
                BlockKind::Thinking
            }
            Some("tool_use") => {
                let call = self.tool_calls;
                self.tool_calls += 1;
                // Anthropic sends `input: {}` and then the JSON in fragments; a relay that sends the whole input
                // with the start is taken at its word and later fragments are ignored.
                let whole = block.get("input").filter(|i| i.as_object().is_some_and(|o| !o.is_empty()));
                let arguments = whole.map(Value::to_string);
                // OpenAI clients key calls by id; Anthropic always sends one, a relay that does not gets one made up.
                let made_up;
                let id = match text_of("id") {
                    Some(id) => id,
                    None => {
                        made_up = format!("call_{}_{call}", self.id);
                        &made_up
                    }
                };
                let name = text_of("name").unwrap_or_default();
                let call_delta = ToolCallDelta {
                    index: call,
                    id: Some(id),
                    kind: Some("function"),
                    function: FunctionDelta { name: Some(name), arguments: arguments.as_deref().unwrap_or("") },
                };
                self.write_delta(Delta { tool_calls: Some([call_delta]), ..Delta::default() }, out);
                BlockKind::Tool { call, has_arguments: arguments.is_some(), complete: arguments.is_some() }
            }
            _ => BlockKind::Other,
        };
        self.open = Some(OpenBlock { index, kind });
    }

    fn block_delta(&mut self, payload: &Value, out: &mut BytesMut) {
        let index = payload.get("index").and_then(Value::as_u64).unwrap_or(0);
        let Some(open) = self.open.as_mut().filter(|b| b.index == index) else { return };
        let delta = payload.get("delta").unwrap_or(&Value::Null);
        let field = |key: &str| delta.get(key).and_then(Value::as_str).filter(|s| !s.is_empty());
        let out_delta = match (&mut open.kind, delta.get("type").and_then(Value::as_str)) {
            (BlockKind::Text, Some("text_delta")) => {
                field("text").map(|t| Delta { content: Some(t), ..Delta::default() })
            }
            (BlockKind::Thinking, Some("thinking_delta")) => {
                field("thinking").map(|t| Delta { reasoning_content: Some(t), ..Delta::default() })
            }
            (BlockKind::Tool { call, has_arguments, complete: false }, Some("input_json_delta")) => {
                field("partial_json").map(|fragment| {
                    *has_arguments = true;
                    Delta { tool_calls: Some([arguments_delta(*call, fragment)]), ..Delta::default() }
                })
            }
            _ => None, // signatures, citations, mismatched or unknown deltas
        };
        if let Some(d) = out_delta {
            self.write_delta(d, out);
        }
    }

    fn block_stop(&mut self, payload: &Value, out: &mut BytesMut) {
        let index = payload.get("index").and_then(Value::as_u64).unwrap_or(0);
        if self.open.as_ref().is_some_and(|b| b.index == index) {
            self.close_block(out);
        }
    }

    /// Forgets the open block; a tool call that got no arguments gets `{}`.
    fn close_block(&mut self, out: &mut BytesMut) {
        if let Some(OpenBlock { kind: BlockKind::Tool { call, has_arguments: false, .. }, .. }) = self.open.take() {
            self.write_delta(Delta { tool_calls: Some([arguments_delta(call, "{}")]), ..Delta::default() }, out);
        }
    }

    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        self.write_delta(Delta { role: Some("assistant"), content: Some(""), ..Delta::default() }, out);
    }

    fn write_delta(&self, delta: Delta<'_>, out: &mut BytesMut) {
        let choices = [Choice::new(delta, None)];
        write_data(&self.chunk(&choices, None), out);
    }

    fn chunk<'a>(&'a self, choices: &'a [Choice<'a>], usage: Option<Value>) -> Chunk<'a> {
        Chunk { id: &self.id, object: CHUNK_OBJECT, created: self.created, model: &self.model, choices, usage }
    }

    /// The finish chunk, the usage chunk when asked for, and `[DONE]`.
    fn complete(&mut self, out: &mut BytesMut) {
        self.start(out);
        self.close_block(out);
        let reason = finish_reason(self.stop_reason.as_deref());
        write_data(&self.chunk(&[Choice::new(Delta::default(), Some(reason))], None), out);
        if self.include_usage {
            write_data(&self.chunk(&[], Some(openai_usage(self.usage))), out);
        }
        write_done(out);
        self.finished = true;
    }

    fn error(&mut self, error_type: &str, message: &str, out: &mut BytesMut) {
        out.extend_from_slice(&stream_frame_for(Dialect::OpenAi, error_type, message));
        self.finished = true;
        self.failure = Some((error_type.to_string(), message.to_string()));
    }
}

impl StreamConvert for ChatStreamConverter {
    fn parser(&mut self) -> (&mut SseParser, &mut Vec<SseEvent>) {
        (&mut self.parser, &mut self.pending)
    }

    fn handle_events(&mut self, events: &mut Vec<SseEvent>, out: &mut BytesMut) {
        ChatStreamConverter::handle_events(self, events, out)
    }

    fn stop_known(&self) -> bool {
        self.stop_reason.is_some()
    }

    fn complete(&mut self, out: &mut BytesMut) {
        ChatStreamConverter::complete(self, out)
    }

    fn error(&mut self, error_type: &str, message: &str, out: &mut BytesMut) {
        ChatStreamConverter::error(self, error_type, message, out)
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    fn usage(&self) -> Usage {
        self.usage
    }

    fn failed_with(&self) -> Option<&str> {
        self.failure.as_ref().map(|(t, _)| t.as_str())
    }

    fn failed_before_start(&self) -> Option<(&str, &str)> {
        self.failure.as_ref().filter(|_| !self.started).map(|(t, m)| (t.as_str(), m.as_str()))
    }
}

fn arguments_delta(call: usize, fragment: &str) -> ToolCallDelta<'_> {
    ToolCallDelta { index: call, id: None, kind: None, function: FunctionDelta { name: None, arguments: fragment } }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: &str) -> String {
        format!("event: {name}\ndata: {data}\n\n")
    }

    fn convert(input: &str, include_usage: bool) -> String {
        let mut c = ChatStreamConverter::new("gpt-like".into(), 42, include_usage);
        let mut out = BytesMut::new();
        c.push(input.as_bytes(), &mut out);
        c.finish(&mut out);
        assert!(c.is_finished());
        String::from_utf8(out.to_vec()).unwrap()
    }

    fn data_lines(s: &str) -> Vec<Value> {
        s.split("\n\n")
            .filter_map(|f| f.strip_prefix("data: "))
            .filter(|d| *d != "[DONE]")
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    const START: &str = r#"{"type":"message_start","message":{"id":"msg_9","usage":{"input_tokens":5,"output_tokens":1,"cache_read_input_tokens":2}}}"#;

    #[test]
    fn text_stream_with_usage() {
        let input = [
            event("message_start", START),
            event(
                "content_block_start",
                r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            ),
            event("ping", r#"{"type":"ping"}"#),
            event(
                "content_block_delta",
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            ),
            event("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
            event(
                "message_delta",
                r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":7}}"#,
            ),
            event("message_stop", r#"{"type":"message_stop"}"#),
        ]
        .concat();
        let out = convert(&input, true);
        assert!(out.ends_with("data: [DONE]\n\n"));
        let chunks = data_lines(&out);
        assert_eq!(chunks.len(), 4);
        assert_eq!(chunks[0]["choices"][0]["delta"], serde_json::json!({"role": "assistant", "content": ""}));
        assert_eq!(chunks[0]["id"], "chatcmpl-9");
        assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "Hi");
        assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
        assert_eq!(chunks[3]["choices"], serde_json::json!([]));
        assert_eq!(chunks[3]["usage"]["prompt_tokens"], 7);
        assert_eq!(chunks[3]["usage"]["completion_tokens"], 7);
        assert!(!convert(&input, false).contains("\"usage\""));
    }

    #[test]
    fn tool_without_fragments_gets_empty_object() {
        let input = [
            event("message_start", START),
            event("content_block_start", r#"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"now","input":{}}}"#),
            event("content_block_delta", r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":""}}"#),
            event("content_block_stop", r#"{"type":"content_block_stop","index":0}"#),
            event("message_delta", r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":3}}"#),
        ]
        .concat();
        let chunks = data_lines(&convert(&input, false));
        assert_eq!(chunks[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"], "now");
        assert_eq!(chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"], "{}");
        assert_eq!(
            chunks[3]["choices"][0]["finish_reason"], "tool_calls",
            "a message_delta without message_stop completes"
        );
    }

    #[test]
    fn error_events_and_cut_streams() {
        let overloaded =
            event("error", r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#);
        let mut c = ChatStreamConverter::new("m".into(), 0, false);
        let mut out = BytesMut::new();
        c.push(overloaded.as_bytes(), &mut out);
        assert_eq!(c.failed_before_start(), Some(("overloaded_error", "Overloaded")));
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert_eq!(text, "data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"server_error\",\"param\":null,\"code\":\"overloaded\"}}\n\n");
        let cut = convert(&event("message_start", START), false);
        assert!(cut.contains("\"error\"") && !cut.contains("[DONE]"));
        assert!(convert("event: message_start\ndata: {nope\n\n", false).contains("malformed"));
    }
}
