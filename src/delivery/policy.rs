//! What an SMTP answer means for a message, and how long to wait before trying again. Pure: no
//! I/O, no clock.
//!
//! The stage a reply came at matters as much as its code. A failure before RCPT (connecting,
//! greeting, EHLO, TLS, AUTH, MAIL FROM) says nothing about the message: it is the relay's, and
//! the message goes back to the queue untouched. At RCPT a permanent reply that names the
//! mailbox (5.1.x, 5.2.1, or a bare 550/551/553) suppresses the address; a policy refusal (5.7.x),
//! a full mailbox or a missing SMTPUTF8 does not. After the final dot a lost connection leaves
//! the outcome unknown, so the message is retried (and may arrive twice, with the same Message-ID).

use std::time::Duration;

/// Where in the SMTP conversation an answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Connecting, the greeting, EHLO, STARTTLS, AUTH.
    Session,
    MailFrom,
    RcptTo,
    Data,
    /// After the message and its final dot were sent.
    EndOfData,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Session => "session",
            Stage::MailFrom => "MAIL FROM",
            Stage::RcptTo => "RCPT TO",
            Stage::Data => "DATA",
            Stage::EndOfData => "end of data",
        }
    }
}

/// Why a message was not accepted, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The relay failed before the message was attempted: put it back, try later, do not count it.
    /// `slow_down`: the relay asked for fewer connections (421, 454, "too many connections").
    Relay { reason: String, slow_down: bool },
    /// Refused for now, or the outcome is unknown: retry after a back-off.
    Temporary { reason: String, slow_down: bool },
    /// The recipient's address was refused for good: fail the message, suppress the address.
    Address { reason: String },
    /// Refused for good for another reason (content, policy, SMTPUTF8): fail the message only.
    Permanent { reason: String },
}

impl Failure {
    pub fn reason(&self) -> &str {
        match self {
            Failure::Relay { reason, .. }
            | Failure::Temporary { reason, .. }
            | Failure::Address { reason }
            | Failure::Permanent { reason } => reason,
        }
    }

    pub fn slows_down(&self) -> bool {
        matches!(self, Failure::Relay { slow_down: true, .. } | Failure::Temporary { slow_down: true, .. })
    }
}

/// Classifies an SMTP reply (`code` and text) received at `stage`.
pub fn classify_reply(stage: Stage, code: u16, text: &str) -> Failure {
    let text = text.trim();
    let reason = format!("{} {code} {text}", stage.name());
    let slow_down = code == 421 || code == 454 || text.to_ascii_lowercase().contains("too many connections");
    let enhanced = enhanced_code(text);
    match (stage, code / 100) {
        (Stage::Session | Stage::MailFrom, _) => Failure::Relay { reason, slow_down },
        // 421 closes the session: whatever was under way was not delivered.
        (Stage::RcptTo | Stage::Data, _) if code == 421 => Failure::Relay { reason, slow_down },
        (_, 4) => Failure::Temporary { reason, slow_down },
        (Stage::RcptTo, 5) if names_the_mailbox(code, enhanced) => Failure::Address { reason },
        (_, 5) => Failure::Permanent { reason },
        // Not a refusal at all (a 2xx or 3xx where another was expected): a confused relay.
        _ => Failure::Relay { reason: format!("{reason} (unexpected reply)"), slow_down: false },
    }
}

/// Classifies a failure with no reply: the connection broke or timed out. Before the final
/// dot the message was not delivered; after it, nobody knows.
pub fn classify_lost(stage: Stage, what: &str) -> Failure {
    let reason = format!("{}: {what}", stage.name());
    if stage == Stage::EndOfData {
        Failure::Temporary { reason: format!("{reason} (outcome unknown)"), slow_down: false }
    } else {
        Failure::Relay { reason, slow_down: false }
    }
}

/// The enhanced status code (RFC 3463) a reply's text starts with: (class, subject, detail).
fn enhanced_code(text: &str) -> Option<(u16, u16, u16)> {
    let first = text.split_whitespace().next()?;
    let mut parts = first.split('.').map(|p| p.parse::<u16>().ok());
    match (parts.next()??, parts.next()??, parts.next()??, parts.next()) {
        (class @ (2 | 4 | 5), subject, detail, None) => Some((class, subject, detail)),
        _ => None,
    }
}

/// Whether a permanent RCPT refusal is a verdict on the mailbox itself.
fn names_the_mailbox(code: u16, enhanced: Option<(u16, u16, u16)>) -> bool {
    match enhanced {
        // 5.1.x: bad mailbox, bad domain, bad syntax, moved…; 5.2.1: mailbox disabled.
        Some((5, 1, _)) | Some((5, 2, 1)) => true,
        Some(_) => false,
        None => matches!(code, 550 | 551 | 553),
    }
}

/// The wait before the retry that follows attempt number `attempts` (1 = the first attempt):
/// `first`, doubled each time, at most `max`, then spread by ±20 % (`jitter` in [0, 1)) so that
/// messages refused together are not retried together.
pub fn backoff(attempts: i64, first: Duration, max: Duration, jitter: f64) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let base = first.saturating_mul(1u32 << doublings).min(max);
    base.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

/// A number in [0, 1) from the system's randomness (0.5 if there is none).
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_of_the_mailbox_at_rcpt_is_a_verdict_on_the_address() {
        for (code, text) in [
            (550, "5.1.1 <x@example.org>: Recipient address rejected: User unknown"),
            (550, "mailbox unavailable"),
            (553, "5.1.3 bad address syntax"),
            (550, "5.2.1 mailbox disabled"),
        ] {
            assert!(matches!(classify_reply(Stage::RcptTo, code, text), Failure::Address { .. }), "{code} {text}");
        }
    }

    #[test]
    fn policy_content_and_smtputf8_refusals_are_not_verdicts_on_the_address() {
        for (stage, code, text) in [
            (Stage::RcptTo, 550, "5.7.1 Relaying denied"),
            (Stage::RcptTo, 553, "5.6.7 SMTPUTF8 is required but was not offered"),
            (Stage::RcptTo, 552, "5.2.2 mailbox full"),
            (Stage::EndOfData, 554, "5.7.1 message refused as spam"),
            (Stage::Data, 554, "no valid recipients"),
        ] {
            assert!(matches!(classify_reply(stage, code, text), Failure::Permanent { .. }), "{code} {text}");
        }
    }

    #[test]
    fn failures_before_rcpt_belong_to_the_relay() {
        assert!(matches!(classify_reply(Stage::Session, 535, "5.7.8 bad credentials"), Failure::Relay { .. }));
        assert!(matches!(classify_reply(Stage::MailFrom, 451, "4.3.0 try later"), Failure::Relay { .. }));
        let busy = classify_reply(Stage::Session, 421, "4.7.0 Too many connections, try again later");
        assert!(matches!(busy, Failure::Relay { slow_down: true, .. }), "{busy:?}");
        assert!(classify_reply(Stage::RcptTo, 421, "closing").slows_down());
        assert!(matches!(classify_lost(Stage::RcptTo, "connection reset"), Failure::Relay { .. }));
    }

    #[test]
    fn temporary_refusals_are_retried_and_a_lost_final_reply_is_unknown() {
        let t = classify_reply(Stage::RcptTo, 451, "4.3.0 Temporary failure");
        assert!(matches!(t, Failure::Temporary { slow_down: false, .. }), "{t:?}");
        assert!(t.reason().contains("RCPT TO 451 4.3.0"), "{}", t.reason());
        let lost = classify_lost(Stage::EndOfData, "timed out");
        assert!(matches!(lost, Failure::Temporary { .. }) && lost.reason().contains("unknown"));
    }

    #[test]
    fn enhanced_codes_are_read_only_when_well_formed() {
        assert_eq!(enhanced_code("5.1.1 user unknown"), Some((5, 1, 1)));
        assert_eq!(enhanced_code("5.1 nope"), None);
        assert_eq!(enhanced_code("5.1.1.1 nope"), None);
        assert_eq!(enhanced_code(""), None);
    }

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let (first, max) = (Duration::from_secs(60), Duration::from_secs(3600));
        assert_eq!(backoff(1, first, max, 0.5), Duration::from_secs(60));
        assert_eq!(backoff(3, first, max, 0.5), Duration::from_secs(240));
        assert_eq!(backoff(40, first, max, 0.5), max);
        assert_eq!(backoff(1, first, max, 0.0), Duration::from_secs(48));
        assert!(backoff(1, first, max, 0.999) < Duration::from_secs(72));
        assert_eq!(backoff(0, first, max, 0.5), first);
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }
}
