//! What `/metrics` shows Prometheus: counters and histograms kept by the stages as they work
//! (articles collected and fetch errors per source; requests, answers and bytes per route;
//! SMTP replies by class and their latency; job runs, durations, failures, lateness and skipped
//! ticks), and gauges read from the store when scraped (deliveries by status, the queue, the
//! keywords). One registry per process (`prometheus-client`, the Prometheus project's own Rust
//! client): each instance is scraped on its own. Label values are source, route and job names —
//! never an address or a token.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Source {
    pub source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Route {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteOnly {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Reply {
    /// `2xx`, `4xx`, `5xx`, or `none` (the connection failed before a reply).
    pub class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Job {
    pub job: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobOutcome {
    pub job: String,
    /// `ok`, `failed`, `stopped` or `skipped`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Status {
    pub status: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn seconds() -> Histogram {
    // 1 ms … ~33 s
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

fn long_seconds() -> Histogram {
    // 10 ms … ~3 h
    Histogram::new(exponential_buckets(0.01, 2.0, 21))
}

pub struct Metrics {
    registry: Registry,
    pub articles_collected: Family<Source, Counter>,
    pub fetch_errors: Family<Source, Counter>,
    pub http_requests: Family<Route, Counter>,
    pub http_bytes: Family<RouteOnly, Counter>,
    pub http_seconds: Histograms<RouteOnly>,
    pub smtp_replies: Family<Reply, Counter>,
    pub smtp_seconds: Histogram,
    pub job_runs: Family<JobOutcome, Counter>,
    pub job_seconds: Histograms<Job>,
    pub job_lateness_seconds: Histograms<Job>,
    pub deliveries: Family<Status, Gauge>,
    pub queue_depth: Gauge,
    pub keywords: Gauge,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("nashra");
        let m = Self {
            registry: Registry::default(),
            articles_collected: Family::default(),
            fetch_errors: Family::default(),
            http_requests: Family::default(),
            http_bytes: Family::default(),
            http_seconds: Family::new_with_constructor(seconds),
            smtp_replies: Family::default(),
            smtp_seconds: seconds(),
            job_runs: Family::default(),
            job_seconds: Family::new_with_constructor(long_seconds),
            job_lateness_seconds: Family::new_with_constructor(seconds),
            deliveries: Family::default(),
            queue_depth: Gauge::default(),
            keywords: Gauge::default(),
        };
        registry.register(
            "articles_collected",
            "Articles stored new or updated, per source",
            m.articles_collected.clone(),
        );
        registry.register(
            "fetch_errors",
            "Pages, feeds or sitemaps that could not be read, per source",
            m.fetch_errors.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, per route and status (feeds: 200 and 304)",
            m.http_requests.clone(),
        );
        registry.register("http_response_bytes", "Bytes of HTTP answers, per route", m.http_bytes.clone());
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, per route",
            m.http_seconds.clone(),
        );
        registry.register(
            "smtp_replies",
            "SMTP sends, by the class of the relay's final reply",
            m.smtp_replies.clone(),
        );
        registry.register(
            "smtp_send_duration_seconds",
            "Time to send one message over an open SMTP session",
            m.smtp_seconds.clone(),
        );
        registry.register("job_runs", "Scheduled and manual job runs, per job and outcome", m.job_runs.clone());
        registry.register("job_duration_seconds", "How long job runs took, per job", m.job_seconds.clone());
        registry.register(
            "job_lateness_seconds",
            "How long after its tick a job run started, per job",
            m.job_lateness_seconds.clone(),
        );
        registry.register(
            "deliveries",
            "Deliveries in the outbox, per status (read when scraped)",
            m.deliveries.clone(),
        );
        registry.register(
            "queue_depth",
            "Deliveries waiting to be sent: pending and sending (read when scraped)",
            m.queue_depth.clone(),
        );
        registry.register("keywords", "Keywords known to the site (read when scraped)", m.keywords.clone());
        Self { registry, ..m }
    }

    /// The text exposition format (OpenMetrics).
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// This process's metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// Counts one more for a label set.
pub fn count<L>(family: &Family<L, Counter>, labels: L, by: u64)
where
    L: Clone + std::hash::Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
{
    family.get_or_create(&labels).inc_by(by);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_counted_is_shown() {
        count(&METRICS.articles_collected, Source { source: "demo-test".into() }, 3);
        METRICS.job_lateness_seconds.get_or_create(&Job { job: "collect".into() }).observe(0.002);
        let text = METRICS.encode().unwrap();
        assert!(text.contains("nashra_articles_collected_total{source=\"demo-test\"} 3"), "{text}");
        assert!(text.contains("# TYPE nashra_job_lateness_seconds histogram"), "{text}");
        assert!(text.contains("nashra_job_lateness_seconds_bucket{le=\"0.002\",job=\"collect\"}"), "{text}");
        assert!(text.trim_end().ends_with("# EOF"));
    }
}
