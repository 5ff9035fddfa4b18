//! What the feeds stage reads: which feeds changed since a revision, and only the columns and
//! rows a feed shows.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::error::Context as _;
use super::keywords::KEYWORD_COLUMNS;
use super::{ArticleId, Keyword, KeywordId, Store, StoreResult, on_pool};

/// What a feed shows of an article: no plain-text body, no hashes.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct FeedArticle {
    pub id: ArticleId,
    pub url: String,
    pub title: String,
    pub author: Option<String>,
    pub summary: Option<String>,
    pub body_html: String,
    pub image_url: Option<String>,
    pub published_at: DateTime<Utc>,
    /// No date on the page: `published_at` is when it was first seen, not shown as a date.
    pub undated: bool,
    pub updated_at: DateTime<Utc>,
}

impl FeedArticle {
    /// The publication time a feed may carry: none for an undated article.
    pub fn shown_published(&self) -> Option<DateTime<Utc>> {
        (!self.undated).then_some(self.published_at)
    }
}

const FEED_ARTICLE_COLUMNS: &str =
    "a.id, a.url, a.title, a.author, a.summary, a.body_html, a.image_url, a.published_at, a.undated, a.updated_at";

/// A keyword whose feed changed, with how many articles carry it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ChangedKeyword {
    #[sqlx(flatten)]
    pub keyword: Keyword,
    pub revision: i64,
    pub articles: i64,
}

/// Which articles a feed lists.
#[derive(Debug, Clone, Copy)]
pub enum ArticleFilter<'a> {
    All,
    /// Articles carrying any of these keywords.
    Keywords(&'a [KeywordId]),
}

impl Store {
    /// The feed revision: every change a feed shows raised it (committed changes only).
    pub async fn feed_revision(&self) -> StoreResult<i64> {
        on_pool!(self, |pool| sqlx::query_scalar("SELECT revision FROM feed_revision WHERE id = 1")
            .fetch_one(pool)
            .await)
        .context("cannot read the feed revision")
    }

    /// The keywords whose feeds changed after revision `after` (every keyword for 0), by slug,
    /// each with its article count.
    pub async fn keywords_changed_after(&self, after: i64) -> StoreResult<Vec<ChangedKeyword>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {KEYWORD_COLUMNS}, k.revision,
                 (SELECT COUNT(*) FROM article_keywords ak WHERE ak.keyword_id = k.id) AS articles
             FROM keywords k WHERE k.revision > $1 ORDER BY k.slug"
        )))
        .bind(after)
        .fetch_all(pool)
        .await)
        .context("cannot read the keywords that changed")
    }

    /// The newest articles matching `filter`, newest first (ties broken by id, for stable
    /// output). For keywords the order is taken from the article-keyword and recency indexes
    /// first, so only the `limit` rows shown are read.
    pub async fn feed_articles(&self, filter: ArticleFilter<'_>, limit: u32) -> StoreResult<Vec<FeedArticle>> {
        let limit = i64::from(limit);
        let ids: Vec<ArticleId> = match filter {
            ArticleFilter::All => {
                return on_pool!(self, |pool| {
                    sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT {FEED_ARTICLE_COLUMNS} FROM articles a ORDER BY a.published_at DESC, a.id DESC LIMIT $1"
                    )))
                    .bind(limit)
                    .fetch_all(pool)
                    .await
                })
                .context("cannot read articles");
            }
            ArticleFilter::Keywords([]) => return Ok(Vec::new()),
            ArticleFilter::Keywords(keywords) => on_pool!(self, |pool| {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT a.id FROM articles a WHERE a.id IN \
                     (SELECT article_id FROM article_keywords WHERE keyword_id IN (",
                );
                let mut list = q.separated(", ");
                for id in keywords {
                    list.push_bind(*id);
                }
                q.push(")) ORDER BY a.published_at DESC, a.id DESC LIMIT ");
                q.push_bind(limit);
                q.build_query_scalar().persistent(false).fetch_all(pool).await
            })
            .context("cannot read the articles of keywords")?,
        };
        let mut rows = self.feed_articles_by_id(&ids).await?;
        rows.sort_by(|a, b| b.published_at.cmp(&a.published_at).then(b.id.cmp(&a.id)));
        Ok(rows)
    }
}

impl Store {
    /// The articles at positions `offset`..`offset + limit` in the order they were stored (an
    /// archive page: the same articles whenever it is read), newest first.
    pub async fn stored_articles(&self, offset: u64, limit: u32) -> StoreResult<Vec<FeedArticle>> {
        let mut rows: Vec<FeedArticle> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {FEED_ARTICLE_COLUMNS} FROM articles a ORDER BY a.id LIMIT $1 OFFSET $2"
            )))
            .bind(i64::from(limit))
            .bind(i64::try_from(offset).unwrap_or(i64::MAX))
            .fetch_all(pool)
            .await
        })
        .context("cannot read an archive page's articles")?;
        rows.sort_by(|a, b| b.published_at.cmp(&a.published_at).then(b.id.cmp(&a.id)));
        Ok(rows)
    }
}

impl Store {
    /// The newest `limit` articles of each keyword (for many keyword feeds in one query), as
    /// (keyword, article) pairs in no particular order. Only the article-keyword and recency
    /// indexes are read.
    pub async fn newest_of_keywords(
        &self,
        keywords: &[KeywordId],
        limit: u32,
    ) -> StoreResult<Vec<(KeywordId, ArticleId)>> {
        let mut out = Vec::new();
        for chunk in keywords.chunks(500) {
            let rows: Vec<(KeywordId, ArticleId)> = on_pool!(self, |pool| {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT keyword_id, article_id FROM (
                         SELECT ak.keyword_id, ak.article_id, ROW_NUMBER() OVER (
                             PARTITION BY ak.keyword_id ORDER BY a.published_at DESC, a.id DESC) AS n
                         FROM article_keywords ak JOIN articles a ON a.id = ak.article_id
                         WHERE ak.keyword_id IN (",
                );
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                q.push(")) ranked WHERE n <= ");
                q.push_bind(i64::from(limit));
                q.build_query_as().persistent(false).fetch_all(pool).await
            })
            .context("cannot read the newest articles of keywords")?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// What feeds show of the given articles (any order).
    pub async fn feed_articles_by_id(&self, ids: &[ArticleId]) -> StoreResult<Vec<FeedArticle>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let rows: Vec<FeedArticle> = on_pool!(self, |pool| {
                let mut q =
                    sqlx::QueryBuilder::new(format!("SELECT {FEED_ARTICLE_COLUMNS} FROM articles a WHERE a.id IN ("));
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                q.push(")");
                q.build_query_as().persistent(false).fetch_all(pool).await
            })
            .context("cannot read articles")?;
            out.extend(rows);
        }
        Ok(out)
    }
}
