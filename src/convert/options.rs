//! Per-provider conversion options.
use serde::Deserialize;

/// Which OpenAI field carries the token limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    #[default]
    MaxTokens,
    MaxCompletionTokens,
}

/// How an OpenAI-format provider wants requests shaped.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ConvertOptions {
    pub max_tokens_field: MaxTokensField,
    pub reasoning_effort: bool,
    pub send_reasoning_back: bool,
    pub rewrite_tool_names: bool,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        Self {
            max_tokens_field: MaxTokensField::MaxTokens,
            reasoning_effort: false,
            send_reasoning_back: false,
            rewrite_tool_names: true,
        }
    }
}
