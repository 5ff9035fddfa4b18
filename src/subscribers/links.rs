//! The links a subscriber is sent — confirm, preferences, unsubscribe — signed for their purpose.
//!
//! A link's token is `{purpose}{subscriber id}.{expiry}.{mac}`: the purpose a letter (`c`, `p`,
//! `u`), the expiry in Unix seconds (`0`: none), and the first 128 bits of HMAC-SHA256 over those
//! and the subscriber's own random token, in hex. So a link for one purpose is refused for another,
//! a confirmation link stops working when it expires, and every link of a reader dies when their
//! random token is replaced. The key is the first of the operator's `site.secrets` (the others
//! still verify, so a key can be rotated without breaking the links already sent), or a random
//! one kept in the database when none is configured; macs are compared in constant time.

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
use sha2::Sha256;
use url::Url;

use crate::config::Config;
use crate::store::{Store, SubscriberId};

type HmacSha256 = hmac::Hmac<Sha256>;

/// Bytes of the mac kept in a token.
const MAC_BYTES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Confirm,
    Preferences,
    Unsubscribe,
}

impl Purpose {
    fn letter(self) -> char {
        match self {
            Purpose::Confirm => 'c',
            Purpose::Preferences => 'p',
            Purpose::Unsubscribe => 'u',
        }
    }

    fn from_letter(c: char) -> Option<Self> {
        match c {
            'c' => Some(Purpose::Confirm),
            'p' => Some(Purpose::Preferences),
            'u' => Some(Purpose::Unsubscribe),
            _ => None,
        }
    }

    /// The path of the page the link opens.
    fn path(self) -> &'static str {
        match self {
            Purpose::Confirm => "confirm",
            Purpose::Preferences => "preferences",
            Purpose::Unsubscribe => "unsubscribe",
        }
    }
}

/// A token read, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub purpose: Purpose,
    pub subscriber: SubscriberId,
    pub expires: Option<DateTime<Utc>>,
    mac: [u8; MAC_BYTES],
}

impl Token {
    /// Reads `{purpose}{id}.{expiry}.{mac}`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('.');
        let (head, expiry, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let mut chars = head.chars();
        let purpose = Purpose::from_letter(chars.next()?)?;
        let id = chars.as_str();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 18 {
            return None;
        }
        let subscriber: SubscriberId = id.parse().ok()?;
        if expiry.is_empty() || expiry.len() > 12 || !expiry.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let expires = match expiry.parse::<i64>().ok()? {
            0 => None,
            secs => Some(DateTime::from_timestamp(secs, 0)?),
        };
        Some(Self { purpose, subscriber, expires, mac: from_hex(mac)? })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is not one of ours, or was altered")]
    Forged,
    #[error("the link has expired")]
    Expired,
    #[error("the link is for another page")]
    WrongPurpose,
}

/// Makes and checks the signed links of one site.
#[derive(Clone)]
pub struct Links {
    base_url: Url,
    /// The first signs; all verify. Keyed once, cloned for each use.
    keys: Vec<HmacSha256>,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Links({}, {} key(s))", self.base_url, self.keys.len())
    }
}

impl Links {
    /// `keys` must not be empty: the first signs.
    pub fn new(base_url: Url, keys: Vec<Vec<u8>>) -> Result<Self, String> {
        if keys.is_empty() || keys.iter().any(Vec::is_empty) {
            return Err("signing links needs at least one non-empty key".into());
        }
        let keys = keys
            .iter()
            .map(|k| <HmacSha256 as KeyInit>::new_from_slice(k).map_err(|e| format!("cannot key the link signer: {e}")))
            .collect::<Result<_, _>>()?;
        Ok(Self { base_url, keys })
    }

    /// The links of the configured site: signed with the first of `site.secrets`; verified with
    /// each of them and with the key kept in the database (made on first use), so links sent
    /// before the operator configured or rotated keys keep working — until the operator retires
    /// that key (`site.stored_key_verifies = false`).
    pub async fn load(config: &Config, store: &Store, now: DateTime<Utc>) -> Result<Self, String> {
        let fresh = format!(
            "{}{}",
            super::new_token().map_err(|e| e.to_string())?,
            super::new_token().map_err(|e| e.to_string())?
        );
        let stored = store.secret("link-key", &fresh, now).await.map_err(|e| e.to_string())?;
        // Retired by the operator once their own keys sign everything.
        let stored = (config.site.stored_key_verifies || config.site.secrets.is_empty()).then_some(stored.as_str());
        let keys = config.site.secrets.iter().map(crate::config::Secret::expose).chain(stored);
        Self::new(config.site.base_url.clone(), keys.map(|k| k.as_bytes().to_vec()).collect())
    }

    /// The token of a link for `purpose` to subscriber `id` whose random token is `nonce`.
    pub fn token(&self, purpose: Purpose, id: SubscriberId, nonce: &str, expires: Option<DateTime<Utc>>) -> String {
        let expiry = expires.map_or(0, |t| t.timestamp().max(1));
        let mac = mac(self.keys[0].clone(), purpose, id, expiry, nonce);
        format!("{}{id}.{expiry}.{}", purpose.letter(), crate::store::hex_digest(&mac))
    }

    /// The full link.
    pub fn url(&self, purpose: Purpose, id: SubscriberId, nonce: &str, expires: Option<DateTime<Utc>>) -> String {
        let token = self.token(purpose, id, nonce, expires);
        match self.base_url.join(&format!("{}/{token}", purpose.path())) {
            Ok(url) => url.to_string(),
            // A base URL that cannot take a path was refused by the configuration check.
            Err(_) => format!("{}{}/{token}", self.base_url, purpose.path()),
        }
    }

    /// Checks `token` for `purpose` against the subscriber's random token `nonce`.
    pub fn verify(&self, token: &Token, purpose: Purpose, nonce: &str, now: DateTime<Utc>) -> Result<(), LinkError> {
        let expiry = token.expires.map_or(0, |t| t.timestamp());
        let genuine = self.keys.iter().any(|key| {
            let mut m = key.clone();
            feed(&mut m, token.purpose, token.subscriber, expiry, nonce);
            m.verify_truncated_left(&token.mac).is_ok()
        });
        if !genuine {
            return Err(LinkError::Forged);
        }
        if token.purpose != purpose {
            return Err(LinkError::WrongPurpose);
        }
        if token.expires.is_some_and(|t| t <= now) {
            return Err(LinkError::Expired);
        }
        Ok(())
    }
}

impl Links {
    /// A mac over `data` for `domain` (a kind of token, so one kind is never taken for
    /// another), hex: for tokens that belong to no reader.
    pub fn tag(&self, domain: &str, data: &str) -> String {
        let mut m = self.keys[0].clone();
        tag_feed(&mut m, domain, data);
        let full = m.finalize().into_bytes();
        crate::store::hex_digest(&full[..MAC_BYTES])
    }

    /// Whether `tag` is the tag of `data` for `domain` (under any key), in constant time.
    pub fn check_tag(&self, domain: &str, data: &str, tag: &str) -> bool {
        let Some(mac) = from_hex(tag) else { return false };
        self.keys.iter().any(|key| {
            let mut m = key.clone();
            tag_feed(&mut m, domain, data);
            m.verify_truncated_left(&mac).is_ok()
        })
    }

    /// The anti-forgery token of a form, for the browser whose cookie holds `nonce` (a random
    /// value): a page on another site can neither read the cookie nor compute the token.
    pub fn form_token(&self, nonce: &str) -> String {
        self.tag("form", nonce)
    }

    pub fn check_form_token(&self, nonce: &str, token: &str) -> bool {
        self.check_tag("form", nonce, token)
    }
}

fn tag_feed(m: &mut HmacSha256, domain: &str, data: &str) {
    m.update(format!("nashra-tag-v1\0{domain}\0").as_bytes());
    m.update(data.as_bytes());
}

fn feed(m: &mut HmacSha256, purpose: Purpose, id: SubscriberId, expiry: i64, nonce: &str) {
    m.update(format!("nashra-link-v1\0{}\0{id}\0{expiry}\0", purpose.letter()).as_bytes());
    m.update(nonce.as_bytes());
}

fn mac(mut m: HmacSha256, purpose: Purpose, id: SubscriberId, expiry: i64, nonce: &str) -> [u8; MAC_BYTES] {
    feed(&mut m, purpose, id, expiry, nonce);
    let full = m.finalize().into_bytes();
    let mut out = [0u8; MAC_BYTES];
    out.copy_from_slice(&full[..MAC_BYTES]);
    out
}

fn from_hex(text: &str) -> Option<[u8; MAC_BYTES]> {
    let bytes = text.as_bytes();
    if bytes.len() != 2 * MAC_BYTES {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    let mut out = [0u8; MAC_BYTES];
    for (i, pair) in bytes.chunks(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(keys: &[&str]) -> Links {
        Links::new(
            Url::parse("https://news.example.org/nashra/").unwrap(),
            keys.iter().map(|k| k.as_bytes().to_vec()).collect(),
        )
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z").unwrap().to_utc()
    }

    #[test]
    fn form_tokens_belong_to_their_cookie() {
        let l = links(&["first key, long enough to be a real secret"]);
        let token = l.form_token("cookie-a");
        assert!(l.check_form_token("cookie-a", &token));
        assert!(!l.check_form_token("cookie-b", &token));
        assert!(!l.check_form_token("cookie-a", "00"));
        assert!(!l.check_form_token("cookie-a", &"0".repeat(32)));
        let rotated = links(&["a second key, also long enough to sign", "first key, long enough to be a real secret"]);
        assert!(rotated.check_form_token("cookie-a", &token), "a form served before the rotation still posts");
        // Never the same as a link's mac over similar text.
        assert_ne!(token, l.token(Purpose::Confirm, 1, "cookie-a", None));
    }

    #[test]
    fn a_link_verifies_for_its_purpose_and_reader_only() {
        let l = links(&["first key, long enough to be a real secret"]);
        let url = l.url(Purpose::Unsubscribe, 42, "nonce-of-42", None);
        assert!(url.starts_with("https://news.example.org/nashra/unsubscribe/u42.0."), "{url}");
        let token = Token::parse(url.rsplit('/').next().unwrap()).unwrap();
        assert_eq!((token.purpose, token.subscriber, token.expires), (Purpose::Unsubscribe, 42, None));
        assert_eq!(l.verify(&token, Purpose::Unsubscribe, "nonce-of-42", now()), Ok(()));
        assert_eq!(l.verify(&token, Purpose::Preferences, "nonce-of-42", now()), Err(LinkError::WrongPurpose));
        // Another reader's nonce (or a replaced one) does not verify.
        assert_eq!(l.verify(&token, Purpose::Unsubscribe, "another", now()), Err(LinkError::Forged));
    }

    #[test]
    fn an_altered_token_is_refused() {
        let l = links(&["k1"]);
        let text = l.token(Purpose::Preferences, 7, "n", None);
        let token = Token::parse(&text).unwrap();
        // The same mac on another reader, another purpose or with an expiry added.
        for forged in
            [text.replacen("p7.", "p8.", 1), text.replacen('p', "u", 1), text.replacen(".0.", ".9999999999.", 1)]
        {
            let t = Token::parse(&forged).unwrap();
            let purpose = t.purpose;
            assert_eq!(l.verify(&t, purpose, "n", now()), Err(LinkError::Forged), "{forged}");
        }
        // A flipped bit of the mac.
        let mut flipped = token.clone();
        flipped.mac[0] ^= 1;
        assert_eq!(l.verify(&flipped, Purpose::Preferences, "n", now()), Err(LinkError::Forged));
    }

    #[test]
    fn confirmation_links_expire() {
        let l = links(&["k1"]);
        let expires = now() + chrono::Duration::hours(48);
        let token = Token::parse(&l.token(Purpose::Confirm, 3, "n", Some(expires))).unwrap();
        assert_eq!(token.expires, Some(expires));
        assert_eq!(l.verify(&token, Purpose::Confirm, "n", now()), Ok(()));
        assert_eq!(l.verify(&token, Purpose::Confirm, "n", expires), Err(LinkError::Expired));
    }

    #[test]
    fn a_rotated_key_still_verifies_links_already_sent() {
        let old = links(&["old key"]);
        let token = Token::parse(&old.token(Purpose::Unsubscribe, 5, "n", None)).unwrap();
        let rotated = links(&["new key", "old key"]);
        assert_eq!(rotated.verify(&token, Purpose::Unsubscribe, "n", now()), Ok(()));
        let dropped = links(&["new key"]);
        assert_eq!(dropped.verify(&token, Purpose::Unsubscribe, "n", now()), Err(LinkError::Forged));
        // New links are signed with the first key.
        let fresh = Token::parse(&rotated.token(Purpose::Unsubscribe, 5, "n", None)).unwrap();
        assert_eq!(dropped.verify(&fresh, Purpose::Unsubscribe, "n", now()), Ok(()));
    }

    #[test]
    fn malformed_tokens_are_not_read() {
        for bad in [
            "",
            "u42",
            "u42.0",
            "x42.0.00000000000000000000000000000000",
            "u.0.00000000000000000000000000000000",
            "u-1.0.00000000000000000000000000000000",
            "u42.0.0000",
            "u42.0.zz000000000000000000000000000000",
            "u42.0.00000000000000000000000000000000.extra",
            "u99999999999999999999.0.00000000000000000000000000000000",
            "u42.99999999999999.00000000000000000000000000000000",
            "uـ٤٢.0.00000000000000000000000000000000",
        ] {
            assert_eq!(Token::parse(bad), None, "{bad:?}");
        }
    }
}
