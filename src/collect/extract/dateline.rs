//! The visible date line of a page without date metadata, found the way a reader finds it:
//! the short piece of text that reads as a date near the article's title — after the `<h1>`,
//! or before it inside the same `<article>` — never in a link, a menu, a footer, a sidebar, a
//! ticker or a list of related stories (their dates are other articles'), and never a date the
//! page's URL contradicts. The innermost element whose text is a whole date wins (its parent,
//! with a byline around it, would not read).

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use ego_tree::NodeId;
use scraper::{ElementRef, Html, Node};
use url::Url;

use crate::arabic;

/// A date line is short; a longer text is a paragraph that mentions a date.
const MAX_LINE_CHARS: usize = 160;

/// A date split over spans reads from their parent only if that is this short.
const SPLIT_LINE_CHARS: usize = 60;

/// Elements whose dates are not the article's.
const NOT_THE_ARTICLE: &[&str] = &["a", "nav", "footer", "aside", "select", "option", "script", "style", "template"];

/// Words in a class or id that mark a region of other articles or of the site's chrome.
const OTHER_REGIONS: &[&str] = &[
    "related",
    "more",
    "also",
    "latest",
    "popular",
    "most",
    "sidebar",
    "widget",
    "comment",
    "footer",
    "menu",
    "breadcrumb",
    "ticker",
    "trending",
    "recommend",
    "nav",
    "weather",
    "prayer",
];

/// The date the page shows for its article, with the text it was read from.
pub(super) fn find(doc: &Html, page_url: &Url, tz: Tz, now: DateTime<Utc>) -> Option<(DateTime<Utc>, String)> {
    let url_day = url_date(page_url);
    let title = scraper::Selector::parse("h1").ok().and_then(|s| doc.select(&s).next());
    let title_article =
        title.and_then(|t| t.ancestors().filter_map(ElementRef::wrap).find(|a| a.value().name() == "article"));
    let mut after_title = title.is_none();
    // Each element is read once (a container's text is never rebuilt for each of its children).
    let mut tried: HashSet<NodeId> = HashSet::new();
    for node in doc.root_element().descendants() {
        if title.is_some_and(|t| t.id() == node.id()) {
            after_title = true;
            continue;
        }
        let Node::Text(text) = node.value() else { continue };
        if !text.chars().any(|c| c.is_numeric()) {
            continue;
        }
        let Some(parent) = node.parent().and_then(ElementRef::wrap) else { continue };
        let in_title_article = title_article.is_some_and(|a| parent.ancestors().any(|n| n.id() == a.id()));
        if !(after_title || in_title_article) || !tried.insert(parent.id()) || !about_the_article(parent) {
            continue;
        }
        // The element around the text, then its parent if that is a short line too (a date
        // split over spans), not a container of the page.
        let line_parent = || {
            parent
                .parent()
                .and_then(ElementRef::wrap)
                .filter(|p| !matches!(p.value().name(), "body" | "html" | "article" | "main"))
                .filter(|p| tried.insert(p.id()))
                .and_then(|p| short_text(p, SPLIT_LINE_CHARS))
        };
        let Some(line) = short_text(parent, MAX_LINE_CHARS) else { continue };
        for line in std::iter::once(Some(line)).chain(std::iter::once_with(line_parent)).flatten() {
            if let Some(found) = read_line(&line, tz, now)
                && url_day.is_none_or(|day| agrees(found, day, tz))
            {
                return Some((found, line));
            }
        }
    }
    None
}

/// The element's text, whitespace collapsed, if it has at most `max` characters (read no
/// further than that).
fn short_text(e: ElementRef<'_>, max: usize) -> Option<String> {
    let mut chars = 0;
    let mut parts = Vec::new();
    for t in e.text() {
        chars += t.chars().count();
        if chars > max + 64 {
            return None;
        }
        parts.push(t);
    }
    let text = parts.join(" ").split_whitespace().collect::<Vec<_>>().join(" ");
    (text.chars().count() <= max).then_some(text)
}

/// The line as a whole date, or one of its parts between bars («بقلم فلان | 12 أبريل 2021»).
fn read_line(line: &str, tz: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    std::iter::once(line)
        .chain(line.split(['|', '•', '·']).map(str::trim))
        .filter(|part| part.chars().any(|c| c.is_numeric()))
        .find_map(|part| arabic::parse_arabic_date(part, tz, now).ok())
}

/// Not inside a link, a menu, a footer, a sidebar or a list of other articles.
pub(super) fn about_the_article(e: ElementRef<'_>) -> bool {
    std::iter::once(e).chain(e.ancestors().filter_map(ElementRef::wrap)).all(|a| {
        let el = a.value();
        if NOT_THE_ARTICLE.contains(&el.name()) {
            return false;
        }
        let marks = el.attr("class").into_iter().chain(el.attr("id")).flat_map(|v| v.split([' ', '-', '_']));
        !marks.map(str::to_ascii_lowercase).any(|m| OTHER_REGIONS.contains(&m.as_str()))
    })
}

/// The day a URL's path gives: /2021/04/12/, /2021-04-12-…, /20210412/.
pub(super) fn url_date(url: &Url) -> Option<NaiveDate> {
    let path = url.path();
    let bytes = path.as_bytes();
    for i in 0..bytes.len() {
        let (y, rest) = match digits_at(path, i, 4) {
            Some(y) if i == 0 || !bytes[i - 1].is_ascii_digit() => (y, i + 4),
            _ => continue,
        };
        // /2021/04/12, 2021-04-12 (the same separator twice), or 20210412; never more digits
        // after the day (/2021/04/1234-slug, 20210412345).
        let sep = bytes.get(rest).copied();
        let (m, d, after) = match sep {
            Some(s @ (b'/' | b'-' | b'_')) if bytes.get(rest + 3) == Some(&s) => {
                (digits_at(path, rest + 1, 2), digits_at(path, rest + 4, 2), rest + 6)
            }
            _ => (digits_at(path, rest, 2), digits_at(path, rest + 2, 2), rest + 4),
        };
        if bytes.get(after).is_some_and(u8::is_ascii_digit) {
            continue;
        }
        let (Some(m), Some(d)) = (m, d) else { continue };
        let parse = |s: &str| s.parse::<u32>().ok();
        if let (Ok(year), Some(month), Some(day)) = (y.parse::<i32>(), parse(m), parse(d))
            && (1990..=2100).contains(&year)
            && let Some(date) = NaiveDate::from_ymd_opt(year, month, day)
        {
            return Some(date);
        }
    }
    None
}

/// The `n` ASCII digits at byte `i` of `s`, if that is what is there.
fn digits_at(s: &str, i: usize, n: usize) -> Option<&str> {
    s.get(i..i + n).filter(|d| d.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether the date read falls within a day of the URL's (sites date URLs in their own zone,
/// or by the time of writing).
pub(super) fn agrees(found: DateTime<Utc>, day: NaiveDate, tz: Tz) -> bool {
    let local = found.with_timezone(&tz).date_naive();
    (local - day).num_days().abs() <= 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Africa::Cairo;

    fn now() -> DateTime<Utc> {
        "2024-06-15T12:00:00Z".parse().unwrap_or_default()
    }

    fn page(body: &str) -> Html {
        Html::parse_document(&format!("<html lang=\"ar\" dir=\"rtl\"><body>{body}</body></html>"))
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|_| Url::parse("http://example.org/").unwrap_or_else(|_| unreachable!()))
    }

    #[test]
    fn the_line_after_the_title_is_the_articles_not_the_headers_nor_a_related_storys() {
        let doc = page(
            "<header><span class=\"today\">السبت 15 يونيو 2024</span></header>\
             <article><h1>عنوان الخبر</h1>\
             <div class=\"byline\">كتب: أحمد علي <span class=\"date\">الإثنين 12/أبريل/2021 - 10:18 ص</span></div>\
             <p>نص الخبر في 3 فقرات عن عام 2020.</p></article>\
             <ul class=\"related-news\"><li>خبر آخر <span>الأحد 11/أبريل/2021</span></li></ul>",
        );
        let found = find(&doc, &url("http://example.org/news/1"), Cairo, now());
        assert_eq!(found.map(|f| f.1), Some("الإثنين 12/أبريل/2021 - 10:18 ص".to_owned()));
    }

    #[test]
    fn a_related_storys_date_or_a_links_is_never_taken() {
        let doc = page(
            "<h1>عنوان</h1><p>نص بلا تاريخ</p>\
             <aside><span>12 أبريل 2021</span></aside><a href=\"/x\">13 أبريل 2021</a>\
             <div id=\"most-read\"><span>14 أبريل 2021</span></div>",
        );
        assert_eq!(find(&doc, &url("http://example.org/n"), Cairo, now()), None);
    }

    #[test]
    fn a_date_in_the_article_before_the_title_counts_a_date_split_over_spans_reads() {
        let doc = page(
            "<article><div class=\"meta\"><span>12</span>/<span>أبريل</span>/<span>2021</span></div>\
             <h1>عنوان</h1></article>",
        );
        let found = find(&doc, &url("http://example.org/n"), Cairo, now()).map(|f| f.0);
        assert_eq!(found, Some("2021-04-11T22:00:00Z".parse().unwrap_or_default()));
    }

    #[test]
    fn metadata_the_url_and_the_line_both_contradict_gives_way() {
        let html = "<html><head><meta property=\"article:published_time\" content=\"2019-01-01T00:00:00Z\"></head>\
             <body><h1>عنوان</h1><span class=\"date\">الإثنين 12/أبريل/2021 - 10:18 ص</span><p>نص</p></body></html>";
        let read =
            |u: &str| super::super::extract(html, &url(u), None, Cairo, now()).map(|x| (x.published, x.date_from));
        let line = Some("2021-04-12T08:18:00Z".parse().unwrap_or_default());
        assert_eq!(read("http://example.org/2021/04/12/story"), Ok((line, Some(super::super::DATE_LINE))));
        let meta = Some("2019-01-01T00:00:00Z".parse().unwrap_or_default());
        assert_eq!(read("http://example.org/story"), Ok((meta, Some("meta"))), "no URL date: the metadata stays");
    }

    #[test]
    fn a_date_the_url_contradicts_is_passed_over() {
        let doc = page("<h1>عنوان</h1><span>10 مارس 2019</span><span>بقلم فلان | 12 أبريل 2021</span>");
        let found = find(&doc, &url("http://example.org/2021/04/12/story"), Cairo, now()).map(|f| f.1);
        assert_eq!(found, Some("بقلم فلان | 12 أبريل 2021".to_owned()));
        assert_eq!(url_date(&url("http://example.org/news/20210412-x")), NaiveDate::from_ymd_opt(2021, 4, 12));
        assert_eq!(url_date(&url("http://example.org/2021-04-12-x")), NaiveDate::from_ymd_opt(2021, 4, 12));
        assert_eq!(url_date(&url("http://example.org/news/123456")), None);
        assert_eq!(url_date(&url("http://example.org/2021/04/1234-slug")), None);
        assert_eq!(url_date(&url("http://example.org/news/20210412345")), None);
        assert_eq!(url_date(&url("http://example.org/2021/04-12/x")), None);
    }
}
