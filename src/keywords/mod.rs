//! The tag stage: which keywords an article carries. An article gets the keywords of its own
//! keyword block, plus every keyword of the vocabulary (the operator's declared keywords and the
//! keywords subscribers follow) that the Arabic-aware matcher finds in its title, summary or text.
//! Aliases (`داعش = تنظيم الدولة = ISIS`) fold into one canonical keyword. When a keyword joins the
//! vocabulary, recent articles are matched against it at once, so its feed and the next digest
//! are right without waiting for new articles.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

pub use crate::spec::{KeywordError, KeywordName};

use crate::arabic::Matcher;
use crate::config;
use crate::store::{ArticleId, Keyword, KeywordId, KeywordOrigin, NewArticle, Store, StoreResult};

/// Origin of an article↔keyword link.
pub const FROM_BLOCK: &str = "block";
pub const FROM_TEXT: &str = "text";

/// The operator's rules about keywords, from the configuration: aliases, and which keywords
/// match their suffix forms.
#[derive(Debug, Default)]
pub struct Rules {
    /// matching form of an alias → the canonical keyword's name
    aliases: HashMap<String, KeywordName>,
    /// canonical matching form → its aliases (display forms)
    alias_forms: HashMap<String, Vec<String>>,
    /// matching forms of the keywords that take suffixes
    inflected: HashSet<String>,
    /// matching forms of the keywords that are proper names
    proper: HashSet<String>,
}

/// The built-in list of common proper names (see the file).
const COMMON_PROPER_NAMES: &str = include_str!("proper_names.txt");

impl Rules {
    pub fn new(config: &config::Keywords) -> Self {
        let mut rules = Rules::default();
        for (canonical, others) in &config.aliases {
            let Ok(canonical) = KeywordName::parse(canonical) else { continue };
            for other in others {
                let Ok(other) = KeywordName::parse(other) else { continue };
                rules.aliases.insert(other.normalized().to_owned(), canonical.clone());
                rules.alias_forms.entry(canonical.normalized().to_owned()).or_default().push(other.as_str().to_owned());
            }
        }
        for k in &config.inflected {
            if let Ok(name) = KeywordName::parse(k) {
                rules.inflected.insert(rules.canonical(name).normalized().to_owned());
            }
        }
        let common = COMMON_PROPER_NAMES.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
        let common = common.filter(|_| config.common_proper_names);
        for k in common.chain(config.proper_names.iter().map(String::as_str)) {
            if let Ok(name) = KeywordName::parse(k) {
                rules.proper.insert(rules.canonical(name).normalized().to_owned());
            }
        }
        rules
    }

    /// The canonical keyword for `name`: itself, or the keyword it is an alias of.
    pub fn canonical(&self, name: KeywordName) -> KeywordName {
        self.aliases.get(name.normalized()).cloned().unwrap_or(name)
    }

    /// A matcher whose entry `i` is `keywords[i]` with its aliases (and its suffix forms, for
    /// the keywords that take them).
    pub fn matcher(&self, keywords: &[Keyword]) -> Matcher {
        self.matcher_of(keywords.iter().map(|k| (k.name.as_str(), k.normalized.as_str())), false)
    }

    /// A matcher whose entry `i` is the `i`th (name, matching form) with its aliases, its
    /// suffix forms if the configuration (or `inflect_all`) says so, and read as a proper name
    /// if it is one.
    pub fn matcher_of<'a>(
        &self,
        keywords: impl Iterator<Item = (&'a str, &'a str)> + Clone,
        inflect_all: bool,
    ) -> Matcher {
        let entries: Vec<Vec<String>> = keywords
            .clone()
            .map(|(name, normalized)| {
                let mut forms = vec![name.to_owned()];
                forms.extend(self.alias_forms.get(normalized).into_iter().flatten().cloned());
                forms
            })
            .collect();
        let mut matcher = Matcher::new(&entries);
        for (i, (_, normalized)) in keywords.enumerate() {
            if inflect_all || self.inflected.contains(normalized) {
                matcher.inflect(i);
            }
            if self.proper.contains(normalized) {
                matcher.proper(i);
            }
        }
        matcher
    }
}

/// The matching vocabulary: the keywords searched for in every article, and their matcher.
pub struct Vocabulary {
    rules: Arc<Rules>,
    keywords: Vec<Keyword>,
    matcher: Matcher,
    /// Every keyword known to the store (tags too), by matching form, so a keyword block only
    /// writes to the store for a keyword it has never seen.
    known: Mutex<HashMap<String, KeywordId>>,
}

impl Vocabulary {
    fn build(rules: Arc<Rules>, all: Vec<Keyword>) -> Self {
        let known = Mutex::new(all.iter().map(|k| (k.normalized.clone(), k.id)).collect());
        let keywords: Vec<Keyword> = all.into_iter().filter(|k| k.origin().in_vocabulary()).collect();
        let matcher = rules.matcher(&keywords);
        Self { rules, keywords, matcher, known }
    }

    pub fn keywords(&self) -> &[Keyword] {
        &self.keywords
    }

    /// The canonical keyword for `name`: itself, or the keyword it is an alias of.
    pub fn canonical(&self, name: KeywordName) -> KeywordName {
        self.rules.canonical(name)
    }

    /// Vocabulary keywords found in `text`.
    pub fn find(&self, text: &str) -> Vec<&Keyword> {
        self.matcher.keywords_in(text).into_iter().filter_map(|i| self.keywords.get(i)).collect()
    }

    /// The keywords of `article`: its keyword block (each tag recorded in the store) and the
    /// vocabulary keywords in its text, without duplicates.
    pub async fn tag(
        &self,
        store: &Store,
        article: &NewArticle,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<(KeywordId, &'static str)>> {
        let mut out: Vec<(KeywordId, &'static str)> = Vec::new();
        for tag in &article.tags {
            let Ok(name) = KeywordName::parse(tag) else {
                tracing::debug!(url = %article.url, tag, "keyword block entry ignored");
                continue;
            };
            let name = self.canonical(name);
            let cached = self.known.lock().ok().and_then(|known| known.get(name.normalized()).copied());
            let id = match cached {
                Some(id) => id,
                None => {
                    let id = store
                        .ensure_keyword(name.as_str(), name.normalized(), name.slug(), KeywordOrigin::Tag, now)
                        .await?
                        .keyword
                        .id;
                    if let Ok(mut known) = self.known.lock() {
                        known.insert(name.normalized().to_owned(), id);
                    }
                    id
                }
            };
            if !out.iter().any(|(k, _)| *k == id) {
                out.push((id, FROM_BLOCK));
            }
        }
        for keyword in self.find(&article.matching_text()) {
            if !out.iter().any(|(k, _)| *k == keyword.id) {
                out.push((keyword.id, FROM_TEXT));
            }
        }
        Ok(out)
    }
}

/// The canonical keyword for `name` under the configured aliases: itself, or the keyword it is
/// an alias of.
pub fn canonical(config: &config::Keywords, name: KeywordName) -> KeywordName {
    Rules::new(config).canonical(name)
}

/// The vocabulary, rebuilt only when it changes: a pass looks the keywords up (one query) and
/// reuses the matcher it built before if the vocabulary keywords are the same.
pub struct Vocabularies {
    rules: Arc<Rules>,
    cached: Mutex<Option<Built>>,
}

/// A vocabulary and the keywords it was built from (its identity).
struct Built {
    keywords: Vec<(KeywordId, String)>,
    vocabulary: Arc<Vocabulary>,
}

impl Vocabularies {
    pub fn new(config: &config::Keywords) -> Self {
        Self { rules: Arc::new(Rules::new(config)), cached: Mutex::new(None) }
    }

    pub async fn current(&self, store: &Store) -> StoreResult<Arc<Vocabulary>> {
        let all = store.all_keywords().await?;
        let key: Vec<(KeywordId, String)> =
            all.iter().filter(|k| k.origin().in_vocabulary()).map(|k| (k.id, k.normalized.clone())).collect();
        if let Ok(cached) = self.cached.lock()
            && let Some(built) = cached.as_ref()
            && built.keywords == key
        {
            return Ok(built.vocabulary.clone());
        }
        let vocabulary = Arc::new(Vocabulary::build(self.rules.clone(), all));
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(Built { keywords: key, vocabulary: vocabulary.clone() });
        }
        Ok(vocabulary)
    }
}

/// Makes `names` part of the vocabulary with `origin` (resolving aliases), matches recent
/// articles against the keywords that are new to it, and returns the canonical keywords in the
/// order given (without duplicates).
pub async fn follow(
    store: &Store,
    config: &config::Config,
    names: &[KeywordName],
    origin: KeywordOrigin,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Keyword>> {
    let rules = Rules::new(&config.keywords);
    let mut keywords: Vec<Keyword> = Vec::new();
    let mut joined = Vec::new();
    for name in names {
        let name = rules.canonical(name.clone());
        let ensured = store.ensure_keyword(name.as_str(), name.normalized(), name.slug(), origin, now).await?;
        if ensured.joined_vocabulary {
            joined.push(ensured.keyword.clone());
        }
        if !keywords.iter().any(|k| k.id == ensured.keyword.id) {
            keywords.push(ensured.keyword);
        }
    }
    if !joined.is_empty() {
        let since = now - config.collect.retag_window;
        let added = retag(store, &rules, &joined, since).await?;
        tracing::info!(keywords = joined.len(), links = added, "new keywords matched against recent articles");
    }
    Ok(keywords)
}

/// Makes the operator's declared keywords (and the canonical keywords of aliases) part of the
/// vocabulary. The application runs it once, before its first job.
pub async fn sync_declared(store: &Store, config: &config::Config, now: DateTime<Utc>) -> StoreResult<()> {
    let names: Vec<KeywordName> = config
        .keywords
        .declared
        .iter()
        .chain(config.keywords.aliases.iter().map(|(canonical, _)| canonical))
        .filter_map(|k| KeywordName::parse(k).ok())
        .collect();
    follow(store, config, &names, KeywordOrigin::Operator, now).await.map(|_| ())
}

/// Links articles first seen since `since` to whichever of `keywords` their text contains.
async fn retag(store: &Store, rules: &Rules, keywords: &[Keyword], since: DateTime<Utc>) -> StoreResult<u64> {
    let matcher = rules.matcher(keywords);
    let mut pairs: Vec<(ArticleId, KeywordId)> = Vec::new();
    for article in store.articles_first_seen_since(since).await? {
        for i in matcher.keywords_in(&article.matching_text()) {
            if let Some(k) = keywords.get(i) {
                pairs.push((article.id, k.id));
            }
        }
    }
    store.add_article_keywords(&pairs, FROM_TEXT).await
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn keyword(id: KeywordId, name: &str) -> Keyword {
        let n = KeywordName::parse(name).unwrap();
        Keyword {
            id,
            name: name.into(),
            normalized: n.normalized().into(),
            slug: n.slug().into(),
            origin: "operator".into(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn aliases_and_inflection_come_from_the_configuration() {
        let config = config::Keywords {
            declared: vec![],
            aliases: vec![("داعش".into(), vec!["تنظيم الدولة".into(), "ISIS".into()])],
            inflected: vec!["العراق".into()],
            proper_names: vec!["جنيف".into()],
            common_proper_names: true,
        };
        let rules = Rules::new(&config);
        assert_eq!(rules.canonical(KeywordName::parse("isis").unwrap()).as_str(), "داعش");
        let vocabulary =
            Vocabulary::build(Arc::new(rules), vec![keyword(1, "داعش"), keyword(2, "العراق"), keyword(3, "مصر")]);
        let found = |text: &str| vocabulary.find(text).into_iter().map(|k| k.id).collect::<Vec<_>>();
        assert_eq!(found("عناصر تنظيم الدولة"), [1]);
        assert_eq!(found("القوات العراقية"), [2], "العراق takes suffixes");
        let vocabulary = Vocabulary::build(
            Arc::new(Rules::new(&config)),
            vec![keyword(1, "جنيف"), keyword(2, "قطر"), keyword(3, "حماس"), keyword(4, "الحزب")],
        );
        let found = |text: &str| vocabulary.find(text).into_iter().map(|k| k.id).collect::<Vec<_>>();
        assert!(found("الجنيف القطر الحماس").is_empty(), "proper names, named or on the built-in list");
        assert_eq!(found("في جنيف وقطر بحماس والحزب"), [1, 2, 3, 4]);
        let common_off = config::Keywords { common_proper_names: false, ..config };
        let vocabulary = Vocabulary::build(Arc::new(Rules::new(&common_off)), vec![keyword(2, "قطر")]);
        assert_eq!(vocabulary.find("نصف القطر").len(), 1, "the built-in list turned off");
        assert_eq!(found("الحكومة المصرية"), Vec::<KeywordId>::new(), "مصر does not");
    }
}
