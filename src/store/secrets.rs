//! Secrets the service makes for itself, shared by every instance on the database.

use chrono::{DateTime, Utc};

use super::error::Context as _;
use super::{Store, StoreResult, on_pool};

impl Store {
    /// The secret `name`: the one stored, or `fresh` stored now if there is none yet. Two
    /// instances asking at once get the same one (the first insert wins).
    pub async fn secret(&self, name: &str, fresh: &str, now: DateTime<Utc>) -> StoreResult<String> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(fresh)
            .bind(now)
            .execute(pool)
            .await?;
            sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1").bind(name).fetch_one(pool).await
        })
        .with_context(|| format!("cannot read or make the secret {name}"))
    }
}
