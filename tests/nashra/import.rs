//! Subscriber lists in bulk: a CSV list from another tool is imported row by row under the rules
//! that protect readers' choices, bad rows are reported by line, and an export imports back.

use std::sync::Mutex;

use nashra::digest::{EditionRun, plan_edition};
use nashra::store::{DeliveryStatus, SubscriberStatus};
use nashra::subscribers::{ImportOptions, ImportReport, export, import};

use crate::helpers::{Backend, Options, TestApp, now};
use crate::on_both_backends;

const UNCONFIRMED: ImportOptions = ImportOptions { confirmed: false, resubscribe: false };
const CONFIRMED: ImportOptions = ImportOptions { confirmed: true, resubscribe: false };

/// Imports `csv`; returns the report and the bad rows (line, reason).
async fn import_csv(app: &TestApp, csv: &str, options: ImportOptions) -> (ImportReport, Vec<(u64, String)>) {
    let mut bad = Vec::new();
    let mut on_bad = |line: u64, reason: &str| bad.push((line, reason.to_owned()));
    let report =
        import(&app.app.store, &app.app.config, csv.as_bytes(), &options, now(), &mut on_bad, &|_| {}).await.unwrap();
    (report, bad)
}

async fn status(app: &TestApp, email: &str) -> SubscriberStatus {
    app.app.store.subscriber_by_email(email).await.unwrap().unwrap_or_else(|| panic!("{email} is not here")).status()
}

async fn keywords(app: &TestApp, email: &str) -> Vec<String> {
    let subscriber = app.app.store.subscriber_by_email(email).await.unwrap().unwrap();
    app.app.store.subscriber_keywords(subscriber.id).await.unwrap().into_iter().map(|k| k.name).collect()
}

async fn suppressed(app: &TestApp, email: &str) -> Option<String> {
    app.app.store.suppression(email).await.unwrap().map(|s| s.reason)
}

async fn created(app: &TestApp, email: &str) -> String {
    app.app.store.subscriber_by_email(email).await.unwrap().unwrap().created_at.to_rfc3339()
}

/// The records of a CSV text.
fn records(text: &str) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect()
}

async fn export_csv(app: &TestApp) -> String {
    let mut out = Vec::new();
    export(&app.app.store, &mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

async fn a_list_with_a_bom_arabic_keywords_and_its_own_column_order_is_imported(app: TestApp) {
    let csv = "\u{feff}Status,Created_At,KEYWORDS,Email\n\
               active,2025-01-15,\"العراق، داعش\",Reader@Example.org\n\
               subscribed,2025-02-01 08:30:00,تنظيم الدولة|مصر,b@example.org\n\
               ,2025-03-01T10:00:00+03:00,\"الإرهاب؛ ISIS ; داعش\",c@example.org\n";
    let (report, bad) = import_csv(&app, csv, CONFIRMED).await;
    assert_eq!(bad, []);
    assert_eq!(
        report,
        ImportReport { rows: 3, added: 3, ..Default::default() },
        "a confirmed list: nobody awaits confirmation"
    );
    assert_eq!(status(&app, "reader@example.org").await, SubscriberStatus::Active, "addresses are lower-cased");
    assert_eq!(keywords(&app, "reader@example.org").await, ["العراق", "داعش"], "in the file's order");
    assert_eq!(keywords(&app, "b@example.org").await, ["داعش", "مصر"], "an alias folds into its keyword");
    assert_eq!(keywords(&app, "c@example.org").await, ["الإرهاب", "داعش"], "ISIS and داعش are one keyword");
    assert_eq!(created(&app, "reader@example.org").await, "2025-01-15T00:00:00+00:00");
    assert_eq!(created(&app, "b@example.org").await, "2025-02-01T08:30:00+00:00");
    assert_eq!(created(&app, "c@example.org").await, "2025-03-01T07:00:00+00:00");
    let vocabulary: Vec<String> = app.app.store.vocabulary().await.unwrap().into_iter().map(|k| k.name).collect();
    for k in ["العراق", "داعش", "مصر"] {
        assert!(vocabulary.iter().any(|v| v == k), "{k} is matched in articles now: {vocabulary:?}");
    }
}

async fn bad_rows_are_reported_by_line_and_the_rest_is_imported(app: TestApp) {
    let long = "ك".repeat(61);
    let csv = format!(
        "email,keywords,status,created\n\
         good1@example.org,العراق,active,\n\
         not-an-address,العراق,active,\n\
         good2@example.org,العراق,maybe,\n\
         good3@example.org,العراق,active,30/11/2026\n\
         \n\
         good4@example.org,العراق,active,,extra\n\
         good5@example.org,{long},active,\n\
         good6@example.org,\"مصر،\nالعراق\",pending,\n\
         good7@example.org,!!!,active,\n\
         good8@example.org,,,\n"
    );
    let (report, bad) = import_csv(&app, &csv, UNCONFIRMED).await;
    let lines: Vec<u64> = bad.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [3, 4, 5, 7, 8, 11], "{bad:#?}");
    let reason = |line: u64| bad.iter().find(|(l, _)| *l == line).unwrap().1.clone();
    assert!(reason(3).contains("not a valid email address"), "{}", reason(3));
    assert!(reason(4).contains("unknown status \"maybe\""), "{}", reason(4));
    assert!(reason(5).contains("cannot read the date \"30/11/2026\""), "{}", reason(5));
    assert!(reason(7).contains("5 field(s) where the header line has 4"), "{}", reason(7));
    assert!(reason(8).contains("longer than 60"), "{}", reason(8));
    assert!(reason(11).contains("no letters or digits"), "{}", reason(11));
    assert_eq!(report, ImportReport { rows: 9, added: 3, pending: 3, bad: 6, ..Default::default() });
    assert_eq!(keywords(&app, "good6@example.org").await, ["مصر", "العراق"], "a quoted field may span lines");
    assert_eq!(keywords(&app, "good8@example.org").await, Vec::<String>::new());
    let windows = csv.replace('\n', "\r\n");
    let (_, bad) = import_csv(&app, windows.trim_end(), UNCONFIRMED).await;
    let crlf_lines: Vec<u64> = bad.iter().map(|(line, _)| *line).collect();
    assert_eq!(crlf_lines, lines, "the same lines with CRLF line ends and no last line end");
    let here: Vec<String> = app.app.store.subscribers().await.unwrap().into_iter().map(|s| s.email).collect();
    assert_eq!(here, ["good1@example.org", "good6@example.org", "good8@example.org"]);
}

async fn a_file_without_a_header_line_is_read_as_email_keywords_status_created(app: TestApp) {
    let (report, bad) =
        import_csv(&app, "a@example.org,مصر,pending\nb@example.org,العراق,unsubscribed\n", CONFIRMED).await;
    assert_eq!(bad, []);
    assert_eq!(report, ImportReport { rows: 2, added: 2, pending: 1, unsubscribed: 1, ..Default::default() });
    assert_eq!(status(&app, "a@example.org").await, SubscriberStatus::Pending);
    assert_eq!(status(&app, "b@example.org").await, SubscriberStatus::Unsubscribed);

    let mut on_bad = |_: u64, _: &str| {};
    let no_email = import(
        &app.app.store,
        &app.app.config,
        "name,keywords\nقارئ,مصر\n".as_bytes(),
        &CONFIRMED,
        now(),
        &mut on_bad,
        &|_| {},
    )
    .await
    .unwrap_err();
    assert!(no_email.to_string().contains("no email column (it has: name, keywords)"), "{no_email}");
}

async fn an_unconfirmed_list_imports_new_readers_pending_and_never_downgrades_an_active_one(app: TestApp) {
    app.subscribe("old@example.org", &["مصر", "العراق"]).await;
    let csv = "email,keywords\nold@example.org,\nnew@example.org,داعش\n";
    let (report, _) = import_csv(&app, csv, UNCONFIRMED).await;
    assert_eq!(report, ImportReport { rows: 2, added: 1, updated: 1, pending: 1, ..Default::default() });
    assert_eq!(status(&app, "new@example.org").await, SubscriberStatus::Pending, "they must confirm first");
    assert_eq!(status(&app, "old@example.org").await, SubscriberStatus::Active);
    assert_eq!(keywords(&app, "old@example.org").await, ["مصر", "العراق"], "an empty field keeps their keywords");

    let csv = "email,keywords,status\nold@example.org,داعش،مصر,pending\nnew@example.org,,active\n";
    let (report, _) = import_csv(&app, csv, CONFIRMED).await;
    assert_eq!(report, ImportReport { rows: 2, updated: 2, ..Default::default() });
    assert_eq!(status(&app, "old@example.org").await, SubscriberStatus::Active, "a pending row downgrades nobody");
    assert_eq!(keywords(&app, "old@example.org").await, ["داعش", "مصر"], "a keywords field replaces theirs");
    assert_eq!(status(&app, "new@example.org").await, SubscriberStatus::Active, "confirmed elsewhere");
    assert_eq!(keywords(&app, "new@example.org").await, ["داعش"]);
}

async fn addresses_unsubscribed_or_suppressed_here_are_left_alone_unless_resubscribed(app: TestApp) {
    let store = &app.app.store;
    app.subscribe("gone@example.org", &["مصر"]).await;
    let token = store.subscriber_by_email("gone@example.org").await.unwrap().unwrap().token;
    store.unsubscribe(&token, now()).await.unwrap();
    app.subscribe("bounced@example.org", &["مصر"]).await;
    store.suppress("bounced@example.org", "550 5.1.1 no such user", now()).await.unwrap();
    store.suppress("never@example.org", "550 5.1.1 no such user", now()).await.unwrap();

    let csv = "email,keywords,status\n\
               gone@example.org,العراق,active\n\
               bounced@example.org,العراق,pending\n\
               never@example.org,العراق,active\n";
    let (report, _) = import_csv(&app, csv, CONFIRMED).await;
    assert_eq!(report, ImportReport { rows: 3, left_alone: 3, ..Default::default() });
    assert_eq!(status(&app, "gone@example.org").await, SubscriberStatus::Unsubscribed);
    assert_eq!(keywords(&app, "gone@example.org").await, ["مصر"], "left alone: their keywords too");
    assert_eq!(suppressed(&app, "bounced@example.org").await.as_deref(), Some("550 5.1.1 no such user"));
    assert!(store.subscriber_by_email("never@example.org").await.unwrap().is_none());

    let resubscribe = ImportOptions { confirmed: true, resubscribe: true };
    let (report, _) = import_csv(&app, csv, resubscribe).await;
    assert_eq!(report, ImportReport { rows: 3, added: 1, updated: 2, ..Default::default() });
    assert_eq!(status(&app, "gone@example.org").await, SubscriberStatus::Active);
    assert_eq!(keywords(&app, "gone@example.org").await, ["العراق"]);
    assert_eq!(status(&app, "bounced@example.org").await, SubscriberStatus::Active, "it was active, kept so");
    assert_eq!(status(&app, "never@example.org").await, SubscriberStatus::Active);
    assert_eq!(store.suppressions().await.unwrap(), [], "their suppressions are lifted");
}

async fn unsubscribed_and_suppressed_rows_cancel_the_readers_waiting_messages(app: TestApp) {
    app.subscribe("leaving@example.org", &["داعش"]).await;
    app.subscribe("bouncing@example.org", &["داعش"]).await;
    app.subscribe("staying@example.org", &["داعش"]).await;
    app.collect().await;
    // Plan the edition without sending it, so its messages wait in the outbox.
    let stop = tokio_util::sync::CancellationToken::new();
    let config = &app.app.config;
    let run = EditionRun {
        store: &app.app.store,
        config,
        edition: &config.editions[0],
        tick: now(),
        now: now(),
        dry_run: false,
        owner: "import-test",
        lease: config.mail.lease,
        stop: &stop,
    };
    plan_edition(&run).await.unwrap();
    let waiting = app.app.store.deliveries().await.unwrap();
    assert_eq!(waiting.len(), 3);
    assert!(waiting.iter().all(|d| d.status() == DeliveryStatus::Pending), "{waiting:?}");

    let csv = "email,status\nleaving@example.org,Opted-Out\nbouncing@example.org,bounced\nstaying@example.org,active\n";
    let (report, _) = import_csv(&app, csv, UNCONFIRMED).await;
    assert_eq!(report, ImportReport { rows: 3, updated: 3, unsubscribed: 1, suppressed: 1, ..Default::default() });
    assert_eq!(status(&app, "leaving@example.org").await, SubscriberStatus::Unsubscribed);
    assert_eq!(
        status(&app, "bouncing@example.org").await,
        SubscriberStatus::Active,
        "kept; the suppression stops mail"
    );
    assert_eq!(suppressed(&app, "bouncing@example.org").await.as_deref(), Some("imported as bounced"));
    let after: Vec<(String, DeliveryStatus, Option<String>)> = app
        .app
        .store
        .deliveries()
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.recipient.clone(), d.status(), d.last_error.clone()))
        .collect();
    let of = |email: &str| after.iter().find(|(r, _, _)| r == email).unwrap().clone();
    assert_eq!(of("leaving@example.org").1, DeliveryStatus::Cancelled);
    assert_eq!(of("leaving@example.org").2.as_deref(), Some("unsubscribed"));
    assert_eq!(of("bouncing@example.org").1, DeliveryStatus::Cancelled);
    assert_eq!(of("staying@example.org").1, DeliveryStatus::Pending);
}

async fn an_exported_list_imports_into_a_fresh_instance_with_the_same_readers(app: TestApp) {
    app.subscribe("active@example.org", &["العراق", "ISIS", "مصر"]).await;
    app.subscribe("bounced@example.org", &["الإرهاب"]).await;
    app.app.store.suppress("bounced@example.org", "550, \"quoted\" reply", now()).await.unwrap();
    let csv = "email,keywords,status,created\n\
               pending@example.org,مصر,pending,2024-05-06 07:08:09\n\
               gone@example.org,\"داعش, العراق\",unsubscribed,2023-01-02\n";
    import_csv(&app, csv, UNCONFIRMED).await;

    let exported = export_csv(&app).await;
    let lines: Vec<&str> = exported.lines().collect();
    assert_eq!(
        lines,
        [
            "email,keywords,status,created,reason",
            "active@example.org,العراق، داعش، مصر,active,2026-11-30T05:00:00Z,",
            "bounced@example.org,الإرهاب,suppressed,2026-11-30T05:00:00Z,\"550, \"\"quoted\"\" reply\"",
            "pending@example.org,مصر,pending,2024-05-06T07:08:09Z,",
            "gone@example.org,داعش، العراق,unsubscribed,2023-01-02T00:00:00Z,",
        ]
    );

    let backend = if app.app.store.backend() == "postgres" { Backend::Postgres } else { Backend::Sqlite };
    let Some(fresh) = TestApp::spawn_with(backend, Options::default()).await else { return };
    let (report, bad) = import_csv(&fresh, &exported, CONFIRMED).await;
    assert_eq!(bad, []);
    assert_eq!(
        report,
        ImportReport { rows: 4, added: 4, pending: 1, unsubscribed: 1, suppressed: 1, ..Default::default() }
    );
    let (before, after) = (records(&exported), records(&export_csv(&fresh).await));
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a[..4], b[..4], "the same reader, keywords, status and sign-up time");
    }
    assert_eq!(after[2][4], "imported as suppressed");
    assert_eq!(suppressed(&fresh, "bounced@example.org").await.as_deref(), Some("imported as suppressed"));
}

async fn five_thousand_generated_rows_import_with_the_right_counts(app: TestApp) {
    const KEYWORDS: [&str; 8] = ["العراق", "مصر", "داعش", "الإرهاب", "سوريا", "لبنان", "الأردن", "تونس"];
    let followed = |i: usize| {
        let mut out: Vec<&str> = Vec::new();
        for k in [KEYWORDS[i % 8], KEYWORDS[(i / 8) % 8], KEYWORDS[(i / 64) % 8]] {
            if !out.contains(&k) {
                out.push(k);
            }
        }
        out
    };
    let mut csv = String::from("email,keywords,status\n");
    for i in 0..5000 {
        let status = match i % 20 {
            0 => "unsubscribed",
            7 => "bounced",
            _ => "active",
        };
        // Every hundredth address is bad (none of them unsubscribed or bounced).
        let email = if i % 100 == 50 { format!("reader{i}.example.org") } else { format!("reader{i}@example.org") };
        csv.push_str(&format!("{email},\"{}\",{status}\n", followed(i).join("، ")));
        if i == 10 {
            // The same address again in its batch: the later row wins.
            csv.push_str("reader1@example.org,تونس,unsubscribed\n");
        }
    }

    let progress = Mutex::new(Vec::new());
    let mut bad = 0;
    let mut on_bad = |_: u64, _: &str| bad += 1;
    let report = import(&app.app.store, &app.app.config, csv.as_bytes(), &UNCONFIRMED, now(), &mut on_bad, &|r| {
        progress.lock().unwrap().push(r.rows)
    })
    .await
    .unwrap();
    assert_eq!(bad, 50);
    assert_eq!(
        report,
        ImportReport {
            rows: 5001,
            added: 4950,
            pending: 4950 - 251 - 250,
            unsubscribed: 251,
            suppressed: 250,
            bad: 50,
            duplicates: 1,
            ..Default::default()
        }
    );
    assert_eq!(progress.into_inner().unwrap().len(), 5, "one report per batch of 1,000 rows");
    let store = &app.app.store;
    assert_eq!(store.subscribers().await.unwrap().len(), 4950);
    assert_eq!(store.suppressions().await.unwrap().len(), 250);
    assert_eq!(status(&app, "reader1@example.org").await, SubscriberStatus::Unsubscribed);
    assert_eq!(keywords(&app, "reader1@example.org").await, ["تونس"]);
    for i in [2, 7, 99, 4999] {
        assert_eq!(keywords(&app, &format!("reader{i}@example.org")).await, followed(i), "reader{i}");
    }
    assert_eq!(status(&app, "reader7@example.org").await, SubscriberStatus::Pending);
    assert!(suppressed(&app, "reader7@example.org").await.is_some());

    let mut out = Vec::new();
    assert_eq!(export(store, &mut out).await.unwrap(), 4950, "five pages of 1,000");
    let exported = records(&String::from_utf8(out).unwrap());
    assert_eq!(exported.len(), 4951);
    assert_eq!(exported.iter().filter(|r| r[2] == "suppressed").count(), 250);
    assert_eq!(exported[1][..3], ["reader0@example.org", "العراق", "unsubscribed"], "in id order");
}

on_both_backends!(
    a_list_with_a_bom_arabic_keywords_and_its_own_column_order_is_imported,
    bad_rows_are_reported_by_line_and_the_rest_is_imported,
    a_file_without_a_header_line_is_read_as_email_keywords_status_created,
    an_unconfirmed_list_imports_new_readers_pending_and_never_downgrades_an_active_one,
    addresses_unsubscribed_or_suppressed_here_are_left_alone_unless_resubscribed,
    unsubscribed_and_suppressed_rows_cancel_the_readers_waiting_messages,
    an_exported_list_imports_into_a_fresh_instance_with_the_same_readers,
    five_thousand_generated_rows_import_with_the_right_counts,
);
