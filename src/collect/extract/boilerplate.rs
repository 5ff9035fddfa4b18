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
    "caption",
    "markets",
    "quotes",
];

/// Small texts that are labels, not article text (normalised): the ad slot's «إعلان».
const LABELS: &[&str] = &["اعلان", "- اعلان -", "اعلانات", "advertisement", "ad", "مساحه اعلانيه"];

/// How the comment-policy and sign-up paragraphs start, after normalisation.
const POLICY: &[&str] = &[
    "التعليقات المنشوره",
    "جميع التعليقات",
    "نرحب بتعليقاتكم",
    "يرجي الالتزام",
    "الاراء الوارده في التعليقات",
    "اشترك في النشره",
    "اشترك في نشرتنا",
    "سجل بريدك",
    "تابعونا علي",
    "تابعوا اخر الاخبار",
    "جميع الحقوق محفوظه",
];

/// Disclaimers, wherever they sit in a short paragraph (normalised).
const DISCLAIMERS: &[&str] =
    &["لاغراض اعلاميه فقط", "لا تمثل توصيه", "لا يعبر عن راي الموقع", "لا تعبر عن راي الموقع", "يعبر عن راي كاتبه"];

/// Bylines' lead-in words (normalised).
const BYLINE: &[&str] = &["كتب", "كتبت", "بقلم", "اعداد", "تقرير", "المحرر"];

/// What became a field of the article (its date line, its author), in matching form: an
/// element of the body that only shows it is dropped.
#[derive(Debug, Default)]
pub struct Fields {
    date_line: Option<String>,
    author: Option<String>,
}

impl Fields {
    pub fn new(date_line: Option<&str>, author: Option<&str>) -> Self {
        let norm = |s: Option<&str>| s.map(crate::arabic::normalize).filter(|n| !n.is_empty());
        Fields { date_line: norm(date_line), author: norm(author) }
    }

    /// Whether `text` (normalised, small) is only a byline or the date line, with a lead-in.
    fn shown_in(&self, text: &str) -> bool {
        let (date, author) = (self.date_line.as_deref(), self.author.as_deref());
        let rest = |whole: &str| text.chars().count() <= whole.chars().count() + 40;
        let byline_word = BYLINE.iter().any(|w| {
            text.strip_prefix(w).is_some_and(|r| r.starts_with(|c: char| c.is_whitespace() || matches!(c, ':' | '-')))
        });
        date.is_some_and(|d| text.contains(d) && rest(d))
            || author.is_some_and(|a| (text == a || (byline_word && text.contains(a))) && rest(a))
            || (byline_word && text.chars().count() <= 60)
    }
}

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

/// A marked element that holds the headline or several long paragraphs is the article's
/// container with an unlucky class («main has-sidebar», «post-tags-area»), not boilerplate.
fn holds_the_article(e: &ElementRef<'_>) -> bool {
    let Ok(s) = Selector::parse("h1, p") else { return false };
    let mut long = 0;
    for x in e.select(&s) {
        if x.value().name() == "h1" {
            return true;
        }
        if x.text().map(|t| t.chars().count()).sum::<usize>() >= 100 {
            long += 1;
            if long >= 3 {
                return true;
            }
        }
    }
    false
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
pub fn find(doc: &Html, root: NodeId, fields: &Fields) -> Vec<NodeId> {
    let Some(root) = doc.tree.get(root).and_then(ElementRef::wrap) else { return Vec::new() };
    let mut drop: Vec<NodeId> = Vec::new();
    if let Ok(never) = Selector::parse(NEVER) {
        // A page-wide `<form>` (ASP.NET wraps the whole body in one) holds the article.
        drop.extend(root.select(&never).filter(|e| !holds_the_article(e)).map(|e| e.id()));
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
        if is_marked(&e) && !holds_the_article(&e) {
            drop.push(e.id());
            continue;
        }
        if matches!(
            e.value().name(),
            "p" | "div" | "ul" | "section" | "span" | "strong" | "h3" | "h4" | "time" | "small"
        ) && let Some(text) = small_text(&e)
        {
            let normalized = crate::arabic::normalize(&text);
            let lead = normalized.trim_start_matches(['«', '(', '-', '—', ' ']);
            let see_also = SEE_ALSO.iter().any(|p| lead.starts_with(p));
            // A disclaimer may sit anywhere in its paragraph, but only a paragraph: a container
            // that holds one holds the article too.
            let paragraph = matches!(e.value().name(), "p" | "small" | "span");
            let policy = POLICY.iter().any(|p| lead.starts_with(p))
                || (paragraph && DISCLAIMERS.iter().any(|d| lead.contains(d)));
            let label = LABELS.contains(&normalized.trim());
            // A byte-order mark or other invisible text alone: an empty paragraph.
            let blank = e.value().name() == "p" && normalized.trim().is_empty() && !text.is_empty();
            let short = text.chars().count() < 400;
            if ((see_also || policy) && short)
                || label
                || blank
                || fields.shown_in(&normalized)
                || (!text.is_empty() && captions.contains(&text))
            {
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
        let mut ids = find(&doc, root, &Fields::default());
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
    fn labels_bylines_date_lines_and_policies_go_and_the_text_stays() {
        let mut doc = Html::parse_fragment(
            "<div><p>كتب: أحمد علي</p><p><time>الإثنين 12/أبريل/2021 - 10:18 ص</time></p>\
             <p>نشر في: الإثنين 12/أبريل/2021 - 10:18 ص</p><div class=\"x\">إعلان</div><p>\u{FEFF}</p>\
             <p>الفقرة الأولى عن أحمد علي وزيارته يوم الإثنين 12/أبريل/2021 - 10:18 ص إلى بغداد في مهمة رسمية طويلة.</p>\
             <p>التعليقات المنشورة لا تعبر عن رأي الموقع.</p><p>الفقرة الأخيرة.</p></div>",
        );
        let root = doc.root_element().id();
        let fields = Fields::new(Some("الإثنين 12/أبريل/2021 - 10:18 ص"), Some("أحمد علي"));
        let ids = find(&doc, root, &fields);
        remove(&mut doc, &ids);
        let out = visible_text(&doc).split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(
            out,
            "الفقرة الأولى عن أحمد علي وزيارته يوم الإثنين 12/أبريل/2021 - 10:18 ص إلى بغداد في مهمة رسمية طويلة. الفقرة الأخيرة."
        );
    }

    #[test]
    fn a_container_with_an_unlucky_class_keeps_the_article() {
        let para =
            "جملة طويلة من نص المقال تتكرر لتبلغ طول الفقرة الحقيقية في صفحة خبر عربي منشور على موقع إخباري كبير.";
        assert!(para.chars().count() >= 100);
        let out = clean(&format!(
            "<div class=\"main has-sidebar\"><h1>العنوان</h1><p>{para}</p><p>{para}</p></div>\
             <div class=\"post-tags\"><p>{para}</p><p>{para}</p><p>{para}</p></div><div class=\"sidebar\">جانبي</div>"
        ));
        assert!(
            out.starts_with("العنوان") && out.matches("جملة طويلة").count() == 5 && !out.contains("جانبي"),
            "{out}"
        );
        // ASP.NET wraps the whole page in one form.
        let out = clean(&format!("<form id=\"form1\"><h1>العنوان</h1><p>{para}</p><form><input></form></form>"));
        assert!(out.starts_with("العنوان") && out.contains("جملة طويلة"), "{out}");
    }

    #[test]
    fn words_that_merely_contain_ad_are_kept() {
        let out = clean(
            r#"<div><p class="lead">مقدمة</p><div class="header-read">نص</div><p class="thread">متابعة</p></div>"#,
        );
        assert_eq!(out, "مقدمة نص متابعة");
    }
}
