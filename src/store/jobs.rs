//! Job history, and the claim that makes a scheduled tick run once cluster-wide: the first
//! instance to insert (job, tick) runs it; the others see the conflict and skip. A running job
//! renews a lease on its row (by the database's clock); a row whose lease ran out belongs to a
//! process that died, and the next claim of that tick takes it over.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::error::Context as _;
use super::leases::millis;
use super::{Store, StoreResult, on_pool};

pub type JobRunId = i64;

#[derive(Debug, Clone, PartialEq, Eq, FromRow, serde::Serialize)]
pub struct JobRun {
    pub id: JobRunId,
    pub job: String,
    pub tick: DateTime<Utc>,
    pub trigger: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub summary: Option<String>,
    pub error: Option<String>,
}

impl Store {
    /// Claims (job, tick) under a lease of `lease`; `None` if it is claimed already. A run that
    /// failed is claimed again once `retry_after` has passed since it ended (up to `MAX_ATTEMPTS`
    /// in all); a run left `running` by a process that died (its lease ran out) is taken over, and
    /// one `stopped` part-way (its process was asked to stop) is taken up again.
    pub async fn claim_job_run(
        &self,
        job: &str,
        tick: DateTime<Utc>,
        trigger: &str,
        now: DateTime<Utc>,
        lease: std::time::Duration,
    ) -> StoreResult<Option<JobRunId>> {
        const MAX_ATTEMPTS: i64 = 3;
        let retry_after = now - chrono::Duration::minutes(2);
        // Rows from before leases: running for an hour means abandoned.
        let abandoned_before = now - chrono::Duration::hours(1);
        let db_now = self.now_ms();
        let sql = format!(
            "INSERT INTO job_runs AS r (job, tick, trigger, status, started_at, lease_until)
             VALUES ($1, $2, $3, 'running', $4, {db_now} + $8)
             ON CONFLICT (job, tick) DO UPDATE SET status = 'running', trigger = excluded.trigger,
                 started_at = excluded.started_at, finished_at = NULL, summary = NULL, error = NULL,
                 attempts = CASE WHEN r.status = 'failed' THEN r.attempts + 1 ELSE r.attempts END,
                 lease_until = excluded.lease_until
             WHERE (r.status = 'failed' AND r.attempts < $5 AND r.finished_at <= $6)
                OR r.status = 'stopped'
                OR (r.status = 'running' AND (r.lease_until < {db_now} OR (r.lease_until IS NULL AND r.started_at < $7)))
             RETURNING id"
        );
        on_pool!(self, |pool| sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(job)
            .bind(tick)
            .bind(trigger)
            .bind(now)
            .bind(MAX_ATTEMPTS)
            .bind(retry_after)
            .bind(abandoned_before)
            .bind(millis(lease))
            .fetch_optional(pool)
            .await)
        .with_context(|| format!("cannot claim job {job} at {tick}"))
    }

    /// Extends the lease of a running job.
    pub async fn renew_job_run(&self, id: JobRunId, lease: std::time::Duration) -> StoreResult<()> {
        let sql =
            format!("UPDATE job_runs SET lease_until = {} + $2 WHERE id = $1 AND status = 'running'", self.now_ms());
        on_pool!(self, |pool| sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .bind(millis(lease))
            .execute(pool)
            .await
            .map(|_| ()))
        .with_context(|| format!("cannot renew job run {id}"))
    }

    /// The status of (job, tick), if it was claimed.
    pub async fn job_run_status(&self, job: &str, tick: DateTime<Utc>) -> StoreResult<Option<String>> {
        on_pool!(self, |pool| sqlx::query_scalar("SELECT status FROM job_runs WHERE job = $1 AND tick = $2")
            .bind(job)
            .bind(tick)
            .fetch_optional(pool)
            .await)
        .with_context(|| format!("cannot read job {job} at {tick}"))
    }

    /// The earliest start of a `job` run in progress (started after `since`), if one is.
    pub async fn running_since(&self, job: &str, since: DateTime<Utc>) -> StoreResult<Option<DateTime<Utc>>> {
        on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT MIN(started_at) FROM job_runs WHERE job = $1 AND status = 'running' AND started_at > $2"
        )
        .bind(job)
        .bind(since)
        .fetch_one(pool)
        .await)
        .with_context(|| format!("cannot read the running {job} jobs"))
    }

    pub async fn finish_job_run(
        &self,
        id: JobRunId,
        now: DateTime<Utc>,
        outcome: Result<&str, &str>,
    ) -> StoreResult<()> {
        let (status, summary, error) = match outcome {
            Ok(summary) => ("ok", Some(summary), None),
            Err(error) => ("failed", None, Some(error)),
        };
        on_pool!(self, |pool| sqlx::query(
            "UPDATE job_runs SET status = $2, finished_at = $3, summary = $4, error = $5, lease_until = NULL WHERE id = $1"
        )
        .bind(id)
        .bind(status)
        .bind(now)
        .bind(summary)
        .bind(error)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map(|_| ())
        .with_context(|| format!("cannot record the end of job run {id}"))
    }

    /// The latest scheduled tick recorded for `job` (runs by hand have ticks of their own).
    pub async fn last_job_tick(&self, job: &str) -> StoreResult<Option<DateTime<Utc>>> {
        on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT MAX(tick) FROM job_runs WHERE job = $1 AND trigger = 'schedule'"
        )
        .bind(job)
        .fetch_one(pool)
        .await)
        .with_context(|| format!("cannot read the last run of job {job}"))
    }

    /// Records that (job, tick) did not run, and why — unless the tick has a row already.
    /// Returns whether it was recorded.
    pub async fn skip_job_tick(
        &self,
        job: &str,
        tick: DateTime<Utc>,
        trigger: &str,
        now: DateTime<Utc>,
        reason: &str,
    ) -> StoreResult<bool> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO job_runs (job, tick, trigger, status, started_at, finished_at, summary)
             VALUES ($1, $2, $3, 'skipped', $4, $4, $5) ON CONFLICT (job, tick) DO NOTHING"
        )
        .bind(job)
        .bind(tick)
        .bind(trigger)
        .bind(now)
        .bind(reason)
        .execute(pool)
        .await
        .map(|r| r.rows_affected() > 0))
        .with_context(|| format!("cannot record job {job} at {tick} as skipped"))
    }

    /// Marks a claimed run as not run after all, and why (its job was running elsewhere).
    pub async fn skip_job_run(&self, id: JobRunId, now: DateTime<Utc>, reason: &str) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE job_runs SET status = 'skipped', finished_at = $2, summary = $3, lease_until = NULL WHERE id = $1"
        )
        .bind(id)
        .bind(now)
        .bind(reason)
        .execute(pool)
        .await
        .map(|_| ()))
        .with_context(|| format!("cannot record job run {id} as skipped"))
    }

    /// Pauses or resumes `job`; says whether that changed anything.
    pub async fn set_job_paused(&self, job: &str, paused: bool, now: DateTime<Utc>) -> StoreResult<bool> {
        on_pool!(self, |pool| if paused {
            sqlx::query("INSERT INTO job_pauses (job, paused_at) VALUES ($1, $2) ON CONFLICT (job) DO NOTHING")
                .bind(job)
                .bind(now)
                .execute(pool)
                .await
        } else {
            sqlx::query("DELETE FROM job_pauses WHERE job = $1").bind(job).execute(pool).await
        }
        .map(|r| r.rows_affected() > 0))
        .with_context(|| format!("cannot pause or resume job {job}"))
    }

    /// The paused jobs, with when they were paused.
    pub async fn paused_jobs(&self) -> StoreResult<Vec<(String, DateTime<Utc>)>> {
        on_pool!(self, |pool| sqlx::query_as("SELECT job, paused_at FROM job_pauses ORDER BY job")
            .fetch_all(pool)
            .await)
        .context("cannot read the paused jobs")
    }

    /// Whether `job` is paused.
    pub async fn job_paused(&self, job: &str) -> StoreResult<bool> {
        on_pool!(self, |pool| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM job_pauses WHERE job = $1")
            .bind(job)
            .fetch_one(pool)
            .await)
        .map(|n| n > 0)
        .with_context(|| format!("cannot read whether job {job} is paused"))
    }

    /// When a run of `job` last came to its end (well or not: the job works, whatever its
    /// sources did).
    pub async fn last_finished_run(&self, job: &str) -> StoreResult<Option<DateTime<Utc>>> {
        on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT MAX(finished_at) FROM job_runs WHERE job = $1 AND status IN ('ok', 'failed')"
        )
        .bind(job)
        .fetch_one(pool)
        .await)
        .with_context(|| format!("cannot read the last run of job {job}"))
    }

    /// Records that a run stopped part-way when its process was asked to stop; the next claim
    /// of its tick takes it up again.
    pub async fn stop_job_run(&self, id: JobRunId, now: DateTime<Utc>) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE job_runs SET status = 'stopped', finished_at = $2, summary = 'stopped before its end; resumed by the next run',
                 lease_until = NULL WHERE id = $1"
        )
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))
        .with_context(|| format!("cannot record the stop of job run {id}"))
    }

    /// The most recent runs, newest first.
    pub async fn recent_job_runs(&self, limit: u32) -> StoreResult<Vec<JobRun>> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, job, tick, trigger, status, started_at, finished_at, summary, error
             FROM job_runs ORDER BY started_at DESC, id DESC LIMIT $1"
        )
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)
        .context("cannot read job runs")
    }
}
