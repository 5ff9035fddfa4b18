//! A small, real SMTP server over TCP (RFC 5321) with fault injection — **test and benchmark
//! support only**, never part of nashra itself.
//!
//! It is included by path (`#[path = "../support/smtp_sink.rs"] mod smtp_sink;`) from the
//! integration tests, `examples/smtp_sink.rs` and the benchmarks, so it depends on nothing but std
//! and tokio (features `rt`, `net`, `time`, `sync`, `io-util`).
//!
//! What it speaks: the greeting, `EHLO`/`HELO` (advertising `SIZE`, `8BITMIME`, `PIPELINING` and
//! `SMTPUTF8` unless the policy says otherwise, and `ENHANCEDSTATUSCODES`), `MAIL FROM:<…> [SIZE= BODY= SMTPUTF8]`,
//! `RCPT TO:<…>`, `DATA` (dot-unstuffing, `<CRLF>.<CRLF>` ends it), `RSET`, `NOOP`, `VRFY` (252),
//! `QUIT`. Unknown commands get 500, known but unimplemented ones (`STARTTLS`, `AUTH`, `BDAT`, …)
//! 502, commands out of sequence 503. Command lines longer than 2048 octets get 500 and the session
//! goes on; messages larger than [`MAX_MESSAGE_SIZE`] get 552. Nothing a client sends can make it
//! panic. Accepted messages are kept in memory, in acceptance order.
//!
//! Faults, from [`Policy`]: random `451` at MAIL, RCPT, DATA and the end of data (seeded PRNG),
//! recipients refused with `550`, a cap on concurrent sessions (`421` at the greeting), a delay
//! before the end of data is answered, no `SMTPUTF8`, and [`SmtpSink::set_down`] to take the relay
//! off the network (connections refused) and bring it back on the same port. Whatever the policy,
//! a recipient whose local part starts with `busy` gets `451` (and, with the default policy, one
//! starting with `reject` gets `550`), as with the old Python sink.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fmt;
use std::future::poll_fn;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::AbortHandle;

/// The largest message accepted (advertised as `SIZE`); larger ones get `552`.
pub const MAX_MESSAGE_SIZE: usize = 50 * 1024 * 1024;
/// The longest command line, CRLF included (Postfix's `line_length_limit`).
const MAX_COMMAND_LINE: usize = 2048;
/// More recipients than this in one transaction get `452` (RFC 5321 asks for at least 100).
const MAX_RECIPIENTS: usize = 1000;
/// A session idle for this long is told `421` and closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
const READ_BUFFER: usize = 64 * 1024;
/// Without `keep_bodies`, how much of a message is kept to find its Message-ID.
const HEAD_KEPT: usize = 64 * 1024;
const HOSTNAME: &str = "localhost";

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    /// The reverse path, without the angle brackets (empty for `MAIL FROM:<>`).
    pub mail_from: String,
    /// The accepted recipients, without the angle brackets, in the order given.
    pub rcpt_to: Vec<String>,
    /// The message as sent, dot-unstuffed, without the final `.` line; empty unless
    /// [`Policy::keep_bodies`].
    pub data: Vec<u8>,
    /// The `Message-ID` header's value, unfolded and trimmed, brackets kept as written.
    pub message_id: Option<String>,
    /// The session (connection) it came in on, numbered from 1.
    pub session: u64,
}

/// Counters since the sink started.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Sessions greeted with 220 (connections refused with 421 are not counted).
    pub sessions: u64,
    pub max_concurrent_sessions: u64,
    /// Command lines received (message content is not counted).
    pub commands: u64,
    /// 4xx answers to MAIL, RCPT, DATA or the end of data: the random ones, `busy…`, too many recipients.
    pub temp_failures: u64,
    /// 5xx answers by policy: refused recipients (550), too big (552), non-ASCII without SMTPUTF8
    /// (553), SMTPUTF8 not supported (555). Syntax and sequence errors are not counted.
    pub perm_failures: u64,
    /// Connections greeted with 421 because of [`Policy::max_sessions`].
    pub too_many_connections: u64,
    /// Command lines that came before the reply to the one ahead of them was written: a client
    /// pipelining (improper where [`Policy::pipelining`] is off).
    pub pipelined: u64,
}

/// How the sink behaves; [`SmtpSink::set_policy`] changes it while it runs.
#[derive(Clone)]
pub struct Policy {
    /// Probability that each of MAIL, RCPT, DATA and the end-of-data is answered
    /// `451 4.3.0 Temporary failure, try again` instead of accepted (seeded PRNG, deterministic per seed).
    pub temp_fail_rate: f64,
    /// Recipients answered `550 5.1.1 <addr>: mailbox unavailable` at RCPT.
    pub reject: Arc<dyn Fn(&str) -> bool + Send + Sync>,
    /// More concurrent sessions than this are greeted with `421 4.7.0 Too many connections, try again later` and closed.
    pub max_sessions: Option<usize>,
    /// Wait this long before answering the end-of-data (simulates a relay's work per message).
    pub data_delay: Duration,
    pub seed: u64,
    /// Whether EHLO advertises SMTPUTF8. When false, `MAIL FROM:<..> SMTPUTF8` gets `555 5.5.4 SMTPUTF8 not supported`.
    pub smtputf8: bool,
    /// Whether EHLO advertises PIPELINING (RFC 2920). Either way pipelined commands are answered
    /// in order and counted in [`Stats::pipelined`].
    pub pipelining: bool,
    /// MAIL is answered `421 4.3.2 Service shutting down` and the session closed, as a relay
    /// going down for maintenance does.
    pub closing_at_mail: bool,
    /// Whether [`Received::data`] keeps the message; when false only the envelope and the
    /// Message-ID are kept, so that a million messages fit in memory.
    pub keep_bodies: bool,
}

impl Default for Policy {
    /// No faults: addresses whose local part starts with `reject` get 550, nothing else fails.
    fn default() -> Policy {
        Policy {
            temp_fail_rate: 0.0,
            reject: Arc::new(|address: &str| local_part_starts_with(address, "reject")),
            max_sessions: None,
            data_delay: Duration::ZERO,
            seed: 1,
            smtputf8: true,
            pipelining: true,
            closing_at_mail: false,
            keep_bodies: true,
        }
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("temp_fail_rate", &self.temp_fail_rate)
            .field("reject", &"<fn>")
            .field("max_sessions", &self.max_sessions)
            .field("data_delay", &self.data_delay)
            .field("seed", &self.seed)
            .field("smtputf8", &self.smtputf8)
            .field("pipelining", &self.pipelining)
            .field("closing_at_mail", &self.closing_at_mail)
            .field("keep_bodies", &self.keep_bodies)
            .finish()
    }
}

/// Whether the local part of `address` (before its last `@`) starts with `prefix`, ignoring ASCII case.
pub fn local_part_starts_with(address: &str, prefix: &str) -> bool {
    let local = address.rsplit_once('@').map_or(address, |(local, _)| local).as_bytes();
    local.len() >= prefix.len() && local[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// The SMTP server, running on the tokio runtime it was started on; it shuts down on drop.
pub struct SmtpSink {
    shared: Arc<Shared>,
}

impl SmtpSink {
    /// Starts a sink on 127.0.0.1 with a port chosen by the system.
    pub async fn start(policy: Policy) -> SmtpSink {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        SmtpSink::start_on(addr, policy).await.expect("smtp_sink: cannot listen on 127.0.0.1")
    }

    /// Starts a sink on the given address (port 0: chosen by the system).
    pub async fn start_on(addr: SocketAddr, policy: Policy) -> std::io::Result<SmtpSink> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            addr,
            runtime: Handle::current(),
            state: Mutex::new(State {
                rng: Rng::new(policy.seed),
                policy: Arc::new(policy),
                policy_version: 0,
                messages: Vec::new(),
                count: 0,
                down: false,
                generation: 0,
                acceptor: None,
                sessions: HashMap::new(),
                next_session: 0,
                max_concurrent: 0,
                too_many: 0,
                queue_id: 0,
            }),
            listener: Mutex::new(None),
            policy_version: AtomicU64::new(0),
            accepted: Notify::new(),
            commands: AtomicU64::new(0),
            temp_failures: AtomicU64::new(0),
            perm_failures: AtomicU64::new(0),
            pipelined: AtomicU64::new(0),
        });
        shared.listen(&mut shared.lock(), listener);
        Ok(SmtpSink { shared })
    }

    pub fn port(&self) -> u16 {
        self.shared.addr.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Every message held, in acceptance order (see also [`SmtpSink::take_messages`]).
    pub fn messages(&self) -> Vec<Received> {
        self.shared.lock().messages.clone()
    }

    /// Removes and returns the messages held; [`SmtpSink::count`] is not affected. For long runs
    /// that tally messages as they come instead of keeping them.
    pub fn take_messages(&self) -> Vec<Received> {
        std::mem::take(&mut self.shared.lock().messages)
    }

    /// How many messages were accepted (since the start or the last [`SmtpSink::clear`]).
    pub fn count(&self) -> usize {
        self.shared.lock().count
    }

    /// Forgets the messages accepted so far and sets [`SmtpSink::count`] back to 0.
    pub fn clear(&self) {
        let mut state = self.shared.lock();
        state.messages = Vec::new();
        state.count = 0;
    }

    /// Applies to new commands from now on (to new connections for `max_sessions`); restarts the
    /// random sequence from the policy's seed.
    pub fn set_policy(&self, policy: Policy) {
        let mut state = self.shared.lock();
        state.rng = Rng::new(policy.seed);
        state.policy = Arc::new(policy);
        state.policy_version += 1;
        self.shared.policy_version.store(state.policy_version, Ordering::Release);
    }

    /// Relay down: stop listening (new connections are refused at TCP level: the listening
    /// socket is closed before this returns) and drop every open session (a message whose end of
    /// data comes after this call is not accepted); `set_down(false)` listens again on the same port.
    ///
    /// Panics if the port cannot be listened on again (taken by someone else meanwhile).
    pub fn set_down(&self, down: bool) {
        if down {
            self.shared.go_down();
            return;
        }
        let mut state = self.shared.lock();
        if !state.down {
            return;
        }
        let listener = self.shared.rebind();
        self.shared.listen(&mut state, listener);
    }

    pub fn stats(&self) -> Stats {
        let state = self.shared.lock();
        Stats {
            sessions: state.next_session,
            max_concurrent_sessions: state.max_concurrent,
            commands: self.shared.commands.load(Ordering::Relaxed),
            temp_failures: self.shared.temp_failures.load(Ordering::Relaxed),
            perm_failures: self.shared.perm_failures.load(Ordering::Relaxed),
            too_many_connections: state.too_many,
            pipelined: self.shared.pipelined.load(Ordering::Relaxed),
        }
    }

    /// Waits until `count() >= n` or the timeout passes; returns the count.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let mut notified = std::pin::pin!(self.shared.accepted.notified());
            notified.as_mut().enable();
            let count = self.count();
            if count >= n {
                return count;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.count();
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.shared.go_down();
    }
}

impl fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSink").field("addr", &self.shared.addr).finish_non_exhaustive()
    }
}

struct Shared {
    addr: SocketAddr,
    runtime: Handle,
    state: Mutex<State>,
    /// The listening socket and the generation it belongs to; taken (closed) when going down.
    listener: Mutex<Option<(u64, TcpListener)>>,
    /// A copy of `State::policy_version`, so that sessions notice a new policy without locking.
    policy_version: AtomicU64,
    accepted: Notify,
    commands: AtomicU64,
    temp_failures: AtomicU64,
    perm_failures: AtomicU64,
    pipelined: AtomicU64,
}

struct State {
    policy: Arc<Policy>,
    policy_version: u64,
    rng: Rng,
    messages: Vec<Received>,
    count: usize,
    down: bool,
    /// Bumped at every up and down: sessions and acceptors of another generation are stale.
    generation: u64,
    acceptor: Option<AbortHandle>,
    /// The open sessions (their number is the number of concurrent sessions).
    sessions: HashMap<u64, AbortHandle>,
    next_session: u64,
    max_concurrent: u64,
    too_many: u64,
    queue_id: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn listener(&self) -> MutexGuard<'_, Option<(u64, TcpListener)>> {
        self.listener.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts accepting on `listener` as a new generation.
    fn listen(self: &Arc<Self>, state: &mut State, listener: TcpListener) {
        state.down = false;
        state.generation += 1;
        let generation = state.generation;
        *self.listener() = Some((generation, listener));
        let task = self.runtime.spawn(accept_loop(Arc::clone(self), generation));
        state.acceptor = Some(task.abort_handle());
    }

    fn go_down(&self) {
        let (listener, acceptor, sessions) = {
            let mut state = self.lock();
            if state.down {
                return;
            }
            state.down = true;
            state.generation += 1;
            let sessions: Vec<AbortHandle> = state.sessions.drain().map(|(_, task)| task).collect();
            (self.listener().take(), state.acceptor.take(), sessions)
        };
        drop(listener);
        if let Some(acceptor) = acceptor {
            acceptor.abort();
        }
        for session in sessions {
            session.abort();
        }
    }

    fn rebind(&self) -> TcpListener {
        let mut tries = 0;
        loop {
            // std sets SO_REUSEADDR on Unix, so connections in TIME_WAIT do not block the port.
            match std::net::TcpListener::bind(self.addr).and_then(|l| l.set_nonblocking(true).map(|()| l)) {
                Ok(listener) => {
                    let _entered = self.runtime.enter();
                    match TcpListener::from_std(listener) {
                        Ok(listener) => return listener,
                        Err(e) => panic!("smtp_sink: cannot listen again on {}: {e}", self.addr),
                    }
                }
                Err(e) if tries < 100 && e.kind() == std::io::ErrorKind::AddrInUse => {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("smtp_sink: cannot listen again on {}: {e}", self.addr),
            }
        }
    }

    /// Takes an accepted connection: a new session, or 421 when there are too many.
    fn admit(self: &Arc<Self>, stream: TcpStream, generation: u64) {
        let _ = stream.set_nodelay(true);
        let mut state = self.lock();
        if state.down || state.generation != generation {
            return;
        }
        if state.policy.max_sessions.is_some_and(|max| state.sessions.len() >= max) {
            state.too_many += 1;
            drop(state);
            self.runtime.spawn(refuse(stream));
            return;
        }
        state.next_session += 1;
        let id = state.next_session;
        let session = Session::new(Arc::clone(self), id, generation, &state);
        // Registered before the lock is released, so before the session can unregister itself.
        let task = self.runtime.spawn(session.run(stream));
        state.sessions.insert(id, task.abort_handle());
        state.max_concurrent = state.max_concurrent.max(state.sessions.len() as u64);
    }

    /// One draw of the temporary-failure lottery.
    fn temp_fail(&self, policy: &Policy) -> bool {
        let rate = policy.temp_fail_rate;
        if rate.is_nan() || rate <= 0.0 {
            return false;
        }
        let failed = self.lock().rng.next_f64() < rate;
        if failed {
            self.temp_failures.fetch_add(1, Ordering::Relaxed);
        }
        failed
    }
}

async fn accept_loop(shared: Arc<Shared>, generation: u64) {
    loop {
        let accepted = poll_fn(|cx| match &*shared.listener() {
            Some((g, listener)) if *g == generation => listener.poll_accept(cx).map(Some),
            _ => Poll::Ready(None),
        })
        .await;
        match accepted {
            None => return,
            Some(Ok((stream, _))) => shared.admit(stream, generation),
            // Out of file descriptors and the like: wait instead of spinning.
            Some(Err(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

async fn refuse(mut stream: TcpStream) {
    let _ = stream.write_all(b"421 4.7.0 Too many connections, try again later\r\n").await;
    let _ = stream.shutdown().await;
    // Read until the client closes, so that closing does not reset the connection under the 421.
    let mut scratch = [0u8; 1024];
    let drain = async { while let Ok(1..) = stream.read(&mut scratch).await {} };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// Unregisters a session when its task ends or is aborted.
struct Registration {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.lock().sessions.remove(&self.id);
    }
}

enum Mode {
    Command,
    Data,
}

struct Session {
    registration: Registration,
    generation: u64,
    input: Box<[u8]>,
    start: usize,
    end: usize,
    /// Skipping the rest of an overlong command line.
    discarding: bool,
    mode: Mode,
    smtp: Smtp,
}

/// The protocol state of a session, apart from its input buffer.
struct Smtp {
    id: u64,
    shared: Arc<Shared>,
    policy: Arc<Policy>,
    policy_version: u64,
    /// Replies not yet written.
    out: Vec<u8>,
    helo: bool,
    mail_from: Option<String>,
    smtputf8: bool,
    size_hint: usize,
    rcpt_to: Vec<String>,
    data: DataIn,
}

impl Session {
    fn new(shared: Arc<Shared>, id: u64, generation: u64, state: &State) -> Session {
        Session {
            registration: Registration { shared: Arc::clone(&shared), id },
            generation,
            input: vec![0; READ_BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            discarding: false,
            mode: Mode::Command,
            smtp: Smtp {
                id,
                shared,
                policy: Arc::clone(&state.policy),
                policy_version: state.policy_version,
                out: Vec::with_capacity(512),
                helo: false,
                mail_from: None,
                smtputf8: false,
                size_hint: 0,
                rcpt_to: Vec::new(),
                data: DataIn::default(),
            },
        }
    }

    async fn run(mut self, mut stream: TcpStream) {
        let _ = write!(self.smtp.out, "220 {HOSTNAME} ESMTP nashra test sink\r\n");
        loop {
            let open = self.process().await;
            // Replies are written when all the input at hand is answered: one write per reply,
            // fewer when a client pipelines.
            if !self.smtp.out.is_empty() {
                if stream.write_all(&self.smtp.out).await.is_err() {
                    return;
                }
                self.smtp.out.clear();
            }
            if !open {
                return;
            }
            if self.start == self.end {
                (self.start, self.end) = (0, 0);
            } else if self.end == self.input.len() {
                self.input.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            }
            if self.end == self.input.len() {
                // Cannot happen (overlong lines are dropped as they come), but never spin.
                (self.start, self.end) = (0, 0);
            }
            match tokio::time::timeout(IDLE_TIMEOUT, stream.read(&mut self.input[self.end..])).await {
                Ok(Ok(0) | Err(_)) => return,
                Ok(Ok(n)) => self.end += n,
                Err(_) => {
                    let _ = stream.write_all(b"421 4.4.2 Idle for too long, closing connection\r\n").await;
                    return;
                }
            }
        }
    }

    /// Answers everything in the input buffer; false when the session is over.
    async fn process(&mut self) -> bool {
        loop {
            match self.mode {
                Mode::Data => {
                    let (consumed, done) = self.smtp.data.feed(&self.input[self.start..self.end]);
                    self.start += consumed;
                    if !done {
                        return true;
                    }
                    self.mode = Mode::Command;
                    if !self.smtp.end_of_data(self.generation).await {
                        return false;
                    }
                }
                Mode::Command => {
                    let pending = &self.input[self.start..self.end];
                    let Some(newline) = find_byte(b'\n', pending) else {
                        if pending.len() >= MAX_COMMAND_LINE {
                            self.discarding = true;
                            self.start = self.end;
                        }
                        return true;
                    };
                    let line = self.start..self.start + newline + 1;
                    self.start = line.end;
                    if std::mem::take(&mut self.discarding) || line.len() > MAX_COMMAND_LINE {
                        self.smtp.shared.commands.fetch_add(1, Ordering::Relaxed);
                        self.smtp.reply("500 5.5.2 Error: line too long");
                        continue;
                    }
                    let mut line = &self.input[line.start..line.end - 1];
                    if let [rest @ .., b'\r'] = line {
                        line = rest;
                    }
                    let next = self.smtp.command(line);
                    if self.start < self.end {
                        self.smtp.shared.pipelined.fetch_add(1, Ordering::Relaxed);
                    }
                    match next {
                        Next::Command => {}
                        Next::Data => self.mode = Mode::Data,
                        Next::Quit => return false,
                    }
                }
            }
        }
    }
}

enum Next {
    Command,
    Data,
    Quit,
}

impl Smtp {
    fn reply(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    fn temp_fail(&mut self) -> bool {
        if self.shared.temp_fail(&self.policy) {
            self.reply("451 4.3.0 Temporary failure, try again");
            return true;
        }
        false
    }

    fn perm_fail(&mut self, line: &str) {
        self.shared.perm_failures.fetch_add(1, Ordering::Relaxed);
        self.reply(line);
    }

    fn reset(&mut self) {
        self.mail_from = None;
        self.smtputf8 = false;
        self.size_hint = 0;
        self.rcpt_to.clear();
    }

    fn command(&mut self, line: &[u8]) -> Next {
        self.shared.commands.fetch_add(1, Ordering::Relaxed);
        if self.shared.policy_version.load(Ordering::Acquire) != self.policy_version {
            let state = self.shared.lock();
            self.policy = Arc::clone(&state.policy);
            self.policy_version = state.policy_version;
        }
        let (verb, arg) = match line.iter().position(|&b| b == b' ') {
            Some(space) => (&line[..space], line[space + 1..].trim_ascii()),
            None => (line, &[][..]),
        };
        let is = |name: &str| verb.eq_ignore_ascii_case(name.as_bytes());
        if is("EHLO") || is("HELO") {
            if arg.is_empty() {
                self.reply("501 5.5.4 Syntax: EHLO hostname");
                return Next::Command;
            }
            self.reset();
            self.helo = true;
            if is("HELO") {
                let _ = write!(self.out, "250 {HOSTNAME}\r\n");
                return Next::Command;
            }
            let client: String = String::from_utf8_lossy(arg).chars().filter(|c| !c.is_control()).collect();
            let _ = write!(self.out, "250-{HOSTNAME} Hello {client}\r\n");
            let _ = write!(self.out, "250-SIZE {MAX_MESSAGE_SIZE}\r\n250-8BITMIME\r\n");
            if self.policy.pipelining {
                self.reply("250-PIPELINING");
            }
            if self.policy.smtputf8 {
                self.reply("250-SMTPUTF8");
            }
            self.reply("250 ENHANCEDSTATUSCODES");
        } else if is("MAIL") {
            if self.policy.closing_at_mail {
                self.reply("421 4.3.2 Service shutting down, closing transmission channel");
                return Next::Quit;
            }
            self.mail(arg);
        } else if is("RCPT") {
            self.rcpt(arg);
        } else if is("DATA") {
            return self.data_command(arg);
        } else if is("RSET") {
            if arg.is_empty() {
                self.reset();
                self.reply("250 2.0.0 Ok");
            } else {
                self.reply("501 5.5.4 Syntax: RSET");
            }
        } else if is("NOOP") {
            self.reply("250 2.0.0 Ok");
        } else if is("VRFY") {
            if arg.is_empty() {
                self.reply("501 5.5.4 Syntax: VRFY address");
            } else {
                self.reply("252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
            }
        } else if is("QUIT") {
            self.reply("221 2.0.0 Bye");
            return Next::Quit;
        } else if ["HELP", "EXPN", "STARTTLS", "AUTH", "BDAT", "TURN", "ETRN", "ATRN", "SEND", "SOML", "SAML"]
            .iter()
            .any(|name| is(name))
        {
            self.reply("502 5.5.1 Error: command not implemented");
        } else if line.is_empty() {
            self.reply("500 5.5.2 Error: bad syntax");
        } else {
            self.reply("500 5.5.2 Error: command not recognized");
        }
        Next::Command
    }

    fn mail(&mut self, arg: &[u8]) {
        if !self.helo {
            return self.reply("503 5.5.1 Error: send HELO/EHLO first");
        }
        if self.mail_from.is_some() {
            return self.reply("503 5.5.1 Error: nested MAIL command");
        }
        let Some(rest) = strip_prefix_ignore_case(arg, b"FROM:") else {
            return self.reply("501 5.5.4 Syntax: MAIL FROM:<address>");
        };
        let Some((address, params)) = parse_path(rest).filter(|(a, _)| a.is_empty() || valid_address(a)) else {
            return self.reply("501 5.1.7 Bad sender address syntax");
        };
        let mut smtputf8 = false;
        let mut size_hint = 0;
        for param in params.split(|&b| b == b' ').filter(|p| !p.is_empty()) {
            let (key, value) = match param.iter().position(|&b| b == b'=') {
                Some(eq) => (&param[..eq], Some(&param[eq + 1..])),
                None => (param, None),
            };
            if key.eq_ignore_ascii_case(b"SIZE") {
                let Some(size) = value.and_then(|v| std::str::from_utf8(v).ok()).and_then(|v| v.parse::<u64>().ok())
                else {
                    return self.reply("501 5.5.4 Bad SIZE parameter");
                };
                if size > MAX_MESSAGE_SIZE as u64 {
                    return self.perm_fail("552 5.3.4 Message size exceeds fixed maximum message size");
                }
                size_hint = size as usize;
            } else if key.eq_ignore_ascii_case(b"BODY") {
                let known =
                    value.is_some_and(|v| v.eq_ignore_ascii_case(b"7BIT") || v.eq_ignore_ascii_case(b"8BITMIME"));
                if !known {
                    return self.reply("501 5.5.4 Bad BODY parameter");
                }
            } else if key.eq_ignore_ascii_case(b"SMTPUTF8") && value.is_none() {
                if !self.policy.smtputf8 {
                    return self.perm_fail("555 5.5.4 SMTPUTF8 not supported");
                }
                smtputf8 = true;
            } else {
                return self.reply("555 5.5.4 Unsupported option");
            }
        }
        if !smtputf8 && !address.is_ascii() {
            return self.perm_fail("553 5.6.7 Non-ASCII address requires SMTPUTF8");
        }
        if self.temp_fail() {
            return;
        }
        self.mail_from = Some(address);
        self.smtputf8 = smtputf8;
        self.size_hint = size_hint;
        self.reply("250 2.1.0 Ok");
    }

    fn rcpt(&mut self, arg: &[u8]) {
        if self.mail_from.is_none() {
            return self.reply("503 5.5.1 Error: need MAIL command");
        }
        let Some(rest) = strip_prefix_ignore_case(arg, b"TO:") else {
            return self.reply("501 5.5.4 Syntax: RCPT TO:<address>");
        };
        let Some((address, params)) =
            parse_path(rest).filter(|(a, _)| valid_address(a) || a.eq_ignore_ascii_case("postmaster"))
        else {
            return self.reply("501 5.1.3 Bad recipient address syntax");
        };
        if !params.is_empty() {
            return self.reply("555 5.5.4 Unsupported option");
        }
        if !self.smtputf8 && !address.is_ascii() {
            return self.perm_fail("553 5.6.7 Non-ASCII address requires SMTPUTF8");
        }
        if self.rcpt_to.len() >= MAX_RECIPIENTS {
            self.shared.temp_failures.fetch_add(1, Ordering::Relaxed);
            return self.reply("452 4.5.3 Error: too many recipients");
        }
        if (self.policy.reject)(&address) {
            self.shared.perm_failures.fetch_add(1, Ordering::Relaxed);
            let _ = write!(self.out, "550 5.1.1 <{address}>: mailbox unavailable\r\n");
            return;
        }
        if local_part_starts_with(&address, "busy") {
            self.shared.temp_failures.fetch_add(1, Ordering::Relaxed);
            return self.reply("451 4.3.0 try again later");
        }
        if self.temp_fail() {
            return;
        }
        self.rcpt_to.push(address);
        self.reply("250 2.1.5 Ok");
    }

    fn data_command(&mut self, arg: &[u8]) -> Next {
        if !arg.is_empty() {
            self.reply("501 5.5.4 Syntax: DATA");
        } else if self.mail_from.is_none() {
            self.reply("503 5.5.1 Error: need RCPT command");
        } else if self.rcpt_to.is_empty() {
            self.reply("554 5.5.1 Error: no valid recipients");
        } else if !self.temp_fail() {
            self.data.begin(self.policy.keep_bodies, self.size_hint);
            self.reply("354 End data with <CR><LF>.<CR><LF>");
            return Next::Data;
        }
        Next::Command
    }

    /// Answers the end of data; false when the sink went down meanwhile.
    async fn end_of_data(&mut self, generation: u64) -> bool {
        if !self.policy.data_delay.is_zero() {
            tokio::time::sleep(self.policy.data_delay).await;
        }
        let too_big = self.data.size > MAX_MESSAGE_SIZE;
        if too_big {
            self.perm_fail("552 5.3.4 Message size exceeds fixed maximum message size");
        } else if !self.temp_fail() {
            let message_id = message_id(&self.data.body);
            let data = if self.data.keep_all { std::mem::take(&mut self.data.body) } else { Vec::new() };
            let received = Received {
                mail_from: self.mail_from.take().unwrap_or_default(),
                rcpt_to: std::mem::take(&mut self.rcpt_to),
                data,
                message_id,
                session: self.id,
            };
            let queue_id = {
                let mut state = self.shared.lock();
                if state.down || state.generation != generation {
                    return false;
                }
                state.messages.push(received);
                state.count += 1;
                state.queue_id += 1;
                state.queue_id
            };
            self.shared.accepted.notify_waiters();
            let _ = write!(self.out, "250 2.0.0 Ok: queued as {queue_id:08X}\r\n");
        }
        self.reset();
        true
    }
}

/// A message coming in after DATA.
#[derive(Default)]
struct DataIn {
    /// The message (or, without `keep_all`, its first `HEAD_KEPT` bytes; that buffer is reused).
    body: Vec<u8>,
    keep_all: bool,
    /// Its whole size so far, kept or not.
    size: usize,
    /// The last byte consumed ended a line (CRLF), or nothing was consumed yet.
    line_start: bool,
    /// The last byte consumed was a CR.
    last_cr: bool,
}

impl DataIn {
    fn begin(&mut self, keep_all: bool, size_hint: usize) {
        if keep_all {
            self.body = Vec::with_capacity(if size_hint > 0 { size_hint.min(MAX_MESSAGE_SIZE) + 2 } else { 16 * 1024 });
        } else {
            self.body.clear();
        }
        self.keep_all = keep_all;
        self.size = 0;
        self.line_start = true;
        self.last_cr = false;
    }

    fn keep(&mut self, bytes: &[u8]) {
        self.size = self.size.saturating_add(bytes.len());
        if self.keep_all {
            if self.size <= MAX_MESSAGE_SIZE {
                self.body.extend_from_slice(bytes);
            } else if !self.body.is_empty() {
                self.body = Vec::new();
            }
        } else if self.body.len() < HEAD_KEPT {
            let room = HEAD_KEPT - self.body.len();
            self.body.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    }

    /// Takes in what it can of `input`: returns how much was consumed and whether the
    /// terminating `.` line was reached (then the rest of `input` is not part of the message).
    /// Leaves unconsumed only a line start that might still become the terminator (`.` or `.\r`).
    fn feed(&mut self, input: &[u8]) -> (usize, bool) {
        let mut i = 0;
        // Start of the bytes seen but not yet kept: runs of lines are copied at once.
        let mut span = 0;
        let (consumed, done) = loop {
            if self.line_start {
                let rest = &input[i..];
                if rest.first() == Some(&b'.') {
                    if rest.starts_with(b".\r\n") {
                        self.keep(&input[span..i]);
                        break (i + 3, true);
                    }
                    if rest.len() < 3 && b".\r\n".starts_with(rest) {
                        self.keep(&input[span..i]);
                        break (i, false);
                    }
                    // Dot-stuffing: the first dot of a line is dropped.
                    self.keep(&input[span..i]);
                    i += 1;
                    span = i;
                } else if rest.is_empty() {
                    self.keep(&input[span..i]);
                    break (i, false);
                }
                self.line_start = false;
            }
            match find_byte(b'\n', &input[i..]) {
                Some(offset) => {
                    let newline = i + offset;
                    // Only CRLF ends a line: a bare LF followed by "." is not the end of data.
                    self.line_start = if newline > 0 { input[newline - 1] == b'\r' } else { self.last_cr };
                    i = newline + 1;
                }
                None => {
                    self.keep(&input[span..]);
                    break (input.len(), false);
                }
            }
        };
        if consumed > 0 {
            self.last_cr = input[consumed - 1] == b'\r';
        }
        (consumed, done)
    }
}

/// `<path>` then optional parameters after a space; the path without its brackets (and without a
/// source route, which RFC 5321 says to ignore). None when malformed.
fn parse_path(arg: &[u8]) -> Option<(String, &[u8])> {
    // RFC 5321 has no space after the colon, but many servers allow it.
    let arg = arg.trim_ascii_start();
    let inner = arg.strip_prefix(b"<")?;
    let mut quoted = false;
    let mut escaped = false;
    let mut close = None;
    for (i, &b) in inner.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if b == b'\\' && quoted {
            escaped = true;
        } else if b == b'"' {
            quoted = !quoted;
        } else if b == b'>' && !quoted {
            close = Some(i);
            break;
        }
    }
    let close = close?;
    let mut path = &inner[..close];
    let params = &inner[close + 1..];
    if !params.is_empty() && params[0] != b' ' {
        return None;
    }
    if path.first() == Some(&b'@') {
        let colon = path.iter().position(|&b| b == b':')?;
        path = &path[colon + 1..];
    }
    if path.iter().any(|&b| b < 0x20 || b == 0x7f || b == b' ' && !path.contains(&b'"')) {
        return None;
    }
    let path = String::from_utf8(path.to_vec()).ok()?;
    Some((path, params.trim_ascii()))
}

/// `local@domain`, both non-empty.
fn valid_address(address: &str) -> bool {
    address.rsplit_once('@').is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}

fn strip_prefix_ignore_case<'a>(bytes: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = bytes.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &bytes[prefix.len()..])
}

/// The value of the first `Message-ID` header in the header section of `message`.
fn message_id(message: &[u8]) -> Option<String> {
    let mut value: Option<Vec<u8>> = None;
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some(value) = &mut value {
                value.push(b' ');
                value.extend_from_slice(line.trim_ascii());
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':')
            && line[..colon].trim_ascii().eq_ignore_ascii_case(b"Message-ID")
        {
            value = Some(line[colon + 1..].trim_ascii().to_vec());
        }
    }
    let value = value?;
    let value = String::from_utf8_lossy(value.trim_ascii());
    (!value.is_empty()).then(|| value.into_owned())
}

/// The first `needle` in `haystack`, eight bytes at a time.
fn find_byte(needle: u8, haystack: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let pattern = ONES * u64::from(needle);
    let mut chunks = haystack.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ pattern;
        // The lowest flagged byte is exactly the first zero byte of x.
        let zero = x.wrapping_sub(ONES) & !x & HIGHS;
        if zero != 0 {
            return Some(offset + (zero.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks.remainder().iter().position(|&b| b == needle).map(|i| offset + i)
}

/// xorshift64*, seeded through splitmix64 (so that any seed, 0 included, works).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Rng(if z == 0 { 0x2545_F491_4F6C_DD1D } else { z })
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}
