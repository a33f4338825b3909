//! Which models a key may use: `provider:model` patterns where `*` stands for any run of characters
//! (`anthropic:*`, `openai:gpt-4o*`, `*:claude-haiku-*`), matched case-insensitively against the target a request
//! resolves to — after aliases and fallbacks, so an alias cannot be used to reach a model outside the list.

/// Whether `target` (`provider:model`) matches any of `patterns`; an empty list allows every model.
pub fn allows(patterns: &[String], target: &str) -> bool {
    patterns.is_empty() || patterns.iter().any(|p| glob(p.as_bytes(), target.as_bytes(), None))
}

/// [`allows`] for the target `provider:model` given as its two names (a request's targets are matched without
/// writing each one out).
pub fn allows_target(patterns: &[String], provider: &str, model: &str) -> bool {
    let (provider, model) = (provider.as_bytes(), model.as_bytes());
    patterns.is_empty() || patterns.iter().any(|p| glob(p.as_bytes(), provider, Some(model)))
}

/// Checks a pattern as written by an admin: `provider:model`, with `*` wildcards.
pub fn validate(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty() || pattern != pattern.trim() {
        return Err(format!("models: '{pattern}' is empty or has surrounding spaces"));
    }
    if !pattern.contains(':') && pattern != "*" {
        return Err(format!(
            "models: '{pattern}' must name a provider and a model, like 'anthropic:*' or 'openai:gpt-4o*'"
        ));
    }
    Ok(())
}

/// `*`-only glob matching, ASCII case-insensitive, linear in the common cases (greedy with one backtrack point).
/// The text is `head`, then — when there is a `tail` — `:` and `tail`.
fn glob(pattern: &[u8], head: &[u8], tail: Option<&[u8]>) -> bool {
    let len = head.len() + tail.map_or(0, |tail| 1 + tail.len());
    let rest = tail.unwrap_or_default();
    let at = |t: usize| match t.checked_sub(head.len()) {
        None => head[t],
        Some(0) => b':',
        Some(after) => rest[after - 1],
    };
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < len {
        if p < pattern.len() && pattern[p] == b'*' {
            if p + 1 == pattern.len() {
                // A last `*` takes whatever is left (`anthropic:*`): no need to walk it.
                return true;
            }
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p].eq_ignore_ascii_case(&at(t)) {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A target given as its two names matches exactly as its `provider:model` text does.
        #[test]
        fn a_target_in_two_names_matches_as_its_text(
            patterns in proptest::collection::vec("[a-c:*]{0,6}", 0..3),
            provider in "[a-cA-C:*]{0,4}",
            model in "[a-c:*]{0,4}",
        ) {
            let text = format!("{provider}:{model}");
            proptest::prop_assert_eq!(allows_target(&patterns, &provider, &model), allows(&patterns, &text));
        }
    }

    fn list(patterns: &[&str]) -> Vec<String> {
        patterns.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn patterns_match_whole_targets() {
        let p = list(&["anthropic:*", "openai:gpt-4o*"]);
        assert!(allows(&p, "anthropic:claude-sonnet-4-5"));
        assert!(allows(&p, "OpenAI:gpt-4o-mini"));
        assert!(!allows(&p, "openai:gpt-4"), "a prefix pattern is not a substring match");
        assert!(!allows(&p, "openai:o3"));
        assert!(!allows(&p, "anthropic-evil:x"));
        assert!(allows(&list(&["*:claude-*-4-5"]), "bedrock:claude-sonnet-4-5"));
        assert!(allows(&[], "anything:at-all"));
        assert!(allows(&list(&["mock:exact"]), "mock:exact") && !allows(&list(&["mock:exact"]), "mock:exact2"));
    }

    #[test]
    fn malformed_patterns_are_named() {
        assert!(validate("gpt-4o").unwrap_err().contains("'gpt-4o'"));
        assert!(validate(" anthropic:*").is_err());
        assert!(validate("*").is_ok() && validate("openai:*").is_ok());
    }
}
