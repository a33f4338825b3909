//! Local token estimates for `count_tokens` on OpenAI-format providers, which have no counting endpoint: a real
//! BPE tokenizer (o200k_base for GPT-4o/4.1/5 and o-series models, cl100k_base otherwise) over everything the
//! request would send — system, messages, tool calls and results, tool definitions — plus OpenAI's per-message
//! framing. An estimate: other vendors' tokenizers differ, and images are counted at a flat rate.
//!
//! The tokenizer is slow (a backtracking regex splits the text first: several hundred instructions a byte), and
//! a virtual key's reservation counts every metered request. But an agent resends the same texts turn after turn
//! (system prompt, tool definitions, the conversation so far), so each worker thread remembers the counts of the
//! texts it has seen, by a 64-bit hash of the vocabulary and the text: a text seen before costs its hash.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasher;

use serde_json_borrow::Value as Json;
use tiktoken_rs::CoreBPE;

/// Framing tokens per message (role and separators), per OpenAI's published counting recipe.
const PER_MESSAGE: u64 = 3;
/// Tokens that prime the assistant's reply.
const REPLY_PRIMING: u64 = 3;
/// Flat estimate for one image (about a 1-megapixel image at high detail).
const PER_IMAGE: u64 = 1_000;

/// Texts whose counts a worker thread remembers; past this it forgets them all and starts again (a few hundred
/// KB per thread at most).
const REMEMBERED_TEXTS: usize = 16_384;

/// A BPE vocabulary.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Vocabulary {
    Cl100k,
    O200k,
}

impl Vocabulary {
    /// The vocabulary that approximates a model best.
    fn for_model(model: &str) -> Self {
        let m = model.to_ascii_lowercase();
        let modern = ["gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o"].iter().any(|p| m.contains(p));
        if modern {
            Self::O200k
        } else {
            Self::Cl100k
        }
    }

    fn bpe(self) -> &'static CoreBPE {
        match self {
            Self::Cl100k => tiktoken_rs::cl100k_base_singleton(),
            Self::O200k => tiktoken_rs::o200k_base_singleton(),
        }
    }
}

/// Token counts of the texts this thread has counted, by hash of (vocabulary, text).
struct Remembered {
    counts: HashMap<u64, u32, foldhash::fast::FixedState>,
}

thread_local! {
    static REMEMBERED: RefCell<Remembered> = RefCell::new(Remembered { counts: HashMap::default() });
}

/// Tokens of `text` in `vocabulary`, remembered per thread.
fn text_tokens(vocabulary: Vocabulary, text: &str) -> u64 {
    let key = foldhash::fast::FixedState::default().hash_one((vocabulary, text));
    if let Some(count) = REMEMBERED.with(|r| r.borrow().counts.get(&key).copied()) {
        return u64::from(count);
    }
    let count = vocabulary.bpe().encode_ordinary(text).len();
    REMEMBERED.with(|r| {
        let mut remembered = r.borrow_mut();
        if remembered.counts.len() >= REMEMBERED_TEXTS {
            remembered.counts.clear();
        }
        remembered.counts.insert(key, u32::try_from(count).unwrap_or(u32::MAX));
    });
    count as u64
}

/// Estimated input tokens of an Anthropic Messages (count_tokens) request body's bytes for `model` (0 when they
/// are not JSON, which admission has ruled out). The body is read as a borrowed tree: its strings are not copied.
pub fn estimate_body_tokens(body: &[u8], model: &str) -> u64 {
    serde_json::from_slice::<Json>(body).map_or(0, |value| estimate_input_tokens(&value, model))
}

/// Estimated input tokens of an Anthropic Messages (count_tokens) request body for `model`.
pub fn estimate_input_tokens(body: &Json<'_>, model: &str) -> u64 {
    let mut counter = Counter { vocabulary: Vocabulary::for_model(model), tokens: REPLY_PRIMING };
    let system = body.get("system");
    if !system.is_null() {
        counter.tokens += PER_MESSAGE;
        counter.content(system);
    }
    for message in body.get("messages").iter_array().into_iter().flatten() {
        counter.tokens += PER_MESSAGE;
        counter.content(message.get("content"));
    }
    for tool in body.get("tools").iter_array().into_iter().flatten() {
        counter.text(tool.get("name").as_str().unwrap_or(""));
        counter.text(tool.get("description").as_str().unwrap_or(""));
        let schema = tool.get("input_schema");
        if !schema.is_null() {
            counter.text(&schema.to_string());
        }
        counter.tokens += PER_MESSAGE;
    }
    counter.tokens
}

struct Counter {
    vocabulary: Vocabulary,
    tokens: u64,
}

impl Counter {
    fn text(&mut self, text: &str) {
        if !text.is_empty() {
            self.tokens += text_tokens(self.vocabulary, text);
        }
    }

    /// A string, or a list of content blocks of any type.
    fn content(&mut self, content: &Json<'_>) {
        match content {
            Json::Str(s) => self.text(s),
            Json::Array(blocks) => blocks.iter().for_each(|b| self.block(b)),
            Json::Null => {}
            other => self.text(&other.to_string()),
        }
    }

    fn block(&mut self, block: &Json<'_>) {
        let field = |name: &'static str| block.get(name).as_str().unwrap_or("");
        match field("type") {
            "text" => self.text(field("text")),
            "thinking" => self.text(field("thinking")),
            "image" => self.tokens += PER_IMAGE,
            "tool_use" => {
                self.text(field("name"));
                let input = block.get("input");
                if !input.is_null() {
                    self.text(&input.to_string());
                }
            }
            "tool_result" => self.content(block.get("content")),
            "document" => self.content(block.get("source").get("data")),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The estimate of a request written with `json!`.
    fn estimate(body: &serde_json::Value, model: &str) -> u64 {
        estimate_body_tokens(body.to_string().as_bytes(), model)
    }

    #[test]
    fn counts_real_tokens() {
        let body = json!({"messages": [{"role": "user", "content": "Hello world"}]});
        // "Hello world" is 2 tokens in both vocabularies; + 3 framing + 3 priming.
        assert_eq!(estimate(&body, "gpt-4o"), 8);
        assert_eq!(estimate(&body, "llama-3"), 8);
    }

    #[test]
    fn a_remembered_count_is_the_tokenizers() {
        let text = "Remembered or not, the count is the tokenizer's: ünïcödé, numbers 12345, code `fn main() {}`.";
        for vocabulary in [Vocabulary::Cl100k, Vocabulary::O200k] {
            let fresh = vocabulary.bpe().encode_ordinary(text).len() as u64;
            assert_eq!(text_tokens(vocabulary, text), fresh);
            assert_eq!(text_tokens(vocabulary, text), fresh, "the second time, from memory");
        }
        assert_ne!(
            text_tokens(Vocabulary::Cl100k, "ünïcödé ünïcödé ünïcödé"),
            text_tokens(Vocabulary::O200k, "ünïcödé ünïcödé ünïcödé"),
            "remembered per vocabulary"
        );
    }

    #[test]
    fn forgetting_everything_past_the_bound_keeps_counts_right() {
        for i in 0..REMEMBERED_TEXTS + 10 {
            let text = format!("text number {i}");
            assert_eq!(
                text_tokens(Vocabulary::Cl100k, &text),
                Vocabulary::Cl100k.bpe().encode_ordinary(&text).len() as u64
            );
        }
        assert!(REMEMBERED.with(|r| r.borrow().counts.len()) <= REMEMBERED_TEXTS);
    }

    #[test]
    fn every_part_of_the_request_counts() {
        let base = json!({"messages": [{"role": "user", "content": "hi"}]});
        let n = estimate(&base, "gpt-4o");
        let with_system = json!({"system": [{"type": "text", "text": "You are terse."}], "messages": base["messages"]});
        assert!(estimate(&with_system, "gpt-4o") > n);
        let with_tools = json!({"messages": base["messages"], "tools": [{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}]});
        assert!(estimate(&with_tools, "gpt-4o") > n);
        let with_tool_turns = json!({"messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "sunny, 21 degrees"}]}]},
            {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "http://x"}}]}
        ]});
        assert!(estimate(&with_tool_turns, "gpt-4o") > n + PER_IMAGE);
    }
}
