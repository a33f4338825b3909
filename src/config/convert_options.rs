//! A provider's conversion settings, raw (file, environment, admin API) → [`ConvertOptions`]. Every failure names
//! the provider and the field.

use super::raw::{RawModelOptions, RawProvider};
use super::ConfigError;
use crate::convert::models::EffortSet;
use crate::convert::{ConvertOptions, MaxTokensField, ModelOptions, ThinkingStyle, UserIdField, WebSearch};

/// Validates the conversion options of provider `name`.
pub(super) fn options(name: &str, raw: &RawProvider) -> Result<ConvertOptions, ConfigError> {
    let defaults = ConvertOptions::default();
    let error = |field: &str, message: String| ConfigError::new(format!("provider '{name}': {field} {message}"));
    let web_search = match raw.web_search.as_deref().map(str::trim) {
        None => defaults.web_search,
        Some("refuse") => WebSearch::Refuse,
        Some("web_search_options") => WebSearch::WebSearchOptions,
        Some(other) => {
            return Err(error("web_search", format!("'{other}' is not known (use 'refuse' or 'web_search_options')")))
        }
    };
    let user_id_field = match raw.user_id_field.as_deref().map(str::trim) {
        None => defaults.user_id_field,
        Some("safety_identifier") => UserIdField::SafetyIdentifier,
        Some("user") => UserIdField::User,
        Some("none") => UserIdField::None,
        Some(other) => {
            return Err(error(
                "user_id_field",
                format!("'{other}' is not known (use 'safety_identifier', 'user' or 'none')"),
            ))
        }
    };
    let mut models = Vec::with_capacity(raw.models.len());
    for (pattern, model) in &raw.models {
        models.push(model_options(pattern, model).map_err(|m| error(&format!("models.\"{pattern}\""), m))?);
    }
    // Most specific first: exact names, then longer prefixes.
    models.sort_by_key(|m| (m.pattern.ends_with('*'), std::cmp::Reverse(m.pattern.len())));
    Ok(ConvertOptions {
        max_tokens_field: max_tokens_field(raw.max_tokens_field.as_deref())
            .map_err(|m| error("max_tokens_field", m))?,
        reasoning_effort: raw.reasoning_effort.or(defaults.reasoning_effort),
        send_reasoning_back: raw.send_reasoning_back.unwrap_or(defaults.send_reasoning_back),
        rewrite_tool_names: raw.rewrite_tool_names.unwrap_or(defaults.rewrite_tool_names),
        thought_signatures: raw.thought_signatures.unwrap_or(defaults.thought_signatures),
        web_search,
        prompt_cache_key: raw.prompt_cache_key.unwrap_or(defaults.prompt_cache_key),
        user_id_field,
        models,
    })
}

/// `None` and `auto`: by model name.
fn max_tokens_field(value: Option<&str>) -> Result<Option<MaxTokensField>, String> {
    match value.map(str::trim) {
        None | Some("auto") => Ok(None),
        Some("max_tokens") => Ok(Some(MaxTokensField::MaxTokens)),
        Some("max_completion_tokens") => Ok(Some(MaxTokensField::MaxCompletionTokens)),
        Some(other) => Err(format!("'{other}' is not known (use 'auto', 'max_tokens' or 'max_completion_tokens')")),
    }
}

fn model_options(pattern: &str, raw: &RawModelOptions) -> Result<ModelOptions, String> {
    // `*` alone matches every model.
    if pattern.is_empty() || pattern.strip_suffix('*').unwrap_or(pattern).contains('*') {
        return Err("is not a model name or a prefix ending in '*'".into());
    }
    let reasoning_levels = match &raw.reasoning_levels {
        None => None,
        Some(levels) => Some(EffortSet::parse(levels.iter().map(String::as_str)).map_err(|bad| {
            format!("reasoning_levels: '{bad}' is not a reasoning effort (none, minimal, low, medium, high, xhigh)")
        })?),
    };
    let thinking = match raw.thinking.as_deref().map(str::trim) {
        None => None,
        Some("adaptive") => Some(ThinkingStyle::Adaptive),
        Some("budget") => Some(ThinkingStyle::Budget),
        Some(other) => return Err(format!("thinking: '{other}' is not known (use 'adaptive' or 'budget')")),
    };
    Ok(ModelOptions {
        pattern: pattern.to_string(),
        max_tokens_field: max_tokens_field(raw.max_tokens_field.as_deref())
            .map_err(|m| format!("max_tokens_field: {m}"))?,
        reasoning_effort: raw.reasoning_effort,
        reasoning_levels,
        thinking,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(models: &[(&str, RawModelOptions)]) -> RawProvider {
        RawProvider { models: models.iter().cloned().map(|(k, v)| (k.to_string(), v)).collect(), ..Default::default() }
    }

    #[test]
    fn defaults_and_named_values() {
        assert_eq!(options("p", &RawProvider::default()).unwrap(), ConvertOptions::default());
        let p = RawProvider {
            max_tokens_field: Some("max_completion_tokens".into()),
            reasoning_effort: Some(false),
            web_search: Some("web_search_options".into()),
            user_id_field: Some("user".into()),
            prompt_cache_key: Some(false),
            ..Default::default()
        };
        let o = options("p", &p).unwrap();
        assert_eq!(o.max_tokens_field, Some(MaxTokensField::MaxCompletionTokens));
        assert_eq!((o.reasoning_effort, o.prompt_cache_key), (Some(false), false));
        assert_eq!((o.web_search, o.user_id_field), (WebSearch::WebSearchOptions, UserIdField::User));
        let auto = RawProvider { max_tokens_field: Some("auto".into()), ..Default::default() };
        assert_eq!(options("p", &auto).unwrap().max_tokens_field, None);
    }

    #[test]
    fn models_are_ordered_most_specific_first() {
        let levels =
            RawModelOptions { reasoning_levels: Some(vec!["low".into(), "high".into()]), ..Default::default() };
        let thinking = RawModelOptions { thinking: Some("adaptive".into()), ..Default::default() };
        let o = options("p", &raw(&[("*", thinking.clone()), ("gpt*", levels.clone()), ("gpt-5x", thinking)])).unwrap();
        let patterns: Vec<&str> = o.models.iter().map(|m| m.pattern.as_str()).collect();
        assert_eq!(patterns, ["gpt-5x", "gpt*", "*"]);
        assert_eq!(o.models[1].reasoning_levels.unwrap().values(), ["low", "high"]);
        assert_eq!(o.thinking_style("gpt-5x"), ThinkingStyle::Adaptive);
    }

    #[test]
    fn mistakes_name_the_provider_and_field() {
        let err = |p: RawProvider| options("p", &p).unwrap_err().to_string();
        let bad_levels = RawModelOptions { reasoning_levels: Some(vec!["max".into()]), ..Default::default() };
        assert!(err(raw(&[("m", bad_levels)])).starts_with("provider 'p': models.\"m\" reasoning_levels: 'max'"));
        let bad_thinking = RawModelOptions { thinking: Some("deep".into()), ..Default::default() };
        assert!(err(raw(&[("m", bad_thinking)])).contains("thinking: 'deep'"));
        assert!(err(raw(&[("a*b*", RawModelOptions::default())])).contains("prefix ending in '*'"));
        let search = RawProvider { web_search: Some("bing".into()), ..Default::default() };
        assert!(err(search).starts_with("provider 'p': web_search 'bing'"));
        let user = RawProvider { user_id_field: Some("email".into()), ..Default::default() };
        assert!(err(user).contains("user_id_field 'email'"));
        let field = RawProvider { max_tokens_field: Some("tokens".into()), ..Default::default() };
        assert!(err(field).contains("max_tokens_field 'tokens'"));
    }
}
