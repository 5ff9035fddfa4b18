//! How feeds are built and served: only when their content changes, only the feeds an article
//! belongs to, never from the database on a request, tags published from a threshold, and a new
//! process that goes on from the build the output folder records.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nashra::app::App;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Options, TestApp, now};
use crate::on_both_backends;

const TOKEN: &str = "cms-secret-0123456789";

fn options() -> Options {
    let extra =
        format!("[[sources]]\nname = \"cms\"\nkind = \"push\"\ntoken = \"{TOKEN}\"\ntime_zone = \"Africa/Cairo\"\n");
    Options { extra_toml: extra, ..Default::default() }
}

async fn push(app: &TestApp, n: usize, title: &str, keywords: &[&str]) {
    let article = json!({
        "url": format!("https://cms.example/2026/11/30/{n}"),
        "title": title,
        "published": format!("2026-11-30T0{}:00:00Z", n % 10),
        "body_html": format!("<p>{title}: نص الخبر رقم {n}.</p>"),
        "keywords": keywords,
    });
    let (status, body) = push_value(app, &article).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A short article as a source other than the test's own stores it.
fn stored_article(url: &str, title: &str, published_at: chrono::DateTime<chrono::Utc>) -> nashra::store::NewArticle {
    nashra::store::NewArticle {
        url: url.into(),
        guid: None,
        title: title.into(),
        author: None,
        section: None,
        summary: None,
        body_html: "<p>نص</p>".into(),
        body_text: "نص".into(),
        image_url: None,
        lang: Some("ar".into()),
        published_at,
        undated: false,
        updated_at: None,
        tags: Vec::new(),
    }
}

fn keyword_path(keyword: &str, ext: &str) -> String {
    format!("/feeds/keywords/{}.{ext}", utf8_percent_encode(keyword, NON_ALPHANUMERIC))
}

/// Every file under `dir` with its modification time.
fn files(dir: &Path) -> HashMap<PathBuf, SystemTime> {
    let mut out = HashMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path(), e.metadata().unwrap().modified().unwrap());
            }
        }
    }
    out
}

async fn a_new_article_rebuilds_only_the_feeds_it_belongs_to(app: TestApp) {
    app.collect().await;
    let out = app.dir.path().join("feeds");
    let before = files(&out);
    // The file system's clock must move on for a rewritten file to show.
    tokio::time::sleep(Duration::from_millis(20)).await;
    push(&app, 1, "خبر عاجل عن الاقتصاد", &["الاقتصاد"]).await;
    let after = files(&out);
    let changed: Vec<String> = before
        .iter()
        .filter(|(path, t)| after.get(*path) != Some(*t))
        .map(|(path, _)| path.strip_prefix(&out).unwrap().display().to_string())
        .collect();
    let mut changed_feeds: Vec<&str> = changed
        .iter()
        .map(|p| p.split('.').next().unwrap())
        .filter(|p| !p.is_empty() && !p.starts_with("feeds"))
        .collect();
    changed_feeds.sort_unstable();
    changed_feeds.dedup();
    // The site-wide feed and the keyword's own (and the record of the build, `.nashra-build`);
    // not `iraq`, not the other keywords.
    assert_eq!(changed_feeds, ["all", "keywords/الاقتصاد"], "{changed:?}");
    let feed = app.get(&keyword_path("الاقتصاد", "atom")).await.text().await.unwrap();
    assert!(feed.contains("خبر عاجل عن الاقتصاد"), "served at once");

    // A build with nothing new does nothing; so does a new process's first build.
    let report = app.app.build_feeds(now()).await.unwrap();
    assert_eq!((report.feeds, report.files_written), (0, 0));
    let second = App::new(app.app.config.as_ref().clone()).await.unwrap();
    let report = second.build_feeds(now()).await.unwrap();
    assert_eq!((report.feeds, report.files_written), (0, 0), "the folder records what it was built at");
    second.store.close().await;

    // A file lost from the folder (a crash left it empty, someone deleted it) is written again by
    // the next process.
    std::fs::remove_file(out.join("keywords/داعش.json.br")).unwrap();
    std::fs::write(out.join("iraq.rss"), b"").unwrap();
    let third = App::new(app.app.config.as_ref().clone()).await.unwrap();
    let report = third.build_feeds(now()).await.unwrap();
    assert_eq!(report.feeds, 2, "{report:?}");
    assert!(std::fs::metadata(out.join("keywords/داعش.json.br")).unwrap().len() > 0);
    assert!(std::fs::metadata(out.join("iraq.rss")).unwrap().len() > 0);
    third.store.close().await;
}

async fn feeds_are_served_without_the_database(app: TestApp) {
    app.collect().await;
    let before = app.get("/feeds/all.atom").await.bytes().await.unwrap();
    let keyword = app.get(&keyword_path("الارهاب", "rss")).await;
    assert_eq!(keyword.status(), StatusCode::OK, "found by a spelling without hamza");
    let keyword = keyword.bytes().await.unwrap();
    // The database goes away: feeds, keyword feeds and the OPML list are still served, unchanged.
    app.app.store.close().await;
    let r = app.get("/feeds/all.atom").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap(), before);
    let r = app.get(&keyword_path("الإرهاب", "rss")).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap(), keyword);
    assert_eq!(app.get("/feeds.opml").await.status(), StatusCode::OK);
    assert_eq!(app.get(&keyword_path("لا-يوجد", "rss")).await.status(), StatusCode::NOT_FOUND);
}

async fn what_another_process_stores_reaches_the_server(app: TestApp) {
    app.collect().await;
    // Another process (a `nashra collect` run by cron) stores an article and does not build.
    let other = App::new(app.app.config.as_ref().clone()).await.unwrap();
    let source = other.store.ensure_source("elsewhere", "html", "", now()).await.unwrap();
    let article =
        stored_article("https://elsewhere.example/1", "خبر من عملية أخرى", now() + chrono::Duration::hours(1));
    other.store.upsert_article(source.id, &article, &[], now()).await.unwrap();
    other.store.close().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let feed = app.get("/feeds/all.atom").await.text().await.unwrap();
        if feed.contains("خبر من عملية أخرى") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the server did not pick the change up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_tag_gets_its_feed_once_enough_articles_carry_it(app: TestApp) {
    let opml = |app: &TestApp| {
        let app = app.http.get(app.url("/feeds.opml"));
        async move { app.send().await.unwrap().text().await.unwrap() }
    };
    for n in 1..=2 {
        push(&app, n, &format!("عودة النازحين {n}"), &["النازحين"]).await;
        assert_eq!(app.get(&keyword_path("النازحين", "atom")).await.status(), StatusCode::NOT_FOUND, "{n}");
    }
    assert!(!opml(&app).await.contains("النازحين"));
    push(&app, 3, "عودة النازحين 3", &["النازحين"]).await;
    let r = app.get(&keyword_path("النازحين", "atom")).await;
    assert_eq!(r.status(), StatusCode::OK, "the third article publishes the tag");
    let feed = feed_rs::parser::parse(&r.bytes().await.unwrap()[..]).unwrap();
    assert_eq!(feed.entries.len(), 3);
    assert!(opml(&app).await.contains("النازحين"));
    // The articles name it as a category linked to its feed.
    let all = app.get("/feeds/all.rss").await.text().await.unwrap();
    let linked = format!("{}.rss", app.url(&keyword_path("النازحين", "")).trim_end_matches('.'));
    assert!(all.contains(&linked), "{linked}");
}

async fn hostile_content_pushed_by_a_cms_stays_escaped_in_every_format(app: TestApp) {
    let title = format!("<script>alert(1)</script> ]]> تحكم\u{1}\u{1b}[31m \u{202E}txt.exe {}", "ط".repeat(400));
    let article = json!({
        "url": "https://cms.example/hostile",
        "title": title,
        "published": "2026-11-30T09:00:00Z",
        "author": "كاتب\u{2}",
        "summary": "ملخص ]]> <b>x</b>",
        "body_html": "<p onclick=\"x()\">نص ]]> <script>alert(2)</script><img src=x onerror=y()></p>",
        "keywords": ["اختبار"],
    });
    let (status, body) = push_value(&app, &article).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for ext in ["rss", "atom", "json"] {
        let plain = app.get(&format!("/feeds/all.{ext}")).await.bytes().await.unwrap().to_vec();
        let text = String::from_utf8(plain.clone()).expect("UTF-8");
        assert!(!text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')), "{ext}");
        // Markup in the title is text: escaped in XML (a JSON string is text as it is).
        assert!(ext == "json" || !text.contains("<script>"), "{ext}");
        let feed = feed_rs::parser::parse(&plain[..]).unwrap_or_else(|e| panic!("{ext}: {e}"));
        let entry = feed.entries.iter().find(|e| e.id.contains("hostile")).expect("the article");
        let body = entry.content.as_ref().and_then(|c| c.body.clone()).unwrap_or_default();
        assert!(body.contains("نص ]]>") || body.contains("نص ]]&gt;"), "{ext}: {body}");
        for unsafe_markup in ["<script", "onerror", "onclick"] {
            assert!(!body.contains(unsafe_markup), "{ext}: the body was sanitised: {body}");
        }
        let got = entry.title.as_ref().unwrap().content.clone();
        assert!(got.starts_with("<script>alert(1)</script> ]]> تحكم[31m \u{202E}txt.exe"), "{ext}: {got:.80}");
        // Served compressed, the same bytes (read by a client that decompresses nothing).
        let raw = reqwest::Client::builder().no_gzip().build().unwrap();
        let gz = raw.get(app.url(&format!("/feeds/all.{ext}"))).header("accept-encoding", "gzip");
        let gz = gz.send().await.unwrap().bytes().await.unwrap();
        let mut unzipped = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut unzipped).unwrap();
        assert_eq!(unzipped, plain, "{ext}");
    }
}

async fn a_keyword_page_announces_its_feeds(app: TestApp) {
    app.collect().await;
    let page = app.get(&format!("/keywords/{}", utf8_percent_encode("الارهاب", NON_ALPHANUMERIC))).await;
    assert_eq!(page.status(), StatusCode::OK, "found by a spelling without hamza");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<html lang="ar" dir="rtl">"#));
    let doc = scraper::Html::parse_document(&html);
    let select = |s: &str| scraper::Selector::parse(s).unwrap();
    assert_eq!(doc.select(&select("h1")).next().unwrap().text().collect::<String>(), "الإرهاب");
    let alternates: Vec<_> = doc.select(&select(r#"head link[rel="alternate"]"#)).collect();
    assert_eq!(alternates.len(), 3, "{html}");
    for link in alternates {
        let href = link.attr("href").unwrap();
        assert!(href.contains("/feeds/keywords/"), "{href}");
        let r = app.http.get(href).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{href}");
        feed_rs::parser::parse(&r.bytes().await.unwrap()[..]).unwrap();
    }
    assert!(doc.select(&select("ol.latest li")).count() >= 3, "{html}");
    assert!(doc.select(&select(r#"a[href^="/subscribe?q="]"#)).next().is_some(), "a way to follow it by email");
    // The home page links to it.
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains(&format!("/keywords/{}", utf8_percent_encode("الإرهاب", NON_ALPHANUMERIC))));
    assert_eq!(app.get("/keywords/لا-يوجد").await.status(), StatusCode::NOT_FOUND);
}

/// The links of a feed with relation `rel`, as feed-rs reads them.
fn link(feed: &feed_rs::model::Feed, rel: &str) -> Option<String> {
    feed.links.iter().find(|l| l.rel.as_deref() == Some(rel)).map(|l| l.href.clone())
}

async fn the_archive_chains_back_to_the_first_article(app: TestApp) {
    app.collect().await;
    // The demo's 11 articles with pages of 4: two archive pages and the rest in the current feed.
    let mut config = app.app.config.as_ref().clone();
    for spec in &mut config.feeds.declared {
        if spec.id == "all" {
            spec.limit = 4;
        }
    }
    let out = app.dir.path().join("archived");
    config.feeds.output_dir = out.clone();
    let archived = std::sync::Arc::new(App::new(config).await.unwrap());
    archived.build_feeds(now()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let here = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(nashra::web::serve(listener, archived.clone(), std::future::pending()));
    // Links name the site's public address; this instance answers here.
    let public = archived.config.site.base_url.to_string();
    let fetch = |url: String| {
        let url = url.replacen(&public, &here, 1);
        let http = app.http.clone();
        async move { http.get(&url).send().await.unwrap() }
    };

    let mut seen = std::collections::HashSet::new();
    let mut next = Some(format!("{public}feeds/all.atom"));
    let mut pages = 0;
    while let Some(url) = next {
        let r = fetch(url.clone()).await;
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        let cache = r.headers()["cache-control"].to_str().unwrap().to_owned();
        let body = r.bytes().await.unwrap();
        let feed = feed_rs::parser::parse(&body[..]).unwrap();
        let text = String::from_utf8(body.to_vec()).unwrap();
        if pages > 0 {
            assert!(cache.contains("immutable"), "{url}: {cache}");
            assert!(
                text.contains("<fh:archive/>") || text.contains("<fh:archive></fh:archive>"),
                "{}",
                &text[text.len() - 300..]
            );
            assert_eq!(link(&feed, "current").as_deref(), Some(format!("{public}feeds/all.atom").as_str()));
            assert_eq!(feed.entries.len(), 4, "{url}");
        } else {
            assert!(!text.contains("fh:archive"), "the current feed is not an archive");
        }
        seen.extend(feed.entries.iter().map(|e| e.id.clone()));
        next = link(&feed, "prev-archive");
        pages += 1;
    }
    assert_eq!(pages, 3, "the current feed and two archive pages");
    assert_eq!(seen.len(), 11, "every article, once walked: {seen:?}");
    // The same chain in RSS (atom:link) and JSON Feed (next_url).
    let rss = fetch(format!("{public}feeds/archive/all/2.rss")).await.text().await.unwrap();
    assert!(rss.contains("feeds/archive/all/1.rss") && rss.contains(r#"rel="prev-archive""#), "{rss:.800}");
    feed_rs::parser::parse(rss.as_bytes()).unwrap();
    let json: Value = fetch(format!("{public}feeds/all.json")).await.json_value().await;
    assert_eq!(json["next_url"], format!("{public}feeds/archive/all/2.json"));
    // Pages that do not exist (yet), and names that are not pages.
    for missing in [
        "feeds/archive/all/3.atom",
        "feeds/archive/all/0.atom",
        "feeds/archive/iraq/1.atom",
        "feeds/archive/all/x.atom",
    ] {
        assert_eq!(fetch(format!("{public}{missing}")).await.status(), StatusCode::NOT_FOUND, "{missing}");
    }
    assert!(out.join("archive/all/1.atom.gz").is_file(), "written beside the feeds");
    archived.store.close().await;
}

trait JsonValue {
    async fn json_value(self) -> Value;
}

impl JsonValue for reqwest::Response {
    async fn json_value(self) -> Value {
        serde_json::from_str(&self.text().await.unwrap()).unwrap()
    }
}

/// The status and JSON answer of a push.
async fn push_value(app: &TestApp, body: &Value) -> (StatusCode, Value) {
    let r = app
        .http
        .post(app.url("/api/v1/articles"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null))
}

async fn one_push_cannot_create_thousands_of_keywords(app: TestApp) {
    let tags: Vec<String> = (0..100).map(|i| format!("وسم{i}")).collect();
    let (status, body) = push_value(
        &app,
        &json!({
            "url": "https://cms.example/many-tags",
            "title": "مقال بمئة وسم",
            "published": "2026-11-30T08:00:00Z",
            "body_html": "<p>نص</p>",
            "keywords": tags,
        }),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("keywords"), "{body}");
    let keywords = app.app.store.all_keywords().await.unwrap();
    assert!(!keywords.iter().any(|k| k.name.starts_with("وسم")), "nothing stored");
}

/// A page that gave no date is kept (with the time it was first seen) but no feed shows that
/// time as its publication date: no RSS pubDate, no Atom published, no JSON date_published —
/// and a later read that finds its date gives it that date.
async fn an_undated_article_is_kept_and_shows_no_date(app: TestApp) {
    app.collect().await;
    let source = app.app.store.ensure_source("undated", "html", "", now()).await.unwrap();
    let mut article = stored_article("https://undated.example/1", "خبر بلا تاريخ", now());
    article.undated = true;
    app.app.store.upsert_article(source.id, &article, &[], now()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let rss = loop {
        let rss = app.get("/feeds/all.rss").await.text().await.unwrap();
        if rss.contains("خبر بلا تاريخ") {
            break rss;
        }
        assert!(std::time::Instant::now() < deadline, "the server did not pick the article up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let item = |feed: &str, open: &str, close: &str| {
        feed.split(open)
            .skip(1)
            .map(|i| i.split(close).next().unwrap_or_default().to_owned())
            .find(|i| i.contains("خبر بلا تاريخ"))
            .unwrap()
    };
    assert!(!item(&rss, "<item>", "</item>").contains("<pubDate>"), "{rss}");
    assert!(rss.matches("<pubDate>").count() >= 1, "the dated articles keep theirs");
    let atom = app.get("/feeds/all.atom").await.text().await.unwrap();
    let entry = item(&atom, "<entry>", "</entry>");
    assert!(!entry.contains("<published>") && entry.contains("<updated>"), "{entry}");
    let json: Value = serde_json::from_str(&app.get("/feeds/all.json").await.text().await.unwrap()).unwrap();
    let items = json["items"].as_array().unwrap();
    let undated = items.iter().find(|i| i["title"] == "خبر بلا تاريخ").unwrap();
    assert!(undated.get("date_published").is_none() && undated["date_modified"].is_string(), "{undated}");
    for format in ["rss", "atom", "json"] {
        let body = app.get(&format!("/feeds/all.{format}")).await.bytes().await.unwrap();
        feed_rs::parser::parse(&body[..]).unwrap_or_else(|e| panic!("all.{format}: {e}"));
    }

    // Read again with its date: it takes it.
    article.undated = false;
    article.published_at = now() - chrono::Duration::days(2);
    app.app.store.upsert_article(source.id, &article, &[], now()).await.unwrap();
    let stored = app.app.store.article_by_url("https://undated.example/1").await.unwrap().unwrap();
    assert!(!stored.undated);
    assert_eq!(stored.published_at, now() - chrono::Duration::days(2));
    // And an undated read never takes a date away.
    article.undated = true;
    article.published_at = now() + chrono::Duration::days(1);
    article.body_text = "نص معدل".into();
    app.app.store.upsert_article(source.id, &article, &[], now()).await.unwrap();
    let stored = app.app.store.article_by_url("https://undated.example/1").await.unwrap().unwrap();
    assert!(!stored.undated);
    assert_eq!(stored.published_at, now() - chrono::Duration::days(2));
}

on_both_backends!(
    with super::options();
    an_undated_article_is_kept_and_shows_no_date,
    a_new_article_rebuilds_only_the_feeds_it_belongs_to,
    feeds_are_served_without_the_database,
    what_another_process_stores_reaches_the_server,
    a_tag_gets_its_feed_once_enough_articles_carry_it,
    one_push_cannot_create_thousands_of_keywords,
    the_archive_chains_back_to_the_first_article,
    hostile_content_pushed_by_a_cms_stays_escaped_in_every_format,
    a_keyword_page_announces_its_feeds,
);
