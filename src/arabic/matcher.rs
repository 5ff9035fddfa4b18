//! Finds a fixed vocabulary of keywords (with aliases, single words or phrases) in Arabic
//! and Latin text, tolerating spelling variants (via `normalize`) and joined proclitics
//! (via `clitics`). It works on whole tokens in O(tokens) hash look-ups — the equivalent of
//! a multi-pattern automaton for a language whose words are the unit — and never searches
//! substrings, so «مصرف» never matches «مصر».
//!
//! Suffix forms — the adjective «العراقية», the plural «المصريين», a possessive «أمنه» — are
//! a choice per keyword (`inflect`), off by default: for short words they meet other words
//! («أمنية» is a wish as often as it is "security"). When on, a token matches if, behind its
//! proclitics, it is the keyword (with or without its article, and for a name ending in
//! «ا» without that alef: «سوريا» → «السوري») followed by one of `SUFFIXES`.

use std::collections::HashMap;

use super::clitics::readings;
use super::normalize::{is_harakah, normalize};
use super::tokens::tokens;

/// Forms shorter than this (after normalisation) would match noise such as «و».
const MIN_FORM_CHARS: usize = 2;

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

#[derive(Debug, Clone)]
struct Phrase {
    /// Normalised tokens after the first; they must follow exactly.
    rest: Vec<String>,
    keyword: usize,
}

/// The nisba adjective and its feminine, dual, plural and accusative forms (normalised: ة is
/// ه), taken by every base of an inflected keyword.
const NISBA: [&str; 9] = ["ي", "يه", "يون", "يين", "يان", "يتان", "يتين", "يات", "يا"];

/// Attached pronouns, taken by the keyword with or without its article («أمنه», «نفطه»). A
/// token ending in ة is never read as a pronoun ه — «عراقة» is not «عراق» + ه — even though
/// both normalise to the same letters.
const PRONOUNS: [&str; 7] = ["ه", "ها", "هم", "هما", "هن", "نا", "كم"];

/// The two cases of a sound masculine plural: a keyword written «اللاجئين» also finds
/// «اللاجئون».
const PLURAL: [&str; 2] = ["ين", "ون"];

/// Keyword matcher built once per vocabulary.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    /// Normalised one-token form → keywords having it.
    words: HashMap<String, Vec<usize>>,
    /// Normalised first token of a multi-token form → the phrases starting with it.
    phrases: HashMap<String, Vec<Phrase>>,
    /// The one-token forms of each keyword (for `inflect`).
    forms: HashMap<usize, Vec<String>>,
    /// Bases that take the nisba suffixes → keywords (see `inflect`).
    nisba: HashMap<String, Vec<usize>>,
    /// Bases that take pronoun suffixes → keywords.
    pronoun: HashMap<String, Vec<usize>>,
    /// Stems of sound plurals → keywords.
    plural: HashMap<String, Vec<usize>>,
}

/// A token of the text, normalised, with its byte range in the original.
struct TextToken {
    start: usize,
    end: usize,
    norm: String,
    /// The word as written ends with ة (so a final ه of `norm` is not a pronoun).
    ta_marbuta: bool,
}

/// Tokens normalised one by one; tokens that normalise to nothing (a lone tatweel or
/// haraka) are dropped so they neither match nor break a phrase.
fn normalised_tokens(text: &str) -> Vec<TextToken> {
    tokens(text)
        .filter_map(|t| {
            let norm = normalize(t.text);
            let ta_marbuta = t.text.chars().rev().find(|c| !is_harakah(*c) && *c != '\u{0640}') == Some('ة');
            (!norm.is_empty()).then_some(TextToken { start: t.start, end: t.end, norm, ta_marbuta })
        })
        .collect()
}

impl Matcher {
    /// `entries[i]` = the surface forms (the keyword itself plus its aliases) of keyword
    /// `i`. Forms that normalise to nothing or to fewer than two characters are ignored.
    #[must_use]
    pub fn new<S: AsRef<str>>(entries: &[Vec<S>]) -> Matcher {
        let mut m = Matcher::default();
        for (keyword, forms) in entries.iter().enumerate() {
            for form in forms {
                m.add_form(keyword, form.as_ref());
            }
        }
        m
    }

    fn add_form(&mut self, keyword: usize, form: &str) {
        let mut parts = normalised_tokens(form).into_iter().map(|t| t.norm);
        let Some(first) = parts.next() else {
            return;
        };
        let rest: Vec<String> = parts.collect();
        let chars = first.chars().count() + rest.iter().map(|r| r.chars().count()).sum::<usize>();
        if chars < MIN_FORM_CHARS {
            return;
        }
        if rest.is_empty() {
            let forms = self.forms.entry(keyword).or_default();
            if !forms.contains(&first) {
                forms.push(first.clone());
            }
            let ks = self.words.entry(first).or_default();
            if !ks.contains(&keyword) {
                ks.push(keyword);
            }
        } else {
            let ps = self.phrases.entry(first).or_default();
            if !ps.iter().any(|p| p.keyword == keyword && p.rest == rest) {
                ps.push(Phrase { rest, keyword });
            }
        }
    }

    /// Lets keyword `keyword` match its suffix forms too («العراقية», «المصريين», «أمنه»,
    /// «اللاجئون»). Its one-word forms are matched without their article too («إرهاب» for
    /// «الإرهاب»), and become bases: for the nisba suffixes — as written, without the article,
    /// and for a name ending in «يا» or «ا» without that ending («سوريا» → «سوري», «فرنسا» →
    /// «فرنسي») —, for attached pronouns, and for the other case of a sound plural.
    pub fn inflect(&mut self, keyword: usize) {
        let Some(forms) = self.forms.get(&keyword).cloned() else { return };
        for form in forms {
            let bare = form.strip_prefix("ال").filter(|b| b.chars().count() >= MIN_FORM_CHARS).unwrap_or(&form);
            let name = bare.strip_suffix("يا").or_else(|| bare.strip_suffix('ا')).unwrap_or(bare);
            add(&mut self.words, bare, keyword);
            for base in [form.as_str(), bare, name] {
                add(&mut self.nisba, base, keyword);
            }
            add(&mut self.pronoun, bare, keyword);
            for base in [form.as_str(), bare] {
                if let Some(stem) = PLURAL.iter().find_map(|p| base.strip_suffix(p)) {
                    add(&mut self.plural, stem, keyword);
                }
            }
        }
    }

    /// True when no usable form was given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.phrases.is_empty()
    }

    /// Every occurrence, in text order (by start, then end, then keyword). Overlapping
    /// matches of different keywords are all reported, e.g. «التحالف» inside «التحالف
    /// الدولي» when both are keywords.
    #[must_use]
    pub fn find_all(&self, text: &str) -> Vec<Match> {
        if self.is_empty() {
            return Vec::new();
        }
        let toks = normalised_tokens(text);
        let mut found = Vec::new();
        for (i, tok) in toks.iter().enumerate() {
            for stem in readings(&tok.norm) {
                if let Some(ks) = self.words.get(stem.as_ref()) {
                    found.extend(ks.iter().map(|&keyword| Match { keyword, start: tok.start, end: tok.end }));
                }
                for (suffixes, bases) in
                    [(&NISBA[..], &self.nisba), (&PRONOUNS[..], &self.pronoun), (&PLURAL[..], &self.plural)]
                {
                    if bases.is_empty() {
                        continue;
                    }
                    for suffix in suffixes {
                        if *suffix == "ه" && tok.ta_marbuta && bases_are_pronouns(suffixes) {
                            continue;
                        }
                        let Some(base) = stem.strip_suffix(suffix) else { continue };
                        if let Some(ks) = bases.get(base) {
                            found.extend(ks.iter().map(|&keyword| Match { keyword, start: tok.start, end: tok.end }));
                        }
                    }
                }
                if let Some(ps) = self.phrases.get(stem.as_ref()) {
                    for p in ps {
                        if let Some(end) = phrase_end(&toks, i, &p.rest) {
                            found.push(Match { keyword: p.keyword, start: tok.start, end });
                        }
                    }
                }
            }
        }
        found.sort_by_key(|m| (m.start, m.end, m.keyword));
        found.dedup();
        found
    }

    /// The distinct keyword indices found in `text`, sorted.
    #[must_use]
    pub fn keywords_in(&self, text: &str) -> Vec<usize> {
        let mut ks: Vec<usize> = self.find_all(text).into_iter().map(|m| m.keyword).collect();
        ks.sort_unstable();
        ks.dedup();
        ks
    }
}

fn bases_are_pronouns(suffixes: &[&str]) -> bool {
    suffixes == PRONOUNS.as_slice()
}

fn add(map: &mut HashMap<String, Vec<usize>>, base: &str, keyword: usize) {
    if base.chars().count() < MIN_FORM_CHARS {
        return;
    }
    let ks = map.entry(base.to_owned()).or_default();
    if !ks.contains(&keyword) {
        ks.push(keyword);
    }
}

/// End offset of the phrase whose first token is `toks[i]`, if the following tokens are
/// exactly `rest`.
fn phrase_end(toks: &[TextToken], i: usize, rest: &[String]) -> Option<usize> {
    let following = toks.get(i + 1..)?;
    if following.len() < rest.len() {
        return None;
    }
    let mut end = None;
    for (tok, want) in following.iter().zip(rest) {
        if tok.norm != *want {
            return None;
        }
        end = Some(tok.end);
    }
    end
}

#[cfg(test)]
mod tests;
