//! The tag stage: which keywords an article carries. An article gets the keywords of its own
//! keyword block, plus every keyword of the vocabulary (the operator's declared keywords and the
//! keywords subscribers follow) that the Arabic-aware matcher finds in its title, summary or text.
//! Aliases (`داعش = تنظيم الدولة = ISIS`) fold into one canonical keyword. When a keyword joins the
//! vocabulary, recent articles are matched against it at once, so its feed and the next digest
//! are right without waiting for new articles.

mod name;

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

pub use name::{KeywordError, KeywordName};

use crate::arabic::Matcher;
use crate::config;
use crate::store::{ArticleId, Keyword, KeywordId, KeywordOrigin, NewArticle, Store, StoreResult};

/// Origin of an article↔keyword link.
pub const FROM_BLOCK: &str = "block";
pub const FROM_TEXT: &str = "text";

/// The matching vocabulary, loaded from the store once per collection pass.
pub struct Vocabulary {
    /// matching form of an alias → the canonical keyword's name
    aliases: HashMap<String, KeywordName>,
    /// canonical matching form → its aliases (display forms)
    alias_forms: HashMap<String, Vec<String>>,
    keywords: Vec<Keyword>,
    matcher: Matcher,
    /// Every keyword known to the store (tags too), by matching form, so a keyword block only
    /// writes to the store for a keyword it has never seen.
    known: Mutex<HashMap<String, KeywordId>>,
}

impl Vocabulary {
    /// Loads the vocabulary keywords and builds the matcher.
    pub async fn load(store: &Store, config: &config::Keywords) -> StoreResult<Self> {
        let (aliases, alias_forms) = alias_maps(config);
        let all = store.all_keywords().await?;
        let known = Mutex::new(all.iter().map(|k| (k.normalized.clone(), k.id)).collect());
        let keywords: Vec<Keyword> = all.into_iter().filter(|k| k.origin().in_vocabulary()).collect();
        let matcher = matcher_for(&keywords, &alias_forms);
        Ok(Self { aliases, alias_forms, keywords, matcher, known })
    }

    pub fn keywords(&self) -> &[Keyword] {
        &self.keywords
    }

    /// The canonical keyword for `name`: itself, or the keyword it is an alias of.
    pub fn canonical(&self, name: KeywordName) -> KeywordName {
        self.aliases.get(name.normalized()).cloned().unwrap_or(name)
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

/// A matcher whose entry `i` is `keywords[i]` with its aliases.
fn matcher_for(keywords: &[Keyword], alias_forms: &HashMap<String, Vec<String>>) -> Matcher {
    let entries: Vec<Vec<String>> = keywords
        .iter()
        .map(|k| {
            let mut forms = vec![k.name.clone()];
            forms.extend(alias_forms.get(&k.normalized).into_iter().flatten().cloned());
            forms
        })
        .collect();
    Matcher::new(&entries)
}

/// The canonical keyword for `name` under the configured aliases: itself, or the keyword it is
/// an alias of.
pub fn canonical(config: &config::Keywords, name: KeywordName) -> KeywordName {
    alias_maps(config).0.remove(name.normalized()).unwrap_or(name)
}

fn alias_maps(config: &config::Keywords) -> (HashMap<String, KeywordName>, HashMap<String, Vec<String>>) {
    let mut aliases = HashMap::new();
    let mut forms: HashMap<String, Vec<String>> = HashMap::new();
    for (canonical, others) in &config.aliases {
        let Ok(canonical) = KeywordName::parse(canonical) else {
            continue;
        };
        for other in others {
            let Ok(other) = KeywordName::parse(other) else {
                continue;
            };
            aliases.insert(other.normalized().to_owned(), canonical.clone());
            forms.entry(canonical.normalized().to_owned()).or_default().push(other.as_str().to_owned());
        }
    }
    (aliases, forms)
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
    let vocabulary = Vocabulary::load(store, &config.keywords).await?;
    let mut keywords: Vec<Keyword> = Vec::new();
    let mut joined = Vec::new();
    for name in names {
        let name = vocabulary.canonical(name.clone());
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
        let added = retag(store, &vocabulary.alias_forms, &joined, since).await?;
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
async fn retag(
    store: &Store,
    alias_forms: &HashMap<String, Vec<String>>,
    keywords: &[Keyword],
    since: DateTime<Utc>,
) -> StoreResult<u64> {
    let matcher = matcher_for(keywords, alias_forms);
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
