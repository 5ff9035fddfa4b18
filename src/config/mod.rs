//! Configuration: the operator's TOML file plus `NASHRA_*` environment overrides, read once at the
//! edge into typed values (time zones, URLs, cron schedules, CSS selectors, mailboxes). Past this
//! module nothing sees a raw string from the file. `load` reports *every* problem it finds, each
//! with its key, the value and the reason, so `check-config` and `serve` can print them all.
//!
//! Relative paths in the file (feeds, templates, outbox, output, the SQLite database) are resolved
//! against the directory of the configuration file, never against the working directory.

mod env;
mod flex;
mod raw;
mod validate;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use lettre::message::Mailbox;
use url::Url;

use scraper::Selector;

pub use crate::spec::Problem;
pub use crate::spec::Secret;
use crate::spec::{ArticleSelectors, DatabaseUrl, FeedSpec, Schedule};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("configuration file {} has {} problem(s):\n{}", path.display(), problems.len(), list(problems))]
    Invalid { path: PathBuf, problems: Vec<Problem> },
}

impl ConfigError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n")
}

#[derive(Debug, Clone)]
pub struct Config {
    /// The file this configuration was read from.
    pub file: PathBuf,
    pub site: Site,
    pub database: Database,
    pub http: Http,
    pub collect: Collect,
    pub feeds: Feeds,
    pub mail: Mail,
    pub sources: Vec<Source>,
    pub schedules: Schedules,
    pub editions: Vec<Edition>,
    pub keywords: Keywords,
    pub api: Api,
    /// Folder of the bundled demo site, served under `/demo/` when enabled.
    pub demo_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub title: String,
    pub description: String,
    pub base_url: Url,
    pub language: String,
    pub time_zone: Tz,
    /// Keys that sign subscribers' links (the first signs, all verify); none configured: a
    /// random key kept in the database.
    pub secrets: Vec<Secret>,
    /// The key kept in the database still verifies links (always true without `secrets`).
    pub stored_key_verifies: bool,
    /// The publisher's postal address or contact line (empty: none), at the foot of emails.
    pub postal_address: String,
    /// Digests show the Hijri date beside the Gregorian one.
    pub hijri_date: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Api {
    /// The bearer token of the subscriber API; `None`: the API answers 401 to everyone.
    pub subscribers_token: Option<Secret>,
    /// The bearer token of the admin API; `None`: it answers 401 to everyone.
    pub admin_token: Option<Secret>,
}

#[derive(Debug, Clone)]
pub struct Database {
    pub url: DatabaseUrl,
    pub max_connections: u32,
}

#[derive(Debug, Clone)]
pub struct Http {
    pub listen: SocketAddr,
    /// Reverse proxies in front of the server: behind one of them, the client is the address
    /// its `X-Forwarded-For` names (the nearest hop not itself a trusted proxy).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// See `web::server` and `web::guard`.
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_client: usize,
    /// 0: no limit.
    pub requests_per_second_per_client: u32,
    pub max_requests_in_flight_per_client: usize,
    pub max_form_bytes: usize,
    pub max_push_bytes: usize,
}

#[derive(Debug, Clone)]
pub struct Collect {
    pub user_agent: String,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub max_body_bytes: u64,
    pub max_articles_per_source: u32,
    pub per_host_concurrency: usize,
    pub per_host_delay: Duration,
    pub retries: u32,
    pub retry_base: Duration,
    pub max_retry_after: Duration,
    /// How far back a keyword new to the vocabulary is matched against stored articles.
    pub retag_window: chrono::Duration,
}

#[derive(Debug, Clone)]
pub struct Feeds {
    pub dir: PathBuf,
    pub output_dir: PathBuf,
    pub keyword_feed_items: u32,
    /// A WebSub hub (`rel="hub"` in every feed, pinged after a build that changed feeds).
    pub websub_hub: Option<Url>,
    /// A keyword known only from pages' keyword blocks gets a feed once this many articles carry
    /// it (operators' and subscribers' keywords always have one).
    pub tag_feed_min_articles: u32,
    /// The most bytes of feeds held in memory; the others are read from `output_dir` when asked.
    pub memory_bytes: u64,
    /// How often a server looks for changes stored by another process.
    pub refresh: Duration,
    /// The declarations read from `dir`, one per file, sorted by id.
    pub declared: Vec<FeedSpec>,
}

#[derive(Debug, Clone)]
pub struct Mail {
    pub transport: MailTransport,
    pub from: Mailbox,
    /// A mailbox piped to `nashra subscribers unsubscribe-mail`, offered as a `mailto:`
    /// unsubscribe; `None`: the one-click link only.
    pub unsubscribe_address: Option<lettre::Address>,
    pub templates_dir: PathBuf,
    /// The longest one message may take to send (lettre's own time-out covers the connection only).
    pub send_timeout: Duration,
    /// SMTP connections used at once.
    pub connections: u32,
    /// A ceiling on messages per second, if any.
    pub max_per_second: Option<f64>,
    /// The wait before the first retry of a temporary failure; it doubles each time, up to
    /// `retry_max`, with some jitter.
    pub retry_first: Duration,
    pub retry_max: Duration,
    /// How long a message is retried before it fails for good (like an MTA's queue lifetime).
    pub retry_for: Duration,
    /// A claim's lease (renewed while sending): how soon a dead sender's messages are sent again.
    pub lease: Duration,
    /// Finished messages are kept this long, then compacted away.
    pub keep: chrono::Duration,
}

#[derive(Debug, Clone)]
pub enum MailTransport {
    /// Each message is written as an `.eml` file into the folder.
    File {
        outbox_dir: PathBuf,
    },
    Smtp(Smtp),
}

#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// User name and password.
    pub credentials: Option<(String, Secret)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP: for a relay on the same host or a test server.
    None,
    StartTls,
    /// Implicit TLS (SMTPS, usually port 465).
    Tls,
}

#[derive(Debug, Clone)]
pub struct Source {
    pub name: String,
    pub kind: SourceKind,
    pub time_zone: Tz,
    pub enabled: bool,
    pub max_articles: u32,
    /// Honour robots.txt (off only for the publisher's own site).
    pub respect_robots: bool,
    /// How to read an article page; `None`: page metadata and the readability fallback.
    pub article: Option<ArticleSelectors>,
}

#[derive(Debug, Clone)]
pub enum SourceKind {
    /// Listing pages whose links lead to article pages.
    Html {
        url: Url,
        /// The article links on a listing page.
        links: Selector,
        /// The link to the next listing page, followed up to `max_pages` pages.
        next: Option<Selector>,
        max_pages: u32,
    },
    /// An upstream RSS, Atom or JSON feed; with `full_article`, each entry's page is read too.
    Feed { url: Url, full_article: bool },
    /// A sitemap, sitemap index or Google News sitemap.
    Sitemap { url: Url },
    /// Articles pushed by the publisher's CMS to `POST /api/v1/articles` with this bearer token.
    Push { token: Secret },
}

impl SourceKind {
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::Html { .. } => "html",
            SourceKind::Feed { .. } => "feed",
            SourceKind::Sitemap { .. } => "sitemap",
            SourceKind::Push { .. } => "push",
        }
    }

    /// The URL nashra fetches, if it fetches anything.
    pub fn url(&self) -> Option<&Url> {
        match self {
            SourceKind::Html { url, .. } | SourceKind::Feed { url, .. } | SourceKind::Sitemap { url } => Some(url),
            SourceKind::Push { .. } => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Schedules {
    /// Collection, followed by tagging and a feed build.
    pub collect: Schedule,
    /// An extra feed rebuild, if wanted apart from collection.
    pub feeds: Option<Schedule>,
}

#[derive(Debug, Clone)]
pub struct Edition {
    pub name: String,
    /// Shown to subscribers (e.g. «النشرة اليومية»).
    pub title: String,
    pub schedule: Schedule,
    pub max_per_keyword: u32,
}

#[derive(Debug, Clone, Default)]
pub struct Keywords {
    /// Keywords the operator publishes whether or not anyone follows them.
    pub declared: Vec<String>,
    /// canonical keyword → other spellings and names that mean it.
    pub aliases: Vec<(String, Vec<String>)>,
    /// Keywords matched with their suffix forms too (the nisba adjective and its plurals,
    /// attached pronouns): «العراق» also finds «العراقية», «العراقيون». Off for the others,
    /// because short words meet other words that way («أمنية» is also "a wish").
    pub inflected: Vec<String>,
    /// Keywords that are proper names: the article before them is not a proclitic, so
    /// «القطر» (the diameter) is not «قطر» and «الحماس» (enthusiasm) not «حماس».
    pub proper_names: Vec<String>,
    /// Whether the built-in list of common proper names (countries, cities, organisations
    /// written without the article) applies too.
    pub common_proper_names: bool,
}

impl Config {
    /// What is allowed but unsafe: credentials that would cross the network in clear. Logged
    /// at start and listed by `check-config`.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if let MailTransport::Smtp(smtp) = &self.mail.transport
            && smtp.credentials.is_some()
            && smtp.tls == SmtpTls::None
            && !is_local_host(&smtp.host)
        {
            warnings.push(format!(
                "mail.smtp: the user name and password would go to {} unencrypted (tls = \"none\"); use \
                 \"starttls\" or \"tls\"",
                smtp.host
            ));
        }
        if let DatabaseUrl::Postgres(raw) = &self.database.url
            && let Ok(url) = Url::parse(raw)
        {
            let mode = url.query_pairs().find(|(k, _)| k == "sslmode").map(|(_, v)| v.into_owned());
            let has_password = url.password().is_some() || url.query_pairs().any(|(k, _)| k == "password");
            let host = url.host_str().unwrap_or("localhost");
            if has_password
                && !is_local_host(host)
                && !matches!(mode.as_deref(), Some("require" | "verify-ca" | "verify-full"))
            {
                warnings.push(format!(
                    "database.url: the password may go to {host} unencrypted (sslmode is {}); add \
                     sslmode=require or verify-full",
                    mode.as_deref().unwrap_or("prefer by default")
                ));
            }
        }
        let tokens = self.api.subscribers_token.is_some()
            || self.api.admin_token.is_some()
            || self.sources.iter().any(|s| matches!(s.kind, SourceKind::Push { .. }));
        if tokens && self.site.base_url.scheme() == "http" && !self.site.base_url.host_str().is_some_and(is_local_host)
        {
            warnings.push(format!(
                "site.base_url is {}: the APIs' bearer tokens would cross the network in clear; serve \
                 nashra behind HTTPS",
                self.site.base_url
            ));
        }
        warnings
    }

    /// Reads `path` with overrides from the process environment.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with_env(path, std::env::vars())
    }

    /// Reads `path` with overrides from `vars` (tests pass their own).
    pub fn load_with_env<I>(path: &Path, vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_toml(&text, path, vars)
    }

    /// Reads configuration text as if it were the file at `path`.
    pub fn from_toml<I>(text: &str, path: &Path, vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let invalid = |problems| ConfigError::Invalid { path: path.to_owned(), problems };
        let mut doc: toml::Table = toml::from_str(text)
            .map_err(|e| invalid(vec![Problem::new(path.display().to_string(), "", toml_reason(&e, text))]))?;
        let mut vars: Vec<(String, String)> = vars.into_iter().collect();
        let database_url = take_database_url(&mut vars);
        let mut problems = env::apply(&mut doc, vars);
        let raw: raw::RawConfig = match doc.try_into() {
            Ok(raw) => raw,
            Err(e) => {
                problems.push(Problem::new(path.display().to_string(), "", toml_reason(&e, "")));
                return Err(invalid(problems));
            }
        };
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        match validate::validate(raw, path, &base_dir, database_url, problems) {
            Ok(config) => Ok(config),
            Err(problems) => Err(invalid(problems)),
        }
    }
}

/// `localhost` or a loopback address: traffic to it does not leave the machine.
fn is_local_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn take_database_url(vars: &mut Vec<(String, String)>) -> Option<String> {
    let i = vars.iter().position(|(k, _)| k == "DATABASE_URL")?;
    Some(vars.swap_remove(i).1)
}

/// A TOML error as a problem's reason: what is wrong and where (line and column), never the
/// offending line itself — it may hold a password. A message that names a secret key (password,
/// token, secret) is not repeated at all: it could quote the value.
fn toml_reason(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().trim().replace('\n', "; ");
    let span = e.span().filter(|s| s.start <= text.len());
    // Without a place in the text, the full message names the key.
    let said = if span.is_some() { message.clone() } else { e.to_string() };
    if crate::spec::names_a_secret(&said) {
        return "a password, token or secret has a value that cannot be read (not shown here); check its \
                quotes and type"
            .into();
    }
    match span {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or_default();
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
            format!("{message} (line {line}, column {column})")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(extra: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let repo = env!("CARGO_MANIFEST_DIR");
        let text = format!(
            r#"
            [site]
            title = "موقع"
            base_url = "https://example.org/nashra"
            time_zone = "Africa/Cairo"
            [feeds]
            dir = "{repo}/feeds"
            [mail]
            from = "نشرة <n@example.org>"
            templates_dir = "{repo}/email-templates"
            {extra}
            "#
        );
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_toml(&text, Path::new("/etc/nashra/nashra.toml"), vars)
    }

    #[test]
    fn a_minimal_file_gets_the_embedded_defaults() {
        let c = load("", &[]).unwrap();
        assert_eq!(c.site.base_url.as_str(), "https://example.org/nashra/", "links join under the base path");
        assert_eq!(c.database.url, DatabaseUrl::Sqlite("/etc/nashra/var/nashra.db".into()));
        assert!(matches!(&c.mail.transport, MailTransport::File { outbox_dir } if outbox_dir.ends_with("var/outbox")));
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.feeds.declared.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["all", "iraq"]);
        assert!(c.demo_dir.is_none());
    }

    #[test]
    fn every_unreadable_value_is_reported_with_its_key() {
        let err = load(
            "[collect]\ntimeout_seconds = \"soon\"\nmax_body_bytes = 0\n[[editions]]\nname = \"d\"\ncron = \"0 7 * * *\"\nmax_per_keyword = -1\n",
            &[("NASHRA_MAIL__CONNECTIONS", "many"), ("NASHRA_MAIL__RETRY_HOURS", "-1"), ("DATABASE_URL", "mysql://x")],
        )
        .unwrap_err();
        let keys: Vec<&str> = err.problems().iter().map(|p| p.key.as_str()).collect();
        for key in [
            "DATABASE_URL",
            "collect.timeout_seconds",
            "collect.max_body_bytes",
            "mail.connections",
            "mail.retry_hours",
            "editions[0].max_per_keyword",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
    }

    #[test]
    fn link_secrets_are_long_and_never_echoed() {
        let short = "tooshort-but-secret";
        let err = load("", &[("NASHRA_SITE__SECRETS", short)]).unwrap_err();
        let problem = &err.problems()[0];
        assert_eq!(problem.key, "site.secrets[0]");
        assert!(!problem.to_string().contains(short), "{problem}");
        assert!(!err.to_string().contains(short), "{err}");
        let long = "0123456789abcdef0123456789abcdef";
        let c = load("", &[("NASHRA_SITE__SECRETS", &format!("{long} old{long}"))]).unwrap();
        assert_eq!(c.site.secrets, [Secret::new(long), Secret::new(format!("old{long}"))]);
        assert!(!format!("{c:?}").contains(long), "not in debug output");
        assert!(load("", &[]).unwrap().site.secrets.is_empty());
    }

    #[test]
    fn a_file_that_is_not_toml_is_located_without_quoting_its_lines() {
        let path = Path::new("nashra.toml");
        let text = "[mail.smtp]\nhost = \"relay\"\npassword = \"hunter2hunter2\nport = 25\n";
        let err = Config::from_toml(text, path, Vec::<(String, String)>::new()).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        let text = "[site]\ntitle = \"t\"\n[mail.smtp]\npassword = 12345678\n";
        let err = Config::from_toml(text, path, Vec::<(String, String)>::new()).unwrap_err().to_string();
        assert!(!err.contains("12345678"), "{err}");
        let text = "[site]\ntitle = \n";
        let err = Config::from_toml(text, path, Vec::<(String, String)>::new()).unwrap_err().to_string();
        assert!(err.contains("line 2, column"), "{err}");
    }

    #[test]
    fn credentials_that_would_cross_the_network_in_clear_are_warned_of() {
        let smtp = |host: &str, tls: &str| {
            let vars = [
                ("NASHRA_MAIL__TRANSPORT", "smtp"),
                ("NASHRA_MAIL__SMTP__HOST", host),
                ("NASHRA_MAIL__SMTP__TLS", tls),
                ("NASHRA_MAIL__SMTP__USERNAME", "u"),
                ("NASHRA_MAIL__SMTP__PASSWORD", "p4ssw0rd-p4ssw0rd"),
            ];
            load("", &vars).unwrap().warnings()
        };
        let warnings = smtp("relay.example", "none");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("mail.smtp:") && !warnings[0].contains("p4ssw0rd"), "{warnings:?}");
        assert!(smtp("127.0.0.1", "none").is_empty(), "a relay on this machine");
        assert!(smtp("relay.example", "starttls").is_empty());
        let db = |url: &str| load("", &[("DATABASE_URL", url)]).unwrap().warnings();
        assert_eq!(db("postgres://u:pw@db.example/n").len(), 1);
        assert!(db("postgres://u:pw@db.example/n")[0].starts_with("database.url:"));
        assert!(!db("postgres://u:pw@db.example/n")[0].contains("pw@"));
        assert!(db("postgres://u:pw@db.example/n?sslmode=verify-full").is_empty());
        assert!(db("postgres://u:pw@127.0.0.1/n").is_empty());
        assert!(db("postgres://u@db.example/n").is_empty(), "no password");
        let token = ("NASHRA_API__SUBSCRIBERS_TOKEN", "0123456789abcdef0123456789abcdef");
        let http = ("NASHRA_SITE__BASE_URL", "http://news.example/");
        assert_eq!(load("", &[token, http]).unwrap().warnings().len(), 1);
        assert!(load("", &[token]).unwrap().warnings().is_empty(), "https");
    }

    #[test]
    fn the_subscriber_api_token_is_long_and_never_echoed() {
        let short = "short-api-token";
        let err = load("", &[("NASHRA_API__SUBSCRIBERS_TOKEN", short)]).unwrap_err();
        assert_eq!(err.problems()[0].key, "api.subscribers_token");
        assert!(!err.to_string().contains(short), "{err}");
        let long = "0123456789abcdef0123456789abcdef";
        let c = load("", &[("NASHRA_API__SUBSCRIBERS_TOKEN", long)]).unwrap();
        assert_eq!(c.api.subscribers_token.as_ref().map(Secret::expose), Some(long));
        assert!(!format!("{c:?}").contains(long), "not in debug output either");
        assert!(load("", &[]).unwrap().api.subscribers_token.is_none(), "off unless configured");
        let err = load("", &[("NASHRA_SITE__HIJRI_DATE", "sometimes")]).unwrap_err();
        assert_eq!(err.problems()[0].key, "site.hijri_date");
        assert!(load("", &[("NASHRA_SITE__HIJRI_DATE", "true")]).unwrap().site.hijri_date);
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let c = load("", &[("NASHRA_HTTP__TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 fd00::/8")]).unwrap();
        let nets: Vec<String> = c.http.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(nets, ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]);
        let err = load("", &[("NASHRA_HTTP__TRUSTED_PROXIES", "10.0.0.0/8 proxy.example")]).unwrap_err();
        assert_eq!(err.problems()[0].key, "http.trusted_proxies[1]");
        assert!(load("", &[]).unwrap().http.trusted_proxies.is_empty());
    }

    #[test]
    fn the_stored_key_is_retired_only_when_secrets_sign() {
        let err = load("", &[("NASHRA_SITE__STORED_KEY_VERIFIES", "false")]).unwrap_err();
        assert_eq!(err.problems()[0].key, "site.stored_key_verifies");
        let long = "0123456789abcdef0123456789abcdef";
        let c = load("", &[("NASHRA_SITE__STORED_KEY_VERIFIES", "false"), ("NASHRA_SITE__SECRETS", long)]).unwrap();
        assert!(!c.site.stored_key_verifies);
        assert!(load("", &[]).unwrap().site.stored_key_verifies);
    }

    #[test]
    fn smtp_needs_its_section_and_known_tls() {
        let err = load("", &[("NASHRA_MAIL__TRANSPORT", "smtp")]).unwrap_err();
        assert_eq!(err.problems()[0].key, "mail.smtp");
        let c = load("[mail.smtp]\nhost = \"relay\"\ntls = \"none\"\n", &[("NASHRA_MAIL__TRANSPORT", "smtp")]).unwrap();
        assert!(matches!(&c.mail.transport, MailTransport::Smtp(s) if s.port == 25 && s.tls == SmtpTls::None));
    }
}
