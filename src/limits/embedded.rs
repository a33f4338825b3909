//! The ledgers of one instance without Redis: in this process, under one lock (an admission or a settlement is
//! a few hundred nanoseconds of [`book`] arithmetic), and persisted to the embedded database off the request
//! path. Every change marks its ledger dirty; a background thread writes the dirty ledgers once a second, and
//! [`Embedded::flush`] writes them at a clean shutdown. So a SIGTERM loses nothing and a SIGKILL loses at most
//! the last second of admissions and settlements. Leases found on disk at startup belong to requests that died
//! with the previous process: nobody renews them, so they lapse at their (wall-clock) expiry and are charged in
//! full, as the book says.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::book::{self, Ledger, Party, UsageNow};
use super::db::{encode_ledger, Db};
use super::lease::Renewal;
use super::store::{Admission, Decision, Settlement, StoreError, SubjectRef};

/// How often dirty ledgers are written.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

struct Slot {
    ledger: Ledger,
    dirty: bool,
}

#[derive(Default)]
struct Ledgers {
    /// By key or team id (ids the gateway made: foldhash, several lookups a request).
    slots: HashMap<Arc<str>, Slot, foldhash::fast::RandomState>,
    /// Ids changed since the last flush (removed ones included), each once.
    dirty: Vec<Arc<str>>,
}

impl Slot {
    /// Marks the slot changed: listed once in `dirty` for the next flush (when the ledgers are persisted).
    fn mark(&mut self, id: &Arc<str>, dirty: &mut Vec<Arc<str>>, persisted: bool) {
        if persisted && !self.dirty {
            self.dirty = true;
            dirty.push(id.clone());
        }
    }
}

impl Ledgers {
    /// The ledger of `id` (a new one when it has none), marked dirty: the caller changes it.
    fn changing(&mut self, id: &Arc<str>, persisted: bool) -> &mut Ledger {
        let slot = self.slots.entry(id.clone()).or_insert_with(|| Slot { ledger: Ledger::default(), dirty: false });
        slot.mark(id, &mut self.dirty, persisted);
        &mut slot.ledger
    }

    fn take(&mut self, id: &str) -> Slot {
        self.slots.remove(id).unwrap_or(Slot { ledger: Ledger::default(), dirty: false })
    }

    /// Puts a slot back, marking it dirty.
    fn put(&mut self, id: &Arc<str>, mut slot: Slot, persisted: bool) {
        slot.mark(id, &mut self.dirty, persisted);
        self.slots.insert(id.clone(), slot);
    }

    fn touch(&mut self, id: &Arc<str>, persisted: bool) {
        if let Some(slot) = self.slots.get_mut(id) {
            slot.mark(id, &mut self.dirty, persisted);
        }
    }
}

/// The in-process ledgers, persisted when opened on a database.
#[derive(Default)]
pub struct Embedded {
    ledgers: Mutex<Ledgers>,
    db: Option<Arc<Db>>,
    /// Serialises flushes (the background thread and the shutdown's).
    flushing: Mutex<()>,
}

impl Embedded {
    /// Ledgers in memory only (tests, and tools that need no persistence).
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Ledgers loaded from `db`, written back by a background thread every [`FLUSH_INTERVAL`].
    pub fn persisted(db: Arc<Db>) -> Result<Arc<Self>, StoreError> {
        let slots =
            db.load_ledgers()?.into_iter().map(|(id, ledger)| (Arc::from(id), Slot { ledger, dirty: false })).collect();
        let store = Arc::new(Self {
            ledgers: Mutex::new(Ledgers { slots, dirty: Vec::new() }),
            db: Some(db),
            flushing: Mutex::new(()),
        });
        let weak = Arc::downgrade(&store);
        std::thread::Builder::new()
            .name("gatehouse-ledger-flush".into())
            .spawn(move || flush_every_second(weak))
            .map_err(|e| StoreError(format!("cannot start the ledger flusher: {e}")))?;
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, Ledgers> {
        // A panic while holding the lock cannot leave a ledger half-updated in a way later arithmetic trips on.
        self.ledgers.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn persisted_flag(&self) -> bool {
        self.db.is_some()
    }

    pub fn admit(&self, admission: Admission, now_ms: u64) -> Decision {
        let persisted = self.persisted_flag();
        let mut ledgers = self.lock();
        // The team's ledger is taken out while the key's is borrowed in place: two ledgers changed at once. Key
        // and team ids never meet (`vk_`/`file-key-` against `team_`/`file-team-`).
        let mut team = admission.team.as_ref().map(|t| (t, ledgers.take(&t.id)));
        let key = Party { ledger: ledgers.changing(&admission.key.id, persisted), limits: &admission.key.limits };
        let team_party = team.as_mut().map(|(t, slot)| Party { ledger: &mut slot.ledger, limits: &t.limits });
        let decision = book::admit(key, team_party, now_ms, admission.lease);
        if let Some((t, slot)) = team {
            ledgers.put(&t.id, slot, persisted);
        }
        decision
    }

    pub fn renew(&self, leases: &[Renewal], expires_ms: u64, now_ms: u64) {
        let persisted = self.persisted_flag();
        let mut ledgers = self.lock();
        for (key, team, lease) in leases {
            for subject in std::iter::once(key).chain(team) {
                if let Some(slot) = ledgers.slots.get_mut(&subject.id) {
                    slot.ledger.advance(now_ms, subject.limits.budget_period);
                    slot.ledger.renew(lease, expires_ms);
                    ledgers.touch(&subject.id, persisted);
                }
            }
        }
    }

    pub fn settle(&self, s: &Settlement, now_ms: u64) {
        let persisted = self.persisted_flag();
        let mut ledgers = self.lock();
        for subject in std::iter::once(&s.key).chain(&s.team) {
            if let Some(slot) = ledgers.slots.get_mut(&subject.id) {
                slot.ledger.settle(&s.lease_id, now_ms, s.used, subject.limits.budget_period);
                ledgers.touch(&subject.id, persisted);
            }
        }
    }

    pub fn usage(&self, subject: &SubjectRef, now_ms: u64) -> UsageNow {
        let mut ledgers = self.lock();
        match ledgers.slots.get_mut(&subject.id) {
            Some(slot) => {
                slot.ledger.advance(now_ms, subject.limits.budget_period);
                slot.ledger.usage()
            }
            None => UsageNow::default(),
        }
    }

    /// Drops a deleted key's or team's ledger.
    pub fn forget(&self, id: &str) {
        let mut ledgers = self.lock();
        if let Some(slot) = ledgers.slots.remove(id) {
            if self.persisted_flag() && !slot.dirty {
                ledgers.dirty.push(Arc::from(id));
            }
        }
    }

    /// Writes every dirty ledger now (the background thread's step, and the last one at shutdown). Returns how
    /// many were written. On failure they stay dirty, for the next attempt.
    pub fn flush(&self) -> Result<usize, StoreError> {
        let Some(db) = &self.db else { return Ok(0) };
        let _one_at_a_time = self.flushing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut unencoded = None;
        let batch: Vec<(Arc<str>, Option<Vec<u8>>)> = {
            let mut ledgers = self.lock();
            let Ledgers { slots, dirty } = &mut *ledgers;
            let ids = std::mem::take(dirty);
            let mut batch = Vec::with_capacity(ids.len());
            for id in ids {
                match slots.get_mut(&id).map(|slot| (encode_ledger(&id, &slot.ledger), slot)) {
                    Some((Ok(bytes), slot)) => {
                        slot.dirty = false;
                        batch.push((id, Some(bytes)));
                    }
                    // Not written, not lost: it stays dirty, for the next attempt.
                    Some((Err(error), _)) => {
                        unencoded = Some(error);
                        dirty.push(id);
                    }
                    None => batch.push((id, None)),
                }
            }
            batch
        };
        if batch.is_empty() {
            return unencoded.map_or(Ok(0), Err);
        }
        if let Err(error) = db.write_ledgers(&batch) {
            let mut ledgers = self.lock();
            let Ledgers { slots, dirty } = &mut *ledgers;
            for (id, _) in batch {
                match slots.get_mut(&id) {
                    Some(slot) if slot.dirty => {}
                    Some(slot) => {
                        slot.dirty = true;
                        dirty.push(id);
                    }
                    None if !dirty.contains(&id) => dirty.push(id),
                    None => {}
                }
            }
            return Err(error);
        }
        if let Some(error) = unencoded {
            return Err(error);
        }
        Ok(batch.len())
    }
}

fn flush_every_second(store: Weak<Embedded>) {
    let mut failing = false;
    loop {
        std::thread::sleep(FLUSH_INTERVAL);
        let Some(store) = store.upgrade() else { return };
        match store.flush() {
            Ok(_) if failing => {
                log::info!("ledgers are written to the data directory again");
                failing = false;
            }
            Ok(_) => {}
            Err(error) if !failing => {
                log::error!("cannot write ledgers to the data directory (retrying every second): {error}");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::db::tests::TempDir;
    use crate::limits::store::LeaseStep;
    use crate::limits::{Amount, Lease, Limits, Refusal, Subject};

    fn subject(id: &str, rpm: u64) -> SubjectRef {
        SubjectRef { id: id.into(), limits: Limits { rpm: Some(rpm), ..Limits::default() } }
    }

    fn admission(n: u64, team: Option<SubjectRef>) -> Admission {
        let lease =
            Lease { id: n.to_string().into(), expires_ms: 20_000 + n, reserved: Amount { tokens: 5, nanos: 7 } };
        Admission { key: subject("k", 2), team, lease }
    }

    #[test]
    fn admits_settles_and_reports() {
        let store = Embedded::in_memory();
        assert!(store.admit(admission(1, Some(subject("t", 5))), 1).is_ok());
        assert!(store.admit(admission(2, None), 2).is_ok());
        let (who, refusal) = store.admit(admission(3, None), 3).unwrap_err();
        assert_eq!((who, matches!(refusal, Refusal::Rpm { .. })), (Subject::Key, true));
        let usage = store.usage(&subject("k", 2), 4);
        assert_eq!((usage.requests_in_window, usage.in_flight, usage.reserved.tokens), (2, 2, 10));
        let used = Amount { tokens: 3, nanos: 4 };
        let settle = Settlement {
            key: subject("k", 2),
            team: Some(subject("t", 5)),
            lease_id: "1".into(),
            used,
            step: LeaseStep::Settle,
        };
        store.settle(&settle, 5);
        let usage = store.usage(&subject("k", 2), 6);
        assert_eq!((usage.in_flight, usage.tokens_in_window, usage.spent), (1, 3, 4));
        assert_eq!(store.usage(&subject("t", 5), 6).spent, 4, "the team is charged too");
        assert_eq!(store.flush().unwrap(), 0, "nothing to write without a database");
    }

    #[test]
    fn flushed_ledgers_survive_a_reopen_and_old_leases_lapse_into_charges() {
        let dir = TempDir::new("embedded");
        {
            let store = Embedded::persisted(Db::open(&dir.0).unwrap()).unwrap();
            store.admit(admission(1, Some(subject("t", 5))), 1_000).unwrap();
            store.admit(admission(2, None), 1_001).unwrap();
            let used = Amount { tokens: 3, nanos: 4 };
            store.settle(
                &Settlement { key: subject("k", 2), team: None, lease_id: "2".into(), used, step: LeaseStep::Settle },
                1_500,
            );
            store.forget("t");
            assert_eq!(store.flush().unwrap(), 2, "the key's ledger and the team's deletion");
            assert_eq!(store.flush().unwrap(), 0, "clean after a flush");
        }
        let store = Embedded::persisted(Db::open(&dir.0).unwrap()).unwrap();
        let usage = store.usage(&subject("k", 2), 2_000);
        assert_eq!((usage.requests_in_window, usage.in_flight, usage.spent), (2, 1, 4));
        let after_expiry = store.usage(&subject("k", 2), 20_001 + 1);
        assert_eq!((after_expiry.in_flight, after_expiry.spent), (0, 4 + 7), "the dead request is charged in full");
        assert_eq!(store.usage(&subject("t", 5), 2_000), UsageNow::default(), "the team's ledger was deleted");
    }
}
