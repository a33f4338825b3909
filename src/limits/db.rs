//! The embedded database under `DATA_DIR` (one redb file, `gatehouse.redb`), used when there is no Redis: the
//! ledgers of keys and teams (written by [`super::embedded`]'s flusher, at most once a second) and, in tables
//! of their own, the key and team records (`crate::keys::records`, written at every admin change). redb commits
//! are atomic and crash-safe (copy-on-write pages, checksummed roots): a process killed mid-write finds the
//! previous commit on restart. The file is locked while open, so a second gatehouse on the same `DATA_DIR`
//! fails at startup instead of corrupting it.

// redb's own error type is large; its results stay inside this module, off the request path.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use super::book::{Lease, Ledger};
use super::store::StoreError;

/// Ledgers by subject id: [`BINARY`] then the ledger in postcard, or (written by older versions) JSON.
const LEDGERS: TableDefinition<&str, &[u8]> = TableDefinition::new("ledgers");

/// The start of a ledger stored in postcard (JSON starts with `{`). A busy key's windows hold up to a pair per
/// millisecond and are written every second: postcard's varints cost a fraction of JSON's text to write and read.
const BINARY: &[u8] = b"GHL1";

/// Windows are stored in buckets of this many milliseconds (see [`coarsened`]).
const STORED_BUCKET_MS: u64 = 1_000;

/// A ledger as stored (what [`Ledger::loaded`] does not recompute), its windows [`coarsened`].
#[derive(Serialize)]
struct StoredRef<'a> {
    requests: Vec<(u64, u64)>,
    tokens: Vec<(u64, u64)>,
    leases: &'a [Lease],
    period_start: u64,
    period_end: Option<u64>,
    spent: u64,
}

/// A ledger as stored, read back.
#[derive(Deserialize)]
struct Stored {
    requests: VecDeque<(u64, u64)>,
    tokens: VecDeque<(u64, u64)>,
    leases: Vec<Lease>,
    period_start: u64,
    period_end: Option<u64>,
    spent: u64,
}

/// A ledger's stored bytes.
fn encode(ledger: &Ledger) -> Result<Vec<u8>, postcard::Error> {
    let stored = StoredRef {
        requests: coarsened(&ledger.requests),
        tokens: coarsened(&ledger.tokens),
        leases: &ledger.leases,
        period_start: ledger.period_start,
        period_end: ledger.period_end,
        spent: ledger.spent,
    };
    postcard::to_extend(&stored, BINARY.to_vec())
}

/// A window as stored: its entries merged into whole seconds, each moved *later* to its second's end. A window in
/// memory holds up to one entry per millisecond (60,000 for a busy key), written every second; stored, it holds at
/// most 61. Read back after a restart, its entries leave the window up to a second after they would have: a limit
/// can only be stricter for that second, never looser (no interval ever holds more than the limit).
fn coarsened(window: &VecDeque<(u64, u64)>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(62);
    for &(at, n) in window {
        if let Some((last, count)) = out.last_mut() {
            // Most entries fall in the second before: no division (a busy window is tens of thousands of entries).
            if at <= *last && at.saturating_add(STORED_BUCKET_MS) > *last {
                *count += n;
                continue;
            }
        }
        let at = at.div_ceil(STORED_BUCKET_MS).saturating_mul(STORED_BUCKET_MS);
        match out.last_mut() {
            Some((last, count)) if *last == at => *count += n,
            _ => out.push((at, n)),
        }
    }
    out
}

/// A ledger from its stored bytes, postcard or JSON.
fn decode(bytes: &[u8]) -> Result<Ledger, String> {
    let Some(binary) = bytes.strip_prefix(BINARY) else {
        return serde_json::from_slice::<Ledger>(bytes).map(Ledger::loaded).map_err(|e| e.to_string());
    };
    let s: Stored = postcard::from_bytes(binary).map_err(|e| e.to_string())?;
    let ledger = Ledger {
        requests: s.requests,
        tokens: s.tokens,
        leases: s.leases,
        period_start: s.period_start,
        period_end: s.period_end,
        spent: s.spent,
        ..Ledger::default()
    };
    Ok(ledger.loaded())
}

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
            let ledger = decode(&bytes)
                .map_err(|e| StoreError(format!("{}: ledger '{id}' is unreadable: {e}", self.path.display())))?;
            ledgers.insert(id, ledger);
        }
        Ok(ledgers)
    }

    /// Writes ledgers (`Some`, as [`encode_ledger`] made them) and deletes them (`None`) in one commit.
    pub fn write_ledgers(&self, batch: &[(Arc<str>, Option<Vec<u8>>)]) -> Result<(), StoreError> {
        self.write(|txn| {
            let mut table = txn.open_table(LEDGERS)?;
            for (id, bytes) in batch {
                match bytes {
                    Some(bytes) => table.insert(&**id, bytes.as_slice())?,
                    None => table.remove(&**id)?,
                };
            }
            Ok(())
        })
    }
}

/// A ledger as [`Db::write_ledgers`] stores it: small (its windows [`coarsened`]) and quick to make, so the flusher
/// makes it while it holds the ledgers' lock instead of copying whole windows out.
pub fn encode_ledger(id: &str, ledger: &Ledger) -> Result<Vec<u8>, StoreError> {
    encode(ledger).map_err(|e| StoreError(format!("ledger '{id}': {e}")))
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
        ledger.admit(7_000, Lease { id: "l".into(), expires_ms: 99, reserved: Amount { tokens: 3, nanos: 4 } });
        {
            let db = Db::open(&dir.0).unwrap();
            let stored = |l: &Ledger| Some(encode_ledger("x", l).unwrap());
            db.write_ledgers(&[("a".into(), stored(&ledger)), ("b".into(), stored(&Ledger::default()))]).unwrap();
            assert!(Db::open(&dir.0).is_err(), "one process at a time");
        }
        let db = Db::open(&dir.0).unwrap();
        let loaded = db.load_ledgers().unwrap();
        assert_eq!(loaded["a"], ledger);
        db.write_ledgers(&[("b".into(), None)]).unwrap();
        assert_eq!(db.load_ledgers().unwrap().len(), 1);
    }

    proptest::proptest! {
        /// Each entry lands in its second's end, counts kept, whatever the order of the entries.
        #[test]
        fn a_coarsened_window_moves_each_entry_to_its_seconds_end(
            entries in proptest::collection::vec((0u64..10_000, 1u64..5), 0..40),
        ) {
            let window: VecDeque<(u64, u64)> = entries.iter().copied().collect();
            let mut plain: Vec<(u64, u64)> = Vec::new();
            for &(at, n) in &entries {
                let end = at.div_ceil(STORED_BUCKET_MS) * STORED_BUCKET_MS;
                match plain.last_mut() {
                    Some((last, count)) if *last == end => *count += n,
                    _ => plain.push((end, n)),
                }
            }
            proptest::prop_assert_eq!(coarsened(&window), plain);
        }
    }

    #[test]
    fn ledgers_round_trip_and_older_json_still_reads() {
        let mut ledger = Ledger { spent: 9, period_start: 5, period_end: Some(50), ..Ledger::default() };
        for (at, tokens) in [(10, 3), (10, 4), (1_500, 1 << 40)] {
            ledger.admit(
                at,
                Lease { id: format!("l{at}").into(), expires_ms: at + 1, reserved: Amount { tokens, nanos: 7 } },
            );
            ledger.settle(&format!("l{at}"), at, Amount { tokens, nanos: 1 }, crate::limits::BudgetPeriod::Total);
        }
        ledger
            .admit(1_501, Lease { id: "open".into(), expires_ms: u64::MAX, reserved: Amount { tokens: 1, nanos: 2 } });
        let bytes = encode(&ledger).unwrap();
        assert!(bytes.starts_with(BINARY));
        let read = decode(&bytes).unwrap();
        assert_eq!(read.requests, [(1_000, 2), (2_000, 2)], "seconds, each at its end");
        assert_eq!(read.tokens, [(1_000, 7), (2_000, 1 << 40)]);
        let exact = |l: &Ledger| (l.leases.clone(), l.period_start, l.period_end, l.spent);
        assert_eq!(exact(&read), exact(&ledger), "leases, period and spend exactly");
        assert_eq!(read.usage().requests_in_window, 4, "the kept counts are recomputed");
        let json = serde_json::to_vec(&ledger).unwrap();
        assert!(bytes.len() < json.len() / 2, "{} bytes against JSON's {}", bytes.len(), json.len());
        assert_eq!(decode(&json).unwrap(), ledger, "a data directory of an older version");
        let json = serde_json::to_vec(&read).unwrap();
        assert_eq!(decode(&encode(&decode(&json).unwrap()).unwrap()).unwrap(), read, "stored twice, unchanged");
        assert!(decode(b"GHL1\xff").is_err() && decode(b"{").is_err());
    }
}
