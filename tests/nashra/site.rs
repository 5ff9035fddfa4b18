//! A publisher's web server for the tests: serves the fixture sites (tests/fixtures/sites) the
//! way a real server would — with ETags and 304s, the legacy pages as windows-1256 bytes with no
//! charset header — and a few misbehaving paths: `/flaky` (503 with Retry-After twice, then a
//! page), `/limited` (429, come back in an hour), `/big` (6 MB), `/bomb.gz` (a gzip file of
//! 20 KB that unpacks to 20 MB), `/slow` (3 s), `/private/…` (for robots.txt), `/away` (a redirect chain through `/away2` to
//! wherever `set_away` says). Any `X.xml.gz` is
//! the fixture `X.xml` as a gzip file (`application/gzip`, no Content-Encoding), as sitemaps are
//! often served. Every request's path is recorded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::helpers::repo;

#[derive(Default)]
struct Shared {
    base: Mutex<String>,
    requests: Mutex<Vec<String>>,
    robots: Mutex<Option<String>>,
    away: Mutex<Option<String>>,
    flaky: AtomicUsize,
}

pub struct Site {
    pub base: String,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Site {
    pub async fn start() -> Site {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/", listener.local_addr().unwrap());
        let shared = Arc::new(Shared::default());
        *shared.base.lock().unwrap() = base.clone();
        let router = Router::new().fallback(serve).with_state(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
        });
        Site { base, shared, shutdown: Some(tx) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }

    /// The paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn forget_requests(&self) {
        self.shared.requests.lock().unwrap().clear();
    }

    pub fn set_robots(&self, text: &str) {
        *self.shared.robots.lock().unwrap() = Some(text.to_owned());
    }

    /// Where `/away` leads, through `/away2`.
    pub fn set_away(&self, url: &str) {
        *self.shared.away.lock().unwrap() = Some(url.to_owned());
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn content_type(path: &str) -> &'static str {
    if path.ends_with(".gz") {
        "application/gzip"
    } else if path.ends_with(".xml") {
        "application/xml"
    } else if path.ends_with(".json") {
        "application/json"
    } else {
        "text/html"
    }
}

async fn serve(State(shared): State<Arc<Shared>>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_owned();
    shared.requests.lock().unwrap().push(path.clone());
    match path.as_str() {
        "/robots.txt" => {
            return match shared.robots.lock().unwrap().clone() {
                Some(text) => text.into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            };
        }
        "/flaky" => {
            if shared.flaky.fetch_add(1, Ordering::SeqCst) < 2 {
                return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "0")], "busy").into_response();
            }
            return "<html><body><p>ok</p></body></html>".into_response();
        }
        "/limited" => {
            return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "3600")], "slow down").into_response();
        }
        "/big" => return vec![b'x'; 6 * 1024 * 1024].into_response(),
        "/bomb.gz" => return gzip(&vec![0; 20 * 1024 * 1024]).into_response(),
        "/moved" => return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, "/levant/index.html")]).into_response(),
        "/moved-private" => return (StatusCode::FOUND, [(header::LOCATION, "/private/page")]).into_response(),
        "/away" => return (StatusCode::FOUND, [(header::LOCATION, "/away2")]).into_response(),
        "/away2" => {
            let away = shared.away.lock().unwrap().clone().unwrap_or_default();
            return (StatusCode::FOUND, [(header::LOCATION, away)]).into_response();
        }
        "/loop" => return (StatusCode::FOUND, [(header::LOCATION, "/loop")]).into_response(),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            return "late".into_response();
        }
        p if p.starts_with("/private/") => return "<html><body>private</body></html>".into_response(),
        _ => {}
    }
    let root = repo().join("tests/fixtures/sites");
    let (path, gzipped) = match path.strip_suffix(".gz") {
        Some(p) => (p.to_owned(), true),
        None => (path, false),
    };
    let rel = path.trim_start_matches('/');
    let file = match rel.split_once('/') {
        Some(("articles", name)) => root.join("jsonld-modern").join(name),
        Some((dir, name)) => root.join(dir).join(name),
        None => root.join("feeds-and-sitemaps").join(rel),
    };
    if rel.contains("..") {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Ok(mut bytes) = std::fs::read(&file) else { return StatusCode::NOT_FOUND.into_response() };
    if path.ends_with(".xml") {
        let base = shared.base.lock().unwrap().clone();
        bytes = String::from_utf8_lossy(&bytes).replace("http://SITE/", &base).into_bytes();
    }
    if gzipped {
        bytes = gzip(&bytes);
    }
    let etag = format!("\"{:x}\"", {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        h.finish()
    });
    if headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    let served = if gzipped { format!("{path}.gz") } else { path };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&served)));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}
