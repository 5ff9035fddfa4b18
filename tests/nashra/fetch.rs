//! Polite and robust fetching against a real (local) server: retries on 503 with Retry-After,
//! a long Retry-After not waited for, robots.txt, the body cap, time-outs, conditional GET and
//! charset detection.

use std::time::{Duration, Instant};

use nashra::collect::{AllowedOrigins, Fetch, FetchError, FetchOptions, Fetcher, Validators};
use nashra::config;
use url::Url;

use crate::site::Site;

/// A fetcher whose one configured source is `site`.
fn fetcher(site: &Site, retries: u32) -> Fetcher {
    Fetcher::new(
        &config::Collect {
            user_agent: "nashra-test".into(),
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            max_body_bytes: 5 * 1024 * 1024,
            max_articles_per_source: 50,
            per_host_concurrency: 2,
            per_host_delay: Duration::ZERO,
            retries,
            retry_base: Duration::from_millis(10),
            max_retry_after: Duration::from_secs(60),
            retag_window: chrono::Duration::days(30),
        },
        AllowedOrigins::new([&url(site, "/")]),
    )
    .unwrap()
}

fn url(site: &Site, path: &str) -> Url {
    Url::parse(&site.url(path)).unwrap()
}

#[tokio::test]
async fn temporary_failures_are_retried_as_the_server_asks() {
    let site = Site::start().await;
    let page = fetcher(&site, 2).get(&url(&site, "/flaky")).await.unwrap();
    assert!(page.body.contains("ok"));
    assert_eq!(site.requests().iter().filter(|p| *p == "/flaky").count(), 3);
}

#[tokio::test]
async fn a_long_retry_after_is_not_waited_for_but_reported() {
    let site = Site::start().await;
    let started = Instant::now();
    let err = fetcher(&site, 2).get(&url(&site, "/limited")).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(matches!(err, FetchError::Status { status: 429, .. }), "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3600)));
}

#[tokio::test]
async fn robots_txt_is_honoured_unless_the_source_opts_out() {
    let site = Site::start().await;
    site.set_robots("User-agent: *\nDisallow: /private/\n");
    let f = fetcher(&site, 0);
    let err = f.get(&url(&site, "/private/page")).await.unwrap_err();
    assert!(matches!(err, FetchError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("disallowed by robots.txt"));
    assert!(!site.requests().contains(&"/private/page".to_owned()), "the page was never requested");
    let own_site = FetchOptions { validators: None, ignore_robots: true };
    assert!(matches!(f.fetch(&url(&site, "/private/page"), own_site).await.unwrap(), Fetch::Fresh(_)));
    // robots.txt is read once per host.
    f.get(&url(&site, "/levant/index.html")).await.unwrap();
    assert_eq!(site.requests().iter().filter(|p| *p == "/robots.txt").count(), 1);
}

#[tokio::test]
async fn redirects_are_followed_hop_by_hop_with_robots_txt_checked_at_each() {
    let site = Site::start().await;
    site.set_robots("User-agent: *\nDisallow: /private/\n");
    let f = fetcher(&site, 0);
    let page = f.get(&url(&site, "/moved")).await.unwrap();
    assert!(page.url.as_str().ends_with("/levant/index.html"), "{}", page.url);
    let err = f.get(&url(&site, "/moved-private")).await.unwrap_err();
    assert!(matches!(err, FetchError::Refused { .. }), "{err}");
    assert!(!site.requests().contains(&"/private/page".to_owned()));
    let err = f.get(&url(&site, "/loop")).await.unwrap_err();
    assert!(err.to_string().contains("redirects"), "{err}");
}

#[tokio::test]
async fn addresses_inside_the_network_are_not_fetched_unless_configured() {
    let site = Site::start().await;
    let f = fetcher(&site, 0);
    for inside in
        ["http://127.0.0.2:9/", "http://169.254.169.254/latest/meta-data/", "http://[::1]:9/", "http://localhost:9/"]
    {
        let err = f.get(&Url::parse(inside).unwrap()).await.unwrap_err();
        assert!(err.to_string().contains("public address"), "{inside}: {err}");
    }
}

/// Another service on the same machine as the source (the source's host, another port) is out
/// of reach in every spelling of its address, by name, and at the end of a redirect chain that
/// starts at the source.
#[tokio::test]
async fn a_service_beside_the_source_is_out_of_reach_in_every_spelling() {
    let site = Site::start().await;
    let beside = Site::start().await;
    let port = Url::parse(&beside.base).unwrap().port().unwrap();
    let f = fetcher(&site, 0);
    let spellings = [
        format!("http://127.0.0.1:{port}/levant/index.html"),
        format!("http://127.1:{port}/levant/index.html"),
        format!("http://2130706433:{port}/levant/index.html"),
        format!("http://0x7f000001:{port}/levant/index.html"),
        format!("http://0177.0.0.1:{port}/levant/index.html"),
        format!("http://0x7f.0.0.1:{port}/levant/index.html"),
        format!("http://[::ffff:127.0.0.1]:{port}/levant/index.html"),
        format!("http://[::ffff:7f00:1]:{port}/levant/index.html"),
        format!("http://[::1]:{port}/levant/index.html"),
        format!("http://0.0.0.0:{port}/levant/index.html"),
        format!("http://localhost:{port}/levant/index.html"),
        format!("http://LOCALHOST:{port}/levant/index.html"),
        format!("https://127.0.0.1:{port}/levant/index.html"),
    ];
    for inside in &spellings {
        let err = f.get(&Url::parse(inside).unwrap()).await.unwrap_err();
        assert!(matches!(err, FetchError::Refused { .. } | FetchError::Transport { .. }), "{inside}: {err}");
        assert!(err.to_string().contains("public address"), "{inside}: {err}");
    }
    // A redirect chain from the source's own origin to the service beside it.
    site.set_away(&beside.url("/levant/index.html"));
    let err = f.get(&url(&site, "/away")).await.unwrap_err();
    assert!(err.to_string().contains("public address"), "{err}");
    assert!(site.requests().contains(&"/away2".to_owned()), "the chain was followed on the source's origin");
    assert_eq!(beside.requests(), Vec::<String>::new(), "nothing reached the service beside the source");
    // The source's own origin, in another spelling, is still the source.
    let same = format!("http://2130706433:{}/levant/index.html", Url::parse(&site.base).unwrap().port().unwrap());
    assert!(f.get(&Url::parse(&same).unwrap()).await.is_ok());
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let site = Site::start().await;
    let err = fetcher(&site, 0).get(&url(&site, "/big")).await.unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { .. }), "{err}");
}

#[tokio::test]
async fn a_gzip_file_is_unpacked_under_the_body_cap() {
    let site = Site::start().await;
    let f = fetcher(&site, 0);
    let plain = f.get(&url(&site, "/sitemap-news.xml")).await.unwrap();
    let packed = f.get(&url(&site, "/sitemap-news.xml.gz")).await.unwrap();
    assert_eq!(packed.content_type.as_deref(), Some("application/gzip"));
    assert_eq!(packed.body, plain.body);
    // 20 KB on the wire, 20 MB unpacked: refused like any body over the cap.
    let err = f.get(&url(&site, "/bomb.gz")).await.unwrap_err();
    assert!(matches!(err, FetchError::TooLarge { limit: 5242880, .. }), "{err}");
}

#[tokio::test]
async fn a_slow_server_times_out_with_the_url_named() {
    let site = Site::start().await;
    let err = fetcher(&site, 0).get(&url(&site, "/slow")).await.unwrap_err();
    assert!(err.to_string().contains("/slow"), "{err}");
}

#[tokio::test]
async fn an_unchanged_page_answers_304_to_its_validators() {
    let site = Site::start().await;
    let f = fetcher(&site, 0);
    let first = f.get(&url(&site, "/levant/index.html")).await.unwrap();
    assert!(first.validators.etag.is_some());
    let again = f
        .fetch(
            &url(&site, "/levant/index.html"),
            FetchOptions { validators: Some(&first.validators), ignore_robots: false },
        )
        .await
        .unwrap();
    assert!(matches!(again, Fetch::NotModified));
    let stale = Validators { etag: Some("\"old\"".into()), last_modified: None };
    let changed = f
        .fetch(&url(&site, "/levant/index.html"), FetchOptions { validators: Some(&stale), ignore_robots: false })
        .await
        .unwrap();
    assert!(matches!(changed, Fetch::Fresh(_)));
}

#[tokio::test]
async fn a_windows_1256_page_without_a_charset_header_decodes_to_arabic() {
    let site = Site::start().await;
    let page = fetcher(&site, 0).get(&url(&site, "/legacy-cp1256/news_48213.html")).await.unwrap();
    assert!(page.body.contains("بوابة الوادي"), "{}", &page.body[..200.min(page.body.len())]);
    assert!(!page.body.contains('\u{FFFD}'));
}
