//! nashra's integration tests, in one binary. Each test starts a real instance (HTTP server on
//! port 0, its own database, its own outbox) serving a copy of the demo site, and drives one part
//! of the flow end to end with a fixed clock; most run on SQLite and on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test and benchmark code: a failure is a panic

mod helpers;
mod site;
#[path = "../support/smtp_sink.rs"]
mod smtp_sink;
#[path = "../support/webdriver.rs"]
mod webdriver;

mod admin_api;
mod browser;
mod collect;
mod config;
mod corpus;
mod delivery;
mod digest;
mod extract;
mod feed_builds;
mod feeds;
mod fetch;
mod import;
mod layers;
mod matching;
mod preferences;
mod preview;
mod processes;
mod push;
mod schedule;
mod secrets;
mod server;
mod signup;
mod smtp;
mod sources;
mod subscribers_api;
