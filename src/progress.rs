//! Progress of a long command (`subscribers import`, `digest send`, `outbox retry`): on a
//! terminal, one line on standard error redrawn a few times a second with the count and the
//! rate; otherwise (a log, a pipe, a service) a log line every ten seconds.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Progress {
    label: String,
    terminal: bool,
    started: Instant,
    state: Mutex<State>,
}

struct State {
    last: Option<Instant>,
    drawn: bool,
}

impl Progress {
    pub fn new(label: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
            state: Mutex::new(State { last: None, drawn: false }),
        }
    }

    /// Reports `done` units so far and a detail ("12 to retry").
    pub fn update(&self, done: u64, detail: &str) {
        let Ok(mut state) = self.state.lock() else { return };
        let every = if self.terminal { Duration::from_millis(200) } else { Duration::from_secs(10) };
        if state.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        state.last = Some(Instant::now());
        let line = self.line(done, detail);
        if self.terminal {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
            state.drawn = true;
        } else {
            tracing::info!("{line}");
        }
    }

    /// Ends the line on a terminal (the final figures are printed by the command).
    pub fn finish(&self) {
        if let Ok(state) = self.state.lock()
            && state.drawn
        {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }

    fn line(&self, done: u64, detail: &str) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        let detail = if detail.is_empty() { String::new() } else { format!(", {detail}") };
        format!("{}: {done}{detail} ({rate:.0}/s)", self.label)
    }
}
