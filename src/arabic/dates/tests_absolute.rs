//! Absolute Arabic dates: the seed line, every separator and month family, times and
//! markers, digits and hidden marks, zones, DST, and the errors.

use super::*;
use chrono::TimeZone;
use chrono_tz::{Africa::Cairo, Asia::Baghdad, Europe::Paris};

pub(super) fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap_or_else(|e| panic!("bad instant {s}: {e}"))
}

pub(super) fn now() -> DateTime<Utc> {
    utc("2024-06-15T12:34:56Z")
}

pub(super) fn local(tz: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap_or_else(|| panic!("{y}-{mo}-{d} {h}:{mi} is not unique in {tz}"))
        .with_timezone(&Utc)
}

fn cairo(s: &str) -> Result<DateTime<Utc>, DateError> {
    parse_arabic_date(s, Cairo, now())
}

#[test]
fn seed_date_line_is_read_in_cairo_time() {
    assert_eq!(cairo("الإثنين 12/أبريل/2021 - 10:18 ص"), Ok(utc("2021-04-12T08:18:00Z")));
}

#[test]
fn weekday_is_optional_with_or_without_hamza_and_comma() {
    let want = Ok(utc("2021-04-12T08:18:00Z"));
    for s in [
        "الاثنين 12/أبريل/2021 - 10:18 ص",
        "الإثنين، 12/أبريل/2021 - 10:18 ص",
        "الاثنين, 12/ابريل/2021 - 10:18 ص",
        "12/أبريل/2021 - 10:18 ص",
        "يوم الإثنين 12 أبريل 2021 10:18 ص",
        "الثلاثاء 12 أبريل 2021 10:18 ص",
    ] {
        assert_eq!(cairo(s), want, "{s}");
    }
}

#[test]
fn day_month_and_year_may_be_separated_by_spaces_slashes_dashes_or_commas() {
    let want = Ok(local(Cairo, 2021, 4, 12, 0, 0));
    for s in [
        "12 أبريل 2021",
        "12/أبريل/2021",
        "12-أبريل-2021",
        "12، أبريل، 2021",
        "12, أبريل, 2021",
        "12 - أبريل - 2021",
        "١٢ أبريل ٢٠٢١",
        "أبريل 12، 2021",
    ] {
        assert_eq!(cairo(s), want, "{s}");
    }
}

#[test]
fn month_names_of_every_family_are_read() {
    let names: &[(&str, u32)] = &[
        ("يناير", 1),
        ("فبراير", 2),
        ("مارس", 3),
        ("أبريل", 4),
        ("ابريل", 4),
        ("إبريل", 4),
        ("مايو", 5),
        ("يونيو", 6),
        ("يونيه", 6),
        ("يونية", 6),
        ("يوليو", 7),
        ("يوليه", 7),
        ("يولية", 7),
        ("أغسطس", 8),
        ("اغسطس", 8),
        ("سبتمبر", 9),
        ("أكتوبر", 10),
        ("اكتوبر", 10),
        ("نوفمبر", 11),
        ("ديسمبر", 12),
        ("كانون الثاني", 1),
        ("شباط", 2),
        ("آذار", 3),
        ("نيسان", 4),
        ("أيار", 5),
        ("حزيران", 6),
        ("تموز", 7),
        ("آب", 8),
        ("أيلول", 9),
        ("تشرين الأول", 10),
        ("تشرين الثاني", 11),
        ("كانون الأول", 12),
        ("كانون 2", 1),
        ("تشرين 1", 10),
        ("جانفي", 1),
        ("فيفري", 2),
        ("أفريل", 4),
        ("ماي", 5),
        ("جوان", 6),
        ("جويلية", 7),
        ("أوت", 8),
        ("يوليوز", 7),
        ("غشت", 8),
        ("شتنبر", 9),
        ("نونبر", 11),
        ("دجنبر", 12),
    ];
    for (name, m) in names {
        let got = cairo(&format!("5 {name} 2022"));
        assert_eq!(got, Ok(local(Cairo, 2022, *m, 5, 0, 0)), "{name}");
    }
}

#[test]
fn double_month_names_agree_or_fail() {
    let aug = Ok(local(Cairo, 2023, 8, 15, 0, 0));
    assert_eq!(cairo("15 آب/أغسطس 2023"), aug);
    assert_eq!(cairo("15 آب (أغسطس) 2023"), aug);
    let apr = Ok(local(Cairo, 2023, 4, 15, 0, 0));
    assert_eq!(cairo("15 أبريل/ نيسان 2023"), apr);
    assert_eq!(cairo("15 نيسان (أبريل) 2023"), apr);
    assert_eq!(cairo("15 كانون الثاني/يناير 2023"), Ok(local(Cairo, 2023, 1, 15, 0, 0)));
    assert!(matches!(cairo("15 آب/أبريل 2023"), Err(DateError::MonthConflict { first: 8, second: 4, .. })));
}

#[test]
fn kanun_and_tishrin_without_ordinal_are_refused() {
    assert!(matches!(cairo("5 كانون 2022"), Err(DateError::Ambiguous { .. })));
    assert!(matches!(cairo("5 تشرين 2022"), Err(DateError::Ambiguous { .. })));
}

#[test]
fn numeric_dates_are_day_month_year_or_year_month_day() {
    let want = Ok(local(Cairo, 2021, 4, 12, 0, 0));
    for s in
        ["12/04/2021", "12-04-2021", "12.04.2021", "2021-04-12", "2021/04/12", "12/4/2021", "12/04/21", "١٢/٠٤/٢٠٢١"]
    {
        assert_eq!(cairo(s), want, "{s}");
    }
    assert!(matches!(cairo("12-04-21"), Err(DateError::Ambiguous { .. })));
    assert!(matches!(cairo("04/13/2021"), Err(DateError::OutOfRange { field: "month", .. })));
}

#[test]
fn times_with_markers_and_24_hour_times_are_read() {
    let cases: &[(&str, u32, u32)] = &[
        ("12 أبريل 2021 10:18 ص", 10, 18),
        ("12 أبريل 2021 10:18 م", 22, 18),
        ("12 أبريل 2021 الساعة 10:18 صباحًا", 10, 18),
        ("12 أبريل 2021 الساعة 10:18 صباحاً", 10, 18),
        ("12 أبريل 2021 الساعة 10:18 مساءً", 22, 18),
        ("12 أبريل 2021 الساعة 10:18 مساء", 22, 18),
        ("12 أبريل 2021 1:30 ظهرًا", 13, 30),
        ("12 أبريل 2021 12:05 ص", 0, 5),
        ("12 أبريل 2021 12:05 م", 12, 5),
        ("12 أبريل 2021 23:30", 23, 30),
        ("12 أبريل 2021 00:00", 0, 0),
        ("12 أبريل 2021 الساعة 9 مساءً", 21, 0),
        ("12 أبريل 2021 9 م", 21, 0),
        ("12 أبريل 2021 الساعة 9", 9, 0),
        ("12 أبريل 2021 10:30 قبل الظهر", 10, 30),
        ("12 أبريل 2021 2:30 بعد الظهر", 14, 30),
        ("الساعة 10:18 صباحا، الاثنين 12 أبريل 2021", 10, 18),
    ];
    for (s, h, m) in cases {
        assert_eq!(cairo(s), Ok(local(Cairo, 2021, 4, 12, *h, *m)), "{s}");
    }
    let secs = cairo("12 أبريل 2021 10:18:30");
    assert_eq!(secs, Ok(utc("2021-04-12T08:18:30Z")));
}

#[test]
fn arabic_indic_and_persian_digits_are_read() {
    assert_eq!(cairo("١٢ أبريل ٢٠٢١ - ١٠:١٨ ص"), Ok(utc("2021-04-12T08:18:00Z")));
    assert_eq!(cairo("۳ یولیو ۲۰۱۴"), Ok(local(Cairo, 2014, 7, 3, 0, 0)));
}

#[test]
fn hidden_bidi_marks_anywhere_are_ignored() {
    let s = "\u{200F}الإثنين\u{200E} 12\u{200F}/\u{061C}أبريل\u{200F}/2021 \u{202B}- 10:18\u{202C} ص\u{200F}";
    assert_eq!(cairo(s), Ok(utc("2021-04-12T08:18:00Z")));
}

#[test]
fn filler_words_and_named_local_zones_are_skipped() {
    let want = Ok(local(Baghdad, 2021, 4, 12, 22, 18));
    for s in [
        "الإثنين 12 أبريل 2021 الساعة 10:18 مساءً بتوقيت بغداد",
        "12 أبريل 2021م الساعة 10:18 م",
        "نشر في 12 أبريل 2021 - 10:18 م",
        "آخر تحديث: 12 أبريل 2021 - 10:18 م",
        "بتاريخ 12 أبريل 2021 في تمام الساعة 10:18 م",
    ] {
        assert_eq!(parse_arabic_date(s, Baghdad, now()), want, "{s}");
    }
}

#[test]
fn greenwich_time_and_explicit_offsets_override_the_source_zone() {
    assert_eq!(cairo("12 أبريل 2021 10:18 ص بتوقيت غرينتش"), Ok(utc("2021-04-12T10:18:00Z")));
    assert_eq!(cairo("12 أبريل 2021 10:18 ص بتوقيت جرينتش +3"), Ok(utc("2021-04-12T07:18:00Z")));
    assert_eq!(cairo("12 أبريل 2021 10:18 GMT"), Ok(utc("2021-04-12T10:18:00Z")));
    assert_eq!(cairo("31 أكتوبر 2024، 11:30:00 م +0300"), Ok(utc("2024-10-31T20:30:00Z")));
    assert_eq!(cairo("12 أبريل 2021 10:18 -05:00"), Ok(utc("2021-04-12T15:18:00Z")));
}

#[test]
fn a_hijri_date_beside_a_gregorian_one_is_skipped() {
    let s = "الإثنين 12 أبريل 2021م الموافق 30 شعبان 1442هـ";
    assert_eq!(cairo(s), Ok(local(Cairo, 2021, 4, 12, 0, 0)));
    let s = "الخميس 1 جمادى الأولى 1445 هـ الموافق 16 نوفمبر 2023";
    assert_eq!(cairo(s), Ok(local(Cairo, 2023, 11, 16, 0, 0)));
}

#[test]
fn a_hijri_date_alone_is_refused() {
    assert!(matches!(cairo("30 شعبان 1442هـ"), Err(DateError::Hijri { .. })));
    assert!(matches!(cairo("12/04/1442هـ"), Err(DateError::Hijri { .. })));
}

#[test]
fn spring_forward_gap_in_cairo_uses_the_offset_before_the_gap() {
    assert_eq!(cairo("26 أبريل 2024 الساعة 00:30"), Ok(utc("2024-04-25T22:30:00Z")));
    assert_eq!(cairo("26 أبريل 2024"), Ok(utc("2024-04-25T22:00:00Z")));
}

#[test]
fn fall_back_overlap_in_cairo_takes_the_earlier_instant() {
    assert_eq!(cairo("31 أكتوبر 2024 11:30 م"), Ok(utc("2024-10-31T20:30:00Z")));
    assert_eq!(parse_arabic_date("27 أكتوبر 2024 2:30", Paris, now()), Ok(utc("2024-10-27T00:30:00Z")));
}

#[test]
fn two_digit_years_are_this_century() {
    assert_eq!(cairo("12 أبريل 21"), Ok(local(Cairo, 2021, 4, 12, 0, 0)));
}

fn field_error(s: &str) -> Option<&'static str> {
    match cairo(s) {
        Err(DateError::OutOfRange { field, .. }) => Some(field),
        _ => None,
    }
}

#[test]
fn impossible_fields_are_errors() {
    assert_eq!(field_error("31 أبريل 2021"), Some("day"));
    assert_eq!(field_error("29 فبراير 2023"), Some("day"));
    assert!(cairo("29 فبراير 2024").is_ok());
    assert_eq!(field_error("0 أبريل 2021"), Some("day"));
    assert_eq!(field_error("12 أبريل 1899"), Some("year"));
    assert_eq!(field_error("12 أبريل 2201"), Some("year"));
    assert_eq!(field_error("12 أبريل 2021 13:00 م"), Some("hour"));
    assert_eq!(field_error("12 أبريل 2021 0:30 ص"), Some("hour"));
    assert_eq!(field_error("12 أبريل 2021 24:00"), Some("hour"));
    assert_eq!(field_error("12 أبريل 2021 10:60"), Some("minute"));
    assert_eq!(field_error("12 أبريل 2021 10:10:75"), Some("second"));
}

#[test]
fn incomplete_or_unknown_text_is_an_error_never_a_guess() {
    assert!(matches!(cairo("12 أبريل"), Err(DateError::NoYear { .. })));
    assert!(matches!(cairo("12 أبريل 10:18 ص"), Err(DateError::NoYear { .. })));
    assert!(matches!(cairo("أبريل 2021"), Err(DateError::NoDay { .. })));
    assert!(matches!(cairo("الإثنين"), Err(DateError::NoMonth { .. })));
    assert!(matches!(cairo("10:18 ص"), Err(DateError::NoMonth { .. })));
    assert!(matches!(cairo(""), Err(DateError::Empty { .. })));
    assert!(matches!(cairo(" \u{200F} "), Err(DateError::Empty { .. })));
    assert!(matches!(cairo("قريبا"), Err(DateError::Unexpected { .. })));
    assert!(matches!(cairo("الإثنين 12"), Err(DateError::Unexpected { .. })));
    assert!(matches!(cairo("12 أبريل 2021 @"), Err(DateError::Unexpected { .. })));
    assert!(matches!(cairo("12 أبريل 2021 10:18 ص م"), Err(DateError::Unexpected { .. })));
    assert!(matches!(cairo("12/04/2021 13/04/2021"), Err(DateError::Repeated { what: "date", .. })));
    assert!(matches!(cairo("12/04/2021 10:00 11:00"), Err(DateError::Repeated { what: "time", .. })));
}

#[test]
fn error_messages_quote_the_input_and_say_what_is_wrong() {
    let e = cairo("الإثنين 10:18 ص").err().map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("cannot read date \"الإثنين 10:18 ص\": no month name or number found"));
    let e = cairo("31 أبريل 2021").err().map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("cannot read date \"31 أبريل 2021\": day 31 is outside 1..=30"));
    let e = cairo("12 أبريل 2021 بكرة").err().map(|e| e.to_string());
    assert_eq!(e.as_deref(), Some("cannot read date \"12 أبريل 2021 بكرة\": unexpected word \"بكره\""));
}

#[test]
fn wordy_date_lines_read() {
    use chrono_tz::Asia::Riyadh;
    let riyadh = |s: &str| parse_arabic_date(s, Riyadh, now());
    assert_eq!(riyadh("يوم الاثنين 12 من أبريل 2021 الساعة 10:18 صباحا"), Ok(utc("2021-04-12T07:18:00Z")));
    assert_eq!(riyadh("نُشر: 18:22-15 يناير 2024 م ـ 04 رَجب 1445 هـ"), Ok(utc("2024-01-15T15:22:00Z")));
    assert_eq!(riyadh("الأحد 3 من مارس 2024"), Ok(utc("2024-03-02T21:00:00Z")));
}

#[test]
fn a_zone_the_line_names_overrides_the_sources() {
    use chrono_tz::Asia::Riyadh;
    let riyadh = |s: &str| parse_arabic_date(s, Riyadh, now());
    // Cairo was UTC+2 in April 2021 (no summer time that year), Riyadh is UTC+3.
    assert_eq!(riyadh("الإثنين 12/أبريل/2021 - 10:18 ص بتوقيت القاهرة"), Ok(utc("2021-04-12T08:18:00Z")));
    assert_eq!(riyadh("12 أبريل 2021 10:18 بتوقيت مكة المكرمة"), Ok(utc("2021-04-12T07:18:00Z")));
    assert_eq!(riyadh("12 أبريل 2021 10:18 بتوقيت بيروت"), Ok(utc("2021-04-12T07:18:00Z")), "Beirut in summer time");
    for utc_line in ["12 أبريل 2021 10:18 ت.غ", "12 أبريل 2021 10:18 ت غ", "12 أبريل 2021 10:18 بتوقيت غرينتش"]
    {
        assert_eq!(riyadh(utc_line), Ok(utc("2021-04-12T10:18:00Z")), "{utc_line}");
    }
    assert_eq!(riyadh("12 أبريل 2021 10:18 GMT+3"), Ok(utc("2021-04-12T07:18:00Z")));
    // Cairo's summer time since 2023: 10:18 on 1 July 2024 is UTC+3.
    assert_eq!(riyadh("1 يوليو 2024 10:18 بتوقيت القاهرة"), Ok(utc("2024-07-01T07:18:00Z")));
    // A name nashra does not know leaves the source's zone.
    assert_eq!(riyadh("12 أبريل 2021 10:18 بتوقيت شرق أوروبا"), Ok(utc("2021-04-12T07:18:00Z")));
    assert!(riyadh("12 أبريل 2021 10:18 ت").is_err());
}
