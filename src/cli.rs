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

use crate::app::{self, App};
use crate::arabic::{self, Matcher};
use crate::collect::{self, Fetcher};
use crate::config::{Config, Problem};
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
    /// The schedules with their next run times, and the recent runs.
    Jobs,
}

#[derive(Debug, Subcommand)]
enum FeedsCommand {
    /// Rebuild every feed and write the files to the output folder.
    Build,
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
    },
    /// Delete a subscriber and their delivery history.
    Remove {
        /// The subscriber's email address.
        email: String,
    },
    /// List subscribers with their keywords.
    List,
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

fn init_logs(serving: bool) {
    let default = if serving { "info,sqlx=warn,tower_http=info,tokio_cron_scheduler=warn" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("NASHRA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
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
                }
                println!("{}", report.summary());
                if report.sources.iter().any(|s| s.failed) {
                    return Ok(ExitCode::FAILURE);
                }
            }
        }
        Command::Extract { target, source } => extract(&config, &target, source.as_deref(), now).await?,
        Command::Feeds { command: FeedsCommand::Build } => {
            let app = App::new(config).await?;
            if let Some(output) = run_by_hand(&app, Job::Feeds, now).await? {
                println!("{}; output folder {}", output.summary(), app.config.feeds.output_dir.display());
            }
            app.store.close().await;
        }
        Command::Keywords { command: KeywordsCommand::Match { keywords, inflected, file } } => {
            match_keywords(&keywords, inflected, file)?
        }
        Command::Subscribers { command } => subscribers_command(config, command, now).await?,
        Command::Digest { command: DigestCommand::Send { schedule, now: at, dry_run } } => {
            let now = match at {
                Some(t) => {
                    arabic::parse_date(&t, config.site.time_zone, now).with_context(|| format!("--now {t:?}"))?
                }
                None => now,
            };
            let app = App::new(config).await?;
            let editions: Vec<String> = match schedule {
                Some(name) => vec![name],
                None => app.config.editions.iter().map(|e| e.name.clone()).collect(),
            };
            if editions.is_empty() {
                anyhow::bail!("no [[editions]] in the configuration");
            }
            for edition in editions {
                if dry_run {
                    let (outcome, _) = app.send_digest(&edition, now.trunc_subsecs(0), now, true).await?;
                    println!("{}", outcome.summary());
                } else if let Some(output) = run_by_hand(&app, Job::Digest(edition), now).await? {
                    println!("{}", output.summary());
                }
            }
            app.store.close().await;
        }
        Command::Jobs => jobs(config, now).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs a job now, recorded like a scheduled run (trigger "manual", tick = now). A digest's tick
/// is the second (it names the edition and its messages), so a second `digest send` in the same
/// second is the same edition; other jobs may run again at once.
async fn run_by_hand(app: &App, job: Job, now: DateTime<Utc>) -> anyhow::Result<Option<JobOutput>> {
    let tick = match job {
        Job::Digest(_) => now.trunc_subsecs(0),
        _ => now.trunc_subsecs(6),
    };
    let output = schedule::run_job(app, &job, tick, "manual", now).await?;
    if output.is_none() {
        eprintln!("{} was started by hand less than a second ago; not run twice", job.name());
    }
    Ok(output)
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
    let heartbeat = schedule::start(app.clone()).await?;
    let served = crate::web::serve(listener, app.clone(), shutdown_signal()).await;
    tracing::info!("shutting down: waiting for the job in progress");
    heartbeat.stop().await;
    app.store.close().await;
    served.context("HTTP server failed")
}

async fn shutdown_signal() {
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
        // The operator named this page: its host may be private.
        let allowed = collect::AllowedHosts::new(url.host_str().map(str::to_owned));
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

fn match_keywords(keywords: &[String], inflected: bool, file: Option<PathBuf>) -> anyhow::Result<()> {
    let text = match file {
        Some(path) => std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?,
        None => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).context("cannot read standard input")?;
            s
        }
    };
    let entries: Vec<Vec<&str>> = keywords.iter().map(|k| vec![k.as_str()]).collect();
    let mut matcher = Matcher::new(&entries);
    if inflected {
        (0..entries.len()).for_each(|i| matcher.inflect(i));
    }
    let mut count = 0;
    for m in matcher.find_all(&text) {
        let (Some(keyword), Some(surface)) = (keywords.get(m.keyword), text.get(m.start..m.end)) else {
            continue;
        };
        let line = text[..m.start].matches('\n').count() + 1;
        let column = text[..m.start].rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        println!("{line}:{column}\t{keyword}\t{surface}");
        count += 1;
    }
    eprintln!("{count} match(es)");
    Ok(())
}

async fn subscribers_command(config: Config, command: SubscribersCommand, now: DateTime<Utc>) -> anyhow::Result<()> {
    let app = App::new(config).await?;
    match command {
        SubscribersCommand::Add { email, keywords } => {
            let email = SubscriberEmail::parse(&email)?;
            let keywords: Vec<String> = keywords.split([',', '،']).map(|k| k.trim().to_owned()).collect();
            let (subscriber, keywords, created) =
                subscribers::add(&app.store, &app.config, &email, &keywords, now).await?;
            println!(
                "{} {} following: {}",
                if created { "added" } else { "updated" },
                subscriber.email,
                keywords.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join("، ")
            );
        }
        SubscribersCommand::Remove { email } => {
            let email = SubscriberEmail::parse(&email)?;
            if app.store.delete_subscriber(email.as_str()).await? {
                println!("removed {email}");
            } else {
                anyhow::bail!("no subscriber {email}");
            }
        }
        SubscribersCommand::List => {
            for s in app.store.subscribers().await? {
                let keywords = app.store.subscriber_keywords(s.id).await?;
                println!(
                    "{}\t{}\t{}",
                    s.email,
                    s.status().as_str(),
                    keywords.iter().map(|k| k.name.as_str()).collect::<Vec<_>>().join("، ")
                );
            }
        }
    }
    app.store.close().await;
    Ok(())
}

async fn jobs(config: Config, now: DateTime<Utc>) -> anyhow::Result<()> {
    let app = App::new(config).await?;
    println!("schedules:");
    for s in schedule::scheduled_jobs(&app.config) {
        let tz = s.schedule.time_zone();
        let next = s
            .schedule
            .next_after(now)
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_else(|| "never".into());
        println!("  {:<16} {:<16} {:<16} next {next}", s.job.name(), s.schedule.expression(), tz.name());
    }
    println!("recent runs:");
    for r in app.store.recent_job_runs(20).await? {
        println!(
            "  {}  {:<16} {:<8} {:<7} {}",
            r.started_at.format("%Y-%m-%d %H:%M:%SZ"),
            r.job,
            r.trigger,
            r.status,
            r.summary.or(r.error).unwrap_or_default()
        );
    }
    app.store.close().await;
    Ok(())
}
