//! One thing wrong with what the operator wrote, named by where it is.

use std::fmt;

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: a dotted key (`sources[0].selectors.title`), an environment variable or a file.
    pub key: String,
    /// The value as written (empty when the value is missing) — but never a secret: the value
    /// of a password, token or secret key is `***`, and a URL's password is masked.
    pub value: String,
    pub reason: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, value: impl fmt::Display, reason: impl Into<String>) -> Self {
        let key = key.into();
        let value = shown(&key, value.to_string());
        Self { key, value, reason: reason.into() }
    }
}

/// A value as a problem may show it.
fn shown(key: &str, value: String) -> String {
    if super::names_a_secret(key) && !value.is_empty() {
        return "***".into();
    }
    // `scheme://user:password@host…`: the password goes, whatever the scheme.
    if let Some((scheme, rest)) = value.split_once("://")
        && let Some((userinfo, host)) = rest.split_once('@')
        && let Some((user, _)) = userinfo.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    value
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}: {}", self.key, self.reason)
        } else {
            write!(f, "{} = {:?}: {}", self.key, self.value, self.reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_never_shows_a_secret() {
        let p = Problem::new("DATABASE_URL", "postgresql+asyncpg://u:hunter2@db/n", "must start with …");
        assert_eq!(p.value, "postgresql+asyncpg://u:***@db/n");
        let p = Problem::new("NASHRA_MAIL__SMTP__PASSWORD__X", "hunter2", "not a key");
        assert_eq!(p.value, "***");
        assert!(!p.to_string().contains("hunter2"));
        assert_eq!(Problem::new("http.listen", "nowhere", "bad").value, "nowhere");
    }
}
