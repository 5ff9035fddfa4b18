//! Readers sign up on the web with double opt-in: the form, the confirmation email (from the
//! outbox), the confirmation link, and the limits that keep the form from being abused.

use mail_parser::MessageParser;
use reqwest::StatusCode;

use crate::delivery::add_article;
use crate::helpers::{TestApp, now};
use crate::on_both_backends;

async fn post_form(app: &TestApp, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
    let r = app
        .http
        .post(app.url("/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

fn status_of(subscriber: &Option<nashra::store::Subscriber>) -> Option<nashra::store::SubscriberStatus> {
    subscriber.as_ref().map(nashra::store::Subscriber::status)
}

async fn a_reader_signs_up_confirms_and_gets_the_next_digest(app: TestApp) {
    app.collect().await;
    let page = app.get("/subscribe").await.text().await.unwrap();
    assert!(page.contains(r#"<html lang="ar" dir="rtl">"#));
    assert!(page.contains(r#"name="keywords" value="داعش""#), "the vocabulary is offered: {page}");
    assert!(page.contains(r#"<label for="email">"#), "fields are labelled");
    let home = scraper::Html::parse_document(&app.get("/").await.text().await.unwrap());
    let hrefs: Vec<String> = home
        .select(&scraper::Selector::parse("a[href]").unwrap())
        .filter_map(|a| a.attr("href").map(str::to_owned))
        .collect();
    assert!(hrefs.contains(&app.url("/subscribe")), "the home page leads to the form: {hrefs:?}");

    // An alias typed in the free field is the keyword it stands for.
    let (status, answer) =
        post_form(&app, &[("email", " Reader@Example.org "), ("keywords", "الإرهاب"), ("other", "تنظيم الدولة")]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer.contains("تحقق من بريدك"));
    let reader = app.app.store.subscriber_by_email("reader@example.org").await.unwrap();
    assert_eq!(status_of(&reader), Some(nashra::store::SubscriberStatus::Pending));
    let follows: Vec<String> = app
        .app
        .store
        .subscriber_keywords(reader.as_ref().unwrap().id)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(follows, ["الإرهاب", "داعش"]);

    // The confirmation email: to the reader, no list headers, a link and nothing typed.
    let messages = app.outbox_messages();
    assert_eq!(messages.len(), 1);
    let m = MessageParser::default().parse(&messages[0]).unwrap();
    assert_eq!(m.to().unwrap().first().unwrap().address(), Some("reader@example.org"));
    assert!(m.header_raw("List-Unsubscribe").is_none());
    let html = m.body_html(0).unwrap();
    let text = m.body_text(0).unwrap();
    assert!(html.contains(r#"dir="rtl""#));
    assert!(!text.contains("تنظيم الدولة") && !html.contains("Reader@Example"), "no text the visitor typed");
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with(&app.url("/confirm/")))
        .unwrap_or_else(|| panic!("no confirmation link in {text}"))
        .to_owned();
    assert!(html.contains(&link.replace('&', "&amp;")));

    // Pending readers get no digest.
    let (_, sent) = app.send_digest(now()).await;
    assert_eq!(sent.sent, 0);

    // Opening the link (as a mail scanner does) confirms nothing; the button does.
    let page = app.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("reader@example.org"));
    let reader = app.app.store.subscriber_by_email("reader@example.org").await.unwrap();
    assert_eq!(status_of(&reader), Some(nashra::store::SubscriberStatus::Pending));
    let done = app.http.post(&link).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("تم تأكيد اشتراكك"));
    let reader = app.app.store.subscriber_by_email("reader@example.org").await.unwrap();
    assert_eq!(status_of(&reader), Some(nashra::store::SubscriberStatus::Active));

    // The next edition brings what was collected after they joined (the form used the real
    // clock; the test's clock is fixed at 2026-11-30 05:00 UTC, so it moves a day on).
    add_article(&app, "2026-12-01-lake-chad", "داعش في بحيرة تشاد");
    let tomorrow = now() + chrono::Duration::days(1);
    app.app.collect(None, tomorrow).await.unwrap();
    let (_, sent) = app.send_digest(tomorrow + chrono::Duration::hours(1)).await;
    assert_eq!(sent.sent, 1);
    // The link is for confirming only.
    let token = link.rsplit('/').next().unwrap();
    let as_unsubscribe = app.get(&format!("/unsubscribe/{}", token.replacen('c', "u", 1))).await;
    assert_eq!(as_unsubscribe.status(), StatusCode::NOT_FOUND);
    let altered = format!("{}0", &link[..link.len() - 1]);
    let altered = if altered == link { format!("{}1", &link[..link.len() - 1]) } else { altered };
    assert_eq!(app.http.post(&altered).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

async fn the_form_answers_alike_for_every_address_and_names_each_bad_field(app: TestApp) {
    app.collect().await;
    app.subscribe("known@example.org", &["داعش"]).await;
    let (status, answer) = post_form(&app, &[("email", "known@example.org"), ("keywords", "الإرهاب")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(answer.contains("تحقق من بريدك"));
    assert!(app.outbox_messages().is_empty(), "a confirmed reader is not written to");
    let known = app.app.store.subscriber_by_email("known@example.org").await.unwrap().unwrap();
    let follows = app.app.store.subscriber_keywords(known.id).await.unwrap();
    assert_eq!(follows.len(), 1, "nor are their choices changed by whoever knows their address");

    let (status, page) = post_form(&app, &[("email", "not an address"), ("other", "كرة القدم")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("اكتب عنوان بريد إلكتروني صحيحًا"), "{page}");
    assert!(page.contains("«كرة القدم» ليس من موضوعات الموقع"), "{page}");
    assert!(
        page.contains(r#"value="not an address""#) && page.contains(r#"value="كرة القدم""#),
        "what was typed is kept"
    );
    assert!(page.contains(r#"aria-invalid="true""#));
    let (status, page) = post_form(&app, &[("email", "new@example.org")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("اختر موضوعًا واحدًا على الأقل"));
    assert!(app.app.store.subscriber_by_email("new@example.org").await.unwrap().is_none());
    // Nothing the form sends becomes a keyword.
    assert!(app.app.store.keyword_by_slug("كرة-القدم").await.unwrap().is_none());
}

async fn the_form_cannot_flood_an_inbox_or_the_list(app: TestApp) {
    app.collect().await;
    // One address asked again and again gets two confirmation emails, not more.
    for _ in 0..4 {
        let (status, _) = post_form(&app, &[("email", "target@example.org"), ("keywords", "داعش")]).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(app.outbox_messages().len(), 2);
    // After five sign-ups in a burst from one client, the next is refused.
    let (status, _) = post_form(&app, &[("email", "y@example.org"), ("keywords", "داعش")]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = post_form(&app, &[("email", "x@example.org"), ("keywords", "داعش")]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{page}");
    assert!(page.contains(r#"dir="rtl""#));
    assert!(app.app.store.subscriber_by_email("x@example.org").await.unwrap().is_none());
}

on_both_backends!(
    a_reader_signs_up_confirms_and_gets_the_next_digest,
    the_form_answers_alike_for_every_address_and_names_each_bad_field,
    the_form_cannot_flood_an_inbox_or_the_list,
);
