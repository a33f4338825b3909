//! Sending one request to one provider: the circuit breaker first, then attempts — a key per attempt (round
//! robin with cool-downs, or the client's own), retries with backoff — until a response head is worth relaying,
//! then the body: read whole, or handed to a pump task when it is an event stream — decoded on the way when the
//! upstream sent it with a content coding ([`super::decode`]). A head awc could not read right (HTTP/1.1 over TLS:
//! an interim reply, a close-delimited body, [`super::connect`]) is refused loudly. Nothing has reached the
//! client yet, so every retry is safe; the body bytes are reused, never re-read from the client.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header::{HeaderMap, CONTENT_ENCODING};
use actix_web::http::Uri;
use awc::error::{ConnectError, PayloadError, SendRequestError};
use awc::FrozenClientRequest;
use tokio::sync::{mpsc, oneshot};

use super::cloud_auth::CloudCredentials;
use super::connect::unreadable_head;
use super::decode::{self, Decoder};
use super::headers::{
    attempt_headers, custom_attempt_headers, is_aws_event_stream, is_event_stream, relayed_headers, KeyStyle,
    UpstreamKey,
};
use super::reply::{pump, UpstreamBody, UpstreamReply, BODY_CHANNEL_CAPACITY, MAX_WHOLE_BODY_BYTES};
use super::UpstreamRequest;
use crate::config::{Auth, Provider, UpstreamCall};
use crate::error::{is_outage_status, is_retriable_status, GatewayError};
use crate::resilience::retry::{is_key_failure, parse_retry_after};
use crate::resilience::runtime::now_millis;

/// One provider's sender on one worker thread: the provider's configuration, the provider's HTTP client (its
/// connection pool) and the messages endpoint parsed once. Cheap to clone into each request's future.
#[derive(Clone)]
pub struct Upstream {
    provider: Arc<Provider>,
    client: awc::Client,
    idle: Duration,
    messages_uri: Option<Uri>,
}

impl Upstream {
    /// The sender for `provider` over `client`; `idle` is how long a body may stay silent.
    pub fn new(provider: Arc<Provider>, client: awc::Client, idle: Duration) -> Self {
        let messages_uri = Uri::try_from(provider.url_for(UpstreamCall::Messages)).ok();
        Self { provider, client, idle, messages_uri }
    }

    /// The configuration this sender was built for.
    pub fn provider(&self) -> &Arc<Provider> {
        &self.provider
    }

    /// Sends `request` and returns the response head with its body (read whole, or streaming in). Resolving
    /// `client_gone` (the client's handler went away) abandons the request and drops the upstream connection.
    pub async fn send(
        self,
        request: UpstreamRequest,
        mut client_gone: oneshot::Receiver<()>,
    ) -> Result<UpstreamReply, GatewayError> {
        let provider = &self.provider;
        let permit = provider.runtime.breaker.allow(now_millis()).map_err(|wait| {
            GatewayError::ProviderUnavailable { provider: provider.name.clone(), retry_in_secs: wait.as_secs().max(1) }
        })?;
        let started = Instant::now();
        let UpstreamRequest { call, body, headers, client_key, url } = request;
        let url = url.unwrap_or_else(|| provider.url_for(call));
        let frozen = self.frozen(call, &url, headers)?;
        let sent = Sent { call, url: &url, body: &body };
        let outcome = tokio::select! {
            biased;
            _ = &mut client_gone => return Err(GatewayError::ClientClosed),
            outcome = attempts(provider, &frozen, sent, client_key.as_ref()) => outcome,
        };
        let protocol = |detail| GatewayError::UpstreamProtocol { provider: provider.name.clone(), detail };
        // A head that cannot be relayed, or a body in a coding the gateway cannot decode, is the upstream
        // misbehaving: it counts against its breaker. (Judged by reference: the response is not moved around.)
        let coding = outcome.as_ref().map_or(Ok(None), |response| {
            match unreadable_head(response.version(), response.status(), response.headers()) {
                Some(detail) => Err(protocol(detail)),
                None => decode::coding(response.headers()).map_err(protocol),
            }
        });
        match (&outcome, &coding) {
            (Ok(_), Err(_)) => permit.failure(),
            (Ok(response), Ok(_)) if is_outage_status(response.status().as_u16()) => permit.failure(),
            (Ok(_), Ok(_)) => permit.success(),
            (Err(error), _) if error.is_outage() => permit.failure(),
            (Err(_), _) => drop(permit),
        }
        let mut response = outcome?;
        let coding = coding?;
        let status = response.status();
        let mut headers = relayed_headers(response.headers());
        if coding.is_some() {
            // The client gets the decoded body: an identity body, as the gateway asked for.
            headers.remove(CONTENT_ENCODING);
        }
        let body = if is_event_stream(&headers) || is_aws_event_stream(&headers) {
            let (tx, rx) = mpsc::channel(BODY_CHANNEL_CAPACITY);
            let decoder = coding.map(Decoder::new);
            actix_rt::spawn(pump(response, tx, self.idle, provider.name.clone(), decoder));
            UpstreamBody::chunks(rx)
        } else {
            let read = tokio::time::timeout(self.idle, response.body().limit(MAX_WHOLE_BODY_BYTES));
            let read = tokio::select! {
                biased;
                _ = &mut client_gone => return Err(GatewayError::ClientClosed),
                read = read => read,
            };
            let body = self.whole_body(read)?;
            match coding {
                None => UpstreamBody::whole(body),
                Some(coding) => {
                    UpstreamBody::whole(decode::decode_whole(coding, body, MAX_WHOLE_BODY_BYTES).map_err(protocol)?)
                }
            }
        };
        Ok(UpstreamReply { status, headers, body, upstream_time: started.elapsed() })
    }

    /// What every attempt sends: the endpoint, method, timeout and shared headers, built once per request.
    fn frozen(&self, call: UpstreamCall, url: &str, headers: HeaderMap) -> Result<FrozenClientRequest, GatewayError> {
        let provider = &self.provider;
        let mut request = match (call, &self.messages_uri) {
            (UpstreamCall::ListModels, _) => self.client.get(url),
            (UpstreamCall::Messages, Some(uri)) if uri == url => self.client.post(uri.clone()),
            (_, _) => self.client.post(url),
        }
        .timeout(provider.request_timeout);
        *request.headers_mut() = headers;
        request
            .freeze()
            .map_err(|e| GatewayError::UpstreamUnreachable { provider: provider.name.clone(), detail: e.to_string() })
    }

    fn whole_body(
        &self,
        read: Result<Result<bytes::Bytes, PayloadError>, tokio::time::error::Elapsed>,
    ) -> Result<bytes::Bytes, GatewayError> {
        let provider = self.provider.name.clone();
        match read {
            Err(_) => Err(GatewayError::UpstreamTimeout { provider, secs: self.idle.as_secs() }),
            Ok(Err(PayloadError::Overflow)) => {
                let detail = format!("response body larger than {MAX_WHOLE_BODY_BYTES} bytes");
                Err(GatewayError::UpstreamProtocol { provider, detail })
            }
            Ok(Err(e)) => {
                let detail = format!("connection lost while reading the response: {e}");
                Err(GatewayError::UpstreamUnreachable { provider, detail })
            }
            Ok(Ok(bytes)) => Ok(bytes),
        }
    }
}

type Response = awc::ClientResponse;

/// What one request sends, for the attempts (and their signatures).
#[derive(Clone, Copy)]
struct Sent<'a> {
    call: UpstreamCall,
    url: &'a str,
    body: &'a super::OutgoingBody,
}

/// Sends until a response head should go to the client: a success, a non-retriable status, or the last retry.
async fn attempts(
    provider: &Provider,
    request: &FrozenClientRequest,
    sent: Sent<'_>,
    client_key: Option<&super::ClientKey>,
) -> Result<Response, GatewayError> {
    let Sent { call, url, body } = sent;
    let pool = &provider.runtime.keys;
    let mut tried_keys: Vec<usize> = Vec::new();
    let mut retries = 0u32;
    let mut cloud = CloudCredentials::of(provider);
    loop {
        let key_index = match provider.auth {
            Auth::Static(_) => Some(
                pool.pick(&tried_keys, now_millis())
                    .ok_or_else(|| GatewayError::Internal(format!("provider '{}' has no usable key", provider.name)))?,
            ),
            Auth::Passthrough | Auth::Cloud => None,
        };
        let mut extra = key_headers(provider, client_key, key_index)?;
        if let Some(cloud) = cloud.as_mut() {
            cloud.add_headers(provider, url, body, &mut extra).await?;
        }
        let request = request.extra_headers(extra);
        let sent = match call {
            UpstreamCall::ListModels => request.send().await,
            UpstreamCall::Messages | UpstreamCall::CountTokens => request.send_body(body.clone()).await,
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
                if cloud.as_mut().is_some_and(|cloud| cloud.refresh_after(status)) {
                    // The gateway's access token was refused: one more attempt with a fresh one, not a retry.
                    continue;
                }
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

/// The headers one attempt adds: the chosen static key or the client's own, and the provider's custom headers.
fn key_headers(
    provider: &Provider,
    client_key: Option<&super::ClientKey>,
    key_index: Option<usize>,
) -> Result<HeaderMap, GatewayError> {
    if provider.auth == Auth::Cloud {
        // The gateway's own cloud credentials (added per attempt); a client's key never goes to such a provider.
        return Ok(custom_attempt_headers(&provider.custom_headers));
    }
    let key = match (key_index.and_then(|i| provider.static_key(i)), client_key) {
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
