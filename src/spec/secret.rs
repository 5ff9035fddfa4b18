//! A secret the operator configured — a password, a bearer token, a signing key. It prints as
//! `***` (Debug and Display), so no log line, error or `{:?}` of a configuration shows it; the
//! code that must use the value asks for it by name (`expose`).

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that sends or checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Whether a key (or a message naming one) is about a secret: a password, token or secret.
pub fn names_a_secret(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    ["password", "token", "secret"].iter().any(|w| text.contains(w))
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("hunter2-hunter2");
        assert_eq!(format!("{s} {s:?} {:?}", Some(&s)), "*** *** Some(***)");
        assert_eq!(s.expose(), "hunter2-hunter2");
    }
}
