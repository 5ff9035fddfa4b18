//! What the server tells its operators: a span per request that names its route — never its path,
//! which may carry a subscriber's signed token (`/unsubscribe/{token}`) — requests, bytes and
//! time per route and status in the metrics, and `/metrics` itself.

use std::sync::Arc;
use std::time::Instant;

use axum::body::HttpBody as _;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::metrics::{self, METRICS};

/// The route a request took: its pattern, `/demo` for the demo site's files, else `(no route)`.
fn route(request: &Request) -> String {
    match request.extensions().get::<MatchedPath>() {
        Some(matched) => matched.as_str().to_owned(),
        None if request.uri().path().starts_with("/demo/") => "/demo".to_owned(),
        None => "(no route)".to_owned(),
    }
}

pub fn request_span(request: &Request) -> tracing::Span {
    tracing::info_span!("request", method = %request.method(), route = route(request))
}

/// Counts each answer by route and status, with its bytes (as declared) and its time.
pub async fn measure(request: Request, next: Next) -> Response {
    let route = route(&request);
    let started = Instant::now();
    let response = next.run(request).await;
    // The body's length as it is known now (feeds, pages: exactly); a streamed body counts 0.
    let bytes = response.body().size_hint().exact().unwrap_or(0);
    let only = metrics::RouteOnly { route: route.clone() };
    METRICS.http_seconds.get_or_create(&only).observe(started.elapsed().as_secs_f64());
    metrics::count(&METRICS.http_bytes, only, bytes);
    metrics::count(&METRICS.http_requests, metrics::Route { route, status: response.status().as_u16() }, 1);
    response
}

/// The metrics, with the outbox and keyword gauges read from the store now.
pub async fn metrics(State(app): State<Arc<App>>) -> Response {
    match app.store.delivery_counts().await {
        Ok(counts) => {
            // A status with no delivery left is shown no more, not with its last count.
            METRICS.deliveries.clear();
            let mut waiting = 0;
            for (status, n) in counts {
                if matches!(status.as_str(), "pending" | "sending") {
                    waiting += n;
                }
                METRICS.deliveries.get_or_create(&metrics::Status { status }).set(n);
            }
            METRICS.queue_depth.set(waiting);
        }
        Err(e) => tracing::warn!("metrics: {e}"),
    }
    match app.store.count_keywords().await {
        Ok(n) => {
            METRICS.keywords.set(n);
        }
        Err(e) => tracing::warn!("metrics: {e}"),
    }
    match METRICS.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!("metrics: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
