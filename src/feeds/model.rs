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
    pub entries: Vec<Entry>,
}

impl Feed {
    pub fn self_url(&self, format: Format) -> String {
        format!("{}.{}", self.self_base, format.extension())
    }
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
    pub published: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub categories: Vec<Category>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub name: String,
    /// The keyword's own feed (without extension).
    pub feed_base: String,
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
