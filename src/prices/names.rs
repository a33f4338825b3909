//! Model names as the price table knows them. Upstreams name one model many ways — dated snapshots
//! (`claude-sonnet-4-5-20250929`, `gpt-4o-2024-08-06`), Bedrock ids (`us.anthropic.claude-…-v1:0`), Vertex ids
//! (`claude-opus-4-1@20250805`), routers' vendor prefixes (`anthropic/claude-sonnet-4.5`) — and a price applies to
//! all of them. [`family`] reduces a name to the one the table is keyed by. It only strips decorations that never
//! change the price (a date, a platform version, a vendor prefix); a suffix that names another model (`-mini`,
//! `-pro`) stays, so `o3-pro` never finds `o3`'s price.

/// `model` without the parts that do not change its price, lower case:
///
/// - everything up to the last `/` (a router's `vendor/` prefix, an ARN's path);
/// - everything up to and including `anthropic.` (Bedrock: `anthropic.…`, `us.anthropic.…`, `global.anthropic.…`);
/// - a bracketed variant (`[1m]`), a Vertex version (`@20250929`), a Bedrock version (`-v1:0`, and the `-v2` of
///   Vertex's `claude-3-5-sonnet-v2`), a date (`-20250929`, `-2024-08-06`) and `-latest`, in any order;
/// - a dot between two digits becomes a dash (`claude-sonnet-4.5` is `claude-sonnet-4-5`, `gpt-4.1` is `gpt-4-1`).
pub fn family(model: &str) -> String {
    let lower = model.trim().to_ascii_lowercase();
    let mut name = without_vendor(&lower);
    if let Some(at) = name.find('[') {
        name = &name[..at];
    }
    if let Some(at) = name.find('@') {
        name = &name[..at];
    }
    loop {
        let stripped = strip_version(name).or_else(|| strip_date(name)).or_else(|| name.strip_suffix("-latest"));
        match stripped {
            Some(shorter) if !shorter.is_empty() => name = shorter,
            _ => break,
        }
    }
    digits_dots_to_dashes(name)
}

/// Whether `model` names a family itself (no date, version or other decoration [`family`] would strip), so a
/// price configured for it also prices its dated and versioned ids.
pub fn is_family(model: &str) -> bool {
    let lower = model.trim().to_ascii_lowercase();
    family(&lower) == digits_dots_to_dashes(without_vendor(&lower))
}

/// `model` (lower case) without a router's or platform's vendor prefix.
pub fn without_vendor(model: &str) -> &str {
    let name = model.rsplit('/').next().unwrap_or(model);
    match name.find("anthropic.") {
        Some(at) => &name[at + "anthropic.".len()..],
        None => name,
    }
}

/// Strips `-v<digits>` or `-v<digits>:<digits>` at the end.
fn strip_version(name: &str) -> Option<&str> {
    let at = name.rfind("-v")?;
    let rest = &name[at + 2..];
    let (major, minor) = match rest.split_once(':') {
        Some((major, minor)) => (major, Some(minor)),
        None => (rest, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && minor.is_none_or(digits)).then_some(&name[..at])
}

/// Strips `-YYYYMMDD` or `-YYYY-MM-DD` at the end.
fn strip_date(name: &str) -> Option<&str> {
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let bytes = name.as_bytes();
    if name.len() > 9 && bytes[name.len() - 9] == b'-' && digits(&name[name.len() - 8..]) {
        return Some(&name[..name.len() - 9]);
    }
    let n = name.len();
    if n > 11
        && bytes[n - 11] == b'-'
        && bytes[n - 6] == b'-'
        && bytes[n - 3] == b'-'
        && digits(&name[n - 10..n - 6])
        && digits(&name[n - 5..n - 3])
        && digits(&name[n - 2..])
    {
        return Some(&name[..n - 11]);
    }
    None
}

fn digits_dots_to_dashes(name: &str) -> String {
    let bytes = name.as_bytes();
    name.char_indices()
        .map(|(i, c)| {
            let between_digits =
                c == '.' && i > 0 && bytes[i - 1].is_ascii_digit() && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if between_digits {
                '-'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_and_dated_ids_reduce_to_their_family() {
        for (id, want) in [
            ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
            ("Claude-Sonnet-4-5", "claude-sonnet-4-5"),
            ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
            ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
            ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
            ("anthropic.claude-opus-4-7", "claude-opus-4-7"),
            (
                "arn:aws:bedrock:us-east-1:123:inference-profile/us.anthropic.claude-opus-4-1-20250805-v1:0",
                "claude-opus-4-1",
            ),
            ("claude-opus-4-1@20250805", "claude-opus-4-1"),
            ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
            ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
            ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
            ("claude-sonnet-4-5[1m]", "claude-sonnet-4-5"),
            ("gpt-4o-2024-08-06", "gpt-4o"),
            ("openai/gpt-4.1-mini-2025-04-14", "gpt-4-1-mini"),
            ("o3-2025-04-16", "o3"),
        ] {
            assert_eq!(family(id), want, "{id}");
        }
    }

    #[test]
    fn families_are_told_from_dated_ids() {
        for name in ["gpt-4.1", "claude-sonnet-4-5", "openai/gpt-4o", "llama3:8b", "o3-pro"] {
            assert!(is_family(name), "{name}");
        }
        for name in ["gpt-4.1-2025-04-14", "claude-sonnet-4-5@20250929", "mistral-large-v2", "x-latest"] {
            assert!(!is_family(name), "{name}");
        }
    }

    #[test]
    fn names_of_other_models_are_kept() {
        for id in ["o3-pro", "gpt-4o-mini", "chatgpt-4o-latest-x", "claude-opus-4", "llama3:8b", "v2", "-v1", "gpt-5"] {
            assert_eq!(family(id), id, "{id}");
        }
        assert_eq!(family("chatgpt-4o-latest"), "chatgpt-4o", "-latest is dropped, chatgpt- is not gpt-");
        assert_eq!(family("model-2024"), "model-2024", "not a date");
        assert_eq!(family("1.5"), "1-5");
        assert_eq!(family(""), "");
    }
}
