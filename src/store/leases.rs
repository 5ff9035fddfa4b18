//! Named leases, and the database's clock they are judged by. A lease is held by an owner (one
//! process's random id) until an instant of the database's clock; taking one over is allowed
//! only when that instant has passed by the same clock, so processes on machines whose clocks
//! disagree, or that run with an edition's `--now` in the future, never take a live lease.

use std::time::Duration;

use super::error::Context as _;
use super::{Store, StoreResult, on_pool};

/// Milliseconds, as the database's clock counts them (for leases, due times and deadlines).
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// The database's "now", in milliseconds since the epoch, as an SQL expression.
    pub(crate) fn now_ms(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "CAST(unixepoch('subsec') * 1000 AS INTEGER)",
            Store::Postgres(_) => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        }
    }

    /// The database's clock, in milliseconds since the epoch.
    pub async fn database_now_ms(&self) -> StoreResult<i64> {
        let sql = format!("SELECT {}", self.now_ms());
        on_pool!(self, |pool| sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await)
            .context("cannot read the database's clock")
    }

    /// Takes the lease `name` for `owner` for `ttl` — if nobody holds it, its holder's time is up,
    /// or `owner` holds it already (then it is renewed). Returns whether `owner` holds it now.
    pub async fn acquire_lease(&self, name: &str, owner: &str, ttl: Duration) -> StoreResult<bool> {
        let now = self.now_ms();
        let sql = format!(
            "INSERT INTO leases (name, owner, expires_at) VALUES ($1, $2, {now} + $3)
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
             WHERE leases.owner = excluded.owner OR leases.expires_at < {now}
             RETURNING name"
        );
        let taken: Option<String> = on_pool!(self, |pool| sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind(name)
            .bind(owner)
            .bind(millis(ttl))
            .fetch_optional(pool)
            .await)
        .with_context(|| format!("cannot take the lease {name}"))?;
        Ok(taken.is_some())
    }

    /// Gives the lease up, if `owner` holds it.
    pub async fn release_lease(&self, name: &str, owner: &str) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query("DELETE FROM leases WHERE name = $1 AND owner = $2")
            .bind(name)
            .bind(owner)
            .execute(pool)
            .await
            .map(|_| ()))
        .with_context(|| format!("cannot release the lease {name}"))
    }
}

/// A random id for this process's leases and claims (64 bits, hex, with the process id for logs).
pub fn new_owner_id() -> String {
    let mut bytes = [0u8; 8];
    // Without randomness the process id and the time still tell two owners apart.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64).to_le_bytes();
    }
    format!("{}-{}", std::process::id(), super::hex_digest(&bytes))
}
