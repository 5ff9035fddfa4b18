//! A built feed file: its bytes, compressed once (gzip and brotli), its strong ETag and
//! Last-Modified, and the atomic write to the output folder (a temporary file in the same
//! folder, then a rename), skipped when nothing changed.

use std::io::Write as _;
use std::path::Path;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{FeedError, Format};

/// A content coding a feed is held in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    Brotli,
}

impl Coding {
    /// The `Content-Encoding` value (none for identity).
    pub fn header(self) -> Option<&'static str> {
        match self {
            Coding::Identity => None,
            Coding::Gzip => Some("gzip"),
            Coding::Brotli => Some("br"),
        }
    }

    /// The suffix of the file beside the feed (`all.atom.gz`).
    pub fn suffix(self) -> &'static str {
        match self {
            Coding::Identity => "",
            Coding::Gzip => ".gz",
            Coding::Brotli => ".br",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedFile {
    pub format: Format,
    /// The feed; cloning shares it, nothing is copied per request.
    pub bytes: Bytes,
    pub gzip: Bytes,
    pub brotli: Bytes,
    /// A strong validator, quoted: `"…"` (each coding's is this with a suffix).
    pub etag: String,
    /// The feed's newest entry time.
    pub last_modified: DateTime<Utc>,
}

impl FeedFile {
    pub fn new(format: Format, bytes: Vec<u8>, last_modified: DateTime<Utc>) -> Self {
        Self::with_variants(format, bytes, last_modified, |_| None)
    }

    /// As `new`, taking each compressed variant from `known` when it has it (the sibling files
    /// of a feed whose bytes did not change), compressing only the others.
    pub fn with_variants(
        format: Format,
        bytes: Vec<u8>,
        last_modified: DateTime<Utc>,
        known: impl Fn(Coding) -> Option<Vec<u8>>,
    ) -> Self {
        let digest = Sha256::digest(&bytes);
        let etag = format!("\"{}\"", crate::store::hex_digest(&digest[..16]));
        let gzip = Bytes::from(known(Coding::Gzip).unwrap_or_else(|| gzip(&bytes)));
        let brotli = Bytes::from(known(Coding::Brotli).unwrap_or_else(|| brotli(&bytes)));
        Self { format, bytes: Bytes::from(bytes), gzip, brotli, etag, last_modified }
    }

    /// The feed as the output folder holds it (`path`, with its `.gz`/`.br` siblings; one that
    /// is missing is made again), Last-Modified from the file's modification time.
    pub fn read(format: Format, path: &Path) -> std::io::Result<Self> {
        let bytes = std::fs::read(path)?;
        let modified = std::fs::metadata(path)?.modified()?;
        Ok(Self::with_variants(format, bytes, DateTime::<Utc>::from(modified), |coding| {
            std::fs::read(sibling(path, coding)).ok()
        }))
    }

    /// How many bytes it holds, in all its codings.
    pub fn size(&self) -> usize {
        self.bytes.len() + self.gzip.len() + self.brotli.len()
    }

    /// The bytes in `coding`.
    pub fn body(&self, coding: Coding) -> &Bytes {
        match coding {
            Coding::Identity => &self.bytes,
            Coding::Gzip => &self.gzip,
            Coding::Brotli => &self.brotli,
        }
    }

    /// The strong ETag of the bytes in `coding` (RFC 9110: each representation its own).
    pub fn etag_of(&self, coding: Coding) -> String {
        match coding {
            Coding::Identity => self.etag.clone(),
            c => format!("{}{}\"", self.etag.trim_end_matches('"'), c.suffix().replace('.', "-")),
        }
    }
}

/// gzip at its default level: once per changed feed, read many times (the best level takes
/// twice the time for about 1 % less).
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

/// Brotli at quality 5: on the demo's Arabic pages (60 KB) it takes what gzip's best level does
/// and is 3 % smaller than it; quality 9 took 2.7 times longer for 4 % less.
fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 5, lgwin: 22, ..Default::default() };
    let _ = brotli::BrotliCompress(&mut std::io::Cursor::new(bytes), &mut out, &params);
    out
}

/// The file beside `path` holding its bytes in `coding` (`all.atom.gz`).
pub fn sibling(path: &Path, coding: Coding) -> std::path::PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{name}{}", coding.suffix()))
}

/// Writes `bytes` to `path` atomically (a temporary file renamed over it: a reader sees the old
/// bytes or the new, never a mix), unless the file already holds exactly these bytes. Returns
/// whether it wrote. No fsync per file: the folder is a copy made from the store; a machine crash
/// can at worst leave a file empty, and the next process's first build writes every feed whose
/// file is missing or empty again.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool, FeedError> {
    let io = |source| FeedError::Io { path: path.display().to_string(), source };
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compressed_variants_hold_the_same_bytes() {
        let text = "<feed>".to_owned() + &"<entry>العراق</entry>".repeat(200) + "</feed>";
        let f = FeedFile::new(Format::Atom, text.clone().into_bytes(), Utc::now());
        let mut gunzipped = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&f.gzip[..]), &mut gunzipped).unwrap();
        assert_eq!(gunzipped, text);
        let mut unbrotlied = Vec::new();
        brotli::BrotliDecompress(&mut std::io::Cursor::new(&f.brotli[..]), &mut unbrotlied).unwrap();
        assert_eq!(unbrotlied, text.as_bytes());
        assert!(f.brotli.len() < f.bytes.len() / 5 && f.gzip.len() < f.bytes.len() / 5);
        assert_ne!(f.etag_of(Coding::Gzip), f.etag);
        assert!(f.etag_of(Coding::Brotli).ends_with("-br\""), "{}", f.etag_of(Coding::Brotli));
    }

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
