//! The request's one logging point: records each request exactly once when it finishes — one record for the
//! metrics actor and one log line — and holds its in-flight count from routing until then. Also where a request
//! gets its id.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::HttpResponse;

use super::admission::keys::{Holder, KeyRefusal};
use super::charge::Charge;
use super::endpoint::Endpoint;
use crate::actors::metrics::MetricsHandle;
use crate::convert::Usage;
use crate::error::{render, Dialect, GatewayError};
use crate::limits::Headroom;
use crate::metrics::{InFlightGuard, RequestRecord};

/// The status recorded for a request whose client left before any response was sent (nginx's convention).
pub const CLIENT_CLOSED_REQUEST: u16 = 499;

/// Follows one request from arrival to its last byte. Consumed by [`Recorder::finish`], so a request cannot be
/// recorded twice; if it is dropped unfinished (the client went away while the handler was still waiting), it
/// records itself as `client_disconnected`, so no request goes uncounted and no in-flight count leaks.
pub struct Recorder {
    metrics: MetricsHandle,
    started: Instant,
    pub record: RequestRecord,
    /// How the request's errors are written.
    dialect: Dialect,
    in_flight: Option<InFlightGuard>,
    /// A virtual key's reservation, settled when the request is recorded.
    charge: Option<Charge>,
    /// Which of the route's targets the request went to last (from 0), once routed.
    target: Option<usize>,
    /// What the caller's key (and team) have left, for the rate-limit headers.
    pub headroom: Option<Headroom>,
    finished: bool,
}

impl Recorder {
    /// Starts timing a request that arrived at `started` on `endpoint`.
    pub fn start(metrics: MetricsHandle, endpoint: Endpoint, started: Instant) -> Self {
        let record = RequestRecord {
            request_id: next_request_id(),
            provider: "-".into(),
            model: "-".into(),
            route: endpoint.label(),
            ..RequestRecord::default()
        };
        Self {
            metrics,
            started,
            record,
            dialect: endpoint.dialect(),
            in_flight: None,
            charge: None,
            target: None,
            headroom: None,
            finished: false,
        }
    }

    /// The caller's virtual key: named in the request's record and log line.
    pub fn keyed(&mut self, holder: &Holder) {
        self.record.key = Some(holder.key.name.clone());
        self.record.team = holder.team.as_ref().map(|t| t.name.clone());
    }

    /// The request was refused at admission: its reason is recorded, and the error answered.
    pub fn refused(&mut self, refusal: KeyRefusal) -> GatewayError {
        self.record.refusal = refusal.reason;
        if let Some(headroom) = refusal.headroom {
            self.headroom = Some(*headroom);
        }
        refusal.error
    }

    /// The request holds a virtual key's reservation: it is settled with the real usage when the request is
    /// recorded (or released, if no upstream answered).
    pub fn hold(&mut self, charge: Charge) {
        self.headroom = Some(charge.headroom());
        self.charge = Some(charge);
    }

    /// The client's dialect, in which its errors are written.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Adds time spent waiting for an upstream (every target tried counts).
    pub fn add_upstream_time(&mut self, time: Duration) {
        self.record.upstream_time = Some(self.record.upstream_time.unwrap_or_default() + time);
    }

    /// Time spent waiting for upstreams so far (zero when none was reached).
    pub fn upstream_time(&self) -> Duration {
        self.record.upstream_time.unwrap_or_default()
    }

    /// The request was routed to its route's target number `target` (from 0): from now on it is counted against
    /// this provider and model, and is in flight.
    pub fn routed(&mut self, target: usize, provider: &str, model: &str, streamed: bool) {
        self.target = Some(target);
        self.record.provider = provider.to_string().into();
        self.record.model = model.to_string().into();
        self.record.streamed = streamed;
        self.in_flight = Some(self.metrics.enter(provider, streamed));
    }

    /// Time since the request arrived.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Answers with `error` in the client's dialect and records the failure.
    pub fn fail(self, error: &GatewayError) -> HttpResponse {
        let response = render::response(self.dialect, error);
        self.finish(response.status().as_u16(), Some(error.kind()), Usage::default(), None);
        response
    }

    /// Completes the record, sends it to the metrics actor (fire-and-forget) and writes the log line.
    pub fn finish(mut self, status: u16, error_kind: Option<&'static str>, usage: Usage, ttfb: Option<Duration>) {
        self.complete(status, error_kind, usage, ttfb);
    }

    fn complete(&mut self, status: u16, error_kind: Option<&'static str>, usage: Usage, ttfb: Option<Duration>) {
        self.finished = true;
        self.in_flight = None;
        if let Some(charge) = self.charge.take() {
            self.record.spend_nanos = charge.settle(self.target, &usage);
        }
        let mut record = std::mem::take(&mut self.record);
        record.status = status;
        record.error_kind = error_kind;
        record.usage = usage;
        record.time_to_first_byte = ttfb;
        record.duration = self.started.elapsed();
        if error_kind.is_some() || status >= 500 {
            log::warn!("{}", record.log_line());
        } else {
            log::info!("{}", record.log_line());
        }
        self.metrics.record(record);
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if !self.finished {
            self.complete(CLIENT_CLOSED_REQUEST, Some("client_disconnected"), Usage::default(), None);
        }
    }
}

/// A short unique id for each request, shown in logs and in the `x-gatehouse-request-id` response header.
pub fn next_request_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        format!("gh-{:08x}-", nanos ^ std::process::id().rotate_left(16))
    });
    // The counter in lower-case hex, written by hand: `format!` was a visible share of a request's instructions.
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b"0123456789abcdef"[(rest & 0xf) as usize];
        rest >>= 4;
        if rest == 0 {
            break;
        }
    }
    let mut id = String::with_capacity(prefix.len() + digits.len() - at);
    id.push_str(prefix);
    id.extend(digits[at..].iter().map(|&d| char::from(d)));
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::metrics::GetSummary;

    #[test]
    fn request_ids_are_unique_and_shaped_gh_seed_counter() {
        let (a, b) = (next_request_id(), next_request_id());
        assert_ne!(a, b);
        for id in [&a, &b] {
            let parts: Vec<&str> = id.split('-').collect();
            assert_eq!(parts.len(), 3, "{id}");
            assert_eq!(parts[0], "gh");
            assert_eq!(parts[1].len(), 8, "{id}");
            assert!(parts[1..].iter().all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_hexdigit())), "{id}");
            assert!(!parts[2].starts_with('0') || parts[2] == "0", "no leading zeros: {id}");
        }
        let counter = |id: &str| u64::from_str_radix(id.rsplit('-').next().unwrap(), 16).unwrap();
        assert!(counter(&b) > counter(&a));
    }

    async fn summary_after(metrics: &MetricsHandle, requests: u64) -> crate::metrics::Summary {
        for _ in 0..100 {
            let summary = metrics.addr().send(GetSummary).await.unwrap();
            if summary.totals.requests == requests {
                return summary;
            }
            actix_rt::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the record never arrived");
    }

    #[actix_rt::test]
    async fn in_flight_from_routing_until_finish() {
        let metrics = MetricsHandle::start();
        let mut recorder = Recorder::start(metrics.clone(), Endpoint::Messages, Instant::now());
        assert_eq!(metrics.in_flight().requests, 0, "not in flight before routing");
        recorder.routed(0, "mock", "claude", true);
        assert_eq!((metrics.in_flight().requests, metrics.in_flight().streams), (1, 1));
        recorder.finish(200, None, Usage { output_tokens: 4, ..Usage::default() }, Some(Duration::from_millis(3)));
        assert_eq!((metrics.in_flight().requests, metrics.in_flight().streams), (0, 0));
        let summary = summary_after(&metrics, 1).await;
        assert_eq!(summary.models["mock:claude"].output_tokens, 4);
    }

    #[actix_rt::test]
    async fn falling_back_to_another_target_moves_the_in_flight_count() {
        let metrics = MetricsHandle::start();
        let mut recorder = Recorder::start(metrics.clone(), Endpoint::Messages, Instant::now());
        recorder.routed(0, "first", "m", false);
        recorder.routed(1, "second", "m", false);
        let live = metrics.in_flight();
        assert_eq!((live.requests, live.by_provider["first"], live.by_provider["second"]), (1, 0, 1));
        recorder.finish(200, None, Usage::default(), None);
        assert_eq!(metrics.in_flight().requests, 0);
    }

    #[actix_rt::test]
    async fn a_recorder_dropped_unfinished_records_a_client_disconnect() {
        let metrics = MetricsHandle::start();
        let mut recorder = Recorder::start(metrics.clone(), Endpoint::Messages, Instant::now());
        recorder.routed(0, "mock", "claude", false);
        drop(recorder);
        assert_eq!(metrics.in_flight().requests, 0);
        let summary = summary_after(&metrics, 1).await;
        let model = &summary.models["mock:claude"];
        assert_eq!(model.errors_by_kind.get("client_disconnected"), Some(&1));
    }
}
