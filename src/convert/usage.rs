//! Token usage in Anthropic's terms, read from OpenAI-format `usage` objects.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lax::Lax;
use crate::lax_object;

/// Token counts as Anthropic reports them: `input_tokens` excludes cached
/// prompt tokens, which are counted in `cache_read_input_tokens`. The metrics
/// actor and the client both see these numbers; serialised, this is the
/// `usage` object of a non-streaming Anthropic response.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
}

/// An OpenAI `usage` object, read leniently (a count of the wrong type reads as 0).
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct OpenAiUsage {
    prompt_tokens: Lax<u64>,
    completion_tokens: Lax<u64>,
    prompt_tokens_details: Lax<PromptDetails>,
    /// DeepSeek's name for cached prompt tokens.
    prompt_cache_hit_tokens: Lax<u64>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct PromptDetails {
    cached_tokens: Lax<u64>,
}

lax_object!(OpenAiUsage, PromptDetails);

impl From<&OpenAiUsage> for Usage {
    /// OpenAI's `prompt_tokens` includes cached tokens, so they are
    /// subtracted. Cached tokens come from `prompt_tokens_details.cached_tokens`,
    /// or DeepSeek's `prompt_cache_hit_tokens` when the former is absent.
    /// Missing or malformed counts read as 0: usage never fails a response.
    fn from(usage: &OpenAiUsage) -> Usage {
        let prompt = usage.prompt_tokens.0.unwrap_or(0);
        let cached = usage
            .prompt_tokens_details
            .get()
            .and_then(|details| details.cached_tokens.0)
            .or(usage.prompt_cache_hit_tokens.0)
            .unwrap_or(0);
        Usage {
            input_tokens: prompt.saturating_sub(cached),
            output_tokens: usage.completion_tokens.0.unwrap_or(0),
            cache_read_input_tokens: cached,
            cache_creation_input_tokens: 0,
        }
    }
}

impl Usage {
    /// Reads an OpenAI `usage` object already parsed into a tree (stream
    /// chunks), with the same rules as `From<&OpenAiUsage>`.
    pub fn from_openai(usage: &Value) -> Usage {
        match Lax::<OpenAiUsage>::deserialize(usage) {
            Ok(Lax(Some(usage))) => Usage::from(&usage),
            _ => Usage::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cached_tokens_are_moved_out_of_input() {
        let u = Usage::from_openai(&json!({
            "prompt_tokens": 100, "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 60}
        }));
        assert_eq!(
            u,
            Usage { input_tokens: 40, output_tokens: 7, cache_read_input_tokens: 60, cache_creation_input_tokens: 0 }
        );
    }

    #[test]
    fn deepseek_cache_hits_and_inconsistent_counts() {
        let u = Usage::from_openai(&json!({"prompt_tokens": 10, "prompt_cache_hit_tokens": 30}));
        assert_eq!((u.input_tokens, u.cache_read_input_tokens), (0, 30));
    }

    #[test]
    fn malformed_usage_reads_as_zero() {
        assert_eq!(Usage::from_openai(&json!("nope")), Usage::default());
        assert_eq!(Usage::from_openai(&json!({"prompt_tokens": -3, "completion_tokens": "7"})), Usage::default());
    }
}
