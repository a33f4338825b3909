//! `POST /v1/messages`: authenticate, read and inspect the body, route by model, forward through the provider's
//! forwarder on this worker, and answer with the upstream's response (relayed or converted).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use bytes::{Bytes, BytesMut};

use crate::actors::forwarder::{forwarder_for, Forward, UpstreamBody, UpstreamReply};
use crate::app::{error_response, AppState};
use crate::config::{ApiFormat, Snapshot};
use crate::error::GatewayError;
use crate::proxy::body::{inspect, read_limited, with_model, Required};
use crate::proxy::client_auth::authenticate;
use crate::proxy::headers::is_relayed_response_header;
use crate::proxy::recorder::Recorder;
use crate::proxy::relay::{BodyTransform, Relay};
use crate::proxy::routing::resolve;
use crate::proxy::sse_passthrough::{usage_of_message, SsePassthrough};

/// Largest non-streaming upstream response body accepted.
const MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

pub async fn messages(req: HttpRequest, payload: web::Payload, app: web::Data<AppState>) -> HttpResponse {
    let started = Instant::now();
    let snapshot = app.snapshots.current();
    let mut recorder = Some(Recorder::start(app.metrics.clone(), "messages", started));
    match handle(&req, payload, &snapshot, &mut recorder).await {
        Ok(response) => response,
        Err(error) => {
            let mut response = error_response(&error);
            if let Some(recorder) = recorder {
                if let Ok(id) = HeaderValue::from_str(&recorder.record.request_id) {
                    response.headers_mut().insert(header::HeaderName::from_static("x-gatehouse-request-id"), id);
                }
                recorder.finish(response.status().as_u16(), Some(error.kind()), Default::default(), None);
            }
            response
        }
    }
}

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    snapshot: &Arc<Snapshot>,
    recorder: &mut Option<Recorder>,
) -> Result<HttpResponse, GatewayError> {
    let client_key = authenticate(req.headers(), snapshot.proxy_key.as_ref())?;
    let body = read_limited(payload, req.headers(), snapshot.limits.max_body_bytes).await?;
    let inspected = inspect(&body, Required::Messages)?;
    let route = resolve(snapshot, &inspected.model)?;
    if let Some(r) = recorder.as_mut() {
        r.routed(&route.provider.name, &route.upstream_model, inspected.stream);
    }
    match route.provider.format {
        ApiFormat::Anthropic => {
            let upstream_body = with_model(&body, &inspected, &route.upstream_model);
            let forward = Forward { body: upstream_body, client_headers: req.headers().clone(), client_key };
            let reply = forwarder_for(&route.provider, &snapshot.limits)
                .send(forward)
                .await
                .map_err(|e| GatewayError::Internal(format!("forwarder unavailable: {e}")))??;
            let recorder = recorder.take().ok_or_else(|| GatewayError::Internal("request recorded twice".into()))?;
            relay_anthropic(reply, inspected.stream, recorder, &route.provider.name).await
        }
        ApiFormat::OpenAi => Err(GatewayError::InvalidRequest(format!(
            "provider '{}' uses the openai format, which this build cannot convert yet",
            route.provider.name
        ))),
    }
}

/// Answers with an Anthropic-format upstream's response: streamed through untouched when it is a successful
/// event stream, otherwise read whole and returned with its status (upstream errors keep their status and body).
async fn relay_anthropic(
    reply: UpstreamReply,
    streamed: bool,
    mut recorder: Recorder,
    provider: &str,
) -> Result<HttpResponse, GatewayError> {
    recorder.record.upstream_time = Some(reply.upstream_time);
    let is_event_stream = reply
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut response = response_head(&reply, &recorder);
    if streamed && reply.status.is_success() && is_event_stream {
        response.insert_header((header::CACHE_CONTROL, "no-cache")).insert_header(("x-accel-buffering", "no"));
        let status = reply.status.as_u16();
        let relay = Relay::new(reply.body, BodyTransform::AnthropicSse(SsePassthrough::default()), recorder, status);
        return Ok(response.streaming(relay));
    }
    let status = reply.status;
    let body = match collect(reply.body, provider).await {
        Ok(body) => body,
        Err(error) => {
            recorder.finish(error_response(&error).status().as_u16(), Some(error.kind()), Default::default(), None);
            return Ok(error_response(&error));
        }
    };
    recorder.record.upstream_time = Some(recorder.elapsed());
    let usage = if status.is_success() { usage_of_message(&body) } else { Default::default() };
    let error_kind = (!status.is_success()).then_some("upstream_status");
    let ttfb = Some(recorder.elapsed());
    recorder.finish(status.as_u16(), error_kind, usage, ttfb);
    Ok(response.body(body))
}

/// Status, relayed upstream headers, `Server-Timing` and the request id.
fn response_head(reply: &UpstreamReply, recorder: &Recorder) -> HttpResponseBuilder {
    let mut response =
        HttpResponse::build(StatusCode::from_u16(reply.status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY));
    for (name, value) in reply.headers.iter().filter(|(n, _)| is_relayed_response_header(n)) {
        response.append_header((name.clone(), value.clone()));
    }
    let total = recorder.elapsed();
    let upstream = reply.upstream_time;
    let gateway = total.saturating_sub(upstream);
    response.insert_header(("server-timing", server_timing(gateway, upstream)));
    response.insert_header(("x-gatehouse-request-id", recorder.record.request_id.as_str()));
    response
}

fn server_timing(gateway: Duration, upstream: Duration) -> String {
    format!("gateway;dur={:.3}, upstream;dur={:.3}", gateway.as_secs_f64() * 1000.0, upstream.as_secs_f64() * 1000.0)
}

/// Reads a whole upstream body (non-streaming answers and errors).
async fn collect(mut body: UpstreamBody, provider: &str) -> Result<Bytes, GatewayError> {
    let mut out = BytesMut::new();
    while let Some(chunk) = body.recv().await {
        let chunk = chunk?;
        if out.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(GatewayError::UpstreamProtocol {
                provider: provider.to_string(),
                detail: format!("response body larger than {MAX_RESPONSE_BYTES} bytes"),
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}
