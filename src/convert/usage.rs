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
    /// Of `cache_creation_input_tokens`, those written to the cache for an hour (Anthropic's
    /// `cache_creation.ephemeral_1h_input_tokens`): they cost more than 5-minute writes, so spend prices the two
    /// apart. 0 when the upstream does not say (OpenAI formats have no cache writes). Not serialised: the `usage`
    /// objects the gateway writes keep the four counts clients already read.
    #[serde(skip)]
    pub cache_creation_1h_input_tokens: u64,
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
            cache_creation_1h_input_tokens: 0,
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

    /// Reads the split of cache writes from an Anthropic `usage` object already parsed into a tree:
    /// `cache_creation.ephemeral_1h_input_tokens` (a count present overwrites, as stream events carry running
    /// totals). When the object has the split but no `cache_creation_input_tokens`, the total is the split's sum.
    pub fn merge_anthropic_cache_creation(&mut self, usage: &Value) {
        let Some(split) = usage.get("cache_creation").filter(|s| s.is_object()) else { return };
        let count = |key: &str| split.get(key).and_then(Value::as_u64);
        let (five_minutes, one_hour) = (count("ephemeral_5m_input_tokens"), count("ephemeral_1h_input_tokens"));
        if let Some(n) = one_hour {
            self.cache_creation_1h_input_tokens = n;
        }
        if usage.get("cache_creation_input_tokens").and_then(Value::as_u64).is_none()
            && (five_minutes.is_some() || one_hour.is_some())
        {
            self.cache_creation_input_tokens = five_minutes.unwrap_or(0).saturating_add(one_hour.unwrap_or(0));
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
        assert_eq!(u, Usage { input_tokens: 40, output_tokens: 7, cache_read_input_tokens: 60, ..Usage::default() });
    }

    #[test]
    fn the_anthropic_cache_write_split_is_read() {
        let mut u = Usage { cache_creation_input_tokens: 30, ..Usage::default() };
        u.merge_anthropic_cache_creation(&json!({"cache_creation_input_tokens": 30,
            "cache_creation": {"ephemeral_5m_input_tokens": 10, "ephemeral_1h_input_tokens": 20}}));
        assert_eq!((u.cache_creation_input_tokens, u.cache_creation_1h_input_tokens), (30, 20));
        let mut only_split = Usage::default();
        only_split.merge_anthropic_cache_creation(&json!({"cache_creation":
            {"ephemeral_5m_input_tokens": 4, "ephemeral_1h_input_tokens": 5}}));
        assert_eq!((only_split.cache_creation_input_tokens, only_split.cache_creation_1h_input_tokens), (9, 5));
        let mut untouched = u;
        untouched.merge_anthropic_cache_creation(&json!({"cache_creation": "nope"}));
        assert_eq!(untouched, u);
        assert!(!serde_json::to_string(&u).unwrap().contains("1h"), "the usage written to clients keeps its shape");
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
