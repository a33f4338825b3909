//! The ledgers in Redis, shared by every replica: admissions run the ledger script (check and reserve for the key
//! and its team, atomically, on Redis's clock), grouped per worker thread: when a thread's call is on its way,
//! the admissions that arrive meanwhile wait for it and go together in the next (one run of the script, each
//! decided as if alone, in order). Alone, an admission goes at once, asking beside it for a standby lease that
//! lets the thread admit the key's next request without waiting on Redis ([`standby`]); under load, one round
//! trip and one script run serve many. Settlements are queued and pipelined by a background task; lease renewals
//! are pipelined in one batch per round. Calls on the request path give up after [`ADMIT_TIMEOUT`] and fail at
//! once while Redis is known to be down ([`link`]).

pub mod link;
pub mod script;
pub mod standby;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{ErrorKind, ScriptInvocation, ServerErrorKind};
use tokio::sync::{mpsc, oneshot};

pub use link::RedisLink;
use script::{all_ledger_keys, invocation, Op, LEDGER_SCRIPT};

use super::book::{Amount, UsageNow};
use super::lease::Renewal;
use super::store::{Admission, Answer, Decision, LeaseStep, Settlement, StoreError, SubjectRef, ADMIT_TIMEOUT};
use standby::{Standby, Standbys};

/// Settlements sent in one pipeline.
const BATCH: usize = 512;
/// Admissions sent in one run of the script.
const ADMIT_BATCH: usize = 128;
/// How long a settlement made while no admission call is on its way waits for the next one to ride with (one
/// request after another, the next comes sooner) before the settlement pipeline takes it.
const RIDE_WAIT: Duration = Duration::from_millis(5);
/// Settlements kept while Redis is down; beyond this the oldest are dropped (their leases lapse and are charged
/// in full: an over-count, never an under-count).
const MAX_PENDING: usize = 100_000;
/// How long background batches (settlements, renewals) may take.
const BATCH_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a clean shutdown waits for queued settlements.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Whose clock the script uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Redis's (`TIME`): replicas with skewed clocks agree. Production.
    Redis,
    /// The `now_ms` each call is given: for tests that compare with `book.rs` step by step.
    Caller,
}

// Nearly every job is a settlement: boxing it would cost an allocation each.
#[allow(clippy::large_enum_variant)]
enum Job {
    Settle(Settlement, u64),
    Flush(oneshot::Sender<()>),
}

/// Who waits for an admission's answer.
enum Asker {
    /// A request: where its answer goes, and whether it may take a standby.
    Request(oneshot::Sender<Result<Answer, StoreError>>, bool),
    /// The thread, for a standby of the admission's key.
    Standby,
}

/// An admission waiting to be sent: it, its caller's `now_ms`, and who waits for the answer.
type Waiting = (Admission, u64, Asker);

/// An answer read from the script's reply.
enum Outcome {
    Decided(Decision),
    /// A standby granted (with what the key has left with it), or not.
    Standby(Option<super::book::Headroom>),
}

/// Admissions waiting on one thread for the call on its way, whether one is, and the settlements that will ride
/// along with the next.
struct AdmitQueue {
    waiting: Vec<Waiting>,
    sending: bool,
    riding: Vec<Settlement>,
    /// Wakes the thread's rider task ([`hand_over_riders`]) when a settlement starts waiting with no call on its way.
    riders_wait: Rc<tokio::sync::Notify>,
    /// The settlement pipeline, for the riders left when the thread ends.
    jobs: mpsc::UnboundedSender<Job>,
    /// The standbys this thread holds or asked for.
    standbys: Standbys,
    /// Requests admitted on a standby, by every thread ([`RedisLedgers::standby_admissions`]).
    taken: Arc<AtomicU64>,
}

impl AdmitQueue {
    /// Queues `settlement` to ride with the next call; with no call on its way, the rider task gives one
    /// [`RIDE_WAIT`] to start.
    fn ride(&mut self, settlement: Settlement) {
        self.riding.push(settlement);
        if !self.sending && self.riding.len() == 1 {
            self.riders_wait.notify_one();
        }
    }

    /// Queues a request's admission, and beside it an ask for a standby when the request may take one and goes
    /// alone (no call on its way).
    fn push(&mut self, admission: Admission, now_ms: u64, asker: Asker) {
        let ask = matches!(asker, Asker::Request(_, true)) && !self.sending && self.may_ask(&admission.key.id, now_ms);
        let beside = ask.then(|| standby::ask_beside(&admission));
        self.waiting.push((admission, now_ms, asker));
        if let Some(beside) = beside {
            self.ask(beside, now_ms);
        }
    }

    /// Whether a standby of `key` may be asked for: none is asked for or held, none was declined in the last
    /// second, and no request waits on the thread. Standbys spare an idle thread's next request a round trip;
    /// under load the waiting requests go together anyway, and asks would only add work for Redis.
    fn may_ask(&self, key: &str, now_ms: u64) -> bool {
        self.waiting.is_empty() && !self.standbys.has(key, now_ms)
    }

    fn ask(&mut self, beside: Admission, now_ms: u64) {
        self.standbys.asked(beside.key.id.clone());
        self.waiting.push((beside, now_ms, Asker::Standby));
    }

    /// After a request of `admission`'s key took a standby: the key's next request may find one too (asked for
    /// now if the thread is otherwise idle).
    fn ask_next(&mut self, admission: &Admission, now_ms: u64) {
        if self.may_ask(&admission.key.id, now_ms) {
            self.ask(standby::ask_beside(admission), now_ms);
        }
    }

    /// A standby was granted: the first waiting request that fits takes it at once (and asks for the next), or
    /// the thread holds it.
    fn granted(&mut self, standby: Standby, now_ms: u64) {
        let fits = |(admission, _, asker): &Waiting| {
            matches!(asker, Asker::Request(answer, true) if !answer.is_closed()) && standby.fits(admission, now_ms)
        };
        let Some(at) = self.waiting.iter().position(fits) else {
            self.standbys.hold(standby);
            return;
        };
        let (admission, _, asker) = self.waiting.remove(at);
        if let Asker::Request(answer, _) = asker {
            let answered = answer.send(Ok((Ok(standby.headroom), Some(standby.lease_id().clone()))));
            // A request gone meanwhile cannot hold it: given back.
            if answered.is_ok() {
                self.taken.fetch_add(1, Ordering::Relaxed);
                self.ride(standby.taken_by(&admission));
                self.ask_next(&admission, now_ms);
            } else {
                self.ride(standby.given_back());
            }
        }
    }
}

impl Drop for AdmitQueue {
    fn drop(&mut self) {
        let given_back: Vec<Settlement> = self.standbys.due(u64::MAX).iter().map(Standby::given_back).collect();
        to_pipeline(&self.jobs, self.riding.drain(..).chain(given_back));
    }
}

thread_local! {
    /// This thread's admission queue of each [`RedisLedgers`] (by its `id`; tests have several in one process).
    static ADMIT_QUEUES: RefCell<Vec<(u64, Rc<RefCell<AdmitQueue>>)>> = const { RefCell::new(Vec::new()) };
}

static NEXT_LEDGERS_ID: AtomicU64 = AtomicU64::new(0);

/// The ledgers in Redis.
pub struct RedisLedgers {
    id: u64,
    link: RedisLink,
    clock: Clock,
    jobs: mpsc::UnboundedSender<Job>,
    /// Taken by [`start`](Self::start).
    pending_jobs: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
    taken: Arc<AtomicU64>,
    /// Whether requests may be admitted on standby leases (`LIMITS_STANDBY`, and Redis's clock).
    standby: bool,
}

fn subjects<'a>(key: &'a SubjectRef, team: &'a Option<SubjectRef>) -> Vec<&'a SubjectRef> {
    std::iter::once(key).chain(team.as_ref()).collect()
}

impl RedisLedgers {
    pub fn new(link: RedisLink, clock: Clock, standby: bool) -> Self {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let id = NEXT_LEDGERS_ID.fetch_add(1, Ordering::Relaxed);
        let standby = standby && clock == Clock::Redis;
        Self { id, link, clock, jobs, pending_jobs: Mutex::new(Some(receiver)), taken: Arc::default(), standby }
    }

    /// How many requests were admitted on a standby lease (without waiting on Redis) since the start.
    pub fn standby_admissions(&self) -> u64 {
        self.taken.load(Ordering::Relaxed)
    }

    pub fn link(&self) -> &RedisLink {
        &self.link
    }

    fn given(&self, now_ms: u64) -> u64 {
        match self.clock {
            Clock::Redis => 0,
            Clock::Caller => now_ms,
        }
    }

    /// Starts the settlement pipeline and the connection probe.
    pub fn start(&self) {
        let receiver = self.pending_jobs.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(receiver) = receiver {
            actix_rt::spawn(pipeline_settlements(receiver, self.link.clone(), self.clock));
            self.link.start_probe();
        }
    }

    /// Decides on `admission`: sent at once when this thread has no admission call on its way, else with the
    /// others that wait for it, as soon as it is back. A request (`standby`: it can hold another lease than its
    /// own) takes the standby this thread holds for its key when it fits, and is answered at once; on Redis's
    /// clock only (tests on the caller's compare each step with `book.rs`, which has no standbys).
    pub async fn admit(&self, admission: Admission, now_ms: u64, standby: bool) -> Result<Answer, StoreError> {
        let queue = self.thread_queue().unwrap_or_else(|| {
            let riders_wait = Rc::new(tokio::sync::Notify::new());
            let queue = Rc::new(RefCell::new(AdmitQueue {
                waiting: Vec::new(),
                sending: false,
                riding: Vec::new(),
                riders_wait: riders_wait.clone(),
                jobs: self.jobs.clone(),
                standbys: Standbys::default(),
                taken: self.taken.clone(),
            }));
            ADMIT_QUEUES.with(|queues| queues.borrow_mut().push((self.id, queue.clone())));
            // Started here, on the thread's runtime: `settle` runs in places (a request's drop) where no task can
            // be spawned, so it only wakes this one.
            actix_rt::spawn(hand_over_riders(Rc::downgrade(&queue), riders_wait));
            actix_rt::spawn(give_back_standbys(Rc::downgrade(&queue)));
            queue
        });
        // No standby is asked for while Redis is known to be down: the asks would fail, and their give-backs fill
        // the settlement queue.
        let standby = standby && self.standby && standby::suits(&admission) && self.link.is_up();
        let (answer, decided) = oneshot::channel();
        let (start, taken) = {
            let queue = &mut *queue.borrow_mut();
            let taken = if standby { queue.standbys.take(&admission, now_ms) } else { None };
            match &taken {
                Some(taken) => {
                    queue.taken.fetch_add(1, Ordering::Relaxed);
                    queue.ride(taken.taken_by(&admission));
                    if !queue.sending {
                        queue.ask_next(&admission, now_ms);
                    }
                }
                None => queue.push(admission, now_ms, Asker::Request(answer, standby)),
            }
            (!queue.waiting.is_empty() && !std::mem::replace(&mut queue.sending, true), taken)
        };
        if start {
            actix_rt::spawn(send_admissions(queue, self.link.clone(), self.clock));
        }
        if let Some(taken) = taken {
            return Ok((Ok(taken.headroom), Some(taken.lease_id().clone())));
        }
        decided.await.unwrap_or_else(|_| Err(StoreError("the admission call was cancelled".into())))
    }

    /// Queues a settlement to ride with this thread's next admission call (on Redis's clock, on a thread that
    /// admits): at once if one is on its way, else when one starts within [`RIDE_WAIT`]; otherwise the settlement
    /// pipeline takes it.
    pub fn settle(&self, settlement: Settlement, now_ms: u64) {
        let queue = (self.clock == Clock::Redis).then(|| self.thread_queue()).flatten();
        let Some(queue) = queue else {
            // The receiver lives as long as the process's actix system; after it, nothing is left to settle.
            let _ = self.jobs.send(Job::Settle(settlement, now_ms));
            return;
        };
        queue.borrow_mut().ride(settlement);
    }

    /// This thread's admission queue, when the thread has admitted.
    fn thread_queue(&self) -> Option<Rc<RefCell<AdmitQueue>>> {
        ADMIT_QUEUES.with(|queues| queues.borrow().iter().find(|(id, _)| *id == self.id).map(|(_, q)| q.clone()))
    }

    pub async fn renew(&self, leases: &[Renewal], ttl_ms: u64, now_ms: u64) {
        let given = self.given(now_ms);
        for chunk in leases.chunks(BATCH) {
            let calls: Vec<ScriptInvocation<'static>> = chunk
                .iter()
                .map(|(key, team, id)| {
                    invocation(Op::Renew { lease_id: id, ttl_ms }, &subjects(key, team), now_ms, given)
                })
                .collect();
            if let Err(error) = pipelined(&self.link, &calls).await {
                log::warn!("limits store: could not renew {} leases: {error}", calls.len());
                return;
            }
        }
    }

    pub async fn usage(&self, subject: &SubjectRef, now_ms: u64) -> Result<UsageNow, StoreError> {
        let call = invocation(Op::Usage, &[subject], now_ms, self.given(now_ms));
        let reply: Vec<i64> = self
            .link
            .run(ADMIT_TIMEOUT, true, |mut connection| async move { call.invoke_async(&mut connection).await })
            .await?;
        script::usage(&reply).map(|(usage, _)| usage)
    }

    pub async fn forget(&self, id: &str) -> Result<(), StoreError> {
        let keys = all_ledger_keys(id);
        self.link
            .run(BATCH_TIMEOUT, true, |mut connection| async move {
                redis::cmd("DEL").arg(&keys).query_async::<()>(&mut connection).await
            })
            .await
    }

    /// Waits (a few seconds at most) for queued settlements to reach Redis.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.jobs.send(Job::Flush(done)).is_err() {
            return;
        }
        match tokio::time::timeout(CLOSE_TIMEOUT, wait).await {
            Ok(_) => {}
            Err(_) => log::warn!(
                "limits store: queued settlements could not reach Redis within {} s; their leases will lapse \
                 and be charged in full",
                CLOSE_TIMEOUT.as_secs()
            ),
        }
    }
}

/// Hands settlements to the settlement pipeline.
fn to_pipeline(jobs: &mpsc::UnboundedSender<Job>, settlements: impl IntoIterator<Item = Settlement>) {
    let now = super::now_ms();
    for settlement in settlements {
        // The receiver lives as long as the process's actix system; after it, nothing is left to settle.
        let _ = jobs.send(Job::Settle(settlement, now));
    }
}

/// A thread's rider task: each time a settlement starts waiting with no admission call on its way, gives the
/// thread's next call [`RIDE_WAIT`] to take it, then hands what is still waiting to the settlement pipeline.
async fn hand_over_riders(queue: std::rc::Weak<RefCell<AdmitQueue>>, wake: Rc<tokio::sync::Notify>) {
    loop {
        wake.notified().await;
        tokio::time::sleep(RIDE_WAIT).await;
        let Some(queue) = queue.upgrade() else { return };
        let queue = &mut *queue.borrow_mut();
        if !queue.sending {
            to_pipeline(&queue.jobs, queue.riding.drain(..));
        }
    }
}

/// A thread's task that gives back the standbys held untaken too long (every quarter of a second).
async fn give_back_standbys(queue: std::rc::Weak<RefCell<AdmitQueue>>) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(queue) = queue.upgrade() else { return };
        let queue = &mut *queue.borrow_mut();
        for standby in queue.standbys.due(super::now_ms()) {
            queue.ride(standby.given_back());
        }
    }
}

/// Sends a thread's waiting admissions, a batch per call with the settlements that rode along, until none wait.
async fn send_admissions(queue: Rc<RefCell<AdmitQueue>>, link: RedisLink, clock: Clock) {
    /// Whatever ends the task (done, or dropped with its runtime), the queue is free for the next admission,
    /// nobody waits on it forever (the answers of the admissions left are dropped, which they see as an error),
    /// and no settlement is lost: those that came while the last call was on its way wait [`RIDE_WAIT`] for the
    /// next like any other (the rider task, or the queue's drop with the thread, hands them to the pipeline).
    struct Release(Rc<RefCell<AdmitQueue>>);
    impl Drop for Release {
        fn drop(&mut self) {
            let queue = &mut *self.0.borrow_mut();
            queue.sending = false;
            queue.waiting.clear();
            queue.standbys.forget_asked();
            if !queue.riding.is_empty() {
                queue.riders_wait.notify_one();
            }
        }
    }
    let release = Release(queue);
    loop {
        let (batch, riding): (Vec<_>, Vec<_>) = {
            let mut queue = release.0.borrow_mut();
            if queue.waiting.is_empty() {
                // Nothing left to ride with: the pipeline sends them (Release).
                return;
            }
            // On the caller's clock (tests) a run has one `now`: the batch is the admissions made at the first's.
            let first_now = queue.waiting[0].1;
            let same = queue
                .waiting
                .iter()
                .take(ADMIT_BATCH)
                .take_while(|(_, now, _)| clock == Clock::Redis || *now == first_now)
                .count();
            let riding = queue.riding.len().min(BATCH);
            (queue.waiting.drain(..same).collect(), queue.riding.drain(..riding).collect())
        };
        let given = if clock == Clock::Caller { batch[0].1 } else { 0 };
        let entries: Vec<(&Admission, u64, bool)> =
            batch.iter().map(|(admission, now, asker)| (admission, *now, matches!(asker, Asker::Standby))).collect();
        let call = script::admissions(&riding, &entries, given);
        let reply: Result<Vec<u8>, StoreError> = link
            .run(ADMIT_TIMEOUT, true, |connection| {
                let call = &call;
                loading_script(connection, move |mut c| async move { call.query_async(&mut c).await })
            })
            .await;
        let outcomes = reply.and_then(|reply| {
            let numbers = script::admit_reply_numbers(&reply)?;
            let answers = script::answers(&numbers, batch.len())?;
            let read = |((_, _, asker), answer): (&Waiting, &[i64])| match asker {
                Asker::Request(..) => script::decision(answer).map(Outcome::Decided),
                Asker::Standby => Ok(Outcome::Standby(script::granted(answer))),
            };
            batch.iter().zip(answers).map(read).collect::<Result<Vec<_>, StoreError>>()
        });
        let queue = &mut *release.0.borrow_mut();
        match outcomes {
            Ok(outcomes) => {
                for ((admission, now, asker), outcome) in batch.into_iter().zip(outcomes) {
                    match (asker, outcome) {
                        (Asker::Request(answer, _), Outcome::Decided(decision)) => {
                            let _ = answer.send(Ok((decision, None)));
                        }
                        (Asker::Standby, Outcome::Standby(granted)) => {
                            let at = super::now_ms();
                            match granted {
                                Some(headroom) => {
                                    queue.standbys.answered(&admission.key.id);
                                    queue.granted(Standby::new(admission, headroom, now, at), at);
                                }
                                // The key uses half a limit or more: its lone requests do not ask again for a
                                // second, each ask would cost Redis a check for nothing.
                                None => queue.standbys.declined(&admission.key.id, at + standby::MAX_HOLD_MS),
                            }
                        }
                        // `read` answers each asker in its own kind.
                        _ => {}
                    }
                }
            }
            Err(error) => {
                let mut given_back = Vec::new();
                for (admission, _, asker) in batch {
                    match asker {
                        Asker::Request(answer, _) => {
                            let _ = answer.send(Err(error.clone()));
                        }
                        Asker::Standby => {
                            // It may have been granted before the answer was lost: given back, it is not charged.
                            queue.standbys.answered(&admission.key.id);
                            given_back.push(standby::give_back(&admission));
                        }
                    }
                }
                // Settling twice has the effect of once: the pipeline retries them while Redis is down.
                to_pipeline(&queue.jobs, riding.into_iter().chain(given_back));
            }
        }
    }
}

/// Runs `calls` in one pipeline, loading the script first if Redis lost it (restarted): a retried batch is
/// harmless, as settling or renewing a lease twice has the effect of once.
async fn pipelined(link: &RedisLink, calls: &[ScriptInvocation<'static>]) -> Result<(), StoreError> {
    let mut pipe = redis::pipe();
    for call in calls {
        pipe.invoke_script(call).ignore();
    }
    link.run(BATCH_TIMEOUT, false, |connection| {
        let pipe = &pipe;
        loading_script(connection, move |mut c| async move { pipe.query_async::<()>(&mut c).await })
    })
    .await
}

/// Sends with `send`; when Redis answers that it lost the ledger script (restarted), loads it and sends again.
async fn loading_script<T, F, Fut>(connection: ConnectionManager, send: F) -> redis::RedisResult<T>
where
    F: Fn(ConnectionManager) -> Fut,
    Fut: std::future::Future<Output = redis::RedisResult<T>>,
{
    match send(connection.clone()).await {
        Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            LEDGER_SCRIPT.prepare_invoke().load_async(&mut connection.clone()).await?;
            send(connection).await
        }
        other => other,
    }
}

/// The settlement pipeline: takes what is queued, sends it in batches, keeps it while Redis is down.
async fn pipeline_settlements(mut jobs: mpsc::UnboundedReceiver<Job>, link: RedisLink, clock: Clock) {
    let mut pending: VecDeque<(Settlement, u64)> = VecDeque::new();
    let mut waiting: Vec<oneshot::Sender<()>> = Vec::new();
    let mut dropped = 0usize;
    loop {
        if pending.is_empty() {
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
            let Some(job) = jobs.recv().await else { return };
            take(job, &mut pending, &mut waiting);
        }
        while pending.len() < MAX_PENDING {
            let Ok(job) = jobs.try_recv() else { break };
            take(job, &mut pending, &mut waiting);
        }
        if pending.is_empty() {
            continue;
        }
        let n = pending.len().min(BATCH);
        let calls = settlement_calls(pending.iter().take(n), clock);
        match pipelined(&link, &calls).await {
            Ok(()) => drop(pending.drain(..n)),
            Err(error) if link.is_up() => {
                // Redis answered with an error: retrying would fail the same way.
                log::error!("limits store: {n} settlements refused by Redis, dropped: {error}");
                drop(pending.drain(..n));
            }
            Err(_) => {
                while pending.len() > MAX_PENDING {
                    pending.pop_front();
                    dropped += 1;
                }
                if dropped > 0 {
                    log::error!("limits store: {dropped} settlements dropped while Redis is down (queue full)");
                    dropped = 0;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

/// The script runs settling `batch`: one per key (and team, and, on the caller's clock, time), each settling all
/// that key's leases in the batch, so a busy key costs Redis one run per batch rather than one per request.
fn settlement_calls<'a>(
    batch: impl Iterator<Item = &'a (Settlement, u64)>,
    clock: Clock,
) -> Vec<ScriptInvocation<'static>> {
    // The settlement whose subjects and clock the group uses, and the group's leases.
    type Group<'a> = (&'a (Settlement, u64), Vec<(&'a str, Amount, LeaseStep)>);
    let mut groups: Vec<Group<'a>> = Vec::new();
    let mut index: foldhash::HashMap<(&'a str, Option<&'a str>, u64), usize> = Default::default();
    for entry in batch {
        let (settlement, now) = entry;
        let team = settlement.team.as_ref().map(|t| &*t.id);
        let time = if clock == Clock::Redis { 0 } else { *now };
        let lease = (&*settlement.lease_id, settlement.used, settlement.step);
        match index.entry((&*settlement.key.id, team, time)) {
            std::collections::hash_map::Entry::Occupied(at) => {
                let group = &mut groups[*at.get()];
                group.0 = entry;
                group.1.push(lease);
            }
            std::collections::hash_map::Entry::Vacant(at) => {
                at.insert(groups.len());
                groups.push((entry, vec![lease]));
            }
        }
    }
    groups
        .iter()
        .map(|((s, now), leases)| {
            let given = if clock == Clock::Caller { *now } else { 0 };
            invocation(Op::Settle { leases }, &subjects(&s.key, &s.team), *now, given)
        })
        .collect()
}

fn take(job: Job, pending: &mut VecDeque<(Settlement, u64)>, waiting: &mut Vec<oneshot::Sender<()>>) {
    match job {
        Job::Settle(settlement, now) => pending.push_back((settlement, now)),
        Job::Flush(done) => waiting.push(done),
    }
}
