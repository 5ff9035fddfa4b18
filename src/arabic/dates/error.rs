//! The error of date reading. Every message quotes the input and says what is wrong so a
//! feed operator can fix the source's date selector; it must never be swallowed into a
//! guessed date.

/// Why a date string could not be read. Every variant carries the (possibly shortened)
/// input; `Display` reads `cannot read date "<input>": <what is wrong>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    #[error("cannot read date {input:?}: it is empty")]
    Empty { input: String },
    #[error("cannot read date {input:?}: no month name or number found")]
    NoMonth { input: String },
    #[error("cannot read date {input:?}: no day of the month found")]
    NoDay { input: String },
    #[error("cannot read date {input:?}: no year found")]
    NoYear { input: String },
    #[error("cannot read date {input:?}: unexpected {found}")]
    Unexpected { input: String, found: String },
    #[error("cannot read date {input:?}: the {what} is given twice")]
    Repeated { input: String, what: &'static str },
    #[error("cannot read date {input:?}: month names disagree ({first} and {second})")]
    MonthConflict { input: String, first: u32, second: u32 },
    #[error("cannot read date {input:?}: {field} {value} is outside {min}..={max}")]
    OutOfRange { input: String, field: &'static str, value: i64, min: i64, max: i64 },
    #[error("cannot read date {input:?}: {reason}")]
    Ambiguous { input: String, reason: &'static str },
    #[error("cannot read date {input:?}: Hijri dates are not supported")]
    Hijri { input: String },
    #[error("cannot read date {input:?}: the instant is outside the supported range")]
    Overflow { input: String },
}

/// Inputs longer than this are shortened in messages: a whole scraped page must not end
/// up in a log line.
const MAX_QUOTED_CHARS: usize = 120;

impl DateError {
    /// Internal code builds errors with an empty `input`; the public entry points fill it
    /// in once, here.
    pub(super) fn with_input(mut self, original: &str) -> DateError {
        let quoted = shorten(original);
        match &mut self {
            DateError::Empty { input }
            | DateError::NoMonth { input }
            | DateError::NoDay { input }
            | DateError::NoYear { input }
            | DateError::Unexpected { input, .. }
            | DateError::Repeated { input, .. }
            | DateError::MonthConflict { input, .. }
            | DateError::OutOfRange { input, .. }
            | DateError::Ambiguous { input, .. }
            | DateError::Hijri { input }
            | DateError::Overflow { input } => *input = quoted,
        }
        self
    }

    pub(super) fn unexpected(found: impl Into<String>) -> DateError {
        DateError::Unexpected { input: String::new(), found: found.into() }
    }

    pub(super) fn out_of_range(field: &'static str, value: i64, min: i64, max: i64) -> DateError {
        DateError::OutOfRange { input: String::new(), field, value, min, max }
    }

    pub(super) fn bare(make: fn(String) -> DateError) -> DateError {
        make(String::new())
    }
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", s.get(..cut).unwrap_or(s)),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_quotes_the_input_and_says_what_is_wrong() {
        let e = DateError::bare(|input| DateError::NoMonth { input }).with_input("الاثنين 12");
        assert_eq!(e.to_string(), "cannot read date \"الاثنين 12\": no month name or number found");
    }

    #[test]
    fn hidden_marks_are_visible_in_the_message() {
        let e = DateError::unexpected("word \"x\"").with_input("\u{200F}x");
        assert_eq!(e.to_string(), "cannot read date \"\\u{200f}x\": unexpected word \"x\"");
    }

    #[test]
    fn very_long_inputs_are_shortened_in_the_message() {
        let long = "ب".repeat(1000);
        let e = DateError::bare(|input| DateError::Empty { input }).with_input(&long);
        let DateError::Empty { input } = e else {
            panic!("variant changed");
        };
        assert_eq!(input.chars().count(), MAX_QUOTED_CHARS + 1);
        assert!(input.ends_with('…'));
    }
}
