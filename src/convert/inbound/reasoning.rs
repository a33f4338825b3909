//! `reasoning_effort` → Anthropic reasoning control, by the model's thinking style ([`ThinkingStyle`]: the
//! Claude table in [`crate::convert::models`], or the provider's per-model setting):
//!
//! | `reasoning_effort` | adaptive models (Claude 4.6+) | budget models |
//! |---|---|---|
//! | `none` | nothing | nothing |
//! | `minimal` | `output_config.effort: "low"`, no thinking | nothing |
//! | `low` / `medium` / `high` | `thinking: {type: "adaptive"}` + that effort | budget 1024 / 4096 / 16384 |
//! | `xhigh` | adaptive + `xhigh` (where the model has it, else `max`) | budget 32768 |
//!
//! OpenAI's limit counts reasoning tokens too, as Anthropic's does, so an explicit limit is kept (and a budget
//! fits under it); without one, `max_tokens` is the budget (for adaptive thinking: the budget of the same
//! effort) plus [`DEFAULT_MAX_TOKENS`]. Thinking is left off where Anthropic would refuse it: a forced tool
//! choice, a budget that does not fit the limit, or a tool-use loop whose last assistant turn (replayed by an
//! OpenAI client) has no thinking block to send back; the effort is still sent to adaptive models then. With
//! thinking on, `temperature` and `top_p` are dropped (Anthropic only accepts their defaults then).

use serde_json::{json, Map, Value};

use super::field;
use super::request::{DEFAULT_MAX_TOKENS, MIN_THINKING_BUDGET};
use crate::convert::errors::ConvertError;
use crate::convert::models::claude_model;
use crate::convert::options::ThinkingStyle;

/// The thinking budget for a reasoning effort: `Some(None)` for `none`/`minimal` (no thinking), `None` for a
/// value OpenAI does not define.
pub fn thinking_budget(effort: &str) -> Option<Option<u64>> {
    match effort {
        "none" | "minimal" => Some(None),
        "low" => Some(Some(MIN_THINKING_BUDGET)),
        "medium" => Some(Some(4096)),
        "high" => Some(Some(16384)),
        "xhigh" => Some(Some(32768)),
        _ => None,
    }
}

/// What the request looks like around its reasoning.
pub(super) struct Situation {
    pub explicit_limit: Option<u64>,
    /// Thinking would be refused: a forced tool choice, or a tool-use loop replayed without thinking blocks.
    pub thinking_refused: bool,
}

/// Writes `thinking` and `max_tokens` into `out` and `effort` into `output_config` for `reasoning_effort`, if
/// the client sent one.
pub(super) fn put_reasoning(
    body: &Map<String, Value>,
    model: &str,
    style: ThinkingStyle,
    situation: &Situation,
    output_config: &mut Map<String, Value>,
    out: &mut Map<String, Value>,
) -> Result<(), ConvertError> {
    let Some(effort) = field(body, "reasoning_effort") else { return Ok(()) };
    let effort = effort.as_str().ok_or_else(|| invalid("must be a string"))?;
    let budget = thinking_budget(effort).ok_or_else(|| {
        invalid(format!("unknown value {effort:?}; expected none, minimal, low, medium, high or xhigh"))
    })?;
    match style {
        ThinkingStyle::Budget => {
            if let Some(budget) = budget.filter(|_| !situation.thinking_refused) {
                put_budget(budget, situation.explicit_limit, out);
            }
        }
        ThinkingStyle::Adaptive => {
            let anthropic_effort = match effort {
                "none" => return Ok(()),
                "minimal" => "low",
                "xhigh" if claude_model(model).xhigh => "xhigh",
                "xhigh" => "max",
                other => other,
            };
            output_config.insert("effort".into(), json!(anthropic_effort));
            if let Some(budget) = budget.filter(|_| !situation.thinking_refused) {
                if situation.explicit_limit.is_none() {
                    out.insert("max_tokens".into(), json!(budget + DEFAULT_MAX_TOKENS));
                }
                out.insert("thinking".into(), json!({"type": "adaptive"}));
                drop_sampling(out);
            }
        }
    }
    Ok(())
}

fn invalid(message: impl Into<String>) -> ConvertError {
    ConvertError::invalid_request("reasoning_effort", message)
}

fn put_budget(budget: u64, explicit_limit: Option<u64>, out: &mut Map<String, Value>) {
    let (budget, max_tokens) = match explicit_limit {
        Some(limit) => (budget.min(limit.saturating_sub(1)), limit),
        None => (budget, budget + DEFAULT_MAX_TOKENS),
    };
    if budget < MIN_THINKING_BUDGET {
        return;
    }
    out.insert("max_tokens".into(), json!(max_tokens));
    out.insert("thinking".into(), json!({"type": "enabled", "budget_tokens": budget}));
    drop_sampling(out);
}

fn drop_sampling(out: &mut Map<String, Value>) {
    out.remove("temperature");
    out.remove("top_p");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(effort: &str, model: &str, style: ThinkingStyle, limit: Option<u64>, refused: bool) -> Value {
        let body = json!({"reasoning_effort": effort});
        let mut out = Map::new();
        out.insert("max_tokens".into(), json!(limit.unwrap_or(DEFAULT_MAX_TOKENS)));
        out.insert("temperature".into(), json!(0.3));
        let situation = Situation { explicit_limit: limit, thinking_refused: refused };
        let mut config = Map::new();
        put_reasoning(body.as_object().unwrap(), model, style, &situation, &mut config, &mut out).unwrap();
        if !config.is_empty() {
            out.insert("output_config".into(), Value::Object(config));
        }
        Value::Object(out)
    }

    #[test]
    fn adaptive_models_get_adaptive_thinking_and_an_effort() {
        let out = run("high", "claude-opus-4-6", ThinkingStyle::Adaptive, None, false);
        assert_eq!(
            out,
            json!({"max_tokens": 16384 + DEFAULT_MAX_TOKENS, "thinking": {"type": "adaptive"},
                   "output_config": {"effort": "high"}})
        );
        assert_eq!(
            run("xhigh", "claude-opus-4-6", ThinkingStyle::Adaptive, None, false)["output_config"]["effort"],
            "max"
        );
        assert_eq!(
            run("xhigh", "claude-opus-4-7", ThinkingStyle::Adaptive, None, false)["output_config"]["effort"],
            "xhigh"
        );
        let minimal = run("minimal", "claude-opus-4-6", ThinkingStyle::Adaptive, Some(500), false);
        assert_eq!(minimal, json!({"max_tokens": 500, "temperature": 0.3, "output_config": {"effort": "low"}}));
        assert_eq!(run("none", "claude-opus-4-6", ThinkingStyle::Adaptive, None, false).get("output_config"), None);
        let forced = run("low", "claude-opus-4-6", ThinkingStyle::Adaptive, Some(900), true);
        assert_eq!(forced, json!({"max_tokens": 900, "temperature": 0.3, "output_config": {"effort": "low"}}));
    }

    #[test]
    fn budget_models_get_a_budget_that_fits() {
        let out = run("xhigh", "claude-sonnet-4-5", ThinkingStyle::Budget, None, false);
        assert_eq!(out["thinking"], json!({"type": "enabled", "budget_tokens": 32768}));
        assert!(out.get("temperature").is_none() && out.get("output_config").is_none());
        let capped = run("high", "claude-sonnet-4-5", ThinkingStyle::Budget, Some(3000), false);
        assert_eq!(
            (capped["thinking"]["budget_tokens"].as_u64(), capped["max_tokens"].as_u64()),
            (Some(2999), Some(3000))
        );
        assert!(run("low", "x", ThinkingStyle::Budget, Some(500), false).get("thinking").is_none());
        assert!(run("high", "x", ThinkingStyle::Budget, None, true).get("thinking").is_none());
    }
}
