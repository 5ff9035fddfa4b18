//! Jobs and the heartbeat that runs them when due.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job as CronJob, JobScheduler};

use super::Schedule;
use crate::app::App;
use crate::config::Config;

/// What a job does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Collect every source, then rebuild the feeds.
    Collect,
    /// Rebuild the feeds.
    Feeds,
    /// Plan and send one digest edition.
    Digest(String),
}

impl Job {
    /// The name job runs are recorded under.
    pub fn name(&self) -> String {
        match self {
            Job::Collect => "collect".into(),
            Job::Feeds => "feeds".into(),
            Job::Digest(edition) => format!("digest:{edition}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Scheduled {
    pub job: Job,
    pub schedule: Schedule,
}

/// Every scheduled job of the configuration.
pub fn scheduled_jobs(config: &Config) -> Vec<Scheduled> {
    let mut jobs = vec![Scheduled { job: Job::Collect, schedule: config.schedules.collect.clone() }];
    if let Some(feeds) = &config.schedules.feeds {
        jobs.push(Scheduled { job: Job::Feeds, schedule: feeds.clone() });
    }
    jobs.extend(
        config.editions.iter().map(|e| Scheduled { job: Job::Digest(e.name.clone()), schedule: e.schedule.clone() }),
    );
    jobs
}

/// Claims (job, tick) and runs the job; `Ok(None)` if the tick was claimed before (here or by
/// another instance). The run and its outcome are recorded.
pub async fn run_job(
    app: &App,
    job: &Job,
    tick: DateTime<Utc>,
    trigger: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<String>> {
    let name = job.name();
    let Some(run) = app.store.claim_job_run(&name, tick, trigger, now).await? else {
        return Ok(None);
    };
    tracing::info!(job = %name, %tick, trigger, "job started");
    let outcome = match job {
        Job::Collect => app.collect(None, now).await.map(|r| r.summary()),
        Job::Feeds => {
            app.build_feeds(now).await.map(|r| format!("{} feed(s), {} file(s) written", r.feeds, r.files_written))
        }
        Job::Digest(edition) => {
            app.send_digest(edition, tick, now, false).await.map(|(o, s)| format!("{}; {}", o.summary(), s.summary()))
        }
    };
    let finished = Utc::now().max(now);
    match &outcome {
        Ok(summary) => {
            tracing::info!(job = %name, "job finished: {summary}");
            app.store.finish_job_run(run, finished, Ok(summary)).await?;
        }
        Err(e) => {
            tracing::error!(job = %name, "job failed: {e:#}");
            app.store.finish_job_run(run, finished, Err(&format!("{e:#}"))).await?;
        }
    }
    outcome.map(Some)
}

/// One heartbeat: runs every job whose latest tick at or before `now` has not been claimed,
/// then sends the deliveries that are due. `claimed` remembers, per job, the latest tick known
/// to be claimed, so quiet heartbeats cost no queries for the jobs.
pub async fn heartbeat(app: &App, now: DateTime<Utc>, claimed: &mut HashMap<String, DateTime<Utc>>) {
    for scheduled in scheduled_jobs(&app.config) {
        let Some(tick) = scheduled.schedule.latest_at_or_before(now) else {
            continue;
        };
        let name = scheduled.job.name();
        if claimed.get(&name).is_some_and(|t| *t >= tick) {
            continue;
        }
        if let Err(e) = run_job(app, &scheduled.job, tick, "schedule", now).await {
            tracing::error!(job = %name, "{e:#}");
        }
        claimed.insert(name, tick);
    }
    match app.deliver(now).await {
        Ok(r) if r.sent + r.retried + r.failed > 0 => tracing::info!("outbox: {}", r.summary()),
        Ok(_) => {}
        Err(e) => tracing::error!("outbox: {e:#}"),
    }
}

/// Starts the heartbeat: at start-up, then every 10 seconds. Overlapping beats are skipped.
pub async fn start(app: Arc<App>) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await?;
    let claimed: Arc<Mutex<HashMap<String, DateTime<Utc>>>> = Arc::default();
    let beat = {
        let (app, claimed) = (app.clone(), claimed.clone());
        move || {
            let (app, claimed) = (app.clone(), claimed.clone());
            async move {
                let Ok(mut claimed) = claimed.try_lock() else {
                    return;
                };
                heartbeat(&app, Utc::now(), &mut claimed).await;
            }
        }
    };
    let first = beat.clone();
    tokio::spawn(async move { first().await });
    scheduler.add(CronJob::new_async("*/10 * * * * *", move |_, _| Box::pin(beat()))?).await?;
    scheduler.start().await?;
    Ok(scheduler)
}
