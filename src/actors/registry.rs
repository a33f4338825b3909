//! The provider-registry actor: owns the configuration and publishes immutable snapshots. Requests read the
//! current snapshot without a message (an atomic load); changes (admin edits, reloads, SIGHUP, overlays other
//! replicas stored in Redis) go through this actor, one at a time. It is a shell: the logic is in
//! [`crate::registry::LiveConfig`] and [`crate::replication`]; the actor adds ordering, I/O and the audit log.

use std::rc::Rc;
use std::sync::Arc;

use actix::fut::{ready, wrap_future};
use actix::{
    Actor, ActorFutureExt, AsyncContext, AtomicResponse, Context, Handler, Message, MessageResult, WrapFuture,
};
use serde::Serialize;

use crate::config::{Overlay, Snapshot};
use crate::error::GatewayError;
use crate::log_safe::Escaped;
use crate::registry::{Adoption, Edit, LiveConfig, Transition};
use crate::replication::follower::{follow, Event};
use crate::replication::redis_store::RedisStore;
use crate::replication::{write_through, OverlayStore};

pub use crate::registry::SnapshotHandle;

/// Owns the live configuration and, with `REDIS_URL`, the link to the shared overlay.
pub struct Registry {
    live: LiveConfig,
    shared: Option<Shared>,
}

/// The Redis side of a replica.
struct Shared {
    client: redis::Client,
    store: Rc<RedisStore>,
    link: Link,
}

/// The follower's connection state, as `GET /admin/config` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Link {
    /// `host:port` (or socket path) of Redis; never the password.
    pub address: String,
    /// Whether the follower is subscribed right now.
    pub connected: bool,
    /// Why the last connection attempt failed or ended, while disconnected.
    pub error: Option<String>,
}

impl Registry {
    /// `redis`: the shared store, or `None` to keep admin changes in this process only.
    pub fn new(live: LiveConfig, redis: Option<redis::Client>) -> Self {
        let shared = redis.map(|client| {
            let link = Link { address: client.get_connection_info().addr().to_string(), ..Link::default() };
            Shared { store: Rc::new(RedisStore::new(client.clone())), client, link }
        });
        Self { live, shared }
    }

    fn on_event(&mut self, event: Event, ctx: &mut Context<Self>) {
        let Some(shared) = self.shared.as_mut() else { return };
        match event {
            Event::Connected => {
                log::info!("following the shared configuration overlay in Redis");
                shared.link.connected = true;
                shared.link.error = None;
            }
            Event::Lost(reason) => {
                if shared.link.connected || shared.link.error.as_deref() != Some(reason.as_str()) {
                    log::warn!(
                        "Redis unavailable ({reason}): serving configuration v{}, admin changes refused, reconnecting",
                        self.live.snapshot().version
                    );
                }
                shared.link.connected = false;
                shared.link.error = Some(reason);
            }
            Event::Overlay(remote) => self.adopt(remote, ctx),
        }
    }

    fn adopt(&mut self, remote: Overlay, ctx: &mut Context<Self>) {
        let held = remote.version;
        match self.live.adopt(remote) {
            Adoption::Unchanged | Adoption::StillRefused => {}
            Adoption::Applied(t) => log::info!(
                "applied shared overlay v{} from Redis: config v{} -> v{} (overlay v{} -> v{})",
                t.overlay_to,
                t.from,
                t.to,
                t.overlay_from,
                t.overlay_to
            ),
            Adoption::Refused(reason) => log::error!(
                "shared overlay v{held} from Redis does not validate on this replica, keeping configuration v{}: {}",
                self.live.snapshot().version,
                Escaped(&reason)
            ),
            Adoption::StoreBehind => self.write_back(held, ctx),
        }
    }

    /// Redis holds an older overlay than this replica (it restarted empty or was flushed): store ours again. If
    /// another replica does it first, the compare-and-set fails and its overlay arrives through the follower.
    fn write_back(&mut self, held: u64, ctx: &mut Context<Self>) {
        let Some(shared) = self.shared.as_ref() else { return };
        let store = shared.store.clone();
        let ours = self.live.overlay().clone();
        ctx.spawn(wrap_future(async move {
            match store.compare_and_set(held, &ours).await {
                Ok(crate::replication::CasOutcome::Stored) => log::warn!(
                    "Redis held overlay v{held}, older than this replica's v{}: wrote v{} back",
                    ours.version,
                    ours.version
                ),
                Ok(crate::replication::CasOutcome::Conflict) => {}
                Err(error) => log::warn!("could not write the overlay back to Redis: {error}"),
            }
        }));
    }
}

impl Actor for Registry {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        #[cfg(unix)]
        ctx.spawn(wrap_future(reload_on_hangup(ctx.address().downgrade())));
        if self.live.snapshot().admin_key.is_some() {
            match &self.shared {
                Some(shared) => {
                    log::info!("admin API enabled; changes shared through Redis at {}", shared.link.address)
                }
                None => log::info!("admin API enabled; changes live in this process until it restarts (no REDIS_URL)"),
            }
        }
        if let Some(shared) = &self.shared {
            let registry = ctx.address().downgrade();
            let emit = move |event| match registry.upgrade() {
                Some(addr) => {
                    addr.do_send(Followed(event));
                    true
                }
                None => false,
            };
            ctx.spawn(wrap_future(follow(shared.client.clone(), emit)));
        }
    }
}

/// `SIGHUP` reloads, as `POST /admin/reload` does.
#[cfg(unix)]
async fn reload_on_hangup(registry: actix::WeakAddr<Registry>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(error) => {
            log::warn!("SIGHUP will not reload the configuration: {error}");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        let Some(addr) = registry.upgrade() else { return };
        addr.do_send(Reload { by: "SIGHUP".into() });
    }
}

/// The audit line of an admin change. `what` names the provider from the request's path and the error may quote
/// the change: both are escaped.
fn audit(by: &str, what: &str, result: &Result<Transition, GatewayError>) {
    let what = Escaped(what);
    match result {
        Ok(t) => log::info!(
            "admin {by}: {what}: config v{} -> v{} (overlay v{} -> v{})",
            t.from,
            t.to,
            t.overlay_from,
            t.overlay_to
        ),
        Err(error) => log::warn!("admin {by}: {what}: refused ({}): {}", error.kind(), Escaped(&error.to_string())),
    }
}

/// Re-read the configuration file and environment, keeping admin changes on top.
#[derive(Message)]
#[rtype(result = "Result<Transition, GatewayError>")]
pub struct Reload {
    /// Who asked, for the audit log: an admin key's fingerprint, or `SIGHUP`.
    pub by: String,
}

impl Handler<Reload> for Registry {
    type Result = Result<Transition, GatewayError>;

    fn handle(&mut self, msg: Reload, _: &mut Context<Self>) -> Self::Result {
        let result = self.live.reload();
        audit(&msg.by, "reload", &result);
        result
    }
}

/// Create, replace or remove one provider.
#[derive(Message)]
#[rtype(result = "Result<Transition, GatewayError>")]
pub struct ApplyEdit {
    /// The change, not yet validated.
    pub edit: Edit,
    /// Who asked, for the audit log (an admin key's fingerprint).
    pub by: String,
}

impl Handler<ApplyEdit> for Registry {
    /// Atomic: no other message is handled while a write waits for Redis, so the overlay it builds on stays put.
    type Result = AtomicResponse<Self, Result<Transition, GatewayError>>;

    fn handle(&mut self, msg: ApplyEdit, _: &mut Context<Self>) -> Self::Result {
        let what = msg.edit.describe();
        let Some(store) = self.shared.as_ref().map(|s| s.store.clone()) else {
            let result = self.live.apply(&msg.edit);
            audit(&msg.by, &what, &result);
            return AtomicResponse::new(Box::pin(ready(result)));
        };
        let ApplyEdit { edit, by } = msg;
        let base = self.live.base().clone();
        let current = self.live.overlay().clone();
        let written = async move { write_through(&*store, &base, current, &edit).await };
        AtomicResponse::new(Box::pin(written.into_actor(self).map(move |result, registry, _| {
            let result = result.map(|proposal| registry.live.commit(proposal));
            audit(&by, &what, &result);
            result
        })))
    }
}

/// Ask for the effective configuration and where it came from.
#[derive(Message)]
#[rtype(result = "Description")]
pub struct Describe;

/// The registry's view of itself, for `GET /admin/config`.
pub struct Description {
    /// The published snapshot.
    pub snapshot: Arc<Snapshot>,
    /// The admin changes it includes.
    pub overlay: Overlay,
    /// `None` without `REDIS_URL`.
    pub link: Option<Link>,
    /// A shared overlay version this replica could not apply, and why.
    pub refused: Option<(u64, String)>,
}

impl Handler<Describe> for Registry {
    type Result = MessageResult<Describe>;

    fn handle(&mut self, _: Describe, _: &mut Context<Self>) -> Self::Result {
        MessageResult(Description {
            snapshot: self.live.snapshot(),
            overlay: self.live.overlay().clone(),
            link: self.shared.as_ref().map(|s| s.link.clone()),
            refused: self.live.refused().cloned(),
        })
    }
}

/// An event from the follower task.
#[derive(Message)]
#[rtype(result = "()")]
struct Followed(Event);

impl Handler<Followed> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Followed, ctx: &mut Context<Self>) {
        self.on_event(msg.0, ctx);
    }
}
