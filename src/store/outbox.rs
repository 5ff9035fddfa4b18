//! The outbox: one delivery per (edition, reader), waiting until the transport accepts it.
//!
//! A sender claims due rows in batches with a lease — its own id, until an instant of the
//! database's clock — and renews the lease while it works; it records each outcome only if the
//! lease is still its own. A lease that ran out (its sender died) puts the row back in the
//! queue; that is the only way a message can go out twice, and then with the same Message-ID.
//! Due times, leases and retry deadlines are all judged by the database's clock, never by a
//! sender's clock or an edition's `--now`. Claims walk a partial index of the waiting rows only,
//! so they cost the same however many rows were sent before; outcomes are written in batches
//! (one statement over arrays on PostgreSQL).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::editions::{ContentId, EditionId};
use super::error::Context as _;
use super::leases::millis;
use super::{PG_STATEMENT_BYTES, Store, StoreResult, SubscriberId, begin_write, chunks_by_size, on_pool};

pub type DeliveryId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Sending,
    Sent,
    /// Not delivered: refused for good (not the address's fault), or retried until the deadline.
    Failed,
    /// The address was refused for good; it is suppressed.
    Bounced,
    /// The reader left (or was suppressed) before it was sent.
    Cancelled,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 6] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Sending,
        DeliveryStatus::Sent,
        DeliveryStatus::Failed,
        DeliveryStatus::Bounced,
        DeliveryStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Bounced => "bounced",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// A claimed delivery, with what its message needs.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Claimed {
    pub id: DeliveryId,
    pub edition_id: EditionId,
    pub subscriber_id: SubscriberId,
    pub content_id: Option<ContentId>,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub recipient: String,
    /// The secret of the reader's links.
    pub token: String,
    pub schedule: String,
    pub tick: DateTime<Utc>,
    /// What the digest says (its content's sections key).
    pub sections: Option<String>,
    /// When it was due (milliseconds, the database's clock): with the content and the id, its
    /// place in the queue.
    pub due_at: i64,
}

impl Claimed {
    /// Its place in the queue: a sender carries on after the last it took.
    pub fn place(&self) -> QueuePlace {
        QueuePlace { due_at: self.due_at, content_id: self.content_id.unwrap_or(0), id: self.id }
    }
}

/// A place in the queue of waiting deliveries (due time, content, id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct QueuePlace {
    pub due_at: i64,
    pub content_id: i64,
    pub id: i64,
}

/// What became of a claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent {
        at: DateTime<Utc>,
    },
    /// A temporary failure: try again after `after`, unless the retry period is over by then.
    Retry {
        after: Duration,
        error: String,
    },
    /// Refused for good, for a reason that is not the address.
    Failed {
        error: String,
    },
    /// The address was refused for good: the message fails and the address is suppressed.
    Bounced {
        error: String,
    },
    /// Not attempted (the sender is stopping, or the relay is down): back in the queue as it was.
    Released,
}

/// What `finish_deliveries` recorded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    pub sent: usize,
    pub retried: usize,
    /// Failed for good, including retries past the deadline.
    pub failed: usize,
    /// Of `failed`: retried until the deadline.
    pub expired: usize,
    pub bounced: usize,
    pub released: usize,
    /// Outcomes not recorded because the lease had passed to another sender.
    pub lost: usize,
}

/// A delivery as reports and tests see it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct DeliveryRow {
    pub id: DeliveryId,
    pub edition_id: EditionId,
    pub subscriber_id: SubscriberId,
    pub recipient: String,
    status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl DeliveryRow {
    pub fn status(&self) -> DeliveryStatus {
        DeliveryStatus::parse(&self.status).unwrap_or(DeliveryStatus::Pending)
    }
}

/// Active and not suppressed: who may be written to, checked again at every claim.
const WRITABLE: &str = "EXISTS (SELECT 1 FROM subscribers s WHERE s.id = d.subscriber_id AND s.status = 'active'
         AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email = s.email))";

impl Store {
    /// Claims up to `limit` due deliveries for `owner`, leased for `lease`, in queue order after
    /// `after` (if given: a sender goes on from where its last claim ended, not past the rows
    /// it has already sent), grouped by content so a sender renders each content once.
    pub async fn claim_deliveries(
        &self,
        owner: &str,
        limit: u32,
        lease: Duration,
        after: Option<QueuePlace>,
    ) -> StoreResult<Vec<Claimed>> {
        let now = self.now_ms();
        let after = after.map_or(String::new(), |p| {
            // A row comparison, which both databases read as a range of the queue's index.
            format!("AND (d.due_at, d.content_id, d.id) > ({}, {}, {})", p.due_at, p.content_id, p.id)
        });
        let due = format!(
            "SELECT d.id FROM deliveries d WHERE d.status = 'pending' AND d.due_at <= {now} {after} AND {WRITABLE}
             ORDER BY d.due_at, d.content_id, d.id LIMIT $3"
        );
        // PostgreSQL: the rows locked as they are picked (skipping those another sender is
        // locking), and the ids as an array, so the update looks each up by its key rather than
        // joining against the whole table.
        let chosen = match self {
            Store::Sqlite(_) => format!("id IN ({due})"),
            Store::Postgres(_) => format!("id = ANY(ARRAY({due} FOR UPDATE SKIP LOCKED))"),
        };
        let sql = format!(
            "UPDATE deliveries SET status = 'sending', lease_owner = $1, lease_until = {now} + $2, attempts = attempts + 1
             WHERE {chosen} RETURNING id"
        );
        let ids: Vec<DeliveryId> = on_pool!(self, |pool| sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(millis(lease))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await)
        .context("cannot claim deliveries")?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut claimed: Vec<Claimed> = on_pool!(self, |pool| {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT d.id, d.edition_id, d.subscriber_id, d.content_id, d.attempts, s.email AS recipient, s.token,
                        e.schedule, e.tick, c.sections, d.due_at
                 FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
                 JOIN digest_editions e ON e.id = d.edition_id
                 LEFT JOIN digest_contents c ON c.id = d.content_id WHERE d.id IN (",
            );
            let mut list = q.separated(", ");
            for id in &ids {
                list.push_bind(*id);
            }
            q.push(")");
            q.build_query_as().persistent(false).fetch_all(pool).await
        })
        .context("cannot read claimed deliveries")?;
        claimed.sort_by_key(Claimed::place);
        Ok(claimed)
    }

    /// Extends the lease of every delivery `owner` holds; returns how many it holds.
    pub async fn renew_leases(&self, owner: &str, lease: Duration) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE deliveries SET lease_until = {} + $2 WHERE lease_owner = $1 AND status = 'sending'",
            self.now_ms()
        );
        on_pool!(self, |pool| sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner)
            .bind(millis(lease))
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .context("cannot renew delivery leases")
    }

    /// Puts back in the queue the deliveries whose sender's lease ran out (it died or hung):
    /// they are due at once. Returns how many.
    pub async fn reclaim_expired_leases(&self) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL,
                 last_error = 'the sender that claimed it stopped answering; sent again'
             WHERE status = 'sending' AND lease_until < {}",
            self.now_ms()
        );
        on_pool!(self, |pool| sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.map(|r| r.rows_affected()))
            .context("cannot reclaim abandoned deliveries")
    }

    /// Records the outcomes of deliveries `owner` claimed, in one transaction; an outcome whose
    /// lease passed to another sender is not recorded (`lost`). A retry that would fall after
    /// the delivery's queue time plus `retry_for` fails it instead.
    pub async fn finish_deliveries(
        &self,
        owner: &str,
        retry_for: Duration,
        outcomes: &[(DeliveryId, Outcome)],
        now: DateTime<Utc>,
    ) -> StoreResult<Recorded> {
        let mut batch = Batches::default();
        for (id, outcome) in outcomes {
            match outcome {
                Outcome::Sent { at } => batch.sent.push((*id, *at)),
                Outcome::Retry { after, error } => batch.retry.push((*id, millis(*after), error.as_str())),
                Outcome::Failed { error } => batch.failed.push((*id, error.as_str())),
                Outcome::Bounced { error } => batch.bounced.push((*id, error.as_str())),
                Outcome::Released => batch.released.push(*id),
            }
        }
        let now_ms = self.now_ms();
        let statements = Statements::new(now_ms, millis(retry_for));
        // The common case — a batch of messages sent — is one statement: no transaction around it.
        if batch.retry.is_empty() && batch.failed.is_empty() && batch.bounced.is_empty() && batch.released.is_empty() {
            let sent = on_pool!(self, |pool| {
                let mut conn = pool.acquire().await?;
                conn.update_each(&statements.sent, owner, Values::Times(&batch.sent)).await
            });
            let sent = sent.context("cannot record delivery outcomes")?.len();
            return Ok(Recorded { sent, lost: outcomes.len() - sent, ..Recorded::default() });
        }
        let result: StoreResult<Recorded> = async {
            begin_write!(self, |tx| {
                let mut r = Recorded::default();
                let statuses = tx.update_each(&statements.sent, owner, Values::Times(&batch.sent)).await?;
                r.sent = statuses.len();
                let statuses =
                    tx.update_each(&statements.retry, owner, Values::Retries(&batch.retry)).await?;
                r.retried = statuses.iter().filter(|(_, s)| s == "pending").count();
                r.expired = statuses.len() - r.retried;
                let failed = tx.update_each(&statements.failed, owner, Values::Texts(&batch.failed)).await?;
                r.failed = failed.len() + r.expired;
                let bounced = tx.update_each(&statements.bounced, owner, Values::Texts(&batch.bounced)).await?;
                r.bounced = bounced.len();
                for (id, _) in &bounced {
                    let reason = batch.bounced.iter().find(|(b, _)| b == id).map_or("", |(_, e)| *e);
                    sqlx::query(
                        "INSERT INTO suppressions (email, reason, created_at)
                         SELECT s.email, $2, $3 FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
                         WHERE d.id = $1 ON CONFLICT (email) DO NOTHING",
                    )
                    .bind(id)
                    .bind(reason)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(
                        "UPDATE deliveries SET status = 'cancelled', last_error = 'the address is suppressed'
                         WHERE status = 'pending' AND subscriber_id = (SELECT subscriber_id FROM deliveries WHERE id = $1)",
                    )
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                let ids: Vec<(DeliveryId, &str)> = batch.released.iter().map(|id| (*id, "")).collect();
                r.released = tx.update_each(&statements.released, owner, Values::Texts(&ids)).await?.len();
                tx.commit().await?;
                r.lost = outcomes.len() - (r.sent + r.retried + r.failed + r.bounced + r.released);
                Ok(r)
            })
        }
        .await;
        result.context("cannot record delivery outcomes")
    }

    /// Puts failed and bounced deliveries back in the queue (of one edition, or all), for readers
    /// who may still be written to; their retry period starts again. (Messages of the outbox
    /// before its rebuild have no content to send again.) Returns how many.
    pub async fn requeue_failed(&self, edition: Option<EditionId>) -> StoreResult<u64> {
        let now = self.now_ms();
        let sql = format!(
            "UPDATE deliveries SET status = 'pending', attempts = 0, queued_at = {now}, due_at = {now},
                 last_error = 'put back by outbox retry after: ' || COALESCE(last_error, '')
             WHERE id IN (SELECT d.id FROM deliveries d WHERE d.status IN ('failed', 'bounced')
                          AND d.content_id IS NOT NULL AND ($1 IS NULL OR d.edition_id = $1) AND {WRITABLE})"
        );
        on_pool!(self, |pool| sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(edition)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .context("cannot put failed deliveries back in the queue")
    }

    /// Deletes finished deliveries (sent, failed, bounced, cancelled) of editions created before
    /// `before`, and the contents nothing refers to any more, a batch at a time so writers are
    /// never held up long. Returns how many deliveries were deleted.
    pub async fn compact_outbox(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        const BATCH: i64 = 5_000;
        let mut deleted = 0;
        loop {
            let n = on_pool!(self, |pool| sqlx::query(
                "DELETE FROM deliveries WHERE id IN (
                     SELECT d.id FROM deliveries d
                     WHERE d.edition_id IN (SELECT id FROM digest_editions WHERE created_at < $1)
                       AND d.status IN ('sent', 'failed', 'bounced', 'cancelled')
                     LIMIT $2)"
            )
            .bind(before)
            .bind(BATCH)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
            .context("cannot compact the outbox")?;
            deleted += n;
            if n < BATCH as u64 {
                break;
            }
        }
        on_pool!(self, |pool| sqlx::query(
            "DELETE FROM digest_contents WHERE edition_id IN (SELECT id FROM digest_editions WHERE created_at < $1)
               AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.edition_id = digest_contents.edition_id)"
        )
        .bind(before)
        .execute(pool)
        .await
        .map(|_| ()))
        .context("cannot compact digest contents")?;
        Ok(deleted)
    }

    /// (status, count) of every delivery in the outbox.
    pub async fn delivery_counts(&self) -> StoreResult<Vec<(String, i64)>> {
        on_pool!(self, |pool| sqlx::query_as("SELECT status, COUNT(*) FROM deliveries GROUP BY status ORDER BY status")
            .fetch_all(pool)
            .await)
        .context("cannot count deliveries")
    }

    /// (status, count) of an edition's deliveries.
    pub async fn edition_delivery_counts(&self, edition: EditionId) -> StoreResult<Vec<(String, i64)>> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT status, COUNT(*) FROM deliveries WHERE edition_id = $1 GROUP BY status ORDER BY status"
        )
        .bind(edition)
        .fetch_all(pool)
        .await)
        .context("cannot count deliveries")
    }

    /// (edition id, schedule, tick, status, count) for the `limit` newest editions and every
    /// edition with messages still waiting, newest first.
    pub async fn outbox_by_edition(
        &self,
        limit: u32,
    ) -> StoreResult<Vec<(EditionId, String, DateTime<Utc>, String, i64)>> {
        on_pool!(self, |pool| sqlx::query_as(
            "SELECT e.id, e.schedule, e.tick, d.status, COUNT(*) FROM digest_editions e
             JOIN deliveries d ON d.edition_id = e.id
             WHERE e.id IN (SELECT id FROM digest_editions ORDER BY id DESC LIMIT $1)
                OR e.id IN (SELECT edition_id FROM deliveries WHERE status IN ('pending', 'sending'))
             GROUP BY e.id, e.schedule, e.tick, d.status ORDER BY e.id DESC, d.status"
        )
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)
        .context("cannot summarise the outbox")
    }

    /// The latest deliveries with an SMTP reply or other error on them, newest first.
    pub async fn latest_delivery_errors(&self, limit: u32) -> StoreResult<Vec<DeliveryRow>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
             WHERE d.last_error IS NOT NULL AND d.status IN ('pending', 'failed', 'bounced')
             ORDER BY d.id DESC LIMIT $1"
        )))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)
        .context("cannot read delivery errors")
    }

    /// Every delivery, oldest first (for tests and small reports).
    pub async fn deliveries(&self) -> StoreResult<Vec<DeliveryRow>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {ROW_COLUMNS} FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id ORDER BY d.id"
        )))
        .fetch_all(pool)
        .await)
        .context("cannot read deliveries")
    }
}

const ROW_COLUMNS: &str =
    "d.id, d.edition_id, d.subscriber_id, s.email AS recipient, d.status, d.attempts, d.last_error, d.sent_at";

#[derive(Default)]
struct Batches<'a> {
    sent: Vec<(DeliveryId, DateTime<Utc>)>,
    retry: Vec<(DeliveryId, i64, &'a str)>,
    failed: Vec<(DeliveryId, &'a str)>,
    bounced: Vec<(DeliveryId, &'a str)>,
    released: Vec<DeliveryId>,
}

/// The SET clauses of the outcomes, over a row source `v` (one row per delivery) with `v.id` and
/// `v.at` (a time), `v.after` (milliseconds) or `v.err` (text); `$1` is the owner.
struct Statements {
    sent: String,
    retry: String,
    failed: String,
    bounced: String,
    released: String,
}

impl Statements {
    fn new(now: &str, retry_for_ms: i64) -> Self {
        let clear = "lease_owner = NULL, lease_until = NULL";
        let late = format!("{now} + v.after > d.queued_at + {retry_for_ms}");
        Self {
            sent: format!("status = 'sent', sent_at = v.at, last_error = NULL, {clear}"),
            retry: format!(
                "status = CASE WHEN {late} THEN 'failed' ELSE 'pending' END, due_at = {now} + v.after,
                 last_error = CASE WHEN {late}
                     THEN 'not delivered after ' || d.attempts || ' attempts within the retry period; last: ' || v.err
                     ELSE v.err END, {clear}"
            ),
            failed: format!("status = 'failed', last_error = v.err, {clear}"),
            bounced: format!("status = 'bounced', last_error = v.err, {clear}"),
            released: format!("status = 'pending', attempts = attempts - 1, {clear}"),
        }
    }
}

/// The rows of one outcome.
#[derive(Clone, Copy)]
enum Values<'a> {
    Times(&'a [(DeliveryId, DateTime<Utc>)]),
    Retries(&'a [(DeliveryId, i64, &'a str)]),
    Texts(&'a [(DeliveryId, &'a str)]),
}

impl Values<'_> {
    fn len(self) -> usize {
        match self {
            Values::Times(v) => v.len(),
            Values::Retries(v) => v.len(),
            Values::Texts(v) => v.len(),
        }
    }
}

/// `UPDATE deliveries AS d SET {set} FROM {rows} AS v WHERE d.id = v.id AND d.lease_owner = $1
/// AND d.status = 'sending' RETURNING id, status` on each backend: one statement over arrays on
/// PostgreSQL (one round trip per batch), statements of up to 500 `VALUES` rows on SQLite.
trait UpdateEach {
    async fn update_each(
        &mut self,
        set: &str,
        owner: &str,
        values: Values<'_>,
    ) -> sqlx::Result<Vec<(DeliveryId, String)>>;
}

/// A delivery this sender holds: its lease owner is set only while it is `sending`. (No
/// `status = 'sending'` here: PostgreSQL would then walk the partial index of leased rows, dead
/// versions included, instead of looking each id up.)
const WHERE_OWNED: &str = "WHERE d.id = v.id AND d.lease_owner = $1";

impl UpdateEach for sqlx::SqliteConnection {
    async fn update_each(
        &mut self,
        set: &str,
        owner: &str,
        values: Values<'_>,
    ) -> sqlx::Result<Vec<(DeliveryId, String)>> {
        let columns = match values {
            Values::Times(_) => "column1 AS id, column2 AS at",
            Values::Retries(_) => "column1 AS id, column2 AS after, column3 AS err",
            Values::Texts(_) => "column1 AS id, column2 AS err",
        };
        let mut out = Vec::new();
        // Rows per statement: at most 3 values each, well under SQLite's 32,766 variables.
        const ROWS: usize = 500;
        let len = values.len();
        for start in (0..len).step_by(ROWS) {
            let range = start..(start + ROWS).min(len);
            let mut q = sqlx::QueryBuilder::new(format!(
                "UPDATE deliveries AS d SET {set} FROM (SELECT {columns} FROM (VALUES "
            ));
            let mut rows = q.separated(", ");
            match values {
                Values::Times(v) => {
                    for (id, at) in &v[range] {
                        rows.push("(")
                            .push_bind_unseparated(*id)
                            .push_unseparated(", ")
                            .push_bind_unseparated(*at)
                            .push_unseparated(")");
                    }
                }
                Values::Retries(v) => {
                    for (id, after, err) in &v[range] {
                        rows.push("(")
                            .push_bind_unseparated(*id)
                            .push_unseparated(", ")
                            .push_bind_unseparated(*after)
                            .push_unseparated(", ")
                            .push_bind_unseparated(err.to_string())
                            .push_unseparated(")");
                    }
                }
                Values::Texts(v) => {
                    for (id, err) in &v[range] {
                        rows.push("(")
                            .push_bind_unseparated(*id)
                            .push_unseparated(", ")
                            .push_bind_unseparated(err.to_string())
                            .push_unseparated(")");
                    }
                }
            }
            // SQLite's RETURNING names the updated table's columns unqualified.
            q.push(")) AS v WHERE d.id = v.id AND d.lease_owner = ")
                .push_bind(owner.to_owned())
                .push(" RETURNING id, status");
            out.extend(q.build_query_as::<(DeliveryId, String)>().persistent(false).fetch_all(&mut *self).await?);
        }
        Ok(out)
    }
}

impl UpdateEach for sqlx::PgConnection {
    async fn update_each(
        &mut self,
        set: &str,
        owner: &str,
        values: Values<'_>,
    ) -> sqlx::Result<Vec<(DeliveryId, String)>> {
        let source = match values {
            Values::Times(_) => "UNNEST($2::bigint[], $3::timestamptz[]) AS v (id, at)",
            Values::Retries(_) => "UNNEST($2::bigint[], $3::bigint[], $4::text[]) AS v (id, after, err)",
            Values::Texts(_) => "UNNEST($2::bigint[], $3::text[]) AS v (id, err)",
        };
        let sql = format!("UPDATE deliveries AS d SET {set} FROM {source} {WHERE_OWNED} RETURNING d.id, d.status");
        let q = || sqlx::query_as::<_, (DeliveryId, String)>(sqlx::AssertSqlSafe(sql.clone())).bind(owner);
        let mut out = Vec::new();
        match values {
            Values::Times(rows) => {
                for chunk in chunks_by_size(rows, PG_STATEMENT_BYTES, |_| 24) {
                    let (ids, ats): (Vec<DeliveryId>, Vec<DateTime<Utc>>) = chunk.iter().copied().unzip();
                    out.extend(q().bind(ids).bind(ats).fetch_all(&mut *self).await?);
                }
            }
            Values::Retries(rows) => {
                for chunk in chunks_by_size(rows, PG_STATEMENT_BYTES, |r| 28 + r.2.len()) {
                    let ids: Vec<DeliveryId> = chunk.iter().map(|r| r.0).collect();
                    let after: Vec<i64> = chunk.iter().map(|r| r.1).collect();
                    let errs: Vec<&str> = chunk.iter().map(|r| r.2).collect();
                    out.extend(q().bind(ids).bind(after).bind(errs).fetch_all(&mut *self).await?);
                }
            }
            Values::Texts(rows) => {
                for chunk in chunks_by_size(rows, PG_STATEMENT_BYTES, |r| 16 + r.1.len()) {
                    let (ids, errs): (Vec<DeliveryId>, Vec<&str>) = chunk.iter().copied().unzip();
                    out.extend(q().bind(ids).bind(errs).fetch_all(&mut *self).await?);
                }
            }
        }
        Ok(out)
    }
}
