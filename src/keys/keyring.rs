//! The writable side of the key directory: admin changes to keys and teams are validated ([`super::edit`]),
//! stored as a compare-and-set on the catalog's version ([`super::records`]), and published as a new
//! [`Directory`] (stored records plus those declared in the file). With Redis, every replica follows the
//! catalog ([`super::redis_records`]) and republishes within a second of any change; a replica that finds Redis
//! holding an older catalog than its own (Redis restarted empty) writes its own back. Every change is logged,
//! with key ids and names, never a secret.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::declared::Declared;
use super::directory::{Directory, DirectoryHandle};
use super::records::{Catalog, EmbeddedRecords, RecordChange, Records};
use super::redis_records::RedisRecords;
use super::{edit, key_json, secret, team_json, usage_json, LimitsJson, Team, VirtualKey};
use crate::error::GatewayError;
use crate::limits::db::Db;
use crate::limits::period::rfc3339;
use crate::limits::redis::RedisLink;
use crate::limits::{now_ms, Store, StoreError, SubjectRef};

/// Tries of a change that keeps losing the compare-and-set to other replicas.
const MAX_ATTEMPTS: usize = 5;

struct Inner {
    records: Records,
    directory: DirectoryHandle,
    declared: Declared,
    limits: Store,
    /// The catalog last published.
    published: Mutex<Catalog>,
    loaded: AtomicBool,
    /// One change at a time from this replica.
    writing: tokio::sync::Mutex<()>,
}

/// Keys and teams: admin changes and the published directory. Cheap to clone.
#[derive(Clone)]
pub struct Keyring(Arc<Inner>);

fn unavailable(error: StoreError) -> GatewayError {
    GatewayError::Unavailable(format!(
        "the key store is unavailable, so keys and teams cannot be read or changed until it is back ({error})"
    ))
}

fn not_found(what: &str, id: &str) -> GatewayError {
    GatewayError::NotFound(format!("no {what} '{id}'"))
}

fn read_only(what: &str, name: &str) -> GatewayError {
    GatewayError::Conflict(format!(
        "{what} '{name}' is declared in the configuration file and is read-only here; change it in the file"
    ))
}

impl Keyring {
    fn with(records: Records, declared: Declared, limits: Store, directory: DirectoryHandle) -> Self {
        Keyring(Arc::new(Inner {
            records,
            directory,
            declared,
            limits,
            published: Mutex::new(Catalog::default()),
            loaded: AtomicBool::new(false),
            writing: tokio::sync::Mutex::new(()),
        }))
    }

    /// Keys in the embedded database `db`; publishes the directory at once.
    pub fn embedded(
        db: Arc<Db>,
        declared: Declared,
        limits: Store,
        directory: DirectoryHandle,
    ) -> Result<Self, StoreError> {
        let records = EmbeddedRecords::open(db)?;
        let catalog = records.current();
        let keyring = Self::with(Records::Embedded(records), declared, limits, directory);
        keyring.publish(catalog);
        Ok(keyring)
    }

    /// Keys in Redis; the directory is [`Directory::unavailable`] (strict under the `closed` policy) until
    /// [`start`](Self::start)'s follower first reads them.
    pub fn redis(link: RedisLink, declared: Declared, limits: Store, directory: DirectoryHandle) -> Self {
        let strict = limits.policy() == crate::limits::FailurePolicy::Closed;
        directory.publish(Directory::unavailable(strict));
        Self::with(Records::Redis(RedisRecords::new(link)), declared, limits, directory)
    }

    /// With Redis, starts following the catalog. Call once, inside the actix system.
    pub fn start(&self) {
        let Records::Redis(records) = &self.0.records else { return };
        let weak = Arc::downgrade(&self.0);
        actix_rt::spawn(records.clone().follow(move |catalog| match weak.upgrade() {
            Some(inner) => {
                Keyring(inner).followed(catalog);
                true
            }
            None => false,
        }));
    }

    fn followed(&self, stored: Catalog) {
        let ours = self.0.published.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if stored.version < ours.version {
            let Records::Redis(records) = &self.0.records else { return };
            let records = records.clone();
            actix_rt::spawn(async move {
                match records.commit(stored.version, &ours.as_changes(), Some(ours.version)).await {
                    Ok(Some(_)) => log::warn!(
                        "Redis held key catalog v{}, older than this replica's v{}: wrote this replica's back",
                        stored.version,
                        ours.version
                    ),
                    Ok(None) => {}
                    Err(error) => log::warn!("could not write the key catalog back to Redis: {error}"),
                }
            });
            return;
        }
        if stored.version != ours.version || !self.0.loaded.load(Ordering::Relaxed) {
            log::info!(
                "key catalog v{} from Redis: {} keys, {} teams, {} revoked",
                stored.version,
                stored.keys.len(),
                stored.teams.len(),
                stored.revoked.len()
            );
            self.publish(stored);
        }
    }

    fn publish(&self, catalog: Catalog) {
        let declared = &self.0.declared;
        let keys = catalog.keys.values().cloned().chain(declared.keys.iter().cloned()).collect();
        let teams = catalog
            .teams
            .values()
            .filter(|t| !declared.teams.iter().any(|d| d.name == t.name))
            .cloned()
            .chain(declared.teams.iter().cloned())
            .collect();
        let revoked = catalog.revoked.keys().cloned().collect();
        self.0.directory.publish(Directory::new(keys, teams, revoked));
        *self.0.published.lock().unwrap_or_else(|p| p.into_inner()) = catalog;
        self.0.loaded.store(true, Ordering::Relaxed);
    }

    /// The directory requests consult.
    pub fn directory(&self) -> Arc<Directory> {
        self.0.directory.current()
    }

    /// Validates and stores a change built on the current catalog, retrying on top of other replicas' changes.
    async fn change<T>(
        &self,
        build: impl Fn(&Catalog) -> Result<(Vec<RecordChange>, T), GatewayError>,
    ) -> Result<T, GatewayError> {
        let _one_at_a_time = self.0.writing.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            let mut catalog = self.0.records.load().await.map_err(unavailable)?;
            let (changes, outcome) = build(&catalog)?;
            if self.0.records.commit(catalog.version, &changes).await.map_err(unavailable)?.is_some() {
                catalog.apply(&changes);
                self.publish(catalog);
                return Ok(outcome);
            }
        }
        Err(GatewayError::Unavailable("keys changed concurrently on other replicas too often; retry".into()))
    }

    /// A stored (not declared) key by id or name.
    fn stored_key<'a>(&self, catalog: &'a Catalog, id: &str) -> Result<&'a VirtualKey, GatewayError> {
        if let Some(key) = self.0.declared.keys.iter().find(|k| *k.id == *id || *k.name == *id) {
            return Err(read_only("key", &key.name));
        }
        catalog
            .keys
            .get(id)
            .or_else(|| catalog.keys.values().find(|k| *k.name == *id))
            .ok_or_else(|| not_found("key", id))
    }

    /// A stored (not declared) team by id or name.
    fn stored_team<'a>(&self, catalog: &'a Catalog, id: &str) -> Result<&'a Team, GatewayError> {
        if let Some(team) = self.0.declared.teams.iter().find(|t| *t.id == *id || *t.name == *id) {
            return Err(read_only("team", &team.name));
        }
        catalog
            .teams
            .get(id)
            .or_else(|| catalog.teams.values().find(|t| *t.id == *id))
            .ok_or_else(|| not_found("team", id))
    }

    /// `POST /admin/keys`: the new key and its secret (to show once).
    pub async fn create_key(&self, body: &[u8], by: &str) -> Result<(VirtualKey, String), GatewayError> {
        let id = secret::random_id("vk_").map_err(GatewayError::Internal)?;
        let now = now_ms();
        let result = self
            .change(|catalog| {
                let (key, secret) = edit::new_key(body, catalog, &self.0.declared, id.clone(), now)?;
                Ok((vec![RecordChange::PutKey(key.clone())], (key, secret)))
            })
            .await;
        audit(by, "create key", result.as_ref().map(|(k, _)| k));
        result
    }

    /// `PATCH /admin/keys/{id}`.
    pub async fn update_key(&self, id: &str, body: &[u8], by: &str) -> Result<VirtualKey, GatewayError> {
        let now = now_ms();
        let result = self
            .change(|catalog| {
                let existing = self.stored_key(catalog, id)?;
                let key = edit::patch_key(existing, body, catalog, &self.0.declared, now)?;
                Ok((vec![RecordChange::PutKey(key.clone())], key))
            })
            .await;
        audit(by, &format!("update key {id}"), result.as_ref());
        result
    }

    /// `DELETE /admin/keys/{id}`: the key is gone, its secret tombstoned (its holder is told "revoked").
    pub async fn delete_key(&self, id: &str, by: &str) -> Result<VirtualKey, GatewayError> {
        let now = now_ms();
        let result = self
            .change(|catalog| {
                let key = self.stored_key(catalog, id)?.clone();
                let change =
                    RecordChange::RemoveKey { id: key.id.to_string(), secret_hash: key.secret_hash.clone(), at: now };
                Ok((vec![change], key))
            })
            .await;
        audit(by, &format!("delete key {id}"), result.as_ref());
        if let Ok(key) = &result {
            self.forget(&key.id).await;
        }
        result
    }

    /// `POST /admin/teams`.
    pub async fn create_team(&self, body: &[u8], by: &str) -> Result<Team, GatewayError> {
        let id = secret::random_id("team_").map_err(GatewayError::Internal)?;
        let now = now_ms();
        let result = self
            .change(|catalog| {
                let team = edit::new_team(body, catalog, &self.0.declared, id.clone(), now)?;
                Ok((vec![RecordChange::PutTeam(team.clone())], team))
            })
            .await;
        audit_team(by, "create team", result.as_ref());
        result
    }

    /// `PATCH /admin/teams/{id}`.
    pub async fn update_team(&self, id: &str, body: &[u8], by: &str) -> Result<Team, GatewayError> {
        let result = self
            .change(|catalog| {
                let team = edit::patch_team(self.stored_team(catalog, id)?, body)?;
                Ok((vec![RecordChange::PutTeam(team.clone())], team))
            })
            .await;
        audit_team(by, &format!("update team {id}"), result.as_ref());
        result
    }

    /// `DELETE /admin/teams/{id}`: refused (409) while keys belong to it.
    pub async fn delete_team(&self, id: &str, by: &str) -> Result<Team, GatewayError> {
        let result = self
            .change(|catalog| {
                let team = self.stored_team(catalog, id)?.clone();
                let members: Vec<&str> = catalog
                    .keys
                    .values()
                    .chain(&self.0.declared.keys)
                    .filter(|k| k.team.as_deref() == Some(&*team.name))
                    .map(|k| &*k.name)
                    .collect();
                if !members.is_empty() {
                    return Err(GatewayError::Conflict(format!(
                        "team '{}' still has {} key{} ({}); move or delete them first",
                        team.name,
                        members.len(),
                        if members.len() == 1 { "" } else { "s" },
                        members.join(", ")
                    )));
                }
                Ok((vec![RecordChange::RemoveTeam { name: team.name.to_string() }], team))
            })
            .await;
        audit_team(by, &format!("delete team {id}"), result.as_ref());
        if let Ok(team) = &result {
            self.forget(&team.id).await;
        }
        result
    }

    async fn forget(&self, ledger: &str) {
        if let Err(error) = self.0.limits.forget(ledger).await {
            log::warn!("the ledger of deleted {ledger} could not be removed (it is unused): {error}");
        }
    }

    /// A team by id or name, stored or declared.
    pub fn team(&self, id: &str) -> Option<Arc<Team>> {
        let directory = self.directory();
        directory.team(id).cloned().or_else(|| directory.teams().find(|t| *t.id == *id).cloned())
    }

    /// A key as `GET /admin/keys/{id}` and `/v1/me` show it: its record, limits and usage now, and its team's.
    pub async fn key_status(&self, key: &VirtualKey) -> Result<Value, GatewayError> {
        let now = now_ms();
        let mut body = key_json(key);
        let usage = self.0.limits.usage(&key.subject(), now).await.map_err(unavailable)?;
        body["usage"] = usage_json(&key.limits, &usage, key.limits.budget_period.span(now).1);
        if let Some(team) = key.team.as_deref().and_then(|t| self.directory().team(t).cloned()) {
            let usage = self.0.limits.usage(&team.subject(), now).await.map_err(unavailable)?;
            body["team_limits"] = json!(LimitsJson::of(&team.limits));
            body["team_usage"] = usage_json(&team.limits, &usage, team.limits.budget_period.span(now).1);
        }
        Ok(body)
    }

    /// A team as `GET /admin/teams/{id}` shows it, with its usage and its keys' names.
    pub async fn team_status(&self, team: &Team) -> Result<Value, GatewayError> {
        let now = now_ms();
        let usage = self.0.limits.usage(&team.subject(), now).await.map_err(unavailable)?;
        let mut body = team_json(team);
        body["usage"] = usage_json(&team.limits, &usage, team.limits.budget_period.span(now).1);
        let mut keys: Vec<std::sync::Arc<str>> = self
            .directory()
            .keys()
            .filter(|k| k.team.as_deref() == Some(&*team.name))
            .map(|k| k.name.clone())
            .collect();
        keys.sort();
        body["keys"] = json!(keys);
        Ok(body)
    }
}

impl VirtualKey {
    /// The key as a subject of admissions.
    pub fn subject(&self) -> SubjectRef {
        SubjectRef { id: self.id.clone(), limits: self.limits.clone() }
    }
}

impl Team {
    /// The team as a subject of admissions.
    pub fn subject(&self) -> SubjectRef {
        SubjectRef { id: self.id.clone(), limits: self.limits.clone() }
    }
}

fn audit(by: &str, what: &str, result: Result<&VirtualKey, &GatewayError>) {
    match result {
        Ok(key) => log::info!(
            "admin {by}: {what}: key {} '{}' (team {}, disabled {}, expires {})",
            key.id,
            key.name,
            key.team.as_deref().unwrap_or("none"),
            key.disabled,
            key.expires_at.map_or_else(|| "never".into(), rfc3339)
        ),
        Err(error) => log::warn!("admin {by}: {what}: refused ({}): {error}", error.kind()),
    }
}

fn audit_team(by: &str, what: &str, result: Result<&Team, &GatewayError>) {
    match result {
        Ok(team) => log::info!("admin {by}: {what}: team {} '{}'", team.id, team.name),
        Err(error) => log::warn!("admin {by}: {what}: refused ({}): {error}", error.kind()),
    }
}
