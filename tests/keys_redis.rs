//! The ledger script in Redis against `book.rs` (through the in-process store, which is `book.rs` under a lock):
//! random sequences of admissions, settlements, renewals and usage reads for a key and its team, with random
//! limits and budget periods that roll over during a run, must give identical decisions, headroom, refusals and
//! usage at every step. Both run on the same clock (the Redis store is given the caller's `now`).
//!
//! Ignored by default (needs `redis-server`); `.ci/suites/keys.sh` installs Redis and runs it:
//! `cargo test --test keys_redis -- --ignored`.

mod common;

use std::time::Duration;

use common::redis::RedisServer;
use gatehouse::limits::period::parse_rfc3339;
use gatehouse::limits::redis::{Clock, RedisLink};
use gatehouse::limits::{
    Admission, Amount, BudgetPeriod, FailurePolicy, LeaseStep, Limits, Settlement, Store, SubjectRef,
};

const TTL: Duration = Duration::from_secs(20);

/// A private redis-server, a plain connection to it (to look inside), and the Redis store on it, started.
fn redis_store(clock: Clock) -> (RedisServer, redis::Connection, Store) {
    let redis = RedisServer::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let conn = client.get_connection().unwrap();
    let shared = Store::redis(RedisLink::new(client).unwrap(), FailurePolicy::Closed, TTL, clock, true);
    shared.start();
    (redis, conn, shared)
}

fn random_limits(rng: &mut fastrand::Rng) -> Limits {
    let maybe = |rng: &mut fastrand::Rng, low: u64, high: u64| rng.bool().then(|| rng.u64(low..high));
    let period = [BudgetPeriod::Day, BudgetPeriod::Week, BudgetPeriod::Month, BudgetPeriod::Total][rng.usize(..4)];
    let budget_nanos = maybe(rng, 1_000, 30_000);
    Limits {
        rpm: maybe(rng, 1, 8),
        tpm: maybe(rng, 100, 1_500),
        max_parallel: maybe(rng, 1, 5),
        budget_nanos,
        budget_period: if budget_nanos.is_some() { period } else { BudgetPeriod::Total },
    }
}

/// Limits for a busy key: hundreds of requests a minute, a few milliseconds apart, so the windows hold hundreds
/// of buckets (more than the script reads at once) and refusals walk them.
fn busy_limits(rng: &mut fastrand::Rng) -> Limits {
    let maybe = |rng: &mut fastrand::Rng, low: u64, high: u64| rng.bool().then(|| rng.u64(low..high));
    Limits {
        rpm: maybe(rng, 100, 700),
        tpm: maybe(rng, 20_000, 150_000),
        max_parallel: rng.bool().then(|| rng.u64(40..80)),
        budget_nanos: maybe(rng, 200_000, 2_000_000),
        budget_period: BudgetPeriod::Day,
    }
}

/// How a sequence is made.
#[derive(Clone, Copy)]
struct Flavour {
    limits: fn(&mut fastrand::Rng) -> Limits,
    wait: fn(&mut fastrand::Rng) -> u64,
    steps: usize,
    /// At most this many leases settled together (one batch of the settlement pipeline).
    settle_together: usize,
    /// Tokens an admission reserves.
    want_tokens: fn(&mut fastrand::Rng) -> u64,
}

fn want_tokens(rng: &mut fastrand::Rng) -> u64 {
    rng.u64(0..400)
}

/// Now and then a reservation so large that its refusal's retry time lies hundreds of buckets into the window.
fn busy_want_tokens(rng: &mut fastrand::Rng) -> u64 {
    if rng.usize(..25) == 0 {
        rng.u64(10_000..60_000)
    } else {
        rng.u64(0..400)
    }
}

fn wait(rng: &mut fastrand::Rng) -> u64 {
    match rng.usize(..3) {
        0 => rng.u64(0..50),
        1 => rng.u64(0..5_000),
        _ => rng.u64(0..70_000),
    }
}

fn busy_wait(rng: &mut fastrand::Rng) -> u64 {
    match rng.usize(..1_000) {
        0 => rng.u64(0..70_000),
        1..=3 => rng.u64(0..25_000),
        _ => rng.u64(0..4),
    }
}

#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored (.ci/suites/keys.sh)"]
async fn the_redis_script_decides_exactly_as_book_rs() {
    let sequences: u64 = std::env::var("DIFF_SEQUENCES").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let flavour = Flavour { limits: random_limits, wait, steps: 150, settle_together: 1, want_tokens };
    run_sequences("diff", sequences, flavour).await;
}

#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored (.ci/suites/keys.sh)"]
async fn the_redis_script_decides_exactly_as_book_rs_for_busy_keys() {
    let sequences: u64 = std::env::var("DIFF_BUSY_SEQUENCES").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    let flavour = Flavour {
        limits: busy_limits,
        wait: busy_wait,
        steps: 2_500,
        settle_together: 8,
        want_tokens: busy_want_tokens,
    };
    run_sequences("busy", sequences, flavour).await;
}

async fn run_sequences(name: &str, sequences: u64, flavour: Flavour) {
    let (_redis, _, shared) = redis_store(Clock::Caller);
    let mut steps = 0;
    for seed in 0..sequences {
        let mut rng = fastrand::Rng::with_seed(seed);
        let local = Store::embedded();
        let key = SubjectRef { id: format!("{name}{seed}-key").into(), limits: (flavour.limits)(&mut rng) };
        let team = rng
            .bool()
            .then(|| SubjectRef { id: format!("{name}{seed}-team").into(), limits: (flavour.limits)(&mut rng) });
        // Shortly before a UTC midnight that ends a day, a week or a month, so periods roll over mid-run.
        let starts = ["2026-12-05T23:58:00Z", "2026-11-29T23:59:00Z", "2026-12-31T23:57:30Z", "2027-02-28T23:59:50Z"];
        let mut now = parse_rfc3339(starts[rng.usize(..starts.len())]).unwrap();
        let mut flying: Vec<Admission> = Vec::new();
        for step in 0..rng.usize(1..flavour.steps) {
            steps += 1;
            now += (flavour.wait)(&mut rng);
            let context = format!("seed {seed} step {step} at {now} key {:?} team {:?}", key.limits, team);
            match rng.usize(..10) {
                0..=4 => {
                    let want = Amount { tokens: (flavour.want_tokens)(&mut rng), nanos: rng.u64(0..3_000) };
                    let lease = local.lease(want, now);
                    let admission = Admission { key: key.clone(), team: team.clone(), lease };
                    if std::env::var("DIFF_DEBUG").is_ok() {
                        eprintln!(
                            "{step}: want {want:?} at {now}; before: {:?}",
                            local.usage(&key, now).await.unwrap()
                        );
                    }
                    let expected = local.admit(admission.clone(), now).await.unwrap();
                    let got = shared.admit(admission.clone(), now).await.unwrap();
                    assert_eq!(got, expected, "admission: {context}");
                    if expected.is_ok() {
                        flying.push(admission);
                    }
                }
                5..=7 if !flying.is_empty() => {
                    // Settled together: the pipeline sends them as one run of the script.
                    for _ in 0..rng.usize(1..=flavour.settle_together).min(flying.len()) {
                        let admission = flying.remove(rng.usize(..flying.len()));
                        let used = Amount { tokens: rng.u64(0..500), nanos: rng.u64(0..4_000) };
                        let settlement = Settlement {
                            key: admission.key.clone(),
                            team: admission.team.clone(),
                            lease_id: admission.lease.id.clone(),
                            used,
                            step: LeaseStep::Settle,
                        };
                        local.settle(settlement.clone(), now);
                        shared.settle(settlement, now);
                    }
                    shared.flush().await;
                }
                8 => {
                    let held: Vec<_> =
                        flying.iter().map(|a| (a.key.clone(), a.team.clone(), a.lease.id.clone())).collect();
                    let expires = now + TTL.as_millis() as u64;
                    local.renew(&held, expires, now).await;
                    shared.renew(&held, expires, now).await;
                }
                _ => {}
            }
            for subject in std::iter::once(&key).chain(team.as_ref()) {
                let expected = local.usage(subject, now).await.unwrap();
                let got = shared.usage(subject, now).await.unwrap();
                assert_eq!(got, expected, "usage of {}: {context}", subject.id);
            }
        }
    }
    eprintln!("{name}: {sequences} sequences, {steps} steps: the script and book.rs agree");
}

/// A window of hundreds of buckets (more than the script reads at once): a refusal whose retry time lies deep in
/// it, then the window sliding over most of it at once, agree with book.rs.
#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored (.ci/suites/keys.sh)"]
async fn a_window_of_hundreds_of_buckets_is_walked_and_aged_as_book_rs_does() {
    let (_redis, _, shared) = redis_store(Clock::Caller);
    let local = Store::embedded();
    let limits = Limits { rpm: Some(5_000), tpm: Some(100_000), ..Limits::default() };
    let key = SubjectRef { id: "deep-key".into(), limits };
    let mut now = parse_rfc3339("2026-12-06T10:00:00Z").unwrap();
    let admit = |want: Amount, now: u64| {
        let admission = Admission { key: key.clone(), team: None, lease: local.lease(want, now) };
        let (local, shared) = (&local, &shared);
        async move {
            let expected = local.admit(admission.clone(), now).await.unwrap();
            assert_eq!(shared.admit(admission.clone(), now).await.unwrap(), expected, "admission at {now}");
            (admission, expected)
        }
    };
    for group in 0..75u64 {
        // Eight admissions, then their settlements, a millisecond apart, in one pipeline.
        let mut leases = Vec::new();
        for i in 0..8 {
            let (admission, decision) = admit(Amount { tokens: 100, nanos: 0 }, now).await;
            assert!(decision.is_ok(), "request {group}.{i} fits");
            leases.push(admission.lease.id);
            now += 1 + i % 2;
        }
        for (i, lease_id) in leases.into_iter().enumerate() {
            let used = Amount { tokens: 100 + i as u64, nanos: 0 };
            let settlement = Settlement { key: key.clone(), team: None, lease_id, used, step: LeaseStep::Settle };
            local.settle(settlement.clone(), now + i as u64);
            shared.settle(settlement, now + i as u64);
        }
        shared.flush().await;
        now += 8;
    }
    // Held 90,000 + settled ~62,000 > 100,000: the retry time is when ~52,000 settled tokens have left, ~500
    // buckets in.
    let (_, refused) = admit(Amount { tokens: 90_000, nanos: 0 }, now).await;
    assert!(refused.is_err(), "{refused:?}");
    for step in [30_000, 29_500, 400, 300, 5_000] {
        now += step;
        assert_eq!(shared.usage(&key, now).await.unwrap(), local.usage(&key, now).await.unwrap(), "usage at {now}");
        let _ = admit(Amount { tokens: 40_000, nanos: 0 }, now).await;
    }
}

/// A ledger written by the first layout (numbers as hash fields, sorted sets per request) is taken over when first
/// touched: the budget's spend carries over, the old keys are removed.
#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored (.ci/suites/keys.sh)"]
async fn a_ledger_of_the_first_layout_keeps_its_spend() {
    let redis = RedisServer::start();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let now = parse_rfc3339("2026-12-06T10:00:00Z").unwrap();
    let limits = Limits { budget_nanos: Some(50_000), budget_period: BudgetPeriod::Month, ..Limits::default() };
    let (start, end) = BudgetPeriod::Month.span(now);
    let base = "gatehouse:ledger:old-key";
    redis::cmd("HSET")
        .arg(base)
        .arg(&["ps", &start.to_string(), "pe", &end.unwrap().to_string(), "spent", "30000", "tok", "5"])
        .arg(&["rt", "7", "rn", "9"])
        .exec(&mut conn)
        .unwrap();
    redis::cmd("ZADD").arg(format!("{base}:req")).arg(now - 10).arg("lease-1").exec(&mut conn).unwrap();
    redis::cmd("HSET").arg(format!("{base}:lease")).arg("lease-2").arg("7 9").exec(&mut conn).unwrap();

    let link = RedisLink::new(client.clone()).unwrap();
    let shared = Store::redis(link, FailurePolicy::Closed, TTL, Clock::Caller, false);
    shared.start();
    let key = SubjectRef { id: "old-key".into(), limits };
    let usage = shared.usage(&key, now).await.unwrap();
    assert_eq!((usage.spent, usage.requests_in_window, usage.reserved.tokens, usage.in_flight), (30_000, 0, 0, 0));
    for old in [":req", ":tok", ":lease", ":exp"] {
        let exists: bool = redis::cmd("EXISTS").arg(format!("{base}{old}")).query(&mut conn).unwrap();
        assert!(!exists, "{old} removed");
    }
    // The spend still counts against the budget: 30,000 spent + 25,000 > 50,000.
    let admission =
        Admission { key: key.clone(), team: None, lease: shared.lease(Amount { tokens: 1, nanos: 25_000 }, now) };
    assert!(shared.admit(admission, now).await.unwrap().is_err(), "the carried spend is enforced");
}

/// A ledger written before standbys (17 numbers) is read as it was, with no standbys, and written back in the
/// current layout (20).
#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored (.ci/suites/keys.sh)"]
async fn a_ledger_written_before_standbys_is_read_and_upgraded() {
    let (_redis, mut conn, shared) = redis_store(Clock::Caller);
    let now = parse_rfc3339("2026-12-06T10:00:00Z").unwrap() as f64;
    // Period (total), spent, admissions (sum, front, open bucket, list length), tokens (the same), reserved
    // tokens and nano-dollars, leases, next expiry.
    let numbers = [0.0, -1.0, 5_000.0, 2.0, now - 1e3, now - 1e3, 2.0, 0.0, 30.0, now - 1e3, now - 1e3, 30.0, 0.0]
        .into_iter()
        .chain([0.0; 4]);
    let state: Vec<u8> = numbers.flat_map(f64::to_le_bytes).collect();
    assert_eq!(state.len(), 17 * 8);
    redis::cmd("HSET").arg("gatehouse:ledger:v17").arg("s").arg(state).exec(&mut conn).unwrap();
    let key = SubjectRef { id: "v17".into(), limits: Limits { rpm: Some(3), ..Limits::default() } };
    let usage = shared.usage(&key, now as u64).await.unwrap();
    assert_eq!((usage.requests_in_window, usage.tokens_in_window, usage.spent), (2, 30, 5_000));
    let admission = || Admission { key: key.clone(), team: None, lease: shared.lease(Amount::default(), now as u64) };
    assert!(shared.admit(admission(), now as u64).await.unwrap().is_ok(), "the third of rpm 3");
    assert!(shared.admit(admission(), now as u64).await.unwrap().is_err(), "no standby was read from nowhere");
    let written: usize = redis::cmd("HSTRLEN").arg("gatehouse:ledger:v17").arg("s").query(&mut conn).unwrap();
    assert_eq!(written, 20 * 8);
}

/// Admissions made at once go to Redis together (one run of the script for all that wait on a thread): each is
/// decided as if alone, in order, exactly as book.rs decides them one by one — across two keys sharing a team.
#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored (.ci/suites/keys.sh)"]
async fn admissions_sent_together_are_decided_one_by_one_as_book_rs_does() {
    let (_redis, mut conn, shared) = redis_store(Clock::Caller);
    let local = Store::embedded();
    let team = SubjectRef { id: "together-team".into(), limits: Limits { tpm: Some(9_000), ..Limits::default() } };
    let keys = [
        SubjectRef { id: "together-a".into(), limits: Limits { rpm: Some(12), ..Limits::default() } },
        SubjectRef { id: "together-b".into(), limits: Limits { max_parallel: Some(7), ..Limits::default() } },
    ];
    let now = parse_rfc3339("2026-12-06T10:00:00Z").unwrap();
    for round in 0..3u64 {
        let at = now + round * 1_000;
        let admissions: Vec<Admission> = (0..60u64)
            .map(|i| Admission {
                key: keys[(i % 3 == 0) as usize].clone(),
                team: (i % 4 != 0).then(|| team.clone()),
                lease: local.lease(Amount { tokens: 150 + i, nanos: 0 }, at),
            })
            .collect();
        let runs = script_runs(&mut conn);
        let together = futures_util::future::join_all(admissions.iter().map(|a| shared.admit(a.clone(), at))).await;
        assert!(script_runs(&mut conn) - runs <= 2, "60 admissions made at once took one run of the script");
        let mut admitted = Vec::new();
        for (i, (admission, got)) in admissions.iter().zip(together).enumerate() {
            let expected = local.admit(admission.clone(), at).await.unwrap();
            assert_eq!(got.unwrap(), expected, "round {round}, admission {i}");
            if expected.is_ok() {
                admitted.push(admission);
            }
        }
        assert!(!admitted.is_empty() && admitted.len() < 60, "some admitted, some refused ({})", admitted.len());
        for subject in keys.iter().chain([&team]) {
            assert_eq!(shared.usage(subject, at).await.unwrap(), local.usage(subject, at).await.unwrap());
        }
        // They end having used nothing: the next round finds max_parallel and tpm free again (not rpm).
        for admission in admitted {
            let settlement = Settlement {
                key: admission.key.clone(),
                team: admission.team.clone(),
                lease_id: admission.lease.id.clone(),
                used: Amount::default(),
                step: LeaseStep::Settle,
            };
            local.settle(settlement.clone(), at + 1);
            shared.settle(settlement, at + 1);
        }
        shared.flush().await;
    }
}

/// How many times Redis ran a script so far (`EVALSHA` and `EVAL` calls).
fn script_runs(conn: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
    info.lines()
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| l.split("calls=").nth(1)?.split(',').next()?.parse::<u64>().ok())
        .sum()
}

/// On Redis's clock, a request that ends while its thread has an admission call on its way settles with the next
/// call: no run of its own, and its reservation is gone once that call is back.
#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored (.ci/suites/keys.sh)"]
async fn a_settlement_rides_along_with_the_next_admission_call() {
    let (_redis, mut conn, shared) = redis_store(Clock::Redis);
    let key = SubjectRef { id: "rider".into(), limits: Limits { tpm: Some(10_000), ..Limits::default() } };
    let now = gatehouse::limits::now_ms();
    let admission =
        |tokens| Admission { key: key.clone(), team: None, lease: shared.lease(Amount { tokens, nanos: 0 }, now) };
    let first = admission(4_000);
    assert!(shared.admit(first.clone(), now).await.unwrap().is_ok());

    let runs = script_runs(&mut conn);
    let later: Vec<Admission> = (0..5).map(|_| admission(1_000)).collect();
    let mut together = Box::pin(futures_util::future::join_all(later.iter().map(|a| shared.admit(a.clone(), now))));
    // Queue them (their call is on its way from now on), then end the first request.
    std::future::poll_fn(|cx| {
        let _ = std::future::Future::poll(together.as_mut(), cx);
        std::task::Poll::Ready(())
    })
    .await;
    let used = Amount { tokens: 300, nanos: 0 };
    shared.settle(
        Settlement { key: key.clone(), team: None, lease_id: first.lease.id.clone(), used, step: LeaseStep::Settle },
        now,
    );
    let decisions = together.await;
    assert!(decisions.iter().all(|d| matches!(d, Ok(Ok(_)))), "{decisions:?}");
    assert_eq!(script_runs(&mut conn) - runs, 1, "the settlement took no run of its own");
    let usage = shared.usage(&key, now).await.unwrap();
    assert_eq!((usage.in_flight, usage.reserved.tokens, usage.tokens_in_window), (5, 5_000, 300));
}

/// The lease fields of a ledger in Redis (`l:<lease id>`), sorted.
fn lease_fields(conn: &mut redis::Connection, id: &str) -> Vec<String> {
    let fields: Vec<String> = redis::cmd("HKEYS").arg(format!("gatehouse:ledger:{id}")).query(conn).unwrap();
    let mut leases: Vec<String> = fields.into_iter().filter(|f| f.starts_with("l:")).collect();
    leases.sort();
    leases
}

/// A request admitted alone gets a standby lease beside it; the next request takes it without a run of its own,
/// and until then it counts as a request and holds its reservation, so the limits stay exact. Taken, it trims
/// its reservation to the request's estimate; a standby nobody takes is given back, charged nothing; the usage
/// report never shows one.
#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored (.ci/suites/keys.sh)"]
async fn standby_leases_count_until_taken_and_are_given_back_uncharged() {
    let (_redis, mut conn, shared) = redis_store(Clock::Redis);
    let limits = Limits { rpm: Some(10), tpm: Some(100_000), budget_nanos: Some(1_000_000), ..Limits::default() };
    let key = SubjectRef { id: "steady".into(), limits };
    let now = gatehouse::limits::now_ms;
    let admission = |tokens, nanos| {
        let lease = shared.lease(Amount { tokens, nanos }, now());
        Admission { key: key.clone(), team: None, lease }
    };

    let first = admission(100, 1_000);
    let (decision, standby) = shared.admit_request(first.clone(), now()).await.unwrap();
    assert_eq!(standby, None, "the first request asks Redis");
    let (limit, remaining, _) = decision.unwrap().requests.unwrap();
    assert_eq!((limit, remaining), (10, 9), "the standby asked beside it is not counted in its headers");
    let standby_field = format!("l:{}s", first.lease.id);
    assert_eq!(lease_fields(&mut conn, "steady"), [format!("l:{}", first.lease.id), standby_field.clone()]);
    let u = shared.usage(&key, now()).await.unwrap();
    assert_eq!((u.requests_in_window, u.in_flight, u.reserved.tokens, u.reserved.nanos), (1, 1, 100, 1_000));

    // Too big for the standby: asks Redis, where the standby counts as a request already.
    let big = admission(101, 1_000);
    let (decision, standby) = shared.admit_request(big.clone(), now()).await.unwrap();
    assert_eq!((standby, decision.unwrap().requests.unwrap().1), (None, 7), "10 - 2 requests - 1 standby");

    let runs = script_runs(&mut conn);
    let second = admission(60, 400);
    let (decision, standby) = shared.admit_request(second.clone(), now()).await.unwrap();
    let taken = standby.expect("taken from the standby");
    assert_eq!(format!("l:{taken}"), standby_field);
    // Its headers say what was left when the standby was granted (with it counted), before `big`.
    assert_eq!(decision.unwrap().requests.unwrap().1, 8);
    // The take rides with the next standby's ask: one run.
    within_ms(1_000, || script_runs(&mut conn) == runs + 1).await;
    let u = shared.usage(&key, now()).await.unwrap();
    assert_eq!((u.requests_in_window, u.in_flight), (3, 3));
    assert_eq!((u.reserved.tokens, u.reserved.nanos), (100 + 101 + 60, 1_000 + 1_000 + 400), "trimmed to the estimate");

    // rpm stays exact: 10 in all, however many are taken from standbys.
    let mut admitted = 3;
    let mut held = vec![first.lease.id.clone(), big.lease.id.clone(), taken];
    for _ in 0..10 {
        let next = admission(60, 400);
        let (decision, standby) = shared.admit_request(next.clone(), now()).await.unwrap();
        if decision.is_ok() {
            admitted += 1;
            held.push(standby.unwrap_or(next.lease.id));
        }
    }
    assert_eq!(admitted, 10);
    for lease_id in held {
        let used = Amount { tokens: 10, nanos: 100 };
        shared.settle(Settlement { key: key.clone(), team: None, lease_id, used, step: LeaseStep::Settle }, now());
    }
    // Standbys held untaken are given back within a second; nothing stays reserved, only what was used is charged.
    within_ms(3_000, || lease_fields(&mut conn, "steady").is_empty()).await;
    let u = shared.usage(&key, now()).await.unwrap();
    assert_eq!((u.requests_in_window, u.in_flight, u.reserved), (10, 0, Amount::default()));
    assert_eq!((u.tokens_in_window, u.spent), (100, 1_000));

    // A standby nobody takes: given back, and the key is charged its one request.
    let idle = SubjectRef { id: "idle".into(), limits: Limits { rpm: Some(100), ..Limits::default() } };
    let alone =
        Admission { key: idle.clone(), team: None, lease: shared.lease(Amount { tokens: 50, nanos: 0 }, now()) };
    assert!(shared.admit_request(alone.clone(), now()).await.unwrap().0.is_ok());
    assert_eq!(lease_fields(&mut conn, "idle").len(), 2, "its lease and the standby's");
    let (lease_id, used) = (alone.lease.id.clone(), Amount { tokens: 7, nanos: 0 });
    shared.settle(Settlement { key: idle.clone(), team: None, lease_id, used, step: LeaseStep::Settle }, now());
    within_ms(3_000, || lease_fields(&mut conn, "idle").is_empty()).await;
    let u = shared.usage(&idle, now()).await.unwrap();
    assert_eq!((u.requests_in_window, u.tokens_in_window, u.reserved), (1, 7, Amount::default()));
}

/// Polls `check` every 10 ms for up to `ms`.
async fn within_ms(ms: u64, mut check: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !check() {
        assert!(started.elapsed() < Duration::from_millis(ms), "not within {ms} ms");
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Three replicas' stores on one Redis, on Redis's clock, so requests go alone (taking and asking for standbys),
/// in bursts (handing a granted standby to a request waiting on the thread), with estimates that fit a standby or
/// not, and settle in any order. Within a run (shorter than the window) no more than `rpm` requests are ever
/// admitted and spend plus reservations never pass the budget; at the end the usage is exactly what the admitted
/// requests used, with no standby left.
#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored (.ci/suites/keys.sh)"]
async fn with_standbys_limits_hold_and_usage_is_exact_across_replicas() {
    let redis = RedisServer::start();
    let stores: Vec<Store> = (0..3)
        .map(|_| {
            let client = redis::Client::open(redis.url()).unwrap();
            let link = RedisLink::new(client).unwrap();
            let store = Store::redis(link, FailurePolicy::Closed, TTL, Clock::Redis, true);
            store.start();
            store
        })
        .collect();
    let client = redis::Client::open(redis.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let now = gatehouse::limits::now_ms;
    let mut taken = 0;
    for round in 0..6u64 {
        let mut rng = fastrand::Rng::with_seed(round);
        let limits = Limits {
            rpm: Some(rng.u64(20..60)),
            tpm: rng.bool().then(|| rng.u64(5_000..20_000)),
            budget_nanos: rng.bool().then(|| rng.u64(20_000..80_000)),
            ..Limits::default()
        };
        let id = format!("random-{round}");
        let key = SubjectRef { id: id.as_str().into(), limits: limits.clone() };
        let sizes = [(200, 1_000), (200, 1_000), (150, 900), (250, 1_200)];
        // In flight: (store, lease id, estimate); and what the settled ones used.
        let mut flying: Vec<(usize, gatehouse::limits::LeaseId, Amount)> = Vec::new();
        let (mut admitted, mut used_tokens, mut used_nanos) = (0u64, 0u64, 0u64);
        for _ in 0..120 {
            let burst = if rng.u8(..4) == 0 { rng.usize(2..6) } else { 1 };
            let s = rng.usize(..3);
            let asks: Vec<Admission> = (0..burst)
                .map(|_| {
                    let (tokens, nanos) = sizes[rng.usize(..sizes.len())];
                    let lease = stores[s].lease(Amount { tokens, nanos }, now());
                    Admission { key: key.clone(), team: None, lease }
                })
                .collect();
            let answers =
                futures_util::future::join_all(asks.iter().map(|a| stores[s].admit_request(a.clone(), now()))).await;
            for (asked, answer) in asks.iter().zip(answers) {
                let (decision, standby) = answer.unwrap();
                if decision.is_ok() {
                    admitted += 1;
                    taken += u64::from(standby.is_some());
                    flying.push((s, standby.unwrap_or(asked.lease.id.clone()), asked.lease.reserved));
                }
            }
            assert!(admitted <= limits.rpm.unwrap(), "round {round}: {admitted} admitted, rpm {limits:?}");
            let held: u64 = flying.iter().map(|f| f.2.nanos).sum();
            if let Some(budget) = limits.budget_nanos {
                assert!(used_nanos + held <= budget, "round {round}: spend and reservations within the budget");
            }
            if let Some(tpm) = limits.tpm {
                let held: u64 = flying.iter().map(|f| f.2.tokens).sum();
                assert!(used_tokens + held <= tpm, "round {round}: tokens within tpm");
            }
            while !flying.is_empty() && rng.u8(..3) > 0 {
                let (s, lease_id, reserved) = flying.swap_remove(rng.usize(..flying.len()));
                let used = Amount { tokens: rng.u64(..=reserved.tokens), nanos: rng.u64(..=reserved.nanos) };
                used_tokens += used.tokens;
                used_nanos += used.nanos;
                let settlement = Settlement { key: key.clone(), team: None, lease_id, used, step: LeaseStep::Settle };
                stores[s].settle(settlement, now());
            }
        }
        for (s, lease_id, reserved) in flying.drain(..) {
            used_tokens += reserved.tokens;
            used_nanos += reserved.nanos;
            stores[s].settle(
                Settlement { key: key.clone(), team: None, lease_id, used: reserved, step: LeaseStep::Settle },
                now(),
            );
        }
        within_ms(3_000, || lease_fields(&mut conn, &id).is_empty()).await;
        let u = stores[0].usage(&key, now()).await.unwrap();
        assert_eq!((u.requests_in_window, u.in_flight, u.reserved), (admitted, 0, Amount::default()), "round {round}");
        assert_eq!((u.tokens_in_window, u.spent), (used_tokens, used_nanos), "round {round}");
    }
    assert!(taken > 10, "standbys were taken ({taken})");
}
