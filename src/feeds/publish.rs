//! The publisher: builds feeds from the store when their content changes, writes them to the
//! output folder and serves them like static files.
//!
//! - **Built when content changes.** Every change a feed shows raises the store's feed revision
//!   and marks the keywords it touched (see the migration `add_feed_revisions`). A build reads the
//!   revision, rebuilds only the feeds whose keywords changed since the revision it built last
//!   (the declared feeds without keywords whenever anything changed) and records the revision in
//!   the output folder, so the next process goes on from there. A build with nothing changed is
//!   one query.
//! - **Single flight.** Builds take one lock; requests never wait for them, never touch the
//!   database and never copy a body: they get the bytes of the newest finished build (shared
//!   `Bytes`, precompressed), until the next build replaces them.
//! - **Bounded.** What is served is an index in memory (which feeds exist, the spellings that name
//!   them) and the files themselves, held in a cache of at most `feeds.memory_megabytes`; beyond
//!   it a feed is read back from the output folder, which holds the same bytes.
//!
//! Output is deterministic, so every instance serves the same bytes and ETag. Last-Modified is
//! when the bytes last changed: the modification time of the output file, rewritten only when
//! its bytes change.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use super::model::{Category, Entry, Feed, Format};
use super::output::{Coding, FeedFile, Held, Job, compress_files, format_path, sibling, write_feeds, write_if_changed};
use super::{FeedError, FeedSpec};
use crate::config::Config;
use crate::keywords::{self, KeywordName};
use crate::store::{ArticleFilter, ArticleId, ChangedKeyword, FeedArticle, Keyword, KeywordId, Store, StoreError};

/// The file in the output folder that records the revision its feeds were built at.
const STATE_FILE: &str = ".nashra-build";

/// Feeds built together: their models are read with a few queries, then rendered, compressed
/// and written on every core. It bounds a build's memory whatever the number of feeds.
const BATCH: usize = 64;

/// Which feed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeedKey {
    /// A feed declared in `feeds/`, by id.
    Declared(String),
    /// A keyword's feed, by slug.
    Keyword(String),
    /// A page of a site-wide declared feed's archive (RFC 5005), from 1 (the oldest articles).
    Archive { feed: String, page: u64 },
}

impl FeedKey {
    /// The path under the output folder and under `/feeds/`, without extension.
    pub fn path(&self) -> String {
        match self {
            FeedKey::Declared(id) => id.clone(),
            FeedKey::Keyword(slug) => format!("keywords/{slug}"),
            FeedKey::Archive { feed, page } => format!("archive/{feed}/{page}"),
        }
    }

    /// An archive page never changes once written.
    pub fn is_archive(&self) -> bool {
        matches!(self, FeedKey::Archive { .. })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// Feeds built (those whose content changed since the last build).
    pub feeds: usize,
    pub files_written: usize,
    /// Feeds that could not be built (each is logged with its reason).
    pub failed: usize,
    /// The URLs of the feeds whose bytes changed (each format), for WebSub.
    pub changed: Vec<String>,
}

#[derive(Clone)]
struct BySize;

impl quick_cache::Weighter<(FeedKey, Format), Held> for BySize {
    fn weight(&self, _: &(FeedKey, Format), held: &Held) -> u64 {
        // Weight 0 is never evicted.
        if held.on_disk { held.file.size() as u64 } else { 0 }
    }
}

/// A file published before its compressed variants were made.
struct Pending {
    key: FeedKey,
    format: Format,
    path: PathBuf,
    etag: String,
}

/// Which feeds exist, as the latest build left them.
#[derive(Default)]
struct Index {
    /// Published keyword feeds by slug.
    keywords: HashMap<String, Keyword>,
    /// Slug by matching form, to find a feed by any spelling.
    slugs: HashMap<String, String>,
    /// Every keyword's id by matching form, published or not (a declared feed may name a tag).
    ids: HashMap<String, KeywordId>,
    opml: Option<Bytes>,
    /// How many archive pages each site-wide declared feed has.
    archives: HashMap<String, u64>,
    /// A build finished; before it a request may only be answered from the output folder.
    ready: bool,
}

/// What the builder knows of the last build it made.
#[derive(Default)]
struct Built {
    /// The feed revision every feed is built at (`None`: nothing built by this process yet).
    revision: Option<i64>,
    /// The next build builds every feed, whatever the folder records.
    everything: bool,
}

#[derive(Clone)]
pub struct Publisher {
    config: Arc<Config>,
    store: Store,
    index: Arc<RwLock<Index>>,
    files: Arc<quick_cache::sync::Cache<(FeedKey, Format), Held, BySize>>,
    builder: Arc<tokio::sync::Mutex<Built>>,
    /// This process serves feeds over HTTP: built files are kept in memory. A process that only
    /// builds (`nashra collect`, `feeds build`) keeps none.
    serving: Arc<std::sync::atomic::AtomicBool>,
    /// Raised each time a build puts files in memory: a request that read a file from the
    /// folder keeps it only if no build came in between (it may have read the old bytes).
    generation: Arc<std::sync::atomic::AtomicU64>,
}

impl Publisher {
    pub fn new(config: Arc<Config>, store: Store) -> Self {
        let budget = config.feeds.memory_bytes;
        Self {
            files: Arc::new(quick_cache::sync::Cache::with_weighter(
                usize::try_from(budget / 50_000).unwrap_or(1000).max(16),
                budget,
                BySize,
            )),
            config,
            store,
            index: Arc::default(),
            builder: Arc::default(),
            serving: Arc::default(),
            generation: Arc::default(),
        }
    }

    /// Builds the feeds whose content changed since the last build (every feed the first time a
    /// process builds, unless the output folder records a build of the same configuration),
    /// writes the files whose bytes changed and serves the new bytes. A feed that fails is logged
    /// and skipped (and tried again next time); the others are built. One build at a time.
    pub async fn build(&self, now: DateTime<Utc>) -> Result<BuildReport, FeedError> {
        let mut built = self.builder.lock().await;
        let revision = self.store.feed_revision().await?;
        if built.revision == Some(revision) && !built.everything {
            return Ok(BuildReport::default());
        }
        let first = built.revision.is_none() || built.everything;
        // What the folder already holds: the revision a finished build of this configuration saved.
        let since = match built.revision {
            _ if built.everything => 0,
            Some(r) => r,
            None => self.saved_revision().unwrap_or(0),
        };
        built.everything = false;
        let changed = self.store.keywords_changed_after(if first { 0 } else { since }).await?;
        let changed_ids: HashSet<KeywordId> =
            changed.iter().filter(|c| c.revision > since).map(|c| c.keyword.id).collect();
        let (dirty, gone) = self.update_index(&changed, since, first);
        // Out of the index now, so out of the folder now (whatever happens to this build).
        for key in gone {
            self.withdraw(&key);
        }
        let mut dirty: HashSet<FeedKey> = dirty;
        if first && since > 0 {
            // Files a crash left missing or empty are written again.
            dirty.extend(self.published_keys().into_iter().filter(|key| !self.files_present(key)));
        }
        let mut keys: Vec<FeedKey> = self
            .config
            .feeds
            .declared
            .iter()
            .filter(|spec| {
                dirty.contains(&FeedKey::Declared(spec.id.clone()))
                    || self.declared_changed(spec, since, revision, &changed_ids)
            })
            .map(|spec| FeedKey::Declared(spec.id.clone()))
            .collect();
        let mut keyword_keys: Vec<FeedKey> = dirty.into_iter().filter(|k| matches!(k, FeedKey::Keyword(_))).collect();
        keyword_keys.sort_by_key(FeedKey::path);
        keys.extend(keyword_keys);

        // Archives: the pages completed since (all of them checked the first time).
        let mut archives = Vec::new();
        for spec in self.config.feeds.declared.iter().filter(|s| s.keywords.is_empty()) {
            if !first && !keys.contains(&FeedKey::Declared(spec.id.clone())) {
                continue;
            }
            if first && let Ok(mut index) = self.index.write() {
                index.archives.remove(&spec.id);
            }
            let (pages, complete) = self.archive_pages_to_build(spec).await?;
            keys.extend(pages);
            archives.push((spec.id.clone(), complete));
        }

        let mut report = BuildReport::default();
        let mut failed_archives = HashSet::new();
        let mut pending = Vec::new();
        let started = std::time::Instant::now();
        for batch in keys.chunks(BATCH) {
            for (key, outcome) in batch.iter().zip(self.publish_batch(batch, now, &mut pending).await?) {
                match outcome {
                    Ok(written) => {
                        report.feeds += 1;
                        report.files_written += written;
                        if written > 0 && !key.is_archive() {
                            let base = feed_url(&self.config.site.base_url, key);
                            report.changed.extend(Format::ALL.iter().map(|f| format!("{base}.{}", f.extension())));
                        }
                    }
                    Err(e) => {
                        tracing::error!(feed = %key.path(), "feed not built: {e}");
                        report.failed += 1;
                        if let FeedKey::Archive { feed, .. } = key {
                            failed_archives.insert(feed.clone());
                        }
                    }
                }
            }
        }
        // An archive with a page that failed is counted again (its files checked) next time.
        archives.retain(|(id, _)| !failed_archives.contains(id));
        if let Ok(mut index) = self.index.write() {
            index.archives.extend(archives);
        }
        let published = started.elapsed();
        // Every changed feed is served by now; its compressed variants follow.
        self.compress(&pending).await;
        if !pending.is_empty() {
            tracing::info!(
                files = pending.len(),
                published_ms = published.as_millis() as u64,
                compressed_ms = (started.elapsed() - published).as_millis() as u64,
                "feeds published, then compressed"
            );
        }
        if first || !changed.is_empty() {
            report.files_written += self.publish_opml();
        }
        if let Ok(mut index) = self.index.write() {
            index.ready = true;
        }
        // A failed feed is tried again at the next build: the revision stays where it was.
        if report.failed == 0 {
            built.revision = Some(revision);
            self.save_revision(revision);
        } else {
            built.revision = Some(since);
        }
        if report.feeds > 0 {
            tracing::info!(
                feeds = report.feeds,
                written = report.files_written,
                failed = report.failed,
                revision,
                "feeds built"
            );
        }
        Ok(report)
    }

    /// Keeps the files of the builds to come in memory, for the HTTP server.
    pub fn serve_from_memory(&self) {
        self.serving.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn serving(&self) -> bool {
        self.serving.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Makes the next build build every feed and compare it with its file, whatever the output
    /// folder records (`nashra feeds build --full`, after the folder was edited by hand).
    pub async fn build_everything_next(&self) {
        self.builder.lock().await.everything = true;
    }

    /// A declared feed of every article (no keywords): the feeds that have an archive.
    fn site_wide(&self, id: &str) -> Option<&FeedSpec> {
        self.config.feeds.declared.iter().find(|s| s.id == id && s.keywords.is_empty())
    }

    /// The archive pages of `spec` that are complete and not written yet (each one's files
    /// checked when the index does not know how many there are), and how many are complete. A
    /// page holds `spec.limit` articles in the order they were stored, so it never changes.
    async fn archive_pages_to_build(&self, spec: &FeedSpec) -> Result<(Vec<FeedKey>, u64), FeedError> {
        let complete = self.archive_pages(spec).await?;
        let known = self.index.read().ok().and_then(|i| i.archives.get(&spec.id).copied());
        let pages = (1..=complete)
            .map(|page| FeedKey::Archive { feed: spec.id.clone(), page })
            .filter(|key| match (known, key) {
                (Some(n), FeedKey::Archive { page, .. }) => *page > n,
                _ => !self.files_present(key),
            })
            .collect();
        Ok((pages, complete))
    }

    /// How many complete archive pages a site-wide feed has.
    async fn archive_pages(&self, spec: &FeedSpec) -> Result<u64, FeedError> {
        let count = u64::try_from(self.store.count_articles().await?).unwrap_or(0);
        Ok(count / u64::from(spec.limit.max(1)))
    }

    /// Takes the changed keywords into the index. Returns the keyword feeds to build (all
    /// published ones the first time, else those changed after `since`) and those to withdraw
    /// (tags whose articles fell below the threshold).
    fn update_index(&self, changed: &[ChangedKeyword], since: i64, first: bool) -> (HashSet<FeedKey>, Vec<FeedKey>) {
        let min = i64::from(self.config.feeds.tag_feed_min_articles);
        let mut dirty = HashSet::new();
        let mut gone = Vec::new();
        let Ok(mut index) = self.index.write() else { return (dirty, gone) };
        if first {
            index.keywords.clear();
            index.slugs.clear();
            index.ids.clear();
        }
        for c in changed {
            let k = &c.keyword;
            index.ids.insert(k.normalized.clone(), k.id);
            let key = FeedKey::Keyword(k.slug.clone());
            if k.origin().in_vocabulary() || c.articles >= min {
                if c.revision > since {
                    dirty.insert(key);
                }
                index.slugs.insert(k.normalized.clone(), k.slug.clone());
                index.keywords.insert(k.slug.clone(), k.clone());
            } else if index.keywords.remove(&k.slug).is_some() || (first && self.file_path(&key, Format::Atom).exists())
            {
                index.slugs.remove(&k.normalized);
                gone.push(key);
            }
        }
        (dirty, gone)
    }

    /// Whether a declared feed shows something that changed after `since` (the store being at
    /// `revision`; `changed` the keywords changed since).
    fn declared_changed(&self, spec: &FeedSpec, since: i64, revision: i64, changed: &HashSet<KeywordId>) -> bool {
        if since == 0 {
            return true;
        }
        if spec.keywords.is_empty() {
            return revision > since;
        }
        self.declared_keyword_ids(spec).iter().any(|id| changed.contains(id))
    }

    /// The ids of the keywords a declared feed names (published as feeds or not).
    fn declared_keyword_ids(&self, spec: &FeedSpec) -> Vec<KeywordId> {
        let Ok(index) = self.index.read() else { return Vec::new() };
        spec.keywords
            .iter()
            .filter_map(|k| KeywordName::parse(k).ok())
            .filter_map(|name| index.ids.get(keywords::canonical(&self.config.keywords, name).normalized()).copied())
            .collect()
    }

    fn slug_of<'i>(&self, index: &'i Index, typed: &str) -> Option<&'i str> {
        let name = KeywordName::parse(typed).ok()?;
        let name = keywords::canonical(&self.config.keywords, name);
        index.slugs.get(name.normalized()).map(String::as_str)
    }

    fn published_keys(&self) -> Vec<FeedKey> {
        let mut keys: Vec<FeedKey> =
            self.config.feeds.declared.iter().map(|spec| FeedKey::Declared(spec.id.clone())).collect();
        if let Ok(index) = self.index.read() {
            keys.extend(index.keywords.keys().map(|slug| FeedKey::Keyword(slug.clone())));
        }
        keys
    }

    fn files_present(&self, key: &FeedKey) -> bool {
        Format::ALL.iter().all(|f| {
            let path = self.file_path(key, *f);
            [Coding::Identity, Coding::Gzip, Coding::Brotli]
                .iter()
                .all(|c| std::fs::metadata(sibling(&path, *c)).is_ok_and(|m| m.len() > 0))
        })
    }

    /// A tag feed whose articles fell below the threshold: no longer served, its files removed.
    fn withdraw(&self, key: &FeedKey) {
        for format in Format::ALL {
            self.files.remove(&(key.clone(), format));
            let path = self.file_path(key, format);
            for coding in [Coding::Identity, Coding::Gzip, Coding::Brotli] {
                let file = sibling(&path, coding);
                if let Err(e) = std::fs::remove_file(&file)
                    && e.kind() != std::io::ErrorKind::NotFound
                {
                    tracing::warn!("cannot remove {}: {e}", file.display());
                }
            }
        }
    }

    /// Builds the OPML list from the index, serves it and writes it. Returns the files written.
    fn publish_opml(&self) -> usize {
        let opml = match self.opml_now() {
            Ok(opml) => opml,
            Err(e) => {
                tracing::error!("feeds.opml not built: {e}");
                return 0;
            }
        };
        // Like a feed file, the list is a copy for static serving: a failure is logged, not fatal.
        let written = match write_if_changed(&self.config.feeds.output_dir.join("feeds.opml"), &opml) {
            Ok(written) => usize::from(written),
            Err(e) => {
                tracing::error!("feeds.opml not written: {e}");
                0
            }
        };
        if let Ok(mut index) = self.index.write() {
            index.opml = Some(Bytes::from(opml));
        }
        written
    }

    fn opml_now(&self) -> Result<Vec<u8>, FeedError> {
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
        if let Ok(index) = self.index.read() {
            let mut keywords: Vec<&Keyword> = index.keywords.values().collect();
            keywords.sort_by(|a, b| a.slug.cmp(&b.slug));
            feeds.extend(keywords.into_iter().map(|keyword| super::opml::Outline {
                title: format!("{site} — {}", keyword.name),
                feed_base: feed_url(base, &FeedKey::Keyword(keyword.slug.clone())),
            }));
        }
        super::opml::write(&format!("{site} — الخلاصات"), base.as_str(), &feeds)
            .map_err(|reason| FeedError::Write { feed: "feeds.opml".into(), reason })
    }

    /// Every feed as an OPML list, as the latest build left it (before any build in this
    /// process, as the output folder holds it).
    pub fn opml(&self) -> Option<Bytes> {
        if let Ok(index) = self.index.read()
            && let Some(opml) = &index.opml
        {
            return Some(opml.clone());
        }
        std::fs::read(self.config.feeds.output_dir.join("feeds.opml")).ok().map(Bytes::from)
    }

    /// The feed file for `key` in `format`, as the latest build left it; `None` if no such feed.
    /// Never touches the database: from memory, or from the output folder (which holds the same
    /// bytes) when the feed is beyond the memory budget or no build has finished yet.
    pub fn get(&self, key: &FeedKey, format: Format) -> Option<Arc<FeedFile>> {
        let ready = match self.index.read() {
            Ok(index) => match key {
                FeedKey::Declared(id) => {
                    if !self.config.feeds.declared.iter().any(|s| &s.id == id) {
                        return None;
                    }
                    index.ready
                }
                FeedKey::Keyword(slug) => {
                    if index.ready && !index.keywords.contains_key(slug) {
                        return None;
                    }
                    index.ready
                }
                FeedKey::Archive { feed, page } => {
                    if self.site_wide(feed).is_none()
                        || *page == 0
                        || (index.ready && index.archives.get(feed).is_none_or(|n| page > n))
                    {
                        return None;
                    }
                    index.ready
                }
            },
            Err(_) => false,
        };
        let cache_key = (key.clone(), format);
        if let Some(held) = self.files.get(&cache_key) {
            return Some(held.file);
        }
        // Before the first build only a name the folder can hold is looked up there.
        if !ready && !safe_file_name(&key.path()) {
            return None;
        }
        let generation = self.generation.load(std::sync::atomic::Ordering::Acquire);
        let file = Arc::new(FeedFile::read(format, &self.file_path(key, format)).ok()?);
        if ready && self.generation.load(std::sync::atomic::Ordering::Acquire) == generation {
            self.files.insert(cache_key, Held { file: file.clone(), on_disk: true });
        }
        Some(file)
    }

    /// Finds a keyword feed by what a reader typed: its slug or any spelling of the keyword
    /// (or of one of its aliases).
    pub fn keyword_key(&self, typed: &str) -> Option<FeedKey> {
        let index = self.index.read().ok()?;
        if index.keywords.contains_key(typed) {
            return Some(FeedKey::Keyword(typed.to_owned()));
        }
        if let Some(slug) = self.slug_of(&index, &typed.replace('-', " ")) {
            return Some(FeedKey::Keyword(slug.to_owned()));
        }
        // Before the first build, the slug itself is looked for in the output folder.
        (!index.ready).then(|| FeedKey::Keyword(typed.to_owned()))
    }

    /// The keyword of a keyword feed.
    pub fn keyword(&self, key: &FeedKey) -> Option<Keyword> {
        let FeedKey::Keyword(slug) = key else { return None };
        self.index.read().ok()?.keywords.get(slug).cloned()
    }

    /// The published keyword feeds (name and slug), by slug.
    pub fn keyword_feeds(&self) -> Vec<Keyword> {
        let mut out: Vec<Keyword> =
            self.index.read().map(|index| index.keywords.values().cloned().collect()).unwrap_or_default();
        out.sort_by(|a, b| a.slug.cmp(&b.slug));
        out
    }

    /// Makes the compressed variants of the files published uncompressed, on every core, and
    /// serves them. Each is read back from the output folder (memory stays flat however many
    /// changed); one that changed again meanwhile is left to its own build.
    async fn compress(&self, pending: &[Pending]) {
        for chunk in pending.chunks(BATCH * Format::ALL.len()) {
            let files: Vec<(PathBuf, Arc<FeedFile>)> = chunk
                .iter()
                .filter_map(|p| {
                    let held = self.files.get(&(p.key.clone(), p.format)).map(|h| h.file);
                    let file = match held {
                        Some(file) if file.etag == p.etag => file,
                        _ => {
                            let bytes = std::fs::read(&p.path).ok()?;
                            let modified = std::fs::metadata(&p.path).and_then(|m| m.modified()).ok()?;
                            Arc::new(FeedFile::uncompressed(p.format, bytes, modified.into()))
                        }
                    };
                    (file.etag == p.etag).then(|| (p.path.clone(), file))
                })
                .collect();
            let keys: Vec<(FeedKey, Format)> = chunk
                .iter()
                .filter(|p| files.iter().any(|(path, _)| path == &p.path))
                .map(|p| (p.key.clone(), p.format))
                .collect();
            let Ok(done) = tokio::task::spawn_blocking(move || compress_files(&files)).await else {
                tracing::error!("the compressors stopped; feeds are served uncompressed until their next build");
                return;
            };
            self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            for (key, file) in keys.into_iter().zip(done) {
                let current = self.files.get(&key).map(|h| h.file.etag.clone());
                if self.serving() && current.is_none_or(|etag| etag == file.etag) {
                    self.files.insert(key, Held { file: Arc::new(file), on_disk: true });
                }
            }
        }
    }

    /// Builds `batch` (models read together, files written on every core), serves the new
    /// bytes (uncompressed ones are added to `pending`) and returns, per feed in order, how many
    /// files were written or why it failed.
    async fn publish_batch(
        &self,
        batch: &[FeedKey],
        now: DateTime<Utc>,
        pending: &mut Vec<Pending>,
    ) -> Result<Vec<Result<usize, FeedError>>, StoreError> {
        let mut models = self.keyword_models(batch).await?;
        let mut jobs = Vec::with_capacity(batch.len());
        let mut outcomes: Vec<Option<Result<usize, FeedError>>> = Vec::with_capacity(batch.len());
        for key in batch {
            let feed = match models.remove(key) {
                Some(feed) => Ok(Some(feed)),
                None => match self.model(key).await {
                    Err(FeedError::Store(e)) => return Err(e),
                    other => other,
                },
            };
            match feed {
                Ok(Some(feed)) => {
                    let previous = Format::ALL.map(|f| self.files.get(&(key.clone(), f)));
                    jobs.push(Job { path: self.config.feeds.output_dir.join(key.path()), feed, previous });
                    outcomes.push(None);
                }
                Ok(None) => outcomes.push(Some(Ok(0))),
                Err(e) => outcomes.push(Some(Err(e))),
            }
        }
        let count = jobs.len();
        let written = match tokio::task::spawn_blocking(move || write_feeds(&jobs, now)).await {
            Ok(written) => written,
            Err(e) => (0..count)
                .map(|_| Err(FeedError::Write { feed: "(batch)".into(), reason: format!("the writers stopped: {e}") }))
                .collect(),
        };
        self.generation.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let mut written = written.into_iter();
        let mut out = Vec::with_capacity(batch.len());
        for (key, outcome) in batch.iter().zip(outcomes) {
            let outcome = match outcome {
                Some(done) => done,
                None => match written.next() {
                    Some(Ok((files, n))) => {
                        // Served from memory, but the folder holds the old bytes: a failure, tried
                        // again at the next build.
                        let not_written = files.iter().any(|(_, held, _)| !held.on_disk);
                        for (format, held, uncompressed) in files {
                            if uncompressed && held.on_disk {
                                let path = format_path(&self.config.feeds.output_dir.join(key.path()), format);
                                pending.push(Pending { key: key.clone(), format, path, etag: held.file.etag.clone() });
                            }
                            if self.serving() {
                                self.files.insert((key.clone(), format), held);
                            }
                        }
                        if not_written {
                            Err(FeedError::Write {
                                feed: key.path(),
                                reason: "not written to the output folder".into(),
                            })
                        } else {
                            Ok(n)
                        }
                    }
                    Some(Err(e)) => Err(e),
                    None => Ok(0),
                },
            };
            out.push(outcome);
        }
        Ok(out)
    }

    /// The models of the keyword feeds in `batch`, read with three queries for all of them.
    async fn keyword_models(&self, batch: &[FeedKey]) -> Result<HashMap<FeedKey, Feed>, StoreError> {
        let keywords: Vec<(FeedKey, Keyword)> = match self.index.read() {
            Ok(index) => batch
                .iter()
                .filter_map(|key| match key {
                    FeedKey::Keyword(slug) => index.keywords.get(slug).map(|k| (key.clone(), k.clone())),
                    _ => None,
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        if keywords.is_empty() {
            return Ok(HashMap::new());
        }
        let ids: Vec<KeywordId> = keywords.iter().map(|(_, k)| k.id).collect();
        let pairs = self.store.newest_of_keywords(&ids, self.config.feeds.keyword_feed_items).await?;
        let mut article_ids: Vec<ArticleId> = pairs.iter().map(|(_, a)| *a).collect();
        article_ids.sort_unstable();
        article_ids.dedup();
        let articles: HashMap<ArticleId, FeedArticle> =
            self.store.feed_articles_by_id(&article_ids).await?.into_iter().map(|a| (a.id, a)).collect();
        let categories = self.categories(&article_ids).await?;
        let mut of_keyword: HashMap<KeywordId, Vec<&FeedArticle>> = HashMap::new();
        for (keyword, article) in &pairs {
            if let Some(a) = articles.get(article) {
                of_keyword.entry(*keyword).or_default().push(a);
            }
        }
        let site = &self.config.site;
        Ok(keywords
            .into_iter()
            .map(|(key, keyword)| {
                let mut shown = of_keyword.remove(&keyword.id).unwrap_or_default();
                shown.sort_by(|a, b| b.published_at.cmp(&a.published_at).then(b.id.cmp(&a.id)));
                let entries = shown
                    .into_iter()
                    .map(|a| entry(categories.get(&a.id).cloned().unwrap_or_default(), a.clone()))
                    .collect();
                let feed = self.feed(
                    &key,
                    format!("{} — {}", site.title, keyword.name),
                    format!("أحدث المقالات عن «{}»", keyword.name),
                    site.language.clone(),
                    entries,
                    Some(keyword.created_at),
                    super::History::default(),
                );
                (key, feed)
            })
            .collect())
    }

    /// The keywords of `articles` as entry categories (linked to their feeds when they have one).
    async fn categories(&self, articles: &[ArticleId]) -> Result<HashMap<ArticleId, Vec<Category>>, StoreError> {
        let pairs = self.store.keywords_of_articles(articles).await?;
        let site = &self.config.site;
        let index = self.index.read().ok();
        let mut categories: HashMap<ArticleId, Vec<Category>> = HashMap::new();
        for (article, k) in pairs {
            let published = index.as_ref().is_some_and(|i| i.keywords.contains_key(&k.slug));
            let feed_base = published.then(|| feed_url(&site.base_url, &FeedKey::Keyword(k.slug)));
            categories.entry(article).or_default().push(Category { name: k.name, feed_base });
        }
        Ok(categories)
    }

    /// A feed model from its parts.
    #[allow(clippy::too_many_arguments)]
    fn feed(
        &self,
        key: &FeedKey,
        title: String,
        description: String,
        language: String,
        entries: Vec<Entry>,
        empty_updated: Option<DateTime<Utc>>,
        history: super::History,
    ) -> Feed {
        let site = &self.config.site;
        // Never the clock: an empty feed must give the same bytes at every build.
        let updated = entries.iter().map(|e| e.updated).max().or(empty_updated).unwrap_or_else(epoch);
        Feed {
            title,
            description,
            language,
            site_url: site.base_url.clone(),
            self_base: feed_url(&site.base_url, key),
            hub: self.config.feeds.websub_hub.as_ref().map(ToString::to_string),
            history,
            updated,
            entries,
        }
    }

    /// The feed model: its articles newest first, each with its keywords as categories (linked
    /// to their feeds when they have one). `None`: no such feed.
    async fn model(&self, key: &FeedKey) -> Result<Option<Feed>, FeedError> {
        let site = &self.config.site;
        let mut history = super::History::default();
        let (title, description, language, articles, empty_updated) = match key {
            FeedKey::Declared(id) => {
                let Some(spec) = self.config.feeds.declared.iter().find(|s| &s.id == id) else { return Ok(None) };
                let mut articles = self.declared_articles(spec).await?;
                if self.site_wide(id).is_some() {
                    let pages = self.archive_pages(spec).await?;
                    history.prev_archive = (pages > 0)
                        .then(|| feed_url(&site.base_url, &FeedKey::Archive { feed: id.clone(), page: pages }));
                    // The articles no archive page holds yet are in the current feed too, whatever
                    // their dates: walking back from it reaches every article.
                    let size = spec.limit.max(1);
                    let tail = self.store.stored_articles(pages * u64::from(size), size).await?;
                    let shown: HashSet<i64> = articles.iter().map(|a| a.id).collect();
                    articles.extend(tail.into_iter().filter(|a| !shown.contains(&a.id)));
                    articles.sort_by(|a, b| b.published_at.cmp(&a.published_at).then(b.id.cmp(&a.id)));
                }
                let title = if spec.title.is_empty() { site.title.clone() } else { spec.title.clone() };
                let description =
                    if spec.description.is_empty() { site.description.clone() } else { spec.description.clone() };
                (title, description, spec.language.clone(), articles, None)
            }
            FeedKey::Archive { feed, page } => {
                let Some(spec) = self.site_wide(feed) else { return Ok(None) };
                let size = spec.limit.max(1);
                let articles = self.store.stored_articles((page - 1) * u64::from(size), size).await?;
                history.current = Some(feed_url(&site.base_url, &FeedKey::Declared(feed.clone())));
                history.prev_archive = (*page > 1)
                    .then(|| feed_url(&site.base_url, &FeedKey::Archive { feed: feed.clone(), page: page - 1 }));
                let title = if spec.title.is_empty() { site.title.clone() } else { spec.title.clone() };
                (
                    format!("{title} — الأرشيف {page}"),
                    format!("المقالات المحفوظة، الصفحة {page}"),
                    spec.language.clone(),
                    articles,
                    None,
                )
            }
            FeedKey::Keyword(slug) => {
                let Some(keyword) = self.index.read().ok().and_then(|i| i.keywords.get(slug).cloned()) else {
                    return Ok(None);
                };
                let articles = self
                    .store
                    .feed_articles(ArticleFilter::Keywords(&[keyword.id]), self.config.feeds.keyword_feed_items)
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
        let mut categories = self.categories(&ids).await?;
        let entries: Vec<Entry> =
            articles.into_iter().map(|a| entry(categories.remove(&a.id).unwrap_or_default(), a)).collect();
        Ok(Some(self.feed(key, title, description, language, entries, empty_updated, history)))
    }

    async fn declared_articles(&self, spec: &FeedSpec) -> Result<Vec<FeedArticle>, FeedError> {
        if spec.keywords.is_empty() {
            return Ok(self.store.feed_articles(ArticleFilter::All, spec.limit).await?);
        }
        let ids = self.declared_keyword_ids(spec);
        Ok(self.store.feed_articles(ArticleFilter::Keywords(&ids), spec.limit).await?)
    }

    fn file_path(&self, key: &FeedKey, format: Format) -> PathBuf {
        self.config.feeds.output_dir.join(format!("{}.{}", key.path(), format.extension()))
    }

    /// What, in the configuration and this program, decides a feed's bytes besides the store.
    fn fingerprint(&self) -> String {
        let c = &self.config;
        let text = format!(
            "{} {:?} {:?} {:?} {:?} {} {} {:?} {:?}",
            env!("CARGO_PKG_VERSION"),
            c.site.title,
            c.site.description,
            c.site.base_url.as_str(),
            c.site.language,
            c.feeds.keyword_feed_items,
            c.feeds.tag_feed_min_articles,
            c.feeds.websub_hub.as_ref().map(Url::as_str),
            (&c.feeds.declared, &c.keywords.aliases),
        );
        crate::store::hex_digest(&Sha256::digest(text.as_bytes())[..16])
    }

    /// The revision the output folder's feeds were built at, if a finished build of this same
    /// configuration recorded it.
    fn saved_revision(&self) -> Option<i64> {
        let text = std::fs::read_to_string(self.config.feeds.output_dir.join(STATE_FILE)).ok()?;
        let (revision, fingerprint) = text.trim().split_once(' ')?;
        (fingerprint == self.fingerprint()).then(|| revision.parse().ok()).flatten()
    }

    fn save_revision(&self, revision: i64) {
        let path = self.config.feeds.output_dir.join(STATE_FILE);
        if let Err(e) = write_if_changed(&path, format!("{revision} {}\n", self.fingerprint()).as_bytes()) {
            tracing::warn!("the next process will build every feed again: {e}");
        }
    }
}

/// A feed path made only of what slugs and declared ids are made of: no way out of the folder.
fn safe_file_name(path: &str) -> bool {
    let name = path.strip_prefix("keywords/").or_else(|| path.strip_prefix("archive/")).unwrap_or(path);
    name.split('/').count() <= 2
        && name.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_'))
        })
        && (path.starts_with("archive/") || !name.contains('/'))
}

/// The public URL of a feed, without extension; non-ASCII slugs are percent-encoded.
pub fn feed_url(base: &Url, key: &FeedKey) -> String {
    base.join(&format!("feeds/{}", key.path()))
        .map(|u| u.to_string())
        .unwrap_or_else(|_| format!("{base}feeds/{}", key.path()))
}

/// The `updated` of a declared feed with no articles at all.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().unwrap_or_default()
}

fn entry(categories: Vec<Category>, a: FeedArticle) -> Entry {
    Entry {
        content_html: super::model::with_direction(&a.body_html, &a.title),
        updated: a.updated_at.max(a.published_at),
        published: a.shown_published(),
        url: a.url,
        title: a.title,
        summary: a.summary,
        author: a.author,
        image: a.image_url,
        categories,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_a_slug_can_have_are_looked_up_in_the_folder() {
        assert!(safe_file_name("all"));
        assert!(safe_file_name("keywords/العراق"));
        assert!(safe_file_name("keywords/كأس-العالم"));
        assert!(safe_file_name("archive/all/12"));
        assert!(!safe_file_name("archive/../12"));
        assert!(!safe_file_name("archive/all/1/2"));
        for bad in ["keywords/../../etc/passwd", "keywords/..", "keywords/.nashra-build", "", "keywords/a/b", "a\\b"] {
            assert!(!safe_file_name(bad), "{bad}");
        }
    }
}
