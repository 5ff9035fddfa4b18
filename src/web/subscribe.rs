//! The reader's pages: the sign-up form (`/subscribe`, also on the home page), "check your
//! inbox", the confirmation link (`/confirm/{token}`: GET shows a button, POST confirms — a mail
//! scanner that opens links confirms nothing), and their preferences (`/preferences/{token}`:
//! topics, editions, a pause, and a way out).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use super::csrf::{self, FormToken};
use super::error::{WebError, WebResult};
use super::{pages, subscriber_for};
use crate::app::App;
use crate::arabic::{format_date, normalize};
use crate::config::Config;
use crate::store::{Preferences, Subscriber, SubscriberStatus};
use crate::subscribers::{
    FieldError, Purpose, SignUp, SignUpError, SignUpForm, resolve_editions, resolve_keywords, sign_up,
};

/// Topics listed on a form when the visitor has not searched: the ones with most articles
/// (the others are found by searching, or typed in the free field).
const LISTED: usize = 40;
/// Topics listed at most for a search.
const FOUND: usize = 200;
/// A pause "until I resume" ends at this date.
const INDEFINITELY: (i32, u32, u32) = (9999, 12, 31);

#[derive(Serialize)]
struct Choice {
    name: String,
    /// Stored articles on this topic.
    articles: i64,
    checked: bool,
}

/// The topics a form offers: those `chosen` first, then the ones matching `query` (all of them
/// when it is empty) by article count; and every topic's name, for the free field's suggestions.
async fn choices(app: &App, chosen: &[String], query: &str) -> WebResult<(Vec<Choice>, Vec<String>)> {
    let topics = app.topics().await?;
    let names: Vec<String> = topics.vocabulary.iter().map(|k| k.name.clone()).collect();
    let query = normalize(query.trim());
    let mut listed: Vec<Choice> = topics
        .vocabulary
        .iter()
        .filter(|k| chosen.contains(&k.name) || k.normalized.contains(query.as_str()))
        .map(|k| Choice {
            checked: chosen.contains(&k.name),
            articles: topics.counts.get(&k.id).copied().unwrap_or(0),
            name: k.name.clone(),
        })
        .collect();
    listed.sort_by(|a, b| b.checked.cmp(&a.checked).then(b.articles.cmp(&a.articles)).then(a.name.cmp(&b.name)));
    let chosen_count = listed.iter().filter(|c| c.checked).count();
    listed.truncate(chosen_count + if query.is_empty() { LISTED } else { FOUND });
    Ok((listed, names))
}

#[derive(Serialize)]
struct EditionChoice {
    name: String,
    title: String,
    checked: bool,
}

/// The editions to choose from (none when the site has only one), those `chosen` ticked
/// (`None`, or an empty choice stored: every edition).
fn edition_choices(config: &Config, chosen: Option<&[String]>) -> Vec<EditionChoice> {
    if config.editions.len() < 2 {
        return Vec::new();
    }
    config
        .editions
        .iter()
        .map(|e| EditionChoice {
            name: e.name.clone(),
            title: if e.title.is_empty() { e.name.clone() } else { e.title.clone() },
            checked: chosen.is_none_or(|c| c.contains(&e.name)),
        })
        .collect()
}

/// A form as it was posted.
#[derive(Debug, Default)]
pub(super) struct Posted {
    form: SignUpForm,
    /// The free topics field, apart, to show it back.
    other: String,
    csrf: String,
    pause: String,
}

/// The fields of a posted form. The editions count only where the site has several (a form
/// with no edition ticked then says so).
fn read_form(config: &Config, body: &[u8]) -> Posted {
    let mut posted = Posted::default();
    let mut editions = Vec::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        match key.as_ref() {
            "email" => posted.form.email = value.into_owned(),
            "keywords" => posted.form.keywords.push(value.into_owned()),
            "editions" => editions.push(value.into_owned()),
            "other" => posted.other = value.into_owned(),
            "csrf" => posted.csrf = value.into_owned(),
            "pause" => posted.pause = value.into_owned(),
            _ => {}
        }
    }
    if config.editions.len() > 1 {
        posted.form.editions = Some(editions);
    }
    posted
}

impl Posted {
    /// The topics asked for: those ticked and those typed.
    fn keywords(&self) -> Vec<String> {
        let mut all = self.form.keywords.clone();
        all.push(self.other.clone());
        all
    }
}

#[derive(Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    q: String,
}

/// The sign-up form's part of a page (the home page's and `/subscribe`'s), with what was typed
/// and what is wrong when it comes back.
pub(super) async fn form_context(
    app: &App,
    token: &FormToken,
    posted: &Posted,
    errors: &[FieldError],
    query: &str,
) -> WebResult<minijinja::Value> {
    let (keywords, names) = choices(app, &posted.form.keywords, query).await?;
    let base = &app.config.site.base_url;
    Ok(minijinja::context! {
        action => base.join("subscribe").map(|u| u.to_string()).unwrap_or_default(),
        csrf => &token.token,
        email => &posted.form.email,
        email_error => errors.iter().any(|e| e.field == "email"),
        other => &posted.other,
        query,
        keywords,
        names,
        editions => edition_choices(&app.config, posted.form.editions.as_deref()),
        errors,
    })
}

/// A new form token for this browser.
pub(super) fn form_token(app: &App, headers: &HeaderMap) -> WebResult<FormToken> {
    let secure = app.config.site.base_url.scheme() == "https";
    FormToken::issue(&app.links, headers, secure).map_err(|e| WebError::Internal(anyhow::anyhow!(e)))
}

async fn form_page(
    app: &App,
    headers: &HeaderMap,
    posted: &Posted,
    errors: &[FieldError],
    query: &str,
    status: StatusCode,
) -> WebResult<Response> {
    let token = form_token(app, headers)?;
    let page = pages::render(
        "subscribe.html.j2",
        minijinja::context! {
            title => "الاشتراك",
            site_title => &app.config.site.title,
            form => form_context(app, &token, posted, errors, query).await?,
        },
    );
    Ok(token.attach((status, page)))
}

pub async fn form(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(search): Query<Search>,
) -> WebResult<Response> {
    form_page(&app, &headers, &Posted::default(), &[], &search.q, StatusCode::OK).await
}

pub async fn submit(
    State(app): State<Arc<App>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> WebResult<Response> {
    let client = super::client_ip(&app.config.http.trusted_proxies, client.ip(), &headers);
    if !app.signups.client_may(super::client_key(client)) {
        let page = pages::message("محاولات كثيرة", "وصلنا عدد كبير من طلبات الاشتراك من جهازك. حاول مرة أخرى بعد قليل.");
        return Ok((StatusCode::TOO_MANY_REQUESTS, page).into_response());
    }
    let posted = read_form(&app.config, &body);
    if !csrf::genuine(&app.links, &headers, &posted.csrf) {
        let error = FieldError {
            field: "form",
            message: "انتهت صلاحية النموذج أو أُرسل من موقع آخر. راجع البيانات وأرسلها مرة أخرى.".into(),
        };
        return form_page(&app, &headers, &posted, &[error], "", StatusCode::FORBIDDEN).await;
    }
    let mut wanted = posted.form.clone();
    wanted.keywords = posted.keywords();
    let now = Utc::now();
    match sign_up(&app.store, &app.config, &app.signups, &wanted, now).await {
        Ok(SignUp::Confirm { subscriber }) => {
            send_confirmation(&app, subscriber, now)?;
            Ok(check_your_inbox().into_response())
        }
        // The form never vouches for a confirmation.
        Ok(SignUp::Nothing | SignUp::Active { .. } | SignUp::Refused(_)) => Ok(check_your_inbox().into_response()),
        Err(SignUpError::Invalid(errors)) => {
            form_page(&app, &headers, &posted, &errors, "", StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(ours) => Err(ours.into()),
    }
}

#[derive(Serialize)]
struct PauseChoice {
    value: &'static str,
    label: String,
    checked: bool,
}

/// The pause choices, the reader's current state ticked.
fn pause_choices(config: &Config, paused_until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Vec<PauseChoice> {
    let paused = paused_until.filter(|t| *t > now);
    let mut out =
        vec![PauseChoice { value: "none", label: "تصلني النشرة".into(), checked: paused.is_none() }];
    if let Some(until) = paused {
        let label = if until.year() >= INDEFINITELY.0 {
            "تبقى متوقفة حتى أعيد تشغيلها".to_owned()
        } else {
            format!("تبقى متوقفة حتى {}", format_date(&until.with_timezone(&config.site.time_zone)))
        };
        out.push(PauseChoice { value: "keep", label, checked: true });
    }
    for (value, label) in [("7", "أوقفها أسبوعًا"), ("30", "أوقفها شهرًا"), ("always", "أوقفها حتى أعيد تشغيلها")]
    {
        out.push(PauseChoice { value, label: label.into(), checked: false });
    }
    out
}

/// The pause a reader chose. Ending a pause ends it now: what was published meanwhile is not sent.
fn read_pause(
    value: &str,
    current: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, FieldError> {
    match value {
        "" | "keep" => Ok(current),
        "none" => Ok(crate::subscribers::resumed(current, now)),
        "7" => Ok(Some(now + Duration::days(7))),
        "30" => Ok(Some(now + Duration::days(30))),
        "always" => {
            let (y, m, d) = INDEFINITELY;
            Ok(Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).single())
        }
        _ => Err(FieldError {
            field: "pause", message: "اختر أحد خيارات الإيقاف المعروضة.".into()
        }),
    }
}

/// The preferences page of `subscriber`.
async fn preferences_page(app: &App, subscriber: &Subscriber, shown: Shown<'_>) -> WebResult<Html<String>> {
    let (keywords, names) = choices(app, &shown.posted.form.keywords, "").await?;
    let chosen_editions = shown.posted.form.editions.as_deref();
    Ok(pages::render(
        "preferences.html.j2",
        minijinja::context! {
            title => "اختياراتك",
            site_title => &app.config.site.title,
            email => &subscriber.email,
            keywords,
            names,
            editions => edition_choices(&app.config, chosen_editions),
            pauses => pause_choices(&app.config, subscriber.paused_until, Utc::now()),
            other => &shown.posted.other,
            errors => shown.errors,
            saved => shown.saved,
            unsubscribe_url => app.links.url(Purpose::Unsubscribe, subscriber.id, &subscriber.token, None),
        },
    ))
}

/// What a preferences page shows besides the reader's stored state.
struct Shown<'a> {
    posted: &'a Posted,
    errors: &'a [FieldError],
    saved: bool,
}

/// A reader whose preferences may be shown: not unsubscribed.
async fn reader(app: &App, token: &str) -> WebResult<Result<Subscriber, Html<String>>> {
    let subscriber = subscriber_for(app, token, Purpose::Preferences).await?;
    if subscriber.status() == SubscriberStatus::Unsubscribed {
        return Ok(Err(pages::message("اشتراكك ملغى", "لا تصلك النشرة. يمكنك الاشتراك من جديد من صفحة الاشتراك.")));
    }
    Ok(Ok(subscriber))
}

/// The reader's stored choices, as their form shows them.
async fn stored_choices(app: &App, subscriber: &Subscriber) -> WebResult<Posted> {
    let profile = app.store.profile(subscriber.id).await?;
    let mut posted = Posted::default();
    if let Some(p) = profile {
        posted.form.keywords = p.keywords;
        // None stored: every edition.
        posted.form.editions = (!p.editions.is_empty()).then_some(p.editions);
    }
    Ok(posted)
}

pub async fn preferences(State(app): State<Arc<App>>, Path(token): Path<String>) -> WebResult<Html<String>> {
    let subscriber = match reader(&app, &token).await? {
        Ok(s) => s,
        Err(page) => return Ok(page),
    };
    let posted = stored_choices(&app, &subscriber).await?;
    preferences_page(&app, &subscriber, Shown { posted: &posted, errors: &[], saved: false }).await
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
    let posted = read_form(&app.config, &body);
    let now = Utc::now();
    let keywords = resolve_keywords(&app.store, &app.config, &posted.keywords()).await;
    let editions = resolve_editions(&app.config, posted.form.editions.as_deref());
    let pause = read_pause(&posted.pause, subscriber.paused_until, now);
    let (keywords, editions, pause) = match (keywords, editions, pause) {
        (Ok(k), Ok(e), Ok(p)) => (k, e, p),
        (keywords, editions, pause) => {
            let mut errors = match keywords {
                Err(SignUpError::Invalid(errors)) => errors,
                Err(ours) => return Err(ours.into()),
                Ok(_) => Vec::new(),
            };
            errors.extend(editions.err());
            errors.extend(pause.err());
            let page = preferences_page(&app, &subscriber, Shown { posted: &posted, errors: &errors, saved: false });
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page.await?).into_response());
        }
    };
    let ids: Vec<_> = keywords.iter().map(|k| k.id).collect();
    let choices = Preferences { keywords: Some(&ids), editions: Some(&editions), paused_until: Some(pause) };
    app.store.save_preferences(subscriber.id, &choices, now).await?;
    tracing::info!(
        subscriber = subscriber.id,
        keywords = ids.len(),
        editions = editions.len(),
        paused = pause.is_some_and(|t| t > now),
        "reader changed their preferences"
    );
    let subscriber = app.store.subscriber_by_id(subscriber.id).await?.unwrap_or(subscriber);
    let posted = stored_choices(&app, &subscriber).await?;
    Ok(preferences_page(&app, &subscriber, Shown { posted: &posted, errors: &[], saved: true }).await?.into_response())
}

/// Sends a confirmation email apart from the answer, so its time and outcome tell the visitor
/// nothing about the address.
/// Composes a waiting reader's confirmation email and sends it apart from the answer (a slow
/// relay never holds the form up).
pub(super) fn send_confirmation(app: &Arc<App>, subscriber: Subscriber, now: DateTime<Utc>) -> Result<(), SignUpError> {
    let email = crate::digest::confirmation(&app.config, &app.links, &app.templates, &subscriber, now)
        .map_err(|reason| SignUpError::Internal(format!("cannot render the confirmation email: {reason}")))?;
    let app = app.clone();
    tokio::spawn(async move {
        if let Err(e) = app.sender.send_one(&email, &subscriber.email).await {
            tracing::error!(subscriber = subscriber.id, "cannot send the confirmation email: {e}");
        }
    });
    Ok(())
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
        Some(confirmed) => {
            tracing::info!(subscriber = subscriber.id, "sign-up confirmed");
            let preferences_url = app.links.url(Purpose::Preferences, confirmed.id, &confirmed.token, None);
            Ok(pages::render("confirmed.html.j2", minijinja::context! { title => "تم تأكيد اشتراكك", preferences_url }))
        }
        None => Ok(pages::message(
            "لا يمكن التأكيد",
            "لم يعد هذا الطلب قائمًا (ألغي الاشتراك بعده). يمكنك الاشتراك من جديد من صفحة الاشتراك.",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn a_pause_is_kept_ended_or_set() {
        let now = at("2026-11-30T12:00:00Z");
        let later = at("2026-12-07T12:00:00Z");
        assert_eq!(read_pause("7", None, now), Ok(Some(later)));
        assert_eq!(read_pause("keep", Some(later), now), Ok(Some(later)));
        assert_eq!(read_pause("", Some(later), now), Ok(Some(later)));
        assert_eq!(read_pause("none", Some(later), now), Ok(Some(now)), "ended now, not forgotten");
        assert_eq!(read_pause("none", None, now), Ok(None));
        let ended = at("2026-11-01T00:00:00Z");
        assert_eq!(read_pause("none", Some(ended), now), Ok(Some(ended)), "a past pause stays as it was");
        assert_eq!(read_pause("always", None, now).unwrap().unwrap().year(), 9999);
        assert_eq!(read_pause("forever!", None, now).unwrap_err().field, "pause");
    }
}
