//! Third-party corpora through nashra's readers: every file of the W3C feed validator's and
//! feedparser's test suites goes through the feed reader without a panic, and the well-formed
//! ones yield one entry (or one clear error) per item. The corpora are read in place from
//! `../shared/testdata` (they are not copied into the repository); without it these tests say
//! so and pass.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use nashra::collect::{decode, read_feed};
use quick_xml::Reader;
use quick_xml::events::Event;
use url::Url;

use crate::helpers::repo;

/// `folder` of the shared test data: `$NASHRA_SHARED_DIR/testdata`, or `../shared/testdata`
/// beside the checkout (where CI has it).
fn shared(folder: &str) -> Option<PathBuf> {
    let base = std::env::var_os("NASHRA_SHARED_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("../shared"));
    let found = Some(base.join("testdata").join(folder)).filter(|p| p.is_dir());
    if found.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: ../shared/testdata/{folder} is not here (it is beside the checkout in CI; or set NASHRA_SHARED_DIR)"
        );
    }
    found
}

fn xml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "xml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// How many <item> or <entry> elements the document has, if it is well-formed XML.
fn items(text: &str) -> Option<usize> {
    let mut reader = Reader::from_str(text);
    let mut n = 0;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) if matches!(e.local_name().as_ref(), b"item" | b"entry") => n += 1,
            Event::Eof => return Some(n),
            _ => {}
        }
    }
}

/// Reads every file; returns (files, files read as feeds, problems).
fn run(dir: &Path, must_parse: impl Fn(&Path) -> bool) -> (usize, usize, Vec<String>) {
    let base = Url::parse("http://feed.example/feed.xml").unwrap();
    let files = xml_files(dir);
    let mut parsed = 0;
    let mut problems = Vec::new();
    for file in &files {
        let text = decode(&std::fs::read(file).unwrap(), None);
        let name = file.strip_prefix(dir).unwrap().display().to_string();
        let result = std::panic::catch_unwind(|| read_feed(&text, &base, chrono_tz::UTC, chrono::Utc::now()));
        match result {
            Err(_) => problems.push(format!("{name}: the reader panicked")),
            Ok(Ok(entries)) => {
                parsed += 1;
                if must_parse(file)
                    && let Some(n) = items(&text)
                    && entries.len() != n
                {
                    problems.push(format!("{name}: {} entries for {n} items", entries.len()));
                }
            }
            Ok(Err(e)) if must_parse(file) => problems.push(format!("{name}: {e}")),
            Ok(Err(_)) => {}
        }
    }
    (files.len(), parsed, problems)
}

#[test]
fn the_feed_validator_suite_reads_without_a_panic() {
    let Some(dir) = shared("feedvalidator") else { return };
    let tsv = std::fs::read_to_string(dir.join("expectations.tsv")).unwrap();
    let valid: Vec<String> = tsv
        .lines()
        .filter(|l| l.split('\t').nth(1) == Some("!Error"))
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect();
    let (files, parsed, problems) = run(&dir, |f| valid.iter().any(|v| f.ends_with(v)));
    assert!(files > 1000, "{files}");
    assert!(problems.is_empty(), "{} of {files} files:\n{}", problems.len(), problems.join("\n"));
    let _ = writeln!(
        std::io::stderr(),
        "feedvalidator: {files} files, {parsed} read as feeds, {} valid ones checked",
        valid.len()
    );
}

/// A windows-1256 feed says so in its XML declaration; once nashra has decoded it, the reader
/// must not decode it a second time (feedparser's x80_windows-1256 case, with Arabic).
#[test]
fn a_windows_1256_feed_is_decoded_once() {
    let doc = "<?xml version=\"1.0\" encoding=\"windows-1256\"?>\n<rss version=\"2.0\"><channel><title>x</title>\
        <item><title>€ مصر والعراق</title><link>http://x.example/1</link></item></channel></rss>";
    let (bytes, _, _) = encoding_rs::WINDOWS_1256.encode(doc);
    let text = decode(&bytes, None);
    let url = Url::parse("http://x.example/feed").unwrap();
    let entries = read_feed(&text, &url, chrono_tz::UTC, chrono::Utc::now()).unwrap();
    assert_eq!(entries[0].as_ref().unwrap().hint.title.as_deref(), Some("€ مصر والعراق"));
}

#[test]
fn the_feedparser_suite_reads_without_a_panic_and_well_formed_feeds_yield_their_entries() {
    let Some(dir) = shared("feedparser") else { return };
    let (files, parsed, problems) = run(&dir, |f| !f.components().any(|c| c.as_os_str() == "illformed"));
    assert!(files > 400, "{files}");
    assert!(problems.is_empty(), "{} of {files} files:\n{}", problems.len(), problems.join("\n"));
    let _ = writeln!(std::io::stderr(), "feedparser: {files} files, {parsed} read as feeds");
}

/// Mozilla Readability's right-to-left test pages (Latin text in RTL markup): the direction is
/// the one around the article, wherever it is set.
#[test]
fn the_direction_around_the_article_wins_as_in_readability() {
    let Some(dir) = shared("mozilla-readability") else { return };
    let url = Url::parse("http://fakehost/test/page.html").unwrap();
    let now = chrono::Utc::now();
    for page in ["rtl-1", "rtl-2", "rtl-3", "rtl-4"] {
        let html = std::fs::read_to_string(dir.join(page).join("source.html")).unwrap();
        let want: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(page).join("expected-metadata.json")).unwrap())
                .unwrap();
        let x = nashra::collect::extract(&html, &url, None, chrono_tz::UTC, now).unwrap();
        assert_eq!(x.title, want["title"].as_str().unwrap(), "{page}");
        assert_eq!(x.dir.as_deref(), want["dir"].as_str(), "{page}");
    }
}
