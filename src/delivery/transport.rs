//! The mail transport, one enum: an SMTP relay, a folder of `.eml` files (the embedded default),
//! or memory (tests). A sender opens one `Connection` per concurrent sending lane; for SMTP that
//! is a session kept open across messages (and across sending runs, in an idle pool).
//!
//! The file outbox names each file after its Message-ID and writes it atomically, so a message
//! sent again after a crash replaces its own file: the folder never holds a duplicate.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::Address;

use super::policy::{Failure, Stage};
use super::smtp::{Session, SmtpRelay};
use crate::config::{self, MailTransport};

/// Messages "sent" to memory, for tests.
pub type Sent = Arc<Mutex<Vec<Vec<u8>>>>;

#[derive(Debug, Clone)]
pub enum Transport {
    Smtp(SmtpRelay),
    File(PathBuf),
    Memory(Sent),
}

pub enum Connection {
    Smtp(Box<Session>),
    File(PathBuf),
    Memory(Sent),
}

/// SMTP sessions kept open between sending runs, for at most `IDLE`.
#[derive(Default)]
pub struct IdleSessions(Mutex<Vec<(Session, Instant)>>);

const IDLE: Duration = Duration::from_secs(30);

impl Transport {
    pub fn from_config(mail: &config::Mail) -> Result<Self, String> {
        match &mail.transport {
            MailTransport::File { outbox_dir } => {
                crate::files::create_private_dir_all(outbox_dir)
                    .and_then(|()| crate::files::tighten(outbox_dir))
                    .map_err(|e| format!("cannot create the outbox folder {}: {e}", outbox_dir.display()))?;
                Ok(Transport::File(outbox_dir.clone()))
            }
            MailTransport::Smtp(smtp) => Ok(Transport::Smtp(SmtpRelay::new(smtp, mail.send_timeout)?)),
        }
    }

    pub fn memory() -> (Self, Sent) {
        let sent = Sent::default();
        (Transport::Memory(sent.clone()), sent)
    }

    /// A connection: an idle SMTP session if one is fresh, else a new one.
    pub async fn connect(&self, idle: &IdleSessions) -> Result<Connection, Failure> {
        match self {
            Transport::Smtp(relay) => {
                let stale: Vec<Session>;
                let fresh = {
                    let Ok(mut pool) = idle.0.lock() else {
                        return Ok(Connection::Smtp(Box::new(relay.connect().await?)));
                    };
                    let (keep, old): (Vec<_>, Vec<_>) = pool.drain(..).partition(|(_, at)| at.elapsed() < IDLE);
                    stale = old.into_iter().map(|(s, _)| s).collect();
                    let mut keep = keep;
                    let fresh = keep.pop().map(|(s, _)| s);
                    *pool = keep;
                    fresh
                };
                for session in stale {
                    session.close().await;
                }
                match fresh {
                    Some(session) => Ok(Connection::Smtp(Box::new(session))),
                    None => Ok(Connection::Smtp(Box::new(relay.connect().await?))),
                }
            }
            Transport::File(dir) => Ok(Connection::File(dir.clone())),
            Transport::Memory(sent) => Ok(Connection::Memory(sent.clone())),
        }
    }
}

impl Connection {
    /// Sends one formatted message. `message_id` names the file in the file outbox.
    pub async fn send(
        &mut self,
        from: &Address,
        to: &Address,
        message_id: &str,
        message: &[u8],
        stage: &Mutex<Stage>,
    ) -> Result<(), Failure> {
        match self {
            Connection::Smtp(session) => session.send(from, to, message, stage).await,
            Connection::File(dir) => write_eml(dir, message_id, message).await.map_err(|e| Failure::Relay {
                reason: format!("cannot write to the outbox folder {}: {e}", dir.display()),
                slow_down: false,
            }),
            Connection::Memory(sent) => {
                if let Ok(mut sent) = sent.lock() {
                    sent.push(message.to_vec());
                }
                Ok(())
            }
        }
    }

    /// Whether the connection can take another message.
    pub fn is_usable(&self) -> bool {
        match self {
            Connection::Smtp(session) => session.is_usable(),
            Connection::File(_) | Connection::Memory(_) => true,
        }
    }

    /// Returns a usable SMTP session to the idle pool, or closes it.
    pub async fn finish(self, idle: &IdleSessions) {
        if let Connection::Smtp(session) = self {
            if session.is_usable()
                && let Ok(mut pool) = idle.0.lock()
            {
                pool.push((*session, Instant::now()));
                return;
            }
            session.close().await;
        }
    }
}

impl IdleSessions {
    /// Closes every idle session (at shutdown).
    pub async fn close_all(&self) {
        let sessions: Vec<Session> = match self.0.lock() {
            Ok(mut pool) => pool.drain(..).map(|(s, _)| s).collect(),
            Err(_) => Vec::new(),
        };
        for session in sessions {
            session.close().await;
        }
    }
}

async fn write_eml(dir: &std::path::Path, message_id: &str, message: &[u8]) -> std::io::Result<()> {
    let name: String = message_id
        .trim_matches(['<', '>'])
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@') { c } else { '_' })
        .collect();
    let path = dir.join(format!("{name}.eml"));
    // Two processes may send the same message (after a crash): each writes its own file first.
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let (file, bytes) = (tmp.clone(), message.to_vec());
    tokio::task::spawn_blocking(move || crate::files::write_private(&file, &bytes)).await??;
    tokio::fs::rename(&tmp, &path).await
}
