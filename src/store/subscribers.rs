//! Subscribers and the keywords they follow (in their chosen order, which orders digest headings).

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::FromRow;

use super::error::Context as _;
use super::keywords::KEYWORD_COLUMNS;
use super::{Keyword, KeywordId, Store, StoreResult, begin_write, on_pool};

pub type SubscriberId = i64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberStatus {
    /// Signed up, not yet confirmed: receives nothing.
    Pending,
    Active,
    Unsubscribed,
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Subscriber {
    pub id: SubscriberId,
    pub email: String,
    status: String,
    /// The secret in the subscriber's links (unsubscribe, preferences).
    pub token: String,
    pub created_at: DateTime<Utc>,
    /// No digest is planned for them before this time.
    pub paused_until: Option<DateTime<Utc>>,
}

impl SubscriberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberStatus::Pending => "pending",
            SubscriberStatus::Active => "active",
            SubscriberStatus::Unsubscribed => "unsubscribed",
        }
    }
}

impl Subscriber {
    pub fn status(&self) -> SubscriberStatus {
        match self.status.as_str() {
            "active" => SubscriberStatus::Active,
            "unsubscribed" => SubscriberStatus::Unsubscribed,
            _ => SubscriberStatus::Pending,
        }
    }

    /// Whether their digests are paused at `now`.
    pub fn paused_at(&self, now: DateTime<Utc>) -> bool {
        self.paused_until.is_some_and(|until| until > now)
    }
}

/// A subscriber and what they chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub subscriber: Subscriber,
    /// The names of the keywords they follow, in their order.
    pub keywords: Vec<String>,
    /// The editions they chose; empty: every edition.
    pub editions: Vec<String>,
}

/// What a reader chose, as far as it is being changed: `None` leaves that part as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct Preferences<'a> {
    pub keywords: Option<&'a [KeywordId]>,
    /// The editions they get; empty: every edition.
    pub editions: Option<&'a [String]>,
    /// `Some(None)`: not paused; `Some(Some(t))`: paused until `t`.
    pub paused_until: Option<Option<DateTime<Utc>>>,
}

/// What `upsert_subscriber` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    Added(Subscriber),
    Updated(Subscriber),
    /// Left as they were: bringing them back needs an explicit re-subscription.
    Refused(Refusal),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The reader unsubscribed.
    Unsubscribed,
    /// The address is suppressed, for this reason.
    Suppressed(String),
}

#[derive(FromRow)]
struct FollowRow {
    subscriber_id: SubscriberId,
    #[sqlx(flatten)]
    keyword: Keyword,
}

/// What a sign-up from the web did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedUp {
    /// Waiting for the reader's confirmation (new, still waiting, or asking to come back after
    /// unsubscribing — still unsubscribed until they confirm), following the keywords given.
    Pending(Subscriber),
    /// Already confirmed: nothing was changed (their choices are changed from their
    /// preferences page, not by whoever knows their address).
    Active(Subscriber),
    /// The address is suppressed: nothing is sent to it.
    Suppressed,
}

/// Replaces the keywords subscriber `$id` follows with `$keywords`, in that order, inside the
/// transaction `$tx`.
macro_rules! replace_follows {
    ($tx:ident, $id:expr, $keywords:expr) => {
        sqlx::query("DELETE FROM subscriber_keywords WHERE subscriber_id = $1").bind($id).execute(&mut *$tx).await?;
        for (position, keyword) in $keywords.iter().enumerate() {
            sqlx::query(
                "INSERT INTO subscriber_keywords (subscriber_id, keyword_id, position) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
            )
            .bind($id)
            .bind(keyword)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .execute(&mut *$tx)
            .await?;
        }
    };
}

/// Replaces the editions subscriber `$id` receives with `$editions` inside the transaction `$tx`.
macro_rules! replace_editions {
    ($tx:ident, $id:expr, $editions:expr) => {
        sqlx::query("DELETE FROM subscriber_editions WHERE subscriber_id = $1").bind($id).execute(&mut *$tx).await?;
        for schedule in $editions.iter() {
            sqlx::query(
                "INSERT INTO subscriber_editions (subscriber_id, schedule) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind($id)
            .bind(schedule)
            .execute(&mut *$tx)
            .await?;
        }
    };
}

const SUBSCRIBER_COLUMNS: &str = "s.id, s.email, s.status, s.token, s.created_at, s.paused_until";

impl Store {
    /// Adds an active subscriber, or updates one, and replaces the keywords they follow. A
    /// reader who unsubscribed, or whose address is suppressed, is left as they are unless
    /// `resubscribe` says to bring them back (which also lifts the suppression).
    pub async fn upsert_subscriber(
        &self,
        email: &str,
        token: &str,
        keywords: &[KeywordId],
        now: DateTime<Utc>,
        resubscribe: bool,
    ) -> StoreResult<Saved> {
        // PostgreSQL keeps microseconds; compare with what it will give back.
        let now = now.trunc_subsecs(6);
        let result: StoreResult<Saved> = async {
            begin_write!(self, |tx| {
                if resubscribe {
                    sqlx::query("DELETE FROM suppressions WHERE email = $1").bind(email).execute(&mut *tx).await?;
                } else {
                    let suppressed: Option<String> =
                        sqlx::query_scalar("SELECT reason FROM suppressions WHERE email = $1")
                            .bind(email)
                            .fetch_optional(&mut *tx)
                            .await?;
                    if let Some(reason) = suppressed {
                        return Ok(Saved::Refused(Refusal::Suppressed(reason)));
                    }
                    let status: Option<String> = sqlx::query_scalar("SELECT status FROM subscribers WHERE email = $1")
                        .bind(email)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if status.as_deref() == Some(SubscriberStatus::Unsubscribed.as_str()) {
                        return Ok(Saved::Refused(Refusal::Unsubscribed));
                    }
                }
                let subscriber: Subscriber = sqlx::query_as(
                    "INSERT INTO subscribers AS s (email, status, token, created_at, confirmed_at)
                     VALUES ($1, 'active', $2, $3, $3)
                     ON CONFLICT (email) DO UPDATE SET status = 'active', unsubscribed_at = NULL,
                         confirmed_at = COALESCE(s.confirmed_at, excluded.confirmed_at)
                     RETURNING id, email, status, token, created_at, paused_until",
                )
                .bind(email)
                .bind(token)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                replace_follows!(tx, subscriber.id, keywords);
                tx.commit().await?;
                Ok(if subscriber.created_at == now { Saved::Added(subscriber) } else { Saved::Updated(subscriber) })
            })
        }
        .await;
        result.context("cannot save subscriber")
    }

    /// A sign-up from the web (double opt-in). A new reader waits for confirmation; one still
    /// waiting, or who unsubscribed, gets `token` as their new random token (so only the newest
    /// confirmation link works, and it confirms the topics it was sent for) and follows
    /// `keywords` and `editions` (empty: all) — an unsubscribed reader stays unsubscribed until
    /// they confirm. A confirmed
    /// reader and a suppressed address are left as they are.
    pub async fn sign_up(
        &self,
        email: &str,
        token: &str,
        keywords: &[KeywordId],
        editions: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<SignedUp> {
        let now = now.trunc_subsecs(6);
        let result: StoreResult<SignedUp> = async {
            begin_write!(self, |tx| {
                let suppressed: Option<String> = sqlx::query_scalar("SELECT reason FROM suppressions WHERE email = $1")
                    .bind(email)
                    .fetch_optional(&mut *tx)
                    .await?;
                if suppressed.is_some() {
                    return Ok(SignedUp::Suppressed);
                }
                // One statement, so a confirmation landing meanwhile is never overwritten.
                let subscriber: Option<Subscriber> = sqlx::query_as(
                    "INSERT INTO subscribers AS s (email, status, token, created_at, requested_at)
                     VALUES ($1, 'pending', $2, $3, $3)
                     ON CONFLICT (email) DO UPDATE SET token = excluded.token, requested_at = excluded.requested_at,
                         paused_until = NULL
                     WHERE s.status <> 'active'
                     RETURNING id, email, status, token, created_at, paused_until",
                )
                .bind(email)
                .bind(token)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(subscriber) = subscriber else {
                    let active: Subscriber = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers s WHERE s.email = $1"
                    )))
                    .bind(email)
                    .fetch_one(&mut *tx)
                    .await?;
                    return Ok(SignedUp::Active(active));
                };
                replace_follows!(tx, subscriber.id, keywords);
                replace_editions!(tx, subscriber.id, editions);
                tx.commit().await?;
                Ok(SignedUp::Pending(subscriber))
            })
        }
        .await;
        result.context("cannot save the sign-up")
    }

    /// Confirms a reader's sign-up: they become active and their consent is dated now. Only a
    /// request made after their last unsubscribe counts, and never for a suppressed address;
    /// `None` otherwise (or if they are gone). A confirmed reader stays as they are.
    pub async fn confirm_subscriber(&self, id: SubscriberId, now: DateTime<Utc>) -> StoreResult<Option<Subscriber>> {
        on_pool!(self, |pool| sqlx::query_as(
            "UPDATE subscribers AS s SET status = 'active', unsubscribed_at = NULL,
                 confirmed_at = CASE WHEN s.status = 'active' THEN s.confirmed_at ELSE $2 END
             WHERE s.id = $1
               AND (s.status IN ('pending', 'active')
                    OR (s.status = 'unsubscribed' AND s.requested_at > s.unsubscribed_at))
               AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email = s.email)
             RETURNING id, email, status, token, created_at, paused_until"
        )
        .bind(id)
        .bind(now)
        .fetch_optional(pool)
        .await)
        .context("cannot confirm the subscriber")
    }

    /// Deletes a subscriber and their delivery history. Returns whether one existed.
    pub async fn delete_subscriber(&self, email: &str) -> StoreResult<bool> {
        on_pool!(self, |pool| sqlx::query("DELETE FROM subscribers WHERE email = $1")
            .bind(email)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))
        .map(|n| n > 0)
        .context("cannot delete subscriber")
    }

    /// Marks the subscriber with this token unsubscribed and cancels their messages still in
    /// the outbox; returns them if the token was known.
    pub async fn unsubscribe(&self, token: &str, now: DateTime<Utc>) -> StoreResult<Option<Subscriber>> {
        let result: StoreResult<Option<Subscriber>> = async {
            begin_write!(self, |tx| {
                let subscriber: Option<Subscriber> = sqlx::query_as(
                    "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = COALESCE(unsubscribed_at, $2)
                     WHERE token = $1 RETURNING id, email, status, token, created_at, paused_until",
                )
                .bind(token)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(s) = &subscriber {
                    sqlx::query(
                        "UPDATE deliveries SET status = 'cancelled', last_error = 'unsubscribed'
                         WHERE subscriber_id = $1 AND status = 'pending'",
                    )
                    .bind(s.id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(subscriber)
            })
        }
        .await;
        result.context("cannot unsubscribe")
    }

    /// The editions reader `id` chose (schedule names); empty: every edition.
    pub async fn subscriber_editions(&self, id: SubscriberId) -> StoreResult<Vec<String>> {
        on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT schedule FROM subscriber_editions WHERE subscriber_id = $1 ORDER BY schedule"
        )
        .bind(id)
        .fetch_all(pool)
        .await)
        .context("cannot read the reader's editions")
    }

    /// Saves what a reader chose — only the parts given — in one transaction; a pause that
    /// starts (`paused_until` later than `now`) cancels their messages still waiting. Returns
    /// whether they exist.
    pub async fn save_preferences(
        &self,
        id: SubscriberId,
        choices: &Preferences<'_>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let paused_until = choices.paused_until.map(|p| p.map(|t| t.trunc_subsecs(0)));
        let result: StoreResult<bool> = async {
            begin_write!(self, |tx| {
                let exists: Option<SubscriberId> = sqlx::query_scalar("SELECT id FROM subscribers WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if exists.is_none() {
                    return Ok(false);
                }
                if let Some(keywords) = choices.keywords {
                    replace_follows!(tx, id, keywords);
                }
                if let Some(editions) = choices.editions {
                    replace_editions!(tx, id, editions);
                }
                if let Some(paused_until) = paused_until {
                    sqlx::query("UPDATE subscribers SET paused_until = $2 WHERE id = $1")
                        .bind(id)
                        .bind(paused_until)
                        .execute(&mut *tx)
                        .await?;
                    if paused_until.is_some_and(|t| t > now) {
                        sqlx::query(
                            "UPDATE deliveries SET status = 'cancelled', last_error = 'paused by the reader'
                             WHERE subscriber_id = $1 AND status = 'pending'",
                        )
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                tx.commit().await?;
                Ok(true)
            })
        }
        .await;
        result.context("cannot save the reader's preferences")
    }

    /// Deletes web sign-ups never confirmed and last requested before `before` (their
    /// confirmation links have expired). Readers imported as pending, who never asked here, are
    /// kept. Returns how many.
    pub async fn expire_unconfirmed(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        on_pool!(self, |pool| sqlx::query(
            "DELETE FROM subscribers WHERE status = 'pending' AND confirmed_at IS NULL AND requested_at < $1"
        )
        .bind(before)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
        .context("cannot delete expired sign-ups")
    }

    pub async fn subscriber_by_token(&self, token: &str) -> StoreResult<Option<Subscriber>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers s WHERE s.token = $1"
        )))
        .bind(token)
        .fetch_optional(pool)
        .await)
        .context("cannot read subscriber")
    }

    pub async fn subscriber_by_id(&self, id: SubscriberId) -> StoreResult<Option<Subscriber>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers s WHERE s.id = $1"
        )))
        .bind(id)
        .fetch_optional(pool)
        .await)
        .context("cannot read subscriber")
    }

    pub async fn subscriber_by_email(&self, email: &str) -> StoreResult<Option<Subscriber>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers s WHERE s.email = $1"
        )))
        .bind(email)
        .fetch_optional(pool)
        .await)
        .context("cannot read subscriber")
    }

    /// Up to `limit` subscribers with an id above `after`, in id order, each with the names of
    /// the keywords they follow (in their order) and the editions they chose (empty: all).
    pub async fn profiles_after(&self, after: SubscriberId, limit: u32) -> StoreResult<Vec<Profile>> {
        let subscribers: Vec<Subscriber> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers s WHERE s.id > $1 ORDER BY s.id LIMIT $2"
        )))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)
        .context("cannot read subscribers")?;
        let Some(last) = subscribers.last().map(|s| s.id) else { return Ok(Vec::new()) };
        let follows: Vec<(SubscriberId, String)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT sk.subscriber_id, k.name FROM subscriber_keywords sk JOIN keywords k ON k.id = sk.keyword_id
             WHERE sk.subscriber_id > $1 AND sk.subscriber_id <= $2 ORDER BY sk.subscriber_id, sk.position"
        )
        .bind(after)
        .bind(last)
        .fetch_all(pool)
        .await)
        .context("cannot read the keywords subscribers follow")?;
        let editions: Vec<(SubscriberId, String)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT subscriber_id, schedule FROM subscriber_editions
             WHERE subscriber_id > $1 AND subscriber_id <= $2 ORDER BY subscriber_id, schedule"
        )
        .bind(after)
        .bind(last)
        .fetch_all(pool)
        .await)
        .context("cannot read the editions subscribers chose")?;
        let mut profiles: Vec<Profile> = subscribers
            .into_iter()
            .map(|subscriber| Profile { subscriber, keywords: Vec::new(), editions: Vec::new() })
            .collect();
        let index: std::collections::HashMap<SubscriberId, usize> =
            profiles.iter().enumerate().map(|(i, p)| (p.subscriber.id, i)).collect();
        for (id, name) in follows {
            if let Some(&i) = index.get(&id) {
                profiles[i].keywords.push(name);
            }
        }
        for (id, schedule) in editions {
            if let Some(&i) = index.get(&id) {
                profiles[i].editions.push(schedule);
            }
        }
        Ok(profiles)
    }

    /// One subscriber's profile (see `profiles_after`).
    pub async fn profile(&self, id: SubscriberId) -> StoreResult<Option<Profile>> {
        Ok(self.profiles_after(id - 1, 1).await?.into_iter().find(|p| p.subscriber.id == id))
    }

    /// Rewrites addresses stored in another form than `canonical` gives (an internationalised
    /// domain in punycode, from before addresses were stored in one form), in readers and
    /// suppressions. A reader whose canonical address another reader already has is left as it
    /// is and returned (old, canonical), for the operator to merge.
    pub async fn canonicalize_addresses(
        &self,
        canonical: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> StoreResult<(u64, Vec<(String, String)>)> {
        // Nearly always nothing to do: looked for before taking the write lock.
        let candidates: i64 = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM subscribers WHERE email LIKE '%xn--%')
                  + (SELECT COUNT(*) FROM suppressions WHERE email LIKE '%xn--%')"
        )
        .fetch_one(pool)
        .await)
        .context("cannot read stored addresses")?;
        if candidates == 0 {
            return Ok((0, Vec::new()));
        }
        let result: StoreResult<(u64, Vec<(String, String)>)> = async {
            begin_write!(self, |tx| {
                let mut rewritten = 0;
                let mut clashes = Vec::new();
                let readers: Vec<(SubscriberId, String)> =
                    sqlx::query_as("SELECT id, email FROM subscribers WHERE email LIKE '%xn--%'")
                        .fetch_all(&mut *tx)
                        .await?;
                for (id, email) in readers {
                    let Some(new) = canonical(&email).filter(|n| *n != email) else { continue };
                    let taken: Option<SubscriberId> = sqlx::query_scalar("SELECT id FROM subscribers WHERE email = $1")
                        .bind(&new)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if taken.is_some() {
                        clashes.push((email, new));
                        continue;
                    }
                    sqlx::query("UPDATE subscribers SET email = $2 WHERE id = $1")
                        .bind(id)
                        .bind(&new)
                        .execute(&mut *tx)
                        .await?;
                    rewritten += 1;
                }
                let suppressed: Vec<String> =
                    sqlx::query_scalar("SELECT email FROM suppressions WHERE email LIKE '%xn--%'")
                        .fetch_all(&mut *tx)
                        .await?;
                for email in suppressed {
                    let Some(new) = canonical(&email).filter(|n| *n != email) else { continue };
                    let kept = sqlx::query(
                        "UPDATE suppressions SET email = $2 WHERE email = $1
                                 AND NOT EXISTS (SELECT 1 FROM suppressions WHERE email = $2)",
                    )
                    .bind(&email)
                    .bind(&new)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if kept == 0 {
                        sqlx::query("DELETE FROM suppressions WHERE email = $1").bind(&email).execute(&mut *tx).await?;
                    }
                    rewritten += 1;
                }
                tx.commit().await?;
                Ok((rewritten, clashes))
            })
        }
        .await;
        result.context("cannot bring stored addresses to one form")
    }

    /// Every subscriber, by email.
    pub async fn subscribers(&self) -> StoreResult<Vec<Subscriber>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers s ORDER BY s.email"
        )))
        .fetch_all(pool)
        .await)
        .context("cannot read subscribers")
    }

    /// The keywords a subscriber follows, in their order.
    pub async fn subscriber_keywords(&self, subscriber: SubscriberId) -> StoreResult<Vec<Keyword>> {
        on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {KEYWORD_COLUMNS} FROM subscriber_keywords sk JOIN keywords k ON k.id = sk.keyword_id
             WHERE sk.subscriber_id = $1 ORDER BY sk.position"
        )))
        .bind(subscriber)
        .fetch_all(pool)
        .await)
        .context("cannot read a subscriber's keywords")
    }

    /// Active subscribers with the keywords each follows, in order.
    pub async fn active_subscribers(&self) -> StoreResult<Vec<(Subscriber, Vec<Keyword>)>> {
        let subscribers: Vec<Subscriber> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers s WHERE s.status = 'active' ORDER BY s.id"
        )))
        .fetch_all(pool)
        .await)
        .context("cannot read active subscribers")?;
        let rows: Vec<FollowRow> = on_pool!(self, |pool| sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT sk.subscriber_id, {KEYWORD_COLUMNS}
             FROM subscriber_keywords sk
             JOIN keywords k ON k.id = sk.keyword_id
             JOIN subscribers s ON s.id = sk.subscriber_id
             WHERE s.status = 'active'
             ORDER BY sk.subscriber_id, sk.position"
        )))
        .fetch_all(pool)
        .await)
        .context("cannot read subscribers' keywords")?;
        let mut out: Vec<(Subscriber, Vec<Keyword>)> = subscribers.into_iter().map(|s| (s, Vec::new())).collect();
        for row in rows {
            if let Ok(i) = out.binary_search_by_key(&row.subscriber_id, |(s, _)| s.id)
                && let Some((_, keywords)) = out.get_mut(i)
            {
                keywords.push(row.keyword);
            }
        }
        Ok(out)
    }
}
