//! The subscriber API, for a publisher whose own site runs the sign-up form:
//! `/api/v1/subscribers` with `Authorization: Bearer <api.subscribers_token>` (not a push
//! token). The same validation as the web form, with each bad field named in JSON
//! (`{"errors": [{"field", "message"}]}`, the message in Arabic as the form shows it).
//!
//! - `POST /api/v1/subscribers` `{"email", "keywords": [..], "editions"?: [..], "confirmed"?: bool}`:
//!   double opt-in, as the form (202, the same answer whatever the address: a confirmation email
//!   goes out if the address may get one); with `"confirmed": true` the caller vouches for the
//!   reader's consent: they are active at once (201 new, 200 updated; 409 if they unsubscribed
//!   here or the address is suppressed).
//! - `GET /api/v1/subscribers?after=ID&limit=N` (by id, at most 500 a page, `next` for the rest);
//!   `GET /api/v1/subscribers/{email}`.
//! - `PATCH /api/v1/subscribers/{email}` `{"keywords"?, "editions"?, "paused_until"?: RFC 3339 | null}`.
//! - `DELETE /api/v1/subscribers/{email}`: unsubscribes (kept, so no later import brings them
//!   back); `?erase=true` deletes the reader and their history.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::api::{ApiError, ApiResult, bearer, json_body, problem, same_secret};
use crate::app::App;
use crate::store::{Preferences, Profile, Refusal};
use crate::subscribers::{
    FieldError, SignUp, SignUpError, SignUpForm, SubscriberEmail, resolve_editions, resolve_keywords, sign_up,
};

/// Subscribers in one page of the list, at most.
const MAX_PAGE: u32 = 500;

fn invalid(errors: &[FieldError]) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, json!({ "errors": errors }))
}

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::error!("subscriber API: {what}: {e}");
    problem(StatusCode::INTERNAL_SERVER_ERROR, "the request could not be completed; try again")
}

/// Refuses a caller without the API's token.
fn allowed(app: &App, headers: &HeaderMap) -> Result<(), ApiError> {
    match (&app.config.api.subscribers_token, bearer(headers)) {
        (Some(ours), Some(theirs)) if same_secret(ours.expose(), theirs) => Ok(()),
        _ => Err(problem(
            StatusCode::UNAUTHORIZED,
            "send Authorization: Bearer <token> with the subscriber API's token (api.subscribers_token)",
        )),
    }
}

/// The JSON object of a request.
fn object(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if !json_body(headers) {
        return Err(problem(StatusCode::UNSUPPORTED_MEDIA_TYPE, "the body must be application/json"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(problem(StatusCode::BAD_REQUEST, "the body must be a JSON object")),
        Err(e) => Err(problem(StatusCode::BAD_REQUEST, &format!("the body is not valid JSON: {e}"))),
    }
}

/// Reads the fields of a request body, each error naming its field.
struct Fields {
    map: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Fields {
    fn new(map: Map<String, Value>, known: &[&'static str]) -> Self {
        let errors = map
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| FieldError { field: "body", message: format!("unknown field {k:?}; known: {}", known.join(", ")) })
            .collect();
        Self { map, errors }
    }

    fn wrong(&mut self, field: &'static str, what: &str) {
        self.errors.push(FieldError { field, message: format!("{field} must be {what}") });
    }

    fn string(&mut self, field: &'static str) -> Option<String> {
        match self.map.remove(field) {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.wrong(field, "a string");
                None
            }
        }
    }

    fn strings(&mut self, field: &'static str) -> Option<Vec<String>> {
        match self.map.remove(field) {
            None => None,
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                Some(items.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            }
            Some(_) => {
                self.wrong(field, "an array of strings");
                None
            }
        }
    }

    fn boolean(&mut self, field: &'static str) -> bool {
        match self.map.remove(field) {
            None => false,
            Some(Value::Bool(b)) => b,
            Some(_) => {
                self.wrong(field, "true or false");
                false
            }
        }
    }

    /// A field that may be absent (`None`), `null` (`Some(None)`) or a time.
    fn time(&mut self, field: &'static str) -> Option<Option<DateTime<Utc>>> {
        match self.map.remove(field) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) => match DateTime::parse_from_rfc3339(&s) {
                Ok(t) => Some(Some(t.to_utc())),
                Err(e) => {
                    self.errors.push(FieldError { field, message: format!("{s:?} is not an RFC 3339 time: {e}") });
                    None
                }
            },
            Some(_) => {
                self.wrong(field, "an RFC 3339 time or null");
                None
            }
        }
    }
}

/// A subscriber as the API shows them.
fn shown(app: &App, profile: &Profile) -> Value {
    let s = &profile.subscriber;
    let editions: Vec<&str> = if profile.editions.is_empty() {
        app.config.editions.iter().map(|e| e.name.as_str()).collect()
    } else {
        profile.editions.iter().map(String::as_str).collect()
    };
    json!({
        "id": s.id,
        "email": s.email,
        "status": s.status().as_str(),
        "keywords": profile.keywords,
        "editions": editions,
        "paused_until": s.paused_until.filter(|t| *t > Utc::now()).map(|t| t.to_rfc3339()),
        "created_at": s.created_at.to_rfc3339(),
    })
}

/// The profile of the reader at `email` (as written in a path), or the answer saying why not.
async fn find(app: &App, email: &str) -> Result<Profile, ApiError> {
    let not_found = || problem(StatusCode::NOT_FOUND, "no subscriber has this address");
    let email = SubscriberEmail::parse(email).map_err(|_| not_found())?;
    let subscriber = match app.store.subscriber_by_email(email.as_str()).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(not_found()),
        Err(e) => return Err(internal("cannot read a subscriber", e)),
    };
    match app.store.profile(subscriber.id).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(not_found()),
        Err(e) => Err(internal("cannot read a subscriber", e)),
    }
}

async fn answer_with(app: &App, id: crate::store::SubscriberId, status: StatusCode) -> ApiResult {
    match app.store.profile(id).await {
        Ok(Some(p)) => Ok((status, Json(shown(app, &p))).into_response()),
        Ok(None) => Err(problem(StatusCode::NOT_FOUND, "no subscriber has this address")),
        Err(e) => Err(internal("cannot read a subscriber", e)),
    }
}

pub async fn create(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> ApiResult {
    allowed(&app, &headers)?;
    let map = object(&headers, &body)?;
    let mut fields = Fields::new(map, &["email", "keywords", "editions", "confirmed"]);
    let form = SignUpForm {
        email: fields.string("email").unwrap_or_default(),
        keywords: fields.strings("keywords").unwrap_or_default(),
        editions: fields.strings("editions"),
        confirmed: fields.boolean("confirmed"),
    };
    if !fields.errors.is_empty() {
        return Err(invalid(&fields.errors));
    }
    let now = Utc::now();
    match sign_up(&app.store, &app.config, &app.signups, &form, now).await {
        Ok(SignUp::Confirm { subscriber }) => {
            if let Err(e) = super::subscribe::send_confirmation(&app, subscriber, now) {
                return Err(internal("cannot send the confirmation email", e));
            }
            accepted()
        }
        Ok(SignUp::Nothing) => accepted(),
        Ok(SignUp::Active { subscriber, created }) => {
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            answer_with(&app, subscriber.id, status).await
        }
        Ok(SignUp::Refused(refusal)) => {
            let why = match refusal {
                Refusal::Unsubscribed => "the reader unsubscribed; only they can sign up again (double opt-in)",
                Refusal::Suppressed(_) => "the address is suppressed (mail to it was refused); an operator can lift it",
            };
            Err(problem(StatusCode::CONFLICT, why))
        }
        Err(SignUpError::Invalid(errors)) => Err(invalid(&errors)),
        Err(e) => Err(internal("cannot sign a reader up", e)),
    }
}

/// The double opt-in's answer, the same whatever the address.
fn accepted() -> ApiResult {
    let message =
        "a confirmation email is sent if the address may receive one; the reader is subscribed once they confirm";
    Ok((StatusCode::ACCEPTED, Json(json!({ "status": "confirmation-sent", "message": message }))).into_response())
}

/// A query parameter, read as `T`; a bad one is a named field error.
fn parameter<T: std::str::FromStr>(
    query: &HashMap<String, String>,
    name: &'static str,
    what: &str,
) -> Result<Option<T>, ApiError> {
    match query.get(name) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| invalid(&[FieldError { field: name, message: format!("{name} must be {what}, not {v:?}") }])),
    }
}

pub async fn list(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    allowed(&app, &headers)?;
    let after: i64 = parameter(&query, "after", "a subscriber id")?.unwrap_or(0);
    let limit = parameter::<u32>(&query, "limit", "a number of subscribers")?.unwrap_or(100).clamp(1, MAX_PAGE);
    let profiles = app.store.profiles_after(after, limit).await.map_err(|e| internal("cannot list subscribers", e))?;
    let next = (profiles.len() == limit as usize).then(|| profiles.last().map(|p| p.subscriber.id)).flatten();
    let subscribers: Vec<Value> = profiles.iter().map(|p| shown(&app, p)).collect();
    Ok(Json(json!({ "subscribers": subscribers, "next": next })).into_response())
}

pub async fn get_one(State(app): State<Arc<App>>, headers: HeaderMap, Path(email): Path<String>) -> ApiResult {
    allowed(&app, &headers)?;
    let profile = find(&app, &email).await?;
    Ok(Json(shown(&app, &profile)).into_response())
}

pub async fn update(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(email): Path<String>,
    body: Bytes,
) -> ApiResult {
    allowed(&app, &headers)?;
    let map = object(&headers, &body)?;
    let profile = find(&app, &email).await?;
    let mut fields = Fields::new(map, &["keywords", "editions", "paused_until"]);
    let keywords = fields.strings("keywords");
    let editions = fields.strings("editions");
    let paused_until = fields.time("paused_until");
    let mut errors = std::mem::take(&mut fields.errors);
    let keywords = match keywords {
        Some(k) => match resolve_keywords(&app.store, &app.config, &k).await {
            Ok(found) => Some(found.into_iter().map(|k| k.id).collect::<Vec<_>>()),
            Err(SignUpError::Invalid(more)) => {
                errors.extend(more);
                None
            }
            Err(e) => return Err(internal("cannot read keywords", e)),
        },
        None => None,
    };
    let editions = match editions.map(|e| resolve_editions(&app.config, Some(&e))) {
        Some(Ok(e)) => Some(e),
        Some(Err(error)) => {
            errors.push(error);
            None
        }
        None => None,
    };
    if !errors.is_empty() {
        return Err(invalid(&errors));
    }
    let now = Utc::now();
    // `null` ends a pause as the reader's page does: now, so the pause's articles stay unsent.
    let paused_until =
        paused_until.map(|p| p.or_else(|| crate::subscribers::resumed(profile.subscriber.paused_until, now)));
    let id = profile.subscriber.id;
    let choices = Preferences { keywords: keywords.as_deref(), editions: editions.as_deref(), paused_until };
    app.store.save_preferences(id, &choices, now).await.map_err(|e| internal("cannot save the changes", e))?;
    answer_with(&app, id, StatusCode::OK).await
}

pub async fn remove(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Path(email): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> ApiResult {
    allowed(&app, &headers)?;
    let erase = parameter::<bool>(&query, "erase", "true or false")?.unwrap_or(false);
    let profile = find(&app, &email).await?;
    let s = &profile.subscriber;
    let done = if erase {
        app.store.delete_subscriber(&s.email).await.map(|_| ())
    } else {
        app.store.unsubscribe(&s.token, Utc::now()).await.map(|_| ())
    };
    done.map_err(|e| internal("cannot remove a subscriber", e))?;
    tracing::info!(subscriber = s.id, erased = erase, "subscriber removed through the API");
    Ok(StatusCode::NO_CONTENT.into_response())
}
