//! One SMTP session with the relay, driven command by command over lettre's connection, so that
//! every reply is read at its stage (a 550 at RCPT is not a 550 after DATA) and a session is kept
//! for many messages. The TCP stream is connected here with `TCP_NODELAY`: lettre writes the
//! final `.` of a message separately, and with Nagle's algorithm each message would wait for a
//! delayed ACK (about 40 ms) — fatal to throughput.
//!
//! With a relay that offers PIPELINING (RFC 2920), MAIL, RCPT and DATA go in one write and their
//! replies are read after: two round trips a message instead of four.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::Address;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Ehlo, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::policy::{Failure, Stage, classify_lost, classify_reply};
use crate::config::{Smtp, SmtpTls};

/// Where and how to reach the relay.
#[derive(Clone)]
pub struct SmtpRelay {
    host: String,
    port: u16,
    tls: SmtpTls,
    credentials: Option<Credentials>,
    hello: ClientId,
    connect_timeout: Duration,
    /// For implicit TLS (SMTPS).
    tls_config: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for SmtpRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpRelay({}:{}, {:?})", self.host, self.port, self.tls)
    }
}

impl SmtpRelay {
    pub fn new(smtp: &Smtp, connect_timeout: Duration) -> Result<Self, String> {
        let tls_config = match smtp.tls {
            SmtpTls::Tls => Some(Arc::new(tls_config()?)),
            SmtpTls::None | SmtpTls::StartTls => None,
        };
        Ok(Self {
            host: smtp.host.clone(),
            port: smtp.port,
            tls: smtp.tls,
            credentials: smtp.credentials.as_ref().map(|(u, p)| Credentials::new(u.clone(), p.expose().to_owned())),
            hello: ClientId::default(),
            connect_timeout,
            tls_config,
        })
    }

    /// Opens a session: connect, greeting, EHLO, STARTTLS or TLS, AUTH.
    pub async fn connect(&self) -> Result<Session, Failure> {
        let lost = |what: String| classify_lost(Stage::Session, &what);
        let target = format!("{}:{}", self.host, self.port);
        let tcp = tokio::time::timeout(self.connect_timeout, TcpStream::connect(&target))
            .await
            .map_err(|_| lost(format!("no connection to {target} within {} s", self.connect_timeout.as_secs())))?
            .map_err(|e| lost(format!("cannot connect to {target}: {e}")))?;
        tcp.set_nodelay(true).map_err(|e| lost(format!("cannot set TCP_NODELAY: {e}")))?;
        let stream: Box<dyn AsyncTokioStream> = match &self.tls_config {
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(self.host.clone())
                    .map_err(|e| lost(format!("{} is not a TLS server name: {e}", self.host)))?;
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, tcp)
                    .await
                    .map_err(|e| lost(format!("TLS with {target} failed: {e}")))?;
                Box::new(TlsTcp(tls))
            }
            None => Box::new(tcp),
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(|e| classify(Stage::Session, &e))?;
        if self.tls == SmtpTls::StartTls {
            if !conn.can_starttls() {
                return Err(Failure::Relay {
                    reason: format!("{target} does not offer STARTTLS (mail.smtp.tls = \"starttls\")"),
                    slow_down: false,
                });
            }
            let params = TlsParameters::new(self.host.clone())
                .map_err(|e| lost(format!("TLS set-up for {} failed: {e}", self.host)))?;
            conn.starttls(params, &self.hello).await.map_err(|e| classify(Stage::Session, &e))?;
        }
        // lettre keeps only the extensions it knows of: ask again to learn of PIPELINING (before
        // AUTH, so nothing it set up is reset).
        let ehlo = conn.command(Ehlo::new(self.hello.clone())).await.map_err(|e| classify(Stage::Session, &e))?;
        let pipelining = ehlo
            .message()
            .any(|line| line.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case("PIPELINING")));
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| classify(Stage::Session, &e))?;
        }
        Ok(Session { conn, pipelining, broken: false })
    }
}

/// An open session with the relay.
pub struct Session {
    conn: AsyncSmtpConnection,
    /// The relay takes MAIL, RCPT and DATA in one write.
    pipelining: bool,
    broken: bool,
}

type Refusal = (Stage, lettre::transport::smtp::Error);

impl Session {
    /// Sends one message; `stage` tells, while it runs, how far it got (so a sender that must
    /// stop knows whether the message can still be put back).
    pub async fn send(
        &mut self,
        from: &Address,
        to: &Address,
        message: &[u8],
        stage: &std::sync::Mutex<Stage>,
    ) -> Result<(), Failure> {
        let set = |s: Stage| {
            if let Ok(mut current) = stage.lock() {
                *current = s;
            }
        };
        let mut params = Vec::new();
        if !to.user().is_ascii() {
            if !self.conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(Failure::Permanent {
                    reason: "the relay does not offer SMTPUTF8, which this address needs".into(),
                });
            }
            params.push(MailParameter::SmtpUtfEight);
        }
        if !message.is_ascii() {
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        let mail = Mail::new(Some(from.clone()), params);
        let rcpt = Rcpt::new(to.clone(), Vec::new());
        let timer = std::time::Instant::now();
        let result = async {
            if self.pipelining {
                self.pipelined(&mail, &rcpt, set).await?;
            } else {
                set(Stage::MailFrom);
                self.conn.command(mail).await.map_err(|e| (Stage::MailFrom, e))?;
                set(Stage::RcptTo);
                self.conn.command(rcpt).await.map_err(|e| (Stage::RcptTo, e))?;
                set(Stage::Data);
                self.conn.command(Data).await.map_err(|e| (Stage::Data, e))?;
            }
            set(Stage::EndOfData);
            match std::str::from_utf8(message) {
                // One write: the message dot-stuffed and its final dot (lettre's own path
                // stuffs byte by byte and writes the dot apart).
                Ok(text) => self.conn.command(Payload(text)).await,
                Err(_) => self.conn.message(message).await,
            }
            .map_err(|e| (Stage::EndOfData, e))?;
            Ok::<(), Refusal>(())
        }
        .await;
        let metrics = &crate::metrics::METRICS;
        metrics.smtp_seconds.observe(timer.elapsed().as_secs_f64());
        let class = match &result {
            Ok(()) => "2xx".to_owned(),
            Err((_, e)) => e.status().map_or("none".to_owned(), |c| format!("{}xx", c.severity as u8)),
        };
        crate::metrics::count(&metrics.smtp_replies, crate::metrics::Reply { class }, 1);
        match result {
            Ok(()) => Ok(()),
            Err((stage, e)) => {
                let failure = classify(stage, &e);
                // A refusal leaves the session usable once reset; a lost connection does not.
                let refused = e.status().is_some_and(|c| c.to_string() != "421");
                self.broken = !refused || (stage < Stage::EndOfData && self.conn.command(Rset).await.is_err());
                Err(failure)
            }
        }
    }

    /// MAIL, RCPT and DATA in one write, then their three replies; the first refusal is the
    /// verdict (the later commands then fail as out of sequence). A lost connection or a 421
    /// (the relay closing the session) ends it at once, the verdict still the first refusal.
    /// Should DATA be accepted after a refusal, the empty message is ended with its dot at once,
    /// as RFC 2920 asks.
    async fn pipelined(&mut self, mail: &Mail, rcpt: &Rcpt, set: impl Fn(Stage)) -> Result<(), Refusal> {
        type Reply = Result<(), lettre::transport::smtp::Error>;
        let closes = |e: &lettre::transport::smtp::Error| e.status().is_none_or(|c| c.to_string() == "421");
        // The first refusal among the replies read so far, else this one.
        let verdict = |before: Vec<(Stage, Reply)>, stage: Stage, e| {
            before.into_iter().find_map(|(s, r)| r.err().map(|e| (s, e))).unwrap_or((stage, e))
        };
        let mut replies: Vec<(Stage, Reply)> = Vec::with_capacity(3);
        for stage in [Stage::MailFrom, Stage::RcptTo, Stage::Data] {
            set(stage);
            let reply = match stage {
                Stage::MailFrom => self.conn.command(Pipeline(mail, rcpt)).await,
                _ => self.conn.read_response().await,
            };
            match reply {
                Err(e) if closes(&e) => return Err(verdict(replies, stage, e)),
                reply => replies.push((stage, reply.map(drop))),
            }
        }
        let data_accepted = replies.last().is_some_and(|(_, r)| r.is_ok());
        match replies.into_iter().find_map(|(s, r)| r.err().map(|e| (s, e))) {
            None => Ok(()),
            Some(refusal) => {
                if data_accepted {
                    // DATA accepted after a refusal: end the (empty) message, delivered to nobody.
                    let _ = self.conn.command(EndOfData).await;
                }
                Err(refusal)
            }
        }
    }

    pub fn is_usable(&self) -> bool {
        !self.broken && !self.conn.has_broken()
    }

    /// Ends the session politely (QUIT).
    pub async fn close(mut self) {
        if self.is_usable() {
            let _ = tokio::time::timeout(Duration::from_secs(2), self.conn.quit()).await;
        }
    }
}

/// MAIL, RCPT and DATA as one write.
struct Pipeline<'a>(&'a Mail, &'a Rcpt);

impl std::fmt::Display for Pipeline<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}{}", self.0, self.1, Data)
    }
}

/// The final dot alone.
struct EndOfData;

impl std::fmt::Display for EndOfData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(".\r\n")
    }
}

/// A message as it goes after DATA: lines starting with a dot get another (RFC 5321 4.5.2),
/// then the final `CRLF.CRLF`.
struct Payload<'a>(&'a str);

impl std::fmt::Display for Payload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut start_of_line = true;
        let mut rest = self.0;
        while !rest.is_empty() {
            if start_of_line && rest.starts_with('.') {
                f.write_str(".")?;
            }
            let end = rest.find('\n').map_or(rest.len(), |i| i + 1);
            f.write_str(&rest[..end])?;
            start_of_line = rest[..end].ends_with('\n');
            rest = &rest[end..];
        }
        if !self.0.ends_with("\r\n") {
            f.write_str("\r\n")?;
        }
        f.write_str(".\r\n")
    }
}

fn classify(stage: Stage, e: &lettre::transport::smtp::Error) -> Failure {
    match e.status().and_then(|c| c.to_string().parse::<u16>().ok()) {
        Some(code) => {
            let text = std::error::Error::source(e).map(ToString::to_string).unwrap_or_default();
            classify_reply(stage, code, &text)
        }
        None => classify_lost(stage, &crate::errors::chain(e)),
    }
}

/// rustls with the Mozilla roots, for implicit TLS.
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// A TLS stream over a TCP stream we connected (with `TCP_NODELAY`), in the shape lettre takes.
struct TlsTcp(tokio_rustls::client::TlsStream<TcpStream>);

impl std::fmt::Debug for TlsTcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsTcp")
    }
}

impl AsyncRead for TlsTcp {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsTcp {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::Payload;

    #[test]
    fn a_payload_is_dot_stuffed_and_ends_with_the_final_dot() {
        assert_eq!(Payload("a\r\n.b\r\n..c\r\n").to_string(), "a\r\n..b\r\n...c\r\n.\r\n");
        assert_eq!(Payload(".x").to_string(), "..x\r\n.\r\n");
        assert_eq!(Payload("").to_string(), "\r\n.\r\n");
    }
}
