//! Delivery through a real SMTP server over TCP (tests/support/smtp_sink.rs): accepted messages
//! arrive whole and parse; a 5xx naming the mailbox bounces (and suppresses) it; a 4xx is
//! retried after its back-off, and a reader who leaves meanwhile is not written to.

use std::time::Duration;

use chrono::Duration as Days;
use nashra::store::DeliveryStatus;

use crate::delivery::with_sink;
use crate::helpers::{Backend, now};
use crate::smtp_sink::Policy;

async fn digests_go_through_a_real_smtp_server(backend: Backend) {
    let Some((sink, app)) = with_sink(backend, Policy::default(), "").await else { return };
    app.subscribe("reader@example.org", &["داعش", "العراق"]).await;
    app.collect().await;
    let (_, sent) = app.send_digest(now()).await;
    assert_eq!(sent.sent, 1);
    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].rcpt_to, ["reader@example.org"]);
    assert_eq!(messages[0].mail_from, "digest@nashra.example");
    let m = crate::digest::parse(&messages[0].data);
    let headings: Vec<String> = crate::digest::sections(&m.body_html(0).unwrap()).into_iter().map(|(h, _)| h).collect();
    assert_eq!(headings, ["داعش", "العراق"]);
    assert!(app.outbox_messages().is_empty(), "nothing went to the file outbox");
}

/// A sample's value in this process's metrics (0 if it has none yet).
fn metric(name: &str) -> f64 {
    let text = nashra::metrics::METRICS.encode().unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.parse().unwrap())
}

async fn refusals_are_recorded_and_temporary_ones_retried(backend: Backend) {
    let Some((sink, app)) = with_sink(backend, Policy::default(), "").await else { return };
    // Other tests may send in this process (`cargo test`): what this one adds is counted.
    let replies = |class: &str| metric(&format!("nashra_smtp_replies_total{{class=\"{class}\"}}"));
    let before = ["2xx", "4xx", "5xx"].map(replies);
    let sends_before = metric("nashra_smtp_send_duration_seconds_count");
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
    assert_eq!(sink.count(), 1);
    // The relay's replies by class, in the metrics: one of each, three sends timed.
    let after = ["2xx", "4xx", "5xx"].map(replies);
    for i in 0..3 {
        assert!(after[i] - before[i] >= 1.0, "{before:?} → {after:?}");
    }
    assert!(metric("nashra_smtp_send_duration_seconds_count") - sends_before >= 3.0);

    // Nothing is due again until the back-off (0.2 s ± 20 %) has passed; then only the
    // temporary failure is retried.
    assert_eq!(app.app.deliver().await.unwrap(), Default::default());
    tokio::time::sleep(Duration::from_millis(400)).await;
    let later = app.app.deliver().await.unwrap();
    assert_eq!((later.sent, later.failed, later.retried), (0, 0, 1));
    assert_eq!(sink.count(), 1, "the accepted message was not sent twice");

    // A reader who unsubscribes while a message waits for its retry does not get it.
    let token = app.app.store.subscriber_by_email("busy@example.org").await.unwrap().unwrap().token;
    app.app.store.unsubscribe(&token, now() + Days::minutes(6)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
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
