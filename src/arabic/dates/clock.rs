//! The time-of-day half of an Arabic date line: «10:18 ص», «الساعة 9 مساءً», «23:30»,
//! and the rare explicit zone («+0300», «بتوقيت غرينتش +3», «بتوقيت القاهرة»). It must not
//! accept an hour that does not fit its marker; a zone name it does not know («بتوقيت شرق
//! أوروبا») is left to the source's configured zone, never guessed.

use chrono_tz::Tz;

use super::absolute::{Parser, repeated};
use super::error::DateError;
use super::local;
use super::words::{Meridiem, Word};

impl Parser<'_> {
    /// «HH:MM», «HH:MM:SS» (optionally «.fraction», dropped), then an optional marker.
    pub(super) fn clock_time(&mut self, i: usize) -> Result<(), DateError> {
        let (Some((h, hd)), Some((m, md))) = (self.num(i), self.num(i + 2)) else {
            return Err(DateError::unexpected("time without minutes"));
        };
        if hd > 2 || md > 2 {
            return Err(DateError::unexpected(format!("time {h}:{m}")));
        }
        let mut j = i + 3;
        let mut s = 0;
        if self.sym(j) == Some(':') {
            match self.num(j + 1) {
                Some((sec, 1..=2)) => s = sec,
                _ => return Err(DateError::unexpected("time with bad seconds")),
            }
            j += 2;
            if self.sym(j) == Some('.') && !self.spaced(j) && !self.spaced(j + 1) && self.num(j + 1).is_some() {
                j += 2;
            }
        }
        if self.sym(j) == Some(':') {
            return Err(DateError::unexpected("time with more than three parts"));
        }
        self.set_time(h, m, s, j)
    }

    /// «الساعة 9» or «9 مساءً»: an hour without minutes.
    pub(super) fn hour_only(&mut self, i: usize) -> Result<(), DateError> {
        let (h, _) = self.num(i).unwrap_or_default();
        self.set_time(h, 0, 0, i + 1)
    }

    /// Applies a marker at `j` if there is one, validates, and stores the time.
    fn set_time(&mut self, h: u32, m: u32, s: u32, j: usize) -> Result<(), DateError> {
        let (hour, next) = match self.word(j) {
            Some(Word::Meridiem(mer)) => (with_meridiem(h, mer)?, j + 1),
            _ => (h, j),
        };
        let t = local::time(hour, m, s)?;
        if self.time.replace(t).is_some() {
            return Err(repeated("time"));
        }
        self.i = next;
        Ok(())
    }

    /// A «+»/«-» at `i` starts a UTC offset only right after a time, glued to its number
    /// («+0300», «-05:00»), and not when that number goes on as a date («- 12/04/2021»).
    pub(super) fn offset_follows(&self, i: usize) -> bool {
        let glued = matches!(self.num(i + 1), Some((_, 1 | 2 | 4))) && !self.spaced(i + 1);
        let continues_as_date = matches!(self.sym(i + 2), Some('/' | '-' | '.')) && self.num(i + 3).is_some()
            // «18:22-15 يناير 2024»: the day of a date after the time.
            || matches!(self.word(i + 2), Some(Word::Month(_) | Word::MonthPair(_)))
            || self.text(i + 2) == Some("من");
        self.time.is_some() && self.offset.is_none() && glued && !continues_as_date
    }

    /// «+0300», «+03:00», «+3», «-05».
    pub(super) fn signed_offset(&mut self, i: usize) -> Result<(), DateError> {
        let negative = self.sym(i) == Some('-');
        let (value, digits) = self.num(i + 1).unwrap_or_default();
        let (hours, minutes, next) = match digits {
            4 => (value / 100, value % 100, i + 2),
            _ => match (self.sym(i + 2), self.num(i + 3)) {
                (Some(':'), Some((mm, 2))) => (value, mm, i + 4),
                _ => (value, 0, i + 2),
            },
        };
        let off = local::offset(negative, hours, minutes)?;
        if self.offset.replace(off).is_some() {
            return Err(repeated("UTC offset"));
        }
        self.i = next;
        Ok(())
    }

    /// «GMT», «غرينتش», optionally followed by «+3» / «-05:00».
    pub(super) fn utc_word(&mut self, i: usize) -> Result<(), DateError> {
        let sign = self.sym(i + 1);
        if matches!(sign, Some('+' | '-')) && matches!(self.num(i + 2), Some((_, 1 | 2 | 4))) {
            return self.signed_offset(i + 1);
        }
        if self.offset.replace(local::offset(false, 0, 0)?).is_some() {
            return Err(repeated("UTC offset"));
        }
        self.i = i + 1;
        Ok(())
    }

    /// After «بتوقيت»: the zone's name. Greenwich/UTC sets the offset; a place nashra knows
    /// («القاهرة», «مكة المكرمة», «بيروت»… see `ZONES`) sets the zone, which then overrides
    /// the source's; any other name («شرق أوروبا الصيفي») is skipped, the source's zone stays.
    pub(super) fn zone_name(&mut self, mut j: usize) -> Result<(), DateError> {
        self.i = j;
        let start = j;
        while self.text(j).is_some() {
            match self.word(j) {
                Some(Word::Utc) => return self.utc_word(j),
                None => j += 1,
                Some(_) => break,
            }
            self.i = j;
        }
        let words: Vec<&str> = (start..j).filter_map(|k| self.text(k)).collect();
        // The longest name of `ZONES` has three words: longer runs are not looked up.
        for n in (1..=words.len().min(3)).rev() {
            let name = words[..n].join(" ");
            if let Some((_, tz)) = ZONES.iter().find(|(names, _)| names.split('|').any(|x| x == name)) {
                if self.zone.replace(*tz).is_some() {
                    return Err(repeated("zone"));
                }
                break;
            }
        }
        Ok(())
    }
}

/// Places whose time Arabic sites name after «بتوقيت», in matching form (ة is ه, no hamza
/// seats). «عمان» (Amman or Oman) and «طرابلس» (Libya or Lebanon) are left out: ambiguous.
const ZONES: &[(&str, Tz)] = &[
    ("القاهره|مصر", chrono_tz::Africa::Cairo),
    ("مكه|مكه المكرمه|الرياض|السعوديه|جده", chrono_tz::Asia::Riyadh),
    ("بيروت|لبنان", chrono_tz::Asia::Beirut),
    ("دمشق|سوريا", chrono_tz::Asia::Damascus),
    ("بغداد|العراق", chrono_tz::Asia::Baghdad),
    ("الاردن", chrono_tz::Asia::Amman),
    ("القدس|فلسطين|غزه|رام الله", chrono_tz::Asia::Hebron),
    ("الدوحه|قطر", chrono_tz::Asia::Qatar),
    ("ابوظبي|ابو ظبي|دبي|الامارات", chrono_tz::Asia::Dubai),
    ("الكويت", chrono_tz::Asia::Kuwait),
    ("المنامه|البحرين", chrono_tz::Asia::Bahrain),
    ("مسقط|سلطنه عمان", chrono_tz::Asia::Muscat),
    ("صنعاء|عدن|اليمن", chrono_tz::Asia::Aden),
    ("الخرطوم|السودان", chrono_tz::Africa::Khartoum),
    ("ليبيا", chrono_tz::Africa::Tripoli),
    ("تونس", chrono_tz::Africa::Tunis),
    ("الجزائر", chrono_tz::Africa::Algiers),
    ("الرباط|المغرب|الدار البيضاء", chrono_tz::Africa::Casablanca),
    ("نواكشوط|موريتانيا", chrono_tz::Africa::Nouakchott),
    ("انقره|اسطنبول|تركيا", chrono_tz::Europe::Istanbul),
    ("طهران|ايران", chrono_tz::Asia::Tehran),
    ("باريس|فرنسا", chrono_tz::Europe::Paris),
    ("لندن|بريطانيا", chrono_tz::Europe::London),
];

/// The 24-hour hour for `h` followed by `mer`.
fn with_meridiem(h: u32, mer: Meridiem) -> Result<u32, DateError> {
    local::check("hour", i64::from(h), 1, 12)?;
    let hour = match (mer, h) {
        (Meridiem::Am, 12) => Some(0),
        (Meridiem::Am, _) => Some(h),
        (Meridiem::Pm, 12) => Some(12),
        (Meridiem::Pm, _) => Some(h + 12),
        (Meridiem::Noon, 11 | 12) => Some(h),
        (Meridiem::Noon, 1..=5) => Some(h + 12),
        (Meridiem::Afternoon, 12) => Some(12),
        (Meridiem::Afternoon, 1..=7) => Some(h + 12),
        (Meridiem::Night, 6..=11) => Some(h + 12),
        (Meridiem::Night, 12) => Some(0),
        (Meridiem::Night, 1..=5) => Some(h),
        (Meridiem::Dawn, 1..=6) => Some(h),
        _ => None,
    };
    hour.ok_or(DateError::Ambiguous {
        input: String::new(),
        reason: "the hour does not fit the time-of-day word after it",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_am_is_midnight_and_twelve_pm_is_noon() {
        assert_eq!(with_meridiem(12, Meridiem::Am), Ok(0));
        assert_eq!(with_meridiem(12, Meridiem::Pm), Ok(12));
        assert_eq!(with_meridiem(5, Meridiem::Pm), Ok(17));
        assert_eq!(with_meridiem(10, Meridiem::Am), Ok(10));
    }

    #[test]
    fn regional_time_of_day_words_map_to_plausible_hours() {
        assert_eq!(with_meridiem(1, Meridiem::Noon), Ok(13));
        assert_eq!(with_meridiem(12, Meridiem::Noon), Ok(12));
        assert_eq!(with_meridiem(4, Meridiem::Afternoon), Ok(16));
        assert_eq!(with_meridiem(9, Meridiem::Night), Ok(21));
        assert_eq!(with_meridiem(2, Meridiem::Night), Ok(2));
        assert_eq!(with_meridiem(5, Meridiem::Dawn), Ok(5));
    }

    #[test]
    fn hours_outside_one_to_twelve_or_the_words_span_are_errors() {
        assert!(with_meridiem(0, Meridiem::Am).is_err());
        assert!(with_meridiem(13, Meridiem::Pm).is_err());
        assert!(with_meridiem(8, Meridiem::Noon).is_err());
        assert!(with_meridiem(10, Meridiem::Dawn).is_err());
    }
}
