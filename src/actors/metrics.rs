//! The metrics actor: owns the [`MetricsState`] and delegates to it. Finished requests reach it in batches, one
//! fire-and-forget [`RecordBatch`] per worker every [`FLUSH_DELAY`] at most; readers ask for a summary, a series
//! or the Prometheus text. In-flight counts do not go through the actor at all: they are atomics shared through
//! [`MetricsHandle`].

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::{Actor, Addr, AsyncContext, Context, Handler, Message, MessageResult};

use crate::metrics::aggregate::InFlightView;
use crate::metrics::series::SeriesView;
use crate::metrics::{Format, InFlight, InFlightGuard, MetricsState, ProviderHealth, RequestRecord, Summary};

/// How often the actor samples in-flight counts into the time series.
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// Aggregates request records; one per process.
pub struct MetricsActor {
    state: MetricsState,
}

impl Actor for MetricsActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(SAMPLE_EVERY, |actor, _| actor.state.sample(now_ms()));
    }
}

/// What handlers and the request recorder hold: the actor's address plus the shared in-flight counters, behind one
/// `Arc` (every request's recorder holds a handle, and cloning an actix `Addr` allocates).
#[derive(Clone)]
pub struct MetricsHandle(Arc<Shared>);

struct Shared {
    addr: Addr<MetricsActor>,
    in_flight: Arc<InFlight>,
}

impl MetricsHandle {
    /// Starts the metrics actor on the current arbiter.
    pub fn start() -> Self {
        let in_flight = Arc::new(InFlight::default());
        let addr = MetricsActor { state: MetricsState::new(in_flight.clone(), now_ms()) }.start();
        Self(Arc::new(Shared { addr, in_flight }))
    }

    /// The actor's address (for queries: summary, series, exposition).
    pub fn addr(&self) -> &Addr<MetricsActor> {
        &self.0.addr
    }

    /// Counts a routed request as in flight until the guard drops. No message, no await.
    pub fn enter(&self, provider: &str, streamed: bool) -> InFlightGuard {
        self.0.in_flight.enter(provider, streamed)
    }

    /// The in-flight counts now (read from the atomics, not the actor).
    pub fn in_flight(&self) -> InFlightView {
        self.0.in_flight.view()
    }

    /// Hands a finished request to the actor without waiting. Records are batched per worker thread and sent
    /// at most [`FLUSH_DELAY`] later in one message: a message per request would wake the actor's thread (a
    /// syscall and a context switch) once per request, which under load cost more than the rest of the gateway.
    pub fn record(&self, record: RequestRecord) {
        let first = PENDING.with(|pending| {
            let mut pending = pending.borrow_mut();
            pending.push(record);
            pending.len() == 1
        });
        if !first {
            return;
        }
        let addr = self.0.addr.clone();
        match actix_rt::Arbiter::try_current() {
            Some(arbiter) => {
                arbiter.spawn(async move {
                    actix_rt::time::sleep(FLUSH_DELAY).await;
                    flush(&addr);
                });
            }
            // Outside an actix thread (tests of the recorder): deliver at once.
            None => flush(&addr),
        }
    }

    /// Sends this thread's pending records now (before answering a metrics query from this worker).
    pub fn flush_local(&self) {
        flush(&self.0.addr);
    }
}

/// How long a finished request may wait in its worker's batch before the metrics actor sees it.
pub const FLUSH_DELAY: std::time::Duration = std::time::Duration::from_millis(25);

thread_local! {
    static PENDING: std::cell::RefCell<Vec<RequestRecord>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn flush(addr: &Addr<MetricsActor>) {
    let batch = PENDING.with(|pending| std::mem::take(&mut *pending.borrow_mut()));
    if !batch.is_empty() {
        addr.do_send(RecordBatch(batch));
    }
}

/// Unix time in milliseconds (0 if the clock is before 1970).
fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Requests finished on one worker within [`FLUSH_DELAY`], in the order they finished.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RecordBatch(pub Vec<RequestRecord>);

impl Handler<RecordBatch> for MetricsActor {
    type Result = ();

    fn handle(&mut self, msg: RecordBatch, _: &mut Context<Self>) {
        let now = now_ms();
        for record in &msg.0 {
            self.state.record(record, now);
        }
    }
}

/// Asks for the running totals (`GET /metrics/summary`).
#[derive(Message)]
#[rtype(result = "Summary")]
pub struct GetSummary;

impl Handler<GetSummary> for MetricsActor {
    type Result = MessageResult<GetSummary>;

    fn handle(&mut self, _: GetSummary, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.state.summary(now_ms()))
    }
}

/// Asks for the last `window` seconds in steps of `step` seconds (`GET /metrics/series`).
#[derive(Message)]
#[rtype(result = "SeriesView")]
pub struct GetSeries {
    pub window: u64,
    pub step: u64,
}

impl Handler<GetSeries> for MetricsActor {
    type Result = MessageResult<GetSeries>;

    fn handle(&mut self, msg: GetSeries, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.state.series(now_ms(), msg.window, msg.step))
    }
}

/// Asks for the Prometheus exposition (`GET /metrics`).
#[derive(Message)]
#[rtype(result = "String")]
pub struct RenderPrometheus(pub Format, pub Vec<ProviderHealth>);

impl Handler<RenderPrometheus> for MetricsActor {
    type Result = MessageResult<RenderPrometheus>;

    fn handle(&mut self, msg: RenderPrometheus, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.state.prometheus(msg.0, &msg.1))
    }
}
