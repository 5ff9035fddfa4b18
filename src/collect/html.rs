//! `html` sources: listing pages (following the `next` link up to `max_pages`) whose links lead
//! to article pages. An unchanged first listing page (304) ends the pass: nothing else is fetched.

use scraper::{Html, Selector};
use url::Url;

use super::PageError;
use super::extract::absolute;
use super::pass::{Hint, Pass};

/// The links matched by `selector` on a page, absolute, without duplicates, in page order.
pub fn links(html: &str, page_url: &Url, selector: &Selector) -> Vec<Url> {
    let doc = Html::parse_document(html);
    let mut links: Vec<Url> = Vec::new();
    for a in doc.select(selector) {
        let Some(href) = a.value().attr("href") else { continue };
        let Some(url) = absolute(page_url, href).and_then(|u| Url::parse(&u).ok()) else { continue };
        if !links.contains(&url) {
            links.push(url);
        }
    }
    links
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
    let mut page_url = url.clone();
    let mut article_links: Vec<Url> = Vec::new();
    let mut listings = Vec::new();
    for depth in 0..max_pages {
        let page = match pass.fetch(&page_url).await {
            Ok(Some(page)) => page,
            // Unchanged since the last good pass: so are the articles it lists.
            Ok(None) if depth == 0 => return Ok(()),
            Ok(None) => break,
            Err(e) if depth == 0 => return Err(PageError::new(&page_url, e)),
            Err(e) => {
                pass.error(PageError::new(&page_url, e));
                break;
            }
        };
        for link in links(&page.body, &page.url, link_selector) {
            if !article_links.contains(&link) {
                article_links.push(link);
            }
        }
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
    let errors_before = pass.report.errors.len();
    pass.articles(article_links.into_iter().map(|link| (link, Hint::default())).collect()).await;
    // Only a listing whose every article was handled is remembered as seen.
    if pass.report.errors.len() == errors_before {
        for (url, validators) in &listings {
            pass.remember(url, validators).await;
        }
    }
    Ok(())
}
