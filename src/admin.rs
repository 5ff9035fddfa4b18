//! What an operator sees and does, behind both the command line (`nashra jobs`, `outbox`,
//! `sources`) and the admin API (`/api/v1/admin/…`): one implementation, the same data. The
//! views serialise to the API's JSON; the CLI prints them.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::app::App;
use crate::schedule::{self, Job, JobOutput};
use crate::store::{EditionId, JobRun, StoreResult};

/// An instant as an operator reads it: UTC, and local time in the zone that matters.
#[derive(Debug, Clone, Serialize)]
pub struct Instant {
    pub utc: DateTime<Utc>,
    /// RFC 3339 with the zone's offset then.
    pub local: String,
    /// `2026-12-01 07:00:00 EET`.
    pub shown: String,
}

impl Instant {
    fn new(utc: DateTime<Utc>, tz: chrono_tz::Tz) -> Self {
        let local = utc.with_timezone(&tz);
        Self { utc, local: local.to_rfc3339(), shown: local.format("%Y-%m-%d %H:%M:%S %Z").to_string() }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct JobView {
    pub name: String,
    pub cron: String,
    pub time_zone: String,
    pub paused_since: Option<DateTime<Utc>>,
    /// The next runs (three), to the second.
    pub next_runs: Vec<Instant>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Jobs {
    pub jobs: Vec<JobView>,
    /// The latest runs, newest first: run, failed, stopped or skipped (with the reason).
    pub recent_runs: Vec<JobRun>,
}

/// The scheduled jobs with their next runs, and the recent runs.
pub async fn jobs(app: &App, now: DateTime<Utc>, recent: u32) -> StoreResult<Jobs> {
    let paused: BTreeMap<String, DateTime<Utc>> = app.store.paused_jobs().await?.into_iter().collect();
    let jobs = schedule::scheduled_jobs(&app.config)
        .into_iter()
        .map(|s| {
            let tz = s.schedule.time_zone();
            let mut next_runs = Vec::new();
            let mut after = now;
            while next_runs.len() < 3
                && let Some(t) = s.schedule.next_after(after)
            {
                next_runs.push(Instant::new(t, tz));
                after = t;
            }
            let name = s.job.name();
            JobView {
                paused_since: paused.get(&name).copied(),
                name,
                cron: s.schedule.expression().to_owned(),
                time_zone: tz.name().to_owned(),
                next_runs,
            }
        })
        .collect();
    Ok(Jobs { jobs, recent_runs: app.store.recent_job_runs(recent).await? })
}

/// The scheduled job called `name` (`collect`, `feeds`, `digest:<edition>`).
pub fn job_named(app: &App, name: &str) -> Option<Job> {
    schedule::scheduled_jobs(&app.config).into_iter().map(|s| s.job).find(|j| j.name() == name)
}

/// Why `name` names no scheduled job, with the names that do.
pub fn unknown_job(app: &App, name: &str) -> String {
    let known: Vec<String> = schedule::scheduled_jobs(&app.config).iter().map(|s| s.job.name()).collect();
    format!("no scheduled job is called {name:?} (there are: {})", known.join(", "))
}

/// Pauses or resumes a scheduled job (every instance follows); `None` if there is no such job,
/// else whether that changed anything.
pub async fn set_paused(app: &App, name: &str, paused: bool, now: DateTime<Utc>) -> StoreResult<Option<bool>> {
    if job_named(app, name).is_none() {
        return Ok(None);
    }
    let changed = app.store.set_job_paused(name, paused, now).await?;
    tracing::info!(job = name, paused, changed, "job {}", if paused { "paused" } else { "resumed" });
    Ok(Some(changed))
}

/// Runs a job now, by hand from the command line (recorded with trigger `manual`, its tick the
/// time to the microsecond): the operator's call, it does not wait for the job's lease. `None`
/// when the same job was started by hand in the same microsecond.
pub async fn run_now(app: &App, job: &Job, now: DateTime<Utc>) -> anyhow::Result<Option<JobOutput>> {
    run_by(app, job, "manual", now).await
}

/// A run outside the schedule: its tick is the time, to the microsecond.
async fn run_by(app: &App, job: &Job, trigger: &str, now: DateTime<Utc>) -> anyhow::Result<Option<JobOutput>> {
    use chrono::SubsecRound as _;
    schedule::run_job(app, job, now.trunc_subsecs(6), trigger, now).await
}

/// Starts a job from the admin API, in the background (the API answers at once; the run is in
/// the job history as it goes). It holds the job's lease like a scheduled run — if the job is
/// running, here or elsewhere, the run is recorded as skipped — and a shutdown waits for it.
pub fn start_now(app: Arc<App>, job: Job) {
    let tracked = app.clone();
    tracked.background.spawn(async move {
        if let Err(e) = run_by(&app, &job, schedule::BY_API, Utc::now()).await {
            tracing::error!(job = %job.name(), "run from the admin API: {e:#}");
        }
    });
}

#[derive(Debug, Clone, Serialize)]
pub struct EditionCounts {
    pub edition: EditionId,
    pub schedule: String,
    pub tick: DateTime<Utc>,
    /// Deliveries by status.
    pub deliveries: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reply {
    pub edition: EditionId,
    pub status: String,
    pub attempts: i64,
    /// The recipient's domain only.
    pub domain: String,
    pub reply: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Outbox {
    /// The newest editions and every edition with messages still waiting, newest first.
    pub editions: Vec<EditionCounts>,
    /// The latest relay replies to messages not (yet) sent.
    pub latest_replies: Vec<Reply>,
}

pub async fn outbox(app: &App, editions: u32) -> StoreResult<Outbox> {
    let mut counted: Vec<EditionCounts> = Vec::new();
    for (edition, schedule, tick, status, count) in app.store.outbox_by_edition(editions).await? {
        match counted.last_mut() {
            Some(last) if last.edition == edition => {
                last.deliveries.insert(status, count);
            }
            _ => counted.push(EditionCounts { edition, schedule, tick, deliveries: BTreeMap::from([(status, count)]) }),
        }
    }
    let latest_replies = app
        .store
        .latest_delivery_errors(10)
        .await?
        .into_iter()
        .map(|d| Reply {
            edition: d.edition_id,
            status: d.status().as_str().to_owned(),
            attempts: d.attempts,
            domain: d.recipient.rsplit('@').next().unwrap_or_default().to_owned(),
            reply: without_addresses(&d.last_error.unwrap_or_default()),
        })
        .collect();
    Ok(Outbox { editions: counted, latest_replies })
}

/// Puts failed messages back in the queue (of one edition, or all); returns how many. The
/// scheduler's outbox beat sends them.
pub async fn retry(app: &App, edition: Option<EditionId>) -> StoreResult<u64> {
    let requeued = app.store.requeue_failed(edition).await?;
    tracing::info!(?edition, requeued, "failed messages put back in the queue");
    Ok(requeued)
}

/// A relay's reply with every email address in it cut to its domain (`550 5.1.1
/// <alice@example.org>: no such user` → `550 5.1.1 <…@example.org>: no such user`).
fn without_addresses(reply: &str) -> String {
    reply
        .split_inclusive(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '(' | ')' | ',' | ';' | '"' | '\''))
        .map(|piece| {
            let end = piece.len()
                - piece.chars().last().filter(|c| !c.is_alphanumeric() && *c != '.').map_or(0, char::len_utf8);
            let (word, tail) = piece.split_at(end);
            match word.rsplit_once('@') {
                Some((local, domain)) if !local.is_empty() && !domain.is_empty() => format!("…@{domain}{tail}"),
                _ => piece.to_owned(),
            }
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceView {
    pub name: String,
    pub kind: &'static str,
    pub url: Option<String>,
    pub enabled: bool,
    /// Failed polls in a row.
    pub failures: i64,
    pub last_error: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Not polled before then (after failures, or a long Retry-After).
    pub next_poll_at: Option<DateTime<Utc>>,
}

/// The configured sources with their state.
pub async fn sources(app: &App) -> StoreResult<Vec<SourceView>> {
    let states = app.store.sources().await?;
    Ok(app
        .config
        .sources
        .iter()
        .map(|s| {
            let state = states.iter().find(|st| st.name == s.name);
            SourceView {
                name: s.name.clone(),
                kind: s.kind.name(),
                url: s.kind.url().map(|u| u.to_string()),
                enabled: s.enabled,
                failures: state.map_or(0, |st| st.failure_count),
                last_error: state.and_then(|st| st.last_error.clone()),
                last_success_at: state.and_then(|st| st.last_success_at),
                next_poll_at: state.and_then(|st| st.next_poll_at),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_replies_are_shown_without_whole_addresses() {
        assert_eq!(
            without_addresses("550 5.1.1 <alice@example.org>: Recipient address rejected"),
            "550 5.1.1 <…@example.org>: Recipient address rejected"
        );
        assert_eq!(without_addresses("452 4.2.2 bob@مثال.مصر over quota"), "452 4.2.2 …@مثال.مصر over quota");
        assert_eq!(without_addresses("421 try later"), "421 try later");
    }
}
