//! Checks that a converted stream is one an Anthropic client accepts
//! (wire-formats §2 and §7). Shared by every test that converts a stream:
//! `#[path = "support/invariants.rs"] mod invariants;`.

#![allow(dead_code)]

use gatehouse::sse::{SseEvent, SseParser};
use serde_json::Value;

/// Ok when `bytes` is a well-formed Anthropic stream: `message_start` first;
/// block indices contiguous from 0, one block open at a time, each started and
/// stopped once with matching deltas between; every finished tool block's
/// `partial_json` parses to an object; exactly one `message_delta` with a
/// non-null `stop_reason` and `usage.output_tokens` after every block stop;
/// `message_stop` last — or the stream ends with an `error` event instead. No
/// `[DONE]`, every frame named, and its JSON `type` equal to that name.
pub fn check_anthropic_stream(bytes: &[u8]) -> Result<(), String> {
    let events = parse(bytes)?;
    // Model text may well contain "[DONE]"; a frame that is only that may not.
    if events.iter().any(|e| e.data.trim() == "[DONE]") {
        return Err("output contains a [DONE] frame".into());
    }
    let mut state = State::default();
    for (n, event) in events.iter().enumerate() {
        let (name, payload) = named_payload(event).map_err(|e| format!("event {n}: {e}"))?;
        state.apply(n, name, &payload)?;
    }
    state.finish()
}

/// The tool inputs of a well-formed stream, in block order: (id, name, input).
pub fn tool_inputs(bytes: &[u8]) -> Vec<(String, String, Value)> {
    let mut tools = Vec::new();
    let mut json = String::new();
    for event in parse(bytes).unwrap_or_default() {
        let Ok(payload) = serde_json::from_str::<Value>(&event.data) else {
            continue;
        };
        match payload["type"].as_str() {
            Some("content_block_start") if payload["content_block"]["type"] == "tool_use" => {
                let block = &payload["content_block"];
                tools.push((str_of(&block["id"]), str_of(&block["name"]), Value::Null));
                json.clear();
            }
            Some("content_block_delta") if payload["delta"]["type"] == "input_json_delta" => {
                json.push_str(payload["delta"]["partial_json"].as_str().unwrap_or(""));
                if let Some(last) = tools.last_mut() {
                    last.2 = serde_json::from_str(&json).unwrap_or(Value::Null);
                }
            }
            _ => {}
        }
    }
    tools
}

/// All `text_delta` (or `thinking_delta`) text of a stream, concatenated.
pub fn delta_text(bytes: &[u8], delta_type: &str, field: &str) -> String {
    parse(bytes)
        .unwrap_or_default()
        .iter()
        .filter_map(|e| serde_json::from_str::<Value>(&e.data).ok())
        .filter(|p| p["type"] == "content_block_delta" && p["delta"]["type"] == delta_type)
        .map(|p| str_of(&p["delta"][field]))
        .collect()
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn parse(bytes: &[u8]) -> Result<Vec<SseEvent>, String> {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    parser.push(bytes, &mut events).map_err(|e| e.to_string())?;
    parser.finish(&mut events);
    Ok(events)
}

fn named_payload(event: &SseEvent) -> Result<(&str, Value), String> {
    let name = event.event.as_deref().ok_or("frame without an event: line")?;
    let payload: Value = serde_json::from_str(&event.data).map_err(|e| format!("data is not JSON: {e}"))?;
    if payload["type"] != name {
        return Err(format!("event name {name:?} but type {}", payload["type"]));
    }
    Ok((name, payload))
}

#[derive(Debug)]
struct Block {
    kind: String,
    stopped: bool,
    partial_json: String,
}

#[derive(Default)]
struct State {
    started: bool,
    blocks: Vec<Block>,
    open: Option<usize>,
    message_deltas: usize,
    stopped: bool,
    errored: bool,
}

impl State {
    fn apply(&mut self, n: usize, name: &str, p: &Value) -> Result<(), String> {
        let at = |msg: String| format!("event {n} ({name}): {msg}");
        if self.stopped || self.errored {
            return Err(at("event after message_stop or error".into()));
        }
        if name == "error" {
            if !p["error"]["type"].is_string() || !p["error"]["message"].is_string() {
                return Err(at("error without type and message".into()));
            }
            self.errored = true;
            return Ok(());
        }
        if !self.started && name != "message_start" {
            return Err(at("first event is not message_start".into()));
        }
        match name {
            "message_start" => self.message_start(p).map_err(at),
            "ping" => Ok(()),
            "content_block_start" => self.block_start(p).map_err(at),
            "content_block_delta" => self.block_delta(p).map_err(at),
            "content_block_stop" => self.block_stop(p).map_err(at),
            "message_delta" => self.message_delta(p).map_err(at),
            "message_stop" => {
                if self.message_deltas != 1 {
                    return Err(at("message_stop without exactly one message_delta".into()));
                }
                self.stopped = true;
                Ok(())
            }
            other => Err(at(format!("unexpected event {other}"))),
        }
    }

    fn message_start(&mut self, p: &Value) -> Result<(), String> {
        if self.started {
            return Err("second message_start".into());
        }
        let m = &p["message"];
        if m["content"] != serde_json::json!([]) || !m["stop_reason"].is_null() || !m["usage"]["output_tokens"].is_u64()
        {
            return Err(format!("bad message_start body {m}"));
        }
        self.started = true;
        Ok(())
    }

    fn index(&self, p: &Value) -> Result<usize, String> {
        p["index"].as_u64().map(|i| i as usize).ok_or_else(|| "missing index".to_string())
    }

    fn block_start(&mut self, p: &Value) -> Result<(), String> {
        let index = self.index(p)?;
        if self.message_deltas > 0 {
            return Err("block after message_delta".into());
        }
        if let Some(open) = self.open {
            return Err(format!("block {index} started while {open} is open"));
        }
        if index != self.blocks.len() {
            return Err(format!("index {index}, expected {}", self.blocks.len()));
        }
        let kind = p["content_block"]["type"].as_str().unwrap_or_default().to_string();
        let shape_ok = match kind.as_str() {
            "text" => p["content_block"]["text"] == "",
            "thinking" => p["content_block"]["thinking"] == "",
            "tool_use" => {
                p["content_block"]["id"].is_string()
                    && p["content_block"]["name"].is_string()
                    && p["content_block"]["input"] == serde_json::json!({})
            }
            _ => false,
        };
        if !shape_ok {
            return Err(format!("bad content_block {}", p["content_block"]));
        }
        self.blocks.push(Block { kind, stopped: false, partial_json: String::new() });
        self.open = Some(index);
        Ok(())
    }

    fn block_delta(&mut self, p: &Value) -> Result<(), String> {
        let index = self.index(p)?;
        if self.open != Some(index) {
            return Err(format!("delta for block {index}, open is {:?}", self.open));
        }
        let block = &mut self.blocks[index];
        let delta = &p["delta"];
        let ok = match (block.kind.as_str(), delta["type"].as_str().unwrap_or_default()) {
            ("text", "text_delta") => delta["text"].is_string(),
            ("thinking", "thinking_delta") => delta["thinking"].is_string(),
            ("thinking", "signature_delta") => delta["signature"].is_string(),
            ("tool_use", "input_json_delta") => match delta["partial_json"].as_str() {
                Some(fragment) => {
                    block.partial_json.push_str(fragment);
                    true
                }
                None => false,
            },
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("delta {delta} does not fit a {} block", block.kind))
        }
    }

    fn block_stop(&mut self, p: &Value) -> Result<(), String> {
        let index = self.index(p)?;
        if self.open != Some(index) {
            return Err(format!("stop for block {index}, open is {:?}", self.open));
        }
        let block = &mut self.blocks[index];
        block.stopped = true;
        if block.kind == "tool_use" {
            match serde_json::from_str::<Value>(&block.partial_json) {
                Ok(Value::Object(_)) => {}
                _ => return Err(format!("tool block {index} input is not an object: {:?}", block.partial_json)),
            }
        }
        self.open = None;
        Ok(())
    }

    fn message_delta(&mut self, p: &Value) -> Result<(), String> {
        if let Some(open) = self.open {
            return Err(format!("message_delta while block {open} is open"));
        }
        if !p["delta"]["stop_reason"].is_string() {
            return Err("message_delta without stop_reason".into());
        }
        if !p["usage"]["output_tokens"].is_u64() {
            return Err("message_delta without usage.output_tokens".into());
        }
        self.message_deltas += 1;
        if self.message_deltas > 1 {
            return Err("second message_delta".into());
        }
        Ok(())
    }

    fn finish(&self) -> Result<(), String> {
        if self.errored {
            return Ok(());
        }
        if !self.stopped {
            return Err("stream ends without message_stop or error".into());
        }
        if let Some(b) = self.blocks.iter().position(|b| !b.stopped) {
            return Err(format!("block {b} never stopped"));
        }
        Ok(())
    }
}
