//! `push` sources: articles a publisher's CMS sends to `POST /api/v1/articles` as JSON — one
//! article object, an array of them, or `{"articles": [...]}`. Every field is checked and every
//! problem is named by its path (`articles[1].published`), so the CMS developer can fix them
//! all at once. Pure: parsing only; the web layer authenticates and stores.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{Map, Value};
use unicode_segmentation::UnicodeSegmentation;
use url::Url;

use super::text::{html_to_text, sanitize_html, summarize};
use crate::arabic;
use crate::store::NewArticle;

/// The most articles one request may carry.
pub const MAX_ARTICLES: usize = 100;
/// The most keywords one article may carry: a keyword block is a handful of topics; hundreds are
/// a CMS bug, and each new one would be a public feed.
pub const MAX_KEYWORDS_PER_ARTICLE: usize = 30;
/// The most distinct keywords one request may carry.
pub const MAX_KEYWORDS_PER_REQUEST: usize = 300;
const MAX_TITLE_GRAPHEMES: usize = 500;

/// One problem with the request body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError { field: field.into(), message: message.into() }
}

/// Reads the body into articles, or every problem found.
pub fn parse_push(body: &[u8], time_zone: Tz, now: DateTime<Utc>) -> Result<Vec<NewArticle>, Vec<FieldError>> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| vec![err("", format!("the body is not valid JSON: {e}"))])?;
    let (items, prefix): (Vec<&Value>, &str) = match &value {
        Value::Array(items) => (items.iter().collect(), ""),
        Value::Object(map) => match map.get("articles") {
            Some(Value::Array(items)) => (items.iter().collect(), "articles"),
            Some(_) => return Err(vec![err("articles", "must be an array of articles")]),
            None => (vec![&value], ""),
        },
        _ => return Err(vec![err("", "send an article object, an array of them, or {\"articles\": [...]}")]),
    };
    if items.is_empty() {
        return Err(vec![err(prefix, "no articles")]);
    }
    if items.len() > MAX_ARTICLES {
        return Err(vec![err(prefix, format!("at most {MAX_ARTICLES} articles per request, not {}", items.len()))]);
    }
    let single = matches!(value, Value::Object(ref m) if !m.contains_key("articles"));
    let mut articles = Vec::new();
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let path = if single {
            String::new()
        } else if prefix.is_empty() {
            format!("[{i}]")
        } else {
            format!("{prefix}[{i}]")
        };
        match item {
            Value::Object(map) => match article(map, &path, time_zone, now) {
                Ok(a) => articles.push(a),
                Err(e) => errors.extend(e),
            },
            _ => errors.push(err(path, "must be an object")),
        }
    }
    let distinct: std::collections::HashSet<&str> =
        articles.iter().flat_map(|a| a.tags.iter().map(String::as_str)).collect();
    if distinct.len() > MAX_KEYWORDS_PER_REQUEST {
        errors.push(err(
            prefix,
            format!("at most {MAX_KEYWORDS_PER_REQUEST} distinct keywords per request, not {}", distinct.len()),
        ));
    }
    if errors.is_empty() { Ok(articles) } else { Err(errors) }
}

fn article(map: &Map<String, Value>, path: &str, tz: Tz, now: DateTime<Utc>) -> Result<NewArticle, Vec<FieldError>> {
    let field = |name: &str| if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") };
    let mut errors = Vec::new();
    const KNOWN: &[&str] = &[
        "url",
        "guid",
        "title",
        "published",
        "updated",
        "author",
        "section",
        "summary",
        "body_html",
        "body_text",
        "image",
        "keywords",
        "lang",
    ];
    for key in map.keys().filter(|k| !KNOWN.contains(&k.as_str())) {
        errors.push(err(field(key), format!("unknown field (known: {})", KNOWN.join(", "))));
    }
    let mut text = |name: &str, required: bool| -> Option<String> {
        match map.get(name) {
            None | Some(Value::Null) if required => {
                errors.push(err(field(name), "is required"));
                None
            }
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() && required => {
                errors.push(err(field(name), "must not be empty"));
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            Some(_) => {
                errors.push(err(field(name), "must be a string"));
                None
            }
        }
    };
    let url = text("url", true);
    let guid = text("guid", false);
    let title = text("title", true);
    let published = text("published", true);
    let updated = text("updated", false);
    let author = text("author", false);
    let section = text("section", false);
    let summary = text("summary", false);
    let body_html = text("body_html", false);
    let body_text = text("body_text", false);
    let image = text("image", false);
    let lang = text("lang", false);

    let url = url.and_then(|u| match Url::parse(&u) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => Some(parsed),
        _ => {
            errors.push(err(field("url"), format!("{u:?} is not an absolute http(s) URL")));
            None
        }
    });
    if let Some(t) = &title
        && t.graphemes(true).count() > MAX_TITLE_GRAPHEMES
    {
        errors.push(err(field("title"), format!("is longer than {MAX_TITLE_GRAPHEMES} characters")));
    }
    let mut date = |name: &str, value: Option<String>| {
        value.and_then(|v| match arabic::parse_date(&v, tz, now) {
            Ok(t) => Some(t),
            Err(e) => {
                errors.push(err(field(name), e.to_string()));
                None
            }
        })
    };
    let published = date("published", published);
    let updated = date("updated", updated);
    if let Some(i) = &image
        && !Url::parse(i).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
    {
        errors.push(err(field("image"), format!("{i:?} is not an absolute http(s) URL")));
    }
    let keywords = match map.get("keywords") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, k)| match k {
                Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
                _ => {
                    errors.push(err(format!("{}[{i}]", field("keywords")), "must be a non-empty string"));
                    None
                }
            })
            .collect(),
        Some(_) => {
            errors.push(err(field("keywords"), "must be an array of strings"));
            Vec::new()
        }
    };
    if keywords.len() > MAX_KEYWORDS_PER_ARTICLE {
        errors.push(err(
            field("keywords"),
            format!("at most {MAX_KEYWORDS_PER_ARTICLE} keywords per article, not {}", keywords.len()),
        ));
    }
    if body_html.is_none() && body_text.is_none() && summary.is_none() {
        errors.push(err(field("body_html"), "give body_html, body_text or at least a summary"));
    }
    let (Some(url), Some(title), Some(published_at)) = (url, title, published) else { return Err(errors) };
    if !errors.is_empty() {
        return Err(errors);
    }
    let body_html = match (body_html, &body_text) {
        (Some(html), _) => sanitize_html(&html, &url),
        (None, Some(text)) => paragraphs(text),
        (None, None) => String::new(),
    };
    let body_text = body_text.unwrap_or_else(|| html_to_text(&body_html));
    Ok(NewArticle {
        url: url.to_string(),
        guid,
        title,
        author,
        section,
        summary: summary.or_else(|| summarize(&body_text)),
        body_html,
        body_text,
        image_url: image,
        lang,
        published_at,
        undated: false,
        updated_at: updated,
        tags: keywords,
    })
}

/// Plain text as HTML paragraphs (one per blank-line-separated block).
fn paragraphs(text: &str) -> String {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", p.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 5, 0, 0).unwrap()
    }

    fn parse(json: &str) -> Result<Vec<NewArticle>, Vec<FieldError>> {
        parse_push(json.as_bytes(), chrono_tz::Africa::Cairo, now())
    }

    #[test]
    fn a_complete_article_is_read_with_its_date_in_the_source_zone() {
        let a = parse(
            r#"{"url":"https://news.example/a","title":" عنوان ","published":"الإثنين 30/نوفمبر/2026 - 06:30 ص",
               "body_text":"فقرة أولى.\n\nفقرة <ثانية>.","keywords":["العراق"]}"#,
        )
        .unwrap()
        .remove(0);
        assert_eq!(a.title, "عنوان");
        assert_eq!(a.published_at, Utc.with_ymd_and_hms(2026, 11, 30, 4, 30, 0).unwrap());
        assert_eq!(a.body_html, "<p>فقرة أولى.</p>\n<p>فقرة &lt;ثانية&gt;.</p>");
        assert_eq!(a.tags, ["العراق"]);
    }

    #[test]
    fn every_bad_field_is_named_by_its_path() {
        let errors = parse(
            r#"{"articles":[{"url":"https://news.example/ok","title":"t","published":"2026-11-30T06:00:00+02:00","summary":"s"},
                            {"url":"ftp://x","title":"","published":"yesterday-ish","keywords":"x","colour":1}]}"#,
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "articles[1].url",
            "articles[1].title",
            "articles[1].published",
            "articles[1].keywords",
            "articles[1].colour",
            "articles[1].body_html",
        ] {
            assert!(fields.contains(&f), "{f} missing from {fields:?}");
        }
        assert!(!fields.iter().any(|f| f.starts_with("articles[0]")), "{fields:?}");
    }

    #[test]
    fn bodies_that_are_not_articles_are_refused() {
        assert_eq!(parse("nope").unwrap_err()[0].field, "");
        assert_eq!(parse("[]").unwrap_err()[0].message, "no articles");
        assert_eq!(parse("[1]").unwrap_err()[0].field, "[0]");
        assert_eq!(parse(r#"{"articles":{}}"#).unwrap_err()[0].field, "articles");
        let many = format!("[{}]", vec!["{}"; MAX_ARTICLES + 1].join(","));
        assert!(parse(&many).unwrap_err()[0].message.contains("at most"));
    }

    #[test]
    fn keywords_are_capped_per_article_and_per_request() {
        let article = |i: usize, tags: Vec<String>| {
            serde_json::json!({"url": format!("https://x.org/{i}"), "title": "عنوان",
                "published": "2026-11-30T08:00:00Z", "body_html": "<p>نص</p>", "keywords": tags})
        };
        let tags = |from: usize, n: usize| (from..from + n).map(|i| format!("وسم{i}")).collect::<Vec<_>>();
        let one = article(0, tags(0, MAX_KEYWORDS_PER_ARTICLE + 1)).to_string();
        let e = parse(&one).unwrap_err();
        assert_eq!(e[0].field, "keywords");
        assert!(e[0].message.contains("at most 30 keywords"), "{}", e[0].message);
        assert!(parse(&article(0, tags(0, MAX_KEYWORDS_PER_ARTICLE)).to_string()).is_ok());
        // Within the cap each, too many together.
        let many: Vec<_> = (0..11).map(|i| article(i, tags(i * 30, 30))).collect();
        let e = parse(&serde_json::json!({ "articles": many }).to_string()).unwrap_err();
        assert_eq!(e[0].field, "articles");
        assert!(e[0].message.contains("distinct keywords per request"), "{}", e[0].message);
    }
}
