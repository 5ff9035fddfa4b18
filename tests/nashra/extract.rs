//! Extraction against pages in the shapes of real Arabic news sites (tests/fixtures/sites: a
//! JSON-LD site, a windows-1256 table layout, Levantine and Maghrebi date lines, pages with no
//! configuration at all): every field exactly, dates to the minute in UTC, boilerplate absent.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use nashra::collect::{ArticleSelectors, SelectorsCss, decode, extract};
use serde_json::Value;
use url::Url;

use crate::helpers::repo;

fn expected_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let root = repo().join("tests/fixtures/sites");
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            if f.to_string_lossy().ends_with(".expected.json") {
                out.push(f);
            }
        }
    }
    out.sort();
    out
}

/// A fixture's selectors (`null` when the page is read without configuration).
fn selectors(v: &Value) -> Option<ArticleSelectors> {
    let css: Option<SelectorsCss> = serde_json::from_value(v.clone()).unwrap();
    css.map(|css| ArticleSelectors::parse(&css).unwrap())
}

fn opt(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// Checks one page; returns what differs.
fn check(expected_path: &Path) -> Vec<String> {
    let page_path = PathBuf::from(expected_path.to_string_lossy().trim_end_matches(".expected.json"));
    let name = page_path.strip_prefix(repo().join("tests/fixtures/sites")).unwrap().display().to_string();
    let want: Value = serde_json::from_str(&std::fs::read_to_string(expected_path).unwrap()).unwrap();
    let html = decode(&std::fs::read(&page_path).unwrap(), None);
    let url = Url::parse(&format!("http://site.test/{name}")).unwrap();
    let tz: Tz = want["source_time_zone"].as_str().unwrap().parse().unwrap();
    // Fetched a little after the newest fixture was published.
    let now = Utc.with_ymd_and_hms(2025, 11, 1, 12, 0, 0).unwrap();
    let x = match extract(&html, &url, selectors(&want["selectors"]).as_ref(), tz, now) {
        Ok(x) => x,
        Err(e) => return vec![format!("{name}: {e}")],
    };
    let mut wrong = Vec::new();
    let mut same = |field: &str, got: Option<String>, want: Option<String>| {
        if got != want {
            wrong.push(format!("{name}: {field}: got {got:?}, want {want:?}"));
        }
    };
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    same("title", Some(x.title.clone()), opt(&want["title"]));
    same("author", x.author.clone(), opt(&want["author"]));
    same("published", time(x.published), opt(&want["published"]));
    same("updated", time(x.updated), opt(&want["updated"]));
    same("section", x.section.clone(), opt(&want["section"]));
    same("image", x.image.clone(), opt(&want["image"]));
    same("canonical_url", x.canonical_url.clone(), opt(&want["canonical_url"]));
    same("lang", x.lang.clone(), opt(&want["lang"]));
    same("dir", x.dir.clone(), opt(&want["dir"]));
    let keywords: Vec<String> = want["keywords"].as_array().unwrap().iter().filter_map(opt).collect();
    if x.keywords != keywords {
        wrong.push(format!("{name}: keywords: got {:?}, want {keywords:?}", x.keywords));
    }
    let starts = want["body_starts_with"].as_str().unwrap();
    if !x.body_text.starts_with(starts) {
        wrong.push(format!(
            "{name}: body starts {:?}…, want {starts:?}",
            x.body_text.chars().take(60).collect::<String>()
        ));
    }
    for s in want["body_contains"].as_array().unwrap().iter().filter_map(Value::as_str) {
        if !x.body_text.contains(s) {
            wrong.push(format!("{name}: body lacks {s:?}"));
        }
    }
    for s in want["body_excludes"].as_array().unwrap().iter().filter_map(Value::as_str) {
        if x.body_text.contains(s) {
            wrong.push(format!("{name}: body keeps boilerplate {s:?}"));
        }
    }
    wrong
}

#[test]
fn every_fixture_page_is_extracted_exactly() {
    let files = expected_files();
    assert!(files.len() >= 14, "only {} fixture pages", files.len());
    let wrong: Vec<String> = files.iter().flat_map(|f| check(f)).collect();
    assert!(wrong.is_empty(), "{} difference(s):\n{}", wrong.len(), wrong.join("\n"));
}

/// Every fixture page whose date the operator pointed at with `selectors.date` (and the demo
/// site's pages) has its date read without that selector too: the visible date line found as a
/// reader finds it, to the minute. Prints the ratio for the notes.
#[test]
fn date_lines_are_read_unaided_as_with_their_selector() {
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    let (mut with_selector, mut unaided, mut wrong) = (0, 0, Vec::new());
    for expected_path in expected_files() {
        let want: Value = serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        let Some(mut sel) = selectors(&want["selectors"]).filter(|s| s.date.is_some()) else { continue };
        let page_path = PathBuf::from(expected_path.to_string_lossy().trim_end_matches(".expected.json"));
        let html = decode(&std::fs::read(&page_path).unwrap(), None);
        let url = Url::parse("http://site.test/news/item").unwrap();
        let tz: Tz = want["source_time_zone"].as_str().unwrap().parse().unwrap();
        with_selector += 1;
        sel.date = None;
        let got = extract(&html, &url, Some(&sel), tz, now).map(|x| time(x.published));
        if got.as_ref().ok().cloned().flatten() == opt(&want["published"]) {
            unaided += 1;
        } else {
            wrong.push(format!("{}: got {got:?}, want {}", page_path.display(), want["published"]));
        }
    }
    for page in std::fs::read_dir(repo().join("demo/articles")).unwrap() {
        let page = page.unwrap().path();
        let html = std::fs::read_to_string(&page).unwrap();
        with_selector += 1;
        let got = extract(&html, &Url::parse("http://site.test/demo/a").unwrap(), None, chrono_tz::Africa::Cairo, now);
        match got.map(|x| x.published) {
            Ok(Some(_)) => unaided += 1,
            other => wrong.push(format!("{}: {other:?}", page.display())),
        }
    }
    eprintln!("date lines read unaided: {unaided} of {with_selector} read with selectors.date");
    assert!(with_selector >= 8, "only {with_selector} pages with a date selector");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
