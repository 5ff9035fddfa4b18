//! The store: all SQL lives here. Two thin backends share portable SQL — SQLite (the embedded
//! default: one file, WAL) and PostgreSQL (for several instances) — behind one `Store` value, so
//! the stages above never know which one they run on. Each backend has its own migrations folder
//! (`migrations/sqlite`, `migrations/postgres`) with the same file names, applied at start-up.
//!
//! Rules kept by every query here: `$n` placeholders (both backends accept them); times are bound
//! from Rust as UTC `DateTime<Utc>` (SQLite stores them as RFC 3339 text, which sorts correctly
//! because every value has the same `+00:00` offset) — except the instants that decide who may
//! send what and when (leases, due times, retry deadlines): those are milliseconds since the
//! epoch by the database's own clock (`Store::now_ms`), so every process judges them alike.

mod articles;
mod editions;
mod error;
mod feeds;
mod import;
mod jobs;
mod keywords;
mod leases;
mod outbox;
mod secrets;
mod sources;
mod subscribers;
mod suppressions;
mod validators;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use crate::spec::DatabaseUrl;
pub use articles::{Article, ArticleId, DigestArticle, NewArticle, Upserted, hex_digest};
pub use editions::{ContentId, Edition, EditionId, PlanLease, PlannedPage, Reader};
pub use error::{StoreError, StoreResult};
pub use feeds::{ArticleFilter, ChangedKeyword, FeedArticle};
pub use import::{ExportedReader, ImportedReader, Present};
pub use jobs::{JobRun, JobRunId};
pub use keywords::{Ensured, Keyword, KeywordId, KeywordOrigin};
pub use leases::new_owner_id;
pub use outbox::{Claimed, DeliveryId, DeliveryRow, DeliveryStatus, Outcome, QueuePlace, Recorded};
pub use sources::{SourceId, SourceState};
pub use subscribers::{Preferences, Profile, Refusal, Saved, SignedUp, Subscriber, SubscriberId, SubscriberStatus};
pub use suppressions::Suppression;

use error::Context as _;

/// A connection pool on one of the two backends.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code against whichever pool the store holds. The body is compiled once per
/// backend, so it may use the concrete pool type.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite($pool) => $body,
            $crate::store::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Begins a write transaction. On SQLite it is `BEGIN IMMEDIATE`, so two writers queue on the
/// busy timeout instead of failing when a read lock is upgraded.
macro_rules! begin_write {
    ($store:expr, |$tx:ident| $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite(pool) => {
                #[allow(unused_mut)]
                let mut $tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                $body
            }
            $crate::store::Store::Postgres(pool) => {
                #[allow(unused_mut)]
                let mut $tx = pool.begin().await?;
                $body
            }
        }
    };
}
pub(crate) use begin_write;

/// The most parameter bytes one PostgreSQL statement carries. sqlx 0.9.0 connects without
/// `TCP_NODELAY` (launchbadge/sqlx#4335, fixed upstream, not released): over TLS a statement
/// larger than one TLS record (16 KB) leaves in two writes, and the second waits for the
/// server's delayed ACK — 40 ms a statement. Batches are cut below that size.
pub(crate) const PG_STATEMENT_BYTES: usize = 12 * 1024;

/// `items` cut into runs whose estimated size (`size` of each) stays under `max` bytes.
pub(crate) fn chunks_by_size<T>(items: &[T], max: usize, size: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, item) in items.iter().enumerate() {
        let n = size(item);
        if i > start && bytes + n > max {
            out.push(&items[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += n;
    }
    if start < items.len() {
        out.push(&items[start..]);
    }
    out
}

impl Store {
    /// Opens the database (creating a SQLite file and its folder if needed) and applies pending
    /// migrations.
    pub async fn connect(url: &DatabaseUrl, max_connections: u32) -> StoreResult<Store> {
        let store = match url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    // Not private: the folder may hold public output too (the default `var/`
                    // holds the feeds); the file is.
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
                        url: url.to_string(),
                        reason: format!("cannot create folder {}: {e}", dir.display()),
                    })?;
                }
                // The file holds subscribers' addresses: the owner's only (SQLite gives its -wal
                // and -shm files the same mode).
                let private = if path.exists() {
                    crate::files::tighten(path).map(|loose| {
                        if loose {
                            tracing::warn!("{} was readable by others: now the owner's only", path.display());
                        }
                    })
                } else {
                    crate::files::create_private(path).map(drop)
                };
                private.map_err(|e| StoreError::Open {
                    url: url.to_string(),
                    reason: format!("cannot make {} private: {e}", path.display()),
                })?;
                let options = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(max_connections)
                    .connect_with(options)
                    .await
                    .map_err(|e| StoreError::Open { url: url.to_string(), reason: e.to_string() })?;
                sqlx::migrate!("./migrations/sqlite")
                    .run(&pool)
                    .await
                    .map_err(|e| StoreError::Migrate { url: url.to_string(), reason: e.to_string() })?;
                Store::Sqlite(pool)
            }
            DatabaseUrl::Postgres(raw) => {
                let options = PgConnectOptions::from_str(raw)
                    .map_err(|e| StoreError::Open { url: url.to_string(), reason: e.to_string() })?;
                let pool = PgPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect_with(options)
                    .await
                    .map_err(|e| StoreError::Open { url: url.to_string(), reason: e.to_string() })?;
                sqlx::migrate!("./migrations/postgres")
                    .run(&pool)
                    .await
                    .map_err(|e| StoreError::Migrate { url: url.to_string(), reason: e.to_string() })?;
                Store::Postgres(pool)
            }
        };
        Ok(store)
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Checks the database answers (for `/readyz`).
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
            .context("database did not answer")
    }

    /// Migrations this build has that the database has not applied (another instance may have
    /// applied newer ones: those do not count).
    pub async fn migrations_pending(&self) -> StoreResult<usize> {
        const APPLIED: &str = "SELECT version FROM _sqlx_migrations WHERE success";
        let (applied, ours): (Vec<i64>, Vec<i64>) = match self {
            Store::Sqlite(pool) => (
                sqlx::query_scalar(APPLIED).fetch_all(pool).await.context("cannot read the applied migrations")?,
                sqlx::migrate!("./migrations/sqlite").iter().map(|m| m.version).collect(),
            ),
            Store::Postgres(pool) => (
                sqlx::query_scalar(APPLIED).fetch_all(pool).await.context("cannot read the applied migrations")?,
                sqlx::migrate!("./migrations/postgres").iter().map(|m| m.version).collect(),
            ),
        };
        Ok(ours.iter().filter(|v| !applied.contains(v)).count())
    }

    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    fn names(dir: &str) -> BTreeSet<String> {
        std::fs::read_dir(format!("{}/migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn batches_are_cut_by_size() {
        let items = [5, 5, 5, 20, 1];
        let chunks = super::chunks_by_size(&items, 10, |n| *n);
        assert_eq!(chunks, vec![&[5, 5][..], &[5][..], &[20][..], &[1][..]]);
        assert!(super::chunks_by_size(&[] as &[usize], 10, |n| *n).is_empty());
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        let sqlite = names("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, names("postgres"), "every migration needs a SQLite and a PostgreSQL version");
    }
}
