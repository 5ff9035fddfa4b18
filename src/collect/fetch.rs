//! HTTP fetching for every kind of source: one client with a clear User-Agent, connect and total
//! time-outs, a cap on the (decompressed) body, and charset decoding so that a windows-1256 page
//! becomes the same UTF-8 text as a UTF-8 one.

use std::time::Duration;

use encoding_rs::Encoding;
use url::Url;

use crate::config;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot fetch {url}: {reason}")]
    Transport { url: Url, reason: String },
    #[error("{url} answered HTTP {status}")]
    Status { url: Url, status: u16 },
    #[error("{url}: the response is larger than the {limit}-byte limit (collect.max_body_bytes)")]
    TooLarge { url: Url, limit: u64 },
}

/// A fetched document, decoded to text.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL after redirects.
    pub url: Url,
    pub content_type: Option<String>,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    max_body_bytes: u64,
}

impl Fetcher {
    pub fn new(config: &config::Collect) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self { client, max_body_bytes: config.max_body_bytes })
    }

    pub async fn get(&self, url: &Url) -> Result<Fetched, FetchError> {
        let transport =
            |e: reqwest::Error| FetchError::Transport { url: url.clone(), reason: crate::errors::chain(&e) };
        let mut response = self.client.get(url.clone()).send().await.map_err(transport)?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status { url: url.clone(), status: status.as_u16() });
        }
        let final_url = response.url().clone();
        let content_type =
            response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if (bytes.len() + chunk.len()) as u64 > self.max_body_bytes {
                return Err(FetchError::TooLarge { url: url.clone(), limit: self.max_body_bytes });
            }
            bytes.extend_from_slice(&chunk);
        }
        let body = decode(&bytes, content_type.as_deref());
        Ok(Fetched { url: final_url, content_type, body })
    }
}

/// Decodes a document: a byte-order mark wins, then the Content-Type charset, then a
/// `<meta charset>` (or `<?xml encoding>`) near the start, then UTF-8. Invalid bytes become U+FFFD
/// rather than failing the page.
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> String {
    let declared = content_type
        .and_then(charset_param)
        .or_else(|| sniff_charset(bytes))
        .and_then(|label| Encoding::for_label(label.as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    let (text, _, _) = declared.decode(bytes);
    text.into_owned()
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("charset").then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn sniff_charset(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(2048)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    for marker in ["charset=", "encoding="] {
        if let Some(i) = head.find(marker) {
            let rest = head[i + marker.len()..].trim_start_matches(['"', '\'', ' ']);
            let label: String =
                rest.chars().take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':')).collect();
            if !label.is_empty() {
                return Some(label);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1256_pages_decode_to_arabic() {
        // «مصر» in windows-1256
        let bytes = [0xE3, 0xD5, 0xD1];
        assert_eq!(decode(&bytes, Some("text/html; charset=windows-1256")), "مصر");
        let page = b"<html><head><meta charset=\"windows-1256\"></head><body>\xE3\xD5\xD1</body></html>";
        assert!(decode(page, Some("text/html")).contains("مصر"));
    }

    #[test]
    fn invalid_utf8_is_replaced_not_refused() {
        assert_eq!(decode(b"a\xFFb", None), "a\u{FFFD}b");
    }
}
