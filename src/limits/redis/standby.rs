//! Standby leases: how a worker thread admits a key's next request without waiting on Redis.
//!
//! When a thread sends a lone admission of a key (nothing else of that key waits on the thread), it asks in the
//! same script run for a *standby*: a second lease reserving the same amount, granted only while the key and its
//! team use less than half of every limit (and never with `max_parallel`). Until a request takes it, the ledger
//! counts it as one request in every rpm check and holds its reservation, so anything admitted meanwhile, on any
//! replica, still fits with it. The thread's next request of the key that fits in it (same limits, reserving no
//! more) takes it at once: its answer does not wait on Redis, and a [`LeaseStep::Take`] settlement, sent with the
//! thread's next call, puts it in the rpm window at that later time and trims its reservation to the request's
//! estimate. A standby nobody takes within [`MAX_HOLD_MS`] (or a quarter of the lease time) is given back, charged
//! nothing. If the replica dies holding one, its lease lapses and it is charged in full, as a request would be.
//!
//! This module is the thread's bookkeeping, one slot per key: asked (the run is on its way), held, or declined
//! (the key uses half a limit or more: its lone requests do not ask again for a second).

use std::sync::Arc;

use crate::limits::book::{Headroom, Lease, LeaseId};
use crate::limits::store::{Admission, LeaseStep, Settlement};

/// The longest a standby is held untaken before it is given back.
pub const MAX_HOLD_MS: u64 = 1_000;

/// A standby lease this thread holds for a key.
#[derive(Debug, Clone)]
pub struct Standby {
    /// The admission it was granted as (its lease id, subjects, limits and reservation).
    granted: Admission,
    /// What the key (and its team) have left with it taken: the taking request's rate-limit headers.
    pub headroom: Headroom,
    /// When it is given back untaken (ms).
    give_back_at: u64,
}

impl Standby {
    /// A standby granted as `granted` at `now_ms`, held at most [`MAX_HOLD_MS`] and never more than a quarter of
    /// its lease time (so the request that takes it has most of the lease left until its first renewal).
    pub fn new(granted: Admission, headroom: Headroom, asked_ms: u64, now_ms: u64) -> Self {
        let ttl = granted.lease.expires_ms.saturating_sub(asked_ms);
        let give_back_at = now_ms + MAX_HOLD_MS.min(ttl / 4);
        Self { granted, headroom, give_back_at }
    }

    pub fn lease_id(&self) -> &LeaseId {
        &self.granted.lease.id
    }

    /// Whether `admission` may take it now: the same key and team with the same limits (a change of limits
    /// reaches a replica within a second; the standby was granted under the old ones), reserving no more.
    pub fn fits(&self, admission: &Admission, now_ms: u64) -> bool {
        let (mine, want) = (&self.granted, &admission.lease.reserved);
        now_ms < self.give_back_at
            && mine.key == admission.key
            && mine.team == admission.team
            && want.tokens <= mine.lease.reserved.tokens
            && want.nanos <= mine.lease.reserved.nanos
    }

    /// The settlement that hands it to `admission`: its reservation becomes the request's estimate.
    pub fn taken_by(&self, admission: &Admission) -> Settlement {
        settlement(&self.granted, LeaseStep::Take, admission.lease.reserved)
    }

    /// The settlement that gives it back untaken.
    pub fn given_back(&self) -> Settlement {
        give_back(&self.granted)
    }
}

/// The settlement that gives back the standby asked for as `ask` (whether or not it was granted: giving back
/// one that does not exist does nothing).
pub fn give_back(ask: &Admission) -> Settlement {
    settlement(ask, LeaseStep::GiveBack, Default::default())
}

fn settlement(granted: &Admission, step: LeaseStep, used: crate::limits::Amount) -> Settlement {
    Settlement { key: granted.key.clone(), team: granted.team.clone(), lease_id: granted.lease.id.clone(), used, step }
}

/// Whether requests like `admission` may be admitted on standbys: neither the key nor its team limits how many
/// run at once (a standby held untaken would hold a slot someone else could use).
pub fn suits(admission: &Admission) -> bool {
    admission.key.limits.max_parallel.is_none()
        && admission.team.as_ref().is_none_or(|team| team.limits.max_parallel.is_none())
}

/// The standby to ask for beside `admission`: its subjects, lease time and reservation, under its lease id
/// marked `s` (lease ids end in a digit, so it is unique too).
pub fn ask_beside(admission: &Admission) -> Admission {
    let lease = &admission.lease;
    let id: LeaseId = format!("{}s", lease.id).into();
    Admission { lease: Lease { id, ..lease.clone() }, ..admission.clone() }
}

// One slot per key a thread admits: the size of an empty one does not matter.
#[allow(clippy::large_enum_variant)]
enum Slot {
    Asked,
    Held(Standby),
    /// Declined: not asked again before this time (ms).
    Declined(u64),
}

/// A thread's standbys: at most one per key, asked or held.
#[derive(Default)]
pub struct Standbys {
    slots: Vec<(Arc<str>, Slot)>,
}

impl Standbys {
    fn at(&self, key: &str) -> Option<usize> {
        self.slots.iter().position(|(id, _)| &**id == key)
    }

    /// Whether a standby of `key` is asked for or held, or was declined less than a second before `now_ms`.
    pub fn has(&self, key: &str, now_ms: u64) -> bool {
        self.at(key).is_some_and(|at| !matches!(self.slots[at].1, Slot::Declined(until) if until <= now_ms))
    }

    /// Notes that a standby of `key` was asked for.
    pub fn asked(&mut self, key: Arc<str>) {
        match self.at(&key) {
            Some(at) => self.slots[at].1 = Slot::Asked,
            None => self.slots.push((key, Slot::Asked)),
        }
    }

    /// The ask for `key` was declined: no other before `until` (ms).
    pub fn declined(&mut self, key: &str, until: u64) {
        if let Some(at) = self.at(key) {
            self.slots[at].1 = Slot::Declined(until);
        }
    }

    /// The answer to the ask for `key` came (granted or not): the slot is free again.
    pub fn answered(&mut self, key: &str) {
        if let Some(at) = self.at(key) {
            if matches!(self.slots[at].1, Slot::Asked) {
                self.slots.swap_remove(at);
            }
        }
    }

    /// Forgets every ask still on its way (the call carrying them is gone).
    pub fn forget_asked(&mut self) {
        self.slots.retain(|(_, slot)| !matches!(slot, Slot::Asked));
    }

    /// Holds `standby` (in place of its key's ask).
    pub fn hold(&mut self, standby: Standby) {
        let key = standby.granted.key.id.clone();
        match self.at(&key) {
            Some(at) => self.slots[at].1 = Slot::Held(standby),
            None => self.slots.push((key, Slot::Held(standby))),
        }
    }

    /// Takes the standby held for `admission`'s key when it fits.
    pub fn take(&mut self, admission: &Admission, now_ms: u64) -> Option<Standby> {
        let at = self.at(&admission.key.id)?;
        match &self.slots[at].1 {
            Slot::Held(standby) if standby.fits(admission, now_ms) => match self.slots.swap_remove(at).1 {
                Slot::Held(standby) => Some(standby),
                _ => None,
            },
            _ => None,
        }
    }

    /// Removes the standbys due to be given back at `now_ms` (all of them with `u64::MAX`), and the declines
    /// that ended.
    pub fn due(&mut self, now_ms: u64) -> Vec<Standby> {
        let mut due = Vec::new();
        let mut i = 0;
        while i < self.slots.len() {
            match &self.slots[i].1 {
                Slot::Held(standby) if standby.give_back_at <= now_ms => {
                    if let Slot::Held(standby) = self.slots.swap_remove(i).1 {
                        due.push(standby);
                    }
                }
                Slot::Declined(until) if *until <= now_ms => {
                    self.slots.swap_remove(i);
                }
                _ => i += 1,
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::book::{Amount, Limits};
    use crate::limits::store::SubjectRef;

    fn admission(key: &str, rpm: Option<u64>, tokens: u64, id: &str) -> Admission {
        let key = SubjectRef { id: key.into(), limits: Limits { rpm, ..Limits::default() } };
        let lease = Lease { id: id.into(), expires_ms: 21_000, reserved: Amount { tokens, nanos: 10 * tokens } };
        Admission { key, team: None, lease }
    }

    #[test]
    fn a_standby_fits_the_same_key_and_limits_reserving_no_more_until_it_is_due() {
        let first = admission("k", Some(100), 50, "a.1");
        let ask = ask_beside(&first);
        assert_eq!(&*ask.lease.id, "a.1s");
        assert_eq!(ask.lease.reserved, first.lease.reserved);
        let standby = Standby::new(ask, Headroom::default(), 1_000, 1_010);
        assert!(standby.fits(&admission("k", Some(100), 50, "a.2"), 1_500));
        assert!(standby.fits(&admission("k", Some(100), 49, "a.2"), 1_500), "a smaller request fits");
        assert!(!standby.fits(&admission("k", Some(100), 51, "a.2"), 1_500), "a larger one does not");
        assert!(!standby.fits(&admission("k", Some(99), 50, "a.2"), 1_500), "limits changed since");
        assert!(!standby.fits(&admission("j", Some(100), 50, "a.2"), 1_500), "another key");
        assert!(!standby.fits(&admission("k", Some(100), 50, "a.2"), 2_010), "held a second: given back");
        let taken = standby.taken_by(&admission("k", Some(100), 20, "a.2"));
        assert_eq!((&*taken.lease_id, taken.used.tokens, taken.step), ("a.1s", 20, LeaseStep::Take));
        assert_eq!(standby.given_back().step, LeaseStep::GiveBack);
    }

    #[test]
    fn a_short_lease_time_shortens_the_hold() {
        let mut ask = ask_beside(&admission("k", None, 5, "a.1"));
        ask.lease.expires_ms = 3_000;
        let standby = Standby::new(ask, Headroom::default(), 1_000, 1_000);
        assert!(standby.fits(&admission("k", None, 5, "a.2"), 1_499));
        assert!(!standby.fits(&admission("k", None, 5, "a.2"), 1_500), "a quarter of a 2 s lease");
    }

    #[test]
    fn max_parallel_on_the_key_or_its_team_rules_standbys_out() {
        let mut a = admission("k", Some(10), 5, "a.1");
        assert!(suits(&a));
        a.team = Some(SubjectRef { id: "t".into(), limits: Limits { max_parallel: Some(3), ..Limits::default() } });
        assert!(!suits(&a));
        a.team = None;
        a.key.limits.max_parallel = Some(1);
        assert!(!suits(&a));
    }

    #[test]
    fn slots_go_from_asked_to_held_to_taken_or_due() {
        let mut standbys = Standbys::default();
        let first = admission("k", None, 5, "a.1");
        standbys.asked("k".into());
        assert!(standbys.has("k", 0) && !standbys.has("j", 0));
        assert!(standbys.take(&first, 0).is_none(), "an ask cannot be taken");
        standbys.hold(Standby::new(ask_beside(&first), Headroom::default(), 0, 0));
        assert!(standbys.take(&admission("k", None, 6, "a.2"), 10).is_none(), "does not fit: stays held");
        assert_eq!(standbys.take(&first, 10).map(|s| s.lease_id().clone()).as_deref(), Some("a.1s"));
        assert!(!standbys.has("k", 10));

        standbys.asked("k".into());
        standbys.answered("k");
        assert!(!standbys.has("k", 10), "answered: free again");
        standbys.hold(Standby::new(ask_beside(&first), Headroom::default(), 0, 0));
        standbys.asked("j".into());
        standbys.forget_asked();
        assert!(standbys.has("k", 10) && !standbys.has("j", 10));
        assert!(standbys.due(999).is_empty());
        assert_eq!(standbys.due(1_000).len(), 1);
        assert!(!standbys.has("k", 1_000));
    }

    #[test]
    fn a_declined_key_is_not_asked_for_again_until_the_rest_ends() {
        let mut standbys = Standbys::default();
        standbys.asked("k".into());
        standbys.declined("k", 2_000);
        assert!(standbys.has("k", 1_999), "resting");
        assert!(standbys.take(&admission("k", None, 5, "a.1"), 1_000).is_none());
        assert!(!standbys.has("k", 2_000), "rested");
        standbys.forget_asked();
        assert!(standbys.has("k", 1_999), "a decline is not an ask on its way");
        assert!(standbys.due(1_999).is_empty() && standbys.has("k", 1_999));
        assert!(standbys.due(2_000).is_empty() && !standbys.has("k", 0), "the ended rest is removed");
        standbys.declined("k", 9_000);
        assert!(!standbys.has("k", 0), "only an ask is declined");
    }
}
