//! Reads calendar dates as Arabic news sites print them: «الإثنين 12/أبريل/2021 - 10:18 ص»,
//! «31 تشرين الأول 2024»، «12-04-2021»، «أمس الساعة 9 مساءً». It walks the pieces once,
//! left to right, recognising a date group, a time, an offset and a few day words; every
//! piece must be accounted for. It must not guess: a missing year, an unknown word or a
//! leftover number is an error.

use chrono::{DateTime, Days, FixedOffset, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use super::error::DateError;
use super::lexer::{Kind, Piece};
use super::local;
use super::words::{Count, Unit, Word};

/// Symbols that may stand between the parts of a date or between groups.
const SEPARATORS: &[char] = &['/', '-', ',', '.', '(', ')', '[', ']', '|', ';', '·', '•'];
/// Symbols that may join day, month and year of an all-numeric date.
const NUMERIC_DATE_SEPARATORS: &[char] = &['/', '-', '.'];

pub(super) struct Parser<'a> {
    pub(super) p: &'a [Piece],
    pub(super) i: usize,
    pub(super) date: Option<NaiveDate>,
    pub(super) time: Option<NaiveTime>,
    pub(super) offset: Option<FixedOffset>,
    /// A zone the text names («بتوقيت القاهرة»): it overrides the source's.
    pub(super) zone: Option<Tz>,
    /// 0 for اليوم, 1 for أمس, 2 for أول أمس.
    days_back: Option<u64>,
    now: bool,
    hijri: bool,
}

/// Reads the pieces of an absolute (or day-relative) date; `now` anchors اليوم/أمس.
pub(super) fn parse(p: &[Piece], tz: Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>, DateError> {
    let mut parser =
        Parser { p, i: 0, date: None, time: None, offset: None, zone: None, days_back: None, now: false, hijri: false };
    while parser.i < p.len() {
        parser.step()?;
    }
    parser.finish(tz, now)
}

impl<'a> Parser<'a> {
    pub(super) fn num(&self, j: usize) -> Option<(u32, usize)> {
        match self.p.get(j).map(|p| &p.kind) {
            Some(Kind::Num { value, digits }) => Some((*value, *digits)),
            _ => None,
        }
    }

    pub(super) fn word(&self, j: usize) -> Option<Word> {
        match self.p.get(j).map(|p| &p.kind) {
            Some(Kind::Word { word, .. }) => *word,
            _ => None,
        }
    }

    pub(super) fn text(&self, j: usize) -> Option<&'a str> {
        match self.p.get(j).map(|p| &p.kind) {
            Some(Kind::Word { text, .. }) => Some(text.as_str()),
            _ => None,
        }
    }

    pub(super) fn sym(&self, j: usize) -> Option<char> {
        match self.p.get(j).map(|p| &p.kind) {
            Some(Kind::Sym(c)) => Some(*c),
            _ => None,
        }
    }

    pub(super) fn spaced(&self, j: usize) -> bool {
        self.p.get(j).is_some_and(|p| p.spaced)
    }

    fn skip_seps(&self, mut j: usize) -> usize {
        while self.sym(j).is_some_and(|c| SEPARATORS.contains(&c)) {
            j += 1;
        }
        j
    }

    fn set_date(&mut self, d: NaiveDate) -> Result<(), DateError> {
        if self.date.replace(d).is_some() {
            return Err(repeated("date"));
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), DateError> {
        let i = self.i;
        match self.p.get(i).map(|p| &p.kind) {
            None => Ok(()),
            Some(Kind::Sym(c)) => {
                if (*c == '+' || *c == '-') && self.offset_follows(i) {
                    return self.signed_offset(i);
                }
                // «آخر تحديث: …»: a colon after a label word, not inside a time.
                let after_label = *c == ':' && i.checked_sub(1).and_then(|j| self.text(j)).is_some();
                if SEPARATORS.contains(c) || after_label {
                    self.i += 1;
                    return Ok(());
                }
                Err(DateError::unexpected(format!("symbol {c:?}")))
            }
            Some(Kind::Num { .. }) => self.number(i),
            // «ت.غ» / «ت غ»: توقيت غرينتش, Greenwich time.
            Some(Kind::Word { word: None, text }) if text == "ت" => {
                let k = if self.sym(i + 1) == Some('.') { i + 2 } else { i + 1 };
                if self.text(k) != Some("غ") {
                    return Err(unexpected_word(text));
                }
                self.utc_word(k)
            }
            Some(Kind::Word { word: None, text }) => Err(unexpected_word(text)),
            Some(Kind::Word { word: Some(w), .. }) => self.known_word(*w, i),
        }
    }

    fn number(&mut self, i: usize) -> Result<(), DateError> {
        if self.sym(i + 1) == Some(':') {
            return self.clock_time(i);
        }
        if self.date_from_day(i)? {
            return Ok(());
        }
        let (value, digits) = self.num(i).unwrap_or_default();
        let after_hour_word = i.checked_sub(1).and_then(|j| self.text(j)) == Some("الساعه");
        let before_meridiem = matches!(self.word(i + 1), Some(Word::Meridiem(_)));
        if digits <= 2 && (after_hour_word || before_meridiem) {
            return self.hour_only(i);
        }
        let k = self.skip_seps(i + 1);
        if matches!(self.word(k), Some(Word::HijriMonth | Word::HijriMonthHead)) {
            self.i = k;
            return self.hijri_group(k);
        }
        Err(DateError::unexpected(format!("number {value}")))
    }

    fn known_word(&mut self, w: Word, i: usize) -> Result<(), DateError> {
        self.i = i + 1;
        match w {
            // «يوم» as in «يوم الاثنين» / «يوم أمس».
            Word::Weekday | Word::Filler | Word::Unit(Unit::Day, Count::One) => Ok(()),
            Word::Month(_) | Word::MonthPair(_) => self.date_from_month(i),
            Word::HijriMonth | Word::HijriMonthHead => self.hijri_group(i),
            Word::ZoneIntro => self.zone_name(i + 1),
            Word::Utc => self.utc_word(i),
            Word::Now => {
                self.now = true;
                Ok(())
            }
            Word::Today if self.word(i + 1) == Some(Word::Previous) => self.days_back(1, i + 2),
            Word::Today => self.days_back(0, i + 1),
            Word::Yesterday if self.word(i + 1) == Some(Word::Ordinal(1)) => self.days_back(2, i + 2),
            Word::Yesterday => self.days_back(1, i + 1),
            Word::Ordinal(1) if self.word(i + 1) == Some(Word::Yesterday) => self.days_back(2, i + 2),
            _ => Err(unexpected_word(self.text(i).unwrap_or_default())),
        }
    }

    fn days_back(&mut self, n: u64, next: usize) -> Result<(), DateError> {
        if self.days_back.replace(n).is_some() {
            return Err(repeated("day"));
        }
        self.i = next;
        Ok(())
    }

    /// Day first: «12 أبريل 2021», «12/أبريل/2021», or all-numeric «12/04/2021».
    fn date_from_day(&mut self, i: usize) -> Result<bool, DateError> {
        let Some((day, digits)) = self.num(i) else {
            return Ok(false);
        };
        let mut j = self.skip_seps(i + 1);
        // «12 من أبريل»
        if self.text(j) == Some("من") {
            j += 1;
        }
        if digits <= 2 && self.month_at(j)?.is_some() {
            let (month, k) = self.month(j)?;
            let k = self.skip_seps(k);
            return self.year_then_date(k, month, day).map(|()| true);
        }
        self.numeric_date(i)
    }

    /// Month first: «أبريل 12، 2021».
    fn date_from_month(&mut self, i: usize) -> Result<(), DateError> {
        let (month, k) = self.month(i)?;
        let k = self.skip_seps(k);
        let day = match self.num(k) {
            Some((d, digits)) if digits <= 2 && !self.is_hour(k) => d,
            _ => return Err(DateError::bare(|input| DateError::NoDay { input })),
        };
        let k = self.skip_seps(k + 1);
        self.year_then_date(k, month, day)
    }

    /// A number at `k` that is an hour (followed by «:» or a meridiem word), not a year.
    fn is_hour(&self, k: usize) -> bool {
        self.sym(k + 1) == Some(':') || matches!(self.word(k + 1), Some(Word::Meridiem(_)))
    }

    fn year_then_date(&mut self, k: usize, month: u32, day: u32) -> Result<(), DateError> {
        let year = match self.num(k) {
            Some((y, 4)) => i64::from(y),
            Some((y, 2)) if !self.is_hour(k) => 2000 + i64::from(y),
            _ => return Err(DateError::bare(|input| DateError::NoYear { input })),
        };
        self.i = k + 1;
        self.era_then_date(year, month, day)
    }

    /// An era word may follow the year: م/ميلادي (Gregorian) is dropped, هـ/هجري makes
    /// the whole group Hijri, which is then not used as the date.
    fn era_then_date(&mut self, year: i64, month: u32, day: u32) -> Result<(), DateError> {
        let k = self.i;
        match (self.word(k), self.text(k)) {
            (Some(Word::EraAd), _) | (_, Some("م")) => self.i = k + 1,
            (Some(Word::EraHijri), _) => {
                self.i = k + 1;
                self.hijri = true;
                return Ok(());
            }
            _ => {}
        }
        let d = local::date(year, month, day)?;
        self.set_date(d)
    }

    fn numeric_date(&mut self, i: usize) -> Result<bool, DateError> {
        let (Some((a, ad)), Some(s)) = (self.num(i), self.sym(i + 1)) else {
            return Ok(false);
        };
        if !NUMERIC_DATE_SEPARATORS.contains(&s) {
            return Ok(false);
        }
        let (Some((b, bd)), Some((c, cd))) = (self.num(i + 2), self.num(i + 4)) else {
            return Ok(false);
        };
        if self.sym(i + 3) != Some(s) || bd > 2 {
            return Ok(false);
        }
        let (year, month, day) = match (ad, cd) {
            (4, 1..=2) => (i64::from(a), b, c),
            (1..=2, 4) => (i64::from(c), b, a),
            (1..=2, 2) if s == '-' => {
                return Err(DateError::Ambiguous {
                    input: String::new(),
                    reason: "a two-digit year between dashes can be read as dd-mm-yy or yy-mm-dd",
                });
            }
            (1..=2, 2) => (2000 + i64::from(c), b, a),
            _ => {
                return Err(DateError::unexpected(format!("numeric date {a}{s}{b}{s}{c}")));
            }
        };
        self.i = i + 5;
        self.era_then_date(year, month, day).map(|()| true)
    }

    /// The month named at `j`, if any (كانون/تشرين need their ordinal).
    fn month_at(&self, j: usize) -> Result<Option<(u32, usize)>, DateError> {
        match self.word(j) {
            Some(Word::Month(m)) => Ok(Some((m, j + 1))),
            Some(Word::MonthPair(pair)) => {
                let ordinal = match (self.word(j + 1), self.num(j + 1)) {
                    (Some(Word::Ordinal(o)), _) | (_, Some((o @ 1..=2, 1))) => Some(o),
                    _ => None,
                };
                match ordinal.and_then(|o| pair.month(o)) {
                    Some(m) => Ok(Some((m, j + 2))),
                    None => Err(DateError::Ambiguous {
                        input: String::new(),
                        reason: "«كانون» and «تشرين» need «الأول» or «الثاني» after them",
                    }),
                }
            }
            _ => Ok(None),
        }
    }

    /// A month name at `j`, followed by any number of names of the SAME month in another
    /// family («آب/أغسطس», «نيسان (أبريل)»); different months are an error.
    fn month(&self, j: usize) -> Result<(u32, usize), DateError> {
        let Some((month, mut k)) = self.month_at(j)? else {
            return Err(DateError::bare(|input| DateError::NoMonth { input }));
        };
        while let Some((other, after)) = self.month_at(self.skip_seps(k))? {
            if other != month {
                return Err(DateError::MonthConflict { input: String::new(), first: month, second: other });
            }
            k = after;
        }
        Ok((month, k))
    }

    /// «30 شعبان 1442 هـ»: recognised so that a Gregorian date printed beside it can
    /// still be read, but never used as the date itself.
    fn hijri_group(&mut self, i: usize) -> Result<(), DateError> {
        self.hijri = true;
        let mut k = i + 1;
        if self.word(i) == Some(Word::HijriMonthHead)
            && matches!(self.word(k), Some(Word::Ordinal(_) | Word::HijriMonthTail))
        {
            k += 1;
        }
        let after_seps = self.skip_seps(k);
        if matches!(self.num(after_seps), Some((_, 3..=4))) {
            k = after_seps + 1;
        }
        if self.word(k) == Some(Word::EraHijri) {
            k += 1;
        }
        self.i = k;
        Ok(())
    }

    fn finish(self, tz: Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>, DateError> {
        if self.now {
            if self.date.is_some() || self.time.is_some() || self.days_back.is_some() {
                return Err(DateError::Ambiguous {
                    input: String::new(),
                    reason: "«الآن» (now) cannot be combined with a date or time",
                });
            }
            return local::in_range(now);
        }
        let local_now = local::local_now(tz, now);
        let naive = match (self.date, self.days_back, self.time) {
            // An explicit date is more precise than اليوم/أمس printed beside it.
            (Some(d), _, t) => d.and_time(t.unwrap_or(NaiveTime::MIN)),
            (None, Some(n), t) => {
                let day = local_now.date().checked_sub_days(Days::new(n));
                let day = day.ok_or(DateError::bare(|input| DateError::Overflow { input }))?;
                day.and_time(t.unwrap_or(local_now.time()))
            }
            (None, None, _) if self.hijri => {
                return Err(DateError::bare(|input| DateError::Hijri { input }));
            }
            (None, None, _) => return Err(DateError::bare(|input| DateError::NoMonth { input })),
        };
        let instant = match self.offset {
            Some(off) => local::at_offset(naive, off)?,
            None => local::resolve(self.zone.unwrap_or(tz), naive)?,
        };
        local::in_range(instant)
    }
}

pub(super) fn repeated(what: &'static str) -> DateError {
    DateError::Repeated { input: String::new(), what }
}

pub(super) fn unexpected_word(text: &str) -> DateError {
    DateError::unexpected(format!("word {text:?}"))
}
