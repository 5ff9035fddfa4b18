//! The push API: `POST /api/v1/articles` with `Authorization: Bearer <token>` of a `push`
//! source. Answers are JSON: 200 with what became of each article (409 if one was another
//! source's and left alone); 401 without a known token;
//! 415 for a body that is not JSON; 422 with every field problem; 500 (logged) if storing failed.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use crate::app::App;
use crate::collect::parse_push;
use crate::config::{Source, SourceKind};
use crate::store::Upserted;

/// The body of every API error that is not about fields.
pub(super) fn error_body(message: &str) -> serde_json::Value {
    json!({ "error": message })
}

/// Compares without leaking, through timing, how much of a token was right.
pub(super) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An API answer other than success: a status and a JSON body (401s say `WWW-Authenticate:
/// Bearer`).
pub(super) struct ApiError {
    status: StatusCode,
    body: serde_json::Value,
}

impl ApiError {
    pub(super) fn new(status: StatusCode, body: serde_json::Value) -> Self {
        Self { status, body }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

pub(super) type ApiResult = Result<Response, ApiError>;

/// An API error with its message.
pub(super) fn problem(status: StatusCode, message: &str) -> ApiError {
    ApiError::new(status, error_body(message))
}

/// The token of `Authorization: Bearer <token>`.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    Some(headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")?.trim())
}

/// Whether the body is declared JSON.
pub(super) fn json_body(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")))
}

fn source_for<'a>(app: &'a App, headers: &HeaderMap) -> Option<&'a Source> {
    let token = bearer(headers)?;
    app.config
        .sources
        .iter()
        .find(|s| matches!(&s.kind, SourceKind::Push { token: t } if same_secret(t.expose(), token)) && s.enabled)
}

pub async fn push_articles(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(source) = source_for(&app, &headers) else {
        let mut r =
            problem(StatusCode::UNAUTHORIZED, "send Authorization: Bearer <token> with the token of a push source")
                .into_response();
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    };
    if !json_body(&headers) {
        return problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "the body must be application/json").into_response();
    }
    let now = Utc::now();
    let articles = match parse_push(&body, source.time_zone, now) {
        Ok(articles) => articles,
        Err(errors) => return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "errors": errors }))).into_response(),
    };
    match app.push(source, &articles, now).await {
        Ok(results) => {
            let refused = results.iter().any(|(_, o)| matches!(o, Upserted::Foreign(_)));
            let results: Vec<_> = results
                .into_iter()
                .map(|(url, outcome)| {
                    let status = match outcome {
                        Upserted::Inserted(_) => "inserted",
                        Upserted::Updated(_) => "updated",
                        Upserted::Unchanged(_) => "unchanged",
                        Upserted::Foreign(_) => "refused: the URL is another source's article",
                    };
                    json!({ "url": url, "id": outcome.id(), "status": status })
                })
                .collect();
            let status = if refused { StatusCode::CONFLICT } else { StatusCode::OK };
            (status, Json(json!({ "articles": results }))).into_response()
        }
        Err(e) => {
            tracing::error!(source = %source.name, "pushed articles not stored: {e:#}");
            problem(StatusCode::INTERNAL_SERVER_ERROR, "the articles could not be stored; try again").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abcdefghijklmnop", "abcdefghijklmnop"));
        assert!(!same_secret("abcdefghijklmnop", "abcdefghijklmnoq"));
        assert!(!same_secret("abc", "abcd"));
    }
}
