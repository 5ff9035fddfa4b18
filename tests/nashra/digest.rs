//! Digests: one right-to-left email per subscriber with the edition's new articles that match
//! their keywords, one heading per keyword, read back with an independent MIME parser.

use chrono::{Duration, SubsecRound};
use mail_parser::{Message, MessageParser, MimeHeaders};
use scraper::{Html, Selector};

use crate::delivery::add_article;
use crate::helpers::{TestApp, now};
use crate::on_both_backends;

pub fn parse(bytes: &[u8]) -> Message<'_> {
    MessageParser::default().parse(bytes).expect("the .eml parses")
}

/// (heading, article titles under it) of a digest's HTML part.
pub fn sections(html: &str) -> Vec<(String, Vec<String>)> {
    let doc = Html::parse_document(html);
    let h2 = Selector::parse("h2").unwrap();
    let title = Selector::parse("a.article-title").unwrap();
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    // Headings and titles in document order.
    let any = Selector::parse("h2, a.article-title").unwrap();
    for e in doc.select(&any) {
        let text = e.text().collect::<String>().trim().to_owned();
        if h2.matches(&e) {
            out.push((text, Vec::new()));
        } else if title.matches(&e)
            && let Some(last) = out.last_mut()
        {
            last.1.push(text);
        }
    }
    out
}

async fn a_subscriber_gets_one_rtl_email_grouped_by_keyword(app: TestApp) {
    app.subscribe("reader@example.org", &["العراق", "داعش", "مصر"]).await;
    app.collect().await;
    let (outcome, sent) = app.send_digest(now()).await;
    assert_eq!(sent.sent, 1, "{outcome:?}");
    let messages = app.outbox_messages();
    assert_eq!(messages.len(), 1);
    let m = parse(&messages[0]);

    let root = m.root_part().content_type().unwrap();
    assert_eq!((root.ctype(), root.subtype()), ("multipart", Some("alternative")));
    assert_eq!(m.to().unwrap().first().unwrap().address(), Some("reader@example.org"));
    assert!(m.subject().unwrap().starts_with("النشرة اليومية من مرصد الضفتين"), "{:?}", m.subject());
    assert!(m.message_id().unwrap().starts_with("digest.daily.20261130T050000Z."), "{:?}", m.message_id());
    let unsubscribe = m.header_raw("List-Unsubscribe").unwrap().trim();
    assert!(unsubscribe.starts_with(&format!("<{}", app.url("/unsubscribe/"))), "{unsubscribe}");
    let mailto = unsubscribe.split(',').nth(1).unwrap().trim();
    assert!(mailto.starts_with("<mailto:unsubscribe@nashra.example?subject=unsubscribe%20u"), "{unsubscribe}");
    assert_eq!(m.header_raw("List-Unsubscribe-Post").unwrap().trim(), "List-Unsubscribe=One-Click");
    assert_eq!(m.header_raw("List-Id").unwrap().trim(), "<daily.127.0.0.1>");

    let html = m.body_html(0).unwrap();
    assert!(html.contains(r#"<html lang="ar" dir="rtl">"#), "{html}");
    let sections = sections(&html);
    let headings: Vec<_> = sections.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(headings, ["العراق", "داعش", "مصر"], "one heading per followed keyword, in the subscriber's order");
    let all: Vec<&String> = sections.iter().flat_map(|(_, t)| t).collect();
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(all.len(), unique.len(), "no article twice: {all:?}");
    let under = |h: &str| sections.iter().find(|(k, _)| k == h).unwrap().1.clone();
    assert!(under("العراق").iter().any(|t| t.contains("الموصل")), "text match (no keyword block)");
    assert!(under("داعش").iter().any(|t| t.contains("الساحل")), "{:?}", under("داعش"));
    assert!(under("مصر").iter().any(|t| t.contains("السودان")), "{:?}", under("مصر"));
    assert!(!all.iter().any(|t| t.contains("الاحتياطي")), "the central-bank article has مصرف, not مصر");

    let text = m.body_text(0).unwrap();
    for heading in ["== العراق ==", "== داعش ==", "== مصر =="] {
        assert!(text.contains(heading), "{text}");
    }
    assert!(text.contains(&app.url("/unsubscribe/")));
}

async fn running_an_edition_again_sends_nothing_twice(app: TestApp) {
    app.subscribe("reader@example.org", &["داعش"]).await;
    app.collect().await;
    app.send_digest(now()).await;
    let (again, sent) = app.send_digest(now()).await;
    assert_eq!(again.planned, nashra::digest::Planned::Before);
    assert_eq!(sent.sent, 0);
    // The scheduler, later that morning, finds the 07:00 edition already planned.
    let job = nashra::schedule::Job::Digest("daily".into());
    nashra::schedule::run_job(&app.app, &job, now(), "schedule", now() + Duration::hours(2)).await.unwrap();
    // A run by hand later in the day is an edition of its own, with nothing new in it.
    let (later, _) = app.send_digest(now() + Duration::hours(5)).await;
    assert!(matches!(later.planned, nashra::digest::Planned::Now { messages: 0, .. }), "{later:?}");
    assert_eq!(app.outbox_messages().len(), 1);
}

async fn no_email_is_sent_when_nothing_matched(app: TestApp) {
    app.subscribe("reader@example.org", &["اليمن"]).await;
    app.collect().await;
    let (outcome, _) = app.send_digest(now()).await;
    assert_eq!(outcome.planned, nashra::digest::Planned::Now { messages: 0, articles: 11 });
    assert!(app.outbox_messages().is_empty());
}

async fn unsubscribed_readers_receive_no_digest(app: TestApp) {
    app.subscribe("reader@example.org", &["داعش"]).await;
    app.collect().await;
    app.send_digest(now()).await;
    // The link the digest carries: signed, for unsubscribing only.
    let messages = app.outbox_messages();
    let m = parse(&messages[0]);
    let header = m.header_raw("List-Unsubscribe").unwrap().trim();
    let link = header.split(',').next().unwrap().trim().trim_matches(['<', '>']).to_owned();
    let path = link.strip_prefix(&app.url("")).unwrap().to_owned();
    assert!(path.starts_with("/unsubscribe/u"), "{path}");
    let page = app.get(&path).await.text().await.unwrap();
    assert!(page.contains("reader@example.org") && page.contains(r#"dir="rtl""#));
    // Altered, or made for another page, it is refused.
    let token = path.rsplit('/').next().unwrap();
    let mut altered = token.to_owned();
    let last = if altered.ends_with('0') { "1" } else { "0" };
    altered.replace_range(altered.len() - 1.., last);
    let id = token[1..].split('.').next().unwrap();
    let other = token.replacen(&format!("u{id}."), &format!("u{}.", id.parse::<i64>().unwrap() + 1), 1);
    let preferences = token.replacen('u', "p", 1);
    for bad in [altered.as_str(), other.as_str(), preferences.as_str(), "not-a-token"] {
        assert_eq!(app.get(&format!("/unsubscribe/{bad}")).await.status(), reqwest::StatusCode::NOT_FOUND, "{bad}");
    }
    // RFC 8058 one-click POST.
    let r = app
        .http
        .post(&link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let reader = app.app.store.subscriber_by_email("reader@example.org").await.unwrap().unwrap();
    assert_eq!(reader.status(), nashra::store::SubscriberStatus::Unsubscribed);
    add_article(&app, "2026-11-30-lake-chad", "بحيرة تشاد");
    app.app.collect(None, now() + Duration::hours(3)).await.unwrap();
    let (_, sent) = app.send_digest(now() + Duration::days(1)).await;
    assert_eq!(sent.sent, 0);
    assert_eq!(app.outbox_messages().len(), 1);
}

/// Digests sent before links were signed carried the reader's bare token: those links still
/// unsubscribe.
async fn unsubscribe_links_of_older_digests_still_work(app: TestApp) {
    app.subscribe("reader@example.org", &["داعش"]).await;
    let token = app.app.store.subscriber_by_email("reader@example.org").await.unwrap().unwrap().token;
    let page = app.get(&format!("/unsubscribe/{token}")).await.text().await.unwrap();
    assert!(page.contains("reader@example.org"));
    let r = app.http.post(app.url(&format!("/unsubscribe/{token}"))).send().await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let reader = app.app.store.subscriber_by_email("reader@example.org").await.unwrap().unwrap();
    assert_eq!(reader.status(), nashra::store::SubscriberStatus::Unsubscribed);
}

async fn the_next_edition_only_has_what_was_collected_since(app: TestApp) {
    app.subscribe("reader@example.org", &["داعش"]).await;
    app.collect().await;
    app.send_digest(now()).await;
    // A new article appears during the day.
    let src = std::fs::read_to_string(app.site.join("articles/2026-11-25-sahel-jihadist-expansion.html")).unwrap();
    let new = src
        .replace("2026-11-25-sahel-jihadist-expansion", "2026-11-30-lake-chad")
        .replace("الساحل", "بحيرة تشاد")
        .replace("الأربعاء 25/نوفمبر/2026", "الإثنين 30/نوفمبر/2026");
    std::fs::write(app.site.join("articles/2026-11-30-lake-chad.html"), new).unwrap();
    app.edit_site(
        "index.html",
        r#"<ul class="latest">"#,
        r#"<ul class="latest"><li><a class="article-link" href="articles/2026-11-30-lake-chad.html">x</a></li>"#,
    );
    app.app.collect(None, now() + Duration::hours(3)).await.unwrap();
    let next_day = now() + Duration::days(1);
    app.send_digest(next_day).await;
    let messages = app.outbox_messages();
    assert_eq!(messages.len(), 2);
    let second =
        messages.iter().map(|m| parse(m)).find(|m| m.message_id().unwrap().contains("20261201T050000Z")).unwrap();
    let titles: Vec<String> = sections(&second.body_html(0).unwrap()).into_iter().flat_map(|(_, t)| t).collect();
    assert_eq!(titles.len(), 1, "{titles:?}");
    assert!(titles[0].contains("بحيرة تشاد"));
}

async fn a_reader_who_joins_after_an_edition_with_no_readers_still_gets_the_news(app: TestApp) {
    // A fresh install: the scheduler collects and runs the morning edition for nobody.
    app.collect().await;
    let (empty, _) = app.send_digest(now()).await;
    assert_eq!(empty.planned, nashra::digest::Planned::Now { messages: 0, articles: 11 });
    // Then the first reader signs up and the operator sends an edition by hand.
    app.subscribe("first@example.org", &["داعش"]).await;
    let (outcome, sent) = app.send_digest(now() + Duration::minutes(5)).await;
    assert_eq!(sent.sent, 1, "{outcome:?}");
    // A reader who already had this edition's articles gets nothing more.
    let (_, again) = app.send_digest(now() + Duration::minutes(10)).await;
    assert_eq!(again.sent, 0);
}

async fn a_dry_run_sends_nothing_and_plans_nothing(app: TestApp) {
    app.subscribe("reader@example.org", &["داعش"]).await;
    app.collect().await;
    let outcome = app.app.send_digest("daily", now(), now(), true).await.unwrap().outcome;
    assert!(matches!(outcome.planned, nashra::digest::Planned::DryRun { messages: 1, .. }), "{outcome:?}");
    assert!(app.outbox_messages().is_empty());
    let (real, _) = app.send_digest(now()).await;
    assert!(matches!(real.planned, nashra::digest::Planned::Now { messages: 1, .. }));
}

/// The clock of a run by hand has nanoseconds; the database keeps microseconds at most. The
/// delivery planned at that instant is due at that instant.
async fn a_digest_sent_by_hand_at_a_nanosecond_instant_goes_out_at_once(app: TestApp) {
    app.subscribe("reader@example.org", &["داعش"]).await;
    app.collect().await;
    let at = now() + Duration::nanoseconds(123_456_789);
    let run = app.app.send_digest("daily", at.trunc_subsecs(0), at, false).await.unwrap();
    let (outcome, sent) = (run.outcome, run.sent);
    assert_eq!(sent.sent, 1, "{outcome:?} {sent:?}");
    assert_eq!(app.outbox_messages().len(), 1);
}

/// What a reader's inbox may ignore, from caniemail's data: features some of Gmail, Apple Mail
/// and Outlook do not support at all must not be relied on; `dir`, which some strip from tables,
/// is doubled by `direction` on every block.
fn check_against_caniemail(html: &str) {
    let data: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::helpers::repo().join("tests/fixtures/caniemail/rtl-features.json")).unwrap(),
    )
    .unwrap();
    // Outlook for Windows reads what is inside its conditional comments; the others do not.
    let outside_mso: String = html
        .split("<!--[if mso]>")
        .enumerate()
        .map(|(i, part)| if i == 0 { part } else { part.split_once("<![endif]-->").map_or("", |(_, rest)| rest) })
        .collect();
    for feature in data["data"].as_array().unwrap() {
        let slug = feature["slug"].as_str().unwrap();
        let unsupported_somewhere = ["gmail", "apple-mail", "outlook"].iter().any(|family| {
            feature["stats"][family].as_object().into_iter().flat_map(|p| p.values()).any(|versions| {
                versions.as_object().and_then(|v| v.values().next_back()).and_then(|s| s.as_str()) == Some("n")
            })
        });
        let used = match slug {
            "html-bdi" => html.contains("<bdi"),
            "css-margin-inline-start-end" => html.contains("margin-inline"),
            "css-padding-inline-start-end" => html.contains("padding-inline"),
            "css-writing-mode" => html.contains("writing-mode"),
            "css-direction" | "css-text-align" | "html-dir" | "html-lang" => false,
            other => panic!("caniemail feature {other} has no check here: add one"),
        };
        assert!(!(used && unsupported_somewhere), "the digest relies on {slug}, which a major client ignores");
    }
    let doc = Html::parse_document(&outside_mso);
    for e in doc.select(&Selector::parse("table, td").unwrap()) {
        let style = e.attr("style").unwrap_or_default().replace(' ', "");
        assert!(style.contains("direction:rtl"), "{} without direction:rtl: {style}", e.value().name());
        assert_eq!(e.attr("dir"), Some("rtl"));
    }
    for t in doc.select(&Selector::parse("table").unwrap()) {
        assert_eq!(t.attr("lang"), Some("ar"));
        let width = t.attr("width").unwrap_or("100%");
        assert_eq!(width, "100%", "a fixed-width table overflows a phone's screen");
    }
    let css = outside_mso.replace(' ', "");
    assert!(css.contains("max-width:600px"));
    assert!(!css.replace("max-width:600px", "").contains("width:600px"), "only max-width may say 600");
}

async fn the_digest_fits_every_inbox_and_has_a_public_page(app: TestApp) {
    app.subscribe("reader@example.org", &["العراق", "داعش"]).await;
    app.collect().await;
    app.send_digest(now()).await;
    let messages = app.outbox_messages();
    let m = parse(&messages[0]);
    let html = m.body_html(0).unwrap().into_owned();
    let text = m.body_text(0).unwrap().into_owned();
    check_against_caniemail(&html);
    // The edition's date beside its Hijri date, and the publisher's address, in both parts.
    for part in [&html, &text] {
        assert!(part.contains("الإثنين 30 نوفمبر 2026") && part.contains("جمادى الآخرة 1448 هـ"), "{part}");
        assert!(part.contains("12 شارع النيل"), "{part}");
    }

    // "View in browser": the same digest on the site, with nobody's own address or links.
    let doc = Html::parse_document(&html);
    let view = doc
        .select(&Selector::parse("a[href]").unwrap())
        .filter_map(|a| a.attr("href"))
        .find(|h| h.starts_with(&app.url("/digests/")))
        .unwrap()
        .to_owned();
    assert!(text.contains(&view), "the text part has it too");
    let page = app.http.get(&view).send().await.unwrap();
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains(r#"<html lang="ar" dir="rtl">"#));
    assert_eq!(sections(&page), sections(&html));
    for personal in ["reader@example.org", "/unsubscribe/", "/preferences/", "/digests/"] {
        assert!(!page.contains(personal), "the public page shows {personal}");
    }
    let (id, tag) = view.rsplit('/').next().unwrap().split_once('.').unwrap();
    let next = id.parse::<i64>().unwrap() + 1;
    for forged in [format!("{next}.{tag}"), format!("{id}.{}", "0".repeat(32)), id.to_owned()] {
        assert_eq!(app.get(&format!("/digests/{forged}")).await.status(), reqwest::StatusCode::NOT_FOUND, "{forged}");
    }

    // The public archive: the edition as a whole, every topic with news, nobody's links.
    let archive = Html::parse_document(&app.get("/archive").await.text().await.unwrap());
    let links: Vec<String> = archive
        .select(&Selector::parse("ol.latest a[href]").unwrap())
        .filter_map(|a| a.attr("href").map(str::to_owned))
        .collect();
    assert_eq!(links.len(), 1, "one edition so far");
    let whole = app.http.get(&links[0]).send().await.unwrap().text().await.unwrap();
    assert!(whole.contains(r#"<html lang="ar" dir="rtl">"#));
    let topics: Vec<String> = sections(&whole).into_iter().map(|(h, _)| h).collect();
    assert!(topics.len() > 2 && topics.contains(&"العراق".to_owned()), "{topics:?}");
    for personal in ["reader@example.org", "/unsubscribe/", "/preferences/"] {
        assert!(!whole.contains(personal), "the archive shows {personal}");
    }
    assert_eq!(app.get("/archive/999999").await.status(), reqwest::StatusCode::NOT_FOUND);
    assert_eq!(app.get("/archive/x").await.status(), reqwest::StatusCode::NOT_FOUND);
}

/// The `mailto:` of List-Unsubscribe, piped by the MTA to `subscribers unsubscribe-mail`.
async fn a_reader_unsubscribes_by_mail(app: TestApp) {
    app.subscribe("reader@example.org", &["داعش"]).await;
    app.collect().await;
    app.send_digest(now()).await;
    let messages = app.outbox_messages();
    let m = parse(&messages[0]);
    let header = m.header_raw("List-Unsubscribe").unwrap().replace(['\r', '\n'], "");
    let mailto = header.split(',').nth(1).unwrap().trim().trim_matches(['<', '>']).to_owned();
    let (to, query) = mailto.strip_prefix("mailto:").unwrap().split_once('?').unwrap();
    let subject = query.strip_prefix("subject=").unwrap().replace("%20", " ");
    let run = |subject: &str| {
        let request = format!("From: Reader <reader@example.org>\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n\r\n");
        let file = app.dir.path().join("request.eml");
        std::fs::write(&file, request).unwrap();
        crate::processes::nashra_output(&app, &["subscribers", "unsubscribe-mail", file.to_str().unwrap()])
    };
    // A forged token or no token: the message is dropped, nobody is unsubscribed.
    let last = if subject.ends_with('0') { "1" } else { "0" };
    let forged = format!("{}{last}", &subject[..subject.len() - 1]);
    for bad in ["please remove me", forged.as_str()] {
        let (ok, stdout, _) = run(bad);
        assert!(ok && stdout.starts_with("ignored:"), "{bad}: {stdout}");
    }
    let reader = || async { app.app.store.subscriber_by_email("reader@example.org").await.unwrap().unwrap().status() };
    assert_eq!(reader().await, nashra::store::SubscriberStatus::Active);
    let (ok, stdout, stderr) = run(&format!("Re: {subject}"));
    assert!(ok, "{stdout}{stderr}");
    assert_eq!(stdout.trim(), "unsubscribed reader@example.org");
    assert_eq!(reader().await, nashra::store::SubscriberStatus::Unsubscribed);
}

on_both_backends!(
    a_reader_unsubscribes_by_mail,
    the_digest_fits_every_inbox_and_has_a_public_page,
    a_subscriber_gets_one_rtl_email_grouped_by_keyword,
    running_an_edition_again_sends_nothing_twice,
    no_email_is_sent_when_nothing_matched,
    unsubscribed_readers_receive_no_digest,
    unsubscribe_links_of_older_digests_still_work,
    the_next_edition_only_has_what_was_collected_since,
    a_reader_who_joins_after_an_edition_with_no_readers_still_gets_the_news,
    a_dry_run_sends_nothing_and_plans_nothing,
    a_digest_sent_by_hand_at_a_nanosecond_instant_goes_out_at_once,
);
