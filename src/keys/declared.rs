//! Keys and teams declared in the configuration file, for GitOps: `[teams.<name>]` with the limit fields and
//! `[keys.<name>]` with the SHA-256 of the secret (never the secret itself), its team, models, limits, expiry and
//! metadata. They are read at startup, checked here (each error names the table and field), merged into the
//! directory beside the stored ones, and read-only on the admin API. docs/configuration.md shows the format.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::edit::check_name;
use super::{patterns, secret, LimitsJson, Team, VirtualKey};
use crate::limits::period::parse_rfc3339;
use crate::limits::BudgetPeriod;

/// `[keys.<name>]` as written.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    /// Hex SHA-256 of the secret (`printf %s "$KEY" | sha256sum`).
    pub secret_sha256: Option<String>,
    pub team: Option<String>,
    #[serde(default)]
    pub models: Vec<String>,
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_parallel: Option<u64>,
    pub budget_usd: Option<f64>,
    pub budget_period: Option<BudgetPeriod>,
    /// RFC 3339.
    pub expires_at: Option<String>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub metadata: Map<String, Value>,
}

/// `[teams.<name>]` as written.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTeam {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_parallel: Option<u64>,
    pub budget_usd: Option<f64>,
    pub budget_period: Option<BudgetPeriod>,
}

/// The declared keys and teams, checked.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Declared {
    pub keys: Vec<VirtualKey>,
    pub teams: Vec<Team>,
}

/// The id of a declared key: stable across restarts, so its ledger (spend, budget) carries over.
pub fn key_id(name: &str) -> String {
    format!("file-key-{name}")
}

/// The id of a declared team.
pub fn team_id(name: &str) -> String {
    format!("file-team-{name}")
}

/// Checks the file's `[keys]` and `[teams]`; `now_ms` stamps them as created at startup.
pub fn build(
    keys: &BTreeMap<String, RawKey>,
    teams: &BTreeMap<String, RawTeam>,
    now_ms: u64,
) -> Result<Declared, String> {
    let mut declared = Declared::default();
    for (name, raw) in teams {
        check_name(&format!("teams.{name}"), name).map_err(|e| e.to_string())?;
        let limits = LimitsJson {
            rpm: raw.rpm,
            tpm: raw.tpm,
            max_parallel: raw.max_parallel,
            budget_usd: raw.budget_usd,
            budget_period: raw.budget_period,
        }
        .to_limits()
        .map_err(|e| format!("teams.{name}.{e}"))?;
        declared.teams.push(Team {
            id: team_id(name).into(),
            name: name.as_str().into(),
            limits,
            created_at: now_ms,
            declared: true,
        });
    }
    let mut hashes: BTreeMap<String, &str> = BTreeMap::new();
    for (name, raw) in keys {
        let at = |field: &str| format!("keys.{name}.{field}");
        check_name(&format!("keys.{name}"), name).map_err(|e| e.to_string())?;
        let hash = raw.secret_sha256.as_deref().map(|h| h.trim().to_ascii_lowercase()).unwrap_or_default();
        if !secret::is_hash(&hash) {
            return Err(format!(
                "{}: required, the 64 hex digits of the SHA-256 of the key's secret (printf %s \"$KEY\" | sha256sum)",
                at("secret_sha256")
            ));
        }
        if let Some(other) = hashes.insert(hash.clone(), name) {
            return Err(format!("{}: the same secret as keys.{other}", at("secret_sha256")));
        }
        if let Some(team) = &raw.team {
            if !teams.contains_key(team) {
                return Err(format!(
                    "{}: no [teams.{team}] in the file (a key declared in the file names a team declared there)",
                    at("team")
                ));
            }
        }
        for pattern in &raw.models {
            patterns::validate(pattern).map_err(|e| format!("keys.{name}.{e}"))?;
        }
        let limits = LimitsJson {
            rpm: raw.rpm,
            tpm: raw.tpm,
            max_parallel: raw.max_parallel,
            budget_usd: raw.budget_usd,
            budget_period: raw.budget_period,
        }
        .to_limits()
        .map_err(|e| format!("keys.{name}.{e}"))?;
        let expires_at = raw
            .expires_at
            .as_deref()
            .map(|t| parse_rfc3339(t).map_err(|e| format!("{}: {e}", at("expires_at"))))
            .transpose()?;
        declared.keys.push(VirtualKey {
            id: key_id(name).into(),
            name: name.as_str().into(),
            team: raw.team.clone(),
            models: raw.models.clone(),
            limits,
            expires_at,
            disabled: raw.disabled,
            metadata: raw.metadata.clone(),
            created_at: now_ms,
            secret_hash: hash,
            declared: true,
        });
    }
    Ok(declared)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw_key(hash: &str) -> RawKey {
        RawKey { secret_sha256: Some(hash.into()), ..RawKey::default() }
    }

    #[test]
    fn declared_keys_and_teams_are_checked_with_the_field_named() {
        let hash = secret::hash("gh_alice");
        let teams = BTreeMap::from([(
            "ml".to_string(),
            RawTeam {
                rpm: Some(100),
                budget_usd: Some(5.0),
                budget_period: Some(BudgetPeriod::Month),
                ..RawTeam::default()
            },
        )]);
        let alice =
            RawKey { team: Some("ml".into()), models: vec!["anthropic:*".into()], ..raw_key(&hash.to_uppercase()) };
        let keys = BTreeMap::from([("alice".to_string(), alice.clone())]);
        let declared = build(&keys, &teams, 7).unwrap();
        let key = &declared.keys[0];
        assert_eq!((&*key.id, key.secret_hash.as_str(), key.declared), ("file-key-alice", hash.as_str(), true));
        assert_eq!(declared.teams[0].limits.budget_nanos, Some(5_000_000_000));

        let error = |keys: BTreeMap<String, RawKey>| build(&keys, &teams, 7).unwrap_err();
        let one = |raw: RawKey| BTreeMap::from([("bob".to_string(), raw)]);
        assert!(error(one(RawKey::default())).starts_with("keys.bob.secret_sha256: required"));
        assert!(error(one(raw_key("abc"))).starts_with("keys.bob.secret_sha256:"));
        assert!(error(one(RawKey { team: Some("ops".into()), ..raw_key(&hash) })).starts_with("keys.bob.team:"));
        assert!(error(one(RawKey { rpm: Some(0), ..raw_key(&hash) })).starts_with("keys.bob.rpm:"));
        assert!(error(one(RawKey { models: vec!["gpt".into()], ..raw_key(&hash) })).starts_with("keys.bob.models:"));
        assert!(error(one(RawKey { expires_at: Some("soon".into()), ..raw_key(&hash) }))
            .starts_with("keys.bob.expires_at:"));
        let twins = BTreeMap::from([("alice".to_string(), alice.clone()), ("bob".to_string(), alice)]);
        assert!(error(twins).contains("the same secret as keys.alice"));
        let bad_name = BTreeMap::from([("a b".to_string(), raw_key(&hash))]);
        assert!(error(bad_name).starts_with("keys.a b:"));
    }
}
