//! `subscribers export`: every subscriber as CSV, in id order, read a page at a time so an export
//! costs the same memory whatever the list's size. The file is what `subscribers import` reads
//! back (same columns, keywords joined with the Arabic comma), so a list moves between instances
//! with its statuses and keywords. It writes; it changes nothing in the store.

use std::io::Write;

use chrono::SecondsFormat;

use crate::store::{ExportedReader, Store, StoreError};

/// Subscribers read per query.
const PAGE: u32 = 1000;

pub const EXPORT_HEADER: [&str; 5] = ["email", "keywords", "status", "created", "reason"];

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write the CSV file: {0}")]
    Write(#[from] csv::Error),
    #[error("cannot write the CSV file: {0}")]
    Flush(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes every subscriber to `output` as CSV (header `email,keywords,status,created,reason`):
/// status `suppressed` for a suppressed address, with the suppression's reason; else the
/// subscriber's status — then the suppressed addresses that have no subscriber any more.
/// Returns the number of rows written.
pub async fn export<W: Write>(store: &Store, output: W) -> Result<u64, ExportError> {
    let mut writer = csv::Writer::from_writer(output);
    writer.write_record(EXPORT_HEADER)?;
    let (mut after, mut rows) = (0, 0u64);
    loop {
        let page = store.export_page(after, PAGE).await?;
        for reader in &page {
            writer.write_record(record(reader))?;
        }
        rows += page.len() as u64;
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = last.id,
            _ => break,
        }
    }
    // Addresses suppressed with no reader (removed since): kept, so that a list moved to
    // another system does not write to them again.
    let mut after = String::new();
    loop {
        let page = store.suppressions_without_subscriber(&after, PAGE).await?;
        for s in &page {
            let created = s.created_at.to_rfc3339_opts(SecondsFormat::Secs, true);
            writer.write_record([s.email.as_str(), "", "suppressed", created.as_str(), s.reason.as_str()])?;
        }
        rows += page.len() as u64;
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = last.email.clone(),
            _ => break,
        }
    }
    writer.flush()?;
    tracing::info!(rows, "subscribers exported");
    Ok(rows)
}

fn record(reader: &ExportedReader) -> [String; 5] {
    let (status, reason) = match &reader.suppression {
        Some(reason) => ("suppressed", reason.as_str()),
        None => (reader.status.as_str(), ""),
    };
    [
        reader.email.clone(),
        reader.keywords.join("، "),
        status.to_owned(),
        reader.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        reason.to_owned(),
    ]
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::store::SubscriberStatus;

    #[test]
    fn a_suppressed_address_is_exported_as_suppressed_with_its_reason() {
        let reader = ExportedReader {
            id: 1,
            email: "a@example.org".into(),
            status: SubscriberStatus::Active,
            created_at: Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap(),
            suppression: Some("550 no such user".into()),
            keywords: vec!["العراق".into(), "داعش".into()],
        };
        assert_eq!(
            record(&reader),
            ["a@example.org", "العراق، داعش", "suppressed", "2026-11-30T05:00:00Z", "550 no such user"]
        );
        let plain = ExportedReader { suppression: None, ..reader };
        assert_eq!(record(&plain)[2..4], ["active", "2026-11-30T05:00:00Z"]);
    }
}
