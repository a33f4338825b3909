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
use std::ops::Range;

use serde_json_borrow::Value as Json;
use tiktoken_rs::CoreBPE;

use crate::json::member::items_of;
use crate::json::scan::Member;

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
        // Claude models first, as most requests name one: no copy, no search.
        if model.get(..6).is_some_and(|head| head.eq_ignore_ascii_case("claude")) {
            return Self::Cl100k;
        }
        let lower;
        let m = match model.bytes().any(|b| b.is_ascii_uppercase()) {
            true => {
                lower = model.to_ascii_lowercase();
                lower.as_str()
            }
            false => model,
        };
        if m.starts_with("claude") {
            return Self::Cl100k;
        }
        // A plain window comparison: `str::contains` sets up a searcher per pattern, dearer than these short names.
        let has = |p: &str| m.as_bytes().windows(p.len()).any(|w| w == p.as_bytes());
        let modern = ["gpt-4o", "gpt-4.1", "gpt-5", "o1", "o3", "o4", "chatgpt-4o"].into_iter().any(has);
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

/// The count remembered under `key`, or `count()` remembered under it.
fn remembered(key: u64, count: impl FnOnce() -> u64) -> u64 {
    if let Some(known) = REMEMBERED.with(|r| r.borrow().counts.get(&key).copied()) {
        return u64::from(known);
    }
    let counted = count();
    REMEMBERED.with(|r| {
        let mut remembered = r.borrow_mut();
        if remembered.counts.len() >= REMEMBERED_TEXTS {
            remembered.counts.clear();
        }
        remembered.counts.insert(key, u32::try_from(counted).unwrap_or(u32::MAX));
    });
    counted
}

/// Tokens of `text` in `vocabulary`, remembered per thread.
fn text_tokens(vocabulary: Vocabulary, text: &str) -> u64 {
    let key = foldhash::fast::FixedState::default().hash_one((vocabulary, text));
    remembered(key, || vocabulary.bpe().encode_ordinary(text).len() as u64)
}

/// A part of a request that is counted, and remembered, as a whole.
#[derive(Clone, Copy, Hash)]
enum Part {
    System,
    Message,
    Tool,
}

/// Tokens of one part of a request, from its JSON text, remembered per thread by the text's hash: a message
/// seen before is neither parsed nor tokenized again. `None` if the text does not parse.
fn part_tokens(vocabulary: Vocabulary, part: Part, text: &[u8]) -> Option<u64> {
    let key = foldhash::fast::FixedState::default().hash_one((vocabulary, part, text));
    let mut unreadable = false;
    let count = remembered(key, || {
        let Ok(value) = serde_json::from_slice::<Json>(text) else {
            unreadable = true;
            return 0;
        };
        let mut counter = Counter { vocabulary, tokens: 0 };
        match part {
            Part::System => counter.content(&value),
            Part::Message => counter.content(value.get("content")),
            Part::Tool => counter.tool(&value),
        }
        counter.tokens
    });
    (!unreadable).then_some(count)
}

/// Where the parts of a request that its estimate reads sit in its body: the values of `system`, `messages` and
/// `tools`, as the body scan located them at admission (so the estimate need not look for them again).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyParts {
    pub system: Option<Range<usize>>,
    pub messages: Option<Range<usize>>,
    pub tools: Option<Range<usize>>,
}

impl BodyParts {
    /// The parts where `span` says each member's value sits (the body scan's [`Located`](crate::json::scan::Located)).
    pub fn located(span: impl Fn(Member) -> Option<Range<usize>>) -> Self {
        BodyParts { system: span(Member::System), messages: span(Member::Messages), tools: span(Member::Tools) }
    }
}

/// The estimate read part by part from the body's text (each part parsed only the first time it is seen); `None`
/// when the body's shape is not the plain one this reading knows, for a full parse instead.
fn estimate_by_parts(body: &[u8], parts: &BodyParts, vocabulary: Vocabulary) -> Option<u64> {
    let mut tokens = REPLY_PRIMING;
    if let Some(system) = parts.system.clone().map(|span| &body[span]).filter(|value| *value != b"null") {
        tokens += PER_MESSAGE + part_tokens(vocabulary, Part::System, system)?;
    }
    for (span, part) in [(&parts.messages, Part::Message), (&parts.tools, Part::Tool)] {
        let Some(span) = span.clone() else { continue };
        for item in items_of(&body[span])? {
            tokens += PER_MESSAGE + part_tokens(vocabulary, part, item?)?;
        }
    }
    Some(tokens)
}

/// Estimated input tokens of an Anthropic Messages (count_tokens) request body's bytes for `model`, whose parts
/// the body scan located at admission (0 when they are not JSON, which admission has ruled out). Each part is read
/// as a borrowed tree: its strings are not copied.
pub fn estimate_located_tokens(body: &[u8], parts: &BodyParts, model: &str) -> u64 {
    estimate_by_parts(body, parts, Vocabulary::for_model(model)).unwrap_or_else(|| estimate_parsed(body, model))
}

/// The estimate from a full parse of the body (0 when it is not JSON, which admission has ruled out).
fn estimate_parsed(body: &[u8], model: &str) -> u64 {
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
        counter.tool(tool);
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

    /// A tool definition: its name, description and input schema.
    fn tool(&mut self, tool: &Json<'_>) {
        self.text(tool.get("name").as_str().unwrap_or(""));
        self.text(tool.get("description").as_str().unwrap_or(""));
        let schema = tool.get("input_schema");
        if !schema.is_null() {
            self.text(&schema.to_string());
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

    /// The estimate of a body's text as admission makes it: the parts where the body scan located them.
    fn estimate_body_tokens(text: &[u8], model: &str) -> u64 {
        let located = crate::json::scan::scan(text).unwrap();
        estimate_located_tokens(text, &BodyParts::located(|m| located.span(m)), model)
    }

    /// The estimate of a request written with `json!`, asserting that reading it part by part (twice: counted,
    /// then remembered) and as a whole tree agree.
    fn estimate(body: &serde_json::Value, model: &str) -> u64 {
        let text = body.to_string();
        let whole = estimate_input_tokens(&serde_json::from_str::<Json>(&text).unwrap(), model);
        assert_eq!(estimate_body_tokens(text.as_bytes(), model), whole, "by parts: {text}");
        assert_eq!(estimate_body_tokens(text.as_bytes(), model), whole, "remembered: {text}");
        let pretty = serde_json::to_string_pretty(body).unwrap();
        assert_eq!(estimate_body_tokens(pretty.as_bytes(), model), whole, "pretty: {pretty}");
        whole
    }

    #[test]
    fn counts_real_tokens() {
        let body = json!({"messages": [{"role": "user", "content": "Hello world"}]});
        // "Hello world" is 2 tokens in both vocabularies; + 3 framing + 3 priming.
        assert_eq!(estimate(&body, "gpt-4o"), 8);
        assert_eq!(estimate(&body, "llama-3"), 8);
    }

    #[test]
    fn the_vocabulary_follows_the_model_in_any_case() {
        assert!(Vocabulary::for_model("gpt-4o-mini") == Vocabulary::O200k);
        assert!(Vocabulary::for_model("GPT-4o") == Vocabulary::O200k);
        assert!(Vocabulary::for_model("claude-sonnet-4-5") == Vocabulary::Cl100k);
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
