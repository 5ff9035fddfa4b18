//! The application: the configured parts wired together, and one method per job. Every job is a
//! plain `async fn(&self, …, now)` that the scheduler, the command line and the tests all call;
//! none of them reads the clock.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};

use crate::collect::{self, CollectReport, Fetcher};
use crate::config::{Config, ConfigError, Problem, Source};
use crate::delivery::{self, Mailer, SendReport};
use crate::digest::{self, DigestError, EditionOutcome, EditionRun, Templates};
use crate::feeds::{BuildReport, Publisher};
use crate::keywords::{self, Vocabularies};
use crate::store::Store;
use crate::store::{NewArticle, Upserted};

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
    pub mailer: Mailer,
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
        let mailer = Mailer::from_config(&config.mail).map_err(anyhow::Error::msg)?;
        Self::with_mailer(config, mailer).await
    }

    pub async fn with_mailer(config: Config, mailer: Mailer) -> anyhow::Result<Self> {
        let templates = Templates::load(&config.mail.templates_dir).map_err(|problems| {
            anyhow::anyhow!(
                "email templates are not usable:\n{}",
                problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
            )
        })?;
        let store = Store::connect(&config.database.url, config.database.max_connections).await?;
        let fetcher = Fetcher::new(&config.collect, collect::allowed_hosts(&config)).map_err(anyhow::Error::msg)?;
        let vocabularies = Vocabularies::new(&config.keywords);
        let config = Arc::new(config);
        let publisher = Publisher::new(config.clone(), store.clone());
        Ok(Self {
            config,
            declared_synced: tokio::sync::OnceCell::new(),
            vocabularies,
            store,
            fetcher,
            publisher,
            templates: Arc::new(templates),
            mailer,
        })
    }

    /// One collection pass (every enabled source, or only `source`), then a feed build.
    pub async fn collect(&self, source: Option<&str>, now: DateTime<Utc>) -> anyhow::Result<CollectReport> {
        self.sync_declared_keywords(now).await?;
        let vocabulary = self.vocabularies.current(&self.store).await?;
        let report = collect::collect(&self.store, &self.config, &self.fetcher, &vocabulary, source, now).await?;
        self.build_feeds(now).await?;
        Ok(report)
    }

    pub async fn build_feeds(&self, now: DateTime<Utc>) -> anyhow::Result<BuildReport> {
        self.sync_declared_keywords(now).await?;
        Ok(self.publisher.build_all(now).await?)
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
    ) -> anyhow::Result<(EditionOutcome, SendReport)> {
        let cfg = self
            .config
            .editions
            .iter()
            .find(|e| e.name == edition)
            .ok_or_else(|| DigestError::UnknownEdition(edition.to_owned()))?;
        let run = EditionRun {
            store: &self.store,
            config: &self.config,
            templates: &self.templates,
            edition: cfg,
            tick,
            now,
            dry_run,
        };
        let (outcome, _) = digest::plan_edition(&run).await.with_context(|| format!("digest edition {edition}"))?;
        let sent = if dry_run { SendReport::default() } else { self.deliver(now).await? };
        Ok((outcome, sent))
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
        // Readers see pushed articles at once; the files follow at the next build.
        self.publisher.invalidate();
        Ok(results)
    }

    /// Sends the deliveries due at `now`.
    pub async fn deliver(&self, now: DateTime<Utc>) -> anyhow::Result<SendReport> {
        Ok(delivery::send_due(&self.store, &self.mailer, &self.config.mail, now).await?)
    }
}
