//! Digest editions and the outbox. An edition is planned once per (schedule, tick) — the unique
//! row is the claim — and each of its messages waits in `deliveries` until the transport accepts
//! it. Sending claims rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional update on
//! SQLite), so several instances never send the same row at once; a row left `sending` by a crash
//! is claimed again after a grace period, which is the only way a message can go out twice.

use std::collections::HashMap;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::FromRow;

use super::error::Context as _;
use super::{Store, StoreResult, SubscriberId, on_pool};

pub type EditionId = i64;
pub type DeliveryId = i64;

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Edition {
    pub id: EditionId,
    pub schedule: String,
    pub tick: DateTime<Utc>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Sending,
    Sent,
    /// Refused for good (a permanent SMTP error, or too many attempts).
    Failed,
    /// The subscriber left before it was sent.
    Cancelled,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }
}

/// What `create_edition` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditionCreated {
    Created(Edition),
    /// An edition of this schedule and tick exists already.
    Exists,
    /// Another edition of the schedule was created while this one was planned: plan again.
    Stale,
}

/// A rendered message, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub subscriber_id: SubscriberId,
    pub recipient: String,
    pub message_id: String,
    pub subject: String,
    pub body_html: String,
    pub body_text: String,
    pub unsubscribe_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Delivery {
    pub id: DeliveryId,
    pub edition_id: EditionId,
    pub subscriber_id: SubscriberId,
    pub recipient: String,
    pub message_id: String,
    pub subject: String,
    pub body_html: String,
    pub body_text: String,
    pub unsubscribe_url: String,
    status: String,
    pub attempts: i64,
    /// When the current sender claimed it (the claim is checked when the outcome is recorded).
    pub claimed_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl Delivery {
    pub fn status(&self) -> DeliveryStatus {
        match self.status.as_str() {
            "sending" => DeliveryStatus::Sending,
            "sent" => DeliveryStatus::Sent,
            "failed" => DeliveryStatus::Failed,
            "cancelled" => DeliveryStatus::Cancelled,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// What became of one claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Sent {
        at: DateTime<Utc>,
    },
    /// A temporary failure: try again at `next_attempt`.
    Retry {
        next_attempt: DateTime<Utc>,
        error: String,
    },
    Failed {
        error: String,
    },
}

const DELIVERY_COLUMNS: &str = "id, edition_id, subscriber_id, recipient, message_id, subject, body_html, body_text, \
     unsubscribe_url, status, attempts, claimed_at, last_error";

impl Store {
    /// Whether the edition of `schedule` at `tick` was planned.
    pub async fn edition_exists(&self, schedule: &str, tick: DateTime<Utc>) -> StoreResult<bool> {
        on_pool!(self, |pool| sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM digest_editions WHERE schedule = $1 AND tick = $2"
        )
        .bind(schedule)
        .bind(tick)
        .fetch_one(pool)
        .await)
        .map(|n| n > 0)
        .context("cannot read digest editions")
    }

    /// For each subscriber who had a digest of `schedule`: the end of the window of the latest.
    pub async fn last_delivered_window_ends(
        &self,
        schedule: &str,
    ) -> StoreResult<HashMap<SubscriberId, DateTime<Utc>>> {
        let rows: Vec<(SubscriberId, DateTime<Utc>)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT d.subscriber_id, MAX(e.window_end) FROM deliveries d
             JOIN digest_editions e ON e.id = d.edition_id
             WHERE e.schedule = $1 GROUP BY d.subscriber_id"
        )
        .bind(schedule)
        .fetch_all(pool)
        .await)
        .context("cannot read when subscribers last had a digest")?;
        Ok(rows.into_iter().collect())
    }

    /// The newest edition of `schedule` (by creation), to detect editions planned meanwhile.
    pub async fn latest_edition_id(&self, schedule: &str) -> StoreResult<Option<EditionId>> {
        on_pool!(self, |pool| sqlx::query_scalar("SELECT MAX(id) FROM digest_editions WHERE schedule = $1")
            .bind(schedule)
            .fetch_one(pool)
            .await)
        .context("cannot read digest editions")
    }

    /// Creates the edition and its deliveries in one transaction — unless an edition of this
    /// schedule and tick exists already, or another edition of the schedule was created since
    /// the planner read `planned_after` (then the plan is stale: a reader could get an article
    /// twice). Editions of one schedule are created one at a time (an advisory lock on
    /// PostgreSQL; SQLite's write lock).
    pub async fn create_edition(
        &self,
        schedule: &str,
        tick: DateTime<Utc>,
        window: (DateTime<Utc>, DateTime<Utc>),
        planned_after: Option<EditionId>,
        deliveries: &[NewDelivery],
        now: DateTime<Utc>,
    ) -> StoreResult<EditionCreated> {
        let is_postgres = matches!(self, Store::Postgres(_));
        let result: StoreResult<EditionCreated> = async {
            super::begin_write!(self, |tx| {
                if is_postgres {
                    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('nashra digest ' || $1))")
                        .bind(schedule)
                        .execute(&mut *tx)
                        .await?;
                }
                let exists: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM digest_editions WHERE schedule = $1 AND tick = $2")
                        .bind(schedule)
                        .bind(tick)
                        .fetch_one(&mut *tx)
                        .await?;
                if exists > 0 {
                    return Ok(EditionCreated::Exists);
                }
                let latest: Option<EditionId> =
                    sqlx::query_scalar("SELECT MAX(id) FROM digest_editions WHERE schedule = $1")
                        .bind(schedule)
                        .fetch_one(&mut *tx)
                        .await?;
                if latest != planned_after {
                    return Ok(EditionCreated::Stale);
                }
                let edition: Edition = sqlx::query_as(
                    "INSERT INTO digest_editions (schedule, tick, window_start, window_end, created_at)
                     VALUES ($1, $2, $3, $4, $5)
                     RETURNING id, schedule, tick, window_start, window_end",
                )
                .bind(schedule)
                .bind(tick)
                .bind(window.0)
                .bind(window.1)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                for d in deliveries {
                    sqlx::query(
                        "INSERT INTO deliveries (edition_id, subscriber_id, recipient, message_id, subject, body_html,
                             body_text, unsubscribe_url, status, next_attempt_at, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(edition.id)
                    .bind(d.subscriber_id)
                    .bind(&d.recipient)
                    .bind(&d.message_id)
                    .bind(&d.subject)
                    .bind(&d.body_html)
                    .bind(&d.body_text)
                    .bind(&d.unsubscribe_url)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(EditionCreated::Created(edition))
            })
        }
        .await;
        result.with_context(|| format!("cannot plan digest edition {schedule} at {tick}"))
    }

    /// Claims the next delivery due at `now` (or left `sending` before `stale_before` by a
    /// process that died) for an active subscriber, and marks it `sending`. One at a time, so
    /// the claim time is the send time and a slow batch never looks abandoned.
    pub async fn claim_delivery(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> StoreResult<Option<Delivery>> {
        const DUE: &str = "((status = 'pending' AND next_attempt_at <= $3) OR (status = 'sending' AND claimed_at < $2))
             AND subscriber_id IN (SELECT id FROM subscribers WHERE status = 'active')";
        // PostgreSQL keeps microseconds; the claim stamp is compared with what it gives back, so
        // it is stored at that precision. What is due is judged at the exact instant: a delivery
        // planned at `now` (nanoseconds, in SQLite's text) is due at `now`.
        let claim = now.trunc_subsecs(6);
        let claimed = match self {
            Store::Sqlite(pool) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "UPDATE deliveries SET status = 'sending', claimed_at = $1, attempts = attempts + 1
                     WHERE id = (SELECT id FROM deliveries WHERE {DUE} ORDER BY id LIMIT 1)
                     RETURNING {DELIVERY_COLUMNS}"
                )))
                .bind(claim)
                .bind(stale_before)
                .bind(now)
                .fetch_optional(pool)
                .await
            }
            Store::Postgres(pool) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "UPDATE deliveries SET status = 'sending', claimed_at = $1, attempts = attempts + 1
                     WHERE id = (SELECT id FROM deliveries WHERE {DUE} ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                     RETURNING {DELIVERY_COLUMNS}"
                )))
                .bind(claim)
                .bind(stale_before)
                .bind(now)
                .fetch_optional(pool)
                .await
            }
        };
        claimed.context("cannot claim a delivery")
    }

    /// Records the outcome of a claimed delivery, if the claim is still this sender's. Returns
    /// false when another sender took the row over (it was presumed dead).
    pub async fn finish_delivery(&self, delivery: &Delivery, outcome: &DeliveryOutcome) -> StoreResult<bool> {
        const OWNED: &str = "id = $1 AND status = 'sending' AND claimed_at = $2";
        let (id, claim) = (delivery.id, delivery.claimed_at);
        let done = match outcome {
            DeliveryOutcome::Sent { at } => on_pool!(self, |pool| sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE deliveries SET status = 'sent', sent_at = $3, last_error = NULL WHERE {OWNED}"
            )))
            .bind(id)
            .bind(claim)
            .bind(at)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())),
            DeliveryOutcome::Retry { next_attempt, error } => {
                on_pool!(self, |pool| sqlx::query(sqlx::AssertSqlSafe(format!(
                    "UPDATE deliveries SET status = 'pending', next_attempt_at = $3, claimed_at = NULL, last_error = $4
                     WHERE {OWNED}"
                )))
                .bind(id)
                .bind(claim)
                .bind(next_attempt)
                .bind(error)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))
            }
            DeliveryOutcome::Failed { error } => on_pool!(self, |pool| sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE deliveries SET status = 'failed', claimed_at = NULL, last_error = $3 WHERE {OWNED}"
            )))
            .bind(id)
            .bind(claim)
            .bind(error)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())),
        };
        done.map(|n| n > 0).with_context(|| format!("cannot record the outcome of delivery {id}"))
    }

    /// (status, count) of an edition's deliveries.
    pub async fn edition_delivery_counts(&self, edition: EditionId) -> StoreResult<Vec<(String, i64)>> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT status, COUNT(*) FROM deliveries WHERE edition_id = $1 GROUP BY status ORDER BY status"
        )
        .bind(edition)
        .fetch_all(pool)
        .await)
        .context("cannot count deliveries")
    }

    /// Every delivery, oldest first (for reports and tests).
    pub async fn deliveries(&self) -> StoreResult<Vec<Delivery>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries ORDER BY id"
        )))
        .fetch_all(pool)
        .await)
        .context("cannot read deliveries")
    }
}
