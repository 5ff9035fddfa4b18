//! The feeds stage: stored articles → RSS 2.0, Atom 1.0 and JSON Feed, for every feed declared in
//! `feeds/` and for every keyword. One model (`model`), three writers (`rss`, `atom`, `json`).
//! Output is deterministic bytes with a strong ETag, kept in memory for the HTTP server and
//! written atomically to the output folder, so a static web server or CDN can serve it too.
//! This stage reads articles and keywords; it never changes them.

mod atom;
mod json;
mod model;
mod opml;
mod output;
mod publish;
mod rss;
pub mod websub;

pub use crate::spec::{ALL, FeedSpec};
pub use model::{Category, Entry, Feed, Format, History};
pub use output::{Coding, FeedFile};
pub use publish::{BuildReport, FeedKey, Publisher, feed_url};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("feed {feed}: {reason}")]
    Write { feed: String, reason: String },
    #[error("cannot write {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Writes `feed` in `format` (without the characters XML cannot carry, in every format alike).
pub fn render(feed: &Feed, format: Format) -> Result<Vec<u8>, String> {
    if feed.has_unwritable_characters() {
        return render(&feed.writable(), format);
    }
    match format {
        Format::Rss => rss::write(feed),
        Format::Atom => atom::write(feed),
        Format::Json => json::write(feed),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    /// Text a publisher's CMS may well send: markup, CDATA ends, control characters, bidi
    /// overrides, a 10,000-character title.
    fn hostile() -> Feed {
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
        let titles = [
            "<script>alert(1)</script> «عنوان»".to_owned(),
            "a ]]> b <![CDATA[ c".to_owned(),
            "تحكم\u{1}\u{8}\u{1b}[31m و\u{0}صفر".to_owned(),
            "\u{202E}txt.exe العراق".to_owned(),
            "ط".repeat(10_000),
        ];
        Feed {
            title: "موقع & <تجربة>".into(),
            description: "وصف \u{7}".into(),
            language: "ar".into(),
            site_url: "https://x.org/".parse().unwrap(),
            self_base: "https://x.org/feeds/all".into(),
            updated: t,
            hub: None,
            history: Default::default(),
            entries: titles
                .iter()
                .enumerate()
                .map(|(i, title)| Entry {
                    url: format!("https://x.org/a/{i}?x=1&y=<2>"),
                    title: title.clone(),
                    summary: Some(format!("{title} ]]>")),
                    // Article HTML arrives sanitised; a CDATA end may still be in its text.
                    content_html: format!("<p>نص {i} ]]&gt; و ]]></p>"),
                    author: Some("كاتب\u{2}".into()),
                    image: None,
                    published: Some(t),
                    updated: t,
                    categories: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn hostile_text_stays_escaped_and_every_format_parses() {
        let feed = hostile();
        for format in Format::ALL {
            let bytes = render(&feed, format).unwrap();
            let text = String::from_utf8(bytes.clone()).expect("UTF-8");
            // Markup in a title is text: escaped in XML, never an element (a JSON string is text).
            if format != Format::Json {
                assert!(!text.contains("<script>alert"), "{format:?}: a title's markup is escaped");
            }
            assert!(
                !text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')),
                "{format:?}: no control characters"
            );
            let parsed = feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{format:?}: {e}"));
            let titles: Vec<String> =
                parsed.entries.iter().map(|e| e.title.as_ref().unwrap().content.clone()).collect();
            assert_eq!(titles.len(), 5, "{format:?}");
            assert!(titles[0].starts_with("<script>alert(1)</script>"), "{format:?}: the text survives: {}", titles[0]);
            assert_eq!(titles[1], "a ]]> b <![CDATA[ c", "{format:?}");
            assert_eq!(titles[2], "تحكم[31m وصفر", "{format:?}: control characters dropped, the rest kept");
            assert!(titles[3].starts_with('\u{202E}'), "{format:?}: bidi controls are text, kept");
            assert_eq!(titles[4].chars().count(), 10_000, "{format:?}");
        }
    }
}
