//! Forms cannot be posted from another site. Every form POST is refused when the browser says it
//! comes from elsewhere (`Sec-Fetch-Site`, or an `Origin` that is not this host), which covers
//! every current browser; the public sign-up form also carries a token bound to a cookie of this
//! site (`SameSite=Strict`), for browsers that send neither header. The reader's own pages
//! (confirm, preferences, unsubscribe) are reached through a signed link another site does not
//! know, and the RFC 8058 one-click unsubscribe is posted by mail providers' servers, which send
//! no browser headers at all.

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::response::{IntoResponse, Response};

use crate::subscribers::Links;

const COOKIE_NAME: &str = "nashra_form";

/// Whether the browser says this request comes from a page of another site: `Sec-Fetch-Site`
/// when it sends one, else an `Origin` that is neither the site's public origin (`site`, as
/// `site.base_url` gives it: behind a proxy the Host header may be the upstream's) nor this
/// request's host.
pub fn cross_site(headers: &HeaderMap, site: &url::Url) -> bool {
    if let Some(fetch_site) = headers.get("sec-fetch-site") {
        // "none": typed or bookmarked; "same-origin": our own page.
        return !matches!(fetch_site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else { return false };
    if origin == site.origin().ascii_serialization() {
        return false;
    }
    let host = headers.get(HOST).map(|h| h.as_bytes()).unwrap_or_default();
    // "null" (a sandboxed or privacy-sensitive context) is not this host either.
    let origin_host = origin.split_once("://").map(|(_, rest)| rest.as_bytes());
    origin_host != Some(host)
}

/// The browser's form cookie, if it has a well-formed one.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The token a form page embeds, and the cookie to set when the browser has none yet.
pub struct FormToken {
    pub token: String,
    set_cookie: Option<String>,
}

impl FormToken {
    pub fn issue(links: &Links, headers: &HeaderMap, secure: bool) -> Result<Self, String> {
        if let Some(nonce) = cookie(headers) {
            return Ok(Self { token: links.form_token(nonce), set_cookie: None });
        }
        let nonce = crate::subscribers::new_token().map_err(|e| e.to_string())?;
        let secure = if secure { "; Secure" } else { "" };
        Ok(Self {
            token: links.form_token(&nonce),
            set_cookie: Some(format!("{COOKIE_NAME}={nonce}; Path=/; HttpOnly; SameSite=Strict{secure}")),
        })
    }

    /// `page` with the cookie, if one is to be set.
    pub fn attach(self, page: impl IntoResponse) -> Response {
        let mut response = page.into_response();
        if let Some(value) = self.set_cookie.and_then(|c| c.parse().ok()) {
            response.headers_mut().insert(SET_COOKIE, value);
        }
        response
    }
}

/// Whether a posted form's `token` matches the browser's cookie.
pub fn genuine(links: &Links, headers: &HeaderMap, token: &str) -> bool {
    cookie(headers).is_some_and(|nonce| links.check_form_token(nonce, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn posts_from_other_sites_are_recognised() {
        let site: url::Url = "https://news.example.org/nashra/".parse().unwrap();
        let cross = |pairs: &[(&'static str, &'static str)]| cross_site(&headers(pairs), &site);
        assert!(!cross(&[]), "a server (one-click unsubscribe) sends no browser headers");
        assert!(!cross(&[("sec-fetch-site", "same-origin"), ("origin", "https://evil.example")]));
        assert!(cross(&[("sec-fetch-site", "cross-site")]));
        assert!(cross(&[("sec-fetch-site", "same-site")]));
        assert!(!cross(&[("origin", "http://127.0.0.1:8080"), ("host", "127.0.0.1:8080")]));
        assert!(cross(&[("origin", "http://127.0.0.1:8081"), ("host", "127.0.0.1:8080")]));
        assert!(cross(&[("origin", "null"), ("host", "news.example.org")]));
        assert!(cross(&[("origin", "https://news.example.org.evil"), ("host", "news.example.org")]));
        // Behind a proxy that passes the upstream's Host: the public origin counts.
        assert!(!cross(&[("origin", "https://news.example.org"), ("host", "127.0.0.1:8080")]));
        assert!(cross(&[("origin", "http://news.example.org"), ("host", "127.0.0.1:8080")]), "another scheme");
    }

    #[test]
    fn the_token_goes_with_the_cookie() {
        let links = Links::new("https://news.example.org/".parse().unwrap(), vec![b"k".repeat(32)]).unwrap();
        let first = FormToken::issue(&links, &HeaderMap::new(), true).unwrap();
        let set = first.set_cookie.clone().unwrap();
        assert!(set.ends_with("SameSite=Strict; Secure"), "{set}");
        let nonce = set.split(';').next().unwrap().split('=').nth(1).unwrap().to_owned();
        let mut back = HeaderMap::new();
        back.insert(COOKIE, format!("theme=dark; {COOKIE_NAME}={nonce}").parse().unwrap());
        let again = FormToken::issue(&links, &back, true).unwrap();
        assert!(again.set_cookie.is_none(), "the browser's cookie is kept");
        assert_eq!(again.token, first.token);
        assert!(genuine(&links, &back, &first.token));
        assert!(!genuine(&links, &HeaderMap::new(), &first.token), "no cookie");
        assert!(!genuine(&links, &back, "forged"));
    }
}
