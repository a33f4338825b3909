//! What the gateway measures: one [`RequestRecord`] per finished request, aggregated by the metrics actor into
//! running totals ([`aggregate`]), a second-by-second ring ([`series`]) and Prometheus metrics ([`exposition`]),
//! all under bounded labels ([`labels`]); in-flight counts are shared atomics ([`in_flight`]). Requests that
//! presented a virtual key are also attributed to it by name and team ([`keys`]).

pub mod aggregate;
pub mod exposition;
pub mod histogram;
pub mod in_flight;
pub mod keys;
pub mod labels;
mod record;
pub mod series;
pub mod state;
pub mod totals;

pub use aggregate::{Aggregate, Summary};
pub use exposition::{Format, ProviderHealth};
pub use in_flight::{InFlight, InFlightGuard};
pub use keys::{KeyView, RefusalReason};
pub use record::RequestRecord;
pub use state::MetricsState;
pub use totals::TotalsView;
