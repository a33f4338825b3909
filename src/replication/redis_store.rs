//! The shared overlay in Redis: one JSON document and its version under two keys, written by a Lua
//! compare-and-set that also announces the new version on a pub/sub channel, so storing and announcing are one
//! atomic step.
//!
//! The document holds provider keys in clear (every replica needs them): the Redis instance must be protected
//! like the keys themselves (network access, `requirepass`/ACL in `REDIS_URL`).

use std::cell::RefCell;
use std::future::Future;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError};

use super::{CasOutcome, OverlayStore, StoreError};
use crate::config::Overlay;

/// The overlay document (JSON).
pub const OVERLAY_KEY: &str = "gatehouse:overlay";
/// Its version, an integer, kept apart so that the compare-and-set and the followers' polls need not parse JSON.
pub const VERSION_KEY: &str = "gatehouse:overlay:version";
/// Each stored version is published here.
pub const CHANNEL: &str = "gatehouse:overlay:changed";

/// Connect (TCP and handshake) within this time, or report Redis unavailable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Answer within this time, or report Redis unavailable.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// KEYS: version, overlay. ARGV: expected version, new version, new document, channel. Returns 1 when stored.
const CAS_SCRIPT: &str = r"
local held = tonumber(redis.call('GET', KEYS[1]) or '0')
if held ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[2])
return 1
";

/// The registry's connection to Redis for writes. Reconnects on demand: a connection found dead (Redis restarted)
/// is replaced once within the same call, so the first write after Redis returns succeeds.
pub struct RedisStore {
    client: redis::Client,
    connection: RefCell<Option<MultiplexedConnection>>,
}

impl RedisStore {
    /// Connects lazily, on the first write.
    pub fn new(client: redis::Client) -> Self {
        Self { client, connection: RefCell::new(None) }
    }

    async fn connection(&self) -> Result<MultiplexedConnection, RedisError> {
        let cached = self.connection.borrow().clone();
        if let Some(connection) = cached {
            return Ok(connection);
        }
        let connection = connect(&self.client).await?;
        *self.connection.borrow_mut() = Some(connection.clone());
        Ok(connection)
    }

    async fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn(MultiplexedConnection) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let reused = self.connection.borrow().is_some();
        let first = match self.connection().await {
            Ok(connection) => op(connection).await,
            Err(error) => Err(error),
        };
        let error = match first {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if !is_connection_error(&error) {
            return Err(store_error(&error));
        }
        self.connection.borrow_mut().take();
        if !reused {
            return Err(store_error(&error));
        }
        let retried = match self.connection().await {
            Ok(connection) => op(connection).await,
            Err(error) => Err(error),
        };
        retried.map_err(|error| {
            if is_connection_error(&error) {
                self.connection.borrow_mut().take();
            }
            store_error(&error)
        })
    }
}

impl OverlayStore for RedisStore {
    async fn compare_and_set(&self, expected: u64, overlay: &Overlay) -> Result<CasOutcome, StoreError> {
        let document = serde_json::to_string(overlay).map_err(|e| StoreError(format!("cannot encode overlay: {e}")))?;
        let stored: i64 = self
            .run(|mut connection| {
                let document = document.clone();
                async move {
                    redis::cmd("EVAL")
                        .arg(CAS_SCRIPT)
                        .arg(2)
                        .arg(VERSION_KEY)
                        .arg(OVERLAY_KEY)
                        .arg(expected)
                        .arg(overlay.version)
                        .arg(document)
                        .arg(CHANNEL)
                        .query_async(&mut connection)
                        .await
                }
            })
            .await?;
        Ok(if stored == 1 { CasOutcome::Stored } else { CasOutcome::Conflict })
    }

    async fn fetch(&self) -> Result<Overlay, StoreError> {
        let document = self.run(|mut connection| async move { get(&mut connection, OVERLAY_KEY).await }).await?;
        parse(document)
    }
}

/// Opens a multiplexed connection with gatehouse's timeouts.
pub async fn connect(client: &redis::Client) -> Result<MultiplexedConnection, RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    client.get_multiplexed_async_connection_with_config(&config).await
}

/// The stored overlay, read on `connection` (used by the follower, which has its own connection).
pub async fn fetch_with(connection: &mut MultiplexedConnection) -> Result<Overlay, StoreError> {
    parse(get(connection, OVERLAY_KEY).await.map_err(|e| store_error(&e))?)
}

/// The stored overlay version (0 when none), for the followers' periodic check.
pub async fn version_with(connection: &mut MultiplexedConnection) -> Result<u64, StoreError> {
    let value = get(connection, VERSION_KEY).await.map_err(|e| store_error(&e))?;
    value.map_or(Ok(0), |v| v.trim().parse().map_err(|_| StoreError(format!("{VERSION_KEY} is not a number"))))
}

async fn get(connection: &mut MultiplexedConnection, key: &str) -> Result<Option<String>, RedisError> {
    redis::cmd("GET").arg(key).query_async(connection).await
}

fn parse(document: Option<String>) -> Result<Overlay, StoreError> {
    let Some(document) = document else { return Ok(Overlay::default()) };
    // Position and category only: serde's message can quote a value, and values include keys.
    serde_json::from_str(&document).map_err(|e| {
        StoreError(format!(
            "{OVERLAY_KEY} is not a valid overlay document ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        ))
    })
}

/// Errors after which the connection is not worth keeping.
pub fn is_connection_error(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_timeout()
        || error.is_unrecoverable_error()
}

/// A store error for `error`. Redis errors name the failing operation, never the URL or the data.
pub fn store_error(error: &RedisError) -> StoreError {
    StoreError(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_document_is_the_empty_overlay() {
        assert_eq!(parse(None).unwrap(), Overlay::default());
    }

    #[test]
    fn a_broken_document_is_reported_without_its_content() {
        let err =
            parse(Some(r#"{"version":1,"changes":{"a":{"op":"upsert","provider":{"api_keys":"sk-secret"}}}}"#.into()))
                .unwrap_err();
        assert!(!err.0.contains("sk-secret"), "{err}");
        assert!(err.0.contains(OVERLAY_KEY), "{err}");
    }
}
