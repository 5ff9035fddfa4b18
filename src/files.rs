//! Files that hold personal data — the SQLite database, the outbox's messages, exported lists and
//! previews — are created readable by their owner only (0600, folders 0700), whatever the umask.
//! Public output (the feeds) is not made here.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// The mode of a private file.
pub const FILE_MODE: u32 = 0o600;
/// The mode of a private folder.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and its missing parents; the folders made here are the owner's only.
pub fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir)
}

/// Options that create a file (truncating one that exists) readable by its owner only.
pub fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options
}

/// Creates (or truncates) a private file; one that existed with a looser mode is made private
/// before anything is written to it.
pub fn create_private(path: &Path) -> io::Result<File> {
    let file = private_options().open(path)?;
    #[cfg(unix)]
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Writes a private file.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    create_private(path)?.write_all(bytes)
}

/// Takes away group and other access from an existing file or folder (one made before this
/// rule, or by a tool with a loose umask); says whether it had any.
pub fn tighten(path: &Path) -> io::Result<bool> {
    #[cfg(unix)]
    {
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & !0o077))?;
            return Ok(true);
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(false)
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn private_files_and_folders_are_the_owners_only() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir_all(&nested).unwrap();
        assert_eq!(mode(&dir.path().join("a")), DIR_MODE);
        assert_eq!(mode(&nested), DIR_MODE);
        let file = nested.join("x.eml");
        write_private(&file, b"x").unwrap();
        assert_eq!(mode(&file), FILE_MODE);
        let loose = dir.path().join("loose");
        std::fs::write(&loose, b"x").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(tighten(&loose).unwrap());
        assert_eq!(mode(&loose), 0o600);
        assert!(!tighten(&loose).unwrap());
        // An existing file written again is made private first.
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&loose, b"personal").unwrap();
        assert_eq!(mode(&loose), FILE_MODE);
    }
}
