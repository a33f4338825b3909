//! What an admin may write about keys and teams, checked before anything is stored: the bodies of
//! `POST`/`PATCH /admin/keys` and `/admin/teams` read field by field (every unknown field named, every bad value
//! named by its field, never echoed when it could be a secret), and the rules that involve other records — names
//! are unique, a key's team exists, a team with keys cannot be deleted, declared records are read-only.

use serde_json::{Map, Value};

use super::records::Catalog;
use super::{patterns, secret, LimitsJson, Team, VirtualKey};
use crate::error::GatewayError;
use crate::limits::period::{parse_rfc3339, rfc3339};
use crate::limits::Limits;

/// The limit fields, shared by keys and teams.
const LIMIT_FIELDS: [&str; 5] = ["rpm", "tpm", "max_parallel", "budget_usd", "budget_period"];
/// Fields of a key body besides the limits.
const KEY_FIELDS: [&str; 6] = ["name", "team", "models", "expires_at", "metadata", "disabled"];
/// Largest `metadata` accepted, as JSON.
const MAX_METADATA_BYTES: usize = 8 * 1024;

fn invalid(message: impl Into<String>) -> GatewayError {
    GatewayError::InvalidRequest(message.into())
}

/// Parses a JSON object body, refusing unknown fields (all named at once).
pub fn object(body: &[u8], known: &[&str]) -> Result<Map<String, Value>, GatewayError> {
    let object: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| invalid("body: must be a JSON object"))?;
    let unknown: Vec<String> =
        object.keys().filter(|k| !known.contains(&k.as_str())).map(|k| format!("'{k}'")).collect();
    if !unknown.is_empty() {
        return Err(invalid(format!(
            "unknown field{} {}; known fields: {}",
            if unknown.len() > 1 { "s" } else { "" },
            unknown.join(", "),
            known.join(", ")
        )));
    }
    Ok(object)
}

/// Every field a key body may have.
pub fn key_fields() -> Vec<&'static str> {
    KEY_FIELDS.iter().chain(LIMIT_FIELDS.iter()).copied().collect()
}

/// Every field a team body may have.
pub fn team_fields() -> Vec<&'static str> {
    std::iter::once("name").chain(LIMIT_FIELDS.iter().copied()).collect()
}

/// Checks a key's or team's name: what metrics label it and what the admin API looks it up by.
pub fn check_name(field: &str, name: &str) -> Result<(), GatewayError> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
    if !ok {
        return Err(invalid(format!("{field}: '{name}' must be 1 to 64 letters, digits, '.', '_', '-' or '@'")));
    }
    Ok(())
}

fn string(object: &Map<String, Value>, field: &str) -> Result<Option<String>, GatewayError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(invalid(format!("{field}: must be a string"))),
    }
}

/// Limits from the body's limit fields on top of `base` (a `PATCH` changes only the fields it names; `null`
/// removes a limit).
pub fn limits(object: &Map<String, Value>, base: &Limits) -> Result<Limits, GatewayError> {
    let mut json = LimitsJson::of(base);
    for field in LIMIT_FIELDS {
        let Some(value) = object.get(field) else { continue };
        let expected = match field {
            "budget_usd" => "a number of dollars (or null for no budget)",
            "budget_period" => "one of \"day\", \"week\", \"month\", \"total\"",
            _ => "a whole number of at least 1 (or null for no limit)",
        };
        let bad = || invalid(format!("{field}: must be {expected}"));
        match field {
            "rpm" => json.rpm = serde_json::from_value(value.clone()).map_err(|_| bad())?,
            "tpm" => json.tpm = serde_json::from_value(value.clone()).map_err(|_| bad())?,
            "max_parallel" => json.max_parallel = serde_json::from_value(value.clone()).map_err(|_| bad())?,
            "budget_usd" => json.budget_usd = serde_json::from_value(value.clone()).map_err(|_| bad())?,
            _ => json.budget_period = serde_json::from_value(value.clone()).map_err(|_| bad())?,
        }
    }
    if object.get("budget_usd").is_some_and(Value::is_null) && !object.contains_key("budget_period") {
        json.budget_period = None;
    }
    json.to_limits().map_err(invalid)
}

fn models(value: &Value) -> Result<Vec<String>, GatewayError> {
    let list: Vec<String> = serde_json::from_value(value.clone())
        .map_err(|_| invalid("models: must be a list of 'provider:model' patterns, like [\"anthropic:*\"]"))?;
    for pattern in &list {
        patterns::validate(pattern).map_err(invalid)?;
    }
    Ok(list)
}

fn expires_at(value: &Value, now_ms: u64) -> Result<Option<u64>, GatewayError> {
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(text) => text,
        _ => return Err(invalid("expires_at: must be an RFC 3339 time like \"2027-01-01T00:00:00Z\", or null")),
    };
    let at = parse_rfc3339(text).map_err(|e| invalid(format!("expires_at: {e}")))?;
    if at <= now_ms {
        return Err(invalid(format!("expires_at: {text} is in the past (now is {})", rfc3339(now_ms))));
    }
    Ok(Some(at))
}

fn metadata(value: &Value) -> Result<Map<String, Value>, GatewayError> {
    let map = match value {
        Value::Null => Map::new(),
        Value::Object(map) => map.clone(),
        _ => return Err(invalid("metadata: must be a JSON object")),
    };
    if serde_json::to_vec(&map).map_or(0, |v| v.len()) > MAX_METADATA_BYTES {
        return Err(invalid(format!("metadata: larger than {MAX_METADATA_BYTES} bytes")));
    }
    Ok(map)
}

fn team_exists(team: &str, catalog: &Catalog, declared: &[Team]) -> Result<(), GatewayError> {
    if catalog.teams.contains_key(team) || declared.iter().any(|t| *t.name == *team) {
        return Ok(());
    }
    Err(invalid(format!("team: there is no team '{team}' (create it with POST /admin/teams)")))
}

/// A new key from a `POST /admin/keys` body, with its secret (shown once).
pub fn new_key(
    body: &[u8],
    catalog: &Catalog,
    declared: &super::declared::Declared,
    id: String,
    now_ms: u64,
) -> Result<(VirtualKey, String), GatewayError> {
    let object = object(body, &key_fields())?;
    let name = string(&object, "name")?.ok_or_else(|| invalid("name: required (a name for the key)"))?;
    check_name("name", &name)?;
    if catalog.keys.values().any(|k| *k.name == *name) || declared.keys.iter().any(|k| *k.name == *name) {
        return Err(GatewayError::Conflict(format!("name: a key named '{name}' already exists")));
    }
    let secret = secret::generate().map_err(GatewayError::Internal)?;
    let mut key = VirtualKey {
        id: id.into(),
        name: name.into(),
        team: None,
        models: Vec::new(),
        limits: Limits::default(),
        expires_at: None,
        disabled: false,
        metadata: Map::new(),
        created_at: now_ms,
        secret_hash: secret::hash(&secret),
        declared: false,
    };
    apply_key_fields(&mut key, &object, catalog, &declared.teams, now_ms)?;
    Ok((key, secret))
}

/// `existing` changed by a `PATCH /admin/keys/{id}` body.
pub fn patch_key(
    existing: &VirtualKey,
    body: &[u8],
    catalog: &Catalog,
    declared: &super::declared::Declared,
    now_ms: u64,
) -> Result<VirtualKey, GatewayError> {
    let object = object(body, &key_fields())?;
    let mut key = existing.clone();
    if let Some(name) = string(&object, "name")? {
        check_name("name", &name)?;
        let taken = catalog.keys.values().any(|k| *k.name == *name && k.id != key.id)
            || declared.keys.iter().any(|k| *k.name == *name);
        if taken {
            return Err(GatewayError::Conflict(format!("name: a key named '{name}' already exists")));
        }
        key.name = name.into();
    } else if object.contains_key("name") {
        return Err(invalid("name: cannot be removed"));
    }
    apply_key_fields(&mut key, &object, catalog, &declared.teams, now_ms)?;
    Ok(key)
}

fn apply_key_fields(
    key: &mut VirtualKey,
    object: &Map<String, Value>,
    catalog: &Catalog,
    declared_teams: &[Team],
    now_ms: u64,
) -> Result<(), GatewayError> {
    if object.contains_key("team") {
        key.team = string(object, "team")?;
        if let Some(team) = &key.team {
            team_exists(team, catalog, declared_teams)?;
        }
    }
    if let Some(value) = object.get("models") {
        key.models = if value.is_null() { Vec::new() } else { models(value)? };
    }
    if let Some(value) = object.get("expires_at") {
        key.expires_at = expires_at(value, now_ms)?;
    }
    if let Some(value) = object.get("metadata") {
        key.metadata = metadata(value)?;
    }
    if let Some(value) = object.get("disabled") {
        key.disabled = value.as_bool().ok_or_else(|| invalid("disabled: must be true or false"))?;
    }
    key.limits = limits(object, &key.limits)?;
    Ok(())
}

/// A new team from a `POST /admin/teams` body.
pub fn new_team(
    body: &[u8],
    catalog: &Catalog,
    declared: &super::declared::Declared,
    id: String,
    now_ms: u64,
) -> Result<Team, GatewayError> {
    let object = object(body, &team_fields())?;
    let name = string(&object, "name")?.ok_or_else(|| invalid("name: required (a name for the team)"))?;
    check_name("name", &name)?;
    if catalog.teams.contains_key(&name) || declared.teams.iter().any(|t| *t.name == *name) {
        return Err(GatewayError::Conflict(format!("name: a team named '{name}' already exists")));
    }
    let limits = limits(&object, &Limits::default())?;
    Ok(Team { id: id.into(), name: name.into(), limits, created_at: now_ms, declared: false })
}

/// `existing` changed by a `PATCH /admin/teams/{id}` body (its limits; a team keeps its name, which keys use).
pub fn patch_team(existing: &Team, body: &[u8]) -> Result<Team, GatewayError> {
    let object = object(body, &team_fields())?;
    if object.get("name").is_some_and(|n| n.as_str() != Some(&*existing.name)) {
        return Err(invalid("name: a team cannot be renamed (its keys name it); create another team"));
    }
    Ok(Team { limits: limits(&object, &existing.limits)?, ..existing.clone() })
}

#[cfg(test)]
mod tests;
