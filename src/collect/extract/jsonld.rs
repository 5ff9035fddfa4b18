//! JSON-LD (`<script type="application/ld+json">`): the most trusted metadata of a news page,
//! when it describes a `NewsArticle` (or `Article`, `ReportageNewsArticle`, `BlogPosting`…),
//! whether alone, in an array or in an `@graph`. Malformed JSON is ignored, never fatal.

use std::collections::HashMap;

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

/// The first article object of the page's JSON-LD, its references (`{"@id": …}`) resolved
/// against every node the page's JSON-LD describes.
pub fn news_article(doc: &Html) -> Option<NewsArticle> {
    let scripts = Selector::parse(r#"script[type="application/ld+json"]"#).ok()?;
    let values: Vec<Value> =
        doc.select(&scripts).filter_map(|s| serde_json::from_str(s.text().collect::<String>().trim()).ok()).collect();
    let mut graph = Graph::default();
    for v in &values {
        graph.index(v);
    }
    values.iter().find_map(find_article).map(|a| graph.read(a))
}

/// How deep a text field is followed through objects, arrays and references.
const MAX_DEPTH: u8 = 4;
/// How many items of a nested array are looked at for a text.
const MAX_ITEMS: usize = 16;

/// The page's JSON-LD nodes by `@id`.
#[derive(Default)]
struct Graph<'a> {
    nodes: HashMap<&'a str, &'a Value>,
}

impl<'a> Graph<'a> {
    fn index(&mut self, v: &'a Value) {
        match v {
            Value::Array(items) => items.iter().for_each(|i| self.index(i)),
            Value::Object(map) => {
                // A node that says more than its id (not a bare reference).
                if let Some(id) = map.get("@id").and_then(Value::as_str)
                    && map.len() > 1
                {
                    self.nodes.entry(id).or_insert(v);
                }
                map.values().for_each(|x| self.index(x));
            }
            _ => {}
        }
    }

    /// The node `v` refers to, if it is a bare reference to one the page describes.
    fn resolve(&self, v: &'a Value) -> &'a Value {
        match v {
            Value::Object(map) if map.len() == 1 => {
                map.get("@id").and_then(Value::as_str).and_then(|id| self.nodes.get(id).copied()).unwrap_or(v)
            }
            _ => v,
        }
    }

    /// A text field: a string, the first string of an array, or an object's name (else url,
    /// else id — the id of a page is its URL).
    fn text(&self, v: Option<&'a Value>) -> Option<String> {
        self.text_within(v, MAX_DEPTH)
    }

    /// `text`, following at most `depth` more levels of objects, arrays and references (a
    /// node naming itself, or a ladder of arrays of references, must not run away).
    fn text_within(&self, v: Option<&'a Value>, depth: u8) -> Option<String> {
        let depth = depth.checked_sub(1)?;
        match self.resolve(v?) {
            Value::String(s) => Some(s.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|s| !s.is_empty()),
            Value::Array(items) => items.iter().take(MAX_ITEMS).find_map(|i| self.text_within(Some(i), depth)),
            Value::Object(map) => {
                self.text_within(map.get("name").or_else(|| map.get("url")).or_else(|| map.get("@id")), depth)
            }
            _ => None,
        }
    }

    /// An image's address: a string, or an `ImageObject`'s url (never its id, which names the
    /// node, not the picture).
    fn image(&self, v: Option<&'a Value>) -> Option<String> {
        let one = |i: &'a Value| match self.resolve(i) {
            Value::Object(map) => self.text(map.get("url").or_else(|| map.get("contentUrl"))),
            other => self.text(Some(other)),
        };
        match self.resolve(v?) {
            Value::Array(items) => items.iter().take(MAX_ITEMS).find_map(one),
            other => one(other),
        }
    }

    /// People's names: strings or `Person` objects' names; an unresolved reference or a bare
    /// URL is not a name.
    fn names(&self, v: Option<&'a Value>) -> Vec<String> {
        let name = |i: &'a Value| match self.resolve(i) {
            Value::Object(map) => self.text(map.get("name")),
            other => self.text(Some(other)).filter(|n| !n.starts_with("http://") && !n.starts_with("https://")),
        };
        match v {
            Some(Value::Array(items)) => items.iter().filter_map(name).collect(),
            Some(other) => name(other).into_iter().collect(),
            None => Vec::new(),
        }
    }

    fn read(&self, v: &'a Value) -> NewsArticle {
        let keywords = match v.get("keywords") {
            Some(Value::String(s)) => {
                s.split([',', '،']).map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect()
            }
            Some(Value::Array(items)) => items.iter().filter_map(|i| self.text(Some(i))).collect(),
            other => self.text(other).into_iter().collect(),
        };
        NewsArticle {
            headline: self.text(v.get("headline")).or_else(|| self.text(v.get("name"))),
            date_published: self.text(v.get("datePublished")),
            date_modified: self.text(v.get("dateModified")),
            // The publisher named as its own author (a channel's page) is not a byline.
            authors: {
                let publisher = self.text(v.get("publisher"));
                self.names(v.get("author")).into_iter().filter(|a| Some(a) != publisher.as_ref()).collect()
            },
            section: self.text(v.get("articleSection")),
            keywords,
            image: self.image(v.get("image")).or_else(|| self.image(v.get("thumbnailUrl"))),
            url: self.text(v.get("mainEntityOfPage")).or_else(|| self.text(v.get("url"))),
            description: self.text(v.get("description")),
            language: self.text(v.get("inLanguage")),
        }
    }
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
    fn references_are_resolved_within_the_pages_graph() {
        let doc = page(
            r#"{"@context":"https://schema.org","@graph":[
              {"@type":"NewsArticle","headline":"خبر","author":{"@id":"https://x.example/#/person/1"},
               "image":{"@id":"https://x.example/a#primaryimage"},"mainEntityOfPage":{"@id":"https://x.example/a"}},
              {"@type":"Person","@id":"https://x.example/#/person/1","name":"ليلى حسن","url":"https://x.example/author/leila"},
              {"@type":"ImageObject","@id":"https://x.example/a#primaryimage","url":"https://x.example/a.jpg"}]}"#,
        );
        let a = news_article(&doc).unwrap();
        assert_eq!(a.authors, ["ليلى حسن"]);
        assert_eq!(a.image.as_deref(), Some("https://x.example/a.jpg"));
        assert_eq!(a.url.as_deref(), Some("https://x.example/a"));
        let unresolved =
            page(r#"{"@type":"NewsArticle","headline":"خبر","author":{"@id":"https://x.example/#/person/9"}}"#);
        assert_eq!(news_article(&unresolved).unwrap().authors, Vec::<String>::new(), "a URL is not a name");
        let house = page(
            r#"{"@type":"NewsArticle","headline":"خبر","author":{"@type":"Organization","name":"قناة المرصد"},
               "publisher":{"@type":"Organization","name":"قناة المرصد"}}"#,
        );
        assert_eq!(news_article(&house).unwrap().authors, Vec::<String>::new(), "the publisher is not the author");
        let url_author = page(r#"{"@type":"NewsArticle","headline":"خبر","author":"https://x.example/author/9"}"#);
        assert_eq!(news_article(&url_author).unwrap().authors, Vec::<String>::new());
    }

    #[test]
    fn a_node_that_names_itself_or_a_ladder_of_references_ends() {
        let own =
            page(r#"{"@type":"NewsArticle","@id":"a","name":{"@id":"a"},"author":{"@id":"a"},"image":{"@id":"a"}}"#);
        assert_eq!(news_article(&own).unwrap().headline, None);
        let mut nodes = vec![r#"{"@type":"NewsArticle","headline":{"@id":"n0"}}"#.to_owned()];
        for k in 0..60 {
            nodes.push(format!(r#"{{"@id":"n{k}","name":[{{"@id":"n{}"}},{{"@id":"n{}"}}]}}"#, k + 1, k + 1));
        }
        nodes.push(r#"{"@id":"n60","name":null}"#.to_owned());
        let ladder = page(&format!(r#"{{"@graph":[{}]}}"#, nodes.join(",")));
        assert_eq!(news_article(&ladder).unwrap().headline, None);
    }

    #[test]
    fn malformed_or_foreign_json_ld_is_ignored() {
        assert_eq!(news_article(&page("{not json")), None);
        assert_eq!(news_article(&page(r#"{"@type":"Organization","name":"x"}"#)), None);
        assert_eq!(news_article(&page("[]")), None);
    }
}
