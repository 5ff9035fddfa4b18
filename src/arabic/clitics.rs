//! Readings of an Arabic word as proclitics + stem, so that «والعراق» or «للعراق» can be
//! found with the keyword «العراق». It only peels PREFIXES that Arabic writes joined to
//! the next word (و ف, then ب ك ل, then ال, and the لل contraction); it must never strip
//! suffixes or guess roots — «مصرف» (bank) has to stay «مصرف», never «مصر» (Egypt).
//! Input is expected to be normalised already (see `normalize`).

use std::borrow::Cow;

const CONJUNCTIONS: [&str; 3] = ["", "و", "ف"];
const PREPOSITIONS: [&str; 4] = ["", "ب", "ك", "ل"];
const ARTICLE: &str = "ال";
/// ل + ال is written لل (the alef of the article drops): «للعراق» = ل + العراق.
const LAM_ARTICLE: &str = "لل";
/// Stripping below two letters yields fragments that collide with unrelated words.
const MIN_STEM_CHARS: usize = 2;

/// Every reading of `token` as (و|ف)? (ب|ك|ل)? (ال)? + stem, plus the لل contraction,
/// starting with `token` itself. Stripped readings shorter than two letters are left
/// out; duplicates are removed.
#[must_use]
pub fn proclitic_stems(token: &str) -> Vec<String> {
    readings(token).into_iter().map(Cow::into_owned).collect()
}

/// Borrowing version of [`proclitic_stems`]; only the لل reading needs a new string.
pub(crate) fn readings(token: &str) -> Vec<Cow<'_, str>> {
    let mut out: Vec<Cow<'_, str>> = vec![Cow::Borrowed(token)];
    for conj in CONJUNCTIONS {
        let Some(after_conj) = token.strip_prefix(conj) else {
            continue;
        };
        for prep in PREPOSITIONS {
            let Some(after_prep) = after_conj.strip_prefix(prep) else {
                continue;
            };
            push(&mut out, Cow::Borrowed(after_prep));
            if let Some(bare) = after_prep.strip_prefix(ARTICLE) {
                push(&mut out, Cow::Borrowed(bare));
            }
        }
        if let Some(bare) = after_conj.strip_prefix(LAM_ARTICLE) {
            // A one-letter remainder would make «ال»+x, i.e. a stem like «اله» out of
            // «لله»; the bare remainder itself is subject to the same minimum.
            if bare.chars().count() >= MIN_STEM_CHARS {
                push(&mut out, Cow::Owned(format!("{ARTICLE}{bare}")));
                // A word that itself starts with ل keeps one ل for both: «للاجئين» is
                // ل + اللاجئين.
                push(&mut out, Cow::Owned(format!("{ARTICLE}ل{bare}")));
            }
            push(&mut out, Cow::Borrowed(bare));
        }
    }
    out
}

fn push<'a>(out: &mut Vec<Cow<'a, str>>, stem: Cow<'a, str>) {
    if stem.chars().count() >= MIN_STEM_CHARS && !out.contains(&stem) {
        out.push(stem);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arabic::normalize::normalize;

    fn stems(word: &str) -> Vec<String> {
        proclitic_stems(&normalize(word))
    }

    #[test]
    fn the_token_itself_comes_first() {
        assert_eq!(stems("مصر").first().map(String::as_str), Some("مصر"));
        assert_eq!(proclitic_stems("x"), ["x"]);
    }

    #[test]
    fn conjunction_and_article_are_peeled() {
        let s = stems("والعراق");
        assert!(s.contains(&"العراق".to_owned()), "{s:?}");
        assert!(s.contains(&"عراق".to_owned()), "{s:?}");
    }

    #[test]
    fn preposition_alone_is_peeled() {
        assert!(stems("لداعش").contains(&"داعش".to_owned()));
        assert!(stems("كداعش").contains(&"داعش".to_owned()));
    }

    #[test]
    fn preposition_and_article_are_peeled() {
        let s = stems("بالعراق");
        assert!(s.contains(&"العراق".to_owned()), "{s:?}");
        assert!(s.contains(&"عراق".to_owned()), "{s:?}");
    }

    #[test]
    fn full_chain_is_peeled() {
        for w in ["وبالعراق", "فبالعراق", "وكالعراق", "فالعراق"] {
            let s = stems(w);
            assert!(s.contains(&"العراق".to_owned()), "{w}: {s:?}");
            assert!(s.contains(&"عراق".to_owned()), "{w}: {s:?}");
        }
    }

    #[test]
    fn lam_article_contraction_restores_the_article() {
        for w in ["للعراق", "وللعراق", "فللعراق"] {
            let s = stems(w);
            assert!(s.contains(&"العراق".to_owned()), "{w}: {s:?}");
            assert!(s.contains(&"عراق".to_owned()), "{w}: {s:?}");
        }
    }

    #[test]
    fn a_word_starting_with_lam_is_still_read_with_a_single_lam() {
        assert!(stems("للبنان").contains(&"لبنان".to_owned()));
    }

    #[test]
    fn suffixes_are_never_stripped() {
        for w in ["مصرف", "المصرف", "والمصرف", "مصري", "عراقيل"] {
            let s = stems(w);
            assert!(!s.contains(&"مصر".to_owned()), "{w}: {s:?}");
            assert!(!s.contains(&"عراق".to_owned()), "{w}: {s:?}");
        }
    }

    #[test]
    fn no_stripped_stem_is_shorter_than_two_letters() {
        for w in ["وال", "لله", "بب", "فلل", "ولا", "وبالب"] {
            for s in stems(w).iter().skip(1) {
                assert!(s.chars().count() >= 2, "{w}: {s:?}");
            }
        }
    }

    #[test]
    fn readings_are_distinct() {
        let s = stems("وللعراق");
        let mut sorted = s.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), s.len(), "{s:?}");
    }

    #[test]
    fn latin_tokens_only_read_as_themselves() {
        assert_eq!(proclitic_stems("isis"), ["isis"]);
        assert!(proclitic_stems("وisis").contains(&"isis".to_owned()));
    }
}
