//! The reader's pages in a real browser (headless Chromium through chromedriver,
//! tests/support/webdriver.rs): sign-up, the confirmation email read from the outbox,
//! confirmation, the digest, preferences and unsubscribe, clicked through as a reader would on a
//! 375 px phone. Every step checks that the page is Arabic and right-to-left as computed by the
//! browser, and that nothing is wider than the screen; screenshots are kept in
//! `target/browser-artefacts/`. Without Chromium the test skips, unless
//! `NASHRA_TEST_REQUIRE_CHROMIUM` is set (as in CI).

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::Duration;
use mail_parser::{Message, MessageParser};
use serde_json::{Value, json};

use crate::delivery::add_article;
use crate::helpers::{Backend, Options, TestApp, now};
use crate::webdriver::{Browser, say};

/// A phone's width, and a desktop's.
const PHONE: u32 = 375;
const DESKTOP: u32 = 1280;
const HEIGHT: u32 = 800;
/// Full-page screenshots are cut at this height.
const MAX_SHOT_HEIGHT: u32 = 6000;

const READER: &str = "reader@example.org";

/// What the browser computed for the page: language, direction of the root, the body and the
/// first element matching each selector of `arguments[0]`, widths, the elements that stick out
/// (when the page is wider than the viewport), and form controls or links without a name.
const LAYOUT: &str = r#"
const html = document.documentElement, body = document.body;
const dir = e => e ? getComputedStyle(e).direction : null;
const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/\s+/).join('.') : '');
const text = arguments[0].map(s => { const e = document.querySelector(s); return [s, e ? dir(e) : 'absent']; });
const scroll = Math.max(html.scrollWidth, body ? body.scrollWidth : 0);
const wide = [];
if (scroll > window.innerWidth) {
  for (const e of document.querySelectorAll('body *')) {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && (r.right > window.innerWidth + 0.5 || r.left < -0.5)) {
      wide.push(name(e) + ' [' + Math.round(r.left) + ', ' + Math.round(r.right) + ']');
      if (wide.length >= 6) break;
    }
  }
}
const unlabelled = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
  .map(name);
const nameless = [...document.querySelectorAll('button, a[href]')]
  .filter(e => !e.textContent.trim() && !e.getAttribute('aria-label'))
  .map(name);
return {
  url: location.href, title: document.title.trim(), lang: html.lang,
  html_dir: dir(html), body_dir: dir(body), text,
  scroll_width: scroll, inner_width: window.innerWidth,
  wide, unlabelled, nameless,
};
"#;

/// The browser, where its screenshots go, and what was found wrong so far (layout findings are
/// gathered, so that one overflowing page does not hide the others; the flow itself is asserted
/// as it goes).
struct Run {
    browser: Browser,
    artefacts: PathBuf,
    shots: Vec<PathBuf>,
    problems: Vec<String>,
}

impl Run {
    /// Checks the current page at `width` px — `lang="ar"`; computed direction `rtl` for the
    /// root, the body and the first element matching each of `text`; nothing wider than the
    /// viewport; every control named — and saves a full-page screenshot `{step}-{width}.png`.
    async fn check(&mut self, step: &str, width: u32, text: &[&str]) {
        self.browser.set_viewport(width, HEIGHT).await;
        let l = self.browser.execute(LAYOUT, vec![json!(text)]).await;
        let at = format!("{step} at {width} px ({})", l["url"].as_str().unwrap_or_default());
        let mut problem = |what: String| self.problems.push(format!("{at}: {what}"));
        if l["lang"] != "ar" {
            problem(format!("document.documentElement.lang is {}, not \"ar\"", l["lang"]));
        }
        for (what, key) in [("html", "html_dir"), ("body", "body_dir")] {
            if l[key] != "rtl" {
                problem(format!("the computed direction of {what} is {}", l[key]));
            }
        }
        for pair in l["text"].as_array().into_iter().flatten() {
            if pair[1] != "rtl" {
                problem(format!("the computed direction of {} is {}", pair[0], pair[1]));
            }
        }
        let (scroll, inner) = (l["scroll_width"].as_u64().unwrap_or(0), l["inner_width"].as_u64().unwrap_or(0));
        if inner != u64::from(width) {
            problem(format!("the viewport is {inner} px wide, not {width}"));
        }
        if scroll > inner {
            problem(format!(
                "horizontal overflow: scrollWidth {scroll} > innerWidth {inner}; sticking out: {}",
                l["wide"]
            ));
        }
        if l["title"].as_str().unwrap_or_default().is_empty() {
            problem("the page has no <title>".to_owned());
        }
        for (key, what) in
            [("unlabelled", "form controls without a label"), ("nameless", "buttons or links without text")]
        {
            if l[key].as_array().is_some_and(|a| !a.is_empty()) {
                problem(format!("{what}: {}", l[key]));
            }
        }
        let path = self.artefacts.join(format!("{step}-{width}.png"));
        std::fs::write(&path, self.browser.screenshot_full_page(MAX_SHOT_HEIGHT).await).unwrap();
        say(&format!("screenshot: {}", path.display()));
        self.shots.push(path);
    }

    /// Runs `script` until it returns something truthy (see `Browser::wait_until`).
    async fn wait(&self, script: &str, what: &str) -> Value {
        self.browser.wait_until(script, what).await
    }

    /// Waits for a page whose `<h1>` contains `heading`.
    async fn wait_for_heading(&self, heading: &str) {
        let script = format!(
            "const h = document.querySelector('h1'); return !!h && h.textContent.includes({});",
            json!(heading)
        );
        self.wait(&script, &format!("a page titled «{heading}»")).await;
    }

    /// The values of the ticked topic checkboxes.
    async fn ticked(&self) -> Vec<String> {
        let v = self
            .browser
            .execute("return [...document.querySelectorAll('input[name=keywords]:checked')].map(e => e.value)", vec![])
            .await;
        serde_json::from_value(v).unwrap()
    }

    /// Opens an email's HTML part as a local file (as a mail client shows it) and keeps a copy.
    async fn open_email(&self, dir: &Path, name: &str, html: &str) {
        let file = dir.join(format!("{name}.html"));
        std::fs::write(&file, html).unwrap();
        std::fs::write(self.artefacts.join(format!("{name}.html")), html).unwrap();
        self.browser.navigate(url::Url::from_file_path(&file).unwrap().as_str()).await;
    }
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

fn parse(bytes: &[u8]) -> Message<'_> {
    MessageParser::default().parse(bytes).expect("the .eml parses")
}

/// The first word of `text` that starts with `prefix`.
fn link(text: &str, prefix: &str) -> String {
    text.split_whitespace()
        .find(|w| w.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix}… link in {text}"))
        .to_owned()
}

async fn status(app: &TestApp) -> nashra::store::SubscriberStatus {
    app.app.store.subscriber_by_email(READER).await.unwrap().expect("the reader").status()
}

async fn topics(app: &TestApp) -> Vec<String> {
    let reader = app.app.store.subscriber_by_email(READER).await.unwrap().expect("the reader");
    app.app.store.subscriber_keywords(reader.id).await.unwrap().into_iter().map(|k| k.name).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_signs_up_confirms_changes_topics_and_unsubscribes_in_chromium() {
    let started = Instant::now();
    let Some(browser) = Browser::start(PHONE, HEIGHT).await else { return };
    say(&format!("browser: {}", browser.versions().await));
    let artefacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/browser-artefacts");
    let _ = std::fs::remove_dir_all(&artefacts);
    std::fs::create_dir_all(&artefacts).unwrap();
    let mut run = Run { browser, artefacts, shots: Vec::new(), problems: Vec::new() };

    let app = TestApp::spawn_with(Backend::Sqlite, Options::default()).await.expect("a SQLite instance");
    // The vocabulary the form offers comes from the collected articles.
    app.collect().await;

    // The home page, on a phone and on a desktop; it leads to the sign-up form (a link to it, or
    // the form itself).
    let form = r#"form[method=post i][action$="/subscribe"]"#;
    run.browser.navigate(&app.url("/")).await;
    run.check("01-home", PHONE, &["h1", "ol.latest li"]).await;
    run.check("01-home", DESKTOP, &["h1", "ol.latest li"]).await;
    let leads = run.browser.try_find(&format!(r#"a[href$="/subscribe"], {form}"#)).await;
    assert!(leads.is_some(), "the home page leads to the sign-up form");

    // The form's page: an address and a topic.
    run.browser.navigate(&app.url("/subscribe")).await;
    let script = format!("return !!document.querySelector({});", json!(format!("{form} input[name=email]")));
    run.wait(&script, "the sign-up form").await;
    run.check("02-subscribe", PHONE, &["h1", "form", "legend"]).await;
    run.check("02-subscribe", DESKTOP, &["h1", "form", "legend"]).await;
    run.browser.set_viewport(PHONE, HEIGHT).await;
    let offered = run.browser.find_all(&format!("{form} input[type=checkbox][name=keywords]")).await;
    assert!(offered.len() > 1, "the form offers the site's topics ({} offered)", offered.len());
    run.browser.find(&format!("{form} input[name=email]")).await.send_keys(READER).await;
    let topic = run.browser.find(&format!(r#"{form} input[name=keywords][value="داعش"]"#)).await;
    topic.click().await;
    assert_eq!(topic.property("checked").await, json!(true));
    assert_eq!(run.ticked().await, ["داعش"]);
    run.check("03-subscribe-filled", PHONE, &["h1", "form", "legend"]).await;
    run.check("03-subscribe-filled", DESKTOP, &["h1", "form", "legend"]).await;
    run.browser.find(&format!("{form} button[type=submit]")).await.click().await;
    run.wait_for_heading("تحقق من بريدك").await;
    run.check("04-check-your-inbox", PHONE, &["h1", "p"]).await;
    run.check("04-check-your-inbox", DESKTOP, &["h1", "p"]).await;
    assert_eq!(status(&app).await, nashra::store::SubscriberStatus::Pending);

    // The confirmation email, from the outbox: its HTML part as a mail client shows it, and the
    // link of its text part.
    let messages = outbox_with(&app, 1).await;
    assert_eq!(messages.len(), 1);
    let confirmation = parse(&messages[0]);
    assert_eq!(confirmation.to().unwrap().first().unwrap().address(), Some(READER));
    let confirm_link = link(&confirmation.body_text(0).unwrap(), &app.url("/confirm/"));
    run.open_email(app.dir.path(), "05-confirmation-email", &confirmation.body_html(0).unwrap()).await;
    run.check("05-confirmation-email", PHONE, &["table", "td"]).await;
    run.check("05-confirmation-email", DESKTOP, &["table", "td"]).await;
    let in_html = run.browser.find(r#"a[href*="/confirm/"]"#).await.property("href").await;
    assert_eq!(in_html, json!(confirm_link), "the HTML part links to the same page");

    // Opening the link shows what is confirmed and a button; the button confirms.
    run.browser.navigate(&confirm_link).await;
    run.wait_for_heading("تأكيد الاشتراك").await;
    let page = run.browser.find("body").await.text().await;
    assert!(page.contains(READER) && page.contains("داعش"), "the address and topics are shown: {page}");
    run.check("06-confirm", PHONE, &["h1", "p", "li"]).await;
    run.check("06-confirm", DESKTOP, &["h1", "p", "li"]).await;
    assert_eq!(status(&app).await, nashra::store::SubscriberStatus::Pending, "opening the link confirms nothing");
    run.browser.find("form[method=post i] button[type=submit]").await.click().await;
    run.wait_for_heading("تم تأكيد اشتراكك").await;
    run.check("07-confirmed", PHONE, &["h1", "p"]).await;
    run.check("07-confirmed", DESKTOP, &["h1", "p"]).await;
    assert_eq!(status(&app).await, nashra::store::SubscriberStatus::Active);

    // The next digest (the form used the real clock, the test's is fixed: it moves a day on, as
    // in signup.rs), shown as a mail client would on a phone.
    add_article(&app, "2026-12-01-lake-chad", "داعش في بحيرة تشاد");
    let tomorrow = now() + Duration::days(1);
    app.app.collect(None, tomorrow).await.unwrap();
    let (outcome, sent) = app.send_digest(tomorrow + Duration::hours(1)).await;
    assert_eq!(sent.sent, 1, "{outcome:?}");
    let messages = app.outbox_messages();
    let digest = messages
        .iter()
        .map(|m| parse(m))
        .find(|m| m.message_id().is_some_and(|id| id.starts_with("digest.")))
        .expect("the digest in the outbox");
    let text = digest.body_text(0).unwrap().into_owned();
    let preferences = link(&text, &app.url("/preferences/"));
    let unsubscribe = link(&text, &app.url("/unsubscribe/"));
    run.open_email(app.dir.path(), "08-digest", &digest.body_html(0).unwrap()).await;
    run.check("08-digest", PHONE, &["table", "td.content", "h2", "a.article-title"]).await;
    run.check("08-digest", DESKTOP, &["table", "td.content", "h2", "a.article-title"]).await;

    // Its link to the preferences page: the reader's topics, changed and saved.
    run.browser.find(r#"a[href*="/preferences/"]"#).await.click().await;
    let script = format!("return location.href.startsWith({});", json!(app.url("/preferences/")));
    run.wait(&script, "the preferences page").await;
    assert_eq!(run.browser.current_url().await, preferences, "the HTML and text parts link to the same page");
    run.wait_for_heading("اختياراتك").await;
    assert_eq!(run.ticked().await, ["داعش"]);
    run.check("09-preferences", PHONE, &["h1", "form", "legend"]).await;
    run.check("09-preferences", DESKTOP, &["h1", "form", "legend"]).await;
    let save = r#"form:not([action*="/unsubscribe/"])"#;
    run.browser.find(&format!(r#"{save} input[name=keywords][value="داعش"]"#)).await.click().await;
    run.browser.find(&format!(r#"{save} input[name=keywords][value="الإرهاب"]"#)).await.click().await;
    assert_eq!(run.ticked().await, ["الإرهاب"]);
    run.browser.find(&format!("{save} button[type=submit]")).await.click().await;
    run.wait(
        "const s = document.querySelector('[role=status]'); return !!s && s.textContent.includes('حُفظت اختياراتك');",
        "the saved message",
    )
    .await;
    assert_eq!(run.ticked().await, ["الإرهاب"]);
    assert_eq!(topics(&app).await, ["الإرهاب"]);
    run.check("10-preferences-saved", PHONE, &["h1", "form", "legend", "[role=status]"]).await;

    // The digest's unsubscribe link asks first.
    run.browser.navigate(&unsubscribe).await;
    run.wait_for_heading("إلغاء الاشتراك").await;
    assert!(run.browser.find("body").await.text().await.contains(READER));
    run.check("11-unsubscribe-link", PHONE, &["h1", "p"]).await;
    assert_eq!(status(&app).await, nashra::store::SubscriberStatus::Active, "opening the link unsubscribes nobody");

    // The preferences page's own way out asks first too; then out, and the page says so.
    run.browser.navigate(&preferences).await;
    run.wait_for_heading("اختياراتك").await;
    run.browser.find(r#"a[href*="/unsubscribe/"]"#).await.click().await;
    run.wait_for_heading("إلغاء الاشتراك").await;
    assert_eq!(status(&app).await, nashra::store::SubscriberStatus::Active, "the link alone unsubscribes nobody");
    run.browser.find(r#"form button[type=submit]"#).await.click().await;
    run.wait_for_heading("تم إلغاء الاشتراك").await;
    run.check("12-unsubscribed", PHONE, &["h1", "p"]).await;
    assert_eq!(status(&app).await, nashra::store::SubscriberStatus::Unsubscribed);
    run.browser.navigate(&preferences).await;
    run.wait_for_heading("اشتراكك ملغى").await;
    run.check("13-preferences-after-unsubscribe", PHONE, &["h1", "p"]).await;

    say(&format!(
        "browser test: {} screenshots in {} ({:.1} s)",
        run.shots.len(),
        run.artefacts.display(),
        started.elapsed().as_secs_f64()
    ));
    assert!(run.problems.is_empty(), "the pages as Chromium shows them:\n  {}", run.problems.join("\n  "));
}
