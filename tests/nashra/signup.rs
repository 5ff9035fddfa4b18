//! Readers sign up on the web with double opt-in: the form, the confirmation email (from the
//! outbox), the confirmation link, and the limits that keep the form from being abused.

use mail_parser::MessageParser;
use reqwest::StatusCode;

use crate::delivery::add_article;
use crate::helpers::{TestApp, now};
use crate::on_both_backends;

/// A browser's visit to the form: its cookie and the form's anti-forgery token.
pub async fn visit_form(app: &TestApp) -> (String, String) {
    let r = app.get("/subscribe").await;
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let page = scraper::Html::parse_document(&r.text().await.unwrap());
    let csrf = page.select(&scraper::Selector::parse("input[name=csrf]").unwrap()).next().unwrap();
    (cookie, csrf.attr("value").unwrap().to_owned())
}

/// Posts the sign-up form as a browser that has just opened it.
pub async fn post_form(app: &TestApp, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let (cookie, csrf) = visit_form(app).await;
    post_form_with(app, &cookie, &csrf, fields).await
}

pub async fn post_form_with(app: &TestApp, cookie: &str, csrf: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
    let body: String =
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).append_pair("csrf", csrf).finish();
    let r = app
        .http
        .post(app.url("/subscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

/// Waits (at most 5 s) until the outbox holds `n` messages — confirmations are sent apart from
/// the answer — and returns them.
async fn outbox_with(app: &TestApp, n: usize) -> Vec<Vec<u8>> {
    for _ in 0..100 {
        let messages = app.outbox_messages();
        if messages.len() >= n {
            return messages;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the outbox holds {} message(s), not {n}", app.outbox_messages().len());
}

/// The confirmation link of the newest message in the outbox.
pub async fn confirmation_link(app: &TestApp, n: usize) -> String {
    let messages = outbox_with(app, n).await;
    // Message-IDs are `confirm.{reader}.{milliseconds}`: the newest is the latest request of
    // the latest reader (the Date header counts whole seconds only).
    let order = |m: &mail_parser::Message| -> (i64, i64) {
        let id = m.message_id().unwrap_or_default();
        let mut parts = id.trim_start_matches("confirm.").split(['.', '@']);
        let mut next = || parts.next().and_then(|p| p.parse().ok()).unwrap_or_default();
        (next(), next())
    };
    let newest = messages.iter().map(|m| MessageParser::default().parse(m).unwrap()).max_by_key(|m| order(m));
    let text = newest.unwrap().body_text(0).unwrap().into_owned();
    text.split_whitespace().find(|w| w.starts_with(&app.url("/confirm/"))).unwrap().to_owned()
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
    let actions: Vec<String> = home
        .select(&scraper::Selector::parse("form[method=post][action]").unwrap())
        .filter_map(|a| a.attr("action").map(str::to_owned))
        .collect();
    assert_eq!(actions, [app.url("/subscribe")], "the home page has the form");

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
    let messages = outbox_with(&app, 1).await;
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
    let page = page.text().await.unwrap();
    assert!(page.contains("reader@example.org") && page.contains("داعش"), "the topics confirmed are shown: {page}");
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
    app.app.store.suppress("gone@example.org", "550 5.1.1 no such user", now()).await.unwrap();
    let (status, answer) = post_form(&app, &[("email", "gone@example.org"), ("keywords", "الإرهاب")]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(answer.contains("تحقق من بريدك"));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(app.outbox_messages().is_empty(), "a confirmed reader or a suppressed address is not written to");
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
    outbox_with(&app, 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.outbox_messages().len(), 2);
    // After five sign-ups in a burst from one client, the next is refused.
    let (status, _) = post_form(&app, &[("email", "y@example.org"), ("keywords", "داعش")]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = post_form(&app, &[("email", "x@example.org"), ("keywords", "داعش")]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{page}");
    assert!(page.contains(r#"dir="rtl""#));
    assert!(app.app.store.subscriber_by_email("x@example.org").await.unwrap().is_none());
}

/// Whoever knows an address can ask again: only the newest link works, and it confirms what it
/// was sent for. A reader who unsubscribed stays out until they confirm a new request, and an
/// old confirmation link cannot bring them back.
async fn only_the_newest_request_confirms_and_an_unsubscribe_holds(app: TestApp) {
    app.collect().await;
    post_form(&app, &[("email", "r@example.org"), ("keywords", "الإرهاب")]).await;
    let first = confirmation_link(&app, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    post_form(&app, &[("email", "r@example.org"), ("keywords", "داعش")]).await;
    let second = confirmation_link(&app, 2).await;
    assert_ne!(first, second);
    assert_eq!(app.http.post(&first).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(app.http.post(&second).send().await.unwrap().status(), StatusCode::OK);
    let r = app.app.store.subscriber_by_email("r@example.org").await.unwrap().unwrap();
    let topics: Vec<String> =
        app.app.store.subscriber_keywords(r.id).await.unwrap().into_iter().map(|k| k.name).collect();
    assert_eq!(topics, ["داعش"]);

    // Unsubscribed, then asked for again (another reader: two requests an hour per mailbox):
    // still unsubscribed until the new request is confirmed.
    post_form(&app, &[("email", "s@example.org"), ("keywords", "داعش")]).await;
    let old = confirmation_link(&app, 3).await;
    assert_eq!(app.http.post(&old).send().await.unwrap().status(), StatusCode::OK);
    let s_token = app.app.store.subscriber_by_email("s@example.org").await.unwrap().unwrap().token;
    app.app.store.unsubscribe(&s_token, chrono::Utc::now()).await.unwrap();
    let again = app.http.post(&old).send().await.unwrap().text().await.unwrap();
    assert!(again.contains("لا يمكن التأكيد"), "{again}");
    let s = app.app.store.subscriber_by_email("s@example.org").await.unwrap();
    assert_eq!(status_of(&s), Some(nashra::store::SubscriberStatus::Unsubscribed), "an old link does not undo it");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    post_form(&app, &[("email", "s@example.org"), ("keywords", "الإرهاب")]).await;
    let new = confirmation_link(&app, 4).await;
    let s = app.app.store.subscriber_by_email("s@example.org").await.unwrap();
    assert_eq!(status_of(&s), Some(nashra::store::SubscriberStatus::Unsubscribed));
    let refused = nashra::subscribers::add(
        &app.app.store,
        &app.app.config,
        &nashra::subscribers::SubscriberEmail::parse("s@example.org").unwrap(),
        &["داعش".to_owned()],
        now(),
        false,
    )
    .await;
    assert!(refused.is_err(), "the command line still needs --resubscribe");
    assert_eq!(app.http.post(&new).send().await.unwrap().status(), StatusCode::OK);
    let s = app.app.store.subscriber_by_email("s@example.org").await.unwrap();
    assert_eq!(status_of(&s), Some(nashra::store::SubscriberStatus::Active));
}

/// Every digest links to the reader's preferences: their topics, changed there, and a way out.
async fn a_reader_changes_their_topics_from_the_link_in_each_digest(app: TestApp) {
    app.subscribe("reader@example.org", &["داعش"]).await;
    app.collect().await;
    app.send_digest(now()).await;
    let messages = app.outbox_messages();
    let m = MessageParser::default().parse(&messages[0]).unwrap();
    let text = m.body_text(0).unwrap().into_owned();
    let link = text.split_whitespace().find(|w| w.starts_with(&app.url("/preferences/"))).unwrap().to_owned();
    assert!(m.body_html(0).unwrap().contains("تغيير الموضوعات"));

    let page = scraper::Html::parse_document(&app.http.get(&link).send().await.unwrap().text().await.unwrap());
    let checked: Vec<String> = page
        .select(&scraper::Selector::parse("input[type=checkbox][checked]").unwrap())
        .filter_map(|i| i.attr("value").map(str::to_owned))
        .collect();
    assert_eq!(checked, ["داعش"]);

    let post = |fields: Vec<(&'static str, &'static str)>| {
        let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        app.http.post(&link).header("content-type", "application/x-www-form-urlencoded").body(body).send()
    };
    let bad = post(vec![("keywords", "داعش"), ("other", "كرة القدم")]).await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("«كرة القدم» ليس من موضوعات الموقع"));
    let reader = app.app.store.subscriber_by_email("reader@example.org").await.unwrap().unwrap();
    let names = |keywords: Vec<nashra::store::Keyword>| keywords.into_iter().map(|k| k.name).collect::<Vec<_>>();
    assert_eq!(names(app.app.store.subscriber_keywords(reader.id).await.unwrap()), ["داعش"]);
    let ok = post(vec![("keywords", "الإرهاب"), ("other", "تنظيم الدولة")]).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.text().await.unwrap().contains("حُفظت اختياراتك"));
    assert_eq!(names(app.app.store.subscriber_keywords(reader.id).await.unwrap()), ["الإرهاب", "داعش"]);

    // The page's way out is the reader's signed unsubscribe link; the preferences link is not one.
    let token = link.rsplit('/').next().unwrap();
    assert_eq!(app.get(&format!("/unsubscribe/{}", token.replacen('p', "u", 1))).await.status(), StatusCode::NOT_FOUND);
    let page = scraper::Html::parse_document(&app.http.get(&link).send().await.unwrap().text().await.unwrap());
    let out = page
        .select(&scraper::Selector::parse("a[href]").unwrap())
        .filter_map(|f| f.attr("href").map(str::to_owned))
        .find(|a| a.contains("/unsubscribe/"))
        .unwrap();
    assert_eq!(app.http.get(&out).send().await.unwrap().status(), StatusCode::OK, "a page that asks first");
    assert_eq!(app.http.post(&out).send().await.unwrap().status(), StatusCode::OK);
    let page = app.http.get(&link).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("اشتراكك ملغى"), "{page}");
}

on_both_backends!(
    a_reader_changes_their_topics_from_the_link_in_each_digest,
    only_the_newest_request_confirms_and_an_unsubscribe_holds,
    a_reader_signs_up_confirms_and_gets_the_next_digest,
    the_form_answers_alike_for_every_address_and_names_each_bad_field,
    the_form_cannot_flood_an_inbox_or_the_list,
);
