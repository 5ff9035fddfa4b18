//! Addresses nashra must not write to: refused for good by the relay, with the reply that said
//! so. Kept by address, so deleting and adding a subscriber again does not lift a suppression;
//! only the operator does (`subscribers unsuppress`), or an explicit re-subscription.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::error::Context as _;
use super::{Store, StoreResult, begin_write, on_pool};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Suppression {
    pub email: String,
    /// The reply or reason that suppressed it.
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

impl Store {
    /// Every suppressed address, newest first.
    pub async fn suppressions(&self) -> StoreResult<Vec<Suppression>> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT email, reason, created_at FROM suppressions ORDER BY created_at DESC, email"
        )
        .fetch_all(pool)
        .await)
        .context("cannot read suppressions")
    }

    pub async fn suppression(&self, email: &str) -> StoreResult<Option<Suppression>> {
        on_pool!(self, |pool| sqlx::query_as("SELECT email, reason, created_at FROM suppressions WHERE email = $1")
            .bind(email)
            .fetch_optional(pool)
            .await)
        .with_context(|| format!("cannot read the suppression of {email}"))
    }

    /// Up to `limit` suppressed addresses with no subscriber, after `after` in address order.
    pub async fn suppressions_without_subscriber(&self, after: &str, limit: u32) -> StoreResult<Vec<Suppression>> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT x.email, x.reason, x.created_at FROM suppressions x
             WHERE x.email > $1 AND NOT EXISTS (SELECT 1 FROM subscribers s WHERE s.email = x.email)
             ORDER BY x.email LIMIT $2"
        )
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)
        .context("cannot read suppressions")
    }

    /// Suppresses `email` (keeping an earlier reason) and cancels its waiting messages.
    pub async fn suppress(&self, email: &str, reason: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let result: StoreResult<()> = async {
            begin_write!(self, |tx| {
                sqlx::query(
                    "INSERT INTO suppressions (email, reason, created_at) VALUES ($1, $2, $3)
                     ON CONFLICT (email) DO NOTHING",
                )
                .bind(email)
                .bind(reason)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE deliveries SET status = 'cancelled', last_error = 'the address is suppressed'
                     WHERE status = 'pending' AND subscriber_id IN (SELECT id FROM subscribers WHERE email = $1)",
                )
                .bind(email)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            })
        }
        .await;
        result.with_context(|| format!("cannot suppress {email}"))
    }

    /// Lifts the suppression of `email`; returns whether there was one.
    pub async fn unsuppress(&self, email: &str) -> StoreResult<bool> {
        on_pool!(self, |pool| sqlx::query("DELETE FROM suppressions WHERE email = $1")
            .bind(email)
            .execute(pool)
            .await
            .map(|r| r.rows_affected() > 0))
        .with_context(|| format!("cannot lift the suppression of {email}"))
    }
}
