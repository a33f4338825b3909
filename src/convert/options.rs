//! Per-provider and per-model knobs of the conversion, read from the provider's configuration, and their
//! resolution for one request's model against the built-in model table ([`super::models`]).
//!
//! Precedence for each setting: the first per-model entry whose pattern matches, then the provider's value, then
//! the model table (by name), then the built-in default.

use serde::Deserialize;

use super::models::{claude_model, openai_model, EffortSet, OpenAiModel};

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

/// What happens to an Anthropic web search server tool (`web_search_*`) sent to an OpenAI-format provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebSearch {
    /// A 400 naming the tool: the provider would never search.
    #[default]
    Refuse,
    /// Chat Completions' `web_search_options` (OpenAI's search models, OpenRouter).
    WebSearchOptions,
}

impl WebSearch {
    pub fn as_str(self) -> &'static str {
        match self {
            WebSearch::Refuse => "refuse",
            WebSearch::WebSearchOptions => "web_search_options",
        }
    }
}

/// Where Anthropic's `metadata.user_id` goes in an OpenAI request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserIdField {
    /// `safety_identifier` (OpenAI's current field; at most 64 characters, longer ids are hashed).
    #[default]
    SafetyIdentifier,
    /// The deprecated `user`, for servers that only know it.
    User,
    /// Not sent.
    None,
}

impl UserIdField {
    pub fn as_str(self) -> &'static str {
        match self {
            UserIdField::SafetyIdentifier => "safety_identifier",
            UserIdField::User => "user",
            UserIdField::None => "none",
        }
    }
}

/// How an Anthropic-format model takes reasoning control (the `/v1/chat/completions` direction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThinkingStyle {
    /// `thinking: {type: "adaptive"}` and `output_config.effort`.
    Adaptive,
    /// `thinking: {type: "enabled", budget_tokens}`.
    Budget,
}

impl ThinkingStyle {
    pub fn as_str(self) -> &'static str {
        match self {
            ThinkingStyle::Adaptive => "adaptive",
            ThinkingStyle::Budget => "budget",
        }
    }
}

/// Settings for the models whose name matches `pattern` (exact, or a prefix ending in `*`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ModelOptions {
    pub pattern: String,
    #[serde(default)]
    pub max_tokens_field: Option<MaxTokensField>,
    #[serde(default)]
    pub reasoning_effort: Option<bool>,
    /// The `reasoning_effort` values the model accepts (replaces the table's).
    #[serde(default)]
    pub reasoning_levels: Option<EffortSet>,
    #[serde(default)]
    pub thinking: Option<ThinkingStyle>,
}

impl ModelOptions {
    /// Whether `model` matches the pattern (ASCII case-insensitively).
    pub fn matches(&self, model: &str) -> bool {
        match self.pattern.strip_suffix('*') {
            Some(prefix) => {
                model.len() >= prefix.len() && model.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
            }
            None => model.eq_ignore_ascii_case(&self.pattern),
        }
    }
}

impl<'de> Deserialize<'de> for EffortSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let values = Vec::<String>::deserialize(deserializer)?;
        EffortSet::parse(values.iter().map(String::as_str))
            .map_err(|bad| serde::de::Error::custom(format!("unknown reasoning effort {bad:?}")))
    }
}

/// What a provider understands; every field has a default so a provider entry only names what differs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ConvertOptions {
    /// Field that carries Anthropic's `max_tokens`; `None`: by model name (`max_completion_tokens` for OpenAI
    /// reasoning models, else `max_tokens`).
    pub max_tokens_field: Option<MaxTokensField>,
    /// Send `reasoning_effort`. `None`: for the reasoning models the table knows (other providers may reject
    /// the field); `Some(true)`: for every model; `Some(false)`: never.
    pub reasoning_effort: Option<bool>,
    /// Replay assistant `thinking` as `reasoning_content` (some reasoning
    /// providers require their reasoning back in multi-turn tool use).
    pub send_reasoning_back: bool,
    /// Rewrite tool names an OpenAI provider would reject (over 64 characters,
    /// characters outside `[A-Za-z0-9_-]`), and restore them in responses.
    pub rewrite_tool_names: bool,
    /// Remember the opaque reasoning state some providers (Gemini) return with tool calls and send it back when
    /// the calls are replayed (see `crate::hooks::thought_signatures`); inert for providers that send none.
    pub thought_signatures: bool,
    /// Anthropic web search server tools: refused, or mapped to `web_search_options`.
    pub web_search: WebSearch,
    /// Send `prompt_cache_key`, derived from the session (see `to_openai_with`).
    pub prompt_cache_key: bool,
    /// Where `metadata.user_id` goes.
    pub user_id_field: UserIdField,
    /// Per-model settings, first match wins.
    pub models: Vec<ModelOptions>,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            max_tokens_field: None,
            reasoning_effort: None,
            send_reasoning_back: false,
            rewrite_tool_names: true,
            thought_signatures: true,
            web_search: WebSearch::Refuse,
            prompt_cache_key: true,
            user_id_field: UserIdField::SafetyIdentifier,
            models: Vec::new(),
        }
    }
}

/// The settings that apply to one OpenAI-format model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenAiProfile {
    pub max_tokens_field: MaxTokensField,
    /// `reasoning_effort` values to choose from; `None`: the parameter is not sent.
    pub efforts: Option<EffortSet>,
    /// The value for "thinking disabled" (`None`: nothing is sent).
    pub disabled: Option<&'static str>,
}

impl ConvertOptions {
    fn model_entry(&self, model: &str) -> Option<&ModelOptions> {
        self.models.iter().find(|m| m.matches(model))
    }

    /// Resolves the settings for `model` on an OpenAI-format provider.
    pub fn openai_profile(&self, model: &str) -> OpenAiProfile {
        let entry = self.model_entry(model);
        let table = openai_model(model);
        let max_tokens_field = entry.and_then(|m| m.max_tokens_field).or(self.max_tokens_field).unwrap_or(
            if table.max_completion_tokens { MaxTokensField::MaxCompletionTokens } else { MaxTokensField::MaxTokens },
        );
        let levels = entry.and_then(|m| m.reasoning_levels);
        let enabled = entry.and_then(|m| m.reasoning_effort).or(self.reasoning_effort);
        let efforts = match (enabled, levels) {
            (Some(false), _) => None,
            (_, Some(levels)) => Some(levels),
            (Some(true), None) if table.is_reasoning() => Some(table.efforts),
            (Some(true), None) => Some(EffortSet::STANDARD),
            (None, None) => table.is_reasoning().then_some(table.efforts),
        };
        let disabled = match levels {
            Some(levels) => ["none", "minimal"].into_iter().find(|v| levels.contains(v)),
            None if table == OpenAiModel::UNKNOWN => None,
            None => table.disabled,
        };
        OpenAiProfile { max_tokens_field, efforts: efforts.filter(|e| !e.is_empty()), disabled }
    }

    /// How `model` on an Anthropic-format provider takes reasoning control.
    pub fn thinking_style(&self, model: &str) -> ThinkingStyle {
        match self.model_entry(model).and_then(|m| m.thinking) {
            Some(style) => style,
            None if claude_model(model).adaptive => ThinkingStyle::Adaptive,
            None => ThinkingStyle::Budget,
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
        assert!(opts.rewrite_tool_names && opts.thought_signatures && opts.prompt_cache_key);
        assert_eq!((opts.max_tokens_field, opts.reasoning_effort), (None, None));
        assert_eq!(opts.web_search, WebSearch::Refuse);
    }

    #[test]
    fn fields_deserialize_from_snake_case() {
        let opts: ConvertOptions = serde_json::from_str(
            r#"{"max_tokens_field":"max_completion_tokens","reasoning_effort":true,
                "send_reasoning_back":true,"rewrite_tool_names":false,"web_search":"web_search_options",
                "user_id_field":"user","models":[{"pattern":"m*","reasoning_levels":["low","xhigh"],"thinking":"budget"}]}"#,
        )
        .unwrap();
        assert_eq!(opts.max_tokens_field.map(MaxTokensField::as_str), Some("max_completion_tokens"));
        assert!(opts.reasoning_effort == Some(true) && opts.send_reasoning_back && !opts.rewrite_tool_names);
        assert_eq!(opts.models[0].reasoning_levels.unwrap().values(), ["low", "xhigh"]);
        assert_eq!((opts.web_search.as_str(), opts.user_id_field.as_str()), ("web_search_options", "user"));
        assert!(serde_json::from_str::<ConvertOptions>(r#"{"models":[{"pattern":"x","reasoning_levels":["max"]}]}"#)
            .is_err());
    }

    #[test]
    fn profiles_follow_the_table_by_default() {
        let opts = ConvertOptions::default();
        let o3 = opts.openai_profile("o3-mini");
        assert_eq!(o3.max_tokens_field, MaxTokensField::MaxCompletionTokens);
        assert_eq!(o3.efforts, Some(EffortSet::STANDARD));
        assert_eq!(o3.disabled, Some("low"));
        let gpt4 = opts.openai_profile("gpt-4o");
        assert_eq!((gpt4.max_tokens_field, gpt4.efforts, gpt4.disabled), (MaxTokensField::MaxTokens, None, None));
    }

    #[test]
    fn provider_and_model_settings_override_the_table() {
        let on = ConvertOptions { reasoning_effort: Some(true), ..ConvertOptions::default() };
        assert_eq!(on.openai_profile("deepseek-r1").efforts, Some(EffortSet::STANDARD));
        assert_eq!(on.openai_profile("deepseek-r1").disabled, None);
        assert_eq!(on.openai_profile("gpt-5").efforts.unwrap().values(), ["minimal", "low", "medium", "high"]);
        let off = ConvertOptions {
            reasoning_effort: Some(false),
            max_tokens_field: Some(MaxTokensField::MaxTokens),
            ..ConvertOptions::default()
        };
        assert_eq!(off.openai_profile("o3").efforts, None);
        assert_eq!(off.openai_profile("o3").max_tokens_field, MaxTokensField::MaxTokens);
        let per_model = ConvertOptions {
            reasoning_effort: Some(false),
            models: vec![
                ModelOptions {
                    pattern: "Qwen3*".into(),
                    max_tokens_field: Some(MaxTokensField::MaxCompletionTokens),
                    reasoning_effort: Some(true),
                    reasoning_levels: Some(EffortSet::parse(["none", "low", "high"]).unwrap()),
                    thinking: None,
                },
                ModelOptions {
                    pattern: "my-claude".into(),
                    max_tokens_field: None,
                    reasoning_effort: None,
                    reasoning_levels: None,
                    thinking: Some(ThinkingStyle::Adaptive),
                },
            ],
            ..ConvertOptions::default()
        };
        let qwen = per_model.openai_profile("qwen3-235b");
        assert_eq!(qwen.max_tokens_field, MaxTokensField::MaxCompletionTokens);
        assert_eq!(qwen.efforts.unwrap().values(), ["none", "low", "high"]);
        assert_eq!(qwen.disabled, Some("none"));
        assert_eq!(per_model.openai_profile("qwen2").efforts, None);
        assert_eq!(per_model.thinking_style("my-claude"), ThinkingStyle::Adaptive);
        assert_eq!(per_model.thinking_style("MY-CLAUDE-2"), ThinkingStyle::Budget);
        assert_eq!(per_model.thinking_style("claude-opus-4-6"), ThinkingStyle::Adaptive);
    }
}
