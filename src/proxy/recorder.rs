//! Records each request exactly once when it finishes: one message to the metrics actor and one log line. It
//! also holds the request's in-flight count, from routing until it is recorded.

use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpResponse;

use crate::actors::metrics::MetricsHandle;
use crate::app::{error_response, next_request_id};
use crate::convert::Usage;
use crate::error::GatewayError;
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
    in_flight: Option<InFlightGuard>,
    finished: bool,
}

impl Recorder {
    /// Starts timing a request on `route` (e.g. `messages`).
    pub fn start(metrics: MetricsHandle, route: &'static str, started: Instant) -> Self {
        let record = RequestRecord {
            request_id: next_request_id(),
            provider: "-".into(),
            model: "-".into(),
            route,
            ..RequestRecord::default()
        };
        Self { metrics, started, record, in_flight: None, finished: false }
    }

    /// The request was routed: from now on it is counted against this provider and model, and is in flight.
    pub fn routed(&mut self, provider: &str, model: &str, streamed: bool) {
        self.record.provider = provider.to_string().into();
        self.record.model = model.to_string().into();
        self.record.streamed = streamed;
        self.in_flight = Some(self.metrics.enter(provider, streamed));
    }

    /// Time since the request arrived.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Answers with `error` (the Anthropic envelope plus the request id) and records the failure.
    pub fn fail(self, error: &GatewayError) -> HttpResponse {
        let mut response = error_response(error);
        if let Ok(id) = HeaderValue::from_str(&self.record.request_id) {
            response.headers_mut().insert(HeaderName::from_static("x-gatehouse-request-id"), id);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actors::metrics::GetSummary;

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
        let mut recorder = Recorder::start(metrics.clone(), "messages", Instant::now());
        assert_eq!(metrics.in_flight().requests, 0, "not in flight before routing");
        recorder.routed("mock", "claude", true);
        assert_eq!((metrics.in_flight().requests, metrics.in_flight().streams), (1, 1));
        recorder.finish(200, None, Usage { output_tokens: 4, ..Usage::default() }, Some(Duration::from_millis(3)));
        assert_eq!((metrics.in_flight().requests, metrics.in_flight().streams), (0, 0));
        let summary = summary_after(&metrics, 1).await;
        assert_eq!(summary.models["mock:claude"].output_tokens, 4);
    }

    #[actix_rt::test]
    async fn falling_back_to_another_target_moves_the_in_flight_count() {
        let metrics = MetricsHandle::start();
        let mut recorder = Recorder::start(metrics.clone(), "messages", Instant::now());
        recorder.routed("first", "m", false);
        recorder.routed("second", "m", false);
        let live = metrics.in_flight();
        assert_eq!((live.requests, live.by_provider["first"], live.by_provider["second"]), (1, 0, 1));
        recorder.finish(200, None, Usage::default(), None);
        assert_eq!(metrics.in_flight().requests, 0);
    }

    #[actix_rt::test]
    async fn a_recorder_dropped_unfinished_records_a_client_disconnect() {
        let metrics = MetricsHandle::start();
        let mut recorder = Recorder::start(metrics.clone(), "messages", Instant::now());
        recorder.routed("mock", "claude", false);
        drop(recorder);
        assert_eq!(metrics.in_flight().requests, 0);
        let summary = summary_after(&metrics, 1).await;
        let model = &summary.models["mock:claude"];
        assert_eq!(model.errors_by_kind.get("client_disconnected"), Some(&1));
    }
}
