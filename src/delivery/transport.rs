//! The mail transport, one enum: SMTP (a relay, or a test server), a folder of `.eml` files (the
//! embedded default), or memory (tests). lettre's own time-out covers the connection only, so
//! every send is bounded here as a whole.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{self, MailTransport, SmtpTls};

/// Why a message was not accepted, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct SendError {
    /// The server refused for good (5xx) or the message can never be sent.
    pub permanent: bool,
    pub reason: String,
}

#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>),
    Memory(Arc<Mutex<Vec<Vec<u8>>>>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mailer::Smtp(_) => "Mailer::Smtp",
            Mailer::File(_) => "Mailer::File",
            Mailer::Memory(_) => "Mailer::Memory",
        })
    }
}

impl Mailer {
    pub fn from_config(mail: &config::Mail) -> Result<Self, String> {
        match &mail.transport {
            MailTransport::File { outbox_dir } => {
                std::fs::create_dir_all(outbox_dir)
                    .map_err(|e| format!("cannot create the outbox folder {}: {e}", outbox_dir.display()))?;
                Ok(Mailer::File(AsyncFileTransport::new(outbox_dir)))
            }
            MailTransport::Smtp(smtp) => {
                let tls = || {
                    TlsParameters::new(smtp.host.clone())
                        .map_err(|e| format!("TLS set-up for {} failed: {e}", smtp.host))
                };
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                    .port(smtp.port)
                    .timeout(Some(Duration::from_secs(30)))
                    .tls(match smtp.tls {
                        SmtpTls::None => Tls::None,
                        SmtpTls::StartTls => Tls::Required(tls()?),
                        SmtpTls::Tls => Tls::Wrapper(tls()?),
                    });
                if let Some((user, password)) = &smtp.credentials {
                    builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
                }
                Ok(Mailer::Smtp(builder.build()))
            }
        }
    }

    pub fn memory() -> (Self, Arc<Mutex<Vec<Vec<u8>>>>) {
        let sent = Arc::new(Mutex::new(Vec::new()));
        (Mailer::Memory(sent.clone()), sent)
    }

    /// Sends one message, giving up after `timeout`.
    pub async fn send(&self, message: Message, timeout: Duration) -> Result<(), SendError> {
        let attempt = async {
            match self {
                Mailer::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| SendError {
                    permanent: e.is_permanent(),
                    reason: format!("SMTP: {}", crate::errors::chain(&e)),
                }),
                Mailer::File(t) => t.send(message).await.map(|_| ()).map_err(|e| SendError {
                    permanent: false,
                    reason: format!("outbox: {}", crate::errors::chain(&e)),
                }),
                Mailer::Memory(sent) => {
                    if let Ok(mut sent) = sent.lock() {
                        sent.push(message.formatted());
                    }
                    Ok(())
                }
            }
        };
        tokio::time::timeout(timeout, attempt).await.unwrap_or_else(|_| {
            Err(SendError { permanent: false, reason: format!("no answer within {} s", timeout.as_secs()) })
        })
    }
}
