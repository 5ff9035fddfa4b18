//! Per-source CSS selectors for article pages, parsed once when the configuration is read.

use scraper::Selector;
use serde::Deserialize;

/// How to read an article page of one source. Each selector is optional: what it does not give
/// comes from the page's metadata or the readability fallback.
#[derive(Debug, Clone, Default)]
pub struct ArticleSelectors {
    pub title: Option<Selector>,
    /// The element holding the printed date line (e.g. «الإثنين 12/أبريل/2021 - 10:18 ص»).
    pub date: Option<Selector>,
    pub author: Option<Selector>,
    pub section: Option<Selector>,
    pub body: Option<Selector>,
    /// The links or items of the page's keyword block.
    pub keywords: Option<Selector>,
    /// Boilerplate removed from the body before it is stored: ad slots, print and share links,
    /// image captions, related-article lists.
    pub remove: Vec<Selector>,
}

/// The CSS text of a source's selectors as an operator writes them (`[sources.selectors]` in
/// `nashra.toml`, or a test fixture's JSON): the listing page's, then the article page's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectorsCss {
    /// The links to articles on a listing page.
    pub links: Option<String>,
    /// The listing page's link to the next page.
    pub next: Option<String>,
    pub title: Option<String>,
    pub date: Option<String>,
    pub author: Option<String>,
    pub section: Option<String>,
    pub body: Option<String>,
    pub keywords: Option<String>,
    #[serde(default)]
    pub remove: Vec<String>,
}

/// A selector that is not valid CSS: its field (`remove[2]` for a list item), what was written,
/// and why it cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSelector {
    pub field: String,
    pub css: String,
    pub reason: String,
}

impl ArticleSelectors {
    /// Parses the article-page selectors of `css`; on failure, every one that is not valid CSS.
    pub fn parse(css: &SelectorsCss) -> Result<Self, Vec<BadSelector>> {
        let mut bad = Vec::new();
        let mut one = |field: String, text: &str| match Selector::parse(text) {
            Ok(s) => Some(s),
            Err(e) => {
                bad.push(BadSelector { field, css: text.to_owned(), reason: format!("not a valid CSS selector: {e}") });
                None
            }
        };
        let mut field = |name: &str, text: &Option<String>| text.as_deref().and_then(|t| one(name.to_owned(), t));
        let selectors = ArticleSelectors {
            title: field("title", &css.title),
            date: field("date", &css.date),
            author: field("author", &css.author),
            section: field("section", &css.section),
            body: field("body", &css.body),
            keywords: field("keywords", &css.keywords),
            remove: Vec::new(),
        };
        let remove = css.remove.iter().enumerate().filter_map(|(i, t)| one(format!("remove[{i}]"), t)).collect();
        if bad.is_empty() { Ok(ArticleSelectors { remove, ..selectors }) } else { Err(bad) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_invalid_selector_is_named_by_its_field() {
        let css = SelectorsCss {
            title: Some("h1.title".into()),
            date: Some("..date".into()),
            remove: vec![".ad".into(), "figure >".into()],
            ..SelectorsCss::default()
        };
        let bad = ArticleSelectors::parse(&css).unwrap_err();
        let fields: Vec<_> = bad.iter().map(|b| (b.field.as_str(), b.css.as_str())).collect();
        assert_eq!(fields, [("date", "..date"), ("remove[1]", "figure >")]);
        assert!(bad[0].reason.starts_with("not a valid CSS selector"), "{:?}", bad[0]);
    }

    #[test]
    fn valid_css_gives_every_selector() {
        let css = SelectorsCss {
            body: Some(".article-body".into()),
            remove: vec![".ad".into(), "figure".into()],
            ..SelectorsCss::default()
        };
        let s = ArticleSelectors::parse(&css).unwrap();
        assert!(s.body.is_some() && s.title.is_none());
        assert_eq!(s.remove.len(), 2);
    }
}
