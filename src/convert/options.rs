//! Per-provider knobs of the Anthropic → OpenAI conversion, read from the
//! provider's configuration.

use serde::Deserialize;

/// Which request field carries the output-token limit: older OpenAI-compatible
/// servers only know `max_tokens`, OpenAI's reasoning models only accept
/// `max_completion_tokens`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    #[default]
    MaxTokens,
    MaxCompletionTokens,
}

impl MaxTokensField {
    /// The JSON key this choice writes.
    pub fn as_str(self) -> &'static str {
        match self {
            MaxTokensField::MaxTokens => "max_tokens",
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
        }
    }
}

/// What an OpenAI-format provider understands; every field has a default so a
/// provider entry only names what differs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ConvertOptions {
    /// Field that carries Anthropic's `max_tokens`.
    pub max_tokens_field: MaxTokensField,
    /// The provider accepts `reasoning_effort`; providers that do not would
    /// reject the whole request, so it is only sent when this is set.
    pub reasoning_effort: bool,
    /// Replay assistant `thinking` as `reasoning_content` (some reasoning
    /// providers require their reasoning back in multi-turn tool use).
    pub send_reasoning_back: bool,
    /// Rewrite tool names an OpenAI provider would reject (over 64 characters,
    /// characters outside `[A-Za-z0-9_-]`), and restore them in responses.
    pub rewrite_tool_names: bool,
    /// Remember the opaque reasoning state some providers (Gemini) return with tool calls and send it back when
    /// the calls are replayed (see `crate::hooks::thought_signatures`); inert for providers that send none.
    pub thought_signatures: bool,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            max_tokens_field: MaxTokensField::MaxTokens,
            reasoning_effort: false,
            send_reasoning_back: false,
            rewrite_tool_names: true,
            thought_signatures: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_missing_fields() {
        let opts: ConvertOptions = serde_json::from_str("{}").unwrap();
        assert_eq!(opts, ConvertOptions::default());
        assert!(opts.rewrite_tool_names && opts.thought_signatures);
        assert_eq!(opts.max_tokens_field, MaxTokensField::MaxTokens);
    }

    #[test]
    fn fields_deserialize_from_snake_case() {
        let opts: ConvertOptions = serde_json::from_str(
            r#"{"max_tokens_field":"max_completion_tokens","reasoning_effort":true,
                "send_reasoning_back":true,"rewrite_tool_names":false}"#,
        )
        .unwrap();
        assert_eq!(opts.max_tokens_field.as_str(), "max_completion_tokens");
        assert!(opts.reasoning_effort && opts.send_reasoning_back && !opts.rewrite_tool_names);
    }
}
