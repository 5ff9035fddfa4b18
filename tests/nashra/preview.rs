//! `digest preview` and `digest test`, as an editor runs them: real processes on the instance's
//! configuration, the same rendering as the edition, nothing recorded.

use mail_parser::MessageParser;

use crate::digest::sections;
use crate::helpers::{TestApp, now};
use crate::processes::nashra_output;

const AT: &str = "2026-11-30T07:00:00+02:00";

async fn an_editor_previews_a_readers_digest_and_sends_a_test(app: TestApp) {
    app.subscribe("reader@example.org", &["العراق", "داعش"]).await;
    app.collect().await;
    let out = app.dir.path().join("preview");
    let out_arg = out.display().to_string();
    let args = ["digest", "preview", "--subscriber", "Reader@Example.org", "--now", AT, "--out", &out_arg];
    let (ok, stdout, stderr) = nashra_output(&app, &args);
    assert!(ok, "{stdout}{stderr}");
    for extension in ["html", "txt", "eml"] {
        assert!(stdout.contains(&format!("digest-daily.{extension}")), "{stdout}");
    }
    let html = std::fs::read_to_string(out.join("digest-daily.html")).unwrap();
    let eml = std::fs::read(out.join("digest-daily.eml")).unwrap();
    let m = MessageParser::default().parse(&eml).unwrap();
    assert_eq!(m.to().unwrap().first().unwrap().address(), Some("reader@example.org"));
    assert!(m.header_raw("List-Unsubscribe").is_some(), "the reader's own message, headers and all");
    assert!(std::fs::read_to_string(out.join("digest-daily.txt")).unwrap().contains("reader@example.org"));
    assert!(app.outbox_messages().is_empty(), "nothing sent");
    assert!(app.outbox_counts().await.is_empty(), "nothing recorded");

    // A test of the whole edition to an editor: every keyword with news, sent, not recorded.
    let (ok, stdout, stderr) = nashra_output(&app, &["digest", "test", "--to", "editor@example.org", "--now", AT]);
    assert!(ok, "{stdout}{stderr}");
    let sent = app.outbox_messages();
    assert_eq!(sent.len(), 1);
    let test = MessageParser::default().parse(&sent[0]).unwrap();
    assert_eq!(test.to().unwrap().first().unwrap().address(), Some("editor@example.org"));
    assert!(test.subject().unwrap().starts_with("[تجربة]"), "{:?}", test.subject());
    assert!(test.header_raw("List-Unsubscribe").is_none(), "no list headers that lead nowhere");
    let whole = sections(&test.body_html(0).unwrap());
    assert!(whole.len() > 2, "every keyword with news: {whole:?}");
    assert!(!test.body_html(0).unwrap().contains("reader@example.org"));
    std::fs::remove_file(app.outbox().read_dir().unwrap().next().unwrap().unwrap().path()).unwrap();
    assert!(app.outbox_counts().await.is_empty(), "nothing recorded");

    // A reader's digest sent to someone else carries none of the reader's links.
    let args = ["digest", "test", "--to", "editor@example.org", "--subscriber", "reader@example.org", "--now", AT];
    let (ok, stdout, stderr) = nashra_output(&app, &args);
    assert!(ok, "{stdout}{stderr}");
    let sent = app.outbox_messages();
    let test = MessageParser::default().parse(&sent[0]).unwrap();
    let body = test.body_html(0).unwrap();
    assert!(!body.contains("/unsubscribe/") && !body.contains("/preferences/"), "{body}");
    assert!(test.header_raw("List-Unsubscribe").is_none() && test.header_raw("List-Id").is_none());
    assert_eq!(sections(&body), sections(&html), "the reader's own topics");
    std::fs::remove_file(app.outbox().read_dir().unwrap().next().unwrap().unwrap().path()).unwrap();

    // The edition itself then sends the reader what the preview showed.
    app.send_digest(now()).await;
    let real = app.outbox_messages();
    assert_eq!(real.len(), 1, "the preview and the test took nothing from the edition");
    let real = MessageParser::default().parse(&real[0]).unwrap();
    assert_eq!(sections(&real.body_html(0).unwrap()), sections(&html));

    let (ok, _, stderr) = nashra_output(&app, &["digest", "preview", "--subscriber", "nobody@example.org"]);
    assert!(!ok && stderr.contains("no subscriber nobody@example.org"), "{stderr}");
}

crate::on_both_backends!(an_editor_previews_a_readers_digest_and_sends_a_test);
