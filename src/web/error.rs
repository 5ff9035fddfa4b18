//! The one place errors become HTTP answers: 404 and 400 say what was not found or wrong (in
//! Arabic, for people), anything else is a generic 500 while the full cause chain is logged.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

#[derive(Debug)]
pub enum WebError {
    NotFound(String),
    Internal(anyhow::Error),
}

impl<E: Into<anyhow::Error>> From<E> for WebError {
    fn from(e: E) -> Self {
        WebError::Internal(e.into())
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        match self {
            WebError::NotFound(what) => {
                (StatusCode::NOT_FOUND, super::pages::message("غير موجود", &what)).into_response()
            }
            WebError::Internal(e) => {
                tracing::error!("request failed: {e:#}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    super::pages::message("خطأ في الخادم", "حدث خطأ غير متوقع. حاول مرة أخرى بعد قليل."),
                )
                    .into_response()
            }
        }
    }
}

pub type WebResult<T> = Result<T, WebError>;

/// A page that could not be rendered falls back to plain text rather than failing twice.
pub fn fallback(e: minijinja::Error) -> Html<String> {
    tracing::error!("page template failed: {e:#}");
    Html("<!doctype html><html lang=\"ar\" dir=\"rtl\"><meta charset=\"utf-8\"><p>خطأ في الخادم</p></html>".into())
}
