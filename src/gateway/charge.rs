//! A keyed request's reservation, from admission until its answer ends: then the reservation is replaced by what
//! the answer really used — tokens, and money at the price of the target that answered — without waiting on the
//! limits store.

use crate::convert::Usage;
use crate::gateway::admission::keys::Reserved;
use crate::limits::{Amount, Headroom, LeaseGuard, LeaseStep, Settlement, Store};
use crate::prices::Price;
use crate::resilience::runtime::now_millis;

/// What settling a keyed request needs.
pub struct Charge {
    store: Store,
    /// What the key (and its team) had left after the admission.
    headroom: Headroom,
    /// The price of each of the route's targets, in order, as the reservation was made with them: the answering
    /// target is priced the same way (and not looked up again).
    prices: Vec<Option<Price>>,
    /// Renews the reservation's lease while the request runs, and holds its key, team and lease id for the
    /// settlement; dropped unsettled, the renewals stop.
    lease: LeaseGuard,
}

impl Charge {
    pub fn new(store: Store, reserved: Reserved, prices: Vec<Option<Price>>) -> Self {
        let Reserved { key, team, lease_id, headroom } = reserved;
        let lease = store.keep_lease((key, team, lease_id));
        Self { store, headroom, prices, lease }
    }

    /// What the key (and its team) have left after this admission, for the rate-limit headers.
    pub fn headroom(&self) -> Headroom {
        self.headroom
    }

    /// Replaces the reservation by `usage`, priced for the route's target number `target` (the one that
    /// answered, counted from 0); nothing is charged for a request that was never routed.
    pub fn settle(self, target: Option<usize>, usage: &Usage) -> u64 {
        let price = target.and_then(|t| self.prices.get(t).copied().flatten());
        let nanos = price.map_or(0, |p| p.cost_nanos(usage));
        let tokens = usage.input_tokens
            + usage.output_tokens
            + usage.cache_creation_input_tokens
            + usage.cache_read_input_tokens;
        // The guard holds its renewal until released: there is always one to take back here.
        let Some((key, team, lease_id)) = self.lease.release() else { return nanos };
        let used = Amount { tokens, nanos };
        let settlement = Settlement { key, team, lease_id, used, step: LeaseStep::Settle };
        self.store.settle(settlement, now_millis());
        nanos
    }
}
