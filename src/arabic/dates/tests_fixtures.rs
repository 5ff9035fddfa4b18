//! Third-party Arabic date data (copied under tests/fixtures with their licences):
//! dateparser's Arabic cases and vocabulary, CLDR month/weekday names and formatted
//! samples.

use super::tests_absolute::{now, utc};
use super::*;
use chrono::{Months, NaiveDate, TimeDelta};
use chrono_tz::{Africa::Cairo, UTC};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn rows(rel: &str) -> Vec<Vec<String>> {
    let path = format!("{FIXTURES}/{rel}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines().skip(1).filter(|l| !l.trim().is_empty()).map(|l| l.split('\t').map(str::to_owned).collect()).collect()
}

fn utc_date(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(h, mi, 0))
        .unwrap_or_else(|| panic!("bad date {y}-{m}-{d}"))
        .and_utc()
}

fn en_month(w: &str) -> Option<u32> {
    super::machine::EN_MONTH_NAMES.iter().position(|m| *m == w).and_then(|i| u32::try_from(i + 1).ok())
}

/// dateparser's English normal form of an absolute date («6 january 2015 05:16 pm»).
fn english_absolute(s: &str) -> DateTime<Utc> {
    let words: Vec<&str> = s.split_whitespace().filter(|w| !w.ends_with("day")).collect();
    let (mut day, mut month, mut year, mut hm, mut pm) = (0, 0, 0, (0, 0), false);
    for w in words {
        if let Some(m) = en_month(w) {
            month = m;
        } else if let Some((h, m)) = w.split_once(':') {
            hm = (h.parse().unwrap_or(99), m.parse().unwrap_or(99));
        } else if w == "pm" || w == "am" {
            pm = w == "pm";
        } else if day == 0 {
            day = w.parse().unwrap_or(0);
        } else {
            year = w.parse().unwrap_or(0);
        }
    }
    let hour = if pm && hm.0 < 12 { hm.0 + 12 } else { hm.0 };
    utc_date(year, month, day, hour, hm.1)
}

/// dateparser's freshness form («ago 2 hour», «5 minute ago»), counted back from now.
fn english_relative(s: &str) -> Option<DateTime<Utc>> {
    let words: Vec<&str> = s.split_whitespace().filter(|w| *w != "ago").collect();
    if !s.contains("ago") {
        return None;
    }
    let [n, unit] = words.as_slice() else {
        panic!("bad freshness form {s}");
    };
    let n: i64 = n.parse().ok()?;
    Some(match *unit {
        "second" => now() - TimeDelta::seconds(n),
        "minute" => now() - TimeDelta::minutes(n),
        "hour" => now() - TimeDelta::hours(n),
        "day" => now() - TimeDelta::days(n),
        "year" => now().checked_sub_months(Months::new(12 * u32::try_from(n).ok()?))?,
        _ => panic!("unit {unit}"),
    })
}

#[test]
fn dateparser_arabic_cases_are_read_and_bare_amounts_refused() {
    let rows = rows("dateparser-arabic/ar-translation-cases.tsv");
    assert_eq!(rows.len(), 17);
    for row in rows {
        let [test, input, expected] = row.as_slice() else {
            panic!("bad row {row:?}");
        };
        let got = parse_arabic_date(input, UTC, now());
        if test == "test_translation" {
            assert_eq!(got, Ok(english_absolute(expected)), "{input}");
        } else {
            match english_relative(expected) {
                Some(want) => assert_eq!(got, Ok(want), "{input}"),
                // «يومين», «4 عام»: an amount without منذ/قبل is no date.
                None => assert!(got.is_err(), "{input}: {got:?}"),
            }
        }
    }
}

/// Unit words with the article («الساعات», «السنة») are «the hours», «the year»: not
/// amounts, so «منذ السنة» is refused.
fn definite(v: &str) -> bool {
    v.starts_with("ال")
}

#[test]
fn dateparser_arabic_vocabulary_is_understood() {
    let mut checked = 0;
    for row in rows("dateparser-arabic/ar-month-day-variants.tsv") {
        let [_scope, key, variants] = row.as_slice() else {
            panic!("bad row {row:?}");
        };
        for v in variants.split('|') {
            let got = match key.as_str() {
                k if en_month(k).is_some() => {
                    let m = en_month(k).unwrap_or(0);
                    let got = parse_arabic_date(&format!("5 {v} 2022"), UTC, now());
                    assert_eq!(got, Ok(utc_date(2022, m, 5, 0, 0)), "{key} {v}");
                    got
                }
                "monday" | "tuesday" | "wednesday" | "thursday" | "friday" | "saturday" | "sunday" => {
                    parse_arabic_date(&format!("{v}، 5 يناير 2022"), UTC, now())
                }
                "am" | "pm" => {
                    let got = parse_arabic_date(&format!("5 يناير 2022 10:18 {v}"), UTC, now());
                    let h = if key == "am" { 10 } else { 22 };
                    assert_eq!(got, Ok(utc_date(2022, 1, 5, h, 18)), "{key} {v}");
                    got
                }
                "ago" => parse_arabic_date(&format!("{v} ساعة"), UTC, now())
                    .or_else(|_| parse_arabic_date(&format!("ساعة {v}"), UTC, now())),
                "in" => {
                    // Future dates («خلال ساعة», within an hour) are not publication dates.
                    assert!(parse_arabic_date(&format!("{v} ساعة"), UTC, now()).is_err());
                    continue;
                }
                _ if definite(v) => {
                    assert!(parse_arabic_date(&format!("منذ {v}"), UTC, now()).is_err(), "{v}");
                    continue;
                }
                _ => parse_arabic_date(&format!("منذ {v}"), UTC, now()),
            };
            assert!(got.is_ok(), "{key} {v}: {got:?}");
            checked += 1;
        }
    }
    eprintln!("dateparser vocabulary: {checked} variants read");
    assert!(checked > 100);
}

#[test]
fn cldr_month_names_of_all_13_locales_are_read() {
    let rows = rows("cldr-arabic-dates/month-names.tsv");
    assert_eq!(rows.len(), 13);
    for row in rows {
        let Some((locale, names)) = row.split_first() else {
            panic!("empty row");
        };
        assert_eq!(names.len(), 12, "{locale}");
        for (m, name) in (1..=12).zip(names) {
            let got = parse_arabic_date(&format!("5 {name} 2022"), UTC, now());
            assert_eq!(got, Ok(utc_date(2022, m, 5, 0, 0)), "{locale} {name}");
        }
    }
}

#[test]
fn cldr_weekday_names_are_accepted_and_ignored() {
    for row in rows("cldr-arabic-dates/weekday-names.tsv") {
        for wd in row.iter().skip(1) {
            let got = parse_arabic_date(&format!("{wd}، 5 يناير 2022"), UTC, now());
            assert_eq!(got, Ok(utc_date(2022, 1, 5, 0, 0)), "{wd}");
        }
    }
}

/// The fixture writes bidi marks and no-break spaces as `\uXXXX`.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("\\u") {
        out.push_str(rest.get(..at).unwrap_or_default());
        let hex = rest.get(at + 2..at + 6).unwrap_or_default();
        match u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
            Some(c) => out.push(c),
            None => panic!("bad escape in {s}"),
        }
        rest = rest.get(at + 6..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

#[test]
fn cldr_formatted_samples_give_back_their_instant_in_cairo() {
    let rows = rows("cldr-arabic-dates/formatted-samples.tsv");
    assert_eq!(rows.len(), 24);
    for row in rows {
        let [locale, format, instant, text] = row.as_slice() else {
            panic!("bad row {row:?}");
        };
        let text = unescape(text);
        let got = parse_date(&text, Cairo, now());
        assert_eq!(got, Ok(utc(instant)), "{locale} {format}: {text:?}");
    }
}
