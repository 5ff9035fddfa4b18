//! The keyword vocabulary. A keyword is identified by its Arabic matching form (`normalized`), so
//! «الإرهاب» and «الارهاب» are one row; `name` keeps the first spelling seen for display and
//! `slug` names its feed. The origin says why it exists: an operator declared it, a subscriber
//! follows it (both make it part of the matching vocabulary), or a page's keyword block used it.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::error::Context as _;
use super::{Store, StoreResult, begin_write, on_pool};

pub type KeywordId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum KeywordOrigin {
    /// Only seen in a page's keyword block.
    Tag,
    Subscriber,
    Operator,
}

impl KeywordOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            KeywordOrigin::Tag => "tag",
            KeywordOrigin::Subscriber => "subscriber",
            KeywordOrigin::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> KeywordOrigin {
        match s {
            "operator" => KeywordOrigin::Operator,
            "subscriber" => KeywordOrigin::Subscriber,
            _ => KeywordOrigin::Tag,
        }
    }

    /// Whether keywords of this origin are searched for in every article's text.
    pub fn in_vocabulary(self) -> bool {
        self != KeywordOrigin::Tag
    }
}

impl fmt::Display for KeywordOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Keyword {
    pub id: KeywordId,
    pub name: String,
    pub normalized: String,
    pub slug: String,
    pub origin: String,
    pub created_at: DateTime<Utc>,
}

impl Keyword {
    pub fn origin(&self) -> KeywordOrigin {
        KeywordOrigin::parse(&self.origin)
    }
}

pub(super) const KEYWORD_COLUMNS: &str = "k.id, k.name, k.normalized, k.slug, k.origin, k.created_at";

/// Raises the feed revision (see the migration `add_feed_revisions`): taken after a writer's
/// article rows and before its keyword rows, held until commit.
pub(super) const RAISE_FEED_REVISION: &str =
    "UPDATE feed_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision";

impl Store {
    /// The statement a writer of articles' keywords starts its transaction with: on PostgreSQL
    /// it takes the feed revision's row lock first, so `upsert_article` and
    /// `add_article_keywords` (which both write `article_keywords` rows before they raise the
    /// revision) cannot each hold what the other waits for; SQLite's `BEGIN IMMEDIATE` already
    /// makes writers one at a time.
    pub(super) fn feed_revision_lock(&self) -> &'static str {
        match self {
            Store::Postgres(_) => "SELECT revision FROM feed_revision WHERE id = 1 FOR UPDATE",
            Store::Sqlite(_) => "SELECT 1",
        }
    }
}

/// Marks the feeds of an article's keywords as changed at revision `$1` (article `$2`).
pub(super) const MARK_FEEDS_OF_ARTICLE: &str =
    "UPDATE keywords SET revision = $1 WHERE id IN (SELECT keyword_id FROM article_keywords WHERE article_id = $2)";

/// What `ensure_keyword` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ensured {
    pub keyword: Keyword,
    /// The keyword was not part of the matching vocabulary before this call.
    pub joined_vocabulary: bool,
}

impl Store {
    /// Returns the keyword with this matching form, creating it or raising its origin (an
    /// operator's keyword outranks a subscriber's, which outranks a tag). One upsert, so
    /// concurrent writers of the same keyword cannot collide. A keyword that changes marks its
    /// feed as changed; one already as asked writes nothing.
    pub async fn ensure_keyword(
        &self,
        name: &str,
        normalized: &str,
        slug: &str,
        origin: KeywordOrigin,
        now: DateTime<Utc>,
    ) -> StoreResult<Ensured> {
        let result: StoreResult<Ensured> = async {
            begin_write!(self, |tx| {
                let before: Option<Keyword> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {KEYWORD_COLUMNS} FROM keywords k WHERE k.normalized = $1"
                )))
                .bind(normalized)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(keyword) = before.as_ref().filter(|k| k.origin() >= origin) {
                    tx.commit().await?;
                    return Ok(Ensured { keyword: keyword.clone(), joined_vocabulary: false });
                }
                let revision: i64 = sqlx::query_scalar(RAISE_FEED_REVISION).fetch_one(&mut *tx).await?;
                let keyword: Keyword = sqlx::query_as(
                    "INSERT INTO keywords AS k (name, normalized, slug, origin, created_at, revision)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (normalized) DO UPDATE SET origin = CASE
                         WHEN k.origin = 'operator' OR excluded.origin = 'operator' THEN 'operator'
                         WHEN k.origin = 'subscriber' OR excluded.origin = 'subscriber' THEN 'subscriber'
                         ELSE 'tag' END,
                         revision = excluded.revision
                     RETURNING id, name, normalized, slug, origin, created_at",
                )
                .bind(name)
                .bind(normalized)
                .bind(slug)
                .bind(origin.as_str())
                .bind(now)
                .bind(revision)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                let was_in_vocabulary = before.is_some_and(|k| k.origin().in_vocabulary());
                Ok(Ensured { joined_vocabulary: origin.in_vocabulary() && !was_in_vocabulary, keyword })
            })
        }
        .await;
        result.with_context(|| format!("cannot record keyword {name}"))
    }

    /// Every keyword, by slug.
    pub async fn all_keywords(&self) -> StoreResult<Vec<Keyword>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {KEYWORD_COLUMNS} FROM keywords k ORDER BY k.slug"
        )))
        .fetch_all(pool)
        .await)
        .context("cannot read keywords")
    }

    /// The keywords searched for in article text (operators' and subscribers').
    pub async fn vocabulary(&self) -> StoreResult<Vec<Keyword>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {KEYWORD_COLUMNS} FROM keywords k WHERE k.origin IN ('operator', 'subscriber') ORDER BY k.id"
        )))
        .fetch_all(pool)
        .await)
        .context("cannot read the keyword vocabulary")
    }

    /// How many stored articles carry each keyword of the vocabulary (those with none are
    /// absent).
    pub async fn vocabulary_article_counts(&self) -> StoreResult<HashMap<KeywordId, i64>> {
        let rows: Vec<(KeywordId, i64)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT ak.keyword_id, COUNT(*) FROM article_keywords ak
             JOIN keywords k ON k.id = ak.keyword_id
             WHERE k.origin IN ('operator', 'subscriber') GROUP BY ak.keyword_id"
        )
        .fetch_all(pool)
        .await)
        .context("cannot count the articles of each keyword")?;
        Ok(rows.into_iter().collect())
    }

    pub async fn keyword_by_slug(&self, slug: &str) -> StoreResult<Option<Keyword>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {KEYWORD_COLUMNS} FROM keywords k WHERE k.slug = $1"
        )))
        .bind(slug)
        .fetch_optional(pool)
        .await)
        .with_context(|| format!("cannot read keyword {slug}"))
    }

    pub async fn keyword_by_normalized(&self, normalized: &str) -> StoreResult<Option<Keyword>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {KEYWORD_COLUMNS} FROM keywords k WHERE k.normalized = $1"
        )))
        .bind(normalized)
        .fetch_optional(pool)
        .await)
        .with_context(|| format!("cannot read keyword {normalized}"))
    }

    /// The keywords with these ids (any order).
    pub async fn keywords_by_ids(&self, ids: &[KeywordId]) -> StoreResult<Vec<Keyword>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let rows: Vec<Keyword> = on_pool!(self, |pool| {
                let mut q =
                    sqlx::QueryBuilder::new(format!("SELECT {KEYWORD_COLUMNS} FROM keywords k WHERE k.id IN ("));
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                q.push(")");
                q.build_query_as().persistent(false).fetch_all(pool).await
            })
            .context("cannot read keywords")?;
            out.extend(rows);
        }
        Ok(out)
    }
}
