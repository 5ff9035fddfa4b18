//! The command line (`nashra [--config FILE] COMMAND`): each command loads the configuration,
//! builds what it needs and calls the same job functions the scheduler calls. Results go to
//! stdout, logs to stderr; a bad configuration is listed in full and exits with status 2.

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, SubsecRound, Utc};
use clap::{Parser, Subcommand};

use crate::admin;
use crate::app::{self, App};
use crate::arabic::{self, Matcher};
use crate::collect::{self, Fetcher};
use crate::config::{Config, Problem};
use crate::delivery::{SendReport, build_message};
use crate::progress::Progress;
use crate::schedule::{self, Job, JobOutput};
use crate::subscribers::{self, SubscriberEmail};

#[derive(Debug, Parser)]
#[command(
    name = "nashra",
    version,
    about = "Syndication feeds and right-to-left email digests for Arabic-language publishers"
)]
pub struct Cli {
    /// The configuration file.
    #[arg(long, short, global = true, env = "NASHRA_CONFIG", default_value = "nashra.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server and the scheduler.
    Serve {
        /// Listen on this address instead of http.listen.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Check the configuration and the email templates; list every problem.
    CheckConfig,
    /// Collect every enabled source now (or one), then rebuild the feeds.
    Collect {
        #[arg(long)]
        source: Option<String>,
    },
    /// Print, as JSON, what the extractor takes from one page (a URL or a file).
    Extract {
        target: String,
        /// Use this source's selectors and time zone.
        #[arg(long)]
        source: Option<String>,
    },
    /// Feed commands.
    Feeds {
        #[command(subcommand)]
        command: FeedsCommand,
    },
    /// Keyword commands.
    Keywords {
        #[command(subcommand)]
        command: KeywordsCommand,
    },
    /// Subscriber administration.
    Subscribers {
        #[command(subcommand)]
        command: SubscribersCommand,
    },
    /// Digest commands.
    Digest {
        #[command(subcommand)]
        command: DigestCommand,
    },
    /// The outbox: messages by edition and status, and the latest SMTP replies (or: retry).
    Outbox {
        #[command(subcommand)]
        command: Option<OutboxCommand>,
    },
    /// The schedules with their next run times, and the recent runs (or: pause, resume).
    Jobs {
        #[command(subcommand)]
        command: Option<JobsCommand>,
    },
    /// The sources with their state: failures, last error, last success, next poll.
    Sources,
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// Pause a scheduled job on every instance: its ticks are recorded as skipped until resumed.
    Pause { job: String },
    /// Resume a paused job.
    Resume { job: String },
}

#[derive(Debug, Subcommand)]
enum FeedsCommand {
    /// Build the feeds whose content changed since the build the output folder records, and
    /// write the files whose bytes changed.
    Build {
        /// Build every feed and compare each with its file, whatever the folder records.
        #[arg(long)]
        full: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeywordsCommand {
    /// Show which keywords match a text (a file, or standard input), and where.
    Match {
        /// A keyword to look for (repeat for several; a phrase is one argument).
        #[arg(long = "keyword", short, required = true)]
        keywords: Vec<String>,
        /// Match the keywords' suffix forms too (العراق → العراقية، العراقيون).
        #[arg(long)]
        inflected: bool,
        /// The text to search (UTF-8); standard input when absent.
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum SubscribersCommand {
    /// Add an active subscriber (or update the keywords of an existing one).
    Add {
        /// The subscriber's email address.
        email: String,
        /// Keywords to follow, separated by commas (, or ،).
        #[arg(long, required = true)]
        keywords: String,
        /// Bring back a reader who unsubscribed or whose address is suppressed (lifts the
        /// suppression). Without it such a reader is left alone.
        #[arg(long)]
        resubscribe: bool,
    },
    /// Delete a subscriber and their delivery history.
    Remove {
        /// The subscriber's email address.
        email: String,
    },
    /// List subscribers with their keywords.
    List,
    /// Import readers from a CSV file (email, keywords, status, created), streamed; every bad
    /// row is reported with its line number and the rest imported.
    Import {
        /// The CSV file (UTF-8, with a header line naming its columns).
        file: PathBuf,
        /// The list already opted in elsewhere: active rows import active (otherwise new
        /// readers wait for their confirmation).
        #[arg(long)]
        confirmed: bool,
        /// Bring back addresses that unsubscribed or are suppressed here.
        #[arg(long)]
        resubscribe: bool,
    },
    /// Export every reader, whatever their status, as CSV.
    Export {
        /// Write here instead of standard output.
        file: Option<PathBuf>,
    },
    /// Act on one unsubscribe request that arrived by mail (the `mailto:` of List-Unsubscribe),
    /// read from FILE or standard input — pipe `mail.unsubscribe_address` here from the MTA.
    /// Exits 0 when the message was dealt with (acted on or ignored), 75 (try again later)
    /// when the database could not be reached.
    UnsubscribeMail {
        /// The message (RFC 5322); default: standard input.
        file: Option<PathBuf>,
    },
    /// List the suppressed addresses (refused for good by the relay) with the reply.
    Suppressed,
    /// Lift the suppression of an address, so that it is written to again.
    Unsuppress {
        /// The suppressed address.
        email: String,
    },
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// Put failed (and bounced, if no longer suppressed) messages back in the queue and send
    /// what is due; their retry period starts again.
    Retry {
        /// Only this edition's messages (its number, as `nashra outbox` shows it).
        #[arg(long, conflicts_with = "failed")]
        edition: Option<i64>,
        /// Every failed message.
        #[arg(long)]
        failed: bool,
    },
}

#[derive(Debug, Subcommand)]
enum DigestCommand {
    /// Plan and send one digest edition now (every edition if no --schedule): the articles new
    /// since the edition's previous run, to every active subscriber they match.
    Send {
        /// The edition (an [[editions]] name).
        #[arg(long)]
        schedule: Option<String>,
        /// Run as if it were this time (RFC 3339; without an offset, in the site's time zone).
        #[arg(long)]
        now: Option<String>,
        /// Show what would be sent, send nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write what one reader would get from the next edition now — its HTML, its text and the
    /// whole message (.eml) — rendered by the edition's own code; nothing is recorded or sent.
    Preview {
        /// The reader's address.
        #[arg(long)]
        subscriber: String,
        /// The edition (default: the first [[editions]]).
        #[arg(long)]
        edition: Option<String>,
        /// As if it were this time (RFC 3339; without an offset, in the site's time zone).
        #[arg(long)]
        now: Option<String>,
        /// The folder the three files are written to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Send one real message of the next edition through the configured transport to ADDRESS:
    /// a reader's digest (--subscriber) or every keyword with new articles. Nothing is recorded.
    Test {
        /// Where to send it.
        #[arg(long)]
        to: String,
        /// Send this reader's digest (their links included) instead of the whole edition.
        #[arg(long)]
        subscriber: Option<String>,
        /// The edition (default: the first [[editions]]).
        #[arg(long)]
        edition: Option<String>,
        /// As if it were this time (RFC 3339; without an offset, in the site's time zone).
        #[arg(long)]
        now: Option<String>,
    },
}

/// Parses the command line and runs the command.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    init_logs(matches!(cli.command, Command::Serve { .. }));
    match execute(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Third-party crates and the level they log at unless `NASHRA_LOG` names them: at `debug`,
/// the HTML parser alone would write nearly every line.
const QUIET: [(&str, &str); 15] = [
    ("html5ever", "info"),
    ("markup5ever", "info"),
    ("selectors", "info"),
    ("scraper", "info"),
    ("dom_smoothie", "info"),
    ("hyper", "info"),
    ("hyper_util", "info"),
    ("h2", "info"),
    ("rustls", "info"),
    ("reqwest", "info"),
    ("mio", "info"),
    ("want", "info"),
    ("tower", "info"),
    ("tokio_cron_scheduler", "warn"),
    ("sqlx", "warn"),
];

/// The filter of `NASHRA_LOG` (or the default), with the third-party crates it does not name
/// kept quiet.
fn log_filter(asked: Option<&str>, serving: bool) -> String {
    let asked = asked.map(str::trim).filter(|a| !a.is_empty());
    let mut filter = asked.unwrap_or(if serving { "info" } else { "warn" }).to_owned();
    for (target, level) in QUIET {
        if !asked.is_some_and(|a| a.contains(target)) {
            filter.push_str(&format!(",{target}={level}"));
        }
    }
    filter
}

/// Logs to standard error: lines for people, or one JSON object a line with
/// `NASHRA_LOG_FORMAT=json`.
fn init_logs(serving: bool) {
    let asked = std::env::var("NASHRA_LOG").ok();
    let filter = tracing_subscriber::EnvFilter::try_new(log_filter(asked.as_deref(), serving))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_filter(None, serving)));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("NASHRA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        builder.json().with_current_span(true).init();
    } else {
        builder.init();
    }
}

fn report_problems(path: &std::path::Path, problems: &[Problem]) -> ExitCode {
    eprintln!("{} has {} problem(s):", path.display(), problems.len());
    for p in problems {
        eprintln!("  - {p}");
    }
    ExitCode::from(2)
}

async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = match app::check(&cli.config) {
        Ok(config) => config,
        Err(problems) => return Ok(report_problems(&cli.config, &problems)),
    };
    let warnings = config.warnings();
    if !matches!(cli.command, Command::CheckConfig) {
        for w in &warnings {
            tracing::warn!("{w}");
        }
    }
    let now = Utc::now();
    match cli.command {
        Command::CheckConfig => {
            println!(
                "{}: configuration and templates are valid ({} source(s), {} feed(s), {} edition(s))",
                cli.config.display(),
                config.sources.len(),
                config.feeds.declared.len(),
                config.editions.len()
            );
            for w in &warnings {
                println!("warning: {w}");
            }
        }
        Command::Serve { listen } => serve(config, listen).await?,
        Command::Collect { source } => {
            let app = App::new(config).await?;
            let output = run_by_hand(&app, Job::Collect(source), now).await?;
            app.store.close().await;
            if let Some(JobOutput::Collect(report)) = output {
                for s in &report.sources {
                    println!("{}: {} new, {} updated, {} unchanged", s.source, s.inserted, s.updated, s.unchanged);
                    for e in &s.errors {
                        println!("  error: {e}");
                    }
                    for url in &s.undated {
                        println!("  undated: {url}: no date found, kept with the time first seen");
                    }
                }
                println!("{}", report.summary());
                // A source that gave only errors fails the run, as one that could not be read.
                if report.failure().is_some() {
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Extract { target, source } => extract(&config, &target, source.as_deref(), now).await?,
        Command::Feeds { command: FeedsCommand::Build { full } } => {
            let app = App::new(config).await?;
            if full {
                app.publisher.build_everything_next().await;
            }
            if let Some(output) = run_by_hand(&app, Job::Feeds, now).await? {
                println!("{}; output folder {}", output.summary(), app.config.feeds.output_dir.display());
            }
            app.store.close().await;
        }
        Command::Keywords { command: KeywordsCommand::Match { keywords, inflected, file } } => {
            match_keywords(&config, &keywords, inflected, file)?
        }
        Command::Subscribers { command } => return subscribers_command(config, command, now).await,
        Command::Digest { command: DigestCommand::Send { schedule, now: at, dry_run } } => {
            let now = time_given(&config, at, now)?;
            let app = App::new(config).await?;
            stop_on_signal(&app);
            let editions: Vec<String> = match schedule {
                Some(name) => vec![name],
                None => app.config.editions.iter().map(|e| e.name.clone()).collect(),
            };
            if editions.is_empty() {
                anyhow::bail!("no [[editions]] in the configuration");
            }
            let mut failed = false;
            for edition in editions {
                if dry_run {
                    let run = app.send_digest(&edition, now.trunc_subsecs(0), now, true).await?;
                    println!("{}", run.outcome.summary());
                } else {
                    failed |= send_digest_by_hand(&app, edition, now).await?;
                }
            }
            app.sender.close().await;
            app.store.close().await;
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Digest { command: DigestCommand::Preview { subscriber, edition, now: at, out } } => {
            let now = time_given(&config, at, now)?;
            let app = App::new(config).await?;
            let reader = reader_by_address(&app, &subscriber).await?;
            let edition = edition_or_first(&app, edition)?;
            let Some(composed) = app.preview_digest(&edition, now, Some(&reader), true).await? else {
                println!(
                    "nothing to send: the {edition} edition has nothing new for {subscriber} now (or they do not get it: paused, another edition, not active)"
                );
                return Ok(ExitCode::SUCCESS);
            };
            crate::files::create_private_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
            let to = recipient_address(&reader.email)?;
            let eml = build_message(&composed, &to, &app.config.mail.from, now).map_err(anyhow::Error::msg)?;
            for (extension, bytes) in
                [("html", composed.html.as_bytes()), ("txt", composed.text.as_bytes()), ("eml", &eml)]
            {
                let path = out.join(format!("digest-{edition}.{extension}"));
                crate::files::write_private(&path, bytes)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("{}", path.display());
            }
            app.store.close().await;
        }
        Command::Digest { command: DigestCommand::Test { to, subscriber, edition, now: at } } => {
            let now = time_given(&config, at, now)?;
            let app = App::new(config).await?;
            let reader = match subscriber {
                Some(address) => Some(reader_by_address(&app, &address).await?),
                None => None,
            };
            let edition = edition_or_first(&app, edition)?;
            // A reader's links go only to that reader: anyone else gets links to the home page.
            let theirs =
                reader.as_ref().is_some_and(|r| SubscriberEmail::parse(&to).is_ok_and(|t| t.as_str() == r.email));
            let Some(mut composed) = app.preview_digest(&edition, now, reader.as_ref(), theirs).await? else {
                println!("nothing to send: the {edition} edition has nothing new now");
                return Ok(ExitCode::SUCCESS);
            };
            composed.subject = format!("[تجربة] {}", composed.subject);
            app.sender
                .send_one(&composed, &to)
                .await
                .map_err(|e| anyhow::anyhow!("test message to {to} not sent: {e}"))?;
            println!("sent a test message of the {edition} edition to {to}");
            app.sender.close().await;
            app.store.close().await;
        }
        Command::Outbox { command } => return outbox(config, command).await,
        Command::Jobs { command } => return jobs(config, command, now).await,
        Command::Sources => sources(config).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `--now` as given (RFC 3339, or in the site's time zone), or the real time.
fn time_given(config: &Config, given: Option<String>, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    match given {
        Some(t) => arabic::parse_date(&t, config.site.time_zone, now).with_context(|| format!("--now {t:?}")),
        None => Ok(now),
    }
}

async fn reader_by_address(app: &App, address: &str) -> anyhow::Result<crate::store::Subscriber> {
    let email = SubscriberEmail::parse(address)?;
    app.store.subscriber_by_email(email.as_str()).await?.ok_or_else(|| anyhow::anyhow!("no subscriber {email}"))
}

fn edition_or_first(app: &App, edition: Option<String>) -> anyhow::Result<String> {
    match edition {
        Some(name) => Ok(name),
        None => app
            .config
            .editions
            .first()
            .map(|e| e.name.clone())
            .ok_or_else(|| anyhow::anyhow!("no [[editions]] in the configuration")),
    }
}

fn recipient_address(email: &str) -> anyhow::Result<lettre::Address> {
    crate::delivery::envelope_address(email).map_err(anyhow::Error::msg)
}

/// Runs a job now, recorded like a scheduled run (trigger "manual", tick = now). Other jobs
/// than digests may run again at once.
async fn run_by_hand(app: &App, job: Job, now: DateTime<Utc>) -> anyhow::Result<Option<JobOutput>> {
    let output = admin::run_now(app, &job, now).await?;
    if output.is_none() {
        eprintln!("{} was started by hand less than a microsecond ago; not run twice", job.name());
    }
    Ok(output)
}

/// Plans and sends one edition by hand; returns whether it failed. The edition's tick is the
/// second (it names the edition and its messages), so a second `digest send` in the same second,
/// or with the same `--now`, is the same edition. If that edition is being run by another
/// process, this one sends alongside it until it ends — and takes the run over if its process
/// died (once its lease runs out), so a restart after a crash carries on where it stopped.
async fn send_digest_by_hand(app: &App, edition: String, now: DateTime<Utc>) -> anyhow::Result<bool> {
    let job = Job::Digest(edition);
    let tick = now.trunc_subsecs(0);
    let progress = Progress::new(format!("{}: sent", job.name()));
    let show = |r: &SendReport| {
        progress.update(r.sent as u64, &format!("{} to retry, {} failed, {} bounced", r.retried, r.failed, r.bounced))
    };
    let mut said = false;
    let mut delivered = SendReport::default();
    let failed = loop {
        if let Some(output) = schedule::run_job_with(app, &job, tick, "manual", now, &show).await? {
            progress.finish();
            println!("{}", output.summary());
            break output.failure().is_some();
        }
        let status = app.store.job_run_status(&job.name(), tick).await?.unwrap_or_default();
        if !said {
            eprintln!("{} at {tick} has been run already ({status}); sending what is due", job.name());
            said = true;
        }
        // Its messages may still wait: another sender at work, a relay that was down, a sender
        // that died.
        let report = app.deliver_with(&show).await?;
        delivered.sent += report.sent;
        delivered.retried += report.retried;
        delivered.failed += report.failed;
        delivered.bounced += report.bounced;
        delivered.relay_down = report.relay_down;
        if status != "running" || app.shutdown.is_cancelled() {
            progress.finish();
            println!("outbox: {}", delivered.summary());
            break delivered.has_failures();
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    Ok(failed)
}

async fn serve(config: Config, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let addr = listen.unwrap_or(config.http.listen);
    let app = Arc::new(App::new(config).await?);
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    tracing::info!(
        database = app.store.backend(),
        "nashra listening on http://{local}/ — feeds at http://{local}/feeds/all.atom"
    );
    stop_on_signal(&app);
    let heartbeat = schedule::start(app.clone()).await?;
    let stopping = app.shutdown.clone();
    let served = crate::web::serve(listener, app.clone(), async move { stopping.cancelled().await }).await;
    tracing::info!("shutting down: finishing the messages in flight");
    heartbeat.stop().await;
    app.background.close();
    app.background.wait().await;
    app.sender.close().await;
    app.store.close().await;
    served.context("HTTP server failed")
}

/// On SIGTERM or SIGINT, asks the app to stop: long jobs end at their next safe point (messages
/// in flight are finished, the rest go back to the queue; planning stops after its page). A
/// second signal exits at once.
fn stop_on_signal(app: &App) {
    let token = app.shutdown.clone();
    tokio::spawn(async move {
        signal().await;
        tracing::warn!("asked to stop: finishing what is in flight (a second signal exits at once)");
        token.cancel();
        signal().await;
        std::process::exit(130);
    });
}

async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

async fn extract(config: &Config, target: &str, source: Option<&str>, now: DateTime<Utc>) -> anyhow::Result<()> {
    let source = match source {
        Some(name) => Some(
            config
                .sources
                .iter()
                .find(|s| s.name == name)
                .ok_or_else(|| anyhow::anyhow!("no source is called {name:?}"))?,
        ),
        None => None,
    };
    let selectors = source.and_then(|s| s.article.as_ref());
    let tz = source.map_or(config.site.time_zone, |s| s.time_zone);
    let (html, url) = if target.starts_with("http://") || target.starts_with("https://") {
        let url = url::Url::parse(target).with_context(|| format!("{target:?} is not a valid URL"))?;
        // The operator named this page: its origin may be private.
        let allowed = collect::AllowedOrigins::new([&url]);
        let page = Fetcher::new(&config.collect, allowed).map_err(anyhow::Error::msg)?.get(&url).await?;
        (page.body, page.url)
    } else {
        let path = std::fs::canonicalize(target).with_context(|| format!("cannot open {target}"))?;
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let url =
            url::Url::from_file_path(&path).map_err(|()| anyhow::anyhow!("cannot make a URL of {}", path.display()))?;
        (collect::decode(&bytes, None), url)
    };
    let extracted =
        collect::extract(&html, &url, selectors, tz, now).with_context(|| format!("cannot extract {target}"))?;
    println!("{}", serde_json::to_string_pretty(&extracted)?);
    Ok(())
}

/// `keywords match`: where the keywords match a text, as the service would match them (the
/// configuration's aliases, suffix forms and proper names). The text is read and matched a line
/// at a time, so a large file streams; each match prints as line:column (in characters).
fn match_keywords(config: &Config, keywords: &[String], inflected: bool, file: Option<PathBuf>) -> anyhow::Result<()> {
    use std::io::Write as _;
    let rules = crate::keywords::Rules::new(&config.keywords);
    let mut names = Vec::new();
    for k in keywords {
        let name = crate::keywords::KeywordName::parse(k).with_context(|| format!("--keyword {k:?}"))?;
        names.push(rules.canonical(name));
    }
    let matcher = rules.matcher_of(names.iter().map(|n| (n.as_str(), n.normalized())), inflected);
    let input: Box<dyn std::io::BufRead> = match &file {
        Some(path) => Box::new(std::io::BufReader::new(
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
        )),
        None => Box::new(std::io::stdin().lock()),
    };
    let source = file.as_ref().map_or_else(|| "standard input".to_owned(), |p| p.display().to_string());
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let count = print_matches(&matcher, &names, input, &mut out).with_context(|| format!("cannot read {source}"))?;
    out.flush()?;
    eprintln!("{count} match(es)");
    Ok(())
}

/// Matches `input` line by line and prints each match; returns how many there were. A phrase
/// that runs over a line break prints at the line where it starts.
fn print_matches(
    matcher: &Matcher,
    names: &[crate::keywords::KeywordName],
    mut input: impl std::io::BufRead,
    out: &mut impl std::io::Write,
) -> anyhow::Result<usize> {
    // The lines since the oldest phrase still under way began: (offset, number, text).
    let mut recent: std::collections::VecDeque<(usize, usize, String)> = std::collections::VecDeque::new();
    let mut scan = matcher.scan();
    let (mut offset, mut number, mut count) = (0, 0, 0);
    let mut found = Vec::new();
    loop {
        let mut line = String::new();
        let read = input.read_line(&mut line).with_context(|| format!("line {}", number + 1))?;
        if read == 0 {
            break;
        }
        number += 1;
        found.clear();
        scan.feed(&line, offset, |m| found.push(m));
        found.sort_by_key(|m| (m.start, m.end, m.keyword));
        found.dedup();
        recent.push_back((offset, number, line));
        // Columns counted once along the line, in the order of the matches.
        let (mut at, mut column) = (0, 1);
        let Some((_, _, line)) = recent.back() else { break };
        for m in &found {
            let Some(name) = names.get(m.keyword) else { continue };
            let (line_number, col, surface) = match m.start.checked_sub(offset) {
                Some(start) => {
                    column += line.get(at..start).map_or(0, |s| s.chars().count());
                    at = start;
                    (number, column, line.get(start..m.end - offset).unwrap_or_default().to_owned())
                }
                // A phrase that began on an earlier line (rare: rebuilt from the recent lines).
                None => {
                    let Some(&(first, first_number, _)) = recent.iter().rev().find(|(o, _, _)| *o <= m.start) else {
                        continue;
                    };
                    let text: String = recent.iter().filter(|(o, _, _)| *o >= first).map(|r| r.2.as_str()).collect();
                    let col = text.get(..m.start - first).map_or(0, |s| s.chars().count()) + 1;
                    (first_number, col, text.get(m.start - first..m.end - first).unwrap_or_default().replace('\n', " "))
                }
            };
            writeln!(out, "{line_number}:{col}\t{name}\t{surface}")?;
            count += 1;
        }
        offset += recent.back().map_or(0, |r| r.2.len());
        // Lines before the one where the oldest phrase under way began are done with.
        let keep_from = scan.pending_since().unwrap_or(offset);
        while recent.len() > 1 && recent.get(1).is_some_and(|r| r.0 <= keep_from) {
            recent.pop_front();
        }
    }
    Ok(count)
}

async fn subscribers_command(
    config: Config,
    command: SubscribersCommand,
    now: DateTime<Utc>,
) -> anyhow::Result<ExitCode> {
    let app = App::new(config).await?;
    let code = match command {
        SubscribersCommand::UnsubscribeMail { file } => {
            let mut message = Vec::new();
            match &file {
                Some(path) => {
                    message = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
                }
                None => {
                    std::io::stdin()
                        .read_to_end(&mut message)
                        .context("cannot read the message from standard input")?;
                }
            }
            match subscribers::unsubscribe_by_mail(&app.store, &app.links, &message, now).await {
                Ok(subscribers::ByMail::Unsubscribed(email)) => {
                    println!("unsubscribed {email}");
                    ExitCode::SUCCESS
                }
                Ok(subscribers::ByMail::Ignored(why)) => {
                    println!("ignored: {why}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    // EX_TEMPFAIL: the MTA keeps the message and tries again.
                    ExitCode::from(75)
                }
            }
        }
        SubscribersCommand::Add { email, keywords, resubscribe } => {
            let email = SubscriberEmail::parse(&email)?;
            let keywords: Vec<String> = keywords.split([',', '،']).map(|k| k.trim().to_owned()).collect();
            let (subscriber, keywords, created) =
                subscribers::add(&app.store, &app.config, &email, &keywords, now, resubscribe).await?;
            println!(
                "{} {} following: {}",
                if created { "added" } else { "updated" },
                subscriber.email,
                keywords.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join("، ")
            );
            ExitCode::SUCCESS
        }
        SubscribersCommand::Remove { email } => {
            let email = SubscriberEmail::parse(&email)?;
            if app.store.delete_subscriber(email.as_str()).await? {
                println!("removed {email}");
            } else {
                anyhow::bail!("no subscriber {email}");
            }
            ExitCode::SUCCESS
        }
        SubscribersCommand::List => {
            let suppressed: std::collections::HashSet<String> =
                app.store.suppressions().await?.into_iter().map(|s| s.email).collect();
            for s in app.store.subscribers().await? {
                let keywords = app.store.subscriber_keywords(s.id).await?;
                let status = if suppressed.contains(&s.email) { "suppressed" } else { s.status().as_str() };
                println!(
                    "{}\t{}\t{}",
                    s.email,
                    status,
                    keywords.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join("، ")
                );
            }
            ExitCode::SUCCESS
        }
        SubscribersCommand::Import { file, confirmed, resubscribe } => {
            stop_on_signal(&app);
            let input = std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
            let options = subscribers::ImportOptions { confirmed, resubscribe };
            let progress = Progress::new(format!("import {}", file.display()));
            let mut on_bad = |line: u64, reason: &str| {
                progress.finish();
                eprintln!("{}:{line}: {reason}", file.display());
            };
            let show = |r: &subscribers::ImportReport| progress.update(r.rows, &format!("{} added", r.added));
            let report = subscribers::import(
                &app.store,
                &app.config,
                std::io::BufReader::new(input),
                &options,
                now,
                &mut on_bad,
                &show,
            )
            .await;
            progress.finish();
            let report = report?;
            println!("{}", report.summary());
            if report.bad > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
        SubscribersCommand::Export { file } => {
            let rows = match &file {
                Some(path) => {
                    let out = crate::files::create_private(path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    subscribers::export(&app.store, std::io::BufWriter::new(out)).await?
                }
                None => subscribers::export(&app.store, std::io::BufWriter::new(std::io::stdout().lock())).await?,
            };
            eprintln!("{rows} reader(s) exported");
            ExitCode::SUCCESS
        }
        SubscribersCommand::Suppressed => {
            let list = app.store.suppressions().await?;
            for s in &list {
                println!("{}\t{}\t{}", s.email, s.created_at.format("%Y-%m-%d %H:%M:%SZ"), s.reason);
            }
            eprintln!("{} suppressed address(es)", list.len());
            ExitCode::SUCCESS
        }
        SubscribersCommand::Unsuppress { email } => {
            let email = SubscriberEmail::parse(&email)?;
            if app.store.unsuppress(email.as_str()).await? {
                println!("{email} is no longer suppressed");
                ExitCode::SUCCESS
            } else {
                eprintln!("{email} was not suppressed");
                ExitCode::FAILURE
            }
        }
    };
    app.store.close().await;
    Ok(code)
}

async fn outbox(config: Config, command: Option<OutboxCommand>) -> anyhow::Result<ExitCode> {
    let app = App::new(config).await?;
    let code = match command {
        None => {
            let view = admin::outbox(&app, 10).await?;
            println!("editions (newest first):");
            for e in &view.editions {
                print!("\n  #{:<6} {:<12} {}", e.edition, e.schedule, e.tick.format("%Y-%m-%d %H:%M:%SZ"));
                for (status, count) in &e.deliveries {
                    print!("  {count} {status}");
                }
            }
            println!();
            if !view.latest_replies.is_empty() {
                println!("latest replies:");
                for r in &view.latest_replies {
                    println!(
                        "  #{:<6} {:<9} {} attempt(s)  @{}  {}",
                        r.edition, r.status, r.attempts, r.domain, r.reply
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Some(OutboxCommand::Retry { edition, failed }) => {
            if edition.is_none() && !failed {
                anyhow::bail!("say which messages to put back: --edition N or --failed");
            }
            stop_on_signal(&app);
            let requeued = admin::retry(&app, edition).await?;
            println!("{requeued} message(s) put back in the queue");
            let progress = Progress::new("outbox retry: sent");
            let report = app
                .deliver_with(&|r: &SendReport| {
                    progress.update(r.sent as u64, &format!("{} to retry, {} failed", r.retried, r.failed))
                })
                .await;
            progress.finish();
            let report = report?;
            println!("{}", report.summary());
            app.sender.close().await;
            if report.has_failures() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
        }
    };
    app.store.close().await;
    Ok(code)
}

async fn jobs(config: Config, command: Option<JobsCommand>, now: DateTime<Utc>) -> anyhow::Result<ExitCode> {
    let app = App::new(config).await?;
    if let Some(JobsCommand::Pause { job: name } | JobsCommand::Resume { job: name }) = &command {
        let pause = matches!(command, Some(JobsCommand::Pause { .. }));
        let Some(changed) = admin::set_paused(&app, name, pause, now).await? else {
            eprintln!("{}", admin::unknown_job(&app, name));
            return Ok(ExitCode::from(2));
        };
        let what = if pause { "paused" } else { "resumed" };
        println!("{name}: {}", if changed { what.to_owned() } else { format!("already {what}") });
        app.store.close().await;
        return Ok(ExitCode::SUCCESS);
    }
    let view = admin::jobs(&app, now, 20).await?;
    println!("schedules (the next runs, in each job's time zone):");
    for j in &view.jobs {
        let next: Vec<&str> = j.next_runs.iter().map(|t| t.shown.as_str()).collect();
        let next = if next.is_empty() { "never".to_owned() } else { next.join(", ") };
        let paused = j.paused_since.map(|p| format!("  PAUSED since {}", p.format("%Y-%m-%d %H:%M:%SZ")));
        println!("  {:<16} {:<16} {:<16} next {next}{}", j.name, j.cron, j.time_zone, paused.unwrap_or_default());
    }
    println!("recent runs:");
    for r in &view.recent_runs {
        println!(
            "  {}  tick {}  {:<16} {:<8} {:<7} {}",
            r.started_at.format("%Y-%m-%d %H:%M:%S%.3fZ"),
            r.tick.format("%H:%M:%SZ"),
            r.job,
            r.trigger,
            r.status,
            r.summary.as_deref().or(r.error.as_deref()).unwrap_or_default()
        );
    }
    app.store.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn sources(config: Config) -> anyhow::Result<()> {
    let app = App::new(config).await?;
    for s in admin::sources(&app).await? {
        let when =
            |t: Option<DateTime<Utc>>| t.map_or("never".to_owned(), |t| t.format("%Y-%m-%d %H:%M:%SZ").to_string());
        println!(
            "  {:<16} {:<8} {}{}\n      last success {}, {} failure(s) in a row{}{}",
            s.name,
            s.kind,
            s.url.as_deref().unwrap_or("(pushed)"),
            if s.enabled { "" } else { "  (disabled)" },
            when(s.last_success_at),
            s.failures,
            s.next_poll_at.map(|t| format!(", next poll {}", when(Some(t)))).unwrap_or_default(),
            s.last_error.map(|e| format!("\n      last error: {e}")).unwrap_or_default()
        );
    }
    app.store.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn third_party_crates_stay_quiet_unless_named() {
        let f = log_filter(Some("debug"), true);
        assert!(f.starts_with("debug,") && f.contains("html5ever=info") && f.contains("sqlx=warn"), "{f}");
        let f = log_filter(Some("debug,sqlx=debug"), true);
        assert!(f.contains("sqlx=debug") && !f.contains("sqlx=warn"), "{f}");
        assert!(log_filter(None, false).starts_with("warn,"));
        assert!(tracing_subscriber::EnvFilter::try_new(log_filter(Some("nashra=trace"), true)).is_ok());
    }
}
