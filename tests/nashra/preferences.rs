//! What a reader chooses beyond their address: topics found by searching (with how many articles
//! each has), the editions they get, a pause; and the guards around the forms — no post from
//! another site, no sign-up left waiting forever.

use chrono::{Duration, Utc};
use mail_parser::MessageParser;
use reqwest::StatusCode;

use crate::delivery::add_article;
use crate::helpers::{TestApp, now};
use crate::signup::{confirmation_link, post_form, post_form_with, visit_form};

fn form_body(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

/// A reader's signed preferences link.
async fn preferences_link(app: &TestApp, email: &str) -> String {
    let reader = app.app.store.subscriber_by_email(email).await.unwrap().unwrap();
    app.app.links.url(nashra::subscribers::Purpose::Preferences, reader.id, &reader.token, None)
}

async fn post_preferences(app: &TestApp, link: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let r = app
        .http
        .post(link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(fields))
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

fn empty_outbox(app: &TestApp) {
    for file in std::fs::read_dir(app.outbox()).unwrap() {
        std::fs::remove_file(file.unwrap().path()).unwrap();
    }
}

/// The addresses the outbox's messages went to.
fn recipients(app: &TestApp) -> Vec<String> {
    let mut to: Vec<String> = app
        .outbox_messages()
        .iter()
        .map(|m| {
            let m = MessageParser::default().parse(m).unwrap();
            m.to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap_or_default().to_owned()
        })
        .collect();
    to.sort();
    to
}

async fn forms_posted_from_another_site_are_refused(app: TestApp) {
    app.collect().await;
    let fields = [("email", "victim@example.org"), ("keywords", "داعش")];
    // No cookie (a forged post from a browser that sends no Origin): refused, nothing written.
    let (_, csrf) = visit_form(&app).await;
    let (status, page) = post_form_with(&app, "", &csrf, &fields).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("انتهت صلاحية النموذج"), "{page}");
    assert!(page.contains(r#"value="victim@example.org""#), "what was typed is kept for a second try");
    // The cookie of one browser with the token of another: refused.
    let (cookie, _) = visit_form(&app).await;
    assert_eq!(
        post_form_with(&app, &cookie, "0123456789abcdef0123456789abcdef", &fields).await.0,
        StatusCode::FORBIDDEN
    );
    assert!(app.app.store.subscriber_by_email("victim@example.org").await.unwrap().is_none());

    // A browser says where a post comes from: another site's is refused on every page, with or
    // without a token.
    app.subscribe("reader@example.org", &["داعش"]).await;
    let link = preferences_link(&app, "reader@example.org").await;
    for (header, value) in [("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")] {
        let r = app
            .http
            .post(&link)
            .header(header, value)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&[("keywords", "الإرهاب")]))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{header}: {value}");
    }
    let reader = app.app.store.subscriber_by_email("reader@example.org").await.unwrap().unwrap();
    let topics = app.app.store.subscriber_keywords(reader.id).await.unwrap();
    assert_eq!(topics.iter().map(|k| k.name.as_str()).collect::<Vec<_>>(), ["داعش"]);
    // Our own page's post goes through.
    let r = app
        .http
        .post(&link)
        .header("sec-fetch-site", "same-origin")
        .header("origin", app.url(""))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("keywords", "الإرهاب")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

async fn topics_show_their_article_counts_and_can_be_searched(app: TestApp) {
    app.collect().await;
    let keyword = app.app.store.keyword_by_slug("داعش").await.unwrap().unwrap();
    let counts = app.app.store.vocabulary_article_counts().await.unwrap();
    let n = counts[&keyword.id];
    assert!(n > 0);
    let page = scraper::Html::parse_document(&app.get("/subscribe").await.text().await.unwrap());
    let label = scraper::Selector::parse("label.choice").unwrap();
    let labels: Vec<String> = page.select(&label).map(|l| l.text().collect::<String>()).collect();
    assert!(labels.iter().any(|l| l.contains("داعش") && l.contains(&format!("({n} "))), "{labels:?}");
    let suggestions = scraper::Selector::parse("datalist#topic-names option").unwrap();
    assert!(page.select(&suggestions).count() >= labels.len(), "every topic is suggested in the free field");

    // Searching ignores hamza and diacritics, as matching does.
    let found = app.get("/subscribe?q=%D8%A7%D9%84%D8%A7%D8%B1%D9%87%D8%A7%D8%A8").await.text().await.unwrap(); // «الارهاب»
    let found = scraper::Html::parse_document(&found);
    let values: Vec<String> = found
        .select(&scraper::Selector::parse("input[name=keywords]").unwrap())
        .filter_map(|i| i.attr("value").map(str::to_owned))
        .collect();
    assert_eq!(values, ["الإرهاب"]);
    let none = app.get("/subscribe?q=%D9%83%D8%B1%D8%A9").await.text().await.unwrap(); // «كرة»
    assert!(none.contains("لا موضوع بهذا الاسم"), "{none}");
}

const TWO_EDITIONS: &str = r#"
[[editions]]
name = "weekly"
title = "النشرة الأسبوعية"
cron = "0 7 * * 5"
"#;

async fn a_reader_gets_the_editions_they_chose(app: TestApp) {
    app.collect().await;
    app.subscribe("everything@example.org", &["داعش"]).await;
    let page = app.get("/subscribe").await.text().await.unwrap();
    assert!(page.contains(r#"name="editions" value="weekly" checked"#), "{page}");
    let (status, page) = post_form(&app, &[("email", "w@example.org"), ("keywords", "داعش")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no edition ticked");
    assert!(page.contains("اختر نشرة واحدة على الأقل"), "{page}");
    let (status, _) =
        post_form(&app, &[("email", "w@example.org"), ("keywords", "داعش"), ("editions", "weekly")]).await;
    assert_eq!(status, StatusCode::OK);
    let link = confirmation_link(&app, 1).await;
    assert_eq!(app.http.post(&link).send().await.unwrap().status(), StatusCode::OK);
    let w = app.app.store.subscriber_by_email("w@example.org").await.unwrap().unwrap();
    assert_eq!(app.app.store.subscriber_editions(w.id).await.unwrap(), ["weekly"]);
    empty_outbox(&app);

    app.send_digest(now()).await;
    assert_eq!(recipients(&app), ["everything@example.org"], "the daily edition");
    empty_outbox(&app);
    app.app.send_digest("weekly", now(), now(), false).await.unwrap();
    assert_eq!(recipients(&app), ["everything@example.org", "w@example.org"], "the weekly edition");

    // Both ticked on the preferences page: every edition (those added later too).
    let link = preferences_link(&app, "w@example.org").await;
    let fields = [("keywords", "داعش"), ("editions", "daily"), ("editions", "weekly")];
    assert_eq!(post_preferences(&app, &link, &fields).await.0, StatusCode::OK);
    assert!(app.app.store.subscriber_editions(w.id).await.unwrap().is_empty());
    let (status, page) = post_preferences(&app, &link, &[("keywords", "داعش"), ("editions", "monthly")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("«monthly» ليست من نشرات الموقع"), "{page}");
}

async fn a_paused_reader_gets_nothing_until_the_pause_ends(app: TestApp) {
    app.collect().await;
    app.subscribe("reader@example.org", &["داعش", "الساحل"]).await;
    let link = preferences_link(&app, "reader@example.org").await;
    let (status, page) =
        post_preferences(&app, &link, &[("keywords", "داعش"), ("keywords", "الساحل"), ("pause", "7")]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("تبقى متوقفة حتى"), "the page says until when: {page}");
    let reader = app.app.store.subscriber_by_email("reader@example.org").await.unwrap().unwrap();
    assert!(reader.paused_at(Utc::now()) && !reader.paused_at(Utc::now() + Duration::days(8)));

    // Editions during the pause leave the reader out.
    let soon = Utc::now() + Duration::hours(1);
    let (outcome, _) = app.send_digest(soon).await;
    assert!(matches!(outcome.planned, nashra::digest::Planned::Now { messages: 0, .. }), "{outcome:?}");
    assert!(app.outbox_messages().is_empty());

    // Resumed from the page: what was published during the pause is not sent, what comes
    // after is.
    let (status, _) =
        post_preferences(&app, &link, &[("keywords", "داعش"), ("keywords", "الساحل"), ("pause", "none")]).await;
    assert_eq!(status, StatusCode::OK);
    add_article(&app, "2026-12-01-after-the-pause", "داعش");
    app.app.collect(None, Utc::now() + Duration::hours(2)).await.unwrap();
    let (outcome, sent) = app.send_digest(Utc::now() + Duration::hours(3)).await;
    let messages = app.outbox_messages();
    assert_eq!(messages.len(), 1, "{outcome:?} {sent:?}");
    assert_eq!(messages.len(), 1);
    let html = MessageParser::default().parse(&messages[0]).unwrap().body_html(0).unwrap().into_owned();
    assert!(html.contains("2026-12-01-after-the-pause"), "the new article is sent");
    assert!(!html.contains("2026-11-25-sahel-jihadist-expansion"), "one from before the resume is not: {html}");
}

async fn sign_ups_never_confirmed_expire(app: TestApp) {
    app.collect().await;
    post_form(&app, &[("email", "late@example.org"), ("keywords", "داعش")]).await;
    let link = confirmation_link(&app, 1).await;
    let list = "email,status\nimported@example.org,pending\n";
    let options = nashra::subscribers::ImportOptions { confirmed: false, resubscribe: false };
    let store = &app.app.store;
    nashra::subscribers::import(store, &app.app.config, list.as_bytes(), &options, now(), &mut |_, _| {}, &|_| {})
        .await
        .unwrap();

    assert_eq!(store.expire_unconfirmed(Utc::now() - Duration::minutes(1)).await.unwrap(), 0, "the link still works");
    let (_, sign_ups) = app.app.housekeeping(Utc::now() + Duration::hours(49)).await.unwrap();
    assert_eq!(sign_ups, 1, "expired with its link");
    assert!(app.app.store.subscriber_by_email("late@example.org").await.unwrap().is_none());
    assert!(app.app.store.subscriber_by_email("imported@example.org").await.unwrap().is_some(), "imports wait");
    assert_eq!(app.http.post(&link).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

/// Links signed by the key kept in the database keep working when the operator configures their
/// own keys, and stop when the operator retires it.
async fn the_operator_can_retire_the_stored_link_key(app: TestApp) {
    use nashra::subscribers::{Links, Purpose, Token};
    app.subscribe("reader@example.org", &["داعش"]).await;
    let reader = app.app.store.subscriber_by_email("reader@example.org").await.unwrap().unwrap();
    let old = app.app.links.token(Purpose::Unsubscribe, reader.id, &reader.token, None);
    let old = Token::parse(&old).unwrap();
    let mut config = (*app.app.config).clone();
    config.site.secrets = vec!["an-operator-key-of-at-least-32-characters".into()];
    let rotated = Links::load(&config, &app.app.store, Utc::now()).await.unwrap();
    assert!(rotated.verify(&old, Purpose::Unsubscribe, &reader.token, Utc::now()).is_ok());
    let new = Token::parse(&rotated.token(Purpose::Unsubscribe, reader.id, &reader.token, None)).unwrap();
    config.site.stored_key_verifies = false;
    let retired = Links::load(&config, &app.app.store, Utc::now()).await.unwrap();
    assert!(retired.verify(&old, Purpose::Unsubscribe, &reader.token, Utc::now()).is_err());
    assert!(retired.verify(&new, Purpose::Unsubscribe, &reader.token, Utc::now()).is_ok());
}

/// Addresses stored before they had one form (a domain in punycode) are rewritten at start-up;
/// two readers that turn out to be one mailbox are left for the operator, with a warning.
async fn addresses_stored_in_punycode_are_brought_to_one_form(app: TestApp) {
    let store = &app.app.store;
    for email in ["old@xn--mgbh0fb.xn--wgbh1c", "both@xn--mgbh0fb.xn--wgbh1c", "both@مثال.مصر"] {
        store.upsert_subscriber(email, &nashra::subscribers::new_token().unwrap(), &[], now(), false).await.unwrap();
    }
    store.suppress("gone@xn--mgbh0fb.xn--wgbh1c", "550 no such user", now()).await.unwrap();
    let again = nashra::app::App::new((*app.app.config).clone()).await.unwrap();
    let emails: Vec<String> = again.store.subscribers().await.unwrap().into_iter().map(|s| s.email).collect();
    assert_eq!(emails, ["both@xn--mgbh0fb.xn--wgbh1c", "both@مثال.مصر", "old@مثال.مصر"]);
    let suppressed: Vec<String> = again.store.suppressions().await.unwrap().into_iter().map(|s| s.email).collect();
    assert_eq!(suppressed, ["gone@مثال.مصر"]);
    again.store.close().await;
}

crate::on_both_backends!(
    addresses_stored_in_punycode_are_brought_to_one_form,
    the_operator_can_retire_the_stored_link_key,
    forms_posted_from_another_site_are_refused,
    topics_show_their_article_counts_and_can_be_searched,
    a_paused_reader_gets_nothing_until_the_pause_ends,
    sign_ups_never_confirmed_expire,
    expired_and_garbled_input_gets_a_clear_answer,
    instances_starting_together_agree_on_the_link_key,
);

mod editions {
    use super::*;

    crate::on_both_backends!(
        with crate::helpers::Options {
            extra_toml: crate::preferences::TWO_EDITIONS.into(),
            ..crate::helpers::Options::default()
        };
        a_reader_gets_the_editions_they_chose,
    );
}

async fn expired_and_garbled_input_gets_a_clear_answer(app: TestApp) {
    app.collect().await;
    post_form(&app, &[("email", "late@example.org"), ("keywords", "داعش")]).await;
    let reader = app.app.store.subscriber_by_email("late@example.org").await.unwrap().unwrap();
    let expired = app.app.links.url(
        nashra::subscribers::Purpose::Confirm,
        reader.id,
        &reader.token,
        Some(Utc::now() - Duration::minutes(1)),
    );
    let page = app.http.get(&expired).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.text().await.unwrap().contains("انتهت صلاحية هذا الرابط"));
    assert_eq!(app.http.post(&expired).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // Bytes that are not UTF-8 in a form: a field error, never a crash.
    let (cookie, csrf) = visit_form(&app).await;
    let mut body = format!("csrf={csrf}&keywords=%D8%AF%D8%A7%D8%B9%D8%B4&email=").into_bytes();
    body.extend_from_slice(b"\xff\xfe@example.org&other=\xc3");
    let r = app
        .http
        .post(app.url("/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = r.text().await.unwrap();
    assert!(page.contains("اكتب عنوان بريد إلكتروني صحيحًا"), "{page}");
    app.subscribe("reader@example.org", &["داعش"]).await;
    let link = preferences_link(&app, "reader@example.org").await;
    let r = app.http.post(&link).body(b"keywords=\xff\xff".to_vec()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn instances_starting_together_agree_on_the_link_key(app: TestApp) {
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = app.app.store.clone();
            tokio::spawn(async move { store.secret("race-key", &format!("candidate-{i}"), Utc::now()).await.unwrap() })
        })
        .collect();
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.unwrap());
    }
    keys.dedup();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("candidate-"));
}
