//! The test SMTP sink (`tests/support/smtp_sink.rs`) as a program, for scripts and benchmarks —
//! test support only.
//!
//! ```sh
//! cargo run --release --example smtp_sink -- [--port N] [--temp-fail-rate F] [--data-delay-ms N] \
//!     [--max-sessions N] [--keep-bodies] [--seed N] [--ignore-stdin]
//! ```
//!
//! Prints `PORT <n>` once it listens, then runs until its standard input reaches end of file (so a
//! script can stop it by closing a pipe; `--ignore-stdin` to run in the background with stdin
//! from /dev/null) or it gets SIGTERM or SIGINT. It then prints one JSON line,
//! `{"messages":N,"unique_message_ids":N,"duplicates":N,"sessions":N,"max_concurrent_sessions":N}`
//! (`duplicates`: messages whose Message-ID was already seen), and exits 0. Without
//! `--keep-bodies` only Message-IDs are kept, so it can take millions of messages.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test and benchmark code: a failure is a panic

#[path = "../tests/support/smtp_sink.rs"]
mod smtp_sink;

use std::collections::HashSet;
use std::hash::{BuildHasher, RandomState};
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::Parser;

use smtp_sink::{Policy, Received, SmtpSink};

#[derive(Parser)]
#[command(about = "A test SMTP server that keeps what it receives in memory")]
struct Args {
    /// Port to listen on, on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Probability of a 451 at each of MAIL, RCPT, DATA and the end of data.
    #[arg(long, default_value_t = 0.0)]
    temp_fail_rate: f64,
    /// Delay before answering the end of data, in milliseconds.
    #[arg(long, default_value_t = 0)]
    data_delay_ms: u64,
    /// Concurrent sessions above this are greeted with 421.
    #[arg(long)]
    max_sessions: Option<usize>,
    /// Keep message bodies in memory (by default only Message-IDs are kept).
    #[arg(long)]
    keep_bodies: bool,
    /// Seed of the random 451s.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Do not stop at the end of standard input (only on SIGTERM or SIGINT).
    #[arg(long)]
    ignore_stdin: bool,
}

/// Distinct Message-IDs seen, as 128-bit hashes (a collision among a million is ~1e-27 likely).
struct Tally {
    hashers: (RandomState, RandomState),
    ids: HashSet<u128>,
    duplicates: u64,
    /// The messages themselves, with `--keep-bodies`.
    kept: Vec<Received>,
    keep: bool,
}

impl Tally {
    fn add(&mut self, messages: Vec<Received>) {
        for message in &messages {
            if let Some(id) = &message.message_id {
                let hash = (u128::from(self.hashers.0.hash_one(id)) << 64) | u128::from(self.hashers.1.hash_one(id));
                if !self.ids.insert(hash) {
                    self.duplicates += 1;
                }
            }
        }
        if self.keep {
            self.kept.extend(messages);
        }
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let policy = Policy {
        temp_fail_rate: args.temp_fail_rate,
        data_delay: Duration::from_millis(args.data_delay_ms),
        max_sessions: args.max_sessions,
        keep_bodies: args.keep_bodies,
        seed: args.seed,
        ..Policy::default()
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port));
    let sink = match SmtpSink::start_on(addr, policy).await {
        Ok(sink) => sink,
        Err(e) => {
            eprintln!("smtp_sink: cannot listen on {addr}: {e}");
            std::process::exit(1);
        }
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "PORT {}", sink.port());
    let _ = stdout.flush();

    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
    if !args.ignore_stdin {
        // A thread, since tokio's stdin needs a feature the package does not enable.
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
            let _ = eof_tx.send(());
        });
    }
    let stdin_closed = async move {
        if eof_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
    };

    let mut tally = Tally {
        hashers: (RandomState::new(), RandomState::new()),
        ids: HashSet::new(),
        duplicates: 0,
        kept: Vec::new(),
        keep: args.keep_bodies,
    };
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stop = std::pin::pin!(async {
        tokio::select! {
            () = stdin_closed => {}
            () = terminate() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    });
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = tick.tick() => tally.add(sink.take_messages()),
        }
    }

    sink.set_down(true);
    tally.add(sink.take_messages());
    let stats = sink.stats();
    let _ = writeln!(
        stdout,
        r#"{{"messages":{},"unique_message_ids":{},"duplicates":{},"sessions":{},"max_concurrent_sessions":{}}}"#,
        sink.count(),
        tally.ids.len(),
        tally.duplicates,
        stats.sessions,
        stats.max_concurrent_sessions,
    );
    let _ = stdout.flush();
}

#[cfg(unix)]
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending().await
}
