//! Atom 1.0 (RFC 4287), written with `atom_syndication`. That crate validates nothing, so what
//! Atom requires is guaranteed here: a non-empty feed id (its self URL, stable), an `updated` from
//! the newest entry, an author at feed level, `xml:lang`, and self and alternate links.

use atom_syndication::{Category, Content, Entry, Feed as AtomFeed, Generator, Link, Person, Text};
use chrono::{DateTime, FixedOffset, Utc};

use std::collections::BTreeMap;

use atom_syndication::extension::{Extension, ExtensionMap};

use super::model::{Feed, Format, HISTORY_NS, image_type};

fn fixed(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.fixed_offset()
}

fn link(href: String, rel: &str, mime: &str) -> Link {
    Link { href, rel: rel.into(), mime_type: Some(mime.into()), ..Default::default() }
}

/// RFC 5005's links: the older archive document, and on an archive document the current feed.
fn history_links(feed: &Feed) -> impl Iterator<Item = Link> + '_ {
    let h = &feed.history;
    let atom = |base: &String| format!("{base}.{}", Format::Atom.extension());
    h.prev_archive
        .iter()
        .map(move |b| link(atom(b), "prev-archive", "application/atom+xml"))
        .chain(h.current.iter().map(move |b| link(atom(b), "current", "application/atom+xml")))
}

/// `<fh:archive/>`: this document is an archive, whose entries do not change.
fn archive_marker() -> ExtensionMap {
    let marker = Extension { name: "fh:archive".into(), ..Default::default() };
    BTreeMap::from([("fh".to_owned(), BTreeMap::from([("archive".to_owned(), vec![marker])]))])
}

pub fn write(feed: &Feed) -> Result<Vec<u8>, String> {
    let entries = feed
        .entries
        .iter()
        .map(|e| Entry {
            id: e.url.clone(),
            title: Text::plain(e.title.clone()),
            updated: fixed(e.updated),
            published: e.published.map(fixed),
            authors: e.author.iter().map(|a| Person { name: a.clone(), ..Default::default() }).collect(),
            links: std::iter::once(link(e.url.clone(), "alternate", "text/html"))
                .chain(e.image.as_deref().map(|url| Link {
                    href: url.to_owned(),
                    rel: "enclosure".into(),
                    mime_type: image_type(url).map(str::to_owned),
                    ..Default::default()
                }))
                .collect(),
            summary: e.summary.clone().map(Text::plain),
            content: Some(Content {
                value: Some(e.content_html.clone()),
                content_type: Some("html".into()),
                ..Default::default()
            })
            .filter(|_| !e.content_html.is_empty()),
            categories: e
                .categories
                .iter()
                .map(|c| Category {
                    term: c.name.clone(),
                    scheme: c.feed_base.as_ref().map(|b| format!("{b}.atom")),
                    label: Some(c.name.clone()),
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    let atom = AtomFeed {
        id: feed.self_url(Format::Atom),
        title: Text::plain(feed.title.clone()),
        subtitle: Some(feed.description.clone()).filter(|d| !d.is_empty()).map(Text::plain),
        updated: fixed(feed.updated),
        authors: vec![Person { name: feed.title.clone(), uri: Some(feed.site_url.to_string()), ..Default::default() }],
        links: [
            link(feed.self_url(Format::Atom), "self", "application/atom+xml"),
            link(feed.site_url.to_string(), "alternate", "text/html"),
        ]
        .into_iter()
        .chain(feed.hub.iter().map(|hub| Link { href: hub.clone(), rel: "hub".into(), ..Default::default() }))
        .chain(history_links(feed))
        .collect(),
        namespaces: if feed.history.is_archive() {
            BTreeMap::from([("fh".to_owned(), HISTORY_NS.to_owned())])
        } else {
            BTreeMap::new()
        },
        extensions: if feed.history.is_archive() { archive_marker() } else { BTreeMap::new() },
        generator: Some(Generator { value: "nashra".into(), ..Default::default() }),
        lang: Some(feed.language.clone()),
        entries,
        ..Default::default()
    };
    // An archive page is written without indentation, which would put white space inside the
    // empty <fh:archive/>; archives are read by programs.
    let indent = (!feed.history.is_archive()).then_some(2);
    let config = atom_syndication::WriteConfig { write_document_declaration: true, indent_size: indent };
    atom.write_with_config(Vec::new(), config).map_err(|e| format!("cannot write Atom: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feeds::Entry;

    #[test]
    fn a_lead_image_is_an_enclosure_link() {
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z").unwrap().to_utc();
        let feed = Feed {
            title: "موقع".into(),
            description: String::new(),
            language: "ar".into(),
            site_url: "https://x.org/".parse().unwrap(),
            self_base: "https://x.org/feeds/all".into(),
            updated: t,
            hub: None,
            history: Default::default(),
            entries: vec![Entry {
                url: "https://x.org/a".into(),
                title: "عنوان".into(),
                summary: None,
                content_html: String::new(),
                author: None,
                image: Some("https://x.org/i.png".into()),
                published: Some(t),
                updated: t,
                categories: Vec::new(),
            }],
        };
        let xml = String::from_utf8(write(&feed).unwrap()).unwrap();
        assert!(xml.contains(r#"<link href="https://x.org/i.png" rel="enclosure" type="image/png"/>"#), "{xml}");
    }
}
