//! One source's collection pass: conditional fetches with the validators of the last good fetch,
//! reading article pages, tagging and storing articles, and the pass's report. The source kinds
//! (`html`, `feed`, `sitemap`) only decide which URLs to read.

use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use url::Url;

use super::extract::extract_with_title;
use super::fetch::{Fetch, FetchError, FetchOptions, Fetched, Validators};
use super::{Fetcher, PageError, SourceReport};
use crate::config::Source;
use crate::keywords::Vocabulary;
use crate::store::{NewArticle, SourceId, Store, Upserted};

/// What a feed entry or a sitemap says about an article before its page is read.
#[derive(Debug, Clone, Default)]
pub struct Hint {
    pub guid: Option<String>,
    pub title: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub summary: Option<String>,
    pub author: Option<String>,
    pub image: Option<String>,
    pub tags: Vec<String>,
}

pub struct Pass<'a> {
    pub store: &'a Store,
    pub fetcher: &'a Fetcher,
    pub vocabulary: &'a Vocabulary,
    pub source: &'a Source,
    pub source_id: SourceId,
    pub now: DateTime<Utc>,
    pub report: SourceReport,
    /// The longest `Retry-After` a failed fetch of this pass came back with.
    pub last_retry_after: Option<std::time::Duration>,
    /// Failures that another pass may not meet (see `remember_if_settled`).
    pub temporary_failures: usize,
}

impl Pass<'_> {
    /// Fetches `url` with the validators saved for it; `None` if the server says it is unchanged.
    pub async fn fetch(&mut self, url: &Url) -> Result<Option<Fetched>, FetchError> {
        let fetched = self.fetch_shared(url).await;
        self.note(&fetched);
        fetched
    }

    /// `fetch` for concurrent use; the caller notes the result.
    async fn fetch_shared(&self, url: &Url) -> Result<Option<Fetched>, FetchError> {
        let saved = match self.store.validators(url.as_str()).await {
            Ok(v) => v.map(|(etag, last_modified)| Validators { etag, last_modified }),
            Err(e) => {
                tracing::warn!("{e}; fetching {url} unconditionally");
                None
            }
        };
        // The switch is for the publisher's own site: other hosts' robots.txt is always honoured.
        let own_host = self.source.kind.url().and_then(Url::host_str) == url.host_str();
        let options =
            FetchOptions { validators: saved.as_ref(), ignore_robots: own_host && !self.source.respect_robots };
        match self.fetcher.fetch(url, options).await? {
            Fetch::Fresh(f) => Ok(Some(f)),
            Fetch::NotModified => Ok(None),
        }
    }

    fn note(&mut self, fetched: &Result<Option<Fetched>, FetchError>) {
        if let Err(e) = fetched {
            self.last_retry_after = self.last_retry_after.max(e.retry_after());
        }
    }

    /// Saves the validators of a document whose content is now safely handled (or forgets old
    /// ones, if the server sent none this time).
    pub async fn remember(&self, url: &Url, validators: &Validators) {
        let saved = if validators.is_empty() {
            self.store.forget_validators(url.as_str()).await
        } else {
            self.store
                .save_validators(
                    url.as_str(),
                    validators.etag.as_deref(),
                    validators.last_modified.as_deref(),
                    self.now,
                )
                .await
        };
        if let Err(e) = saved {
            tracing::warn!("{e}");
        }
    }

    /// A point to compare `remember_if_settled` against.
    pub fn mark(&self) -> usize {
        self.temporary_failures
    }

    /// Saves the validators of listing documents (listing pages, feeds, sitemaps) unless a
    /// temporary failure happened since `mark`: then they are fetched in full next time and what
    /// failed is tried again. A page that is unusable for good does not stop this — it would fail
    /// again, and conditional GET must keep working.
    pub async fn remember_if_settled(&self, mark: usize, documents: &[(Url, Validators)]) {
        if self.temporary_failures == mark {
            for (url, validators) in documents {
                self.remember(url, validators).await;
            }
        }
    }

    pub fn error(&mut self, e: PageError) {
        self.temporary_failures += usize::from(e.temporary);
        tracing::warn!(source = %self.source.name, url = %e.url, "skipped: {}", e.reason);
        self.report.errors.push(e.to_string());
    }

    /// Reads, tags and stores the articles at these URLs; an unchanged page (304) counts as
    /// unchanged. Pages are fetched a few at a time (the fetcher keeps each host's limit and
    /// pace) and stored one by one, a batch at a time so memory stays bounded.
    pub async fn articles(&mut self, items: Vec<(Url, Hint)>) {
        let in_flight = self.fetcher.per_host_concurrency();
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let batch: Vec<(Url, Hint)> = items.by_ref().take(in_flight * 4).collect();
            let this = &*self;
            let fetched: Vec<_> = futures_util::stream::iter(batch)
                .map(|(url, hint)| async move {
                    let page = this.fetch_shared(&url).await;
                    (url, hint, page)
                })
                .buffered(in_flight)
                .collect()
                .await;
            for (url, hint, page) in fetched {
                self.note(&page);
                match page {
                    Ok(Some(page)) => self.keep(&url, &page, &hint).await,
                    Ok(None) => self.report.unchanged += 1,
                    Err(e) => self.error(PageError::fetch(&url, &e)),
                }
            }
        }
    }

    async fn keep(&mut self, url: &Url, page: &Fetched, hint: &Hint) {
        match self.read(page, hint) {
            Ok(article) => {
                let undated = article.undated.then(|| article.url.clone());
                if self.store(article).await {
                    self.report.undated.extend(undated);
                    self.remember(url, &page.validators).await;
                }
            }
            Err(e) => self.error(e),
        }
    }

    fn read(&self, page: &Fetched, hint: &Hint) -> Result<NewArticle, PageError> {
        let x = extract_with_title(
            &page.body,
            &page.url,
            self.source.article.as_ref(),
            self.source.time_zone,
            self.now,
            hint.title.as_deref(),
        )
        .map_err(|e| PageError::new(&page.url, e))?;
        // A page without a date it could read is kept, not lost: stored with the time it was
        // first seen and marked undated (feeds and digests then show no date for it), reported.
        let published_at = publication_time(x.published, x.date_from, hint.published);
        if x.published.is_some() && published_at != x.published {
            tracing::warn!(
                source = %self.source.name,
                url = %page.url,
                "the page's date line ({}) is more than a day from the listing's date; the listing's is kept",
                x.date_text.as_deref().unwrap_or_default()
            );
        }
        if published_at.is_none() {
            tracing::warn!(
                source = %self.source.name,
                url = %page.url,
                "undated: no publication date found (no date metadata, no date line); kept with the time it was first seen"
            );
        }
        let mut tags = x.keywords;
        for t in &hint.tags {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
        Ok(NewArticle {
            url: trusted_canonical(x.canonical_url.as_deref(), &page.url, self.source),
            guid: hint.guid.clone(),
            title: x.title,
            author: x.author.or_else(|| hint.author.clone()),
            section: x.section,
            summary: x.summary.or_else(|| hint.summary.clone()),
            body_html: x.body_html,
            body_text: x.body_text,
            image_url: x.image.or_else(|| hint.image.clone()),
            lang: x.lang,
            published_at: published_at.unwrap_or(self.now),
            undated: published_at.is_none(),
            updated_at: x.updated.or(hint.updated),
            tags,
        })
    }

    /// Tags and stores an article; false if it could not be stored (reported).
    pub async fn store(&mut self, article: NewArticle) -> bool {
        match super::ingest(self.store, self.vocabulary, self.source_id, &article, self.now).await {
            Ok(Upserted::Inserted(_)) => self.report.inserted += 1,
            Ok(Upserted::Updated(_)) => self.report.updated += 1,
            Ok(Upserted::Unchanged(_) | Upserted::Foreign(_)) => self.report.unchanged += 1,
            // Not lost: the page is still on the site, and its validators were not saved.
            Err(e) => {
                tracing::error!(source = %self.source.name, url = %article.url, "article not stored: {e}");
                self.temporary_failures += 1;
                self.report.errors.push(format!("{}: not stored: {e}", article.url));
                return false;
            }
        }
        true
    }
}

/// The publication time from the page (`page`, read from `from`) and from the feed or sitemap
/// that listed it. A date line found unaided is the least sure signal: where the listing dates
/// the article more than a day away, the listing wins (the line was another story's).
fn publication_time(
    page: Option<DateTime<Utc>>,
    from: Option<&str>,
    listed: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    match (page, listed) {
        (Some(line), Some(listed))
            if from == Some(super::extract::DATE_LINE) && (line - listed).num_hours().abs() > 24 =>
        {
            Some(listed)
        }
        (page, listed) => page.or(listed),
    }
}

/// The article's identity: its canonical URL if that is believable — on the page's own host,
/// and not the site's home or the source's own page (some CMSs point every page there) — else
/// the URL it was fetched from.
fn trusted_canonical(canonical: Option<&str>, page: &Url, source: &Source) -> String {
    let source_url = source.kind.url().map(Url::as_str);
    let believable = canonical
        .and_then(|c| Url::parse(c).ok())
        .filter(|c| c.host_str() == page.host_str() && c.path() != "/" && Some(c.as_str()) != source_url);
    believable.unwrap_or_else(|| page.clone()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::extract::DATE_LINE;

    #[test]
    fn a_date_line_found_unaided_gives_way_to_a_listing_that_disagrees() {
        let t = |h: i64| Utc::now() + chrono::Duration::hours(h);
        let (line, listed) = (t(0), t(-72));
        assert_eq!(publication_time(Some(line), Some(DATE_LINE), Some(listed)), Some(listed));
        assert_eq!(publication_time(Some(line), Some(DATE_LINE), Some(t(-3))), Some(line), "within a day: the page's");
        assert_eq!(publication_time(Some(line), Some("json-ld"), Some(listed)), Some(line), "metadata is trusted");
        assert_eq!(publication_time(None, None, Some(listed)), Some(listed));
        assert_eq!(publication_time(Some(line), Some(DATE_LINE), None), Some(line));
        assert_eq!(publication_time(None, None, None), None);
    }
}
