//! Composing a claimed delivery's message when it is sent. Each stored content (what a digest
//! says) is loaded and rendered once — CSS inlined once — with merge fields for the reader's own
//! address and links; each message is that rendering with one reader's values filled in. The
//! renderings wait in a small cache bounded by size, and sending claims messages grouped by
//! content, so a content is rendered about once per edition whatever the list's size.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::plan::parse_content_key;
use super::render::{
    ArticleContext, DigestContext, EditionContext, ReaderFields, RenderedEmail, SectionContext, SiteContext,
};
use super::{SubscriberContext, Templates};
use crate::arabic::{format_date, format_datetime, format_hijri_date};
use crate::config::Config;
use crate::delivery::{Compose, Composed};
use crate::feeds::{FeedKey, feed_url};
use crate::store::{ArticleId, Claimed, ContentId, DigestArticle, Keyword, KeywordId, Store};
use crate::subscribers::{Links, Purpose};

/// Renderings kept, by total size (bytes of subject, HTML and text).
const CACHE_BYTES: usize = 16 * 1024 * 1024;

pub struct Composer {
    store: Store,
    config: Arc<Config>,
    templates: Arc<Templates>,
    /// Makes each reader's signed unsubscribe link.
    links: Arc<Links>,
    cache: Mutex<Cache>,
    /// The articles and keywords contents name, kept between contents (an edition's contents
    /// share a few hundred articles at most).
    articles: Mutex<HashMap<ArticleId, Arc<DigestArticle>>>,
    keywords: Mutex<HashMap<KeywordId, Arc<Keyword>>>,
    /// When the caches were last emptied: an article edited since shows as edited in the
    /// messages sent after the next emptying.
    emptied: Mutex<Instant>,
}

/// How long what the caches hold may be shown.
const FRESH_FOR: Duration = Duration::from_secs(600);

/// Articles or keywords kept at most; past that the map starts again.
const KEEP_ITEMS: usize = 20_000;

/// A content, rendered for any reader: the context without the reader, and its rendering with
/// merge fields (when the templates allow it).
struct Prepared {
    context: DigestContext,
    merged: Option<RenderedEmail>,
    size: usize,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<ContentId, Arc<Prepared>>,
    order: VecDeque<ContentId>,
    bytes: usize,
}

impl Cache {
    fn get(&self, id: ContentId) -> Option<Arc<Prepared>> {
        self.entries.get(&id).cloned()
    }

    fn insert(&mut self, id: ContentId, prepared: Arc<Prepared>) {
        if self.entries.contains_key(&id) {
            return;
        }
        self.bytes += prepared.size;
        self.entries.insert(id, prepared);
        self.order.push_back(id);
        while self.bytes > CACHE_BYTES && self.order.len() > 1 {
            if let Some(old) = self.order.pop_front()
                && let Some(p) = self.entries.remove(&old)
            {
                self.bytes -= p.size;
            }
        }
    }
}

impl Composer {
    pub fn new(store: Store, config: Arc<Config>, templates: Arc<Templates>, links: Arc<Links>) -> Self {
        Self {
            store,
            config,
            templates,
            links,
            cache: Mutex::default(),
            articles: Mutex::default(),
            keywords: Mutex::default(),
            emptied: Mutex::new(Instant::now()),
        }
    }

    /// Empties the caches when what they hold has been shown for `FRESH_FOR`.
    fn keep_fresh(&self) {
        let Ok(mut emptied) = self.emptied.lock() else { return };
        if emptied.elapsed() < FRESH_FOR {
            return;
        }
        *emptied = Instant::now();
        if let Ok(mut c) = self.cache.lock() {
            *c = Cache::default();
        }
        if let Ok(mut a) = self.articles.lock() {
            a.clear();
        }
        if let Ok(mut k) = self.keywords.lock() {
            k.clear();
        }
    }

    async fn prepared(&self, content: ContentId, claimed: &Claimed) -> Result<Arc<Prepared>, String> {
        if let Some(p) = self.cache.lock().ok().and_then(|c| c.get(content)) {
            return Ok(p);
        }
        let context = self.load(content, &claimed.schedule, claimed.tick, claimed.sections.as_deref()).await?;
        let merged = if self.templates.mergeable() {
            // Rendering is the costly part (a millisecond or so): off the sending lanes' thread.
            let (templates, ctx) = (self.templates.clone(), context.with_merge_fields());
            let rendered = tokio::task::spawn_blocking(move || templates.render_digest(&ctx))
                .await
                .map_err(|e| format!("rendering stopped: {e}"))?;
            Some(rendered.map_err(|e| e.to_string())?)
        } else {
            None
        };
        let size = merged.as_ref().map_or(4096, |m| m.subject.len() + m.html.len() + m.text.len());
        let prepared = Arc::new(Prepared { context, merged, size });
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(content, prepared.clone());
        }
        Ok(prepared)
    }

    /// This content as its page on the site ("view in browser"): the digest without anyone's
    /// own lines, rendered by the same templates. `None`: no such content (any more).
    pub async fn web_page(&self, content: ContentId) -> Result<Option<String>, String> {
        let found = self.store.digest_content_of_edition(content).await.map_err(|e| e.to_string())?;
        let Some((schedule, tick, key)) = found else { return Ok(None) };
        let mut ctx = self.load(content, &schedule, tick, Some(&key)).await?;
        ctx.web = true;
        let templates = self.templates.clone();
        let rendered = tokio::task::spawn_blocking(move || templates.render_digest(&ctx))
            .await
            .map_err(|e| format!("rendering stopped: {e}"))?;
        Ok(Some(rendered.map_err(|e| e.to_string())?.html))
    }

    /// The digest's context from its stored content (its sections `key`, read if not given),
    /// the articles and keywords it names, for the edition of `schedule` at `tick`.
    async fn load(
        &self,
        content: ContentId,
        schedule: &str,
        tick: DateTime<Utc>,
        key: Option<&str>,
    ) -> Result<DigestContext, String> {
        let key = match key {
            Some(key) => key.to_owned(),
            None => self
                .store
                .digest_content(content)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("digest content {content} is gone"))?,
        };
        let sections = parse_content_key(&key).ok_or_else(|| format!("digest content {content} is unreadable"))?;
        let keyword_ids: Vec<_> = sections.iter().map(|(k, _)| *k).collect::<HashSet<_>>().into_iter().collect();
        let article_ids: Vec<_> =
            sections.iter().flat_map(|(_, a)| a.iter().copied()).collect::<HashSet<_>>().into_iter().collect();
        let store = &self.store;
        let keywords = fetch_missing(
            &self.keywords,
            &keyword_ids,
            |ids| async move { store.keywords_by_ids(&ids).await },
            |k| k.id,
        )
        .await?;
        let articles = fetch_missing(
            &self.articles,
            &article_ids,
            |ids| async move { store.digest_articles(&ids).await },
            |a| a.id,
        )
        .await?;
        let config = &self.config;
        let edition = config.editions.iter().find(|e| e.name == schedule);
        let tz = edition.map_or(config.site.time_zone, |e| e.schedule.time_zone());
        let base = &config.site.base_url;
        let sections: Vec<SectionContext> = sections
            .iter()
            .filter_map(|(keyword, ids)| {
                let keyword = keywords.get(keyword)?;
                let articles: Vec<ArticleContext> = ids
                    .iter()
                    .filter_map(|id| articles.get(id))
                    .map(|a| a.as_ref())
                    .map(|a| ArticleContext {
                        title: a.title.clone(),
                        url: a.url.clone(),
                        summary: a.summary.clone(),
                        author: a.author.clone(),
                        section: a.section.clone(),
                        published: format_datetime(&a.published_at.with_timezone(&tz)),
                    })
                    .collect();
                (!articles.is_empty()).then(|| SectionContext {
                    keyword: keyword.name.clone(),
                    feed_url: format!("{}.atom", feed_url(base, &FeedKey::Keyword(keyword.slug.clone()))),
                    articles,
                })
            })
            .collect();
        if sections.is_empty() {
            return Err("every article of this digest is gone".into());
        }
        let day = tick.with_timezone(&tz);
        let view = format!("digests/{content}.{}", self.links.tag("digest", &content.to_string()));
        Ok(DigestContext {
            site: SiteContext::of(config),
            edition: EditionContext {
                name: schedule.to_owned(),
                title: edition.map_or_else(|| schedule.to_owned(), |e| e.title.clone()),
                date: format_date(&day),
                hijri_date: config.site.hijri_date.then(|| format_hijri_date(&day)).flatten(),
            },
            subscriber: SubscriberContext { email: String::new() },
            article_count: sections.iter().map(|s| s.articles.len()).sum(),
            sections,
            unsubscribe_url: String::new(),
            preferences_url: String::new(),
            view_url: base.join(&view).map(|u| u.to_string()).unwrap_or_default(),
            web: false,
        })
    }
}

/// The items with these ids: from `kept`, and those not there from `fetch` (then kept).
async fn fetch_missing<T, F, Fut>(
    kept: &Mutex<HashMap<i64, Arc<T>>>,
    ids: &[i64],
    fetch: F,
    id_of: impl Fn(&T) -> i64,
) -> Result<HashMap<i64, Arc<T>>, String>
where
    F: FnOnce(Vec<i64>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, crate::store::StoreError>>,
{
    let mut found = HashMap::with_capacity(ids.len());
    let mut missing = Vec::new();
    if let Ok(kept) = kept.lock() {
        for id in ids {
            match kept.get(id) {
                Some(item) => {
                    found.insert(*id, item.clone());
                }
                None => missing.push(*id),
            }
        }
    }
    if !missing.is_empty() {
        let fetched = fetch(missing).await.map_err(|e| e.to_string())?;
        let mut kept = kept.lock().map_err(|_| "a cache was poisoned".to_owned())?;
        if kept.len() > KEEP_ITEMS {
            kept.clear();
        }
        for item in fetched {
            let item = Arc::new(item);
            kept.insert(id_of(&item), item.clone());
            found.insert(id_of(&item), item);
        }
    }
    Ok(found)
}

impl Compose for Composer {
    async fn compose(&self, claimed: &Claimed) -> Result<Composed, String> {
        self.keep_fresh();
        let content = claimed.content_id.ok_or("this message was planned without a content")?;
        let prepared = self.prepared(content, claimed).await?;
        let unsubscribe_url = self.links.url(Purpose::Unsubscribe, claimed.subscriber_id, &claimed.token, None);
        let unsubscribe_token = self.links.token(Purpose::Unsubscribe, claimed.subscriber_id, &claimed.token, None);
        let preferences_url = self.links.url(Purpose::Preferences, claimed.subscriber_id, &claimed.token, None);
        let reader = ReaderFields {
            email: &claimed.recipient,
            unsubscribe_url: &unsubscribe_url,
            preferences_url: &preferences_url,
        };
        let email = match &prepared.merged {
            Some(merged) => self.templates.merge(merged, &reader),
            None => {
                let mut ctx = prepared.context.clone();
                ctx.subscriber.email = claimed.recipient.clone();
                ctx.unsubscribe_url = unsubscribe_url.clone();
                ctx.preferences_url = preferences_url.clone();
                self.templates.render_digest(&ctx).map_err(|e| e.to_string())?
            }
        };
        Ok(Composed {
            subject: email.subject,
            html: email.html,
            text: email.text,
            unsubscribe_url,
            unsubscribe_mailto: format!(
                "mailto:{}?subject=unsubscribe%20{unsubscribe_token}",
                self.config.mail.from.email
            ),
            list_id: list_id(&self.config, &claimed.schedule),
            message_id: message_id(&self.config, &claimed.schedule, claimed.tick, claimed.subscriber_id),
        })
    }
}

/// `<{edition}.{site host}>` (RFC 2919): mail clients and filters know the list by it.
pub fn list_id(config: &Config, schedule: &str) -> String {
    let host = config.site.base_url.host_str().unwrap_or("nashra.invalid");
    let label: String = schedule
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c.to_ascii_lowercase() } else { '-' })
        .collect();
    let label = label.trim_matches('-');
    format!("<{}.{host}>", if label.is_empty() { "digest" } else { label })
}

/// `<digest.{edition}.{tick}.{subscriber}@{site host}>`: the same for every attempt of one
/// message, different for every other message.
pub fn message_id(config: &Config, schedule: &str, tick: DateTime<Utc>, subscriber: i64) -> String {
    let host = config.site.base_url.host_str().unwrap_or("nashra.invalid");
    format!("<digest.{schedule}.{}.{subscriber}@{host}>", tick.format("%Y%m%dT%H%M%SZ"))
}
