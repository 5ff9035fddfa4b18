//! The push API: a CMS sends articles with its bearer token; they are validated field by field,
//! tagged, stored and in the feeds at once.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp};
use crate::on_both_backends;

const TOKEN: &str = "cms-secret-0123456789";

fn options() -> Options {
    let extra =
        format!("[[sources]]\nname = \"cms\"\nkind = \"push\"\ntoken = \"{TOKEN}\"\ntime_zone = \"Africa/Cairo\"\n");
    Options { extra_toml: extra, ..Default::default() }
}

async fn post(app: &TestApp, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
    let mut request =
        app.http.post(app.url("/api/v1/articles")).header("content-type", "application/json").body(body.to_string());
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let r = request.send().await.unwrap();
    let status = r.status();
    (status, serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null))
}

fn article() -> Value {
    json!({
        "url": "https://cms.example/2026/11/30/ninawa",
        "title": "«نينوى».. عودة النازحين إلى قراهم بعد تطهيرها من فلول داعش",
        "published": "الإثنين 30/نوفمبر/2026 - 06:30 ص",
        "author": "فريق التحرير",
        "body_html": "<p>عاد مئات النازحين إلى قراهم في سهل نينوى.</p><script>x()</script>",
        "keywords": ["العراق", "النازحين"]
    })
}

async fn a_pushed_article_is_stored_tagged_and_published(app: TestApp) {
    let (status, body) = post(&app, Some(TOKEN), &article()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["articles"][0]["status"], "inserted");
    let a = app.app.store.article_by_url("https://cms.example/2026/11/30/ninawa").await.unwrap().unwrap();
    assert_eq!(a.published_at.to_rfc3339(), "2026-11-30T04:30:00+00:00", "read in Cairo time");
    assert!(!a.body_html.contains("script"));
    let names: Vec<String> =
        app.app.store.keywords_of_articles(&[a.id]).await.unwrap().into_iter().map(|(_, k)| k.name).collect();
    assert!(names.contains(&"داعش".to_owned()), "the vocabulary matched in the text: {names:?}");
    assert!(names.contains(&"النازحين".to_owned()));
    let feed = app.get("/feeds/all.atom").await.text().await.unwrap();
    assert!(feed.contains("عودة النازحين"), "in the feed at once");
    // The same article again changes nothing.
    let (_, again) = post(&app, Some(TOKEN), &json!({ "articles": [article()] })).await;
    assert_eq!(again["articles"][0]["status"], "unchanged");
}

async fn bad_requests_get_clear_answers(app: TestApp) {
    assert_eq!(post(&app, None, &article()).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(post(&app, Some("wrong-token-0123456789"), &article()).await.0, StatusCode::UNAUTHORIZED);
    let r = app.http.post(app.url("/api/v1/articles")).bearer_auth(TOKEN).body("title=x").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, body) = post(&app, Some(TOKEN), &json!([{ "url": "nope", "published": "قريبا" }])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    for f in ["[0].url", "[0].title", "[0].published", "[0].body_html"] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    assert_eq!(app.app.store.count_articles().await.unwrap(), 0, "nothing half-stored");
}

async fn a_push_cannot_rewrite_another_sources_article(app: TestApp) {
    app.collect().await;
    let url = app.url("/demo/articles/2026-11-29-iraq-border-operations.html");
    let before = app.app.store.article_by_url(&url).await.unwrap().unwrap();
    let mut forged = article();
    forged["url"] = json!(url);
    forged["title"] = json!("عنوان مزور");
    let (status, body) = post(&app, Some(TOKEN), &forged).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["articles"][0]["status"].as_str().unwrap().starts_with("refused"));
    assert_eq!(app.app.store.article_by_url(&url).await.unwrap().unwrap(), before);
}

on_both_backends!(
    with super::options();
    a_pushed_article_is_stored_tagged_and_published,
    bad_requests_get_clear_answers,
    a_push_cannot_rewrite_another_sources_article,
);
