//! The metrics actor: owns the aggregate; receives one message per finished request.

use actix::{Actor, Context, Handler, Message, MessageResult};

use crate::metrics::{Aggregate, RequestRecord, Summary};

/// Aggregates request records; one per process.
#[derive(Default)]
pub struct MetricsActor {
    aggregate: Aggregate,
}

impl Actor for MetricsActor {
    type Context = Context<Self>;
}

/// A request finished. Sent with `do_send`: the hot path never waits for metrics.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RecordRequest(pub RequestRecord);

impl Handler<RecordRequest> for MetricsActor {
    type Result = ();

    fn handle(&mut self, msg: RecordRequest, _: &mut Context<Self>) {
        self.aggregate.record(&msg.0);
    }
}

/// Asks for a copy of the running totals.
#[derive(Message)]
#[rtype(result = "Summary")]
pub struct GetSummary;

impl Handler<GetSummary> for MetricsActor {
    type Result = MessageResult<GetSummary>;

    fn handle(&mut self, _: GetSummary, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.aggregate.summary())
    }
}
