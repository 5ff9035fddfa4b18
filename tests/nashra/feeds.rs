//! Feeds: RSS, Atom and JSON Feed for `all`, for declared topical feeds and for every keyword,
//! read back with an independent parser (feed-rs), with conditional GET and files on disk.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};

use crate::helpers::{TestApp, now};
use crate::on_both_backends;

fn parse(bytes: &[u8]) -> feed_rs::model::Feed {
    feed_rs::parser::parse(bytes)
        .unwrap_or_else(|e| panic!("independent parser refused the feed: {e}\n{}", String::from_utf8_lossy(bytes)))
}

fn titles(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries.iter().map(|e| e.title.as_ref().unwrap().content.clone()).collect()
}

fn keyword_path(keyword: &str, ext: &str) -> String {
    format!("/feeds/keywords/{}.{ext}", utf8_percent_encode(keyword, NON_ALPHANUMERIC))
}

async fn fetch(app: &TestApp, path: &str) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let r = app.get(path).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    let headers = r.headers().clone();
    (headers, r.bytes().await.unwrap().to_vec())
}

async fn the_all_feed_lists_every_article_in_three_formats(app: TestApp) {
    app.collect().await;
    let mut seen = Vec::new();
    for (ext, mime) in
        [("rss", "application/rss+xml"), ("atom", "application/atom+xml"), ("json", "application/feed+json")]
    {
        let (headers, body) = fetch(&app, &format!("/feeds/all.{ext}")).await;
        assert!(headers[CONTENT_TYPE].to_str().unwrap().starts_with(mime), "{ext}");
        let feed = parse(&body);
        assert_eq!(feed.entries.len(), 11, "{ext}");
        assert_eq!(feed.language.as_deref(), Some("ar"), "{ext}");
        let t = titles(&feed);
        assert_eq!(t[0], "الدبلوماسية الخليجية.. وساطات هادئة لاحتواء أزمات الإقليم", "{ext}: newest first");
        // newest first
        let dates: Vec<_> = feed.entries.iter().map(|e| e.published.unwrap()).collect();
        assert!(dates.windows(2).all(|w| w[0] >= w[1]), "{ext}: {dates:?}");
        // stable ids: the permalink
        for e in &feed.entries {
            assert!(e.id.starts_with(&app.url("/demo/articles/")), "{ext}: {}", e.id);
        }
        seen.push(t);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "the three formats list the same entries");
    let (_, atom) = fetch(&app, "/feeds/all.atom").await;
    let atom = String::from_utf8(atom).unwrap();
    assert!(atom.contains(&format!(r#"<link href="{}" rel="self""#, app.url("/feeds/all.atom"))));
    assert!(atom.contains(r#"xml:lang="ar""#));
    assert!(atom.contains("<published>2026-11-29T08:18:00+00:00</published>"), "RFC 3339 in UTC");
    let (_, rss) = fetch(&app, "/feeds/all.rss").await;
    let rss = String::from_utf8(rss).unwrap();
    assert!(rss.contains("<pubDate>Sun, 29 Nov 2026 08:18:00 +0000</pubDate>"), "RFC 822");
    // A permalink GUID (isPermaLink defaults to true).
    assert!(
        rss.contains(&format!("<guid>{}</guid>", app.url("/demo/articles/2026-11-29-iraq-border-operations.html")))
    );
}

async fn keyword_feeds_are_served_under_their_arabic_name(app: TestApp) {
    app.subscribe("reader@example.org", &["العراق"]).await;
    app.collect().await;
    let (_, body) = fetch(&app, &keyword_path("العراق", "atom")).await;
    let feed = parse(&body);
    let t = titles(&feed);
    assert!(t.iter().any(|t| t.contains("الموصل")), "found in the text only: {t:?}");
    assert!(!t.iter().any(|t| t.contains("الخليجية")), "{t:?}");
    for e in &feed.entries {
        assert!(e.categories.iter().any(|c| c.term == "العراق"), "{:?}", e.categories);
    }
    // Another spelling of the keyword finds the same feed.
    let (_, same) = fetch(&app, &keyword_path("الارهاب", "rss")).await;
    let (_, canonical) = fetch(&app, &keyword_path("الإرهاب", "rss")).await;
    assert_eq!(same, canonical);
    assert!(!parse(&same).entries.is_empty());
}

async fn a_declared_topical_feed_lists_its_keywords_articles(app: TestApp) {
    app.collect().await;
    let (_, body) = fetch(&app, "/feeds/iraq.json").await;
    let feed = parse(&body);
    assert!(!feed.entries.is_empty());
    for e in &feed.entries {
        let tags: Vec<_> = e.categories.iter().map(|c| c.term.as_str()).collect();
        assert!(tags.contains(&"العراق") || tags.contains(&"داعش"), "{tags:?}");
    }
}

async fn conditional_requests_are_answered_304(app: TestApp) {
    app.collect().await;
    let first = app.get("/feeds/all.atom").await;
    let etag = first.headers()[ETAG].to_str().unwrap().to_owned();
    let modified = first.headers()[LAST_MODIFIED].to_str().unwrap().to_owned();
    assert!(httpdate::parse_http_date(&modified).is_ok(), "{modified}");
    let again = app.http.get(app.url("/feeds/all.atom")).header(IF_NONE_MATCH, &etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[ETAG].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());
    let since = app.http.get(app.url("/feeds/all.atom")).header(IF_MODIFIED_SINCE, &modified).send().await.unwrap();
    assert_eq!(since.status(), StatusCode::NOT_MODIFIED);
    let stale = app.http.get(app.url("/feeds/all.atom")).header(IF_NONE_MATCH, "\"old\"").send().await.unwrap();
    assert_eq!(stale.status(), StatusCode::OK);

    // A rebuild with the same articles gives the same bytes, ETag and Last-Modified.
    app.app.build_feeds(now() + chrono::Duration::hours(1)).await.unwrap();
    let rebuilt = app.get("/feeds/all.atom").await;
    assert_eq!(rebuilt.headers()[ETAG].to_str().unwrap(), etag);
    assert_eq!(rebuilt.headers()[LAST_MODIFIED].to_str().unwrap(), modified);
    // An edit changes the ETag.
    app.edit_site("articles/2026-11-29-gulf-mediation.html", "وساطات هادئة", "وساطات صامتة");
    app.edit_site("index.html", "وساطات هادئة", "وساطات صامتة");
    app.app.collect(None, now() + chrono::Duration::hours(2)).await.unwrap();
    let changed = app.http.get(app.url("/feeds/all.atom")).header(IF_NONE_MATCH, &etag).send().await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()[ETAG].to_str().unwrap(), etag);
}

async fn lead_images_and_the_text_direction_reach_every_format(app: TestApp) {
    app.collect().await;
    let (_, json) = fetch(&app, "/feeds/all.json").await;
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let with_image: Vec<(String, String)> = json["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| Some((i["url"].as_str()?.to_owned(), i["image"].as_str()?.to_owned())))
        .collect();
    assert!(!with_image.is_empty(), "the demo has lead images");
    for ext in ["rss", "atom"] {
        let (_, body) = fetch(&app, &format!("/feeds/all.{ext}")).await;
        let feed = parse(&body);
        for (url, image) in &with_image {
            let entry = feed.entries.iter().find(|e| e.links.iter().any(|l| &l.href == url)).unwrap();
            // feed-rs reads RSS's enclosure and Media RSS as media, Atom's enclosure as a link.
            let mut found: Vec<String> = entry
                .media
                .iter()
                .flat_map(|m| m.content.iter().filter_map(|c| c.url.as_ref().map(|u| u.to_string())))
                .collect();
            found.extend(entry.links.iter().filter(|l| l.rel.as_deref() == Some("enclosure")).map(|l| l.href.clone()));
            assert!(found.contains(image), "{ext}: {url}: {found:?}");
        }
        for entry in &feed.entries {
            let content = entry.content.as_ref().and_then(|c| c.body.as_deref()).unwrap_or_default();
            assert!(content.starts_with(r#"<div dir="rtl">"#), "{ext}: direction inside the content: {content:.80}");
        }
        let text = String::from_utf8(body).unwrap();
        let root = text.lines().find(|l| l.starts_with("<rss") || l.starts_with("<feed")).unwrap();
        assert!(!root.contains("dir="), "{ext}: never on the root: {root}");
    }
    let (_, rss) = fetch(&app, "/feeds/all.rss").await;
    let rss = String::from_utf8(rss).unwrap();
    assert!(rss.contains(r#"xmlns:media="http://search.yahoo.com/mrss/""#));
    assert!(rss.contains(r#"length="0""#) && rss.contains(r#"type="image/svg+xml""#), "an enclosure with its type");
}

async fn every_feed_is_listed_in_one_opml_file(app: TestApp) {
    app.collect().await;
    let (headers, body) = fetch(&app, "/feeds.opml").await;
    assert!(headers[CONTENT_TYPE].to_str().unwrap().starts_with("text/x-opml"));
    let text = String::from_utf8(body.clone()).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut urls = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Empty(e) if e.name().as_ref() == b"outline" => {
                let url = e
                    .try_get_attribute("xmlUrl")
                    .unwrap()
                    .unwrap()
                    .decoded_and_normalized_value(quick_xml::XmlVersion::Implicit1_0, reader.decoder())
                    .unwrap()
                    .into_owned();
                urls.push(url);
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    // Every keyword readers can follow, and the tags carried by at least three articles.
    let keywords = app.app.store.keywords_changed_after(0).await.unwrap();
    let published = keywords.iter().filter(|k| k.keyword.origin().in_vocabulary() || k.articles >= 3).count();
    assert!(published < keywords.len(), "some tags have too few articles for a feed");
    assert_eq!(urls.len(), app.app.config.feeds.declared.len() + published);
    for url in urls.iter().take(4).chain(urls.last()) {
        let feed = app.http.get(url).send().await.unwrap();
        assert_eq!(feed.status(), reqwest::StatusCode::OK, "{url}");
        parse(&feed.bytes().await.unwrap());
    }
    assert_eq!(std::fs::read(app.dir.path().join("feeds/feeds.opml")).unwrap(), body, "the file is what is served");
}

async fn feeds_are_served_precompressed_and_written_beside_their_siblings(app: TestApp) {
    app.collect().await;
    // A client that decompresses nothing, so the bytes on the wire are compared.
    let raw = reqwest::Client::builder().no_gzip().no_deflate().build().unwrap();
    let get = |encoding: &'static str| {
        let raw = raw.clone();
        let url = app.url(&keyword_path("داعش", "atom"));
        async move {
            let r = raw.get(url).header("accept-encoding", encoding).send().await.unwrap();
            let headers = r.headers().clone();
            (headers, r.bytes().await.unwrap().to_vec())
        }
    };
    let (plain_headers, plain) = get("identity").await;
    assert!(plain_headers.get("content-encoding").is_none());
    assert_eq!(plain_headers["vary"], "Accept-Encoding");
    let (gz_headers, gz) = get("gzip, deflate").await;
    assert_eq!(gz_headers["content-encoding"], "gzip");
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut unzipped).unwrap();
    assert_eq!(unzipped, plain);
    let (br_headers, br) = get("gzip, br").await;
    assert_eq!(br_headers["content-encoding"], "br");
    let mut unbrotlied = Vec::new();
    brotli::BrotliDecompress(&mut std::io::Cursor::new(&br), &mut unbrotlied).unwrap();
    assert_eq!(unbrotlied, plain);
    assert!(br.len() < plain.len() / 3, "{} of {}", br.len(), plain.len());
    let tags: Vec<_> = [&plain_headers, &gz_headers, &br_headers].iter().map(|h| h["etag"].clone()).collect();
    assert!(tags[0] != tags[1] && tags[1] != tags[2], "one strong tag per coding: {tags:?}");
    // The files beside the feed are the same bytes, for nginx or a CDN.
    let dir = app.dir.path().join("feeds/keywords");
    assert_eq!(std::fs::read(dir.join("داعش.atom")).unwrap(), plain);
    assert_eq!(std::fs::read(dir.join("داعش.atom.gz")).unwrap(), gz);
    assert_eq!(std::fs::read(dir.join("داعش.atom.br")).unwrap(), br);
    // A tag of any coding is the same version: 304.
    let again = raw
        .get(app.url(&keyword_path("داعش", "atom")))
        .header("accept-encoding", "br")
        .header("if-none-match", gz_headers["etag"].clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), reqwest::StatusCode::NOT_MODIFIED);
}

/// A tiny WebSub hub: it records the topics it is told about.
async fn hub() -> (String, std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>) {
    let pings = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = pings.clone();
    let router = axum::Router::new().route(
        "/hub",
        axum::routing::post(move |body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let form: std::collections::HashMap<String, String> =
                    url::form_urlencoded::parse(&body).into_owned().collect();
                seen.lock().unwrap().push((form["hub.mode"].clone(), form["hub.url"].clone()));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hub", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, pings)
}

async fn feeds_name_their_websub_hub_and_it_hears_of_changes(app: TestApp) {
    let (hub_url, pings) = hub().await;
    let mut config = (*app.app.config).clone();
    config.feeds.websub_hub = Some(hub_url.parse().unwrap());
    // Its own folder: the test's server (with no hub) builds its files in the other.
    let out = app.dir.path().join("hub-feeds");
    config.feeds.output_dir = out.clone();
    let with_hub = nashra::app::App::new(config).await.unwrap();
    with_hub.collect(None, now()).await.unwrap();
    let topics: Vec<String> = pings.lock().unwrap().iter().map(|(mode, url)| format!("{mode} {url}")).collect();
    let all = app.url("/feeds/all.atom");
    assert!(topics.contains(&format!("publish {all}")), "{topics:?}");
    assert!(topics.iter().any(|t| t.contains("/feeds/keywords/")), "keyword feeds too");
    // The feeds say where the hub is, beside their own address.
    let atom = String::from_utf8(std::fs::read(out.join("all.atom")).unwrap()).unwrap();
    assert!(atom.contains(&format!(r#"<link href="{hub_url}" rel="hub"/>"#)), "{atom:.600}");
    let rss = String::from_utf8(std::fs::read(out.join("all.rss")).unwrap()).unwrap();
    assert!(rss.contains(&format!(r#"href="{hub_url}""#)) && rss.contains(r#"rel="hub""#));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("all.json")).unwrap()).unwrap();
    assert_eq!(json["hubs"][0]["url"], hub_url.as_str());
    parse(atom.as_bytes());
    parse(rss.as_bytes());

    // Nothing changed: nobody is told anything.
    pings.lock().unwrap().clear();
    with_hub.build_feeds(now()).await.unwrap();
    assert!(pings.lock().unwrap().is_empty(), "{:?}", pings.lock().unwrap());
    with_hub.store.close().await;
}

async fn feed_files_are_written_where_a_static_server_can_serve_them(app: TestApp) {
    app.collect().await;
    let out = app.dir.path().join("feeds");
    // Declared feeds, operators' keywords, and a tag three articles carry (the threshold).
    for file in ["all.rss", "all.atom", "all.json", "iraq.atom", "keywords/داعش.rss", "keywords/الاقتصاد.atom"]
    {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let on_disk = std::fs::read(out.join("keywords/داعش.atom")).unwrap();
    let (_, served) = fetch(&app, &keyword_path("داعش", "atom")).await;
    assert_eq!(on_disk, served);
    // A tag only two articles carry has no feed yet: neither a file nor a URL.
    assert!(!out.join("keywords/العراق.atom").exists());
    assert_eq!(app.get(&keyword_path("العراق", "atom")).await.status(), reqwest::StatusCode::NOT_FOUND);
}

async fn special_characters_survive_a_round_trip(app: TestApp) {
    let path = app.site.join("articles/2026-11-29-iraq-border-operations.html");
    let html = std::fs::read_to_string(&path).unwrap();
    let title = r#"«عمليات» &amp; "الحدود" &lt;العراق&gt; 'داعش'"#;
    std::fs::write(
        &path,
        html.replace("«عمليات الحدود».. العراق يلاحق فلول داعش في صحراء الأنبار</h1>", &format!("{title}</h1>")),
    )
    .unwrap();
    app.collect().await;
    let want = r#"«عمليات» & "الحدود" <العراق> 'داعش'"#;
    for ext in ["rss", "atom", "json"] {
        let (_, body) = fetch(&app, &format!("/feeds/all.{ext}")).await;
        assert!(titles(&parse(&body)).contains(&want.to_owned()), "{ext}");
    }
}

async fn unknown_feeds_are_not_found(app: TestApp) {
    for path in ["/feeds/nothing.atom", "/feeds/all.xml", "/feeds/all", &keyword_path("لا-يوجد", "atom")] {
        let r = app.get(path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains(r#"dir="rtl""#), "{path}: error pages are Arabic pages");
    }
}

/// The home page lists the newest articles and lets a browser or a feed reader discover every
/// declared feed (`<link rel="alternate">` in its head), each of which answers in its format.
async fn the_home_page_shows_the_latest_articles_and_announces_the_feeds(app: TestApp) {
    let empty = app.get("/").await.text().await.unwrap();
    assert!(empty.contains("لا توجد مقالات بعد"), "{empty}");
    app.collect().await;
    let html = app.get("/").await.text().await.unwrap();
    let doc = scraper::Html::parse_document(&html);
    let select = |css: &str| scraper::Selector::parse(css).unwrap();
    let root = doc.select(&select("html")).next().unwrap();
    assert_eq!((root.attr("lang"), root.attr("dir")), (Some("ar"), Some("rtl")));
    let latest: Vec<String> =
        doc.select(&select("ol.latest li a")).map(|a| a.text().collect::<String>().trim().to_owned()).collect();
    assert_eq!(latest.len(), 10, "the ten newest of 11");
    assert_eq!(latest[0], "الدبلوماسية الخليجية.. وساطات هادئة لاحتواء أزمات الإقليم", "newest first");
    let alternates: Vec<_> = doc.select(&select(r#"head link[rel="alternate"]"#)).collect();
    assert_eq!(alternates.len(), 3 * app.app.config.feeds.declared.len(), "{html}");
    for link in alternates {
        let (href, media_type) = (link.attr("href").unwrap(), link.attr("type").unwrap());
        assert!(link.attr("title").is_some_and(|t| !t.is_empty()));
        let path = href.strip_prefix(&app.url("")).unwrap_or_else(|| panic!("{href} is not on this site"));
        let (headers, body) = fetch(&app, path).await;
        assert!(headers[CONTENT_TYPE].to_str().unwrap().starts_with(media_type), "{href}");
        // A feed that an independent parser reads.
        parse(&body);
    }
}

on_both_backends!(
    the_home_page_shows_the_latest_articles_and_announces_the_feeds,
    the_all_feed_lists_every_article_in_three_formats,
    keyword_feeds_are_served_under_their_arabic_name,
    a_declared_topical_feed_lists_its_keywords_articles,
    conditional_requests_are_answered_304,
    feed_files_are_written_where_a_static_server_can_serve_them,
    lead_images_and_the_text_direction_reach_every_format,
    every_feed_is_listed_in_one_opml_file,
    feeds_name_their_websub_hub_and_it_hears_of_changes,
    feeds_are_served_precompressed_and_written_beside_their_siblings,
    special_characters_survive_a_round_trip,
    unknown_feeds_are_not_found,
);
