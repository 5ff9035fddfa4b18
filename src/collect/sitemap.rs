//! `sitemap` sources: a sitemap index, a plain sitemap (`<lastmod>`) or a Google News sitemap
//! (`<news:publication_date>`, `<news:title>`). The newest URLs that are new — or changed since
//! the source's last good pass — are read as article pages, up to the source's `max_articles`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use quick_xml::Reader;
use quick_xml::events::Event;
use url::Url;

use super::PageError;
use super::extract::absolute;
use super::fetch::Validators;
use super::pass::{Hint, Pass};
use crate::arabic;

/// How many child sitemaps of an index are read in one pass (the newest first).
const MAX_CHILDREN: usize = 5;

#[derive(Debug, Clone, PartialEq)]
pub struct SitemapUrl {
    pub loc: Url,
    pub lastmod: Option<DateTime<Utc>>,
    /// Google News: the article's publication time and title.
    pub published: Option<DateTime<Utc>>,
    pub title: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Sitemap {
    /// A sitemap index: the sitemaps it lists.
    Index(Vec<SitemapUrl>),
    Urls(Vec<SitemapUrl>),
}

/// Reads a sitemap document fetched from `base`. Entries with unusable URLs or dates lose only
/// that field or are skipped; a document that is not a sitemap is an error.
/// Dates without a zone are read in `tz`.
pub fn read_sitemap(xml: &str, base: &Url, tz: Tz, now: DateTime<Utc>) -> Result<Sitemap, PageError> {
    let mut reader = Reader::from_str(xml);
    // Text is trimmed per field, not per event: an entity splits a text into several events.
    reader.config_mut().trim_text(false);
    let mut root: Option<String> = None;
    let mut entries: Vec<SitemapUrl> = Vec::new();
    let mut current: Option<Fields> = None;
    // The open elements, so that only a <loc> directly in <url> counts (not an image's <loc>).
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    loop {
        let event = reader.read_event().map_err(|e| {
            PageError::new(base, format!("not a readable sitemap: {e} (at byte {})", reader.buffer_position()))
        })?;
        match event {
            Event::Start(e) => {
                let name = local(e.local_name().as_ref());
                if root.is_none() {
                    root = Some(name.clone());
                } else if path.len() == 1 && (name == "url" || name == "sitemap") {
                    current = Some(Fields::default());
                }
                path.push(name);
                text.clear();
            }
            Event::Text(t) => text.push_str(&t.decode().unwrap_or_default()),
            Event::CData(t) => text.push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(r) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else {
                    text.push_str(match r.decode().unwrap_or_default().as_ref() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    });
                }
            }
            Event::End(_) => {
                let name = path.pop().unwrap_or_default();
                let parent = path.last().map(String::as_str);
                if path.len() == 1 && (name == "url" || name == "sitemap") {
                    if let Some(entry) = current.take().and_then(|f| f.into_entry(base, tz, now)) {
                        entries.push(entry);
                    }
                } else if let Some(current) = current.as_mut() {
                    match (parent, name.as_str()) {
                        (Some("url" | "sitemap"), "loc" | "lastmod") => current.set(&name, text.trim()),
                        (Some("news"), "publication_date" | "title") => current.set(&name, text.trim()),
                        _ => {}
                    }
                }
                text.clear();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match root.as_deref() {
        Some("sitemapindex") => Ok(Sitemap::Index(entries)),
        Some("urlset") => Ok(Sitemap::Urls(entries)),
        Some(other) => Err(PageError::new(base, format!("not a sitemap: the root element is <{other}>"))),
        None => Err(PageError::new(base, "not a sitemap: the document is empty")),
    }
}

fn local(name: &[u8]) -> String {
    String::from_utf8_lossy(name).to_ascii_lowercase()
}

#[derive(Default)]
struct Fields {
    loc: Option<String>,
    lastmod: Option<String>,
    published: Option<String>,
    title: Option<String>,
}

impl Fields {
    fn set(&mut self, field: &str, value: &str) {
        let slot = match field {
            "loc" => &mut self.loc,
            "lastmod" => &mut self.lastmod,
            "publication_date" => &mut self.published,
            "title" => &mut self.title,
            _ => return,
        };
        if !value.is_empty() {
            *slot = Some(value.to_owned());
        }
    }

    fn into_entry(self, base: &Url, tz: Tz, now: DateTime<Utc>) -> Option<SitemapUrl> {
        let loc = absolute(base, self.loc.as_deref()?).and_then(|u| Url::parse(&u).ok())?;
        // W3C datetimes; one without a zone is the site's local time.
        let date = |d: Option<String>| d.and_then(|d| arabic::parse_date(&d, tz, now).ok());
        Some(SitemapUrl { loc, lastmod: date(self.lastmod), published: date(self.published), title: self.title })
    }
}

/// Reads the sitemap (and, for an index, its newest children) and the article pages worth reading.
/// An index is always read in full — its bytes often stay the same while its children change —
/// and its children conditionally.
pub async fn collect(pass: &mut Pass<'_>, url: &Url, last_success: Option<DateTime<Utc>>) -> Result<(), PageError> {
    let mark = pass.mark();
    let document = match pass.fetch(url).await {
        Ok(Some(d)) => d,
        Ok(None) => return Ok(()),
        Err(e) => return Err(PageError::fetch(url, &e)),
    };
    let (tz, now) = (pass.source.time_zone, pass.now);
    let mut remembered: Vec<(Url, Validators)> = Vec::new();
    let mut urls = match read_sitemap(&document.body, &document.url, tz, now)? {
        Sitemap::Urls(urls) => {
            remembered.push((url.clone(), document.validators));
            urls
        }
        Sitemap::Index(children) => {
            let mut urls = Vec::new();
            for child in newest(children, MAX_CHILDREN) {
                match pass.fetch(&child.loc).await {
                    Ok(Some(d)) => match read_sitemap(&d.body, &d.url, tz, now) {
                        Ok(Sitemap::Urls(u)) => {
                            urls.extend(u);
                            remembered.push((child.loc.clone(), d.validators));
                        }
                        Ok(Sitemap::Index(_)) => pass.error(PageError::new(
                            &child.loc,
                            "a sitemap index inside a sitemap index is not followed",
                        )),
                        Err(e) => pass.error(e),
                    },
                    Ok(None) => {}
                    Err(e) => pass.error(PageError::fetch(&child.loc, &e)),
                }
            }
            urls
        }
    };
    // Google News entries first (they are articles, with their publication time), then newest
    // first; after the first pass, only what is new or changed since the last good one.
    urls.sort_by_key(|u| std::cmp::Reverse((u.published.is_some(), u.published.or(u.lastmod))));
    let mut seen = HashSet::new();
    let mut chosen = Vec::new();
    for u in urls {
        if chosen.len() >= pass.source.max_articles as usize {
            break;
        }
        if !seen.insert(u.loc.clone()) {
            continue;
        }
        let changed = match (last_success, u.lastmod.or(u.published)) {
            (Some(last), Some(modified)) => modified > last,
            _ => true,
        };
        if changed || !pass.store.url_is_known(u.loc.as_str()).await.unwrap_or(false) {
            chosen.push(u);
        }
    }
    let pages = chosen
        .into_iter()
        .map(|u| {
            let hint = Hint { title: u.title, published: u.published, updated: u.lastmod, ..Hint::default() };
            (u.loc, hint)
        })
        .collect();
    pass.articles(pages).await;
    pass.remember_if_settled(mark, &remembered).await;
    Ok(())
}

/// The `max` newest entries of an index: by `lastmod`, and without one, the last listed first
/// (indexes grow at the end).
fn newest(children: Vec<SitemapUrl>, max: usize) -> Vec<SitemapUrl> {
    let mut children: Vec<(usize, SitemapUrl)> = children.into_iter().enumerate().collect();
    children.sort_by_key(|(i, c)| std::cmp::Reverse((c.lastmod, *i)));
    children.into_iter().take(max).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn base() -> Url {
        Url::parse("https://news.example/sitemap.xml").unwrap()
    }

    #[test]
    fn a_google_news_sitemap_gives_urls_dates_and_titles() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://news.example/a?x=1&amp;y=2</loc>
    <image:image xmlns:image="http://www.google.com/schemas/sitemap-image/1.1"><image:loc>https://cdn.example/a.jpg</image:loc></image:image>
    <news:news><news:publication><news:name>موقع</news:name><news:language>ar</news:language></news:publication>
      <news:publication_date>2025-01-05T10:00:00+03:00</news:publication_date>
      <news:title>خبر &amp; تقرير</news:title></news:news></url>
  <url><loc>/b</loc><lastmod>2025-01-04</lastmod></url>
  <url><lastmod>2025-01-04</lastmod></url>
</urlset>"#;
        let Sitemap::Urls(urls) = read_sitemap(xml, &base(), chrono_tz::UTC, Utc::now()).unwrap() else {
            panic!("not a urlset")
        };
        assert_eq!(urls.len(), 2, "the entry without <loc> is skipped");
        assert_eq!(urls[0].loc.as_str(), "https://news.example/a?x=1&y=2");
        assert_eq!(urls[0].published, Some(Utc.with_ymd_and_hms(2025, 1, 5, 7, 0, 0).unwrap()));
        assert_eq!(urls[0].title.as_deref(), Some("خبر & تقرير"));
        assert_eq!(urls[1].loc.as_str(), "https://news.example/b");
        assert_eq!(urls[1].lastmod, Some(Utc.with_ymd_and_hms(2025, 1, 4, 0, 0, 0).unwrap()));
    }

    #[test]
    fn an_index_lists_its_sitemaps() {
        let xml = r#"<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
            <sitemap><loc>https://news.example/s1.xml</loc><lastmod>2025-01-01T00:00:00Z</lastmod></sitemap>
        </sitemapindex>"#;
        assert!(
            matches!(read_sitemap(xml, &base(), chrono_tz::UTC, Utc::now()).unwrap(), Sitemap::Index(s) if s.len() == 1)
        );
    }

    #[test]
    fn other_documents_are_refused_with_a_reason() {
        assert!(
            read_sitemap("<html><body/></html>", &base(), chrono_tz::UTC, Utc::now())
                .unwrap_err()
                .reason
                .contains("<html>")
        );
        assert!(read_sitemap("", &base(), chrono_tz::UTC, Utc::now()).unwrap_err().reason.contains("empty"));
        assert!(read_sitemap("<urlset><url><loc>x</loc></urlset>", &base(), chrono_tz::UTC, Utc::now()).is_err());
    }
}
