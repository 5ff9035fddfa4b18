//! Which database to open, read from `database.url` or `DATABASE_URL`.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A SQLite file (absolute, or relative to the working directory).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL.
    Postgres(String),
}

impl DatabaseUrl {
    /// `sqlite:path`, `sqlite://path` or `sqlite:///absolute/path`, with a relative path taken
    /// from `base`; or `postgres://…` / `postgresql://…`.
    pub fn parse(value: &str, base: &Path) -> Result<Self, String> {
        let value = value.trim();
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(value.to_owned()));
        }
        let Some(rest) = value.strip_prefix("sqlite:") else {
            return Err("must start with sqlite: (a file) or postgres:// (a server)".into());
        };
        let path = rest.strip_prefix("//").unwrap_or(rest);
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() || path == ":memory:" {
            return Err("give SQLite a file path, e.g. sqlite:var/nashra.db".into());
        }
        Ok(DatabaseUrl::Sqlite(base.join(path)))
    }
}

impl fmt::Display for DatabaseUrl {
    /// Shown in logs and errors: the password of a PostgreSQL URL is masked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            DatabaseUrl::Postgres(raw) => match url::Url::parse(raw) {
                Ok(mut u) if u.password().is_some() => {
                    let _ = u.set_password(Some("***"));
                    write!(f, "{u}")
                }
                _ => f.write_str(raw),
            },
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths_are_taken_from_the_base_folder() {
        let base = Path::new("/etc/nashra");
        assert_eq!(DatabaseUrl::parse("sqlite:var/n.db", base), Ok(DatabaseUrl::Sqlite("/etc/nashra/var/n.db".into())));
        assert_eq!(DatabaseUrl::parse("sqlite:///srv/n.db", base), Ok(DatabaseUrl::Sqlite("/srv/n.db".into())));
    }

    #[test]
    fn postgres_passwords_are_masked_when_shown() {
        let url = DatabaseUrl::parse("postgres://u:secret@db/nashra", Path::new(".")).unwrap();
        assert_eq!(url.to_string(), "postgres://u:***@db/nashra");
    }

    #[test]
    fn other_schemes_are_refused() {
        assert!(DatabaseUrl::parse("mysql://x", Path::new(".")).is_err());
        assert!(DatabaseUrl::parse("sqlite::memory:", Path::new(".")).is_err());
    }
}
