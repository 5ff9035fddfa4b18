//! When a schedule is due. A `Schedule` is a cron expression read in a named IANA time zone; every
//! question about it ("the latest tick at or before now", "the next tick after a time") is answered
//! here, in that zone, from scratch each time — never from an offset frozen at start-up — so a
//! 07:00 Africa/Cairo job stays at 07:00 local across daylight-saving changes.
//!
//! Classic cron semantics: five fields (minute first), or six with seconds first; day-of-month and
//! day-of-week are OR-ed as in cron(8). In a fall-back overlap a fixed-time job runs once (the first
//! pass); in a spring-forward gap it runs at the first valid minute after the gap.

use std::fmt;

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use croner::{Cron, parser::CronParser, parser::Seconds, parser::Year};

#[derive(Clone)]
pub struct Schedule {
    expression: String,
    cron: Cron,
    time_zone: Tz,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?} in {})", self.expression, self.time_zone)
    }
}

impl Schedule {
    /// Parses `expression`; the error says what is wrong with it.
    pub fn parse(expression: &str, time_zone: Tz) -> Result<Self, String> {
        let fields = expression.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(format!(
                "a cron expression has 5 fields (minute hour day-of-month month day-of-week) \
                 or 6 with seconds first; this one has {fields}"
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(expression)
            .map_err(|e| format!("not a valid cron expression: {e}"))?;
        let schedule = Self { expression: expression.trim().to_owned(), cron, time_zone };
        // An expression such as "0 0 30 2 *" parses but never fires; refuse it now rather than
        // discover it when the job silently never runs.
        let reference = DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or_default();
        if schedule.next_after(reference).is_none() {
            return Err("this expression never fires".into());
        }
        Ok(schedule)
    }

    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn time_zone(&self) -> Tz {
        self.time_zone
    }

    /// The first tick strictly after `t`.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = t.trunc_subsecs(0).with_timezone(&self.time_zone);
        self.cron.find_next_occurrence(&local, false).ok().map(|d| d.with_timezone(&Utc))
    }

    /// The latest tick at or before `t`: the tick a run at `t` belongs to.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // Ticks are whole seconds: the same tick must come out of every heartbeat.
        let local = t.trunc_subsecs(0).with_timezone(&self.time_zone);
        self.cron.find_previous_occurrence(&local, true).ok().map(|d| d.with_timezone(&Utc))
    }

    /// The tick before `tick` (strictly earlier).
    pub fn previous_before(&self, tick: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = tick.trunc_subsecs(0).with_timezone(&self.time_zone);
        self.cron.find_previous_occurrence(&local, false).ok().map(|d| d.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDateTime, TimeZone};

    use super::*;

    const ORACLE: &str = include_str!("../../tests/fixtures/tz-cron/cron-dst-oracle.tsv");

    /// Every croner 4.0.3 row of the DST oracle: the next three (or six) ticks after a local
    /// start time, across Cairo's and Paris's clock changes. (croniter fires fixed-time jobs
    /// twice in a fall-back overlap; nashra, like croner and cron(8), runs them once.)
    #[test]
    fn next_ticks_across_daylight_saving_changes_match_the_oracle() {
        let mut checked = 0;
        for line in ORACLE.lines().skip(1) {
            let cols: Vec<&str> = line.split('\t').collect();
            let [zone, cron, start, source, expected, ..] = cols[..] else {
                continue;
            };
            if !source.starts_with("croner") {
                continue;
            }
            let tz: Tz = zone.parse().unwrap();
            let schedule = Schedule::parse(cron, tz).unwrap();
            let start = NaiveDateTime::parse_from_str(start, "%Y-%m-%dT%H:%M").unwrap();
            let mut t = tz.from_local_datetime(&start).earliest().unwrap().with_timezone(&Utc);
            for want in expected.split(',') {
                let want = DateTime::parse_from_rfc3339(want).unwrap().with_timezone(&Utc);
                t = schedule.next_after(t).unwrap();
                assert_eq!(t, want, "{zone} {cron} from {start}");
            }
            checked += 1;
        }
        assert!(checked >= 6, "only {checked} oracle rows");
    }

    #[test]
    fn a_cairo_seven_oclock_job_stays_at_seven_local_across_the_change() {
        let s = Schedule::parse("0 7 * * *", chrono_tz::Africa::Cairo).unwrap();
        // Before the October 2026 fall-back (UTC+3) and after it (UTC+2).
        let before = Utc.with_ymd_and_hms(2026, 10, 29, 12, 0, 0).unwrap();
        assert_eq!(s.next_after(before), Some(Utc.with_ymd_and_hms(2026, 10, 30, 5, 0, 0).unwrap()));
        let after = Utc.with_ymd_and_hms(2026, 10, 31, 12, 0, 0).unwrap();
        assert_eq!(s.next_after(after), Some(Utc.with_ymd_and_hms(2026, 11, 1, 5, 0, 0).unwrap()));
    }

    #[test]
    fn the_latest_tick_is_the_same_whole_second_whenever_it_is_asked() {
        let s = Schedule::parse("*/10 * * * *", chrono_tz::Europe::Paris).unwrap();
        let a = Utc.with_ymd_and_hms(2026, 11, 30, 0, 56, 8).unwrap() + chrono::Duration::nanoseconds(411_459_881);
        let b = Utc.with_ymd_and_hms(2026, 11, 30, 0, 59, 59).unwrap();
        let tick = Utc.with_ymd_and_hms(2026, 11, 30, 0, 50, 0).unwrap();
        assert_eq!(s.latest_at_or_before(a), Some(tick));
        assert_eq!(s.latest_at_or_before(b), Some(tick));
        assert_eq!(s.latest_at_or_before(tick), Some(tick), "a tick belongs to itself");
        assert_eq!(s.previous_before(tick), Some(tick - chrono::Duration::minutes(10)));
    }

    #[test]
    fn bad_expressions_are_refused_with_a_reason() {
        let tz = chrono_tz::UTC;
        assert!(Schedule::parse("0 7 * *", tz).unwrap_err().contains("has 4"));
        assert!(Schedule::parse("0 25 * * *", tz).unwrap_err().contains("not a valid cron expression"));
        assert!(Schedule::parse("0 0 30 2 *", tz).unwrap_err().contains("never fires"));
        assert!(Schedule::parse("0 7 * * MON-FRI", tz).is_ok());
    }

    #[test]
    fn day_of_month_and_day_of_week_are_ored_as_in_cron() {
        // 1st of the month OR Monday: 2026-12-01 is a Tuesday, 2026-11-30 a Monday.
        let s = Schedule::parse("0 7 1 * MON", chrono_tz::UTC).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
        let first = s.next_after(t).unwrap();
        assert_eq!(first, Utc.with_ymd_and_hms(2026, 11, 30, 7, 0, 0).unwrap());
        assert_eq!(s.next_after(first), Some(Utc.with_ymd_and_hms(2026, 12, 1, 7, 0, 0).unwrap()));
    }
}
