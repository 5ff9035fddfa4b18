//! The connections: nashra's own accept loop over hyper, so that a connection cannot be held
//! open by a client that sends nothing or next to nothing. Each connection has
//! - a header-read timeout (`http.header_read_timeout_seconds`): the whole head of each request,
//!   and the wait for the next request on a kept-alive connection, within that time;
//! - an idle timeout (`http.idle_timeout_seconds`): no byte moved either way for that long (a
//!   client that stops reading its response) and the connection is dropped;
//! - for a trusted reverse proxy, both 30 s longer than `idle_timeout` (it keeps its idle
//!   connections to us open for up to a minute, and must never find one closing);
//! - a cap per peer address (`http.max_connections_per_client`; trusted proxies are exempt, their
//!   clients are limited per request, see `guard`) and a cap in all (`http.max_connections`:
//!   beyond it, new connections wait in the listen queue).
//!
//! The request timeout, body limits and per-client request limits are per request (`guard`). On
//! shutdown, no new connection is taken, kept-alive connections are closed after their current
//! request, and whatever is still open after `http.shutdown_timeout_seconds` is dropped.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::guard::Counts;
use crate::config;

/// Serves `router` on `listener` until `stop` is cancelled, then drains within the deadline.
pub async fn run(listener: TcpListener, router: Router, http: &config::Http, stop: CancellationToken) {
    let slots = Arc::new(Semaphore::new(http.max_connections));
    let peers = Counts::default();
    let tracker = TaskTracker::new();
    // Cancelled when the shutdown deadline has passed: the connections still open are dropped.
    let hard = CancellationToken::new();
    let started = Instant::now();
    loop {
        let slot = tokio::select! {
            () = stop.cancelled() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken: wait a
                    // little rather than spin.
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let exempt = super::is_trusted(&http.trusted_proxies, peer.ip());
        let Some(counted) = peers.enter(peer.ip(), if exempt { usize::MAX } else { http.max_connections_per_client })
        else {
            tracing::debug!(peer = %peer.ip(), "too many connections from one address: closed");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |mut request: axum::extract::Request| {
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        // A reverse proxy keeps idle connections to us open for a while (nginx and load
        // balancers: 60 s): ours must stay open longer, or it would send a request on a socket
        // we are closing.
        let limits = if exempt {
            (http.header_read_timeout.max(http.idle_timeout) + PROXY_GRACE, http.idle_timeout + PROXY_GRACE)
        } else {
            (http.header_read_timeout, http.idle_timeout)
        };
        let (stop, hard) = (stop.clone(), hard.clone());
        tracker.spawn(async move {
            connection(stream, service, limits, (stop, hard), started).await;
            drop((counted, slot));
        });
    }
    tracker.close();
    if tokio::time::timeout(http.shutdown_timeout, tracker.wait()).await.is_err() {
        tracing::warn!(
            still_open = tracker.len(),
            "HTTP connections still open after {:?}: dropped",
            http.shutdown_timeout
        );
        hard.cancel();
        tracker.wait().await;
    }
}

/// How much longer a trusted proxy's connection may rest than a client's.
const PROXY_GRACE: Duration = Duration::from_secs(30);

/// One connection, HTTP/1.1, until it closes, times out or the server stops.
async fn connection<S>(
    stream: TcpStream,
    service: S,
    (header_read, idle): (Duration, Duration),
    (stop, hard): (CancellationToken, CancellationToken),
    started: Instant,
) where
    S: tower::Service<axum::extract::Request, Response = axum::response::Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    // The connection moved its first byte now, as far as the idle timeout is concerned.
    let activity = Arc::new(AtomicU64::new(millis_since(started)));
    let io = Watched { inner: stream, activity: activity.clone(), started };
    // Requests being answered: a slow handler is the request timeout's business, not idleness.
    let busy = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let in_flight = busy.clone();
    let service = TowerToHyperService::new(
        service.map_request(|r: hyper::Request<hyper::body::Incoming>| r.map(axum::body::Body::new)).map_future(
            move |answer| {
                let counted = Busy::enter(&in_flight);
                async move {
                    let answer = answer.await;
                    drop(counted);
                    answer
                }
            },
        ),
    );
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let period = idle.min(Duration::from_secs(1)).max(Duration::from_millis(100));
    let mut check = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("HTTP connection ended: {e}");
                }
                return;
            }
            () = hard.cancelled() => return,
            () = stop.cancelled(), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            _ = check.tick() => {
                let last = Duration::from_millis(activity.load(Ordering::Relaxed));
                if busy.load(Ordering::Relaxed) == 0 && started.elapsed().saturating_sub(last) >= idle {
                    tracing::debug!("HTTP connection idle for {} s: dropped", idle.as_secs());
                    return;
                }
            }
        }
    }
}

fn millis_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A request being answered on a connection, until it drops.
struct Busy(Arc<std::sync::atomic::AtomicUsize>);

impl Busy {
    fn enter(count: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that notes when it last moved a byte (milliseconds since the server started).
struct Watched {
    inner: TcpStream,
    activity: Arc<AtomicU64>,
    started: Instant,
}

impl Watched {
    fn moved(&self, n: usize) {
        if n > 0 {
            self.activity.store(millis_since(self.started), Ordering::Relaxed);
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.moved(buf.filled().len() - before);
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = polled {
            self.moved(n);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, data);
        if let Poll::Ready(Ok(n)) = polled {
            self.moved(n);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
