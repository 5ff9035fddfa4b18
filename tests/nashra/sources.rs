//! Every kind of source against the fixture sites, served by a local publisher server: html
//! with pagination and a windows-1256 legacy site, a sitemap index with a Google News sitemap,
//! a summary-only RSS feed completed from the article pages, and a full-content Atom feed. A
//! second pass over an unchanged site makes one request: the listing page, answered 304.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::helpers::{Options, TestApp, now, repo};
use crate::on_both_backends;

fn options() -> Options {
    let extra = r##"
[[sources]]
name = "legacy"
kind = "html"
url = "{fixtures}legacy-cp1256/index.html"
time_zone = "Africa/Cairo"
max_pages = 3
[sources.selectors]
links = "a.news-link"
next = "a.next"
title = "td.news-title h1"
date = "td.date"
author = "span.writer"
section = "td.path a.cat"
body = "td.news-text"
keywords = "td.keywords a"
remove = ["#banner", "div.tools"]

[[sources]]
name = "news-sitemap"
kind = "sitemap"
url = "{fixtures}sitemap-index.xml"
time_zone = "Asia/Qatar"
max_articles = 3
enabled = false

[[sources]]
name = "gzipped-sitemap"
kind = "sitemap"
url = "{fixtures}sitemap-news.xml.gz"
time_zone = "Asia/Qatar"
enabled = false

[[sources]]
name = "levant-feed"
kind = "feed"
url = "{fixtures}rss-summary.xml"
time_zone = "Asia/Beirut"
full_article = true
enabled = false
[sources.selectors]
title = "article.post h1.post-title"
date = "article.post .post-date"
author = "article.post .author-name"
body = "article.post .post-content"
keywords = "article.post .article-tags a"
remove = ["figure", "p.caption", "ul.related", "h4.related-title", ".share-tools", ".ad"]

[[sources]]
name = "limited"
kind = "html"
url = "{fixtures}limited"
enabled = false
[sources.selectors]
links = "a"

[[sources]]
name = "maghreb-atom"
kind = "feed"
url = "{fixtures}atom.xml"
time_zone = "Africa/Algiers"
enabled = false
"##;
    Options { extra_toml: extra.into(), fixtures: true, ..Default::default() }
}

fn expected(page: &str) -> Value {
    let path = repo().join("tests/fixtures/sites").join(format!("{page}.expected.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn utc(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap().with_timezone(&Utc)
}

async fn stored(app: &TestApp, path: &str) -> nashra::store::Article {
    let url = app.fixtures.as_ref().unwrap().url(path);
    app.app.store.article_by_url(&url).await.unwrap().unwrap_or_else(|| panic!("{url} not stored"))
}

async fn a_paginated_legacy_site_is_read_page_by_page(app: TestApp) {
    let report = app.app.collect(Some("legacy"), now()).await.unwrap();
    let legacy = &report.sources[0];
    assert_eq!((legacy.inserted, legacy.errors.len()), (4, 0), "{legacy:?}");
    for page in ["news_48213", "news_47102", "news_45990", "news_44021"] {
        let want = expected(&format!("legacy-cp1256/{page}.html"));
        let a = stored(&app, &format!("legacy-cp1256/{page}.html")).await;
        assert_eq!(a.title, want["title"].as_str().unwrap(), "{page}");
        assert_eq!(a.published_at, utc(&want["published"]), "{page}");
        assert_eq!(a.author.as_deref(), want["author"].as_str(), "{page}");
    }
    // The next pass over the unchanged site: one request, answered 304.
    let site = app.fixtures.as_ref().unwrap();
    site.forget_requests();
    let again = app.app.collect(Some("legacy"), now() + Duration::minutes(10)).await.unwrap();
    assert_eq!((again.sources[0].inserted, again.sources[0].updated), (0, 0));
    assert_eq!(site.requests(), ["/legacy-cp1256/index.html"]);
}

async fn a_sitemap_index_leads_to_the_news_articles(app: TestApp) {
    let report = app.app.collect(Some("news-sitemap"), now()).await.unwrap();
    let s = &report.sources[0];
    // The 3 newest URLs of both sitemaps (max_articles = 3): the news sitemap's articles.
    assert_eq!((s.inserted, s.errors.len()), (3, 0), "{s:?}");
    let want = expected("jsonld-modern/5g-rural-coverage.html");
    let a = stored(&app, "articles/5g-rural-coverage.html").await;
    assert_eq!(a.title, want["title"].as_str().unwrap());
    assert_eq!(a.published_at, utc(&want["published"]));
    // The index is read in full (its children may change under the same index), its children
    // conditionally (304), and no article page again.
    let site = app.fixtures.as_ref().unwrap();
    site.forget_requests();
    app.app.collect(Some("news-sitemap"), now() + Duration::minutes(10)).await.unwrap();
    assert_eq!(site.requests(), ["/sitemap-index.xml", "/sitemap-news.xml", "/sitemap-2025-01.xml"]);
}

async fn a_gzipped_sitemap_is_read_like_a_plain_one(app: TestApp) {
    let report = app.app.collect(Some("gzipped-sitemap"), now()).await.unwrap();
    let s = &report.sources[0];
    assert_eq!((s.inserted, s.errors.len()), (3, 0), "{s:?}");
    let want = expected("jsonld-modern/youth-team-reaches-final.html");
    let a = stored(&app, "articles/youth-team-reaches-final.html").await;
    assert_eq!(a.title, want["title"].as_str().unwrap());
}

async fn a_summary_feed_is_completed_from_the_article_pages(app: TestApp) {
    let report = app.app.collect(Some("levant-feed"), now()).await.unwrap();
    let s = &report.sources[0];
    assert_eq!((s.inserted, s.errors.len()), (2, 0), "{s:?}");
    let want = expected("levant/budget-2025-approved.html");
    let a = stored(&app, "levant/budget-2025-approved.html").await;
    assert_eq!(a.published_at, utc(&want["published"]));
    for sentence in want["body_contains"].as_array().unwrap() {
        assert!(a.body_text.contains(sentence.as_str().unwrap()), "the full article, not the summary");
    }
    let keywords = app.app.store.keywords_of_articles(&[a.id]).await.unwrap();
    assert!(!keywords.is_empty(), "the feed's categories and the page's tags become keywords");
}

async fn a_full_content_atom_feed_is_read_without_fetching_pages(app: TestApp) {
    let report = app.app.collect(Some("maghreb-atom"), now()).await.unwrap();
    let s = &report.sources[0];
    assert_eq!((s.inserted, s.errors.len()), (2, 0), "{s:?}");
    let a = stored(&app, "maghreb/coast-guard-rescue.html").await;
    assert!(a.body_text.starts_with("تمكنت وحدات حرس السواحل"), "{}", a.body_text);
    assert!(!app.fixtures.as_ref().unwrap().requests().iter().any(|p| p.starts_with("/maghreb/")));
}

async fn a_server_that_asks_for_an_hour_is_left_alone_for_an_hour(app: TestApp) {
    let report = app.app.collect(Some("limited"), now()).await.unwrap();
    assert!(report.sources[0].failed);
    assert!(report.sources[0].errors[0].contains("429"), "{:?}", report.sources[0].errors);
    let state = app.app.store.sources().await.unwrap().into_iter().find(|s| s.name == "limited").unwrap();
    assert_eq!(state.next_poll_at, Some(now() + Duration::hours(1)), "Retry-After: 3600, not the 1-minute back-off");
    let site = app.fixtures.as_ref().unwrap();
    assert_eq!(site.requests().iter().filter(|p| *p == "/limited").count(), 1, "not retried within the pass");
}

on_both_backends!(
    with super::options();
    a_server_that_asks_for_an_hour_is_left_alone_for_an_hour,
    a_paginated_legacy_site_is_read_page_by_page,
    a_sitemap_index_leads_to_the_news_articles,
    a_gzipped_sitemap_is_read_like_a_plain_one,
    a_summary_feed_is_completed_from_the_article_pages,
    a_full_content_atom_feed_is_read_without_fetching_pages,
);
