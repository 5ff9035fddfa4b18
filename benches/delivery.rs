//! Digest delivery, measured against baselines taken in the same run:
//!
//! 1. **Planning and rendering on one core**: an edition planned for every reader (pages of
//!    1,000, written to the database), then every message composed (rendered once per distinct
//!    digest, merged per reader) and formatted as MIME — digests per second.
//! 2. **Send rate**: the sender (`mail.connections` SMTP connections, claims, composing, outcome
//!    records) to a local SMTP sink, ÷ a bare loop sending the same pre-rendered messages over
//!    the same number of connections with the same protocol (TCP_NODELAY; MAIL, RCPT and DATA
//!    pipelined in one write, then the message in one write) — aim ≥ 0.9; with a sink that
//!    answers at once, and with one that takes 2 ms a message.
//! 3. **Claim cost**: the time of a claim of 32 due messages (and the record of their sending)
//!    with 0 and with 1,000,000 messages sent before.
//!
//!     cargo bench --bench delivery [-- READERS]          (default 20,000 readers)
//!
//! The SMTP sink (tests/support/smtp_sink.rs) runs on a thread of its own, so it takes one core
//! and the sender (or the bare loop) the other. The database is a SQLite file; set
//! `NASHRA_BENCH_POSTGRES_URL` (e.g. `postgres://postgres@127.0.0.1:5432/test`) to measure the
//! claim cost on PostgreSQL too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test and benchmark code: a failure is a panic

#[path = "../tests/support/smtp_sink.rs"]
mod smtp_sink;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use nashra::app::App;
use nashra::config::Config;
use nashra::delivery::{Compose, build_message, envelope_address};
use nashra::digest::{EditionRun, plan_edition};
use nashra::store::{KeywordOrigin, NewArticle, Outcome, Store, new_owner_id};
use smtp_sink::{Policy, SmtpSink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

const KEYWORDS: [&str; 24] = [
    "العراق",
    "داعش",
    "مصر",
    "سوريا",
    "ليبيا",
    "تونس",
    "الجزائر",
    "المغرب",
    "السودان",
    "اليمن",
    "لبنان",
    "الأردن",
    "فلسطين",
    "غزة",
    "الإرهاب",
    "الاقتصاد",
    "النفط",
    "الانتخابات",
    "اللاجئين",
    "الساحل",
    "التحالف الدولي",
    "الأمن",
    "التعليم",
    "الصحة",
];
const CONNECTIONS: u32 = 4;

/// A small deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Popular keywords first: the smaller the index, the likelier (about 1/(i+1)).
    fn zipf(&mut self, n: usize) -> usize {
        let weights: f64 = (1..=n).map(|i| 1.0 / i as f64).sum();
        let mut x = (self.next() % 1_000_000) as f64 / 1_000_000.0 * weights;
        for i in 0..n {
            x -= 1.0 / (i + 1) as f64;
            if x <= 0.0 {
                return i;
            }
        }
        n - 1
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap()
}

fn config(dir: &Path, db: &str, smtp_port: u16) -> Config {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = format!(
        r#"
[site]
title = "مرصد الضفتين"
description = "نشرة"
base_url = "https://news.example.org/"
time_zone = "Africa/Cairo"
[database]
url = "{db}"
max_connections = 4
[feeds]
dir = "{feeds}"
output_dir = "{out}"
[schedules.collect]
cron = "*/10 * * * *"
[[editions]]
name = "daily"
title = "النشرة اليومية"
cron = "0 7 * * *"
max_per_keyword = 10
[mail]
transport = "smtp"
from = "مرصد الضفتين <digest@news.example.org>"
templates_dir = "{templates}"
connections = {CONNECTIONS}
lease_seconds = 60
[mail.smtp]
host = "127.0.0.1"
port = {smtp_port}
tls = "none"
"#,
        feeds = repo.join("feeds").display(),
        out = dir.join("feeds").display(),
        templates = repo.join("email-templates").display(),
    );
    Config::from_toml(&text, &dir.join("nashra.toml"), Vec::<(String, String)>::new()).unwrap()
}

/// 120 articles of the day before the edition, each tagged with one to three keywords, and
/// `readers` readers following one to four keywords each.
async fn fill(app: &App, readers: usize) {
    let store = &app.store;
    let names: Vec<_> = KEYWORDS.iter().map(|k| nashra::keywords::KeywordName::parse(k).unwrap()).collect();
    let keywords = nashra::keywords::follow(store, &app.config, &names, KeywordOrigin::Operator, now()).await.unwrap();
    let source = store.ensure_source("bench", "push", "", now()).await.unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..120 {
        let tags: Vec<_> = (0..1 + rng.below(3)).map(|_| &keywords[rng.zipf(keywords.len())]).collect();
        let topic = &tags[0].name;
        let article = NewArticle {
            url: format!("https://news.example.org/a/{i}"),
            guid: None,
            title: format!("تطورات جديدة في ملف {topic}: قراءة في المشهد رقم {i}"),
            author: Some("شيماء يحيى".into()),
            section: Some("تحليلات".into()),
            summary: Some(format!(
                "يتناول هذا التحليل آخر المستجدات المتعلقة بـ{topic} وانعكاساتها على المنطقة، مع قراءة في مواقف \
                 الأطراف الإقليمية والدولية وما يمكن أن تحمله الأسابيع المقبلة من تطورات."
            )),
            body_html: "<p>نص</p>".into(),
            body_text: "نص".into(),
            image_url: None,
            lang: Some("ar".into()),
            published_at: now() - chrono::Duration::minutes(600 - i),
            undated: false,
            updated_at: None,
            tags: Vec::new(),
        };
        let ids: Vec<_> = tags.iter().map(|k| (k.id, "text")).collect();
        store.upsert_article(source.id, &article, &ids, now() - chrono::Duration::hours(1)).await.unwrap();
    }
    macro_rules! insert {
        ($pool:expr) => {{
            let mut tx = $pool.begin().await.unwrap();
            for r in 0..readers {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO subscribers (email, status, token, created_at, confirmed_at)
                     VALUES ($1, 'active', $2, $3, $3) RETURNING id",
                )
                .bind(format!("reader{r}@example.org"))
                .bind(format!("{:032x}", rng.next() as u128 * 7919 + r as u128))
                .bind(now())
                .fetch_one(&mut *tx)
                .await
                .unwrap();
                let mut follows = Vec::new();
                for _ in 0..1 + rng.below(4) {
                    let k = keywords[rng.zipf(keywords.len())].id;
                    if !follows.contains(&k) {
                        follows.push(k);
                    }
                }
                for (position, k) in follows.iter().enumerate() {
                    sqlx::query(
                        "INSERT INTO subscriber_keywords (subscriber_id, keyword_id, position) VALUES ($1, $2, $3)",
                    )
                    .bind(id)
                    .bind(k)
                    .bind(position as i64)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
            }
            tx.commit().await.unwrap();
        }};
    }
    match store {
        Store::Sqlite(pool) => insert!(pool),
        Store::Postgres(pool) => insert!(pool),
    }
}

/// Starts the sink on a thread (and runtime) of its own.
fn sink_thread() -> (u16, Arc<SmtpSink>, std::sync::mpsc::Sender<()>) {
    let (tx, rx) = std::sync::mpsc::channel::<(u16, Arc<SmtpSink>)>();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let sink = Arc::new(SmtpSink::start(Policy { keep_bodies: false, ..Policy::default() }).await);
            tx.send((sink.port(), sink.clone())).unwrap();
            while stop_rx.try_recv().is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    });
    let (port, sink) = rx.recv().unwrap();
    (port, sink, stop_tx)
}

/// Sends `messages` (recipient, bytes) over `connections` plain SMTP connections as nashra does
/// with a relay that offers PIPELINING: MAIL, RCPT and DATA in one write, their three replies,
/// then the message; TCP_NODELAY on.
async fn bare_loop(port: u16, connections: usize, messages: Arc<Vec<(String, Vec<u8>)>>, total: usize) -> Duration {
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (messages, next) = (messages.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            s.set_nodelay(true).unwrap();
            let mut replies = Replies::default();
            replies.read(&mut s, 1).await;
            s.write_all(b"EHLO bench\r\n").await.unwrap();
            replies.read(&mut s, 1).await;
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let (to, bytes) = &messages[i % messages.len()];
                let envelope =
                    format!("MAIL FROM:<digest@news.example.org> BODY=8BITMIME\r\nRCPT TO:<{to}>\r\nDATA\r\n");
                s.write_all(envelope.as_bytes()).await.unwrap();
                replies.read(&mut s, 3).await;
                s.write_all(bytes).await.unwrap();
                replies.read(&mut s, 1).await;
            }
            s.write_all(b"QUIT\r\n").await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    started.elapsed()
}

/// Reads SMTP replies, however they are split across reads.
#[derive(Default)]
struct Replies {
    buf: Vec<u8>,
}

impl Replies {
    /// Reads until `n` complete replies are in, each positive.
    async fn read(&mut self, s: &mut tokio::net::TcpStream, n: usize) {
        let mut done = 0;
        let mut chunk = [0u8; 4096];
        while done < n {
            while let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                assert!(line[0] == b'2' || line[0] == b'3', "{}", String::from_utf8_lossy(&line));
                // The last line of a reply has a space after its code.
                if line.get(3) != Some(&b'-') {
                    done += 1;
                }
            }
            if done < n {
                let k = s.read(&mut chunk).await.unwrap();
                assert!(k > 0, "the sink closed the connection");
                self.buf.extend_from_slice(&chunk[..k]);
            }
        }
    }
}

/// The message as it goes on the wire: dot-stuffed, ending with the final dot.
fn wire(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut start_of_line = true;
    for &b in bytes {
        if start_of_line && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        start_of_line = b == b'\n';
    }
    out.extend_from_slice(b"\r\n.\r\n");
    out
}

async fn send_and_plan(readers: usize) {
    let dir = tempfile::tempdir().unwrap();
    let (port, sink, stop_sink) = sink_thread();
    let db = format!("sqlite:{}", dir.path().join("bench.db").display());
    let app = App::new(config(dir.path(), &db, port)).await.unwrap();
    fill(&app, readers).await;
    let edition = &app.config.editions[0];
    let owner = new_owner_id();
    let stop = CancellationToken::new();
    let run = EditionRun {
        store: &app.store,
        config: &app.config,
        edition,
        tick: now(),
        now: now(),
        dry_run: false,
        owner: &owner,
        lease: Duration::from_secs(60),
        stop: &stop,
    };
    let started = Instant::now();
    let outcome = plan_edition(&run).await.unwrap();
    let planning = started.elapsed();
    let planned = match outcome.planned {
        nashra::digest::Planned::Now { messages, .. } => messages,
        other => panic!("{other:?}"),
    };
    let contents: i64 = match &app.store {
        Store::Sqlite(pool) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM digest_contents").fetch_one(pool).await.unwrap()
        }
        Store::Postgres(pool) => {
            sqlx::query_scalar("SELECT COUNT(*) FROM digest_contents").fetch_one(pool).await.unwrap()
        }
    };

    // Compose every message (claimed, then put back), as the sender does.
    let mut claimed: Vec<nashra::store::Claimed> = Vec::new();
    loop {
        let after = claimed.last().map(|c| c.place());
        let batch = app.store.claim_deliveries(&owner, 256, Duration::from_secs(600), after).await.unwrap();
        if batch.is_empty() {
            break;
        }
        claimed.extend(batch);
    }
    let started = Instant::now();
    let mut bytes = 0usize;
    let mut samples: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, c) in claimed.iter().enumerate() {
        let composed = app.composer.compose(c).await.unwrap();
        let to = envelope_address(&c.recipient).unwrap();
        let message = build_message(&composed, &to, &app.config.mail.from, Utc::now()).unwrap();
        bytes += message.len();
        if i % (claimed.len() / 500).max(1) == 0 {
            samples.push((c.recipient.clone(), wire(&message)));
        }
    }
    let composing = started.elapsed();
    let released: Vec<_> = claimed.iter().map(|c| (c.id, Outcome::Released)).collect();
    for chunk in released.chunks(500) {
        app.store.finish_deliveries(&owner, Duration::from_secs(3600), chunk, Utc::now()).await.unwrap();
    }
    let per = |d: Duration, n: usize| n as f64 / d.as_secs_f64();
    println!("planning and rendering, one core ({readers} readers, {planned} digests, {contents} distinct):");
    println!("  planned   {:>9.0} digests/s  ({:.2} s)", per(planning, planned), planning.as_secs_f64());
    println!(
        "  rendered  {:>9.0} digests/s  ({:.2} s, {} KB a message on average)",
        per(composing, planned),
        composing.as_secs_f64(),
        bytes / planned.max(1) / 1024
    );
    let both = planning + composing;
    println!("  both      {:>9.0} digests/s", per(both, planned));

    // The sender, then the bare loop with the same messages over the same connections: with a
    // relay that answers at once (what the sender itself costs), then with one that takes 2 ms
    // a message, as an MTA writing its queue file does.
    let samples = Arc::new(samples);
    println!("send rate to a local SMTP sink, {CONNECTIONS} connections, {planned} messages:");
    for delay_ms in [0u64, 2] {
        sink.set_policy(Policy {
            keep_bodies: false,
            data_delay: Duration::from_millis(delay_ms),
            ..Policy::default()
        });
        if delay_ms > 0 {
            requeue(&app.store).await;
        }
        let before = sink.count();
        let started = Instant::now();
        let report = app.deliver().await.unwrap();
        let sending = started.elapsed();
        assert_eq!(report.sent, planned, "{report:?}");
        let bare = bare_loop(port, CONNECTIONS as usize, samples.clone(), planned).await;
        assert_eq!(sink.count() - before, 2 * planned);
        let (ours, theirs) = (per(sending, planned), per(bare, planned));
        let relay = if delay_ms == 0 { "at once".to_owned() } else { format!("in {delay_ms} ms") };
        println!(
            "  relay answering {relay:<8} nashra {ours:>6.0}/s, bare loop {theirs:>6.0}/s, ratio {:.2}  (aim ≥ 0.9)",
            ours / theirs
        );
    }
    let _ = stop_sink.send(());
    app.store.close().await;
}

/// Every sent message back in the queue, to be sent again.
async fn requeue(store: &Store) {
    let sql =
        "UPDATE deliveries SET status = 'pending', lease_owner = NULL, lease_until = NULL, due_at = 0, attempts = 0";
    match store {
        Store::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        Store::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|_| ()),
    }
    .unwrap();
}

/// Milliseconds per claim of 32 due messages, averaged over 200 claims, each recorded as sent
/// and followed by the next from where it ended, as a sender does.
async fn claim_cost(store: &Store) -> f64 {
    let owner = new_owner_id();
    let mut after = None;
    let started = Instant::now();
    for _ in 0..200 {
        let claimed = store.claim_deliveries(&owner, 32, Duration::from_secs(60), after).await.unwrap();
        assert_eq!(claimed.len(), 32);
        after = claimed.iter().map(|c| c.place()).max();
        let sent: Vec<_> = claimed.iter().map(|c| (c.id, Outcome::Sent { at: Utc::now() })).collect();
        store.finish_deliveries(&owner, Duration::from_secs(3600), &sent, Utc::now()).await.unwrap();
    }
    started.elapsed().as_secs_f64() * 1000.0 / 200.0
}

/// An outbox with `sent` messages sent before and 7,000 waiting: 1,000 readers, one edition
/// per 1,000 messages; written with bulk SQL.
async fn outbox_with(store: &Store, sent: i64) {
    let editions = sent / 1000 + 7;
    let waiting_from = sent / 1000;
    match store {
        Store::Sqlite(pool) => {
            let n = |name: &str, to: i64| {
                format!("{name}(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM {name} WHERE v < {to})")
            };
            for sql in [
                format!(
                    "WITH RECURSIVE {} INSERT INTO subscribers (email, status, token, created_at)
                     SELECT 'r' || v || '@example.org', 'active', 't' || v, '2026-11-01T00:00:00+00:00' FROM s",
                    n("s", 1000)
                ),
                format!(
                    "WITH RECURSIVE {} INSERT INTO digest_editions (schedule, tick, window_start, window_end, created_at, status)
                     SELECT 'daily', strftime('%Y-%m-%dT%H:%M:%S+00:00', '2020-01-01', '+' || v || ' days'),
                            '2020-01-01T00:00:00+00:00', '2020-01-01T00:00:00+00:00', '2020-01-01T00:00:00+00:00', 'planned'
                     FROM e",
                    n("e", editions)
                ),
                format!(
                    "WITH RECURSIVE {} INSERT INTO digest_contents (id, edition_id, sections) SELECT v, v, '1:1' FROM e",
                    n("e", editions)
                ),
                format!(
                    "WITH RECURSIVE {}, {} INSERT INTO deliveries (edition_id, subscriber_id, content_id, status, attempts, queued_at, due_at)
                     SELECT e.v, s.v, e.v, CASE WHEN e.v <= {waiting_from} THEN 'sent' ELSE 'pending' END, 1, 0, 0 FROM e, s",
                    n("e", editions),
                    n("s", 1000)
                ),
            ] {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool).await.unwrap();
            }
        }
        Store::Postgres(pool) => {
            for sql in [
                "INSERT INTO subscribers (email, status, token, created_at)
                 SELECT 'r' || v || '@example.org', 'active', 't' || v, now() FROM generate_series(1, 1000) AS v"
                    .to_owned(),
                format!(
                    "INSERT INTO digest_editions (schedule, tick, window_start, window_end, created_at, status)
                     SELECT 'daily', timestamptz '2020-01-01' + v * interval '1 day', now(), now(), now(), 'planned'
                     FROM generate_series(1, {editions}) AS v"
                ),
                format!(
                    "INSERT INTO digest_contents (id, edition_id, sections) SELECT v, v, '1:1' FROM generate_series(1, {editions}) AS v"
                ),
                format!(
                    "INSERT INTO deliveries (edition_id, subscriber_id, content_id, status, attempts, queued_at, due_at)
                     SELECT e, s, e, CASE WHEN e <= {waiting_from} THEN 'sent' ELSE 'pending' END, 1, 0, 0
                     FROM generate_series(1, {editions}) AS e, generate_series(1, 1000) AS s"
                ),
                "VACUUM ANALYZE deliveries".to_owned(),
            ] {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool).await.unwrap();
            }
        }
    }
}

async fn claims(label: &str, url: &dyn Fn(&str) -> String, cleanup: &dyn Fn(&str)) {
    let mut costs = Vec::new();
    for sent in [0i64, 1_000_000] {
        let name = format!("claims_{sent}");
        let store =
            Store::connect(&nashra::store::DatabaseUrl::parse(&url(&name), Path::new(".")).unwrap(), 4).await.unwrap();
        let started = Instant::now();
        outbox_with(&store, sent).await;
        let filled = started.elapsed();
        costs.push(claim_cost(&store).await);
        store.close().await;
        cleanup(&name);
        println!(
            "  {label}: {sent:>9} sent before: {:.3} ms a claim (filled in {:.1} s)",
            costs.last().unwrap(),
            filled.as_secs_f64()
        );
    }
    println!("  {label}: ratio {:.2} (1 = the same cost)", costs[1] / costs[0]);
}

fn main() {
    let readers: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(send_and_plan(readers));
    println!("claim cost (32 due messages, then recorded as sent):");
    let dir = tempfile::tempdir().unwrap();
    let sqlite = |name: &str| format!("sqlite:{}", dir.path().join(format!("{name}.db")).display());
    rt.block_on(claims("sqlite", &sqlite, &|_| {}));
    if let Ok(admin) = std::env::var("NASHRA_BENCH_POSTGRES_URL") {
        let admin2 = admin.clone();
        let url = move |name: &str| {
            let (admin, db) = (admin2.clone(), name.to_owned());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    use sqlx::Connection as _;
                    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS nashra_bench_{db} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE nashra_bench_{db}")))
                        .execute(&mut c)
                        .await
                        .unwrap();
                });
            })
            .join()
            .unwrap();
            let mut u = url::Url::parse(&admin2).unwrap();
            u.set_path(&format!("nashra_bench_{name}"));
            u.to_string()
        };
        let admin3 = admin.clone();
        let cleanup = move |name: &str| {
            let (admin, name) = (admin3.clone(), name.to_owned());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    use sqlx::Connection as _;
                    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS nashra_bench_{name} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                });
            })
            .join()
            .unwrap();
        };
        rt.block_on(claims("postgres", &url, &cleanup));
    }
}
