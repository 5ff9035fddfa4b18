//! Subscriber lists in bulk: the SQL of `subscribers import` and `subscribers export`. An import
//! batch is one short write transaction that reads what is stored about the batch's addresses,
//! hands that to the caller's plan, and writes the plan — so the rules decided in between see the
//! rows as they are when written. This file applies a plan; it does not decide who is subscribed
//! (`subscribers::import` does) and never holds more than one batch or one page.
//!
//! The only per-backend part is how a batch is written (`WriteBatch`): one statement per kind of
//! change, over arrays (`UNNEST`) on PostgreSQL and as multi-row `VALUES` on SQLite — not one
//! statement per row, whose round trips to SQLite's worker thread cost more than the rows (twice
//! the time for 100,000 readers; see `benches/import.rs`). Callers give a batch each address
//! once: neither backend upserts one row twice in a statement.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::error::Context as _;
use super::{
    KeywordId, PG_STATEMENT_BYTES, Store, StoreResult, SubscriberId, SubscriberStatus, begin_write, chunks_by_size,
    on_pool,
};

/// What an import batch finds stored about one of its addresses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Present {
    /// The reader with this address, if there is one, and their status.
    pub subscriber: Option<(SubscriberId, SubscriberStatus)>,
    /// The address is in `suppressions`.
    pub suppressed: bool,
}

/// One address as an import batch writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedReader {
    pub email: String,
    pub status: SubscriberStatus,
    /// The secret of their links, if the reader is new.
    pub token: String,
    /// Their sign-up time, if the reader is new.
    pub created_at: DateTime<Utc>,
    /// Set for active readers; a reader confirmed before keeps their time.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The keywords they follow from now on, in order, without duplicates; `None` keeps theirs.
    pub keywords: Option<Vec<KeywordId>>,
    /// Suppress the address for this reason (a suppression already there keeps its own).
    pub suppress: Option<String>,
    /// Lift the address's suppression.
    pub unsuppress: bool,
    /// Cancel the reader's messages still waiting in the outbox, with this reason.
    pub cancel: Option<&'static str>,
}

/// A subscriber as an export writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedReader {
    pub id: SubscriberId,
    pub email: String,
    pub status: SubscriberStatus,
    pub created_at: DateTime<Utc>,
    /// The reason of the address's suppression, if it is suppressed.
    pub suppression: Option<String>,
    /// The names of the keywords they follow, in their order.
    pub keywords: Vec<String>,
}

#[derive(FromRow)]
struct PresentRow {
    id: SubscriberId,
    email: String,
    status: String,
}

#[derive(FromRow)]
struct ExportRow {
    id: SubscriberId,
    email: String,
    status: String,
    created_at: DateTime<Utc>,
    reason: Option<String>,
}

#[derive(FromRow)]
struct FollowedRow {
    subscriber_id: SubscriberId,
    name: String,
}

fn status(s: &str) -> SubscriberStatus {
    match s {
        "active" => SubscriberStatus::Active,
        "unsubscribed" => SubscriberStatus::Unsubscribed,
        _ => SubscriberStatus::Pending,
    }
}

/// The upsert of an import: `upsert_into!()`, a row source of (email, status, token, created_at,
/// confirmed_at, unsubscribed_at), `upsert_conflict!()`. A reader already here keeps their token
/// and sign-up time, their first confirmation and their first unsubscription.
macro_rules! upsert_into {
    () => {
        "INSERT INTO subscribers AS s (email, status, token, created_at, confirmed_at, unsubscribed_at) "
    };
}
macro_rules! upsert_conflict {
    () => {
        " ON CONFLICT (email) DO UPDATE SET status = excluded.status,
             confirmed_at = COALESCE(s.confirmed_at, excluded.confirmed_at),
             unsubscribed_at = CASE WHEN excluded.status = 'unsubscribed'
                 THEN COALESCE(s.unsubscribed_at, excluded.unsubscribed_at) END
         RETURNING id, email"
    };
}

/// What a batch changes besides the readers' rows.
#[derive(Default)]
struct Changes {
    /// Readers already here whose keywords are replaced.
    replaced: Vec<SubscriberId>,
    /// (subscriber, keyword, position) of the keywords followed from now on.
    follows: Vec<(SubscriberId, KeywordId, i64)>,
    /// Addresses whose suppression is lifted.
    lifted: Vec<String>,
    /// (address, reason) of the new suppressions.
    suppressed: Vec<(String, String)>,
    /// (reader, reason) whose waiting messages are cancelled; new readers have none.
    cancelled: Vec<(SubscriberId, &'static str)>,
}

impl Changes {
    fn of(rows: &[ImportedReader], present: &HashMap<String, Present>, ids: &HashMap<String, SubscriberId>) -> Self {
        let mut c = Changes::default();
        for row in rows {
            let Some(&id) = ids.get(&row.email) else { continue };
            let was_here = present.get(&row.email).is_some_and(|p| p.subscriber.is_some());
            if let Some(keywords) = &row.keywords {
                if was_here {
                    c.replaced.push(id);
                }
                for (i, k) in keywords.iter().enumerate() {
                    c.follows.push((id, *k, i64::try_from(i).unwrap_or(i64::MAX)));
                }
            }
            if row.unsuppress {
                c.lifted.push(row.email.clone());
            }
            if let Some(reason) = &row.suppress {
                c.suppressed.push((row.email.clone(), reason.clone()));
            }
            if let Some(reason) = row.cancel.filter(|_| was_here) {
                c.cancelled.push((id, reason));
            }
        }
        c
    }
}

/// Writes a planned batch in the open transaction, the way that suits the backend.
trait WriteBatch {
    /// Upserts the readers; returns (id, email) of each.
    async fn upsert_readers(
        &mut self,
        rows: &[ImportedReader],
        now: DateTime<Utc>,
    ) -> Result<Vec<(SubscriberId, String)>, sqlx::Error>;

    async fn write_changes(&mut self, changes: Changes, now: DateTime<Utc>) -> Result<(), sqlx::Error>;
}

fn unsubscribed_at(row: &ImportedReader, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (row.status == SubscriberStatus::Unsubscribed).then_some(now)
}

/// An id in a PostgreSQL array: 8 bytes and its length.
const PG_ID_BYTES: usize = 12;

/// Bound parameters per statement on SQLite, under its limit of 32,766.
const SQLITE_PARAMETERS: usize = 30_000;

/// On SQLite, multi-row statements of up to `SQLITE_PARAMETERS` parameters: its statements run
/// on a worker thread, and one round trip per row would cost more than the row.
impl WriteBatch for sqlx::SqliteConnection {
    async fn upsert_readers(
        &mut self,
        rows: &[ImportedReader],
        now: DateTime<Utc>,
    ) -> Result<Vec<(SubscriberId, String)>, sqlx::Error> {
        let mut out = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(SQLITE_PARAMETERS / 6) {
            let mut q = sqlx::QueryBuilder::new(upsert_into!());
            q.push_values(chunk, |mut values, row| {
                values
                    .push_bind(&row.email)
                    .push_bind(row.status.as_str())
                    .push_bind(&row.token)
                    .push_bind(row.created_at)
                    .push_bind(row.confirmed_at)
                    .push_bind(unsubscribed_at(row, now));
            });
            q.push(upsert_conflict!());
            out.extend(q.build_query_as::<(SubscriberId, String)>().persistent(false).fetch_all(&mut *self).await?);
        }
        Ok(out)
    }

    async fn write_changes(&mut self, c: Changes, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        for chunk in c.replaced.chunks(SQLITE_PARAMETERS) {
            let mut q = sqlx::QueryBuilder::new("DELETE FROM subscriber_keywords WHERE subscriber_id IN (");
            let mut list = q.separated(", ");
            chunk.iter().for_each(|id| _ = list.push_bind(*id));
            q.push(")").build().persistent(false).execute(&mut *self).await?;
        }
        for chunk in c.follows.chunks(SQLITE_PARAMETERS / 3) {
            let mut q =
                sqlx::QueryBuilder::new("INSERT INTO subscriber_keywords (subscriber_id, keyword_id, position) ");
            q.push_values(chunk, |mut values, &(s, k, p)| {
                values.push_bind(s).push_bind(k).push_bind(p);
            });
            q.push(" ON CONFLICT DO NOTHING").build().persistent(false).execute(&mut *self).await?;
        }
        for chunk in c.lifted.chunks(SQLITE_PARAMETERS) {
            let mut q = sqlx::QueryBuilder::new("DELETE FROM suppressions WHERE email IN (");
            let mut list = q.separated(", ");
            chunk.iter().for_each(|email| _ = list.push_bind(email));
            q.push(")").build().persistent(false).execute(&mut *self).await?;
        }
        for chunk in c.suppressed.chunks(SQLITE_PARAMETERS / 3) {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO suppressions (email, reason, created_at) ");
            q.push_values(chunk, |mut values, (email, reason)| {
                values.push_bind(email).push_bind(reason).push_bind(now);
            });
            q.push(" ON CONFLICT (email) DO NOTHING").build().persistent(false).execute(&mut *self).await?;
        }
        // Two reasons at most (unsubscribed, suppressed): one statement each.
        let mut reasons: Vec<&str> = c.cancelled.iter().map(|(_, r)| *r).collect();
        reasons.sort_unstable();
        reasons.dedup();
        for reason in reasons {
            let ids: Vec<SubscriberId> = c.cancelled.iter().filter(|(_, r)| *r == reason).map(|(id, _)| *id).collect();
            for chunk in ids.chunks(SQLITE_PARAMETERS) {
                let mut q = sqlx::QueryBuilder::new("UPDATE deliveries SET status = 'cancelled', last_error = ");
                q.push_bind(reason).push(" WHERE status = 'pending' AND subscriber_id IN (");
                let mut list = q.separated(", ");
                chunk.iter().for_each(|id| _ = list.push_bind(*id));
                q.push(")").build().persistent(false).execute(&mut *self).await?;
            }
        }
        Ok(())
    }
}

/// On PostgreSQL, one statement per kind of change over arrays (the same text whatever the
/// batch, planned once), cut in pieces of `PG_STATEMENT_BYTES` so none waits on a delayed ACK.
impl WriteBatch for sqlx::PgConnection {
    async fn upsert_readers(
        &mut self,
        rows: &[ImportedReader],
        now: DateTime<Utc>,
    ) -> Result<Vec<(SubscriberId, String)>, sqlx::Error> {
        let mut out = Vec::with_capacity(rows.len());
        // Three timestamps and a status, with their array headers, fit in 64 bytes.
        for chunk in chunks_by_size(rows, PG_STATEMENT_BYTES, |r| r.email.len() + r.token.len() + 64) {
            let upserted: Vec<(SubscriberId, String)> = sqlx::query_as(concat!(
                upsert_into!(),
                "SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                                      $6::timestamptz[])",
                upsert_conflict!()
            ))
            .bind(chunk.iter().map(|r| r.email.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|r| r.status.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|r| r.token.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|r| r.created_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|r| r.confirmed_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|r| unsubscribed_at(r, now)).collect::<Vec<_>>())
            .fetch_all(&mut *self)
            .await?;
            out.extend(upserted);
        }
        Ok(out)
    }

    async fn write_changes(&mut self, c: Changes, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        for chunk in chunks_by_size(&c.replaced, PG_STATEMENT_BYTES, |_| PG_ID_BYTES) {
            sqlx::query("DELETE FROM subscriber_keywords WHERE subscriber_id = ANY($1)")
                .bind(chunk)
                .execute(&mut *self)
                .await?;
        }
        for chunk in chunks_by_size(&c.follows, PG_STATEMENT_BYTES, |_| 3 * PG_ID_BYTES) {
            sqlx::query(
                "INSERT INTO subscriber_keywords (subscriber_id, keyword_id, position)
                 SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[])
                 ON CONFLICT DO NOTHING",
            )
            .bind(chunk.iter().map(|f| f.0).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.1).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.2).collect::<Vec<_>>())
            .execute(&mut *self)
            .await?;
        }
        for chunk in chunks_by_size(&c.lifted, PG_STATEMENT_BYTES, |e| e.len() + 4) {
            sqlx::query("DELETE FROM suppressions WHERE email = ANY($1)").bind(chunk).execute(&mut *self).await?;
        }
        for chunk in chunks_by_size(&c.suppressed, PG_STATEMENT_BYTES, |(e, r)| e.len() + r.len() + 8) {
            sqlx::query(
                "INSERT INTO suppressions (email, reason, created_at)
                 SELECT email, reason, $3 FROM UNNEST($1::text[], $2::text[]) AS v (email, reason)
                 ON CONFLICT (email) DO NOTHING",
            )
            .bind(chunk.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, r)| r.as_str()).collect::<Vec<_>>())
            .bind(now)
            .execute(&mut *self)
            .await?;
        }
        for chunk in chunks_by_size(&c.cancelled, PG_STATEMENT_BYTES, |(_, r)| PG_ID_BYTES + r.len() + 4) {
            sqlx::query(
                "UPDATE deliveries AS d SET status = 'cancelled', last_error = v.reason
                 FROM UNNEST($1::bigint[], $2::text[]) AS v (id, reason)
                 WHERE d.subscriber_id = v.id AND d.status = 'pending'",
            )
            .bind(chunk.iter().map(|(id, _)| *id).collect::<Vec<_>>())
            .bind(chunk.iter().map(|(_, r)| *r).collect::<Vec<_>>())
            .execute(&mut *self)
            .await?;
        }
        Ok(())
    }
}

impl Store {
    /// One batch of an import, in one write transaction: reads what is stored about `emails`
    /// (each once), lets `plan` decide what to write from it, writes that and returns the
    /// rest of the plan's answer (its tally).
    pub async fn import_batch<T: Send>(
        &self,
        emails: &[&str],
        now: DateTime<Utc>,
        plan: impl FnOnce(&HashMap<String, Present>) -> (Vec<ImportedReader>, T) + Send,
    ) -> StoreResult<T> {
        let result: StoreResult<T> = async {
            begin_write!(self, |tx| {
                let mut present: HashMap<String, Present> = HashMap::with_capacity(emails.len());
                // IN lists: the same text on both backends; cut by size for PostgreSQL's sake.
                for chunk in chunks_by_size(emails, PG_STATEMENT_BYTES, |e| e.len() + 4) {
                    let mut q = sqlx::QueryBuilder::new("SELECT id, email, status FROM subscribers WHERE email IN (");
                    let mut list = q.separated(", ");
                    for email in chunk {
                        list.push_bind(*email);
                    }
                    q.push(")");
                    let rows: Vec<PresentRow> = q.build_query_as().persistent(false).fetch_all(&mut *tx).await?;
                    for row in rows {
                        present.entry(row.email).or_default().subscriber = Some((row.id, status(&row.status)));
                    }
                    let mut q = sqlx::QueryBuilder::new("SELECT email FROM suppressions WHERE email IN (");
                    let mut list = q.separated(", ");
                    for email in chunk {
                        list.push_bind(*email);
                    }
                    q.push(")");
                    let rows: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
                    for email in rows {
                        present.entry(email).or_default().suppressed = true;
                    }
                }
                let (rows, answer) = plan(&present);
                if !rows.is_empty() {
                    let ids = WriteBatch::upsert_readers(&mut *tx, &rows, now).await?;
                    let ids: HashMap<String, SubscriberId> = ids.into_iter().map(|(id, email)| (email, id)).collect();
                    WriteBatch::write_changes(&mut *tx, Changes::of(&rows, &present, &ids), now).await?;
                }
                tx.commit().await?;
                Ok(answer)
            })
        }
        .await;
        result.context("cannot import a batch of subscribers")
    }

    /// Up to `limit` subscribers after `after` in id order, with their keywords and
    /// suppressions (one consistent read).
    pub async fn export_page(&self, after: SubscriberId, limit: u32) -> StoreResult<Vec<ExportedReader>> {
        let result: StoreResult<(Vec<ExportRow>, Vec<FollowedRow>)> = on_pool!(self, |pool| {
            async {
                let mut tx = pool.begin().await?;
                let readers: Vec<ExportRow> = sqlx::query_as(
                    "SELECT s.id, s.email, s.status, s.created_at, x.reason
                     FROM subscribers s LEFT JOIN suppressions x ON x.email = s.email
                     WHERE s.id > $1 ORDER BY s.id LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                let followed: Vec<FollowedRow> = match readers.last() {
                    Some(last) => {
                        sqlx::query_as(
                            "SELECT sk.subscriber_id, k.name
                             FROM subscriber_keywords sk JOIN keywords k ON k.id = sk.keyword_id
                             WHERE sk.subscriber_id > $1 AND sk.subscriber_id <= $2
                             ORDER BY sk.subscriber_id, sk.position",
                        )
                        .bind(after)
                        .bind(last.id)
                        .fetch_all(&mut *tx)
                        .await?
                    }
                    None => Vec::new(),
                };
                tx.commit().await?;
                Ok((readers, followed))
            }
            .await
        });
        let (readers, followed) = result.with_context(|| format!("cannot read the subscribers after id {after}"))?;
        let mut out: Vec<ExportedReader> = readers
            .into_iter()
            .map(|r| ExportedReader {
                id: r.id,
                email: r.email,
                status: status(&r.status),
                created_at: r.created_at,
                suppression: r.reason,
                keywords: Vec::new(),
            })
            .collect();
        for row in followed {
            if let Ok(i) = out.binary_search_by_key(&row.subscriber_id, |r| r.id)
                && let Some(reader) = out.get_mut(i)
            {
                reader.keywords.push(row.name);
            }
        }
        Ok(out)
    }
}
