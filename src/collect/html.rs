//! `html` sources: a listing page whose links (the source's `links` selector) lead to article
//! pages, each read by the extractor with the source's selectors.

use chrono::{DateTime, Utc};
use scraper::Html;
use url::Url;

use super::extract::{absolute, extract};
use super::{Fetcher, PageError, Selectors};
use crate::config::Source;
use crate::store::NewArticle;

/// The article links of a listing page, absolute, without duplicates, in page order.
pub fn listing_links(html: &str, page_url: &Url, selectors: &Selectors, max: usize) -> Vec<Url> {
    let doc = Html::parse_document(html);
    let mut links: Vec<Url> = Vec::new();
    for a in doc.select(&selectors.links) {
        let Some(href) = a.value().attr("href") else {
            continue;
        };
        let Some(url) = absolute(page_url, href).and_then(|u| Url::parse(&u).ok()) else {
            continue;
        };
        if !links.contains(&url) {
            links.push(url);
        }
        if links.len() >= max {
            break;
        }
    }
    links
}

/// Reads the listing page and every linked article. A page that fails is reported and skipped;
/// the listing failing fails the source.
pub async fn collect(
    fetcher: &Fetcher,
    source: &Source,
    selectors: &Selectors,
    now: DateTime<Utc>,
) -> Result<Vec<Result<NewArticle, PageError>>, PageError> {
    let listing = fetcher.get(&source.url).await.map_err(|e| PageError::new(&source.url, e))?;
    let links = listing_links(&listing.body, &listing.url, selectors, source.max_articles as usize);
    if links.is_empty() {
        return Err(PageError::new(&source.url, "the listing page has no article links (check selectors.links)"));
    }
    let mut out = Vec::with_capacity(links.len());
    for link in links {
        out.push(article(fetcher, source, selectors, &link, now).await);
    }
    Ok(out)
}

/// The article's identity: its canonical URL if that is believable — on the page's own host,
/// and not the site's home or the listing page (some CMSs point every page there) — else the
/// URL it was fetched from.
fn trusted_canonical(canonical: Option<&str>, page: &Url, source: &Source) -> String {
    let believable = canonical
        .and_then(|c| Url::parse(c).ok())
        .filter(|c| c.host_str() == page.host_str() && c.path() != "/" && c.as_str() != source.url.as_str());
    believable.map_or_else(|| page.to_string(), |c| c.to_string())
}

async fn article(
    fetcher: &Fetcher,
    source: &Source,
    selectors: &Selectors,
    url: &Url,
    now: DateTime<Utc>,
) -> Result<NewArticle, PageError> {
    let page = fetcher.get(url).await.map_err(|e| PageError::new(url, e))?;
    let x =
        extract(&page.body, &page.url, Some(selectors), source.time_zone, now).map_err(|e| PageError::new(url, e))?;
    let published_at = x.published.ok_or_else(|| {
        PageError::new(url, "no publication date found (selectors.date matched nothing, and no date metadata)")
    })?;
    Ok(NewArticle {
        url: trusted_canonical(x.canonical_url.as_deref(), &page.url, source),
        guid: None,
        title: x.title,
        author: x.author,
        section: x.section,
        summary: x.summary,
        body_html: x.body_html,
        body_text: x.body_text,
        image_url: x.image,
        lang: x.lang,
        published_at,
        updated_at: x.updated,
        tags: x.keywords,
    })
}
