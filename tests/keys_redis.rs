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
use gatehouse::limits::{Admission, Amount, BudgetPeriod, FailurePolicy, Limits, Settlement, Store, SubjectRef};

const TTL: Duration = Duration::from_secs(20);

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

fn wait(rng: &mut fastrand::Rng) -> u64 {
    match rng.usize(..3) {
        0 => rng.u64(0..50),
        1 => rng.u64(0..5_000),
        _ => rng.u64(0..70_000),
    }
}

#[actix_rt::test]
#[ignore = "needs redis-server; run with --ignored (.ci/suites/keys.sh)"]
async fn the_redis_script_decides_exactly_as_book_rs() {
    let redis = RedisServer::start();
    let link = RedisLink::new(redis::Client::open(redis.url()).unwrap()).unwrap();
    let shared = Store::redis(link, FailurePolicy::Closed, TTL, Clock::Caller);
    shared.start();
    let sequences: u64 = std::env::var("DIFF_SEQUENCES").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let mut steps = 0;
    for seed in 0..sequences {
        let mut rng = fastrand::Rng::with_seed(seed);
        let local = Store::embedded();
        let key = SubjectRef { id: format!("diff{seed}-key"), limits: random_limits(&mut rng) };
        let team = rng.bool().then(|| SubjectRef { id: format!("diff{seed}-team"), limits: random_limits(&mut rng) });
        // Shortly before a UTC midnight that ends a day, a week or a month, so periods roll over mid-run.
        let starts = ["2026-12-05T23:58:00Z", "2026-11-29T23:59:00Z", "2026-12-31T23:57:30Z", "2027-02-28T23:59:50Z"];
        let mut now = parse_rfc3339(starts[rng.usize(..starts.len())]).unwrap();
        let mut flying: Vec<Admission> = Vec::new();
        for step in 0..rng.usize(1..150) {
            steps += 1;
            now += wait(&mut rng);
            let context = format!("seed {seed} step {step} at {now} key {:?} team {:?}", key.limits, team);
            match rng.usize(..10) {
                0..=4 => {
                    let want = Amount { tokens: rng.u64(0..400), nanos: rng.u64(0..3_000) };
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
                    let admission = flying.remove(rng.usize(..flying.len()));
                    let used = Amount { tokens: rng.u64(0..500), nanos: rng.u64(0..4_000) };
                    let settlement = Settlement {
                        key: admission.key.clone(),
                        team: admission.team.clone(),
                        lease_id: admission.lease.id.clone(),
                        used,
                    };
                    local.settle(settlement.clone(), now);
                    shared.settle(settlement, now);
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
    eprintln!("{sequences} sequences, {steps} steps: the script and book.rs agree");
}
