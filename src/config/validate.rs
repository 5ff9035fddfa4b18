//! Raw configuration → typed configuration. Every check runs, so one pass reports every problem;
//! each problem carries the dotted key, the value and a reason an operator can act on.

use std::fmt::Display;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use lettre::message::Mailbox;
use scraper::Selector;

use crate::spec::{ArticleSelectors, FeedSpec, KeywordName, SelectorsCss};
use url::Url;

use super::flex::Lenient;
use super::raw::{RawConfig, RawSchedule, RawSmtp, RawSource};
use super::*;

struct Check {
    problems: Vec<Problem>,
}

impl Check {
    fn report(&mut self, key: impl Into<String>, value: impl Display, reason: impl Into<String>) {
        self.problems.push(Problem::new(key, value, reason));
    }

    fn non_empty(&mut self, key: &str, value: &str) -> Option<String> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            self.report(key, value, "must not be empty");
            return None;
        }
        Some(trimmed.to_owned())
    }

    fn time_zone(&mut self, key: &str, value: &str) -> Option<Tz> {
        match value.trim().parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.report(key, value, "unknown time zone: use an IANA name such as Africa/Cairo or Europe/Paris");
                None
            }
        }
    }

    fn optional_time_zone(&mut self, key: &str, value: Option<&str>, default: Option<Tz>) -> Option<Tz> {
        match value {
            Some(v) => self.time_zone(key, v),
            None => default,
        }
    }

    fn http_url(&mut self, key: &str, value: &str) -> Option<Url> {
        match Url::parse(value.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
            Ok(url) => {
                self.report(
                    key,
                    value,
                    format!("must be an http:// or https:// URL with a host, not {}:", url.scheme()),
                );
                None
            }
            Err(e) => {
                self.report(key, value, format!("not a valid URL: {e}"));
                None
            }
        }
    }

    fn schedule(&mut self, key: &str, raw: &RawSchedule, default_tz: Option<Tz>) -> Option<super::Schedule> {
        let tz = self.optional_time_zone(&format!("{key}.time_zone"), raw.time_zone.as_deref(), default_tz);
        let key = format!("{key}.cron");
        match super::Schedule::parse(&raw.cron, tz.unwrap_or(Tz::UTC)) {
            Ok(s) => tz.map(|_| s),
            Err(reason) => {
                self.report(key, &raw.cron, reason);
                None
            }
        }
    }

    fn selector(&mut self, key: &str, value: &str) -> Option<Selector> {
        match Selector::parse(value) {
            Ok(s) => Some(s),
            Err(e) => {
                self.report(key, value, format!("not a valid CSS selector: {e}"));
                None
            }
        }
    }

    /// The value of a number or boolean, or `None` after reporting why it cannot be read.
    fn read<T: Clone>(&mut self, key: &str, value: &Lenient<T>) -> Option<T> {
        match value {
            Lenient::Ok(v) => Some(v.clone()),
            Lenient::Bad { written, reason } => {
                self.report(key, written, format!("not a valid value here ({reason})"));
                None
            }
        }
    }

    /// A finite, non-negative number of seconds (or hours, or a rate); 0 only if `zero_ok`.
    fn seconds(&mut self, key: &str, value: &Lenient<f64>, zero_ok: bool) -> Option<f64> {
        let v = self.read(key, value)?;
        if !v.is_finite() || v < 0.0 || (v == 0.0 && !zero_ok) || v > 1e9 {
            let bound = if zero_ok { "0 or more" } else { "greater than 0" };
            self.report(key, v, format!("must be a number {bound} (and below 10⁹)"));
            return None;
        }
        Some(v)
    }

    /// A number that must be at least 1.
    fn positive<T>(&mut self, key: &str, value: &Lenient<T>) -> Option<T>
    where
        T: Clone + Into<u64>,
    {
        let v = self.read(key, value)?;
        if v.clone().into() == 0 {
            self.report(key, 0, "must be greater than 0");
            return None;
        }
        Some(v)
    }
}

pub(super) fn validate(
    raw: RawConfig,
    file: &Path,
    base_dir: &Path,
    database_url_override: Option<String>,
    problems: Vec<Problem>,
) -> Result<Config, Vec<Problem>> {
    let mut c = Check { problems };
    let resolve = |p: &str| -> PathBuf { base_dir.join(p.trim()) };

    // [site]
    const MIN_SECRET_CHARS: usize = 32;
    let title = c.non_empty("site.title", &raw.site.title);
    // Links are made by joining paths onto the base: it must end with '/', or its last segment
    // would be dropped (https://example.org/nashra + feeds/all.atom → https://example.org/feeds/…).
    let base_url = c.http_url("site.base_url", &raw.site.base_url).map(|mut url| {
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        url
    });
    let site_tz = c.time_zone("site.time_zone", &raw.site.time_zone);
    let language = c.non_empty("site.language", &raw.site.language);
    let secrets = raw.site.secrets.items();
    for (i, secret) in secrets.iter().enumerate() {
        // The value is a secret: never echoed.
        if secret.chars().count() < MIN_SECRET_CHARS {
            c.report(
                format!("site.secrets[{i}]"),
                "***",
                format!("is shorter than {MIN_SECRET_CHARS} characters (e.g. `openssl rand -hex 32`)"),
            );
        }
    }

    let hijri_date = c.read("site.hijri_date", &raw.site.hijri_date);
    let stored_key_verifies = c.read("site.stored_key_verifies", &raw.site.stored_key_verifies);
    if stored_key_verifies == Some(false) && secrets.is_empty() {
        c.report(
            "site.stored_key_verifies",
            "false",
            "the stored key is the only key when site.secrets is empty: configure secrets before retiring it",
        );
    }
    let postal_address = raw.site.postal_address.split_whitespace().collect::<Vec<_>>().join(" ");

    // [api]
    let mut token = |key: &str, value: Option<&str>| match value.map(str::trim) {
        None | Some("") => None,
        Some(t) if t.chars().count() >= MIN_SECRET_CHARS && !t.contains(char::is_whitespace) => Some(Secret::new(t)),
        Some(_) => {
            c.report(
                key,
                "***",
                format!("needs at least {MIN_SECRET_CHARS} characters and no spaces (e.g. `openssl rand -hex 32`)"),
            );
            None
        }
    };
    let subscribers_token = token("api.subscribers_token", raw.api.subscribers_token.as_deref());
    let admin_token = token("api.admin_token", raw.api.admin_token.as_deref());
    if admin_token.is_some() && admin_token == subscribers_token {
        c.report("api.admin_token", "***", "must differ from api.subscribers_token");
    }

    // [database]
    let (db_key, db_value, db_base) = match &database_url_override {
        Some(url) => ("DATABASE_URL", url.as_str(), PathBuf::from(".")),
        None => ("database.url", raw.database.url.as_str(), base_dir.to_path_buf()),
    };
    let database_url = match DatabaseUrl::parse(db_value, &db_base) {
        Ok(url) => Some(url),
        Err(reason) => {
            c.report(db_key, db_value, reason);
            None
        }
    };
    let max_connections = c.positive("database.max_connections", &raw.database.max_connections);

    // [http]
    let listen = match raw.http.listen.trim().parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            c.report("http.listen", &raw.http.listen, "must be an address and port such as 127.0.0.1:8080");
            None
        }
    };
    let mut trusted_proxies = Vec::new();
    let proxies: Vec<String> = raw
        .http
        .trusted_proxies
        .items()
        .iter()
        .flat_map(|p| p.split(','))
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    for (i, text) in proxies.iter().enumerate() {
        let net = text.parse::<ipnet::IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
        match net {
            Ok(net) => trusted_proxies.push(net),
            Err(_) => c.report(
                format!("http.trusted_proxies[{i}]"),
                text,
                "must be an IP address or a network such as 10.0.0.0/8 or fd00::/8",
            ),
        }
    }

    let rh = &raw.http;
    let mut seconds = |key: &str, value| c.seconds(&format!("http.{key}"), value, false).map(Duration::from_secs_f64);
    let header_read_timeout = seconds("header_read_timeout_seconds", &rh.header_read_timeout_seconds);
    let request_timeout = seconds("request_timeout_seconds", &rh.request_timeout_seconds);
    let idle_timeout = seconds("idle_timeout_seconds", &rh.idle_timeout_seconds);
    let shutdown_timeout = seconds("shutdown_timeout_seconds", &rh.shutdown_timeout_seconds);
    let mut count = |key: &str, value| c.positive(&format!("http.{key}"), value).map(|v: u32| v as usize);
    let http_max_connections = count("max_connections", &rh.max_connections);
    let max_connections_per_client = count("max_connections_per_client", &rh.max_connections_per_client);
    let max_in_flight = count("max_requests_in_flight_per_client", &rh.max_requests_in_flight_per_client);
    let max_form_bytes = count("max_form_bytes", &rh.max_form_bytes);
    let max_push_bytes = count("max_push_bytes", &rh.max_push_bytes);
    let requests_per_second = c.read("http.requests_per_second_per_client", &rh.requests_per_second_per_client);

    // [collect]
    let rc = &raw.collect;
    let timeout = c.positive("collect.timeout_seconds", &rc.timeout_seconds);
    let connect_timeout = c.positive("collect.connect_timeout_seconds", &rc.connect_timeout_seconds);
    let max_body_bytes = c.positive("collect.max_body_bytes", &rc.max_body_bytes);
    let max_articles = c.positive("collect.max_articles_per_source", &rc.max_articles_per_source);
    let retag_days = c.read("collect.retag_window_days", &rc.retag_window_days);
    let per_host_concurrency = c.positive("collect.per_host_concurrency", &rc.per_host_concurrency);
    let per_host_delay = c.read("collect.per_host_delay_ms", &rc.per_host_delay_ms);
    let retries = c.read("collect.retries", &rc.retries);
    let retry_base = c.read("collect.retry_base_ms", &rc.retry_base_ms);
    let max_retry_after = c.read("collect.max_retry_after_seconds", &rc.max_retry_after_seconds);
    let user_agent = match &rc.user_agent {
        Some(ua) => c.non_empty("collect.user_agent", ua),
        None => Some(format!(
            "nashra/{} (+{})",
            env!("CARGO_PKG_VERSION"),
            base_url.as_ref().map(Url::as_str).unwrap_or("")
        )),
    };

    // [feeds]
    let feeds_dir = resolve(&raw.feeds.dir);
    let declared = match FeedSpec::load_dir(&feeds_dir) {
        Ok(specs) => specs,
        Err(problems) => {
            c.problems.extend(problems);
            Vec::new()
        }
    };
    let keyword_feed_items = c.positive("feeds.keyword_feed_items", &raw.feeds.keyword_feed_items);
    let tag_feed_min_articles = c.positive("feeds.tag_feed_min_articles", &raw.feeds.tag_feed_min_articles);
    let feeds_memory = c.positive("feeds.memory_megabytes", &raw.feeds.memory_megabytes);
    let feeds_refresh = c.positive("feeds.refresh_seconds", &raw.feeds.refresh_seconds);
    let websub_hub = match raw.feeds.websub_hub.as_deref().map(str::trim) {
        None | Some("") => Some(None),
        Some(hub) => c.http_url("feeds.websub_hub", hub).map(Some),
    };

    // [mail]
    let rm = &raw.mail;
    let from = match rm.from.parse::<Mailbox>() {
        Ok(m) => Some(m),
        Err(e) => {
            c.report("mail.from", &rm.from, format!("not a valid mailbox (\"Name <address@example.org>\"): {e}"));
            None
        }
    };
    let unsubscribe_address = match rm.unsubscribe_address.as_deref().map(str::trim) {
        None | Some("") => Some(None),
        Some(text) => match text.parse::<lettre::Address>() {
            Ok(a) if a.to_string().is_ascii() => Some(Some(a)),
            _ => {
                c.report(
                    "mail.unsubscribe_address",
                    text,
                    "must be a plain ASCII address such as unsubscribe@example.org",
                );
                None
            }
        },
    };
    let transport = match rm.transport.trim() {
        "file" => Some(MailTransport::File { outbox_dir: resolve(&rm.outbox_dir) }),
        "smtp" => match &rm.smtp {
            Some(smtp) => smtp_config(&mut c, smtp).map(MailTransport::Smtp),
            None => {
                c.report("mail.smtp", "", "is required when mail.transport = \"smtp\" (host, port, tls)");
                None
            }
        },
        other => {
            c.report("mail.transport", other, "must be \"file\" or \"smtp\"");
            None
        }
    };
    let templates_dir = resolve(&rm.templates_dir);
    if !templates_dir.is_dir() {
        c.report("mail.templates_dir", &rm.templates_dir, format!("no such folder ({})", templates_dir.display()));
    }
    let send_timeout = c.positive("mail.send_timeout_seconds", &rm.send_timeout_seconds);
    if let Some(v) = &rm.max_attempts {
        c.report("mail.max_attempts", v, "is no longer used: messages are retried until mail.retry_hours; remove it");
    }
    let connections = c.positive("mail.connections", &rm.connections);
    let max_per_second = c.seconds("mail.max_per_second", &rm.max_per_second, true);
    let retry_first = c.seconds("mail.retry_first_seconds", &rm.retry_first_seconds, false);
    let retry_max = c.seconds("mail.retry_max_seconds", &rm.retry_max_seconds, false);
    let retry_hours = c.seconds("mail.retry_hours", &rm.retry_hours, false);
    let lease = c.seconds("mail.lease_seconds", &rm.lease_seconds, false);
    let keep_days = c.positive("mail.keep_days", &rm.keep_days);

    // [[sources]]
    let mut sources = Vec::new();
    for (i, rs) in raw.sources.iter().enumerate() {
        let key = format!("sources[{i}]");
        if raw.sources[..i].iter().any(|other| other.name.trim() == rs.name.trim()) {
            c.report(format!("{key}.name"), &rs.name, "two sources have this name");
        }
        sources.push(source(&mut c, &key, rs, site_tz, max_articles.unwrap_or(1)));
    }

    // [schedules], [[editions]]
    let collect_schedule = c.schedule("schedules.collect", &raw.schedules.collect, site_tz);
    let feeds_schedule = raw.schedules.feeds.as_ref().map(|s| c.schedule("schedules.feeds", s, site_tz));
    let mut editions = Vec::new();
    for (i, re) in raw.editions.iter().enumerate() {
        let key = format!("editions[{i}]");
        let name = c.non_empty(&format!("{key}.name"), &re.name);
        if let Some(n) = &name {
            if !n.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
                c.report(format!("{key}.name"), n, "use ASCII letters, digits, '-' or '_' (it names the job)");
            }
            if raw.editions[..i].iter().any(|o| o.name.trim() == n) {
                c.report(format!("{key}.name"), n, "two editions have this name");
            }
        }
        let tz_default = site_tz;
        let schedule =
            c.schedule(&key, &RawSchedule { cron: re.cron.clone(), time_zone: re.time_zone.clone() }, tz_default);
        let max_per_keyword = c.positive(&format!("{key}.max_per_keyword"), &re.max_per_keyword);
        editions.push(name.zip(schedule).zip(max_per_keyword).map(|((name, schedule), max_per_keyword)| Edition {
            title: re.title.clone().unwrap_or_else(|| "النشرة".to_owned()),
            name,
            schedule,
            max_per_keyword,
        }));
    }

    // [keywords]
    let mut declared_keywords = Vec::new();
    for (i, k) in raw.keywords.declared.iter().enumerate() {
        if let Some(k) = c.non_empty(&format!("keywords.declared[{i}]"), k) {
            declared_keywords.push(k);
        }
    }
    let mut aliases = Vec::new();
    for (canonical, others) in &raw.keywords.aliases {
        let key = format!("keywords.aliases.{canonical}");
        let Some(canonical) = c.non_empty(&key, canonical) else {
            continue;
        };
        let others: Vec<String> = others.iter().filter_map(|o| c.non_empty(&key, o)).collect();
        aliases.push((canonical, others));
    }
    let mut keyword_list = |key: &str, list: &[String]| {
        let mut out = Vec::new();
        for (i, k) in list.iter().enumerate() {
            match KeywordName::parse(k) {
                Ok(_) => out.push(k.trim().to_owned()),
                Err(e) => c.report(format!("keywords.{key}[{i}]"), k, e.to_string()),
            }
        }
        out
    };
    let inflected = keyword_list("inflected", &raw.keywords.inflected);
    let proper_names = keyword_list("proper_names", &raw.keywords.proper_names);
    let common_proper_names = raw.keywords.common_proper_names.unwrap_or(true);

    // [demo]
    let demo_enabled = c.read("demo.enabled", &raw.demo.enabled);
    let demo_dir = demo_enabled.unwrap_or(false).then(|| resolve(&raw.demo.dir));
    if let Some(dir) = &demo_dir
        && !dir.is_dir()
    {
        c.report("demo.dir", &raw.demo.dir, format!("no such folder ({})", dir.display()));
    }

    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    let built = (|| {
        Some(Config {
            file: file.to_owned(),
            site: Site {
                title: title?,
                description: raw.site.description.trim().to_owned(),
                base_url: base_url?,
                language: language?,
                time_zone: site_tz?,
                secrets: secrets.into_iter().map(Secret::new).collect(),
                stored_key_verifies: stored_key_verifies?,
                postal_address,
                hijri_date: hijri_date?,
            },
            api: Api { subscribers_token, admin_token },
            database: Database { url: database_url?, max_connections: max_connections? },
            http: Http {
                listen: listen?,
                trusted_proxies,
                header_read_timeout: header_read_timeout?,
                request_timeout: request_timeout?,
                idle_timeout: idle_timeout?,
                shutdown_timeout: shutdown_timeout?,
                max_connections: http_max_connections?,
                max_connections_per_client: max_connections_per_client?,
                requests_per_second_per_client: requests_per_second?,
                max_requests_in_flight_per_client: max_in_flight?,
                max_form_bytes: max_form_bytes?,
                max_push_bytes: max_push_bytes?,
            },
            collect: Collect {
                user_agent: user_agent?,
                connect_timeout: Duration::from_secs(connect_timeout?),
                timeout: Duration::from_secs(timeout?),
                max_body_bytes: max_body_bytes?,
                max_articles_per_source: max_articles?,
                per_host_concurrency: usize::try_from(per_host_concurrency?).unwrap_or(usize::MAX),
                per_host_delay: Duration::from_millis(per_host_delay?),
                retries: retries?,
                retry_base: Duration::from_millis(retry_base?),
                max_retry_after: Duration::from_secs(max_retry_after?),
                retag_window: chrono::Duration::days(retag_days?.into()),
            },
            feeds: Feeds {
                dir: feeds_dir,
                output_dir: resolve(&raw.feeds.output_dir),
                keyword_feed_items: keyword_feed_items?,
                websub_hub: websub_hub?,
                tag_feed_min_articles: tag_feed_min_articles?,
                memory_bytes: feeds_memory?.saturating_mul(1024 * 1024),
                refresh: Duration::from_secs(feeds_refresh?),
                declared,
            },
            mail: Mail {
                transport: transport?,
                from: from?,
                unsubscribe_address: unsubscribe_address?,
                templates_dir,
                send_timeout: Duration::from_secs(send_timeout?),
                connections: connections?,
                max_per_second: Some(max_per_second?).filter(|r| *r > 0.0),
                retry_first: Duration::from_secs_f64(retry_first?),
                retry_max: Duration::from_secs_f64(retry_max?),
                retry_for: Duration::from_secs_f64(retry_hours? * 3600.0),
                lease: Duration::from_secs_f64(lease?),
                keep: chrono::Duration::days(keep_days?.into()),
            },
            sources: sources.into_iter().collect::<Option<Vec<_>>>()?,
            schedules: Schedules { collect: collect_schedule?, feeds: feeds_schedule.flatten() },
            editions: editions.into_iter().collect::<Option<Vec<_>>>()?,
            keywords: Keywords { declared: declared_keywords, aliases, inflected, proper_names, common_proper_names },
            demo_dir,
        })
    })();
    built.ok_or_else(|| vec![Problem::new(file.display().to_string(), "", "invalid configuration")])
}

fn smtp_config(c: &mut Check, raw: &RawSmtp) -> Option<Smtp> {
    let host = c.non_empty("mail.smtp.host", &raw.host);
    let tls = match raw.tls.trim() {
        "none" => Some(SmtpTls::None),
        "starttls" => Some(SmtpTls::StartTls),
        "tls" => Some(SmtpTls::Tls),
        other => {
            c.report("mail.smtp.tls", other, "must be \"none\", \"starttls\" or \"tls\"");
            None
        }
    };
    let credentials = match (&raw.username, &raw.password) {
        (Some(u), Some(p)) => Some((u.clone(), Secret::new(p.clone()))),
        (None, None) => None,
        _ => {
            c.report("mail.smtp.username", raw.username.as_deref().unwrap_or(""), "username and password go together");
            None
        }
    };
    let port = match &raw.port {
        Some(p) => Some(c.positive("mail.smtp.port", p)?),
        None => None,
    };
    let tls = tls?;
    let port = port.unwrap_or(match tls {
        SmtpTls::None => 25,
        SmtpTls::StartTls => 587,
        SmtpTls::Tls => 465,
    });
    Some(Smtp { host: host?, port, tls, credentials })
}

fn source(c: &mut Check, key: &str, rs: &RawSource, site_tz: Option<Tz>, max_default: u32) -> Option<Source> {
    let name = c.non_empty(&format!("{key}.name"), &rs.name);
    let tz = c.optional_time_zone(&format!("{key}.time_zone"), rs.time_zone.as_deref(), site_tz);
    let enabled = c.read(&format!("{key}.enabled"), &rs.enabled);
    let respect_robots = c.read(&format!("{key}.respect_robots"), &rs.respect_robots);
    let full_article = c.read(&format!("{key}.full_article"), &rs.full_article);
    let max_articles = match &rs.max_articles {
        Some(m) => c.positive(&format!("{key}.max_articles"), m),
        None => Some(max_default),
    };
    let kind_name = rs.kind.trim();
    let url_key = format!("{key}.url");
    let url = match (&rs.url, kind_name) {
        (Some(u), _) => c.http_url(&url_key, u),
        (None, "push") => None,
        (None, _) => {
            c.report(&url_key, "", "is required (the listing page, feed or sitemap to read)");
            None
        }
    };
    let sel_key = format!("{key}.selectors");
    let raw = rs.selectors.as_ref();
    let article = raw.and_then(|r| article_selectors(c, &sel_key, r));
    let link_selectors = |c: &mut Check| -> Option<(Selector, Option<Selector>)> {
        let r = raw?;
        let links = match &r.links {
            Some(l) => c.selector(&format!("{sel_key}.links"), l),
            None => {
                c.report(
                    format!("{sel_key}.links"),
                    "",
                    "an html source needs a selector for the article links on its listing page",
                );
                None
            }
        };
        let next = match &r.next {
            Some(n) => Some(c.selector(&format!("{sel_key}.next"), n)?),
            None => None,
        };
        Some((links?, next))
    };
    if kind_name != "html" && raw.is_some_and(|r| r.links.is_some() || r.next.is_some()) {
        c.report(format!("{sel_key}.links"), "", "links and next apply to html sources only");
    }
    if kind_name != "html" && rs.max_pages.is_some() {
        c.report(format!("{key}.max_pages"), "", "max_pages applies to html sources only");
    }
    if kind_name != "push" && rs.token.is_some() {
        c.report(format!("{key}.token"), "***", "token applies to push sources only");
    }
    let kind = match kind_name {
        "html" => {
            if raw.is_none() {
                c.report(
                    format!("{sel_key}.links"),
                    "",
                    "an html source needs a selector for the article links on its listing page",
                );
            }
            let max_pages = match &rs.max_pages {
                Some(m) => c.positive(&format!("{key}.max_pages"), m),
                None => Some(1),
            };
            let links = link_selectors(c);
            match (url.clone(), links, max_pages) {
                (Some(url), Some((links, next)), Some(max_pages)) => {
                    Some(SourceKind::Html { url, links, next, max_pages })
                }
                _ => None,
            }
        }
        "feed" => url.clone().zip(full_article).map(|(url, full_article)| SourceKind::Feed { url, full_article }),
        "sitemap" => url.clone().map(|url| SourceKind::Sitemap { url }),
        "push" => match rs.token.as_deref().map(str::trim) {
            Some(t) if t.chars().count() >= 16 && !t.contains(char::is_whitespace) => {
                Some(SourceKind::Push { token: Secret::new(t) })
            }
            Some(_) => {
                c.report(format!("{key}.token"), "***", "a push token needs at least 16 characters and no spaces");
                None
            }
            None => {
                c.report(format!("{key}.token"), "", "a push source needs the bearer token its CMS will send");
                None
            }
        },
        other => {
            c.report(format!("{key}.kind"), other, "must be \"html\", \"feed\", \"sitemap\" or \"push\"");
            None
        }
    };
    Some(Source {
        name: name?,
        kind: kind?,
        time_zone: tz?,
        enabled: enabled?,
        max_articles: max_articles?,
        respect_robots: respect_robots?,
        article: if raw.is_some() { Some(article?) } else { None },
    })
}

/// The article-page selectors; `None` (after reporting each) if one is not valid CSS.
fn article_selectors(c: &mut Check, key: &str, raw: &SelectorsCss) -> Option<ArticleSelectors> {
    ArticleSelectors::parse(raw)
        .map_err(|bad| {
            for b in bad {
                c.report(format!("{key}.{}", b.field), b.css, b.reason);
            }
        })
        .ok()
}
