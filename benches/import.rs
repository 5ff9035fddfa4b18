//! `subscribers import` throughput: 100,000 generated readers from a CSV file into a fresh
//! database, as a ratio against a bare bulk insert of the same rows measured in the same run
//! (subscribers and the keywords they follow, batches of the same size, keyword ids resolved
//! beforehand, no CSV, no validation, no rules).
//!
//!     cargo bench --bench import
//!     NASHRA_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench import
//!
//! The rows are deterministic: addresses `readerN@…` over a few domains, 1–5 keywords each from
//! 50 Arabic keywords (some written in another spelling or as an alias), a sign-up date. SQLite
//! always; PostgreSQL too when `NASHRA_BENCH_POSTGRES_URL` names a server where the user may
//! create databases (two are created and dropped). Each figure is the fastest of `BENCH_RUNS`
//! runs (default 3), each on a fresh database.
//!
//! Over TCP, sqlx 0.9.0 leaves Nagle's algorithm on (it no longer sets TCP_NODELAY: sqlx issue
//! #4335, fixed after 0.9.0), so a statement with large arguments waits ~40 ms for the server's
//! delayed ACK. Both sides keep their PostgreSQL statements under 12 KB, as the store does
//! (`PG_STATEMENT_BYTES`); a Unix socket (`…/postgres?host=/var/run/postgresql`) avoids the
//! question.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test and benchmark code: a failure is a panic

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use nashra::config::Config;
use nashra::keywords::KeywordName;
use nashra::store::{DatabaseUrl, KeywordId, KeywordOrigin, Store};
use nashra::subscribers::{BATCH, ImportOptions, import};
use sqlx::Connection as _;

const ROWS: usize = 100_000;

const KEYWORDS: [&str; 50] = [
    "العراق",
    "مصر",
    "سوريا",
    "لبنان",
    "الأردن",
    "فلسطين",
    "السعودية",
    "الإمارات",
    "قطر",
    "الكويت",
    "البحرين",
    "عمان",
    "اليمن",
    "السودان",
    "ليبيا",
    "تونس",
    "الجزائر",
    "المغرب",
    "موريتانيا",
    "الصومال",
    "داعش",
    "الإرهاب",
    "الانتخابات",
    "البرلمان",
    "الحكومة",
    "الاقتصاد",
    "النفط",
    "الغاز",
    "البورصة",
    "التضخم",
    "الدولار",
    "الذهب",
    "كرة القدم",
    "الدوري",
    "المنتخب",
    "الصحة",
    "التعليم",
    "الجامعات",
    "المناخ",
    "الطاقة الشمسية",
    "المياه",
    "الزراعة",
    "السياحة",
    "الثقافة",
    "السينما",
    "الكتب",
    "التكنولوجيا",
    "الذكاء الاصطناعي",
    "الفضاء",
    "الهجرة",
];

/// Other spellings of some keywords, as lists from other tools carry them: the same keyword.
fn spelling(k: &str, n: u64) -> String {
    match (k, n % 3) {
        ("الإرهاب", 0) => "الارهاب".to_owned(),
        ("داعش", 0) => "تنظيم الدولة".to_owned(),
        ("داعش", 1) => "ISIS".to_owned(),
        _ => k.to_owned(),
    }
}

struct Row {
    email: String,
    /// Indexes in `KEYWORDS`, without duplicates.
    keywords: Vec<usize>,
    spellings: Vec<String>,
    created: DateTime<Utc>,
}

/// xorshift64*: the same rows on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn rows() -> Vec<Row> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let domains = ["example.org", "example.com", "mail.example.net", "news.example"];
    let start = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap();
    (0..ROWS)
        .map(|i| {
            let count = 1 + (rng.next() % 5) as usize;
            let mut keywords = Vec::with_capacity(count);
            while keywords.len() < count {
                let k = (rng.next() % KEYWORDS.len() as u64) as usize;
                if !keywords.contains(&k) {
                    keywords.push(k);
                }
            }
            let spellings = keywords.iter().map(|&k| spelling(KEYWORDS[k], rng.next())).collect();
            Row {
                email: format!("reader{i}@{}", domains[i % domains.len()]),
                keywords,
                spellings,
                created: start + Duration::seconds((rng.next() % (5 * 365 * 86_400)) as i64),
            }
        })
        .collect()
}

fn write_csv(rows: &[Row], path: &Path) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(out, "email,keywords,status,created").unwrap();
    for r in rows {
        writeln!(out, "{},\"{}\",active,{}", r.email, r.spellings.join("، "), r.created.format("%Y-%m-%d %H:%M:%S"))
            .unwrap();
    }
    out.flush().unwrap();
}

fn config(dir: &Path) -> Config {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = format!(
        r#"
[site]
title = "bench"
base_url = "http://127.0.0.1:8080/"
time_zone = "Africa/Cairo"

[feeds]
dir = "{feeds}"
output_dir = "{out}"

[mail]
from = "bench@nashra.example"
outbox_dir = "{outbox}"
templates_dir = "{templates}"

[keywords.aliases]
"داعش" = ["تنظيم الدولة", "ISIS"]
"#,
        feeds = repo.join("feeds").display(),
        out = dir.join("feeds").display(),
        outbox = dir.join("outbox").display(),
        templates = repo.join("email-templates").display(),
    );
    Config::from_toml(&text, &dir.join("nashra.toml"), Vec::<(String, String)>::new())
        .unwrap_or_else(|e| panic!("bench configuration: {e}"))
}

/// Seconds for `import` of the file into `store`.
async fn time_import(store: &Store, config: &Config, csv: &Path) -> f64 {
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap();
    let options = ImportOptions { confirmed: true, resubscribe: false };
    let mut bad = 0u64;
    let mut on_bad = |_: u64, _: &str| bad += 1;
    let start = Instant::now();
    let file = std::fs::File::open(csv).unwrap();
    let report = import(store, config, file, &options, now, &mut on_bad, &|_| {}).await.unwrap();
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!((report.added, report.bad), (ROWS as u64, 0), "{}", report.summary());
    seconds
}

/// The keyword ids, resolved beforehand for the bare insert.
async fn keyword_ids(store: &Store) -> Vec<KeywordId> {
    let now = Utc::now();
    let mut ids = Vec::new();
    for k in KEYWORDS {
        let name = KeywordName::parse(k).unwrap();
        let ensured =
            store.ensure_keyword(name.as_str(), name.normalized(), name.slug(), KeywordOrigin::Subscriber, now).await;
        ids.push(ensured.unwrap().keyword.id);
    }
    ids
}

/// Seconds for the bare insert of `rows` into `store`: per batch one transaction, and statements
/// per table as the import writes them (multi-row on SQLite, over arrays on PostgreSQL).
/// (subscriber, keyword, position) of every row of `batch`, by the ids its insert returned.
fn follows(batch: &[Row], inserted: &[(i64, String)], ids_of: &[KeywordId]) -> Vec<(i64, i64, i64)> {
    let by_email: HashMap<&str, i64> = inserted.iter().map(|(id, e)| (e.as_str(), *id)).collect();
    batch
        .iter()
        .flat_map(|r| {
            let id = by_email[r.email.as_str()];
            r.keywords.iter().enumerate().map(move |(p, &k)| (id, ids_of[k], p as i64))
        })
        .collect()
}

async fn time_bare(store: &Store, rows: &[Row]) -> f64 {
    let ids = keyword_ids(store).await;
    let ids_of = ids.as_slice();
    // Real tokens: random, like those the import makes, so the unique index costs the same.
    let tokens: Vec<String> = rows.iter().map(|_| nashra::subscribers::new_token().unwrap()).collect();
    let start = Instant::now();
    for (b, batch) in rows.chunks(BATCH).enumerate() {
        match store {
            Store::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                let mut q = sqlx::QueryBuilder::new(
                    "INSERT INTO subscribers (email, status, token, created_at, confirmed_at) ",
                );
                q.push_values(batch.iter().enumerate(), |mut v, (i, r)| {
                    v.push_bind(&r.email)
                        .push_bind("active")
                        .push_bind(&tokens[b * BATCH + i])
                        .push_bind(r.created)
                        .push_bind(r.created);
                });
                q.push(" RETURNING id, email");
                let inserted: Vec<(i64, String)> = q.build_query_as().fetch_all(&mut *tx).await.unwrap();
                let follows = follows(batch, &inserted, ids_of);
                for chunk in follows.chunks(10_000) {
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO subscriber_keywords (subscriber_id, keyword_id, position) ",
                    );
                    q.push_values(chunk, |mut v, (s, k, p)| {
                        v.push_bind(*s).push_bind(*k).push_bind(*p);
                    });
                    q.build().execute(&mut *tx).await.unwrap();
                }
                tx.commit().await.unwrap();
            }
            Store::Postgres(pool) => {
                // Statements under 12 KB, as the store cuts them (sqlx 0.9.0 and Nagle: see above).
                let mut tx = pool.begin().await.unwrap();
                let tokens = &tokens[b * BATCH..b * BATCH + batch.len()];
                let mut inserted: Vec<(i64, String)> = Vec::new();
                for (rows, tokens) in batch.chunks(100).zip(tokens.chunks(100)) {
                    let page: Vec<(i64, String)> = sqlx::query_as(
                        "INSERT INTO subscribers (email, status, token, created_at, confirmed_at)
                         SELECT e, 'active', t, c, c FROM UNNEST($1::text[], $2::text[], $3::timestamptz[]) AS v (e, t, c)
                         RETURNING id, email",
                    )
                    .bind(rows.iter().map(|r| r.email.as_str()).collect::<Vec<_>>())
                    .bind(tokens)
                    .bind(rows.iter().map(|r| r.created).collect::<Vec<_>>())
                    .fetch_all(&mut *tx)
                    .await
                    .unwrap();
                    inserted.extend(page);
                }
                let follows = follows(batch, &inserted, ids_of);
                for chunk in follows.chunks(300) {
                    sqlx::query(
                        "INSERT INTO subscriber_keywords (subscriber_id, keyword_id, position)
                         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[])",
                    )
                    .bind(chunk.iter().map(|f| f.0).collect::<Vec<_>>())
                    .bind(chunk.iter().map(|f| f.1).collect::<Vec<_>>())
                    .bind(chunk.iter().map(|f| f.2).collect::<Vec<_>>())
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
                tx.commit().await.unwrap();
            }
        }
    }
    start.elapsed().as_secs_f64()
}

fn report(backend: &str, import: f64, bare: f64, follows: usize) {
    let rate = |s: f64| ROWS as f64 / s;
    println!("{backend}: {ROWS} readers, {follows} keyword follows, batches of {BATCH}");
    println!("  bare insert (no CSV, no checks, ids known): {:>9.0} rows/s ({bare:.2} s)", rate(bare));
    println!("  subscribers import (CSV, checks, rules):    {:>9.0} rows/s ({import:.2} s)", rate(import));
    println!("  ratio: the import runs at {:.2}x the speed of the bare insert", bare / import);
}

/// A PostgreSQL database of the bench's own on the server `admin` names; dropped by `drop_db`.
async fn create_db(admin: &str, name: &str) -> String {
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
    let mut url = url::Url::parse(admin).unwrap();
    url.set_path(name);
    url.to_string()
}

async fn drop_db(admin: &str, name: &str) {
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// The fastest of `runs` runs of `f` (which times one run on a fresh database).
async fn best<F, Fut>(runs: u32, mut f: F) -> f64
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = f64>,
{
    let mut best = f64::INFINITY;
    for run in 0..runs {
        best = best.min(f(run).await);
    }
    best
}

async fn bench() {
    let runs: u32 = std::env::var("BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let dir = tempfile::tempdir().unwrap();
    let rows = rows();
    let follows: usize = rows.iter().map(|r| r.keywords.len()).sum();
    let csv = dir.path().join("readers.csv");
    write_csv(&rows, &csv);
    let size = std::fs::metadata(&csv).unwrap().len() as f64 / (1024.0 * 1024.0);
    println!("file: {ROWS} rows, {size:.1} MiB of CSV; the fastest of {runs} run(s), each on a fresh database");
    let config = config(dir.path());

    let sqlite = |name: String| {
        let path = dir.path().join(name);
        async move { Store::connect(&DatabaseUrl::Sqlite(path), 4).await.unwrap() }
    };
    let import = best(runs, |run| {
        let (sqlite, config, csv) = (&sqlite, &config, &csv);
        async move {
            let store = sqlite(format!("import{run}.db")).await;
            let seconds = time_import(&store, config, csv).await;
            store.close().await;
            seconds
        }
    })
    .await;
    let bare = best(runs, |run| {
        let (sqlite, rows) = (&sqlite, &rows);
        async move {
            let store = sqlite(format!("bare{run}.db")).await;
            let seconds = time_bare(&store, rows).await;
            store.close().await;
            seconds
        }
    })
    .await;
    report("sqlite", import, bare, follows);

    let Ok(admin) = std::env::var("NASHRA_BENCH_POSTGRES_URL") else {
        println!("postgres: skipped (set NASHRA_BENCH_POSTGRES_URL to a server where databases may be created)");
        return;
    };
    let postgres = |name: &'static str| {
        let admin = admin.clone();
        async move {
            let url = create_db(&admin, name).await;
            Store::connect(&DatabaseUrl::Postgres(url), 4).await.unwrap()
        }
    };
    let import = best(runs, |_| {
        let (postgres, admin, config, csv) = (&postgres, &admin, &config, &csv);
        async move {
            let store = postgres("nashra_bench_import").await;
            let seconds = time_import(&store, config, csv).await;
            store.close().await;
            drop_db(admin, "nashra_bench_import").await;
            seconds
        }
    })
    .await;
    let bare = best(runs, |_| {
        let (postgres, admin, rows) = (&postgres, &admin, &rows);
        async move {
            let store = postgres("nashra_bench_bare").await;
            let seconds = time_bare(&store, rows).await;
            store.close().await;
            drop_db(admin, "nashra_bench_bare").await;
            seconds
        }
    })
    .await;
    report("postgres", import, bare, follows);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(bench());
}
