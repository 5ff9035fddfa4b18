//! The streaming pass of the matcher: words are read off the text one by one, normalised into
//! a reused buffer (a fast path for the letters news text is made of, `normalize` for the rest),
//! and each proclitic reading of a word is one look-up in the matcher's index. Phrases under
//! way are carried from word to word, and from one piece of the text to the next.

use super::{Kind, Match, Matcher};
use crate::arabic::normalize::{TATWEEL, is_harakah, is_invisible_control, normalize};
use crate::arabic::tokens::{is_word_char, tokens, word_end};

/// What `fast_word` does with a character of U+0600–U+067F: read it as the character given
/// (its matching form), drop it (tatweel, harakat), end the word (Arabic punctuation), or leave
/// the word to the general path (the hamza marks that compose, and everything else).
const GENERAL: u16 = 0;
const DROP: u16 = 1;
const SEP: u16 = 2;

const fn arabic_action(cp: u32) -> u16 {
    match cp {
        0x0622 | 0x0623 | 0x0625 | 0x0671 => 0x0627,
        0x0649 => 0x064A,
        0x0629 => 0x0647,
        0x0621..=0x063F | 0x0641..=0x064A => cp as u16,
        0x0640 | 0x064B..=0x0652 | 0x0656..=0x065F | 0x0670 => DROP,
        0x0660..=0x0669 => (cp - 0x0660 + 0x30) as u16,
        0x060C | 0x061B | 0x061F | 0x066A..=0x066D => SEP,
        _ => GENERAL,
    }
}

static ARABIC: [u16; 128] = {
    let mut table = [GENERAL; 128];
    let mut i = 0;
    while i < 128 {
        table[i] = arabic_action(0x0600 + i as u32);
        i += 1;
    }
    table
};

/// Conjunctions, then prepositions, then the article: the proclitics of `clitics::readings`,
/// as their UTF-8 bytes (compared as fixed-size arrays: a `strip_prefix` of a `&str` calls
/// `memcmp`, which cost more than all the rest of the pass).
const CONJUNCTIONS: [&[u8]; 3] = [b"", "و".as_bytes(), "ف".as_bytes()];
const PREPOSITIONS: [&[u8]; 4] = [b"", "ب".as_bytes(), "ك".as_bytes(), "ل".as_bytes()];
const ARTICLE: [u8; 4] = *b"\xD8\xA7\xD9\x84";
const LAM_ARTICLE: [u8; 4] = *b"\xD9\x84\xD9\x84";

/// `s` without the one-letter (two-byte) or empty proclitic `p`.
fn strip<'a>(s: &'a str, p: &[u8]) -> Option<&'a str> {
    match p {
        [] => Some(s),
        [a, b] => (s.as_bytes().first_chunk::<2>() == Some(&[*a, *b])).then(|| s.get(2..)).flatten(),
        _ => None,
    }
}

/// `s` without the two-letter prefix `p` (ال or لل).
fn strip4<'a>(s: &'a str, p: &[u8; 4]) -> Option<&'a str> {
    (s.as_bytes().first_chunk::<4>() == Some(p)).then(|| s.get(4..)).flatten()
}

/// A streaming match over a text given in pieces: `feed` each piece in order. A piece must end
/// between words (at a line break, say); a phrase may run on into the next piece.
#[derive(Debug)]
pub struct Scan<'m> {
    matcher: &'m Matcher,
    /// The current word, normalised.
    word: String,
    /// Scratch space for the readings that put the article back (لل → ال).
    alt: String,
    /// Phrases whose first words were read: (phrase, words of `rest` matched, start).
    pending: Vec<(u32, usize, usize)>,
    kept: Vec<(u32, usize, usize)>,
}

impl<'m> Scan<'m> {
    pub(super) fn new(matcher: &'m Matcher) -> Self {
        Scan { matcher, word: String::new(), alt: String::new(), pending: Vec::new(), kept: Vec::new() }
    }

    /// Where the oldest phrase still under way began (a match may yet come from there).
    #[must_use]
    pub fn pending_since(&self) -> Option<usize> {
        self.pending.iter().map(|p| p.2).min()
    }

    /// Reads the next piece of the text, whose first byte is at `offset` in the whole text;
    /// calls `found` for every match, as it completes (a phrase after its last word).
    ///
    /// Words are cut as `tokens` cuts them and normalised as `normalize` does: most words are
    /// read byte by byte off a table of the Arabic block and ASCII (`fast_word`); a word with
    /// any other character is cut by `tokens` and folded by `fold_word`.
    pub fn feed(&mut self, piece: &str, offset: usize, mut found: impl FnMut(Match)) {
        let bytes = piece.as_bytes();
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if b < 0x80 && !b.is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let (end, ta_marbuta) = match self.fast_word(bytes, i) {
                Some(read) => read,
                None => {
                    let Some(c) = piece.get(i..).and_then(|rest| rest.chars().next()) else { break };
                    if !is_word_char(c) {
                        i += c.len_utf8();
                        continue;
                    }
                    let end = word_end(piece, i);
                    (end, fold_word(piece.get(i..end).unwrap_or_default(), &mut self.word))
                }
            };
            if !self.word.is_empty() {
                self.word_read(offset + i, offset + end, ta_marbuta, &mut found);
            }
            // A lone tatweel or haraka normalises to nothing: transparent, it neither matches
            // nor breaks a phrase.
            i = end.max(i + 1);
        }
    }

    /// Reads the word at `start` into `self.word` if every character of it is ASCII or in the
    /// table of the Arabic block; returns its end and whether it ends with ة, or `None` when it
    /// needs the general path (nothing is read then).
    fn fast_word(&mut self, bytes: &[u8], start: usize) -> Option<(usize, bool)> {
        // Built as bytes (two-byte pushes compile to stores; `String::push` encodes each
        // character), checked as UTF-8 once at the end.
        let mut word = std::mem::take(&mut self.word).into_bytes();
        word.clear();
        let mut j = start;
        let mut ta_marbuta = false;
        let mut general = false;
        while let Some(&b) = bytes.get(j) {
            if b < 0x80 {
                if !b.is_ascii_alphanumeric() {
                    break;
                }
                word.push(b.to_ascii_lowercase());
                ta_marbuta = false;
                j += 1;
                continue;
            }
            let second = bytes.get(j + 1).copied().unwrap_or_default();
            let act = match b {
                0xD8 | 0xD9 => ARABIC.get(usize::from(((b & 0x01) << 6) | (second & 0x3F))).copied().unwrap_or(GENERAL),
                0xC2 if matches!(second, 0xA0 | 0xAB | 0xBB) => SEP,
                _ => GENERAL,
            };
            match act {
                GENERAL => {
                    general = true;
                    break;
                }
                SEP => break,
                DROP => {}
                folded if folded < 0x80 => word.push(folded as u8),
                folded => {
                    // U+0600–U+067F in UTF-8: 110xxxxx 10xxxxxx.
                    word.extend_from_slice(&[0xC0 | (folded >> 6) as u8, 0x80 | (folded & 0x3F) as u8]);
                    ta_marbuta = b == 0xD8 && second == 0xA9;
                }
            }
            j += 2;
        }
        self.word = String::from_utf8(word).unwrap_or_default();
        (!general && j > start).then_some((j, ta_marbuta))
    }

    /// Matches the word just read (in `self.word`, at `start..end`).
    fn word_read(&mut self, start: usize, end: usize, ta_marbuta: bool, found: &mut impl FnMut(Match)) {
        let m = self.matcher;
        self.follow_phrases(end, found);
        let (word, alt, pending) = (&self.word, &mut self.alt, &mut self.pending);
        readings(word, alt, |stem, after_article| {
            if !m.may_hold(stem) {
                return;
            }
            let Some(entry) = m.index.get(stem) else { return };
            for hit in &entry.hits {
                let keyword = hit.keyword as usize;
                let proper = after_article && m.proper.get(keyword).copied().unwrap_or(false);
                let fits = match hit.kind {
                    Kind::Word => !proper,
                    Kind::Suffix => true,
                    Kind::PronounH => !ta_marbuta,
                };
                if fits {
                    found(Match { keyword, start, end });
                }
            }
            for &p in &entry.phrases {
                let proper = after_article
                    && m.phrases.get(p as usize).is_some_and(|p| m.proper.get(p.keyword as usize) == Some(&true));
                if !proper {
                    pending.push((p, 0, start));
                }
            }
        });
    }

    /// Moves the phrases under way on by the current word: those it continues stay (or are
    /// found, when it is their last word), the others are dropped.
    fn follow_phrases(&mut self, end: usize, found: &mut impl FnMut(Match)) {
        if self.pending.is_empty() {
            return;
        }
        self.kept.clear();
        for &(p, matched, start) in &self.pending {
            let Some(phrase) = self.matcher.phrases.get(p as usize) else { continue };
            if phrase.rest.get(matched).is_some_and(|w| **w == *self.word) {
                if matched + 1 == phrase.rest.len() {
                    found(Match { keyword: phrase.keyword as usize, start, end });
                } else {
                    self.kept.push((p, matched + 1, start));
                }
            }
        }
        std::mem::swap(&mut self.pending, &mut self.kept);
    }
}

/// Calls `f` with each word of `text` normalised (words that normalise to nothing are left out).
pub(super) fn normalised_words(text: &str, mut f: impl FnMut(&str)) {
    let mut word = String::new();
    for t in tokens(text) {
        fold_word(t.text, &mut word);
        if !word.is_empty() {
            f(&word);
        }
    }
}

/// Puts the matching form of the word `text` (as `normalize` gives it) in `out`; returns whether
/// the word as written ends with ة (so that a final ه is not a pronoun).
fn fold_word(text: &str, out: &mut String) -> bool {
    out.clear();
    let ta_marbuta = text.chars().rev().find(|c| !is_harakah(*c) && *c != TATWEEL) == Some('ة');
    for c in text.chars() {
        let folded = match c {
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            // The hamza marks that compose with the letter before them: NFKC's business.
            '\u{0653}'..='\u{0655}' => return slow(text, out, ta_marbuta),
            _ if is_harakah(c) || c == TATWEEL || is_invisible_control(c) => continue,
            '\u{0623}' | '\u{0625}' | '\u{0622}' | '\u{0671}' => 'ا',
            '\u{0649}' | '\u{06CC}' => 'ي',
            'ة' => 'ه',
            '\u{06A9}' => 'ك',
            '\u{0621}'..='\u{063A}' | '\u{0641}'..='\u{064A}' => c,
            '\u{0660}'..='\u{0669}' => digit(c, '\u{0660}'),
            '\u{06F0}'..='\u{06F9}' => digit(c, '\u{06F0}'),
            _ => return slow(text, out, ta_marbuta),
        };
        out.push(folded);
    }
    ta_marbuta
}

fn slow(text: &str, out: &mut String, ta_marbuta: bool) -> bool {
    out.clear();
    out.push_str(&normalize(text));
    ta_marbuta
}

fn digit(c: char, zero: char) -> char {
    char::from_digit(u32::from(c).saturating_sub(u32::from(zero)), 10).unwrap_or(c)
}

/// Calls `f(stem, after_article)` for every reading of the normalised word `word` as
/// (و|ف)? (ب|ك|ل)? (ال)? + stem, and the لل contraction — the readings of
/// `clitics::readings`, in the same order, without allocating (the readings that put the
/// article back are built in `alt`). `after_article` tells that an article was taken off.
fn readings(word: &str, alt: &mut String, mut f: impl FnMut(&str, bool)) {
    f(word, false);
    for conj in CONJUNCTIONS {
        let Some(after_conj) = strip(word, conj) else { continue };
        for prep in PREPOSITIONS {
            let Some(after_prep) = strip(after_conj, prep) else { continue };
            if !conj.is_empty() || !prep.is_empty() {
                stem(after_prep, false, &mut f);
            }
            if let Some(bare) = strip4(after_prep, &ARTICLE) {
                stem(bare, true, &mut f);
            }
        }
        if let Some(bare) = strip4(after_conj, &LAM_ARTICLE) {
            if two_chars(bare) {
                for restored in ["ال", "الل"] {
                    alt.clear();
                    alt.push_str(restored);
                    alt.push_str(bare);
                    f(alt, false);
                }
            }
            stem(bare, true, &mut f);
        }
    }
}

/// A stripped reading, if it keeps two letters.
fn stem(s: &str, after_article: bool, f: &mut impl FnMut(&str, bool)) {
    if two_chars(s) {
        f(s, after_article);
    }
}

fn two_chars(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some() && chars.next().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arabic::clitics::proclitic_stems;

    fn all_readings(word: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        readings(word, &mut String::new(), |s, _| {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        });
        out
    }

    #[test]
    fn readings_are_those_of_the_clitics_module() {
        for w in ["والعراق", "للعراق", "وللاجئين", "فبالعراق", "لله", "وال", "بب", "x", "وisis", "الل", "ولل"]
        {
            let word = normalize(w);
            let mut ours = all_readings(&word);
            let mut theirs = proclitic_stems(&word);
            ours.sort();
            theirs.sort();
            assert_eq!(ours, theirs, "{w}");
        }
    }

    #[test]
    fn the_article_is_flagged_when_taken_off() {
        let mut flagged = Vec::new();
        readings(&normalize("وللقطر"), &mut String::new(), |s, a| {
            if a {
                flagged.push(s.to_owned());
            }
        });
        assert_eq!(flagged, ["قطر"]);
        let mut flagged = Vec::new();
        readings(&normalize("بالقطر"), &mut String::new(), |s, a| flagged.push((s.to_owned(), a)));
        assert!(flagged.contains(&("قطر".to_owned(), true)) && flagged.contains(&("القطر".to_owned(), false)));
    }

    #[test]
    fn the_fast_fold_is_normalize() {
        let mut out = String::new();
        for w in [
            "العِـــراقُ",
            "أإآٱ",
            "مستشفى",
            "الدولة",
            "ایران",
            "کرد",
            "٠١٢٣٤٥٦٧٨٩",
            "۰۱۲۳",
            "ISIS",
            "Ünïcode",
            "\u{0627}\u{0654}\u{0645}\u{0631}",
            "\u{0648}\u{0654}",
            "ﺍﻟﻌﺮﺍﻕ",
            "\u{FEFB}",
            "الع\u{200F}راق",
            "e\u{200D}\u{0301}",
            "هٰذا",
            "ﷺ",
        ] {
            fold_word(w, &mut out);
            assert_eq!(out, normalize(w), "{w}");
        }
    }
}
