//! Token usage in Anthropic's terms, read from OpenAI-format `usage` objects.

use serde_json::Value;

/// Token counts as Anthropic reports them: `input_tokens` excludes cached
/// prompt tokens, which are counted in `cache_read_input_tokens`. The metrics
/// actor and the client both see these numbers.
#[derive(Default, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}

impl Usage {
    /// Reads an OpenAI `usage` object. OpenAI's `prompt_tokens` includes cached
    /// tokens, so they are subtracted. Cached tokens come from
    /// `prompt_tokens_details.cached_tokens`, or DeepSeek's
    /// `prompt_cache_hit_tokens` when the former is absent. Missing or
    /// malformed counts read as 0: usage never fails a response.
    pub fn from_openai(usage: &Value) -> Usage {
        let count = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
        let prompt = count(usage.get("prompt_tokens"));
        let cached = usage
            .get("prompt_tokens_details")
            .and_then(|details| details.get("cached_tokens"))
            .and_then(Value::as_u64)
            .or_else(|| usage.get("prompt_cache_hit_tokens").and_then(Value::as_u64))
            .unwrap_or(0);
        Usage {
            input_tokens: prompt.saturating_sub(cached),
            output_tokens: count(usage.get("completion_tokens")),
            cache_read_input_tokens: cached,
            cache_creation_input_tokens: 0,
        }
    }

    /// The Anthropic `usage` object of a non-streaming response.
    pub fn to_anthropic_json(self) -> Value {
        serde_json::json!({
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
        })
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
