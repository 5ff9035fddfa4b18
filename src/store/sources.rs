//! Sources: one row per configured source, with its polling health — kept across restarts, so a
//! failing source is not hammered after every start.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::error::Context as _;
use super::{Store, StoreResult, on_pool};

pub type SourceId = i64;

/// A source's polling state.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct SourceState {
    pub id: SourceId,
    pub name: String,
    /// Failed polls in a row.
    pub failure_count: i64,
    pub last_error: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
    /// Not polled by the scheduler before this time (after failures, or a long Retry-After).
    pub next_poll_at: Option<DateTime<Utc>>,
}

const STATE_COLUMNS: &str = "id, name, failure_count, last_error, last_success_at, next_poll_at";

impl Store {
    /// The state of the source called `name`, creating or updating its row.
    pub async fn ensure_source(
        &self,
        name: &str,
        kind: &str,
        url: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<SourceState> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO sources (name, kind, url, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, url = excluded.url
             RETURNING {STATE_COLUMNS}"
        )))
        .bind(name)
        .bind(kind)
        .bind(url)
        .bind(now)
        .fetch_one(pool)
        .await)
        .with_context(|| format!("cannot record source {name}"))
    }

    /// Records a successful poll: the failure count is cleared.
    pub async fn record_source_success(&self, id: SourceId, now: DateTime<Utc>) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE sources SET last_polled_at = $2, last_success_at = $2, last_error = NULL, failure_count = 0,
                 next_poll_at = NULL
             WHERE id = $1"
        )
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))
        .with_context(|| format!("cannot record the poll of source {id}"))
    }

    /// Records a failed poll and when the source may be polled again.
    pub async fn record_source_failure(
        &self,
        id: SourceId,
        now: DateTime<Utc>,
        error: &str,
        next_poll_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE sources SET last_polled_at = $2, last_error = $3, failure_count = failure_count + 1,
                 next_poll_at = $4
             WHERE id = $1"
        )
        .bind(id)
        .bind(now)
        .bind(error)
        .bind(next_poll_at)
        .execute(pool)
        .await
        .map(|_| ()))
        .with_context(|| format!("cannot record the poll of source {id}"))
    }

    /// Every source's state, by name.
    pub async fn sources(&self) -> StoreResult<Vec<SourceState>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {STATE_COLUMNS} FROM sources ORDER BY name"
        )))
        .fetch_all(pool)
        .await)
        .context("cannot read sources")
    }
}
