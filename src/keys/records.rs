//! Where key and team records are kept: the [`Catalog`] (every key, team and tombstone, with a version that
//! every change increments) and its two homes — the embedded database under `DATA_DIR` (tables beside the
//! ledgers') or Redis ([`super::redis_records`]). A change is a compare-and-set on the version, so two admins
//! writing at once on two replicas never lose each other's changes: the loser re-reads and re-validates.

// redb's own error type is large; its results stay inside this module, off the request path.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use redb::{ReadableTable, TableDefinition};

use super::redis_records::RedisRecords;
use super::{Team, VirtualKey};
use crate::limits::db::Db;
use crate::limits::StoreError;

const KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("keys");
const TEAMS: TableDefinition<&str, &[u8]> = TableDefinition::new("teams");
/// Secret hashes of deleted keys → when they were deleted (ms).
const REVOKED: TableDefinition<&str, u64> = TableDefinition::new("revoked_keys");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Every stored key, team and tombstone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    /// Incremented by every change (0: nothing stored yet).
    pub version: u64,
    /// Keys by id.
    pub keys: BTreeMap<String, VirtualKey>,
    /// Teams by name.
    pub teams: BTreeMap<String, Team>,
    /// Secret hashes of deleted keys → deletion time (ms).
    pub revoked: BTreeMap<String, u64>,
}

/// One change to the catalog.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordChange {
    PutKey(VirtualKey),
    /// Deletes a key and leaves a tombstone for its secret.
    RemoveKey {
        id: String,
        secret_hash: String,
        at: u64,
    },
    PutTeam(Team),
    RemoveTeam {
        name: String,
    },
}

impl Catalog {
    /// Applies `changes` and moves to the next version.
    pub fn apply(&mut self, changes: &[RecordChange]) {
        for change in changes {
            match change {
                RecordChange::PutKey(key) => {
                    self.keys.insert(key.id.to_string(), key.clone());
                }
                RecordChange::RemoveKey { id, secret_hash, at } => {
                    self.keys.remove(id);
                    self.revoked.insert(secret_hash.clone(), *at);
                }
                RecordChange::PutTeam(team) => {
                    self.teams.insert(team.name.to_string(), team.clone());
                }
                RecordChange::RemoveTeam { name } => {
                    self.teams.remove(name);
                }
            }
        }
        self.version += 1;
    }

    /// Every record as changes, to write the whole catalog into an empty store.
    pub fn as_changes(&self) -> Vec<RecordChange> {
        let keys = self.keys.values().cloned().map(RecordChange::PutKey);
        let teams = self.teams.values().cloned().map(RecordChange::PutTeam);
        let revoked = self.revoked.iter().map(|(hash, at)| RecordChange::RemoveKey {
            id: String::new(),
            secret_hash: hash.clone(),
            at: *at,
        });
        teams.chain(keys).chain(revoked).collect()
    }
}

/// Where the catalog lives.
#[derive(Clone)]
pub enum Records {
    Embedded(Arc<EmbeddedRecords>),
    Redis(RedisRecords),
}

impl Records {
    /// The catalog as stored now.
    pub async fn load(&self) -> Result<Catalog, StoreError> {
        match self {
            Records::Embedded(records) => Ok(records.current()),
            Records::Redis(records) => records.load().await,
        }
    }

    /// Applies `changes` if the stored version is still `expected`; `Ok(None)` when it is not (re-read and try
    /// again), else the new catalog's version.
    pub async fn commit(&self, expected: u64, changes: &[RecordChange]) -> Result<Option<u64>, StoreError> {
        match self {
            Records::Embedded(records) => records.commit(expected, changes),
            Records::Redis(records) => records.commit(expected, changes, None).await,
        }
    }
}

/// The catalog in the embedded database, with a copy in memory.
pub struct EmbeddedRecords {
    db: Arc<Db>,
    catalog: Mutex<Catalog>,
}

impl EmbeddedRecords {
    /// Loads the catalog from `db`.
    pub fn open(db: Arc<Db>) -> Result<Arc<Self>, StoreError> {
        let read = || -> Result<Catalog, redb::Error> {
            let txn = db.database().begin_write()?;
            // Opening in a write transaction creates missing tables (a new data directory).
            let mut catalog = Catalog::default();
            {
                let keys = txn.open_table(KEYS)?;
                for entry in keys.iter()? {
                    let (id, bytes) = entry?;
                    if let Ok(key) = serde_json::from_slice::<VirtualKey>(bytes.value()) {
                        catalog.keys.insert(id.value().to_string(), key);
                    }
                }
                let teams = txn.open_table(TEAMS)?;
                for entry in teams.iter()? {
                    let (name, bytes) = entry?;
                    if let Ok(team) = serde_json::from_slice::<Team>(bytes.value()) {
                        catalog.teams.insert(name.value().to_string(), team);
                    }
                }
                let revoked = txn.open_table(REVOKED)?;
                for entry in revoked.iter()? {
                    let (hash, at) = entry?;
                    catalog.revoked.insert(hash.value().to_string(), at.value());
                }
                let meta = txn.open_table(META)?;
                catalog.version = meta.get("version")?.map_or(0, |v| v.value());
            }
            txn.commit()?;
            Ok(catalog)
        };
        let catalog = read().map_err(|e| db.error(e))?;
        Ok(Arc::new(Self { db, catalog: Mutex::new(catalog) }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Catalog> {
        self.catalog.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn current(&self) -> Catalog {
        self.lock().clone()
    }

    fn commit(&self, expected: u64, changes: &[RecordChange]) -> Result<Option<u64>, StoreError> {
        let mut catalog = self.lock();
        if catalog.version != expected {
            return Ok(None);
        }
        let mut next = catalog.clone();
        next.apply(changes);
        self.db.write(|txn| {
            let mut keys = txn.open_table(KEYS)?;
            let mut teams = txn.open_table(TEAMS)?;
            let mut revoked = txn.open_table(REVOKED)?;
            for change in changes {
                match change {
                    RecordChange::PutKey(key) => drop(keys.insert(&*key.id, json(key).as_slice())?),
                    RecordChange::RemoveKey { id, secret_hash, at } => {
                        keys.remove(id.as_str())?;
                        revoked.insert(secret_hash.as_str(), *at)?;
                    }
                    RecordChange::PutTeam(team) => drop(teams.insert(&*team.name, json(team).as_slice())?),
                    RecordChange::RemoveTeam { name } => drop(teams.remove(name.as_str())?),
                }
            }
            txn.open_table(META)?.insert("version", next.version)?;
            Ok(())
        })?;
        let version = next.version;
        *catalog = next;
        Ok(Some(version))
    }
}

/// A record as stored (JSON).
pub fn json<T: serde::Serialize>(record: &T) -> Vec<u8> {
    serde_json::to_vec(record).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::db::tests::TempDir;
    use crate::limits::Limits;

    pub fn key(id: &str, name: &str) -> VirtualKey {
        VirtualKey {
            id: id.into(),
            name: name.into(),
            team: None,
            models: vec![],
            limits: Limits::default(),
            expires_at: None,
            disabled: false,
            metadata: Default::default(),
            created_at: 1,
            secret_hash: crate::keys::secret::hash(name),
            declared: false,
        }
    }

    #[actix_rt::test]
    async fn changes_are_compared_and_set_and_survive_a_reopen() {
        let dir = TempDir::new("records");
        let team =
            Team { id: "t1".into(), name: "ml".into(), limits: Limits::default(), created_at: 1, declared: false };
        {
            let records = Records::Embedded(EmbeddedRecords::open(Db::open(&dir.0).unwrap()).unwrap());
            let put = [RecordChange::PutTeam(team.clone()), RecordChange::PutKey(key("k1", "alice"))];
            assert_eq!(records.commit(0, &put).await.unwrap(), Some(1));
            assert_eq!(records.commit(0, &put).await.unwrap(), None, "a stale version is refused");
            let remove = [RecordChange::RemoveKey { id: "k1".into(), secret_hash: "h1".into(), at: 5 }];
            assert_eq!(records.commit(1, &remove).await.unwrap(), Some(2));
        }
        let records = Records::Embedded(EmbeddedRecords::open(Db::open(&dir.0).unwrap()).unwrap());
        let catalog = records.load().await.unwrap();
        assert_eq!(catalog.version, 2);
        assert!(catalog.keys.is_empty());
        assert_eq!(catalog.teams["ml"], team);
        assert_eq!(catalog.revoked["h1"], 5);
        let mut copy = Catalog::default();
        copy.apply(&catalog.as_changes());
        assert_eq!((copy.teams, copy.revoked), (catalog.teams, catalog.revoked));
    }
}
