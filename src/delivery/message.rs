//! A rendered digest → a MIME message: multipart/alternative (plain text, then HTML), a stable
//! `Message-ID` per (edition, subscriber), and RFC 8058 one-click unsubscribe headers.

use chrono::{DateTime, Utc};
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{Address, Message};

#[derive(Debug, Clone, PartialEq, Eq)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.trim().trim_start_matches('<').trim_end_matches('>').to_owned()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// `Content-Language: ar` (RFC 3282), so clients and screen readers pick Arabic.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ContentLanguage;

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "ar".to_owned())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ListUnsubscribePost;

impl Header for ListUnsubscribePost {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// A message's content, rendered for its reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub subject: String,
    pub html: String,
    pub text: String,
    pub unsubscribe_url: String,
    /// `<…@…>`, the same for every attempt of this message.
    pub message_id: String,
}

/// The recipient's address as the relay gets it: an internationalised domain in punycode (the
/// local part is kept; if it is not ASCII the relay must offer SMTPUTF8). The error says why
/// the address cannot be used.
pub fn envelope_address(recipient: &str) -> Result<Address, String> {
    let (user, domain) =
        recipient.trim().rsplit_once('@').ok_or_else(|| format!("recipient address {recipient:?} has no @"))?;
    let ascii = idna::domain_to_ascii(domain)
        .map_err(|e| format!("recipient domain {domain:?} is not a valid domain name: {e}"))?;
    Address::new(user, &ascii).map_err(|e| format!("recipient address {recipient:?} is not valid: {e}"))
}

/// Formats the message for `to`, dated `date` (the instant it is sent).
pub fn build(composed: &Composed, to: &Address, from: &Mailbox, date: DateTime<Utc>) -> Result<Vec<u8>, String> {
    let message = Message::builder()
        .from(from.clone())
        .to(Mailbox::new(None, to.clone()))
        .subject(composed.subject.clone())
        .message_id(Some(composed.message_id.clone()))
        .date(date.into())
        .header(ContentLanguage)
        .header(ListUnsubscribe(composed.unsubscribe_url.clone()))
        .header(ListUnsubscribePost)
        .multipart(MultiPart::alternative_plain_html(composed.text.clone(), composed.html.clone()))
        .map_err(|e| format!("cannot build the message: {e}"))?;
    Ok(message.formatted())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internationalised_domains_go_to_the_relay_in_punycode() {
        let a = envelope_address("reader@مثال.مصر").unwrap();
        assert_eq!(a.domain(), "xn--mgbh0fb.xn--wgbh1c");
        assert_eq!(a.user(), "reader");
        assert_eq!(envelope_address("Reader@Example.ORG").unwrap().domain(), "example.org");
        assert!(envelope_address("no-at-sign").is_err());
        assert!(envelope_address("a@bad domain").is_err());
    }
}
