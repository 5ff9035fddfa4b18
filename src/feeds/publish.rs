//! The publisher: builds feeds from the store, writes them to the output folder and keeps the
//! latest bytes in memory for the HTTP server. A cached feed older than `CACHE_TTL` is rebuilt on
//! the next request, so an instance that did not run the latest collection still serves fresh
//! feeds; output is deterministic, so every instance serves the same bytes and ETag.
//! Last-Modified is when the bytes last changed: the modification time of the output file,
//! which is rewritten only when its bytes change.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use url::Url;

use super::model::{Category, Entry, Feed, Format};
use super::output::{Coding, FeedFile, write_if_changed};
use super::{FeedError, FeedSpec, render};
use crate::config::Config;
use crate::keywords::{self, KeywordName};
use crate::store::{Article, ArticleFilter, Keyword, Store};

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

/// A feed key resolved to what it lists.
enum Source<'a> {
    Declared(&'a FeedSpec),
    Keyword(Keyword),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildReport {
    pub feeds: usize,
    pub files_written: usize,
    /// Feeds that could not be built (each is logged with its reason).
    pub failed: usize,
    /// The URLs of the feeds whose bytes changed (each format), for WebSub.
    pub changed: Vec<String>,
}

type Files = Arc<HashMap<Format, Arc<FeedFile>>>;

struct Cached {
    files: Files,
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

    /// Rebuilds every declared feed and every keyword feed, writes the files whose bytes changed
    /// and refreshes the cache. A feed that fails is logged and skipped; the others are built.
    pub async fn build_all(&self, now: DateTime<Utc>) -> Result<BuildReport, FeedError> {
        let mut sources: Vec<(FeedKey, Source<'_>)> = self
            .config
            .feeds
            .declared
            .iter()
            .map(|spec| (FeedKey::Declared(spec.id.clone()), Source::Declared(spec)))
            .collect();
        for keyword in self.store.all_keywords().await? {
            sources.push((FeedKey::Keyword(keyword.slug.clone()), Source::Keyword(keyword)));
        }
        let mut report = BuildReport::default();
        for (key, source) in sources {
            match self.publish(&key, &source, now).await {
                Ok((files, written)) => {
                    report.feeds += 1;
                    report.files_written += written;
                    if written > 0 {
                        let base = feed_url(&self.config.site.base_url, &key);
                        report.changed.extend(Format::ALL.iter().map(|f| format!("{base}.{}", f.extension())));
                    }
                    self.store_in_cache(key, files);
                }
                Err(FeedError::Store(e)) => return Err(FeedError::Store(e)),
                Err(e) => {
                    tracing::error!(feed = %key.path(), "feed not built: {e}");
                    report.failed += 1;
                }
            }
        }
        // Like a feed file, the list is a copy for static serving: a failure is logged, not fatal.
        match self
            .opml()
            .await
            .and_then(|opml| write_if_changed(&self.config.feeds.output_dir.join("feeds.opml"), &opml))
        {
            Ok(written) => report.files_written += usize::from(written),
            Err(FeedError::Store(e)) => return Err(FeedError::Store(e)),
            Err(e) => tracing::error!("feeds.opml not written: {e}"),
        }
        tracing::info!(feeds = report.feeds, written = report.files_written, failed = report.failed, "feeds built");
        Ok(report)
    }

    /// Every feed as an OPML list, for feed readers to import at once.
    pub async fn opml(&self) -> Result<Vec<u8>, FeedError> {
        let base = &self.config.site.base_url;
        let site = &self.config.site.title;
        let mut feeds: Vec<super::opml::Outline> = self
            .config
            .feeds
            .declared
            .iter()
            .map(|spec| super::opml::Outline {
                title: if spec.title.is_empty() { site.clone() } else { spec.title.clone() },
                feed_base: feed_url(base, &FeedKey::Declared(spec.id.clone())),
            })
            .collect();
        for keyword in self.store.all_keywords().await? {
            feeds.push(super::opml::Outline {
                title: format!("{site} — {}", keyword.name),
                feed_base: feed_url(base, &FeedKey::Keyword(keyword.slug.clone())),
            });
        }
        super::opml::write(&format!("{site} — الخلاصات"), base.as_str(), &feeds)
            .map_err(|reason| FeedError::Write { feed: "feeds.opml".into(), reason })
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
        let source = match key {
            FeedKey::Declared(id) => match self.config.feeds.declared.iter().find(|s| &s.id == id) {
                Some(spec) => Source::Declared(spec),
                None => return Ok(None),
            },
            FeedKey::Keyword(slug) => match self.store.keyword_by_slug(slug).await? {
                Some(keyword) => Source::Keyword(keyword),
                None => return Ok(None),
            },
        };
        let (files, _) = self.publish(key, &source, now).await?;
        let file = files.get(&format).cloned();
        self.store_in_cache(key.clone(), files);
        Ok(file)
    }

    /// Finds a keyword feed by what a reader typed: its slug or any spelling of the keyword
    /// (or of one of its aliases).
    pub async fn keyword_key(&self, typed: &str) -> Result<Option<FeedKey>, FeedError> {
        if let Some(k) = self.store.keyword_by_slug(typed).await? {
            return Ok(Some(FeedKey::Keyword(k.slug)));
        }
        let Ok(name) = KeywordName::parse(&typed.replace('-', " ")) else { return Ok(None) };
        let name = keywords::canonical(&self.config.keywords, name);
        Ok(self.store.keyword_by_normalized(name.normalized()).await?.map(|k| FeedKey::Keyword(k.slug)))
    }

    /// Forgets every cached feed, so the next request builds from the store.
    pub fn invalidate(&self) {
        if let Ok(mut cache) = self.cache.write() {
            cache.clear();
        }
    }

    fn store_in_cache(&self, key: FeedKey, files: Files) {
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(key, Cached { files, built: Instant::now() });
        }
    }

    /// Builds the feed in every format and writes the files whose bytes changed. Returns the
    /// files and how many were written.
    async fn publish(
        &self,
        key: &FeedKey,
        source: &Source<'_>,
        now: DateTime<Utc>,
    ) -> Result<(Files, usize), FeedError> {
        let feed = self.model(key, source).await?;
        let mut files = HashMap::new();
        let mut written = 0;
        for format in Format::ALL {
            let bytes = render(&feed, format).map_err(|reason| FeedError::Write { feed: key.path(), reason })?;
            let path = self.file_path(key, format);
            // `changed`: the bytes differ from the file's (or the file cannot be read back).
            let (changed, last_modified) = match write_if_changed(&path, &bytes) {
                Ok(changed) => {
                    written += usize::from(changed);
                    (changed, modified(&path).unwrap_or(now))
                }
                // The feed is still served from memory; the folder is only a copy for static serving.
                Err(e) => {
                    tracing::error!("{e}");
                    (true, now)
                }
            };
            let sibling = |coding: Coding| {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                path.with_file_name(format!("{name}{}", coding.suffix()))
            };
            // Unchanged bytes: their compressed siblings are current, read rather than redone.
            let file = FeedFile::with_variants(format, bytes, last_modified, |coding| {
                if changed { None } else { std::fs::read(sibling(coding)).ok() }
            });
            // The compressed siblings, byte-identical to what is served, for a static server.
            for coding in [Coding::Gzip, Coding::Brotli] {
                if let Err(e) = write_if_changed(&sibling(coding), file.body(coding)) {
                    tracing::error!("{e}");
                }
            }
            files.insert(format, Arc::new(file));
        }
        Ok((Arc::new(files), written))
    }

    /// The feed model: its articles newest first, each with its keywords as categories.
    async fn model(&self, key: &FeedKey, source: &Source<'_>) -> Result<Feed, FeedError> {
        let site = &self.config.site;
        let (title, description, language, articles, empty_updated) = match source {
            Source::Declared(spec) => {
                let articles = self.declared_articles(spec).await?;
                let title = if spec.title.is_empty() { site.title.clone() } else { spec.title.clone() };
                let description =
                    if spec.description.is_empty() { site.description.clone() } else { spec.description.clone() };
                (title, description, spec.language.clone(), articles, None)
            }
            Source::Keyword(keyword) => {
                let articles = self
                    .store
                    .latest_articles(ArticleFilter::Keywords(&[keyword.id]), self.config.feeds.keyword_feed_items)
                    .await?;
                (
                    format!("{} — {}", site.title, keyword.name),
                    format!("أحدث المقالات عن «{}»", keyword.name),
                    site.language.clone(),
                    articles,
                    Some(keyword.created_at),
                )
            }
        };
        let ids: Vec<_> = articles.iter().map(|a| a.id).collect();
        let mut categories: HashMap<i64, Vec<Category>> = HashMap::new();
        for (article, k) in self.store.keywords_of_articles(&ids).await? {
            let feed_base = feed_url(&site.base_url, &FeedKey::Keyword(k.slug));
            categories.entry(article).or_default().push(Category { name: k.name, feed_base });
        }
        let entries: Vec<Entry> =
            articles.into_iter().map(|a| entry(categories.remove(&a.id).unwrap_or_default(), a)).collect();
        // Never the clock: an empty feed must give the same bytes at every build.
        let updated = entries.iter().map(|e| e.updated).max().or(empty_updated).unwrap_or_else(epoch);
        Ok(Feed {
            title,
            description,
            language,
            site_url: site.base_url.clone(),
            self_base: feed_url(&site.base_url, key),
            hub: self.config.feeds.websub_hub.as_ref().map(ToString::to_string),
            updated,
            entries,
        })
    }

    async fn declared_articles(&self, spec: &FeedSpec) -> Result<Vec<Article>, FeedError> {
        if spec.keywords.is_empty() {
            return Ok(self.store.latest_articles(ArticleFilter::All, spec.limit).await?);
        }
        let mut ids = Vec::new();
        for k in &spec.keywords {
            let Ok(name) = KeywordName::parse(k) else { continue };
            let name = keywords::canonical(&self.config.keywords, name);
            if let Some(keyword) = self.store.keyword_by_normalized(name.normalized()).await? {
                ids.push(keyword.id);
            }
        }
        Ok(self.store.latest_articles(ArticleFilter::Keywords(&ids), spec.limit).await?)
    }

    fn file_path(&self, key: &FeedKey, format: Format) -> PathBuf {
        self.config.feeds.output_dir.join(format!("{}.{}", key.path(), format.extension()))
    }
}

/// The public URL of a feed, without extension; non-ASCII slugs are percent-encoded.
pub fn feed_url(base: &Url, key: &FeedKey) -> String {
    base.join(&format!("feeds/{}", key.path()))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| format!("{base}feeds/{}", key.path()))
}

fn modified(path: &std::path::Path) -> Option<DateTime<Utc>> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok().map(DateTime::<Utc>::from)
}

/// The `updated` of a declared feed with no articles at all.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().unwrap_or_default()
}

fn entry(categories: Vec<Category>, a: Article) -> Entry {
    Entry {
        content_html: super::model::with_direction(&a.body_html, &a.title),
        updated: a.updated_at.max(a.published_at),
        published: a.published_at,
        url: a.url,
        title: a.title,
        summary: a.summary,
        author: a.author,
        image: a.image_url,
        categories,
    }
}
