//! Machine dates through `parse_date`: ISO 8601 / RFC 3339, RFC 2822, the feedparser
//! date table, and the fall-back to the Arabic reader.

use super::tests_absolute::{local, now, utc};
use super::*;
use chrono_tz::{Africa::Cairo, UTC};

fn cairo(s: &str) -> Result<DateTime<Utc>, DateError> {
    parse_date(s, Cairo, now())
}

#[test]
fn rfc3339_with_offset_or_z_is_exact() {
    assert_eq!(cairo("2021-04-12T10:18:00+02:00"), Ok(utc("2021-04-12T08:18:00Z")));
    assert_eq!(cairo("2021-04-12T10:18:00Z"), Ok(utc("2021-04-12T10:18:00Z")));
    assert_eq!(cairo("2021-04-12t10:18:00z"), Ok(utc("2021-04-12T10:18:00Z")));
    assert_eq!(cairo("2021-04-12 10:18:00-0500"), Ok(utc("2021-04-12T15:18:00Z")));
    assert_eq!(cairo("2021-04-12T10:18:00.123456+03:00"), Ok(utc("2021-04-12T07:18:00Z")));
    assert_eq!(cairo("2021-04-12T10:18+03"), Ok(utc("2021-04-12T07:18:00Z")));
}

#[test]
fn iso_without_offset_is_local_to_the_source_zone() {
    assert_eq!(cairo("2021-04-12T10:18:00"), Ok(local(Cairo, 2021, 4, 12, 10, 18)));
    assert_eq!(cairo("2021-04-12"), Ok(local(Cairo, 2021, 4, 12, 0, 0)));
    assert_eq!(cairo("2021-04"), Ok(local(Cairo, 2021, 4, 1, 0, 0)));
    assert_eq!(cairo("\u{200F}٢٠٢١-٠٤-١٢ "), Ok(local(Cairo, 2021, 4, 12, 0, 0)));
    assert_eq!(cairo("2024-04-26T00:30:00"), Ok(utc("2024-04-25T22:30:00Z")));
}

#[test]
fn iso_with_impossible_fields_is_an_error() {
    for s in ["2021-02-30", "2021-13-01", "2021-04-12T24:00:00Z", "2021-04-12T10:18:00+25:00", "1850-01-01"] {
        assert!(matches!(cairo(s), Err(DateError::OutOfRange { .. })), "{s}: {:?}", cairo(s));
    }
}

#[test]
fn rfc2822_as_written_in_rss_is_read() {
    assert_eq!(cairo("Mon, 12 Apr 2021 10:18:00 GMT"), Ok(utc("2021-04-12T10:18:00Z")));
    assert_eq!(cairo("Mon, 12 Apr 2021 10:18:00 +0200"), Ok(utc("2021-04-12T08:18:00Z")));
    assert_eq!(cairo("12 Apr 2021 10:18 EET"), Ok(utc("2021-04-12T08:18:00Z")));
    assert_eq!(cairo("Mon, 12 Apr 2021 10:18:00"), Ok(local(Cairo, 2021, 4, 12, 10, 18)));
}

#[test]
fn the_ambiguous_ast_zone_is_refused() {
    assert!(matches!(cairo("Mon, 12 Apr 2021 10:18:00 AST"), Err(DateError::Ambiguous { .. })));
}

#[test]
fn anything_else_falls_back_to_the_arabic_reader() {
    assert_eq!(cairo("الإثنين 12/أبريل/2021 - 10:18 ص"), Ok(utc("2021-04-12T08:18:00Z")));
    assert_eq!(cairo("منذ 5 دقائق"), Ok(now() - chrono::TimeDelta::minutes(5)));
    let e = cairo("غدا").err().map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("cannot read date \"غدا\": unexpected word \"غدا\""));
}

/// Rows of feedparser's table whose expected value this reader deliberately does not
/// produce: other languages' parsers, ISO 8601 forms no feed of ours uses (two-digit or
/// ordinal years), and years before 1900. For each, an ERROR is required — never a
/// different date.
const UNSUPPORTED: &[&str] = &[
    "Κυρ, 11 Ιούλ 2004 12:00:00 EST",
    "2004-július-13T9:15-05:00",
    "-0312",
    "031231",
    "03-12-31",
    "-03-12",
    "03335",
    "2003-012-31T10:14:55+00:00",
    "2004-05-25 오후 11:23:17",
    "2004년 05월 28일  01:31:15",
    "Fri, 2006/09/15 08:19:53 EDT",
    "Thu, 01 Jan 0100 00:00:01 +0100",
];

#[test]
fn feedparser_date_table_is_read_or_refused_never_misread() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/feedparser/date_tests.tsv");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (mut read, mut refused, mut unsupported) = (0, 0, 0);
    for line in text.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [_parser, input, expected] = cols.as_slice() else {
            panic!("bad row {line:?}");
        };
        let got = parse_date(input, UTC, now());
        if *expected == "None" {
            assert!(got.is_err(), "{input:?} should be refused, got {got:?}");
            refused += 1;
        } else if UNSUPPORTED.contains(input) {
            assert!(got.is_err(), "{input:?} is unsupported and must be an error, got {got:?}");
            unsupported += 1;
        } else {
            assert_eq!(got, Ok(utc(expected)), "{input:?}");
            read += 1;
        }
    }
    eprintln!("feedparser dates: {read} read, {refused} refused as expected, {unsupported} unsupported (errors)");
    assert_eq!(read + refused + unsupported, 71);
    assert_eq!(unsupported, UNSUPPORTED.len());
}
