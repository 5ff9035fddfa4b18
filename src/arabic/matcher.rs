//! Finds a fixed vocabulary of keywords (with aliases, single words or phrases) in Arabic
//! and Latin text, tolerating spelling variants (via `normalize`) and joined proclitics
//! (via `clitics`). It works on whole tokens in O(tokens) hash look-ups: it must not use
//! regexes, substring search or suffix stripping, so «مصرف» never matches «مصر».

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

/// Keyword matcher built once per vocabulary.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    /// Normalised one-token form → keywords having it.
    words: HashMap<String, Vec<usize>>,
    /// Normalised first token of a multi-token form → the phrases starting with it.
    phrases: HashMap<String, Vec<Phrase>>,
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
