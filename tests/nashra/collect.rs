//! Collect: the demo site's pages become articles, in UTC, with their keywords; bad pages and
//! sources are reported and skipped without losing the rest.

use chrono::{TimeZone, Utc};
use nashra::store::Article;

use crate::helpers::{TestApp, now};
use crate::on_both_backends;

const IRAQ: &str = "demo/articles/2026-11-29-iraq-border-operations.html";
const MOSUL: &str = "demo/articles/2026-11-22-mosul-reconstruction.html";
const BANK: &str = "demo/articles/2026-11-28-central-bank-reserve-ratio.html";
const COALITION: &str = "demo/articles/2026-11-23-coalition-new-phase.html";

async fn article(app: &TestApp, path: &str) -> Article {
    app.app
        .store
        .article_by_url(&app.url(&format!("/{path}")))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{path} not stored"))
}

/// The names of an article's keywords, sorted.
async fn keywords_of(app: &TestApp, path: &str) -> Vec<String> {
    let a = article(app, path).await;
    let mut names: Vec<String> =
        app.app.store.keywords_of_articles(&[a.id]).await.unwrap().into_iter().map(|(_, k)| k.name).collect();
    names.sort();
    names
}

async fn the_demo_site_is_collected_into_articles_in_utc(app: TestApp) {
    let report = app.collect().await;
    assert_eq!(report.inserted(), 11, "{report:?}");
    assert_eq!(report.errors(), 0, "{report:?}");

    let a = article(&app, IRAQ).await;
    assert_eq!(a.title, "«عمليات الحدود».. العراق يلاحق فلول داعش في صحراء الأنبار");
    // «الأحد 29/نوفمبر/2026 - 10:18 ص» in Cairo (UTC+2 in November)
    assert_eq!(a.published_at, Utc.with_ymd_and_hms(2026, 11, 29, 8, 18, 0).unwrap());
    assert_eq!(a.author.as_deref(), Some("كريم الدباغ"));
    assert_eq!(a.section.as_deref(), Some("ملفات"));
    assert_eq!(a.lang.as_deref(), Some("ar"));
    assert!(a.body_text.starts_with("يواصل العراق تضييق الخناق"), "{}", a.body_text);
    assert!(a.body_text.contains("\n\nملاذات الصحراء\n\n"), "sub-headings are kept as paragraphs");
    for boilerplate in ["ad a b", "ad ad ad", "طباعة", "شارك:", "قوات عراقية خلال عملية تمشيط", "يصدر عن مركز"]
    {
        assert!(!a.body_text.contains(boilerplate), "{boilerplate:?} left in the body");
        assert!(!a.body_html.contains(boilerplate), "{boilerplate:?} left in the HTML");
    }
    assert!(a.body_html.contains("<h2>ملاذات الصحراء</h2>"));

    // «الاثنين 23/نوفمبر/2026 - 06:50 م» without hamza, p.m.
    let a = article(&app, "demo/articles/2026-11-23-online-extremism.html").await;
    assert_eq!(a.published_at, Utc.with_ymd_and_hms(2026, 11, 23, 16, 50, 0).unwrap());
}

async fn keywords_come_from_the_keyword_block_and_from_the_text(app: TestApp) {
    app.subscribe("reader@example.org", &["العراق", "مصر", "داعش"]).await;
    app.collect().await;
    // The block gives داعش، العراق، الإرهاب.
    assert_eq!(keywords_of(&app, IRAQ).await, ["الإرهاب", "العراق", "داعش"]);
    // No keyword block, but «العراق»، «بالعراق»، «والعراق» in the text.
    assert!(keywords_of(&app, MOSUL).await.contains(&"العراق".to_owned()));
    // «العـراق» (tatweel) and «العِراق» (kasra) in the text of the coalition article.
    assert!(keywords_of(&app, COALITION).await.contains(&"العراق".to_owned()));
    // «المصرف»، «مصرفه»، «بالمصرف» are not مصر.
    let bank = keywords_of(&app, BANK).await;
    assert!(!bank.contains(&"مصر".to_owned()), "{bank:?}");
}

async fn a_keyword_followed_after_collection_is_matched_against_stored_articles(app: TestApp) {
    app.collect().await;
    assert!(!keywords_of(&app, MOSUL).await.contains(&"العراق".to_owned()));
    app.subscribe("late@example.org", &["العراق"]).await;
    assert!(keywords_of(&app, MOSUL).await.contains(&"العراق".to_owned()));
}

async fn a_second_pass_over_an_unchanged_site_changes_nothing(app: TestApp) {
    app.collect().await;
    let before = article(&app, IRAQ).await;
    let report = app.app.collect(None, now() + chrono::Duration::hours(1)).await.unwrap();
    assert_eq!((report.inserted(), report.updated(), report.errors()), (0, 0, 0), "{report:?}");
    assert_eq!(article(&app, IRAQ).await, before);
}

async fn an_edited_article_updates_its_row_and_is_not_duplicated(app: TestApp) {
    app.collect().await;
    let before = article(&app, IRAQ).await;
    // The title changes on the article and on the listing that shows it.
    app.edit_site("articles/2026-11-29-iraq-border-operations.html", "يلاحق فلول داعش", "يطارد فلول داعش");
    app.edit_site("index.html", "يلاحق فلول داعش", "يطارد فلول داعش");
    let later = now() + chrono::Duration::hours(1);
    let report = app.app.collect(None, later).await.unwrap();
    assert_eq!((report.inserted(), report.updated()), (0, 1), "{report:?}");
    let after = article(&app, IRAQ).await;
    assert_eq!(after.id, before.id);
    assert_eq!(after.first_seen_at, before.first_seen_at, "an edit is not a new article");
    assert_eq!(after.updated_at, later);
    assert!(after.title.contains("يطارد"));
    assert_eq!(app.app.store.count_articles().await.unwrap(), 11);
}

async fn a_page_that_cannot_be_read_is_reported_and_the_rest_is_kept(app: TestApp) {
    let index = app.site.join("index.html");
    let html = std::fs::read_to_string(&index).unwrap();
    let extra = r#"<ul class="latest"><li><a class="article-link" href="articles/bad-date.html">x</a></li>
        <li><a class="article-link" href="articles/gone.html">y</a></li></ul></body>"#;
    std::fs::write(&index, html.replace("</body>", extra)).unwrap();
    let good = std::fs::read_to_string(app.site.join("articles/2026-11-29-iraq-border-operations.html")).unwrap();
    let bad = good.replace("الأحد 29/نوفمبر/2026 - 10:18 ص", "الأحد 45/نوفمبر/2026 - 10:18 ص");
    std::fs::write(app.site.join("articles/bad-date.html"), bad).unwrap();

    let report = app.collect().await;
    assert_eq!(report.inserted(), 11, "the good pages are all kept: {report:?}");
    let errors = &report.sources[0].errors;
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("bad-date.html") && e.contains("45/نوفمبر/2026")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("gone.html") && e.contains("404")), "{errors:?}");
}

async fn a_canonical_link_to_another_host_or_the_home_page_is_not_trusted(app: TestApp) {
    for (file, canonical) in [
        ("articles/2026-11-29-iraq-border-operations.html", "http://elsewhere.example/a.html"),
        ("articles/2026-11-28-central-bank-reserve-ratio.html", "/"),
    ] {
        let path = app.site.join(file);
        let html = std::fs::read_to_string(&path).unwrap();
        let html = html.replace(&format!("href=\"/demo/{file}\""), &format!("href=\"{canonical}\""));
        std::fs::write(&path, html).unwrap();
    }
    app.collect().await;
    assert_eq!(app.app.store.count_articles().await.unwrap(), 11, "no article overwrote another");
    article(&app, IRAQ).await;
    article(&app, BANK).await;
}

async fn a_relative_date_line_does_not_make_an_article_new_again(app: TestApp) {
    let path = app.site.join("articles/2026-11-29-iraq-border-operations.html");
    let html = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, html.replace("الأحد 29/نوفمبر/2026 - 10:18 ص", "منذ ساعتين")).unwrap();
    app.collect().await;
    let first = article(&app, IRAQ).await;
    assert_eq!(first.published_at, now() - chrono::Duration::hours(2));
    let report = app.app.collect(None, now() + chrono::Duration::hours(1)).await.unwrap();
    assert_eq!(report.updated(), 0, "{report:?}");
    assert_eq!(article(&app, IRAQ).await.published_at, first.published_at);
}

/// A page with no date anywhere (its date line removed) is stored undated, with the time it was
/// first seen, and the pass lists it; a second pass keeps that first time.
async fn a_page_without_a_date_is_kept_undated_and_reported(app: TestApp) {
    let path = app.site.join("articles/2026-11-29-iraq-border-operations.html");
    let html = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, html.replace("الأحد 29/نوفمبر/2026 - 10:18 ص", "")).unwrap();
    let report = app.collect().await;
    assert_eq!(report.inserted(), 11, "{report:?}");
    assert!(report.failure().is_none(), "{report:?}");
    let undated = &report.sources[0].undated;
    assert!(undated.len() == 1 && undated[0].ends_with("2026-11-29-iraq-border-operations.html"), "{undated:?}");
    assert!(report.summary().contains("1 undated"), "{}", report.summary());
    let stored = article(&app, IRAQ).await;
    assert!(stored.undated);
    assert_eq!(stored.published_at, now());
    app.app.collect(None, now() + chrono::Duration::hours(3)).await.unwrap();
    assert_eq!(article(&app, IRAQ).await.published_at, now(), "still the time it was first seen");
}

on_both_backends!(
    a_page_without_a_date_is_kept_undated_and_reported,
    a_canonical_link_to_another_host_or_the_home_page_is_not_trusted,
    a_relative_date_line_does_not_make_an_article_new_again,
    the_demo_site_is_collected_into_articles_in_utc,
    keywords_come_from_the_keyword_block_and_from_the_text,
    a_keyword_followed_after_collection_is_matched_against_stored_articles,
    a_second_pass_over_an_unchanged_site_changes_nothing,
    an_edited_article_updates_its_row_and_is_not_duplicated,
    a_page_that_cannot_be_read_is_reported_and_the_rest_is_kept,
);

mod extra_sources {
    //! Instances with more sources than the demo: an upstream feed and a server that is down.
    use super::*;
    use crate::helpers::Options;

    const UPSTREAM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>مصدر</title><link>http://example.org/</link><description>d</description>
<item><title>تونس &amp; الجزائر: «حوار» جديد</title><link>http://example.org/a/1</link>
<guid>urn:x:1</guid><pubDate>Sat, 28 Nov 2026 14:30:00 +0100</pubDate>
<category>تونس</category><description>&lt;p&gt;نص &lt;script&gt;x()&lt;/script&gt;المقال&lt;/p&gt;</description></item>
<item><title>بلا تاريخ</title><link>http://example.org/a/2</link></item>
</channel></rss>"#;

    fn options() -> Options {
        let extra = r#"
[[sources]]
name = "upstream"
kind = "feed"
url = "{site}upstream.xml"

[[sources]]
name = "down"
kind = "feed"
url = "http://127.0.0.1:1/feed.xml"
"#;
        Options { extra_toml: extra.into(), ..Default::default() }
    }

    async fn feed_entries_are_stored_and_bad_entries_reported(app: TestApp) {
        std::fs::write(app.site.join("upstream.xml"), UPSTREAM).unwrap();
        let report = app.collect().await;
        let upstream = report.sources.iter().find(|s| s.source == "upstream").unwrap();
        assert_eq!(upstream.inserted, 1, "{upstream:?}");
        assert_eq!(upstream.errors.len(), 1, "{upstream:?}");
        assert!(upstream.errors[0].contains("http://example.org/a/2") && upstream.errors[0].contains("no publication"));
        let a = app.app.store.article_by_url("http://example.org/a/1").await.unwrap().unwrap();
        assert_eq!(a.title, "تونس & الجزائر: «حوار» جديد");
        assert_eq!(a.published_at, Utc.with_ymd_and_hms(2026, 11, 28, 13, 30, 0).unwrap());
        assert!(!a.body_html.contains("script"));
        assert_eq!(a.guid.as_deref(), Some("urn:x:1"));
        let k = app.app.store.keyword_by_slug("تونس").await.unwrap();
        assert!(k.is_some(), "the feed's category becomes a keyword");
    }

    async fn an_unreachable_source_fails_alone_and_is_remembered(app: TestApp) {
        std::fs::write(app.site.join("upstream.xml"), UPSTREAM).unwrap();
        let report = app.collect().await;
        let down = report.sources.iter().find(|s| s.source == "down").unwrap();
        assert!(down.failed);
        assert!(down.errors[0].contains("http://127.0.0.1:1/feed.xml"), "{:?}", down.errors);
        let demo = report.sources.iter().find(|s| s.source == "demo").unwrap();
        assert_eq!(demo.inserted, 11, "the other sources carry on");
        let store = app.app.store.clone();
        let state = |name: &'static str| {
            let store = store.clone();
            async move { store.sources().await.unwrap().into_iter().find(|s| s.name == name).unwrap() }
        };
        let down = state("down").await;
        assert_eq!(down.failure_count, 1);
        assert!(down.last_error.as_deref().unwrap_or_default().contains("127.0.0.1:1"));
        assert_eq!(down.next_poll_at, Some(now() + chrono::Duration::minutes(1)), "polled again after a pause");
        // The scheduler leaves it alone until then (and says so); by hand it is polled at once.
        let soon = app.app.collect(None, now() + chrono::Duration::seconds(30)).await.unwrap();
        assert!(soon.sources.iter().find(|s| s.source == "down").unwrap().postponed_until.is_some());
        assert_eq!(state("down").await.failure_count, 1);
        app.app.collect(Some("down"), now() + chrono::Duration::seconds(40)).await.unwrap();
        let down = state("down").await;
        assert_eq!(down.failure_count, 2);
        assert_eq!(down.next_poll_at, Some(now() + chrono::Duration::seconds(40) + chrono::Duration::minutes(2)));
    }

    on_both_backends!(
        with super::options();
        feed_entries_are_stored_and_bad_entries_reported,
        an_unreachable_source_fails_alone_and_is_remembered,
    );
}
