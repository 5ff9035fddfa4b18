//! Machine-written dates found in feeds and page metadata: ISO 8601 / RFC 3339
//! («2021-04-12T10:18:00+02:00», «2021-04-12») and RFC 2822 as RSS writes it
//! («Mon, 12 Apr 2021 10:18:00 GMT», with the usual sloppiness). Both readers return
//! `None` when the text does not have their shape, so the caller can try the next one;
//! once the shape is recognised, a bad field is an error, not a fall-through.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::error::DateError;
use super::local;

type Reading = Option<Result<DateTime<Utc>, DateError>>;

struct Fields {
    year: i64,
    month: u32,
    day: u32,
    hms: (u32, u32, u32),
    offset: Option<FixedOffset>,
}

fn instant(f: &Fields, tz: Tz) -> Result<DateTime<Utc>, DateError> {
    let date = local::date(f.year, f.month, f.day)?;
    let (h, m, s) = f.hms;
    let naive = NaiveDateTime::new(date, local::time(h, m, s)?);
    let t = match f.offset {
        Some(off) => local::at_offset(naive, off)?,
        None => local::resolve(tz, naive)?,
    };
    local::in_range(t)
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let run = self.b.get(self.i..self.i + n)?;
        if !run.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(run.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    }

    fn eat(&mut self, set: &[u8]) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        set.contains(&c).then(|| {
            self.i += 1;
            c
        })
    }

    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
}

/// ISO 8601 extended format: YYYY, YYYY-MM, YYYY-MM-DD, then optionally
/// `[T| ]hh:mm[:ss[.frac]]` and `[ ][Z|±hh[:mm]|±hhmm]`. Without an offset the time is
/// local to `tz`; reduced precision means the start of the period, at local midnight.
/// `s` must be normalised (lowercase).
pub(super) fn iso8601(s: &str, tz: Tz) -> Reading {
    let mut c = Cursor { b: s.as_bytes(), i: 0 };
    let year = i64::from(c.digits(4)?);
    let mut f = Fields { year, month: 1, day: 1, hms: (0, 0, 0), offset: None };
    if !c.done() {
        c.eat(b"-")?;
        f.month = c.digits(2)?;
        if !c.done() {
            c.eat(b"-")?;
            f.day = c.digits(2)?;
        }
    }
    if !c.done() {
        c.eat(b"t ")?;
        let h = c.digits(2)?;
        c.eat(b":")?;
        let m = c.digits(2)?;
        let mut sec = 0;
        if c.eat(b":").is_some() {
            sec = c.digits(2)?;
            if c.eat(b".,").is_some() {
                c.digits(1)?;
                while c.digits(1).is_some() {}
            }
        }
        f.hms = (h, m, sec);
        c.eat(b" ");
        if c.eat(b"z").is_some() {
            f.offset = Some(FixedOffset::east_opt(0)?);
        } else if let Some(sign) = c.eat(b"+-") {
            let hh = c.digits(2)?;
            c.eat(b":");
            let mm = if c.done() { 0 } else { c.digits(2)? };
            f.offset = Some(match local::offset(sign == b'-', hh, mm) {
                Ok(o) => o,
                Err(e) => return Some(Err(e)),
            });
        }
    }
    if !c.done() {
        return None;
    }
    Some(instant(&f, tz))
}

const EN_MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
pub(super) const EN_MONTH_NAMES: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const EN_WEEKDAYS: [&str; 14] = [
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

fn en_month(w: &str) -> Option<u32> {
    let w = w.strip_suffix('.').unwrap_or(w);
    let i = EN_MONTHS.iter().position(|m| *m == w);
    let i = i.or_else(|| EN_MONTH_NAMES.iter().position(|m| *m == w)).or((w == "sept").then_some(8))?;
    u32::try_from(i + 1).ok()
}

/// Zone abbreviations seen in feeds, as hours east of UTC. «ast» is deliberately absent:
/// Arabia Standard Time (+3) and Atlantic Standard Time (−4) share it.
fn zone_hours(z: &str) -> Option<i32> {
    Some(match z {
        "ut" | "utc" | "gmt" | "z" | "uct" | "etc/gmt" | "etc/utc" | "wet" => 0,
        "cet" | "met" | "west" => 1,
        "cest" | "mest" | "eet" => 2,
        "eest" | "msk" => 3,
        "at" | "edt" => -4,
        "et" | "est" | "cdt" => -5,
        "ct" | "cst" | "mdt" => -6,
        "mt" | "mst" | "pdt" => -7,
        "pt" | "pst" => -8,
        _ => return None,
    })
}

/// «+0300», «-01:01», «+3» after the sign has been seen.
fn signed_offset(negative: bool, rest: &str) -> Option<Result<FixedOffset, DateError>> {
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) if m.len() == 2 => (h, m),
        Some(_) => return None,
        None if rest.len() == 4 => (rest.get(..2)?, rest.get(2..)?),
        None => (rest, "0"),
    };
    if h.is_empty() || h.len() > 2 || !(h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some(local::offset(negative, h.parse().ok()?, m.parse().ok()?))
}

fn zone(chunk: &str) -> Option<Result<FixedOffset, DateError>> {
    if let Some(rest) = chunk.strip_prefix('+') {
        return signed_offset(false, rest);
    }
    if let Some(rest) = chunk.strip_prefix('-') {
        return signed_offset(true, rest);
    }
    if chunk == "ast" {
        return Some(Err(DateError::Ambiguous {
            input: String::new(),
            reason: "zone «AST» may be Arabia (+03) or Atlantic (-04) time",
        }));
    }
    if let Some(h) = zone_hours(chunk) {
        return Some(local::offset(h < 0, h.unsigned_abs(), 0));
    }
    let split = chunk.find(['+', '-'])?;
    let (name, signed) = chunk.split_at(split);
    (zone_hours(name)? == 0).then_some(())?;
    zone(signed)
}

/// RFC 2822 and its common variants: optional weekday, day and month in either order,
/// two- or four-digit year (RFC rule: 00–49 → 20xx, 50–99 → 19xx), optional time,
/// optional zone (numeric, UT/GMT, US and European abbreviations), and asctime order
/// («Sun Jan  4 16:29:06 2004»). Without a zone the time is local to `tz`.
pub(super) fn rfc2822(s: &str, tz: Tz) -> Reading {
    let (mut month, mut numbers, mut hms, mut offset) = (None, Vec::new(), None, None);
    for chunk in s.split(|c: char| c.is_whitespace() || c == ',').filter(|c| !c.is_empty()) {
        if EN_WEEKDAYS.contains(&chunk.strip_suffix('.').unwrap_or(chunk)) {
            continue;
        }
        if let Some(m) = en_month(chunk) {
            month.replace(m).is_none().then_some(())?;
        } else if chunk.bytes().all(|b| b.is_ascii_digit()) {
            numbers.push(chunk);
        } else if chunk.bytes().next().is_some_and(|b| b.is_ascii_digit()) && chunk.contains(':') {
            hms.is_none().then_some(())?;
            hms = Some(chunk);
        } else {
            offset.is_none().then_some(())?;
            offset = Some(zone(chunk)?);
        }
    }
    let month = month?;
    let [day, year] = numbers.as_slice() else {
        return None;
    };
    Some(rfc_fields(day, year, month, hms, offset).and_then(|f| instant(&f, tz)))
}

fn rfc_fields(
    day: &str,
    year: &str,
    month: u32,
    hms: Option<&str>,
    offset: Option<Result<FixedOffset, DateError>>,
) -> Result<Fields, DateError> {
    let bad = |what: &str| DateError::unexpected(what.to_owned());
    let day: u32 = day.parse().map_err(|_| bad("day"))?;
    let y: i64 = year.parse().map_err(|_| bad("year"))?;
    let year = match year.len() {
        4 => y,
        2 if y < 50 => 2000 + y,
        2 => 1900 + y,
        _ => return Err(bad(&format!("year {year}"))),
    };
    let hms = match hms {
        None => (0, 0, 0),
        Some(t) => {
            let parts: Vec<Option<u32>> =
                t.split(':').map(|p| (p.len() <= 2).then(|| p.parse().ok()).flatten()).collect();
            match parts.as_slice() {
                [Some(h), Some(m)] => (*h, *m, 0),
                [Some(h), Some(m), Some(s)] => (*h, *m, *s),
                _ => return Err(bad(&format!("time {t}"))),
            }
        }
    };
    let offset = offset.transpose()?;
    Ok(Fields { year, month, day, hms, offset })
}
