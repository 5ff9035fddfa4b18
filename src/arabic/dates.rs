//! Reading publication dates: `parse_arabic_date` for dates as Arabic news sites print
//! them (absolute, relative to `now`, with the source's zone `tz`), and `parse_date` for
//! machine formats (ISO 8601 / RFC 3339, RFC 2822) with the Arabic reader as fallback.
//! It is pure: the caller passes `now`, nothing reads the clock, nothing does I/O. It
//! must never return a guessed date: whatever it cannot read fully is a [`DateError`].
//!
//! Decisions a caller should know:
//! * A date without a time is 00:00 local time in `tz`.
//! * «أمس» / «اليوم» / «أول أمس» without a time keep the local time-of-day of `now`
//!   (so «أمس» is «the same wall-clock time yesterday», as «1 day ago»); with a time,
//!   that time on that local day. An explicit calendar date printed beside them wins.
//! * «منذ أيام» (a plural without a number) is read as 3 of the unit.
//! * DST: an ambiguous local time takes the earlier instant; a non-existent one is read
//!   with the offset in force before the gap (see `local::resolve`).
//! * Two-digit years are 20xx in Arabic dates, RFC 2822's 00–49/50–99 rule in RFC dates;
//!   «dd-mm-yy» with dashes is refused as ambiguous with «yy-mm-dd».
//! * Years outside 1900..=2200 are refused everywhere; Hijri dates are recognised only
//!   to be skipped beside a Gregorian one, never converted.

mod absolute;
mod clock;
mod error;
mod lexer;
mod local;
mod machine;
mod relative;
mod words;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use error::DateError;

use super::normalize::normalize;

/// Reads a date/time as Arabic news sites print it, in the source's zone `tz`; relative
/// forms («منذ 5 دقائق», «أمس») are counted back from `now`.
///
/// # Errors
/// A [`DateError`] naming the problem whenever any part of `input` is not understood,
/// a field is out of range, or a needed part (day, month, year) is missing.
pub fn parse_arabic_date(input: &str, tz: Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>, DateError> {
    read_arabic(&normalize(input), tz, now).map_err(|e| e.with_input(input))
}

fn read_arabic(norm: &str, tz: Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>, DateError> {
    let pieces = lexer::lex(norm)?;
    if pieces.is_empty() {
        return Err(DateError::bare(|input| DateError::Empty { input }));
    }
    if relative::is_relative(&pieces) { relative::parse(&pieces, now) } else { absolute::parse(&pieces, tz, now) }
}

/// Machine dates: RFC 3339 / ISO 8601 (with or without offset; without offset = local
/// to `tz`; date-only = local midnight), RFC 2822 (as in RSS), and otherwise falls back
/// to [`parse_arabic_date`].
///
/// # Errors
/// A [`DateError`] when a recognised machine format has an impossible field, or when
/// the Arabic fall-back cannot read the text.
pub fn parse_date(input: &str, tz: Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>, DateError> {
    let norm = normalize(input);
    let clean = norm.trim();
    let machine = machine::iso8601(clean, tz).or_else(|| machine::rfc2822(clean, tz));
    match machine {
        Some(reading) => reading.map_err(|e| e.with_input(input)),
        None => read_arabic(clean, tz, now).map_err(|e| e.with_input(input)),
    }
}

#[cfg(test)]
mod tests_absolute;
#[cfg(test)]
mod tests_fixtures;
#[cfg(test)]
mod tests_machine;
#[cfg(test)]
mod tests_relative;
