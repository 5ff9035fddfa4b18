//! A keyword as the operator or subscriber wrote it, parsed once into its three faces: the display
//! name (kept as written, whitespace tidied), the Arabic matching form that identifies it, and the
//! slug that names its feed URL.

use std::fmt;

use unicode_segmentation::UnicodeSegmentation;

use crate::arabic;

/// The longest keyword accepted, in graphemes.
pub const MAX_GRAPHEMES: usize = 60;

/// The longest slug, in bytes: it names files (255 bytes at most on common file systems, with
/// room for the extension and a temporary suffix).
const MAX_SLUG_BYTES: usize = 180;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeywordName {
    display: String,
    normalized: String,
    slug: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeywordError {
    #[error("keyword {0:?} is empty")]
    Empty(String),
    #[error("keyword {0:?} is longer than {MAX_GRAPHEMES} characters")]
    TooLong(String),
    #[error("keyword {0:?} has no letters or digits")]
    NoWord(String),
}

impl KeywordName {
    pub fn parse(input: &str) -> Result<Self, KeywordError> {
        let display = input.split_whitespace().collect::<Vec<_>>().join(" ");
        if display.is_empty() {
            return Err(KeywordError::Empty(input.to_owned()));
        }
        if display.graphemes(true).count() > MAX_GRAPHEMES {
            return Err(KeywordError::TooLong(display));
        }
        let normalized = arabic::tokens(&display)
            .map(|t| arabic::normalize(t.text))
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let stripped = arabic::strip_marks(&display);
        let slug = arabic::tokens(&stripped)
            .map(|t| t.text.to_lowercase())
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let slug = truncate_at_char(slug, MAX_SLUG_BYTES);
        if normalized.is_empty() || slug.is_empty() {
            return Err(KeywordError::NoWord(display));
        }
        Ok(Self { display, normalized, slug })
    }

    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The matching form: one keyword whatever its spelling (hamza, ة/ه, ى/ي, harakat, tatweel).
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    /// The feed URL name: the words as written, without harakat or punctuation, joined by '-'.
    pub fn slug(&self) -> &str {
        &self.slug
    }
}

fn truncate_at_char(mut s: String, max_bytes: usize) -> String {
    if s.len() > max_bytes {
        let cut = (0..=max_bytes).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        s.truncate(cut);
        s.truncate(s.trim_end_matches('-').len());
    }
    s
}

impl fmt::Display for KeywordName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_keyword_share_their_matching_form() {
        let a = KeywordName::parse("الإرهاب").unwrap();
        let b = KeywordName::parse("  الارهاب ").unwrap();
        let c = KeywordName::parse("الإرهـــاب").unwrap();
        assert_eq!(a.normalized(), b.normalized());
        assert_eq!(a.normalized(), c.normalized());
        assert_eq!(b.as_str(), "الارهاب");
    }

    #[test]
    fn slugs_keep_the_letters_and_join_words() {
        let k = KeywordName::parse("التحالف  الدولي").unwrap();
        assert_eq!(k.as_str(), "التحالف الدولي");
        assert_eq!(k.slug(), "التحالف-الدولي");
        assert_eq!(KeywordName::parse("العِراق").unwrap().slug(), "العراق");
        assert_eq!(KeywordName::parse("ISIS").unwrap().slug(), "isis");
        assert_eq!(KeywordName::parse("a/b.c").unwrap().slug(), "a-b-c");
    }

    #[test]
    fn slugs_stay_short_enough_for_a_file_name() {
        // 60 graphemes, each a letter with many combining marks that are not harakat.
        let heavy = "a\u{0301}\u{0302}\u{0303}\u{0304}".repeat(60);
        let k = KeywordName::parse(&heavy).unwrap();
        assert!(k.slug().len() <= MAX_SLUG_BYTES, "{}", k.slug().len());
    }

    #[test]
    fn empty_long_and_wordless_keywords_are_refused() {
        assert!(matches!(KeywordName::parse("  "), Err(KeywordError::Empty(_))));
        assert!(matches!(KeywordName::parse("«»،"), Err(KeywordError::NoWord(_))));
        assert!(matches!(KeywordName::parse(&"ب".repeat(61)), Err(KeywordError::TooLong(_))));
    }
}
