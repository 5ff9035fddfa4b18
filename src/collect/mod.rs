//! The collect stage: sources → articles. Each configured source is fetched (politely: one
//! client, time-outs, a body cap), its pages read into `NewArticle`s, each article tagged with its
//! keywords and upserted by canonical URL. A page or source that fails is reported with its source
//! and URL and skipped; the other pages and sources carry on, and nothing stored is lost.
//! This stage must not build feeds or send mail: it only writes articles.

mod extract;
mod feed;
mod fetch;
mod html;
mod selectors;
mod text;

use std::fmt::Display;

use chrono::{DateTime, Utc};
use url::Url;

pub use extract::{ExtractError, Extracted, extract};
pub use fetch::{FetchError, Fetched, Fetcher, decode};
pub use selectors::Selectors;
pub use text::{html_to_text, truncate_graphemes};

use crate::config::{Config, Source, SourceKind};
use crate::keywords::Vocabulary;
use crate::store::{Store, StoreError, Upserted};

/// A page (or feed entry) that could not be used, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url}: {reason}")]
pub struct PageError {
    pub url: String,
    pub reason: String,
}

impl PageError {
    pub fn new(url: &Url, reason: impl Display) -> Self {
        Self { url: url.to_string(), reason: reason.to_string() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("no source is called {0:?} in the configuration")]
    UnknownSource(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one collection pass did for one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceReport {
    pub source: String,
    pub inserted: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// The source could not be read at all (its listing page or feed failed).
    pub failed: bool,
    /// Every page or source error, each naming its URL.
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectReport {
    pub sources: Vec<SourceReport>,
}

impl CollectReport {
    pub fn inserted(&self) -> usize {
        self.sources.iter().map(|s| s.inserted).sum()
    }

    pub fn updated(&self) -> usize {
        self.sources.iter().map(|s| s.updated).sum()
    }

    pub fn errors(&self) -> usize {
        self.sources.iter().map(|s| s.errors.len()).sum()
    }

    pub fn summary(&self) -> String {
        let unchanged: usize = self.sources.iter().map(|s| s.unchanged).sum();
        format!(
            "{} source(s): {} new, {} updated, {} unchanged, {} error(s)",
            self.sources.len(),
            self.inserted(),
            self.updated(),
            unchanged,
            self.errors()
        )
    }
}

/// One collection pass over every enabled source (or only the one called `only`).
pub async fn collect(
    store: &Store,
    config: &Config,
    fetcher: &Fetcher,
    vocabulary: &Vocabulary,
    only: Option<&str>,
    now: DateTime<Utc>,
) -> Result<CollectReport, CollectError> {
    if let Some(name) = only
        && !config.sources.iter().any(|s| s.name == name)
    {
        return Err(CollectError::UnknownSource(name.to_owned()));
    }
    let mut report = CollectReport::default();
    for source in config.sources.iter().filter(|s| match only {
        Some(name) => s.name == name,
        None => s.enabled,
    }) {
        report.sources.push(collect_source(store, fetcher, vocabulary, source, now).await?);
    }
    Ok(report)
}

async fn collect_source(
    store: &Store,
    fetcher: &Fetcher,
    vocabulary: &Vocabulary,
    source: &Source,
    now: DateTime<Utc>,
) -> Result<SourceReport, StoreError> {
    let id = store.ensure_source(&source.name, source.kind.name(), source.url.as_str(), now).await?;
    let mut report = SourceReport { source: source.name.clone(), ..Default::default() };
    let pages = match &source.kind {
        SourceKind::Html(selectors) => html::collect(fetcher, source, selectors, now).await,
        SourceKind::Feed => match fetcher.get(&source.url).await {
            Ok(doc) => feed::articles(&doc.body, &doc.url, source.max_articles as usize),
            Err(e) => Err(PageError::new(&source.url, e)),
        },
    };
    let pages = match pages {
        Ok(pages) => pages,
        Err(e) => {
            tracing::warn!(source = %source.name, url = %e.url, "source failed: {}", e.reason);
            store.record_source_poll(id, now, Some(&e.to_string())).await?;
            report.failed = true;
            report.errors.push(e.to_string());
            return Ok(report);
        }
    };
    for page in pages {
        let article = match page {
            Ok(article) => article,
            Err(e) => {
                tracing::warn!(source = %source.name, url = %e.url, "page skipped: {}", e.reason);
                report.errors.push(e.to_string());
                continue;
            }
        };
        let stored = match vocabulary.tag(store, &article, now).await {
            Ok(keywords) => store.upsert_article(id, &article, &keywords, now).await,
            Err(e) => Err(e),
        };
        match stored {
            Ok(Upserted::Inserted(_)) => report.inserted += 1,
            Ok(Upserted::Updated(_)) => report.updated += 1,
            Ok(Upserted::Unchanged(_)) => report.unchanged += 1,
            // Kept for the next pass: the page is still on the site.
            Err(e) => {
                tracing::error!(source = %source.name, url = %article.url, "article not stored: {e}");
                report.errors.push(format!("{}: not stored: {e}", article.url));
            }
        }
    }
    store.record_source_poll(id, now, None).await?;
    tracing::info!(
        source = %source.name,
        inserted = report.inserted,
        updated = report.updated,
        unchanged = report.unchanged,
        errors = report.errors.len(),
        "source collected"
    );
    Ok(report)
}
