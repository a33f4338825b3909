//! Virtual keys and teams: who may use the gateway, with which models and within which limits. The records
//! ([`VirtualKey`], [`Team`]), their JSON shapes on the admin API, secrets ([`secret`]), model patterns
//! ([`patterns`]), the [`directory`] every request consults, where the records are kept ([`records`]: this
//! process's data directory, or Redis for a fleet, [`redis_records`]), admin changes ([`edit`], [`keyring`]) and
//! keys declared in the configuration file ([`declared`]).

pub mod declared;
pub mod directory;
pub mod edit;
pub mod keyring;
pub mod patterns;
pub mod records;
pub mod redis_records;
pub mod secret;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::limits::period::{parse_rfc3339, rfc3339};
use crate::limits::{BudgetPeriod, Limits};

pub use declared::Declared;
pub use directory::{Directory, DirectoryHandle, Presented};
pub use keyring::Keyring;

/// Nano-dollars in a dollar: money is counted in integer nano-dollars, so sums are exact.
pub const NANOS_PER_USD: f64 = 1e9;

/// A virtual key, as stored (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VirtualKey {
    pub id: std::sync::Arc<str>,
    /// Shared: each request's record names its key (and team) without a copy.
    pub name: std::sync::Arc<str>,
    /// The team's name, when the key belongs to one.
    pub team: Option<String>,
    /// `provider:model` patterns the key may use; empty: any.
    pub models: Vec<String>,
    pub limits: Limits,
    /// Unix milliseconds after which the key is refused.
    pub expires_at: Option<u64>,
    pub disabled: bool,
    pub metadata: Map<String, Value>,
    pub created_at: u64,
    /// Hex SHA-256 of the secret.
    pub secret_hash: String,
    /// Declared in the configuration file (read-only on the admin API) rather than created through it.
    #[serde(default)]
    pub declared: bool,
}

/// A team: limits that apply on top of each member key's own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub id: std::sync::Arc<str>,
    pub name: std::sync::Arc<str>,
    pub limits: Limits,
    pub created_at: u64,
    #[serde(default)]
    pub declared: bool,
}

/// Limits as the admin API and `/v1/me` show them: money in dollars, unset limits left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_period: Option<BudgetPeriod>,
}

impl LimitsJson {
    /// Checks and converts; the error names the field.
    pub fn to_limits(&self) -> Result<Limits, String> {
        for (name, value) in [("rpm", self.rpm), ("tpm", self.tpm), ("max_parallel", self.max_parallel)] {
            if value == Some(0) {
                return Err(format!("{name}: must be at least 1 (leave it out for no limit)"));
            }
        }
        let budget_nanos = match self.budget_usd {
            None => None,
            Some(usd) if (0.0..9e6).contains(&usd) => Some((usd * NANOS_PER_USD).round() as u64),
            Some(usd) => return Err(format!("budget_usd: {usd} is not an amount of dollars between 0 and 9,000,000")),
        };
        if self.budget_period.is_some() && budget_nanos.is_none() {
            return Err("budget_period: needs budget_usd".into());
        }
        Ok(Limits {
            rpm: self.rpm,
            tpm: self.tpm,
            max_parallel: self.max_parallel,
            budget_nanos,
            budget_period: self.budget_period.unwrap_or_default(),
        })
    }

    pub fn of(limits: &Limits) -> Self {
        LimitsJson {
            rpm: limits.rpm,
            tpm: limits.tpm,
            max_parallel: limits.max_parallel,
            budget_usd: limits.budget_nanos.map(usd),
            budget_period: limits.budget_nanos.map(|_| limits.budget_period),
        }
    }
}

/// Nano-dollars as dollars (a JSON number).
pub fn usd(nanos: u64) -> f64 {
    nanos as f64 / NANOS_PER_USD
}

/// An amount of money for a message a person reads: dollars with cents, and the sub-cent digits (to the
/// micro-dollar) only when there are any, so `$0.0015` and `$25.00` both read right.
pub fn dollars(nanos: u64) -> String {
    let micros = nanos.div_ceil(1_000);
    let (whole, fraction) = (micros / 1_000_000, micros % 1_000_000);
    let digits = format!("{fraction:06}");
    let significant = digits.trim_end_matches('0').len().max(2);
    format!("${whole}.{}", &digits[..significant])
}

/// A key as the admin API shows it (never its secret).
pub fn key_json(key: &VirtualKey) -> Value {
    serde_json::json!({
        "id": key.id,
        "name": key.name,
        "team": key.team,
        "models": key.models,
        "limits": LimitsJson::of(&key.limits),
        "expires_at": key.expires_at.map(rfc3339),
        "disabled": key.disabled,
        "metadata": key.metadata,
        "created_at": rfc3339(key.created_at),
        "declared": key.declared,
    })
}

/// A team as the admin API shows it.
pub fn team_json(team: &Team) -> Value {
    serde_json::json!({
        "id": team.id,
        "name": team.name,
        "limits": LimitsJson::of(&team.limits),
        "created_at": rfc3339(team.created_at),
        "declared": team.declared,
    })
}

/// A subject's usage now, as the admin API and `/v1/me` show it: the window's requests and tokens, and — when it
/// has a budget — spend, reservations, what remains and when the period renews.
pub fn usage_json(limits: &Limits, usage: &crate::limits::UsageNow, period_end: Option<u64>) -> Value {
    let remaining = limits.budget_nanos.map(|b| usd(b.saturating_sub(usage.spent + usage.reserved.nanos)));
    serde_json::json!({
        "requests_in_window": usage.requests_in_window,
        "tokens_in_window": usage.tokens_in_window,
        "in_flight": usage.in_flight,
        "reserved_tokens": usage.reserved.tokens,
        "spend_usd": usd(usage.spent),
        "reserved_usd": usd(usage.reserved.nanos),
        "remaining_usd": remaining,
        "period_resets_at": limits.budget_nanos.and(period_end).map(rfc3339),
    })
}

/// Reads an optional RFC 3339 time field.
pub fn parse_time_field(field: &str, value: Option<&str>) -> Result<Option<u64>, String> {
    value.map(|v| parse_rfc3339(v).map_err(|e| format!("{field}: {e}"))).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_convert_dollars_to_nanos_exactly_and_name_bad_fields() {
        let json: LimitsJson =
            serde_json::from_str(r#"{"rpm":60,"budget_usd":25.0,"budget_period":"day","tpm":200000}"#).unwrap();
        let limits = json.to_limits().unwrap();
        assert_eq!(limits.budget_nanos, Some(25_000_000_000));
        assert_eq!(limits.budget_period, BudgetPeriod::Day);
        assert_eq!(LimitsJson::of(&limits), json);
        let cents: LimitsJson = serde_json::from_str(r#"{"budget_usd":0.1}"#).unwrap();
        assert_eq!(cents.to_limits().unwrap().budget_nanos, Some(100_000_000));
        assert!(serde_json::from_str::<LimitsJson>(r#"{"rpn":1}"#).is_err(), "unknown fields are refused");
        let zero: LimitsJson = serde_json::from_str(r#"{"rpm":0}"#).unwrap();
        assert!(zero.to_limits().unwrap_err().starts_with("rpm:"));
        let negative: LimitsJson = serde_json::from_str(r#"{"budget_usd":-1}"#).unwrap();
        assert!(negative.to_limits().unwrap_err().starts_with("budget_usd:"));
        let period: LimitsJson = serde_json::from_str(r#"{"budget_period":"week"}"#).unwrap();
        assert!(period.to_limits().unwrap_err().starts_with("budget_period:"));
    }

    #[test]
    fn dollars_show_cents_and_sub_cent_digits_only_when_present() {
        assert_eq!(dollars(25_000_000_000), "$25.00");
        assert_eq!(dollars(1_500_000), "$0.0015");
        assert_eq!(dollars(210_000), "$0.00021");
        assert_eq!(dollars(210_451), "$0.000211", "rounded up to the micro-dollar, never under-stated");
        assert_eq!(dollars(0), "$0.00");
        assert_eq!(dollars(12_340_000_000), "$12.34");
    }
}
