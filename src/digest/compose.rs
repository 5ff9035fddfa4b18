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
use super::{ConfirmContext, SubscriberContext, Templates};
use crate::arabic::{format_date, format_datetime, format_hijri_date};
use crate::config::Config;
use crate::delivery::{Compose, Composed};
use crate::feeds::{FeedKey, feed_url};
use crate::store::{ArticleId, Claimed, ContentId, DigestArticle, Keyword, KeywordId, Store, Subscriber};
use crate::subscribers::{CONFIRM_FOR, Links, Purpose};

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
        let context = self.load(Some(content), &claimed.schedule, claimed.tick, claimed.sections.as_deref()).await?;
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
        let sections =
            super::parse_content_key(&key).ok_or_else(|| format!("digest content {content} is unreadable"))?;
        self.web_page_of(&schedule, tick, &sections).await.map(Some)
    }

    /// `sections` of the edition of `schedule` at `tick` as a page of the site (the archive),
    /// rendered by the digest's templates without any reader's lines.
    pub async fn web_page_of(
        &self,
        schedule: &str,
        tick: DateTime<Utc>,
        sections: &[super::Section],
    ) -> Result<String, String> {
        let key = super::content_key(sections);
        let mut ctx = self.load(None, schedule, tick, Some(&key)).await?;
        ctx.web = true;
        let templates = self.templates.clone();
        let rendered = tokio::task::spawn_blocking(move || templates.render_digest(&ctx))
            .await
            .map_err(|e| format!("rendering stopped: {e}"))?;
        Ok(rendered.map_err(|e| e.to_string())?.html)
    }

    /// The digest's context from its stored content (its sections `key`, read if not given),
    /// the articles and keywords it names, for the edition of `schedule` at `tick`. A digest
    /// not stored (`content` `None`, a preview) has no page on the site.
    async fn load(
        &self,
        content: Option<ContentId>,
        schedule: &str,
        tick: DateTime<Utc>,
        key: Option<&str>,
    ) -> Result<DigestContext, String> {
        let key = match (key, content) {
            (Some(key), _) => key.to_owned(),
            (None, None) => return Err("a digest without its sections".into()),
            (None, Some(content)) => self
                .store
                .digest_content(content)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("digest content {content} is gone"))?,
        };
        let sections = parse_content_key(&key).ok_or_else(|| format!("digest content {content:?} is unreadable"))?;
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
                        // An undated article shows no date rather than the time it was found.
                        published: a
                            .shown_published()
                            .map(|p| format_datetime(&p.with_timezone(&tz)))
                            .unwrap_or_default(),
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
        let view = content.map(|c| format!("digests/{c}.{}", self.links.tag("digest", &c.to_string())));
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
            view_url: view.and_then(|v| base.join(&v).ok()).map(|u| u.to_string()).unwrap_or_default(),
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

/// The reader a message is for: their id, address and the secret of their links.
#[derive(Debug, Clone, Copy)]
pub struct Recipient<'a> {
    pub id: i64,
    pub email: &'a str,
    pub token: &'a str,
}

/// A reader's own links.
struct ReaderLinks {
    unsubscribe_url: String,
    unsubscribe_token: String,
    preferences_url: String,
}

impl Composer {
    fn reader_links(&self, reader: Recipient<'_>) -> ReaderLinks {
        ReaderLinks {
            unsubscribe_url: self.links.url(Purpose::Unsubscribe, reader.id, reader.token, None),
            unsubscribe_token: self.links.token(Purpose::Unsubscribe, reader.id, reader.token, None),
            preferences_url: self.links.url(Purpose::Preferences, reader.id, reader.token, None),
        }
    }

    /// The message of a rendered digest, with the list's headers for `reader`.
    fn message(&self, email: RenderedEmail, links: ReaderLinks, schedule: &str, message_id: String) -> Composed {
        Composed {
            subject: email.subject,
            html: email.html,
            text: email.text,
            unsubscribe_mailto: self
                .config
                .mail
                .unsubscribe_address
                .as_ref()
                .map(|a| format!("mailto:{a}?subject=unsubscribe%20{}", links.unsubscribe_token))
                .unwrap_or_default(),
            unsubscribe_url: links.unsubscribe_url,
            list_id: list_id(&self.config, schedule),
            message_id,
        }
    }

    /// What `sections` of the edition of `schedule` at `tick` make for `reader`, rendered by the
    /// same code as the edition's messages, recording nothing: for `digest preview` (a reader's
    /// own message) and `digest test` (`reader` `None`: the links lead to the site's home page).
    pub async fn compose_sections(
        &self,
        schedule: &str,
        tick: DateTime<Utc>,
        sections: &[super::Section],
        reader: Option<Recipient<'_>>,
    ) -> Result<Composed, String> {
        let key = super::content_key(sections);
        let mut ctx = self.load(None, schedule, tick, Some(&key)).await?;
        let (links, message_id) = match reader {
            Some(r) => (self.reader_links(r), message_id(&self.config, schedule, tick, r.id)),
            None => {
                let home = self.config.site.base_url.to_string();
                let host = self.config.site.base_url.host_str().unwrap_or("nashra.invalid");
                let links = ReaderLinks {
                    unsubscribe_url: home.clone(),
                    unsubscribe_token: String::new(),
                    preferences_url: home,
                };
                (links, format!("<test.{schedule}.{}@{host}>", Utc::now().timestamp_millis()))
            }
        };
        ctx.subscriber.email = reader.map(|r| r.email.to_owned()).unwrap_or_default();
        ctx.unsubscribe_url = links.unsubscribe_url.clone();
        ctx.preferences_url = links.preferences_url.clone();
        let email = self.templates.render_digest(&ctx).map_err(|e| e.to_string())?;
        let mut composed = self.message(email, links, schedule, message_id);
        if reader.is_none() {
            // Not a list's message: no unsubscribe headers that lead nowhere.
            composed.unsubscribe_url.clear();
            composed.unsubscribe_mailto.clear();
            composed.list_id.clear();
        }
        Ok(composed)
    }
}

impl Compose for Composer {
    async fn compose(&self, claimed: &Claimed) -> Result<Composed, String> {
        self.keep_fresh();
        let content = claimed.content_id.ok_or("this message was planned without a content")?;
        let prepared = self.prepared(content, claimed).await?;
        let links = self.reader_links(Recipient {
            id: claimed.subscriber_id,
            email: &claimed.recipient,
            token: &claimed.token,
        });
        let reader = ReaderFields {
            email: &claimed.recipient,
            unsubscribe_url: &links.unsubscribe_url,
            preferences_url: &links.preferences_url,
        };
        let email = match &prepared.merged {
            Some(merged) => self.templates.merge(merged, &reader),
            None => {
                let mut ctx = prepared.context.clone();
                ctx.subscriber.email = claimed.recipient.clone();
                ctx.unsubscribe_url = links.unsubscribe_url.clone();
                ctx.preferences_url = links.preferences_url.clone();
                self.templates.render_digest(&ctx).map_err(|e| e.to_string())?
            }
        };
        let id = message_id(&self.config, &claimed.schedule, claimed.tick, claimed.subscriber_id);
        Ok(self.message(email, links, &claimed.schedule, id))
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

/// The confirmation email of a reader waiting to be confirmed.
pub fn confirmation(
    config: &Config,
    links: &Links,
    templates: &Templates,
    subscriber: &Subscriber,
    now: DateTime<Utc>,
) -> Result<Composed, String> {
    let expires = now + CONFIRM_FOR;
    let ctx = ConfirmContext {
        site: SiteContext::of(config),
        confirm_url: links.url(Purpose::Confirm, subscriber.id, &subscriber.token, Some(expires)),
        expires: format_datetime(&expires.with_timezone(&config.site.time_zone)),
    };
    let rendered = templates.render_confirmation(&ctx).map_err(|e| e.to_string())?;
    let host = config.site.base_url.host_str().unwrap_or("nashra.invalid");
    Ok(Composed {
        subject: rendered.subject,
        html: rendered.html,
        text: rendered.text,
        unsubscribe_url: String::new(),
        unsubscribe_mailto: String::new(),
        list_id: String::new(),
        message_id: format!("<confirm.{}.{}@{host}>", subscriber.id, now.timestamp_millis()),
    })
}
