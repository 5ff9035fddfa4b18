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
use super::normalize::normalize;
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

/// The nisba adjective and its feminine, dual and plural forms (normalised: ة is ه), taken by
/// every base of an inflected keyword.
const NISBA: [&str; 8] = ["ي", "يه", "يون", "يين", "يان", "يتان", "يتين", "يات"];

/// Attached pronouns, taken only by a keyword as written («أمنه», «أمنها»): on a bare stem they
/// would make feminine nouns of it, since ة is normalised to ه («عراقة» is not «عراق» + ه).
const PRONOUNS: [&str; 7] = ["ه", "ها", "هم", "هما", "هن", "نا", "كم"];

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
    /// Forms that take pronoun suffixes → keywords.
    pronoun: HashMap<String, Vec<usize>>,
}

/// A token of the text, normalised, with its byte range in the original.
struct TextToken {
    start: usize,
    end: usize,
    norm: String,
}

/// Tokens normalised one by one; tokens that normalise to nothing (a lone tatweel or
/// haraka) are dropped so they neither match nor break a phrase.
fn normalised_tokens(text: &str) -> Vec<TextToken> {
    tokens(text)
        .filter_map(|t| {
            let norm = normalize(t.text);
            (!norm.is_empty()).then_some(TextToken { start: t.start, end: t.end, norm })
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

    /// Lets keyword `keyword` match its suffix forms too («العراقية», «المصريين», «أمنه»). Its
    /// one-word forms become bases for the nisba suffixes — as written, without the article, and
    /// for a name ending in «يا» or «ا» without that ending («سوريا» → «سوري», «فرنسا» →
    /// «فرنسي») — and, as written, for attached pronouns.
    pub fn inflect(&mut self, keyword: usize) {
        let Some(forms) = self.forms.get(&keyword).cloned() else { return };
        for form in forms {
            let bare = form.strip_prefix("ال").filter(|b| b.chars().count() >= MIN_FORM_CHARS).unwrap_or(&form);
            let name = bare.strip_suffix("يا").or_else(|| bare.strip_suffix('ا')).unwrap_or(bare);
            for base in [form.as_str(), bare, name] {
                add(&mut self.nisba, base, keyword);
            }
            add(&mut self.pronoun, &form, keyword);
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
                for (suffixes, bases) in [(&NISBA[..], &self.nisba), (&PRONOUNS[..], &self.pronoun)] {
                    if bases.is_empty() {
                        continue;
                    }
                    for suffix in suffixes {
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
