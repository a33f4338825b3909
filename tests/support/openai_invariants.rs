//! Checks that a stream gatehouse wrote for an OpenAI client is one the OpenAI SDKs accept (wire-formats §5).
//! Shared by every test that reads such a stream: `#[path = "support/openai_invariants.rs"] mod openai_invariants;`.

#![allow(dead_code)]

use gatehouse::sse::{SseEvent, SseParser};
use serde_json::Value;

/// What a well-formed stream said, accumulated the way the SDKs do.
#[derive(Debug, Default, PartialEq)]
pub struct Collected {
    pub content: String,
    pub reasoning: String,
    /// (id, name, arguments text) per tool call, by index.
    pub tool_calls: Vec<(String, String, String)>,
    pub finish_reason: Option<String>,
    pub usage: Option<Value>,
    /// The error object of a stream that ended with one.
    pub error: Option<Value>,
}

/// Ok when `bytes` is a well-formed OpenAI chunk stream: only unnamed `data:` frames; the first chunk (and only
/// it) carries `role: assistant`; every chunk has the same id, created and model and `object:
/// chat.completion.chunk`; tool call indices appear contiguously from 0, each first with id, `type: function`
/// and a name, later with arguments only; each call's arguments concatenate to a JSON object; exactly one
/// `finish_reason`, after which only one usage chunk (`choices: []`) may come; `data: [DONE]` last — or the
/// stream ends with one `error` chunk instead (and no `[DONE]`).
pub fn check_openai_stream(bytes: &[u8]) -> Result<Collected, String> {
    let events = parse(bytes)?;
    let mut state = State::default();
    let count = events.len();
    for (n, event) in events.iter().enumerate() {
        if event.event.is_some() {
            return Err(format!("frame {n} has an event name {:?}", event.event));
        }
        let data = event.data.trim();
        if data == "[DONE]" {
            if n + 1 != count {
                return Err(format!("[DONE] at frame {n} is not last"));
            }
            state.done = true;
            continue;
        }
        let chunk: Value = serde_json::from_str(data).map_err(|e| format!("frame {n}: not JSON: {e}"))?;
        state.apply(n, &chunk).map_err(|e| format!("frame {n}: {e}: {chunk}"))?;
        if state.out.error.is_some() && n + 1 != count {
            return Err(format!("frame {n}: error chunk is not last"));
        }
    }
    state.finish()
}

fn parse(bytes: &[u8]) -> Result<Vec<SseEvent>, String> {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    parser.push(bytes, &mut events).map_err(|e| e.to_string())?;
    parser.finish(&mut events);
    Ok(events)
}

#[derive(Default)]
struct State {
    out: Collected,
    identity: Option<(Value, Value, Value)>,
    chunks: usize,
    done: bool,
}

impl State {
    fn apply(&mut self, n: usize, chunk: &Value) -> Result<(), String> {
        if let Some(error) = chunk.get("error") {
            let ok = error["message"].is_string()
                && error["type"].is_string()
                && error.get("param").is_some()
                && error.get("code").is_some();
            if !ok {
                return Err("error chunk without message, type, param and code".into());
            }
            self.out.error = Some(error.clone());
            return Ok(());
        }
        if chunk["object"] != "chat.completion.chunk" {
            return Err("object is not chat.completion.chunk".into());
        }
        let identity = (chunk["id"].clone(), chunk["created"].clone(), chunk["model"].clone());
        if !identity.0.is_string() || !identity.1.is_u64() || !identity.2.is_string() {
            return Err("missing id, created or model".into());
        }
        match &self.identity {
            None => self.identity = Some(identity),
            Some(first) if *first != identity => return Err("id, created or model changed".into()),
            Some(_) => {}
        }
        let first = self.chunks == 0;
        self.chunks += 1;
        let choices = chunk["choices"].as_array().ok_or("choices is not an array")?;
        if choices.is_empty() {
            if self.out.finish_reason.is_none() || self.out.usage.is_some() {
                return Err("usage chunk before the finish or twice".into());
            }
            let usage = &chunk["usage"];
            for key in ["prompt_tokens", "completion_tokens", "total_tokens"] {
                if !usage[key].is_u64() {
                    return Err(format!("usage chunk without {key}"));
                }
            }
            self.out.usage = Some(usage.clone());
            return Ok(());
        }
        if choices.len() != 1 || choices[0]["index"] != 0 {
            return Err("expected exactly one choice with index 0".into());
        }
        if self.out.finish_reason.is_some() {
            return Err("choice after the finish_reason".into());
        }
        let choice = &choices[0];
        let delta = choice["delta"].as_object().ok_or("delta is not an object")?;
        match (first, delta.get("role")) {
            (true, Some(role)) if role == "assistant" => {}
            (true, _) => return Err(format!("chunk {n}: first chunk has no role assistant")),
            (false, Some(_)) => return Err("role after the first chunk".into()),
            (false, None) => {}
        }
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            self.out.content.push_str(text);
        }
        if let Some(text) = delta.get("reasoning_content").and_then(Value::as_str) {
            self.out.reasoning.push_str(text);
        }
        for call in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten() {
            self.tool_call(call)?;
        }
        match &choice["finish_reason"] {
            Value::Null => {}
            Value::String(reason) => self.out.finish_reason = Some(reason.clone()),
            other => return Err(format!("finish_reason {other}")),
        }
        Ok(())
    }

    fn tool_call(&mut self, call: &Value) -> Result<(), String> {
        let index = call["index"].as_u64().ok_or("tool call without index")? as usize;
        let arguments = call["function"]["arguments"].as_str().ok_or("tool call without arguments string")?;
        let calls = &mut self.out.tool_calls;
        if index == calls.len() {
            let id = call["id"].as_str().filter(|s| !s.is_empty()).ok_or("new tool call without id")?;
            if call["type"] != "function" {
                return Err("new tool call without type function".into());
            }
            let name = call["function"]["name"].as_str().ok_or("new tool call without name")?;
            calls.push((id.to_string(), name.to_string(), arguments.to_string()));
        } else if index < calls.len() {
            if call.get("id").is_some() || call["function"].get("name").is_some() {
                return Err(format!("tool call {index} repeats id or name"));
            }
            calls[index].2.push_str(arguments);
        } else {
            return Err(format!("tool call index {index} skips {}", calls.len()));
        }
        Ok(())
    }

    fn finish(self) -> Result<Collected, String> {
        if self.out.error.is_some() {
            return if self.done { Err("[DONE] after an error".into()) } else { Ok(self.out) };
        }
        if !self.done {
            return Err("stream ends without [DONE] or an error".into());
        }
        if self.out.finish_reason.is_none() {
            return Err("no finish_reason".into());
        }
        for (id, _, arguments) in &self.out.tool_calls {
            match serde_json::from_str::<Value>(arguments) {
                Ok(Value::Object(_)) => {}
                _ => return Err(format!("tool call {id}: arguments are not a JSON object: {arguments:?}")),
            }
        }
        Ok(self.out)
    }
}
