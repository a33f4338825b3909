//! What the gateway measures: one [`RequestRecord`] per finished request, aggregated by the metrics actor.

mod aggregate;
mod record;

pub use aggregate::{Aggregate, ModelTotals, Summary};
pub use record::RequestRecord;
