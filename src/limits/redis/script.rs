//! The ledger script's calling convention (`ledger.lua` documents it): which Redis keys hold a ledger, the
//! arguments of each operation, and what its replies mean.

use redis::{Script, ScriptInvocation};

use crate::limits::book::{Amount, Headroom, Refusal, Subject, UsageNow};
use crate::limits::period::BudgetPeriod;
use crate::limits::store::{Admission, Decision, LeaseStep, Settlement, StoreError, SubjectRef};

/// The script, loaded once per Redis (EVALSHA, loaded again after a Redis restart).
pub static LEDGER_SCRIPT: std::sync::LazyLock<Script> =
    std::sync::LazyLock::new(|| Script::new(include_str!("ledger.lua")));

/// The prefix of every ledger key.
pub const LEDGER_PREFIX: &str = "gatehouse:ledger:";

/// What follows `LEDGER_PREFIX` and a subject's id in each of its ledger's three keys, in the script's order.
const LEDGER_SUFFIXES: [&str; 3] = ["", ":rq", ":tk"];

/// The three Redis keys of a subject's ledger, in the script's order.
pub fn ledger_keys(id: &str) -> [String; 3] {
    LEDGER_SUFFIXES.map(|suffix| {
        let mut key = String::new();
        write_ledger_key(&mut key, id, suffix);
        key
    })
}

/// Writes one ledger key into `key` (emptied first): without `format!`, three keys per ledger per call, on the
/// request path.
fn write_ledger_key(key: &mut String, id: &str, suffix: &str) {
    key.clear();
    key.reserve(LEDGER_PREFIX.len() + id.len() + suffix.len());
    key.push_str(LEDGER_PREFIX);
    key.push_str(id);
    key.push_str(suffix);
}

/// Every Redis key a subject's ledger may have: [`ledger_keys`] and those of the first layout, which the script
/// replaces when it first touches the ledger.
pub fn all_ledger_keys(id: &str) -> Vec<String> {
    let mut keys = ledger_keys(id).to_vec();
    keys.extend([":req", ":tok", ":lease", ":exp"].map(|suffix| format!("{LEDGER_PREFIX}{id}{suffix}")));
    keys
}

/// One operation of the script on one key and its team (admissions, in batches: [`admissions`]).
#[derive(Debug, Clone, Copy)]
pub enum Op<'a> {
    /// Several leases of the same subjects, in one run.
    Settle {
        leases: &'a [(&'a str, Amount, LeaseStep)],
    },
    Renew {
        lease_id: &'a str,
        ttl_ms: u64,
    },
    Usage,
}

/// A subject's limits and candidate budget periods as the script reads them: 10 little-endian doubles (`struct`
/// in the script unpacks them in one call; parsing 10 decimal arguments costs Redis more than the admission).
fn packed_limits(subject: &SubjectRef, now_ms: u64) -> [u8; 80] {
    let l = &subject.limits;
    let limit = |v: Option<u64>| v.map_or(-1.0, |v| v as f64);
    let mut values = [0f64; 10];
    values[..4].copy_from_slice(&[limit(l.rpm), limit(l.tpm), limit(l.max_parallel), limit(l.budget_nanos)]);
    for (i, (start, end)) in candidate_periods(l.budget_period, now_ms).into_iter().enumerate() {
        values[4 + 2 * i] = start as f64;
        values[5 + 2 * i] = end.map_or(-1.0, |e| e as f64);
    }
    let mut out = [0u8; 80];
    for (chunk, value) in out.chunks_exact_mut(8).zip(values) {
        chunk.copy_from_slice(&value.to_le_bytes());
    }
    out
}

/// The invocation of `op` on `subjects` (a key, then its team). `now_ms`: the caller's clock, which places the
/// candidate budget periods; `given_now`: the time the script uses (0: Redis's clock).
pub fn invocation<'a>(op: Op<'_>, subjects: &[&SubjectRef], now_ms: u64, given_now: u64) -> ScriptInvocation<'a> {
    let mut call = LEDGER_SCRIPT.prepare_invoke();
    for subject in subjects {
        for key in ledger_keys(&subject.id) {
            call.key(key);
        }
    }
    let name = match op {
        Op::Settle { .. } => "settle",
        Op::Renew { .. } => "renew",
        Op::Usage => "usage",
    };
    call.arg(name).arg(given_now);
    for subject in subjects {
        call.arg(&packed_limits(subject, now_ms)[..]);
    }
    match op {
        Op::Settle { leases } => {
            for (lease_id, used, step) in leases {
                call.arg(*lease_id).arg(used.tokens).arg(used.nanos).arg(*step as u8);
            }
            &mut call
        }
        Op::Renew { lease_id, ttl_ms } => call.arg(lease_id).arg(ttl_ms),
        Op::Usage => &mut call,
    };
    call
}

/// The `EVALSHA` settling `settlements` and then admitting `batch` in order (each as if alone, after the ones
/// before it; those marked `true` are standbys, granted only with room to spare), on the clock of the first
/// admission's `now_ms` (`given_now`: the time the script uses, 0: Redis's clock). Each ledger is passed once, however many name it. Built as one command, not a `ScriptInvocation`
/// (which allocates each argument apart and copies them all again into its command): the request path's call.
/// Its caller loads the script when Redis answers `NOSCRIPT`.
pub fn admissions<'s>(
    settlements: &'s [Settlement],
    batch: &[(&'s Admission, u64, bool)],
    given_now: u64,
) -> redis::Cmd {
    /// The 1-based number of `subject`'s ledger in the call, added when new.
    fn number<'s>(ledgers: &mut Vec<&'s SubjectRef>, subject: &'s SubjectRef) -> usize {
        let at = ledgers.iter().position(|known| known.id == subject.id);
        at.unwrap_or_else(|| {
            ledgers.push(subject);
            ledgers.len() - 1
        }) + 1
    }
    let now_ms = batch.first().map_or(0, |(_, now, _)| *now);
    let mut ledgers: Vec<&SubjectRef> = Vec::with_capacity(2);
    let mut numbered = |key: &'s SubjectRef, team: &'s Option<SubjectRef>| {
        (number(&mut ledgers, key), team.as_ref().map_or(0, |team| number(&mut ledgers, team)))
    };
    let settled: Vec<(usize, usize)> = settlements.iter().map(|s| numbered(&s.key, &s.team)).collect();
    let admitted: Vec<(usize, usize)> = batch.iter().map(|(a, _, _)| numbered(&a.key, &a.team)).collect();
    let mut call = redis::cmd("EVALSHA");
    call.arg(LEDGER_SCRIPT.get_hash()).arg(3 * ledgers.len());
    let mut key = String::with_capacity(LEDGER_PREFIX.len() + 32);
    for subject in &ledgers {
        for suffix in LEDGER_SUFFIXES {
            write_ledger_key(&mut key, &subject.id, suffix);
            call.arg(key.as_str());
        }
    }
    call.arg("admit").arg(given_now);
    for subject in &ledgers {
        call.arg(&packed_limits(subject, now_ms)[..]);
    }
    call.arg(settlements.len());
    for (settlement, (key, team)) in settlements.iter().zip(settled) {
        let used = settlement.used;
        call.arg(key).arg(team).arg(&*settlement.lease_id).arg(used.tokens).arg(used.nanos).arg(settlement.step as u8);
    }
    for ((admission, now, standby), (key, team)) in batch.iter().zip(admitted) {
        let lease = &admission.lease;
        let ttl_ms = lease.expires_ms.saturating_sub(*now);
        call.arg(key).arg(team).arg(&*lease.id).arg(ttl_ms).arg(lease.reserved.tokens).arg(lease.reserved.nanos);
        call.arg(u8::from(*standby));
    }
    call
}

/// The budget period holding `now_ms` and its neighbours: Redis's clock picks the one that holds its `now`, so
/// a replica whose clock is off by less than a period still charges the right one.
pub fn candidate_periods(period: BudgetPeriod, now_ms: u64) -> [(u64, Option<u64>); 3] {
    type Candidates = Option<(BudgetPeriod, [(u64, Option<u64>); 3])>;
    thread_local! {
        /// The last answer, good while `now_ms` stays in its period (the neighbours' calendar arithmetic is not
        /// redone for each admission).
        static LAST: std::cell::Cell<Candidates> = const { std::cell::Cell::new(None) };
    }
    if let Some((p, spans)) = LAST.get() {
        let (start, end) = spans[1];
        if p == period && start <= now_ms && end.is_none_or(|end| now_ms < end) {
            return spans;
        }
    }
    let spans = neighbouring_periods(period, now_ms);
    LAST.set(Some((period, spans)));
    spans
}

fn neighbouring_periods(period: BudgetPeriod, now_ms: u64) -> [(u64, Option<u64>); 3] {
    let current = period.span(now_ms);
    let previous = if current.0 > 0 { period.span(current.0 - 1) } else { current };
    let next = current.1.map_or(current, |end| period.span(end));
    [previous, current, next]
}

fn bad(reply: &[i64]) -> StoreError {
    StoreError(format!("the ledger script answered an unexpected reply ({} values)", reply.len()))
}

fn nat(v: i64) -> u64 {
    v.max(0) as u64
}

fn optional(v: i64) -> Option<u64> {
    (v >= 0).then_some(v as u64)
}

/// A standby's answer: what its key (and team) have left with it, when it was granted.
pub fn granted(answer: &[i64]) -> Option<Headroom> {
    match answer {
        [1, ..] => decision(answer).ok()?.ok(),
        _ => None,
    }
}

/// The admission's decision from the script's reply.
pub fn decision(reply: &[i64]) -> Result<Decision, StoreError> {
    match reply {
        [1, _now, rest @ ..] if rest.len() == 6 || rest.len() == 12 => {
            let mut headroom = headroom(&rest[..6]);
            if rest.len() == 12 {
                headroom = headroom.tightest(self::headroom(&rest[6..]));
            }
            Ok(Ok(headroom))
        }
        [0, _now, who, kind, values @ ..] => {
            let who = if *who == 1 { Subject::Key } else { Subject::Team };
            let refusal = match (kind, values) {
                (1, [limit, retry, ..]) => Refusal::Rpm { limit: nat(*limit), retry_after_ms: nat(*retry) },
                (2, [limit, ..]) => Refusal::Parallel { limit: nat(*limit) },
                (3, [limit, retry, ..]) => Refusal::Tpm { limit: nat(*limit), retry_after_ms: nat(*retry) },
                (4, [limit, needed, ..]) => Refusal::TpmNeverFits { limit: nat(*limit), needed: nat(*needed) },
                (5, [spent, reserved, budget, resets, ..]) => Refusal::Budget {
                    spent: nat(*spent),
                    reserved: nat(*reserved),
                    budget: nat(*budget),
                    resets_ms: optional(*resets),
                },
                _ => return Err(bad(reply)),
            };
            Ok(Err((who, refusal)))
        }
        _ => Err(bad(reply)),
    }
}

fn headroom(v: &[i64]) -> Headroom {
    let part = |limit: i64, remaining: i64, reset: i64| optional(limit).map(|l| (l, nat(remaining), nat(reset)));
    Headroom { requests: part(v[0], v[1], v[2]), tokens: part(v[3], v[4], v[5]) }
}

/// The numbers of the admit operation's reply: a string of little-endian doubles (integers, exact below 2^53).
pub fn admit_reply_numbers(reply: &[u8]) -> Result<Vec<i64>, StoreError> {
    if reply.len() % 8 != 0 {
        return Err(StoreError(format!("the ledger script answered {} bytes, not a list of numbers", reply.len())));
    }
    let number = |chunk: &[u8]| f64::from_le_bytes(chunk.try_into().unwrap_or_default()) as i64;
    Ok(reply.chunks_exact(8).map(number).collect())
}

/// The answers to a batch of `n` admissions in the script's reply (each preceded by its length), for
/// [`decision`] (a request's) or [`granted`] (a standby's).
pub fn answers(reply: &[i64], n: usize) -> Result<Vec<&[i64]>, StoreError> {
    let mut out = Vec::with_capacity(n);
    let mut rest = reply;
    while let [len, tail @ ..] = rest {
        let len = usize::try_from(*len).map_err(|_| bad(reply))?;
        let answer = tail.get(..len).ok_or_else(|| bad(reply))?;
        out.push(answer);
        rest = &tail[len..];
    }
    if out.len() != n {
        return Err(bad(reply));
    }
    Ok(out)
}

/// Usage from the script's reply, with the period's end (`None`: never).
pub fn usage(reply: &[i64]) -> Result<(UsageNow, Option<u64>), StoreError> {
    match reply {
        [_now, requests, tokens, in_flight, reserved_tokens, reserved_nanos, spent, period_end] => Ok((
            UsageNow {
                requests_in_window: nat(*requests),
                tokens_in_window: nat(*tokens),
                in_flight: nat(*in_flight),
                reserved: Amount { tokens: nat(*reserved_tokens), nanos: nat(*reserved_nanos) },
                spent: nat(*spent),
            },
            optional(*period_end),
        )),
        _ => Err(bad(reply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::period::parse_rfc3339;

    #[test]
    fn neighbouring_periods_cover_a_skewed_clock() {
        let now = parse_rfc3339("2026-12-01T00:00:01Z").unwrap();
        let [previous, current, next] = candidate_periods(BudgetPeriod::Month, now);
        assert_eq!(previous, (parse_rfc3339("2026-11-01T00:00:00Z").unwrap(), Some(current.0)));
        assert_eq!(next.0, parse_rfc3339("2027-01-01T00:00:00Z").unwrap());
        assert_eq!(candidate_periods(BudgetPeriod::Total, now), [(0, None); 3]);
        for (period, at) in [(BudgetPeriod::Month, now), (BudgetPeriod::Day, now), (BudgetPeriod::Month, now - 2_000)] {
            assert_eq!(candidate_periods(period, at), neighbouring_periods(period, at), "remembered, not stale");
        }
    }

    #[test]
    fn the_admit_reply_is_a_string_of_doubles() {
        let numbers = [1i64, 1_780_000_000_000, -1, 0, 9_000_000_000_000_000];
        let bytes: Vec<u8> = numbers.iter().flat_map(|&n| (n as f64).to_le_bytes()).collect();
        assert_eq!(admit_reply_numbers(&bytes).unwrap(), numbers);
        assert!(admit_reply_numbers(&bytes[..7]).is_err());
        assert_eq!(admit_reply_numbers(b"").unwrap(), Vec::<i64>::new());
    }

    #[test]
    fn replies_decode_into_decisions() {
        let ok = decision(&[1, 5, 10, 9, 60_005, -1, 0, 0]).unwrap().unwrap();
        assert_eq!(ok, Headroom { requests: Some((10, 9, 60_005)), tokens: None });
        let both = decision(&[1, 5, 10, 9, 60_005, -1, 0, 0, 3, 1, 60_001, 100, 50, 60_002]).unwrap().unwrap();
        assert_eq!(both, Headroom { requests: Some((3, 1, 60_001)), tokens: Some((100, 50, 60_002)) });
        let refused = decision(&[0, 5, 2, 5, 10, 2, 30, -1]).unwrap().unwrap_err();
        assert_eq!(refused, (Subject::Team, Refusal::Budget { spent: 10, reserved: 2, budget: 30, resets_ms: None }));
        assert!(decision(&[0, 5, 1, 9]).is_err());
        assert!(usage(&[1, 2, 3]).is_err());
        assert_eq!(ledger_keys("vk_1")[2], "gatehouse:ledger:vk_1:tk");
    }
}
