//! The collect stage: sources → articles. Each configured source is polled politely (see
//! `fetch`), its pages read into `NewArticle`s (see `extract`), each article tagged with its
//! keywords and upserted (deduplicated by canonical URL, then GUID, then content). A page or
//! source that fails is reported with its source and URL and skipped; the other pages and
//! sources carry on, and nothing stored is lost. A source that keeps failing is polled less
//! often, and the state survives restarts. This stage only writes articles: no feeds, no mail.

mod extract;
mod feed;
mod fetch;
mod html;
mod pass;
mod push;
mod sitemap;
mod text;

use std::fmt::Display;

use tracing::Instrument as _;

use chrono::{DateTime, Duration, Utc};
use url::Url;

pub use crate::spec::{ArticleSelectors, BadSelector, SelectorsCss};
pub use extract::{ExtractError, Extracted, extract};
pub use feed::{FeedEntry, read_feed};
pub use fetch::{AllowedOrigins, Fetch, FetchError, FetchOptions, Fetched, Fetcher, Validators, decode};
pub use push::{FieldError, MAX_ARTICLES as MAX_PUSHED_ARTICLES, parse_push};
pub use sitemap::{Sitemap, SitemapUrl, read_sitemap};
pub use text::{html_to_text, truncate_graphemes};

use crate::config::{Config, Source, SourceKind};
use crate::keywords::Vocabulary;
use crate::store::{NewArticle, SourceId, Store, StoreError, StoreResult, Upserted};
use pass::Pass;

/// A page (or feed entry) that could not be used, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{url}: {reason}")]
pub struct PageError {
    pub url: String,
    pub reason: String,
    /// Another try may do better (a time-out, a 5xx, the store was busy); a page that is simply
    /// unusable (404, no date) is not.
    pub temporary: bool,
}

impl PageError {
    pub fn new(url: &Url, reason: impl Display) -> Self {
        Self { url: url.to_string(), reason: reason.to_string(), temporary: false }
    }

    pub fn fetch(url: &Url, error: &FetchError) -> Self {
        Self { temporary: error.is_temporary(), ..Self::new(url, error) }
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
    /// The source could not be read at all (its listing page, feed or sitemap failed).
    pub failed: bool,
    /// Not polled: it failed recently and waits until then.
    pub postponed_until: Option<DateTime<Utc>>,
    /// Every page or source error, each naming its URL.
    pub errors: Vec<String>,
    /// Pages stored without a date they could give (kept with the time first seen).
    pub undated: Vec<String>,
}

impl SourceReport {
    /// Nothing came of the source but errors: it could not be read, or every page it listed
    /// failed (a changed layout, say) — a pass an operator must hear about.
    pub fn came_to_nothing(&self) -> bool {
        self.failed || (!self.errors.is_empty() && self.inserted + self.updated + self.unchanged == 0)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectReport {
    pub sources: Vec<SourceReport>,
}

impl CollectReport {
    /// Why the pass counts as failed: sources that came to nothing (see
    /// [`SourceReport::came_to_nothing`]), each with its first error.
    pub fn failure(&self) -> Option<String> {
        let failed: Vec<String> = self
            .sources
            .iter()
            .filter(|s| s.came_to_nothing())
            .map(|s| match s.errors.first() {
                Some(e) => format!("{}: {e}", s.source),
                None => format!("{}: could not be read", s.source),
            })
            .collect();
        (!failed.is_empty()).then(|| format!("nothing but errors from {}", failed.join("; ")))
    }

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
        let postponed = self.sources.iter().filter(|s| s.postponed_until.is_some()).count();
        let mut s = format!(
            "{} source(s): {} new, {} updated, {} unchanged, {} error(s)",
            self.sources.len(),
            self.inserted(),
            self.updated(),
            unchanged,
            self.errors()
        );
        let undated: usize = self.sources.iter().map(|s| s.undated.len()).sum();
        if undated > 0 {
            s.push_str(&format!(", {undated} undated (kept with the time first seen)"));
        }
        if postponed > 0 {
            s.push_str(&format!(", {postponed} postponed after failures"));
        }
        s
    }
}

/// The origins of the operator's sources (scheme, host and port), which the fetcher may reach
/// even when they are not public addresses. Not the site's own `base_url`: nashra never needs to
/// fetch from itself.
pub fn allowed_origins(config: &Config) -> AllowedOrigins {
    AllowedOrigins::new(config.sources.iter().filter_map(|s| s.kind.url()))
}

/// Tags one article (its keyword block and the vocabulary in its text) and stores it for the
/// source: the one way every kind of source — polled or pushed — writes an article.
pub async fn ingest(
    store: &Store,
    vocabulary: &Vocabulary,
    source: SourceId,
    article: &NewArticle,
    now: DateTime<Utc>,
) -> StoreResult<Upserted> {
    let keywords = vocabulary.tag(store, article, now).await?;
    store.upsert_article(source, article, &keywords, now).await
}

/// The wait before a source that failed `failures` times in a row is polled again by the
/// scheduler: 1, 2, 4 … minutes, at most 6 hours (or longer if the server asked for it).
fn backoff(failures: i64) -> Duration {
    Duration::minutes((1i64 << failures.clamp(0, 9)).min(360))
}

/// One collection pass over every enabled source, or — by hand — over the one called `only`,
/// which is polled even if it is waiting after failures.
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
        let Some(url) = source.kind.url() else { continue };
        // A store error fails this source, not the pass: the others carry on.
        let polled = collect_source(store, fetcher, vocabulary, source, url, only.is_some(), now)
            .instrument(tracing::info_span!("source", source = %source.name))
            .await;
        let polled = polled.unwrap_or_else(|e| {
            tracing::error!(source = %source.name, "source not collected: {e}");
            SourceReport {
                source: source.name.clone(),
                failed: true,
                errors: vec![e.to_string()],
                ..Default::default()
            }
        });
        let label = || crate::metrics::Source { source: source.name.clone() };
        let metrics = &crate::metrics::METRICS;
        crate::metrics::count(&metrics.articles_collected, label(), (polled.inserted + polled.updated) as u64);
        crate::metrics::count(&metrics.fetch_errors, label(), polled.errors.len() as u64);
        report.sources.push(polled);
    }
    Ok(report)
}

/// The longest a source is left alone after failures, whatever the server asked for.
const MAX_WAIT: Duration = Duration::days(1);

async fn collect_source(
    store: &Store,
    fetcher: &Fetcher,
    vocabulary: &Vocabulary,
    source: &Source,
    url: &Url,
    by_hand: bool,
    now: DateTime<Utc>,
) -> Result<SourceReport, StoreError> {
    let state = store.ensure_source(&source.name, source.kind.name(), url.as_str(), now).await?;
    if !by_hand && let Some(until) = state.next_poll_at.filter(|t| *t > now) {
        tracing::info!(source = %source.name, %until, "postponed after {} failure(s)", state.failure_count);
        return Ok(SourceReport { source: source.name.clone(), postponed_until: Some(until), ..Default::default() });
    }
    let mut pass = Pass {
        store,
        fetcher,
        vocabulary,
        source,
        source_id: state.id,
        now,
        report: SourceReport { source: source.name.clone(), ..Default::default() },
        last_retry_after: None,
        temporary_failures: 0,
    };
    let outcome = poll(&mut pass, source, state.last_success_at).await;
    let mut report = pass.report;
    match outcome {
        Ok(()) => store.record_source_success(state.id, now).await?,
        Err((e, retry_after)) => {
            let wait = backoff(state.failure_count).max(retry_after.unwrap_or_default()).min(MAX_WAIT);
            let next_poll = now.checked_add_signed(wait).unwrap_or(now);
            tracing::warn!(source = %source.name, url = %e.url, %next_poll, "source failed: {}", e.reason);
            store.record_source_failure(state.id, now, &e.to_string(), next_poll).await?;
            report.failed = true;
            report.errors.insert(0, e.to_string());
        }
    }
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

/// Polls one source; `Err` if it could not be read at all, with any wait the server asked for.
async fn poll(
    pass: &mut Pass<'_>,
    source: &Source,
    last_success: Option<DateTime<Utc>>,
) -> Result<(), (PageError, Option<Duration>)> {
    let result = match &source.kind {
        SourceKind::Html { url, links, next, max_pages } => {
            html::collect(pass, url, links, next.as_ref(), *max_pages).await
        }
        SourceKind::Feed { url, full_article } => feed::collect(pass, url, *full_article).await,
        SourceKind::Sitemap { url } => sitemap::collect(pass, url, last_success).await,
        SourceKind::Push { .. } => Ok(()),
    };
    result.map_err(|e| {
        // Clamped first: a Retry-After of many years must not overflow the date.
        let retry_after = pass.last_retry_after.take().map(|d| d.min(std::time::Duration::from_secs(86_400)));
        (e, retry_after.and_then(|d| Duration::from_std(d).ok()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(inserted: usize, unchanged: usize, failed: bool, errors: &[&str]) -> SourceReport {
        SourceReport {
            source: "s".into(),
            inserted,
            unchanged,
            failed,
            errors: errors.iter().map(|e| (*e).to_owned()).collect(),
            ..SourceReport::default()
        }
    }

    #[test]
    fn a_pass_fails_when_a_source_gives_nothing_but_errors() {
        let only_errors = CollectReport { sources: vec![source(0, 0, false, &["http://x/1: no title found"])] };
        assert_eq!(only_errors.failure().as_deref(), Some("nothing but errors from s: http://x/1: no title found"));
        let unreadable = CollectReport { sources: vec![source(0, 0, true, &[])] };
        assert!(unreadable.failure().is_some());
        for fine in
            [source(1, 0, false, &["http://x/2: no title found"]), source(0, 3, false, &[]), source(0, 0, false, &[])]
        {
            assert_eq!(CollectReport { sources: vec![fine] }.failure(), None);
        }
    }
}
