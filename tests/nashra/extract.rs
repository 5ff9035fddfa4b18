//! Extraction against pages in the shapes of real Arabic news sites (tests/fixtures/sites: a
//! JSON-LD site, a windows-1256 table layout, Levantine and Maghrebi date lines, pages with no
//! configuration at all): every field exactly, dates to the minute in UTC, boilerplate absent.

use std::collections::HashMap;
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

/// Word tokens of a text in matching form, for the body score.
fn words_of(text: &str) -> Vec<String> {
    nashra::arabic::tokens(text).map(|t| nashra::arabic::normalize(t.text)).filter(|w| !w.is_empty()).collect()
}

/// Token F1 of `got` against `want` (bags of words).
fn token_f1(got: &str, want: &str) -> f64 {
    let mut bag: HashMap<String, i64> = HashMap::new();
    let want = words_of(want);
    for w in &want {
        *bag.entry(w.clone()).or_default() += 1;
    }
    let got = words_of(got);
    let mut common = 0;
    for w in &got {
        if let Some(n) = bag.get_mut(w).filter(|n| **n > 0) {
            *n -= 1;
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let (p, r) = (f64::from(common) / got.len() as f64, f64::from(common) / want.len() as f64);
    2.0 * p * r / (p + r)
}

/// The layout corpus (tests/fixtures/layouts: pages in the shapes of 20-odd kinds of Arabic
/// news site, written for the tests), read without any configuration — as a new source is
/// before its operator writes selectors: title, author and date exact rates and the body's
/// token F1. Prints the scores for the notes; holds the floor they reached.
#[test]
fn the_layout_corpus_is_read_unaided() {
    let dir = repo().join("tests/fixtures/layouts");
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    pages.sort();
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let (mut title, mut author, mut date, mut f1s, mut misses) = (0, 0, 0, Vec::new(), Vec::new());
    for expected in &pages {
        let want: Value = serde_json::from_str(&std::fs::read_to_string(expected).unwrap()).unwrap();
        let page = PathBuf::from(expected.to_string_lossy().replace(".expected.json", ".html"));
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let html = decode(&std::fs::read(&page).unwrap(), None);
        let tz: Tz = want["source_time_zone"].as_str().unwrap().parse().unwrap();
        let url = Url::parse(&format!("http://layouts.test/news/{name}")).unwrap();
        let x = match extract(&html, &url, None, tz, now) {
            Ok(x) => x,
            Err(e) => {
                misses.push(format!("{name}: {e}"));
                f1s.push(0.0);
                continue;
            }
        };
        let mut check = |field: &str, got: Option<String>, want: Option<String>, count: &mut usize| {
            if got == want {
                *count += 1;
            } else {
                misses.push(format!("{name}: {field}: got {got:?}, want {want:?}"));
            }
        };
        check("title", Some(x.title.clone()), opt(&want["title"]), &mut title);
        check("author", x.author.clone(), opt(&want["author"]), &mut author);
        let time = x.published.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        check("published", time, opt(&want["published"]), &mut date);
        let f1 = token_f1(&x.body_text, want["body_text"].as_str().unwrap());
        if f1 < 0.95 {
            misses.push(format!("{name}: body F1 {f1:.3}"));
        }
        f1s.push(f1);
    }
    let n = pages.len();
    let rate = |k: usize| k as f64 / n.max(1) as f64;
    let mean_f1 = f1s.iter().sum::<f64>() / n.max(1) as f64;
    eprintln!(
        "layout corpus, unaided: {n} pages; title {:.2}, author {:.2}, date {:.2} exact; body token F1 {mean_f1:.3}\n{}",
        rate(title),
        rate(author),
        rate(date),
        misses.join("\n")
    );
    assert!(n >= 20, "only {n} layouts");
    assert!(rate(title) >= FLOOR.0 && rate(author) >= FLOOR.1 && rate(date) >= FLOOR.2 && mean_f1 >= FLOOR.3);

    // The fixture sites, whose expected values were written with selectors, read without them.
    let (mut n, mut title, mut author, mut date) = (0, 0, 0, 0);
    for expected in expected_files() {
        let want: Value = serde_json::from_str(&std::fs::read_to_string(&expected).unwrap()).unwrap();
        let page = PathBuf::from(expected.to_string_lossy().trim_end_matches(".expected.json"));
        let html = decode(&std::fs::read(&page).unwrap(), None);
        let tz: Tz = want["source_time_zone"].as_str().unwrap().parse().unwrap();
        let url = Url::parse("http://site.test/news/item").unwrap();
        n += 1;
        let Ok(x) = extract(&html, &url, None, tz, now) else { continue };
        title += usize::from(Some(x.title) == opt(&want["title"]));
        author += usize::from(x.author == opt(&want["author"]));
        let time = x.published.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        date += usize::from(time == opt(&want["published"]));
    }
    let rate = |k: usize| k as f64 / n.max(1) as f64;
    eprintln!(
        "fixture sites without their selectors: {n} pages; title {:.2}, author {:.2}, date {:.2} exact (with them: all exact)",
        rate(title),
        rate(author),
        rate(date)
    );
}

/// What the unaided extraction reached on the layout corpus (title, author, date, body F1).
const FLOOR: (f64, f64, f64, f64) = (1.0, 1.0, 1.0, 0.98);
