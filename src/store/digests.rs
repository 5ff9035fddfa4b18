//! Digest editions and the outbox. An edition is planned once per (schedule, tick) — the unique
//! row is the claim — and each of its messages waits in `deliveries` until the transport accepts
//! it. Sending claims rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, a conditional update on
//! SQLite), so several instances never send the same row at once; a row left `sending` by a crash
//! is claimed again after a grace period, which is the only way a message can go out twice.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
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
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
        }
    }
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
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

const DELIVERY_COLUMNS: &str = "id, edition_id, subscriber_id, recipient, message_id, subject, body_html, body_text, \
     unsubscribe_url, status, attempts, last_error";

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

    /// Creates the edition and its deliveries in one transaction, unless an edition of this
    /// schedule and tick exists already (then `None`: it was planned before, here or elsewhere).
    pub async fn create_edition(
        &self,
        schedule: &str,
        tick: DateTime<Utc>,
        window: (DateTime<Utc>, DateTime<Utc>),
        deliveries: &[NewDelivery],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<Edition>> {
        let result: StoreResult<Option<Edition>> = async {
            super::begin_write!(self, |tx| {
                let edition: Option<Edition> = sqlx::query_as(
                    "INSERT INTO digest_editions (schedule, tick, window_start, window_end, created_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (schedule, tick) DO NOTHING
                     RETURNING id, schedule, tick, window_start, window_end",
                )
                .bind(schedule)
                .bind(tick)
                .bind(window.0)
                .bind(window.1)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(edition) = edition else { return Ok(None) };
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
                Ok(Some(edition))
            })
        }
        .await;
        result.with_context(|| format!("cannot plan digest edition {schedule} at {tick}"))
    }

    /// Claims up to `limit` deliveries that are due at `now` (or were left `sending` before
    /// `stale_before` by a process that died) and marks them `sending`.
    pub async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Delivery>> {
        const DUE: &str = "(status = 'pending' AND next_attempt_at <= $1) OR (status = 'sending' AND claimed_at < $2)";
        let limit = i64::from(limit);
        let claimed = match self {
            Store::Sqlite(pool) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "UPDATE deliveries SET status = 'sending', claimed_at = $1, attempts = attempts + 1
                     WHERE id IN (SELECT id FROM deliveries WHERE {DUE} ORDER BY id LIMIT $3)
                     RETURNING {DELIVERY_COLUMNS}"
                )))
                .bind(now)
                .bind(stale_before)
                .bind(limit)
                .fetch_all(pool)
                .await
            }
            Store::Postgres(pool) => {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "UPDATE deliveries SET status = 'sending', claimed_at = $1, attempts = attempts + 1
                     WHERE id IN (SELECT id FROM deliveries WHERE {DUE} ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
                     RETURNING {DELIVERY_COLUMNS}"
                )))
                .bind(now)
                .bind(stale_before)
                .bind(limit)
                .fetch_all(pool)
                .await
            }
        };
        let mut claimed: Vec<Delivery> = claimed.context("cannot claim deliveries")?;
        claimed.sort_by_key(|d| d.id);
        Ok(claimed)
    }

    pub async fn mark_delivery_sent(&self, id: DeliveryId, now: DateTime<Utc>) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE deliveries SET status = 'sent', sent_at = $2, last_error = NULL WHERE id = $1"
        )
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map(|_| ())
        .with_context(|| format!("cannot mark delivery {id} sent"))
    }

    /// Puts a delivery back in the queue after a temporary failure.
    pub async fn mark_delivery_retry(
        &self,
        id: DeliveryId,
        next_attempt: DateTime<Utc>,
        error: &str,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = $2, claimed_at = NULL, last_error = $3
             WHERE id = $1"
        )
        .bind(id)
        .bind(next_attempt)
        .bind(error)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map(|_| ())
        .with_context(|| format!("cannot reschedule delivery {id}"))
    }

    pub async fn mark_delivery_failed(&self, id: DeliveryId, error: &str) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE deliveries SET status = 'failed', claimed_at = NULL, last_error = $2 WHERE id = $1"
        )
        .bind(id)
        .bind(error)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .map(|_| ())
        .with_context(|| format!("cannot mark delivery {id} failed"))
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
