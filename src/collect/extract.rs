//! Reading one article page: title, date, author, section, keyword block, body, lead image,
//! canonical URL, language and direction. Configured CSS selectors are used when the source has
//! them, page metadata (OpenGraph, `article:*`, `<meta name="author">`, `<time datetime>`) fills
//! what they do not give. Boilerplate named by the source's `remove` selectors is dropped and the
//! body is sanitised (ammonia) before anything is stored. Pure: no I/O, `now` is a parameter.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use scraper::{ElementRef, Html, Selector};
use serde::Serialize;
use url::Url;

use super::Selectors;
use super::text::{html_to_text, sanitize_html, summarize};
use crate::arabic;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Extracted {
    pub title: String,
    pub author: Option<String>,
    /// When the page says it was published (UTC).
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    /// The date text the publication time was read from.
    pub date_text: Option<String>,
    pub section: Option<String>,
    pub keywords: Vec<String>,
    pub summary: Option<String>,
    pub body_html: String,
    pub body_text: String,
    pub image: Option<String>,
    pub canonical_url: Option<String>,
    pub lang: Option<String>,
    pub dir: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExtractError {
    #[error("no title found (no title selector match, og:title, <h1> or <title>)")]
    NoTitle,
    #[error("the date {text:?} cannot be read: {reason}")]
    BadDate { text: String, reason: String },
}

fn sel(s: &str) -> Option<Selector> {
    Selector::parse(s).ok()
}

/// Extracts an article from `html`, fetched from `page_url`.
pub fn extract(
    html: &str,
    page_url: &Url,
    selectors: Option<&Selectors>,
    time_zone: Tz,
    now: DateTime<Utc>,
) -> Result<Extracted, ExtractError> {
    let mut doc = Html::parse_document(html);
    let meta = |name: &str| meta_content(&doc, name);

    let lang = root_attr(&doc, "lang");
    let dir =
        root_attr(&doc, "dir").or_else(|| lang.as_deref().filter(|l| is_rtl_language(l)).map(|_| "rtl".to_owned()));
    let canonical_url =
        link_href(&doc, "canonical", page_url).or_else(|| meta("og:url").and_then(|u| absolute(page_url, &u)));
    let image = meta("og:image").and_then(|u| absolute(page_url, &u)).or_else(|| {
        first_attr(&doc, selectors.and_then(|s| s.body.as_ref()), "img", "src").and_then(|u| absolute(page_url, &u))
    });

    let by = |s: Option<&Selector>| s.and_then(|s| doc.select(s).map(element_text).find(|t| !t.is_empty()));
    let title = by(selectors.and_then(|s| s.title.as_ref()))
        .or_else(|| meta("og:title"))
        .or_else(|| sel("h1").and_then(|s| by(Some(&s))))
        .or_else(|| sel("title").and_then(|s| by(Some(&s))))
        .ok_or(ExtractError::NoTitle)?;
    let author =
        by(selectors.and_then(|s| s.author.as_ref())).or_else(|| meta("author")).or_else(|| meta("article:author"));
    let section = by(selectors.and_then(|s| s.section.as_ref())).or_else(|| meta("article:section"));

    // The date: the configured date line, then machine-readable metadata.
    let mut date_text = by(selectors.and_then(|s| s.date.as_ref()));
    let mut published = None;
    if let Some(text) = &date_text {
        published = Some(
            arabic::parse_date(text, time_zone, now)
                .map_err(|e| ExtractError::BadDate { text: text.clone(), reason: e.to_string() })?,
        );
    }
    if published.is_none() {
        let machine = meta("article:published_time").or_else(|| first_attr(&doc, None, "time[datetime]", "datetime"));
        if let Some(text) = machine {
            published = Some(
                arabic::parse_date(&text, time_zone, now)
                    .map_err(|e| ExtractError::BadDate { text: text.clone(), reason: e.to_string() })?,
            );
            date_text = Some(text);
        }
    }
    let updated = meta("article:modified_time").and_then(|t| arabic::parse_date(&t, time_zone, now).ok());

    let keywords = match selectors.and_then(|s| s.keywords.as_ref()) {
        Some(s) => {
            let mut seen = Vec::new();
            for text in doc.select(s).map(element_text) {
                if !text.is_empty() && !seen.contains(&text) {
                    seen.push(text);
                }
            }
            seen
        }
        None => meta("keywords")
            .map(|k| k.split([',', '،']).map(|k| k.trim().to_owned()).filter(|k| !k.is_empty()).collect())
            .unwrap_or_default(),
    };

    let description = meta("description").or_else(|| meta("og:description"));

    // The body, without the source's boilerplate.
    if let Some(s) = selectors {
        remove_all(&mut doc, &s.remove);
    }
    let body_raw = selectors
        .and_then(|s| s.body.as_ref())
        .and_then(|s| doc.select(s).next())
        .or_else(|| sel("article").and_then(|s| doc.select(&s).next()))
        .or_else(|| sel("body").and_then(|s| doc.select(&s).next()))
        .map(|e| e.inner_html())
        .unwrap_or_default();
    let body_html = sanitize_html(&body_raw, page_url);
    let body_text = html_to_text(&body_html);
    let summary = description.or_else(|| summarize(&body_text));

    Ok(Extracted {
        title,
        author,
        published,
        updated,
        date_text,
        section,
        keywords,
        summary,
        body_html,
        body_text,
        image,
        canonical_url,
        lang,
        dir,
    })
}

/// Text of an element with whitespace collapsed.
fn element_text(e: ElementRef<'_>) -> String {
    let mut s = String::new();
    for t in e.text() {
        s.push_str(t);
        s.push(' ');
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn root_attr(doc: &Html, name: &str) -> Option<String> {
    doc.root_element().value().attr(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

fn is_rtl_language(lang: &str) -> bool {
    let primary = lang.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    matches!(primary.as_str(), "ar" | "fa" | "he" | "ur" | "ps" | "ku" | "ckb" | "yi" | "dv" | "sd" | "ug")
}

/// `<meta name=…>` or `<meta property=…>` content.
fn meta_content(doc: &Html, name: &str) -> Option<String> {
    let s = sel("meta")?;
    doc.select(&s).find_map(|m| {
        let v = m.value();
        let key = v.attr("property").or_else(|| v.attr("name"))?;
        if !key.eq_ignore_ascii_case(name) {
            return None;
        }
        let content = v.attr("content")?.split_whitespace().collect::<Vec<_>>().join(" ");
        (!content.is_empty()).then_some(content)
    })
}

fn link_href(doc: &Html, rel: &str, base: &Url) -> Option<String> {
    let s = sel("link[rel][href]")?;
    doc.select(&s).find_map(|l| {
        let v = l.value();
        let rels = v.attr("rel")?;
        if !rels.split_whitespace().any(|r| r.eq_ignore_ascii_case(rel)) {
            return None;
        }
        absolute(base, v.attr("href")?)
    })
}

fn first_attr(doc: &Html, within: Option<&Selector>, css: &str, attr: &str) -> Option<String> {
    let s = sel(css)?;
    let found = match within.and_then(|w| doc.select(w).next()) {
        Some(scope) => scope.select(&s).find_map(|e| e.value().attr(attr).map(str::to_owned)),
        None => doc.select(&s).find_map(|e| e.value().attr(attr).map(str::to_owned)),
    };
    found.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// `href` resolved against `base`, kept only if it is http(s).
pub(super) fn absolute(base: &Url, href: &str) -> Option<String> {
    let url = base.join(href.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| {
        let mut url = url;
        url.set_fragment(None);
        url.to_string()
    })
}

fn remove_all(doc: &mut Html, selectors: &[Selector]) {
    let ids: Vec<_> = selectors.iter().flat_map(|s| doc.select(s).map(|e| e.id()).collect::<Vec<_>>()).collect();
    for id in ids {
        if let Some(mut node) = doc.tree.get_mut(id) {
            node.detach();
        }
    }
}
