//! The application: the configured parts wired together, and one method per job. Every job is a
//! plain `async fn(&self, …, now)` that the scheduler, the command line and the tests all call;
//! none of them reads the clock.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use tokio_util::sync::CancellationToken;

use crate::collect::{self, CollectReport, Fetcher};
use crate::config::{Config, ConfigError, Problem, Source};
use crate::delivery::{SendReport, Sender, Settings, Transport};
use crate::digest::{self, Composer, DigestError, EditionOutcome, EditionRun, Planned, Templates};
use crate::feeds::{BuildReport, Publisher};
use crate::keywords::{self, Vocabularies};
use crate::store::Store;
use crate::store::{NewArticle, Upserted};
use crate::subscribers::{Links, SignUpLimits};

/// A value read again when it is older than its time to live; concurrent readers of a stale
/// value wait for one load.
pub struct Cached<T> {
    ttl: std::time::Duration,
    slot: tokio::sync::Mutex<Option<(std::time::Instant, Arc<T>)>>,
}

impl<T> Cached<T> {
    pub fn new(ttl: std::time::Duration) -> Self {
        Self { ttl, slot: tokio::sync::Mutex::new(None) }
    }

    pub async fn get_or_load<F, Fut, E>(&self, load: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((at, value)) = slot.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(value.clone());
        }
        let value = Arc::new(load().await?);
        *slot = Some((std::time::Instant::now(), value.clone()));
        Ok(value)
    }
}

/// The keywords readers may choose, and how many stored articles carry each.
#[derive(Debug, Default)]
pub struct Topics {
    pub vocabulary: Vec<crate::store::Keyword>,
    pub counts: std::collections::HashMap<crate::store::KeywordId, i64>,
}

pub struct App {
    pub config: Arc<Config>,
    /// Whether the declared keywords were written to the store by this process.
    declared_synced: tokio::sync::OnceCell<()>,
    /// The matching vocabulary, rebuilt only when it changes.
    vocabularies: Vocabularies,
    pub store: Store,
    pub fetcher: Fetcher,
    pub publisher: Publisher,
    pub templates: Arc<Templates>,
    pub sender: Sender,
    pub composer: Composer,
    /// Subscribers' signed links.
    pub links: Arc<Links>,
    /// How often the web sign-up form may be used.
    pub signups: SignUpLimits,
    /// The vocabulary with each keyword's article count, as the forms offer it: read at most
    /// once a minute, however many visitors open them.
    pub topics: Cached<Topics>,
    /// Cancelled when the process is asked to stop: long jobs end at their next safe point.
    pub shutdown: CancellationToken,
    /// Work started apart from a request (a job run from the admin API), waited for at
    /// shutdown before the database is closed.
    pub background: tokio_util::task::TaskTracker,
    /// This process's id in the leases it takes (planning editions).
    owner: String,
    /// When finished messages were last compacted away.
    compacted: std::sync::Mutex<Option<std::time::Instant>>,
}

/// One digest edition planned and sent.
#[derive(Debug, Clone)]
pub struct DigestRun {
    pub outcome: EditionOutcome,
    pub sent: SendReport,
    /// The edition's messages by status, after sending.
    pub counts: Vec<(String, i64)>,
}

impl DigestRun {
    pub fn summary(&self) -> String {
        let mut s = format!("{}; {}", self.outcome.summary(), self.sent.summary());
        if !self.counts.is_empty() {
            let counts: Vec<String> = self.counts.iter().map(|(status, n)| format!("{n} {status}")).collect();
            s.push_str(&format!("; the edition's messages: {}", counts.join(", ")));
        }
        s
    }

    /// Why the run counts as failed: messages of the edition failed for good, or the relay is
    /// down with messages waiting.
    pub fn failure(&self) -> Option<String> {
        let failed = self.counts.iter().find(|(s, _)| s == "failed").map_or(0, |(_, n)| *n);
        (failed > 0 || self.sent.has_failures()).then(|| self.summary())
    }
}

/// Reads and checks the configuration and the email templates; every problem is listed.
pub fn check(path: &std::path::Path) -> Result<Config, Vec<Problem>> {
    let config = Config::load(path).map_err(|e| match e {
        ConfigError::Invalid { problems, .. } => problems,
        read @ ConfigError::Read { .. } => vec![Problem::new(path.display().to_string(), "", read.to_string())],
    })?;
    Templates::load(&config.mail.templates_dir)?;
    Ok(config)
}

impl App {
    /// Opens the store (applying migrations), loads the templates and builds the transports.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let transport = Transport::from_config(&config.mail).map_err(anyhow::Error::msg)?;
        Self::with_transport(config, transport).await
    }

    pub async fn with_transport(config: Config, transport: Transport) -> anyhow::Result<Self> {
        let templates = Templates::load(&config.mail.templates_dir).map_err(|problems| {
            anyhow::anyhow!(
                "email templates are not usable:\n{}",
                problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
            )
        })?;
        let store = Store::connect(&config.database.url, config.database.max_connections).await?;
        let canonical =
            |email: &str| crate::subscribers::SubscriberEmail::parse(email).ok().map(|e| e.as_str().to_owned());
        let (rewritten, clashes) = store.canonicalize_addresses(&canonical).await?;
        if rewritten > 0 {
            tracing::info!(
                "{rewritten} stored address(es) rewritten with their domain in Unicode (one form per mailbox)"
            );
        }
        for (old, new) in clashes {
            tracing::warn!("readers {old} and {new} are one mailbox: keep one (nashra subscribers remove)");
        }
        let fetcher = Fetcher::new(&config.collect, collect::allowed_origins(&config)).map_err(anyhow::Error::msg)?;
        let vocabularies = Vocabularies::new(&config.keywords);
        let config = Arc::new(config);
        let publisher = Publisher::new(config.clone(), store.clone());
        let templates = Arc::new(templates);
        let sender = Sender::new(store.clone(), transport, Settings::from_config(&config.mail), Utc::now);
        let links = Arc::new(Links::load(&config, &store, Utc::now()).await.map_err(anyhow::Error::msg)?);
        let composer = Composer::new(store.clone(), config.clone(), templates.clone(), links.clone());
        Ok(Self {
            config,
            declared_synced: tokio::sync::OnceCell::new(),
            vocabularies,
            store,
            fetcher,
            publisher,
            templates,
            sender,
            composer,
            links,
            signups: SignUpLimits::default(),
            topics: Cached::new(std::time::Duration::from_secs(60)),
            shutdown: CancellationToken::new(),
            background: tokio_util::task::TaskTracker::new(),
            owner: crate::store::new_owner_id(),
            compacted: std::sync::Mutex::new(None),
        })
    }

    /// The vocabulary and its article counts, at most a minute old.
    pub async fn topics(&self) -> anyhow::Result<Arc<Topics>> {
        Ok(self
            .topics
            .get_or_load(|| async {
                Ok::<_, crate::store::StoreError>(Topics {
                    vocabulary: self.store.vocabulary().await?,
                    counts: self.store.vocabulary_article_counts().await?,
                })
            })
            .await?)
    }

    /// One collection pass (every enabled source, or only `source`), then a feed build.
    pub async fn collect(&self, source: Option<&str>, now: DateTime<Utc>) -> anyhow::Result<CollectReport> {
        self.sync_declared_keywords(now).await?;
        let vocabulary = self.vocabularies.current(&self.store).await?;
        let report = collect::collect(&self.store, &self.config, &self.fetcher, &vocabulary, source, now).await?;
        self.build_feeds(now).await?;
        Ok(report)
    }

    /// Keeps this process's feeds current until shutdown: a build at once, then one every
    /// `feeds.refresh` (with nothing new, one small query), so a server also serves what another
    /// process collected.
    pub async fn keep_feeds_current(self: Arc<Self>) {
        self.publisher.serve_from_memory();
        loop {
            if let Err(e) = self.build_feeds(Utc::now()).await {
                tracing::error!("feeds not built: {e:#}");
            }
            tokio::select! {
                () = tokio::time::sleep(self.config.feeds.refresh) => {}
                () = self.shutdown.cancelled() => break,
            }
        }
    }

    pub async fn build_feeds(&self, now: DateTime<Utc>) -> anyhow::Result<BuildReport> {
        self.sync_declared_keywords(now).await?;
        let report = self.publisher.build(now).await?;
        if let Some(hub) = &self.config.feeds.websub_hub
            && !report.changed.is_empty()
        {
            let client = reqwest::Client::builder()
                .timeout(self.config.collect.timeout)
                .user_agent(self.config.collect.user_agent.clone())
                .build()?;
            let refused = crate::feeds::websub::publish(&client, hub, &report.changed).await;
            for (topic, why) in &refused {
                tracing::warn!(hub = %hub, topic = %topic, "WebSub ping not taken: {why}");
            }
            tracing::info!(hub = %hub, pinged = report.changed.len() - refused.len(), "WebSub hub told of changed feeds");
        }
        Ok(report)
    }

    /// Writes the configuration's declared keywords to the store, once per process.
    async fn sync_declared_keywords(&self, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.declared_synced.get_or_try_init(|| keywords::sync_declared(&self.store, &self.config, now)).await?;
        Ok(())
    }

    /// Plans the edition of `edition` at `tick` (its scheduled time, or the time of a run by hand),
    /// then sends what is due.
    pub async fn send_digest(
        &self,
        edition: &str,
        tick: DateTime<Utc>,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> anyhow::Result<DigestRun> {
        self.send_digest_with(edition, tick, now, dry_run, &|_| {}).await
    }

    /// The message the edition `edition` would send now to `reader` (their own digest) or, with
    /// `None`, a digest of every keyword with new articles — planned and rendered by the
    /// edition's own code, recording nothing. The reader's own links are in it only with
    /// `their_links` (not when it goes to someone else). `None` when there is nothing to send.
    pub async fn preview_digest(
        &self,
        edition: &str,
        now: DateTime<Utc>,
        reader: Option<&crate::store::Subscriber>,
        their_links: bool,
    ) -> anyhow::Result<Option<crate::delivery::Composed>> {
        let run = self.edition_run(edition, now, now, true)?;
        let audience = reader.map_or(digest::Audience::Everything, |r| digest::Audience::Reader(r.id));
        let sections = digest::sections_for(&run, audience).await?;
        if sections.is_empty() {
            return Ok(None);
        }
        let recipient =
            reader.filter(|_| their_links).map(|r| digest::Recipient { id: r.id, email: &r.email, token: &r.token });
        let composed = self
            .composer
            .compose_sections(edition, now, &sections, recipient)
            .await
            .map_err(|e| anyhow::anyhow!("cannot render the digest of edition {edition}: {e}"))?;
        Ok(Some(composed))
    }

    /// A run of the configured edition `edition` on this instance's store, clock and lease.
    fn edition_run(
        &self,
        edition: &str,
        tick: DateTime<Utc>,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<EditionRun<'_>, DigestError> {
        let cfg = self
            .config
            .editions
            .iter()
            .find(|e| e.name == edition)
            .ok_or_else(|| DigestError::UnknownEdition(edition.to_owned()))?;
        Ok(EditionRun {
            store: &self.store,
            config: &self.config,
            edition: cfg,
            tick,
            now,
            dry_run,
            owner: &self.owner,
            lease: self.config.mail.lease,
            stop: &self.shutdown,
        })
    }

    /// `send_digest`, with a view of the sending's progress.
    pub async fn send_digest_with(
        &self,
        edition: &str,
        tick: DateTime<Utc>,
        now: DateTime<Utc>,
        dry_run: bool,
        progress: &(dyn Fn(&SendReport) + Sync),
    ) -> anyhow::Result<DigestRun> {
        let run = self.edition_run(edition, tick, now, dry_run)?;
        let outcome = digest::plan_edition(&run).await.with_context(|| format!("digest edition {edition}"))?;
        if dry_run {
            return Ok(DigestRun { outcome, sent: SendReport::default(), counts: Vec::new() });
        }
        let sent = if outcome.planned == Planned::Stopped {
            SendReport::default()
        } else {
            self.deliver_with(progress).await?
        };
        let counts = match outcome.id {
            Some(id) => self.store.edition_delivery_counts(id).await?,
            None => Vec::new(),
        };
        Ok(DigestRun { outcome, sent, counts })
    }

    /// Stores articles pushed by the CMS of `source`; returns what became of each (by URL).
    pub async fn push(
        &self,
        source: &Source,
        articles: &[NewArticle],
        now: DateTime<Utc>,
    ) -> anyhow::Result<Vec<(String, Upserted)>> {
        self.sync_declared_keywords(now).await?;
        let state = self.store.ensure_source(&source.name, source.kind.name(), "", now).await?;
        let vocabulary = self.vocabularies.current(&self.store).await?;
        let mut results = Vec::with_capacity(articles.len());
        for article in articles {
            results
                .push((article.url.clone(), collect::ingest(&self.store, &vocabulary, state.id, article, now).await?));
        }
        self.store.record_source_success(state.id, now).await?;
        // Readers see pushed articles at once.
        self.build_feeds(now).await?;
        Ok(results)
    }

    /// Sends the deliveries due now (the database's clock decides what is due).
    pub async fn deliver(&self) -> anyhow::Result<SendReport> {
        self.deliver_with(&|_| {}).await
    }

    pub async fn deliver_with(&self, progress: &(dyn Fn(&SendReport) + Sync)) -> anyhow::Result<SendReport> {
        Ok(self.sender.send_due(&self.composer, &self.shutdown, progress).await?)
    }

    /// At most once an hour: deletes finished messages older than `mail.keep_days`, and
    /// sign-ups whose confirmation link has expired unused. Returns how many of each.
    pub async fn housekeeping(&self, now: DateTime<Utc>) -> anyhow::Result<(u64, u64)> {
        let due = self.compacted.lock().map(|last| last.is_none_or(|t| t.elapsed().as_secs() >= 3600)).unwrap_or(true);
        if !due {
            return Ok((0, 0));
        }
        let messages = self.store.compact_outbox(now - self.config.mail.keep).await?;
        let sign_ups = self.store.expire_unconfirmed(now - crate::subscribers::CONFIRM_FOR).await?;
        if let Ok(mut last) = self.compacted.lock() {
            *last = Some(std::time::Instant::now());
        }
        Ok((messages, sign_ups))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_cached_value_is_loaded_once_while_fresh() {
        let loads = AtomicU32::new(0);
        let load = || async { Ok::<_, ()>(loads.fetch_add(1, Ordering::SeqCst)) };
        let fresh = Cached::new(std::time::Duration::from_secs(60));
        assert_eq!(*fresh.get_or_load(load).await.unwrap(), 0);
        assert_eq!(*fresh.get_or_load(load).await.unwrap(), 0);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        let stale = Cached::new(std::time::Duration::ZERO);
        stale.get_or_load(load).await.unwrap();
        assert_eq!(*stale.get_or_load(load).await.unwrap(), 2, "read again once stale");
        let failing = Cached::<u32>::new(std::time::Duration::from_secs(60));
        assert!(failing.get_or_load(|| async { Err::<u32, _>("down") }).await.is_err());
        assert_eq!(*failing.get_or_load(|| async { Ok::<_, ()>(7) }).await.unwrap(), 7, "an error is not kept");
    }
}
