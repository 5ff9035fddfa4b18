//! Unsubscribe requests that arrive by mail: the `mailto:` of `List-Unsubscribe` names
//! `mail.unsubscribe_address` with the subject `unsubscribe {token}`, the reader's signed
//! unsubscribe token. The mailbox is piped to `nashra subscribers unsubscribe-mail` (one message
//! on standard input, as an MTA's pipe delivers it), which reads the subject and unsubscribes
//! the reader the token was signed for. The sender's address proves nothing (anyone may forward
//! a message); the signed token does.

use chrono::{DateTime, Utc};
use mail_parser::MessageParser;

use super::{Links, Purpose, Token};
use crate::store::{Store, StoreError};

/// What an unsubscribe message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByMail {
    /// This reader is unsubscribed now (or already was).
    Unsubscribed(String),
    /// Not a request we can act on, and why (the message is dropped: answering a forged
    /// sender would make nashra a source of backscatter).
    Ignored(String),
}

/// Reads one message and unsubscribes the reader its subject's token names.
pub async fn unsubscribe_by_mail(
    store: &Store,
    links: &Links,
    message: &[u8],
    now: DateTime<Utc>,
) -> Result<ByMail, StoreError> {
    let Some(parsed) = MessageParser::default().parse(message) else {
        return Ok(ByMail::Ignored("not a mail message".into()));
    };
    let subject = parsed.subject().unwrap_or_default();
    let Some(token) = subject.split_whitespace().find_map(Token::parse) else {
        return Ok(ByMail::Ignored(format!("no unsubscribe token in the subject {:?}", shorten(subject))));
    };
    let Some(subscriber) = store.subscriber_by_id(token.subscriber).await? else {
        return Ok(ByMail::Ignored("the token's reader is gone".into()));
    };
    if let Err(e) = links.verify(&token, Purpose::Unsubscribe, &subscriber.token, now) {
        return Ok(ByMail::Ignored(format!("the token is refused: {e}")));
    }
    store.unsubscribe(&subscriber.token, now).await?;
    Ok(ByMail::Unsubscribed(subscriber.email))
}

fn shorten(text: &str) -> String {
    text.chars().take(80).collect()
}
