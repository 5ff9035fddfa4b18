//! `feed` sources: an upstream RSS 2.0, Atom 1.0 or JSON Feed document, read with `feed-rs`
//! (an independent parser, not the crates nashra writes its own feeds with), with the `rss` and
//! `atom_syndication` readers as a second look (see `fallback`). Every reader produces the same
//! `RawEntry`, turned into a `FeedEntry` in one place. With `full_article`, each entry's page
//! is read too, for feeds that carry only summaries.

mod fallback;

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use url::Url;

use super::PageError;
use super::extract::absolute;
use super::pass::{Hint, Pass};
use super::text::{html_to_text, sanitize_html, summarize};
use crate::arabic;
use crate::store::NewArticle;

/// One entry of a feed, before its page (if any) is read.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    pub url: Url,
    pub hint: Hint,
    /// The entry's own content (or summary) as sanitised HTML.
    pub body_html: String,
}

/// A text as a feed gives it: plain text, or HTML.
#[derive(Debug, Clone)]
enum Text {
    Plain(String),
    Html(String),
}

impl Text {
    fn plain(&self) -> String {
        match self {
            Text::Plain(t) => t.split_whitespace().collect::<Vec<_>>().join(" "),
            Text::Html(h) => html_to_text(h),
        }
    }

    fn html(&self) -> String {
        match self {
            Text::Plain(t) => t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"),
            Text::Html(h) => h.clone(),
        }
    }
}

/// What any of the readers found in one entry.
#[derive(Debug, Clone, Default)]
struct RawEntry {
    id: String,
    link: Option<String>,
    title: Option<Text>,
    published: Option<DateTime<Utc>>,
    updated: Option<DateTime<Utc>>,
    summary: Option<Text>,
    content: Option<Text>,
    author: Option<String>,
    image: Option<String>,
    categories: Vec<String>,
}

/// Reads a feed document fetched from `url` into its entries; an entry without a usable link is
/// reported on its own. Dates without a zone are read in `tz`; Arabic dates are read too.
pub fn read_feed(
    body: &str,
    url: &Url,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Vec<Result<FeedEntry, PageError>>, PageError> {
    let body = as_utf8_xml(body);
    let raw = match parse_with_feed_rs(&body, tz, now) {
        Ok(entries) => entries,
        Err(e) => {
            let second_look = |doc: &str| {
                parse_with_feed_rs(doc, tz, now)
                    .ok()
                    .or_else(|| fallback::rss(doc, tz, now))
                    .or_else(|| fallback::atom(doc))
            };
            fallback::repair(&body)
                .as_deref()
                .and_then(second_look)
                .or_else(|| second_look(&body))
                .or_else(|| fallback::is_empty_feed(&body).then(Vec::new))
                .ok_or_else(|| PageError::new(url, format!("not a readable RSS, Atom or JSON feed: {e}")))?
        }
    };
    Ok(without_shared_ids(raw).into_iter().map(|entry| finish(entry, url)).collect())
}

/// The text was decoded to UTF-8 already: a declaration still naming its old encoding would make
/// the XML reader decode it a second time.
fn as_utf8_xml(body: &str) -> Cow<'_, str> {
    let Some(end) = body.trim_start().starts_with("<?xml").then(|| body.find("?>")).flatten() else {
        return Cow::Borrowed(body);
    };
    let declaration = &body[..end];
    let Some(i) = declaration.find("encoding=") else { return Cow::Borrowed(body) };
    let after = &declaration[i + "encoding=".len()..];
    let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
    let value_len = quote.and_then(|q| after[1..].find(q)).map(|n| n + 2);
    match value_len {
        Some(len) => Cow::Owned(format!("{}encoding=\"UTF-8\"{}", &body[..i], &body[i + "encoding=".len() + len..])),
        None => Cow::Borrowed(body),
    }
}

fn parse_with_feed_rs(
    body: &str,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Vec<RawEntry>, feed_rs::parser::ParseFeedError> {
    let parser =
        feed_rs::parser::Builder::new().timestamp_parser(move |text| arabic::parse_date(text, tz, now).ok()).build();
    Ok(parser.parse(body.as_bytes())?.entries.into_iter().map(from_feed_rs).collect())
}

fn text_of(t: &feed_rs::model::Text) -> Text {
    let subtype = t.content_type.subty();
    if subtype == "html" || subtype == "xhtml+xml" || subtype == "xhtml" {
        Text::Html(t.content.clone())
    } else {
        Text::Plain(t.content.clone())
    }
}

fn from_feed_rs(entry: feed_rs::model::Entry) -> RawEntry {
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| entry.links.first())
        .map(|l| l.href.clone());
    let image = entry
        .media
        .iter()
        .flat_map(|m| {
            m.thumbnails
                .iter()
                .map(|t| t.image.uri.clone())
                .chain(m.content.iter().filter_map(|c| c.url.as_ref().map(|u| u.to_string())))
        })
        .next();
    RawEntry {
        link,
        title: entry.title.as_ref().map(text_of),
        published: entry.published.or(entry.updated),
        updated: entry.updated,
        summary: entry.summary.as_ref().map(text_of),
        content: entry.content.as_ref().and_then(|c| c.body.clone()).map(Text::Html),
        author: entry.authors.first().map(|a| a.name.clone()),
        image,
        categories: entry.categories.iter().map(|c| c.label.clone().unwrap_or_else(|| c.term.clone())).collect(),
        id: entry.id,
    }
}

/// Some CMSs give every item the same id (often the home page): such an id says nothing about
/// which article an item is, and must not make one article look like another that moved.
fn without_shared_ids(mut entries: Vec<RawEntry>) -> Vec<RawEntry> {
    let mut count: HashMap<String, usize> = HashMap::new();
    for e in &entries {
        *count.entry(e.id.clone()).or_default() += 1;
    }
    for e in &mut entries {
        if count.get(&e.id).is_some_and(|n| *n > 1) {
            e.id.clear();
        }
    }
    entries
}

fn finish(raw: RawEntry, feed_url: &Url) -> Result<FeedEntry, PageError> {
    let url = raw.link.as_deref().and_then(|l| absolute(feed_url, l)).and_then(|l| Url::parse(&l).ok());
    let Some(url) = url else {
        return Err(PageError::new(feed_url, format!("entry {:?} has no usable link", raw.id)));
    };
    let body = raw.content.as_ref().or(raw.summary.as_ref()).map(Text::html).unwrap_or_default();
    let mut tags: Vec<String> = Vec::new();
    for c in raw.categories {
        let c = c.trim().to_owned();
        if !c.is_empty() && !tags.contains(&c) {
            tags.push(c);
        }
    }
    let hint = Hint {
        guid: Some(raw.id).filter(|id| !id.is_empty()),
        title: raw.title.as_ref().map(Text::plain).filter(|t| !t.is_empty()),
        published: raw.published,
        updated: raw.updated,
        summary: raw.summary.as_ref().map(Text::plain).filter(|s| !s.is_empty()),
        author: raw.author.map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()),
        image: raw.image.and_then(|i| absolute(&url, &i)),
        tags,
    };
    Ok(FeedEntry { body_html: sanitize_html(&body, &url), url, hint })
}

/// The entry as an article, from the feed alone.
fn article_of(entry: FeedEntry) -> Result<NewArticle, PageError> {
    let FeedEntry { url, hint, body_html } = entry;
    let title = hint.title.ok_or_else(|| PageError::new(&url, "feed entry has no title"))?;
    let published_at =
        hint.published.ok_or_else(|| PageError::new(&url, "feed entry has no publication or update date"))?;
    let body_text = html_to_text(&body_html);
    Ok(NewArticle {
        url: url.to_string(),
        guid: hint.guid,
        title,
        author: hint.author,
        section: None,
        summary: hint.summary.or_else(|| summarize(&body_text)),
        body_html,
        body_text,
        image_url: hint.image,
        lang: None,
        published_at,
        undated: false,
        updated_at: hint.updated,
        tags: hint.tags,
    })
}

/// Reads the feed and stores its entries (reading each entry's page with `full_article`).
pub async fn collect(pass: &mut Pass<'_>, url: &Url, full_article: bool) -> Result<(), PageError> {
    let mark = pass.mark();
    let document = match pass.fetch(url).await {
        Ok(Some(d)) => d,
        Ok(None) => return Ok(()),
        Err(e) => return Err(PageError::fetch(url, &e)),
    };
    let entries = read_feed(&document.body, &document.url, pass.source.time_zone, pass.now)?;
    let mut pages = Vec::new();
    for entry in entries.into_iter().take(pass.source.max_articles as usize) {
        match entry {
            Ok(entry) if full_article => pages.push((entry.url, entry.hint)),
            Ok(entry) => match article_of(entry) {
                Ok(article) => {
                    pass.store(article).await;
                }
                Err(e) => pass.error(e),
            },
            Err(e) => pass.error(e),
        }
    }
    pass.articles(pages).await;
    pass.remember_if_settled(mark, &[(url.clone(), document.validators)]).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_encoding_declaration_is_rewritten() {
        let doc = "<?xml version=\"1.0\" encoding=\"windows-1256\"?>\n<feed/>";
        assert_eq!(as_utf8_xml(doc), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed/>");
        assert_eq!(as_utf8_xml("<rss/>"), "<rss/>");
        assert_eq!(
            as_utf8_xml("<?xml version='1.0' encoding='iso-8859-6'?><rss/>"),
            "<?xml version='1.0' encoding=\"UTF-8\"?><rss/>"
        );
    }

    #[test]
    fn an_id_every_item_shares_is_dropped() {
        let entry = |id: &str, link: &str| RawEntry { id: id.into(), link: Some(link.into()), ..Default::default() };
        let out = without_shared_ids(vec![entry("home", "/a"), entry("home", "/b"), entry("c", "/c")]);
        let ids: Vec<_> = out.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["", "", "c"]);
    }
}
