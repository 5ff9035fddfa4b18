//! Per-source CSS selectors for article pages, parsed once when the configuration is read.

use scraper::Selector;

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
