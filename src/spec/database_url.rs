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
    /// Shown in logs and errors: a PostgreSQL URL's password is masked wherever it is written —
    /// in the user part (`postgres://u:***@db/n`) or as a parameter (`?password=***`,
    /// `sslpassword=***`); a URL that cannot be read is not shown past its scheme.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            DatabaseUrl::Postgres(raw) => match url::Url::parse(raw) {
                Ok(mut u) => {
                    if u.password().is_some() {
                        let _ = u.set_password(Some("***"));
                    }
                    if u.query().is_some() {
                        let pairs: Vec<(String, String)> = u
                            .query_pairs()
                            .map(|(k, v)| {
                                let secret = super::names_a_secret(&k);
                                (k.into_owned(), if secret { "***".to_owned() } else { v.into_owned() })
                            })
                            .collect();
                        u.query_pairs_mut().clear().extend_pairs(pairs);
                    }
                    write!(f, "{u}")
                }
                Err(_) => write!(f, "{}://***", raw.split("://").next().unwrap_or("postgres")),
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
        let url = DatabaseUrl::parse(
            "postgres://db/nashra?user=u&password=secret&sslpassword=s2&sslmode=require",
            Path::new("."),
        )
        .unwrap();
        assert_eq!(url.to_string(), "postgres://db/nashra?user=u&password=***&sslpassword=***&sslmode=require");
        assert_eq!(format!("{url:?}"), url.to_string());
        let url = DatabaseUrl::parse("postgres://u:secret@[db/nashra", Path::new(".")).unwrap();
        assert_eq!(url.to_string(), "postgres://***");
    }

    #[test]
    fn other_schemes_are_refused() {
        assert!(DatabaseUrl::parse("mysql://x", Path::new(".")).is_err());
        assert!(DatabaseUrl::parse("sqlite::memory:", Path::new(".")).is_err());
    }
}
