//! A keyed request's reservation, from admission until its answer ends: then the reservation is replaced by what
//! the answer really used — tokens, and money at the price of the target that answered — without waiting on the
//! limits store.

use std::sync::Arc;

use crate::convert::Usage;
use crate::gateway::admission::keys::Reserved;
use crate::limits::{Amount, Headroom, LeaseGuard, Store};
use crate::prices::PriceTable;
use crate::resilience::runtime::now_millis;

/// What settling a keyed request needs.
pub struct Charge {
    store: Store,
    /// What the key (and its team) had left after the admission.
    headroom: Headroom,
    /// The prices the reservation was made with: the answering target is priced from the same table.
    prices: Arc<PriceTable>,
    /// Renews the reservation's lease while the request runs, and holds its key, team and lease id for the
    /// settlement; dropped unsettled, the renewals stop.
    lease: LeaseGuard,
}

impl Charge {
    pub fn new(store: Store, reserved: Reserved, prices: Arc<PriceTable>) -> Self {
        let Reserved { key, team, lease_id, headroom } = reserved;
        let lease = store.keep_lease((key, team, lease_id));
        Self { store, headroom, prices, lease }
    }

    /// What the key (and its team) have left after this admission, for the rate-limit headers.
    pub fn headroom(&self) -> Headroom {
        self.headroom
    }

    /// Replaces the reservation by `usage`, priced for the target (`provider`, `model`) that answered; nothing is
    /// charged for a request no upstream answered.
    pub fn settle(self, provider: &str, model: &str, usage: &Usage) -> u64 {
        let nanos = self.prices.price(provider, model).map_or(0, |p| p.cost_nanos(usage));
        let tokens = usage.input_tokens
            + usage.output_tokens
            + usage.cache_creation_input_tokens
            + usage.cache_read_input_tokens;
        // The guard holds its renewal until released: there is always one to take back here.
        let Some((key, team, lease_id)) = self.lease.release() else { return nanos };
        let settlement = crate::limits::store::Settlement { key, team, lease_id, used: Amount { tokens, nanos } };
        self.store.settle(settlement, now_millis());
        nanos
    }
}
