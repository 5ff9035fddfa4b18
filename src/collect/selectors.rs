//! Per-source CSS selectors for `html` sources, parsed once when the configuration is read.

use scraper::Selector;

#[derive(Debug, Clone)]
pub struct Selectors {
    /// The article links on the listing page.
    pub links: Selector,
    pub title: Option<Selector>,
    /// The element holding the printed date line (e.g. «الإثنين 12/أبريل/2021 - 10:18 ص»).
    pub date: Option<Selector>,
    pub author: Option<Selector>,
    pub section: Option<Selector>,
    pub body: Option<Selector>,
    /// The links or items of the page's keyword block.
    pub keywords: Option<Selector>,
    /// Boilerplate removed from the body before it is stored: ad slots, print and share links,
    /// image captions.
    pub remove: Vec<Selector>,
}
