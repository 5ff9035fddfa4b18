//! The delivery stage: the outbox → the mail transport. Due deliveries are claimed from the store,
//! built into MIME messages and sent one by one; a temporary refusal (4xx, time-out, connection
//! error) is retried with exponential back-off, a permanent one (5xx, bad address) is recorded on
//! the row and not retried. A message is marked sent only after the transport accepted it, so a
//! crash can repeat at most the messages in flight (with the same Message-ID), never lose one.

mod message;
mod transport;

use chrono::{DateTime, Duration, Utc};

pub use message::build as build_message;
pub use transport::{Mailer, SendError};

use crate::config;
use crate::store::{DeliveryOutcome, Store, StoreResult};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
}

impl SendReport {
    pub fn summary(&self) -> String {
        format!("{} sent, {} to retry, {} failed", self.sent, self.retried, self.failed)
    }
}

/// The wait before attempt `attempts + 1`: 1, 2, 4 … minutes, at most 6 hours.
fn backoff(attempts: i64) -> Duration {
    let minutes = 1i64 << attempts.clamp(0, 9);
    Duration::minutes(minutes.min(360))
}

/// Sends every delivery due at `now`, one claim at a time.
pub async fn send_due(
    store: &Store,
    mailer: &Mailer,
    mail: &config::Mail,
    now: DateTime<Utc>,
) -> StoreResult<SendReport> {
    let mut report = SendReport::default();
    // A row still `sending` after several send time-outs belongs to a process that died mid-send.
    let stale_before = now - Duration::from_std(mail.send_timeout * 4).unwrap_or(Duration::minutes(10));
    while let Some(delivery) = store.claim_delivery(now, stale_before).await? {
        let domain = delivery.recipient.rsplit('@').next().unwrap_or_default().to_owned();
        let result = match build_message(&delivery, &mail.from, now) {
            Ok(message) => mailer.send(message, mail.send_timeout).await,
            Err(reason) => Err(SendError { permanent: true, reason }),
        };
        let outcome = match result {
            Ok(()) => {
                tracing::info!(delivery = delivery.id, %domain, "digest sent");
                report.sent += 1;
                DeliveryOutcome::Sent { at: now }
            }
            Err(e) if e.permanent || delivery.attempts >= i64::from(mail.max_attempts) => {
                tracing::warn!(delivery = delivery.id, %domain, attempts = delivery.attempts, "digest failed for good: {}", e.reason);
                report.failed += 1;
                DeliveryOutcome::Failed { error: e.reason }
            }
            Err(e) => {
                let next_attempt = now + backoff(delivery.attempts);
                tracing::warn!(delivery = delivery.id, %domain, %next_attempt, "digest will be retried: {}", e.reason);
                report.retried += 1;
                DeliveryOutcome::Retry { next_attempt, error: e.reason }
            }
        };
        if !store.finish_delivery(&delivery, &outcome).await? {
            tracing::warn!(
                delivery = delivery.id,
                "another sender took this delivery over; its outcome was not recorded"
            );
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(1), Duration::minutes(2));
        assert_eq!(backoff(3), Duration::minutes(8));
        assert_eq!(backoff(40), Duration::minutes(360));
    }
}
