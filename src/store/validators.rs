//! HTTP cache validators (ETag, Last-Modified) of fetched URLs, for conditional GET. They are
//! saved only once what was fetched has been parsed and stored, so a page that failed is fetched
//! in full again next time.

use chrono::{DateTime, Utc};

use super::error::Context as _;
use super::{Store, StoreResult, on_pool};

impl Store {
    /// (etag, last_modified) saved for `url`.
    pub async fn validators(&self, url: &str) -> StoreResult<Option<(Option<String>, Option<String>)>> {
        on_pool!(self, |pool| sqlx::query_as("SELECT etag, last_modified FROM http_validators WHERE url = $1")
            .bind(url)
            .fetch_optional(pool)
            .await)
        .with_context(|| format!("cannot read the cache validators of {url}"))
    }

    pub async fn save_validators(
        &self,
        url: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO http_validators (url, etag, last_modified, saved_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
                 saved_at = excluded.saved_at"
        )
        .bind(url)
        .bind(etag)
        .bind(last_modified)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))
        .with_context(|| format!("cannot save the cache validators of {url}"))
    }

    pub async fn forget_validators(&self, url: &str) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query("DELETE FROM http_validators WHERE url = $1")
            .bind(url)
            .execute(pool)
            .await
            .map(|_| ()))
        .with_context(|| format!("cannot forget the cache validators of {url}"))
    }
}
