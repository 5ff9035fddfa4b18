//! Delivery through a real SMTP server over TCP (tests/support/smtp_sink.rs, in this process)
//! that misbehaves on purpose: every reader gets exactly one message whatever the relay does.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::Duration as Days;
use nashra::store::DeliveryStatus;

use crate::helpers::{Backend, Options, TestApp, now};
use crate::smtp_sink::{Policy, Received, SmtpSink};

/// A sink with `policy` and an instance sending to it with these `[mail]` lines.
pub async fn with_sink(backend: Backend, policy: Policy, mail: &str) -> Option<(SmtpSink, TestApp)> {
    let sink = SmtpSink::start(policy).await;
    let options = Options { smtp_port: Some(sink.port()), mail_toml: mail.to_owned(), ..Default::default() };
    let app = TestApp::spawn_with(backend, options).await?;
    Some((sink, app))
}

/// Message-ID → how many times it arrived.
pub fn arrivals(messages: &[Received]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for m in messages {
        *seen.entry(m.message_id.clone().unwrap_or_default()).or_default() += 1;
    }
    seen
}

/// The Message-ID of reader `id`'s digest of the test edition.
pub fn message_id(app: &TestApp, id: i64) -> String {
    format!("<digest.daily.20261130T050000Z.{id}@{}>", app.addr.ip())
}

/// Sends until nothing waits (sleeping through back-offs and pauses), at most `rounds` times.
async fn deliver_until_done(app: &TestApp, rounds: usize) {
    for _ in 0..rounds {
        let report = app.app.deliver().await.unwrap();
        let counts = app.outbox_counts().await;
        if !counts.contains_key("pending") && !counts.contains_key("sending") {
            return;
        }
        let _ = report;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    panic!("messages still waiting after {rounds} rounds: {:?}", app.outbox_counts().await);
}

async fn every_reader_gets_one_message_when_a_fifth_of_commands_fail(backend: Backend) {
    let policy = Policy { temp_fail_rate: 0.2, seed: 7, ..Policy::default() };
    let mail = "retry_first_seconds = 0.05\nretry_max_seconds = 0.2";
    let Some((sink, app)) = with_sink(backend, policy, mail).await else { return };
    let ids = app.readers(200, &["داعش"], |_| false).await;
    app.collect().await;
    let (outcome, _) = app.send_digest(now()).await;
    assert!(matches!(outcome.planned, nashra::digest::Planned::Now { messages: 200, .. }), "{outcome:?}");
    deliver_until_done(&app, 200).await;
    let seen = arrivals(&sink.messages());
    for id in &ids {
        assert_eq!(seen.get(&message_id(&app, *id)), Some(&1), "reader {id}: {seen:?}");
    }
    assert_eq!(seen.len(), 200);
    assert_eq!(app.outbox_counts().await, BTreeMap::from([("sent".to_owned(), 200)]));
    assert!(sink.stats().temp_failures > 50, "{:?}", sink.stats());
    assert!(sink.stats().pipelined > 200, "MAIL, RCPT and DATA go in one write: {:?}", sink.stats());
}

/// A relay that closes with 421 at MAIL (the rest of the pipelined commands unanswered) is read
/// as the relay going away, not as a lost connection: the messages wait, nothing is lost.
#[tokio::test]
async fn a_relay_closing_at_mail_keeps_the_messages_waiting() {
    let policy = Policy { closing_at_mail: true, ..Policy::default() };
    let mail = "retry_first_seconds = 0.05\nretry_max_seconds = 0.2";
    let Some((sink, app)) = with_sink(Backend::Sqlite, policy, mail).await else { return };
    app.readers(10, &["داعش"], |_| false).await;
    app.collect().await;
    let (_, sent) = app.send_digest(now()).await;
    assert_eq!((sent.sent, sent.failed, sent.bounced), (0, 0, 0), "{sent:?}");
    let reason = sent.relay_down.unwrap_or_default();
    assert!(reason.contains("421") && reason.contains("4.3.2"), "{reason}");
    assert_eq!(sink.count(), 0);
    sink.set_policy(Policy::default());
    deliver_until_done(&app, 100).await;
    let seen = arrivals(&sink.messages());
    assert_eq!(seen.len(), 10);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
}

/// A relay that does not offer PIPELINING gets one command at a time, and its refusals at every
/// stage are read as well.
#[tokio::test]
async fn a_relay_without_pipelining_gets_one_command_at_a_time() {
    let policy = Policy { temp_fail_rate: 0.2, seed: 11, pipelining: false, ..Policy::default() };
    let mail = "retry_first_seconds = 0.05\nretry_max_seconds = 0.2";
    let Some((sink, app)) = with_sink(Backend::Sqlite, policy, mail).await else { return };
    let ids = app.readers(60, &["داعش"], |i| i == 7).await;
    app.collect().await;
    app.send_digest(now()).await;
    deliver_until_done(&app, 200).await;
    let seen = arrivals(&sink.messages());
    assert_eq!(seen.len(), 59);
    assert!(seen.values().all(|n| *n == 1), "{seen:?}");
    assert_eq!(app.outbox_counts().await, BTreeMap::from([("sent".to_owned(), 59), ("bounced".to_owned(), 1)]));
    assert_eq!(ids.len(), 60);
    let stats = sink.stats();
    assert!(stats.temp_failures > 10, "{stats:?}");
    assert_eq!(stats.pipelined, 0, "{stats:?}");
}

async fn refused_addresses_are_suppressed_and_skipped_by_the_next_edition(backend: Backend) {
    let Some((sink, app)) = with_sink(backend, Policy::default(), "").await else { return };
    // 2 % of the list: every fiftieth address is refused with 550 5.1.1 at RCPT.
    let ids = app.readers(200, &["داعش"], |i| i % 50 == 7).await;
    app.collect().await;
    let (_, sent) = app.send_digest(now()).await;
    assert_eq!((sent.sent, sent.bounced, sent.failed), (196, 4, 0), "{sent:?}");
    let suppressed: HashSet<String> =
        app.app.store.suppressions().await.unwrap().into_iter().map(|s| s.email).collect();
    let expected: HashSet<String> =
        (0..200).filter(|i| i % 50 == 7).map(|i| format!("reject{i}@example.org")).collect();
    assert_eq!(suppressed, expected);
    let reason = app.app.store.suppression("reject7@example.org").await.unwrap().unwrap().reason;
    assert!(reason.contains("550") && reason.contains("5.1.1"), "{reason}");
    assert_eq!(sink.count(), 196);

    // The next edition has something new for everyone, and nothing for the suppressed.
    add_article(&app, "2026-11-30-lake-chad", "بحيرة تشاد");
    app.app.collect(None, now() + Days::hours(3)).await.unwrap();
    let (next, sent) = app.send_digest(now() + Days::days(1)).await;
    assert!(matches!(next.planned, nashra::digest::Planned::Now { messages: 196, .. }), "{next:?}");
    assert_eq!((sent.sent, sent.bounced), (196, 0));
    let second: Vec<_> =
        app.app.store.deliveries().await.unwrap().into_iter().filter(|d| d.edition_id == next.id.unwrap()).collect();
    assert!(second.iter().all(|d| !d.recipient.starts_with("reject")));
    assert_eq!(ids.len(), 200);

    // Lifting a suppression lets the address be written to again.
    assert!(app.app.store.unsuppress("reject7@example.org").await.unwrap());
    assert!(app.app.store.suppression("reject7@example.org").await.unwrap().is_none());
}

async fn a_relay_down_for_longer_than_the_old_give_up_time_loses_nothing(backend: Backend) {
    // The old sender gave up after five attempts 1, 2, 4, 8 periods apart: 15 periods. Here a
    // period is 0.05 s, and the relay is away for 3 s — then answers 451 to everything for 1 s.
    let mail = "retry_first_seconds = 0.05\nretry_max_seconds = 0.4";
    let Some((sink, app)) = with_sink(backend, Policy::default(), mail).await else { return };
    let ids = app.readers(60, &["داعش"], |_| false).await;
    app.collect().await;
    sink.set_down(true);
    let (_, first) = app.send_digest(now()).await;
    assert_eq!(first.sent, 0);
    assert!(first.relay_down.is_some(), "{first:?}");
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        let r = app.app.deliver().await.unwrap();
        assert_eq!(r.sent + r.failed + r.bounced, 0, "{r:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sink.set_down(false);
    sink.set_policy(Policy { temp_fail_rate: 1.0, ..Policy::default() });
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        let r = app.app.deliver().await.unwrap();
        assert_eq!(r.sent + r.failed + r.bounced, 0, "{r:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waiting = app.app.store.deliveries().await.unwrap();
    assert!(waiting.iter().all(|d| d.status() == DeliveryStatus::Pending), "nothing failed for good");
    assert!(waiting.iter().all(|d| d.attempts <= 3), "a relay that is down does not use up retries");
    sink.set_policy(Policy::default());
    deliver_until_done(&app, 100).await;
    let seen = arrivals(&sink.messages());
    assert_eq!(seen.len(), 60);
    assert!(ids.iter().all(|id| seen.get(&message_id(&app, *id)) == Some(&1)));
}

async fn a_relay_that_allows_fewer_connections_slows_the_sender_down(backend: Backend) {
    let policy = Policy { max_sessions: Some(2), data_delay: Duration::from_millis(2), ..Policy::default() };
    let Some((sink, app)) = with_sink(backend, policy, "connections = 6").await else { return };
    app.readers(120, &["داعش"], |_| false).await;
    app.collect().await;
    app.send_digest(now()).await;
    deliver_until_done(&app, 50).await;
    assert_eq!(arrivals(&sink.messages()).len(), 120);
    assert_eq!(sink.count(), 120, "no duplicates");
    assert!(sink.stats().max_concurrent_sessions <= 2);
}

async fn retries_end_at_the_deadline_and_outbox_retry_brings_them_back(backend: Backend) {
    let policy = Policy { temp_fail_rate: 0.0, reject: std::sync::Arc::new(|_| false), ..Policy::default() };
    let mail = "retry_first_seconds = 0.05\nretry_max_seconds = 0.1\nretry_hours = 0.0002";
    let Some((sink, app)) = with_sink(backend, policy, mail).await else { return };
    app.subscribe("busy@example.org", &["داعش"]).await;
    app.subscribe("ok@example.org", &["داعش"]).await;
    app.collect().await;
    app.send_digest(now()).await;
    // busy… is answered 451 every time; after 0.72 s in the queue it fails for good.
    let started = std::time::Instant::now();
    while !app.outbox_counts().await.contains_key("failed") {
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", app.outbox_counts().await);
        tokio::time::sleep(Duration::from_millis(100)).await;
        app.app.deliver().await.unwrap();
    }
    let failed = app.app.store.deliveries().await.unwrap().into_iter().find(|d| d.recipient == "busy@example.org");
    let error = failed.unwrap().last_error.unwrap();
    assert!(error.contains("within the retry period") && error.contains("451"), "{error}");
    assert_eq!(sink.count(), 1);
    // The job of that edition is recorded as failed with the reason; put back, it is sent.
    assert_eq!(app.app.store.requeue_failed(None).await.unwrap(), 1);
    let counts = app.outbox_counts().await;
    assert_eq!(counts.get("pending"), Some(&1), "{counts:?}");
}

async fn addresses_are_sent_to_the_relay_in_the_form_it_takes(backend: Backend) {
    let no_utf8 = Policy { smtputf8: false, ..Policy::default() };
    let Some((sink, app)) = with_sink(backend, no_utf8, "").await else { return };
    app.subscribe("reader@مثال.مصر", &["داعش"]).await;
    app.subscribe("قارئ@example.org", &["داعش"]).await;
    app.collect().await;
    let (_, sent) = app.send_digest(now()).await;
    assert_eq!((sent.sent, sent.failed, sent.bounced), (1, 1, 0), "{sent:?}");
    assert_eq!(sink.messages()[0].rcpt_to, ["reader@xn--mgbh0fb.xn--wgbh1c"]);
    let failed = app.app.store.deliveries().await.unwrap().into_iter().find(|d| d.status() == DeliveryStatus::Failed);
    assert!(failed.unwrap().last_error.unwrap().contains("SMTPUTF8"));
    assert!(
        app.app.store.suppressions().await.unwrap().is_empty(),
        "an SMTPUTF8 refusal is not a verdict on the address"
    );
}

async fn finished_messages_are_compacted_after_the_retention_period(backend: Backend) {
    let Some((_sink, app)) = with_sink(backend, Policy::default(), "").await else { return };
    app.readers(30, &["داعش"], |_| false).await;
    app.collect().await;
    app.send_digest(now()).await;
    assert_eq!(app.app.store.compact_outbox(now() - Days::days(1)).await.unwrap(), 0);
    assert_eq!(app.app.store.compact_outbox(now() + Days::days(31)).await.unwrap(), 30);
    assert!(app.app.store.deliveries().await.unwrap().is_empty());
    // Readers' cursors survive: the edition is not sent again.
    let (again, sent) = app.send_digest(now() + Days::minutes(1)).await;
    assert!(matches!(again.planned, nashra::digest::Planned::Now { messages: 0, .. }), "{again:?}");
    assert_eq!(sent.sent, 0);
}

/// Copies a demo article under a new name and topic, and lists it on the home page.
pub fn add_article(app: &TestApp, slug: &str, topic: &str) {
    let src = std::fs::read_to_string(app.site.join("articles/2026-11-25-sahel-jihadist-expansion.html")).unwrap();
    let new = src
        .replace("2026-11-25-sahel-jihadist-expansion", slug)
        .replace("الساحل", topic)
        .replace("الأربعاء 25/نوفمبر/2026", "الإثنين 30/نوفمبر/2026");
    std::fs::write(app.site.join(format!("articles/{slug}.html")), new).unwrap();
    app.edit_site(
        "index.html",
        r#"<ul class="latest">"#,
        &format!(r#"<ul class="latest"><li><a class="article-link" href="articles/{slug}.html">x</a></li>"#),
    );
}

crate::for_both_backends!(
    every_reader_gets_one_message_when_a_fifth_of_commands_fail,
    refused_addresses_are_suppressed_and_skipped_by_the_next_edition,
    a_relay_down_for_longer_than_the_old_give_up_time_loses_nothing,
    a_relay_that_allows_fewer_connections_slows_the_sender_down,
    retries_end_at_the_deadline_and_outbox_retry_brings_them_back,
    addresses_are_sent_to_the_relay_in_the_form_it_takes,
    finished_messages_are_compacted_after_the_retention_period,
);
