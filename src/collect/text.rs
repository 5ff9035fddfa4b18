//! Article body clean-up shared by every source kind: sanitised HTML (ammonia: no scripts, styles,
//! event handlers or `javascript:` links; relative links made absolute), a plain-text copy with
//! paragraph breaks, and a short summary cut at a grapheme boundary.

use scraper::{Html, Node};
use unicode_segmentation::UnicodeSegmentation;
use url::Url;

/// Elements that start a new paragraph in the plain-text copy.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "blockquote",
    "figure",
    "figcaption",
    "table",
    "tr",
    "pre",
    "header",
    "footer",
    "aside",
    "hr",
];

/// The summary length, in graphemes.
const SUMMARY_GRAPHEMES: usize = 280;

pub fn sanitize_html(html: &str, base: &Url) -> String {
    ammonia::Builder::default()
        .url_relative(ammonia::UrlRelative::RewriteWithBase(base.clone()))
        .link_rel(Some("noopener noreferrer"))
        .clean(html)
        .to_string()
        .trim()
        .to_owned()
}

/// Plain text of an HTML fragment: one paragraph per block element, whitespace collapsed.
pub fn html_to_text(html: &str) -> String {
    let fragment = Html::parse_fragment(html);
    let mut raw = String::with_capacity(html.len() / 2);
    for node in fragment.tree.root().descendants() {
        match node.value() {
            Node::Text(t) => raw.push_str(t),
            Node::Element(e) if BLOCKS.contains(&e.name()) => raw.push_str("\n\n"),
            Node::Element(e) if e.name() == "br" => raw.push('\n'),
            _ => {}
        }
    }
    raw.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The first paragraph, cut to a readable length on a word boundary.
pub fn summarize(text: &str) -> Option<String> {
    let first = text.split("\n\n").find(|p| !p.trim().is_empty())?.trim();
    Some(truncate_graphemes(first, SUMMARY_GRAPHEMES))
}

/// Cuts `text` to at most `max` graphemes, preferring the last word boundary, with an ellipsis.
pub fn truncate_graphemes(text: &str, max: usize) -> String {
    if text.graphemes(true).count() <= max {
        return text.to_owned();
    }
    let cut: String = text.graphemes(true).take(max).collect();
    let cut = match cut.rfind(char::is_whitespace) {
        Some(i) if i > cut.len() / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{}…", cut.trim_end_matches(|c: char| c.is_whitespace() || c == '،' || c == ','))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_handlers_are_removed_and_links_made_absolute() {
        let base = Url::parse("https://example.org/a/b.html").unwrap();
        let out = sanitize_html(
            r#"<p onclick="x()">نص <a href="../c.html">رابط</a></p><script>alert(1)</script><a href="javascript:x()">x</a>"#,
            &base,
        );
        assert!(!out.contains("script") && !out.contains("onclick") && !out.contains("javascript"), "{out}");
        assert!(out.contains(r#"href="https://example.org/c.html""#), "{out}");
    }

    #[test]
    fn text_keeps_paragraphs_and_headings_apart() {
        let text = html_to_text("<p>الأول   هنا</p><h2>عنوان</h2><p>الثاني<br>سطر</p>");
        assert_eq!(text, "الأول هنا\n\nعنوان\n\nالثاني سطر");
    }

    #[test]
    fn truncation_counts_graphemes_not_bytes() {
        let word = "العِراقُ "; // letters with harakat: more bytes and chars than graphemes
        let text = word.repeat(100);
        let cut = truncate_graphemes(&text, 40);
        assert!(cut.ends_with('…'));
        assert!(cut.graphemes(true).count() <= 41);
        assert!(cut.starts_with("العِراقُ"));
    }
}
