//! Extraction throughput on one core over a corpus of Arabic news pages, as a ratio against a
//! baseline measured in the same run: parsing the same pages into a DOM and nothing more.
//!
//!     cargo bench --bench extract
//!
//! The corpus: the 11 demo pages and the 14 fixture pages of five real-world layouts, each also
//! with its body doubled and tripled (75 pages), read with the selectors an operator would
//! configure (the readability fallback for the pages that have none).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test and benchmark code: a failure is a panic

use std::path::Path;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use chrono_tz::Tz;
use nashra::collect::{ArticleSelectors, SelectorsCss, decode, extract};
use nashra::config::Config;
use scraper::Html;
use url::Url;

struct Page {
    html: String,
    url: Url,
    selectors: Option<ArticleSelectors>,
    tz: Tz,
}

/// The demo source's article selectors, as `nashra.toml` configures them.
fn demo_selectors(root: &Path) -> ArticleSelectors {
    let config = Config::load_with_env(&root.join("nashra.toml"), []).expect("nashra.toml");
    let demo = config.sources.iter().find(|s| s.name == "demo").expect("the demo source in nashra.toml");
    demo.article.clone().expect("the demo source's selectors")
}

/// A fixture's selectors (`null` when the page is read without configuration).
fn fixture_selectors(v: &serde_json::Value) -> Option<ArticleSelectors> {
    let css: Option<SelectorsCss> = serde_json::from_value(v.clone()).expect("fixture selectors");
    css.map(|css| ArticleSelectors::parse(&css).expect("fixture selectors are valid CSS"))
}

/// The page with its body's paragraphs repeated `times` times (a longer article).
fn longer(html: &str, times: usize) -> String {
    let Some(start) = html.find("<p") else { return html.to_owned() };
    let Some(end) = html.rfind("</p>") else { return html.to_owned() };
    let body = &html[start..end + 4];
    format!("{}{}{}", &html[..start], body.repeat(times), &html[end + 4..])
}

fn corpus(root: &Path) -> Vec<Page> {
    let demo = demo_selectors(root);
    let mut base = Vec::new();
    for entry in std::fs::read_dir(root.join("demo/articles")).unwrap() {
        let path = entry.unwrap().path();
        let html = std::fs::read_to_string(&path).unwrap();
        let url =
            Url::parse(&format!("http://127.0.0.1:8080/demo/articles/{}", path.file_name().unwrap().to_string_lossy()))
                .unwrap();
        base.push(Page { html, url, selectors: Some(demo.clone()), tz: chrono_tz::Africa::Cairo });
    }
    let sites = root.join("tests/fixtures/sites");
    for dir in std::fs::read_dir(&sites).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let name = f.to_string_lossy().into_owned();
            let Some(page) = name.strip_suffix(".expected.json") else { continue };
            let want: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
            let html = decode(&std::fs::read(page).unwrap(), None);
            let url =
                Url::parse(&format!("http://site.test/{}", Path::new(page).strip_prefix(&sites).unwrap().display()))
                    .unwrap();
            let tz: Tz = want["source_time_zone"].as_str().unwrap().parse().unwrap();
            base.push(Page { html, url, selectors: fixture_selectors(&want["selectors"]), tz });
        }
    }
    let mut pages = Vec::new();
    for p in base {
        for times in [2, 3] {
            pages.push(Page {
                html: longer(&p.html, times),
                url: p.url.clone(),
                selectors: p.selectors.clone(),
                tz: p.tz,
            });
        }
        pages.push(p);
    }
    pages
}

/// Runs `f` over the corpus until `min` has passed; returns pages per second.
fn rate(pages: &[Page], min: Duration, mut f: impl FnMut(&Page)) -> f64 {
    // Warm-up pass.
    pages.iter().for_each(&mut f);
    let start = Instant::now();
    let mut done = 0usize;
    while start.elapsed() < min {
        for p in pages {
            f(p);
        }
        done += pages.len();
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pages = corpus(root);
    let bytes: usize = pages.iter().map(|p| p.html.len()).sum();
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap();
    let mut failures = 0;
    for p in &pages {
        if extract(&p.html, &p.url, p.selectors.as_ref(), p.tz, now).is_err() {
            failures += 1;
        }
    }
    let min = Duration::from_secs(std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5));
    let parse = rate(&pages, min, |p| {
        std::hint::black_box(Html::parse_document(&p.html));
    });
    let extraction = rate(&pages, min, |p| {
        let _ = std::hint::black_box(extract(&p.html, &p.url, p.selectors.as_ref(), p.tz, now));
    });
    println!(
        "corpus: {} Arabic pages, {:.1} KiB on average, {failures} not extractable",
        pages.len(),
        bytes as f64 / pages.len() as f64 / 1024.0
    );
    println!("baseline (DOM parse only): {parse:.0} pages/s on one core");
    println!("extraction:                {extraction:.0} pages/s on one core");
    println!(
        "ratio: extraction runs at {:.2}x the speed of a bare parse ({:.1} parses' worth per page)",
        extraction / parse,
        parse / extraction
    );
}
