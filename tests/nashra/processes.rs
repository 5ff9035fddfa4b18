//! Real `nashra` processes on one database and one relay, killed, stopped and doubled while an
//! edition goes out: every reader gets their digest, once. After a SIGKILL only the messages in
//! flight at that moment may arrive twice — at most two per connection, with the same Message-ID.

use std::collections::BTreeMap;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::delivery::{arrivals, message_id, with_sink};
use crate::helpers::{Backend, TestApp};
use crate::smtp_sink::{Policy, SmtpSink};

/// The test edition's time, as an operator would give it.
const NOW: &str = "2026-11-30T07:00:00+02:00";
const CONNECTIONS: usize = 4;

/// Starts `nashra ARGS` on the instance's configuration; its log goes to `nashra-N.log` in the
/// instance's folder (`NASHRA_TEST_CHILD_LOG` sets its level).
fn nashra(app: &TestApp, args: &[&str]) -> Child {
    nashra_with(app, args, &[])
}

/// [`nashra`] with more environment variables (configuration overrides).
fn nashra_with(app: &TestApp, args: &[&str], vars: &[(&str, &str)]) -> Child {
    static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let log = std::fs::File::create(app.dir.path().join(format!("nashra-{n}.log"))).unwrap();
    Command::new(env!("CARGO_BIN_EXE_nashra"))
        .arg("--config")
        .arg(app.config_path())
        .args(args)
        .env(
            "NASHRA_LOG",
            std::env::var("NASHRA_TEST_CHILD_LOG").unwrap_or_else(|_| "warn,nashra::delivery=info".into()),
        )
        .env_remove("DATABASE_URL")
        .envs(vars.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// What every child started by [`nashra`] logged, for a failure's message.
fn child_logs(app: &TestApp) -> String {
    let mut logs: Vec<_> = std::fs::read_dir(app.dir.path())
        .map(|dir| dir.flatten().map(|e| e.path()).filter(|p| p.to_string_lossy().ends_with(".log")).collect())
        .unwrap_or_default();
    logs.sort();
    logs.iter().map(|p| format!("--- {}\n{}", p.display(), std::fs::read_to_string(p).unwrap_or_default())).collect()
}

/// Runs `nashra ARGS` to its end: (success, standard output, standard error).
pub fn nashra_output(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nashra"))
        .arg("--config")
        .arg(app.config_path())
        .args(args)
        .env("NASHRA_LOG", "warn")
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.success(), text(out.stdout), text(out.stderr))
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
}

/// Waits for the process to end, at most `limit`.
async fn wait(child: &mut Child, limit: Duration) -> ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("nashra {} did not end within {limit:?}", child.id());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `digest send` until nothing waits in the outbox (messages leased by a killed sender
/// wait for their lease to run out: 2 s here).
async fn send_until_done(app: &TestApp) {
    for _ in 0..8 {
        let mut child = nashra(app, &["digest", "send", "--now", NOW]);
        wait(&mut child, Duration::from_secs(120)).await;
        let counts = app.outbox_counts().await;
        if !counts.contains_key("pending") && !counts.contains_key("sending") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2200)).await;
    }
    panic!("messages still waiting: {:?}\n{}", app.outbox_counts().await, logs(app));
}

/// What the processes logged, for a failure's message.
fn logs(app: &TestApp) -> String {
    let mut out = String::new();
    let mut paths: Vec<_> = std::fs::read_dir(app.dir.path())
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.sort();
    for p in paths.iter().filter(|p| p.extension().is_some_and(|x| x == "log")) {
        let text = std::fs::read_to_string(p).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        out.push_str(&format!("--- {}\n{}\n", p.display(), tail.into_iter().rev().collect::<Vec<_>>().join("\n")));
    }
    out
}

/// Every reader got their message at least once; returns how many arrived more than once, and
/// for a failure's message which readers they were (their deliveries' attempts) and the logs.
async fn duplicates(app: &TestApp, sink: &SmtpSink, readers: &[i64]) -> (usize, String) {
    let seen = arrivals(&sink.messages());
    let missed: Vec<_> = readers.iter().filter(|id| !seen.contains_key(&message_id(app, **id))).collect();
    assert!(
        missed.is_empty(),
        "{} reader(s) missed: {:?}\n{}",
        missed.len(),
        &missed[..missed.len().min(10)],
        logs(app)
    );
    assert_eq!(seen.len(), readers.len(), "only the readers' Message-IDs arrived");
    let twice: Vec<i64> = readers.iter().copied().filter(|id| seen[&message_id(app, *id)] > 1).collect();
    let rows: Vec<String> = app
        .app
        .store
        .deliveries()
        .await
        .unwrap()
        .into_iter()
        .filter(|d| twice.contains(&d.subscriber_id))
        .map(|d| format!("reader {}: {} attempt(s), last error {:?}", d.subscriber_id, d.attempts, d.last_error))
        .collect();
    let why = format!("arrived twice: {}\n{}", rows.join("\n"), logs(app));
    (seen.values().map(|n| n - 1).sum(), why)
}

async fn edition(backend: Backend, readers: usize, delay_ms: u64) -> Option<(SmtpSink, TestApp, Vec<i64>)> {
    let policy = Policy { data_delay: Duration::from_millis(delay_ms), keep_bodies: false, ..Policy::default() };
    let (sink, app) = with_sink(backend, policy, &format!("connections = {CONNECTIONS}")).await?;
    let ids = app.readers(readers, &["داعش"], |_| false).await;
    app.collect().await;
    Some((sink, app, ids))
}

async fn a_sender_killed_five_times_misses_nobody(backend: Backend) {
    let Some((sink, app, readers)) = edition(backend, 3000, 1).await else { return };
    // Killed once while starting or planning, then four times while sending.
    for kill in 0..5 {
        let before = sink.count();
        let mut child = nashra(&app, &["digest", "send", "--now", NOW]);
        let started = Instant::now();
        if kill == 0 {
            tokio::time::sleep(Duration::from_millis(60)).await;
        } else {
            while sink.count() < before + 150 && started.elapsed() < Duration::from_secs(30) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        let _ = child.kill();
        wait(&mut child, Duration::from_secs(10)).await;
        eprintln!("kill {kill} after {:?}: {} message(s) arrived", started.elapsed(), sink.count());
    }
    assert!(sink.count() >= 600, "the kills came while sending");
    send_until_done(&app).await;
    let (twice, why) = duplicates(&app, &sink, &readers).await;
    assert!(twice <= 5 * 2 * CONNECTIONS, "{twice} duplicates after 5 kills; {why}");
    assert_eq!(app.outbox_counts().await, BTreeMap::from([("sent".to_owned(), 3000)]));
}

async fn two_senders_at_once_send_nothing_twice(backend: Backend) {
    let Some((sink, app, readers)) = edition(backend, 2000, 1).await else { return };
    let mut a = nashra(&app, &["digest", "send", "--now", NOW]);
    let mut b = nashra(&app, &["digest", "send", "--now", NOW]);
    let status = wait(&mut a, Duration::from_secs(120)).await;
    assert!(status.success(), "{status:?}\n{}", child_logs(&app));
    let status = wait(&mut b, Duration::from_secs(120)).await;
    assert!(status.success(), "{status:?}\n{}", child_logs(&app));
    send_until_done(&app).await;
    let (twice, why) = duplicates(&app, &sink, &readers).await;
    assert_eq!(twice, 0, "{why}");
    assert_eq!(sink.count(), 2000);
}

async fn a_sender_with_a_future_now_beside_serve_sends_nothing_twice(backend: Backend) {
    let policy = Policy { data_delay: Duration::from_millis(1), keep_bodies: false, ..Policy::default() };
    let Some((sink, app)) = with_sink(backend, policy, &format!("connections = {CONNECTIONS}")).await else {
        return;
    };
    let readers = app.readers(1500, &["داعش"], |_| false).await;
    // Collected now (the real clock), so that serve's own edition has them too.
    app.app.collect(None, Utc::now()).await.unwrap();
    let mut serve = nashra(&app, &["serve", "--listen", "127.0.0.1:0"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tomorrow = (Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let mut send = nashra(&app, &["digest", "send", "--now", &tomorrow]);
    let status = wait(&mut send, Duration::from_secs(120)).await;
    assert!(status.success(), "{status:?}\n{}", child_logs(&app));
    // serve sends what is left on its heartbeat (every 10 s).
    let started = Instant::now();
    while sink.count() < 1500 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    signal(&serve, "TERM");
    let status = wait(&mut serve, Duration::from_secs(15)).await;
    assert!(status.success(), "{status:?}\n{}", child_logs(&app));
    // Each reader's articles went in one of the two editions, once.
    let seen = arrivals(&sink.messages());
    assert_eq!(sink.count(), 1500, "{:?}", app.outbox_counts().await);
    assert_eq!(seen.len(), 1500, "one message per reader");
    assert!(seen.values().all(|n| *n == 1));
    assert_eq!(readers.len(), 1500);
}

async fn a_stopped_sender_exits_within_seconds_and_its_restart_sends_nothing_twice(backend: Backend) {
    let Some((sink, app, readers)) = edition(backend, 3000, 2).await else { return };
    // Asked to stop while planning (or starting), then while sending.
    let mut early = nashra(&app, &["digest", "send", "--now", NOW]);
    tokio::time::sleep(Duration::from_millis(150)).await;
    signal(&early, "TERM");
    let status = wait(&mut early, Duration::from_secs(10)).await;
    assert!(status.success() || status.code().is_none(), "{status:?}\n{}", child_logs(&app));
    let mut child = nashra(&app, &["digest", "send", "--now", NOW]);
    let started = Instant::now();
    while sink.count() < 300 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let asked = Instant::now();
    signal(&child, "TERM");
    let status = wait(&mut child, Duration::from_secs(10)).await;
    let took = asked.elapsed();
    assert!(status.success(), "{status:?}\n{}", child_logs(&app));
    assert!(took < Duration::from_secs(5), "took {took:?} to stop");
    let counts = app.outbox_counts().await;
    assert!(!counts.contains_key("sending"), "nothing left claimed: {counts:?}");
    assert!(sink.count() < 3000, "stopped before the end");
    send_until_done(&app).await;
    let (twice, why) = duplicates(&app, &sink, &readers).await;
    assert_eq!(twice, 0, "{why}");
}

async fn a_run_whose_messages_cannot_go_out_fails_loudly(backend: Backend) {
    let policy = Policy { temp_fail_rate: 1.0, ..Policy::default() };
    let Some((_sink, app)) = with_sink(backend, policy, "retry_first_seconds = 0.05").await else { return };
    app.readers(20, &["داعش"], |_| false).await;
    app.collect().await;
    let mut child = nashra(&app, &["digest", "send", "--now", NOW]);
    let status = wait(&mut child, Duration::from_secs(60)).await;
    assert_eq!(status.code(), Some(1), "the relay refused everything");
    let runs = app.app.store.recent_job_runs(5).await.unwrap();
    let run = runs.iter().find(|r| r.job == "digest:daily").unwrap();
    assert_eq!(run.status, "failed");
    assert!(run.error.as_deref().unwrap_or_default().contains("451"), "{run:?}");
}

async fn an_operator_sees_bounces_and_brings_an_address_back_only_when_asked(backend: Backend) {
    let Some((_sink, app)) = with_sink(backend, Policy::default(), "").await else { return };
    app.subscribe("reader@example.org", &["داعش"]).await;
    app.subscribe("reject@example.org", &["داعش"]).await;
    app.collect().await;
    let (ok, out, err) = nashra_output(&app, &["digest", "send", "--now", NOW]);
    assert!(ok, "a bounce is not a failure of the run: {out}{err}");
    assert!(out.contains("1 sent") && out.contains("1 bounced"), "{out}");

    let (_, out, _) = nashra_output(&app, &["subscribers", "suppressed"]);
    assert!(out.contains("reject@example.org") && out.contains("550"), "{out}");
    let (_, out, _) = nashra_output(&app, &["subscribers", "list"]);
    assert!(out.contains("reject@example.org\tsuppressed"), "{out}");
    let (_, out, _) = nashra_output(&app, &["outbox"]);
    assert!(out.contains("1 bounced") && out.contains("1 sent"), "{out}");
    assert!(out.contains("@example.org") && out.contains("5.1.1"), "the latest reply: {out}");

    let (ok, _, err) = nashra_output(&app, &["subscribers", "add", "reject@example.org", "--keywords", "داعش"]);
    assert!(!ok && err.contains("--resubscribe"), "{err}");
    let (ok, out, err) =
        nashra_output(&app, &["subscribers", "add", "reject@example.org", "--keywords", "داعش", "--resubscribe"]);
    assert!(ok, "{out}{err}");
    assert!(app.app.store.suppression("reject@example.org").await.unwrap().is_none());

    let (ok, out, _) = nashra_output(&app, &["subscribers", "export"]);
    assert!(ok && out.starts_with("email,keywords,status,created,reason\n"), "{out}");
    assert!(out.contains("reader@example.org,داعش,active,"), "{out}");
    let (ok, _, err) = nashra_output(&app, &["outbox", "retry"]);
    assert!(!ok && err.contains("--failed"), "{err}");
}

/// Two `serve` instances on one database with collection and an edition due every second: every
/// tick of each job is recorded once — run, or skipped with its reason — none is dropped, and
/// the runs of one job never overlap, though both instances wake for every tick.
async fn two_instances_run_each_per_second_tick_once_and_never_overlap(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, crate::helpers::Options::default()).await else { return };
    let every_second = [
        ("NASHRA_SCHEDULES__COLLECT__CRON", "* * * * * *"),
        ("NASHRA_EDITIONS__0__CRON", "* * * * * *"),
        ("NASHRA_LOG", "warn,nashra::schedule=info"),
    ];
    let started = Utc::now();
    let mut a = nashra_with(&app, &["serve", "--listen", "127.0.0.1:0"], &every_second);
    let mut b = nashra_with(&app, &["serve", "--listen", "127.0.0.1:0"], &every_second);
    tokio::time::sleep(Duration::from_secs(7)).await;
    let stopped = Utc::now();
    signal(&a, "TERM");
    signal(&b, "TERM");
    for child in [&mut a, &mut b] {
        assert!(wait(child, Duration::from_secs(15)).await.success(), "{}", child_logs(&app));
    }
    let runs = app.app.store.recent_job_runs(10_000).await.unwrap();
    for job in ["collect", "digest:daily"] {
        let mut of_job: Vec<_> = runs.iter().filter(|r| r.job == job).collect();
        of_job.sort_by_key(|r| r.tick);
        // Every second from the first whole second after both started to the last before the stop.
        let first = started + chrono::Duration::seconds(2);
        let last = stopped - chrono::Duration::seconds(1);
        let ticks: Vec<_> = of_job.iter().map(|r| r.tick).filter(|t| *t >= first && *t <= last).collect();
        let expected = (last - first).num_seconds();
        assert!(
            ticks.len() as i64 >= expected,
            "{job}: {} ticks recorded between {first} and {last}, {expected} expected: {:?}\n{}",
            ticks.len(),
            ticks,
            child_logs(&app)
        );
        assert!(
            of_job.iter().all(|r| matches!(r.status.as_str(), "ok" | "skipped" | "stopped")),
            "{job}: {:?}",
            of_job.iter().map(|r| (&r.status, &r.summary, &r.error)).collect::<Vec<_>>()
        );
        assert!(of_job.iter().filter(|r| r.status == "skipped").all(|r| r.summary.is_some()), "a reason each");
        // Never two runs of the job at once.
        let mut ran: Vec<_> = of_job.iter().filter(|r| r.status != "skipped").collect();
        ran.sort_by_key(|r| r.started_at);
        for pair in ran.windows(2) {
            let ended = pair[0].finished_at.unwrap_or(stopped);
            assert!(ended <= pair[1].started_at, "{job}: runs at {} and {} overlap", pair[0].tick, pair[1].tick);
        }
        println!("{job}: {} ticks run, {} skipped", ran.len(), of_job.iter().filter(|r| r.status == "skipped").count());
    }
}

crate::for_both_backends!(
    two_instances_run_each_per_second_tick_once_and_never_overlap,
    an_operator_sees_bounces_and_brings_an_address_back_only_when_asked,
    a_sender_killed_five_times_misses_nobody,
    two_senders_at_once_send_nothing_twice,
    a_sender_with_a_future_now_beside_serve_sends_nothing_twice,
    a_stopped_sender_exits_within_seconds_and_its_restart_sends_nothing_twice,
    a_run_whose_messages_cannot_go_out_fails_loudly,
);
