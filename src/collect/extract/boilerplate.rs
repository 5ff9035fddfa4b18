//! What is not the article, wherever it sits: scripts and forms; ad slots, share and print
//! links, related-article lists, newsletter boxes, comments (recognised by their class or id);
//! «اقرأ أيضا»-style link blocks inside the text; and image captions, which news pages repeat
//! beside the picture and again as a paragraph. Applied to every body, configured or not.

use std::collections::HashSet;

use ego_tree::NodeId;
use scraper::{ElementRef, Html, Selector};

/// Elements that are never article text.
const NEVER: &str = "script, style, noscript, template, iframe, form, button, input, select, nav, aside, svg, \
     object, embed";

/// Pictures and their captions: not text either, but the lead image may be among them, so they
/// go last (see `media`).
const MEDIA: &str = "figure, figcaption, picture";

/// Class or id words that mark boilerplate.
const MARKERS: &[&str] = &[
    "share",
    "sharing",
    "social",
    "related",
    "newsletter",
    "subscribe",
    "comment",
    "comments",
    "print",
    "promo",
    "sponsor",
    "sponsored",
    "ticker",
    "breaking",
    "cookie",
    "banner",
    "advert",
    "advertisement",
    "most-read",
    "mostread",
    "popular",
    "read-more",
    "readmore",
    "tags",
    "keywords",
    "breadcrumb",
    "sidebar",
    "widget",
    "author-box",
];

/// How a "see also" block starts, after normalisation.
const SEE_ALSO: &[&str] =
    &["اقرا ايضا", "اقرا كذلك", "اقرا المزيد", "شاهد ايضا", "طالع ايضا", "اقرا اكثر", "مواضيع ذات صله"];

fn marked(token: &str) -> bool {
    let t = token.to_ascii_lowercase();
    t == "ad"
        || t == "ads"
        || t.starts_with("ad-")
        || t.starts_with("ads-")
        || t.ends_with("-ad")
        || t.ends_with("-ads")
        || MARKERS.iter().any(|m| {
            t == *m || t.starts_with(&format!("{m}-")) || t.ends_with(&format!("-{m}")) || t.contains(&format!("-{m}-"))
        })
}

fn is_marked(e: &ElementRef<'_>) -> bool {
    let v = e.value();
    v.classes().any(marked) || v.id().is_some_and(|id| id.split(['-', '_']).any(marked) || marked(id))
}

/// How many nodes under an element are looked at to read its text: captions and «اقرأ أيضا»
/// lines are small, and a bound keeps hostile, deeply nested pages linear.
const LOOK: usize = 200;

/// The element's text, whitespace collapsed, if it is small (`None` for a big container).
fn small_text(e: &ElementRef<'_>) -> Option<String> {
    let mut parts = Vec::new();
    for (seen, node) in e.descendants().enumerate() {
        if seen >= LOOK {
            return None;
        }
        if let scraper::Node::Text(t) = node.value() {
            parts.push(&**t);
        }
    }
    Some(parts.join(" ").split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Figures, captions and pictures under `root`.
pub fn media(doc: &Html, root: NodeId) -> Vec<NodeId> {
    let (Some(root), Ok(media)) = (doc.tree.get(root).and_then(ElementRef::wrap), Selector::parse(MEDIA)) else {
        return Vec::new();
    };
    root.select(&media).map(|e| e.id()).collect()
}

/// The junk under `root` to drop: code and forms, marked boilerplate, «اقرأ أيضا» blocks and
/// paragraphs that repeat a caption.
pub fn find(doc: &Html, root: NodeId) -> Vec<NodeId> {
    let Some(root) = doc.tree.get(root).and_then(ElementRef::wrap) else { return Vec::new() };
    let mut drop: Vec<NodeId> = Vec::new();
    if let Ok(never) = Selector::parse(NEVER) {
        drop.extend(root.select(&never).map(|e| e.id()));
    }
    // Captions: the texts of figcaptions and image alt texts, found again as paragraphs.
    let mut captions: HashSet<String> = HashSet::new();
    if let Ok(s) = Selector::parse("figcaption, img[alt]") {
        for e in root.select(&s) {
            let t = if e.value().name() == "img" {
                e.value().attr("alt").unwrap_or_default().to_owned()
            } else {
                small_text(&e).unwrap_or_default()
            };
            let t = t.split_whitespace().collect::<Vec<_>>().join(" ");
            if t.chars().count() >= 8 {
                captions.insert(t);
            }
        }
    }
    for node in root.descendants() {
        let Some(e) = ElementRef::wrap(node) else { continue };
        if e.id() == root.id() {
            continue;
        }
        if is_marked(&e) {
            drop.push(e.id());
            continue;
        }
        if matches!(e.value().name(), "p" | "div" | "ul" | "section" | "span" | "strong" | "h3" | "h4")
            && let Some(text) = small_text(&e)
        {
            let normalized = crate::arabic::normalize(&text);
            let see_also =
                SEE_ALSO.iter().any(|p| normalized.trim_start_matches(['«', '(', '-', '—', ' ']).starts_with(p));
            if (see_also && text.chars().count() < 400) || (!text.is_empty() && captions.contains(&text)) {
                drop.push(e.id());
            }
        }
    }
    drop
}

/// Detaches the nodes (skipping any already gone with an ancestor).
pub fn remove(doc: &mut Html, ids: &[NodeId]) {
    for id in ids {
        if let Some(mut node) = doc.tree.get_mut(*id) {
            node.detach();
        }
    }
}

/// All the text left in the document.
#[cfg(test)]
fn visible_text(doc: &Html) -> String {
    doc.tree
        .root()
        .descendants()
        .filter_map(|n| match n.value() {
            scraper::Node::Text(t) => Some(t.to_string()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(html: &str) -> String {
        let mut doc = Html::parse_fragment(html);
        let root = doc.root_element().id();
        let mut ids = find(&doc, root);
        ids.extend(media(&doc, root));
        remove(&mut doc, &ids);
        visible_text(&doc).split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn ads_share_bars_related_lists_and_repeated_captions_go() {
        let out = clean(
            r#"<div><p>الفقرة الأولى.</p>
            <div class="ad-slot">ad ad ad</div><div id="share-bar">شارك</div>
            <figure><img alt="قوات عراقية في الأنبار" src="a.jpg"><figcaption>قوات عراقية في الأنبار</figcaption></figure>
            <p>قوات عراقية في الأنبار</p>
            <p><strong>اقرأ أيضًا:</strong> <a href="x">خبر آخر</a></p>
            <ul class="related-news"><li>عنوان</li></ul>
            <p>الفقرة الأخيرة.</p></div>"#,
        );
        assert_eq!(out, "الفقرة الأولى. الفقرة الأخيرة.");
    }

    #[test]
    fn words_that_merely_contain_ad_are_kept() {
        let out = clean(
            r#"<div><p class="lead">مقدمة</p><div class="header-read">نص</div><p class="thread">متابعة</p></div>"#,
        );
        assert_eq!(out, "مقدمة نص متابعة");
    }
}
