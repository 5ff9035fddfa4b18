//! Subscriber administration: the address type, tokens, and adding or removing a subscriber with
//! the keywords they follow. Used by the command line now and by the web sign-up pages later.

mod by_mail;
mod export;
mod import;
pub mod links;
mod signup;

use std::fmt;

use chrono::{DateTime, Utc};
use lettre::Address;

use crate::config::Config;
use crate::keywords::{self, KeywordError, KeywordName};
use crate::store::{Keyword, KeywordOrigin, Refusal, Saved, Store, StoreError, Subscriber};

pub use by_mail::{ByMail, unsubscribe_by_mail};
pub use export::{EXPORT_HEADER, ExportError, export};
pub use import::{BATCH, ImportError, ImportOptions, ImportReport, import};
pub use links::{LinkError, Links, Purpose, Token};
pub use signup::{
    CONFIRM_FOR, FieldError, SignUp, SignUpError, SignUpForm, SignUpLimits, resolve_editions, resolve_keywords, sign_up,
};

/// A subscriber's address, validated and lower-cased (one subscriber per mailbox).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberEmail(String);

impl SubscriberEmail {
    pub fn parse(input: &str) -> Result<Self, SubscribeError> {
        let trimmed = input.trim();
        if trimmed.len() > 254 {
            return Err(SubscribeError::BadEmail(input.to_owned(), "longer than 254 characters".into()));
        }
        if trimmed.chars().any(|c| c.is_control() || c == char::REPLACEMENT_CHARACTER) {
            return Err(SubscribeError::BadEmail(
                input.to_owned(),
                "holds control characters or bytes that are not text".into(),
            ));
        }
        let address: Address =
            trimmed.parse().map_err(|e| SubscribeError::BadEmail(input.to_owned(), format!("{e}")))?;
        // One form per mailbox: lower case, and an internationalised domain in Unicode whether
        // it was typed so or in punycode (it goes to the relay in punycode).
        let (unicode, checked) = idna::domain_to_unicode(address.domain());
        if checked.is_err() {
            return Err(SubscribeError::BadEmail(input.to_owned(), "the domain is not a valid domain name".into()));
        }
        Ok(Self(format!("{}@{unicode}", address.user()).to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs: the domain only.
    pub fn domain(&self) -> &str {
        self.0.rsplit('@').next().unwrap_or_default()
    }
}

impl fmt::Display for SubscriberEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("{0:?} is not a valid email address: {1}")]
    BadEmail(String, String),
    #[error(transparent)]
    BadKeyword(#[from] KeywordError),
    #[error("give at least one keyword to follow")]
    NoKeywords,
    #[error("a reader follows at most {max} keywords, not {0}", max = signup::MAX_KEYWORDS)]
    TooManyKeywords(usize),
    #[error("cannot create a secure token: {0}")]
    Token(String),
    #[error("{0} unsubscribed; to bring them back, say so explicitly (--resubscribe)")]
    Unsubscribed(String),
    #[error("{0} is suppressed ({1}); to write to it again, say so explicitly (--resubscribe)")]
    Suppressed(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A reader's pause once they end it at `now`: ended now, so that what was published during
/// it is not sent when digests resume (a pause already over stays as it was).
pub fn resumed(paused_until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match paused_until {
        Some(until) if until > now => Some(now),
        other => other,
    }
}

/// A random, URL-safe secret for a subscriber's links (128 bits, hex).
pub fn new_token() -> Result<String, SubscribeError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| SubscribeError::Token(e.to_string()))?;
    Ok(crate::store::hex_digest(&bytes))
}

/// Adds an active subscriber following `keywords` (or updates an existing one), making the
/// keywords part of the vocabulary. A reader who unsubscribed, or whose address is suppressed,
/// is brought back only with `resubscribe`. Returns the subscriber, their keywords and whether
/// they are new.
pub async fn add(
    store: &Store,
    config: &Config,
    email: &SubscriberEmail,
    keywords: &[String],
    now: DateTime<Utc>,
    resubscribe: bool,
) -> Result<(Subscriber, Vec<Keyword>, bool), SubscribeError> {
    let names = keywords
        .iter()
        .filter(|k| !k.trim().is_empty())
        .map(|k| KeywordName::parse(k))
        .collect::<Result<Vec<_>, _>>()?;
    if names.is_empty() {
        return Err(SubscribeError::NoKeywords);
    }
    if names.len() > signup::MAX_KEYWORDS {
        return Err(SubscribeError::TooManyKeywords(names.len()));
    }
    let keywords = keywords::follow(store, config, &names, KeywordOrigin::Subscriber, now).await?;
    let ids: Vec<_> = keywords.iter().map(|k| k.id).collect();
    let (subscriber, created) =
        match store.upsert_subscriber(email.as_str(), &new_token()?, &ids, now, resubscribe).await? {
            Saved::Added(s) => (s, true),
            Saved::Updated(s) => (s, false),
            Saved::Refused(Refusal::Unsubscribed) => return Err(SubscribeError::Unsubscribed(email.to_string())),
            Saved::Refused(Refusal::Suppressed(reason)) => {
                return Err(SubscribeError::Suppressed(email.to_string(), reason));
            }
        };
    tracing::info!(domain = email.domain(), created, keywords = ids.len(), "subscriber saved");
    Ok((subscriber, keywords, created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_validated_and_lower_cased() {
        assert_eq!(SubscriberEmail::parse(" Reader@Example.ORG ").unwrap().as_str(), "reader@example.org");
        assert!(SubscriberEmail::parse("not-an-address").is_err());
        assert!(SubscriberEmail::parse("a@b@c").is_err());
        assert!(SubscriberEmail::parse("").is_err());
    }

    #[test]
    fn an_internationalised_domain_is_one_address_in_either_form() {
        let unicode = SubscriberEmail::parse("Reader@مثال.مصر").unwrap();
        assert_eq!(unicode.as_str(), "reader@مثال.مصر");
        assert_eq!(SubscriberEmail::parse("reader@XN--MGBH0FB.XN--WGBH1C").unwrap(), unicode);
        assert!(SubscriberEmail::parse("reader@xn--zz.example").is_err(), "broken punycode");
        assert!(SubscriberEmail::parse("\u{FFFD}\u{FFFD}@example.org").is_err(), "bytes that were not UTF-8");
    }

    #[test]
    fn tokens_are_long_and_different() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
