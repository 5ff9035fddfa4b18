//! Delivery through a real SMTP server over TCP (aiosmtpd, started here): accepted messages land
//! in its folder; a 5xx refusal is recorded and not retried; a 4xx is retried later.

use std::io::{BufRead, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use chrono::Duration;
use nashra::store::DeliveryStatus;

use crate::helpers::{Backend, Options, TestApp, now, read_eml_dir, repo};

/// The SMTP server process, killed on drop.
struct SmtpSink {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    /// Starts the sink, or returns `None` (saying why) when Python's aiosmtpd is not installed —
    /// unless `NASHRA_TEST_REQUIRE_SMTP=1`, as in CI, which makes it a failure.
    fn start() -> Option<SmtpSink> {
        let required = std::env::var("NASHRA_TEST_REQUIRE_SMTP").is_ok_and(|v| v == "1");
        let python = std::env::var("NASHRA_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let ok = Command::new(&python).args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success());
        if !ok {
            let why =
                format!("{python} cannot import aiosmtpd (pip install aiosmtpd, or apt install python3-aiosmtpd)");
            assert!(!required, "an SMTP server is required (NASHRA_TEST_REQUIRE_SMTP=1): {why}");
            // Straight to stderr: libtest would swallow eprintln! in a passing test.
            let _ = writeln!(std::io::stderr(), "skipped: {why}");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let script: PathBuf = repo().join("tests/support/smtp_sink.py");
        let mut child = Command::new(&python)
            .arg(script)
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("PORT ").and_then(|p| p.parse().ok()).expect("the sink prints its port");
        Some(SmtpSink { child, port, dir })
    }

    fn messages(&self) -> Vec<Vec<u8>> {
        read_eml_dir(self.dir.path())
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn with_sink(backend: Backend) -> Option<(SmtpSink, TestApp)> {
    let sink = SmtpSink::start()?;
    let app = TestApp::spawn_with(backend, Options { smtp_port: Some(sink.port), ..Default::default() }).await?;
    Some((sink, app))
}

async fn digests_go_through_a_real_smtp_server(backend: Backend) {
    let Some((sink, app)) = with_sink(backend).await else { return };
    app.subscribe("reader@example.org", &["داعش", "العراق"]).await;
    app.collect().await;
    let (_, sent) = app.send_digest(now()).await;
    assert_eq!(sent.sent, 1);
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    let m = crate::digest::parse(&messages[0]);
    let headings: Vec<String> = crate::digest::sections(&m.body_html(0).unwrap()).into_iter().map(|(h, _)| h).collect();
    assert_eq!(headings, ["داعش", "العراق"]);
    assert!(app.outbox_messages().is_empty(), "nothing went to the file outbox");
}

async fn refusals_are_recorded_and_temporary_ones_retried(backend: Backend) {
    let Some((sink, app)) = with_sink(backend).await else { return };
    for who in ["ok@example.org", "reject@example.org", "busy@example.org"] {
        app.subscribe(who, &["داعش"]).await;
    }
    app.collect().await;
    let (_, sent) = app.send_digest(now()).await;
    assert_eq!((sent.sent, sent.bounced, sent.retried), (1, 1, 1), "{sent:?}");
    let deliveries = app.app.store.deliveries().await.unwrap();
    let by = |who: &str| deliveries.iter().find(|d| d.recipient == who).unwrap().clone();
    assert_eq!(by("ok@example.org").status(), DeliveryStatus::Sent);
    let rejected = by("reject@example.org");
    assert_eq!(rejected.status(), DeliveryStatus::Bounced);
    assert!(rejected.last_error.unwrap().contains("550"));
    let busy = by("busy@example.org");
    assert_eq!(busy.status(), DeliveryStatus::Pending);
    assert!(busy.last_error.unwrap().contains("451"));
    assert_eq!(sink.messages().len(), 1);

    // Nothing is due again until the back-off has passed; then only the temporary failure is retried.
    assert_eq!(app.app.deliver().await.unwrap(), Default::default());
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let later = app.app.deliver().await.unwrap();
    assert_eq!((later.sent, later.failed, later.retried), (0, 0, 1));
    assert_eq!(sink.messages().len(), 1, "the accepted message was not sent twice");

    // A reader who unsubscribes while a message waits for its retry does not get it.
    let token = app.app.store.subscriber_by_email("busy@example.org").await.unwrap().unwrap().token;
    app.app.store.unsubscribe(&token, now() + Duration::minutes(6)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let after = app.app.deliver().await.unwrap();
    assert_eq!(after, Default::default());
    let deliveries = app.app.store.deliveries().await.unwrap();
    let busy = deliveries.iter().find(|d| d.recipient == "busy@example.org").unwrap();
    assert_eq!(busy.status(), DeliveryStatus::Cancelled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_digests_go_through_a_real_smtp_server() {
    digests_go_through_a_real_smtp_server(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_digests_go_through_a_real_smtp_server() {
    digests_go_through_a_real_smtp_server(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refusals_are_recorded_and_temporary_ones_retried() {
    refusals_are_recorded_and_temporary_ones_retried(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refusals_are_recorded_and_temporary_ones_retried() {
    refusals_are_recorded_and_temporary_ones_retried(Backend::Postgres).await;
}
