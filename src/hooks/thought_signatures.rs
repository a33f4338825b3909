//! Thought signatures: Gemini's OpenAI-compatible API returns, with tool calls, opaque reasoning state that must
//! come back when the conversation replays those calls — `extra_content` on each tool call (Gemini:
//! `extra_content.google.thought_signature`) and/or a `reasoning_details` array on the message (OpenRouter-style).
//! Anthropic clients drop fields they do not know, so the gateway remembers them by tool call id and puts them
//! back on the assistant messages of later requests that replay those ids.
//!
//! Cost when a provider sends none of this: a few map lookups on values the stream converter already parsed;
//! the shared cache is not touched until something is remembered.

use std::sync::Arc;
use std::time::Instant;

use serde_json::value::RawValue;
use serde_json::Value;

use super::signature_cache::SignatureCache;
use crate::convert::{ChatRequest, Completion, OpenAiHook};

/// Tool calls of one answer tracked for their ids; a stream with more is hostile, and the rest are not cached.
const MAX_CALLS_PER_ANSWER: usize = 1024;
/// Bytes of `reasoning_details` collected from one streamed answer before giving up on it.
const MAX_REASONING_BYTES: usize = 1024 * 1024;

/// The hook for one request.
pub struct ThoughtSignatures {
    cache: Arc<SignatureCache>,
    /// Streamed answer: tool call ids by OpenAI index, as they appear.
    ids: Vec<(u64, String)>,
    /// Streamed answer: `reasoning_details` items collected so far.
    reasoning: Vec<Value>,
    reasoning_bytes: usize,
    committed: bool,
}

impl ThoughtSignatures {
    /// The hook for one request, over the provider's shared cache.
    pub fn new(cache: Arc<SignatureCache>) -> Self {
        Self { cache, ids: Vec::new(), reasoning: Vec::new(), reasoning_bytes: 0, committed: false }
    }

    fn id_at(&self, index: u64) -> Option<&str> {
        self.ids.iter().rev().find(|(i, _)| *i == index).map(|(_, id)| id.as_str())
    }

    /// Remembers a finished message's `reasoning_details` for each of its tool calls.
    fn commit_reasoning(&mut self, details: Value, ids: &[&str]) {
        if ids.is_empty() {
            return;
        }
        let details = Arc::new(details);
        let now = Instant::now();
        for id in ids {
            self.cache.put_reasoning_details(id, details.clone(), now);
        }
    }
}

/// A member kept raw by the converter, as a tree, if it is the JSON type that starts with `opening`.
fn tree(raw: &RawValue, opening: u8) -> Option<Value> {
    (raw.get().as_bytes().first() == Some(&opening)).then(|| serde_json::from_str(raw.get()).ok()).flatten()
}

impl OpenAiHook for ThoughtSignatures {
    fn on_request(&mut self, body: &mut ChatRequest<'_>) {
        if self.cache.is_empty() {
            return;
        }
        let now = Instant::now();
        let replayed = body.messages.iter_mut().filter(|m| m.role == "assistant" && !m.tool_calls.is_empty());
        for message in replayed {
            let ids: Vec<&str> = message.tool_calls.iter().map(|call| call.id).collect();
            let remembered = self.cache.get_many(&ids, now);
            let mut reasoning = None;
            for (call, found) in message.tool_calls.iter_mut().zip(remembered) {
                let Some(found) = found else { continue };
                if let Some(extra) = found.extra_content {
                    call.extra_content.get_or_insert(extra);
                }
                reasoning = reasoning.or(found.reasoning_details);
            }
            if let Some(details) = reasoning {
                message.reasoning_details.get_or_insert_with(|| (*details).clone());
            }
        }
    }

    fn on_response(&mut self, body: &Completion<'_>) {
        let Some(message) = body.message() else { return };
        let calls = message.tool_calls();
        if calls.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut ids = Vec::with_capacity(calls.len());
        for call in calls {
            let Some(id) = call.id.as_str().filter(|id| !id.is_empty()) else { continue };
            if let Some(extra) = call.extra_content.and_then(|raw| tree(raw, b'{')) {
                self.cache.put_extra_content(id, extra, now);
            }
            ids.push(id);
        }
        let details = message.reasoning_details.and_then(|raw| tree(raw, b'['));
        if let Some(details) = details.filter(|d| d.as_array().is_some_and(|a| !a.is_empty())) {
            self.commit_reasoning(details, &ids);
        }
    }

    fn on_chunk(&mut self, chunk: &Value) {
        let Some(choice) = chunk.get("choices").and_then(Value::as_array).and_then(|c| c.first()) else { return };
        if let Some(delta) = choice.get("delta") {
            if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                for (position, call) in calls.iter().enumerate() {
                    let index = call.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
                    if let Some(id) = call.get("id").and_then(Value::as_str).filter(|id| !id.is_empty()) {
                        if self.ids.len() < MAX_CALLS_PER_ANSWER && self.id_at(index) != Some(id) {
                            self.ids.push((index, id.to_string()));
                        }
                    }
                    if let Some(extra) = call.get("extra_content").filter(|e| e.is_object()) {
                        if let Some(id) = self.id_at(index) {
                            self.cache.put_extra_content(id, extra.clone(), Instant::now());
                        }
                    }
                }
            }
            if let Some(items) = delta.get("reasoning_details").and_then(Value::as_array) {
                for item in items {
                    self.reasoning_bytes += item.to_string().len();
                    if self.reasoning_bytes <= MAX_REASONING_BYTES {
                        self.reasoning.push(item.clone());
                    }
                }
            }
        }
        let finished = choice.get("finish_reason").is_some_and(|r| r.as_str().is_some_and(|r| !r.is_empty()));
        if finished && !self.committed {
            self.committed = true;
            if !self.reasoning.is_empty() && self.reasoning_bytes <= MAX_REASONING_BYTES {
                let details = Value::Array(std::mem::take(&mut self.reasoning));
                let ids: Vec<String> = self.ids.iter().map(|(_, id)| id.clone()).collect();
                let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                self.commit_reasoning(details, &id_refs);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::{parse_request, to_openai, ConvertOptions};
    use serde_json::json;

    fn hook() -> (ThoughtSignatures, Arc<SignatureCache>) {
        let cache = Arc::new(SignatureCache::default());
        (ThoughtSignatures::new(cache.clone()), cache)
    }

    /// A client request that replays two tool calls; converted, its messages are the user's, the assistant's
    /// (calls `call_a` and `call_b`) and the tool result.
    fn replay_request() -> Value {
        json!({"model": "m", "max_tokens": 10, "messages": [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_a", "name": "w", "input": {}},
                {"type": "tool_use", "id": "call_b", "name": "w", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_a", "content": "sunny"}]},
        ]})
    }

    /// The converted replay after `hook` saw it (`edit` runs on it first), as the upstream would read it.
    fn replay_with(mut hook: ThoughtSignatures, edit: impl FnOnce(&mut ChatRequest)) -> Value {
        let client = serde_json::to_vec(&replay_request()).unwrap();
        let tree = parse_request(&client).unwrap();
        let (mut request, _) = to_openai(&tree, "gemini", &ConvertOptions::default()).unwrap();
        edit(&mut request);
        hook.on_request(&mut request);
        serde_json::to_value(&request).unwrap()
    }

    fn replay(hook: ThoughtSignatures) -> Value {
        replay_with(hook, |_| {})
    }

    /// A non-streaming answer, read as the converter reads it.
    fn respond(hook: &mut ThoughtSignatures, answer: &Value) {
        let bytes = serde_json::to_vec(answer).unwrap();
        hook.on_response(&Completion::parse(&bytes).unwrap());
    }

    #[test]
    fn non_streaming_signatures_are_injected_into_the_replay() {
        let (mut first, cache) = hook();
        let answer = json!({"choices": [{"message": {
            "tool_calls": [
                {"id": "call_a", "function": {"name": "w"}, "extra_content": {"google": {"thought_signature": "SIG_A"}}},
                {"id": "call_b", "function": {"name": "w"}}],
            "reasoning_details": [{"type": "reasoning.encrypted", "data": "ENC"}]}}]});
        respond(&mut first, &answer);
        assert_eq!(cache.len(), 2);
        let body = replay(ThoughtSignatures::new(cache));
        let message = &body["messages"][1];
        assert_eq!(message["tool_calls"][0]["extra_content"]["google"]["thought_signature"], "SIG_A");
        assert!(message["tool_calls"][1].get("extra_content").is_none());
        assert_eq!(message["reasoning_details"], json!([{"type": "reasoning.encrypted", "data": "ENC"}]));
    }

    #[test]
    fn streamed_signatures_are_keyed_by_the_index_of_their_call() {
        let (mut hook, cache) = hook();
        let chunks = [
            json!({"choices": [{"delta": {"reasoning_details": [{"type": "reasoning.encrypted", "data": "E1"}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "w", "arguments": ""}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "extra_content": {"google": {"thought_signature": "LATE"}}}]}}]}),
            json!({"choices": [{"delta": {"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "w", "arguments": "{}"},
                "extra_content": {"google": {"thought_signature": "SIG_B"}}}]}}]}),
            json!({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}),
        ];
        for chunk in &chunks {
            hook.on_chunk(chunk);
        }
        let body = replay(ThoughtSignatures::new(cache));
        let calls = &body["messages"][1]["tool_calls"];
        assert_eq!(calls[0]["extra_content"]["google"]["thought_signature"], "LATE");
        assert_eq!(calls[1]["extra_content"]["google"]["thought_signature"], "SIG_B");
        assert_eq!(body["messages"][1]["reasoning_details"][0]["data"], "E1");
    }

    #[test]
    fn nothing_changes_without_signatures_or_for_unknown_ids() {
        let (mut hook, cache) = hook();
        hook.on_chunk(&json!({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "call_a", "function": {"name": "w"}}]}, "finish_reason": "tool_calls"}]}));
        respond(&mut hook, &json!({"choices": [{"message": {"content": "hi"}}]}));
        assert!(cache.is_empty());
        let untouched = replay_with(ThoughtSignatures::new(cache.clone()), |_| {});
        assert!(untouched["messages"][1]["tool_calls"][0].get("extra_content").is_none());
        assert!(untouched["messages"][1].get("reasoning_details").is_none());
        cache.put_extra_content("other", json!({"google": {"thought_signature": "X"}}), Instant::now());
        assert_eq!(replay(ThoughtSignatures::new(cache)), untouched);
    }

    #[test]
    fn a_signature_the_client_kept_is_not_overwritten() {
        let (_, cache) = hook();
        cache.put_extra_content("call_a", json!({"google": {"thought_signature": "CACHED"}}), Instant::now());
        let body = replay_with(ThoughtSignatures::new(cache), |request| {
            request.messages[1].tool_calls[0].extra_content = Some(json!({"google": {"thought_signature": "CLIENT"}}));
        });
        assert_eq!(body["messages"][1]["tool_calls"][0]["extra_content"]["google"]["thought_signature"], "CLIENT");
    }
}
