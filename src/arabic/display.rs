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

/// «الأحد 29 نوفمبر 2026 - 10:18 ص»
pub fn format_datetime<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    let (pm, hour) = t.hour12();
    let marker = if pm { "م" } else { "ص" };
    format!("{} - {hour}:{:02} {marker}", format_date(t), t.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
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
