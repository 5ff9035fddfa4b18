//! The publisher: builds feeds from the store, keeps the latest bytes in memory for the HTTP
//! server and writes them to the output folder. A cached feed older than `CACHE_TTL` is rebuilt
//! on the next request, so an instance that did not run the latest collection still serves fresh
//! feeds; output is deterministic, so every instance serves the same bytes and ETag.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use url::Url;

use super::model::{Category, Entry, Feed, Format};
use super::output::{FeedFile, write_if_changed};
use super::{FeedError, FeedSpec, render};
use crate::config::Config;
use crate::keywords::KeywordName;
use crate::store::{Article, ArticleFilter, Keyword, KeywordId, Store};

const CACHE_TTL: Duration = Duration::from_secs(60);

/// Which feed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeedKey {
    /// A feed declared in `feeds/`, by id.
    Declared(String),
    /// A keyword's feed, by slug.
    Keyword(String),
}

impl FeedKey {
    /// The path under the output folder and under `/feeds/`, without extension.
    pub fn path(&self) -> String {
        match self {
            FeedKey::Declared(id) => id.clone(),
            FeedKey::Keyword(slug) => format!("keywords/{slug}"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildReport {
    pub feeds: usize,
    pub files_written: usize,
}

struct Cached {
    files: Arc<HashMap<Format, Arc<FeedFile>>>,
    built: Instant,
}

#[derive(Clone)]
pub struct Publisher {
    config: Arc<Config>,
    store: Store,
    cache: Arc<RwLock<HashMap<FeedKey, Cached>>>,
}

impl Publisher {
    pub fn new(config: Arc<Config>, store: Store) -> Self {
        Self { config, store, cache: Arc::default() }
    }

    /// Rebuilds every declared feed and every keyword feed, writes the files that changed and
    /// refreshes the cache.
    pub async fn build_all(&self, now: DateTime<Utc>) -> Result<BuildReport, FeedError> {
        let keywords = self.store.all_keywords().await?;
        let by_id: HashMap<KeywordId, &Keyword> = keywords.iter().map(|k| (k.id, k)).collect();
        let mut keys: Vec<FeedKey> =
            self.config.feeds.declared.iter().map(|s| FeedKey::Declared(s.id.clone())).collect();
        keys.extend(keywords.iter().map(|k| FeedKey::Keyword(k.slug.clone())));
        let mut report = BuildReport::default();
        for key in keys {
            let Some(files) = self.build(&key, &by_id, now).await? else {
                continue;
            };
            for (format, file) in files.iter() {
                let path = self.file_path(&key, *format);
                if write_if_changed(&path, &file.bytes)? {
                    report.files_written += 1;
                }
            }
            report.feeds += 1;
            self.store_in_cache(key, files);
        }
        tracing::info!(feeds = report.feeds, written = report.files_written, "feeds built");
        Ok(report)
    }

    /// The feed file for `key` in `format`, from the cache or built now; `None` if no such feed.
    pub async fn get(
        &self,
        key: &FeedKey,
        format: Format,
        now: DateTime<Utc>,
    ) -> Result<Option<Arc<FeedFile>>, FeedError> {
        if let Ok(cache) = self.cache.read()
            && let Some(c) = cache.get(key)
            && c.built.elapsed() < CACHE_TTL
        {
            return Ok(c.files.get(&format).cloned());
        }
        let keywords = self.store.all_keywords().await?;
        let by_id: HashMap<KeywordId, &Keyword> = keywords.iter().map(|k| (k.id, k)).collect();
        let Some(files) = self.build(key, &by_id, now).await? else {
            return Ok(None);
        };
        let file = files.get(&format).cloned();
        self.store_in_cache(key.clone(), files);
        Ok(file)
    }

    /// Finds a keyword feed by what a reader typed: its slug or any spelling of the keyword.
    pub async fn keyword_key(&self, typed: &str) -> Result<Option<FeedKey>, FeedError> {
        if let Some(k) = self.store.keyword_by_slug(typed).await? {
            return Ok(Some(FeedKey::Keyword(k.slug)));
        }
        let Ok(name) = KeywordName::parse(&typed.replace('-', " ")) else {
            return Ok(None);
        };
        Ok(self.store.keyword_by_normalized(name.normalized()).await?.map(|k| FeedKey::Keyword(k.slug)))
    }

    fn file_path(&self, key: &FeedKey, format: Format) -> PathBuf {
        self.config.feeds.output_dir.join(format!("{}.{}", key.path(), format.extension()))
    }

    fn store_in_cache(&self, key: FeedKey, files: Arc<HashMap<Format, Arc<FeedFile>>>) {
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(key, Cached { files, built: Instant::now() });
        }
    }

    async fn build(
        &self,
        key: &FeedKey,
        keywords: &HashMap<KeywordId, &Keyword>,
        now: DateTime<Utc>,
    ) -> Result<Option<Arc<HashMap<Format, Arc<FeedFile>>>>, FeedError> {
        let site = &self.config.site;
        let (title, description, language, articles) = match key {
            FeedKey::Declared(id) => {
                let Some(spec) = self.config.feeds.declared.iter().find(|s| &s.id == id) else {
                    return Ok(None);
                };
                let articles = self.declared_articles(spec).await?;
                let title = if spec.title.is_empty() { site.title.clone() } else { spec.title.clone() };
                let description =
                    if spec.description.is_empty() { site.description.clone() } else { spec.description.clone() };
                (title, description, spec.language.clone(), articles)
            }
            FeedKey::Keyword(slug) => {
                let Some(keyword) = keywords.values().find(|k| &k.slug == slug) else {
                    return Ok(None);
                };
                let articles = self
                    .store
                    .latest_articles(ArticleFilter::Keywords(&[keyword.id]), self.config.feeds.keyword_feed_items)
                    .await?;
                (
                    format!("{} — {}", site.title, keyword.name),
                    format!("أحدث المقالات عن «{}»", keyword.name),
                    site.language.clone(),
                    articles,
                )
            }
        };
        let ids: Vec<_> = articles.iter().map(|a| a.id).collect();
        let mut categories: HashMap<i64, Vec<Category>> = HashMap::new();
        for (article, keyword) in self.store.keywords_of_articles(&ids).await? {
            if let Some(k) = keywords.get(&keyword) {
                categories.entry(article).or_default().push(Category {
                    name: k.name.clone(),
                    feed_base: self.feed_url(&FeedKey::Keyword(k.slug.clone())),
                });
            }
        }
        let entries: Vec<Entry> = articles
            .into_iter()
            .map(|a| {
                let cats = categories.remove(&a.id).unwrap_or_default();
                entry(a, cats)
            })
            .collect();
        let updated = entries.iter().map(|e| e.updated).max().unwrap_or(now);
        let feed = Feed {
            title,
            description,
            language,
            site_url: site.base_url.clone(),
            self_base: self.feed_url(key),
            updated,
            entries,
        };
        let mut files = HashMap::new();
        for format in Format::ALL {
            let bytes = render(&feed, format).map_err(|reason| FeedError::Write { feed: key.path(), reason })?;
            files.insert(format, Arc::new(FeedFile::new(format, bytes, updated)));
        }
        Ok(Some(Arc::new(files)))
    }

    async fn declared_articles(&self, spec: &FeedSpec) -> Result<Vec<Article>, FeedError> {
        if spec.keywords.is_empty() {
            return Ok(self.store.latest_articles(ArticleFilter::All, spec.limit).await?);
        }
        let mut ids = Vec::new();
        for k in &spec.keywords {
            let Ok(name) = KeywordName::parse(k) else {
                continue;
            };
            if let Some(keyword) = self.store.keyword_by_normalized(name.normalized()).await? {
                ids.push(keyword.id);
            }
        }
        Ok(self.store.latest_articles(ArticleFilter::Keywords(&ids), spec.limit).await?)
    }

    fn feed_url(&self, key: &FeedKey) -> String {
        feed_url(&self.config.site.base_url, key)
    }
}

/// The public URL of a feed, without extension; non-ASCII slugs are percent-encoded.
pub fn feed_url(base: &Url, key: &FeedKey) -> String {
    base.join(&format!("feeds/{}", key.path()))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| format!("{base}feeds/{}", key.path()))
}

fn entry(a: Article, categories: Vec<Category>) -> Entry {
    Entry {
        updated: a.updated_at.max(a.published_at),
        published: a.published_at,
        url: a.url,
        title: a.title,
        summary: a.summary,
        content_html: a.body_html,
        author: a.author,
        image: a.image_url,
        categories,
    }
}
