//! The admin API, for operators' tools (bearer `api.admin_token`, apart from the push and
//! subscribers tokens; without it configured every call is 401): the same views and actions as
//! the command line, from `admin`.
//!
//! - `GET  /api/v1/admin/jobs` — each job's schedule, time zone, pause and next three runs (UTC
//!   and local), and the 50 latest runs;
//! - `POST /api/v1/admin/jobs/{job}/run` — runs it now, by hand (202; the run shows in the jobs);
//! - `POST /api/v1/admin/jobs/{job}/pause`, `…/resume` — on every instance;
//! - `GET  /api/v1/admin/outbox` — deliveries per edition and status, the latest relay replies;
//! - `POST /api/v1/admin/outbox/retry` — `{"edition": N}` or `{"failed": true}`: failed
//!   messages back in the queue;
//! - `GET  /api/v1/admin/sources` — each source with its state.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::Utc;
use serde_json::{Value, json};

use super::api::{ApiError, ApiResult, bearer, problem, same_secret};
use crate::admin;
use crate::app::App;

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!("admin API: {e}");
    problem(StatusCode::INTERNAL_SERVER_ERROR, "the request could not be completed; try again")
}

/// Refuses a caller without the admin token.
fn allowed(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    match (&app.config.api.admin_token, bearer(headers)) {
        (Some(ours), Some(theirs)) if same_secret(ours.expose(), theirs) => Ok(()),
        _ => Err(problem(StatusCode::UNAUTHORIZED, "a valid admin token is required (Authorization: Bearer …)")),
    }
}

fn unknown_job(app: &App, name: &str) -> ApiError {
    problem(StatusCode::NOT_FOUND, &admin::unknown_job(app, name))
}

pub async fn jobs(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult {
    allowed(&app, &headers)?;
    let view = admin::jobs(&app, Utc::now(), 50).await.map_err(internal)?;
    Ok(Json(view).into_response())
}

pub async fn run(State(app): State<Arc<App>>, headers: HeaderMap, Path(name): Path<String>) -> ApiResult {
    allowed(&app, &headers)?;
    let job = admin::job_named(&app, &name).ok_or_else(|| unknown_job(&app, &name))?;
    admin::start_now(app.clone(), job);
    Ok((StatusCode::ACCEPTED, Json(json!({ "job": name, "started": true }))).into_response())
}

async fn set_paused(app: &App, headers: &HeaderMap, name: &str, paused: bool) -> ApiResult {
    allowed(app, headers)?;
    match admin::set_paused(app, name, paused, Utc::now()).await.map_err(internal)? {
        None => Err(unknown_job(app, name)),
        Some(changed) => Ok(Json(json!({ "job": name, "paused": paused, "changed": changed })).into_response()),
    }
}

pub async fn pause(State(app): State<Arc<App>>, headers: HeaderMap, Path(name): Path<String>) -> ApiResult {
    set_paused(&app, &headers, &name, true).await
}

pub async fn resume(State(app): State<Arc<App>>, headers: HeaderMap, Path(name): Path<String>) -> ApiResult {
    set_paused(&app, &headers, &name, false).await
}

pub async fn outbox(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult {
    allowed(&app, &headers)?;
    Ok(Json(admin::outbox(&app, 20).await.map_err(internal)?).into_response())
}

pub async fn retry(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    allowed(&app, &headers)?;
    let asked: Value = serde_json::from_slice(&body)
        .map_err(|e| problem(StatusCode::BAD_REQUEST, &format!("the body is not JSON: {e}")))?;
    let edition = match (&asked["edition"], &asked["failed"]) {
        (Value::Number(n), Value::Null) => Some(
            n.as_i64().ok_or_else(|| problem(StatusCode::UNPROCESSABLE_ENTITY, "edition must be a whole number"))?,
        ),
        (Value::Null, Value::Bool(true)) => None,
        _ => {
            return Err(problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "say which messages to put back: {\"edition\": N} or {\"failed\": true}",
            ));
        }
    };
    let requeued = admin::retry(&app, edition).await.map_err(internal)?;
    Ok(Json(json!({ "requeued": requeued })).into_response())
}

pub async fn sources(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult {
    allowed(&app, &headers)?;
    Ok(Json(admin::sources(&app).await.map_err(internal)?).into_response())
}
