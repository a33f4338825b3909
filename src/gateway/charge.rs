//! A keyed request's reservation, from admission until its answer ends: then the reservation is replaced by what
//! the answer really used — tokens, and money at the price of the target that answered — without waiting on the
//! limits store.

use crate::convert::Usage;
use crate::gateway::admission::keys::Reserved;
use crate::limits::{Amount, Headroom, LeaseGuard, Store};
use crate::prices::Price;
use crate::resilience::runtime::now_millis;

/// What settling a keyed request needs.
pub struct Charge {
    store: Store,
    reserved: Reserved,
    /// The price of each target the request may go to, by (provider, model).
    prices: Vec<((String, String), Option<Price>)>,
    /// Renews the reservation's lease while the request runs; dropped (settled or not), the renewals stop.
    _lease: LeaseGuard,
}

impl Charge {
    pub fn new(store: Store, reserved: Reserved, prices: Vec<((String, String), Option<Price>)>) -> Self {
        let _lease = store.keep_lease(&reserved.key, reserved.team.as_ref(), &reserved.lease_id);
        Self { store, reserved, prices, _lease }
    }

    /// What the key (and its team) have left after this admission, for the rate-limit headers.
    pub fn headroom(&self) -> Headroom {
        self.reserved.headroom
    }

    /// Replaces the reservation by `usage`, priced for the target (`provider`, `model`) that answered; nothing is
    /// charged for a request no upstream answered.
    pub fn settle(self, provider: &str, model: &str, usage: &Usage) -> u64 {
        let price = self.prices.iter().find(|((p, m), _)| p == provider && m == model).and_then(|(_, p)| *p);
        let nanos = price.map_or(0, |p| p.cost_nanos(usage));
        let tokens = usage.input_tokens
            + usage.output_tokens
            + usage.cache_creation_input_tokens
            + usage.cache_read_input_tokens;
        let Reserved { key, team, lease_id, .. } = self.reserved;
        let settlement = crate::limits::store::Settlement { key, team, lease_id, used: Amount { tokens, nanos } };
        self.store.settle(settlement, now_millis());
        nanos
    }
}
