//! When `feed-rs` refuses a document that is still a feed — an RSS 0.9x variant it does not
//! recognise, an Atom text construct of an unusual type — the `rss` and `atom_syndication`
//! readers get a second look (after `repair`), so one odd element does not lose a whole feed.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{RawEntry, Text};
use crate::arabic;

/// An RSS document read by the `rss` crate.
pub(super) fn rss(body: &str, tz: Tz, now: DateTime<Utc>) -> Option<Vec<RawEntry>> {
    let channel = rss::Channel::read_from(body.as_bytes()).ok()?;
    Some(
        channel
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| RawEntry {
                id: item.guid.as_ref().map_or_else(|| format!("item {i}"), |g| g.value.clone()),
                link: item.link.clone(),
                // RSS titles are plain text; descriptions are HTML.
                title: item.title.clone().map(Text::Plain),
                published: item.pub_date.as_deref().and_then(|d| arabic::parse_date(d, tz, now).ok()),
                updated: None,
                summary: item.description.clone().map(Text::Html),
                content: item.content.clone().map(Text::Html),
                author: item
                    .author
                    .clone()
                    .or_else(|| item.dublin_core_ext.as_ref().and_then(|dc| dc.creators.first().cloned())),
                image: None,
                categories: item.categories.iter().map(|c| c.name.clone()).collect(),
            })
            .collect(),
    )
}

/// An Atom document read by `atom_syndication`.
pub(super) fn atom(body: &str) -> Option<Vec<RawEntry>> {
    let feed = atom_syndication::Feed::read_from(body.as_bytes()).ok()?;
    let text = |t: &atom_syndication::Text| match t.r#type {
        atom_syndication::TextType::Text => Text::Plain(t.value.clone()),
        _ => Text::Html(t.value.clone()),
    };
    // atom_syndication gives a missing <updated> the Unix epoch: that is no date at all.
    let real = |d: DateTime<Utc>| (d.timestamp() != 0).then_some(d);
    Some(
        feed.entries
            .into_iter()
            .map(|e| {
                let updated = real(e.updated.with_timezone(&Utc));
                RawEntry {
                    link: e
                        .links
                        .iter()
                        .find(|l| l.rel == "alternate")
                        .or_else(|| e.links.first())
                        .map(|l| l.href.clone()),
                    title: Some(text(&e.title)),
                    published: e.published.map(|p| p.with_timezone(&Utc)).and_then(real).or(updated),
                    updated,
                    summary: e.summary.as_ref().map(text),
                    content: e.content.as_ref().and_then(|c| c.value.clone()).map(Text::Html),
                    author: e.authors.first().map(|a| a.name.clone()),
                    image: None,
                    categories: e
                        .categories
                        .iter()
                        .map(|c| c.label.clone().unwrap_or_else(|| c.term.clone()))
                        .collect(),
                    id: e.id,
                }
            })
            .collect(),
    )
}

/// A copy of the document that strict readers accept: an Atom text construct of an unknown
/// `type` (base64 `application/octet-stream`, an empty type) becomes plain text, kept as written;
/// RSS items written without a `<channel>` get one. `None` if the document is not XML.
pub fn repair(body: &str) -> Option<String> {
    use quick_xml::events::{BytesEnd, BytesStart, Event};
    use quick_xml::{Reader, Writer};

    const TEXT_CONSTRUCTS: &[&[u8]] = &[b"title", b"subtitle", b"rights", b"summary", b"content", b"tagline", b"info"];
    const KNOWN_TYPES: &[&[u8]] = &[b"text", b"html", b"xhtml", b"text/plain", b"text/html", b"application/xhtml+xml"];
    let odd_type = |e: &BytesStart<'_>| {
        TEXT_CONSTRUCTS.contains(&e.local_name().as_ref())
            && e.attributes().flatten().any(|a| a.key.as_ref() == b"type" && !KNOWN_TYPES.contains(&a.value.as_ref()))
    };
    let retyped = |e: &BytesStart<'_>| {
        let mut fixed = BytesStart::new(String::from_utf8_lossy(e.name().as_ref()).into_owned());
        for a in e.attributes().flatten() {
            if a.key.as_ref() == b"type" {
                fixed.push_attribute(("type", "text"));
            } else {
                fixed.push_attribute(a);
            }
        }
        fixed
    };
    let needs_channel = !body.contains("<channel");
    let mut reader = Reader::from_str(body);
    let mut writer = Writer::new(Vec::new());
    let mut depth = 0usize;
    loop {
        let event = reader.read_event().ok()?;
        match event {
            Event::Eof => break,
            Event::Start(e) if depth == 0 && needs_channel && e.local_name().as_ref() == b"rss" => {
                writer.write_event(Event::Start(e)).ok()?;
                writer.write_event(Event::Start(BytesStart::new("channel"))).ok()?;
                depth += 1;
            }
            Event::End(e) if depth == 1 && needs_channel && e.local_name().as_ref() == b"rss" => {
                writer.write_event(Event::End(BytesEnd::new("channel"))).ok()?;
                writer.write_event(Event::End(e)).ok()?;
                depth = 0;
            }
            Event::Start(e) if odd_type(&e) => {
                depth += 1;
                writer.write_event(Event::Start(retyped(&e))).ok()?;
            }
            Event::Empty(e) if odd_type(&e) => writer.write_event(Event::Empty(retyped(&e))).ok()?,
            Event::Start(e) => {
                depth += 1;
                writer.write_event(Event::Start(e)).ok()?;
            }
            Event::End(e) => {
                depth = depth.saturating_sub(1);
                writer.write_event(Event::End(e)).ok()?;
            }
            other => writer.write_event(other).ok()?,
        }
    }
    String::from_utf8(writer.into_inner()).ok()
}

/// Whether the document is a feed with nothing in it: well-formed XML whose root is a feed
/// element, with no item or entry.
pub fn is_empty_feed(body: &str) -> bool {
    use quick_xml::Reader;
    use quick_xml::events::Event;

    let mut reader = Reader::from_str(body);
    let mut root: Option<Vec<u8>> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                let name = e.local_name().as_ref().to_vec();
                if root.is_none() {
                    if !matches!(name.as_slice(), b"rss" | b"feed" | b"RDF") {
                        return false;
                    }
                    root = Some(name);
                } else if matches!(name.as_slice(), b"item" | b"entry") {
                    return false;
                }
            }
            Ok(Event::Eof) => return root.is_some(),
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}
