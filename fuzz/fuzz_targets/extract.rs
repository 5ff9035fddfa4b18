//! The extractor on any bytes as a page: with no configuration (metadata, readability) and with
//! the demo's selectors. It must return, never panic.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use nashra::collect::{ArticleSelectors, decode, extract};
use scraper::Selector;
use url::Url;

fuzz_target!(|data: &[u8]| {
    let html = decode(data, None);
    let url = Url::parse("https://news.example/2025/01/05/article.html").unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap();
    let tz = chrono_tz::Africa::Cairo;
    let _ = extract(&html, &url, None, tz, now);
    let s = |css: &str| Selector::parse(css).ok();
    let selectors = ArticleSelectors {
        title: s("h1"),
        date: s(".date-line, time"),
        author: s(".author"),
        section: s(".section"),
        body: s(".article-body, article"),
        keywords: s(".keywords a"),
        remove: [".ad", "figure", ".share"].iter().filter_map(|c| s(c)).collect(),
    };
    let _ = extract(&html, &url, Some(&selectors), tz, now);
});
