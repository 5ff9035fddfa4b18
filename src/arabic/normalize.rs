//! Text folding for Arabic: `normalize` gives the *matching* form (used to compare a
//! keyword with a word of an article), `strip_marks` gives a *display-safe* clean-up
//! (used for slugs and headings). Both are pure string functions: no I/O, no
//! allocation beyond the returned string, and no panics on any input. `normalize` is
//! lossy on purpose and must never be shown to readers; `strip_marks` must never change
//! which letters a reader sees.

use unicode_normalization::{UnicodeNormalization, is_nfc, is_nfkc};

/// ARABIC TATWEEL: a stretching glyph used for justification, carries no meaning.
pub(crate) const TATWEEL: char = '\u{0640}';

/// Harakat (short vowels, tanween, shadda, sukun, hamza/madda combining marks) and the
/// superscript alef. Writers add them inconsistently, so they must not affect matching.
pub(crate) fn is_harakah(c: char) -> bool {
    matches!(c, '\u{064B}'..='\u{065F}' | '\u{0670}')
}

/// Invisible formatting characters that CMSs and copy-paste leave in Arabic text
/// (bidi marks around numbers, zero-width joiners, soft hyphens). They change nothing a
/// reader sees, so two strings that differ only by them must compare equal.
pub(crate) fn is_invisible_control(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'
            | '\u{2066}'..='\u{2069}'
            | '\u{061C}'
            | '\u{FEFF}'
            | '\u{00AD}'
    )
}

fn is_dropped(c: char) -> bool {
    c == TATWEEL || is_harakah(c) || is_invisible_control(c)
}

/// Letter and digit folds of the matching form. Spelling of hamza seats, final yeh/teh
/// marbuta and Persian look-alikes varies between outlets for the same word.
fn fold_char(c: char) -> char {
    match c {
        '\u{0623}' | '\u{0625}' | '\u{0622}' | '\u{0671}' => '\u{0627}',
        '\u{0649}' | '\u{06CC}' => '\u{064A}',
        '\u{0629}' => '\u{0647}',
        '\u{06A9}' => '\u{0643}',
        '\u{0660}'..='\u{0669}' => ascii_digit(c, '\u{0660}'),
        '\u{06F0}'..='\u{06F9}' => ascii_digit(c, '\u{06F0}'),
        _ => c,
    }
}

fn ascii_digit(c: char, zero: char) -> char {
    let offset = u32::from(c).saturating_sub(u32::from(zero));
    char::from_digit(offset, 10).unwrap_or(c)
}

fn fold_pass(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkc() {
        if is_dropped(c) {
            continue;
        }
        out.extend(fold_char(c).to_lowercase());
    }
    out
}

/// The matching form of `s`: NFKC, no harakat/tatweel/invisible controls, hamza seats
/// and alef wasla folded to bare alef, ى→ي, ة→ه, Persian ی/ک → ي/ك, Arabic-Indic and
/// Persian digits → ASCII, Unicode lowercase. Idempotent.
#[must_use]
pub fn normalize(s: &str) -> String {
    let mut out = fold_pass(s);
    // Dropping a joiner or lowercasing can leave a sequence NFKC would recompose; a
    // further pass settles it. Real text never needs more than one extra pass, the bound
    // only guards against pathological input.
    for _ in 0..4 {
        if is_nfkc(&out) {
            break;
        }
        out = fold_pass(&out);
    }
    out
}

/// Display-safe clean-up for slugs and headings: removes harakat, tatweel and invisible
/// controls, keeps every letter as written (no hamza, ة or ى folding, no case change).
/// Canonical composition (NFC) is applied first so that a decomposed آ or أ keeps its
/// madda/hamza instead of losing it with the harakat.
#[must_use]
pub fn strip_marks(s: &str) -> String {
    let pass = |s: &str| s.nfc().filter(|c| !is_dropped(*c)).collect::<String>();
    let mut out = pass(s);
    for _ in 0..4 {
        if is_nfc(&out) {
            break;
        }
        out = pass(&out);
    }
    out
}

/// True for letters of the Arabic script (any block), false for marks, tatweel, digits
/// and punctuation even when they live in the Arabic blocks.
#[must_use]
pub fn is_arabic_letter(c: char) -> bool {
    let in_arabic_block = matches!(
        c,
        '\u{0620}'..='\u{063F}'
            | '\u{0641}'..='\u{064A}'
            | '\u{066E}'..='\u{066F}'
            | '\u{0671}'..='\u{06D3}'
            | '\u{06D5}'
            | '\u{06EE}'..='\u{06EF}'
            | '\u{06FA}'..='\u{06FC}'
            | '\u{06FF}'
            | '\u{0750}'..='\u{077F}'
            | '\u{0870}'..='\u{0887}'
            | '\u{0889}'..='\u{088E}'
            | '\u{08A0}'..='\u{08C8}'
            | '\u{FB50}'..='\u{FDFF}'
            | '\u{FE80}'..='\u{FEFC}'
    );
    in_arabic_block && c.is_alphabetic()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture_rows(path: &str) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn lucene_normalization_vectors_all_hold() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lucene-arabic/normalization.tsv");
        let rows = fixture_rows(path);
        assert_eq!(rows.len(), 14, "fixture {path} should have 14 rows");
        for row in rows {
            let [name, input, expected] = row.as_slice() else {
                panic!("bad row {row:?}");
            };
            assert_eq!(normalize(input), *expected, "{name}");
        }
    }

    #[test]
    fn hamza_seats_and_alef_wasla_fold_to_bare_alef() {
        assert_eq!(normalize("أإآٱ"), "اااا");
        assert_eq!(normalize("أمريكا"), normalize("امريكا"));
    }

    #[test]
    fn final_yeh_teh_marbuta_and_persian_letters_fold() {
        assert_eq!(normalize("مستشفى"), "مستشفي");
        assert_eq!(normalize("الدولة"), "الدوله");
        assert_eq!(normalize("ایران کرد"), "ايران كرد");
    }

    #[test]
    fn arabic_indic_and_persian_digits_become_ascii() {
        assert_eq!(normalize("٠١٢٣٤٥٦٧٨٩"), "0123456789");
        assert_eq!(normalize("۰۱۲۳۴۵۶۷۸۹"), "0123456789");
    }

    #[test]
    fn invisible_controls_tatweel_and_harakat_disappear() {
        let noisy = "\u{200F}العـــراقِ\u{200E}\u{061C}\u{FEFF}\u{00AD}\u{202B}x\u{202C}\u{2067}y\u{2069}";
        assert_eq!(normalize(noisy), "العراقxy");
        assert_eq!(normalize("مُحَمَّدٌ"), "محمد");
        assert_eq!(normalize("هٰذا"), "هذا");
    }

    #[test]
    fn presentation_forms_fold_through_nfkc() {
        // ﻻ is the isolated lam-alef ligature, ﺍﻟﻌﺮﺍﻕ the presentation-form spelling.
        assert_eq!(normalize("\u{FEFB}"), "لا");
        assert_eq!(normalize("ﺍﻟﻌﺮﺍﻕ"), "العراق");
    }

    #[test]
    fn decomposed_hamza_matches_precomposed() {
        assert_eq!(normalize("\u{0627}\u{0654}\u{0645}\u{0631}"), normalize("أمر"));
    }

    #[test]
    fn latin_is_lowercased() {
        assert_eq!(normalize("ISIS CTEF Ünïcode"), "isis ctef ünïcode");
    }

    #[test]
    fn normalize_is_a_fixed_point_on_tricky_joiner_sequences() {
        let once = normalize("e\u{200D}\u{0301}");
        assert_eq!(once, "é");
        assert_eq!(normalize(&once), once);
    }

    #[test]
    fn strip_marks_keeps_letters_as_written() {
        assert_eq!(strip_marks("الدَّوْلَةُ الإِسْلَامِيَّةُ"), "الدولة الإسلامية");
        assert_eq!(strip_marks("العـــراق\u{200F}"), "العراق");
        assert_eq!(strip_marks("مستشفى"), "مستشفى");
        assert_eq!(strip_marks("ISIS"), "ISIS");
    }

    #[test]
    fn strip_marks_keeps_the_madda_of_a_decomposed_alef() {
        assert_eq!(strip_marks("\u{0627}\u{0653}\u{0630}\u{0627}\u{0631}"), "آذار");
    }

    #[test]
    fn arabic_letters_are_told_apart_from_marks_digits_and_punctuation() {
        for c in ['ا', 'ب', 'ة', 'ى', 'أ', 'ی', 'ک', 'ﻻ'] {
            assert!(is_arabic_letter(c), "{c}");
        }
        for c in ['\u{064E}', TATWEEL, '٣', '،', '؟', 'a', ' ', '\u{0670}'] {
            assert!(!is_arabic_letter(c), "{c:?}");
        }
    }
}
