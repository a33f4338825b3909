//! Per-provider forwarder actors. Each worker thread has one forwarder per provider (created on first use and
//! replaced when the provider's configuration changes), so forwarding never crosses threads: `awc` clients and
//! their response streams are not `Send`. The forwarder owns the upstream policy (which key, which headers,
//! which timeout) and hands back the response head plus a channel of body chunks fed by a pump task that stops,
//! dropping the upstream connection, as soon as the client goes away.

use std::cell::RefCell;
use std::collections::HashMap;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::dev::Request;
use actix::{Actor, Addr, Context, Handler, Message, ResponseFuture};
use actix_web::http::header::HeaderMap;
use actix_web::http::{StatusCode, Uri};
use awc::error::{ConnectError, SendRequestError};
use awc::FrozenClientRequest;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};

use crate::config::{Auth, Limits, Provider, UpstreamCall};
use crate::error::GatewayError;
use crate::proxy::body::OutgoingBody;
use crate::proxy::client_auth::{ClientKey, KeyStyle};
use crate::proxy::headers::{
    attempt_headers, is_event_stream, is_relayed_response_header, upstream_base_headers, UpstreamKey,
};
use crate::upstream::retry::{is_key_failure, is_retriable_status, parse_retry_after};
use crate::upstream::runtime::now_millis;

/// The upstream's body: read whole by the forwarder (JSON answers and errors: no channel, no extra task), or
/// arriving in chunks from a pump task (event streams). Either way the same `recv` / `poll_recv` interface; an
/// `Err` is the last item.
pub struct UpstreamBody(BodySource);

enum BodySource {
    Whole(Option<Bytes>),
    Chunks(mpsc::Receiver<Result<Bytes, GatewayError>>),
}

impl UpstreamBody {
    /// The next chunk, `None` at the end.
    pub async fn recv(&mut self) -> Option<Result<Bytes, GatewayError>> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next chunk.
    pub fn poll_recv(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Bytes, GatewayError>>> {
        match &mut self.0 {
            BodySource::Whole(bytes) => std::task::Poll::Ready(bytes.take().map(Ok)),
            BodySource::Chunks(rx) => rx.poll_recv(cx),
        }
    }
}

/// Largest upstream body read whole (JSON answers, errors).
pub const MAX_WHOLE_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Chunks buffered between the upstream pump and the client before the pump waits (backpressure).
const BODY_CHANNEL_CAPACITY: usize = 32;

/// Forwards requests for one provider from one worker thread.
pub struct Forwarder {
    provider: Arc<Provider>,
    client: awc::Client,
    idle_timeout: Duration,
    /// The provider's messages endpoint, parsed once per forwarder rather than per request.
    messages_uri: Option<Uri>,
}

impl Actor for Forwarder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(4096);
    }
}

/// Send one request body upstream. Build it with [`Forward::new`], which also returns the [`ClientGuard`].
#[derive(Message)]
#[rtype(result = "Result<UpstreamReply, GatewayError>")]
pub struct Forward {
    /// Which upstream endpoint.
    pub call: UpstreamCall,
    /// The exact bytes to POST (empty for a GET).
    pub body: OutgoingBody,
    /// The headers every attempt shares ([`crate::proxy::headers::upstream_base_headers`]); the forwarder adds the
    /// key and the provider's custom headers per attempt.
    pub headers: HeaderMap,
    /// The client's own provider key, for passthrough providers.
    pub client_key: Option<ClientKey>,
    /// Resolves when the client's handler is gone: the forwarder then stops waiting and drops the upstream request.
    alive: Option<oneshot::Receiver<()>>,
}

/// Held by the handler while its client waits for the response head; dropping it (the client disconnected, so
/// actix dropped the handler) cancels the upstream request, so no tokens keep being generated for nobody.
pub struct ClientGuard(#[allow(dead_code)] oneshot::Sender<()>);

impl Forward {
    pub fn new(
        call: UpstreamCall,
        body: impl Into<OutgoingBody>,
        headers: HeaderMap,
        client_key: Option<ClientKey>,
    ) -> (Self, ClientGuard) {
        let (tx, alive) = oneshot::channel();
        (Self { call, body: body.into(), headers, client_key, alive: Some(alive) }, ClientGuard(tx))
    }
}

/// The upstream's answer: head now, body as it arrives.
pub struct UpstreamReply {
    pub status: StatusCode,
    /// The upstream headers worth relaying to a client ([`is_relayed_response_header`]: content type, request
    /// ids, rate limits, retry hints); hop-by-hop and server headers are left behind.
    pub headers: HeaderMap,
    pub body: UpstreamBody,
    /// Time from sending to the response head.
    pub upstream_time: Duration,
}

impl Handler<Forward> for Forwarder {
    type Result = ResponseFuture<Result<UpstreamReply, GatewayError>>;

    fn handle(&mut self, msg: Forward, _: &mut Context<Self>) -> Self::Result {
        let endpoint = match msg.call {
            UpstreamCall::Messages => self.messages_uri.clone(),
            UpstreamCall::CountTokens | UpstreamCall::ListModels => None,
        };
        Box::pin(forward(self.provider.clone(), self.client.clone(), self.idle_timeout, endpoint, msg))
    }
}

/// One request: breaker check, then attempts (key rotation, retries with backoff) until a response head is worth
/// relaying. Nothing here has reached the client yet, so every retry is safe; the body bytes are reused, never
/// re-read from the client.
async fn forward(
    provider: Arc<Provider>,
    client: awc::Client,
    idle: Duration,
    endpoint: Option<Uri>,
    msg: Forward,
) -> Result<UpstreamReply, GatewayError> {
    let permit = provider.runtime.breaker.allow(now_millis()).map_err(|wait| GatewayError::ProviderUnavailable {
        provider: provider.name.clone(),
        retry_in_secs: wait.as_secs().max(1),
    })?;
    let started = Instant::now();
    let mut msg = msg;
    let Some(mut alive) = msg.alive.take() else { return Err(GatewayError::Internal("forward sent twice".into())) };
    let request = frozen_request(&provider, &client, msg.call, endpoint, std::mem::take(&mut msg.headers))?;
    let outcome = tokio::select! {
        biased;
        _ = &mut alive => return Err(GatewayError::Internal("the client went away".into())),
        outcome = attempts(&provider, &request, &msg) => outcome,
    };
    // The breaker counts signs of a provider in trouble (5xx, unreachable, timeouts), not rate limits or
    // client-side errors.
    match &outcome {
        Ok(response) if response.status().is_server_error() => permit.failure(),
        Ok(_) => permit.success(),
        Err(
            GatewayError::UpstreamUnreachable { .. }
            | GatewayError::UpstreamTimeout { .. }
            | GatewayError::UpstreamProtocol { .. },
        ) => permit.failure(),
        Err(_) => drop(permit),
    }
    let mut response = outcome?;
    let status = response.status();
    let headers = relayed_headers(response.headers());
    let body = if is_event_stream(&headers) {
        let (tx, rx) = mpsc::channel(BODY_CHANNEL_CAPACITY);
        actix_rt::spawn(pump(response, tx, idle, provider.name.clone()));
        UpstreamBody(BodySource::Chunks(rx))
    } else {
        let read = tokio::time::timeout(idle, response.body().limit(MAX_WHOLE_BODY_BYTES));
        let bytes = tokio::select! {
            biased;
            _ = &mut alive => return Err(GatewayError::Internal("the client went away".into())),
            read = read => read,
        };
        let bytes = match bytes {
            Err(_) => {
                return Err(GatewayError::UpstreamTimeout { provider: provider.name.clone(), secs: idle.as_secs() })
            }
            Ok(Err(awc::error::PayloadError::Overflow)) => {
                let detail = format!("response body larger than {MAX_WHOLE_BODY_BYTES} bytes");
                return Err(GatewayError::UpstreamProtocol { provider: provider.name.clone(), detail });
            }
            Ok(Err(e)) => {
                let detail = format!("connection lost while reading the response: {e}");
                return Err(GatewayError::UpstreamUnreachable { provider: provider.name.clone(), detail });
            }
            Ok(Ok(bytes)) => bytes,
        };
        UpstreamBody(BodySource::Whole(Some(bytes)))
    };
    Ok(UpstreamReply { status, headers, body, upstream_time: started.elapsed() })
}

type Response = awc::ClientResponse;

/// Sends until a response head should go to the client: a success, a non-retriable status, or the last retry.
async fn attempts(provider: &Provider, request: &FrozenClientRequest, msg: &Forward) -> Result<Response, GatewayError> {
    let pool = &provider.runtime.keys;
    let mut tried_keys: Vec<usize> = Vec::new();
    let mut retries = 0u32;
    loop {
        let key_index = match provider.auth {
            Auth::Static(_) => Some(
                pool.pick(&tried_keys, now_millis())
                    .ok_or_else(|| GatewayError::Internal(format!("provider '{}' has no usable key", provider.name)))?,
            ),
            Auth::Passthrough => None,
        };
        let request = request.extra_headers(key_headers(provider, msg, key_index)?);
        let sent = match msg.call {
            UpstreamCall::ListModels => request.send().await,
            UpstreamCall::Messages | UpstreamCall::CountTokens => request.send_body(msg.body.clone()).await,
        };
        let retry_wait = match sent {
            Err(e) => {
                let error = send_error(provider, e);
                let retriable = matches!(error, GatewayError::UpstreamUnreachable { .. });
                match provider.retry.delay(retries + 1, None, fastrand::f64()) {
                    Some(wait) if retriable && retries < provider.retry.max_retries => wait,
                    _ => return Err(error),
                }
            }
            Ok(response) => {
                let status = response.status().as_u16();
                if let (Some(index), true) = (key_index, is_key_failure(status)) {
                    pool.report_failure(index);
                    if pool.len() > 1 {
                        tried_keys.push(index);
                        if tried_keys.len() < pool.len() {
                            continue;
                        }
                        return Err(GatewayError::KeysExhausted {
                            provider: provider.name.clone(),
                            last_status: status,
                        });
                    }
                } else if let Some(index) = key_index {
                    pool.report_success(index);
                }
                let wait = is_retriable_status(status)
                    .then(|| provider.retry.delay(retries + 1, retry_after(&response), fastrand::f64()))
                    .flatten();
                match wait {
                    Some(wait) if retries < provider.retry.max_retries => wait,
                    _ => return Ok(response),
                }
            }
        };
        retries += 1;
        log::debug!("provider {}: retry {retries} in {retry_wait:?}", provider.name);
        actix_rt::time::sleep(retry_wait).await;
    }
}

fn retry_after(response: &Response) -> Option<Duration> {
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
    parse_retry_after(header("retry-after"), header("retry-after-ms"))
}

/// What every attempt sends: the endpoint, method, timeout and shared headers, built once per request (each attempt
/// shares it and adds its key headers).
fn frozen_request(
    provider: &Provider,
    client: &awc::Client,
    call: UpstreamCall,
    endpoint: Option<Uri>,
    headers: HeaderMap,
) -> Result<FrozenClientRequest, GatewayError> {
    let mut request = match (call, endpoint) {
        (UpstreamCall::ListModels, _) => client.get(provider.url_for(call)),
        (_, Some(uri)) => client.post(uri),
        (_, None) => client.post(provider.url_for(call)),
    }
    .timeout(provider.request_timeout);
    *request.headers_mut() = headers;
    request
        .freeze()
        .map_err(|e| GatewayError::UpstreamUnreachable { provider: provider.name.clone(), detail: e.to_string() })
}

/// The headers one attempt adds: the chosen static key or the client's own, and the provider's custom headers.
fn key_headers(provider: &Provider, msg: &Forward, key_index: Option<usize>) -> Result<HeaderMap, GatewayError> {
    let key = match (key_index.and_then(|i| provider.static_key(i)), &msg.client_key) {
        (Some(key), _) => UpstreamKey { key: key.expose(), style: KeyStyle::XApiKey },
        (None, Some(client)) => UpstreamKey { key: &client.key, style: client.style },
        (None, None) => {
            return Err(GatewayError::Authentication(format!(
            "provider '{}' uses API key passthrough: send your own provider key in x-api-key or Authorization: Bearer",
            provider.name
        )))
        }
    };
    attempt_headers(provider.format, key, &provider.custom_headers)
}

/// The upstream headers a client may see; the rest (hop-by-hop, server, date, length) stay behind.
fn relayed_headers(upstream: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(upstream.len());
    for (name, value) in upstream.iter().filter(|(name, _)| is_relayed_response_header(name)) {
        out.append(name.clone(), value.clone());
    }
    out
}

fn send_error(provider: &Provider, error: SendRequestError) -> GatewayError {
    let name = provider.name.clone();
    match error {
        SendRequestError::Timeout => {
            GatewayError::UpstreamTimeout { provider: name, secs: provider.request_timeout.as_secs() }
        }
        SendRequestError::Connect(ConnectError::Timeout) => {
            GatewayError::UpstreamUnreachable { provider: name, detail: "connect timed out".into() }
        }
        other => GatewayError::UpstreamUnreachable { provider: name, detail: other.to_string() },
    }
}

/// Moves upstream body chunks into the channel until the upstream ends, fails or goes silent for `idle`, or the
/// client side of the channel is dropped. Returning drops the upstream response, which closes its connection.
async fn pump<S, E>(upstream: S, tx: mpsc::Sender<Result<Bytes, GatewayError>>, idle: Duration, provider: String)
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut upstream = pin!(upstream);
    let deadline = tokio::time::sleep(idle);
    let mut deadline = pin!(deadline);
    loop {
        let item = tokio::select! {
            biased;
            _ = tx.closed() => return,
            item = upstream.next() => item,
            _ = &mut deadline => {
                let secs = idle.as_secs();
                let _ = tx.send(Err(GatewayError::UpstreamTimeout { provider, secs })).await;
                return;
            }
        };
        match item {
            None => return,
            Some(Ok(chunk)) => {
                if tx.send(Ok(chunk)).await.is_err() {
                    return;
                }
                deadline.as_mut().reset(tokio::time::Instant::now() + idle);
            }
            Some(Err(e)) => {
                let detail = format!("connection lost while reading the response: {e}");
                let _ = tx.send(Err(GatewayError::UpstreamUnreachable { provider, detail })).await;
                return;
            }
        }
    }
}

/// One worker's forwarders, by provider name, with the provider configuration each was started for.
type ForwarderMap = HashMap<String, (Arc<Provider>, Addr<Forwarder>), foldhash::fast::RandomState>;

thread_local! {
    static CLIENT: RefCell<Option<awc::Client>> = const { RefCell::new(None) };
    static FORWARDERS: RefCell<ForwarderMap> = RefCell::new(HashMap::default());
}

/// Forwards one request through this worker's forwarder for `provider` and waits for the upstream's response head.
/// The upstream headers are derived from the client's by the provider's format. Dropping the returned future (the
/// client went away, so actix dropped the handler) cancels the upstream request.
pub async fn forward_upstream(
    provider: &Arc<Provider>,
    limits: &Limits,
    call: UpstreamCall,
    body: impl Into<OutgoingBody>,
    client_headers: &HeaderMap,
    client_key: Option<ClientKey>,
) -> Result<UpstreamReply, GatewayError> {
    let headers = upstream_base_headers(provider.format, client_headers);
    let (msg, _client) = Forward::new(call, body, headers, client_key);
    send_forward(provider, limits, msg)
        .await
        .map_err(|e| GatewayError::Internal(format!("forwarder unavailable: {e}")))?
}

/// Sends `msg` to this worker's forwarder for `provider`, started on first use and restarted when the provider's
/// configuration (its `Arc`) changed. Keyed by provider name, so the map never holds more than one entry per name.
/// The address is used in place: cloning an actix `Addr` allocates.
fn send_forward(provider: &Arc<Provider>, limits: &Limits, msg: Forward) -> Request<Forwarder, Forward> {
    FORWARDERS.with(|cell| {
        let mut map = cell.borrow_mut();
        if let Some((known, addr)) = map.get(&provider.name) {
            if Arc::ptr_eq(known, provider) && addr.connected() {
                return addr.send(msg);
            }
        }
        let forwarder = Forwarder {
            provider: provider.clone(),
            client: upstream_client(limits),
            idle_timeout: limits.stream_idle_timeout,
            messages_uri: Uri::try_from(provider.url_for(UpstreamCall::Messages)).ok(),
        };
        let addr = forwarder.start();
        let request = addr.send(msg);
        map.insert(provider.name.clone(), (provider.clone(), addr));
        request
    })
}

/// The worker's shared HTTP client (one connection pool per worker thread).
fn upstream_client(limits: &Limits) -> awc::Client {
    CLIENT.with(|cell| {
        cell.borrow_mut()
            .get_or_insert_with(|| {
                let connector = awc::Connector::new().timeout(limits.connect_timeout).limit(0);
                awc::Client::builder()
                    .connector(connector)
                    .disable_redirects()
                    .no_default_headers()
                    .timeout(limits.request_timeout)
                    .finish()
            })
            .clone()
    })
}
