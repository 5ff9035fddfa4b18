//! A stored delivery → a MIME message: multipart/alternative (plain text, then HTML), a stable
//! `Message-ID` per (edition, subscriber), and RFC 8058 one-click unsubscribe headers.

use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};

use crate::store::Delivery;

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

/// Builds the message for `delivery`; the error says which field is unusable.
pub fn build(delivery: &Delivery, from: &Mailbox, now: DateTime<Utc>) -> Result<Message, String> {
    let to: Mailbox = delivery
        .recipient
        .parse()
        .map_err(|e| format!("recipient address {:?} is not valid: {e}", delivery.recipient))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(delivery.subject.clone())
        .message_id(Some(delivery.message_id.clone()))
        .date(now.into())
        .header(ContentLanguage)
        .header(ListUnsubscribe(delivery.unsubscribe_url.clone()))
        .header(ListUnsubscribePost)
        .multipart(MultiPart::alternative_plain_html(delivery.body_text.clone(), delivery.body_html.clone()))
        .map_err(|e| format!("cannot build the message: {e}"))
}
