//! Budget periods: a budget renews at the start of each UTC day, ISO week (Monday) or calendar month, or never
//! (`total`). A period is named by its first instant, so two replicas agree on it without talking.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

thread_local! {
    /// The month span of the day this thread last asked about: (day since the epoch, span).
    static MONTH: std::cell::Cell<(u64, (u64, Option<u64>))> = const { std::cell::Cell::new((u64::MAX, (0, None))) };
}

/// How often a budget renews.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    Day,
    Week,
    Month,
    /// Never: the budget is spent once.
    #[default]
    Total,
}

impl BudgetPeriod {
    /// The period holding `now_ms` (Unix milliseconds): its start (its name) and the start of the next one (when
    /// the budget renews; `None` for `total`).
    pub fn span(self, now_ms: u64) -> (u64, Option<u64>) {
        const DAY_MS: u64 = 86_400_000;
        let days = now_ms / DAY_MS;
        match self {
            BudgetPeriod::Total => (0, None),
            BudgetPeriod::Day => (days * DAY_MS, Some((days + 1) * DAY_MS)),
            BudgetPeriod::Week => {
                // 1970-01-01 was a Thursday: three days after a Monday.
                let monday = days - (days + 3) % 7;
                (monday * DAY_MS, Some((monday + 7) * DAY_MS))
            }
            BudgetPeriod::Month => MONTH.with(|month| {
                // Calendar arithmetic on every admission and settlement otherwise: remembered for the day.
                let (day, span) = month.get();
                if day == days {
                    return span;
                }
                let first = civil_day(now_ms).first_of_month();
                let next = first.checked_add(jiff::Span::new().months(1)).ok();
                let span = (millis_of(first), next.map(millis_of));
                month.set((days, span));
                span
            }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "day",
            BudgetPeriod::Week => "week",
            BudgetPeriod::Month => "month",
            BudgetPeriod::Total => "total",
        }
    }
}

fn civil_day(now_ms: u64) -> Date {
    let ts = Timestamp::from_millisecond(now_ms as i64).unwrap_or(Timestamp::UNIX_EPOCH);
    ts.to_zoned_datetime(TimeZone::UTC).date()
}

fn millis_of(date: Date) -> u64 {
    date.to_zoned_datetime(TimeZone::UTC).map_or(0, |z| z.timestamp().as_millisecond().max(0) as u64)
}

/// `ms` (Unix milliseconds) as RFC 3339 in UTC, to the second: what the rate-limit headers and the API show.
/// Written by hand (days to civil date, H. Hinnant's algorithm): it goes into several headers of every keyed
/// response, where a general formatter costs more than the rest of the admission.
pub fn rfc3339(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = String::with_capacity(20);
    let parts = [(year, '-', 4), (month, '-', 2), (day, 'T', 2), ((rest / 3_600) as i64, ':', 2)];
    for (value, separator, width) in
        parts.into_iter().chain([((rest / 60 % 60) as i64, ':', 2), ((rest % 60) as i64, 'Z', 2)])
    {
        let mut digits = itoa::Buffer::new();
        let text = digits.format(value);
        (text.len()..width).for_each(|_| out.push('0'));
        out.push_str(text);
        out.push(separator);
    }
    out
}

/// Parses an RFC 3339 time (`2027-01-01T00:00:00Z`) to Unix milliseconds.
pub fn parse_rfc3339(text: &str) -> Result<u64, String> {
    let ts: Timestamp = text.parse().map_err(|e| format!("'{text}' is not an RFC 3339 time: {e}"))?;
    u64::try_from(ts.as_millisecond()).map_err(|_| format!("'{text}' is before 1970"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> u64 {
        parse_rfc3339(text).unwrap()
    }

    #[test]
    fn periods_start_and_renew_on_utc_boundaries() {
        let now = ms("2026-12-05T14:33:07Z"); // a Saturday
        assert_eq!(BudgetPeriod::Day.span(now), (ms("2026-12-05T00:00:00Z"), Some(ms("2026-12-06T00:00:00Z"))));
        assert_eq!(BudgetPeriod::Week.span(now), (ms("2026-11-30T00:00:00Z"), Some(ms("2026-12-07T00:00:00Z"))));
        assert_eq!(BudgetPeriod::Month.span(now), (ms("2026-12-01T00:00:00Z"), Some(ms("2027-01-01T00:00:00Z"))));
        assert_eq!(BudgetPeriod::Total.span(now), (0, None));
        let monday = ms("2026-11-30T00:00:00Z");
        assert_eq!(BudgetPeriod::Week.span(monday).0, monday, "a Monday starts its own week");
        assert_eq!(BudgetPeriod::Month.span(ms("2028-02-29T23:59:59Z")).1, Some(ms("2028-03-01T00:00:00Z")));
        // Asked again across a month's end (the span is remembered per day).
        for (at, start) in [
            ("2026-12-31T23:59:59Z", "2026-12-01T00:00:00Z"),
            ("2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            ("2026-12-31T00:00:00Z", "2026-12-01T00:00:00Z"),
        ] {
            assert_eq!(BudgetPeriod::Month.span(ms(at)).0, ms(start), "{at}");
        }
    }

    #[test]
    fn the_hand_written_format_agrees_with_jiff_over_centuries() {
        for ms in (0..4_000_000_000_000u64).step_by(7_777_777_777) {
            let jiff = Timestamp::from_second((ms / 1000) as i64).unwrap().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
            assert_eq!(rfc3339(ms), jiff);
        }
    }

    #[test]
    fn times_round_trip_as_rfc3339() {
        assert_eq!(rfc3339(ms("2027-01-01T00:00:00Z")), "2027-01-01T00:00:00Z");
        assert_eq!(rfc3339(ms("2027-01-01T00:00:00.900Z")), "2027-01-01T00:00:00Z");
        assert!(parse_rfc3339("tomorrow").is_err());
        assert!(parse_rfc3339("1969-12-31T00:00:00Z").is_err());
    }
}
