//! Configuration through the real binary: a bad file stops `check-config` and `serve` with every
//! problem named by its key; the shipped file is valid.

use std::process::{Command, Output};

use crate::helpers::repo;

fn nashra(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nashra"));
    // Only the overrides a test sets: none from the environment the tests run in.
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("NASHRA_")) {
        cmd.env_remove(k);
    }
    cmd.args(args).env_remove("DATABASE_URL").env("NASHRA_LOG", "error");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the nashra binary runs")
}

const BAD: &str = r#"
[site]
title = "موقع"
base_url = "ftp://example.org/"
time_zone = "Africa/Kairo"

[http]
listen = "localhost"

[mail]
from = "not a mailbox"
templates_dir = "no-such-templates"

[schedules.collect]
cron = "*/10 * * *"

[[sources]]
name = "s"
kind = "html"
url = "http://example.org/"
[sources.selectors]
links = "a["
title = "h1"
date = "..date"
remove = [".ad", "figure >"]

[[editions]]
name = "daily"
cron = "0 7 * * *"
time_zone = "Mars/Olympus"
"#;

#[test]
fn check_config_lists_every_problem_with_its_key_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nashra.toml");
    std::fs::write(&path, BAD).unwrap();
    std::fs::create_dir(dir.path().join("feeds")).unwrap();
    let out = nashra(&["--config", path.to_str().unwrap(), "check-config"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for expected in [
        r#"site.base_url = "ftp://example.org/""#,
        r#"site.time_zone = "Africa/Kairo": unknown time zone"#,
        r#"http.listen = "localhost""#,
        r#"mail.from = "not a mailbox""#,
        r#"mail.templates_dir = "no-such-templates": no such folder"#,
        r#"schedules.collect.cron = "*/10 * * *""#,
        r#"sources[0].selectors.links = "a[": not a valid CSS selector"#,
        r#"sources[0].selectors.date = "..date": not a valid CSS selector"#,
        r#"sources[0].selectors.remove[1] = "figure >": not a valid CSS selector"#,
        r#"editions[0].time_zone = "Mars/Olympus""#,
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(err.contains("10 problem(s)"), "{err}");
}

#[test]
fn serve_refuses_to_start_on_a_bad_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nashra.toml");
    std::fs::write(&path, BAD).unwrap();
    let out = nashra(&["--config", path.to_str().unwrap(), "serve"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("site.time_zone"));
}

#[test]
fn environment_overrides_are_checked_like_the_file() {
    let path = repo().join("nashra.toml");
    let out = nashra(
        &["--config", path.to_str().unwrap(), "check-config"],
        &[("NASHRA_SCHEDULES__COLLECT__CRON", "every minute"), ("NASHRA_COLLECT__TIMEOUT_SECONDS", "soon")],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(r#"schedules.collect.cron = "every minute""#), "{err}");
    assert!(err.contains("soon"), "{err}");
}

#[test]
fn a_missing_file_is_named() {
    let out = nashra(&["--config", "/nonexistent/nashra.toml", "check-config"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/nashra.toml"));
}

#[test]
fn the_shipped_configuration_is_valid() {
    let path = repo().join("nashra.toml");
    let out = nashra(&["--config", path.to_str().unwrap(), "check-config"], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
