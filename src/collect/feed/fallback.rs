//! When `feed-rs` refuses a document that is still a feed — an RSS 0.9x variant it does not
//! recognise, an Atom text construct of an unusual type — the `rss` and `atom_syndication`
//! readers get a second look, so one odd element does not lose a whole feed.

use chrono::{DateTime, Utc};
use url::Url;

use super::{FeedEntry, PageError};
use crate::arabic;
use crate::collect::extract::absolute;
use crate::collect::pass::Hint;
use crate::collect::text::{html_to_text, sanitize_html};

fn date(text: Option<&str>) -> Option<DateTime<Utc>> {
    // Feed dates carry their zone; one without is taken as UTC (and "now" is never needed).
    text.and_then(|t| arabic::parse_date(t, chrono_tz::UTC, DateTime::<Utc>::MIN_UTC).ok())
}

fn entry(link: Option<&str>, feed_url: &Url, hint: Hint, body: &str, id: &str) -> Result<FeedEntry, PageError> {
    let url = link
        .and_then(|l| absolute(feed_url, l))
        .and_then(|l| Url::parse(&l).ok())
        .ok_or_else(|| PageError::new(feed_url, format!("entry {id:?} has no usable link")))?;
    let body_html = sanitize_html(body, &url);
    Ok(FeedEntry { url, hint, body_html })
}

/// An RSS document read by the `rss` crate.
pub fn rss(body: &str, feed_url: &Url) -> Option<Vec<Result<FeedEntry, PageError>>> {
    let channel = rss::Channel::read_from(body.as_bytes()).ok()?;
    Some(
        channel
            .items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let hint = Hint {
                    guid: item.guid.as_ref().map(|g| g.value.clone()),
                    title: item.title.as_deref().map(html_to_text).filter(|t| !t.is_empty()),
                    published: date(item.pub_date.as_deref()),
                    updated: None,
                    summary: item.description.as_deref().map(html_to_text).filter(|s| !s.is_empty()),
                    author: item
                        .author
                        .clone()
                        .or_else(|| item.dublin_core_ext.as_ref().and_then(|dc| dc.creators.first().cloned())),
                    image: None,
                    tags: item.categories.iter().map(|c| c.name.trim().to_owned()).filter(|c| !c.is_empty()).collect(),
                };
                let body = item.content.as_deref().or(item.description.as_deref()).unwrap_or_default().to_owned();
                let id = item.guid.as_ref().map_or_else(|| format!("item {i}"), |g| g.value.clone());
                entry(item.link.as_deref(), feed_url, hint, &body, &id)
            })
            .collect(),
    )
}

/// An Atom document read by `atom_syndication`.
pub fn atom(body: &str, feed_url: &Url) -> Option<Vec<Result<FeedEntry, PageError>>> {
    let feed = atom_syndication::Feed::read_from(body.as_bytes()).ok()?;
    Some(
        feed.entries
            .into_iter()
            .map(|e| {
                let link =
                    e.links.iter().find(|l| l.rel == "alternate").or_else(|| e.links.first()).map(|l| l.href.clone());
                let hint = Hint {
                    guid: Some(e.id.clone()).filter(|id| !id.is_empty()),
                    title: Some(html_to_text(&e.title.value)).filter(|t| !t.is_empty()),
                    published: e.published.map(|p| p.with_timezone(&Utc)).or(Some(e.updated.with_timezone(&Utc))),
                    updated: Some(e.updated.with_timezone(&Utc)),
                    summary: e.summary.as_ref().map(|s| html_to_text(&s.value)).filter(|s| !s.is_empty()),
                    author: e.authors.first().map(|a| a.name.clone()),
                    image: None,
                    tags: e.categories.iter().map(|c| c.label.clone().unwrap_or_else(|| c.term.clone())).collect(),
                };
                let body = e
                    .content
                    .as_ref()
                    .and_then(|c| c.value.clone())
                    .or_else(|| e.summary.as_ref().map(|s| s.value.clone()))
                    .unwrap_or_default();
                entry(link.as_deref(), feed_url, hint, &body, &e.id)
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
