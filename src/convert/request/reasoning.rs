//! `thinking` and `output_config.effort` → `reasoning_effort`, by the table in `docs/conversion.md`:
//!
//! | Anthropic | wanted effort |
//! |---|---|
//! | `output_config.effort` (`low` … `max`) | as given; `xhigh` and `max` → `xhigh` |
//! | `thinking: {type: "adaptive"}` without an effort | `high` (Anthropic's default effort) |
//! | `thinking: {type: "enabled", budget_tokens}` | < 2048 `low`, < 8192 `medium`, else `high` |
//! | `thinking: {type: "disabled"}` | the model's "off" value (`none`, `minimal`, the lowest for o-series) |
//! | neither | nothing: the provider's default |
//!
//! The wanted effort is then moved to the nearest value the model accepts ([`EffortSet::nearest`]); where the
//! provider or model does not take `reasoning_effort` ([`OpenAiProfile::efforts`] is `None`), nothing is sent.
//!
//! [`EffortSet::nearest`]: crate::convert::models::EffortSet::nearest

use serde_json_borrow::{Map, Value as Json};

use super::{field, invalid, member};
use crate::convert::errors::ConvertError;
use crate::convert::models::CLAUDE_EFFORTS;
use crate::convert::options::OpenAiProfile;

/// What the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Disabled,
    Effort(&'static str),
}

/// Reads and checks `thinking` and `output_config.effort` (malformed values are refused as Anthropic would),
/// and gives the `reasoning_effort` to send for `profile`.
pub(super) fn reasoning_effort(body: &Map<'_>, profile: &OpenAiProfile) -> Result<Option<&'static str>, ConvertError> {
    let wanted = wanted(body)?;
    let Some(efforts) = profile.efforts else { return Ok(None) };
    Ok(match wanted {
        None => None,
        Some(Wanted::Disabled) => profile.disabled,
        Some(Wanted::Effort(effort)) => efforts.nearest(effort),
    })
}

fn wanted(body: &Map<'_>) -> Result<Option<Wanted>, ConvertError> {
    let effort = match field(body, "output_config").map(|c| (c, member(c, "effort"))) {
        None => None,
        Some((config, _)) if !config.is_object() => return Err(invalid("output_config", "must be an object")),
        Some((_, None | Some(Json::Null))) => None,
        Some((_, Some(Json::Str(effort)))) => match effort.as_ref() {
            "xhigh" | "max" => Some("xhigh"),
            other => Some(CLAUDE_EFFORTS.into_iter().find(|e| *e == other).ok_or_else(|| {
                invalid(
                    "output_config.effort",
                    format!("unknown effort {other:?}; expected low, medium, high, xhigh or max"),
                )
            })?),
        },
        Some(_) => return Err(invalid("output_config.effort", "must be a string")),
    };
    let Some(thinking) = field(body, "thinking") else { return Ok(effort.map(Wanted::Effort)) };
    let kind = member(thinking, "type").and_then(Json::as_str);
    match kind {
        Some("disabled") => Ok(Some(Wanted::Disabled)),
        Some("adaptive") => Ok(Some(Wanted::Effort(effort.unwrap_or("high")))),
        Some("enabled") => {
            let budget = member(thinking, "budget_tokens").and_then(Json::as_u64).ok_or_else(|| {
                invalid("thinking.budget_tokens", "must be a non-negative integer when thinking is enabled")
            })?;
            let from_budget = match budget {
                0..=2047 => "low",
                2048..=8191 => "medium",
                _ => "high",
            };
            Ok(Some(Wanted::Effort(effort.unwrap_or(from_budget))))
        }
        _ => Err(invalid("thinking.type", "must be enabled, adaptive or disabled")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::options::ConvertOptions;

    fn effort(body: serde_json::Value, model: &str) -> Result<Option<&'static str>, ConvertError> {
        let bytes = serde_json::to_vec(&body).unwrap();
        let tree: Json = serde_json::from_slice(&bytes).unwrap();
        let profile = ConvertOptions::default().openai_profile(model);
        reasoning_effort(tree.as_object().unwrap(), &profile)
    }

    #[test]
    fn the_table_for_each_family() {
        use serde_json::json;
        let adaptive = json!({"thinking": {"type": "adaptive"}});
        let high = json!({"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}});
        let max = json!({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}});
        let disabled = json!({"thinking": {"type": "disabled"}});
        let budget = |n: u64| json!({"thinking": {"type": "enabled", "budget_tokens": n}});
        for (body, o3, gpt5, gpt51, gpt52) in [
            (adaptive, "high", "high", "high", "high"),
            (high, "high", "high", "high", "high"),
            (max, "high", "high", "high", "xhigh"),
            (disabled, "low", "minimal", "none", "none"),
            (budget(1024), "low", "low", "low", "low"),
            (budget(4096), "medium", "medium", "medium", "medium"),
            (budget(31999), "high", "high", "high", "high"),
            (json!({"output_config": {"effort": "low"}}), "low", "low", "low", "low"),
        ] {
            for (model, expected) in [("o3", o3), ("gpt-5", gpt5), ("gpt-5.1", gpt51), ("gpt-5.2", gpt52)] {
                assert_eq!(effort(body.clone(), model).unwrap(), Some(expected), "{model} {body}");
            }
            assert_eq!(effort(body.clone(), "gpt-4o").unwrap(), None, "not a reasoning model: {body}");
        }
        assert_eq!(effort(json!({}), "o3").unwrap(), None, "nothing asked: the provider's default");
    }

    #[test]
    fn malformed_reasoning_fields_are_refused() {
        use serde_json::json;
        let err = |body| effort(body, "gpt-4o").unwrap_err().to_string();
        assert!(err(json!({"output_config": {"effort": "extreme"}})).starts_with("output_config.effort: unknown"));
        assert!(err(json!({"output_config": "x"})).starts_with("output_config:"));
        assert!(err(json!({"thinking": {"type": "sometimes"}})).starts_with("thinking.type"));
        assert!(err(json!({"thinking": {"type": "enabled"}})).starts_with("thinking.budget_tokens"));
    }
}
