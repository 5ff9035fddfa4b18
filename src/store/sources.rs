//! Sources: one row per configured source, with its polling health.

use chrono::{DateTime, Utc};

use super::error::Context as _;
use super::{Store, StoreResult, on_pool};

pub type SourceId = i64;

impl Store {
    /// Returns the id of the source called `name`, creating or updating its row.
    pub async fn ensure_source(&self, name: &str, kind: &str, url: &str, now: DateTime<Utc>) -> StoreResult<SourceId> {
        on_pool!(self, |pool| sqlx::query_scalar(
            "INSERT INTO sources (name, kind, url, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, url = excluded.url
             RETURNING id"
        )
        .bind(name)
        .bind(kind)
        .bind(url)
        .bind(now)
        .fetch_one(pool)
        .await)
        .with_context(|| format!("cannot record source {name}"))
    }

    /// Records the outcome of one poll: a success clears the failure count, an error adds to it.
    pub async fn record_source_poll(&self, id: SourceId, now: DateTime<Utc>, error: Option<&str>) -> StoreResult<()> {
        let result = match error {
            None => on_pool!(self, |pool| {
                sqlx::query(
                    "UPDATE sources SET last_polled_at = $2, last_success_at = $2, last_error = NULL, failure_count = 0
                 WHERE id = $1",
                )
                .bind(id)
                .bind(now)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
            }),
            Some(error) => on_pool!(self, |pool| {
                sqlx::query(
                    "UPDATE sources SET last_polled_at = $2, last_error = $3, failure_count = failure_count + 1
                 WHERE id = $1",
                )
                .bind(id)
                .bind(now)
                .bind(error)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
            }),
        };
        result.map(|_| ()).with_context(|| format!("cannot record the poll of source {id}"))
    }

    /// (name, failure count, last error) of every source, for reports.
    pub async fn source_health(&self) -> StoreResult<Vec<(String, i64, Option<String>)>> {
        on_pool!(self, |pool| sqlx::query_as("SELECT name, failure_count, last_error FROM sources ORDER BY name")
            .fetch_all(pool)
            .await)
        .context("cannot read source health")
    }
}
