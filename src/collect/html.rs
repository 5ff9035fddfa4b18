//! `html` sources: listing pages (following the `next` link up to `max_pages`) whose links lead
//! to article pages. An unchanged first listing page (304) ends the pass: nothing else is fetched.

use std::collections::HashSet;

use scraper::{Html, Selector};
use url::Url;

use super::PageError;
use super::extract::absolute;
use super::fetch::Validators;
use super::pass::{Hint, Pass};

/// The links matched by `selector` on a page, absolute, without duplicates, in page order.
pub fn links(html: &str, page_url: &Url, selector: &Selector) -> Vec<Url> {
    if super::extract::depth::depth(html, super::extract::depth::MAX_DEPTH) > super::extract::depth::MAX_DEPTH {
        return Vec::new();
    }
    let doc = Html::parse_document(html);
    let mut seen = HashSet::new();
    doc.select(selector)
        .filter_map(|a| absolute(page_url, a.value().attr("href")?).and_then(|u| Url::parse(&u).ok()))
        .filter(|u| seen.insert(u.clone()))
        .collect()
}

/// Reads the listing pages and the articles they link to. `Err` means the source could not be
/// read at all (its first listing page failed); other failures are in the pass's report.
pub async fn collect(
    pass: &mut Pass<'_>,
    url: &Url,
    link_selector: &Selector,
    next: Option<&Selector>,
    max_pages: u32,
) -> Result<(), PageError> {
    let mark = pass.mark();
    let mut page_url = url.clone();
    let mut article_links: Vec<Url> = Vec::new();
    let mut seen: HashSet<Url> = HashSet::new();
    let mut listings: Vec<(Url, Validators)> = Vec::new();
    for depth in 0..max_pages {
        let page = match pass.fetch(&page_url).await {
            Ok(Some(page)) => page,
            // Unchanged since the last good pass: so are the articles it lists.
            Ok(None) if depth == 0 => return Ok(()),
            Ok(None) => break,
            Err(e) if depth == 0 => return Err(PageError::fetch(&page_url, &e)),
            Err(e) => {
                pass.error(PageError::fetch(&page_url, &e));
                break;
            }
        };
        article_links
            .extend(links(&page.body, &page.url, link_selector).into_iter().filter(|l| seen.insert(l.clone())));
        let next_page = next.and_then(|n| links(&page.body, &page.url, n).into_iter().next());
        listings.push((page_url.clone(), page.validators));
        match next_page {
            Some(next_url) if !listings.iter().any(|(u, _)| *u == next_url) => page_url = next_url,
            _ => break,
        }
    }
    if article_links.is_empty() {
        return Err(PageError::new(url, "the listing page has no article links (check selectors.links)"));
    }
    article_links.truncate(pass.source.max_articles as usize);
    pass.articles(article_links.into_iter().map(|link| (link, Hint::default())).collect()).await;
    pass.remember_if_settled(mark, &listings).await;
    Ok(())
}
