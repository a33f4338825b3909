//! The [`WireReader`]s of relayed answers: what an answer says about itself, read without changing a byte —
//! token usage from a whole body, and usage plus completion from each event of a stream — one per wire format.

use memchr::memmem;
use serde::Deserialize;
use serde_json::Value;

use crate::convert::Usage;
use crate::error::Dialect;
use crate::gateway::respond::sse_relay::{Progress, WireReader};
use crate::json::member::top_level_member;
use crate::sse::SseEvent;

/// An Anthropic Messages stream: usage from `message_start` and `message_delta`, complete at `message_stop` (or
/// at the upstream's own `error` event).
#[derive(Default)]
pub struct AnthropicReader(Progress);

impl WireReader for AnthropicReader {
    const DIALECT: Dialect = Dialect::Anthropic;

    fn usage_of_body(body: &[u8]) -> Usage {
        usage_of_message(body)
    }

    fn scan(&mut self, event: &SseEvent) {
        match event.event.as_deref() {
            Some("message_start") | Some("message_delta") => merge_usage(&mut self.0.usage, &event.data),
            Some("message_stop") => self.0.ended = true,
            Some("error") => self.0.errored = true,
            _ => {}
        }
    }

    fn progress(&self) -> &Progress {
        &self.0
    }
}

/// An OpenAI Chat Completions stream: usage from the chunk that carries it (only with
/// `stream_options.include_usage`), complete at `[DONE]`, a finish reason, or the upstream's own error chunk.
///
/// Most chunks carry `"usage":null` and `"finish_reason":null`, so a chunk is parsed only when a cheap byte scan
/// finds a `usage` object, a `finish_reason` string or an `error` key in it.
#[derive(Default)]
pub struct OpenAiReader(Progress);

impl WireReader for OpenAiReader {
    const DIALECT: Dialect = Dialect::OpenAi;

    fn usage_of_body(body: &[u8]) -> Usage {
        usage_of_completion(body)
    }

    fn scan(&mut self, event: &SseEvent) {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.0.ended = true;
            return;
        }
        let bytes = data.as_bytes();
        let has_usage = value_starts_with(bytes, b"\"usage\"", b'{');
        let has_finish = !self.0.ended && value_starts_with(bytes, b"\"finish_reason\"", b'"');
        let has_error = event.event.as_deref() == Some("error") || memmem::find(bytes, b"\"error\"").is_some();
        if !(has_usage || has_finish || has_error) {
            return;
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else { return };
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.0.usage = Usage::from_openai(usage);
        }
        // A finish reason ends the answer as surely as `[DONE]` does (some providers never send `[DONE]`).
        let finish = chunk.get("choices").and_then(Value::as_array).into_iter().flatten();
        if finish.filter_map(|c| c.get("finish_reason")).any(Value::is_string) {
            self.0.ended = true;
        }
        if chunk.get("error").is_some_and(|e| !e.is_null()) {
            self.0.errored = true;
        }
    }

    fn progress(&self) -> &Progress {
        &self.0
    }
}

/// Whether `key` occurs in `data` followed (after optional whitespace and the colon) by `first`: the start of
/// a string or an object rather than `null`.
fn value_starts_with(data: &[u8], key: &[u8], first: u8) -> bool {
    memmem::find_iter(data, key).any(|at| {
        let rest = &data[at + key.len()..];
        let mut after = rest.iter().skip_while(|b| b.is_ascii_whitespace());
        after.next() == Some(&b':') && after.find(|b| !b.is_ascii_whitespace()) == Some(&first)
    })
}

#[derive(Deserialize)]
struct UsageEvent {
    #[serde(default)]
    message: Option<UsageHolder>,
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize)]
struct UsageHolder {
    #[serde(default)]
    usage: Option<RawUsage>,
}

#[derive(Deserialize, Default)]
struct RawUsage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    /// Cache writes by lifetime (`cache_creation_input_tokens` is their sum): an hour's write costs more.
    #[serde(default)]
    cache_creation: Option<RawCacheCreation>,
}

#[derive(Deserialize, Default)]
struct RawCacheCreation {
    ephemeral_5m_input_tokens: Option<u64>,
    ephemeral_1h_input_tokens: Option<u64>,
}

/// Merges the usage object of a `message_start` or `message_delta` event (values are running totals).
fn merge_usage(usage: &mut Usage, data: &str) {
    let Ok(event) = serde_json::from_str::<UsageEvent>(data) else { return };
    if let Some(raw) = event.message.and_then(|m| m.usage).or(event.usage) {
        apply_raw_usage(usage, &raw);
    }
}

fn apply_raw_usage(usage: &mut Usage, raw: &RawUsage) {
    let set = |field: &mut u64, value: Option<u64>| {
        if let Some(v) = value {
            *field = v;
        }
    };
    set(&mut usage.input_tokens, raw.input_tokens);
    set(&mut usage.output_tokens, raw.output_tokens);
    set(&mut usage.cache_read_input_tokens, raw.cache_read_input_tokens);
    set(&mut usage.cache_creation_input_tokens, raw.cache_creation_input_tokens);
    if let Some(split) = &raw.cache_creation {
        set(&mut usage.cache_creation_1h_input_tokens, split.ephemeral_1h_input_tokens);
        if raw.cache_creation_input_tokens.is_none() {
            let (five_minutes, one_hour) = (split.ephemeral_5m_input_tokens, split.ephemeral_1h_input_tokens);
            if five_minutes.is_some() || one_hour.is_some() {
                usage.cache_creation_input_tokens = five_minutes.unwrap_or(0).saturating_add(one_hour.unwrap_or(0));
            }
        }
    }
}

/// Usage from a non-streaming Anthropic message (`usage` at the top level).
fn usage_of_message(body: &[u8]) -> Usage {
    let mut usage = Usage::default();
    // Only the `usage` object is parsed when it can be found by a scan; otherwise the whole body is.
    if let Some(value) = top_level_member(body, b"usage") {
        if let Ok(raw) = RawUsage::deserialize(&mut serde_json::Deserializer::from_slice(value)) {
            apply_raw_usage(&mut usage, &raw);
            return usage;
        }
    }
    if let Ok(event) = serde_json::from_slice::<UsageEvent>(body) {
        if let Some(raw) = event.usage {
            apply_raw_usage(&mut usage, &raw);
        }
    }
    usage
}

/// Usage of a non-streaming `chat.completion` (only its `usage` member is materialised).
fn usage_of_completion(body: &[u8]) -> Usage {
    #[derive(Deserialize)]
    struct Completion {
        #[serde(default)]
        usage: Option<Value>,
    }
    serde_json::from_slice::<Completion>(body)
        .ok()
        .and_then(|c| c.usage)
        .map(|u| Usage::from_openai(&u))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::respond::relay::StreamTransform;
    use crate::gateway::respond::sse_relay::SseRelay;
    use bytes::Bytes;

    const ANTHROPIC: &str = concat!(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":12,\"output_tokens\":1,\"cache_read_input_tokens\":5,\"cache_creation_input_tokens\":2}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n",
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":7}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );

    const OPENAI: &str = concat!(
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"c\",\"choices\":[],\"usage\": {\"prompt_tokens\":10,\"completion_tokens\":2,\"prompt_tokens_details\":{\"cached_tokens\":4}}}\n\n",
        "data: [DONE]\n\n",
    );

    fn relay<S: WireReader>(bytes: &[u8], split: usize) -> (Vec<u8>, SseRelay<S>) {
        let mut relay = SseRelay::<S>::default();
        let mut out = Vec::new();
        for c in bytes.chunks(split) {
            if let Some(b) = relay.on_chunk(Bytes::copy_from_slice(c)) {
                out.extend_from_slice(&b);
            }
        }
        (out, relay)
    }

    #[test]
    fn anthropic_bytes_pass_unchanged_and_usage_is_read() {
        let bytes = ANTHROPIC.as_bytes();
        for split in [1, 7, 50, bytes.len()] {
            let (out, mut p) = relay::<AnthropicReader>(bytes, split);
            assert_eq!(p.on_end(), None, "complete stream");
            assert_eq!(out, bytes, "split {split}");
            assert_eq!(
                p.usage(),
                Usage {
                    input_tokens: 12,
                    output_tokens: 7,
                    cache_read_input_tokens: 5,
                    cache_creation_input_tokens: 2,
                    ..Usage::default()
                }
            );
        }
    }

    #[test]
    fn a_cut_anthropic_stream_is_reported() {
        let (_, mut p) = relay::<AnthropicReader>(&ANTHROPIC.as_bytes()[..ANTHROPIC.len() / 2], 10_000);
        assert!(p.on_end().is_some_and(|frame| frame.starts_with(b"event: error\n")));
        assert_eq!(p.error_kind(), Some("upstream_stream_error"));
    }

    #[test]
    fn openai_bytes_pass_unchanged_and_usage_is_read() {
        let bytes = OPENAI.as_bytes();
        for split in [1, 5, 64, bytes.len()] {
            let (out, mut p) = relay::<OpenAiReader>(bytes, split);
            assert_eq!(p.on_end(), None, "split {split}");
            assert_eq!(out, bytes, "split {split}");
            assert_eq!(p.error_kind(), None);
            assert_eq!(
                p.usage(),
                Usage { input_tokens: 6, output_tokens: 2, cache_read_input_tokens: 4, ..Usage::default() }
            );
        }
    }

    #[test]
    fn cut_openai_streams_and_error_chunks() {
        let (_, mut p) = relay::<OpenAiReader>(&OPENAI.as_bytes()[..150], 10_000);
        assert!(p.on_end().is_some_and(|frame| frame.starts_with(b"data: {\"error\":")));
        let (_, mut p) = relay::<OpenAiReader>(b"data: {\"error\":{\"message\":\"boom\"}}\n\n", 10_000);
        assert_eq!(p.on_end(), None, "the upstream's own error chunk ends the stream");
        assert_eq!(p.error_kind(), Some("upstream_stream_error"));
    }

    #[test]
    fn value_scan() {
        assert!(value_starts_with(br#"{"usage" : {"a":1}}"#, b"\"usage\"", b'{'));
        assert!(!value_starts_with(br#"{"usage":null}"#, b"\"usage\"", b'{'));
        assert!(value_starts_with(
            br#"{"finish_reason":null,"x":{"finish_reason":"stop"}}"#,
            b"\"finish_reason\"",
            b'"'
        ));
        assert!(!value_starts_with(br#"{"usage""#, b"\"usage\"", b'{'));
    }

    #[test]
    fn message_usage() {
        let u = usage_of_message(br#"{"type":"message","usage":{"input_tokens":3,"output_tokens":4}}"#);
        assert_eq!((u.input_tokens, u.output_tokens), (3, 4));
        // Nested `usage` keys (a tool's input) are not the answer's; the top-level one is, wherever it sits.
        let body =
            br#"{"usage":{"output_tokens":9},"content":[{"type":"tool_use","input":{"usage":{"output_tokens":1}}}]}"#;
        assert_eq!(usage_of_message(body).output_tokens, 9);
        // A key the scan cannot see (written with an escape) is still read, by the full parse.
        assert_eq!(usage_of_message(br#"{"\u0075sage":{"output_tokens":5}}"#).output_tokens, 5);
    }

    #[test]
    fn an_hour_of_cache_writes_is_told_apart_in_bodies_and_streams() {
        let body = br#"{"type":"message","usage":{"input_tokens":3,"cache_creation_input_tokens":50,
            "cache_creation":{"ephemeral_5m_input_tokens":20,"ephemeral_1h_input_tokens":30},"output_tokens":4}}"#;
        let u = usage_of_message(body);
        assert_eq!((u.cache_creation_input_tokens, u.cache_creation_1h_input_tokens), (50, 30));
        let stream = concat!(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5,",
            "\"cache_creation_input_tokens\":40,\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,",
            "\"ephemeral_1h_input_tokens\":40},\"output_tokens\":1}}}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},",
            "\"usage\":{\"output_tokens\":6}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        );
        for split in [1, 13, stream.len()] {
            let (_, mut p) = relay::<AnthropicReader>(stream.as_bytes(), split);
            let u = p.usage();
            assert_eq!((u.cache_creation_input_tokens, u.cache_creation_1h_input_tokens, u.output_tokens), (40, 40, 6));
        }
        // A split without the total: the total is its sum.
        let u = usage_of_message(
            br#"{"usage":{"cache_creation":{"ephemeral_5m_input_tokens":2,"ephemeral_1h_input_tokens":3}}}"#,
        );
        assert_eq!((u.cache_creation_input_tokens, u.cache_creation_1h_input_tokens), (5, 3));
    }

    #[test]
    fn completion_usage() {
        let body =
            br#"{"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":9,"completion_tokens":2}}"#;
        assert_eq!(usage_of_completion(body), Usage { input_tokens: 9, output_tokens: 2, ..Usage::default() });
        assert_eq!(usage_of_completion(b"not json"), Usage::default());
    }
}
