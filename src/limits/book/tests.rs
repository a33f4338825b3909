//! The ledger against a brute-force model that keeps every event and recomputes each limit from the whole
//! history: the same decisions, and the limits hold in every interval.

use proptest::prelude::*;

use super::*;
use crate::limits::period::parse_rfc3339;

const LEASE_MS: u64 = 20_000;

fn limits(rpm: Option<u64>, tpm: Option<u64>, parallel: Option<u64>, budget: Option<u64>) -> Limits {
    Limits { rpm, tpm, max_parallel: parallel, budget_nanos: budget, budget_period: BudgetPeriod::Day }
}

fn lease(id: usize, now: u64, tokens: u64, nanos: u64) -> Lease {
    Lease { id: id.to_string().into(), expires_ms: now + LEASE_MS, reserved: Amount { tokens, nanos } }
}

fn admit_one(ledger: &mut Ledger, l: &Limits, now: u64, lease: Lease) -> Result<Headroom, Refusal> {
    admit(Party { ledger, limits: l }, None, now, lease).map_err(|(_, r)| r)
}

#[test]
fn rpm_is_a_sliding_window_with_the_wait_until_the_oldest_leaves() {
    let l = limits(Some(2), None, None, None);
    let mut book = Ledger::default();
    assert!(admit_one(&mut book, &l, 1_000, lease(1, 1_000, 0, 0)).is_ok());
    assert!(admit_one(&mut book, &l, 59_000, lease(2, 59_000, 0, 0)).is_ok());
    let refused = admit_one(&mut book, &l, 60_500, lease(3, 60_500, 0, 0)).unwrap_err();
    assert_eq!(refused, Refusal::Rpm { limit: 2, retry_after_ms: 500 }, "a fixed minute would have admitted it");
    assert!(admit_one(&mut book, &l, 61_000, lease(3, 61_000, 0, 0)).is_ok(), "the first left at 61.0 s");
}

#[test]
fn reservations_hold_tokens_until_settled_with_the_real_usage() {
    let l = limits(None, Some(1_000), None, None);
    let mut book = Ledger::default();
    let headroom = admit_one(&mut book, &l, 0, lease(1, 0, 700, 0)).unwrap();
    assert_eq!(headroom.tokens, Some((1_000, 300, 0)));
    assert_eq!(
        admit_one(&mut book, &l, 10, lease(2, 10, 400, 0)).unwrap_err(),
        Refusal::Tpm { limit: 1_000, retry_after_ms: 1_000 }
    );
    assert!(book.settle("1", 100, Amount { tokens: 200, nanos: 0 }, BudgetPeriod::Day));
    assert!(admit_one(&mut book, &l, 200, lease(2, 200, 400, 0)).is_ok(), "the unused reservation was released");
    assert_eq!(
        admit_one(&mut book, &l, 300, lease(3, 300, 2_000, 0)).unwrap_err(),
        Refusal::TpmNeverFits { limit: 1_000, needed: 2_000 }
    );
}

#[test]
fn a_lapsed_lease_is_charged_in_full_at_its_expiry() {
    let l = limits(None, Some(1_000), Some(1), Some(5_000));
    let mut book = Ledger::default();
    let day = parse_rfc3339("2026-12-05T10:00:00Z").unwrap();
    admit_one(&mut book, &l, day, lease(1, day, 600, 4_000)).unwrap();
    assert_eq!(admit_one(&mut book, &l, day + 1, lease(2, day + 1, 1, 1)).unwrap_err(), Refusal::Parallel { limit: 1 });
    let later = day + LEASE_MS + 1;
    book.advance(later, BudgetPeriod::Day);
    assert_eq!(book.usage().spent, 4_000);
    assert_eq!(book.usage().tokens_in_window, 600);
    assert!(!book.settle("1", later, Amount { tokens: 10, nanos: 10 }, BudgetPeriod::Day), "charged once");
    let refused = admit_one(&mut book, &l, later, lease(2, later, 1, 1_001)).unwrap_err();
    let tomorrow = parse_rfc3339("2026-12-06T00:00:00Z").unwrap();
    assert_eq!(refused, Refusal::Budget { spent: 4_000, reserved: 0, budget: 5_000, resets_ms: Some(tomorrow) });
    assert!(admit_one(&mut book, &l, tomorrow, lease(3, tomorrow, 1, 5_000)).is_ok(), "a new day, a new budget");
}

#[test]
fn a_key_and_its_team_must_both_have_room() {
    let key_limits = limits(Some(10), None, None, None);
    let team_limits = limits(Some(1), None, None, None);
    let (mut key, mut team) = (Ledger::default(), Ledger::default());
    let team_party = Some(Party { ledger: &mut team, limits: &team_limits });
    admit(Party { ledger: &mut key, limits: &key_limits }, team_party, 0, lease(1, 0, 0, 0)).unwrap();
    let team_party = Some(Party { ledger: &mut team, limits: &team_limits });
    let (who, _) =
        admit(Party { ledger: &mut key, limits: &key_limits }, team_party, 1, lease(2, 1, 0, 0)).unwrap_err();
    assert_eq!(who, Subject::Team);
    assert_eq!(key.requests.len(), 1, "a refusal records nothing");
}

/// Every event, for the brute-force model.
#[derive(Debug, Clone)]
struct Admission {
    at: u64,
    id: String,
    reserved: Amount,
    expires: u64,
    settled: Option<(u64, Amount)>,
}

/// Recomputes everything from the full history at `now`.
struct Model {
    history: Vec<Admission>,
}

impl Model {
    fn lapse(&mut self, now: u64) {
        for a in &mut self.history {
            if a.settled.is_none() && a.expires <= now {
                a.settled = Some((a.expires, a.reserved));
            }
        }
    }

    fn decide(&self, l: &Limits, now: u64, want: Amount) -> bool {
        let in_window = |t: u64| t + WINDOW_MS > now;
        let requests = self.history.iter().filter(|a| in_window(a.at)).count() as u64;
        let flying: Vec<&Admission> = self.history.iter().filter(|a| a.settled.is_none()).collect();
        let reserved_tokens: u64 = flying.iter().map(|a| a.reserved.tokens).sum();
        let reserved_nanos: u64 = flying.iter().map(|a| a.reserved.nanos).sum();
        let settled_tokens: u64 =
            self.history.iter().filter_map(|a| a.settled).filter(|(t, _)| in_window(*t)).map(|(_, u)| u.tokens).sum();
        let (start, end) = l.budget_period.span(now);
        let spent: u64 = self
            .history
            .iter()
            .filter_map(|a| a.settled)
            .filter(|(t, _)| *t >= start && end.is_none_or(|e| *t < e))
            .map(|(_, u)| u.nanos)
            .sum();
        l.rpm.is_none_or(|rpm| requests < rpm)
            && l.max_parallel.is_none_or(|p| (flying.len() as u64) < p)
            && l.tpm.is_none_or(|tpm| settled_tokens + reserved_tokens + want.tokens <= tpm)
            && l.budget_nanos.is_none_or(|b| spent + reserved_nanos + want.nanos <= b)
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Wait this long, then try to admit a request reserving (tokens, nanos).
    Admit(u64, u64, u64),
    /// Wait, then settle the n-th request in flight with (tokens, nanos).
    Settle(u64, usize, u64, u64),
    /// Wait, then renew every lease in flight.
    Renew(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let wait = prop_oneof![0u64..50, 0u64..5_000, 0u64..70_000];
    prop_oneof![
        4 => (wait.clone(), 0u64..400, 0u64..3_000).prop_map(|(w, t, n)| Op::Admit(w, t, n)),
        3 => (wait.clone(), 0usize..8, 0u64..500, 0u64..4_000).prop_map(|(w, i, t, n)| Op::Settle(w, i, t, n)),
        1 => wait.prop_map(Op::Renew),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decisions_match_the_brute_force_model_and_limits_hold_in_every_interval(
        rpm in proptest::option::of(1u64..8),
        tpm in proptest::option::of(100u64..1_500),
        parallel in proptest::option::of(1u64..5),
        budget in proptest::option::of(1_000u64..30_000),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let l = limits(rpm, tpm, parallel, budget);
        // Start shortly before midnight UTC, so budget periods roll over within a run.
        let mut now = parse_rfc3339("2026-12-05T23:58:00Z").unwrap();
        let mut book = Ledger::default();
        let mut model = Model { history: Vec::new() };
        let mut admitted_at = Vec::new();
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Admit(wait, tokens, nanos) => {
                    now += wait;
                    model.lapse(now);
                    let want = Amount { tokens, nanos };
                    let expected = model.decide(&l, now, want);
                    let got = admit_one(&mut book, &l, now, lease(n, now, tokens, nanos));
                    prop_assert_eq!(got.is_ok(), expected, "at {} wanting {:?}: {:?}", now, want, got);
                    if got.is_ok() {
                        model.history.push(Admission { at: now, id: n.to_string(), reserved: want, expires: now + LEASE_MS, settled: None });
                        admitted_at.push(now);
                    }
                }
                Op::Settle(wait, i, tokens, nanos) => {
                    now += wait;
                    model.lapse(now);
                    let used = Amount { tokens, nanos };
                    let flying: Vec<usize> = (0..model.history.len()).filter(|&k| model.history[k].settled.is_none()).collect();
                    if let Some(&k) = flying.get(i % flying.len().max(1)) {
                        prop_assert!(book.settle(&model.history[k].id, now, used, l.budget_period));
                        model.history[k].settled = Some((now, used));
                    }
                }
                Op::Renew(wait) => {
                    now += wait;
                    model.lapse(now);
                    book.advance(now, l.budget_period);
                    for a in model.history.iter_mut().filter(|a| a.settled.is_none()) {
                        prop_assert!(book.renew(&a.id, now + LEASE_MS));
                        a.expires = now + LEASE_MS;
                    }
                }
            }
        }
        if let Some(rpm) = rpm {
            for (i, &t) in admitted_at.iter().enumerate() {
                let in_interval = admitted_at[i..].iter().take_while(|&&u| u < t + WINDOW_MS).count() as u64;
                prop_assert!(in_interval <= rpm, "{} admissions in the minute from {}", in_interval, t);
            }
        }
    }
}

#[test]
fn a_changed_budget_period_applies_at_once_and_starts_a_new_period() {
    let mut monthly = limits(None, None, None, Some(10_000));
    monthly.budget_period = BudgetPeriod::Month;
    let mut book = Ledger::default();
    let now = parse_rfc3339("2026-12-05T10:00:00Z").unwrap();
    admit_one(&mut book, &monthly, now, lease(1, now, 0, 9_000)).unwrap();
    assert!(book.settle("1", now + 1, Amount { tokens: 0, nanos: 9_000 }, BudgetPeriod::Month));
    let daily = limits(None, None, None, Some(10_000));
    book.advance(now + 2, daily.budget_period);
    assert_eq!((book.period_start, book.period_end), BudgetPeriod::Day.span(now));
    assert_eq!(book.usage().spent, 0, "the daily period starts with the change");
}

#[test]
fn admissions_in_one_millisecond_share_an_entry_and_the_older_stored_form_still_loads() {
    let mut ledger = Ledger::default();
    let lease = |id: &str| Lease { id: id.into(), expires_ms: 10_000, reserved: Amount::default() };
    for (i, at) in [5, 5, 5, 6].into_iter().enumerate() {
        ledger.admit(at, lease(&i.to_string()));
    }
    assert_eq!(ledger.requests, VecDeque::from([(5, 3), (6, 1)]));
    assert_eq!(ledger.usage().requests_in_window, 4);
    let rpm = Limits { rpm: Some(2), ..Limits::default() };
    assert_eq!(ledger.check(&rpm, 7, Amount::default()), Err(Refusal::Rpm { limit: 2, retry_after_ms: 60_005 - 7 }));

    let older =
        r#"{"requests":[1,1,2],"tokens":[[1,10],[2,5]],"leases":[],"period_start":0,"period_end":null,"spent":0}"#;
    let loaded = serde_json::from_str::<Ledger>(older).unwrap().loaded();
    assert_eq!(loaded.requests, VecDeque::from([(1, 2), (2, 1)]));
    assert_eq!((loaded.usage().requests_in_window, loaded.usage().tokens_in_window), (3, 15));
    let again = serde_json::from_str::<Ledger>(&serde_json::to_string(&loaded).unwrap()).unwrap().loaded();
    assert_eq!(again, loaded, "the new form round-trips");
}
