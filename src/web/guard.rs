//! What every request goes through before a handler: per-client limits
//! on the public routes — requests per second (429 with `Retry-After`) and requests in flight
//! (503) — counted by client (`client_key`: the address, an IPv6 client by its /64, behind a
//! trusted proxy the address it names), and the security headers of every answer:
//! `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer` (pages carry signed tokens in
//! their URLs) and, on HTML, a `Content-Security-Policy` that allows no script, no frame, no
//! plugin, forms posted only here, images from here or over HTTPS and inline styles (the digest
//! pages are the emails' HTML, styled inline). Body limits are per route (`router`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config;

/// The policy of every HTML answer.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every answer.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("text/html"));
    if html {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// Per-client limits of the public routes, shared by all their requests.
pub struct ClientLimits {
    trusted: Vec<ipnet::IpNet>,
    rate: Option<DefaultKeyedRateLimiter<IpAddr>>,
    in_flight: Counts,
    max_in_flight: usize,
    checks: AtomicU64,
    /// Whether the log was told of a trusted proxy without X-Forwarded-For.
    warned: std::sync::atomic::AtomicBool,
}

impl ClientLimits {
    pub fn new(http: &config::Http) -> Self {
        let rate = NonZeroU32::new(http.requests_per_second_per_client).map(|per_second| {
            let burst = NonZeroU32::new(per_second.get().saturating_mul(3)).unwrap_or(per_second);
            RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        Self {
            trusted: http.trusted_proxies.clone(),
            rate,
            in_flight: Counts::default(),
            max_in_flight: http.max_requests_in_flight_per_client,
            checks: AtomicU64::new(0),
            warned: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// Refuses a request from a client over its rate or with too many requests in flight.
pub async fn client_limits(
    State(limits): State<Arc<ClientLimits>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    if super::is_trusted(&limits.trusted, peer.ip()) && !request.headers().contains_key("x-forwarded-for") {
        // A trusted proxy that does not say whose request it passes on: counting it would put
        // every reader in one bucket.
        if !limits.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                proxy = %peer.ip(),
                "a trusted proxy sends no X-Forwarded-For: its requests are not limited per client"
            );
        }
        return next.run(request).await;
    }
    let client = super::client_key(super::client_ip(&limits.trusted, peer.ip(), request.headers()));
    if let Some(rate) = &limits.rate {
        if limits.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            rate.retain_recent();
        }
        if rate.check_key(&client).is_err() {
            tracing::debug!(%client, "too many requests from one client: 429");
            return (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], "too many requests; slow down\n")
                .into_response();
        }
    }
    let Some(_counted) = limits.in_flight.enter(client, limits.max_in_flight) else {
        tracing::debug!(%client, "too many requests in flight from one client: 503");
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, "1")], "too many requests at once\n")
            .into_response();
    };
    next.run(request).await
}

/// How many of something (connections, requests in flight) each client has open.
#[derive(Clone, Default)]
pub struct Counts(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One counted for its client until it drops.
pub struct Counted {
    counts: Counts,
    key: IpAddr,
}

impl Counts {
    /// Counts one more for `ip`'s client, unless it has `limit` already.
    pub fn enter(&self, ip: IpAddr, limit: usize) -> Option<Counted> {
        let key = super::client_key(ip);
        let mut open = self.0.lock().ok()?;
        let n = open.entry(key).or_insert(0);
        if *n >= limit {
            if *n == 0 {
                open.remove(&key);
            }
            return None;
        }
        *n += 1;
        Some(Counted { counts: self.clone(), key })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Ok(mut open) = self.counts.0.lock()
            && let Some(n) = open.get_mut(&self.key)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_counted_and_given_back() {
        let counts = Counts::default();
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        let first = counts.enter(a, 2).unwrap();
        let _second = counts.enter(a, 2).unwrap();
        assert!(counts.enter(a, 2).is_none(), "a third from one address");
        assert!(counts.enter("203.0.113.8".parse().unwrap(), 2).is_some(), "another address");
        assert!(counts.enter("::ffff:203.0.113.7".parse().unwrap(), 2).is_none(), "IPv4-mapped: the same client");
        let _v6 = counts.enter("2001:db8::1".parse().unwrap(), 1).unwrap();
        assert!(counts.enter("2001:db8::2".parse().unwrap(), 1).is_none(), "the same /64");
        drop(first);
        assert!(counts.enter(a, 2).is_some(), "a slot given back");
        assert!(counts.enter(a, 0).is_none());
    }
}
