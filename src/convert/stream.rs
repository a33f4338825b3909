//! Streaming OpenAI chat completion → Anthropic stream (wire-formats §7): a
//! state machine fed raw upstream bytes at any chunk boundaries.
//!
//! Order of output: `message_start` and `ping` on the first upstream chunk;
//! content blocks as fragments arrive (see `blocks`); on `finish_reason` the
//! open block is closed and the stop reason kept; `message_delta` (with the
//! final usage, which may arrive in a later `choices: []` chunk) and
//! `message_stop` at `[DONE]` or at the end of the body. Any failure is one
//! `event: error` frame, after which nothing more is written.

mod blocks;
mod events;
mod tool_input;

use bytes::BytesMut;
use serde_json::Value;

use self::blocks::{BlockWriter, Context, Fragment, ToolFragment};
use self::events::{Event, StartMessage, StopDelta, UsageOut};
use super::errors::classify_error_json;
use super::hooks::HookChain;
use super::response::{reasoning_text, stop_reason};
use super::tool_names::ToolNames;
use super::usage::Usage;
use crate::convert::stream_convert::StreamConvert;
use crate::error::render::{stream_frame_for, Dialect};
use crate::sse::{SseEvent, SseParser};

/// Converts one upstream response stream; create one per request.
#[derive(Debug)]
pub struct StreamConverter {
    parser: SseParser,
    /// Reused buffer of parsed upstream events.
    pending: Vec<SseEvent>,
    requested_model: String,
    message_id: String,
    names: ToolNames,
    blocks: BlockWriter,
    started: bool,
    finish_reason: Option<String>,
    /// The provider sent `delta.refusal`: the answer ends with `stop_reason: "refusal"`.
    refused: bool,
    /// Estimated input tokens for `message_start` (the real counts come with `message_delta`).
    input_estimate: u64,
    usage: Usage,
    finished: bool,
    /// The Anthropic error type of the `event: error` frame that ended the stream, if one did.
    failed_with: Option<String>,
    /// Middleware that observes each parsed chunk (see `crate::hooks`).
    hooks: HookChain,
}

impl StreamConverter {
    /// `requested_model` is the model name the client sent (echoed back);
    /// `message_id` a fresh `msg_…` id; `names` the map from `to_openai`.
    pub fn new(requested_model: String, message_id: String, names: ToolNames) -> Self {
        StreamConverter {
            parser: SseParser::default(),
            pending: Vec::new(),
            requested_model,
            message_id,
            names,
            blocks: BlockWriter::default(),
            started: false,
            finish_reason: None,
            refused: false,
            input_estimate: 0,
            usage: Usage::default(),
            finished: false,
            failed_with: None,
            hooks: HookChain::default(),
        }
    }

    /// Lets `hooks` see every chunk as parsed here (so they need not parse it again).
    pub fn with_hooks(mut self, hooks: HookChain) -> Self {
        self.hooks = hooks;
        self
    }

    /// Puts `input_tokens` (an estimate of the request's input, e.g. from `crate::tokens::estimate_input_tokens`)
    /// in `message_start`, so clients that read the context size from it (context meters, compaction decisions)
    /// see one from the start; the final `message_delta` reports the provider's real counts.
    pub fn with_input_estimate(mut self, input_tokens: u64) -> Self {
        self.input_estimate = input_tokens;
        self
    }

    fn handle_events(&mut self, events: &mut Vec<SseEvent>, out: &mut BytesMut) {
        for event in events.drain(..) {
            if self.finished {
                continue;
            }
            self.handle_event(&event, out);
        }
    }

    fn handle_event(&mut self, event: &SseEvent, out: &mut BytesMut) {
        let data = event.data.trim();
        if data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            self.start(out);
            self.complete(out);
            return;
        }
        let chunk: Value = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(err) => {
                let message = format!("upstream sent a malformed stream chunk: {err}");
                return self.error("api_error", &message, out);
            }
        };
        let is_error = event.event.as_deref() == Some("error") || chunk.get("error").is_some_and(|e| !e.is_null());
        if is_error {
            let (error_type, message) = classify_error_json(200, &chunk);
            return self.error(error_type, &message, out);
        }
        self.handle_chunk(&chunk, out);
    }

    fn handle_chunk(&mut self, chunk: &Value, out: &mut BytesMut) {
        self.hooks.on_chunk(chunk);
        self.start(out);
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.usage = Usage::from_openai(usage);
        }
        let Some(choice) = first_choice(chunk) else {
            return;
        };
        if let Some(delta) = choice.get("delta") {
            self.refused |= delta.get("refusal").and_then(Value::as_str).is_some_and(|r| !r.is_empty());
            for fragment in fragments(delta) {
                let ctx = Context { message_id: &self.message_id, names: &self.names };
                self.blocks.push(fragment, &ctx, out);
            }
        }
        let finish = choice.get("finish_reason").and_then(Value::as_str);
        if let Some(reason) = finish.filter(|r| !r.is_empty()) {
            self.close_blocks(out);
            self.finish_reason.get_or_insert_with(|| reason.to_string());
        }
    }

    fn start(&mut self, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let message = StartMessage::new(&self.message_id, &self.requested_model, self.input_estimate);
        Event::MessageStart { message }.write(out);
        Event::Ping.write(out);
    }

    fn close_blocks(&mut self, out: &mut BytesMut) {
        let ctx = Context { message_id: &self.message_id, names: &self.names };
        self.blocks.close_all(&ctx, out);
    }

    /// The held `message_delta` (now that usage is final) and `message_stop`.
    fn complete(&mut self, out: &mut BytesMut) {
        self.close_blocks(out);
        let stop = stop_reason(self.finish_reason.as_deref(), self.blocks.has_tool_use(), self.refused);
        Event::MessageDelta {
            delta: StopDelta { stop_reason: stop, stop_sequence: None },
            usage: UsageOut::from(self.usage),
        }
        .write(out);
        Event::MessageStop.write(out);
        self.finished = true;
    }

    fn error(&mut self, error_type: &str, message: &str, out: &mut BytesMut) {
        out.extend_from_slice(&stream_frame_for(Dialect::Anthropic, error_type, message));
        self.finished = true;
        self.failed_with = Some(error_type.to_string());
    }
}

impl StreamConvert for StreamConverter {
    fn parser(&mut self) -> (&mut SseParser, &mut Vec<SseEvent>) {
        (&mut self.parser, &mut self.pending)
    }

    fn handle_events(&mut self, events: &mut Vec<SseEvent>, out: &mut BytesMut) {
        StreamConverter::handle_events(self, events, out)
    }

    fn stop_known(&self) -> bool {
        self.finish_reason.is_some()
    }

    fn complete(&mut self, out: &mut BytesMut) {
        StreamConverter::complete(self, out)
    }

    fn error(&mut self, error_type: &str, message: &str, out: &mut BytesMut) {
        StreamConverter::error(self, error_type, message, out)
    }

    fn is_finished(&self) -> bool {
        self.finished
    }

    fn usage(&self) -> Usage {
        self.usage
    }

    fn failed_with(&self) -> Option<&str> {
        self.failed_with.as_deref()
    }
}

/// The choice gatehouse relays: index 0 (requests never ask for `n > 1`).
fn first_choice(chunk: &Value) -> Option<&Value> {
    chunk.get("choices")?.as_array()?.iter().find(|c| c.get("index").and_then(Value::as_u64).is_none_or(|i| i == 0))
}

/// A delta's pieces in the order a reader would see them: reasoning, text
/// (content, then refusal), then tool calls. Role-only and empty deltas yield nothing.
fn fragments(delta: &Value) -> Vec<Fragment> {
    let mut out = Vec::new();
    if let Some(thinking) = reasoning_text(delta) {
        out.push(Fragment::Thinking(thinking.to_string()));
    }
    // A refusal is text the client reads like any other; the stop reason says what it is.
    for key in ["content", "refusal"] {
        if let Some(text) = delta.get(key).and_then(Value::as_str).filter(|t| !t.is_empty()) {
            out.push(Fragment::Text(text.to_string()));
        }
    }
    let calls = delta.get("tool_calls").and_then(Value::as_array);
    for (position, call) in calls.into_iter().flatten().enumerate() {
        out.push(Fragment::Tool(tool_fragment(call, position)));
    }
    out
}

fn tool_fragment(call: &Value, position: usize) -> ToolFragment {
    let non_empty = |v: Option<&Value>| v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    let function = call.get("function");
    let arguments = match function.and_then(|f| f.get("arguments")) {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    };
    ToolFragment {
        index: call.get("index").and_then(Value::as_u64).unwrap_or(position as u64),
        id: non_empty(call.get("id")),
        name: non_empty(function.and_then(|f| f.get("name"))),
        arguments,
    }
}

#[cfg(test)]
mod tests;
