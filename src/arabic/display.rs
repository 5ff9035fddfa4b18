//! Dates as Arabic readers expect to see them in emails and pages: weekday, day, month name, year
//! and a 12-hour time with ص/م, in the reader's time zone — the same shape as the date lines of
//! the sites nashra collects («الأحد 29 نوفمبر 2026 - 10:18 ص»). Western digits, as those sites use.

use chrono::{DateTime, Datelike, TimeZone, Timelike};

const WEEKDAYS: [&str; 7] = ["الإثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"];
const MONTHS: [&str; 12] =
    ["يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر", "نوفمبر", "ديسمبر"];

/// «الأحد 29 نوفمبر 2026»
pub fn format_date<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    let weekday = WEEKDAYS[t.weekday().num_days_from_monday() as usize % 7];
    let month = MONTHS[t.month0() as usize % 12];
    format!("{weekday} {} {month} {}", t.day(), t.year())
}

/// The Hijri months as Arabic newspapers name them.
const HIJRI_MONTHS: [&str; 12] = [
    "محرم",
    "صفر",
    "ربيع الأول",
    "ربيع الآخر",
    "جمادى الأولى",
    "جمادى الآخرة",
    "رجب",
    "شعبان",
    "رمضان",
    "شوال",
    "ذو القعدة",
    "ذو الحجة",
];

/// The Hijri date of `t`'s day in the Umm al-Qura calendar (ICU4X), «20 جمادى الآخرة 1448 هـ»;
/// `None` outside the calendar's range.
pub fn format_hijri_date<Tz: TimeZone>(t: &DateTime<Tz>) -> Option<String> {
    use icu_calendar::Date;
    use icu_calendar::cal::Hijri;
    let day = u8::try_from(t.day()).ok()?;
    let month = u8::try_from(t.month()).ok()?;
    let iso = Date::try_new_iso(t.year(), month, day).ok()?;
    let hijri = iso.to_calendar(Hijri::new_umm_al_qura());
    let name = HIJRI_MONTHS.get(usize::from(hijri.month().ordinal).checked_sub(1)?)?;
    Some(format!("{} {name} {} هـ", hijri.day_of_month().0, hijri.year().extended_year()))
}

/// «الأحد 29 نوفمبر 2026 - 10:18 ص»
pub fn format_datetime<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    let (pm, hour) = t.hour12();
    let marker = if pm { "م" } else { "ص" };
    format!("{} - {hour}:{:02} {marker}", format_date(t), t.minute())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hijri_dates_follow_umm_al_qura() {
        let day = |y, m, d| Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap();
        // Dates the Saudi calendar published: 1 Ramadan 1446 = 1 March 2025, 1 Muharram 1447 =
        // 26 June 2025, 1 Ramadan 1447 = 18 February 2026.
        assert_eq!(format_hijri_date(&day(2025, 3, 1)).unwrap(), "1 رمضان 1446 هـ");
        assert_eq!(format_hijri_date(&day(2025, 6, 26)).unwrap(), "1 محرم 1447 هـ");
        assert_eq!(format_hijri_date(&day(2026, 2, 18)).unwrap(), "1 رمضان 1447 هـ");
        assert_eq!(format_hijri_date(&day(2025, 6, 25)).unwrap(), "29 ذو الحجة 1446 هـ");
        // The day is the reader's: 23:30 on the eve of Ramadan in Cairo is already 1 Ramadan in
        // UTC+3, not here.
        let late = Cairo.with_ymd_and_hms(2025, 2, 28, 23, 30, 0).unwrap();
        assert!(format_hijri_date(&late).unwrap().ends_with("شعبان 1446 هـ"));
    }
    use chrono::Utc;
    use chrono_tz::Africa::Cairo;

    #[test]
    fn cairo_times_are_shown_with_arabic_names_and_a_twelve_hour_clock() {
        let t = Utc.with_ymd_and_hms(2026, 11, 29, 8, 18, 0).unwrap().with_timezone(&Cairo);
        assert_eq!(format_datetime(&t), "الأحد 29 نوفمبر 2026 - 10:18 ص");
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 16, 50, 0).unwrap().with_timezone(&Cairo);
        assert_eq!(format_datetime(&t), "الإثنين 23 نوفمبر 2026 - 6:50 م");
    }
}
