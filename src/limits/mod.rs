//! Rate limits and budgets of virtual keys and teams, reserved at admission and settled when the answer ends,
//! exact across replicas: the rules ([`book`]), budget periods ([`period`]), and where the ledgers live
//! ([`store`]).

pub mod book;
pub mod period;
pub mod store;

pub use book::{admit, Amount, Headroom, Lease, Ledger, Limits, Party, Refusal, Subject, UsageNow, WINDOW_MS};
pub use period::BudgetPeriod;
pub use store::Store;
