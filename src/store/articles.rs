//! Articles: one row per canonical URL. An upsert whose content is unchanged touches nothing, so a
//! re-collected page neither reorders feeds nor re-enters a digest; an edited page updates its row
//! and its `updated_at`, keeping its id, its `first_seen_at` and therefore its place in digests.

use chrono::{DateTime, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use sqlx::FromRow;

use super::error::Context as _;
use super::keywords::{KEYWORD_COLUMNS, MARK_FEEDS_OF_ARTICLE, RAISE_FEED_REVISION};
use super::{Keyword, KeywordId, SourceId, Store, StoreResult, begin_write, on_pool};

pub type ArticleId = i64;

/// What the collect stage hands to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewArticle {
    /// The canonical URL: the article's identity.
    pub url: String,
    pub guid: Option<String>,
    pub title: String,
    pub author: Option<String>,
    pub section: Option<String>,
    pub summary: Option<String>,
    /// Sanitised HTML.
    pub body_html: String,
    pub body_text: String,
    pub image_url: Option<String>,
    pub lang: Option<String>,
    /// When the page says it was published; the time it was first read when it says nothing
    /// that can be read (`undated`).
    pub published_at: DateTime<Utc>,
    /// The page gave no date: `published_at` is the time nashra first saw it, never shown as
    /// a publication date.
    pub undated: bool,
    /// When the page says it was last edited, if it says so.
    pub updated_at: Option<DateTime<Utc>>,
    /// The page's own keyword block, as written.
    pub tags: Vec<String>,
}

impl NewArticle {
    /// A digest of the content, to tell an edit from a re-fetch. The publication time is left
    /// out: a relative date line gives a different time at every fetch of the same page.
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            Some(self.title.as_str()),
            self.author.as_deref(),
            self.section.as_deref(),
            self.summary.as_deref(),
            Some(self.body_html.as_str()),
            self.image_url.as_deref(),
            self.guid.as_deref(),
        ] {
            h.update(part.unwrap_or("\u{0}").as_bytes());
            h.update([0x1f]);
        }
        for tag in &self.tags {
            h.update([0x1e]);
            h.update(tag.as_bytes());
        }
        hex_digest(&h.finalize())
    }

    /// The text keywords are matched in.
    pub fn matching_text(&self) -> String {
        matching_text(&self.title, self.summary.as_deref(), &self.body_text)
    }
}

pub(crate) fn matching_text(title: &str, summary: Option<&str>, body: &str) -> String {
    let mut s = String::with_capacity(title.len() + body.len() + 16);
    s.push_str(title);
    s.push('\n');
    if let Some(summary) = summary {
        s.push_str(summary);
        s.push('\n');
    }
    s.push_str(body);
    s
}

pub fn hex_digest(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Inserted(ArticleId),
    Updated(ArticleId),
    Unchanged(ArticleId),
    /// The URL is another source's article, left as it is.
    Foreign(ArticleId),
}

impl Upserted {
    pub fn id(self) -> ArticleId {
        match self {
            Upserted::Inserted(id) | Upserted::Updated(id) | Upserted::Unchanged(id) | Upserted::Foreign(id) => id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, FromRow)]
pub struct Article {
    pub id: ArticleId,
    pub source_id: SourceId,
    pub url: String,
    pub guid: Option<String>,
    pub title: String,
    pub author: Option<String>,
    pub section: Option<String>,
    pub summary: Option<String>,
    pub body_html: String,
    pub body_text: String,
    pub image_url: Option<String>,
    pub lang: Option<String>,
    pub published_at: DateTime<Utc>,
    pub undated: bool,
    pub updated_at: DateTime<Utc>,
    pub first_seen_at: DateTime<Utc>,
}

impl Article {
    pub fn matching_text(&self) -> String {
        matching_text(&self.title, self.summary.as_deref(), &self.body_text)
    }
}

/// What a digest shows of an article: no body, so an edition's window is cheap to hold.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DigestArticle {
    pub id: ArticleId,
    pub url: String,
    pub title: String,
    pub author: Option<String>,
    pub section: Option<String>,
    pub summary: Option<String>,
    pub published_at: DateTime<Utc>,
    /// No date on the page: `published_at` is when it was first seen (not to be shown).
    pub undated: bool,
    pub first_seen_at: DateTime<Utc>,
}

impl DigestArticle {
    /// The publication time a reader may be shown: none for an undated article.
    pub fn shown_published(&self) -> Option<DateTime<Utc>> {
        (!self.undated).then_some(self.published_at)
    }
}

const DIGEST_ARTICLE_COLUMNS: &str =
    "a.id, a.url, a.title, a.author, a.section, a.summary, a.published_at, a.undated, a.first_seen_at";

#[derive(FromRow)]
struct ArticleKeywordRow {
    article_id: ArticleId,
    #[sqlx(flatten)]
    keyword: Keyword,
}

const ARTICLE_COLUMNS: &str = "a.id, a.source_id, a.url, a.guid, a.title, a.author, a.section, a.summary, \
     a.body_html, a.body_text, a.image_url, a.lang, a.published_at, a.undated, a.updated_at, a.first_seen_at";

impl Store {
    /// Inserts `article` or updates the row with the same URL if its content changed, and sets
    /// its keywords; all in one transaction.
    pub async fn upsert_article(
        &self,
        source: SourceId,
        article: &NewArticle,
        keywords: &[(KeywordId, &str)],
        now: DateTime<Utc>,
    ) -> StoreResult<Upserted> {
        let hash = article.content_hash();
        // PostgreSQL keeps microseconds; compare with what it will give back.
        let now = now.trunc_subsecs(6);
        let outcome: StoreResult<Upserted> = async {
            begin_write!(self, |tx| {
                sqlx::query(self.feed_revision_lock()).execute(&mut *tx).await?;
                // Deduplication: the canonical URL first; an article the source now serves under
                // another URL is found by its GUID and moves to the new URL; the same content
                // under another URL (a mirror, tracking parameters) is the article already kept.
                let by_url: Option<(ArticleId, SourceId)> =
                    sqlx::query_as("SELECT id, source_id FROM articles WHERE url = $1")
                        .bind(&article.url)
                        .fetch_optional(&mut *tx)
                        .await?;
                // An article belongs to the source that found it first; another source (two
                // sources of one site, or a push token) cannot rewrite it.
                if let Some((id, owner)) = by_url
                    && owner != source
                {
                    tx.commit().await?;
                    return Ok(Upserted::Foreign(id));
                }
                let mut moved = None;
                if by_url.is_none() {
                    if let Some(guid) = &article.guid {
                        moved = sqlx::query_scalar(
                            "SELECT id FROM articles WHERE guid = $1 AND source_id = $2 ORDER BY id LIMIT 1",
                        )
                        .bind(guid)
                        .bind(source)
                        .fetch_optional(&mut *tx)
                        .await?;
                    }
                    if moved.is_none() {
                        let copy: Option<ArticleId> =
                            sqlx::query_scalar("SELECT id FROM articles WHERE content_hash = $1 ORDER BY id LIMIT 1")
                                .bind(&hash)
                                .fetch_optional(&mut *tx)
                                .await?;
                        if let Some(id) = copy {
                            tx.commit().await?;
                            return Ok(Upserted::Unchanged(id));
                        }
                    }
                }
                if let Some(id) = moved {
                    sqlx::query("UPDATE articles SET url = $2 WHERE id = $1")
                        .bind(id)
                        .bind(&article.url)
                        .execute(&mut *tx)
                        .await?;
                }
                // One statement, so two writers of the same URL cannot both insert. Unchanged
                // content updates nothing and returns no row. The publication time only moves
                // earlier: a relative date line («منذ ساعتين») read again later must not make an
                // old article look new. An undated article keeps the time it was first seen until
                // a read gives it a date; a dated one never loses its date to an undated read.
                let written: Option<(ArticleId, DateTime<Utc>)> = sqlx::query_as(
                    "INSERT INTO articles (source_id, url, guid, title, author, section, summary, body_html,
                         body_text, image_url, lang, content_hash, published_at, updated_at, first_seen_at,
                         last_seen_at, undated)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $17)
                     ON CONFLICT (url) DO UPDATE SET
                         source_id = excluded.source_id, guid = excluded.guid, title = excluded.title,
                         author = excluded.author, section = excluded.section, summary = excluded.summary,
                         body_html = excluded.body_html, body_text = excluded.body_text,
                         image_url = excluded.image_url, lang = excluded.lang, content_hash = excluded.content_hash,
                         published_at = CASE
                             WHEN articles.undated AND NOT excluded.undated THEN excluded.published_at
                             WHEN excluded.undated AND NOT articles.undated THEN articles.published_at
                             WHEN excluded.published_at < articles.published_at THEN excluded.published_at
                             ELSE articles.published_at END,
                         undated = articles.undated AND excluded.undated,
                         updated_at = $16, last_seen_at = excluded.last_seen_at
                     WHERE (articles.content_hash <> excluded.content_hash
                            OR (articles.undated AND NOT excluded.undated))
                       AND articles.source_id = excluded.source_id
                     RETURNING id, first_seen_at",
                )
                .bind(source)
                .bind(&article.url)
                .bind(&article.guid)
                .bind(&article.title)
                .bind(&article.author)
                .bind(&article.section)
                .bind(&article.summary)
                .bind(&article.body_html)
                .bind(&article.body_text)
                .bind(&article.image_url)
                .bind(&article.lang)
                .bind(&hash)
                .bind(article.published_at)
                .bind(article.updated_at.unwrap_or(article.published_at))
                .bind(now)
                .bind(article.updated_at.unwrap_or(now))
                .bind(article.undated)
                .fetch_optional(&mut *tx)
                .await?;
                let outcome = match (written, moved) {
                    (_, Some(id)) => Upserted::Updated(id),
                    (Some((id, first_seen)), None) if first_seen == now => Upserted::Inserted(id),
                    (Some((id, _)), None) => Upserted::Updated(id),
                    (None, None) => Upserted::Unchanged(
                        sqlx::query_scalar("SELECT id FROM articles WHERE url = $1")
                            .bind(&article.url)
                            .fetch_one(&mut *tx)
                            .await?,
                    ),
                };
                if !matches!(outcome, Upserted::Unchanged(_)) {
                    // The feeds the article leaves and those it joins both change.
                    let revision: i64 = sqlx::query_scalar(RAISE_FEED_REVISION).fetch_one(&mut *tx).await?;
                    sqlx::query(MARK_FEEDS_OF_ARTICLE).bind(revision).bind(outcome.id()).execute(&mut *tx).await?;
                    sqlx::query("DELETE FROM article_keywords WHERE article_id = $1")
                        .bind(outcome.id())
                        .execute(&mut *tx)
                        .await?;
                    for (keyword, origin) in keywords {
                        sqlx::query(
                            "INSERT INTO article_keywords (article_id, keyword_id, origin) VALUES ($1, $2, $3)
                             ON CONFLICT DO NOTHING",
                        )
                        .bind(outcome.id())
                        .bind(keyword)
                        .bind(*origin)
                        .execute(&mut *tx)
                        .await?;
                    }
                    sqlx::query(MARK_FEEDS_OF_ARTICLE).bind(revision).bind(outcome.id()).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(outcome)
            })
        }
        .await;
        outcome.with_context(|| format!("cannot store article {}", article.url))
    }

    /// Adds keywords to stored articles (keeping those they have), in one transaction that
    /// marks the feeds of the keywords it added as changed.
    pub async fn add_article_keywords(&self, pairs: &[(ArticleId, KeywordId)], origin: &str) -> StoreResult<u64> {
        if pairs.is_empty() {
            return Ok(0);
        }
        let added: StoreResult<u64> = async {
            begin_write!(self, |tx| {
                sqlx::query(self.feed_revision_lock()).execute(&mut *tx).await?;
                let (mut added, mut rows) = (Vec::new(), 0);
                for (article, keyword) in pairs {
                    let n = sqlx::query(
                        "INSERT INTO article_keywords (article_id, keyword_id, origin) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(article)
                    .bind(keyword)
                    .bind(origin)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if n > 0 {
                        rows += n;
                        added.push(*keyword);
                    }
                }
                if !added.is_empty() {
                    added.sort_unstable();
                    added.dedup();
                    let revision: i64 = sqlx::query_scalar(RAISE_FEED_REVISION).fetch_one(&mut *tx).await?;
                    for keyword in &added {
                        sqlx::query("UPDATE keywords SET revision = $1 WHERE id = $2")
                            .bind(revision)
                            .bind(keyword)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                Ok(rows)
            })
        }
        .await;
        added.context("cannot add article keywords")
    }

    /// What the home page shows of the newest articles, newest first.
    pub async fn newest_articles(&self, limit: u32) -> StoreResult<Vec<DigestArticle>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DIGEST_ARTICLE_COLUMNS} FROM articles a ORDER BY a.published_at DESC, a.id DESC LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)
        .context("cannot read the newest articles")
    }

    /// What digests show of the articles first stored in (`after`, `until`], newest first.
    pub async fn digest_articles_between(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<DigestArticle>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DIGEST_ARTICLE_COLUMNS} FROM articles a
             WHERE a.first_seen_at > $1 AND a.first_seen_at <= $2
             ORDER BY a.published_at DESC, a.id DESC"
        )))
        .bind(after)
        .bind(until)
        .fetch_all(pool)
        .await)
        .context("cannot read new articles")
    }

    /// What digests show of the given articles (any order).
    pub async fn digest_articles(&self, ids: &[ArticleId]) -> StoreResult<Vec<DigestArticle>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let rows: Vec<DigestArticle> = on_pool!(self, |pool| {
                let mut q =
                    sqlx::QueryBuilder::new(format!("SELECT {DIGEST_ARTICLE_COLUMNS} FROM articles a WHERE a.id IN ("));
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                q.push(")");
                q.build_query_as().persistent(false).fetch_all(pool).await
            })
            .context("cannot read the articles of a digest")?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// The keyword ids of the given articles, as (article, keyword) pairs.
    pub async fn article_keyword_ids(&self, articles: &[ArticleId]) -> StoreResult<Vec<(ArticleId, KeywordId)>> {
        let mut pairs = Vec::new();
        for chunk in articles.chunks(500) {
            let rows: Vec<(ArticleId, KeywordId)> = on_pool!(self, |pool| {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT article_id, keyword_id FROM article_keywords WHERE article_id IN (",
                );
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                q.push(")");
                q.build_query_as().persistent(false).fetch_all(pool).await
            })
            .context("cannot read article keywords")?;
            pairs.extend(rows);
        }
        Ok(pairs)
    }

    /// Articles first stored at or after `since`, for matching new keywords.
    pub async fn articles_first_seen_since(&self, since: DateTime<Utc>) -> StoreResult<Vec<Article>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ARTICLE_COLUMNS} FROM articles a WHERE a.first_seen_at >= $1 ORDER BY a.id"
        )))
        .bind(since)
        .fetch_all(pool)
        .await)
        .context("cannot read recent articles")
    }

    /// The keywords of the given articles, as (article, keyword) pairs ordered by article and
    /// keyword name.
    pub async fn keywords_of_articles(&self, articles: &[ArticleId]) -> StoreResult<Vec<(ArticleId, Keyword)>> {
        let mut pairs = Vec::new();
        for chunk in articles.chunks(500) {
            let rows: Vec<ArticleKeywordRow> = on_pool!(self, |pool| {
                let mut q = sqlx::QueryBuilder::new(format!(
                    "SELECT ak.article_id, {KEYWORD_COLUMNS} FROM article_keywords ak
                     JOIN keywords k ON k.id = ak.keyword_id WHERE ak.article_id IN ("
                ));
                let mut list = q.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                q.push(") ORDER BY ak.article_id, k.name, k.id");
                q.build_query_as().persistent(false).fetch_all(pool).await
            })
            .context("cannot read article keywords")?;
            pairs.extend(rows.into_iter().map(|r| (r.article_id, r.keyword)));
        }
        Ok(pairs)
    }

    pub async fn article_by_url(&self, url: &str) -> StoreResult<Option<Article>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ARTICLE_COLUMNS} FROM articles a WHERE a.url = $1"
        )))
        .bind(url)
        .fetch_optional(pool)
        .await)
        .with_context(|| format!("cannot read article {url}"))
    }

    /// Whether `url` was read before: an article stored under it, or a page fetched from it.
    pub async fn url_is_known(&self, url: &str) -> StoreResult<bool> {
        on_pool!(self, |pool| sqlx::query_scalar::<_, i64>(
            "SELECT (SELECT COUNT(*) FROM articles WHERE url = $1) + (SELECT COUNT(*) FROM http_validators WHERE url = $1)"
        )
        .bind(url)
        .fetch_one(pool)
        .await)
        .map(|n| n > 0)
        .with_context(|| format!("cannot look up {url}"))
    }

    pub async fn count_keywords(&self) -> StoreResult<i64> {
        on_pool!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM keywords").fetch_one(pool).await)
            .context("cannot count keywords")
    }

    pub async fn count_articles(&self) -> StoreResult<i64> {
        on_pool!(self, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM articles").fetch_one(pool).await)
            .context("cannot count articles")
    }
}
