//! Jobs, the record of their runs, and the heartbeat that runs them when due.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job as CronJob, JobScheduler};

use super::Schedule;
use crate::app::{App, DigestRun};
use crate::collect::CollectReport;
use crate::config::Config;
use crate::delivery::SendReport;
use crate::feeds::BuildReport;

/// What a job does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Collect every enabled source (or the one named), then rebuild the feeds.
    Collect(Option<String>),
    /// Rebuild the feeds.
    Feeds,
    /// Plan and send one digest edition.
    Digest(String),
}

impl Job {
    /// The name job runs are recorded under.
    pub fn name(&self) -> String {
        match self {
            Job::Collect(_) => "collect".into(),
            Job::Feeds => "feeds".into(),
            Job::Digest(edition) => format!("digest:{edition}"),
        }
    }
}

/// What a job run produced.
#[derive(Debug, Clone)]
pub enum JobOutput {
    Collect(CollectReport),
    Feeds(BuildReport),
    Digest(DigestRun),
}

impl JobOutput {
    pub fn summary(&self) -> String {
        match self {
            JobOutput::Collect(r) => r.summary(),
            JobOutput::Feeds(r) => format!("{} feed(s), {} file(s) written", r.feeds, r.files_written),
            JobOutput::Digest(d) => d.summary(),
        }
    }

    /// Why a run that completed still counts as failed (it is recorded so, with this reason).
    pub fn failure(&self) -> Option<String> {
        match self {
            JobOutput::Digest(d) => d.failure(),
            JobOutput::Collect(r) => r.failure(),
            JobOutput::Feeds(_) => None,
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
    let mut jobs = vec![Scheduled { job: Job::Collect(None), schedule: config.schedules.collect.clone() }];
    if let Some(feeds) = &config.schedules.feeds {
        jobs.push(Scheduled { job: Job::Feeds, schedule: feeds.clone() });
    }
    jobs.extend(
        config.editions.iter().map(|e| Scheduled { job: Job::Digest(e.name.clone()), schedule: e.schedule.clone() }),
    );
    jobs
}

/// Claims (job, tick) and runs the job, recording the run and its outcome; `Ok(None)` if the
/// tick is claimed already (here or by another instance). Runs by hand go through here too
/// (trigger "manual", tick = the time of the run), so the history is complete and a digest
/// planned while a collection is running can see that it is.
pub async fn run_job(
    app: &App,
    job: &Job,
    tick: DateTime<Utc>,
    trigger: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<JobOutput>> {
    run_job_with(app, job, tick, trigger, now, &|_| {}).await
}

/// `run_job`, with a view of a digest's sending progress.
pub async fn run_job_with(
    app: &App,
    job: &Job,
    tick: DateTime<Utc>,
    trigger: &str,
    now: DateTime<Utc>,
    progress: &(dyn Fn(&SendReport) + Sync),
) -> anyhow::Result<Option<JobOutput>> {
    let name = job.name();
    let lease = app.config.mail.lease;
    let Some(run) = app.store.claim_job_run(&name, tick, trigger, now, lease).await? else {
        return Ok(None);
    };
    tracing::info!(job = %name, %tick, trigger, "job started");
    let started = std::time::Instant::now();
    let work = async {
        match job {
            Job::Collect(source) => app.collect(source.as_deref(), now).await.map(JobOutput::Collect),
            Job::Feeds => app.build_feeds(now).await.map(JobOutput::Feeds),
            Job::Digest(edition) => {
                app.send_digest_with(edition, tick, now, false, progress).await.map(JobOutput::Digest)
            }
        }
    };
    // The run's lease is renewed while it works, so that only a dead process's run is taken over.
    let renew = async {
        loop {
            tokio::time::sleep(lease / 3).await;
            if let Err(e) = app.store.renew_job_run(run, lease).await {
                tracing::warn!(job = %name, "{e}");
            }
        }
    };
    let output = tokio::select! {
        output = work => output,
        never = renew => match never {},
    };
    let finished = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
    if app.shutdown.is_cancelled() && output.is_ok() {
        // Stopped part-way: the next run of this tick (a restart) carries on where it stopped.
        tracing::info!(job = %name, "job stopped before its end; it resumes at the next run");
        app.store.stop_job_run(run, finished).await?;
        return output.map(Some);
    }
    match &output {
        Ok(output) => match output.failure() {
            None => {
                let summary = output.summary();
                tracing::info!(job = %name, "job finished: {summary}");
                app.store.finish_job_run(run, finished, Ok(&summary)).await?;
            }
            Some(reason) => {
                tracing::error!(job = %name, "job failed: {reason}");
                app.store.finish_job_run(run, finished, Err(&reason)).await?;
            }
        },
        Err(e) => {
            tracing::error!(job = %name, "job failed: {e:#}");
            app.store.finish_job_run(run, finished, Err(&format!("{e:#}"))).await?;
        }
    }
    output.map(Some)
}

/// One heartbeat: runs every job whose latest tick at or before `now` is not claimed, then
/// sends the deliveries that are due and does the housekeeping. `claimed` remembers, per job, the latest tick that ran
/// or was claimed elsewhere, so quiet beats cost no queries; a tick whose run failed is not
/// remembered, so it is claimed again once the store allows a retry.
pub async fn heartbeat(app: &App, now: DateTime<Utc>, claimed: &mut HashMap<String, DateTime<Utc>>) {
    for scheduled in scheduled_jobs(&app.config) {
        if app.shutdown.is_cancelled() {
            return;
        }
        let Some(tick) = scheduled.schedule.latest_at_or_before(now) else {
            continue;
        };
        let name = scheduled.job.name();
        if claimed.get(&name).is_some_and(|t| *t >= tick) {
            continue;
        }
        match run_job(app, &scheduled.job, tick, "schedule", now).await {
            Ok(_) => {
                claimed.insert(name, tick);
            }
            Err(e) => tracing::error!(job = %name, "{e:#}"),
        }
    }
    if app.shutdown.is_cancelled() {
        return;
    }
    match app.deliver().await {
        Ok(r) if r.sent + r.retried + r.failed + r.bounced > 0 || r.relay_down.is_some() => {
            tracing::info!("outbox: {}", r.summary())
        }
        Ok(_) => {}
        Err(e) => tracing::error!("outbox: {e:#}"),
    }
    match app.housekeeping(now).await {
        Ok((messages, sign_ups)) => {
            if messages > 0 {
                tracing::info!("outbox: {messages} finished message(s) past mail.keep_days deleted");
            }
            if sign_ups > 0 {
                tracing::info!("subscribers: {sign_ups} sign-up(s) never confirmed deleted (their links expired)");
            }
        }
        Err(e) => tracing::error!("housekeeping: {e:#}"),
    }
}

/// The running heartbeat.
pub struct Heartbeat {
    scheduler: JobScheduler,
    app: Arc<App>,
    /// Held by a beat while it runs.
    running: Arc<Mutex<HashMap<String, DateTime<Utc>>>>,
}

impl Heartbeat {
    /// Stops the beats and waits for the one in progress, which ends at its next safe point
    /// (messages in flight are finished, the rest go back to the queue), so that no claimed
    /// delivery or job is left half-recorded by a graceful shutdown.
    pub async fn stop(mut self) {
        self.app.shutdown.cancel();
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!("scheduler shutdown: {e}");
        }
        let _wait_for_the_running_beat = self.running.lock().await;
    }
}

/// Starts the heartbeat: at start-up, then every 10 seconds. A beat due while another runs is
/// skipped; none starts once the app is shutting down.
pub async fn start(app: Arc<App>) -> anyhow::Result<Heartbeat> {
    let scheduler = JobScheduler::new().await?;
    let running: Arc<Mutex<HashMap<String, DateTime<Utc>>>> = Arc::default();
    let beat = {
        let (app, running) = (app.clone(), running.clone());
        move || {
            let (app, running) = (app.clone(), running.clone());
            async move {
                let Ok(mut claimed) = running.try_lock() else { return };
                if !app.shutdown.is_cancelled() {
                    heartbeat(&app, Utc::now(), &mut claimed).await;
                }
            }
        }
    };
    scheduler
        .add(CronJob::new_async("*/10 * * * * *", {
            let beat = beat.clone();
            move |_, _| Box::pin(beat())
        })?)
        .await?;
    scheduler.start().await?;
    tokio::spawn(beat());
    Ok(Heartbeat { scheduler, app, running })
}
