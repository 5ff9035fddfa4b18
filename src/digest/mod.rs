//! The digest stage: one edition of a schedule → one email per active reader with the articles
//! new in the edition's window that match the keywords they follow, grouped by keyword.
//!
//! An edition is identified by its schedule and tick (the scheduled time; for a run by hand, the
//! time of the run), so running it again — after a restart, on another instance, with the same
//! `--now` — plans nothing twice. Each reader gets the articles first stored since their previous
//! digest of the schedule (their cursor; for their first one, since one period before the latest
//! scheduled time), so a reader never gets an article twice whether editions ran on schedule or
//! by hand, and an edition that had nobody to write to takes nothing away from later readers.
//!
//! Planning streams the readers in pages and writes each page (its distinct digest contents,
//! the deliveries, the cursors) in one short transaction under the schedule's planning lease, so
//! memory stays flat at any list size, other writers are never held up for long, and a planner
//! that stops anywhere — killed or asked to stop — is resumed after its last page by the next
//! one. The editions of a schedule are planned one at a time, oldest first. The messages are
//! rendered when they are sent (`Composer`); sending is the delivery stage's job.

mod compose;
mod inline;
mod plan;
mod preview;
mod render;

use std::collections::{HashMap, HashSet};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use tokio_util::sync::CancellationToken;

pub use compose::{Composer, Recipient, confirmation, message_id};
pub use plan::{Section, content_key, parse_content_key, sections};
pub use preview::{Audience, archived_sections, sections_for};
pub use render::{
    ArticleContext, ConfirmContext, DigestContext, EditionContext, ReaderFields, RenderError, RenderedEmail,
    SectionContext, SiteContext, SubscriberContext, Templates,
};

use crate::config::{Config, Edition as EditionConfig};
use crate::store::{
    ArticleId, DigestArticle, Edition, EditionId, KeywordId, PlanLease, PlannedPage, Store, StoreError,
};

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("no digest edition is called {0:?} in the configuration")]
    UnknownEdition(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("edition {0}: another instance kept planning editions of this schedule; try again")]
    Contended(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// The edition was planned now, with this many messages.
    Now { messages: usize, articles: usize },
    /// An edition for this tick exists already.
    Before,
    /// Dry run: this many messages would be planned.
    DryRun { messages: usize, articles: usize },
    /// Planning was asked to stop; the next run resumes it.
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditionOutcome {
    pub edition: String,
    pub tick: DateTime<Utc>,
    /// The edition's row (none for a dry run).
    pub id: Option<EditionId>,
    pub window: (DateTime<Utc>, DateTime<Utc>),
    pub planned: Planned,
}

impl EditionOutcome {
    pub fn summary(&self) -> String {
        let tick = self.tick.to_rfc3339();
        let name = &self.edition;
        match &self.planned {
            Planned::Now { messages, articles } => {
                format!("edition {name} of {tick}: {messages} message(s) planned from {articles} new article(s)")
            }
            Planned::Before => format!("edition {name} of {tick} was planned before; nothing new"),
            Planned::DryRun { messages, articles } => {
                format!("dry run of edition {name} of {tick}: {messages} message(s) from {articles} new article(s)")
            }
            Planned::Stopped => format!("edition {name} of {tick}: planning stopped; it resumes at the next run"),
        }
    }
}

/// How far back a reader's "new since your previous digest" may reach.
const MAX_CATCH_UP: Duration = Duration::days(14);
/// Readers planned per transaction.
const PAGE: u32 = 1000;
/// How long to wait for another instance planning the same schedule.
const WAIT_FOR_PLANNER: StdDuration = StdDuration::from_secs(600);

/// One edition to plan: which, when, and with what.
pub struct EditionRun<'a> {
    pub store: &'a Store,
    pub config: &'a Config,
    pub edition: &'a EditionConfig,
    /// The scheduled time for a scheduled run; the time of the run for a run by hand.
    pub tick: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// Plan, but write nothing: count the messages.
    pub dry_run: bool,
    /// This process's id in leases.
    pub owner: &'a str,
    /// The planning lease's length (`mail.lease_seconds`).
    pub lease: StdDuration,
    pub stop: &'a CancellationToken,
}

/// Plans the edition (finishing, first, any edition of the schedule left unfinished).
pub async fn plan_edition(run: &EditionRun<'_>) -> Result<EditionOutcome, DigestError> {
    let schedule = run.edition.name.as_str();
    if run.dry_run {
        return dry_run(run).await;
    }
    let lease_name = format!("plan:{schedule}");
    let lease = PlanLease { name: &lease_name, owner: run.owner, ttl: run.lease };
    let waited = std::time::Instant::now();
    while !run.store.acquire_lease(lease.name, lease.owner, lease.ttl).await? {
        if run.stop.is_cancelled() {
            return Ok(outcome(run, None, window(run).await?, Planned::Stopped));
        }
        if waited.elapsed() > WAIT_FOR_PLANNER {
            return Err(DigestError::Contended(schedule.to_owned()));
        }
        tracing::debug!(edition = schedule, "another instance is planning this schedule; waiting");
        tokio::time::sleep(StdDuration::from_millis(250)).await;
    }
    // The lease is renewed while planning works, not only when a page is written: a page that
    // takes longer than the lease (a loaded machine, a slow database) does not lose it to
    // another instance. If another instance takes it all the same, the next page is not written.
    let renew = async {
        loop {
            tokio::time::sleep(lease.ttl / 3).await;
            match run.store.acquire_lease(lease.name, lease.owner, lease.ttl).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => tracing::warn!(edition = schedule, "cannot renew the planning lease: {e}"),
            }
        }
        std::future::pending::<std::convert::Infallible>().await
    };
    let planned = tokio::select! {
        planned = plan_under_lease(run, lease) => planned,
        never = renew => match never {},
    };
    if let Err(e) = run.store.release_lease(lease.name, lease.owner).await {
        tracing::warn!(edition = schedule, "{e}");
    }
    planned
}

async fn plan_under_lease(run: &EditionRun<'_>, lease: PlanLease<'_>) -> Result<EditionOutcome, DigestError> {
    let schedule = run.edition.name.as_str();
    for unfinished in run.store.unfinished_editions(schedule).await? {
        if unfinished.tick != run.tick {
            tracing::info!(edition = schedule, tick = %unfinished.tick, "resuming an edition left unfinished");
            if !plan_pages(run, &unfinished, lease).await? {
                return Ok(outcome(run, None, (unfinished.window_start, unfinished.window_end), Planned::Stopped));
            }
        }
    }
    let window = window(run).await?;
    let (edition, created) = match run.store.edition(schedule, run.tick).await? {
        Some(e) => (e, false),
        None => {
            let articles = run.store.digest_articles_between(window.0, window.1).await?.len();
            let articles = i64::try_from(articles).unwrap_or(i64::MAX);
            run.store.open_edition(schedule, run.tick, window, articles, run.now).await?
        }
    };
    let window = (edition.window_start, edition.window_end);
    if edition.is_planned() {
        return Ok(outcome(run, Some(edition.id), window, Planned::Before));
    }
    if !created {
        tracing::info!(edition = schedule, tick = %edition.tick, "resuming an edition left unfinished");
    }
    if !plan_pages(run, &edition, lease).await? {
        return Ok(outcome(run, Some(edition.id), window, Planned::Stopped));
    }
    let edition = run.store.edition_by_id(edition.id).await?.unwrap_or(edition);
    let planned = Planned::Now {
        messages: usize::try_from(edition.messages).unwrap_or(0),
        articles: usize::try_from(edition.articles).unwrap_or(0),
    };
    Ok(outcome(run, Some(edition.id), window, planned))
}

fn outcome(
    run: &EditionRun<'_>,
    id: Option<EditionId>,
    window: (DateTime<Utc>, DateTime<Utc>),
    planned: Planned,
) -> EditionOutcome {
    EditionOutcome { edition: run.edition.name.clone(), tick: run.tick, id, window, planned }
}

/// The window of a new edition: from one period before the latest scheduled time (what a reader
/// who has had no digest yet gets) to now — or to just before a collection still in progress
/// started, so its articles fall in the next edition rather than between two.
async fn window(run: &EditionRun<'_>) -> Result<(DateTime<Utc>, DateTime<Utc>), DigestError> {
    let schedule = &run.edition.schedule;
    let start = schedule
        .latest_at_or_before(run.tick)
        .and_then(|t| schedule.previous_before(t))
        .unwrap_or(run.tick - Duration::days(1))
        .min(run.now);
    let end = match run.store.running_since("collect", run.now - Duration::hours(1)).await? {
        Some(started) => run.now.min(started - Duration::seconds(1)),
        None => run.now,
    };
    Ok((start, end))
}

/// The articles an edition may show, and their keywords.
struct Window {
    articles: Vec<DigestArticle>,
    tags: HashMap<ArticleId, HashSet<KeywordId>>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    max_per_keyword: usize,
}

impl Window {
    async fn load(run: &EditionRun<'_>, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, DigestError> {
        let earliest = run.store.earliest_cursor(&run.edition.name).await?.unwrap_or(start).max(end - MAX_CATCH_UP);
        Self::of(run.store, earliest.min(start), (start, end), run.edition.max_per_keyword).await
    }

    /// The articles first stored after `from` and up to the window's end; readers without a
    /// cursor get those after the window's start.
    async fn of(
        store: &Store,
        from: DateTime<Utc>,
        (start, end): (DateTime<Utc>, DateTime<Utc>),
        max_per_keyword: u32,
    ) -> Result<Self, DigestError> {
        let articles = store.digest_articles_between(from, end).await?;
        let ids: Vec<ArticleId> = articles.iter().map(|a| a.id).collect();
        let mut tags: HashMap<ArticleId, HashSet<KeywordId>> = HashMap::new();
        for (article, keyword) in store.article_keyword_ids(&ids).await? {
            tags.entry(article).or_default().insert(keyword);
        }
        Ok(Self { articles, tags, start, end, max_per_keyword: max_per_keyword as usize })
    }

    /// What one reader's digest says: the articles new since their previous digest.
    fn sections(&self, follows: &[KeywordId], covered_until: Option<DateTime<Utc>>) -> Vec<Section> {
        let since = covered_until.map_or(self.start, |t| t.max(self.end - MAX_CATCH_UP));
        let new: Vec<&DigestArticle> = self.articles.iter().filter(|a| a.first_seen_at > since).collect();
        sections(follows, &new, &self.tags, self.max_per_keyword)
    }
}

/// Plans the pages of `edition` not planned yet; false if planning was asked to stop.
async fn plan_pages(run: &EditionRun<'_>, edition: &Edition, lease: PlanLease<'_>) -> Result<bool, DigestError> {
    let window = Window::load(run, edition.window_start, edition.window_end).await?;
    let mut after = edition.planned_through;
    loop {
        if run.stop.is_cancelled() {
            return Ok(false);
        }
        let readers = run.store.readers_after(&edition.schedule, edition.window_end, after, PAGE).await?;
        let Some(last) = readers.last().map(|r| r.id) else { break };
        let messages = readers
            .iter()
            .filter_map(|r| {
                let sections = window.sections(&r.follows, r.covered_until);
                (!sections.is_empty()).then(|| (r.id, content_key(&sections)))
            })
            .collect();
        let page = PlannedPage { through: last, messages };
        if !run.store.write_plan_page(edition, lease, &page).await? {
            return Err(DigestError::Contended(edition.schedule.clone()));
        }
        after = last;
    }
    run.store.finish_planning(edition.id).await?;
    Ok(true)
}

/// Counts what the edition would send, writing nothing.
async fn dry_run(run: &EditionRun<'_>) -> Result<EditionOutcome, DigestError> {
    let schedule = &run.edition.name;
    if let Some(e) = run.store.edition(schedule, run.tick).await? {
        return Ok(outcome(run, Some(e.id), (e.window_start, e.window_end), Planned::Before));
    }
    let (start, end) = window(run).await?;
    let window = Window::load(run, start, end).await?;
    let articles = window.articles.iter().filter(|a| a.first_seen_at > start).count();
    let mut messages = 0;
    let mut after = 0;
    loop {
        let readers = run.store.readers_after(schedule, end, after, PAGE).await?;
        let Some(last) = readers.last().map(|r| r.id) else { break };
        messages += readers.iter().filter(|r| !window.sections(&r.follows, r.covered_until).is_empty()).count();
        after = last;
    }
    Ok(outcome(run, None, (start, end), Planned::DryRun { messages, articles }))
}
