//! Leases of requests in flight: unique lease ids, and the [`LeaseKeeper`] that remembers which leases this
//! process holds so a background task can renew them while their requests run (long streams included). A
//! request registers its lease after admission and holds the returned [`LeaseGuard`]; dropping the guard (the
//! request ended, or was dropped on a client hang-up) stops the renewals. If this process dies, nobody renews
//! its leases: they lapse and the store charges them in full.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use slab::Slab;

use super::book::LeaseId;
use super::store::{Admission, SubjectRef};

/// A lease to renew: its key, its team, and its id.
pub type Renewal = (SubjectRef, Option<SubjectRef>, LeaseId);

/// Makes lease ids unique across processes and restarts without a syscall per request: a random prefix drawn
/// once per process, then a counter.
pub struct LeaseIds {
    prefix: String,
    next: AtomicU64,
}

impl LeaseIds {
    pub fn new() -> Self {
        let mut bytes = [0u8; 8];
        // Without randomness, the time still makes a collision with a dead process's leases unlikely.
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            bytes = (nanos.as_nanos() as u64).to_le_bytes();
        }
        let prefix = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self { prefix, next: AtomicU64::new(1) }
    }

    /// A new lease id: `<16 hex digits>.<n>`.
    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut id = String::with_capacity(self.prefix.len() + 12);
        id.push_str(&self.prefix);
        id.push('.');
        id.push_str(itoa::Buffer::new().format(n));
        id
    }
}

impl Default for LeaseIds {
    fn default() -> Self {
        Self::new()
    }
}

/// The leases this process holds for requests still running.
#[derive(Default)]
pub struct LeaseKeeper {
    kept: Mutex<Slab<Renewal>>,
}

impl LeaseKeeper {
    fn lock(&self) -> MutexGuard<'_, Slab<Renewal>> {
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Renews `admission`'s lease until the guard is dropped.
    pub fn keep(self: &Arc<Self>, admission: &Admission) -> LeaseGuard {
        self.keep_renewal((admission.key.clone(), admission.team.clone(), admission.lease.id.clone()))
    }

    /// Renews one lease until the guard is dropped.
    pub fn keep_renewal(self: &Arc<Self>, renewal: Renewal) -> LeaseGuard {
        let slot = self.lock().insert(renewal);
        LeaseGuard { keeper: self.clone(), slot: Some(slot) }
    }

    /// The leases to renew now.
    pub fn held(&self) -> Vec<Renewal> {
        self.lock().iter().map(|(_, renewal)| renewal.clone()).collect()
    }

    /// How many leases are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Keeps one lease renewed while it lives.
pub struct LeaseGuard {
    keeper: Arc<LeaseKeeper>,
    /// Its place among the kept leases; `None` once released.
    slot: Option<usize>,
}

impl LeaseGuard {
    /// Stops the renewals and hands back what they renewed (key, team, lease id): what settling the lease needs,
    /// without a copy of it. `None` only if it was released already.
    pub fn release(mut self) -> Option<Renewal> {
        let slot = self.slot.take()?;
        self.keeper.lock().try_remove(slot)
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.keeper.lock().try_remove(slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::{Amount, Lease, Limits};

    fn admission(id: &str) -> Admission {
        let subject = SubjectRef { id: "k".into(), limits: Limits::default() };
        Admission {
            key: subject,
            team: None,
            lease: Lease { id: id.into(), expires_ms: 0, reserved: Amount::default() },
        }
    }

    #[test]
    fn guards_hold_leases_until_dropped() {
        let keeper = Arc::new(LeaseKeeper::default());
        let a = keeper.keep(&admission("a"));
        let b = keeper.keep(&admission("b"));
        let mut held: Vec<String> = keeper.held().into_iter().map(|(_, _, id)| id.to_string()).collect();
        held.sort();
        assert_eq!(held, ["a", "b"]);
        drop(a);
        assert_eq!(&*keeper.held()[0].2, "b");
        let released = b.release().unwrap();
        assert_eq!(&*released.2, "b", "a released guard hands back its renewal");
        assert!(keeper.is_empty());
    }

    #[test]
    fn lease_ids_are_unique_within_and_across_processes() {
        let (one, two) = (LeaseIds::new(), LeaseIds::new());
        let a = one.next();
        assert_ne!(a, one.next());
        assert_ne!(a, two.next(), "another process draws another prefix");
        assert_eq!(a.len(), 16 + 2);
    }
}
