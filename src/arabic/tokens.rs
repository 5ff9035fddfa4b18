//! Word segmentation for Arabic (and mixed Latin) text. It yields byte ranges into the
//! ORIGINAL string so a match can be highlighted or quoted exactly as published; it must
//! not normalise, allocate per token, or lose track of offsets — callers normalise each
//! token afterwards.

use unicode_normalization::char::is_combining_mark;

use super::normalize::TATWEEL;

const ZWNJ: char = '\u{200C}';
const ZWJ: char = '\u{200D}';

/// One word of a text: `text == &original[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub start: usize,
    pub end: usize,
    pub text: &'a str,
}

/// Letters and digits plus what may sit inside an Arabic word without splitting it:
/// harakat (combining marks), tatweel, and the joiners some keyboards insert.
/// Everything else — Arabic punctuation « » ، ؛ ؟ ٪ ٫ ٬ ۔, Latin punctuation, quotes,
/// dashes, brackets, all whitespace including NBSP — separates words.
#[must_use]
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c) || matches!(c, TATWEEL | ZWJ | ZWNJ)
}

/// Maximal runs of word characters of `s`, in order.
#[must_use]
pub fn tokens(s: &str) -> Tokens<'_> {
    Tokens { s, pos: 0 }
}

/// Iterator returned by [`tokens`].
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let rest = self.s.get(self.pos..)?;
        let (skip, _) = rest.char_indices().find(|(_, c)| is_word_char(*c))?;
        let start = self.pos + skip;
        let word = self.s.get(start..)?;
        let len = word.char_indices().find(|(_, c)| !is_word_char(*c)).map_or(word.len(), |(i, _)| i);
        let end = start + len;
        self.pos = end;
        Some(Token { start, end, text: self.s.get(start..end)? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(s: &str) -> Vec<&str> {
        tokens(s).map(|t| t.text).collect()
    }

    #[test]
    fn arabic_punctuation_separates_words() {
        let s = "«داعش»،العراق؛سوريا؟ 50٪ 3٫5 1٬000 نهاية۔ثم";
        assert_eq!(texts(s), ["داعش", "العراق", "سوريا", "50", "3", "5", "1", "000", "نهاية", "ثم"]);
    }

    #[test]
    fn latin_punctuation_quotes_dashes_brackets_and_nbsp_separate_words() {
        let s = "ISIS—CTEF (\"x\") [y]\u{00A0}z–w 'q' a.b";
        assert_eq!(texts(s), ["ISIS", "CTEF", "x", "y", "z", "w", "q", "a", "b"]);
    }

    #[test]
    fn harakat_tatweel_and_joiners_stay_inside_the_word() {
        let s = "العِـــراقُ مي\u{200C}خواهم x\u{200D}y";
        assert_eq!(texts(s), ["العِـــراقُ", "مي\u{200C}خواهم", "x\u{200D}y"]);
    }

    #[test]
    fn offsets_slice_the_original_string() {
        let s = " \u{200F}وبالعراق، «داعش» ";
        for t in tokens(s) {
            assert_eq!(s.get(t.start..t.end), Some(t.text));
        }
        let first = tokens(s).next();
        assert_eq!(first.map(|t| t.text), Some("وبالعراق"));
    }

    #[test]
    fn empty_and_separator_only_strings_have_no_tokens() {
        assert_eq!(tokens("").count(), 0);
        assert_eq!(tokens(" ،؛«» \u{200F}\u{00A0}").count(), 0);
    }

    #[test]
    fn bidi_marks_split_words() {
        assert_eq!(texts("12\u{200F}/04"), ["12", "04"]);
        assert_eq!(texts("ab\u{200F}cd"), ["ab", "cd"]);
    }
}
