//! The forwarder actor: one per worker thread, started by the server's app factory, owning that worker's
//! upstream senders — one [`Upstream`] per provider, each over its own HTTP client (its connection pool), built
//! on first use and rebuilt when the provider's configuration changes. Forwarding never crosses threads: `awc`
//! clients and their response streams are not `Send`, so the sender runs on the worker that serves the request.
//!
//! awc closes an idle connection only when the next request to the same host looks for one, so a burst to a
//! provider that then goes quiet would keep its sockets open forever. Once a second (a [`Sweep`] message from a
//! timer task, so that requests never poll a timer) the actor drops the senders of providers that have not been
//! used for their idle timeout: their pool goes with them, and its idle connections are closed (connections still
//! carrying a stream close when the stream ends). A request only marks its sender used: no clock is read.
//!
//! The actor is a shell: the map is a plain [`Senders`], and the sending is [`Upstream::send`]. Requests reach it
//! through a [`ForwarderHandle`], whose future also carries the client's presence: dropping it (the client went
//! away and actix dropped the handler) abandons the upstream request, so no tokens keep being generated for
//! nobody.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, Addr, Context, Handler, Message, ResponseFuture};
use tokio::sync::oneshot;

use crate::config::{Limits, Provider};
use crate::error::GatewayError;
use crate::upstream::{provider_client, Upstream, UpstreamReply, UpstreamRequest};

/// How often idle senders are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// One worker's senders by provider name, each with the provider configuration it was built for. Keyed by name,
/// so the map never holds more than one entry per provider, whatever the number of reloads.
#[derive(Default)]
pub struct Senders {
    by_name: HashMap<String, Entry, foldhash::fast::RandomState>,
}

/// A sender and its use since the last sweep.
struct Entry {
    sender: Upstream,
    /// Used since the last sweep.
    used: bool,
    /// The first sweep that found it unused since then (within a sweep period of its last use).
    quiet_since: Instant,
}

impl Senders {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sender for `provider`, rebuilt (with a new connection pool) if the provider's configuration (its `Arc`)
    /// changed since it was built; marked as used.
    pub fn sender_for(&mut self, provider: &Arc<Provider>, idle: Duration) -> &Upstream {
        let current = self.by_name.get_mut(&provider.name).filter(|e| Arc::ptr_eq(e.sender.provider(), provider));
        match current {
            Some(entry) => entry.used = true,
            None => {
                let sender = Upstream::new(provider.clone(), provider_client(&provider.connections), idle);
                let entry = Entry { sender, used: true, quiet_since: Instant::now() };
                self.by_name.insert(provider.name.clone(), entry);
            }
        }
        &self.by_name[&provider.name].sender
    }

    /// Called about once a second: drops the senders that have not been used for their provider's idle timeout
    /// (measured from the first sweep after their last use): their idle connections close.
    pub fn sweep(&mut self, now: Instant) {
        self.by_name.retain(|_, entry| {
            if std::mem::take(&mut entry.used) {
                entry.quiet_since = now;
                return true;
            }
            now.duration_since(entry.quiet_since) < entry.sender.provider().connections.idle_timeout
        });
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

/// Drop the senders idle for their timeout (sent by the forwarder's timer task).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Sweep;

impl Handler<Sweep> for Forwarder {
    type Result = ();

    fn handle(&mut self, _: Sweep, _: &mut Context<Self>) {
        self.senders.sweep(Instant::now());
    }
}

/// What the request path holds: the address of its worker's forwarder.
#[derive(Clone)]
pub struct ForwarderHandle(Addr<Forwarder>);

impl ForwarderHandle {
    /// Starts the forwarder of the current worker thread.
    pub fn start() -> Self {
        let forwarder = Forwarder { senders: Senders::new() }.start();
        let weak = forwarder.downgrade();
        actix_rt::spawn(async move {
            let mut every = actix_rt::time::interval(SWEEP_EVERY);
            loop {
                every.tick().await;
                let Some(forwarder) = weak.upgrade() else { return };
                forwarder.do_send(Sweep);
            }
        });
        Self(forwarder)
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
        let mut senders = Senders::new();
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

    #[actix_rt::test]
    async fn senders_unused_for_their_idle_timeout_are_dropped() {
        let mut senders = Senders::new();
        let all = providers("http://127.0.0.1:1");
        let timeout = all[0].connections.idle_timeout;
        let start = Instant::now();
        senders.sender_for(&all[0], Duration::from_secs(1));
        senders.sweep(start + Duration::from_secs(1));
        senders.sweep(start + timeout);
        assert_eq!(senders.len(), 1, "used just before the first sweep: kept for the timeout after it");
        senders.sender_for(&all[0], Duration::from_secs(1));
        senders.sweep(start + timeout * 3);
        assert_eq!(senders.len(), 1, "used again since: kept");
        senders.sweep(start + timeout * 4 - Duration::from_millis(1));
        assert_eq!(senders.len(), 1, "quiet for less than the timeout");
        senders.sweep(start + timeout * 4);
        assert!(senders.is_empty(), "quiet for the timeout: dropped with its pool");
    }
}
