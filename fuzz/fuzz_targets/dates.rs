//! The date readers on any text: Arabic date lines and machine dates. They must return a time or
//! an error, never panic.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use nashra::arabic::{parse_arabic_date, parse_date};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap();
    for tz in [chrono_tz::Africa::Cairo, chrono_tz::Europe::Paris, chrono_tz::Asia::Beirut] {
        let _ = parse_date(text, tz, now);
        let _ = parse_arabic_date(text, tz, now);
    }
});
