//! `AMQ_SCHEDULED_CRON` evaluation.
//!
//! ActiveMQ's `CronParser` takes exactly five fields (minute hour day-of-month month
//! day-of-week, Sunday = 0) and evaluates them in the broker's local time zone; when both day
//! fields are restricted a day matching either one fires. `croner` with seconds and years
//! disallowed has the same five-field grammar and the same day-of-month/day-of-week OR rule, so
//! the evaluation is delegated to it. croner also accepts a few extensions ActiveMQ rejects
//! (month and weekday names, `L`, `W`, `#`, `@daily`); accepting them is harmless for a
//! drop-in, since no expression ActiveMQ accepts changes meaning.

use chrono::{DateTime, Local, TimeZone, Utc};
use croner::parser::{CronParser, Seconds, Year};
use thiserror::Error;

/// Why an `AMQ_SCHEDULED_CRON` expression was refused.
#[derive(Debug, Error)]
#[error("invalid cron expression {expr:?}: {reason}")]
pub(crate) struct CronError {
    expr: String,
    reason: String,
}

impl CronError {
    fn new(expr: &str, reason: impl Into<String>) -> Self {
        Self {
            expr: expr.to_owned(),
            reason: reason.into(),
        }
    }
}

/// A parsed five-field cron expression (minute hour day-of-month month day-of-week), evaluated
/// in the local time zone as ActiveMQ does.
#[derive(Debug, Clone)]
pub(crate) struct Cron {
    inner: croner::Cron,
}

impl Cron {
    pub(crate) fn parse(expr: &str) -> Result<Self, CronError> {
        // Counted here rather than left to croner so that a Quartz-style expression (seconds
        // first, or a trailing year) gets an error that says what is wrong with it.
        let fields = expr.split_whitespace().count();
        if fields != 5 {
            return Err(CronError::new(
                expr,
                format!(
                    "expected 5 fields (minute hour day-of-month month day-of-week), found {fields}"
                ),
            ));
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build();
        let inner = parser
            .parse(expr)
            .map_err(|e| CronError::new(expr, e.to_string()))?;
        Ok(Self { inner })
    }

    /// The first firing time strictly after `after_ms` (ms since the Unix epoch), or None if
    /// there is none.
    pub(crate) fn next_after(&self, after_ms: u64) -> Option<u64> {
        self.next_after_in(&Local, after_ms)
    }

    /// [`Cron::next_after`] in an explicit time zone, so tests do not depend on the host's.
    fn next_after_in<Tz: TimeZone>(&self, tz: &Tz, after_ms: u64) -> Option<u64> {
        let after = DateTime::<Utc>::from_timestamp_millis(i64::try_from(after_ms).ok()?)?;
        let start = after.with_timezone(tz);
        // Exclusive search steps to the next whole second, and every field match is a whole
        // minute, so a start with a sub-second part never yields itself.
        let next = self.inner.find_next_occurrence(&start, false).ok()?;
        u64::try_from(next.timestamp_millis()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn ms(s: &str) -> u64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis() as u64
    }

    fn next(expr: &str, after: &str) -> Option<u64> {
        Cron::parse(expr).unwrap().next_after_in(&Utc, ms(after))
    }

    #[test]
    fn every_minute_fires_on_the_next_minute_boundary() {
        assert_eq!(
            next("* * * * *", "2024-03-05T10:17:42.123Z"),
            Some(ms("2024-03-05T10:18:00Z"))
        );
        // Strictly after: sitting on a boundary moves to the following one.
        assert_eq!(
            next("* * * * *", "2024-03-05T10:18:00Z"),
            Some(ms("2024-03-05T10:19:00Z"))
        );
    }

    #[test]
    fn fixed_time_of_day() {
        assert_eq!(
            next("0 12 * * *", "2024-03-05T10:17:42Z"),
            Some(ms("2024-03-05T12:00:00Z"))
        );
        assert_eq!(
            next("0 12 * * *", "2024-03-05T12:00:00Z"),
            Some(ms("2024-03-06T12:00:00Z"))
        );
        // A sub-second part past the firing time must not fire it again.
        assert_eq!(
            next("0 12 * * *", "2024-03-05T12:00:00.500Z"),
            Some(ms("2024-03-06T12:00:00Z"))
        );
        assert_eq!(
            next("0 12 * * *", "2024-03-05T11:59:59.999Z"),
            Some(ms("2024-03-05T12:00:00Z"))
        );
    }

    #[test]
    fn step_values() {
        assert_eq!(
            next("*/15 * * * *", "2024-03-05T10:17:42Z"),
            Some(ms("2024-03-05T10:30:00Z"))
        );
        assert_eq!(
            next("*/15 * * * *", "2024-03-05T10:45:00Z"),
            Some(ms("2024-03-05T11:00:00Z"))
        );
    }

    #[test]
    fn lists_and_ranges() {
        let cron = Cron::parse("5,35 9-17 * * 1-5").unwrap();
        let at = |s| cron.next_after_in(&Utc, ms(s));
        // 2024-03-05 is a Tuesday.
        assert_eq!(at("2024-03-05T08:00:00Z"), Some(ms("2024-03-05T09:05:00Z")));
        assert_eq!(at("2024-03-05T09:05:00Z"), Some(ms("2024-03-05T09:35:00Z")));
        assert_eq!(at("2024-03-05T17:35:00Z"), Some(ms("2024-03-06T09:05:00Z")));
        // Friday evening skips the weekend (day-of-week 0 = Sunday, 6 = Saturday).
        assert_eq!(at("2024-03-08T18:00:00Z"), Some(ms("2024-03-11T09:05:00Z")));
    }

    #[test]
    fn restricted_day_fields_match_either_day() {
        // ActiveMQ (like Vixie cron): the 1st of the month OR any Sunday.
        let cron = Cron::parse("0 0 1 * 0").unwrap();
        // 2024-03-02 is a Saturday; the next Sunday (3rd) comes before April 1st.
        assert_eq!(
            cron.next_after_in(&Utc, ms("2024-03-02T12:00:00Z")),
            Some(ms("2024-03-03T00:00:00Z"))
        );
        // 2024-03-31 is a Sunday; after it, April 1st (a Monday) fires.
        assert_eq!(
            cron.next_after_in(&Utc, ms("2024-03-31T00:00:00Z")),
            Some(ms("2024-04-01T00:00:00Z"))
        );
    }

    #[test]
    fn evaluated_in_the_given_time_zone() {
        let tz = FixedOffset::east_opt(2 * 3600).unwrap();
        let cron = Cron::parse("0 12 * * *").unwrap();
        // Noon at UTC+2 is 10:00 UTC.
        assert_eq!(
            cron.next_after_in(&tz, ms("2024-03-05T09:00:00Z")),
            Some(ms("2024-03-05T10:00:00Z"))
        );
    }

    #[test]
    fn local_clock_is_usable() {
        let after = ms("2024-03-05T10:17:42Z");
        let n = Cron::parse("* * * * *").unwrap().next_after(after).unwrap();
        // Whatever the host's zone, the next minute is within a minute and on a whole minute
        // of UTC as long as the zone offset is whole minutes (true of every zone today).
        assert!(n > after && n - after <= 60_000, "{n} vs {after}");
        assert_eq!(n % 60_000, 0);
    }

    #[test]
    fn impossible_date_has_no_next() {
        assert_eq!(next("0 0 30 2 *", "2024-03-05T10:17:42Z"), None);
    }

    #[test]
    fn rejects_wrong_field_counts() {
        for expr in [
            "",
            "* * * *",
            "0 * * * * *",
            "0 0 12 * * ? 2024",
            "*/10 * * * * *",
        ] {
            let err = Cron::parse(expr).unwrap_err().to_string();
            assert!(err.contains("expected 5 fields"), "{expr:?}: {err}");
            assert!(err.contains(&format!("{expr:?}")), "{expr:?}: {err}");
        }
    }

    #[test]
    fn rejects_malformed_fields() {
        for expr in [
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * 32 * *",
            "* * * 13 *",
            "* * * * 8",
            "a * * * *",
            "5-1x * * * *",
        ] {
            let err = Cron::parse(expr).unwrap_err().to_string();
            assert!(err.contains(&format!("{expr:?}")), "{expr:?}: {err}");
        }
    }
}
