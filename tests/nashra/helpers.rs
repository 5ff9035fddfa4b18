//! The test harness: a real nashra (its HTTP server on port 0, its own database — a SQLite file
//! in a temporary folder, or a fresh PostgreSQL database — and its own outbox), serving a
//! temporary copy of the demo site that tests may edit, and a fixed clock.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use nashra::app::App;
use nashra::config::Config;
use sqlx::Connection as _;
use tempfile::TempDir;

/// The fixed "now" of the tests: 2026-11-30 07:00 in Cairo, a day after the newest demo article.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap()
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(TestApp)` once per backend, as `sqlite::name` and `postgres::name`;
/// `with OPTIONS;` first starts the instances with those `Options`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $crate::on_both_backends!(with $crate::helpers::Options::default(); $($name),*);
    };
    (with $options:expr; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backend = $crate::helpers::Backend::Sqlite;
                    if let Some(app) = $crate::helpers::TestApp::spawn_with(backend, $options).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backend = $crate::helpers::Backend::Postgres;
                    if let Some(app) = $crate::helpers::TestApp::spawn_with(backend, $options).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

/// Runs each named `async fn(Backend)` once per backend, as `sqlite::name` and `postgres::name`,
/// for tests that start their instances themselves.
#[macro_export]
macro_rules! for_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await;
                }
            )*
        }
    };
}

/// Options for a test instance beyond the defaults.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Sent through this SMTP port instead of the file outbox.
    pub smtp_port: Option<u16>,
    /// Appended to the configuration (more [[sources]], for instance). `{site}` is replaced by
    /// the base URL of the served demo folder (`http://127.0.0.1:PORT/demo/`), `{fixtures}` by
    /// that of the fixture sites' server.
    pub extra_toml: String,
    /// Start a server for the fixture sites (`TestApp::fixtures`).
    pub fixtures: bool,
    /// Lines added to the `[mail]` section (`connections = 2`…).
    pub mail_toml: String,
    /// Lines added to the `[feeds]` section.
    pub feeds_toml: String,
    /// Lines added to the `[http]` section.
    pub http_toml: String,
}

pub struct TestApp {
    pub app: Arc<App>,
    pub addr: SocketAddr,
    /// The served copy of the demo site, under `/demo/`; tests may edit it.
    pub site: PathBuf,
    pub dir: TempDir,
    pub http: reqwest::Client,
    /// The fixture sites' server, when `Options::fixtures` asked for it.
    pub fixtures: Option<crate::site::Site>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    database: Option<PgDatabase>,
}

impl TestApp {
    /// Starts an instance, or returns `None` (after saying why) if PostgreSQL was asked for and
    /// is not reachable — unless `NASHRA_TEST_REQUIRE_POSTGRES=1`, as in CI, which makes it a failure.
    pub async fn spawn_with(backend: Backend, options: Options) -> Option<TestApp> {
        let dir = tempfile::tempdir().unwrap();
        let (database, db_url) = match backend {
            Backend::Sqlite => (None, format!("sqlite:{}", dir.path().join("nashra.db").display())),
            Backend::Postgres => {
                let db = PgDatabase::create().await?;
                let url = db.url.clone();
                (Some(db), url)
            }
        };
        let site = dir.path().join("site");
        copy_dir(&repo().join("demo"), &site);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}/");
        let fixtures = if options.fixtures { Some(crate::site::Site::start().await) } else { None };
        let mut options = options;
        if let Some(f) = &fixtures {
            options.extra_toml = options.extra_toml.replace("{fixtures}", &f.base);
        }
        let text = config_toml(&base, &db_url, dir.path(), &site, &options);
        let path = dir.path().join("nashra.toml");
        std::fs::write(&path, &text).unwrap();
        let config = Config::from_toml(&text, &path, Vec::<(String, String)>::new())
            .unwrap_or_else(|e| panic!("test configuration: {e}"));
        let app = Arc::new(App::new(config).await.unwrap_or_else(|e| panic!("{e:#}")));
        // As `nashra serve` does first (declared keywords in the store, feeds built), but before the
        // test goes on, so the order keywords are created in does not race the server.
        app.build_feeds(now()).await.unwrap_or_else(|e| panic!("{e:#}"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(nashra::web::serve(listener, app.clone(), async move {
            let _ = rx.await;
        }));
        Some(TestApp { app, addr, site, dir, http: reqwest::Client::new(), fixtures, shutdown: Some(tx), database })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Edits a file of the served site (replacing `from` by `to`, which must be there) the way a
    /// publisher would: its modification time moves on, so Last-Modified changes even within
    /// the second of the last fetch.
    pub fn edit_site(&self, file: &str, from: &str, to: &str) {
        let path = self.site.join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from:?} is not in {file}");
        std::fs::write(&path, text.replace(from, to)).unwrap();
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(later).unwrap();
    }

    pub fn outbox(&self) -> PathBuf {
        self.dir.path().join("outbox")
    }

    /// The `.eml` files in the outbox, oldest name first.
    pub fn outbox_messages(&self) -> Vec<Vec<u8>> {
        read_eml_dir(&self.outbox())
    }

    pub async fn collect(&self) -> nashra::collect::CollectReport {
        self.app.collect(None, now()).await.unwrap()
    }

    pub async fn subscribe(&self, email: &str, keywords: &[&str]) {
        let email = nashra::subscribers::SubscriberEmail::parse(email).unwrap();
        let keywords: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
        nashra::subscribers::add(&self.app.store, &self.app.config, &email, &keywords, now(), false).await.unwrap();
    }

    /// Runs the daily edition by hand at `at` (its tick is `at`), and sends what is due.
    pub async fn send_digest(
        &self,
        at: DateTime<Utc>,
    ) -> (nashra::digest::EditionOutcome, nashra::delivery::SendReport) {
        let run = self.app.send_digest("daily", at, at, false).await.unwrap();
        (run.outcome, run.sent)
    }

    /// Adds `n` active readers `reader{i}@example.org` (or `reject{i}@…` where `rejected(i)`)
    /// following `keywords`, in one transaction; returns their ids in order.
    pub async fn readers(&self, n: usize, keywords: &[&str], rejected: impl Fn(usize) -> bool) -> Vec<i64> {
        let names: Vec<_> = keywords.iter().map(|k| nashra::keywords::KeywordName::parse(k).unwrap()).collect();
        let follows = nashra::keywords::follow(
            &self.app.store,
            &self.app.config,
            &names,
            nashra::store::KeywordOrigin::Subscriber,
            now(),
        )
        .await
        .unwrap();
        let rows: Vec<(String, String)> = (0..n)
            .map(|i| {
                let local = if rejected(i) { "reject" } else { "reader" };
                (format!("{local}{i}@example.org"), format!("token{i:08}"))
            })
            .collect();
        macro_rules! insert {
            ($pool:expr) => {{
                let mut tx = $pool.begin().await.unwrap();
                let mut ids = Vec::with_capacity(n);
                for (email, token) in &rows {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO subscribers (email, status, token, created_at, confirmed_at)
                         VALUES ($1, 'active', $2, $3, $3) RETURNING id",
                    )
                    .bind(email)
                    .bind(token)
                    .bind(now())
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
                    for (position, k) in follows.iter().enumerate() {
                        sqlx::query(
                            "INSERT INTO subscriber_keywords (subscriber_id, keyword_id, position) VALUES ($1, $2, $3)",
                        )
                        .bind(id)
                        .bind(k.id)
                        .bind(position as i64)
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    }
                    ids.push(id);
                }
                tx.commit().await.unwrap();
                ids
            }};
        }
        match &self.app.store {
            nashra::store::Store::Sqlite(pool) => insert!(pool),
            nashra::store::Store::Postgres(pool) => insert!(pool),
        }
    }

    /// The configuration file this instance runs on (for `nashra` processes).
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("nashra.toml")
    }

    /// Deliveries of every status, counted.
    pub async fn outbox_counts(&self) -> std::collections::BTreeMap<String, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for d in self.app.store.deliveries().await.unwrap() {
            *counts.entry(d.status().as_str().to_owned()).or_default() += 1;
        }
        counts
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(db) = self.database.take() {
            db.drop_blocking();
        }
    }
}

pub fn read_eml_dir(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<_> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect();
    paths.sort();
    paths.into_iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn config_toml(base: &str, db_url: &str, dir: &Path, site: &Path, options: &Options) -> String {
    let repo = repo();
    let mail = match options.smtp_port {
        Some(port) => {
            format!("transport = \"smtp\"\n[mail.smtp]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n")
        }
        None => "transport = \"file\"\n".to_owned(),
    };
    let site_url = format!("{base}demo/");
    format!(
        r#"
[site]
title = "مرصد الضفتين"
description = "نشرة اختبار"
base_url = "{base}"
time_zone = "Africa/Cairo"
postal_address = "مرصد الضفتين، 12 شارع النيل، القاهرة"
hijri_date = true

[database]
url = "{db_url}"
max_connections = 4

[http]
{http_extra}

[collect]
connect_timeout_seconds = 2
timeout_seconds = 5
# Tests talk to their own server: no pause between requests, quick retries.
per_host_delay_ms = 0
retry_base_ms = 10

[feeds]
dir = "{feeds}"
output_dir = "{out}"
{feeds_extra}

[demo]
enabled = true
dir = "{site}"

[schedules.collect]
cron = "*/10 * * * *"

[[editions]]
name = "daily"
title = "النشرة اليومية"
cron = "0 7 * * *"
time_zone = "Africa/Cairo"
max_per_keyword = 10

[keywords]
declared = ["الإرهاب"]

[keywords.aliases]
"داعش" = ["تنظيم الدولة", "ISIS"]

[[sources]]
name = "demo"
kind = "html"
url = "{site_url}index.html"

[sources.selectors]
links = "ul.latest a.article-link"
title = "h1.article-title"
date = ".date-line"
author = ".author"
section = ".section"
body = ".article-body"
keywords = ".keywords a[rel~=tag]"
remove = [".ad", ".print", ".share", "figure"]

{extra}

[mail]
from = "مرصد الضفتين <digest@nashra.example>"
unsubscribe_address = "unsubscribe@nashra.example"
outbox_dir = "{outbox}"
templates_dir = "{templates}"
send_timeout_seconds = 5
{mail_extra}
{mail}
"#,
        feeds = repo.join("feeds").display(),
        out = dir.join("feeds").display(),
        site = site.display(),
        outbox = dir.join("outbox").display(),
        templates = repo.join("email-templates").display(),
        extra = options.extra_toml.replace("{site}", &site_url),
        mail_extra = mail_lines(&options.mail_toml),
        http_extra = options.http_toml,
        feeds_extra = if options.feeds_toml.contains("refresh_seconds") {
            options.feeds_toml.clone()
        } else {
            // A server sees what another process stored within a second.
            format!("{}\nrefresh_seconds = 1", options.feeds_toml)
        },
    )
}

/// The test instance's `[mail]` lines: `extra`, then the defaults it does not set (tests wait
/// for retries and dead senders in fractions of a second).
fn mail_lines(extra: &str) -> String {
    let defaults = ["retry_first_seconds = 0.2", "retry_max_seconds = 1", "lease_seconds = 2"];
    let set = |line: &str| line.split('=').next().unwrap_or_default().trim().to_owned();
    let given: Vec<String> = extra.lines().map(set).collect();
    let mut lines: Vec<&str> = extra.lines().collect();
    lines.extend(defaults.iter().filter(|d| !given.contains(&set(d))));
    lines.join("\n")
}

/// A PostgreSQL database of the test's own, dropped when the test ends.
pub struct PgDatabase {
    admin: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    fn admin_url() -> String {
        std::env::var("NASHRA_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    async fn create() -> Option<PgDatabase> {
        let admin = Self::admin_url();
        let required = std::env::var("NASHRA_TEST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) if !required => {
                // Straight to stderr: libtest would swallow eprintln! in a passing test.
                let _ = writeln!(
                    std::io::stderr(),
                    "skipped: PostgreSQL is not reachable at {admin} ({e}); set NASHRA_TEST_POSTGRES_URL, \
                     or NASHRA_TEST_REQUIRE_POSTGRES=1 to make this a failure"
                );
                return None;
            }
            Err(e) => {
                panic!("PostgreSQL is required (NASHRA_TEST_REQUIRE_POSTGRES=1) but not reachable at {admin}: {e}")
            }
        };
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes).unwrap();
        let name = format!("nashra_test_{}", nashra::store::hex_digest(&bytes));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await.unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        Some(PgDatabase { admin, name, url: url.to_string() })
    }

    fn drop_blocking(self) {
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    )))
                    .execute(&mut conn)
                    .await;
                }
            });
        })
        .join();
    }
}
