//! Settings of virtual keys and their limits: where the embedded store keeps its data (`DATA_DIR`), how long a
//! lease lives (`LEASE_TTL_SECS`), what keyed requests get while Redis is down (`LIMITS_ON_STORE_FAILURE`),
//! whether Redis grants standby leases (`LIMITS_STANDBY`), and the keys and teams declared in the file (`[keys.<name>]`, `[teams.<name>]`, checked by `crate::keys`).

use std::path::PathBuf;
use std::time::Duration;

use super::raw::RawConfig;
use super::ConfigError;
use crate::keys::declared::{self, Declared};
use crate::limits::store::DEFAULT_LEASE_TTL;
use crate::limits::FailurePolicy;

/// The default `DATA_DIR`, relative to the working directory.
pub const DEFAULT_DATA_DIR: &str = "./gatehouse-data";

/// Validated key settings; read at startup only.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySettings {
    /// The embedded store's directory (unused with `REDIS_URL`).
    pub data_dir: PathBuf,
    pub lease_ttl: Duration,
    pub on_store_failure: FailurePolicy,
    /// Whether Redis grants standby leases (`crate::limits::redis::standby`); on by default.
    pub standby: bool,
    pub declared: Declared,
}

/// Checks `[server]`'s key settings and the declared keys and teams.
pub fn key_settings(raw: &RawConfig) -> Result<KeySettings, ConfigError> {
    let server = &raw.server;
    let data_dir = server.data_dir.as_deref().map(str::trim).filter(|d| !d.is_empty()).unwrap_or(DEFAULT_DATA_DIR);
    let lease_ttl = match server.lease_ttl_secs {
        None => DEFAULT_LEASE_TTL,
        Some(secs) if (2..=3_600).contains(&secs) => Duration::from_secs(secs),
        Some(secs) => {
            return Err(ConfigError::new(format!(
                "server.lease_ttl_secs (LEASE_TTL_SECS): {secs} is not between 2 and 3600 seconds"
            )))
        }
    };
    let on_store_failure = match server.limits_on_store_failure.as_deref() {
        None => FailurePolicy::default(),
        Some(text) => FailurePolicy::parse(text).map_err(ConfigError::new)?,
    };
    let declared = declared::build(&raw.keys, &raw.teams, crate::limits::now_ms()).map_err(ConfigError::new)?;
    let standby = server.limits_standby.unwrap_or(true);
    Ok(KeySettings { data_dir: PathBuf::from(data_dir), lease_ttl, on_store_failure, standby, declared })
}
