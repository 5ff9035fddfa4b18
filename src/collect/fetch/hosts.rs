//! Politeness per host: at most `concurrency` requests in flight to one host, and requests to
//! it spaced by the configured delay (or the host's robots.txt Crawl-delay, whichever is longer),
//! paced with a `governor` rate limiter per host.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

struct Host {
    permits: Arc<Semaphore>,
    pace: Option<Arc<DefaultDirectRateLimiter>>,
    delay: Duration,
    /// The server asked us (Retry-After) to stay away until then.
    blocked_until: Option<Instant>,
}

pub(super) struct Hosts {
    concurrency: usize,
    delay: Duration,
    hosts: Mutex<HashMap<String, Host>>,
}

fn limiter(delay: Duration) -> Option<Arc<DefaultDirectRateLimiter>> {
    Quota::with_period(delay).map(|q| Arc::new(RateLimiter::direct(q.allow_burst(NonZeroU32::MIN))))
}

impl Hosts {
    pub(super) fn new(concurrency: usize, delay: Duration) -> Self {
        Self { concurrency: concurrency.max(1), delay, hosts: Mutex::default() }
    }

    pub(super) fn concurrency(&self) -> usize {
        self.concurrency
    }

    fn host(&self) -> Host {
        Host {
            permits: Arc::new(Semaphore::new(self.concurrency)),
            pace: limiter(self.delay),
            delay: self.delay,
            blocked_until: None,
        }
    }

    /// Keeps away from `host` for `wait` (a Retry-After too long to wait for in this pass).
    pub(super) fn block(&self, host: &str, wait: Duration) {
        let Ok(mut hosts) = self.hosts.lock() else { return };
        let h = hosts.entry(host.to_owned()).or_insert_with(|| self.host());
        let until = Instant::now() + wait;
        h.blocked_until = Some(h.blocked_until.map_or(until, |b| b.max(until)));
    }

    /// How long `host` is still to be left alone, if it is.
    pub(super) fn blocked(&self, host: &str) -> Option<Duration> {
        let hosts = self.hosts.lock().ok()?;
        let until = hosts.get(host)?.blocked_until?;
        until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
    }

    /// Waits for a free slot on `host` and for its pace; the slot is held until the permit drops.
    pub(super) async fn acquire(&self, host: &str) -> Option<OwnedSemaphorePermit> {
        let (permits, pace) = {
            let mut hosts = self.hosts.lock().ok()?;
            let h = hosts.entry(host.to_owned()).or_insert_with(|| self.host());
            (h.permits.clone(), h.pace.clone())
        };
        let permit = permits.acquire_owned().await.ok()?;
        if let Some(pace) = pace {
            pace.until_ready().await;
        }
        Some(permit)
    }

    /// Spaces requests to `host` by at least `delay` (a robots.txt Crawl-delay).
    pub(super) fn slow_down(&self, host: &str, delay: Duration) {
        let Ok(mut hosts) = self.hosts.lock() else { return };
        let h = hosts.entry(host.to_owned()).or_insert_with(|| self.host());
        if delay > h.delay {
            h.delay = delay;
            h.pace = limiter(delay);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_to_one_host_are_spaced_and_others_are_not() {
        let hosts = Hosts::new(4, Duration::from_millis(100));
        let start = Instant::now();
        for _ in 0..3 {
            drop(hosts.acquire("a.example").await);
        }
        assert!(start.elapsed() >= Duration::from_millis(200), "{:?}", start.elapsed());
        let other = Instant::now();
        drop(hosts.acquire("b.example").await);
        assert!(other.elapsed() < Duration::from_millis(100));
    }

    #[tokio::test]
    async fn at_most_the_configured_number_of_requests_are_in_flight() {
        let hosts = Hosts::new(1, Duration::ZERO);
        let first = hosts.acquire("a.example").await;
        let second = tokio::time::timeout(Duration::from_millis(50), hosts.acquire("a.example")).await;
        assert!(second.is_err(), "the second request waits for the first");
        drop(first);
        assert!(hosts.acquire("a.example").await.is_some());
    }
}
