//! Local token estimates for `count_tokens` on OpenAI-format providers, which have no counting endpoint: a real
//! BPE tokenizer (o200k_base for GPT-4o/4.1/5 and o-series models, cl100k_base otherwise) over everything the
//! request would send — system, messages, tool calls and results, tool definitions — plus OpenAI's per-message
//! framing. An estimate: other vendors' tokenizers differ, and images are counted at a flat rate.

use serde_json::Value;
use tiktoken_rs::CoreBPE;

/// Framing tokens per message (role and separators), per OpenAI's published counting recipe.
const PER_MESSAGE: u64 = 3;
/// Tokens that prime the assistant's reply.
const REPLY_PRIMING: u64 = 3;
/// Flat estimate for one image (about a 1-megapixel image at high detail).
const PER_IMAGE: u64 = 1_000;

/// Which vocabulary approximates a model best.
fn tokenizer_for(model: &str) -> &'static CoreBPE {
    let m = model.to_ascii_lowercase();
    let modern = ["gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o"].iter().any(|p| m.contains(p));
    if modern {
        tiktoken_rs::o200k_base_singleton()
    } else {
        tiktoken_rs::cl100k_base_singleton()
    }
}

/// Estimated input tokens of a request body's bytes (0 when they are not JSON, which admission has ruled out).
pub fn estimate_body_tokens(body: &[u8], model: &str) -> u64 {
    serde_json::from_slice::<Value>(body).map_or(0, |value| estimate_input_tokens(&value, model))
}

/// Estimated input tokens of an Anthropic Messages (count_tokens) request body for `model`.
pub fn estimate_input_tokens(body: &Value, model: &str) -> u64 {
    let bpe = tokenizer_for(model);
    let mut counter = Counter { bpe, tokens: REPLY_PRIMING };
    if let Some(system) = body.get("system") {
        counter.tokens += PER_MESSAGE;
        counter.content(system);
    }
    for message in body.get("messages").and_then(Value::as_array).into_iter().flatten() {
        counter.tokens += PER_MESSAGE;
        counter.content(message.get("content").unwrap_or(&Value::Null));
    }
    for tool in body.get("tools").and_then(Value::as_array).into_iter().flatten() {
        counter.text(tool.get("name").and_then(Value::as_str).unwrap_or(""));
        counter.text(tool.get("description").and_then(Value::as_str).unwrap_or(""));
        if let Some(schema) = tool.get("input_schema") {
            counter.text(&schema.to_string());
        }
        counter.tokens += PER_MESSAGE;
    }
    counter.tokens
}

struct Counter {
    bpe: &'static CoreBPE,
    tokens: u64,
}

impl Counter {
    fn text(&mut self, text: &str) {
        if !text.is_empty() {
            self.tokens += self.bpe.encode_ordinary(text).len() as u64;
        }
    }

    /// A string, or a list of content blocks of any type.
    fn content(&mut self, content: &Value) {
        match content {
            Value::String(s) => self.text(s),
            Value::Array(blocks) => blocks.iter().for_each(|b| self.block(b)),
            Value::Null => {}
            other => self.text(&other.to_string()),
        }
    }

    fn block(&mut self, block: &Value) {
        let field = |name: &str| block.get(name).and_then(Value::as_str).unwrap_or("");
        match field("type") {
            "text" => self.text(field("text")),
            "thinking" => self.text(field("thinking")),
            "image" => self.tokens += PER_IMAGE,
            "tool_use" => {
                self.text(field("name"));
                self.text(&block.get("input").map(Value::to_string).unwrap_or_default());
            }
            "tool_result" => self.content(block.get("content").unwrap_or(&Value::Null)),
            "document" => self.content(block.get("source").and_then(|s| s.get("data")).unwrap_or(&Value::Null)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_real_tokens() {
        let body = json!({"messages": [{"role": "user", "content": "Hello world"}]});
        // "Hello world" is 2 tokens in both vocabularies; + 3 framing + 3 priming.
        assert_eq!(estimate_input_tokens(&body, "gpt-4o"), 8);
        assert_eq!(estimate_input_tokens(&body, "llama-3"), 8);
    }

    #[test]
    fn every_part_of_the_request_counts() {
        let base = json!({"messages": [{"role": "user", "content": "hi"}]});
        let n = estimate_input_tokens(&base, "gpt-4o");
        let with_system = json!({"system": [{"type": "text", "text": "You are terse."}], "messages": base["messages"]});
        assert!(estimate_input_tokens(&with_system, "gpt-4o") > n);
        let with_tools = json!({"messages": base["messages"], "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}]});
        assert!(estimate_input_tokens(&with_tools, "gpt-4o") > n);
        let with_tool_turns = json!({"messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "sunny, 21 degrees"}]}]},
            {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "http://x"}}]}
        ]});
        assert!(estimate_input_tokens(&with_tool_turns, "gpt-4o") > n + PER_IMAGE);
    }
}
