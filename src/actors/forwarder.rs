//! The forwarder actor: one per worker thread, started by the server's app factory, owning that worker's
//! upstream senders — one [`Upstream`] per provider, built on first use and rebuilt when the provider's
//! configuration changes — over the worker's HTTP client. Forwarding never crosses threads: `awc` clients and
//! their response streams are not `Send`, so the sender runs on the worker that serves the request.
//!
//! The actor is a shell: the map is a plain [`Senders`], and the sending is [`Upstream::send`]. Requests reach it
//! through a [`ForwarderHandle`], whose future also carries the client's presence: dropping it (the client went
//! away and actix dropped the handler) abandons the upstream request, so no tokens keep being generated for
//! nobody.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, Context, Handler, Message, ResponseFuture};
use tokio::sync::oneshot;

use crate::config::{Limits, Provider};
use crate::error::GatewayError;
use crate::upstream::{worker_client, Upstream, UpstreamReply, UpstreamRequest};

/// One worker's senders by provider name, each with the provider configuration it was built for. Keyed by name,
/// so the map never holds more than one entry per provider, whatever the number of reloads.
pub struct Senders {
    client: awc::Client,
    by_name: HashMap<String, Upstream, foldhash::fast::RandomState>,
}

impl Senders {
    /// An empty map over this worker's client.
    pub fn new(client: awc::Client) -> Self {
        Self { client, by_name: HashMap::default() }
    }

    /// The sender for `provider`, rebuilt if the provider's configuration (its `Arc`) changed since it was built.
    pub fn sender_for(&mut self, provider: &Arc<Provider>, idle: Duration) -> &Upstream {
        let current = self.by_name.get(&provider.name).is_some_and(|s| Arc::ptr_eq(s.provider(), provider));
        if !current {
            let sender = Upstream::new(provider.clone(), self.client.clone(), idle);
            self.by_name.insert(provider.name.clone(), sender);
        }
        &self.by_name[&provider.name]
    }

    /// How many providers this worker has senders for.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

/// The actor owning one worker's [`Senders`].
pub struct Forwarder {
    senders: Senders,
}

impl Actor for Forwarder {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(4096);
    }
}

/// Send one request upstream and answer with the response head (the body follows as it arrives).
#[derive(Message)]
#[rtype(result = "Result<UpstreamReply, GatewayError>")]
pub struct Forward {
    pub provider: Arc<Provider>,
    /// How long the upstream's body may stay silent.
    pub idle: Duration,
    pub request: UpstreamRequest,
    /// Resolves when the client's handler is gone: the sender then stops waiting and drops the upstream request.
    pub client_gone: oneshot::Receiver<()>,
}

impl Handler<Forward> for Forwarder {
    type Result = ResponseFuture<Result<UpstreamReply, GatewayError>>;

    fn handle(&mut self, msg: Forward, _: &mut Context<Self>) -> Self::Result {
        let sender = self.senders.sender_for(&msg.provider, msg.idle).clone();
        Box::pin(sender.send(msg.request, msg.client_gone))
    }
}

/// What the request path holds: the address of its worker's forwarder.
#[derive(Clone)]
pub struct ForwarderHandle(Addr<Forwarder>);

impl ForwarderHandle {
    /// Starts the forwarder of the current worker thread; its HTTP client is built from `limits`.
    pub fn start(limits: &Limits) -> Self {
        Self(Forwarder { senders: Senders::new(worker_client(limits)) }.start())
    }

    /// Sends `request` to `provider` and waits for the response head. Dropping the returned future cancels the
    /// upstream request.
    pub async fn forward(
        &self,
        provider: &Arc<Provider>,
        limits: &Limits,
        request: UpstreamRequest,
    ) -> Result<UpstreamReply, GatewayError> {
        let (_present, client_gone) = oneshot::channel::<()>();
        let msg = Forward { provider: provider.clone(), idle: limits.stream_idle_timeout, request, client_gone };
        self.0.send(msg).await.map_err(|e| GatewayError::Internal(format!("forwarder unavailable: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_from, ConfigSource};

    fn providers(base: &str) -> Vec<Arc<Provider>> {
        let env = [("ANTHROPIC_API_KEY", "k"), ("ANTHROPIC_BASE_URL", base), ("OPENAI_API_KEY", "k")];
        let src = ConfigSource { path: None, env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        load_from(&src).unwrap().snapshot.providers.into_values().collect()
    }

    #[actix_rt::test]
    async fn one_sender_per_provider_rebuilt_when_its_configuration_changes() {
        let mut senders = Senders::new(worker_client(&Limits::default()));
        let idle = Duration::from_secs(1);
        let first = providers("http://127.0.0.1:1");
        for provider in &first {
            assert!(Arc::ptr_eq(senders.sender_for(provider, idle).provider(), provider));
        }
        assert_eq!(senders.len(), 2);
        let again = senders.sender_for(&first[0], idle).provider().clone();
        assert!(Arc::ptr_eq(&again, &first[0]), "unchanged configuration: the same sender");
        let reloaded = providers("http://127.0.0.1:2");
        let anthropic = reloaded.iter().find(|p| p.name == "anthropic").unwrap();
        assert!(Arc::ptr_eq(senders.sender_for(anthropic, idle).provider(), anthropic), "rebuilt");
        assert_eq!(senders.len(), 2, "replaced, not added");
    }
}
