//! The alias graph: model name → ordered targets (provider, upstream model), checked when a configuration is
//! validated, resolved for every request, listed by `GET /v1/aliases`.
//!
//! - `provider:model` (prefix case-insensitive) picks the provider; the part after the first colon is the model.
//!   A name without a provider prefix goes to the default provider unchanged.
//! - Aliases: an alias matches when its normalised name (lower case, `_` ≡ `-`) is a substring of the requested
//!   model; the longest match wins, then the default provider's alias, then alphabetical order. A prefixed model
//!   only considers that provider's aliases. An alias's targets may chain to other aliases (exact names only, so
//!   `haiku = "claude-3-5-haiku-…"` does not loop), with cycle detection. A leading `!` bypasses aliases.
//! - An alias with several targets gives fallbacks: the first target is tried first.

use std::sync::Arc;

use serde::Serialize;

use super::alias::normalize;
use super::dialects::CloudDialect;
use super::{Alias, ConfigError, Provider, Snapshot};
use crate::error::GatewayError;

/// Deepest alias chain followed.
const MAX_ALIAS_DEPTH: usize = 8;

/// One place a request can be sent.
#[derive(Debug, Clone)]
pub struct Target {
    pub provider: Arc<Provider>,
    /// The model name sent upstream.
    pub model: String,
}

/// Where one request goes: targets in order of preference (never empty).
#[derive(Debug, Clone)]
pub struct Route {
    pub targets: Vec<Target>,
}

impl Route {
    /// The first-choice target.
    pub fn primary(&self) -> &Target {
        &self.targets[0]
    }
}

/// Resolves the model a client asked for against the current snapshot.
pub fn resolve(snapshot: &Snapshot, model: &str) -> Result<Route, GatewayError> {
    let (bypass, requested) = match model.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, model),
    };
    let (scope, name) = scope_of(snapshot, requested)?;
    if name.trim().is_empty() {
        return Err(GatewayError::InvalidRequest(format!("model: nothing follows the provider prefix in '{model}'")));
    }
    let mut targets = Vec::new();
    if bypass {
        targets.push(literal(snapshot, scope, name)?);
    } else {
        let mut chain = Vec::new();
        expand(snapshot, scope, name, Match::Substring, &mut chain, &mut targets)
            .map_err(|e| GatewayError::InvalidRequest(format!("model '{model}': {e}")))?;
    }
    dedupe(&mut targets);
    Ok(Route { targets })
}

/// Resolves the model id of a cloud dialect's request (Bedrock's or Vertex's, from the URL path): aliases first;
/// then `provider:model` when the part before the first colon is a configured provider; else the whole id goes to
/// the dialect's default provider ([`Snapshot::dialect_default`]). Unlike [`resolve`], an unknown prefix is not an
/// error: Bedrock ids carry colons of their own (`us.anthropic.claude-sonnet-4-5-20250929-v1:0`).
pub fn resolve_in_dialect(snapshot: &Snapshot, model: &str, dialect: CloudDialect) -> Result<Route, GatewayError> {
    let (bypass, requested) = match model.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, model),
    };
    if split_prefix(requested).is_some_and(|(prefix, _)| snapshot.provider(prefix).is_some()) {
        return resolve(snapshot, model);
    }
    if requested.trim().is_empty() {
        return Err(GatewayError::InvalidRequest("model: the model id in the path is empty".into()));
    }
    if !bypass && find_alias(snapshot, None, requested, Match::Substring).is_some() {
        let mut targets = Vec::new();
        expand(snapshot, None, requested, Match::Substring, &mut Vec::new(), &mut targets)
            .map_err(|e| GatewayError::InvalidRequest(format!("model '{model}': {e}")))?;
        dedupe(&mut targets);
        return Ok(Route { targets });
    }
    let provider = snapshot.dialect_default(dialect).ok_or_else(|| {
        GatewayError::NotFound(format!(
            "model '{requested}' names no configured provider and no alias matches it; set {} to the provider such \
             ids go to, or write the id as provider:model (configured providers: {})",
            dialect.variable(),
            snapshot.provider_names()
        ))
    })?;
    Ok(Route { targets: vec![Target { provider: provider.clone(), model: requested.to_string() }] })
}

/// Checks every alias of a snapshot: targets name existing providers and chains end.
pub fn validate_aliases(snapshot: &Snapshot) -> Result<(), ConfigError> {
    for provider in snapshot.providers.values() {
        for alias in &provider.aliases {
            let mut chain = vec![(provider.name.clone(), alias.key.clone())];
            expand_targets(snapshot, provider, alias, &mut chain, &mut Vec::new())
                .map_err(|e| ConfigError::new(format!("provider '{}': alias '{}': {e}", provider.name, alias.name)))?;
        }
    }
    Ok(())
}

/// One alias for `GET /v1/aliases`.
#[derive(Debug, Serialize)]
pub struct AliasView {
    pub alias: String,
    pub provider: String,
    /// The configured targets, as written.
    pub targets: Vec<String>,
    /// The targets fully resolved (`provider:model`), in fallback order.
    pub resolved: Vec<String>,
}

/// Every alias with its resolution, sorted by provider then name.
pub fn list_aliases(snapshot: &Snapshot) -> Vec<AliasView> {
    let mut views = Vec::new();
    for provider in snapshot.providers.values() {
        for alias in &provider.aliases {
            let mut chain = vec![(provider.name.clone(), alias.key.clone())];
            let mut out = Vec::new();
            let _ = expand_targets(snapshot, provider, alias, &mut chain, &mut out);
            dedupe(&mut out);
            views.push(AliasView {
                alias: alias.name.clone(),
                provider: provider.name.clone(),
                targets: alias.targets.clone(),
                resolved: out.iter().map(|t| format!("{}:{}", t.provider.name, t.model)).collect(),
            });
        }
    }
    views
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Match {
    /// The alias name may appear anywhere in the model (client requests).
    Substring,
    /// The alias name must equal the model (chain steps).
    Exact,
}

/// The provider a model names by prefix (or none) and the rest of the name.
fn scope_of<'a>(snapshot: &'a Snapshot, model: &'a str) -> Result<(Option<&'a Arc<Provider>>, &'a str), GatewayError> {
    let Some((prefix, rest)) = split_prefix(model) else { return Ok((None, model)) };
    match snapshot.provider(prefix) {
        Some(provider) => Ok((Some(provider), rest)),
        None => Err(GatewayError::UnknownProvider {
            name: prefix.to_string(),
            model: model.to_string(),
            configured: snapshot.provider_names(),
        }),
    }
}

fn literal(snapshot: &Snapshot, scope: Option<&Arc<Provider>>, model: &str) -> Result<Target, GatewayError> {
    let provider = match scope {
        Some(p) => p.clone(),
        None => snapshot.provider(&snapshot.default_provider).cloned().ok_or_else(|| {
            GatewayError::Internal(format!(
                "default provider '{}' is missing from the configuration",
                snapshot.default_provider
            ))
        })?,
    };
    Ok(Target { provider, model: model.to_string() })
}

fn expand(
    snapshot: &Snapshot,
    scope: Option<&Arc<Provider>>,
    model: &str,
    mode: Match,
    chain: &mut Vec<(String, String)>,
    out: &mut Vec<Target>,
) -> Result<(), String> {
    let Some((owner, alias)) = find_alias(snapshot, scope, model, mode) else {
        out.push(literal(snapshot, scope, model).map_err(|e| e.to_string())?);
        return Ok(());
    };
    let id = (owner.name.clone(), alias.key.clone());
    if chain.contains(&id) || chain.len() > MAX_ALIAS_DEPTH {
        let path: Vec<String> = chain.iter().chain([&id]).map(|(p, a)| format!("{p}:{a}")).collect();
        return Err(format!("alias chain loops or is too deep: {}", path.join(" -> ")));
    }
    chain.push(id);
    expand_targets(snapshot, owner, alias, chain, out)?;
    chain.pop();
    Ok(())
}

/// Appends the resolution of each of `alias`'s targets, in order.
fn expand_targets(
    snapshot: &Snapshot,
    owner: &Arc<Provider>,
    alias: &Alias,
    chain: &mut Vec<(String, String)>,
    out: &mut Vec<Target>,
) -> Result<(), String> {
    for target in &alias.targets {
        let (bypass, bare) = match target.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, target.as_str()),
        };
        let (provider, model) = match split_prefix(bare) {
            Some((prefix, rest)) => match snapshot.provider(prefix) {
                Some(provider) => (provider, rest),
                None => return Err(format!("target '{target}' names provider '{prefix}', which is not configured")),
            },
            None => (owner, bare),
        };
        if bypass {
            out.push(Target { provider: provider.clone(), model: model.to_string() });
        } else {
            expand(snapshot, Some(provider), model, Match::Exact, chain, out)?;
        }
    }
    Ok(())
}

fn find_alias<'a>(
    snapshot: &'a Snapshot,
    scope: Option<&'a Arc<Provider>>,
    model: &str,
    mode: Match,
) -> Option<(&'a Arc<Provider>, &'a Alias)> {
    let in_scope = |p: &&Arc<Provider>| scope.is_none_or(|s| Arc::ptr_eq(s, p));
    // The common case, no aliases at all, costs no allocation.
    if snapshot.providers.values().filter(in_scope).all(|p| p.aliases.is_empty()) {
        return None;
    }
    let wanted = normalize(model);
    snapshot
        .providers
        .values()
        .filter(in_scope)
        .flat_map(|p| p.aliases.iter().map(move |a| (p, a)))
        .filter(|(_, a)| match mode {
            Match::Substring => wanted.contains(&a.key),
            Match::Exact => wanted == a.key,
        })
        .min_by(|(pa, aa), (pb, ab)| {
            let default = |p: &Provider| p.name != snapshot.default_provider;
            (std::cmp::Reverse(aa.key.len()), default(pa), &pa.name, &aa.key).cmp(&(
                std::cmp::Reverse(ab.key.len()),
                default(pb),
                &pb.name,
                &ab.key,
            ))
        })
}

fn dedupe(targets: &mut Vec<Target>) {
    let mut i = 0;
    while i < targets.len() {
        let (earlier, rest) = targets.split_at(i);
        let t = &rest[0];
        if earlier.iter().any(|e| e.provider.name == t.provider.name && e.model == t.model) {
            targets.remove(i);
        } else {
            i += 1;
        }
    }
}

/// Splits `provider:model` when the part before the first colon could be a provider name. Model ids that merely
/// contain a colon after other punctuation (`anthropic.claude-v2:1`) are not prefixed.
fn split_prefix(model: &str) -> Option<(&str, &str)> {
    let (prefix, rest) = model.split_once(':')?;
    let is_name = !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    is_name.then_some((prefix, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_from, ConfigSource};

    fn snapshot(extra: &[(&str, &str)]) -> Snapshot {
        let mut env =
            vec![("ANTHROPIC_API_KEY", "!PASSTHRU"), ("OPENAI_API_KEY", "k"), ("DEFAULT_PROVIDER", "anthropic")];
        env.extend_from_slice(extra);
        let src = ConfigSource { path: None, env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        load_from(&src).unwrap().snapshot
    }

    fn targets(s: &Snapshot, model: &str) -> Vec<String> {
        resolve(s, model).unwrap().targets.iter().map(|t| format!("{}:{}", t.provider.name, t.model)).collect()
    }

    #[test]
    fn prefix_selects_provider_case_insensitively() {
        assert_eq!(targets(&snapshot(&[]), "OpenAI:gpt-4o"), ["openai:gpt-4o"]);
    }

    #[test]
    fn only_the_first_colon_splits() {
        assert_eq!(targets(&snapshot(&[]), "openai:llama3:8b"), ["openai:llama3:8b"]);
    }

    #[test]
    fn bedrock_ids_keep_their_own_colon() {
        let s = snapshot(&[
            ("BEDROCK_API_FORMAT", "bedrock"),
            ("BEDROCK_AWS_REGION", "us-east-1"),
            ("BEDROCK_API_KEY", "brk"),
            ("ANTHROPIC_ALIAS_SONNET", "bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
        ]);
        let id = "bedrock:us.anthropic.claude-sonnet-4-5-20250929-v1:0";
        assert_eq!(targets(&s, id), [id]);
        assert_eq!(targets(&s, "claude-sonnet-4-5"), [id], "through an alias too");
        let bare = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
        assert_eq!(targets(&s, bare), [format!("anthropic:{bare}")], "no provider named before the colon");
    }

    #[test]
    fn no_prefix_goes_to_default_unchanged() {
        let s = snapshot(&[]);
        assert_eq!(targets(&s, "claude-sonnet-4-5"), ["anthropic:claude-sonnet-4-5"]);
        assert_eq!(targets(&s, "anthropic.claude-v2:1"), ["anthropic:anthropic.claude-v2:1"]);
    }

    #[test]
    fn unknown_provider_lists_configured_ones() {
        let e = resolve(&snapshot(&[]), "groq:llama").unwrap_err().to_string();
        assert!(e.contains("'groq'") && e.contains("anthropic, openai"), "{e}");
    }

    #[test]
    fn empty_model_after_prefix_is_refused() {
        assert!(resolve(&snapshot(&[]), "openai:").is_err());
    }

    #[test]
    fn alias_matches_by_substring_case_and_separator_insensitively() {
        let s = snapshot(&[("ANTHROPIC_ALIAS_HAIKU", "claude-haiku-4-5"), ("OPENAI_ALIAS_FAST_MODEL", "gpt-4o-mini")]);
        assert_eq!(targets(&s, "claude-3-5-HAIKU-20241022"), ["anthropic:claude-haiku-4-5"]);
        assert_eq!(targets(&s, "my_FAST-model"), ["openai:gpt-4o-mini"]);
        assert_eq!(targets(&s, "!claude-3-5-haiku"), ["anthropic:claude-3-5-haiku"], "! bypasses aliases");
        assert_eq!(targets(&s, "openai:haiku"), ["openai:haiku"], "a prefix limits aliases to that provider");
    }

    #[test]
    fn longest_match_then_default_provider_then_alphabetical() {
        let s = snapshot(&[
            ("ANTHROPIC_ALIAS_SONNET", "a-sonnet"),
            ("OPENAI_ALIAS_SONNET", "o-sonnet"),
            ("OPENAI_ALIAS_SONNET_4", "o-sonnet-4"),
            ("ZED_API_KEY", "k"),
            ("ZED_BASE_URL", "http://z"),
            ("ZED_ALIAS_OPUS", "z-opus"),
            ("OPENAI_ALIAS_OPUS", "o-opus"),
        ]);
        assert_eq!(targets(&s, "claude-sonnet-4-5"), ["openai:o-sonnet-4"], "longest");
        assert_eq!(targets(&s, "claude-sonnet"), ["anthropic:a-sonnet"], "default provider on a tie");
        assert_eq!(targets(&s, "opus"), ["openai:o-opus"], "alphabetical after that");
    }

    #[test]
    fn cross_provider_targets_chains_and_fallback_lists() {
        let s = snapshot(&[
            ("ANTHROPIC_ALIAS_BEST", "smart"),
            ("ANTHROPIC_ALIAS_SMART", "openai:gpt-4o, claude-opus-4"),
            ("OPENAI_ALIAS_GPT_4O", "!gpt-4o-2024-08-06"),
        ]);
        assert_eq!(targets(&s, "best"), ["openai:gpt-4o-2024-08-06", "anthropic:claude-opus-4"]);
    }

    #[test]
    fn cycles_and_unknown_providers_are_config_errors() {
        let env = |extra: &[(&str, &str)]| {
            let mut env = vec![("ANTHROPIC_API_KEY", "k")];
            env.extend_from_slice(extra);
            ConfigSource { path: None, env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
        };
        let e = load_from(&env(&[("ANTHROPIC_ALIAS_A", "b"), ("ANTHROPIC_ALIAS_B", "a")])).unwrap_err().to_string();
        assert!(e.contains("loops"), "{e}");
        let e = load_from(&env(&[("ANTHROPIC_ALIAS_A", "nosuch:model")])).unwrap_err().to_string();
        assert!(e.contains("alias 'a'") && e.contains("'nosuch'"), "{e}");
    }

    #[test]
    fn self_named_target_is_not_a_loop() {
        let s = snapshot(&[("ANTHROPIC_ALIAS_HAIKU", "claude-3-5-haiku-20241022")]);
        assert_eq!(targets(&s, "haiku"), ["anthropic:claude-3-5-haiku-20241022"]);
    }

    #[test]
    fn listing_shows_resolution() {
        let s = snapshot(&[("ANTHROPIC_ALIAS_SMART", "openai:gpt-4o,claude-opus-4")]);
        let list = list_aliases(&s);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].resolved, ["openai:gpt-4o", "anthropic:claude-opus-4"]);
    }

    fn in_dialect(s: &Snapshot, model: &str) -> Result<Vec<String>, GatewayError> {
        let route = resolve_in_dialect(s, model, CloudDialect::Bedrock)?;
        Ok(route.targets.iter().map(|t| format!("{}:{}", t.provider.name, t.model)).collect())
    }

    #[test]
    fn dialect_ids_route_by_alias_then_prefix_then_the_dialect_default() {
        let bedrock_id = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
        // No default for the dialect: an id naming no provider is a 404 saying what to set.
        let e = in_dialect(&snapshot(&[]), bedrock_id).unwrap_err();
        assert_eq!(e.kind(), "not_found");
        assert!(e.to_string().contains("BEDROCK_DEFAULT_PROVIDER"), "{e}");
        let s = snapshot(&[("BEDROCK_DEFAULT_PROVIDER", "openai"), ("ANTHROPIC_ALIAS_HAIKU", "claude-haiku-4-5")]);
        assert_eq!(in_dialect(&s, bedrock_id).unwrap(), [format!("openai:{bedrock_id}")]);
        assert_eq!(in_dialect(&s, "anthropic:claude-x:1").unwrap(), ["anthropic:claude-x:1"]);
        assert_eq!(in_dialect(&s, "unknown:thing").unwrap(), ["openai:unknown:thing"]);
        assert_eq!(in_dialect(&s, "us.anthropic.claude-haiku-4-5-v1:0").unwrap(), ["anthropic:claude-haiku-4-5"]);
        assert_eq!(
            in_dialect(&s, "!us.anthropic.claude-haiku-4-5-v1:0").unwrap(),
            ["openai:us.anthropic.claude-haiku-4-5-v1:0"]
        );
        assert!(in_dialect(&s, "").is_err());
    }
}
