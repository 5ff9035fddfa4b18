//! JSON Feed 1.1 (https://jsonfeed.org/version/1.1), serialised with serde from the feed model.

use serde::Serialize;

use super::model::{Feed, Format};

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    language: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    /// JSON Feed's paging: the next (older) items, here the newest archive page before these.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<String>,
    items: Vec<Item<'a>>,
}

/// A WebSub hub, as JSON Feed 1.1 names it.
#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    content_html: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    date_published: Option<String>,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    language: &'a str,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
}

pub fn write(feed: &Feed) -> Result<Vec<u8>, String> {
    let doc = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        title: &feed.title,
        home_page_url: feed.site_url.as_str(),
        feed_url: feed.self_url(Format::Json),
        description: &feed.description,
        language: &feed.language,
        hubs: feed.hub.iter().map(|url| Hub { kind: "WebSub", url }).collect(),
        next_url: feed.history.prev_archive.as_ref().map(|base| format!("{base}.{}", Format::Json.extension())),
        items: feed
            .entries
            .iter()
            .map(|e| Item {
                id: &e.url,
                url: &e.url,
                title: &e.title,
                content_html: &e.content_html,
                summary: e.summary.as_deref(),
                image: e.image.as_deref(),
                date_published: e.published.map(|p| p.to_rfc3339()),
                date_modified: e.updated.to_rfc3339(),
                authors: e.author.iter().map(|a| Author { name: a }).collect(),
                tags: e.categories.iter().map(|c| c.name.as_str()).collect(),
                language: &feed.language,
            })
            .collect(),
    };
    serde_json::to_vec_pretty(&doc).map_err(|e| format!("cannot write JSON Feed: {e}"))
}
