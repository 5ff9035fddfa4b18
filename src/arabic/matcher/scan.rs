//! The streaming pass of the matcher: words are read off the text one by one, normalised into
//! a reused buffer (a fast path for the letters news text is made of, `normalize` for the rest),
//! and each proclitic reading of a word is one look-up in the matcher's index. Phrases under
//! way are carried from word to word, and from one piece of the text to the next.

use super::{Kind, Match, Matcher};
use crate::arabic::normalize::{TATWEEL, is_harakah, is_invisible_control, normalize};
use crate::arabic::tokens::tokens;

/// Conjunctions, then prepositions, then the article: the proclitics of `clitics::readings`.
const CONJUNCTIONS: [&str; 3] = ["", "و", "ف"];
const PREPOSITIONS: [&str; 4] = ["", "ب", "ك", "ل"];
const ARTICLE: &str = "ال";
const LAM_ARTICLE: &str = "لل";

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

    /// Reads the next piece of the text, whose first byte is at `offset` in the whole text;
    /// calls `found` for every match, as it completes (a phrase after its last word).
    pub fn feed(&mut self, piece: &str, offset: usize, mut found: impl FnMut(Match)) {
        let m = self.matcher;
        for t in tokens(piece) {
            let ta_marbuta = fold_word(t.text, &mut self.word);
            if self.word.is_empty() {
                // A lone tatweel or haraka: transparent, it neither matches nor breaks a phrase.
                continue;
            }
            let (start, end) = (offset + t.start, offset + t.end);
            self.follow_phrases(end, &mut found);
            let (word, alt, pending) = (&self.word, &mut self.alt, &mut self.pending);
            readings(word, alt, |stem, after_article| {
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
        let Some(after_conj) = word.strip_prefix(conj) else { continue };
        for prep in PREPOSITIONS {
            let Some(after_prep) = after_conj.strip_prefix(prep) else { continue };
            if !conj.is_empty() || !prep.is_empty() {
                stem(after_prep, false, &mut f);
            }
            if let Some(bare) = after_prep.strip_prefix(ARTICLE) {
                stem(bare, true, &mut f);
            }
        }
        if let Some(bare) = after_conj.strip_prefix(LAM_ARTICLE) {
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
