//! Finds a fixed vocabulary of keywords (with aliases, single words or phrases) in Arabic
//! and Latin text, tolerating spelling variants (via `normalize`) and joined proclitics
//! (via `clitics`). It never searches substrings, so «مصرف» never matches «مصر».
//!
//! Matching is one streaming pass (see `scan`): each word is normalised into a reused buffer
//! as it is read (no normalised copy of the text, no allocation per word), and each of its
//! proclitic readings is one hash look-up in an index of every form the vocabulary accepts —
//! suffix forms included, spelled out when the matcher is built — so a word costs the same
//! however many keywords there are. A phrase is followed word by word from its first word.
//!
//! Suffix forms — the adjective «العراقية», the plural «المصريين», a possessive «أمنه» — are
//! a choice per keyword (`inflect`), off by default: for short words they meet other words
//! («أمنية» is a wish as often as it is "security"). When on, a token matches if, behind its
//! proclitics, it is the keyword (with or without its article, and for a name ending in
//! «ا» without that alef: «سوريا» → «السوري») followed by one of `SUFFIXES`.
//!
//! A keyword may be a proper name (`proper`): a name never takes the article, so «ال» before
//! it is not a proclitic — «القطر» (the diameter) is not «قطر», «الحماس» (enthusiasm) not
//! «حماس» — while «وقطر», «بقطر» and the adjective «القطري» still are.

mod scan;

use std::collections::HashMap;

use foldhash::fast::RandomState;

pub use scan::Scan;

/// Forms shorter than this (after normalisation) would match noise such as «و».
const MIN_FORM_CHARS: usize = 2;

/// A singular takes the sound plural suffixes only from this length: «لاجئ» → «لاجئين», but
/// «مصر» must not find «مصرين» (insistent).
const MIN_SINGULAR_CHARS: usize = 4;

/// A keyword found in a text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Match {
    /// Index of the keyword in the `entries` given to [`Matcher::new`].
    pub keyword: usize,
    /// Byte range in the ORIGINAL text, covering the whole surface form including its
    /// proclitics; for a phrase, from the start of its first token to the end of its last.
    pub start: usize,
    pub end: usize,
}

/// The nisba adjective and its feminine, dual, plural and accusative forms (normalised: ة is
/// ه), taken by every base of an inflected keyword.
const NISBA: [&str; 9] = ["ي", "يه", "يون", "يين", "يان", "يتان", "يتين", "يات", "يا"];

/// Attached pronouns, taken by the keyword with or without its article («أمنه», «نفطه»). A
/// token ending in ة is never read as a pronoun ه — «عراقة» is not «عراق» + ه — even though
/// both normalise to the same letters.
const PRONOUNS: [&str; 7] = ["ه", "ها", "هم", "هما", "هن", "نا", "كم"];

/// The two cases of a sound masculine plural: a keyword written «اللاجئين» also finds
/// «اللاجئون», and one written «اللاجئ» finds both.
const PLURAL: [&str; 2] = ["ين", "ون"];

/// How a form of the index was made, which decides when a reading may use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The keyword (or its alias) itself: not behind a stripped article if it is a proper name.
    Word,
    /// A suffix form: the adjective «القطري» takes the article even from a name.
    Suffix,
    /// The pronoun ه: not when the word as written ends in ة.
    PronounH,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hit {
    keyword: u32,
    kind: Kind,
}

/// What a normalised word means to the vocabulary.
#[derive(Debug, Clone, Default)]
struct Entry {
    hits: Vec<Hit>,
    /// Phrases (indices into `Matcher::phrases`) whose first word this is.
    phrases: Vec<u32>,
}

#[derive(Debug, Clone)]
struct Phrase {
    /// Normalised tokens after the first; they must follow exactly.
    rest: Vec<Box<str>>,
    keyword: u32,
}

/// Keyword matcher built once per vocabulary.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    /// Every accepted normalised word (forms, and suffix forms of inflected keywords).
    index: HashMap<Box<str>, Entry, RandomState>,
    phrases: Vec<Phrase>,
    /// The one-token forms of each keyword (for `inflect`).
    forms: Vec<Vec<String>>,
    /// Keywords that are proper names.
    proper: Vec<bool>,
    /// A bit for every word of `index` (see `filter_bit`): most words of a text are turned
    /// away here, without hashing.
    filter: Vec<u64>,
}

/// Bits of the filter: 2^20 (128 KiB), a few per cent full with 100,000 forms.
const FILTER_BITS: u32 = 20;

/// The filter's bit for a word: its length, first two bytes and last four mixed.
fn filter_bit(word: &str) -> usize {
    let b = word.as_bytes();
    let n = b.len();
    let head = b.first().map_or(0, |x| u64::from(*x)) | b.get(1).map_or(0, |x| u64::from(*x) << 8);
    let tail = b.get(n.saturating_sub(4)..).unwrap_or_default().iter().fold(0u64, |t, x| (t << 8) | u64::from(*x));
    let h = (n as u64) ^ (head << 12) ^ (tail << 28);
    (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FILTER_BITS)) as usize
}

impl Matcher {
    /// `entries[i]` = the surface forms (the keyword itself plus its aliases) of keyword
    /// `i`. Forms that normalise to nothing or to fewer than two characters are ignored.
    #[must_use]
    pub fn new<S: AsRef<str>>(entries: &[Vec<S>]) -> Matcher {
        let mut m = Matcher {
            forms: vec![Vec::new(); entries.len()],
            proper: vec![false; entries.len()],
            filter: vec![0; 1 << (FILTER_BITS - 6)],
            ..Matcher::default()
        };
        for (keyword, forms) in entries.iter().enumerate() {
            for form in forms {
                m.add_form(keyword, form.as_ref());
            }
        }
        m
    }

    fn add_form(&mut self, keyword: usize, form: &str) {
        let Ok(id) = u32::try_from(keyword) else { return };
        let mut parts = Vec::new();
        scan::normalised_words(form, |w| parts.push(w.to_owned()));
        let mut parts = parts.into_iter();
        let Some(first) = parts.next() else {
            return;
        };
        let rest: Vec<Box<str>> = parts.map(String::into_boxed_str).collect();
        let chars = first.chars().count() + rest.iter().map(|r| r.chars().count()).sum::<usize>();
        if chars < MIN_FORM_CHARS {
            return;
        }
        if rest.is_empty() {
            if let Some(forms) = self.forms.get_mut(keyword)
                && !forms.contains(&first)
            {
                forms.push(first.clone());
            }
            self.add(&first, id, Kind::Word);
        } else {
            let known = self.index.get(first.as_str()).is_some_and(|e| {
                e.phrases
                    .iter()
                    .any(|&p| self.phrases.get(p as usize).is_some_and(|p| p.keyword == id && p.rest == rest))
            });
            let Ok(n) = u32::try_from(self.phrases.len()) else { return };
            if !known {
                self.hold(&first);
                self.phrases.push(Phrase { rest, keyword: id });
                self.index.entry(first.into_boxed_str()).or_default().phrases.push(n);
            }
        }
    }

    /// Accepts the normalised word `form` for `keyword`.
    fn add(&mut self, form: &str, keyword: u32, kind: Kind) {
        if form.chars().count() < MIN_FORM_CHARS {
            return;
        }
        self.hold(form);
        let entry = self.index.entry(form.into()).or_default();
        let hit = Hit { keyword, kind };
        if !entry.hits.contains(&hit) {
            entry.hits.push(hit);
        }
    }

    fn hold(&mut self, word: &str) {
        let bit = filter_bit(word);
        if let Some(w) = self.filter.get_mut(bit / 64) {
            *w |= 1 << (bit % 64);
        }
    }

    /// False when `word` is surely not in the index.
    fn may_hold(&self, word: &str) -> bool {
        let bit = filter_bit(word);
        self.filter.get(bit / 64).is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    /// Lets keyword `keyword` match its suffix forms too («العراقية», «المصريين», «أمنه»,
    /// «اللاجئون»). Its one-word forms are matched without their article too («إرهاب» for
    /// «الإرهاب»), and become bases: for the nisba suffixes — as written, without the article,
    /// and for a name ending in «يا» or «ا» without that ending («سوريا» → «سوري», «فرنسا» →
    /// «فرنسي») —, for attached pronouns, and for the sound plural (from the other case of a
    /// plural, or from a singular of four letters or more: «اللاجئ» → «اللاجئون»).
    pub fn inflect(&mut self, keyword: usize) {
        let (Some(forms), Ok(id)) = (self.forms.get(keyword).cloned(), u32::try_from(keyword)) else { return };
        let long_enough = |b: &str| b.chars().count() >= MIN_FORM_CHARS;
        for form in forms {
            let bare = form.strip_prefix("ال").filter(|b| long_enough(b)).unwrap_or(&form);
            let name = bare.strip_suffix("يا").or_else(|| bare.strip_suffix('ا')).unwrap_or(bare);
            self.add(bare, id, Kind::Word);
            for base in distinct(&[form.as_str(), bare, name]) {
                if long_enough(base) {
                    for suffix in NISBA {
                        self.add(&format!("{base}{suffix}"), id, Kind::Suffix);
                    }
                }
            }
            if long_enough(bare) {
                for suffix in PRONOUNS {
                    let kind = if suffix == "ه" { Kind::PronounH } else { Kind::Suffix };
                    self.add(&format!("{bare}{suffix}"), id, kind);
                }
            }
            for base in distinct(&[form.as_str(), bare]) {
                let stem = match PLURAL.iter().find_map(|p| base.strip_suffix(p)) {
                    Some(stem) => stem,
                    None if base.strip_prefix("ال").unwrap_or(base).chars().count() >= MIN_SINGULAR_CHARS => base,
                    None => continue,
                };
                if long_enough(stem) {
                    for suffix in PLURAL {
                        self.add(&format!("{stem}{suffix}"), id, Kind::Suffix);
                    }
                }
            }
        }
    }

    /// Marks keyword `keyword` as a proper name: the article before it is not a proclitic.
    pub fn proper(&mut self, keyword: usize) {
        if let Some(p) = self.proper.get_mut(keyword) {
            *p = true;
        }
    }

    /// True when no usable form was given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// A streaming pass over a text given in pieces (see [`Scan`]).
    #[must_use]
    pub fn scan(&self) -> Scan<'_> {
        Scan::new(self)
    }

    /// Every occurrence, in text order (by start, then end, then keyword). Overlapping
    /// matches of different keywords are all reported, e.g. «التحالف» inside «التحالف
    /// الدولي» when both are keywords.
    #[must_use]
    pub fn find_all(&self, text: &str) -> Vec<Match> {
        let mut found = Vec::new();
        if !self.is_empty() {
            self.scan().feed(text, 0, |m| found.push(m));
        }
        found.sort_by_key(|m| (m.start, m.end, m.keyword));
        found.dedup();
        found
    }

    /// The distinct keyword indices found in `text`, sorted.
    #[must_use]
    pub fn keywords_in(&self, text: &str) -> Vec<usize> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut seen = vec![false; self.forms.len()];
        self.scan().feed(text, 0, |m| {
            if let Some(s) = seen.get_mut(m.keyword) {
                *s = true;
            }
        });
        seen.iter().enumerate().filter_map(|(i, s)| s.then_some(i)).collect()
    }
}

/// `items` without repeats, in order.
fn distinct<'a>(items: &[&'a str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::with_capacity(items.len());
    for i in items {
        if !out.contains(i) {
            out.push(i);
        }
    }
    out
}

#[cfg(test)]
mod tests;
