//! JSON-LD (`<script type="application/ld+json">`): the most trusted metadata of a news page,
//! when it describes a `NewsArticle` (or `Article`, `ReportageNewsArticle`, `BlogPosting`…),
//! whether alone, in an array or in an `@graph`. Malformed JSON is ignored, never fatal.

use scraper::{Html, Selector};
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewsArticle {
    pub headline: Option<String>,
    pub date_published: Option<String>,
    pub date_modified: Option<String>,
    pub authors: Vec<String>,
    pub section: Option<String>,
    pub keywords: Vec<String>,
    pub image: Option<String>,
    pub url: Option<String>,
    pub description: Option<String>,
    pub language: Option<String>,
}

const ARTICLE_TYPES: &[&str] = &[
    "NewsArticle",
    "Article",
    "ReportageNewsArticle",
    "AnalysisNewsArticle",
    "OpinionNewsArticle",
    "BlogPosting",
    "Report",
];

/// The first article object of the page's JSON-LD.
pub fn news_article(doc: &Html) -> Option<NewsArticle> {
    let scripts = Selector::parse(r#"script[type="application/ld+json"]"#).ok()?;
    doc.select(&scripts).find_map(|s| {
        let text: String = s.text().collect();
        let value: Value = serde_json::from_str(text.trim()).ok()?;
        find_article(&value).map(read)
    })
}

fn is_article(v: &Value) -> bool {
    match v.get("@type") {
        Some(Value::String(t)) => ARTICLE_TYPES.contains(&t.as_str()),
        Some(Value::Array(ts)) => ts.iter().any(|t| t.as_str().is_some_and(|t| ARTICLE_TYPES.contains(&t))),
        _ => false,
    }
}

fn find_article(v: &Value) -> Option<&Value> {
    match v {
        Value::Array(items) => items.iter().find_map(find_article),
        Value::Object(map) if is_article(v) => Some(v).filter(|_| !map.is_empty()),
        Value::Object(map) => map.get("@graph").and_then(find_article),
        _ => None,
    }
}

/// A text field: a string, or the first string of an array.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|s| !s.is_empty()),
        Value::Array(items) => items.iter().find_map(|i| text(Some(i))),
        Value::Object(map) => text(map.get("name").or_else(|| map.get("url")).or_else(|| map.get("@id"))),
        _ => None,
    }
}

fn names(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().filter_map(|i| text(Some(i))).collect(),
        Some(other) => text(Some(other)).into_iter().collect(),
        None => Vec::new(),
    }
}

fn read(v: &Value) -> NewsArticle {
    let keywords = match v.get("keywords") {
        Some(Value::String(s)) => {
            s.split([',', '،']).map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect()
        }
        other => names(other),
    };
    NewsArticle {
        headline: text(v.get("headline")).or_else(|| text(v.get("name"))),
        date_published: text(v.get("datePublished")),
        date_modified: text(v.get("dateModified")),
        authors: names(v.get("author")),
        section: text(v.get("articleSection")),
        keywords,
        image: text(v.get("image")).or_else(|| text(v.get("thumbnailUrl"))),
        url: text(v.get("mainEntityOfPage")).or_else(|| text(v.get("url"))),
        description: text(v.get("description")),
        language: text(v.get("inLanguage")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(json: &str) -> Html {
        Html::parse_document(&format!(
            r#"<html><head><script type="application/ld+json">{json}</script></head></html>"#
        ))
    }

    #[test]
    fn a_news_article_is_read_in_a_graph() {
        let doc = page(
            r#"{"@context":"https://schema.org","@graph":[{"@type":"WebSite","name":"x"},
            {"@type":["NewsArticle"],"headline":"عنوان  الخبر","datePublished":"2025-01-05T10:00:00+03:00",
             "author":[{"@type":"Person","name":"سارة علي"},{"name":"محمد"}],"articleSection":["سياسة"],
             "keywords":"العراق، داعش,الموصل","image":{"@type":"ImageObject","url":"https://x.example/a.jpg"},
             "mainEntityOfPage":{"@id":"https://x.example/a"}}]}"#,
        );
        let a = news_article(&doc).unwrap();
        assert_eq!(a.headline.as_deref(), Some("عنوان الخبر"));
        assert_eq!(a.authors, ["سارة علي", "محمد"]);
        assert_eq!(a.section.as_deref(), Some("سياسة"));
        assert_eq!(a.keywords, ["العراق", "داعش", "الموصل"]);
        assert_eq!(a.image.as_deref(), Some("https://x.example/a.jpg"));
        assert_eq!(a.url.as_deref(), Some("https://x.example/a"));
    }

    #[test]
    fn malformed_or_foreign_json_ld_is_ignored() {
        assert_eq!(news_article(&page("{not json")), None);
        assert_eq!(news_article(&page(r#"{"@type":"Organization","name":"x"}"#)), None);
        assert_eq!(news_article(&page("[]")), None);
    }
}
