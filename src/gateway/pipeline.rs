//! The request path, in the order a request meets it — the one loop every model route runs:
//!
//! 1. **admission** — client auth, body read and scan, routing to targets ([`super::admission`]);
//! 2. for each target, in fallback order: **plan and prepare** the exchange for (endpoint, provider format)
//!    ([`super::exchange`]), **send** it through this worker's forwarder, and fall back to the next target on a
//!    provider failure before the answer began;
//! 3. **respond** — the exchange reads the answer back ([`super::respond`]);
//! 4. **record** — once, when the answer (or its stream) ends ([`super::recorder`]): the one logging point.
//!
//! Any error before the answer began ends here, rendered in the client's dialect: the one failure point. A client
//! that hangs up while its request waits for the upstream cancels it.

use std::pin::pin;
use std::time::Instant;

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

use super::admission::disconnect::client_gone;
use super::admission::metering::meter;
use super::admission::{admit, Admitted};
use super::endpoint::Endpoint;
use super::exchange::{Attempt, Exchange, Outbound, Prepared};
use super::ratelimit_headers::ratelimit_headers;
use super::recorder::Recorder;
use crate::config::{Snapshot, Target};
use crate::error::{render, GatewayError};
use crate::log_safe::Escaped;
use crate::metrics::RequestRecord;
use crate::state::AppState;
use crate::upstream::UpstreamReply;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-gatehouse-request-id");
/// Claude Code's session, named in the request's log line.
const SESSION_ID: HeaderName = HeaderName::from_static("x-claude-code-session-id");

/// Serves one request on `endpoint`.
pub async fn serve(endpoint: Endpoint, req: HttpRequest, payload: web::Payload, app: &AppState) -> HttpResponse {
    let mut recorder = Recorder::start(app.metrics.clone(), endpoint, Instant::now());
    if let Some(session) = req.headers().get(SESSION_ID) {
        recorder.record.session_id = RequestRecord::session_id_from_header(session.as_bytes());
    }
    let request_id = HeaderValue::from_str(&recorder.record.request_id).ok();
    let snapshot = app.snapshots.current();
    let mut gone = pin!(client_gone(&req));
    let sent = tokio::select! {
        sent = send(endpoint, &req, payload, &snapshot, app, &mut recorder) => sent,
        _ = &mut gone => Err(GatewayError::ClientClosed),
    };
    let headroom = recorder.headroom;
    let mut response = match sent {
        Ok((exchange, reply)) => tokio::select! {
            response = exchange.respond(reply, recorder) => response,
            // Dropping the answer drops the recorder, which records the hang-up; the client sees nothing more.
            _ = &mut gone => render::response(endpoint.dialect(), &GatewayError::ClientClosed),
        },
        Err(error) => recorder.fail(&error),
    };
    if let Some(id) = request_id {
        response.headers_mut().insert(REQUEST_ID, id);
    }
    if let Some(headroom) = headroom {
        ratelimit_headers(response.headers_mut(), headroom);
    }
    response
}

/// Admission, then the targets in order until one gives an answer to relay.
async fn send(
    endpoint: Endpoint,
    req: &HttpRequest,
    payload: web::Payload,
    snapshot: &Snapshot,
    app: &AppState,
    recorder: &mut Recorder,
) -> Result<(Exchange, UpstreamReply), GatewayError> {
    let directory = app.keys.current();
    let mut request = match admit(req, payload, snapshot, &directory, endpoint).await {
        Ok(request) => request,
        Err(refused) => return Err(recorder.refused(refused)),
    };
    if let Some(holder) = request.caller.holder() {
        recorder.keyed(holder);
    }
    match meter(endpoint, &mut request, snapshot, &app.limits, &recorder.record.request_id).await {
        Ok(Some(charge)) => recorder.hold(charge),
        Ok(None) => {}
        Err(refused) => return Err(recorder.refused(refused)),
    }
    let targets = &request.route.targets;
    for (i, target) in targets.iter().enumerate() {
        recorder.routed(i, &target.provider.name, &target.model, request.inspected.stream);
        let attempt = Attempt { endpoint, request: &request, target, client_headers: req.headers() };
        let Prepared { exchange, outbound } = Exchange::prepare(&attempt)?;
        let result = match outbound {
            Outbound::Upstream(upstream) => {
                let sent = Instant::now();
                let result = app.forwarder.forward(&target.provider, &snapshot.limits, upstream).await;
                recorder.add_upstream_time(result.as_ref().map_or_else(|_| sent.elapsed(), |r| r.upstream_time));
                result
            }
            Outbound::Local(answer) => answer.await,
        };
        if falls_back(&result, &request, i) {
            continue;
        }
        return Ok((exchange, result?));
    }
    Err(GatewayError::Internal("route without targets".into()))
}

/// Whether the answer from target `i` gives way to the next target: a provider failure before the answer began
/// (an error, or a status worth retrying), when there is a next target. Logs the fallback when it does.
fn falls_back(result: &Result<UpstreamReply, GatewayError>, request: &Admitted, i: usize) -> bool {
    let targets: &[Target] = &request.route.targets;
    let (Some(failed), Some(next)) = (targets.get(i), targets.get(i + 1)) else { return false };
    let why = match result {
        Ok(reply) => crate::error::is_retriable_status(reply.status.as_u16())
            .then(|| format!("status {}", reply.status.as_u16())),
        Err(error) => error.is_provider_failure().then(|| error.to_string()),
    };
    let Some(why) = why else { return false };
    log::warn!(
        "{}:{} failed ({}); falling back to {}:{}",
        failed.provider.name,
        Escaped(&failed.model),
        Escaped(&why),
        next.provider.name,
        Escaped(&next.model)
    );
    true
}
