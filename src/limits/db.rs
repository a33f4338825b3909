//! The embedded database under `DATA_DIR` (one redb file, `gatehouse.redb`), used when there is no Redis: the
//! ledgers of keys and teams (written by [`super::embedded`]'s flusher, at most once a second) and, in tables
//! of their own, the key and team records (`crate::keys::records`, written at every admin change). redb commits
//! are atomic and crash-safe (copy-on-write pages, checksummed roots): a process killed mid-write finds the
//! previous commit on restart. The file is locked while open, so a second gatehouse on the same `DATA_DIR`
//! fails at startup instead of corrupting it.

// redb's own error type is large; its results stay inside this module, off the request path.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition};

use super::book::Ledger;
use super::store::StoreError;

/// Ledgers by subject id, as JSON.
const LEDGERS: TableDefinition<&str, &[u8]> = TableDefinition::new("ledgers");

/// The open database.
pub struct Db {
    database: Database,
    path: PathBuf,
}

impl Db {
    /// Opens (creating it and `dir` when missing) `dir/gatehouse.redb`.
    pub fn open(dir: &Path) -> Result<Arc<Db>, StoreError> {
        let shown = dir.display();
        std::fs::create_dir_all(dir).map_err(|e| StoreError(format!("DATA_DIR {shown}: cannot create it: {e}")))?;
        let path = dir.join("gatehouse.redb");
        let database = Database::create(&path).map_err(|e| {
            StoreError(format!("DATA_DIR {shown}: cannot open gatehouse.redb (is another gatehouse using it?): {e}"))
        })?;
        let db = Db { database, path };
        db.write(|txn| {
            txn.open_table(LEDGERS)?;
            Ok(())
        })?;
        Ok(Arc::new(db))
    }

    /// The file, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database, for the tables of other modules.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Runs `f` in one write transaction and commits it durably (fsync) when `f` succeeds.
    pub fn write<T>(&self, f: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>) -> Result<T, StoreError> {
        let run = || -> Result<T, redb::Error> {
            let txn = self.database.begin_write()?;
            let value = f(&txn)?;
            txn.commit()?;
            Ok(value)
        };
        run().map_err(|e| self.error(e))
    }

    /// A store error for `error`, naming the file.
    pub fn error(&self, error: impl Into<redb::Error>) -> StoreError {
        StoreError(format!("{}: {}", self.path.display(), error.into()))
    }

    /// Every persisted ledger.
    pub fn load_ledgers(&self) -> Result<HashMap<String, Ledger>, StoreError> {
        let read = || -> Result<Vec<(String, Vec<u8>)>, redb::Error> {
            let txn = self.database.begin_read()?;
            let table = txn.open_table(LEDGERS)?;
            let mut out = Vec::new();
            for entry in table.iter()? {
                let (id, bytes) = entry?;
                out.push((id.value().to_string(), bytes.value().to_vec()));
            }
            Ok(out)
        };
        let mut ledgers = HashMap::new();
        for (id, bytes) in read().map_err(|e| self.error(e))? {
            let ledger: Ledger = serde_json::from_slice(&bytes)
                .map_err(|e| StoreError(format!("{}: ledger '{id}' is unreadable: {e}", self.path.display())))?;
            ledgers.insert(id, ledger.loaded());
        }
        Ok(ledgers)
    }

    /// Writes ledgers (`Some`) and deletes them (`None`) in one commit.
    pub fn write_ledgers(&self, batch: &[(std::sync::Arc<str>, Option<Ledger>)]) -> Result<(), StoreError> {
        let encoded: Vec<(&str, Option<Vec<u8>>)> = batch
            .iter()
            .map(|(id, ledger)| (&**id, ledger.as_ref().and_then(|l| serde_json::to_vec(l).ok())))
            .collect();
        self.write(|txn| {
            let mut table = txn.open_table(LEDGERS)?;
            for (id, bytes) in &encoded {
                match bytes {
                    Some(bytes) => table.insert(*id, bytes.as_slice())?,
                    None => table.remove(*id)?,
                };
            }
            Ok(())
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::limits::{Amount, Lease};

    /// A fresh directory under the system's temp directory, removed on drop.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new(name: &str) -> Self {
            let n = LEASES.next();
            let path = std::env::temp_dir().join(format!("gatehouse-unit-{name}-{}-{n}", std::process::id()));
            Self(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    static LEASES: std::sync::LazyLock<crate::limits::lease::LeaseIds> =
        std::sync::LazyLock::new(crate::limits::lease::LeaseIds::new);

    #[test]
    fn ledgers_are_written_read_back_and_deleted() {
        let dir = TempDir::new("db");
        let mut ledger = Ledger { spent: 42, ..Ledger::default() };
        ledger.admit(7, Lease { id: "l".into(), expires_ms: 99, reserved: Amount { tokens: 3, nanos: 4 } });
        {
            let db = Db::open(&dir.0).unwrap();
            db.write_ledgers(&[("a".into(), Some(ledger.clone())), ("b".into(), Some(Ledger::default()))]).unwrap();
            assert!(Db::open(&dir.0).is_err(), "one process at a time");
        }
        let db = Db::open(&dir.0).unwrap();
        let loaded = db.load_ledgers().unwrap();
        assert_eq!(loaded["a"], ledger);
        db.write_ledgers(&[("b".into(), None)]).unwrap();
        assert_eq!(db.load_ledgers().unwrap().len(), 1);
    }
}
