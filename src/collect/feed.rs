//! `feed` sources: an upstream RSS 2.0, Atom 1.0 or JSON Feed document, read with `feed-rs`
//! (an independent parser, not the crates nashra writes its own feeds with).

use chrono::{DateTime, Utc};
use url::Url;

use super::PageError;
use super::extract::absolute;
use super::text::{html_to_text, sanitize_html, summarize};
use crate::store::NewArticle;

/// Parses a feed document fetched from `url` into articles; an entry that cannot be used is
/// reported on its own.
pub fn articles(body: &str, url: &Url, max: usize) -> Result<Vec<Result<NewArticle, PageError>>, PageError> {
    let feed = feed_rs::parser::parse(body.as_bytes())
        .map_err(|e| PageError::new(url, format!("not a readable RSS, Atom or JSON feed: {e}")))?;
    Ok(feed.entries.into_iter().take(max).map(|entry| article(entry, url)).collect())
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

fn article(entry: feed_rs::model::Entry, feed_url: &Url) -> Result<NewArticle, PageError> {
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| entry.links.first())
        .and_then(|l| absolute(feed_url, &l.href));
    let Some(link) = link else {
        return Err(PageError::new(feed_url, format!("entry {:?} has no link", entry.id)));
    };
    let link_url = Url::parse(&link).map_err(|e| PageError::new(feed_url, e))?;
    let title = entry
        .title
        .as_ref()
        .map(plain_text)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| PageError::new(&link_url, "feed entry has no title"))?;
    let published_at: DateTime<Utc> = entry
        .published
        .or(entry.updated)
        .ok_or_else(|| PageError::new(&link_url, "feed entry has no publication or update date"))?;
    let raw_body = entry
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .or_else(|| entry.summary.as_ref().map(|s| s.content.clone()))
        .unwrap_or_default();
    let body_html = sanitize_html(&raw_body, &link_url);
    let body_text = html_to_text(&body_html);
    let summary = entry.summary.as_ref().map(plain_text).filter(|s| !s.is_empty()).or_else(|| summarize(&body_text));
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
        let name = c.label.clone().unwrap_or_else(|| c.term.clone());
        let name = name.trim().to_owned();
        if !name.is_empty() && !tags.contains(&name) {
            tags.push(name);
        }
    }
    Ok(NewArticle {
        url: link,
        guid: Some(entry.id.clone()).filter(|id| !id.is_empty()),
        title,
        author: entry.authors.first().map(|a| a.name.trim().to_owned()).filter(|a| !a.is_empty()),
        section: None,
        summary,
        body_html,
        body_text,
        image_url: image,
        lang: None,
        published_at,
        updated_at: entry.updated,
        tags,
    })
}
