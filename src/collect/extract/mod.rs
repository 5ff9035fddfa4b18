//! Reading one article page as a careful editor would. Metadata is taken in order of trust:
//! JSON-LD (`NewsArticle`), then OpenGraph and `article:*` meta, `<meta name="author">` and
//! `<time datetime>`, then the source's CSS selectors, then a readability fallback
//! (`dom_smoothie`, a port of Mozilla's Readability) for pages with no configuration. The body
//! loses its boilerplate (ad slots, share and print links, captions, related lists), is
//! sanitised (ammonia) and gets a plain-text copy. Pure: no I/O, `now` is a parameter.

mod boilerplate;
mod byline;
mod dateline;
pub(super) mod depth;
mod jsonld;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use ego_tree::NodeId;
use scraper::{ElementRef, Html, Selector};
use serde::Serialize;
use url::Url;

use super::ArticleSelectors;
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
    /// Where that text was: `json-ld`, `meta`, `time`, `selector` (the source's `selectors.date`)
    /// or `date line` (found unaided, as a reader finds it: the least sure).
    pub date_from: Option<&'static str>,
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
    #[error("no title found (no JSON-LD headline, og:title, title selector match, <h1> or <title>)")]
    NoTitle,
    #[error("the date {text:?} cannot be read: {reason}")]
    BadDate { text: String, reason: String },
    #[error("the page nests its elements more than {} levels deep; not read", depth::MAX_DEPTH)]
    TooDeep,
}

/// `Extracted::date_from` for a date line found unaided.
pub const DATE_LINE: &str = "date line";

fn sel(s: &str) -> Option<Selector> {
    Selector::parse(s).ok()
}

/// Extracts an article from `html`, fetched from `page_url`.
pub fn extract(
    html: &str,
    page_url: &Url,
    selectors: Option<&ArticleSelectors>,
    time_zone: Tz,
    now: DateTime<Utc>,
) -> Result<Extracted, ExtractError> {
    extract_with_title(html, page_url, selectors, time_zone, now, None)
}

/// As `extract`, with a title to fall back on (a feed's or a news sitemap's) when the page has none.
pub fn extract_with_title(
    html: &str,
    page_url: &Url,
    selectors: Option<&ArticleSelectors>,
    time_zone: Tz,
    now: DateTime<Utc>,
    fallback_title: Option<&str>,
) -> Result<Extracted, ExtractError> {
    if depth::depth(html, depth::MAX_DEPTH) > depth::MAX_DEPTH {
        return Err(ExtractError::TooDeep);
    }
    let mut doc = Html::parse_document(html);
    let ld = jsonld::news_article(&doc).unwrap_or_default();
    let meta = |name: &str| meta_content(&doc, name);
    let by = |s: Option<&Selector>| s.and_then(|s| doc.select(s).map(element_text).find(|t| !t.is_empty()));
    let configured = |pick: fn(&ArticleSelectors) -> Option<&Selector>| selectors.and_then(pick);

    let site_name = meta("og:site_name");
    let title = ld
        .headline
        .clone()
        .or_else(|| meta("og:title").map(|t| strip_site_name(&t, site_name.as_deref())))
        .or_else(|| by(configured(|s| s.title.as_ref())))
        .or_else(|| fallback_title.map(str::to_owned))
        .or_else(|| {
            let h1 = sel("h1").and_then(|s| by(Some(&s)));
            let document = sel("title").and_then(|s| by(Some(&s)));
            headline(h1, document, site_name.as_deref())
        })
        .ok_or(ExtractError::NoTitle)?;
    let author = ld
        .authors
        .first()
        .cloned()
        .or_else(|| meta("author"))
        .or_else(|| meta("article:author").filter(|a| !a.starts_with("http")))
        .or_else(|| by(configured(|s| s.author.as_ref())))
        .or_else(|| byline::find(&doc))
        .map(|a| clean_byline(&a))
        .filter(|a| !a.is_empty());
    let section =
        ld.section.clone().or_else(|| meta("article:section")).or_else(|| by(configured(|s| s.section.as_ref())));
    let keywords = if !ld.keywords.is_empty() {
        ld.keywords.clone()
    } else if let Some(tags) = Some(meta_all(&doc, "article:tag")).filter(|t| !t.is_empty()) {
        tags
    } else if let Some(s) = configured(|s| s.keywords.as_ref()) {
        unique(doc.select(s).map(element_text))
    } else {
        meta("keywords").map(|k| unique(k.split([',', '،']).map(|k| k.trim().to_owned()))).unwrap_or_default()
    };

    // The publication time: the first of these that is there; an unreadable one is reported
    // only if nothing later in the order gives a time.
    // A <time> in the article first: the page's header may show the clock.
    let time_attr = first_attr(&doc, "article time[datetime]", "datetime")
        .or_else(|| first_attr(&doc, "time[datetime]", "datetime"));
    let date_line = by(configured(|s| s.date.as_ref()));
    let candidates = [
        ("json-ld", ld.date_published.clone()),
        ("meta", meta("article:published_time")),
        ("time", time_attr),
        ("selector", date_line),
    ];
    let mut published = None;
    let mut date_text = None;
    let mut date_from = None;
    let mut first_error = None;
    for (from, text) in candidates.into_iter().filter_map(|(f, t)| Some((f, t?))) {
        match arabic::parse_date(&text, time_zone, now) {
            Ok(t) => {
                published = Some(t);
                date_text = Some(text);
                date_from = Some(from);
                break;
            }
            Err(e) => {
                first_error.get_or_insert(ExtractError::BadDate { text: text.clone(), reason: e.to_string() });
            }
        }
    }
    // No date in the metadata nor where the source's selectors point: the date line a reader
    // sees (see `dateline`). Beside metadata, the line is a cross-check: when they are more
    // than a day apart and the URL's own date sides with the line, the metadata is wrong (a
    // CMS default, the date of an edit) and the line wins.
    if date_from != Some("selector")
        && let Some((t, line)) = dateline::find(&doc, page_url, time_zone, now)
    {
        let contradicted = published.is_some_and(|p| {
            (p - t).num_hours().abs() > 24
                && dateline::url_date(page_url).is_some_and(|day| !dateline::agrees(p, day, time_zone))
        });
        if published.is_none() || contradicted {
            if contradicted {
                tracing::warn!(url = %page_url, "the page's {} date disagrees with its date line and its URL; the line's is kept", date_from.unwrap_or_default());
            }
            published = Some(t);
            date_text = Some(line);
            date_from = Some(DATE_LINE);
        }
    }
    if published.is_none()
        && let Some(e) = first_error
    {
        return Err(e);
    }
    let updated = ld
        .date_modified
        .clone()
        .or_else(|| meta("article:modified_time"))
        .and_then(|t| arabic::parse_date(&t, time_zone, now).ok())
        .filter(|u| published.is_none_or(|p| *u >= p));

    let lang = root_attr(&doc, "html", "lang")
        .or_else(|| ld.language.clone())
        .or_else(|| meta("og:locale").map(|l| l.replace('_', "-")));
    let canonical_url = link_href(&doc, "canonical", page_url)
        .or_else(|| meta("og:url").and_then(|u| absolute(page_url, &u)))
        .or_else(|| ld.url.as_deref().and_then(|u| absolute(page_url, u)));
    let description = ld.description.clone().or_else(|| meta("og:description")).or_else(|| meta("description"));
    let image_meta = ld.image.clone().or_else(|| meta("og:image")).and_then(|u| absolute(page_url, &u));

    // The body: the configured element, or readability's pick; without its boilerplate, nor
    // what became a field (the date line, the byline).
    let fields = boilerplate::Fields::new(date_text.as_deref(), author.as_deref());
    let body_element = configured(|s| s.body.as_ref()).and_then(|s| doc.select(s).next()).map(|e| e.id());
    // The text's direction: the nearest `dir` around the article's body (readability reports the
    // one around its pick), then the page's, then the language's (a page with lang="ar" and no
    // dir is right-to-left).
    let page_dir = root_attr(&doc, "html", "dir").or_else(|| root_attr(&doc, "body", "dir"));
    let (body_raw, image_in_body, body_dir) = match body_element {
        Some(id) => {
            let dir = nearest_dir(&doc, id);
            let mut junk = selectors
                .map(|s| s.remove.iter().flat_map(|r| doc.select(r).map(|e| e.id())).collect::<Vec<_>>())
                .unwrap_or_default();
            junk.extend(boilerplate::find(&doc, id, &fields));
            let (html, image) = clean_body(&mut doc, id, &junk, page_url);
            (html, image, dir)
        }
        None => readable_body(&mut doc, page_url, &fields),
    };
    let dir =
        body_dir.or(page_dir).or_else(|| lang.as_deref().filter(|l| is_rtl_language(l)).map(|_| "rtl".to_owned()));
    let body_html = sanitize_html(&body_raw, page_url);
    let body_text = html_to_text(&body_html);
    let summary = description.or_else(|| summarize(&body_text));

    Ok(Extracted {
        title,
        author,
        published,
        updated,
        date_text,
        date_from,
        section,
        keywords,
        summary,
        body_html,
        body_text,
        image: image_meta.or(image_in_body),
        canonical_url,
        lang,
        dir,
    })
}

/// The body's HTML without its junk and media, and its lead image (the first picture that is not
/// junk: an ad banner is not the article's image).
fn clean_body(doc: &mut Html, root: NodeId, junk: &[NodeId], page_url: &Url) -> (String, Option<String>) {
    boilerplate::remove(doc, junk);
    let image = doc.tree.get(root).and_then(ElementRef::wrap).and_then(|e| first_img(e, page_url));
    let media = boilerplate::media(doc, root);
    boilerplate::remove(doc, &media);
    let html = doc.tree.get(root).and_then(ElementRef::wrap).map(|e| e.inner_html()).unwrap_or_default();
    (html, image)
}

/// Readability's article body for a page with no body selector, cleaned like a configured one,
/// with the direction readability found around it. The boilerplate rules run first, on the
/// whole page, so readability never picks an ad block, a byline or a related list.
fn readable_body(
    doc: &mut Html,
    page_url: &Url,
    fields: &boilerplate::Fields,
) -> (String, Option<String>, Option<String>) {
    let root = doc.root_element().id();
    let junk = boilerplate::find(doc, root, fields);
    boilerplate::remove(doc, &junk);
    let html = doc.html();
    let parsed =
        dom_smoothie::Readability::new(html.as_str(), Some(page_url.as_str()), None).and_then(|mut r| r.parse());
    let (content, dir) = match parsed {
        Ok(article) => (article.content.to_string(), article.dir.filter(|d| !d.trim().is_empty())),
        Err(e) => {
            tracing::debug!(url = %page_url, "readability found no article body: {e}");
            return (String::new(), None, None);
        }
    };
    let mut doc = Html::parse_fragment(&content);
    let root = doc.root_element().id();
    let junk = boilerplate::find(&doc, root, fields);
    let (html, image) = clean_body(&mut doc, root, &junk, page_url);
    (html, image, dir)
}

/// The `dir` of `id` or of its nearest ancestor that has one.
fn nearest_dir(doc: &Html, id: NodeId) -> Option<String> {
    let node = doc.tree.get(id)?;
    std::iter::once(node).chain(node.ancestors()).find_map(|n| {
        let e = ElementRef::wrap(n)?;
        e.value().attr("dir").map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned)
    })
}

/// Text of an element with whitespace collapsed.
fn element_text(e: ElementRef<'_>) -> String {
    e.text().collect::<Vec<_>>().join(" ").split_whitespace().collect::<Vec<_>>().join(" ")
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let item = item.trim().to_owned();
        if !item.is_empty() && !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// «كتب: أحمد علي» → «أحمد علي»: the bylines' lead-in words are not part of the name.
fn clean_byline(text: &str) -> String {
    // Longest first, so «كتبت» is not read as «كتب» + «ت».
    const LEAD_INS: &[&str] = &["إعداد", "اعداد", "تقرير", "بقلم", "كتبت", "كتب", "By", "by"];
    let mut t = text.trim();
    for lead in LEAD_INS {
        let Some(rest) = t.strip_prefix(lead) else { continue };
        // Only a whole word: «كتبى الحسيني» is a name.
        if !rest.starts_with(|c: char| c.is_whitespace() || matches!(c, ':' | '-' | '–' | '|')) {
            continue;
        }
        let rest = rest.trim_start();
        let rest = rest.strip_prefix([':', '-', '–', '|']).unwrap_or(rest).trim_start();
        if !rest.is_empty() {
            t = rest;
        }
        break;
    }
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// «عنوان الخبر | اسم الموقع» → «عنوان الخبر» when the site's name is known.
fn strip_site_name(title: &str, site: Option<&str>) -> String {
    let Some(site) = site.map(str::trim).filter(|s| !s.is_empty()) else { return title.trim().to_owned() };
    for sep in [" | ", " - ", " — ", " – ", " :: "] {
        if let Some(rest) = title.trim().strip_suffix(site).and_then(|r| r.strip_suffix(sep)) {
            return rest.trim().to_owned();
        }
    }
    title.trim().to_owned()
}

/// The headline of a page with no metadata: its `<h1>` when the document `<title>` confirms it
/// (an `<h1>` can be a section heading or the site's logo), else the `<title>` without the
/// site's name.
fn headline(h1: Option<String>, document: Option<String>, site: Option<&str>) -> Option<String> {
    match (h1, document) {
        (Some(h1), Some(doc)) if arabic::normalize(&doc).contains(&arabic::normalize(&h1)) => Some(h1),
        (_, Some(doc)) => Some(strip_title_suffix(&doc, site)),
        (h1, None) => h1,
    }
}

/// A document `<title>` usually ends with the site's name after a separator; without
/// `og:site_name` to match, a short last part (at most three words) after « | », « - » or « — »
/// is taken to be it.
fn strip_title_suffix(title: &str, site: Option<&str>) -> String {
    let stripped = strip_site_name(title, site);
    if stripped != title.trim() {
        return stripped;
    }
    for sep in [" | ", " — ", " – ", " - "] {
        if let Some((head, tail)) = title.trim().rsplit_once(sep)
            && tail.split_whitespace().count() <= 3
            && head.split_whitespace().count() >= 3
        {
            return head.trim().to_owned();
        }
    }
    title.trim().to_owned()
}

fn root_attr(doc: &Html, element: &str, name: &str) -> Option<String> {
    let s = sel(element)?;
    doc.select(&s).next()?.value().attr(name).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

fn is_rtl_language(lang: &str) -> bool {
    let primary = lang.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase();
    matches!(primary.as_str(), "ar" | "fa" | "he" | "ur" | "ps" | "ku" | "ckb" | "yi" | "dv" | "sd" | "ug")
}

/// `<meta name=…>` or `<meta property=…>` content, for every matching element.
fn meta_all(doc: &Html, name: &str) -> Vec<String> {
    let Some(s) = sel("meta") else { return Vec::new() };
    unique(doc.select(&s).filter_map(|m| {
        let v = m.value();
        let key = v.attr("property").or_else(|| v.attr("name"))?;
        key.eq_ignore_ascii_case(name)
            .then(|| v.attr("content").unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" "))
    }))
}

fn meta_content(doc: &Html, name: &str) -> Option<String> {
    meta_all(doc, name).into_iter().next()
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

fn first_attr(doc: &Html, css: &str, attr: &str) -> Option<String> {
    let s = sel(css)?;
    doc.select(&s).find_map(|e| e.value().attr(attr).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned))
}

fn first_img(scope: ElementRef<'_>, base: &Url) -> Option<String> {
    let s = sel("img[src]")?;
    scope.select(&s).find_map(|e| absolute(base, e.value().attr("src")?))
}

/// `href` resolved against `base`, kept only if it is http(s).
pub(in crate::collect) fn absolute(base: &Url, href: &str) -> Option<String> {
    let url = base.join(href.trim()).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| {
        let mut url = url;
        url.set_fragment(None);
        url.to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bylines_lose_their_lead_in() {
        assert_eq!(clean_byline("كتب: أحمد علي"), "أحمد علي");
        assert_eq!(clean_byline("بقلم - سارة"), "سارة");
        assert_eq!(clean_byline("كتبت  منى  حسن"), "منى حسن");
        assert_eq!(clean_byline("كتبى الحسيني"), "كتبى الحسيني", "a name that merely starts with the letters stays");
        assert_eq!(clean_byline("شيماء يحيى"), "شيماء يحيى");
    }

    #[test]
    fn a_short_last_part_of_a_document_title_is_the_site_name() {
        assert_eq!(
            strip_title_suffix("أكاديمية جديدة لكرة القدم النسائية | ملاعب", None),
            "أكاديمية جديدة لكرة القدم النسائية"
        );
        assert_eq!(strip_title_suffix("العراق - سوريا", None), "العراق - سوريا", "too short to cut");
    }

    #[test]
    fn site_names_are_cut_from_titles() {
        assert_eq!(strip_site_name("خبر عاجل | الموقع", Some("الموقع")), "خبر عاجل");
        assert_eq!(strip_site_name("خبر - عاجل", Some("الموقع")), "خبر - عاجل");
        assert_eq!(strip_site_name("خبر", None), "خبر");
    }
}

#[cfg(test)]
mod hostile {
    use chrono::Utc;

    use super::*;

    /// Absurd nesting is refused before parsing; a long page is read (the boilerplate pass looks
    /// at a bounded number of nodes per element, so this stays linear).
    #[test]
    fn deeply_nested_and_huge_pages_are_read_without_overflow() {
        let url = Url::parse("https://x.example/a").unwrap();
        let deep = format!(
            "<html lang=\"ar\"><body><h1>عنوان</h1>{}<p>نص</p>{}</body></html>",
            "<div>".repeat(20_000),
            "</div>".repeat(20_000)
        );
        assert_eq!(extract(&deep, &url, None, chrono_tz::UTC, Utc::now()), Err(ExtractError::TooDeep));
        let long = format!(
            "<html><body><article><h1>عنوان</h1>{}</article></body></html>",
            "<p>فقرة طويلة من النص العربي.</p>".repeat(20_000)
        );
        assert!(extract(&long, &url, None, chrono_tz::UTC, Utc::now()).is_ok());
    }
}
