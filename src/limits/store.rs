//! Where the ledgers of keys and teams live, behind one interface the request path uses: admit a request
//! (check and reserve in one atomic step), keep its lease renewed while it runs, settle it when it ends, and read
//! usage.
//!
//! - Embedded (no `REDIS_URL`): the ledgers in this process under one lock, persisted under `DATA_DIR`
//!   ([`super::embedded`]).
//! - Redis (`REDIS_URL`, the deployed case): every admission is one atomic script run shared by every replica
//!   ([`super::redis`]).
//!
//! Settlements never wait: they are applied in memory (embedded) or queued and pipelined by a background task
//! (Redis). No admission waits more than [`ADMIT_TIMEOUT`] on Redis; when Redis cannot answer, the
//! [`FailurePolicy`] decides.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use derive_more::Display;
use serde::Serialize;

use super::book::{Amount, Headroom, Lease, Limits, Refusal, Subject, UsageNow};
use super::embedded::Embedded;
use super::lease::{LeaseGuard, LeaseIds, LeaseKeeper, Renewal};
use super::redis::{Clock, RedisLedgers};

/// The longest an admission waits for Redis.
pub const ADMIT_TIMEOUT: Duration = Duration::from_millis(500);
/// The default lease time to live (`LEASE_TTL_SECS`): how long a dead replica's reservations stay held before
/// they are charged in full.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(20);

/// One subject of an admission: the ledger's id (a key's or a team's) and its limits now.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectRef {
    pub id: std::sync::Arc<str>,
    pub limits: Limits,
}

/// A request to admit: its key, its team, and the lease that will hold its reservation.
#[derive(Debug, Clone)]
pub struct Admission {
    pub key: SubjectRef,
    pub team: Option<SubjectRef>,
    pub lease: Lease,
}

/// A finished request's real usage, replacing its reservation (or, with Redis, a standby lease taken or given
/// back: [`LeaseStep`]).
#[derive(Debug, Clone)]
pub struct Settlement {
    pub key: SubjectRef,
    pub team: Option<SubjectRef>,
    pub lease_id: super::book::LeaseId,
    pub used: Amount,
    pub step: LeaseStep,
}

/// What a settlement does to its lease. Only the Redis store grants standby leases (`redis/standby.rs`); the
/// embedded one answers every admission at once and only settles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(u8)]
pub enum LeaseStep {
    /// The request ended: its reservation is replaced by `used`.
    #[default]
    Settle = 0,
    /// A standby lease was taken by a request: its reservation becomes `used`, the request's estimate, and it
    /// enters the rpm window.
    Take = 1,
    /// A standby lease nobody took is given back: nothing is charged.
    GiveBack = 2,
}

/// A decision, and the lease the request holds when it took a standby (its own lease id was not used).
pub type Answer = (Decision, Option<super::book::LeaseId>);

/// The store could not answer (unreachable, too slow, unreadable). The message never holds a secret.
#[derive(Debug, Display, Clone, PartialEq, Eq)]
#[display("{_0}")]
pub struct StoreError(pub String);

/// The decision on one admission.
pub type Decision = Result<Headroom, (Subject, Refusal)>;

/// What keyed requests get while the store cannot answer (`LIMITS_ON_STORE_FAILURE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailurePolicy {
    /// 503 naming the limits store: no request runs without its limits being counted (the default: a budget
    /// that can be overspent during an outage is no budget).
    #[default]
    Closed,
    /// Admitted on this replica's cached keys (identity, disabled/expired/revoked as last seen, model lists)
    /// without rate limits or budgets; their spend is not recorded.
    Open,
}

impl FailurePolicy {
    /// Parses `closed` or `open`; the error names the setting.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "closed" => Ok(Self::Closed),
            "open" => Ok(Self::Open),
            other => Err(format!("LIMITS_ON_STORE_FAILURE: '{other}' is neither 'closed' nor 'open'")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
        }
    }
}

/// The store's state for `/health` and the `gatehouse_limits_store_up` metric.
#[derive(Debug, Clone, Serialize)]
pub struct StoreStatus {
    /// `embedded` or `redis`.
    pub kind: &'static str,
    pub up: bool,
    pub policy: FailurePolicy,
    pub lease_ttl_secs: u64,
    /// Why it is down, while it is.
    pub error: Option<String>,
    /// Leases this process renews now (its requests in flight).
    pub leases_held: usize,
    /// Requests admitted on a standby lease, without waiting on Redis, since the start (0: embedded).
    pub standby_admissions: u64,
}

enum Backend {
    Embedded(Arc<Embedded>),
    Redis(RedisLedgers),
}

struct Inner {
    backend: Backend,
    policy: FailurePolicy,
    lease_ttl: Duration,
    keeper: Arc<LeaseKeeper>,
    ids: LeaseIds,
    /// When the open policy last logged an unaccounted admission (ms), to log once per 10 s.
    open_logged_ms: AtomicU64,
}

/// The ledgers of every key and team. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct Store(Arc<Inner>);

impl Store {
    /// An in-process store that keeps nothing on disk (tests; the default lease time, policy closed).
    pub fn embedded() -> Self {
        Self::with(Backend::Embedded(Arc::new(Embedded::in_memory())), FailurePolicy::Closed, DEFAULT_LEASE_TTL)
    }

    /// The embedded store persisted in `db`.
    pub fn persisted(db: Arc<super::db::Db>, lease_ttl: Duration) -> Result<Self, StoreError> {
        Ok(Self::with(Backend::Embedded(Embedded::persisted(db)?), FailurePolicy::Closed, lease_ttl))
    }

    /// The Redis store on `link`; `clock` is [`Clock::Redis`] but in tests that compare with `book.rs`;
    /// `standby`: whether requests may be admitted on standby leases (on Redis's clock only).
    pub fn redis(
        link: super::redis::RedisLink,
        policy: FailurePolicy,
        lease_ttl: Duration,
        clock: Clock,
        standby: bool,
    ) -> Self {
        Self::with(Backend::Redis(RedisLedgers::new(link, clock, standby)), policy, lease_ttl)
    }

    fn with(backend: Backend, policy: FailurePolicy, lease_ttl: Duration) -> Self {
        Store(Arc::new(Inner {
            backend,
            policy,
            lease_ttl,
            keeper: Arc::default(),
            ids: LeaseIds::new(),
            open_logged_ms: AtomicU64::new(0),
        }))
    }

    /// Starts the background tasks: lease renewal every TTL/4 and, with Redis, the settlement pipeline and the
    /// connection probe. Call once, inside the actix system.
    pub fn start(&self) {
        let every = (self.0.lease_ttl / 4).max(Duration::from_millis(250));
        let store = Arc::downgrade(&self.0);
        actix_rt::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inner) = store.upgrade() else { return };
                let store = Store(inner);
                let held = store.0.keeper.held();
                if !held.is_empty() {
                    let now = super::now_ms();
                    store.renew(&held, now + store.lease_ttl_ms(), now).await;
                }
            }
        });
        if let Backend::Redis(redis) = &self.0.backend {
            redis.start();
        }
    }

    /// A new lease for a request reserving `reserved`, expiring one lease time after `now_ms`.
    pub fn lease(&self, reserved: Amount, now_ms: u64) -> Lease {
        Lease { id: self.0.ids.next().into(), expires_ms: now_ms + self.lease_ttl_ms(), reserved }
    }

    /// Checks every limit of the key and its team at `now_ms` and, when all have room, reserves — one atomic
    /// step. With Redis, Redis's clock is used (replicas with skewed clocks agree) and the lease lives one lease
    /// time (`lease.expires_ms - now_ms`) from it. `Err` only under the `closed` policy: the store did not answer
    /// within [`ADMIT_TIMEOUT`]; under `open` the request is admitted unaccounted instead.
    pub async fn admit(&self, admission: Admission, now_ms: u64) -> Result<Decision, StoreError> {
        Ok(self.admit_with(admission, now_ms, false).await?.0)
    }

    /// [`admit`](Self::admit) for a request: with Redis, it may take a standby lease this worker thread holds for
    /// its key and be answered without waiting on Redis; then it holds that lease (the answer's id) instead of
    /// its own.
    pub async fn admit_request(&self, admission: Admission, now_ms: u64) -> Result<Answer, StoreError> {
        self.admit_with(admission, now_ms, true).await
    }

    async fn admit_with(&self, admission: Admission, now_ms: u64, standby: bool) -> Result<Answer, StoreError> {
        let result = match &self.0.backend {
            Backend::Embedded(store) => return Ok((store.admit(admission, now_ms), None)),
            // The link gives up on a call after ADMIT_TIMEOUT too, but an admission may first wait for the call on
            // its way: this bounds the whole wait.
            Backend::Redis(redis) => {
                match tokio::time::timeout(ADMIT_TIMEOUT, redis.admit(admission, now_ms, standby)).await {
                    Ok(result) => result,
                    Err(_) => Err(StoreError(format!("no answer within {} ms", ADMIT_TIMEOUT.as_millis()))),
                }
            }
        };
        match (result, self.0.policy) {
            (Ok(answer), _) => Ok(answer),
            (Err(error), FailurePolicy::Closed) => Err(error),
            (Err(error), FailurePolicy::Open) => {
                let last = self.0.open_logged_ms.load(Ordering::Relaxed);
                if now_ms >= last + 10_000 {
                    self.0.open_logged_ms.store(now_ms, Ordering::Relaxed);
                    log::warn!(
                        "limits store unavailable ({error}): admitting keyed requests without limits (policy open)"
                    );
                }
                Ok((Ok(Headroom::default()), None))
            }
        }
    }

    /// Renews `admission`'s lease every TTL/4 until the guard is dropped. Take it right after admission and drop
    /// it when the request ends (after [`settle`](Self::settle)).
    pub fn keep(&self, admission: &Admission) -> LeaseGuard {
        self.0.keeper.keep(admission)
    }

    /// [`keep`](Self::keep) for a lease given as what renewing it needs (key, team, lease id), which the guard holds
    /// and hands back when released ([`LeaseGuard::release`]), for the settlement.
    pub fn keep_lease(&self, renewal: Renewal) -> LeaseGuard {
        self.0.keeper.keep_renewal(renewal)
    }

    /// Replaces a reservation by the real usage. Never waits: applied in memory, or queued for Redis.
    pub fn settle(&self, settlement: Settlement, now_ms: u64) {
        match &self.0.backend {
            Backend::Embedded(store) => store.settle(&settlement, now_ms),
            Backend::Redis(redis) => redis.settle(settlement, now_ms),
        }
    }

    /// Extends the leases of requests still running to `expires_ms` (with Redis: one lease time from Redis's
    /// clock). The renewal task calls this; the request path never does.
    pub async fn renew(&self, leases: &[Renewal], expires_ms: u64, now_ms: u64) {
        match &self.0.backend {
            Backend::Embedded(store) => store.renew(leases, expires_ms, now_ms),
            Backend::Redis(redis) => redis.renew(leases, expires_ms.saturating_sub(now_ms), now_ms).await,
        }
    }

    /// A subject's usage now.
    pub async fn usage(&self, subject: &SubjectRef, now_ms: u64) -> Result<UsageNow, StoreError> {
        match &self.0.backend {
            Backend::Embedded(store) => Ok(store.usage(subject, now_ms)),
            Backend::Redis(redis) => redis.usage(subject, now_ms).await,
        }
    }

    /// Deletes the ledger of a deleted key or team.
    pub async fn forget(&self, id: &str) -> Result<(), StoreError> {
        match &self.0.backend {
            Backend::Embedded(store) => {
                store.forget(id);
                Ok(())
            }
            Backend::Redis(redis) => redis.forget(id).await,
        }
    }

    /// Writes what is pending (dirty ledgers, queued settlements): at a clean shutdown, and in tests that need
    /// settlements applied before they look.
    pub async fn flush(&self) {
        match &self.0.backend {
            Backend::Embedded(store) => match store.flush() {
                Ok(n) => log::debug!("limits store: {n} ledgers written"),
                Err(error) => log::error!("limits store: the last ledgers could not be written: {error}"),
            },
            Backend::Redis(redis) => redis.flush().await,
        }
    }

    /// Whether the store answers (always, embedded).
    pub fn is_up(&self) -> bool {
        match &self.0.backend {
            Backend::Embedded(_) => true,
            Backend::Redis(redis) => redis.link().is_up(),
        }
    }

    /// The store's state, for `/health`.
    pub fn status(&self) -> StoreStatus {
        let (kind, error, standby_admissions) = match &self.0.backend {
            Backend::Embedded(_) => ("embedded", None, 0),
            Backend::Redis(redis) => ("redis", redis.link().last_error(), redis.standby_admissions()),
        };
        StoreStatus {
            kind,
            up: self.is_up(),
            policy: self.0.policy,
            lease_ttl_secs: self.0.lease_ttl.as_secs(),
            error,
            leases_held: self.0.keeper.len(),
            standby_admissions,
        }
    }

    pub fn policy(&self) -> FailurePolicy {
        self.0.policy
    }

    pub fn lease_ttl_ms(&self) -> u64 {
        self.0.lease_ttl.as_millis() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(id: &str, rpm: u64) -> SubjectRef {
        SubjectRef { id: id.into(), limits: Limits { rpm: Some(rpm), ..Limits::default() } }
    }

    #[actix_rt::test]
    async fn the_request_path_admits_keeps_settles_and_reads() {
        let store = Store::embedded();
        let lease = store.lease(Amount { tokens: 5, nanos: 7 }, 1_000);
        assert_eq!(lease.expires_ms, 21_000);
        let admission = Admission { key: subject("k", 1), team: Some(subject("t", 5)), lease };
        let headroom = store.admit(admission.clone(), 1_000).await.unwrap().unwrap();
        assert_eq!(headroom.requests, Some((1, 0, 61_000)), "the tighter of key and team");
        let guard = store.keep(&admission);
        assert_eq!(store.status().leases_held, 1);
        let again = Admission { lease: store.lease(Amount::default(), 1_001), ..admission.clone() };
        assert!(matches!(store.admit(again, 1_001).await.unwrap(), Err((Subject::Key, Refusal::Rpm { .. }))));
        let used = Amount { tokens: 2, nanos: 3 };
        let lease_id = admission.lease.id;
        store.settle(
            Settlement { key: admission.key.clone(), team: None, lease_id, used, step: LeaseStep::Settle },
            2_000,
        );
        drop(guard);
        assert_eq!(store.status().leases_held, 0);
        let usage = store.usage(&subject("k", 1), 2_001).await.unwrap();
        assert_eq!((usage.in_flight, usage.spent, usage.tokens_in_window), (0, 3, 2));
        assert_eq!(store.usage(&subject("t", 5), 2_001).await.unwrap().in_flight, 1, "the team was not settled");
        assert!(store.is_up() && store.status().kind == "embedded");
    }

    #[test]
    fn the_failure_policy_parses_and_names_the_setting() {
        assert_eq!(FailurePolicy::parse(" Open "), Ok(FailurePolicy::Open));
        assert_eq!(FailurePolicy::parse("closed"), Ok(FailurePolicy::Closed));
        assert!(FailurePolicy::parse("sometimes").unwrap_err().starts_with("LIMITS_ON_STORE_FAILURE"));
        assert_eq!(FailurePolicy::default(), FailurePolicy::Closed);
    }
}
