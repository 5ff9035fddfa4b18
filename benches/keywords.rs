//! Keyword matching throughput with 3,000 keywords over 20 MB of Arabic news text, as a ratio
//! against `grep -F -o -f` (LC_ALL=C, the fastest grep) searching the same keywords in the same
//! file, measured in the same run; once with keywords that are found, once with keywords that
//! never occur; and the time to build the matcher for 3,000 keywords.
//!
//!     cargo bench --bench keywords   # BENCH_MB=20 BENCH_SECONDS=5 by default; BENCH_ONLY=absent
//!
//! The text is the demo site's and the fixture sites' article bodies, repeated. The found
//! keywords are 3,000 distinct words and two-word phrases of that text, a fifth of them taking
//! suffix forms; the absent ones are the same words spelled backwards (none occurs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test and benchmark code: a failure is a panic

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

/// The words of `found` spelled backwards, where no word of `text` is one of them.
fn absent(text: &str, found: &[String]) -> Vec<String> {
    let words: BTreeSet<String> = tokens(text).map(|t| normalize(t.text)).collect();
    found
        .iter()
        .map(|k| k.chars().rev().collect::<String>())
        .filter(|k| tokens(k).all(|t| !words.contains(&normalize(t.text))))
        .collect()
}

/// Seconds per run of `grep -F -o -f` over `text` for `keywords`, and the matches it printed.
fn grep(dir: &Path, text: &Path, keywords: &[String], min: Duration) -> Option<(f64, usize)> {
    let list = dir.join("keywords.txt");
    std::fs::write(&list, keywords.join("\n")).ok()?;
    let run = || {
        std::process::Command::new("grep")
            .env("LC_ALL", "C")
            .args(["-F", "-o", "-f"])
            .arg(&list)
            .arg(text)
            .output()
            .ok()
            .map(|o| o.stdout.iter().filter(|b| **b == b'\n').count())
    };
    run()?;
    let mut found = 0;
    let (secs, _) = timed(min, || {
        found = run().unwrap_or_default();
        found
    });
    Some((secs, found))
}

fn matcher(vocabulary: &[String]) -> Matcher {
    let entries: Vec<Vec<&str>> = vocabulary.iter().map(|k| vec![k.as_str()]).collect();
    let mut m = Matcher::new(&entries);
    for i in (0..entries.len()).step_by(5) {
        m.inflect(i);
    }
    m
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = texts(root);
    let found = keywords(&base, 3000);
    let absent = absent(&base, &found);
    let megabytes: usize = std::env::var("BENCH_MB").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    let mut text = String::new();
    while text.len() < megabytes * 1_000_000 {
        text.push_str(&base);
    }
    let mb = text.len() as f64 / 1e6;
    let min = Duration::from_secs(std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5));
    let Ok(dir) = tempfile::tempdir() else { return };
    let file = dir.path().join("text.txt");
    if std::fs::write(&file, &text).is_err() {
        return;
    }

    let (build, _) = timed(Duration::from_secs(1), || {
        std::hint::black_box(matcher(&found));
        1
    });
    println!(
        "text: {mb:.1} MB of Arabic news text; {} keywords found in it ({} phrases, a fifth with suffix forms), {} absent",
        found.len(),
        found.iter().filter(|k| k.contains(' ')).count(),
        absent.len()
    );
    println!("matcher build for {} keywords: {:.1} ms", found.len(), build * 1000.0);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    for (name, vocabulary) in [("found", &found), ("absent", &absent)] {
        if !only.is_empty() && only != name {
            continue;
        }
        let m = matcher(vocabulary);
        let (ours, hits) = timed(min, || {
            let mut n = 0;
            m.scan().feed(&text, 0, |_| n += 1);
            n
        });
        print!("{name:>6}: matcher {:.0} MB/s ({hits} matches)", mb / ours);
        match grep(dir.path(), &file, vocabulary, min) {
            Some((theirs, grep_hits)) => {
                println!("; grep -F {:.0} MB/s ({grep_hits} matches); ratio {:.2} x grep", mb / theirs, theirs / ours)
            }
            None => println!("; grep -F not available"),
        }
    }
}
