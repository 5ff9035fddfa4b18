//! The one feed model the three writers (RSS 2.0, Atom 1.0, JSON Feed 1.1) read from. Built from
//! stored articles in a fixed order (newest first, ties by id) with times taken from the articles,
//! never from the clock, so the same articles always give the same bytes and the same ETag.

use chrono::{DateTime, Utc};
use url::Url;

#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    pub title: String,
    pub description: String,
    pub language: String,
    /// The site the feed belongs to.
    pub site_url: Url,
    /// The feed's URL without extension (`…/feeds/all`); `.rss`, `.atom` and `.json` are added.
    pub self_base: String,
    /// The newest entry's time (or the fallback given when there is none).
    pub updated: DateTime<Utc>,
    /// The WebSub hub readers may subscribe at.
    pub hub: Option<String>,
    /// Where the rest of the archive is (RFC 5005).
    pub history: History,
    pub entries: Vec<Entry>,
}

/// RFC 5005 (feed paging and archiving) links, as URLs without extension: the feed's format is
/// added. A feed with `current` set is an archive document: immutable, it names the feed it
/// belongs to, and never a newer archive (so it need not change when one is made).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct History {
    /// The newest archive document older than this one.
    pub prev_archive: Option<String>,
    /// The current feed, on an archive document.
    pub current: Option<String>,
}

impl History {
    pub fn is_archive(&self) -> bool {
        self.current.is_some()
    }
}

/// The namespace of RFC 5005's `fh:archive` element.
pub const HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";

impl Feed {
    pub fn self_url(&self, format: Format) -> String {
        format!("{}.{}", self.self_base, format.extension())
    }

    /// Whether any text holds a character XML cannot carry (see `xml_char`).
    pub fn has_unwritable_characters(&self) -> bool {
        let bad = unwritable;
        bad(&self.title)
            || bad(&self.description)
            || self.entries.iter().any(|e| {
                bad(&e.title)
                    || bad(&e.content_html)
                    || e.summary.as_deref().is_some_and(bad)
                    || e.author.as_deref().is_some_and(bad)
                    || e.categories.iter().any(|c| bad(&c.name))
            })
    }

    /// This feed without the characters XML cannot carry.
    pub fn writable(&self) -> Feed {
        let clean = |s: &str| s.chars().filter(|c| xml_char(*c)).collect::<String>();
        let mut feed = self.clone();
        feed.title = clean(&feed.title);
        feed.description = clean(&feed.description);
        for e in &mut feed.entries {
            e.title = clean(&e.title);
            e.content_html = clean(&e.content_html);
            e.summary = e.summary.as_deref().map(clean);
            e.author = e.author.as_deref().map(clean);
            for c in &mut e.categories {
                c.name = clean(&c.name);
            }
        }
        feed
    }
}

/// Whether `s` holds a character `xml_char` refuses, read off the bytes (it runs over every
/// feed's text at every build): C0 controls and DEL are one byte, C1 controls are C2 80–9F,
/// U+FFFE and U+FFFF are EF BF BE and EF BF BF.
fn unwritable(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| match c {
        0x00..=0x08 | 0x0B | 0x0C | 0x0E..=0x1F | 0x7F => true,
        0xC2 => b.get(i + 1).is_some_and(|n| (0x80..=0x9F).contains(n)),
        0xEF => b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)),
        _ => false,
    })
}

/// Whether XML 1.0 can carry `c` as text: not a control character other than tab and line
/// breaks (C0, DEL and C1), nor U+FFFE/U+FFFF. A CMS does send them (pasted from Word, a
/// terminal's colour codes); one would make the whole feed unreadable.
pub fn xml_char(c: char) -> bool {
    (!c.is_control() || matches!(c, '\t' | '\n' | '\r')) && !matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The permalink, which is also the stable GUID.
    pub url: String,
    pub title: String,
    pub summary: Option<String>,
    pub content_html: String,
    pub author: Option<String>,
    pub image: Option<String>,
    /// `None` when the page gave no date: the entry then carries only `updated` (when nashra
    /// first saw it), never a made-up publication date.
    pub published: Option<DateTime<Utc>>,
    pub updated: DateTime<Utc>,
    pub categories: Vec<Category>,
}

/// The media type of an image, from its URL's extension; `None` when it does not say.
pub fn image_type(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let extension = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
    Some(match extension.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

/// The direction of a text, from its first letter with a strong direction: `rtl` for Arabic,
/// Hebrew, Syriac, Thaana and N'Ko letters, `ltr` for others; `None` without letters.
pub fn direction(text: &str) -> Option<&'static str> {
    text.chars().find(|c| c.is_alphabetic()).map(|c| {
        let rtl = matches!(c, '\u{0590}'..='\u{08FF}' | '\u{FB1D}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}');
        if rtl { "rtl" } else { "ltr" }
    })
}

/// The text of HTML, roughly: what is outside tags (enough to find its first letter).
fn text_of(html: &str) -> String {
    let mut inside = false;
    html.chars()
        .filter(|&c| match c {
            '<' => {
                inside = true;
                false
            }
            '>' => {
                inside = false;
                false
            }
            _ => !inside,
        })
        .collect()
}

/// An article's HTML with its direction said inside it (`<div dir="rtl">`), as feed readers
/// that show it in a left-to-right page need; never on the feed's root element. The direction
/// is the content's own, or `fallback`'s (the title) when the content has no letters.
pub fn with_direction(html: &str, fallback: &str) -> String {
    match direction(&text_of(html)).or_else(|| direction(fallback)) {
        Some(dir) if !html.is_empty() => format!("<div dir=\"{dir}\">{html}</div>"),
        _ => html.to_owned(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub name: String,
    /// The keyword's own feed (without extension), when it has one (a tag below
    /// `feeds.tag_feed_min_articles` has none).
    pub feed_base: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    pub const ALL: [Format; 3] = [Format::Rss, Format::Atom, Format::Json];

    pub fn extension(self) -> &'static str {
        match self {
            Format::Rss => "rss",
            Format::Atom => "atom",
            Format::Json => "json",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.extension() == ext)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml; charset=utf-8",
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Json => "application/feed+json; charset=utf-8",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwritable_text_is_found_off_the_bytes_as_off_the_characters() {
        let samples = [
            "نص عادي",
            "tab\tline\nreturn\r",
            "a\u{0}b",
            "\u{1b}[31m",
            "\u{7f}",
            "\u{80}",
            "\u{9f}x",
            "\u{a0}",
            "\u{fffe}",
            "\u{ffff}",
            "\u{fffd}",
            "\u{feff}",
            "\u{202e}",
            "é\u{85}",
            "\u{10ffff}",
        ];
        for s in samples {
            assert_eq!(unwritable(s), s.chars().any(|c| !xml_char(c)), "{s:?}");
        }
        // Every character up to U+FFFF, one at a time.
        for c in (0..=0xFFFF_u32).filter_map(char::from_u32) {
            assert_eq!(unwritable(c.encode_utf8(&mut [0; 4])), !xml_char(c), "{c:?}");
        }
    }

    #[test]
    fn images_and_directions_are_read_off_what_is_there() {
        assert_eq!(image_type("https://x.org/a/b.JPG?w=300"), Some("image/jpeg"));
        assert_eq!(image_type("https://x.org/img/placeholder.svg"), Some("image/svg+xml"));
        assert_eq!(image_type("https://x.org/image?id=3"), None);
        assert_eq!(direction("«12» العراق"), Some("rtl"));
        assert_eq!(direction("ISIS في العراق"), Some("ltr"));
        assert_eq!(direction("2026 ..."), None);
        assert_eq!(with_direction("<p>نص</p>", "نص"), "<div dir=\"rtl\"><p>نص</p></div>");
        assert_eq!(with_direction("", "نص"), "");
        assert_eq!(with_direction("<p class=\"x\">نص</p>", "Title"), "<div dir=\"rtl\"><p class=\"x\">نص</p></div>");
        assert_eq!(with_direction("<p>Text</p>", "عنوان"), "<div dir=\"ltr\"><p>Text</p></div>");
    }
}
