//! Serving feeds: `/feeds/{feed}.{rss|atom|json}` and `/feeds/keywords/{keyword}.{…}`, with a
//! strong ETag, Last-Modified and 304 answers to conditional requests (RFC 9110: If-None-Match
//! wins over If-Modified-Since). tower-http has no ETag layer, so it is done here.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::{WebError, WebResult};
use crate::app::App;
use crate::feeds::{Coding, FeedFile, FeedKey, Format};

const CACHE_CONTROL: &str = "public, max-age=300";
/// An archive page's articles never change.
const ARCHIVE_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

fn split(file: &str) -> Option<(&str, Format)> {
    let (stem, ext) = file.rsplit_once('.')?;
    Some((stem, Format::from_extension(ext)?))
}

pub async fn declared(
    State(app): State<Arc<App>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> WebResult<Response> {
    let (id, format) = split(&file).ok_or_else(|| not_found(&file))?;
    serve(&app, FeedKey::Declared(id.to_owned()), format, &headers, &file)
}

pub async fn keyword(State(app): State<Arc<App>>, Path(file): Path<String>, headers: HeaderMap) -> WebResult<Response> {
    let (typed, format) = split(&file).ok_or_else(|| not_found(&file))?;
    let key = app.publisher.keyword_key(typed).ok_or_else(|| not_found(&file))?;
    serve(&app, key, format, &headers, &file)
}

/// An archive page (RFC 5005): `/feeds/archive/{feed}/{page}.{rss|atom|json}`, cached forever.
pub async fn archive(
    State(app): State<Arc<App>>,
    Path((feed, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> WebResult<Response> {
    let (page, format) = split(&file).ok_or_else(|| not_found(&file))?;
    let page: u64 = page.parse().map_err(|_| not_found(&file))?;
    serve(&app, FeedKey::Archive { feed, page }, format, &headers, &file)
}

/// Every feed as an OPML list (`/feeds.opml`), the same bytes as `feeds.opml` in the output folder
/// after a build.
pub async fn opml(State(app): State<Arc<App>>) -> WebResult<Response> {
    let bytes = app.publisher.opml().ok_or_else(|| WebError::NotFound("لم تُبنَ الخلاصات بعد.".into()))?;
    let headers = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/x-opml; charset=utf-8")),
        (header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL)),
    ];
    Ok((headers, bytes).into_response())
}

fn not_found(file: &str) -> WebError {
    WebError::NotFound(format!("لا توجد خلاصة باسم «{file}». الصيغ المتاحة: rss و atom و json."))
}

fn serve(app: &App, key: FeedKey, format: Format, headers: &HeaderMap, file: &str) -> WebResult<Response> {
    let feed = app.publisher.get(&key, format).ok_or_else(|| not_found(file))?;
    let last_modified = http_time(&feed);
    // A feed just published may not have its compressed variants yet: then it goes as it is.
    let coding = Some(coding_for(headers)).filter(|c| feed.body(*c).is_some()).unwrap_or(Coding::Identity);
    let mut response = if not_modified(headers, &feed, last_modified) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        // The held bytes, shared: nothing is copied or compressed per request.
        let mut r = feed.body(coding).cloned().unwrap_or_default().into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
        if let Some(encoding) = coding.header() {
            r.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
        }
        r
    };
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(&feed.etag_of(coding)) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(last_modified)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    let cache = if key.is_archive() { ARCHIVE_CACHE_CONTROL } else { CACHE_CONTROL };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(response)
}

/// The coding to answer in: brotli, then gzip, if the client takes them (`q=0` refuses).
fn coding_for(headers: &HeaderMap) -> Coding {
    let accepted: Vec<(String, f32)> = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (name, q)
        })
        .collect();
    let takes = |name: &str| {
        accepted.iter().any(|(n, q)| (n == name || n == "*") && *q > 0.0)
            && !accepted.iter().any(|(n, q)| n == name && *q <= 0.0)
    };
    if takes("br") {
        Coding::Brotli
    } else if takes("gzip") {
        Coding::Gzip
    } else {
        Coding::Identity
    }
}

/// Last-Modified has one-second precision; compare at that precision.
fn http_time(feed: &FeedFile) -> SystemTime {
    let secs = u64::try_from(feed.last_modified.timestamp()).unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn not_modified(headers: &HeaderMap, feed: &FeedFile, last_modified: SystemTime) -> bool {
    if let Some(value) = headers.get(header::IF_NONE_MATCH) {
        // Weak comparison, as RFC 9110 §13.1.2 asks for If-None-Match.
        return value.to_str().is_ok_and(|v| {
            // Any coding's tag names the same feed version.
            v.split(',').map(str::trim).any(|tag| {
                let tag = tag.trim_start_matches("W/");
                tag == "*" || [Coding::Identity, Coding::Gzip, Coding::Brotli].iter().any(|c| tag == feed.etag_of(*c))
            })
        });
    }
    headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .is_some_and(|since| last_modified <= since)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn feed() -> FeedFile {
        FeedFile::new(Format::Atom, b"<feed/>".to_vec(), Utc.with_ymd_and_hms(2026, 11, 29, 8, 18, 0).unwrap())
    }

    fn headers(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn matching_etags_and_later_dates_are_not_modified() {
        let f = feed();
        let lm = http_time(&f);
        assert!(not_modified(&headers(header::IF_NONE_MATCH, &f.etag), &f, lm));
        assert!(not_modified(&headers(header::IF_NONE_MATCH, &format!("\"x\", W/{}", f.etag)), &f, lm));
        assert!(!not_modified(&headers(header::IF_NONE_MATCH, "\"other\""), &f, lm));
        assert!(not_modified(&headers(header::IF_MODIFIED_SINCE, "Sun, 29 Nov 2026 08:18:00 GMT"), &f, lm));
        assert!(!not_modified(&headers(header::IF_MODIFIED_SINCE, "Sun, 29 Nov 2026 08:17:59 GMT"), &f, lm));
        assert!(!not_modified(&headers(header::IF_MODIFIED_SINCE, "not a date"), &f, lm));
    }

    #[test]
    fn if_none_match_wins_over_if_modified_since() {
        let f = feed();
        let mut h = headers(header::IF_NONE_MATCH, "\"other\"");
        h.insert(header::IF_MODIFIED_SINCE, HeaderValue::from_static("Sun, 29 Nov 2026 09:00:00 GMT"));
        assert!(!not_modified(&h, &f, http_time(&f)));
    }

    #[test]
    fn the_coding_follows_accept_encoding() {
        assert_eq!(coding_for(&HeaderMap::new()), Coding::Identity);
        assert_eq!(coding_for(&headers(header::ACCEPT_ENCODING, "gzip, deflate, br")), Coding::Brotli);
        assert_eq!(coding_for(&headers(header::ACCEPT_ENCODING, "gzip")), Coding::Gzip);
        assert_eq!(coding_for(&headers(header::ACCEPT_ENCODING, "br;q=0, gzip;q=0.5")), Coding::Gzip);
        assert_eq!(coding_for(&headers(header::ACCEPT_ENCODING, "*")), Coding::Brotli);
        assert_eq!(coding_for(&headers(header::ACCEPT_ENCODING, "*, br;q=0")), Coding::Gzip);
        assert_eq!(coding_for(&headers(header::ACCEPT_ENCODING, "identity")), Coding::Identity);
    }

    #[test]
    fn file_names_need_a_known_format() {
        assert_eq!(split("all.atom"), Some(("all", Format::Atom)));
        assert_eq!(split("a.b.json"), Some(("a.b", Format::Json)));
        assert_eq!(split("all.xml"), None);
        assert_eq!(split("all"), None);
    }
}
