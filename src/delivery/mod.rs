//! The delivery stage: the outbox → the mail transport.
//!
//! A `Sender` claims due deliveries in batches under a lease (see `store::outbox`), asks the
//! digest stage to compose each message (rendered when it is sent, not stored), and sends them
//! over several connections at once, dated the instant each is sent. Outcomes are recorded in
//! batches, only while the lease is still the sender's:
//! - accepted → `sent`;
//! - a temporary refusal (4xx, time-out, an unknown outcome) → retried after a capped, jittered,
//!   doubling wait until the retry period (`mail.retry_hours`) is over, then `failed`;
//! - a permanent refusal of the address (5xx at RCPT naming the mailbox, or an address that
//!   cannot be used) → `bounced`, and the address is suppressed;
//! - another permanent refusal → `failed` (`nashra outbox retry` puts it back);
//! - a failure of the relay itself, before the message was attempted → back in the queue as it
//!   was. When every recent attempt failed, the relay is taken to be down: sending pauses and
//!   probes it with one message now and then, instead of spending every message's retries.
//!
//! A message is marked sent only after the transport accepted it, so a crash can repeat at most
//! the messages in flight (with the same Message-ID), never lose one. Stopping (SIGTERM) ends
//! the run after the messages in flight; the rest go back to the queue.

mod message;
mod policy;
mod relay;
mod run;
mod smtp;
mod transport;

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use lettre::Address;
use tokio_util::sync::CancellationToken;

pub use message::{Composed, build as build_message, envelope_address};
pub use policy::{Failure, Stage};
pub use smtp::{Session, SmtpRelay};
pub use transport::{Sent, Transport};

use crate::config;
use crate::store::{Claimed, Recorded, Store, StoreResult};
use relay::{Gate, RelayHealth};
use transport::IdleSessions;

/// Makes the message of a claimed delivery; the digest stage provides it. The error says why
/// the message cannot be made (it fails for good).
pub trait Compose: Sync {
    fn compose(&self, claimed: &Claimed) -> impl Future<Output = Result<Composed, String>> + Send;
}

/// What one sending run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: usize,
    /// Refused for now; they wait for a retry.
    pub retried: usize,
    /// Failed for good (not the address's fault), or retried until the deadline.
    pub failed: usize,
    /// Refused for good because of the address, which is now suppressed.
    pub bounced: usize,
    /// Put back in the queue unattempted (the relay is down, or the run was stopped).
    pub released: usize,
    /// Outcomes another sender had taken over (this one was presumed dead).
    pub lost: usize,
    /// Sending stopped because the relay is down, for this reason; messages wait in the queue.
    pub relay_down: Option<String>,
    /// The run was asked to stop.
    pub stopped: bool,
}

impl SendReport {
    pub fn summary(&self) -> String {
        let mut s =
            format!("{} sent, {} to retry, {} failed, {} bounced", self.sent, self.retried, self.failed, self.bounced);
        if self.released > 0 {
            s.push_str(&format!(", {} put back in the queue", self.released));
        }
        if self.lost > 0 {
            s.push_str(&format!(", {} taken over by another sender", self.lost));
        }
        if let Some(reason) = &self.relay_down {
            s.push_str(&format!("; the relay seems down ({reason}): sending paused, the messages wait"));
        }
        if self.stopped {
            s.push_str("; stopped");
        }
        s
    }

    /// Whether anything went wrong that an operator must look at: messages that failed for
    /// good, or a relay that is down.
    pub fn has_failures(&self) -> bool {
        self.failed > 0 || self.relay_down.is_some()
    }

    fn add(&mut self, r: &Recorded) {
        self.sent += r.sent;
        self.retried += r.retried;
        self.failed += r.failed;
        self.bounced += r.bounced;
        self.released += r.released;
        self.lost += r.lost;
    }
}

/// How sending behaves, from `[mail]`.
#[derive(Debug, Clone)]
pub struct Settings {
    pub from: lettre::message::Mailbox,
    pub connections: u32,
    pub max_per_second: Option<f64>,
    pub send_timeout: Duration,
    pub retry_first: Duration,
    pub retry_max: Duration,
    pub retry_for: Duration,
    pub lease: Duration,
}

impl Settings {
    pub fn from_config(mail: &config::Mail) -> Self {
        Self {
            from: mail.from.clone(),
            connections: mail.connections,
            max_per_second: mail.max_per_second,
            send_timeout: mail.send_timeout,
            retry_first: mail.retry_first,
            retry_max: mail.retry_max,
            retry_for: mail.retry_for,
            lease: mail.lease,
        }
    }
}

/// Sends what is due. One per process: it keeps the relay's health and idle SMTP sessions
/// between runs.
pub struct Sender {
    store: Store,
    transport: Transport,
    settings: Settings,
    /// This process's id in leases; each run adds its number.
    owner: String,
    runs: AtomicU64,
    relay: Mutex<RelayHealth>,
    idle: IdleSessions,
    limiter: Option<DefaultDirectRateLimiter>,
    /// The instant a message is sent (its Date header and recorded send time).
    clock: fn() -> DateTime<Utc>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sender({:?}, {})", self.transport, self.owner)
    }
}

impl Sender {
    pub fn new(store: Store, transport: Transport, settings: Settings, clock: fn() -> DateTime<Utc>) -> Self {
        let limiter = settings
            .max_per_second
            .and_then(|rate| Duration::try_from_secs_f64(1.0 / rate).ok())
            .and_then(Quota::with_period)
            .map(RateLimiter::direct);
        let relay = RelayHealth::new(settings.connections, settings.retry_first, settings.retry_max);
        Self {
            store,
            transport,
            owner: crate::store::new_owner_id(),
            runs: AtomicU64::new(0),
            relay: Mutex::new(relay),
            idle: IdleSessions::default(),
            limiter,
            settings,
            clock,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Sends every delivery due now, until none is left, the relay is down or `stop` is
    /// cancelled. `progress` sees the running totals after each batch of outcomes.
    pub async fn send_due<C: Compose>(
        &self,
        composer: &C,
        stop: &CancellationToken,
        progress: &(dyn Fn(&SendReport) + Sync),
    ) -> StoreResult<SendReport> {
        let reclaimed = self.store.reclaim_expired_leases().await?;
        if reclaimed > 0 {
            tracing::warn!(reclaimed, "messages whose sender stopped answering are due again");
        }
        let mut report = SendReport::default();
        loop {
            let gate = self.gate();
            let probe = match gate {
                Gate::Paused { reason, .. } => {
                    report.relay_down = Some(reason);
                    break;
                }
                Gate::Probe => true,
                Gate::Open(_) => false,
            };
            let run = format!("{}-{}", self.owner, self.runs.fetch_add(1, Ordering::Relaxed));
            let attempted = run::Run::new(self, composer, &run, stop, probe).go(&mut report, progress).await?;
            // A probe that went through opens the relay again: carry on at full speed.
            let reopened = probe && attempted && matches!(self.gate(), Gate::Open(_));
            if !reopened || stop.is_cancelled() {
                break;
            }
        }
        if let Gate::Paused { reason, .. } = self.gate() {
            report.relay_down = Some(reason);
        }
        report.stopped = stop.is_cancelled();
        Ok(report)
    }

    /// Sends one message now, outside the outbox (a sign-up's confirmation): a connection from
    /// the idle pool or a new one, bounded by `send_timeout`. The error says what went wrong.
    pub async fn send_one(&self, composed: &Composed, recipient: &str) -> Result<(), String> {
        let to = envelope_address(recipient)?;
        let bytes = build_message(composed, &to, &self.settings.from, (self.clock)())?;
        let stage = Mutex::new(policy::Stage::Session);
        let attempt = async {
            let mut conn = self.transport.connect(&self.idle).await.map_err(|f| f.reason().to_owned())?;
            let sent = conn.send(self.sender_address(), &to, &composed.message_id, &bytes, &stage).await;
            conn.finish(&self.idle).await;
            sent.map_err(|f| f.reason().to_owned())
        };
        tokio::time::timeout(self.settings.send_timeout, attempt)
            .await
            .map_err(|_| format!("no answer from the relay within {} s", self.settings.send_timeout.as_secs()))?
    }

    /// Closes idle SMTP sessions (at shutdown).
    pub async fn close(&self) {
        self.idle.close_all().await;
    }

    fn gate(&self) -> Gate {
        match self.relay.lock() {
            Ok(h) => h.gate(Instant::now()),
            Err(_) => Gate::Open(1),
        }
    }

    fn sender_address(&self) -> &Address {
        &self.settings.from.email
    }
}
