//! A reader's sign-up from the web, with double opt-in: the form is checked field by field (an
//! Arabic message for each bad one), the reader waits for confirmation following the keywords
//! they chose among the site's, and the confirmation email is made for them. Whatever the
//! address — new, waiting, confirmed, suppressed — the visitor is told the same thing, so the
//! form does not tell who is subscribed.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::SubscriberEmail;
use crate::config::Config;
use crate::keywords::{self, KeywordName};
use crate::store::{Keyword, Preferences, Refusal, Saved, SignedUp, Store, StoreError, Subscriber};

/// How long a confirmation link works.
pub const CONFIRM_FOR: Duration = Duration::hours(48);
/// The most keywords one sign-up may follow.
pub const MAX_KEYWORDS: usize = 50;

/// The form as it came: the address, and the keywords ticked or typed.
#[derive(Debug, Clone, Default)]
pub struct SignUpForm {
    pub email: String,
    pub keywords: Vec<String>,
    /// The editions chosen, by name; `None`: every edition.
    pub editions: Option<Vec<String>>,
    /// The caller vouches that the reader confirmed elsewhere (the publisher's own opt-in,
    /// through the API): they are active at once and no confirmation is sent.
    pub confirmed: bool,
}

/// A field of the form and what is wrong with it, in Arabic, for the page.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    #[error("the form has {} bad field(s)", .0.len())]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Ours, not the visitor's: no secure token, or a template that fails.
    #[error("{0}")]
    Internal(String),
}

/// What the sign-up did; the visitor sees the same page whatever it is.
#[derive(Debug)]
pub enum SignUp {
    /// Waiting for confirmation: send this reader the confirmation email
    /// (`digest::confirmation`).
    Confirm { subscriber: Subscriber },
    /// Already confirmed, or suppressed: nothing to send.
    Nothing,
    /// Confirmed elsewhere (`SignUpForm::confirmed`): active now, new or updated.
    Active { subscriber: Subscriber, created: bool },
    /// Confirmed elsewhere, but the reader unsubscribed here or the address is suppressed: left
    /// as it is (only the reader, or an operator, brings them back).
    Refused(Refusal),
}

/// The keywords a visitor chose, each resolved to one of the site's keywords (any spelling the
/// matcher takes as the same, or an alias); unknown ones are reported, never added.
pub async fn resolve_keywords(store: &Store, config: &Config, chosen: &[String]) -> Result<Vec<Keyword>, SignUpError> {
    let mut errors = Vec::new();
    let mut found: Vec<Keyword> = Vec::new();
    let wanted: Vec<&str> =
        chosen.iter().flat_map(|k| k.split([',', '،'])).map(str::trim).filter(|k| !k.is_empty()).collect();
    if wanted.is_empty() {
        errors.push(FieldError {
            field: "keywords", message: "اختر موضوعًا واحدًا على الأقل.".into()
        });
    }
    if wanted.len() > MAX_KEYWORDS {
        errors.push(FieldError {
            field: "keywords", message: format!("اختر {MAX_KEYWORDS} موضوعًا على الأكثر.")
        });
        return Err(SignUpError::Invalid(errors));
    }
    for text in wanted {
        let keyword = match KeywordName::parse(text) {
            Ok(name) => {
                let name = keywords::canonical(&config.keywords, name);
                store.keyword_by_normalized(name.normalized()).await?.filter(|k| k.origin().in_vocabulary())
            }
            Err(_) => None,
        };
        match keyword {
            Some(k) if !found.iter().any(|f| f.id == k.id) => found.push(k),
            Some(_) => {}
            None => errors
                .push(FieldError {
                    field: "keywords", message: format!("«{}» ليس من موضوعات الموقع.", shorten(text))
                }),
        }
    }
    if errors.is_empty() { Ok(found) } else { Err(SignUpError::Invalid(errors)) }
}

/// The editions a reader chose, each one of the configured editions (by name); `None` or every
/// edition: an empty list, which means every edition, present and future.
pub fn resolve_editions(config: &Config, chosen: Option<&[String]>) -> Result<Vec<String>, FieldError> {
    let Some(chosen) = chosen else { return Ok(Vec::new()) };
    let mut found: Vec<String> = Vec::new();
    for name in chosen.iter().map(|n| n.trim()) {
        match config.editions.iter().find(|e| e.name == name) {
            Some(e) if !found.contains(&e.name) => found.push(e.name.clone()),
            Some(_) => {}
            None => {
                return Err(FieldError {
                    field: "editions",
                    message: format!("«{}» ليست من نشرات الموقع.", shorten(name)),
                });
            }
        }
    }
    if found.is_empty() {
        return Err(FieldError {
            field: "editions", message: "اختر نشرة واحدة على الأقل.".into()
        });
    }
    if config.editions.iter().all(|e| found.contains(&e.name)) {
        found.clear();
    }
    found.sort();
    Ok(found)
}

/// Checks the form and records the sign-up; says whether a confirmation email is to be sent.
pub async fn sign_up(
    store: &Store,
    config: &Config,
    limits: &SignUpLimits,
    form: &SignUpForm,
    now: DateTime<Utc>,
) -> Result<SignUp, SignUpError> {
    let email = SubscriberEmail::parse(&form.email).map_err(|_| FieldError {
        field: "email",
        message: "اكتب عنوان بريد إلكتروني صحيحًا، مثل name@example.com.".into(),
    });
    let keywords = resolve_keywords(store, config, &form.keywords).await;
    let editions = resolve_editions(config, form.editions.as_deref());
    let (email, keywords, editions) = match (email, keywords, editions) {
        (Ok(e), Ok(k), Ok(d)) => (e, k, d),
        (email, keywords, editions) => {
            let mut errors: Vec<FieldError> = email.err().into_iter().collect();
            match keywords {
                Err(SignUpError::Invalid(more)) => errors.extend(more),
                Err(store_error) => return Err(store_error),
                Ok(_) => {}
            }
            errors.extend(editions.err());
            return Err(SignUpError::Invalid(errors));
        }
    };
    let ids: Vec<_> = keywords.iter().map(|k| k.id).collect();
    let token = super::new_token().map_err(|e| SignUpError::Internal(e.to_string()))?;
    if form.confirmed {
        let (subscriber, created) = match store.upsert_subscriber(email.as_str(), &token, &ids, now, false).await? {
            Saved::Added(s) => (s, true),
            Saved::Updated(s) => (s, false),
            Saved::Refused(refusal) => return Ok(SignUp::Refused(refusal)),
        };
        // Editions not given leave a known reader's choice as it is.
        let given = (form.editions.is_some() || created).then_some(editions.as_slice());
        store.save_preferences(subscriber.id, &Preferences { editions: given, ..Preferences::default() }, now).await?;
        tracing::info!(domain = email.domain(), created, "reader confirmed elsewhere saved");
        return Ok(SignUp::Active { subscriber, created });
    }
    if !limits.address_may(email.as_str()) {
        // Nothing is written either: a flood cannot change what the reader will confirm.
        tracing::warn!(domain = email.domain(), "sign-ups for this address are coming too fast: ignored");
        return Ok(SignUp::Nothing);
    }
    match store.sign_up(email.as_str(), &token, &ids, &editions, now).await? {
        SignedUp::Pending(subscriber) => {
            tracing::info!(domain = email.domain(), keywords = ids.len(), "sign-up waiting for confirmation");
            Ok(SignUp::Confirm { subscriber })
        }
        SignedUp::Active(_) | SignedUp::Suppressed => {
            tracing::info!(
                domain = email.domain(),
                "sign-up for an address already confirmed or suppressed: nothing sent"
            );
            Ok(SignUp::Nothing)
        }
    }
}

/// Sign-ups per client address and confirmation emails per mailbox, so the form cannot be used
/// to flood a list or someone's inbox. Kept in memory by each instance.
pub struct SignUpLimits {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    per_address: DefaultKeyedRateLimiter<String>,
    checks: AtomicU64,
}

impl Default for SignUpLimits {
    fn default() -> Self {
        // 20 sign-ups an hour from one client (5 at once); 3 confirmation emails an hour to one
        // address (2 at once).
        let per_client = Quota::per_hour(NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN));
        let per_address = Quota::per_hour(NonZeroU32::new(3).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        Self {
            per_client: RateLimiter::keyed(per_client),
            per_address: RateLimiter::keyed(per_address),
            checks: AtomicU64::new(0),
        }
    }
}

impl SignUpLimits {
    /// Whether `client` may sign up now. The caller names the client as it counts clients (the
    /// web server: an IPv6 client by its /64 network, see `web::client_key`).
    pub fn client_may(&self, client: IpAddr) -> bool {
        self.forget_now_and_then();
        self.per_client.check_key(&client).is_ok()
    }

    /// Whether a sign-up (and its confirmation email) for `email` may be taken now. Counted by
    /// mailbox: `name+anything@domain` is `name@domain`.
    pub fn address_may(&self, email: &str) -> bool {
        self.per_address.check_key(&mailbox(email)).is_ok()
    }

    /// Keys whose limit has fully recovered are forgotten now and then (every sign-up passes
    /// here first): memory stays bounded.
    fn forget_now_and_then(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.per_client.retain_recent();
            self.per_address.retain_recent();
        }
    }
}

/// The mailbox an address reaches: lower-cased, without a `+tag`.
fn mailbox(email: &str) -> String {
    let email = email.to_lowercase();
    match email.rsplit_once('@') {
        Some((local, domain)) => format!("{}@{domain}", local.split('+').next().unwrap_or(local)),
        None => email,
    }
}

/// A visitor's text as an error message quotes it: at most 40 characters.
fn shorten(text: &str) -> String {
    let mut chars = text.chars();
    let short: String = chars.by_ref().take(40).collect();
    if chars.next().is_some() { format!("{short}…") } else { short }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_mailboxes_and_clients() {
        let limits = SignUpLimits::default();
        assert!(limits.address_may("Victim@example.org"));
        assert!(limits.address_may("victim+1@example.org"));
        assert!(!limits.address_may("victim+2@EXAMPLE.org"), "the same mailbox, a third time at once");
        assert!(limits.address_may("other@example.org"));
        let a: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..5 {
            assert!(limits.client_may(a));
        }
        assert!(!limits.client_may(a), "a sixth sign-up at once");
        assert!(limits.client_may("203.0.113.8".parse().unwrap()));
    }
}
