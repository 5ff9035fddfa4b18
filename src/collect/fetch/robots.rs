//! robots.txt, fetched once per host and kept for a day (`texting_robots` reads it, with
//! Google's rules). A missing robots.txt (4xx) allows everything; one that cannot be fetched
//! (5xx, time-out) disallows the host for a few minutes, as crawlers commonly do.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use texting_robots::Robot;
use url::Url;

/// The product token matched against `User-agent:` lines.
pub(super) const AGENT: &str = "nashra";

const KEEP: Duration = Duration::from_secs(24 * 3600);
const KEEP_FAILURE: Duration = Duration::from_secs(300);

#[derive(Clone)]
pub(super) enum Rules {
    AllowAll,
    /// robots.txt could not be fetched: nothing is fetched from the host for a while.
    Unavailable(String),
    Parsed(std::sync::Arc<Robot>),
}

impl Rules {
    pub(super) fn parse(body: &[u8]) -> Rules {
        match Robot::new(AGENT, body) {
            Ok(robot) => Rules::Parsed(std::sync::Arc::new(robot)),
            // An unreadable file is treated as no file.
            Err(_) => Rules::AllowAll,
        }
    }

    /// `Ok(())` if `url` may be fetched, else why not.
    pub(super) fn check(&self, url: &Url) -> Result<(), String> {
        match self {
            Rules::AllowAll => Ok(()),
            Rules::Unavailable(reason) => Err(format!("robots.txt is unavailable ({reason})")),
            Rules::Parsed(robot) if robot.allowed(url.as_str()) => Ok(()),
            Rules::Parsed(_) => Err("disallowed by robots.txt".into()),
        }
    }

    pub(super) fn crawl_delay(&self) -> Option<Duration> {
        match self {
            Rules::Parsed(robot) => {
                robot.delay.filter(|d| d.is_finite() && *d > 0.0).map(|d| Duration::from_secs_f32(d.min(60.0)))
            }
            _ => None,
        }
    }
}

#[derive(Default)]
pub(super) struct RobotsCache {
    entries: Mutex<HashMap<String, (Rules, Instant)>>,
}

impl RobotsCache {
    pub(super) fn get(&self, origin: &str) -> Option<Rules> {
        let entries = self.entries.lock().ok()?;
        let (rules, at) = entries.get(origin)?;
        let keep = if matches!(rules, Rules::Unavailable(_)) { KEEP_FAILURE } else { KEEP };
        (at.elapsed() < keep).then(|| rules.clone())
    }

    pub(super) fn put(&self, origin: String, rules: Rules) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(origin, (rules, Instant::now()));
        }
    }
}

/// `https://host:port` of a URL: robots.txt applies per origin.
pub(super) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn our_agent_and_the_wildcard_are_honoured() {
        let rules = Rules::parse(
            b"User-agent: *\nDisallow: /private/\n\nUser-agent: nashra\nDisallow: /no-nashra/\nCrawl-delay: 2\n",
        );
        assert!(rules.check(&url("https://x.example/news/1")).is_ok());
        assert!(rules.check(&url("https://x.example/no-nashra/1")).is_err());
        assert_eq!(rules.crawl_delay(), Some(Duration::from_secs(2)));
        let star = Rules::parse(b"User-agent: *\nDisallow: /private/\n");
        assert!(star.check(&url("https://x.example/private/a")).is_err());
    }

    #[test]
    fn garbage_is_no_robots_file() {
        let rules = Rules::parse(&[0xff, 0xfe, 0x00, b'x']);
        assert!(rules.check(&url("https://x.example/a")).is_ok());
    }
}
