//! The feed reader (RSS, Atom, JSON Feed, with its repairs and second readers) and the sitemap
//! reader on any bytes. They must return entries or an error, never panic.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use nashra::collect::{decode, read_feed, read_sitemap};
use url::Url;

fuzz_target!(|data: &[u8]| {
    let text = decode(data, None);
    let url = Url::parse("https://news.example/feed.xml").unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap();
    let _ = read_feed(&text, &url, chrono_tz::Africa::Cairo, now);
    let _ = read_sitemap(&text, &url, chrono_tz::Africa::Cairo, now);
});
