//! The connection to Redis shared by the ledgers and the key records: one multiplexed connection that
//! reconnects by itself (redis' `ConnectionManager`), whether Redis answers (`up`), and a probe that notices
//! when it comes back. While Redis is known to be down, request-path calls fail at once instead of each
//! waiting for a timeout; the probe (every 250 ms while down) brings them back within a second of Redis
//! returning, and replaces the connection outright if reconnecting keeps failing.
//!
//! Each thread that calls (each actix worker) gets a connection of its own, made on its first call: a
//! multiplexed connection's reader and writer run as a task of the thread that first used it, so a shared one
//! makes every other worker's call cross threads twice, each a wake-up of another thread (tens of µs on a busy
//! machine, per admission).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::RedisError;

use crate::limits::store::StoreError;

/// A probe must be answered within this time.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// After this long down, the connection is rebuilt from scratch at each probe.
const REBUILD_AFTER_MS: u64 = 3_000;

struct LinkState {
    client: redis::Client,
    connection: ArcSwap<ConnectionManager>,
    /// This link among the process's (tests run several gateways): threads keep their connections by it.
    id: u64,
    /// Bumped when the connection is rebuilt, so threads replace theirs too.
    generation: AtomicU64,
    up: AtomicBool,
    /// When the link went down (Unix ms), 0 while up.
    down_since_ms: AtomicU64,
    error: Mutex<Option<String>>,
}

/// Ids of links, never reused.
static NEXT_LINK_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's connections: (link, its generation, connection). A link is one process-wide store; tests run
    /// several gateways, hence a list.
    static THREAD_CONNECTIONS: std::cell::RefCell<Vec<(u64, u64, ConnectionManager)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The shared connection to Redis. Cheap to clone.
#[derive(Clone)]
pub struct RedisLink(Arc<LinkState>);

fn manager(client: &redis::Client) -> Result<ConnectionManager, StoreError> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(|e| redis_error(&e))
}

impl RedisLink {
    /// A link that connects on first use. Must be called inside a tokio runtime (the actix system).
    pub fn new(client: redis::Client) -> Result<Self, StoreError> {
        let connection = manager(&client)?;
        Ok(RedisLink(Arc::new(LinkState {
            client,
            connection: ArcSwap::from_pointee(connection),
            id: NEXT_LINK_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            up: AtomicBool::new(true),
            down_since_ms: AtomicU64::new(0),
            error: Mutex::new(None),
        })))
    }

    /// The client, for connections of their own (pub/sub).
    pub fn client(&self) -> &redis::Client {
        &self.0.client
    }

    /// `host:port` of Redis; never the password.
    pub fn address(&self) -> String {
        self.0.client.get_connection_info().addr().to_string()
    }

    /// This thread's multiplexed connection (made on its first call; see the module's notes), or the shared one
    /// when a connection cannot be made here.
    pub fn connection(&self) -> ConnectionManager {
        let link = self.0.id;
        let generation = self.0.generation.load(Ordering::Relaxed);
        THREAD_CONNECTIONS.with(|mine| {
            let mut mine = mine.borrow_mut();
            if let Some((_, _, connection)) = mine.iter().find(|(l, g, _)| *l == link && *g == generation) {
                return connection.clone();
            }
            let Ok(connection) = manager(&self.0.client) else { return (**self.0.connection.load()).clone() };
            mine.retain(|(l, _, _)| *l != link);
            mine.push((link, generation, connection.clone()));
            connection
        })
    }

    pub fn is_up(&self) -> bool {
        self.0.up.load(Ordering::Relaxed)
    }

    /// Why Redis is down, while it is.
    pub fn last_error(&self) -> Option<String> {
        if self.is_up() {
            return None;
        }
        self.0.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Records a failed call: the link is down until a call or the probe succeeds.
    pub fn failed(&self, error: &StoreError) {
        *self.0.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(error.0.clone());
        if self.0.up.swap(false, Ordering::Relaxed) {
            self.0.down_since_ms.store(crate::limits::now_ms(), Ordering::Relaxed);
            log::warn!("limits store: Redis at {} is unavailable: {}", self.address(), error.0);
        }
    }

    /// Records a successful call.
    pub fn succeeded(&self) {
        if !self.0.up.swap(true, Ordering::Relaxed) {
            self.0.down_since_ms.store(0, Ordering::Relaxed);
            log::info!("limits store: Redis at {} answers again", self.address());
        }
    }

    /// Runs `call` on the connection within `timeout`, recording the outcome. With `fail_fast`, a link known to
    /// be down fails at once (the request path: the probe finds out when Redis is back).
    pub async fn run<T, F, Fut>(&self, timeout: Duration, fail_fast: bool, call: F) -> Result<T, StoreError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        if fail_fast && !self.is_up() {
            let why = self.last_error().unwrap_or_else(|| "unavailable".into());
            return Err(StoreError(format!("Redis at {} is down ({why})", self.address())));
        }
        let result = match tokio::time::timeout(timeout, call(self.connection())).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) if !is_connection_error(&error) => {
                // Redis answered (a script error): the link is fine, the call is not.
                self.succeeded();
                return Err(redis_error(&error));
            }
            Ok(Err(error)) => Err(redis_error(&error)),
            Err(_) => Err(StoreError(format!("Redis did not answer within {} ms", timeout.as_millis()))),
        };
        match &result {
            Ok(_) => self.succeeded(),
            Err(error) => self.failed(error),
        }
        result
    }

    /// Starts the probe: PING every second while up, every 250 ms while down.
    pub fn start_probe(&self) {
        let weak = Arc::downgrade(&self.0);
        actix_rt::spawn(async move {
            loop {
                let pause = match weak.upgrade() {
                    Some(state) if state.up.load(Ordering::Relaxed) => Duration::from_secs(1),
                    Some(_) => Duration::from_millis(250),
                    None => return,
                };
                tokio::time::sleep(pause).await;
                let Some(state) = weak.upgrade() else { return };
                RedisLink(state).probe().await;
            }
        });
    }

    async fn probe(&self) {
        let now = crate::limits::now_ms();
        let since = self.0.down_since_ms.load(Ordering::Relaxed);
        if !self.is_up() && since > 0 && now.saturating_sub(since) >= REBUILD_AFTER_MS {
            // Reconnecting in place keeps failing: start over with a new connection (at most every 3 s).
            if let Ok(fresh) = manager(&self.0.client) {
                self.0.connection.store(Arc::new(fresh));
                self.0.generation.fetch_add(1, Ordering::Relaxed);
            }
            self.0.down_since_ms.store(now, Ordering::Relaxed);
        }
        let ping = |mut connection: ConnectionManager| async move {
            redis::cmd("PING").query_async::<String>(&mut connection).await
        };
        let _ = self.run(PROBE_TIMEOUT, false, ping).await;
    }
}

/// Errors after which the connection is suspect (as opposed to Redis answering with an error).
pub fn is_connection_error(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
}

/// A store error for a Redis error: the failing operation, never the URL or the data.
pub fn redis_error(error: &RedisError) -> StoreError {
    StoreError(format!("Redis: {error}"))
}
