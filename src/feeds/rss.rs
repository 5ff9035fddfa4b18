//! RSS 2.0, written with the `rss` crate from typed values (never from string templates): an
//! `atom:link rel="self"`, permalink GUIDs, RFC 822 dates, `dc:creator` for authors (RSS's own
//! `<author>` must be an email address) and the full body in `content:encoded`.

use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::{Extension, ExtensionMap};
use rss::{Category, Channel, Enclosure, Guid, Item};

use super::model::{Feed, Format, HISTORY_NS, image_type};

/// Media RSS, for the lead image (`media:content` and `media:thumbnail`).
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// The lead image as Media RSS elements.
fn media(image: &str) -> ExtensionMap {
    let element = |name: &str, with_type: bool| {
        let mut attrs = BTreeMap::from([("url".to_owned(), image.to_owned())]);
        if with_type {
            attrs.insert("medium".into(), "image".into());
            if let Some(t) = image_type(image) {
                attrs.insert("type".into(), t.into());
            }
        }
        Extension { name: format!("media:{name}"), attrs, ..Default::default() }
    };
    let elements = BTreeMap::from([
        ("content".to_owned(), vec![element("content", true)]),
        ("thumbnail".to_owned(), vec![element("thumbnail", false)]),
    ]);
    BTreeMap::from([("media".to_owned(), elements)])
}

/// RFC 5005's links (as `atom:link`): the older archive document, and on an archive document the
/// current feed.
fn history_links(feed: &Feed) -> impl Iterator<Item = Link> + '_ {
    let h = &feed.history;
    let rss = |base: &String, rel: &str| Link {
        href: format!("{base}.{}", Format::Rss.extension()),
        rel: rel.into(),
        mime_type: Some("application/rss+xml".into()),
        ..Default::default()
    };
    h.prev_archive.iter().map(move |b| rss(b, "prev-archive")).chain(h.current.iter().map(move |b| rss(b, "current")))
}

/// `<fh:archive/>`: this document is an archive, whose items do not change.
fn archive_marker() -> ExtensionMap {
    let marker = Extension { name: "fh:archive".into(), ..Default::default() };
    BTreeMap::from([("fh".to_owned(), BTreeMap::from([("archive".to_owned(), vec![marker])]))])
}

pub fn write(feed: &Feed) -> Result<Vec<u8>, String> {
    let items = feed
        .entries
        .iter()
        .map(|e| Item {
            title: Some(e.title.clone()),
            link: Some(e.url.clone()),
            // RSS readers treat <description> as HTML; the summary is plain text.
            description: e.summary.as_deref().map(escape_html),
            content: Some(e.content_html.clone()).filter(|c| !c.is_empty()),
            guid: Some(Guid { value: e.url.clone(), permalink: true }),
            pub_date: e.published.map(|p| p.to_rfc2822()),
            categories: e
                .categories
                .iter()
                .map(|c| Category { name: c.name.clone(), domain: c.feed_base.as_ref().map(|b| format!("{b}.rss")) })
                .collect(),
            dublin_core_ext: e
                .author
                .as_ref()
                .map(|a| DublinCoreExtension { creators: vec![a.clone()], ..Default::default() }),
            // The length is not known without fetching the image: 0, as RSS readers expect then.
            enclosure: e.image.as_deref().and_then(|url| {
                image_type(url).map(|t| Enclosure { url: url.to_owned(), length: "0".into(), mime_type: t.into() })
            }),
            extensions: e.image.as_deref().map(media).unwrap_or_default(),
            ..Default::default()
        })
        .collect();
    let channel = Channel {
        title: feed.title.clone(),
        link: feed.site_url.to_string(),
        description: feed.description.clone(),
        language: Some(feed.language.clone()),
        last_build_date: Some(feed.updated.to_rfc2822()),
        generator: Some("nashra".into()),
        atom_ext: Some(AtomExtension {
            links: std::iter::once(Link {
                href: feed.self_url(Format::Rss),
                rel: "self".into(),
                mime_type: Some("application/rss+xml".into()),
                ..Default::default()
            })
            .chain(feed.hub.iter().map(|hub| Link { href: hub.clone(), rel: "hub".into(), ..Default::default() }))
            .chain(history_links(feed))
            .collect(),
        }),
        namespaces: BTreeMap::from([("media".to_owned(), MEDIA_NS.to_owned())])
            .into_iter()
            .chain(feed.history.is_archive().then(|| ("fh".to_owned(), HISTORY_NS.to_owned())))
            .collect(),
        extensions: if feed.history.is_archive() { archive_marker() } else { BTreeMap::new() },
        items,
        ..Default::default()
    };
    // An archive page is written without indentation, which would put white space inside the
    // empty <fh:archive/>; archives are read by programs.
    let written = if feed.history.is_archive() {
        channel.write_to(Vec::new())
    } else {
        channel.pretty_write_to(Vec::new(), b' ', 2)
    };
    written.map_err(|e| format!("cannot write RSS: {e}"))
}

/// Plain text as HTML text.
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
