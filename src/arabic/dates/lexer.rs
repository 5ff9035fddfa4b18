//! Splits a NORMALISED date string into numbers, classified words and symbols. It keeps
//! whether whitespace preceded each piece (needed to tell a UTC offset «+0300» from a
//! dash between date and time). It must not interpret the pieces: that is the parsers'
//! job, and an unknown word is kept (as `word: None`) so the parser can name it.

use super::error::DateError;
use super::words::{Meridiem, Word, classify};

/// Nine digits always fit a `u32`; longer digit runs are no date field anyway.
const MAX_DIGITS: usize = 9;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    Num {
        value: u32,
        digits: usize,
    },
    Word {
        word: Option<Word>,
        text: String,
    },
    /// A separator or sign, with dash look-alikes folded to '-' and Arabic comma and
    /// semicolon folded to ',' and ';'.
    Sym(char),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Piece {
    pub kind: Kind,
    /// Whitespace came right before this piece.
    pub spaced: bool,
}

fn symbol(c: char) -> Option<char> {
    match c {
        '-' | '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2212}' => Some('-'),
        '،' | ',' => Some(','),
        '؛' | ';' => Some(';'),
        '/' | '.' | ':' | '+' | '(' | ')' | '[' | ']' | '|' | '·' | '•' => Some(c),
        _ => None,
    }
}

/// Pieces of `norm` (the output of `normalize`).
pub(super) fn lex(norm: &str) -> Result<Vec<Piece>, DateError> {
    let mut out = Vec::new();
    let mut chars = norm.chars().peekable();
    let mut spaced = false;
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            spaced = true;
            chars.next();
            continue;
        }
        let kind = if c.is_ascii_digit() {
            let mut digits = String::new();
            while let Some(d) = chars.next_if(char::is_ascii_digit) {
                digits.push(d);
            }
            let value = match digits.parse::<u32>() {
                Ok(v) if digits.len() <= MAX_DIGITS => v,
                _ => return Err(DateError::unexpected(format!("number {digits}"))),
            };
            Kind::Num { value, digits: digits.len() }
        } else if c.is_alphabetic() {
            let mut text = String::new();
            while let Some(l) = chars.next_if(|l| l.is_alphabetic()) {
                text.push(l);
            }
            Kind::Word { word: classify(&text), text }
        } else if let Some(sym) = symbol(c) {
            chars.next();
            Kind::Sym(sym)
        } else {
            return Err(DateError::unexpected(format!("character {c:?}")));
        };
        out.push(Piece { kind, spaced });
        spaced = false;
    }
    Ok(merge_noon_phrases(out))
}

/// «قبل الظهر» / «بعد الظهر» are a.m. / p.m., not «before» an amount of time: they are
/// merged into one marker so «قبل» can keep meaning «ago» everywhere else.
fn merge_noon_phrases(pieces: Vec<Piece>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::with_capacity(pieces.len());
    for piece in pieces {
        let noon = matches!(&piece.kind, Kind::Word { text, .. } if text == "الظهر" || text == "الظهيره");
        let prev = out.last().and_then(|p| match &p.kind {
            Kind::Word { text, .. } if text == "قبل" => Some(Meridiem::Am),
            Kind::Word { text, .. } if text == "بعد" => Some(Meridiem::Pm),
            _ => None,
        });
        if let (true, Some(m), Some(last)) = (noon, prev, out.last_mut()) {
            last.kind = Kind::Word {
                word: Some(Word::Meridiem(m)),
                text: format!("{} الظهر", if m == Meridiem::Am { "قبل" } else { "بعد" }),
            };
            continue;
        }
        out.push(piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arabic::normalize::normalize;

    fn kinds(s: &str) -> Vec<Kind> {
        lex(&normalize(s)).map(|v| v.into_iter().map(|p| p.kind).collect()).unwrap_or_default()
    }

    #[test]
    fn seed_line_splits_into_numbers_words_and_symbols() {
        let k = kinds("الإثنين 12/أبريل/2021 - 10:18 ص");
        assert_eq!(k.len(), 11, "{k:?}");
        assert_eq!(k.get(1), Some(&Kind::Num { value: 12, digits: 2 }));
        assert_eq!(k.get(2), Some(&Kind::Sym('/')));
        assert!(matches!(k.get(3), Some(Kind::Word { word: Some(Word::Month(4)), .. })));
    }

    #[test]
    fn a_year_glued_to_its_era_letter_splits() {
        let k = kinds("2021م");
        assert_eq!(k.len(), 2);
    }

    #[test]
    fn whitespace_before_a_piece_is_recorded() {
        let p = lex("10:00 +0300 -05").unwrap_or_default();
        let spaced: Vec<bool> = p.iter().map(|p| p.spaced).collect();
        assert_eq!(spaced, [false, false, false, true, false, true, false]);
    }

    #[test]
    fn overlong_numbers_and_stray_characters_are_errors() {
        assert!(lex("1234567890").is_err());
        assert!(lex("12 @ 2021").is_err());
    }

    #[test]
    fn before_and_after_noon_become_meridiem_markers() {
        let k = kinds("10:30 قبل الظهر");
        assert!(matches!(k.last(), Some(Kind::Word { word: Some(Word::Meridiem(Meridiem::Am)), .. })));
        let k = kinds("2:30 بعد الظهر");
        assert!(matches!(k.last(), Some(Kind::Word { word: Some(Word::Meridiem(Meridiem::Pm)), .. })));
        assert_eq!(kinds("قبل الظهر").len(), 1);
    }

    #[test]
    fn dash_look_alikes_and_arabic_comma_fold() {
        assert_eq!(kinds("–،؛−"), [Kind::Sym('-'), Kind::Sym(','), Kind::Sym(';'), Kind::Sym('-')]);
    }
}
