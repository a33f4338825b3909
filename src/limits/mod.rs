//! Rate limits and budgets of virtual keys and teams, reserved at admission and settled when the answer ends,
//! exact across replicas: the rules ([`book`]), budget periods ([`period`]), where the ledgers live ([`store`]:
//! [`embedded`] in this process and its data directory ([`db`]), or [`redis`] for a fleet), and the leases of
//! requests in flight ([`lease`]).

pub mod book;
pub mod db;
pub mod embedded;
pub mod lease;
pub mod period;
pub mod redis;
pub mod store;

pub use book::{admit, Amount, Headroom, Lease, LeaseId, Ledger, Limits, Party, Refusal, Subject, UsageNow, WINDOW_MS};
pub use lease::{LeaseGuard, Renewal};
pub use period::BudgetPeriod;
pub use store::{
    Admission, Answer, Decision, FailurePolicy, LeaseStep, Settlement, Store, StoreError, StoreStatus, SubjectRef,
};

/// Wall-clock Unix milliseconds: the time ledgers, leases and budget periods are kept in.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}
