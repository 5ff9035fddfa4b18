//! The configuration file as written: every value is kept as the operator typed it (mostly strings),
//! so that `validate` can report *every* bad value with its key instead of stopping at the first
//! type error. Nothing here interprets a value; defaults live here so the file can stay short.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::flex::Lenient;
use crate::spec::SelectorsCss;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub site: RawSite,
    #[serde(default)]
    pub database: RawDatabase,
    #[serde(default)]
    pub http: RawHttp,
    #[serde(default)]
    pub collect: RawCollect,
    #[serde(default)]
    pub feeds: RawFeeds,
    pub mail: RawMail,
    #[serde(default)]
    pub sources: Vec<RawSource>,
    #[serde(default)]
    pub schedules: RawSchedules,
    #[serde(default)]
    pub editions: Vec<RawEdition>,
    #[serde(default)]
    pub keywords: RawKeywords,
    #[serde(default)]
    pub demo: RawDemo,
    #[serde(default)]
    pub api: RawApi,
}

/// The publisher's own site calling nashra.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApi {
    /// The bearer token of the subscriber API (`/api/v1/subscribers`); none: the API is off.
    #[serde(default)]
    pub subscribers_token: Option<String>,
    /// The bearer token of the admin API (`/api/v1/admin`); none: the API is off.
    #[serde(default)]
    pub admin_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub base_url: String,
    #[serde(default = "default_language")]
    pub language: String,
    pub time_zone: String,
    /// Keys that sign subscribers' links; the first signs, all verify. A list, or one string
    /// of keys separated by spaces (as an environment override gives it).
    #[serde(default)]
    pub secrets: ListOrText,
    /// Whether the key kept in the database (made when no secrets were configured) still
    /// verifies links; set false to retire it once `secrets` sign everything.
    #[serde(default = "default_true")]
    pub stored_key_verifies: Lenient<bool>,
    /// The publisher's postal address or contact line, printed at the foot of every email.
    #[serde(default)]
    pub postal_address: String,
    /// Show the Hijri date beside the Gregorian one in digests, as Arabic newspapers print it.
    #[serde(default = "default_false")]
    pub hijri_date: Lenient<bool>,
}

/// A list of strings, written as a TOML list or as one string of items separated by spaces (as
/// an environment override gives it).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ListOrText {
    List(Vec<String>),
    Text(String),
}

impl Default for ListOrText {
    fn default() -> Self {
        ListOrText::List(Vec::new())
    }
}

impl ListOrText {
    pub fn items(&self) -> Vec<String> {
        match self {
            ListOrText::List(keys) => keys.iter().map(|k| k.trim().to_owned()).collect(),
            ListOrText::Text(text) => text
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    #[serde(default = "default_database_url")]
    pub url: String,
    #[serde(default = "default_max_connections")]
    pub max_connections: Lenient<u32>,
}

impl Default for RawDatabase {
    fn default() -> Self {
        Self { url: default_database_url(), max_connections: default_max_connections() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or networks); a list, or
    /// one string separated by spaces or commas (as an environment override gives it).
    #[serde(default)]
    pub trusted_proxies: ListOrText,
    /// The head of a request (and, on a kept-alive connection, the wait for the next one).
    #[serde(default = "default_header_read_timeout")]
    pub header_read_timeout_seconds: Lenient<f64>,
    /// A request from its head to the handler's answer (a trickled body included).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: Lenient<f64>,
    /// No byte moved either way on a connection (a client that stops reading its answer).
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_seconds: Lenient<f64>,
    /// How long requests in flight are given to finish at shutdown.
    #[serde(default = "default_shutdown_timeout")]
    pub shutdown_timeout_seconds: Lenient<f64>,
    #[serde(default = "default_http_max_connections")]
    pub max_connections: Lenient<u32>,
    #[serde(default = "default_max_connections_per_client")]
    pub max_connections_per_client: Lenient<u32>,
    /// Requests per second from one client on the public routes (bursts of three times as
    /// many); 0: no limit.
    #[serde(default = "default_requests_per_second_per_client")]
    pub requests_per_second_per_client: Lenient<u32>,
    #[serde(default = "default_max_requests_in_flight_per_client")]
    pub max_requests_in_flight_per_client: Lenient<u32>,
    /// The largest body of a form or a subscribers API call.
    #[serde(default = "default_max_form_bytes")]
    pub max_form_bytes: Lenient<u32>,
    /// The largest body of a push API call.
    #[serde(default = "default_max_push_bytes")]
    pub max_push_bytes: Lenient<u32>,
}

impl Default for RawHttp {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            trusted_proxies: ListOrText::default(),
            header_read_timeout_seconds: default_header_read_timeout(),
            request_timeout_seconds: default_request_timeout(),
            idle_timeout_seconds: default_idle_timeout(),
            shutdown_timeout_seconds: default_shutdown_timeout(),
            max_connections: default_http_max_connections(),
            max_connections_per_client: default_max_connections_per_client(),
            requests_per_second_per_client: default_requests_per_second_per_client(),
            max_requests_in_flight_per_client: default_max_requests_in_flight_per_client(),
            max_form_bytes: default_max_form_bytes(),
            max_push_bytes: default_max_push_bytes(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCollect {
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_seconds: Lenient<u64>,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: Lenient<u64>,
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: Lenient<u64>,
    #[serde(default = "default_max_articles")]
    pub max_articles_per_source: Lenient<u32>,
    /// Requests in flight to one host at a time.
    #[serde(default = "default_per_host_concurrency")]
    pub per_host_concurrency: Lenient<u32>,
    /// The pause between two requests to one host.
    #[serde(default = "default_per_host_delay")]
    pub per_host_delay_ms: Lenient<u64>,
    /// Attempts after the first on a temporary failure (5xx, 429, time-out).
    #[serde(default = "default_retries")]
    pub retries: Lenient<u32>,
    #[serde(default = "default_retry_base")]
    pub retry_base_ms: Lenient<u64>,
    /// The longest Retry-After waited for within a pass; longer ones postpone the source.
    #[serde(default = "default_max_retry_after")]
    pub max_retry_after_seconds: Lenient<u64>,
    #[serde(default = "default_retag_days")]
    pub retag_window_days: Lenient<u32>,
}

impl Default for RawCollect {
    fn default() -> Self {
        Self {
            user_agent: None,
            connect_timeout_seconds: default_connect_timeout(),
            timeout_seconds: default_timeout(),
            max_body_bytes: default_max_body_bytes(),
            max_articles_per_source: default_max_articles(),
            per_host_concurrency: default_per_host_concurrency(),
            per_host_delay_ms: default_per_host_delay(),
            retries: default_retries(),
            retry_base_ms: default_retry_base(),
            max_retry_after_seconds: default_max_retry_after(),
            retag_window_days: default_retag_days(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeeds {
    #[serde(default = "default_feeds_dir")]
    pub dir: String,
    #[serde(default = "default_feeds_output")]
    pub output_dir: String,
    #[serde(default = "default_keyword_feed_items")]
    pub keyword_feed_items: Lenient<u32>,
    /// A WebSub hub: feeds name it, and it is told when they change.
    #[serde(default)]
    pub websub_hub: Option<String>,
    /// A keyword known only from pages' keyword blocks gets a feed once this many articles carry it.
    #[serde(default = "default_tag_feed_min_articles")]
    pub tag_feed_min_articles: Lenient<u32>,
    /// The most memory the served feeds take (beyond it they are read from `output_dir`).
    #[serde(default = "default_feeds_memory_megabytes")]
    pub memory_megabytes: Lenient<u64>,
    /// How often a server looks for changes another process stored (one cheap query).
    #[serde(default = "default_feeds_refresh_seconds")]
    pub refresh_seconds: Lenient<u64>,
}

impl Default for RawFeeds {
    fn default() -> Self {
        Self {
            dir: default_feeds_dir(),
            output_dir: default_feeds_output(),
            keyword_feed_items: default_keyword_feed_items(),
            websub_hub: None,
            tag_feed_min_articles: default_tag_feed_min_articles(),
            memory_megabytes: default_feeds_memory_megabytes(),
            refresh_seconds: default_feeds_refresh_seconds(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMail {
    #[serde(default = "default_transport")]
    pub transport: String,
    pub from: String,
    /// The address of a mailbox piped to `nashra subscribers unsubscribe-mail`: offered in
    /// `List-Unsubscribe` beside the one-click link. None: the link only.
    #[serde(default)]
    pub unsubscribe_address: Option<String>,
    #[serde(default = "default_outbox")]
    pub outbox_dir: String,
    #[serde(default = "default_templates")]
    pub templates_dir: String,
    #[serde(default = "default_send_timeout")]
    pub send_timeout_seconds: Lenient<u64>,
    /// No longer used (retries last `retry_hours`); kept so that it can be reported.
    #[serde(default)]
    pub max_attempts: Option<toml::Value>,
    #[serde(default = "default_connections")]
    pub connections: Lenient<u32>,
    #[serde(default = "default_max_per_second")]
    pub max_per_second: Lenient<f64>,
    #[serde(default = "default_retry_first")]
    pub retry_first_seconds: Lenient<f64>,
    #[serde(default = "default_retry_max")]
    pub retry_max_seconds: Lenient<f64>,
    #[serde(default = "default_retry_hours")]
    pub retry_hours: Lenient<f64>,
    #[serde(default = "default_lease")]
    pub lease_seconds: Lenient<f64>,
    #[serde(default = "default_keep_days")]
    pub keep_days: Lenient<u32>,
    #[serde(default)]
    pub smtp: Option<RawSmtp>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: String,
    #[serde(default)]
    pub port: Option<Lenient<u16>>,
    #[serde(default = "default_tls")]
    pub tls: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default = "default_true")]
    pub enabled: Lenient<bool>,
    #[serde(default)]
    pub max_articles: Option<Lenient<u32>>,
    /// Honour robots.txt (turn off only for the publisher's own site).
    #[serde(default = "default_true")]
    pub respect_robots: Lenient<bool>,
    /// html: how many listing pages to follow through the `next` selector.
    #[serde(default)]
    pub max_pages: Option<Lenient<u32>>,
    /// feed: fetch each entry's page for the full article.
    #[serde(default = "default_false")]
    pub full_article: Lenient<bool>,
    /// push: the bearer token the CMS sends.
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub selectors: Option<SelectorsCss>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub cron: String,
    #[serde(default)]
    pub time_zone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedules {
    #[serde(default = "default_collect_schedule")]
    pub collect: RawSchedule,
    #[serde(default)]
    pub feeds: Option<RawSchedule>,
}

impl Default for RawSchedules {
    fn default() -> Self {
        Self { collect: default_collect_schedule(), feeds: None }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEdition {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    pub cron: String,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default = "default_max_per_keyword")]
    pub max_per_keyword: Lenient<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeywords {
    #[serde(default)]
    pub declared: Vec<String>,
    #[serde(default)]
    pub aliases: BTreeMap<String, Vec<String>>,
    /// Keywords that also match their suffix forms (العراق → العراقية، العراقيون).
    #[serde(default)]
    pub inflected: Vec<String>,
    /// Keywords that are proper names (never read behind the article), beside the built-in list.
    #[serde(default)]
    pub proper_names: Vec<String>,
    /// Whether the built-in list of common proper names applies (default true).
    #[serde(default)]
    pub common_proper_names: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDemo {
    #[serde(default = "default_true")]
    pub enabled: Lenient<bool>,
    #[serde(default = "default_demo_dir")]
    pub dir: String,
}

impl Default for RawDemo {
    fn default() -> Self {
        Self { enabled: Lenient::Ok(false), dir: default_demo_dir() }
    }
}

fn default_language() -> String {
    "ar".into()
}
fn default_database_url() -> String {
    "sqlite:var/nashra.db".into()
}
fn default_max_connections() -> Lenient<u32> {
    Lenient::Ok(8)
}
fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_header_read_timeout() -> Lenient<f64> {
    10.0.into()
}
fn default_request_timeout() -> Lenient<f64> {
    30.0.into()
}
fn default_idle_timeout() -> Lenient<f64> {
    60.0.into()
}
fn default_shutdown_timeout() -> Lenient<f64> {
    10.0.into()
}
fn default_http_max_connections() -> Lenient<u32> {
    1024.into()
}
fn default_max_connections_per_client() -> Lenient<u32> {
    32.into()
}
fn default_requests_per_second_per_client() -> Lenient<u32> {
    20.into()
}
fn default_max_requests_in_flight_per_client() -> Lenient<u32> {
    16.into()
}
fn default_max_form_bytes() -> Lenient<u32> {
    (64 * 1024).into()
}
fn default_max_push_bytes() -> Lenient<u32> {
    (4 * 1024 * 1024).into()
}
fn default_connect_timeout() -> Lenient<u64> {
    Lenient::Ok(10)
}
fn default_timeout() -> Lenient<u64> {
    Lenient::Ok(30)
}
fn default_max_body_bytes() -> Lenient<u64> {
    Lenient::Ok(5 * 1024 * 1024)
}
fn default_max_articles() -> Lenient<u32> {
    Lenient::Ok(50)
}
fn default_per_host_concurrency() -> Lenient<u32> {
    Lenient::Ok(2)
}
fn default_per_host_delay() -> Lenient<u64> {
    Lenient::Ok(500)
}
fn default_retries() -> Lenient<u32> {
    Lenient::Ok(2)
}
fn default_retry_base() -> Lenient<u64> {
    Lenient::Ok(1000)
}
fn default_max_retry_after() -> Lenient<u64> {
    Lenient::Ok(120)
}
fn default_retag_days() -> Lenient<u32> {
    Lenient::Ok(30)
}
fn default_feeds_dir() -> String {
    "feeds".into()
}
fn default_feeds_output() -> String {
    "var/feeds".into()
}
fn default_keyword_feed_items() -> Lenient<u32> {
    Lenient::Ok(50)
}
fn default_tag_feed_min_articles() -> Lenient<u32> {
    Lenient::Ok(3)
}
fn default_feeds_memory_megabytes() -> Lenient<u64> {
    Lenient::Ok(128)
}
fn default_feeds_refresh_seconds() -> Lenient<u64> {
    Lenient::Ok(5)
}
fn default_transport() -> String {
    "file".into()
}
fn default_outbox() -> String {
    "var/outbox".into()
}
fn default_templates() -> String {
    "email-templates".into()
}
fn default_send_timeout() -> Lenient<u64> {
    Lenient::Ok(30)
}
fn default_connections() -> Lenient<u32> {
    Lenient::Ok(4)
}
fn default_max_per_second() -> Lenient<f64> {
    Lenient::Ok(0.0)
}
fn default_retry_first() -> Lenient<f64> {
    Lenient::Ok(60.0)
}
fn default_retry_max() -> Lenient<f64> {
    Lenient::Ok(3600.0)
}
fn default_retry_hours() -> Lenient<f64> {
    Lenient::Ok(72.0)
}
fn default_lease() -> Lenient<f64> {
    Lenient::Ok(60.0)
}
fn default_keep_days() -> Lenient<u32> {
    Lenient::Ok(30)
}
fn default_tls() -> String {
    "starttls".into()
}
fn default_true() -> Lenient<bool> {
    Lenient::Ok(true)
}
fn default_false() -> Lenient<bool> {
    Lenient::Ok(false)
}
fn default_collect_schedule() -> RawSchedule {
    RawSchedule { cron: "*/15 * * * *".into(), time_zone: None }
}
fn default_max_per_keyword() -> Lenient<u32> {
    Lenient::Ok(10)
}
fn default_demo_dir() -> String {
    "demo".into()
}
