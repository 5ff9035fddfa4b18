//! Digest editions, planned in pages. An edition is one row per (schedule, tick) — the unique
//! row is the claim that makes a tick planned once — and is `planning` until every active reader
//! has been considered. Each page is written in one short transaction: the distinct contents of
//! its digests, one delivery per reader who gets one, the readers' cursors, and the edition's
//! progress. The page is written only while the planner still holds the schedule's planning
//! lease, so a planner that was presumed dead cannot write a page twice; the next planner
//! resumes after `planned_through`.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::error::Context as _;
use super::leases::millis;
use super::{KeywordId, PG_STATEMENT_BYTES, Store, StoreResult, SubscriberId, begin_write, chunks_by_size, on_pool};

pub type EditionId = i64;
pub type ContentId = i64;

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Edition {
    pub id: EditionId,
    pub schedule: String,
    pub tick: DateTime<Utc>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    status: String,
    /// Every reader up to this subscriber id has been planned.
    pub planned_through: SubscriberId,
    pub messages: i64,
    /// Articles new in the edition's window.
    pub articles: i64,
    /// When its messages are due, by the database's clock (milliseconds since the epoch).
    pub send_after: i64,
}

impl Edition {
    pub fn is_planned(&self) -> bool {
        self.status == "planned"
    }
}

const EDITION_COLUMNS: &str =
    "id, schedule, tick, window_start, window_end, status, planned_through, messages, articles, send_after";

/// A reader to plan: the keywords they follow, in their order, and where their previous digest
/// of the schedule ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub id: SubscriberId,
    pub follows: Vec<KeywordId>,
    pub covered_until: Option<DateTime<Utc>>,
}

/// One planned page: every reader up to `through` was considered; `messages` are the readers
/// who get a digest and what it says (`sections`, the content's key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlannedPage {
    pub through: SubscriberId,
    pub messages: Vec<(SubscriberId, String)>,
}

/// The planning lease a page is written under.
#[derive(Debug, Clone, Copy)]
pub struct PlanLease<'a> {
    pub name: &'a str,
    pub owner: &'a str,
    pub ttl: Duration,
}

impl Store {
    pub async fn edition(&self, schedule: &str, tick: DateTime<Utc>) -> StoreResult<Option<Edition>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {EDITION_COLUMNS} FROM digest_editions WHERE schedule = $1 AND tick = $2"
        )))
        .bind(schedule)
        .bind(tick)
        .fetch_optional(pool)
        .await)
        .context("cannot read digest editions")
    }

    pub async fn edition_by_id(&self, id: EditionId) -> StoreResult<Option<Edition>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {EDITION_COLUMNS} FROM digest_editions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(pool)
        .await)
        .context("cannot read digest editions")
    }

    /// The edition of `schedule` at `tick`, created (`planning`, due from the database's now) if
    /// it does not exist. Returns it and whether this call created it.
    pub async fn open_edition(
        &self,
        schedule: &str,
        tick: DateTime<Utc>,
        window: (DateTime<Utc>, DateTime<Utc>),
        articles: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<(Edition, bool)> {
        let sql = format!(
            "INSERT INTO digest_editions (schedule, tick, window_start, window_end, created_at, status, articles, send_after)
             VALUES ($1, $2, $3, $4, $5, 'planning', $6, {})
             ON CONFLICT (schedule, tick) DO NOTHING
             RETURNING {EDITION_COLUMNS}",
            self.now_ms()
        );
        let created: Option<Edition> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(schedule)
            .bind(tick)
            .bind(window.0)
            .bind(window.1)
            .bind(now)
            .bind(articles)
            .fetch_optional(pool)
            .await)
        .with_context(|| format!("cannot create digest edition {schedule} at {tick}"))?;
        match created {
            Some(edition) => Ok((edition, true)),
            None => match self.edition(schedule, tick).await? {
                Some(edition) => Ok((edition, false)),
                None => Err(super::StoreError::Query {
                    context: format!("digest edition {schedule} at {tick} vanished while it was created"),
                    source: sqlx::Error::RowNotFound,
                }),
            },
        }
    }

    /// Editions of `schedule` still being planned, oldest tick first.
    pub async fn unfinished_editions(&self, schedule: &str) -> StoreResult<Vec<Edition>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {EDITION_COLUMNS} FROM digest_editions WHERE schedule = $1 AND status = 'planning' ORDER BY tick"
        )))
        .bind(schedule)
        .fetch_all(pool)
        .await)
        .context("cannot read digest editions")
    }

    /// The latest planned editions, newest first: up to `limit` with a tick before `before`.
    pub async fn planned_editions(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Edition>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {EDITION_COLUMNS} FROM digest_editions WHERE status = 'planned' AND tick < $1
             ORDER BY tick DESC, id DESC LIMIT $2"
        )))
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)
        .context("cannot read digest editions")
    }

    /// The earliest end of any reader's previous digest of `schedule`.
    pub async fn earliest_cursor(&self, schedule: &str) -> StoreResult<Option<DateTime<Utc>>> {
        on_pool!(self, |pool| sqlx::query_scalar("SELECT MIN(covered_until) FROM digest_cursors WHERE schedule = $1")
            .bind(schedule)
            .fetch_one(pool)
            .await)
        .context("cannot read digest cursors")
    }

    /// Up to `limit` active, unsuppressed readers of `schedule` with an id above `after`, in id
    /// order, with what they follow and their cursor for `schedule`; readers paused at `at` are
    /// left out, and for one whose pause has ended the cursor starts no earlier than its end.
    pub async fn readers_after(
        &self,
        schedule: &str,
        at: DateTime<Utc>,
        after: SubscriberId,
        limit: u32,
    ) -> StoreResult<Vec<Reader>> {
        type Row = (SubscriberId, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
        let rows: Vec<Row> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT s.id,
                    (SELECT c.covered_until FROM digest_cursors c WHERE c.subscriber_id = s.id AND c.schedule = $1),
                    s.paused_until
             FROM subscribers s
             WHERE s.id > $2 AND s.status = 'active'
               AND (s.paused_until IS NULL OR s.paused_until <= $4)
               AND (NOT EXISTS (SELECT 1 FROM subscriber_editions e WHERE e.subscriber_id = s.id)
                    OR EXISTS (SELECT 1 FROM subscriber_editions e WHERE e.subscriber_id = s.id AND e.schedule = $1))
               AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email = s.email)
             ORDER BY s.id LIMIT $3"
        )
        .bind(schedule)
        .bind(after)
        .bind(i64::from(limit))
        .bind(at)
        .fetch_all(pool)
        .await)
        .context("cannot read the readers of an edition")?;
        let rows: Vec<(SubscriberId, Option<DateTime<Utc>>)> = rows
            .into_iter()
            .map(|(id, covered, paused)| {
                (
                    id,
                    match (covered, paused) {
                        (Some(c), Some(p)) => Some(c.max(p)),
                        (c, p) => c.or(p),
                    },
                )
            })
            .collect();
        let Some(last) = rows.last().map(|(id, _)| *id) else { return Ok(Vec::new()) };
        let follows: Vec<(SubscriberId, KeywordId)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT subscriber_id, keyword_id FROM subscriber_keywords
             WHERE subscriber_id > $1 AND subscriber_id <= $2 ORDER BY subscriber_id, position"
        )
        .bind(after)
        .bind(last)
        .fetch_all(pool)
        .await)
        .context("cannot read the keywords readers follow")?;
        let mut by_reader: HashMap<SubscriberId, Vec<KeywordId>> = HashMap::new();
        for (subscriber, keyword) in follows {
            by_reader.entry(subscriber).or_default().push(keyword);
        }
        Ok(rows
            .into_iter()
            .map(|(id, covered_until)| Reader { id, follows: by_reader.remove(&id).unwrap_or_default(), covered_until })
            .collect())
    }

    /// Writes one planned page of `edition` if `lease` is still held, in one transaction;
    /// returns false (writing nothing) when the lease was lost.
    pub async fn write_plan_page(
        &self,
        edition: &Edition,
        lease: PlanLease<'_>,
        page: &PlannedPage,
    ) -> StoreResult<bool> {
        let now = self.now_ms();
        let renew = format!("UPDATE leases SET expires_at = {now} + $3 WHERE name = $1 AND owner = $2");
        let progress = "UPDATE digest_editions SET planned_through = $2, messages = messages + $3
                        WHERE id = $1 AND status = 'planning' AND planned_through < $2";
        let mut keys: Vec<&str> = page.messages.iter().map(|(_, k)| k.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        let messages = i64::try_from(page.messages.len()).unwrap_or(i64::MAX);
        let result: StoreResult<bool> = async {
            begin_write!(self, |tx| {
                let held = sqlx::query(sqlx::AssertSqlSafe(renew.clone()))
                    .bind(lease.name)
                    .bind(lease.owner)
                    .bind(millis(lease.ttl))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let advanced = sqlx::query(progress)
                    .bind(edition.id)
                    .bind(page.through)
                    .bind(messages)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if held != 1 || advanced != 1 {
                    return Ok(false);
                }
                let contents = tx.insert_contents(edition.id, &keys).await?;
                let rows: Vec<(SubscriberId, ContentId)> =
                    page.messages.iter().filter_map(|(s, key)| contents.get(key.as_str()).map(|c| (*s, *c))).collect();
                tx.insert_deliveries(edition, &rows, now).await?;
                tx.advance_cursors(&edition.schedule, edition.window_end, &rows).await?;
                tx.commit().await?;
                Ok(true)
            })
        }
        .await;
        result.with_context(|| format!("cannot write a page of digest edition {}", edition.id))
    }

    /// Marks the edition planned. On PostgreSQL the outbox's statistics are brought up to date
    /// at once: planned in the last seconds, its rows are unknown to the planner until
    /// autovacuum gets round to them, and a claim planned for a handful of waiting rows sorts
    /// them all instead of taking the first from the index.
    pub async fn finish_planning(&self, edition: EditionId) -> StoreResult<()> {
        on_pool!(self, |pool| sqlx::query("UPDATE digest_editions SET status = 'planned' WHERE id = $1")
            .bind(edition)
            .execute(pool)
            .await
            .map(|_| ()))
        .with_context(|| format!("cannot finish planning digest edition {edition}"))?;
        if let Store::Postgres(pool) = self {
            sqlx::query("ANALYZE deliveries, digest_cursors")
                .execute(pool)
                .await
                .context("cannot update the outbox's statistics")?;
        }
        Ok(())
    }

    /// What a digest says (its sections key), by content id.
    pub async fn digest_content(&self, id: ContentId) -> StoreResult<Option<String>> {
        on_pool!(self, |pool| sqlx::query_scalar("SELECT sections FROM digest_contents WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await)
        .with_context(|| format!("cannot read digest content {id}"))
    }

    /// A digest content with the edition it belongs to: (schedule, tick, sections key).
    pub async fn digest_content_of_edition(
        &self,
        id: ContentId,
    ) -> StoreResult<Option<(String, DateTime<Utc>, String)>> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT e.schedule, e.tick, c.sections FROM digest_contents c
             JOIN digest_editions e ON e.id = c.edition_id WHERE c.id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)
        .with_context(|| format!("cannot read digest content {id}"))
    }
}

/// The page writes, once per backend: PostgreSQL sends statements over arrays (one round trip
/// for hundreds of rows, each statement under `PG_STATEMENT_BYTES`); SQLite takes multi-row
/// statements of 500 rows.
trait BatchConn {
    /// Inserts the contents not stored yet; returns the id of each key.
    async fn insert_contents<'k>(
        &mut self,
        edition: EditionId,
        keys: &[&'k str],
    ) -> sqlx::Result<HashMap<&'k str, ContentId>>;
    async fn insert_deliveries(
        &mut self,
        edition: &Edition,
        rows: &[(SubscriberId, ContentId)],
        now_ms: &str,
    ) -> sqlx::Result<()>;
    async fn advance_cursors(
        &mut self,
        schedule: &str,
        until: DateTime<Utc>,
        rows: &[(SubscriberId, ContentId)],
    ) -> sqlx::Result<()>;
}

const CURSOR_UPSERT: &str = "ON CONFLICT (subscriber_id, schedule) DO UPDATE SET covered_until = excluded.covered_until
     WHERE digest_cursors.covered_until < excluded.covered_until";

/// Rows per multi-row statement on SQLite (4 values each: well under its 32,766 variables).
const SQLITE_ROWS: usize = 500;

impl BatchConn for sqlx::Transaction<'static, sqlx::Sqlite> {
    async fn insert_contents<'k>(
        &mut self,
        edition: EditionId,
        keys: &[&'k str],
    ) -> sqlx::Result<HashMap<&'k str, ContentId>> {
        let mut ids = HashMap::with_capacity(keys.len());
        for chunk in keys.chunks(SQLITE_ROWS) {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO digest_contents (edition_id, sections) ");
            q.push_values(chunk, |mut row, key| {
                row.push_bind(edition).push_bind(*key);
            });
            q.push(" ON CONFLICT DO NOTHING");
            q.build().persistent(false).execute(&mut **self).await?;
            let mut q = sqlx::QueryBuilder::new("SELECT id, sections FROM digest_contents WHERE edition_id = ");
            q.push_bind(edition).push(" AND sections IN (");
            let mut list = q.separated(", ");
            for key in chunk {
                list.push_bind(*key);
            }
            q.push(")");
            let rows: Vec<(ContentId, String)> = q.build_query_as().persistent(false).fetch_all(&mut **self).await?;
            for (id, sections) in rows {
                if let Some(key) = chunk.iter().find(|k| **k == sections) {
                    ids.insert(*key, id);
                }
            }
        }
        Ok(ids)
    }

    async fn insert_deliveries(
        &mut self,
        edition: &Edition,
        rows: &[(SubscriberId, ContentId)],
        now_ms: &str,
    ) -> sqlx::Result<()> {
        for chunk in rows.chunks(SQLITE_ROWS) {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO deliveries (edition_id, subscriber_id, content_id, status, queued_at, due_at) ",
            );
            q.push_values(chunk, |mut row, (subscriber, content)| {
                row.push_bind(edition.id)
                    .push_bind(*subscriber)
                    .push_bind(*content)
                    .push("'pending'")
                    .push(now_ms)
                    .push_bind(edition.send_after);
            });
            q.push(" ON CONFLICT DO NOTHING");
            q.build().persistent(false).execute(&mut **self).await?;
        }
        Ok(())
    }

    async fn advance_cursors(
        &mut self,
        schedule: &str,
        until: DateTime<Utc>,
        rows: &[(SubscriberId, ContentId)],
    ) -> sqlx::Result<()> {
        for chunk in rows.chunks(SQLITE_ROWS) {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO digest_cursors (subscriber_id, schedule, covered_until) ");
            q.push_values(chunk, |mut row, (subscriber, _)| {
                row.push_bind(*subscriber).push_bind(schedule).push_bind(until);
            });
            q.push(" ");
            q.push(CURSOR_UPSERT);
            q.build().persistent(false).execute(&mut **self).await?;
        }
        Ok(())
    }
}

/// Bytes of one row of ids in a PostgreSQL array parameter (length word and value).
const PG_ID_BYTES: usize = 12;

impl BatchConn for sqlx::Transaction<'static, sqlx::Postgres> {
    async fn insert_contents<'k>(
        &mut self,
        edition: EditionId,
        keys: &[&'k str],
    ) -> sqlx::Result<HashMap<&'k str, ContentId>> {
        let mut ids = HashMap::with_capacity(keys.len());
        for chunk in chunks_by_size(keys, PG_STATEMENT_BYTES, |k| k.len() + 4) {
            sqlx::query(
                "INSERT INTO digest_contents (edition_id, sections) SELECT $1, u FROM UNNEST($2::text[]) AS u
                 ON CONFLICT DO NOTHING",
            )
            .bind(edition)
            .bind(chunk)
            .execute(&mut **self)
            .await?;
            let rows: Vec<(ContentId, String)> =
                sqlx::query_as("SELECT id, sections FROM digest_contents WHERE edition_id = $1 AND sections = ANY($2)")
                    .bind(edition)
                    .bind(chunk)
                    .fetch_all(&mut **self)
                    .await?;
            for (id, sections) in rows {
                if let Some(key) = chunk.iter().find(|k| **k == sections) {
                    ids.insert(*key, id);
                }
            }
        }
        Ok(ids)
    }

    async fn insert_deliveries(
        &mut self,
        edition: &Edition,
        rows: &[(SubscriberId, ContentId)],
        now_ms: &str,
    ) -> sqlx::Result<()> {
        let sql = format!(
            "INSERT INTO deliveries (edition_id, subscriber_id, content_id, status, queued_at, due_at)
             SELECT $1, u.s, u.c, 'pending', {now_ms}, $4 FROM UNNEST($2::bigint[], $3::bigint[]) AS u (s, c)
             ON CONFLICT DO NOTHING"
        );
        for chunk in chunks_by_size(rows, PG_STATEMENT_BYTES, |_| 2 * PG_ID_BYTES) {
            let (subscribers, contents): (Vec<SubscriberId>, Vec<ContentId>) = chunk.iter().copied().unzip();
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(edition.id)
                .bind(subscribers)
                .bind(contents)
                .bind(edition.send_after)
                .execute(&mut **self)
                .await?;
        }
        Ok(())
    }

    async fn advance_cursors(
        &mut self,
        schedule: &str,
        until: DateTime<Utc>,
        rows: &[(SubscriberId, ContentId)],
    ) -> sqlx::Result<()> {
        let sql = format!(
            "INSERT INTO digest_cursors (subscriber_id, schedule, covered_until)
             SELECT u, $2, $3 FROM UNNEST($1::bigint[]) AS u {CURSOR_UPSERT}"
        );
        for chunk in chunks_by_size(rows, PG_STATEMENT_BYTES, |_| PG_ID_BYTES) {
            let subscribers: Vec<SubscriberId> = chunk.iter().map(|(s, _)| *s).collect();
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(subscribers)
                .bind(schedule)
                .bind(until)
                .execute(&mut **self)
                .await?;
        }
        Ok(())
    }
}
