//! The server under abuse, over real sockets: connections that send their headers or their body a
//! byte at a time, or nothing at all, are dropped by the header-read, request and idle timeouts
//! while feeds keep answering; a client over its connection cap or its rate is refused while the
//! others are served; bodies over their route's limit get 413; every answer has its security
//! headers; and the server stops within its shutdown deadline with a request still in flight.
//! The attacker connects from 127.0.0.2, the reader from 127.0.0.1 (two clients on one machine).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{Backend, Options, TestApp};

const ATTACKER: &str = "127.0.0.2";

async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Writes `head` then `trickle` a byte every `every` until the server closes the connection (or
/// `limit` passes); returns how long the connection lived and whether the server closed it.
async fn trickle(
    mut stream: TcpStream,
    head: &[u8],
    trickle: &[u8],
    every: Duration,
    limit: Duration,
) -> (Duration, bool) {
    let started = Instant::now();
    if stream.write_all(head).await.is_err() {
        return (started.elapsed(), true);
    }
    let mut buf = [0u8; 4096];
    let mut next = trickle.iter().cycle();
    while started.elapsed() < limit {
        // The server's answer (a 408) or its close ends the attack.
        match tokio::time::timeout(every, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (started.elapsed(), true),
            Ok(Ok(_)) => continue,
            Err(_) => {}
        }
        let byte = [*next.next().unwrap()];
        if stream.write_all(&byte).await.is_err() {
            return (started.elapsed(), true);
        }
    }
    (started.elapsed(), false)
}

fn options(http: &str) -> Options {
    Options { http_toml: http.to_owned(), ..Options::default() }
}

fn p99(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[(times.len() * 99).div_ceil(100).saturating_sub(1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_dropped_while_feeds_keep_answering() {
    let http = "header_read_timeout_seconds = 1\nrequest_timeout_seconds = 2\nidle_timeout_seconds = 2\n\
                max_connections_per_client = 40\nrequests_per_second_per_client = 0\n";
    let app = TestApp::spawn_with(Backend::Sqlite, options(http)).await.unwrap();
    let addr = app.addr;
    let limit = Duration::from_secs(20);
    let every = Duration::from_millis(300);
    let mut attacks = Vec::new();
    // Slowloris: a request head a byte at a time, never finished.
    for _ in 0..15 {
        let stream = connect_from(ATTACKER, addr).await;
        attacks.push(tokio::spawn(trickle(
            stream,
            b"GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\n",
            b"X-a: b\r\n",
            every,
            limit,
        )));
    }
    // A body promised in full and sent a byte at a time.
    for _ in 0..15 {
        let stream = connect_from(ATTACKER, addr).await;
        let head = b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000\r\n\r\n";
        attacks.push(tokio::spawn(trickle(stream, head, b"a", every, limit)));
    }
    // Connected, and silent.
    for _ in 0..10 {
        let stream = connect_from(ATTACKER, addr).await;
        attacks.push(tokio::spawn(trickle(stream, b"", b"", limit, limit)));
    }
    // Meanwhile a feed reader polls.
    let mut times = Vec::new();
    let reading = Instant::now();
    while reading.elapsed() < Duration::from_secs(4) {
        let started = Instant::now();
        let response = app.http.get(app.url("/feeds/all.atom")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap();
        times.push(started.elapsed());
    }
    let mut lived = Vec::new();
    for attack in attacks {
        let (how_long, closed) = attack.await.unwrap();
        assert!(closed, "a slow connection was still open after {how_long:?}");
        lived.push(how_long);
    }
    let longest = lived.iter().max().unwrap();
    println!(
        "figures: {} slow connections dropped, the longest after {longest:?}; {} feed requests meanwhile, p99 {:?}",
        lived.len(),
        times.len(),
        p99(times.clone())
    );
    assert!(*longest < Duration::from_secs(6), "the timeouts are 1-2 s: {lived:?}");
    assert!(times.len() > 20, "the feed kept answering: {} requests in 4 s", times.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_over_its_caps_is_refused_and_the_others_are_served() {
    let http = "max_connections_per_client = 5\nrequests_per_second_per_client = 1\n";
    let app = TestApp::spawn_with(Backend::Sqlite, options(http)).await.unwrap();
    // Five connections held open; the sixth from the same address is closed at once.
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from(ATTACKER, app.addr).await);
    }
    let mut sixth = connect_from(ATTACKER, app.addr).await;
    let _ = sixth.write_all(b"GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), sixth.read_to_end(&mut buf)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the sixth connection was served: {read:?}");
    // Requests over the rate (1 a second, bursts of 3): 429 with Retry-After, for this client only.
    let mut statuses = Vec::new();
    let started = Instant::now();
    for _ in 0..10 {
        let response = app.http.get(app.url("/feeds/all.atom")).send().await.unwrap();
        if response.status() == 429 {
            assert_eq!(response.headers()["retry-after"], "1");
        }
        statuses.push(response.status().as_u16());
    }
    let allowed = 3 + started.elapsed().as_secs() as usize + 1;
    assert!(statuses[..3].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(statuses.iter().filter(|s| **s == 200).count() <= allowed, "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    // Health answers whatever the rate, and so does another client.
    assert_eq!(app.http.get(app.url("/healthz")).send().await.unwrap().status(), 200);
    let mut other = held.pop().unwrap();
    other.write_all(b"GET /feeds/all.atom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut answer = String::new();
    other.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{}", answer.lines().next().unwrap_or_default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_their_security_headers_and_bodies_their_limits() {
    let app = TestApp::spawn_with(Backend::Sqlite, options("max_form_bytes = 1000\n")).await.unwrap();
    let page = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    let csp = h["content-security-policy"].to_str().unwrap();
    for rule in ["default-src 'none'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"] {
        assert!(csp.contains(rule), "{csp}");
    }
    assert!(!csp.contains("script-src"), "no script is allowed at all: {csp}");
    let feed = app.http.get(app.url("/feeds/all.atom")).send().await.unwrap();
    assert_eq!(feed.headers()["x-content-type-options"], "nosniff");
    assert!(feed.headers().get("content-security-policy").is_none(), "a feed is not a page");
    let missing = app.http.get(app.url("/nothing-here")).send().await.unwrap();
    assert_eq!(missing.headers()["x-content-type-options"], "nosniff");
    // A form body over `max_form_bytes`.
    let big = format!("email=a%40example.org&q={}", "x".repeat(2000));
    let posted = app
        .http
        .post(app.url("/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", app.url(""))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 413);
    // The push API has its own, larger limit: 2,000 bytes are not too many there.
    let pushed = app
        .http
        .post(app.url("/api/v1/articles"))
        .header("content-type", "application/json")
        .body(format!("{{\"articles\": [], \"x\": \"{}\"}}", "x".repeat(2000)))
        .send()
        .await
        .unwrap();
    assert_ne!(pushed.status(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stops_within_its_deadline_with_a_request_in_flight() {
    let http = "shutdown_timeout_seconds = 1\nheader_read_timeout_seconds = 60\nrequest_timeout_seconds = 60\n\
                idle_timeout_seconds = 60\n";
    let app = TestApp::spawn_with(Backend::Sqlite, options(http)).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(nashra::web::serve(listener, app.app.clone(), async move {
        let _ = rx.await;
    }));
    // A request whose body never comes, and a kept-alive connection at rest.
    let mut stuck = connect_from(ATTACKER, addr).await;
    stuck
        .write_all(b"POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nemail=")
        .await
        .unwrap();
    let mut idle = connect_from(ATTACKER, addr).await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let asked = Instant::now();
    tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server).await.expect("the server stopped").unwrap().unwrap();
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(3), "stopped after {took:?} with a 1 s deadline");
    // Both connections are closed.
    let closed = |r: std::io::Result<usize>| matches!(r, Ok(0) | Err(_));
    assert!(closed(tokio::time::timeout(Duration::from_secs(2), idle.read(&mut buf)).await.unwrap()));
    assert!(closed(tokio::time::timeout(Duration::from_secs(2), stuck.read(&mut buf)).await.unwrap()));
    // Nothing listens any more.
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed");
}

/// `/healthz` says the process is alive; `/readyz` says whether it can work: database, migrations
/// and a recent good collection, each with its finding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_waits_for_a_good_collection() {
    let app = TestApp::spawn_with(Backend::Sqlite, Options::default()).await.unwrap();
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!((health.status().as_u16(), health.text().await.unwrap()), (200, "ok\n".to_owned()));
    let ready = |app: &TestApp| {
        let request = app.http.get(app.url("/readyz"));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, serde_json::from_slice::<serde_json::Value>(&response.bytes().await.unwrap()).unwrap())
        }
    };
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["database"]["status"], "ok");
    assert_eq!(body["checks"]["migrations"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["collection"]["status"], "failing", "{body}");
    // A collection run as the scheduler runs it, now.
    let now = chrono::Utc::now();
    let job = nashra::schedule::Job::Collect(None);
    nashra::schedule::run_job(&app.app, &job, now, "test", now).await.unwrap();
    let (status, body) = ready(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true);
}

/// `/metrics` shows what the instance did, in the Prometheus text format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_collection_feed_answers_jobs_and_the_outbox() {
    let app = TestApp::spawn_with(Backend::Sqlite, Options::default()).await.unwrap();
    app.subscribe("reader@example.org", &["العراق"]).await;
    let now = chrono::Utc::now();
    let job = nashra::schedule::Job::Collect(None);
    nashra::schedule::run_job(&app.app, &job, now, "schedule", now).await.unwrap();
    let feed = app.http.get(app.url("/feeds/all.atom")).send().await.unwrap();
    let etag = feed.headers()["etag"].clone();
    assert_eq!(feed.status(), 200);
    let again = app.http.get(app.url("/feeds/all.atom")).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(value("nashra_articles_collected_total{source=\"demo\"}") >= 11.0);
    assert!(value("nashra_http_requests_total{route=\"/feeds/{file}\",status=\"200\"}") >= 1.0);
    assert!(value("nashra_http_requests_total{route=\"/feeds/{file}\",status=\"304\"}") >= 1.0);
    assert!(value("nashra_http_response_bytes_total{route=\"/feeds/{file}\"}") > 1000.0);
    assert!(value("nashra_http_requests_total{route=\"/demo\",status=\"200\"}") >= 11.0, "the demo pages collected");
    assert!(value("nashra_job_runs_total{job=\"collect\",outcome=\"ok\"}") >= 1.0);
    assert!(value("nashra_job_lateness_seconds_count{job=\"collect\"}") >= 1.0);
    assert!(value("nashra_keywords ") >= 1.0);
    assert!(value("nashra_queue_depth ") >= 0.0);
    // (A family shows once it has a sample: no SMTP reply or delivery here yet.)
    for family in ["nashra_fetch_errors", "nashra_smtp_send_duration_seconds", "nashra_queue_depth"] {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family} in\n{text}");
    }
    // (`cargo test` runs every test in one process: other tests' routes are here too.)
    assert!(!text.contains('@'), "no address");
    assert!(
        text.lines().filter(|l| l.contains("/unsubscribe/")).all(|l| l.contains("/unsubscribe/{token}")),
        "routes, never paths with a token"
    );
    let sample: Vec<&str> = text.lines().filter(|l| !l.contains("_bucket{")).take(60).collect();
    println!("figures: /metrics sample\n{}", sample.join("\n"));
}

/// The idle timeout counts from a connection's own start, whenever the server started: a
/// connection opened long after start-up whose request comes a moment later is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_connection_long_after_start_up_is_not_idle() {
    let app = TestApp::spawn_with(Backend::Sqlite, options("idle_timeout_seconds = 1\n")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for _ in 0..5 {
        let mut stream = connect_from(ATTACKER, app.addr).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    }
}
