//! Keyword matching throughput with 3,000 keywords over Arabic news text, as a ratio against a
//! plain substring search for the same keywords over the same text (measured in the same run);
//! and the time to build the matcher for 3,000 keywords.
//!
//!     cargo bench --bench keywords
//!
//! The text is the demo site's and the fixture sites' article bodies, repeated to about 2 MB.
//! The keywords are 3,000 distinct words and two-word phrases of that text (so they are found),
//! a fifth of them taking suffix forms.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use nashra::arabic::{Matcher, normalize, tokens};
use nashra::collect::{decode, html_to_text};

fn texts(root: &Path) -> String {
    let mut out = String::new();
    let mut add_dir = |dir: &Path| {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.extension().is_some_and(|x| x == "html") {
                out.push_str(&html_to_text(&decode(&std::fs::read(&p).unwrap(), None)));
                out.push('\n');
            }
        }
    };
    add_dir(&root.join("demo/articles"));
    for site in ["jsonld-modern", "legacy-cp1256", "levant", "maghreb", "noconfig"] {
        add_dir(&root.join("tests/fixtures/sites").join(site));
    }
    out
}

fn keywords(text: &str, n: usize) -> Vec<String> {
    let words: Vec<&str> = tokens(text).map(|t| t.text).filter(|w| w.chars().count() >= 3).collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, w) in words.iter().enumerate() {
        if out.len() >= n {
            break;
        }
        // Every tenth keyword is a two-word phrase.
        let k = if i % 10 == 0 { words.get(i + 1).map(|next| format!("{w} {next}")) } else { Some((*w).to_owned()) };
        if let Some(k) = k
            && seen.insert(normalize(&k))
        {
            out.push(k);
        }
    }
    out
}

fn timed(min: Duration, mut f: impl FnMut() -> usize) -> (f64, usize) {
    let start = Instant::now();
    let (mut runs, mut found) = (0u32, 0usize);
    while start.elapsed() < min || runs == 0 {
        found = std::hint::black_box(f());
        runs += 1;
    }
    (start.elapsed().as_secs_f64() / f64::from(runs), found)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = texts(root);
    let vocabulary = keywords(&base, 3000);
    let mut text = String::new();
    while text.len() < 2 * 1024 * 1024 {
        text.push_str(&base);
    }
    let mb = text.len() as f64 / (1024.0 * 1024.0);
    let min = Duration::from_secs(std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5));

    let entries: Vec<Vec<&str>> = vocabulary.iter().map(|k| vec![k.as_str()]).collect();
    let (build, _) = timed(Duration::from_secs(1), || {
        let mut m = Matcher::new(&entries);
        for i in (0..entries.len()).step_by(5) {
            m.inflect(i);
        }
        std::hint::black_box(&m);
        1
    });
    let mut matcher = Matcher::new(&entries);
    for i in (0..entries.len()).step_by(5) {
        matcher.inflect(i);
    }

    // Baseline: a plain substring search for every keyword (as written and normalised) over the
    // text — what a tool without an Arabic matcher does, and no better at finding forms.
    let (substring, plain_hits) = timed(min, || vocabulary.iter().map(|k| text.matches(k.as_str()).count()).sum());
    let (matching, hits) = timed(min, || matcher.find_all(&text).len());

    println!(
        "text: {mb:.1} MiB of Arabic news text; {} keywords ({} phrases, a fifth with suffix forms)",
        vocabulary.len(),
        vocabulary.iter().filter(|k| k.contains(' ')).count()
    );
    println!("matcher build for {} keywords: {:.1} ms", vocabulary.len(), build * 1000.0);
    println!("baseline (substring search per keyword): {:.2} MB/s, {plain_hits} hits", mb / substring);
    println!("matcher (normalised, clitic-aware):     {:.2} MB/s, {hits} matches", mb / matching);
    println!("ratio: the matcher runs at {:.1}x the speed of the substring search", substring / matching);
}
