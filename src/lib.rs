//! nashra (نشرة, "bulletin"): syndication feeds and right-to-left email digests for
//! Arabic-language publishers.
//!
//! The modules follow the data flow: `collect` (sources → articles) → `store` → `keywords` (the
//! tag stage) → `feeds` (RSS, Atom, JSON Feed) and `digest` (per-subscriber emails grouped by
//! keyword) → `delivery` (outbox → SMTP or files). `arabic` holds the language's rules as pure
//! functions; `spec` holds what the operator writes as checked types (schedules, selectors, feed
//! declarations, keyword names, the database URL) and `config` reads the operator's file into
//! them — both below every stage; `schedule`, `web` and `cli` are drivers at the
//! edges that only call the stages; `app` wires the parts together.

pub mod admin;
pub mod app;
pub mod arabic;
pub mod cli;
pub mod collect;
pub mod config;
pub mod delivery;
pub mod digest;
pub mod errors;
pub mod feeds;
pub mod files;
pub mod keywords;
pub mod metrics;
pub mod progress;
pub mod schedule;
pub mod spec;
pub mod store;
pub mod subscribers;
pub mod web;
