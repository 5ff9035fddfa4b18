//! When to try a request again: temporary answers (429, 500, 502, 503, 504) and transport
//! failures are retried with exponential back-off and jitter; a `Retry-After` answer (seconds or
//! an HTTP date, read against the server's own `Date`) is honoured up to a cap.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{DATE, HeaderMap, RETRY_AFTER};

#[derive(Debug, Clone, Copy)]
pub(super) struct RetryPolicy {
    /// Attempts after the first.
    pub retries: u32,
    pub base: Duration,
    /// The longest Retry-After waited for; longer ones end the attempt.
    pub max_retry_after: Duration,
}

pub(super) fn is_temporary(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

impl RetryPolicy {
    /// The pause before attempt `attempt + 1` (attempt counts from 0), with ±25 % jitter so that
    /// many sources failing together do not come back together.
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.min(10));
        let mut byte = [0u8; 1];
        let jitter = if getrandom::fill(&mut byte).is_ok() { f64::from(byte[0]) / 255.0 } else { 0.5 };
        exp.mul_f64(0.75 + jitter * 0.5)
    }
}

/// The wait a response asks for, if it has a readable `Retry-After`.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    // Against the server's clock when it says what time it is, so clock skew does not matter.
    let server_now = headers
        .get(DATE)
        .and_then(|d| d.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
        .unwrap_or_else(SystemTime::now);
    Some(at.duration_since(server_now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(reqwest::header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after(&headers(&[(RETRY_AFTER, "120")])), Some(Duration::from_secs(120)));
        let dated = headers(&[(RETRY_AFTER, "Mon, 30 Nov 2026 05:02:00 GMT"), (DATE, "Mon, 30 Nov 2026 05:00:30 GMT")]);
        assert_eq!(retry_after(&dated), Some(Duration::from_secs(90)));
        let past = headers(&[(RETRY_AFTER, "Mon, 30 Nov 2026 04:00:00 GMT"), (DATE, "Mon, 30 Nov 2026 05:00:00 GMT")]);
        assert_eq!(retry_after(&past), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers(&[(RETRY_AFTER, "soon")])), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_grows_with_jitter() {
        let p = RetryPolicy { retries: 3, base: Duration::from_millis(100), max_retry_after: Duration::from_secs(60) };
        for attempt in 0..4 {
            let d = p.backoff(attempt);
            let nominal = 100.0 * f64::from(1u32 << attempt);
            assert!(d.as_secs_f64() * 1000.0 >= nominal * 0.74 && d.as_secs_f64() * 1000.0 <= nominal * 1.26, "{d:?}");
        }
    }

    #[test]
    fn only_temporary_answers_are_retried() {
        for s in [429, 500, 502, 503, 504] {
            assert!(is_temporary(StatusCode::from_u16(s).unwrap()));
        }
        for s in [400, 401, 403, 404, 410, 501] {
            assert!(!is_temporary(StatusCode::from_u16(s).unwrap()));
        }
    }
}
