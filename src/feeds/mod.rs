//! The feeds stage: stored articles → RSS 2.0, Atom 1.0 and JSON Feed, for every feed declared in
//! `feeds/` and for every keyword. One model (`model`), three writers (`rss`, `atom`, `json`).
//! Output is deterministic bytes with a strong ETag, kept in memory for the HTTP server and
//! written atomically to the output folder, so a static web server or CDN can serve it too.
//! This stage reads articles and keywords; it never changes them.

mod atom;
mod json;
mod model;
mod opml;
mod output;
mod publish;
mod rss;
mod spec;
pub mod websub;

pub use model::{Category, Entry, Feed, Format};
pub use output::{Coding, FeedFile};
pub use publish::{BuildReport, FeedKey, Publisher, feed_url};
pub use spec::{ALL, FeedSpec};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("feed {feed}: {reason}")]
    Write { feed: String, reason: String },
    #[error("cannot write {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Writes `feed` in `format`.
pub fn render(feed: &Feed, format: Format) -> Result<Vec<u8>, String> {
    match format {
        Format::Rss => rss::write(feed),
        Format::Atom => atom::write(feed),
        Format::Json => json::write(feed),
    }
}
