//! The arithmetic of reserve-then-settle limits, free of any store: one [`Ledger`] per subject (a virtual key or a
//! team) holds what it used and what it has in flight, and [`admit`] decides, for a key and its team together,
//! whether a request fits every limit that is set. The embedded store runs this code under a lock; the Redis
//! store runs the same rules in a Lua script (`limits::redis`), tested against this one.
//!
//! The rules (times in Unix milliseconds, the window is the last 60 s, `(now − 60 s, now]`):
//! - `rpm`: requests admitted in the window < `rpm`. A log of admission times, not a counter per fixed minute,
//!   so no 60-second interval ever holds more than `rpm` admissions.
//! - `max_parallel`: reservations in flight < `max_parallel`.
//! - `tpm`: tokens settled in the window + tokens reserved in flight + this request's reservation ≤ `tpm`.
//! - budget: spend settled in the current period + money reserved in flight + this reservation ≤ the budget.
//! - Every admission holds a lease, renewed while its request is alive. Settling replaces the reservation by
//!   what was really used, charged at the settlement time. A lease that lapses (its replica died) is charged in
//!   full at its expiry: never under-count.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::period::BudgetPeriod;

/// The sliding window of `rpm` and `tpm`.
pub const WINDOW_MS: u64 = 60_000;

/// The limits of one subject; each is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub rpm: Option<u64>,
    pub tpm: Option<u64>,
    pub max_parallel: Option<u64>,
    /// The budget in nano-dollars.
    pub budget_nanos: Option<u64>,
    pub budget_period: BudgetPeriod,
}

impl Limits {
    /// Whether a request must reserve tokens or money to be admitted.
    pub fn meters_tokens(&self) -> bool {
        self.tpm.is_some() || self.budget_nanos.is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.rpm.is_none() && self.tpm.is_none() && self.max_parallel.is_none() && self.budget_nanos.is_none()
    }
}

/// Tokens and money, reserved or used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    pub tokens: u64,
    pub nanos: u64,
}

/// A lease's id, shared (not copied) by the ledgers, the renewals and the settlement that name it.
pub type LeaseId = std::sync::Arc<str>;

/// One reservation in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: LeaseId,
    pub expires_ms: u64,
    pub reserved: Amount,
}

/// What one subject used and holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// Admission times in the window, oldest first, as (time, admissions at that millisecond): at thousands of
    /// requests a second many share a millisecond, and the window is kept in memory and stored every second.
    /// Reads the older form too (one time per admission).
    #[serde(deserialize_with = "admissions")]
    pub requests: VecDeque<(u64, u64)>,
    /// The admissions in `requests`, kept as entries come and go. Not stored: [`Ledger::loaded`] recomputes it.
    #[serde(skip)]
    pub requests_count: u64,
    /// Settled tokens in the window (time charged, tokens), oldest first.
    pub tokens: VecDeque<(u64, u64)>,
    /// The sum of `tokens`' counts, kept as entries come and go: a check must not walk a window that, at
    /// thousands of requests a second, holds hundreds of thousands of entries. Not stored: [`Ledger::loaded`]
    /// recomputes it.
    #[serde(skip)]
    pub tokens_sum: u64,
    /// Reservations in flight.
    pub leases: Vec<Lease>,
    /// The budget period `spent` belongs to: its start and, unless it is `total`, its end.
    pub period_start: u64,
    pub period_end: Option<u64>,
    /// Money settled in that period, nano-dollars.
    pub spent: u64,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Rpm {
        limit: u64,
        retry_after_ms: u64,
    },
    Parallel {
        limit: u64,
    },
    Tpm {
        limit: u64,
        retry_after_ms: u64,
    },
    /// The request alone needs more tokens than the limit: waiting never helps.
    TpmNeverFits {
        limit: u64,
        needed: u64,
    },
    Budget {
        spent: u64,
        reserved: u64,
        budget: u64,
        resets_ms: Option<u64>,
    },
}

/// Which subject refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Key,
    Team,
}

/// What a subject has left right after an admission, for the rate-limit headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Headroom {
    /// (limit, remaining, reset time) of requests per minute, when `rpm` is set.
    pub requests: Option<(u64, u64, u64)>,
    /// (limit, remaining, reset time) of tokens per minute, when `tpm` is set.
    pub tokens: Option<(u64, u64, u64)>,
}

impl Headroom {
    /// The tighter of two, limit by limit (the one with less remaining).
    pub fn tightest(self, other: Headroom) -> Headroom {
        let pick = |a: Option<(u64, u64, u64)>, b: Option<(u64, u64, u64)>| match (a, b) {
            (Some(x), Some(y)) => Some(if y.1 < x.1 { y } else { x }),
            (x, y) => x.or(y),
        };
        Headroom { requests: pick(self.requests, other.requests), tokens: pick(self.tokens, other.tokens) }
    }
}

/// What a subject uses now, for `GET /admin/keys/{id}` and `/v1/me`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UsageNow {
    pub requests_in_window: u64,
    pub tokens_in_window: u64,
    pub in_flight: u64,
    pub reserved: Amount,
    pub spent: u64,
}

impl Ledger {
    /// Brings the ledger to `now`: the budget period moves on, lapsed leases are charged in full, and the window
    /// slides.
    pub fn advance(&mut self, now: u64, period: BudgetPeriod) {
        // Computed every time (not only when the period ends), so a changed `budget_period` applies at once.
        let (start, end) = period.span(now);
        if (start, end) != (self.period_start, self.period_end) {
            if start != self.period_start {
                self.spent = 0;
            }
            self.period_start = start;
            self.period_end = end;
        }
        let mut i = 0;
        while i < self.leases.len() {
            if self.leases[i].expires_ms <= now {
                let lapsed = self.leases.swap_remove(i);
                self.charge(lapsed.expires_ms, lapsed.reserved);
            } else {
                i += 1;
            }
        }
        while let Some(&(t, n)) = self.requests.front() {
            if t + WINDOW_MS > now {
                break;
            }
            self.requests.pop_front();
            self.requests_count -= n;
        }
        while let Some(&(t, n)) = self.tokens.front() {
            if t + WINDOW_MS > now {
                break;
            }
            self.tokens.pop_front();
            self.tokens_sum -= n;
        }
    }

    /// The ledger as read from storage, with what is not stored recomputed.
    pub fn loaded(mut self) -> Self {
        self.tokens_sum = self.tokens.iter().map(|&(_, n)| n).sum();
        self.requests_count = self.requests.iter().map(|&(_, n)| n).sum();
        self
    }

    /// Admissions in the window.
    fn admitted(&self) -> u64 {
        debug_assert_eq!(self.requests_count, self.requests.iter().map(|&(_, n)| n).sum::<u64>(), "count drifted");
        self.requests_count
    }

    /// The time of the `index`-th admission in the window, oldest first.
    fn admission_time(&self, index: u64) -> u64 {
        let mut before = 0;
        for &(t, n) in &self.requests {
            if index < before + n {
                return t;
            }
            before += n;
        }
        self.requests.back().map_or(0, |&(t, _)| t)
    }

    /// Charges `used` at time `at`: tokens into the window (kept in time order), money into the current period
    /// when `at` falls in it (a lease that lapsed in an earlier period no longer weighs on this one's budget).
    fn charge(&mut self, at: u64, used: Amount) {
        if used.tokens > 0 {
            let position = self.tokens.iter().rposition(|&(t, _)| t <= at).map_or(0, |p| p + 1);
            match position.checked_sub(1).and_then(|p| self.tokens.get_mut(p)) {
                Some((t, n)) if *t == at => *n += used.tokens,
                _ => self.tokens.insert(position, (at, used.tokens)),
            }
            self.tokens_sum += used.tokens;
        }
        if at >= self.period_start && self.period_end.is_none_or(|end| at < end) {
            self.spent = self.spent.saturating_add(used.nanos);
        }
    }

    fn reserved(&self) -> Amount {
        self.leases.iter().fold(Amount::default(), |sum, l| Amount {
            tokens: sum.tokens.saturating_add(l.reserved.tokens),
            nanos: sum.nanos.saturating_add(l.reserved.nanos),
        })
    }

    fn settled_tokens(&self) -> u64 {
        debug_assert_eq!(self.tokens_sum, self.tokens.iter().map(|&(_, n)| n).sum::<u64>(), "the kept sum drifted");
        self.tokens_sum
    }

    /// Whether `want` fits every limit now (the ledger advanced to `now`).
    pub fn check(&self, limits: &Limits, now: u64, want: Amount) -> Result<(), Refusal> {
        if let Some(rpm) = limits.rpm {
            let n = self.admitted();
            if n >= rpm {
                let oldest_to_leave = self.admission_time(n - rpm);
                return Err(Refusal::Rpm {
                    limit: rpm,
                    retry_after_ms: (oldest_to_leave + WINDOW_MS).saturating_sub(now),
                });
            }
        }
        if let Some(limit) = limits.max_parallel {
            if self.leases.len() as u64 >= limit {
                return Err(Refusal::Parallel { limit });
            }
        }
        let reserved = self.reserved();
        if let Some(tpm) = limits.tpm {
            if want.tokens > tpm {
                return Err(Refusal::TpmNeverFits { limit: tpm, needed: want.tokens });
            }
            let held = reserved.tokens.saturating_add(want.tokens);
            let mut settled = self.settled_tokens();
            if held.saturating_add(settled) > tpm {
                // The earliest moment enough settled tokens have left the window; in-flight reservations only
                // free when their requests end, so when they alone are too many, try again shortly.
                let mut retry_after_ms = 1_000;
                if held <= tpm {
                    for &(t, n) in &self.tokens {
                        settled -= n;
                        if held + settled <= tpm {
                            retry_after_ms = (t + WINDOW_MS).saturating_sub(now);
                            break;
                        }
                    }
                }
                return Err(Refusal::Tpm { limit: tpm, retry_after_ms });
            }
        }
        if let Some(budget) = limits.budget_nanos {
            if self.spent.saturating_add(reserved.nanos).saturating_add(want.nanos) > budget {
                let resets_ms = self.period_end;
                return Err(Refusal::Budget { spent: self.spent, reserved: reserved.nanos, budget, resets_ms });
            }
        }
        Ok(())
    }

    /// Records an admission that [`check`](Self::check) allowed.
    pub fn admit(&mut self, now: u64, lease: Lease) {
        match self.requests.back_mut() {
            Some((t, n)) if *t == now => *n += 1,
            _ => self.requests.push_back((now, 1)),
        }
        self.requests_count += 1;
        self.leases.push(lease);
    }

    /// Extends a lease; `false` when it is gone (lapsed and charged, or settled).
    pub fn renew(&mut self, id: &str, expires_ms: u64) -> bool {
        match self.leases.iter_mut().find(|l| *l.id == *id) {
            Some(lease) => {
                lease.expires_ms = lease.expires_ms.max(expires_ms);
                true
            }
            None => false,
        }
    }

    /// Replaces a lease's reservation by what was `used`, charged at `now`. A lease that already lapsed was
    /// charged in full then, and is not charged again.
    pub fn settle(&mut self, id: &str, now: u64, used: Amount, period: BudgetPeriod) -> bool {
        self.advance(now, period);
        let Some(at) = self.leases.iter().position(|l| *l.id == *id) else { return false };
        self.leases.swap_remove(at);
        self.charge(now, used);
        true
    }

    /// What is left after the latest admission (the ledger advanced to `now`).
    pub fn headroom(&self, limits: &Limits, now: u64) -> Headroom {
        let requests = limits.rpm.map(|rpm| {
            let n = self.admitted();
            let reset = self.requests.front().map_or(now, |&(t, _)| t + WINDOW_MS);
            (rpm, rpm.saturating_sub(n), reset)
        });
        let tokens = limits.tpm.map(|tpm| {
            let used = self.settled_tokens().saturating_add(self.reserved().tokens);
            let reset = self.tokens.front().map_or(now, |&(t, _)| t + WINDOW_MS);
            (tpm, tpm.saturating_sub(used), reset)
        });
        Headroom { requests, tokens }
    }

    /// Usage now (the ledger advanced to `now`).
    pub fn usage(&self) -> UsageNow {
        UsageNow {
            requests_in_window: self.admitted(),
            tokens_in_window: self.settled_tokens(),
            in_flight: self.leases.len() as u64,
            reserved: self.reserved(),
            spent: self.spent,
        }
    }
}

/// One subject taking part in an admission.
/// `Ledger::requests` as stored: (time, count) pairs, or the older one time per admission.
fn admissions<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<VecDeque<(u64, u64)>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Entry {
        One(u64),
        Many(u64, u64),
    }
    let mut window: VecDeque<(u64, u64)> = VecDeque::new();
    for entry in Vec::<Entry>::deserialize(deserializer)? {
        let (at, count) = match entry {
            Entry::One(at) => (at, 1),
            Entry::Many(at, count) => (at, count),
        };
        match window.back_mut() {
            Some((t, n)) if *t == at => *n += count,
            _ => window.push_back((at, count)),
        }
    }
    Ok(window)
}

pub struct Party<'a> {
    pub ledger: &'a mut Ledger,
    pub limits: &'a Limits,
}

/// Admits a request for a key and, when it has one, its team: both must have room; then both record it under the
/// same lease. Returns the tighter headroom of the two.
pub fn admit(
    key: Party<'_>,
    mut team: Option<Party<'_>>,
    now: u64,
    lease: Lease,
) -> Result<Headroom, (Subject, Refusal)> {
    key.ledger.advance(now, key.limits.budget_period);
    key.ledger.check(key.limits, now, lease.reserved).map_err(|r| (Subject::Key, r))?;
    if let Some(team) = &mut team {
        team.ledger.advance(now, team.limits.budget_period);
        team.ledger.check(team.limits, now, lease.reserved).map_err(|r| (Subject::Team, r))?;
    }
    key.ledger.admit(now, lease.clone());
    let mut headroom = key.ledger.headroom(key.limits, now);
    if let Some(team) = team {
        team.ledger.admit(now, lease);
        headroom = headroom.tightest(team.ledger.headroom(team.limits, now));
    }
    Ok(headroom)
}

#[cfg(test)]
mod tests;
