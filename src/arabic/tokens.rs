//! Word segmentation for Arabic (and mixed Latin) text. It yields byte ranges into the
//! ORIGINAL string so a match can be highlighted or quoted exactly as published; it must
//! not normalise, allocate per token, or lose track of offsets — callers normalise each
//! token afterwards.

use unicode_normalization::char::is_combining_mark;

use super::normalize::{TATWEEL, is_invisible_control};

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
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' => true,
        '\0'..='\x7f' => false,
        // Arabic letters, tatweel and harakat: the bulk of the text, answered without tables.
        '\u{0621}'..='\u{065F}' => true,
        _ => c.is_alphanumeric() || is_combining_mark(c) || matches!(c, TATWEEL | ZWJ | ZWNJ),
    }
}

/// Maximal runs of word characters of `s`, in order. Invisible format characters (bidi marks,
/// zero-width spaces, soft hyphens) between two word characters stay inside the word — a
/// right-to-left mark pasted into «العراق» does not split it —, while at a word's edge they
/// separate, as any other non-word character.
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
        let end = word_end(self.s, start);
        self.pos = end;
        Some(Token { start, end, text: self.s.get(start..end)? })
    }
}

/// Where the word starting at `start` ends: after its last word character, format characters
/// inside it included.
pub(crate) fn word_end(s: &str, start: usize) -> usize {
    let rest = s.get(start..).unwrap_or_default();
    let mut end = 0;
    let mut chars = rest.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_word_char(c) {
            end = i + c.len_utf8();
            continue;
        }
        if !is_invisible_control(c) {
            break;
        }
        // A run of format characters: part of the word only if a word character follows it.
        while chars.next_if(|(_, c)| is_invisible_control(*c)).is_some() {}
        if !chars.peek().is_some_and(|(_, c)| is_word_char(*c)) {
            break;
        }
    }
    start + end
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
    fn the_fast_paths_answer_as_the_unicode_tables() {
        let slow = |c: char| c.is_alphanumeric() || is_combining_mark(c) || matches!(c, TATWEEL | ZWJ | ZWNJ);
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(is_word_char(c), slow(c), "{c:?}");
        }
    }

    #[test]
    fn format_characters_inside_a_word_keep_it_whole() {
        assert_eq!(texts("الع\u{200F}راق ab\u{200E}\u{200B}cd"), ["الع\u{200F}راق", "ab\u{200E}\u{200B}cd"]);
        assert_eq!(texts("e\u{00AD}mail"), ["e\u{00AD}mail"]);
    }

    #[test]
    fn format_characters_at_a_word_edge_separate_it() {
        assert_eq!(texts("12\u{200F}/04"), ["12", "04"]);
        assert_eq!(texts("\u{200F}ab\u{200F} \u{200F}cd\u{200F}"), ["ab", "cd"]);
        assert_eq!(texts("ab\u{200F}"), ["ab"]);
    }
}
