//! Relative dates: «الآن», «منذ …», «قبل …», «… مضت», and the day words «اليوم», «أمس».

use super::tests_absolute::{local, now, utc};
use super::*;
use chrono::TimeDelta;
use chrono_tz::Africa::Cairo;

fn cairo(s: &str) -> Result<DateTime<Utc>, DateError> {
    parse_arabic_date(s, Cairo, now())
}

fn ago(secs: i64) -> Result<DateTime<Utc>, DateError> {
    Ok(now() - TimeDelta::seconds(secs))
}

#[test]
fn now_words_give_now() {
    assert_eq!(cairo("الآن"), Ok(now()));
    assert_eq!(cairo("الان"), Ok(now()));
    assert_eq!(cairo("منذ لحظات"), Ok(now()));
}

#[test]
fn amounts_of_time_ago_are_counted_back_from_now() {
    let cases: &[(&str, i64)] = &[
        ("منذ دقيقة", 60),
        ("منذ دقيقتين", 120),
        ("منذ 5 دقائق", 300),
        ("منذ ٥ دقائق", 300),
        ("منذ ساعة", 3_600),
        ("منذ ساعة واحدة", 3_600),
        ("منذ ساعتين", 7_200),
        ("منذ 3 ساعات", 10_800),
        ("منذ 11 ساعة", 39_600),
        ("منذ يوم", 86_400),
        ("منذ يومين", 172_800),
        ("منذ أيام", 259_200),
        ("منذ أسبوع", 604_800),
        ("منذ أسبوعين", 1_209_600),
        ("منذ 30 ثانية", 30),
        ("منذ 3 ثانيه", 3),
        ("منذ 2 ساعات", 7_200),
        ("قبل 3 ساعات", 10_800),
        ("قبل ساعتين", 7_200),
        ("قبل 5 دقائق", 300),
        ("3 ساعات مضت", 10_800),
        ("منذ ساعة و20 دقيقة", 4_800),
        ("منذ ساعة و 20 دقيقة", 4_800),
        ("منذ ساعتين ودقيقتين", 7_320),
        ("\u{200F}منذ\u{200F} 5 دقائق\u{200F}", 300),
    ];
    for (s, secs) in cases {
        assert_eq!(cairo(s), ago(*secs), "{s}");
    }
}

#[test]
fn months_and_years_ago_are_calendar_months() {
    assert_eq!(cairo("منذ شهر"), Ok(utc("2024-05-15T12:34:56Z")));
    assert_eq!(cairo("منذ سنة"), Ok(utc("2023-06-15T12:34:56Z")));
    assert_eq!(cairo("منذ عامين"), Ok(utc("2022-06-15T12:34:56Z")));
}

#[test]
fn malformed_or_mixed_relative_phrases_are_errors() {
    for s in [
        "منذ",
        "منذ 5",
        "منذ منذ ساعة",
        "5 دقائق",
        "منذ 5 دقائق 12 أبريل 2021",
        "منذ ساعة 20 دقيقة",
        "منذ ساعة و",
        "منذ 2 ساعتين",
        "منذ قليل",
        "مضت",
        "3 ساعات مضت منذ",
    ] {
        assert!(cairo(s).is_err(), "{s}: {:?}", cairo(s));
    }
}

#[test]
fn absurd_amounts_are_out_of_range_not_a_panic() {
    assert!(cairo("منذ 999999999 سنة").is_err());
    assert!(cairo("منذ 999999999 أسبوع").is_err());
    assert!(cairo("منذ 200 سنة").is_err());
}

#[test]
fn yesterday_without_a_time_keeps_the_wall_clock_time_of_now() {
    assert_eq!(cairo("أمس"), Ok(utc("2024-06-14T12:34:56Z")));
    assert_eq!(cairo("البارحة"), Ok(utc("2024-06-14T12:34:56Z")));
    assert_eq!(cairo("يوم أمس"), Ok(utc("2024-06-14T12:34:56Z")));
    assert_eq!(cairo("اليوم السابق"), Ok(utc("2024-06-14T12:34:56Z")));
    assert_eq!(cairo("أول أمس"), Ok(utc("2024-06-13T12:34:56Z")));
    assert_eq!(cairo("أمس الأول"), Ok(utc("2024-06-13T12:34:56Z")));
}

#[test]
fn yesterday_across_a_dst_change_is_the_same_wall_clock_time_not_24_hours() {
    let after_gap = utc("2024-04-26T12:00:00Z");
    let got = parse_arabic_date("أمس", Cairo, after_gap);
    assert_eq!(got, Ok(local(Cairo, 2024, 4, 25, 15, 0)));
    assert_eq!(got, Ok(after_gap - TimeDelta::hours(23)));
}

#[test]
fn day_words_with_a_time_use_that_time_on_that_local_day() {
    assert_eq!(cairo("أمس الساعة 9 مساءً"), Ok(local(Cairo, 2024, 6, 14, 21, 0)));
    assert_eq!(cairo("أمس 10:18 ص"), Ok(local(Cairo, 2024, 6, 14, 10, 18)));
    assert_eq!(cairo("اليوم 10:18 ص"), Ok(local(Cairo, 2024, 6, 15, 10, 18)));
    assert_eq!(cairo("اليوم، الساعة 23:05"), Ok(local(Cairo, 2024, 6, 15, 23, 5)));
}

#[test]
fn today_without_a_time_is_now() {
    assert_eq!(cairo("اليوم"), Ok(now()));
}

#[test]
fn the_local_day_is_taken_in_the_source_zone() {
    // 22:30 UTC is already the next day in Cairo (+03).
    let late = utc("2024-06-15T22:30:00Z");
    let got = parse_arabic_date("اليوم 08:00", Cairo, late);
    assert_eq!(got, Ok(local(Cairo, 2024, 6, 16, 8, 0)));
}

#[test]
fn an_explicit_date_wins_over_today_or_yesterday_beside_it() {
    assert_eq!(cairo("اليوم الإثنين 12 أبريل 2021"), Ok(local(Cairo, 2021, 4, 12, 0, 0)));
}

#[test]
fn now_with_a_date_is_refused() {
    assert!(matches!(cairo("الآن 12 أبريل 2021"), Err(DateError::Ambiguous { .. })));
    assert!(matches!(cairo("أمس اليوم"), Err(DateError::Repeated { .. })));
}
