//! One sending run: a shared queue filled by batch claims, one lane per connection, a recorder
//! that writes outcomes in batches as they come (all that are waiting, in one write), and a
//! renewer that keeps the run's lease alive. Everything runs concurrently on the caller's task;
//! nothing outlives the run except SMTP sessions returned to the idle pool.
//!
//! A lane takes and composes its next message while the one before is on the wire, and sends it
//! while the outcome of the previous one is being written, but not the one after: so at any instant a lane has at most two messages whose acceptance is not
//! yet recorded (one on the wire, one being written). After a crash, those — at most twice the
//! number of connections — are the only messages that can go out twice.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::policy::{Failure, Stage, backoff, classify_lost, jitter};
use super::transport::Connection;
use super::{Compose, Composed, SendReport, Sender, build_message, envelope_address};
use crate::store::{Claimed, DeliveryId, Outcome, QueuePlace, StoreError, StoreResult};

/// The most messages claimed at once.
const MAX_BATCH: u32 = 256;
/// How long messages in flight may finish after a stop is asked for.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Address refusals in a row that make a relay suspect (it may be refusing everyone).
const BOUNCE_STREAK: u32 = 20;

pub(super) struct Run<'a, C> {
    sender: &'a Sender,
    composer: &'a C,
    owner: &'a str,
    stop: &'a CancellationToken,
    probe: bool,
    queue: Mutex<Queue>,
    /// Told when the queue gets items (or is exhausted).
    filled: Notify,
    /// Told when the queue runs low.
    low: Notify,
    /// The first store error; it ends the run.
    error: Mutex<Option<StoreError>>,
    /// Set when the run must end early (a store error).
    abort: CancellationToken,
    bounces_in_a_row: Mutex<u32>,
}

#[derive(Default)]
struct Queue {
    items: VecDeque<Claimed>,
    /// Nothing more is due, or nothing more will be claimed.
    exhausted: bool,
    claimed: usize,
    /// Below this many items, the next batch is claimed.
    low_water: usize,
    /// Where the last claim ended in the queue: the next goes on from there.
    last: Option<QueuePlace>,
}

/// An outcome to record, and who to tell once it is (true) or cannot be (false).
type Record = (DeliveryId, Outcome, oneshot::Sender<bool>);
type Sink = mpsc::Sender<Record>;
/// A claimed delivery and its message (or why it could not be composed).
type Ahead = (Claimed, Result<Composed, String>);

impl<'a, C: Compose> Run<'a, C> {
    pub(super) fn new(
        sender: &'a Sender,
        composer: &'a C,
        owner: &'a str,
        stop: &'a CancellationToken,
        probe: bool,
    ) -> Self {
        Self {
            sender,
            composer,
            owner,
            stop,
            probe,
            queue: Mutex::new(Queue::default()),
            filled: Notify::new(),
            low: Notify::new(),
            error: Mutex::new(None),
            abort: CancellationToken::new(),
            bounces_in_a_row: Mutex::new(0),
        }
    }

    /// Runs until nothing is due, the relay is down, or a stop; adds what happened to `report`.
    /// Returns whether any message was attempted.
    pub(super) async fn go(
        self,
        report: &mut SendReport,
        progress: &(dyn Fn(&SendReport) + Sync),
    ) -> StoreResult<bool> {
        let lanes = if self.probe { 1 } else { self.sender.settings.connections.max(1) };
        let (tx, rx) = mpsc::channel::<Record>(4 * MAX_BATCH as usize);
        let done = CancellationToken::new();
        let totals = Mutex::new(std::mem::take(report));
        let lanes_done = CancellationToken::new();
        let fed = CancellationToken::new();
        let attempted = {
            let send = async {
                let attempted: Vec<bool> = join_all((0..lanes).map(|lane| self.lane(lane, tx.clone()))).await;
                lanes_done.cancel();
                // The feeder's last claim, if one was under way, is in the queue once it ends.
                fed.cancelled().await;
                // What was claimed and not attempted goes back to the queue.
                let leftover: Vec<Claimed> = match self.queue.lock() {
                    Ok(mut q) => q.items.drain(..).collect(),
                    Err(_) => Vec::new(),
                };
                for c in leftover {
                    let (ack, _) = oneshot::channel();
                    let _ = tx.send((c.id, Outcome::Released, ack)).await;
                }
                drop(tx);
                attempted.into_iter().any(|a| a)
            };
            let record = async {
                self.record(rx, &totals, progress).await;
                done.cancel();
            };
            let feed = async {
                self.feed(lanes, &lanes_done).await;
                fed.cancel();
            };
            let (attempted, (), (), ()) = tokio::join!(send, record, self.renew(&done), feed);
            attempted
        };
        *report = totals.into_inner().unwrap_or_default();
        match self.error.into_inner().ok().flatten() {
            Some(e) => Err(e),
            None => Ok(attempted),
        }
    }

    /// One connection's worth of sending. Returns whether it attempted a message.
    async fn lane(&self, lane: u32, tx: Sink) -> bool {
        let sender = self.sender;
        let mut conn: Option<Connection> = None;
        let mut attempted = false;
        // Outcomes sent to the recorder and not yet written: at most one while the next message
        // is on the wire.
        let mut unrecorded: VecDeque<oneshot::Receiver<bool>> = VecDeque::new();
        // The next message, taken and composed while the one before it is on the wire.
        let mut ahead: Option<Ahead> = None;
        loop {
            if self.stop.is_cancelled() || self.abort.is_cancelled() || self.relay_paused() {
                break;
            }
            // A relay that asked for fewer connections gets them: the highest lanes stop.
            if lane >= sender.relay.lock().map_or(1, |h| h.connections()) {
                break;
            }
            let current = match ahead.take() {
                Some(next) => next,
                None => match self.next_composed().await {
                    Some(next) => next,
                    None => break,
                },
            };
            attempted = true;
            // The outcome goes to the recorder as soon as it is known, not when the next message
            // is ready.
            let (sent, next) = tokio::join!(
                async {
                    let Some(outcome) = self.attempt(&current.0, current.1, &mut conn, &mut unrecorded).await else {
                        // Abandoned mid-send at a stop: its lease runs out and it is sent again.
                        conn = None;
                        return false;
                    };
                    let (ack, recorded) = oneshot::channel();
                    if tx.send((current.0.id, outcome, ack)).await.is_err() {
                        return false;
                    }
                    unrecorded.push_back(recorded);
                    true
                },
                self.next_composed()
            );
            ahead = next;
            if !sent {
                break;
            }
            if conn.as_ref().is_some_and(|c| !c.is_usable()) {
                conn = None;
            }
        }
        // What this lane took and did not send goes back to the queue, for the other lanes (or,
        // once they are done too, back to the database).
        if let Some((claimed, _)) = ahead {
            if let Ok(mut q) = self.queue.lock() {
                q.items.push_front(claimed);
            }
            self.filled.notify_waiters();
        }
        if let Some(c) = conn {
            c.finish(&sender.idle).await;
        }
        for recorded in unrecorded {
            let _ = recorded.await;
        }
        attempted
    }

    /// The next claimed delivery and its message; `None` when nothing more is due or sending
    /// stops.
    async fn next_composed(&self) -> Option<Ahead> {
        if self.stop.is_cancelled() {
            return None;
        }
        let claimed = self.next().await?;
        let composed = self.composer.compose(&claimed).await;
        Some((claimed, composed))
    }

    /// Waits until at most `keep` of this lane's outcomes are unrecorded; false if one could
    /// not be recorded (the run is ending).
    async fn drain(unrecorded: &mut VecDeque<oneshot::Receiver<bool>>, keep: usize) -> bool {
        while unrecorded.len() > keep {
            if let Some(r) = unrecorded.pop_front()
                && !r.await.unwrap_or(false)
            {
                return false;
            }
        }
        true
    }

    /// Sends one composed message; `None` if it was abandoned in flight at a stop.
    async fn attempt(
        &self,
        claimed: &Claimed,
        composed: Result<Composed, String>,
        conn: &mut Option<Connection>,
        unrecorded: &mut VecDeque<oneshot::Receiver<bool>>,
    ) -> Option<Outcome> {
        let sender = self.sender;
        let domain = claimed.recipient.rsplit('@').next().unwrap_or_default();
        let composed = match composed {
            Ok(c) => c,
            Err(reason) => {
                tracing::error!(delivery = claimed.id, "cannot compose the message: {reason}");
                return Some(Outcome::Failed { error: reason });
            }
        };
        let to = match envelope_address(&claimed.recipient) {
            Ok(to) => to,
            Err(reason) => return Some(Outcome::Bounced { error: reason }),
        };
        if let Some(limiter) = &sender.limiter {
            tokio::select! {
                () = limiter.until_ready() => {}
                () = self.stop.cancelled() => return Some(Outcome::Released),
            }
        }
        if conn.is_none() {
            match sender.transport.connect(&sender.idle).await {
                Ok(c) => *conn = Some(c),
                Err(failure) => return Some(self.judge(claimed, domain, failure)),
            }
        }
        // The previous message's outcome may still be being written, not the one before.
        if !Self::drain(unrecorded, 1).await {
            return Some(Outcome::Released);
        }
        let Some(c) = conn.as_mut() else { return Some(Outcome::Released) };
        let at = (sender.clock)();
        let bytes = match build_message(&composed, &to, &sender.settings.from, at) {
            Ok(b) => b,
            Err(reason) => return Some(Outcome::Failed { error: reason }),
        };
        let stage = Mutex::new(Stage::Session);
        let timeout = sender.settings.send_timeout;
        let send =
            tokio::time::timeout(timeout, c.send(sender.sender_address(), &to, &composed.message_id, &bytes, &stage));
        let grace = async {
            self.stop.cancelled().await;
            tokio::time::sleep(STOP_GRACE.min(timeout)).await;
        };
        let finished = tokio::select! {
            r = send => Some(r),
            () = grace => None,
        };
        let reached = stage.lock().map_or(Stage::EndOfData, |s| *s);
        let Some(result) = finished else {
            tracing::warn!(delivery = claimed.id, %domain, "stopping: a message in flight was abandoned");
            *conn = None;
            return (reached < Stage::EndOfData).then_some(Outcome::Released);
        };
        let result = result.unwrap_or_else(|_| {
            *conn = None;
            Err(classify_lost(reached, &format!("no answer within {} s", timeout.as_secs())))
        });
        Some(match result {
            Ok(()) => {
                self.relay_ok();
                tracing::debug!(delivery = claimed.id, %domain, "digest sent");
                Outcome::Sent { at }
            }
            Err(failure) => {
                if matches!(failure, Failure::Relay { .. }) {
                    *conn = None;
                }
                self.judge(claimed, domain, failure)
            }
        })
    }

    /// What a failure means for the message and for the relay.
    fn judge(&self, claimed: &Claimed, domain: &str, failure: Failure) -> Outcome {
        let sender = self.sender;
        let id = claimed.id;
        match failure {
            Failure::Relay { reason, slow_down } => {
                let paused = self.relay_failed(&reason, slow_down);
                if paused {
                    tracing::warn!(delivery = id, "the relay seems down ({reason}); sending pauses");
                } else {
                    tracing::info!(delivery = id, %domain, "the relay did not take the message ({reason}); it waits");
                }
                Outcome::Released
            }
            Failure::Temporary { reason, slow_down } => {
                self.relay_failed(&reason, slow_down);
                let after = backoff(claimed.attempts, sender.settings.retry_first, sender.settings.retry_max, jitter());
                tracing::info!(delivery = id, %domain, retry_in_s = after.as_secs(), "temporary refusal: {reason}");
                Outcome::Retry { after, error: reason }
            }
            Failure::Address { reason } => {
                let streak = self.bounces_in_a_row.lock().map_or(0, |mut n| {
                    *n += 1;
                    *n
                });
                if streak >= BOUNCE_STREAK {
                    // A relay refusing every recipient is misconfigured, not a list of dead
                    // addresses: do not suppress the whole list.
                    let why = format!("{streak} recipients refused in a row, last: {reason}");
                    self.relay_failed(&why, false);
                    if let Ok(mut h) = sender.relay.lock() {
                        h.pause_now(&why, Instant::now());
                    }
                    return Outcome::Released;
                }
                self.relay_answered();
                tracing::info!(delivery = id, %domain, "address refused for good, suppressed: {reason}");
                Outcome::Bounced { error: reason }
            }
            Failure::Permanent { reason } => {
                self.relay_answered();
                tracing::warn!(delivery = id, %domain, "refused for good: {reason}");
                Outcome::Failed { error: reason }
            }
        }
    }

    fn relay_ok(&self) {
        if let Ok(mut n) = self.bounces_in_a_row.lock() {
            *n = 0;
        }
        if let Ok(mut h) = self.sender.relay.lock() {
            h.on_success();
        }
    }

    /// The relay answered properly (a refusal of one message is an answer).
    fn relay_answered(&self) {
        if let Ok(mut h) = self.sender.relay.lock() {
            h.on_success();
        }
    }

    fn relay_failed(&self, reason: &str, slow_down: bool) -> bool {
        self.sender.relay.lock().is_ok_and(|mut h| h.on_failure(reason, slow_down, Instant::now()))
    }

    fn relay_paused(&self) -> bool {
        self.sender.relay.lock().is_ok_and(|h| h.is_paused(Instant::now()))
    }

    /// The next claimed delivery, waiting for the feeder when the queue is empty; `None` when
    /// nothing more is due.
    async fn next(&self) -> Option<Claimed> {
        loop {
            let filled = self.filled.notified();
            tokio::pin!(filled);
            filled.as_mut().enable();
            {
                let mut q = self.queue.lock().ok()?;
                if let Some(c) = q.items.pop_front() {
                    if q.items.len() < q.low_water {
                        self.low.notify_one();
                    }
                    return Some(c);
                }
                if q.exhausted {
                    return None;
                }
            }
            self.low.notify_one();
            tokio::select! {
                () = filled => {}
                () = self.abort.cancelled() => return None,
            }
        }
    }

    /// Keeps the queue filled: claims the next batch while the lanes still have work, so no
    /// lane waits for a claim. Ends when nothing more is due or the lanes are done.
    async fn feed(&self, lanes: u32, lanes_done: &CancellationToken) {
        let settings = &self.sender.settings;
        let batch = if self.probe { 1 } else { (lanes * 8).clamp(8, MAX_BATCH) };
        if let Ok(mut q) = self.queue.lock() {
            q.low_water = lanes as usize;
        }
        loop {
            let low = self.low.notified();
            tokio::pin!(low);
            low.as_mut().enable();
            let wanted = self.queue.lock().is_ok_and(|q| !q.exhausted && q.items.len() < q.low_water.max(1));
            let stopping = self.stop.is_cancelled() || self.abort.is_cancelled() || self.relay_paused();
            if stopping || lanes_done.is_cancelled() {
                self.exhaust();
                return;
            }
            if wanted {
                let after = self.queue.lock().ok().and_then(|q| q.last);
                let claimed = match self.sender.store.claim_deliveries(self.owner, batch, settings.lease, after).await {
                    Ok(c) => c,
                    Err(e) => {
                        self.fail(e);
                        self.exhaust();
                        return;
                    }
                };
                let done = claimed.is_empty() || self.probe;
                if let Ok(mut q) = self.queue.lock() {
                    q.claimed += claimed.len();
                    q.last = claimed.iter().map(Claimed::place).max().or(q.last);
                    q.items.extend(claimed);
                    q.exhausted = done;
                }
                self.filled.notify_waiters();
                if done {
                    return;
                }
                continue;
            }
            tokio::select! {
                () = low => {}
                () = lanes_done.cancelled() => {}
                () = self.stop.cancelled() => {}
            }
        }
    }

    /// Nothing more will be claimed: lanes waiting for work end.
    fn exhaust(&self) {
        if let Ok(mut q) = self.queue.lock() {
            q.exhausted = true;
        }
        self.filled.notify_waiters();
    }

    fn fail(&self, e: StoreError) {
        tracing::error!("sending stops: {e}");
        if let Ok(mut slot) = self.error.lock()
            && slot.is_none()
        {
            *slot = Some(e);
        }
        self.abort.cancel();
    }

    /// Writes outcomes as they come, in batches.
    async fn record(
        &self,
        mut rx: mpsc::Receiver<Record>,
        totals: &Mutex<SendReport>,
        progress: &(dyn Fn(&SendReport) + Sync),
    ) {
        let mut batch: Vec<(DeliveryId, Outcome)> = Vec::with_capacity(MAX_BATCH as usize);
        let mut acks = Vec::with_capacity(MAX_BATCH as usize);
        while let Some((id, outcome, ack)) = rx.recv().await {
            batch.push((id, outcome));
            acks.push(ack);
            while batch.len() < 2 * MAX_BATCH as usize {
                match rx.try_recv() {
                    Ok((id, outcome, ack)) => {
                        batch.push((id, outcome));
                        acks.push(ack);
                    }
                    Err(_) => break,
                }
            }
            let settings = &self.sender.settings;
            let now = (self.sender.clock)();
            let ok = match self.sender.store.finish_deliveries(self.owner, settings.retry_for, &batch, now).await {
                Ok(recorded) => {
                    if let Ok(mut t) = totals.lock() {
                        t.add(&recorded);
                        progress(&t);
                    }
                    true
                }
                // Not recorded: these messages stay leased and are sent again once the lease
                // runs out. Stop before more pile up.
                Err(e) => {
                    self.fail(e);
                    false
                }
            };
            for ack in acks.drain(..) {
                let _ = ack.send(ok);
            }
            batch.clear();
        }
    }

    /// Keeps the run's lease alive until `done`.
    async fn renew(&self, done: &CancellationToken) {
        let lease = self.sender.settings.lease;
        let every = (lease / 3).max(Duration::from_millis(100));
        loop {
            tokio::select! {
                () = done.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            if let Err(e) = self.sender.store.renew_leases(self.owner, lease).await {
                tracing::warn!("cannot renew the lease of the messages being sent: {e}");
            }
        }
    }
}
