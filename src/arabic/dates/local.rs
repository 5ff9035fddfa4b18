//! Turns validated calendar fields into an instant: range checks shared by every date
//! form, and the explicit daylight-saving rules for local wall-clock times. It must not
//! guess: a field out of range is an error, and the only two DST choices (overlap →
//! earlier instant, gap → offset in force before the gap) are made here and nowhere else.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use super::error::DateError;

/// Years outside this range are typing errors or placeholders (0001, 9999), not news.
pub(super) const MIN_YEAR: i64 = 1900;
pub(super) const MAX_YEAR: i64 = 2200;

/// A date validated field by field, so that the error names the field at fault.
pub(super) fn date(year: i64, month: u32, day: u32) -> Result<NaiveDate, DateError> {
    check("year", year, MIN_YEAR, MAX_YEAR)?;
    check("month", i64::from(month), 1, 12)?;
    let year = i32::try_from(year).map_err(|_| DateError::bare(|input| DateError::Overflow { input }))?;
    let max_day = days_in_month(year, month);
    check("day", i64::from(day), 1, i64::from(max_day))?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or(DateError::bare(|input| DateError::Overflow { input }))
}

/// A wall-clock time validated field by field (24-hour clock, no leap seconds).
pub(super) fn time(hour: u32, minute: u32, second: u32) -> Result<NaiveTime, DateError> {
    check("hour", i64::from(hour), 0, 23)?;
    check("minute", i64::from(minute), 0, 59)?;
    check("second", i64::from(second), 0, 59)?;
    NaiveTime::from_hms_opt(hour, minute, second).ok_or(DateError::bare(|input| DateError::Overflow { input }))
}

/// A UTC offset of `sign` × (`hours`:`minutes`), validated.
pub(super) fn offset(negative: bool, hours: u32, minutes: u32) -> Result<FixedOffset, DateError> {
    check("offset hour", i64::from(hours), 0, 23)?;
    check("offset minute", i64::from(minutes), 0, 59)?;
    let secs = i32::try_from(hours * 3600 + minutes * 60).unwrap_or(i32::MAX);
    let secs = if negative { -secs } else { secs };
    FixedOffset::east_opt(secs).ok_or(DateError::out_of_range("offset seconds", i64::from(secs), -86_399, 86_399))
}

pub(super) fn check(field: &'static str, value: i64, min: i64, max: i64) -> Result<(), DateError> {
    if (min..=max).contains(&value) { Ok(()) } else { Err(DateError::out_of_range(field, value, min, max)) }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year.saturating_add(1), 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month.saturating_add(1), 1)
    };
    next.and_then(|n| n.pred_opt()).map_or(31, |d| d.day())
}

/// The instant of `naive` at a fixed UTC offset.
pub(super) fn at_offset(naive: NaiveDateTime, off: FixedOffset) -> Result<DateTime<Utc>, DateError> {
    naive
        .checked_sub_signed(TimeDelta::seconds(i64::from(off.local_minus_utc())))
        .map(|n| n.and_utc())
        .ok_or(DateError::bare(|input| DateError::Overflow { input }))
}

/// The instant of the wall-clock time `naive` in `tz`.
///
/// * Overlap (clocks fall back, the time happens twice): the EARLIER instant, i.e. the
///   reading with the offset in force before the change.
/// * Gap (clocks spring forward, the time never happens): the time is read with the
///   offset in force BEFORE the gap, which lands as far after the gap as it was inside
///   it (Cairo 2024-04-26 00:30 → 2024-04-25T22:30Z, shown as 01:30 EEST).
pub(super) fn resolve(tz: Tz, naive: NaiveDateTime) -> Result<DateTime<Utc>, DateError> {
    let mapped = tz.from_local_datetime(&naive);
    let earliest = mapped.earliest().into_iter().chain(mapped.latest()).map(|d| d.with_timezone(&Utc)).min();
    if let Some(instant) = earliest {
        return Ok(instant);
    }
    // Two days back is before any gap that contains `naive` (a gap is at most a day
    // long) and after the previous transition in every real zone.
    let before = naive
        .checked_sub_signed(TimeDelta::hours(48))
        .ok_or(DateError::bare(|input| DateError::Overflow { input }))?
        .and_utc();
    let off = tz.offset_from_utc_datetime(&before.naive_utc()).fix();
    at_offset(naive, off)
}

/// Wall-clock reading of `now` in `tz`.
pub(super) fn local_now(tz: Tz, now: DateTime<Utc>) -> NaiveDateTime {
    now.with_timezone(&tz).naive_local()
}

/// The final range check on an instant computed from relative amounts or offsets.
pub(super) fn in_range(instant: DateTime<Utc>) -> Result<DateTime<Utc>, DateError> {
    check("year", i64::from(instant.year()), MIN_YEAR, MAX_YEAR)?;
    Ok(instant)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d).and_then(|d| d.and_hms_opt(h, mi, 0)).unwrap_or_default()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn cairo_spring_forward_gap_is_read_with_the_offset_before_the_gap() {
        let got = resolve(chrono_tz::Africa::Cairo, naive(2024, 4, 26, 0, 30));
        assert_eq!(got, Ok(utc("2024-04-25T22:30:00Z")));
    }

    #[test]
    fn cairo_fall_back_overlap_takes_the_earlier_instant() {
        let got = resolve(chrono_tz::Africa::Cairo, naive(2024, 10, 31, 23, 30));
        assert_eq!(got, Ok(utc("2024-10-31T20:30:00Z")));
    }

    #[test]
    fn paris_gap_and_overlap_follow_the_same_rules() {
        let tz = chrono_tz::Europe::Paris;
        assert_eq!(resolve(tz, naive(2024, 3, 31, 2, 30)), Ok(utc("2024-03-31T01:30:00Z")));
        assert_eq!(resolve(tz, naive(2024, 10, 27, 2, 30)), Ok(utc("2024-10-27T00:30:00Z")));
    }

    #[test]
    fn ordinary_local_times_use_their_offset() {
        let got = resolve(chrono_tz::Asia::Baghdad, naive(2021, 4, 12, 10, 18));
        assert_eq!(got, Ok(utc("2021-04-12T07:18:00Z")));
    }

    #[test]
    fn days_per_month_follow_the_calendar() {
        assert!(date(2024, 2, 29).is_ok());
        assert!(date(2023, 2, 29).is_err());
        assert!(date(2021, 4, 31).is_err());
        assert!(date(2021, 12, 31).is_ok());
        assert!(date(1899, 1, 1).is_err());
        assert!(date(2201, 1, 1).is_err());
    }

    #[test]
    fn offsets_are_validated() {
        assert!(offset(true, 99, 99).is_err());
        assert_eq!(offset(true, 1, 1).map(|o| o.local_minus_utc()), Ok(-3660));
    }
}
