//! Where the ledgers of keys and teams live, behind one interface the request path uses: admit a request
//! (check and reserve in one atomic step), renew its lease while it runs, settle it when it ends, and read usage.
//!
//! - [`Store::Embedded`]: one instance without Redis — the ledgers in this process, under one lock (an admission
//!   is a few hundred nanoseconds of arithmetic).
//! - Redis (with `REDIS_URL`, the deployed case): every admission one atomic script run, shared by every replica.
//!
//! Settlements never wait: they are handed to the store and applied off the request path.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::book::{self, Amount, Headroom, Lease, Ledger, Limits, Party, Refusal, Subject, UsageNow};

/// One subject of an admission: the ledger's id (a key's or a team's) and its limits now.
#[derive(Debug, Clone)]
pub struct SubjectRef {
    pub id: String,
    pub limits: Limits,
}

/// A request to admit: its key, its team, and the lease that will hold its reservation.
#[derive(Debug, Clone)]
pub struct Admission {
    pub key: SubjectRef,
    pub team: Option<SubjectRef>,
    pub lease: Lease,
}

/// A finished request's real usage, replacing its reservation.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub key: SubjectRef,
    pub team: Option<SubjectRef>,
    pub lease_id: String,
    pub used: Amount,
}

/// The store could not answer (unreachable, too slow): the failure policy decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

/// The decision on one admission.
pub type Decision = Result<Headroom, (Subject, Refusal)>;

/// The ledgers of every key and team.
#[derive(Clone)]
pub enum Store {
    Embedded(Arc<Embedded>),
}

impl Store {
    /// An in-process store.
    pub fn embedded() -> Self {
        Store::Embedded(Arc::new(Embedded::default()))
    }

    /// Checks every limit of the key and its team at `now_ms` and, when all have room, reserves.
    pub async fn admit(&self, admission: Admission, now_ms: u64) -> Result<Decision, StoreError> {
        match self {
            Store::Embedded(store) => Ok(store.admit(admission, now_ms)),
        }
    }

    /// Extends the leases of requests still running.
    pub async fn renew(&self, leases: &[(SubjectRef, Option<SubjectRef>, String)], expires_ms: u64, now_ms: u64) {
        match self {
            Store::Embedded(store) => store.renew(leases, expires_ms, now_ms),
        }
    }

    /// Replaces a reservation by the real usage. Never waits on the store.
    pub fn settle(&self, settlement: Settlement, now_ms: u64) {
        match self {
            Store::Embedded(store) => store.settle(&settlement, now_ms),
        }
    }

    /// A subject's usage now.
    pub async fn usage(&self, subject: &SubjectRef, now_ms: u64) -> Result<UsageNow, StoreError> {
        match self {
            Store::Embedded(store) => Ok(store.usage(subject, now_ms)),
        }
    }
}

/// The in-process ledgers.
#[derive(Default)]
pub struct Embedded {
    ledgers: Mutex<HashMap<String, Ledger>>,
}

impl Embedded {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Ledger>> {
        // A panic while holding the lock cannot leave a ledger half-updated in a way later arithmetic trips on.
        self.ledgers.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn admit(&self, admission: Admission, now_ms: u64) -> Decision {
        let mut ledgers = self.lock();
        let mut key = ledgers.remove(&admission.key.id).unwrap_or_default();
        let mut team = admission.team.as_ref().map(|t| ledgers.remove(&t.id).unwrap_or_default());
        let team_party = match (&admission.team, team.as_mut()) {
            (Some(t), Some(ledger)) => Some(Party { ledger, limits: &t.limits }),
            _ => None,
        };
        let decision =
            book::admit(Party { ledger: &mut key, limits: &admission.key.limits }, team_party, now_ms, admission.lease);
        ledgers.insert(admission.key.id, key);
        if let (Some(t), Some(ledger)) = (admission.team, team) {
            ledgers.insert(t.id, ledger);
        }
        decision
    }

    fn renew(&self, leases: &[(SubjectRef, Option<SubjectRef>, String)], expires_ms: u64, now_ms: u64) {
        let mut ledgers = self.lock();
        for (key, team, lease) in leases {
            for subject in std::iter::once(key).chain(team) {
                if let Some(ledger) = ledgers.get_mut(&subject.id) {
                    ledger.advance(now_ms, subject.limits.budget_period);
                    ledger.renew(lease, expires_ms);
                }
            }
        }
    }

    fn settle(&self, s: &Settlement, now_ms: u64) {
        let mut ledgers = self.lock();
        for subject in std::iter::once(&s.key).chain(&s.team) {
            if let Some(ledger) = ledgers.get_mut(&subject.id) {
                ledger.settle(&s.lease_id, now_ms, s.used, subject.limits.budget_period);
            }
        }
    }

    fn usage(&self, subject: &SubjectRef, now_ms: u64) -> UsageNow {
        let mut ledgers = self.lock();
        let ledger = ledgers.entry(subject.id.clone()).or_default();
        ledger.advance(now_ms, subject.limits.budget_period);
        ledger.usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(id: &str, rpm: u64) -> SubjectRef {
        SubjectRef { id: id.into(), limits: Limits { rpm: Some(rpm), ..Limits::default() } }
    }

    fn admission(n: u64, team: Option<SubjectRef>) -> Admission {
        let lease = Lease { id: n.to_string(), expires_ms: 20_000 + n, reserved: Amount { tokens: 5, nanos: 7 } };
        Admission { key: subject("k", 2), team, lease }
    }

    #[actix_rt::test]
    async fn the_embedded_store_admits_settles_and_reports() {
        let store = Store::embedded();
        assert!(store.admit(admission(1, Some(subject("t", 5))), 1).await.unwrap().is_ok());
        assert!(store.admit(admission(2, None), 2).await.unwrap().is_ok());
        let (who, refusal) = store.admit(admission(3, None), 3).await.unwrap().unwrap_err();
        assert_eq!((who, matches!(refusal, Refusal::Rpm { .. })), (Subject::Key, true));
        let usage = store.usage(&subject("k", 2), 4).await.unwrap();
        assert_eq!((usage.requests_in_window, usage.in_flight, usage.reserved.tokens), (2, 2, 10));
        let settle = Settlement {
            key: subject("k", 2),
            team: Some(subject("t", 5)),
            lease_id: "1".into(),
            used: Amount { tokens: 3, nanos: 4 },
        };
        store.settle(settle, 5);
        let usage = store.usage(&subject("k", 2), 6).await.unwrap();
        assert_eq!((usage.in_flight, usage.tokens_in_window, usage.spent), (1, 3, 4));
        assert_eq!(store.usage(&subject("t", 5), 6).await.unwrap().spent, 4, "the team is charged too");
    }
}
