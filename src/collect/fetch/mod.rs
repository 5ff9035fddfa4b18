//! HTTP fetching for every kind of source, politely and robustly: one client with a clear
//! User-Agent, connect and total time-outs, a cap on the decompressed body, charset decoding (a
//! windows-1256 page becomes the same UTF-8 text as a UTF-8 one), conditional GET with the
//! validators of the last good fetch, robots.txt for third-party hosts, a per-host limit on
//! requests in flight and a pace between them, and retries with back-off on temporary failures
//! (honouring `Retry-After`).

mod guard;
mod hosts;
mod retry;
mod robots;

use std::sync::Arc;
use std::time::Duration;

use encoding_rs::Encoding;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use url::Url;

use crate::config;
pub use guard::AllowedOrigins;
use guard::{FilteringResolver, Reach};
use hosts::Hosts;
use retry::{RetryPolicy, is_temporary, retry_after};
use robots::{RobotsCache, Rules};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("cannot fetch {url}: {reason}")]
    Transport { url: Url, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: Url, status: u16, retry_after: Option<Duration> },
    #[error("{url}: the response is larger than the {limit}-byte limit (collect.max_body_bytes)")]
    TooLarge { url: Url, limit: u64 },
    #[error("{url}: not fetched: {reason}")]
    Refused { url: Url, reason: String },
    #[error("{url}: the gzip file cannot be unpacked: {reason}")]
    BadGzip { url: Url, reason: String },
    #[error("{url}: not fetched: the server asked to be left alone for {} s more", wait.as_secs())]
    Deferred { url: Url, wait: Duration },
}

impl FetchError {
    /// Whether trying again later may work.
    pub fn is_temporary(&self) -> bool {
        match self {
            FetchError::Transport { .. } | FetchError::Deferred { .. } => true,
            FetchError::Status { status, .. } => matches!(status, 429 | 500..=599),
            FetchError::TooLarge { .. } | FetchError::Refused { .. } | FetchError::BadGzip { .. } => false,
        }
    }

    /// How long the server asked us to stay away, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::Status { retry_after, .. } => *retry_after,
            FetchError::Deferred { wait, .. } => Some(*wait),
            _ => None,
        }
    }
}

/// A document's cache validators, sent back on the next fetch (conditional GET).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

impl Validators {
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// A fetched document, decoded to text.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL after redirects.
    pub url: Url,
    pub content_type: Option<String>,
    pub body: String,
    pub validators: Validators,
}

/// What a fetch gave.
#[derive(Debug, Clone)]
pub enum Fetch {
    Fresh(Fetched),
    /// 304: unchanged since the validators were taken.
    NotModified,
}

/// How to fetch one URL.
#[derive(Debug, Clone, Copy, Default)]
pub struct FetchOptions<'a> {
    /// The validators of the last good fetch, for a conditional GET.
    pub validators: Option<&'a Validators>,
    /// Skip robots.txt (the publisher's own site, by the source's choice).
    pub ignore_robots: bool,
}

#[derive(Clone)]
pub struct Fetcher {
    inner: Arc<Inner>,
}

struct Inner {
    /// For every URL not at a source's origin: connects to public addresses only.
    public: reqwest::Client,
    /// For the origins of the configured sources, which may be on the operator's network.
    configured: reqwest::Client,
    max_body_bytes: u64,
    retry: RetryPolicy,
    hosts: Hosts,
    robots: RobotsCache,
    allowed: AllowedOrigins,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fetcher")
    }
}

impl Fetcher {
    /// A fetcher that may reach the origins in `allowed` (the operator's own sources) at any
    /// address and everything else at public addresses only.
    pub fn new(config: &config::Collect, allowed: AllowedOrigins) -> Result<Self, String> {
        let client = |public: bool| {
            let builder = reqwest::Client::builder()
                .user_agent(config.user_agent.clone())
                .connect_timeout(config.connect_timeout)
                .timeout(config.timeout)
                // Redirects are followed by `fetch`, hop by hop, each checked like a first request.
                .redirect(reqwest::redirect::Policy::none())
                // A proxy from the environment would resolve names where our resolver cannot
                // check them.
                .no_proxy()
                .pool_idle_timeout(Duration::from_secs(30));
            let resolver = if public { FilteringResolver::PUBLIC } else { FilteringResolver::SOURCE };
            let builder = builder.dns_resolver(Arc::new(resolver));
            builder.build().map_err(|e| format!("cannot build the HTTP client: {e}"))
        };
        Ok(Self {
            inner: Arc::new(Inner {
                public: client(true)?,
                configured: client(false)?,
                max_body_bytes: config.max_body_bytes,
                retry: RetryPolicy {
                    retries: config.retries,
                    base: config.retry_base,
                    max_retry_after: config.max_retry_after,
                },
                hosts: Hosts::new(config.per_host_concurrency, config.per_host_delay),
                robots: RobotsCache::default(),
                allowed,
            }),
        })
    }

    /// How many requests one host may have in flight.
    pub fn per_host_concurrency(&self) -> usize {
        self.inner.hosts.concurrency()
    }

    /// Fetches `url` (robots.txt permitting), unconditionally.
    pub async fn get(&self, url: &Url) -> Result<Fetched, FetchError> {
        match self.fetch(url, FetchOptions::default()).await? {
            Fetch::Fresh(f) => Ok(f),
            Fetch::NotModified => {
                Err(FetchError::Transport { url: url.clone(), reason: "304 to an unconditional request".into() })
            }
        }
    }

    /// Fetches `url`, following up to `MAX_REDIRECTS` redirects itself, so that every hop is
    /// checked against its host's robots.txt, limit and pace like any other request.
    pub async fn fetch(&self, url: &Url, options: FetchOptions<'_>) -> Result<Fetch, FetchError> {
        let mut current = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            // The robots switch covers the first host only (the source's own site).
            let skip_robots = options.ignore_robots && current.host_str() == url.host_str();
            match self.fetch_one(&current, options.validators, skip_robots).await? {
                Hop::Done(fetch) => return Ok(fetch),
                Hop::Redirect(next) => current = next,
            }
        }
        Err(FetchError::Transport { url: url.clone(), reason: format!("more than {MAX_REDIRECTS} redirects") })
    }

    /// One URL, with retries; a redirect is returned, not followed.
    async fn fetch_one(
        &self,
        url: &Url,
        validators: Option<&Validators>,
        skip_robots: bool,
    ) -> Result<Hop, FetchError> {
        self.inner.allowed.reach(url).map_err(|reason| FetchError::Refused { url: url.clone(), reason })?;
        if !skip_robots {
            let rules = self.robots(url).await;
            rules.check(url).map_err(|reason| FetchError::Refused { url: url.clone(), reason })?;
        }
        let host = url.host_str().unwrap_or_default();
        if let Some(wait) = self.inner.hosts.blocked(host) {
            return Err(FetchError::Deferred { url: url.clone(), wait });
        }
        let mut attempt = 0;
        loop {
            let error = match self.attempt(url, validators).await {
                Ok(hop) => return Ok(hop),
                Err(e) => e,
            };
            let wait = match &error {
                Attempt::Temporary { retry_after: Some(d), .. } if *d > self.inner.retry.max_retry_after => {
                    // Not waited for in this pass, and the host's other pages are not tried either.
                    self.inner.hosts.block(host, (*d).min(Duration::from_secs(86_400)));
                    None
                }
                Attempt::Temporary { retry_after: Some(d), .. } => Some(*d),
                Attempt::Temporary { retry_after: None, .. } => Some(self.inner.retry.backoff(attempt)),
                Attempt::Final(_) => None,
            };
            match wait {
                Some(wait) if attempt < self.inner.retry.retries => {
                    tracing::debug!(%url, attempt, ?wait, "retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                _ => return Err(error.into_error(attempt + 1)),
            }
        }
    }

    async fn robots(&self, url: &Url) -> Rules {
        let origin = robots::origin(url);
        if let Some(rules) = self.inner.robots.get(&origin) {
            return rules;
        }
        let rules = match Url::parse(&format!("{origin}/robots.txt")) {
            Err(_) => Rules::AllowAll,
            Ok(robots_url) => match self.attempt(&robots_url, None).await {
                Ok(Hop::Done(Fetch::Fresh(f))) => Rules::parse(f.body.as_bytes()),
                // A redirected robots.txt is not followed: as good as none.
                Ok(Hop::Done(Fetch::NotModified) | Hop::Redirect(_)) => Rules::AllowAll,
                Err(Attempt::Final(FetchError::Status { status, .. })) if (400..500).contains(&status) => {
                    Rules::AllowAll
                }
                Err(e) => Rules::Unavailable(e.into_error(1).to_string()),
            },
        };
        if let (Some(delay), Some(host)) = (rules.crawl_delay(), url.host_str()) {
            self.inner.hosts.slow_down(host, delay);
        }
        self.inner.robots.put(origin, rules.clone());
        rules
    }

    /// One request, paced and limited per host, through the client its origin may use.
    async fn attempt(&self, url: &Url, validators: Option<&Validators>) -> Result<Hop, Attempt> {
        let client = match self.inner.allowed.reach(url) {
            Ok(Reach::Configured) => &self.inner.configured,
            Ok(Reach::Public) => &self.inner.public,
            Err(reason) => return Err(Attempt::Final(FetchError::Refused { url: url.clone(), reason })),
        };
        let transport = |e: reqwest::Error| Attempt::Temporary {
            error: FetchError::Transport { url: url.clone(), reason: crate::errors::chain(&e) },
            retry_after: None,
        };
        let _slot = self.inner.hosts.acquire(url.host_str().unwrap_or_default()).await;
        let mut request = client.get(url.clone());
        if let Some(v) = validators {
            if let Some(etag) = &v.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(date) = &v.last_modified {
                request = request.header(IF_MODIFIED_SINCE, date);
            }
        }
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED && validators.is_some_and(|v| !v.is_empty()) {
            return Ok(Hop::Done(Fetch::NotModified));
        }
        if status.is_redirection()
            && let Some(next) = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok())
                .filter(|n| matches!(n.scheme(), "http" | "https"))
        {
            return Ok(Hop::Redirect(next));
        }
        if !status.is_success() {
            let error = FetchError::Status {
                url: url.clone(),
                status: status.as_u16(),
                retry_after: retry_after(response.headers()),
            };
            return Err(if is_temporary(status) {
                Attempt::Temporary { retry_after: error.retry_after(), error }
            } else {
                Attempt::Final(error)
            });
        }
        let header = |name| {
            response.headers().get(name).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok()).map(str::to_owned)
        };
        let content_type = header(CONTENT_TYPE);
        let validators = Validators { etag: header(ETAG), last_modified: header(LAST_MODIFIED) };
        let final_url = response.url().clone();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if (bytes.len() + chunk.len()) as u64 > self.inner.max_body_bytes {
                return Err(Attempt::Final(FetchError::TooLarge {
                    url: url.clone(),
                    limit: self.inner.max_body_bytes,
                }));
            }
            bytes.extend_from_slice(&chunk);
        }
        let bytes = gunzip_file(bytes, self.inner.max_body_bytes).map_err(|e| {
            Attempt::Final(match e {
                Gunzip::TooLarge => FetchError::TooLarge { url: url.clone(), limit: self.inner.max_body_bytes },
                Gunzip::Bad(reason) => FetchError::BadGzip { url: url.clone(), reason },
            })
        })?;
        let body = decode(&bytes, content_type.as_deref());
        Ok(Hop::Done(Fetch::Fresh(Fetched { url: final_url, content_type, body, validators })))
    }
}

enum Gunzip {
    TooLarge,
    Bad(String),
}

/// A body that is itself a gzip file — a `sitemap.xml.gz` served as `application/gzip`, not as a
/// `Content-Encoding` the client has already undone — unpacked under the same size cap, so a
/// small file that unpacks to gigabytes is refused. Any other body is returned as it came.
fn gunzip_file(bytes: Vec<u8>, limit: u64) -> Result<Vec<u8>, Gunzip> {
    use std::io::Read;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes.as_slice())
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| Gunzip::Bad(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(Gunzip::TooLarge);
    }
    Ok(out)
}

/// Redirects followed per fetch.
const MAX_REDIRECTS: usize = 5;

/// Where one request led.
enum Hop {
    Done(Fetch),
    Redirect(Url),
}

/// Why one attempt failed, and whether another may do better.
enum Attempt {
    Temporary { error: FetchError, retry_after: Option<Duration> },
    Final(FetchError),
}

impl Attempt {
    fn into_error(self, attempts: u32) -> FetchError {
        match self {
            Attempt::Final(e) => e,
            Attempt::Temporary { error: FetchError::Transport { url, reason }, .. } if attempts > 1 => {
                FetchError::Transport { url, reason: format!("{reason} (after {attempts} attempts)") }
            }
            Attempt::Temporary { error, .. } => error,
        }
    }
}

/// Decodes a document: a byte-order mark wins, then the Content-Type charset, then a
/// `<meta charset>` (or `<?xml encoding>`) near the start, then UTF-8. Invalid bytes become U+FFFD
/// rather than failing the page.
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> String {
    let declared = content_type
        .and_then(charset_param)
        .or_else(|| sniff_charset(bytes))
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    let (text, _, _) = declared.decode(bytes);
    text.into_owned()
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn sniff_charset(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(2048)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    for marker in ["charset=", "encoding="] {
        if let Some(i) = head.find(marker) {
            let rest = head[i + marker.len()..].trim_start_matches(['"', '\'', ' ']);
            let label: String =
                rest.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':')).collect();
            if !label.is_empty() {
                return Some(label);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gzip_file_is_unpacked_and_a_broken_one_named() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all("<urlset/>".as_bytes()).unwrap();
        let packed = gz.finish().unwrap();
        assert_eq!(gunzip_file(packed.clone(), 100).ok(), Some(b"<urlset/>".to_vec()));
        assert!(matches!(gunzip_file(packed.clone(), 5), Err(Gunzip::TooLarge)));
        // Cut short: the gzip magic, then not enough of the stream.
        assert!(matches!(gunzip_file(packed[..12].to_vec(), 100), Err(Gunzip::Bad(_))));
        // Not gzip at all: as it came.
        assert_eq!(gunzip_file(b"<html>".to_vec(), 100).ok(), Some(b"<html>".to_vec()));
    }

    #[test]
    fn windows_1256_pages_decode_to_arabic() {
        // «مصر» in windows-1256
        let bytes = [0xE3, 0xD5, 0xD1];
        assert_eq!(decode(&bytes, Some("text/html; charset=windows-1256")), "مصر");
        let page = b"<html><head><meta charset=\"windows-1256\"></head><body>\xE3\xD5\xD1</body></html>";
        assert!(decode(page, Some("text/html")).contains("مصر"));
    }

    #[test]
    fn iso_8859_6_pages_decode_to_arabic() {
        // «مصر» in ISO-8859-6
        assert_eq!(decode(&[0xE5, 0xD5, 0xD1], Some("text/html; charset=ISO-8859-6")), "مصر");
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        assert_eq!(decode(b"a\xFFb", None), "a\u{FFFD}b");
    }
}
