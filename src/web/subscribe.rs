//! The reader's pages: the sign-up form (`/subscribe`), "check your inbox", the confirmation
//! link (`/confirm/{token}`: GET shows a button, POST confirms — a mail scanner that opens links
//! confirms nothing), and their preferences (`/preferences/{token}`: their topics, and a way out).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;

use super::error::WebResult;
use super::{pages, subscriber_for};
use crate::app::App;
use crate::store::{Subscriber, SubscriberStatus};
use crate::subscribers::{FieldError, Purpose, SignUp, SignUpError, SignUpForm, resolve_keywords, sign_up};

#[derive(Serialize)]
struct Choice {
    name: String,
    checked: bool,
}

/// The form, with what was typed and what is wrong when it comes back.
async fn form_page(app: &App, form: &SignUpForm, other: &str, errors: &[FieldError]) -> WebResult<Html<String>> {
    let keywords = choices(app, &form.keywords).await?;
    Ok(pages::render(
        "subscribe.html.j2",
        minijinja::context! {
            title => "الاشتراك",
            site_title => &app.config.site.title,
            action => app.config.site.base_url.join("subscribe").map(|u| u.to_string()).unwrap_or_default(),
            email => &form.email,
            email_error => errors.iter().any(|e| e.field == "email"),
            other,
            keywords,
            errors,
        },
    ))
}

pub async fn form(State(app): State<Arc<App>>) -> WebResult<Html<String>> {
    form_page(&app, &SignUpForm::default(), "", &[]).await
}

pub async fn submit(
    State(app): State<Arc<App>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> WebResult<Response> {
    if !app.signups.client_may(client.ip()) {
        let page = pages::message("محاولات كثيرة", "وصلنا عدد كبير من طلبات الاشتراك من جهازك. حاول مرة أخرى بعد قليل.");
        return Ok((StatusCode::TOO_MANY_REQUESTS, page).into_response());
    }
    let (form, other) = read_form(&body);
    let mut wanted = form.clone();
    wanted.keywords.push(other.clone());
    let now = Utc::now();
    match sign_up(&app.store, &app.config, &app.links, &app.templates, &app.signups, &wanted, now).await {
        Ok(SignUp::Confirm { subscriber, email }) => {
            // Sent apart from the answer, so its time and outcome tell the visitor nothing
            // about the address.
            let sender = app.clone();
            tokio::spawn(async move {
                if let Err(e) = sender.sender.send_one(&email, &subscriber.email).await {
                    tracing::error!(subscriber = subscriber.id, "cannot send the confirmation email: {e}");
                }
            });
            Ok(check_your_inbox().into_response())
        }
        Ok(SignUp::Nothing) => Ok(check_your_inbox().into_response()),
        Err(SignUpError::Invalid(errors)) => {
            let page = form_page(&app, &form, &other, &errors).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(ours) => Err(ours.into()),
    }
}

/// The form's fields: the address and ticked topics, and the free field apart (to show it back).
fn read_form(body: &[u8]) -> (SignUpForm, String) {
    let mut form = SignUpForm::default();
    let mut other = String::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        match key.as_ref() {
            "email" => form.email = value.into_owned(),
            "keywords" => form.keywords.push(value.into_owned()),
            "other" => other = value.into_owned(),
            _ => {}
        }
    }
    (form, other)
}

/// The vocabulary as choices, those in `chosen` ticked.
async fn choices(app: &App, chosen: &[String]) -> WebResult<Vec<Choice>> {
    Ok(app
        .store
        .vocabulary()
        .await?
        .into_iter()
        .map(|k| Choice { checked: chosen.contains(&k.name), name: k.name })
        .collect())
}

/// The preferences page of `subscriber`.
async fn preferences_page(
    app: &App,
    subscriber: &Subscriber,
    chosen: &[String],
    other: &str,
    errors: &[FieldError],
    saved: bool,
) -> WebResult<Html<String>> {
    Ok(pages::render(
        "preferences.html.j2",
        minijinja::context! {
            title => "اختياراتك",
            site_title => &app.config.site.title,
            email => &subscriber.email,
            keywords => choices(app, chosen).await?,
            other,
            errors,
            saved,
            unsubscribe_url => app.links.url(Purpose::Unsubscribe, subscriber.id, &subscriber.token, None),
        },
    ))
}

/// A reader whose preferences may be shown: not unsubscribed.
async fn reader(app: &App, token: &str) -> WebResult<Result<Subscriber, Html<String>>> {
    let subscriber = subscriber_for(app, token, Purpose::Preferences).await?;
    if subscriber.status() == SubscriberStatus::Unsubscribed {
        return Ok(Err(pages::message("اشتراكك ملغى", "لا تصلك النشرة. يمكنك الاشتراك من جديد من صفحة الاشتراك.")));
    }
    Ok(Ok(subscriber))
}

pub async fn preferences(State(app): State<Arc<App>>, Path(token): Path<String>) -> WebResult<Html<String>> {
    let subscriber = match reader(&app, &token).await? {
        Ok(s) => s,
        Err(page) => return Ok(page),
    };
    let chosen: Vec<String> = app.store.subscriber_keywords(subscriber.id).await?.into_iter().map(|k| k.name).collect();
    preferences_page(&app, &subscriber, &chosen, "", &[], false).await
}

pub async fn save_preferences(
    State(app): State<Arc<App>>,
    Path(token): Path<String>,
    body: Bytes,
) -> WebResult<Response> {
    let subscriber = match reader(&app, &token).await? {
        Ok(s) => s,
        Err(page) => return Ok(page.into_response()),
    };
    let (form, other) = read_form(&body);
    let mut wanted = form.keywords.clone();
    wanted.push(other.clone());
    match resolve_keywords(&app.store, &app.config, &wanted).await {
        Ok(keywords) => {
            let ids: Vec<_> = keywords.iter().map(|k| k.id).collect();
            app.store.set_subscriber_keywords(subscriber.id, &ids).await?;
            tracing::info!(subscriber = subscriber.id, keywords = ids.len(), "reader changed their topics");
            let chosen: Vec<String> = keywords.into_iter().map(|k| k.name).collect();
            Ok(preferences_page(&app, &subscriber, &chosen, "", &[], true).await?.into_response())
        }
        Err(SignUpError::Invalid(errors)) => {
            let page = preferences_page(&app, &subscriber, &form.keywords, &other, &errors, false).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Err(ours) => Err(ours.into()),
    }
}

/// The same answer whether the address is new, waiting, confirmed or suppressed.
fn check_your_inbox() -> Html<String> {
    pages::message(
        "تحقق من بريدك",
        "إن كان العنوان صحيحًا فستصلك رسالة فيها رابط لتأكيد الاشتراك. لن تصلك النشرة قبل أن تؤكده.",
    )
}

pub async fn confirm_page(State(app): State<Arc<App>>, Path(token): Path<String>) -> WebResult<Html<String>> {
    let subscriber = subscriber_for(&app, &token, Purpose::Confirm).await?;
    // What is confirmed is shown: the topics this link was sent for.
    let topics: Vec<String> = app.store.subscriber_keywords(subscriber.id).await?.into_iter().map(|k| k.name).collect();
    Ok(pages::render(
        "confirm.html.j2",
        minijinja::context! {
            title => "تأكيد الاشتراك",
            email => subscriber.email,
            site_title => &app.config.site.title,
            topics,
        },
    ))
}

pub async fn confirm(State(app): State<Arc<App>>, Path(token): Path<String>) -> WebResult<Html<String>> {
    let subscriber = subscriber_for(&app, &token, Purpose::Confirm).await?;
    match app.store.confirm_subscriber(subscriber.id, Utc::now()).await? {
        Some(_) => {
            tracing::info!(subscriber = subscriber.id, "sign-up confirmed");
            Ok(pages::message("تم تأكيد اشتراكك", "ستصلك النشرة بأحدث المقالات في الموضوعات التي اخترتها."))
        }
        None => Ok(pages::message(
            "لا يمكن التأكيد",
            "لم يعد هذا الطلب قائمًا (ألغي الاشتراك بعده). يمكنك الاشتراك من جديد من صفحة الاشتراك.",
        )),
    }
}
