//! One thing wrong with what the operator wrote, named by where it is.

use std::fmt;

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: a dotted key (`sources[0].selectors.title`), an environment variable or a file.
    pub key: String,
    /// The value as written (empty when the value is missing).
    pub value: String,
    pub reason: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, value: impl fmt::Display, reason: impl Into<String>) -> Self {
        Self { key: key.into(), value: value.to_string(), reason: reason.into() }
    }
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
