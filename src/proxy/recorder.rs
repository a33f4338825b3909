//! Records each request exactly once when it finishes: one message to the metrics actor and one log line.

use std::time::{Duration, Instant};

use actix::Addr;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpResponse;

use crate::actors::metrics::{MetricsActor, RecordRequest};
use crate::app::{error_response, next_request_id};
use crate::convert::Usage;
use crate::error::GatewayError;
use crate::metrics::RequestRecord;

/// Follows one request from arrival to its last byte. Consumed by [`Recorder::finish`], so a request cannot be
/// recorded twice.
pub struct Recorder {
    metrics: Addr<MetricsActor>,
    started: Instant,
    pub record: RequestRecord,
}

impl Recorder {
    /// Starts timing a request on `route` (e.g. `messages`).
    pub fn start(metrics: Addr<MetricsActor>, route: &'static str, started: Instant) -> Self {
        let record = RequestRecord {
            request_id: next_request_id(),
            provider: "-".into(),
            model: "-".into(),
            route,
            streamed: false,
            status: 0,
            error_kind: None,
            duration: Duration::ZERO,
            time_to_first_byte: None,
            upstream_time: None,
            usage: Usage::default(),
        };
        Self { metrics, started, record }
    }

    /// The request was routed: from now on it is counted against this provider and model.
    pub fn routed(&mut self, provider: &str, model: &str, streamed: bool) {
        self.record.provider = provider.to_string();
        self.record.model = model.to_string();
        self.record.streamed = streamed;
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
        self.record.status = status;
        self.record.error_kind = error_kind;
        self.record.usage = usage;
        self.record.time_to_first_byte = ttfb;
        self.record.duration = self.started.elapsed();
        if error_kind.is_some() || status >= 500 {
            log::warn!("{}", self.record.log_line());
        } else {
            log::info!("{}", self.record.log_line());
        }
        self.metrics.do_send(RecordRequest(self.record));
    }
}
