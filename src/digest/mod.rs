//! The digest stage: one edition of a schedule → one email per active subscriber with the
//! articles new in the edition's window that match the keywords they follow, grouped by keyword.
//! An edition is identified by its schedule and tick (the scheduled time; for a run by hand, the
//! time of the run), so running it again — after a restart, on another instance, with the same
//! `--now` — plans nothing twice. Each subscriber gets the articles first stored since their
//! previous digest of the edition (or, for their first one, since one period before the latest
//! scheduled time), so a reader never gets an article twice whether editions ran on schedule or
//! by hand, and an edition that had nobody to write to takes nothing away from later readers. Planning writes the rendered messages to the outbox; sending
//! them is the delivery stage's job.

mod plan;
mod render;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

pub use plan::{Section, sections};
pub use render::{
    ArticleContext, DigestContext, EditionContext, RenderError, RenderedEmail, SectionContext, SiteContext,
    SubscriberContext, Templates,
};

use crate::arabic::{format_date, format_datetime};
use crate::config::{Config, Edition};
use crate::feeds::{FeedKey, feed_url};
use crate::store::{Article, ArticleId, EditionCreated, KeywordId, NewDelivery, Store, StoreError, Subscriber};

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error("no digest edition is called {0:?} in the configuration")]
    UnknownEdition(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("edition {0}: other instances kept planning editions at the same time; try again")]
    Contended(String),
    #[error("site.base_url {base} cannot make the unsubscribe link: {reason}")]
    Link { base: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned {
    /// The edition was planned now, with this many messages.
    Now { messages: usize, articles: usize },
    /// An edition for this tick exists already.
    Before,
    /// Dry run: this many messages would be planned.
    DryRun { messages: usize, articles: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditionOutcome {
    pub edition: String,
    pub tick: DateTime<Utc>,
    pub window: (DateTime<Utc>, DateTime<Utc>),
    pub planned: Planned,
}

impl EditionOutcome {
    pub fn summary(&self) -> String {
        let tz_tick = self.tick.to_rfc3339();
        match &self.planned {
            Planned::Now { messages, articles } => {
                format!(
                    "edition {} of {tz_tick}: {messages} message(s) planned from {articles} new article(s)",
                    self.edition
                )
            }
            Planned::Before => format!("edition {} of {tz_tick} was planned before; nothing new", self.edition),
            Planned::DryRun { messages, articles } => {
                format!(
                    "dry run of edition {} of {tz_tick}: {messages} message(s) from {articles} new article(s)",
                    self.edition
                )
            }
        }
    }
}

/// How far back a reader's "new since your previous digest" may reach.
const MAX_CATCH_UP: Duration = Duration::days(14);

/// One edition to plan: which, when, and with what.
pub struct EditionRun<'a> {
    pub store: &'a Store,
    pub config: &'a Config,
    pub templates: &'a Templates,
    pub edition: &'a Edition,
    /// The scheduled time for a scheduled run; the time of the run for a run by hand.
    pub tick: DateTime<Utc>,
    pub now: DateTime<Utc>,
    /// Plan and render, but write nothing: the messages are returned instead.
    pub dry_run: bool,
}

/// Plans the edition and writes its messages to the outbox (or, on a dry run, returns them).
pub async fn plan_edition(run: &EditionRun<'_>) -> Result<(EditionOutcome, Vec<NewDelivery>), DigestError> {
    // Another instance may plan an edition of the same schedule at the same time; the store
    // refuses the second plan as stale, and it is made again from fresh data.
    for _ in 0..3 {
        if let Some(planned) = try_plan(run).await? {
            return Ok(planned);
        }
    }
    Err(DigestError::Contended(run.edition.name.clone()))
}

async fn try_plan(run: &EditionRun<'_>) -> Result<Option<(EditionOutcome, Vec<NewDelivery>)>, DigestError> {
    let EditionRun { store, config, templates, edition, tick, now, dry_run } = *run;
    // One period back from the latest scheduled time: what a subscriber who has had no digest
    // of this edition yet is sent.
    let nominal_start = edition
        .schedule
        .latest_at_or_before(tick)
        .and_then(|t| edition.schedule.previous_before(t))
        .unwrap_or(tick - Duration::days(1))
        .min(now);
    // Articles of a collection still in progress are not visible yet: end the window before it
    // started, so they fall in the next edition rather than between two.
    let end = match store.running_since("collect", now - Duration::hours(1)).await? {
        Some(started) => now.min(started - Duration::seconds(1)),
        None => now,
    };
    let mut outcome =
        EditionOutcome { edition: edition.name.clone(), tick, window: (nominal_start, end), planned: Planned::Before };
    if store.edition_exists(&edition.name, tick).await? {
        return Ok(Some((outcome, Vec::new())));
    }
    let planned_after = store.latest_edition_id(&edition.name).await?;
    // Everyone else gets what is new since their previous digest of this edition, so a reader
    // never gets an article twice, and a run that had nobody to write to takes nothing away.
    let last_sent = store.last_delivered_window_ends(&edition.name).await?;
    let since_of = |s: &Subscriber| match last_sent.get(&s.id) {
        Some(t) => (*t).max(now - MAX_CATCH_UP),
        None => nominal_start,
    };
    let subscribers = store.active_subscribers().await?;
    let earliest = subscribers.iter().map(|(s, _)| since_of(s)).min().unwrap_or(nominal_start);
    let articles = store.articles_first_seen_between(earliest.min(nominal_start), end).await?;
    let ids: Vec<ArticleId> = articles.iter().map(|a| a.id).collect();
    let mut article_keywords: HashMap<ArticleId, HashSet<KeywordId>> = HashMap::new();
    for (article, keyword) in store.keywords_of_articles(&ids).await? {
        article_keywords.entry(article).or_default().insert(keyword.id);
    }
    let new_in_window = articles.iter().filter(|a| a.first_seen_at > nominal_start).count();
    let mut deliveries = Vec::new();
    for (subscriber, follows) in &subscribers {
        let since = since_of(subscriber);
        let new: Vec<&Article> = articles.iter().filter(|a| a.first_seen_at > since).collect();
        let groups = sections(follows, &new, &article_keywords, edition.max_per_keyword as usize);
        if groups.is_empty() {
            continue;
        }
        let context = context(config, edition, tick, subscriber, &groups)?;
        let email = templates.render_digest(&context)?;
        deliveries.push(NewDelivery {
            subscriber_id: subscriber.id,
            recipient: subscriber.email.clone(),
            message_id: message_id(config, edition, tick, subscriber),
            subject: email.subject,
            body_html: email.html,
            body_text: email.text,
            unsubscribe_url: context.unsubscribe_url,
        });
    }
    if dry_run {
        outcome.planned = Planned::DryRun { messages: deliveries.len(), articles: new_in_window };
        return Ok(Some((outcome, deliveries)));
    }
    match store.create_edition(&edition.name, tick, (nominal_start, end), planned_after, &deliveries, now).await? {
        EditionCreated::Created(_) => {
            outcome.planned = Planned::Now { messages: deliveries.len(), articles: new_in_window };
            Ok(Some((outcome, deliveries)))
        }
        EditionCreated::Exists => Ok(Some((outcome, Vec::new()))),
        EditionCreated::Stale => Ok(None),
    }
}

/// `<digest.{edition}.{tick}.{subscriber}@{site host}>`: the same for every attempt of one
/// message, different for every other message.
fn message_id(config: &Config, edition: &Edition, tick: DateTime<Utc>, subscriber: &Subscriber) -> String {
    let host = config.site.base_url.host_str().unwrap_or("nashra.invalid");
    format!("<digest.{}.{}.{}@{host}>", edition.name, tick.format("%Y%m%dT%H%M%SZ"), subscriber.id)
}

fn context(
    config: &Config,
    edition: &Edition,
    tick: DateTime<Utc>,
    subscriber: &Subscriber,
    groups: &[Section<'_>],
) -> Result<DigestContext, DigestError> {
    let tz = edition.schedule.time_zone();
    let base = &config.site.base_url;
    let sections: Vec<SectionContext> = groups
        .iter()
        .map(|s| SectionContext {
            keyword: s.keyword.name.clone(),
            feed_url: format!("{}.atom", feed_url(base, &FeedKey::Keyword(s.keyword.slug.clone()))),
            articles: s
                .articles
                .iter()
                .map(|a| ArticleContext {
                    title: a.title.clone(),
                    url: a.url.clone(),
                    summary: a.summary.clone(),
                    author: a.author.clone(),
                    section: a.section.clone(),
                    published: format_datetime(&a.published_at.with_timezone(&tz)),
                })
                .collect(),
        })
        .collect();
    let unsubscribe_url = base
        .join(&format!("unsubscribe/{}", subscriber.token))
        .map_err(|e| DigestError::Link { base: base.to_string(), reason: e.to_string() })?
        .to_string();
    Ok(DigestContext {
        site: SiteContext { title: config.site.title.clone(), url: base.to_string() },
        edition: EditionContext {
            name: edition.name.clone(),
            title: edition.title.clone(),
            date: format_date(&tick.with_timezone(&tz)),
        },
        subscriber: SubscriberContext { email: subscriber.email.clone() },
        article_count: sections.iter().map(|s| s.articles.len()).sum(),
        sections,
        unsubscribe_url,
    })
}
