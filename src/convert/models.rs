//! What the converter knows about models from their names alone: which OpenAI models are reasoning models (they
//! take `max_completion_tokens` and `reasoning_effort`, and which effort values), and which Claude models take
//! adaptive thinking with `output_config.effort` rather than a `budget_tokens` thinking budget. Provider and
//! per-model settings ([`super::options`]) override every row; `docs/conversion.md` shows the table.
//!
//! Names are matched case-insensitively on their last `/`-separated segment, so `openai/gpt-5` (OpenRouter) and
//! `us.anthropic.claude-opus-4-6-v1` (Bedrock-style ids) read like the bare model names.

/// A set of OpenAI `reasoning_effort` values, ordered from least to most reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EffortSet(u8);

/// OpenAI `reasoning_effort` values in increasing order; a value's position is its bit in an [`EffortSet`].
pub const OPENAI_EFFORTS: [&str; 6] = ["none", "minimal", "low", "medium", "high", "xhigh"];

impl EffortSet {
    pub const EMPTY: EffortSet = EffortSet(0);
    /// `low`, `medium`, `high`: what every reasoning API that takes `reasoning_effort` accepts.
    pub const STANDARD: EffortSet = EffortSet(0b01_1100);

    /// The set of the given values; `None` names a value that is not an OpenAI effort.
    pub fn parse<'s>(values: impl IntoIterator<Item = &'s str>) -> Result<EffortSet, &'s str> {
        let mut set = EffortSet::EMPTY;
        for value in values {
            let position = OPENAI_EFFORTS.iter().position(|e| *e == value).ok_or(value)?;
            set.0 |= 1 << position;
        }
        Ok(set)
    }

    fn of(values: &[&str]) -> EffortSet {
        EffortSet::parse(values.iter().copied()).unwrap_or_default()
    }

    pub fn contains(self, value: &str) -> bool {
        OPENAI_EFFORTS.iter().position(|e| *e == value).is_some_and(|i| self.0 & (1 << i) != 0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The accepted value closest to `wanted` (an [`OPENAI_EFFORTS`] member); on a tie, the higher one.
    pub fn nearest(self, wanted: &str) -> Option<&'static str> {
        let target = OPENAI_EFFORTS.iter().position(|e| *e == wanted)?;
        (0..OPENAI_EFFORTS.len())
            .filter(|i| self.0 & (1 << i) != 0)
            .min_by_key(|i| (i.abs_diff(target), std::cmp::Reverse(*i)))
            .map(|i| OPENAI_EFFORTS[i])
    }

    /// The values, in order (for documentation and the admin view).
    pub fn values(self) -> Vec<&'static str> {
        (0..OPENAI_EFFORTS.len()).filter(|i| self.0 & (1 << i) != 0).map(|i| OPENAI_EFFORTS[i]).collect()
    }
}

/// What an OpenAI-format model takes, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenAiModel {
    /// An OpenAI reasoning model (`o1*`, `o3*`, `o4*`, `gpt-5*`): it refuses `max_tokens`.
    pub max_completion_tokens: bool,
    /// The `reasoning_effort` values it accepts (empty: the parameter is refused or unknown).
    pub efforts: EffortSet,
    /// What "thinking disabled" becomes: `none` or `minimal` where the model has them, the lowest effort for
    /// models that always reason, nothing where unknown.
    pub disabled: Option<&'static str>,
}

impl OpenAiModel {
    /// A model this table does not know: `max_tokens`, no reasoning parameter unless configured.
    pub const UNKNOWN: OpenAiModel =
        OpenAiModel { max_completion_tokens: false, efforts: EffortSet::EMPTY, disabled: None };

    /// Whether this is a recognised reasoning model (reasoning effort is on by default for those).
    pub fn is_reasoning(&self) -> bool {
        !self.efforts.is_empty()
    }
}

/// The last `/`-separated segment of a model name.
fn base_name(model: &str) -> &str {
    model.rsplit('/').next().unwrap_or(model)
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// The OpenAI table: o-series and gpt-5 families.
pub fn openai_model(model: &str) -> OpenAiModel {
    let name = base_name(model);
    let starts = |prefix: &str| starts_with_ignore_case(name, prefix);
    let reasoning = |efforts: &[&str], disabled: Option<&'static str>| OpenAiModel {
        max_completion_tokens: true,
        efforts: EffortSet::of(efforts),
        disabled,
    };
    if starts("o1-mini") || starts("o1-preview") {
        // The first o-series previews reason but take no effort parameter.
        return OpenAiModel { max_completion_tokens: true, ..OpenAiModel::UNKNOWN };
    }
    if ["o1", "o3", "o4"].iter().any(|p| starts(p)) {
        // They always reason: "disabled" is the lowest effort they take.
        return reasoning(&["low", "medium", "high"], Some("low"));
    }
    let Some(rest) = name.get(5..).filter(|_| starts("gpt-5")) else { return OpenAiModel::UNKNOWN };
    if starts_with_ignore_case(rest, "-chat") {
        // gpt-5-chat-latest is the non-reasoning chat model.
        return OpenAiModel { max_completion_tokens: true, ..OpenAiModel::UNKNOWN };
    }
    if starts_with_ignore_case(rest, "-pro") {
        return reasoning(&["high"], Some("high"));
    }
    let minor: Option<u32> = rest
        .strip_prefix('.')
        .map(|r| r.bytes().take_while(u8::is_ascii_digit).count())
        .and_then(|digits| rest.get(1..=digits).and_then(|d| d.parse().ok()));
    match minor {
        None | Some(0) => reasoning(&["minimal", "low", "medium", "high"], Some("minimal")),
        Some(1) => reasoning(&["none", "low", "medium", "high"], Some("none")),
        Some(_) => reasoning(&["none", "low", "medium", "high", "xhigh"], Some("none")),
    }
}

/// `output_config.effort` values of Claude models, in increasing order.
pub const CLAUDE_EFFORTS: [&str; 5] = ["low", "medium", "high", "xhigh", "max"];

/// How a Claude model takes reasoning control, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaudeModel {
    /// `thinking: {type: "adaptive"}` with `output_config.effort` (Claude 4.6 and later, some of which refuse
    /// `budget_tokens`); otherwise `thinking: {type: "enabled", budget_tokens}`.
    pub adaptive: bool,
    /// It takes `output_config.effort: "xhigh"` (else `xhigh` becomes `max`).
    pub xhigh: bool,
}

/// The Claude table. A name that is not a recognisable Claude model gets budget thinking: every server that
/// speaks the Messages API (and every Claude model before 4.6) knows it.
pub fn claude_model(model: &str) -> ClaudeModel {
    match claude_version(base_name(model)) {
        Some(version) if version >= (4, 6) => ClaudeModel { adaptive: true, xhigh: version >= (4, 7) },
        _ => ClaudeModel { adaptive: false, xhigh: false },
    }
}

/// (major, minor) of `claude-<family>-<major>[-<minor>]…` or `claude-<major>[-<minor>]-<family>…` (a dated
/// suffix such as `-20250514` is not a minor version).
fn claude_version(name: &str) -> Option<(u32, u32)> {
    let start = name.to_ascii_lowercase().find("claude-")?;
    let mut numbers = Vec::with_capacity(2);
    for part in name[start + "claude-".len()..].split(['-', '.', '@', ':']) {
        let is_number = !part.is_empty() && part.len() <= 2 && part.bytes().all(|b| b.is_ascii_digit());
        if is_number {
            numbers.push(part.parse().ok()?);
            if numbers.len() == 2 {
                break;
            }
        } else if !numbers.is_empty() {
            break;
        }
    }
    let major = *numbers.first()?;
    Some((major, numbers.get(1).copied().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_reasoning_models_by_name() {
        for name in ["o3", "o3-mini", "o4-mini-2025-04-16", "o1", "O3-PRO", "openai/o4-mini"] {
            let m = openai_model(name);
            assert!(m.max_completion_tokens && m.is_reasoning(), "{name}");
            assert_eq!(m.efforts.values(), ["low", "medium", "high"], "{name}");
            assert_eq!(m.disabled, Some("low"));
        }
        let gpt5 = openai_model("gpt-5-mini");
        assert_eq!(gpt5.efforts.values(), ["minimal", "low", "medium", "high"]);
        assert_eq!(gpt5.disabled, Some("minimal"));
        assert_eq!(openai_model("gpt-5.1-codex").efforts.values(), ["none", "low", "medium", "high"]);
        assert_eq!(openai_model("gpt-5.2").efforts.values(), ["none", "low", "medium", "high", "xhigh"]);
        assert_eq!(openai_model("gpt-5.10").disabled, Some("none"));
        assert_eq!(openai_model("gpt-5-pro").efforts.values(), ["high"]);
        let chat = openai_model("gpt-5-chat-latest");
        assert!(chat.max_completion_tokens && !chat.is_reasoning());
        let mini = openai_model("o1-mini");
        assert!(mini.max_completion_tokens && !mini.is_reasoning());
        for other in ["gpt-4o", "gpt-50", "deepseek-reasoner", "llama-3.1-70b", "omni", ""] {
            let expected = if other == "gpt-50" { openai_model("gpt-5") } else { OpenAiModel::UNKNOWN };
            assert_eq!(openai_model(other), expected, "{other}");
        }
    }

    #[test]
    fn nearest_effort_prefers_the_higher_on_ties() {
        let standard = EffortSet::STANDARD;
        assert_eq!(standard.nearest("xhigh"), Some("high"));
        assert_eq!(standard.nearest("minimal"), Some("low"));
        assert_eq!(standard.nearest("medium"), Some("medium"));
        assert_eq!(EffortSet::of(&["low", "high"]).nearest("medium"), Some("high"));
        assert_eq!(EffortSet::EMPTY.nearest("low"), None);
        assert_eq!(EffortSet::parse(["low", "extreme"]), Err("extreme"));
        assert!(EffortSet::of(&["none"]).contains("none") && !standard.contains("none"));
    }

    #[test]
    fn claude_versions_and_thinking_styles() {
        assert_eq!(claude_version("claude-opus-4-6"), Some((4, 6)));
        assert_eq!(claude_version("claude-sonnet-4-20250514"), Some((4, 0)));
        assert_eq!(claude_version("claude-3-7-sonnet-latest"), Some((3, 7)));
        assert_eq!(claude_version("claude-3-5-haiku-20241022"), Some((3, 5)));
        assert_eq!(claude_version("us.anthropic.claude-opus-4-6-v1"), Some((4, 6)));
        assert_eq!(claude_version("claude-sonnet-4-5@20250929"), Some((4, 5)));
        assert_eq!(claude_version("claude-opus-5"), Some((5, 0)));
        assert_eq!(claude_version("gpt-4o"), None);
        assert!(claude_model("claude-opus-4-6").adaptive && !claude_model("claude-opus-4-6").xhigh);
        assert!(claude_model("claude-opus-4-7").xhigh);
        assert!(claude_model("anthropic/claude-sonnet-5").adaptive);
        for budget in ["claude-sonnet-4-5", "claude-opus-4-1-20250805", "claude-3-7-sonnet", "my-deployment", "kimi-k2"]
        {
            assert!(!claude_model(budget).adaptive, "{budget}");
        }
    }
}
