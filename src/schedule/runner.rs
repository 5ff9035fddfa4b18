//! Jobs, the record of their runs, and the heartbeat that runs them when due.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job as CronJob, JobScheduler};

use tracing::Instrument as _;

use super::Schedule;
use crate::app::{App, DigestRun};
use crate::collect::CollectReport;
use crate::config::Config;
use crate::delivery::SendReport;
use crate::feeds::BuildReport;
use crate::metrics;

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
    // A scheduled run (or one from the admin API) holds its job's lease while it works, so that
    // it never overlaps another run of the same job — a later tick here, or any tick on another
    // instance. (The tick is claimed first: only its claimer ever writes its row.)
    if trigger == SCHEDULED && app.store.job_paused(&name).await? {
        app.store.skip_job_run(run, now, PAUSED).await?;
        counted(&name, "skipped", 1);
        return Ok(None);
    }
    let job_lease = (trigger != BY_HAND).then(|| (format!("job:{name}"), crate::store::new_owner_id()));
    if let Some((lease_name, owner)) = &job_lease
        && !app.store.acquire_lease(lease_name, owner, lease).await?
    {
        tracing::info!(job = %name, %tick, "tick skipped: {STILL_RUNNING}");
        app.store.skip_job_run(run, now, STILL_RUNNING).await?;
        counted(&name, "skipped", 1);
        return Ok(None);
    }
    if trigger == SCHEDULED {
        let late = (now - tick).to_std().unwrap_or_default().as_secs_f64();
        crate::metrics::METRICS.job_lateness_seconds.get_or_create(&metrics::Job { job: name.clone() }).observe(late);
    }
    let span = tracing::info_span!("job", job = %name, %tick, trigger);
    let outcome =
        work_and_record(app, job, (run, tick), trigger, now, progress, job_lease.as_ref()).instrument(span).await;
    if let Some((lease_name, owner)) = &job_lease
        && let Err(e) = app.store.release_lease(lease_name, owner).await
    {
        tracing::warn!(job = %name, "{e}");
    }
    outcome
}

/// Counts runs of `job` that ended as `outcome`.
fn counted(job: &str, outcome: &str, n: u64) {
    let labels = metrics::JobOutcome { job: job.to_owned(), outcome: outcome.to_owned() };
    metrics::count(&metrics::METRICS.job_runs, labels, n);
}

/// The trigger of the runs the scheduler starts.
const SCHEDULED: &str = "schedule";
/// The trigger of runs started from the command line: the only ones that do not take the job's
/// lease (an operator's `digest send` may go alongside a scheduled run of its own tick).
const BY_HAND: &str = "manual";
/// The trigger of runs started from the admin API.
pub const BY_API: &str = "api";
/// Why a tick of a paused job did not run.
const PAUSED: &str = "paused by an operator";
/// Why a tick did not run while another run of its job was under way.
const STILL_RUNNING: &str = "the previous run was still running (on this instance or another)";

/// Runs a claimed job run, renewing its leases, and records how it ended.
async fn work_and_record(
    app: &App,
    job: &Job,
    (run, tick): (crate::store::JobRunId, DateTime<Utc>),
    trigger: &str,
    now: DateTime<Utc>,
    progress: &(dyn Fn(&SendReport) + Sync),
    job_lease: Option<&(String, String)>,
) -> anyhow::Result<Option<JobOutput>> {
    let name = job.name();
    let lease = app.config.mail.lease;
    tracing::info!(job = %name, %tick, trigger, late_ms = (now - tick).num_milliseconds(), "job started");
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
    // The leases are renewed while it works, so that only a dead process's run is taken over.
    // Should the job's lease be lost — taken over after the database was out of reach for longer
    // than the lease — the run stops where it is (as after a kill), so that two runs never go on
    // side by side.
    let renew = async {
        let mut renewed = std::time::Instant::now();
        loop {
            tokio::time::sleep(lease / 3).await;
            if let Err(e) = app.store.renew_job_run(run, lease).await {
                tracing::warn!(job = %name, "{e}");
            }
            if let Some((lease_name, owner)) = job_lease {
                match app.store.acquire_lease(lease_name, owner, lease).await {
                    Ok(true) => renewed = std::time::Instant::now(),
                    Ok(false) => return "the job's lease was taken over while it ran".to_owned(),
                    Err(e) if renewed.elapsed() >= lease => {
                        return format!("the job's lease could not be renewed for {} s: {e}", lease.as_secs());
                    }
                    Err(e) => tracing::warn!(job = %name, "{e}"),
                }
            }
        }
    };
    let output = tokio::select! {
        output = work => output,
        lost = renew => Err(anyhow::anyhow!("stopped part-way: {lost}")),
    };
    let finished = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
    metrics::METRICS
        .job_seconds
        .get_or_create(&metrics::Job { job: name.clone() })
        .observe(started.elapsed().as_secs_f64());
    let outcome = match &output {
        _ if app.shutdown.is_cancelled() && output.is_ok() => "stopped",
        Ok(o) if o.failure().is_none() => "ok",
        _ => "failed",
    };
    counted(&name, outcome, 1);
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

/// Ticks recorded one by one as skipped after a gap (a per-second job down for a day would
/// otherwise write 86,400 rows); older ones are only counted in the log.
const MAX_SKIPPED_RECORDED: usize = 1000;

/// The ticks of `schedule` after `after` and up to `until` (inclusive), the latest
/// `MAX_SKIPPED_RECORDED` of them, and how many there were in all.
fn ticks_between(schedule: &Schedule, after: DateTime<Utc>, until: DateTime<Utc>) -> (Vec<DateTime<Utc>>, usize) {
    let mut kept = std::collections::VecDeque::new();
    let mut all = 0;
    let mut t = after;
    while let Some(next) = schedule.next_after(t).filter(|n| *n <= until) {
        all += 1;
        if kept.len() == MAX_SKIPPED_RECORDED {
            kept.pop_front();
        }
        kept.push_back(next);
        t = next;
    }
    (kept.into(), all)
}

/// Records as skipped, with `reason`, the ticks after `after` and up to `until`.
async fn record_skipped(
    app: &App,
    scheduled: &Scheduled,
    (after, until): (DateTime<Utc>, DateTime<Utc>),
    now: DateTime<Utc>,
    reason: &str,
) {
    let name = scheduled.job.name();
    let (ticks, all) = ticks_between(&scheduled.schedule, after, until);
    if all == 0 {
        return;
    }
    let mut recorded: u64 = 0;
    for tick in ticks {
        if app.shutdown.is_cancelled() {
            break;
        }
        match app.store.skip_job_tick(&name, tick, SCHEDULED, now, reason).await {
            Ok(true) => recorded += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(job = %name, "{e}"),
        }
    }
    if recorded > 0 {
        tracing::warn!(job = %name, skipped = all, recorded, "ticks skipped: {reason}");
        counted(&name, "skipped", recorded);
    }
}

/// The misfire policy at start (and a test's way to drive the scheduler at chosen times): the
/// latest tick at or before `now` runs if it has not run (here or on another instance); the
/// ticks missed before it since the job's last recorded tick are recorded as skipped (nashra was
/// not running). Returns that latest tick.
pub async fn catch_up(app: &App, scheduled: &Scheduled, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let tick = scheduled.schedule.latest_at_or_before(now)?;
    let name = scheduled.job.name();
    match app.store.last_job_tick(&name).await {
        Ok(Some(last)) if last < tick => {
            let before = tick - chrono::Duration::milliseconds(1);
            record_skipped(app, scheduled, (last, before), now, "nashra was not running").await;
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(job = %name, "{e}"),
    }
    let _ran_well = run_tick(app, scheduled, tick, now).await;
    Some(tick)
}

/// Runs a tick; says whether it ran well here (then it has settled without asking the store).
async fn run_tick(app: &App, scheduled: &Scheduled, tick: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    match run_job(app, &scheduled.job, tick, SCHEDULED, now).await {
        Ok(Some(output)) => output.failure().is_none(),
        Ok(None) => false,
        Err(e) => {
            tracing::error!(job = %scheduled.job.name(), "{e:#}");
            false
        }
    }
}

/// Runs every job that is due at `now` (`catch_up` for each, all at once), then sends what is
/// due in the outbox.
pub async fn run_due(app: &App, now: DateTime<Utc>) {
    let jobs = scheduled_jobs(&app.config);
    futures_util::future::join_all(jobs.iter().map(|s| catch_up(app, s, now))).await;
    outbox_beat(app, now).await;
}

/// Sleeps until `at` by the system clock, in steps of at most a minute, so that a clock that
/// jumped or a machine that was suspended is noticed; `false` if the app is stopping.
async fn sleep_until(app: &App, at: DateTime<Utc>) -> bool {
    loop {
        let left = at - Utc::now();
        let Ok(left) = left.to_std() else { return !app.shutdown.is_cancelled() };
        if left.is_zero() {
            return !app.shutdown.is_cancelled();
        }
        tokio::select! {
            () = tokio::time::sleep(left.min(std::time::Duration::from_secs(60))) => {}
            () = app.shutdown.cancelled() => return false,
        }
    }
}

/// One job's life in the scheduler: catch up at start, then wait for each next tick — its own
/// instant, no polling — and run it. A tick that passed while the previous run was still running
/// is recorded as skipped; after a late wake-up (the machine was suspended, the runtime starved)
/// the latest passed tick runs and the ones before it are recorded as skipped.
async fn job_loop(app: Arc<App>, scheduled: Scheduled) {
    let mut last = catch_up(&app, &scheduled, Utc::now()).await;
    if let Some(tick) = last {
        settle(&app, &scheduled, tick).await;
    }
    loop {
        if app.shutdown.is_cancelled() {
            return;
        }
        let now = Utc::now();
        if let Some(last) = last {
            record_skipped(&app, &scheduled, (last, now), now, STILL_RUNNING).await;
        }
        let Some(next) = scheduled.schedule.next_after(last.map_or(now, |l| l.max(now))) else {
            return;
        };
        if !sleep_until(&app, next).await {
            return;
        }
        let woke = Utc::now();
        let tick = scheduled.schedule.latest_at_or_before(woke).filter(|t| *t > next).unwrap_or(next);
        if tick > next {
            let before = tick - chrono::Duration::milliseconds(1);
            let reason = format!("missed: woken {} ms late (suspended or too busy)", (woke - next).num_milliseconds());
            record_skipped(&app, &scheduled, (next - chrono::Duration::milliseconds(1), before), woke, &reason).await;
        }
        if !run_tick(&app, &scheduled, tick, woke).await {
            settle(&app, &scheduled, tick).await;
        }
        last = Some(tick);
    }
}

/// How often a tick that has not settled is claimed again.
const SETTLE_EVERY: chrono::Duration = chrono::Duration::seconds(30);

/// Until `tick` has settled — run well, or skipped — or the job's next tick is due, claims it
/// again now and then: a run that failed is retried (the claim allows three attempts, two
/// minutes apart), a run left `running` by an instance that died is taken over once its lease
/// has run out, and a tick whose claim failed (the database was away) is claimed at last.
async fn settle(app: &App, scheduled: &Scheduled, tick: DateTime<Utc>) {
    let name = scheduled.job.name();
    let Some(next) = scheduled.schedule.next_after(tick) else { return };
    loop {
        match app.store.job_run_status(&name, tick).await {
            Ok(Some(status)) if matches!(status.as_str(), "ok" | "skipped") => return,
            Ok(_) => {}
            Err(e) => tracing::warn!(job = %name, "{e}"),
        }
        let again = (Utc::now() + SETTLE_EVERY).min(next);
        if again >= next || !sleep_until(app, again).await {
            return;
        }
        if run_tick(app, scheduled, tick, Utc::now()).await {
            return;
        }
    }
}

/// Sends the deliveries that are due and does the housekeeping.
async fn outbox_beat(app: &App, now: DateTime<Utc>) {
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

/// The running scheduler.
pub struct Heartbeat {
    scheduler: JobScheduler,
    app: Arc<App>,
    jobs: tokio_util::task::TaskTracker,
    /// Held by an outbox beat while it runs.
    beating: Arc<Mutex<()>>,
}

impl Heartbeat {
    /// Stops the scheduler and waits for the runs and the beat in progress, which end at their
    /// next safe point (messages in flight are finished, the rest go back to the queue), so that
    /// no claimed delivery or job is left half-recorded by a graceful shutdown.
    pub async fn stop(mut self) {
        self.app.shutdown.cancel();
        if let Err(e) = self.scheduler.shutdown().await {
            tracing::warn!("scheduler shutdown: {e}");
        }
        self.jobs.close();
        self.jobs.wait().await;
        let _wait_for_the_running_beat = self.beating.lock().await;
    }
}

/// Starts the scheduler: one task per job, each waiting for its own next tick, so jobs due
/// together run concurrently; and the outbox beat (due retries, housekeeping) every 10 seconds
/// on `tokio-cron-scheduler`. None starts once the app is shutting down.
pub async fn start(app: Arc<App>) -> anyhow::Result<Heartbeat> {
    let jobs = tokio_util::task::TaskTracker::new();
    for scheduled in scheduled_jobs(&app.config) {
        jobs.spawn(job_loop(app.clone(), scheduled));
    }
    let scheduler = JobScheduler::new().await?;
    let beating: Arc<Mutex<()>> = Arc::default();
    let beat = {
        let (app, beating) = (app.clone(), beating.clone());
        move || {
            let (app, beating) = (app.clone(), beating.clone());
            async move {
                let Ok(_beat) = beating.try_lock() else { return };
                outbox_beat(&app, Utc::now()).await;
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
    Ok(Heartbeat { scheduler, app, jobs, beating })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ticks_between_two_instants_are_counted_and_the_latest_kept() {
        let every_second = Schedule::parse("* * * * * *", chrono_tz::UTC).unwrap();
        let t0 = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 1, 0, 0, 0).unwrap();
        let (ticks, all) = ticks_between(&every_second, t0, t0 + chrono::Duration::seconds(3));
        assert_eq!(all, 3);
        assert_eq!(ticks, [1, 2, 3].map(|s| t0 + chrono::Duration::seconds(s)), "after, up to and with");
        let (ticks, all) = ticks_between(&every_second, t0, t0 + chrono::Duration::hours(1));
        assert_eq!((ticks.len(), all), (MAX_SKIPPED_RECORDED, 3600));
        assert_eq!(ticks.last(), Some(&(t0 + chrono::Duration::hours(1))));
    }
}
