//! An OPML 2.0 list of every feed (`feeds.opml`), which feed readers import in one step: the
//! declared feeds, then one per keyword, each with its RSS address and the site's page.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

/// One feed of the list.
pub struct Outline {
    pub title: String,
    /// The feed's URL without extension.
    pub feed_base: String,
}

pub fn write(title: &str, site_url: &str, feeds: &[Outline]) -> Result<Vec<u8>, String> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let fail = |e: std::io::Error| format!("cannot write OPML: {e}");
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None))).map_err(fail)?;
    w.write_event(Event::Start(BytesStart::new("opml").with_attributes([("version", "2.0")]))).map_err(fail)?;
    w.write_event(Event::Start(BytesStart::new("head"))).map_err(fail)?;
    w.write_event(Event::Start(BytesStart::new("title"))).map_err(fail)?;
    w.write_event(Event::Text(BytesText::new(title))).map_err(fail)?;
    w.write_event(Event::End(BytesEnd::new("title"))).map_err(fail)?;
    w.write_event(Event::End(BytesEnd::new("head"))).map_err(fail)?;
    w.write_event(Event::Start(BytesStart::new("body"))).map_err(fail)?;
    for feed in feeds {
        let xml_url = format!("{}.rss", feed.feed_base);
        let outline = BytesStart::new("outline").with_attributes([
            ("type", "rss"),
            ("text", feed.title.as_str()),
            ("title", feed.title.as_str()),
            ("xmlUrl", xml_url.as_str()),
            ("htmlUrl", site_url),
        ]);
        w.write_event(Event::Empty(outline)).map_err(fail)?;
    }
    w.write_event(Event::End(BytesEnd::new("body"))).map_err(fail)?;
    w.write_event(Event::End(BytesEnd::new("opml"))).map_err(fail)?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feed_is_an_outline_with_its_title_escaped() {
        let feeds = [
            Outline { title: "كل المقالات".into(), feed_base: "https://x.org/feeds/all".into() },
            Outline { title: "«أ» & <ب>".into(), feed_base: "https://x.org/feeds/keywords/%D8%A3".into() },
        ];
        let xml = String::from_utf8(write("موقع", "https://x.org/", &feeds).unwrap()).unwrap();
        assert!(xml.contains(r#"xmlUrl="https://x.org/feeds/all.rss""#), "{xml}");
        assert!(xml.contains("«أ» &amp; &lt;ب&gt;"), "{xml}");
        let outlines = xml.matches("<outline ").count();
        assert_eq!(outlines, 2);
    }
}
