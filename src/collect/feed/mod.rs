//! `feed` sources: an upstream RSS 2.0, Atom 1.0 or JSON Feed document, read with `feed-rs`
//! (an independent parser, not the crates nashra writes its own feeds with). With
//! `full_article`, each entry's page is read too, for feeds that carry only summaries.

mod fallback;

use url::Url;

use super::PageError;
use super::extract::absolute;
use super::pass::{Hint, Pass};
use super::text::{html_to_text, sanitize_html, summarize};
use crate::store::NewArticle;

/// One entry of a feed, before its page (if any) is read.
#[derive(Debug, Clone)]
pub struct FeedEntry {
    pub url: Url,
    pub hint: Hint,
    /// The entry's own content (or summary) as sanitised HTML.
    pub body_html: String,
}

/// Reads a feed document fetched from `url` into its entries; an entry without a usable link is
/// reported on its own.
pub fn read_feed(body: &str, url: &Url) -> Result<Vec<Result<FeedEntry, PageError>>, PageError> {
    match feed_rs::parser::parse(body.as_bytes()) {
        Ok(feed) => Ok(feed.entries.into_iter().map(|entry| entry_of(entry, url)).collect()),
        Err(e) => {
            let repaired = fallback::repair(body);
            let second_look = |doc: &str| {
                feed_rs::parser::parse(doc.as_bytes())
                    .ok()
                    .map(|feed| feed.entries.into_iter().map(|entry| entry_of(entry, url)).collect())
                    .or_else(|| fallback::rss(doc, url))
                    .or_else(|| fallback::atom(doc, url))
            };
            repaired
                .as_deref()
                .and_then(second_look)
                .or_else(|| second_look(body))
                .or_else(|| fallback::is_empty_feed(body).then(Vec::new))
                .ok_or_else(|| PageError::new(url, format!("not a readable RSS, Atom or JSON feed: {e}")))
        }
    }
}

/// A feed's text construct as plain text: HTML is read as HTML, plain text is kept as written
/// (a title may well contain «<» or «&»).
fn plain_text(t: &feed_rs::model::Text) -> String {
    let subtype = t.content_type.subty();
    if subtype == "html" || subtype == "xhtml+xml" || subtype == "xhtml" {
        html_to_text(&t.content)
    } else {
        t.content.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

fn entry_of(entry: feed_rs::model::Entry, feed_url: &Url) -> Result<FeedEntry, PageError> {
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| entry.links.first())
        .and_then(|l| absolute(feed_url, &l.href))
        .and_then(|l| Url::parse(&l).ok());
    let Some(url) = link else {
        return Err(PageError::new(feed_url, format!("entry {:?} has no usable link", entry.id)));
    };
    let raw_body = entry
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .or_else(|| entry.summary.as_ref().map(|s| s.content.clone()))
        .unwrap_or_default();
    let body_html = sanitize_html(&raw_body, &url);
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
    let mut tags: Vec<String> = Vec::new();
    for c in &entry.categories {
        let name = c.label.clone().unwrap_or_else(|| c.term.clone()).trim().to_owned();
        if !name.is_empty() && !tags.contains(&name) {
            tags.push(name);
        }
    }
    let hint = Hint {
        guid: Some(entry.id.clone()).filter(|id| !id.is_empty()),
        title: entry.title.as_ref().map(plain_text).filter(|t| !t.is_empty()),
        published: entry.published.or(entry.updated),
        updated: entry.updated,
        summary: entry.summary.as_ref().map(plain_text).filter(|s| !s.is_empty()),
        author: entry.authors.first().map(|a| a.name.trim().to_owned()).filter(|a| !a.is_empty()),
        image,
        tags,
    };
    Ok(FeedEntry { url, hint, body_html })
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
        updated_at: hint.updated,
        tags: hint.tags,
    })
}

/// Reads the feed and stores its entries (reading each entry's page with `full_article`).
pub async fn collect(pass: &mut Pass<'_>, url: &Url, full_article: bool) -> Result<(), PageError> {
    let document = match pass.fetch(url).await {
        Ok(Some(d)) => d,
        Ok(None) => return Ok(()),
        Err(e) => return Err(PageError::new(url, e)),
    };
    let entries = read_feed(&document.body, &document.url)?;
    let errors_before = pass.report.errors.len();
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
    if pass.report.errors.len() == errors_before {
        pass.remember(url, &document.validators).await;
    }
    Ok(())
}
