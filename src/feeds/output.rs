//! A built feed file: its bytes, strong ETag and Last-Modified, and the atomic write to the output
//! folder (a temporary file in the same folder, then a rename), skipped when nothing changed.

use std::io::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{FeedError, Format};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedFile {
    pub format: Format,
    pub bytes: Vec<u8>,
    /// A strong validator, quoted: `"…"`.
    pub etag: String,
    /// The feed's newest entry time.
    pub last_modified: DateTime<Utc>,
}

impl FeedFile {
    pub fn new(format: Format, bytes: Vec<u8>, last_modified: DateTime<Utc>) -> Self {
        let digest = Sha256::digest(&bytes);
        let etag = format!("\"{}\"", crate::store::hex_digest(&digest[..16]));
        Self { format, bytes, etag, last_modified }
    }
}

/// Writes `bytes` to `path` atomically, unless the file already holds exactly these bytes.
/// Returns whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool, FeedError> {
    let io = |source| FeedError::Io { path: path.display().to_string(), source };
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_data().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_replaced_only_when_their_bytes_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keywords").join("العراق.atom");
        assert!(write_if_changed(&path, b"one").unwrap());
        assert!(!write_if_changed(&path, b"one").unwrap());
        assert!(write_if_changed(&path, b"two").unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn the_etag_follows_the_bytes() {
        let t = Utc::now();
        let a = FeedFile::new(Format::Atom, b"x".to_vec(), t);
        assert_eq!(a.etag, FeedFile::new(Format::Atom, b"x".to_vec(), t).etag);
        assert_ne!(a.etag, FeedFile::new(Format::Atom, b"y".to_vec(), t).etag);
        assert!(a.etag.starts_with('"') && a.etag.ends_with('"') && a.etag.len() == 34);
    }
}
