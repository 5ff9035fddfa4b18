//! The HTTP server (axum): feeds with conditional GET, the reader's sign-up, confirmation and
//! unsubscribe pages, a home page with the newest articles and the feeds, health, and the
//! bundled demo site under `/demo/`. A driver at the edge:
//! it calls the stages, it holds no business rules.

mod admin_api;
mod api;
mod csrf;
mod error;
mod feeds;
mod guard;
mod observe;
mod pages;
mod server;
mod subscribe;
mod subscribers_api;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Utc;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::app::App;
use crate::arabic::{format_date, format_datetime};
use crate::feeds::{FeedKey, Format, feed_url};
use crate::store::{ArticleFilter, Subscriber, SubscriberStatus};
use crate::subscribers::{LinkError, Purpose, Token};
use error::{WebError, WebResult};

pub fn router(app: Arc<App>) -> Router {
    let http = &app.config.http;
    let limits = Arc::new(guard::ClientLimits::new(http));
    let mut public = Router::new()
        .route("/", get(home))
        .route("/feeds.opml", get(feeds::opml))
        .route("/feeds/{file}", get(feeds::declared))
        .route("/feeds/keywords/{file}", get(feeds::keyword))
        .route("/keywords/{keyword}", get(keyword_page))
        .route("/feeds/archive/{feed}/{file}", get(feeds::archive))
        .route("/subscribe", get(subscribe::form).post(subscribe::submit))
        .route("/confirm/{token}", get(subscribe::confirm_page).post(subscribe::confirm))
        .route("/preferences/{token}", get(subscribe::preferences).post(subscribe::save_preferences))
        .route("/unsubscribe/{token}", get(unsubscribe_page).post(unsubscribe))
        .route("/digests/{token}", get(digest_page))
        .route("/archive", get(archive))
        .route("/archive/{id}", get(archived_edition))
        .layer(axum::middleware::from_fn_with_state(app.clone(), same_site_posts));
    if let Some(dir) = &app.config.demo_dir {
        public = public.nest_service("/demo", ServeDir::new(dir));
    }
    let public = public
        .layer(DefaultBodyLimit::max(http.max_form_bytes))
        .layer(axum::middleware::from_fn_with_state(limits.clone(), guard::client_limits));
    // The APIs answer callers with a token; their bodies have their own limits.
    let push = Router::new()
        .route("/api/v1/articles", post(api::push_articles))
        .layer(DefaultBodyLimit::max(http.max_push_bytes));
    let subscribers = Router::new()
        .route("/api/v1/subscribers", get(subscribers_api::list).post(subscribers_api::create))
        .route(
            "/api/v1/subscribers/{email}",
            get(subscribers_api::get_one).patch(subscribers_api::update).delete(subscribers_api::remove),
        )
        .layer(DefaultBodyLimit::max(http.max_form_bytes));
    let admin = Router::new()
        .route("/api/v1/admin/jobs", get(admin_api::jobs))
        .route("/api/v1/admin/jobs/{job}/run", post(admin_api::run))
        .route("/api/v1/admin/jobs/{job}/pause", post(admin_api::pause))
        .route("/api/v1/admin/jobs/{job}/resume", post(admin_api::resume))
        .route("/api/v1/admin/outbox", get(admin_api::outbox))
        .route("/api/v1/admin/outbox/retry", post(admin_api::retry))
        .route("/api/v1/admin/sources", get(admin_api::sources))
        .layer(DefaultBodyLimit::max(http.max_form_bytes));
    // Readiness and metrics read the database: limited per client like the public pages.
    let operators = Router::new()
        .route("/readyz", get(readyz))
        .route("/metrics", get(observe::metrics))
        .layer(axum::middleware::from_fn_with_state(limits.clone(), guard::client_limits));
    Router::new()
        .route("/healthz", get(healthz))
        .merge(operators)
        .merge(public)
        .merge(push)
        .merge(subscribers)
        .merge(admin)
        .layer(axum::middleware::from_fn(guard::security_headers))
        // A handler (or a body) slower than the request timeout: 503, not 408 — a browser would
        // send a POST answered 408 again on its own.
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, http.request_timeout))
        .layer(axum::middleware::from_fn(observe::measure))
        .layer(TraceLayer::new_for_http().make_span_with(observe::request_span))
        .with_state(app)
}

/// Pages' forms cannot be posted from another site (see `csrf`); the APIs, called by servers
/// with a bearer token, are not under this layer.
async fn same_site_posts(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if request.method() == Method::POST && csrf::cross_site(request.headers(), &app.config.site.base_url) {
        let page = pages::message("طلب مرفوض", "لا يُقبل هذا النموذج إلا من صفحات هذا الموقع.");
        return (StatusCode::FORBIDDEN, page).into_response();
    }
    next.run(request).await
}

/// Alive: the process answers. (Whether it can do its work is `/readyz`.)
async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready to serve and to work: the database answers, its migrations are this build's, and
/// collection is not stuck — its last run came to an end (well or not: a broken source is the
/// metrics' and `sources`' business, not a reason to take every instance out of service) within
/// twice the collect schedule's period plus ten minutes; a paused collect job is not waited for.
/// 200 or 503, with each check's finding (details of errors go to the log, not to the caller).
async fn readyz(State(app): State<Arc<App>>) -> Response {
    let now = Utc::now();
    let mut ready = true;
    let mut checks = serde_json::Map::new();
    let mut note = |name: &str, result: Result<String, String>| {
        ready &= result.is_ok();
        let (status, detail) = match result {
            Ok(d) => ("ok", d),
            Err(d) => ("failing", d),
        };
        checks.insert(name.into(), serde_json::json!({ "status": status, "detail": detail }));
    };
    let logged = |what: &str, e: &dyn std::fmt::Display| {
        tracing::warn!("readiness: {what}: {e}");
        format!("{what} (see the log)")
    };
    let database = app.store.ping().await.map(|()| app.store.backend().to_owned());
    let reachable = database.is_ok();
    note("database", database.map_err(|e| logged("the database did not answer", &e)));
    if reachable {
        note(
            "migrations",
            match app.store.migrations_pending().await {
                Ok(0) => Ok("current".into()),
                Ok(n) => Err(format!("{n} migration(s) of this build not applied")),
                Err(e) => Err(logged("the migrations could not be read", &e)),
            },
        );
        if app.config.sources.iter().any(|s| s.enabled && s.kind.url().is_some()) {
            note("collection", collection_freshness(&app, now).await.map_err(|e| e.to_string()));
        }
    }
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, axum::Json(serde_json::json!({ "ready": ready, "checks": checks }))).into_response()
}

/// Whether collection has come to an end recently for its schedule (or is paused).
async fn collection_freshness(app: &App, now: chrono::DateTime<Utc>) -> Result<String, String> {
    let logged = |e: crate::store::StoreError| {
        tracing::warn!("readiness: {e}");
        "the job history could not be read (see the log)".to_owned()
    };
    if app.store.job_paused("collect").await.map_err(logged)? {
        return Ok("paused by an operator".into());
    }
    let schedule = &app.config.schedules.collect;
    let period = schedule
        .next_after(now)
        .and_then(|next| Some(schedule.next_after(next)? - next))
        .unwrap_or(chrono::Duration::hours(1));
    let allowed = period * 2 + chrono::Duration::minutes(10);
    match app.store.last_finished_run("collect").await.map_err(logged)? {
        None => Err("no collection has come to its end yet".into()),
        Some(at) if now - at > allowed => Err(format!(
            "the last collection ended {} min ago (allowed: {} min)",
            (now - at).num_minutes(),
            allowed.num_minutes()
        )),
        Some(at) => Ok(format!("the last collection ended {} s ago", (now - at).num_seconds())),
    }
}

#[derive(Serialize)]
struct FeedLink {
    title: String,
    path: String,
}

/// A `<link rel="alternate">` for feed autodiscovery.
#[derive(Serialize)]
struct Alternate {
    title: String,
    #[serde(rename = "type")]
    media_type: &'static str,
    href: String,
}

#[derive(Serialize)]
struct LatestArticle {
    title: String,
    url: String,
    /// The publication time in the site's time zone, in Arabic.
    when: String,
    summary: Option<String>,
}

impl LatestArticle {
    /// `published` is `None` for an undated article: it shows no date.
    fn new(
        tz: chrono_tz::Tz,
        published: Option<chrono::DateTime<Utc>>,
        title: String,
        url: String,
        summary: Option<String>,
    ) -> Self {
        let when = published.map(|p| format_datetime(&p.with_timezone(&tz))).unwrap_or_default();
        Self { when, title, url, summary: summary.filter(|s| !s.trim().is_empty()) }
    }
}

/// Articles the home page lists.
const HOME_ARTICLES: u32 = 10;
/// Articles a keyword's page lists.
const KEYWORD_ARTICLES: u32 = 20;

/// `<link rel="alternate">` for a feed (its URL without extension) in every format.
fn alternates(base: &str, title: &str) -> Vec<Alternate> {
    Format::ALL
        .into_iter()
        .map(|format| Alternate {
            title: format!("{title} ({})", format.extension().to_uppercase()),
            media_type: format.content_type().split(';').next().unwrap_or_default(),
            href: format!("{base}.{}", format.extension()),
        })
        .collect()
}

/// A keyword's page: its newest articles, its feeds (announced for autodiscovery) and a way to
/// follow it by email.
async fn keyword_page(State(app): State<Arc<App>>, Path(typed): Path<String>) -> WebResult<Html<String>> {
    let gone = || WebError::NotFound(format!("لا توجد كلمة مفتاحية باسم «{typed}»."));
    let key = app.publisher.keyword_key(&typed).ok_or_else(gone)?;
    let keyword = app.publisher.keyword(&key).ok_or_else(gone)?;
    let site = &app.config.site;
    let base = feed_url(&site.base_url, &key);
    let latest: Vec<LatestArticle> = app
        .store
        .feed_articles(ArticleFilter::Keywords(&[keyword.id]), KEYWORD_ARTICLES)
        .await?
        .into_iter()
        .map(|a| LatestArticle::new(site.time_zone, a.shown_published(), a.title, a.url, a.summary))
        .collect();
    let title = format!("{} — {}", keyword.name, site.title);
    Ok(pages::render(
        "keyword.html.j2",
        minijinja::context! {
            title,
            name => &keyword.name,
            alternates => alternates(&base, &title),
            feed => base,
            formats => ["rss", "atom", "json"],
            latest,
            follows => keyword.origin().in_vocabulary(),
            subscribe => format!("/subscribe?q={}", utf8_percent_encode(&keyword.name, NON_ALPHANUMERIC)),
        },
    ))
}

#[derive(Serialize)]
struct KeywordLink {
    name: String,
    path: String,
}

async fn home(State(app): State<Arc<App>>, headers: HeaderMap) -> WebResult<Response> {
    let site = &app.config.site;
    let feeds: Vec<FeedLink> = app
        .config
        .feeds
        .declared
        .iter()
        .map(|f| FeedLink {
            title: if f.title.is_empty() { site.title.clone() } else { f.title.clone() },
            path: f.id.clone(),
        })
        .collect();
    let keywords: Vec<KeywordLink> = app
        .publisher
        .keyword_feeds()
        .into_iter()
        .map(|k| KeywordLink { path: utf8_percent_encode(&k.slug, NON_ALPHANUMERIC).to_string(), name: k.name })
        .collect();
    let alternates: Vec<Alternate> = feeds
        .iter()
        .flat_map(|f| alternates(&feed_url(&site.base_url, &FeedKey::Declared(f.path.clone())), &f.title))
        .collect();
    let latest: Vec<LatestArticle> = app
        .store
        .newest_articles(HOME_ARTICLES)
        .await?
        .into_iter()
        .map(|a| LatestArticle::new(site.time_zone, a.shown_published(), a.title, a.url, a.summary))
        .collect();
    let token = subscribe::form_token(&app, &headers)?;
    let form = subscribe::form_context(&app, &token, &Default::default(), &[], "").await?;
    Ok(token.attach(pages::render(
        "home.html.j2",
        minijinja::context! {
            title => &site.title,
            description => &site.description,
            alternates,
            latest,
            form,
            feeds,
            keywords,
            formats => ["rss", "atom", "json"],
            articles => app.store.count_articles().await?,
        },
    )))
}

async fn unsubscribe_page(State(app): State<Arc<App>>, Path(token): Path<String>) -> WebResult<Html<String>> {
    let subscriber = subscriber_for(&app, &token, Purpose::Unsubscribe).await?;
    if subscriber.status() == SubscriberStatus::Unsubscribed {
        return Ok(pages::message("إلغاء الاشتراك", "اشتراكك ملغى بالفعل، ولن تصلك رسائل أخرى."));
    }
    Ok(pages::render(
        "unsubscribe.html.j2",
        minijinja::context! { title => "إلغاء الاشتراك", email => subscriber.email },
    ))
}

/// A digest as its page on the site ("view in browser"): `/digests/{content}.{tag}`, the tag
/// signed so that digests cannot be listed by counting.
async fn digest_page(State(app): State<Arc<App>>, Path(token): Path<String>) -> WebResult<Html<String>> {
    let gone = || WebError::NotFound("هذه النشرة غير موجودة أو لم تعد متاحة.".into());
    let (id, tag) = token.split_once('.').ok_or_else(gone)?;
    let content: i64 = id.parse().map_err(|_| gone())?;
    if !app.links.check_tag("digest", &content.to_string(), tag) {
        return Err(gone());
    }
    let page = app.composer.web_page(content).await.map_err(|e| WebError::Internal(anyhow::anyhow!(e)))?;
    page.map(Html).ok_or_else(gone)
}

/// Editions the archive lists.
const ARCHIVE_EDITIONS: u32 = 60;

#[derive(Serialize)]
struct ArchivedEdition {
    title: String,
    date: String,
    url: String,
}

/// The public archive: the latest editions, each as a whole (every topic), newest first.
async fn archive(State(app): State<Arc<App>>) -> WebResult<Html<String>> {
    let site = &app.config.site;
    let editions: Vec<ArchivedEdition> = app
        .store
        .planned_editions(Utc::now(), ARCHIVE_EDITIONS)
        .await?
        .into_iter()
        .filter(|e| e.articles > 0)
        .filter_map(|e| {
            let cfg = app.config.editions.iter().find(|c| c.name == e.schedule)?;
            Some(ArchivedEdition {
                title: if cfg.title.is_empty() { cfg.name.clone() } else { cfg.title.clone() },
                date: format_date(&e.tick.with_timezone(&cfg.schedule.time_zone())),
                url: site.base_url.join(&format!("archive/{}", e.id)).map(|u| u.to_string()).unwrap_or_default(),
            })
        })
        .collect();
    Ok(pages::render(
        "archive.html.j2",
        minijinja::context! {
            title => "أرشيف النشرات",
            site_title => &site.title,
            subscribe_url => site.base_url.join("subscribe").map(|u| u.to_string()).unwrap_or_default(),
            editions,
        },
    ))
}

/// One past edition as a whole.
async fn archived_edition(State(app): State<Arc<App>>, Path(id): Path<String>) -> WebResult<Html<String>> {
    let gone = || WebError::NotFound("لا توجد نشرة بهذا الرقم في الأرشيف.".into());
    let id: i64 = id.parse().map_err(|_| gone())?;
    let edition = app.store.edition_by_id(id).await?.filter(|e| e.is_planned()).ok_or_else(gone)?;
    let sections = crate::digest::archived_sections(&app.store, &app.config, &edition).await?;
    if sections.is_empty() {
        return Err(gone());
    }
    let page = app
        .composer
        .web_page_of(&edition.schedule, edition.tick, &sections)
        .await
        .map_err(|e| WebError::Internal(anyhow::anyhow!(e)))?;
    Ok(Html(page))
}

/// The form's POST and the RFC 8058 one-click POST (`List-Unsubscribe=One-Click`) both land here.
async fn unsubscribe(State(app): State<Arc<App>>, Path(token): Path<String>) -> WebResult<Html<String>> {
    let subscriber = subscriber_for(&app, &token, Purpose::Unsubscribe).await?;
    app.store.unsubscribe(&subscriber.token, Utc::now()).await?.ok_or_else(unknown_link)?;
    Ok(pages::message("تم إلغاء الاشتراك", "لن تصلك رسائل أخرى من هذه النشرة."))
}

/// The subscriber a link is for, checked for `purpose`. Unsubscribe links sent before links were
/// signed (the reader's bare random token) keep working.
pub(crate) async fn subscriber_for(app: &App, text: &str, purpose: Purpose) -> WebResult<Subscriber> {
    if let Some(token) = Token::parse(text) {
        let subscriber = app.store.subscriber_by_id(token.subscriber).await?.ok_or_else(unknown_link)?;
        return match app.links.verify(&token, purpose, &subscriber.token, Utc::now()) {
            Ok(()) => Ok(subscriber),
            Err(LinkError::Expired) => Err(WebError::NotFound("انتهت صلاحية هذا الرابط.".into())),
            Err(LinkError::Forged | LinkError::WrongPurpose) => Err(unknown_link()),
        };
    }
    let legacy = text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit());
    if purpose == Purpose::Unsubscribe && legacy {
        return app.store.subscriber_by_token(text).await?.ok_or_else(unknown_link);
    }
    Err(unknown_link())
}

/// The client of a request: the peer, or — when the peer is one of the `trusted` reverse
/// proxies — the nearest address in `X-Forwarded-For` that is not itself a trusted proxy (the
/// entries further left were written by whoever sent the request, and prove nothing).
pub(crate) fn client_ip(trusted: &[ipnet::IpNet], peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    let is_trusted = |ip: &IpAddr| is_trusted(trusted, *ip);
    let mut client = peer.to_canonical();
    if !is_trusted(&client) {
        return client;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.into_iter().rev() {
        // Some proxies write a port too: `1.2.3.4:5678`, `[2001:db8::1]:443`.
        let parsed = hop.parse::<IpAddr>().or_else(|_| hop.parse::<std::net::SocketAddr>().map(|a| a.ip()));
        match parsed {
            Ok(ip) => {
                client = ip.to_canonical();
                if !is_trusted(&client) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// Whether `ip` is one of the trusted reverse proxies.
pub(crate) fn is_trusted(trusted: &[ipnet::IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|n| n.contains(&ip))
}

/// The key a client is counted by in every per-client limit: its address, or for IPv6 its /64
/// network (one host can use any address in it); an IPv4-mapped address is the IPv4 address.
pub(crate) fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

fn unknown_link() -> WebError {
    WebError::NotFound("هذا الرابط غير صالح أو منتهي الصلاحية.".into())
}

/// Serves the site on `listener` until `shutdown` completes, then gives the requests in flight
/// `http.shutdown_timeout` to finish (see `server`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tokio::spawn(app.clone().keep_feeds_current());
    let stop = tokio_util::sync::CancellationToken::new();
    let stopping = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopping.cancel();
    });
    let http = app.config.http.clone();
    server::run(listener, router(app), &http, stop).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_nearest_hop_no_trusted_proxy_wrote() {
        let trusted: Vec<ipnet::IpNet> = vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.1.2.3".parse().unwrap());
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        assert_eq!(
            client_ip(&trusted, proxy, &h),
            "203.0.113.7".parse::<IpAddr>().unwrap(),
            "6.6.6.6 is the sender's word"
        );
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(client_ip(&trusted, stranger, &h), stranger, "only a trusted proxy's header counts");
        assert_eq!(client_ip(&[], proxy, &h), proxy, "no proxy trusted: the peer");
        assert_eq!(client_ip(&trusted, proxy, &HeaderMap::new()), proxy);
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(client_ip(&trusted, mapped, &h), "203.0.113.7".parse::<IpAddr>().unwrap());
        h.insert("x-forwarded-for", "[2001:db8::7]:443, 10.0.0.1:5678".parse().unwrap());
        assert_eq!(client_ip(&trusted, proxy, &h), "2001:db8::7".parse::<IpAddr>().unwrap(), "hops with ports");
        h.insert("x-forwarded-for", "203.0.113.7, garbage".parse().unwrap());
        assert_eq!(client_ip(&trusted, proxy, &h), proxy);
    }

    #[test]
    fn a_client_is_counted_by_its_address_or_its_ipv6_network() {
        let key = |s: &str| client_key(s.parse().unwrap());
        assert_eq!(key("2001:db8::1"), key("2001:db8::ffff:1234"), "the same /64");
        assert_ne!(key("2001:db8::1"), key("2001:db8:0:1::1"));
        assert_eq!(key("::ffff:203.0.113.7"), key("203.0.113.7"));
        assert_ne!(key("203.0.113.7"), key("203.0.113.8"));
    }
}
