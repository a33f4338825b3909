//! The key and team records in Redis, shared by every replica: three hashes (keys by id, teams by name,
//! tombstones by secret hash) and a version, changed only by a compare-and-set script that also announces the
//! new version on a pub/sub channel. Each replica follows: it reloads the catalog when an announcement arrives
//! and, as a safety net against a missed message, when the version it polls every [`POLL_INTERVAL`] differs.
//! So a change (a revocation above all) reaches every replica within a second.

use std::time::Duration;

use futures_util::StreamExt;
use redis::Script;

use super::records::{json, Catalog, RecordChange};
use crate::limits::redis::RedisLink;
use crate::limits::StoreError;

pub const KEYS_HASH: &str = "gatehouse:keys";
pub const TEAMS_HASH: &str = "gatehouse:teams";
pub const REVOKED_HASH: &str = "gatehouse:keys:revoked";
pub const VERSION_KEY: &str = "gatehouse:keys:version";
pub const CHANNEL: &str = "gatehouse:keys:changed";

/// The follower's safety-net poll of the version.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Admin reads and writes give up after this long.
const TIMEOUT: Duration = Duration::from_secs(2);

/// KEYS: version, keys, teams, revoked. ARGV: expected version, channel, version to set (0: the next), then
/// (operation, field, value) triples. Returns the new version, or 0 when the stored version is not the expected.
static COMMIT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(
        r"
local held = tonumber(redis.call('GET', KEYS[1]) or '0')
if held ~= tonumber(ARGV[1]) then return 0 end
for i = 4, #ARGV, 3 do
  local op, field, value = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if op == 'key' then redis.call('HSET', KEYS[2], field, value)
  elseif op == 'unkey' then redis.call('HDEL', KEYS[2], field)
  elseif op == 'team' then redis.call('HSET', KEYS[3], field, value)
  elseif op == 'unteam' then redis.call('HDEL', KEYS[3], field)
  elseif op == 'revoke' then redis.call('HSET', KEYS[4], field, value)
  end
end
local version
if tonumber(ARGV[3]) > 0 then
  version = tonumber(ARGV[3])
  redis.call('SET', KEYS[1], ARGV[3])
else
  version = redis.call('INCR', KEYS[1])
end
redis.call('PUBLISH', ARGV[2], version)
return version
",
    )
});

/// The records in Redis.
#[derive(Clone)]
pub struct RedisRecords {
    link: RedisLink,
}

impl RedisRecords {
    pub fn new(link: RedisLink) -> Self {
        Self { link }
    }

    pub fn link(&self) -> &RedisLink {
        &self.link
    }

    /// The catalog, read in one transaction.
    pub async fn load(&self) -> Result<Catalog, StoreError> {
        type Raw = (Option<u64>, Vec<(String, String)>, Vec<(String, String)>, Vec<(String, u64)>);
        let (version, keys, teams, revoked): Raw = self
            .link
            .run(TIMEOUT, false, |mut connection| async move {
                redis::pipe()
                    .atomic()
                    .get(VERSION_KEY)
                    .hgetall(KEYS_HASH)
                    .hgetall(TEAMS_HASH)
                    .hgetall(REVOKED_HASH)
                    .query_async(&mut connection)
                    .await
            })
            .await?;
        let mut catalog = Catalog { version: version.unwrap_or(0), ..Catalog::default() };
        for (id, text) in keys {
            match serde_json::from_str(&text) {
                Ok(key) => drop(catalog.keys.insert(id, key)),
                Err(e) => log::error!("{KEYS_HASH} field '{id}' is not a key record, ignored: {e}"),
            }
        }
        for (name, text) in teams {
            match serde_json::from_str(&text) {
                Ok(team) => drop(catalog.teams.insert(name, team)),
                Err(e) => log::error!("{TEAMS_HASH} field '{name}' is not a team record, ignored: {e}"),
            }
        }
        catalog.revoked = revoked.into_iter().collect();
        Ok(catalog)
    }

    /// Applies `changes` if the stored version is still `expected` (and, with `set_version`, stores that version
    /// rather than the next: writing a replica's catalog back into a Redis that lost it).
    pub async fn commit(
        &self,
        expected: u64,
        changes: &[RecordChange],
        set_version: Option<u64>,
    ) -> Result<Option<u64>, StoreError> {
        let mut call = COMMIT.prepare_invoke();
        call.key(VERSION_KEY).key(KEYS_HASH).key(TEAMS_HASH).key(REVOKED_HASH);
        call.arg(expected).arg(CHANNEL).arg(set_version.unwrap_or(0));
        for change in changes {
            match change {
                RecordChange::PutKey(key) => call.arg("key").arg(&*key.id).arg(json(key)),
                RecordChange::RemoveKey { id, secret_hash, at } => {
                    call.arg("unkey").arg(id).arg("").arg("revoke").arg(secret_hash).arg(*at)
                }
                RecordChange::PutTeam(team) => call.arg("team").arg(&*team.name).arg(json(team)),
                RecordChange::RemoveTeam { name } => call.arg("unteam").arg(name).arg(""),
            };
        }
        let version: u64 = self
            .link
            .run(TIMEOUT, false, |mut connection| async move { call.invoke_async(&mut connection).await })
            .await?;
        Ok((version > 0).then_some(version))
    }

    async fn version(&self) -> Result<u64, StoreError> {
        self.link
            .run(TIMEOUT, false, |mut connection| async move {
                redis::cmd("GET").arg(VERSION_KEY).query_async::<Option<u64>>(&mut connection).await
            })
            .await
            .map(|v| v.unwrap_or(0))
    }

    /// Follows the catalog until `emit` returns false: `emit` gets it at start, at each announcement and when the
    /// poll finds another version. Connection failures are retried forever (100 ms to 1 s apart).
    pub async fn follow<F: FnMut(Catalog) -> bool>(self, mut emit: F) {
        let mut delay = Duration::from_millis(100);
        loop {
            match self.session(&mut emit).await {
                Ok(()) => return,
                Err(error) => log::debug!("key records: following Redis failed, retrying: {error}"),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(1));
        }
    }

    async fn session<F: FnMut(Catalog) -> bool>(&self, emit: &mut F) -> Result<(), StoreError> {
        let subscribe = async {
            let mut pubsub = self.link.client().get_async_pubsub().await.map_err(|e| StoreError(e.to_string()))?;
            pubsub.subscribe(CHANNEL).await.map_err(|e| StoreError(e.to_string()))?;
            Ok::<_, StoreError>(pubsub)
        };
        let pubsub = tokio::time::timeout(TIMEOUT, subscribe)
            .await
            .map_err(|_| StoreError("subscribing took too long".into()))??;
        // Subscribed before reading, so nothing stored in between is missed.
        let catalog = self.load().await?;
        let mut known = catalog.version;
        if !emit(catalog) {
            return Ok(());
        }
        let mut messages = pubsub.into_on_message();
        let mut poll = tokio::time::interval(POLL_INTERVAL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let changed = tokio::select! {
                message = messages.next() => match message {
                    Some(_) => true,
                    None => return Err(StoreError("the subscription connection closed".into())),
                },
                _ = poll.tick() => self.version().await? != known,
            };
            if changed {
                let catalog = self.load().await?;
                known = catalog.version;
                if !emit(catalog) {
                    return Ok(());
                }
            }
        }
    }
}
