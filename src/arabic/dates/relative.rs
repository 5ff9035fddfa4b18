//! «منذ 5 دقائق», «قبل ساعتين», «منذ ساعة و20 دقيقة», «3 أيام مضت»: an amount of time
//! counted back from the caller's `now`. Used only when the text has منذ/قبل/مضت. It must
//! not read the clock itself, and it must reject anything besides amounts (a relative
//! phrase mixed with a calendar date is an error, not a guess at which one is right).

use chrono::{DateTime, Months, TimeDelta, Utc};

use super::absolute::{repeated, unexpected_word};
use super::error::DateError;
use super::lexer::{Kind, Piece};
use super::local;
use super::words::{Count, Unit, Word, classify};

/// True when the pieces form an «ago» phrase and must be read by [`parse`].
pub(super) fn is_relative(p: &[Piece]) -> bool {
    p.iter().any(|p| matches!(p.kind, Kind::Word { word: Some(Word::Ago | Word::AgoAfter), .. }))
}

#[derive(Default)]
struct Amounts {
    months: u64,
    seconds: u64,
    any: bool,
}

impl Amounts {
    fn add(&mut self, n: u64, unit: Unit) -> Result<(), DateError> {
        let (months, seconds) = match unit {
            Unit::Second => (0, 1),
            Unit::Minute => (0, 60),
            Unit::Hour => (0, 3_600),
            Unit::Day => (0, 86_400),
            Unit::Week => (0, 604_800),
            Unit::Month => (1, 0),
            Unit::Year => (12, 0),
        };
        let overflow = || DateError::bare(|input| DateError::Overflow { input });
        self.months = n.checked_mul(months).and_then(|m| self.months.checked_add(m)).ok_or_else(overflow)?;
        self.seconds = n.checked_mul(seconds).and_then(|s| self.seconds.checked_add(s)).ok_or_else(overflow)?;
        self.any = true;
        Ok(())
    }
}

fn count_value(c: Count) -> u64 {
    match c {
        Count::One => 1,
        Count::Two => 2,
        Count::Plural => 3,
    }
}

/// A word glued to «و» («ودقيقتين»): the conjunction and the unit after it.
fn and_unit(text: &str) -> Option<(Unit, Count)> {
    match classify(text.strip_prefix('و')?) {
        Some(Word::Unit(u, c)) => Some((u, c)),
        _ => None,
    }
}

/// `now` minus the amounts in `p`. A second amount needs «و» before it.
pub(super) fn parse(p: &[Piece], now: DateTime<Utc>) -> Result<DateTime<Utc>, DateError> {
    let mut amounts = Amounts::default();
    let (mut ago_before, mut ago_after, mut moments, mut joined) = (false, false, false, false);
    let mut i = 0;
    while let Some(piece) = p.get(i) {
        i += 1;
        if ago_after && !matches!(piece.kind, Kind::Sym(_)) {
            return Err(DateError::unexpected("text after «مضت»"));
        }
        let amount = match &piece.kind {
            Kind::Sym(',' | '.' | '-' | '(' | ')') => None,
            Kind::Sym(c) => return Err(DateError::unexpected(format!("symbol {c:?}"))),
            Kind::Num { value, .. } => match p.get(i).map(|p| &p.kind) {
                Some(Kind::Word { word: Some(Word::Unit(u, Count::One | Count::Plural)), .. }) => {
                    i += 1;
                    Some((u64::from(*value), *u))
                }
                _ => {
                    return Err(DateError::unexpected(format!("number {value} without a unit")));
                }
            },
            Kind::Word { word, text } => match word {
                Some(Word::Ago) if ago_before || amounts.any => return Err(repeated("«منذ/قبل»")),
                Some(Word::Ago) => {
                    ago_before = true;
                    None
                }
                Some(Word::AgoAfter) if amounts.any || moments => {
                    ago_after = true;
                    None
                }
                Some(Word::Unit(u, c)) => Some((count_value(*c), *u)),
                Some(Word::One) if amounts.any && !joined => None,
                Some(Word::And) if amounts.any && !joined => {
                    joined = true;
                    None
                }
                Some(Word::Moments) if !amounts.any && !moments => {
                    moments = true;
                    None
                }
                _ => match and_unit(text) {
                    Some((u, c)) if amounts.any && !joined => {
                        joined = true;
                        Some((count_value(c), u))
                    }
                    _ => return Err(unexpected_word(text)),
                },
            },
        };
        if let Some((n, unit)) = amount {
            if (amounts.any && !joined) || moments {
                return Err(DateError::unexpected("two amounts of time without «و» between them"));
            }
            joined = false;
            amounts.add(n, unit)?;
        }
    }
    if joined {
        return Err(DateError::unexpected("«و» without an amount after it"));
    }
    if !(ago_before || ago_after) || !(amounts.any || moments) {
        return Err(DateError::unexpected("«منذ/قبل» without an amount of time"));
    }
    let overflow = || DateError::bare(|input| DateError::Overflow { input });
    let months = u32::try_from(amounts.months).map_err(|_| overflow())?;
    let seconds = i64::try_from(amounts.seconds).map_err(|_| overflow())?;
    let delta = TimeDelta::try_seconds(seconds).ok_or_else(overflow)?;
    let instant =
        now.checked_sub_months(Months::new(months)).and_then(|t| t.checked_sub_signed(delta)).ok_or_else(overflow)?;
    local::in_range(instant)
}
