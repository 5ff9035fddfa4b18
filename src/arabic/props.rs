//! Property tests over arbitrary and Arabic-heavy strings: folding is idempotent, token
//! offsets always slice the original text, and nothing panics on any input.

use proptest::prelude::*;
use proptest::sample::select;

use super::*;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

/// Characters that exercise the interesting paths: Arabic letters, harakat, tatweel,
/// Arabic punctuation and digits, presentation forms, bidi controls, joiners, Latin with
/// combining marks, and anything at all.
fn interesting_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('\u{0600}', '\u{06FF}'),
        1 => proptest::char::range('\u{0750}', '\u{077F}'),
        1 => proptest::char::range('\u{FB50}', '\u{FEFF}'),
        1 => proptest::char::range('\u{2000}', '\u{206F}'),
        1 => proptest::char::range('\u{0300}', '\u{036F}'),
        2 => proptest::char::range(' ', '~'),
        1 => select(vec!['\u{00A0}', '\u{00AD}', '\u{0130}', 'ß', 'Σ', '\u{1E9E}', '\u{212A}', '\u{FDFA}']),
        2 => any::<char>(),
    ]
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(interesting_char(), 0..48).prop_map(|v| v.into_iter().collect())
}

/// Strings built from date vocabulary, to reach deep into the date parser.
fn date_like() -> impl Strategy<Value = String> {
    let piece = select(vec![
        "12",
        "٣١",
        "2021",
        "21",
        "0",
        "99",
        "1442",
        "10:18",
        "23:59:59",
        "24:00",
        ":",
        "/",
        "-",
        "+",
        "+0300",
        "،",
        ",",
        "(",
        ")",
        ".",
        " ",
        "\u{200F}",
        "أبريل",
        "نيسان",
        "كانون",
        "الثاني",
        "تشرين",
        "الأول",
        "آب",
        "أغسطس",
        "الإثنين",
        "ص",
        "م",
        "مساءً",
        "ظهرًا",
        "الساعة",
        "الموافق",
        "بتوقيت",
        "غرينتش",
        "هـ",
        "شعبان",
        "جمادى",
        "منذ",
        "قبل",
        "مضت",
        "دقائق",
        "ساعتين",
        "يوم",
        "أيام",
        "و",
        "واحدة",
        "أمس",
        "اليوم",
        "السابق",
        "الآن",
        "لحظات",
        "GMT",
        "Mon",
        "Apr",
        "T",
        "Z",
        "x",
    ]);
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.join(" "))
}

fn instant(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

fn zone() -> impl Strategy<Value = Tz> {
    select(vec![
        chrono_tz::Africa::Cairo,
        chrono_tz::Asia::Baghdad,
        chrono_tz::Asia::Beirut,
        chrono_tz::Africa::Casablanca,
        chrono_tz::Europe::Paris,
        chrono_tz::Pacific::Apia,
        chrono_tz::UTC,
    ])
}

const MONTH_NAMES: [[&str; 4]; 12] = [
    ["يناير", "كانون الثاني", "جانفي", "يناير"],
    ["فبراير", "شباط", "فيفري", "فبراير"],
    ["مارس", "آذار", "مارس", "مارس"],
    ["أبريل", "نيسان", "أفريل", "ابريل"],
    ["مايو", "أيار", "ماي", "ماي"],
    ["يونيو", "حزيران", "جوان", "يونيه"],
    ["يوليو", "تموز", "جويلية", "يوليوز"],
    ["أغسطس", "آب", "أوت", "غشت"],
    ["سبتمبر", "أيلول", "سبتمبر", "شتنبر"],
    ["أكتوبر", "تشرين الأول", "أكتوبر", "أكتوبر"],
    ["نوفمبر", "تشرين الثاني", "نوفمبر", "نونبر"],
    ["ديسمبر", "كانون الأول", "ديسمبر", "دجنبر"],
];

fn arabic_indic(s: &str) -> String {
    s.chars().map(|c| c.to_digit(10).and_then(|d| char::from_u32(0x0660 + d)).unwrap_or(c)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn normalize_is_idempotent(s in text()) {
        let once = normalize(&s);
        prop_assert_eq!(normalize(&once), once);
    }

    #[test]
    fn strip_marks_is_idempotent(s in text()) {
        let once = strip_marks(&s);
        prop_assert_eq!(strip_marks(&once), once);
    }

    #[test]
    fn token_offsets_slice_the_original_on_char_boundaries(s in text()) {
        let mut last_end = 0;
        for t in tokens(&s) {
            prop_assert!(s.is_char_boundary(t.start) && s.is_char_boundary(t.end));
            prop_assert!(t.start >= last_end && t.start < t.end);
            prop_assert_eq!(s.get(t.start..t.end), Some(t.text));
            last_end = t.end;
        }
    }

    #[test]
    fn stems_never_panic_and_stripped_stems_keep_two_letters(s in text()) {
        let n = normalize(&s);
        for stem in proclitic_stems(&n).iter().skip(1) {
            prop_assert!(stem.chars().count() >= 2);
        }
    }

    #[test]
    fn matcher_never_panics_and_reports_ranges_of_the_original(s in text(), forms in proptest::collection::vec(text(), 0..4)) {
        let mut entries: Vec<Vec<String>> = vec![vec!["العراق".into(), "داعش".into(), "التحالف الدولي".into()]];
        entries.push(forms);
        let m = Matcher::new(&entries);
        for found in m.find_all(&s) {
            prop_assert!(found.keyword < entries.len());
            prop_assert!(s.get(found.start..found.end).is_some());
        }
        let _ = m.keywords_in(&s);
    }

    #[test]
    fn date_parsers_never_panic_on_any_text(s in text(), secs in 0i64..8_000_000_000, tz in zone()) {
        let now = instant(secs);
        for t in [parse_arabic_date(&s, tz, now), parse_date(&s, tz, now)].into_iter().flatten() {
            prop_assert!((1900..=2200).contains(&t.year()));
        }
    }

    #[test]
    fn date_parsers_never_panic_on_date_like_text(s in date_like(), secs in 0i64..8_000_000_000, tz in zone()) {
        let now = instant(secs);
        for t in [parse_arabic_date(&s, tz, now), parse_date(&s, tz, now)].into_iter().flatten() {
            prop_assert!((1900..=2200).contains(&t.year()), "{s:?} → {t}");
        }
    }

    #[test]
    fn a_printed_date_reads_back_to_its_local_time(
        y in 1990i32..2100, m in 1u32..=12, d in 1u32..=28, h in 1u32..=12, mi in 0u32..60,
        pm in any::<bool>(), family in 0usize..4, indic in any::<bool>(), tz in zone(),
    ) {
        let name = MONTH_NAMES.get((m - 1) as usize).and_then(|f| f.get(family)).copied().unwrap_or("يناير");
        let marker = if pm { "م" } else { "ص" };
        let mut line = format!("الإثنين {d}/{name}/{y} - {h}:{mi:02} {marker}");
        if indic {
            line = arabic_indic(&line);
        }
        let hour24 = match (pm, h) { (false, 12) => 0, (false, _) => h, (true, 12) => 12, (true, _) => h + 12 };
        let naive = NaiveDate::from_ymd_opt(y, m, d).and_then(|x| x.and_hms_opt(hour24, mi, 0));
        prop_assume!(naive.is_some());
        let naive = naive.unwrap_or_default();
        let got = parse_arabic_date(&line, tz, instant(0));
        prop_assert!(got.is_ok(), "{line}: {got:?}");
        let back = got.unwrap_or_default().with_timezone(&tz).naive_local();
        // Only a time inside a DST gap moves (forward, by the gap's length).
        prop_assert!(back == naive || (back > naive && back - naive <= chrono::TimeDelta::hours(24)), "{line}: {back}");
    }
}
