//! The relay's health, as this process sees it: a circuit breaker and a connection budget.
//!
//! When the relay itself is down — every one of the last attempts failed, none succeeded — there
//! is no point spending each message's retries on it: sending pauses, and after a wait (doubling,
//! up to a ceiling) one message probes it; the first success resumes full speed. Messages caught
//! by the pause go back to the queue uncounted. A relay that asks for fewer connections (421, 454,
//! "too many connections") gets one fewer, down to one; a run of successes earns one back.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Send with this many connections.
    Open(u32),
    /// Paused until the next probe, because of this.
    Paused { until: Instant, reason: String },
    /// Time to probe: one message on one connection.
    Probe,
}

#[derive(Debug)]
pub struct RelayHealth {
    max_connections: u32,
    connections: u32,
    /// Failures in a row with no success between them.
    streak: u32,
    successes: u32,
    last_error: Option<String>,
    paused_until: Option<Instant>,
    first_pause: Duration,
    max_pause: Duration,
    pause: Duration,
}

impl RelayHealth {
    pub fn new(max_connections: u32, first_pause: Duration, max_pause: Duration) -> Self {
        let max_connections = max_connections.max(1);
        Self {
            max_connections,
            connections: max_connections,
            streak: 0,
            successes: 0,
            last_error: None,
            paused_until: None,
            first_pause,
            max_pause: max_pause.max(first_pause),
            pause: first_pause,
        }
    }

    /// How many failures in a row mean the relay is down.
    fn threshold(&self) -> u32 {
        (2 * self.max_connections).max(5)
    }

    pub fn gate(&self, now: Instant) -> Gate {
        match self.paused_until {
            Some(until) if now < until => {
                Gate::Paused { until, reason: self.last_error.clone().unwrap_or_else(|| "unknown".into()) }
            }
            Some(_) => Gate::Probe,
            None => Gate::Open(self.connections),
        }
    }

    /// The target number of connections now (1 while probing).
    pub fn connections(&self) -> u32 {
        if self.paused_until.is_some() { 1 } else { self.connections }
    }

    pub fn on_success(&mut self) {
        self.streak = 0;
        self.paused_until = None;
        self.pause = self.first_pause;
        self.successes += 1;
        if self.successes >= 100 && self.connections < self.max_connections {
            self.connections += 1;
            self.successes = 0;
        }
    }

    /// Records a failure that may be the relay's; returns true if sending is now paused.
    pub fn on_failure(&mut self, reason: &str, slow_down: bool, now: Instant) -> bool {
        self.streak += 1;
        self.successes = 0;
        self.last_error = Some(reason.to_owned());
        if slow_down && self.connections > 1 {
            self.connections -= 1;
        }
        let probing_failed = self.paused_until.is_some_and(|until| now >= until);
        if probing_failed || self.streak >= self.threshold() {
            if probing_failed {
                self.pause = (self.pause * 2).min(self.max_pause);
            }
            self.paused_until = Some(now + self.pause);
            return true;
        }
        false
    }

    /// Pauses at once (the relay misbehaves in a way failures alone do not show).
    pub fn pause_now(&mut self, reason: &str, now: Instant) {
        self.last_error = Some(reason.to_owned());
        self.paused_until = Some(now + self.pause);
    }

    pub fn is_paused(&self, now: Instant) -> bool {
        matches!(self.gate(now), Gate::Paused { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_of_failures_pauses_then_probes_with_growing_waits() {
        let t0 = Instant::now();
        let mut h = RelayHealth::new(2, Duration::from_secs(10), Duration::from_secs(60));
        for _ in 0..4 {
            assert!(!h.on_failure("connection refused", false, t0));
        }
        assert!(h.on_failure("connection refused", false, t0), "five in a row pause");
        assert!(matches!(h.gate(t0), Gate::Paused { ref reason, .. } if reason == "connection refused"));
        let later = t0 + Duration::from_secs(11);
        assert_eq!(h.gate(later), Gate::Probe);
        assert_eq!(h.connections(), 1);
        assert!(h.on_failure("connection refused", false, later), "a failed probe pauses again");
        assert!(h.is_paused(later + Duration::from_secs(19)), "for twice as long");
        assert_eq!(h.gate(later + Duration::from_secs(21)), Gate::Probe);
        h.on_success();
        assert_eq!(h.gate(later + Duration::from_secs(21)), Gate::Open(2));
    }

    #[test]
    fn successes_between_failures_keep_the_relay_open() {
        let t0 = Instant::now();
        let mut h = RelayHealth::new(4, Duration::from_secs(10), Duration::from_secs(60));
        for _ in 0..100 {
            for _ in 0..7 {
                assert!(!h.on_failure("451", false, t0));
            }
            h.on_success();
        }
        assert_eq!(h.gate(t0), Gate::Open(4));
    }

    #[test]
    fn too_many_connections_takes_one_away_and_successes_give_it_back() {
        let t0 = Instant::now();
        let mut h = RelayHealth::new(3, Duration::from_secs(10), Duration::from_secs(60));
        h.on_failure("421 too many connections", true, t0);
        h.on_failure("421 too many connections", true, t0);
        h.on_failure("421 too many connections", true, t0);
        assert_eq!(h.gate(t0), Gate::Open(1));
        (0..100).for_each(|_| h.on_success());
        assert_eq!(h.gate(t0), Gate::Open(2));
    }
}
