//! Who gets what: for one subscriber, the window's articles grouped under the keywords they
//! follow, in the subscriber's order, newest first within a heading, each article under the first
//! of its keywords only (never twice in one email), and at most `max_per_keyword` per heading —
//! as ids, stored as a compact content key. Pure: no store, no clock.

use std::collections::{HashMap, HashSet};

use crate::store::{ArticleId, DigestArticle, KeywordId};

/// One heading of a digest: a keyword and its articles, newest first.
pub type Section = (KeywordId, Vec<ArticleId>);

/// `articles` are expected newest first; `article_keywords` maps each to its keywords.
pub fn sections(
    follows: &[KeywordId],
    articles: &[&DigestArticle],
    article_keywords: &HashMap<ArticleId, HashSet<KeywordId>>,
    max_per_keyword: usize,
) -> Vec<Section> {
    let mut placed: HashSet<ArticleId> = HashSet::new();
    let mut out = Vec::new();
    for &keyword in follows {
        let mut section = (keyword, Vec::new());
        for article in articles {
            if section.1.len() >= max_per_keyword {
                break;
            }
            let carries = article_keywords.get(&article.id).is_some_and(|ks| ks.contains(&keyword));
            if carries && placed.insert(article.id) {
                section.1.push(article.id);
            }
        }
        if !section.1.is_empty() {
            out.push(section);
        }
    }
    out
}

/// The stored form of a digest's sections: `keyword:article,article;keyword:article`. Readers
/// who get the same digest share one stored content (and one rendering).
pub fn content_key(sections: &[Section]) -> String {
    let mut key = String::new();
    for (i, (keyword, articles)) in sections.iter().enumerate() {
        if i > 0 {
            key.push(';');
        }
        key.push_str(&keyword.to_string());
        key.push(':');
        for (j, a) in articles.iter().enumerate() {
            if j > 0 {
                key.push(',');
            }
            key.push_str(&a.to_string());
        }
    }
    key
}

/// Reads a content key back; `None` if it is not one.
pub fn parse_content_key(key: &str) -> Option<Vec<Section>> {
    key.split(';')
        .map(|part| {
            let (keyword, articles) = part.split_once(':')?;
            let articles = articles.split(',').map(|a| a.parse().ok()).collect::<Option<Vec<ArticleId>>>()?;
            Some((keyword.parse().ok()?, articles))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn article(id: ArticleId) -> DigestArticle {
        let t = Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0).unwrap();
        DigestArticle {
            id,
            url: format!("https://example.org/{id}"),
            title: format!("مقال {id}"),
            author: None,
            section: None,
            summary: None,
            published_at: t,
            undated: false,
            first_seen_at: t,
        }
    }

    fn tags(pairs: &[(ArticleId, &[KeywordId])]) -> HashMap<ArticleId, HashSet<KeywordId>> {
        pairs.iter().map(|(a, ks)| (*a, ks.iter().copied().collect())).collect()
    }

    #[test]
    fn an_article_with_two_followed_keywords_appears_once_under_the_first() {
        let articles = [article(10), article(11), article(12)];
        let map = tags(&[(10, &[1, 2]), (11, &[2]), (12, &[3])]);
        let refs: Vec<_> = articles.iter().collect();
        assert_eq!(sections(&[1, 2], &refs, &map, 10), vec![(1, vec![10]), (2, vec![11])]);
    }

    #[test]
    fn keywords_with_nothing_new_get_no_heading() {
        let articles = [article(10)];
        let refs: Vec<_> = articles.iter().collect();
        assert!(sections(&[1], &refs, &tags(&[(10, &[2])]), 10).is_empty());
    }

    #[test]
    fn each_heading_is_capped() {
        let articles: Vec<_> = (1..=5).map(article).collect();
        let map = tags(&[(1, &[1]), (2, &[1]), (3, &[1]), (4, &[1]), (5, &[1])]);
        let refs: Vec<_> = articles.iter().collect();
        assert_eq!(sections(&[1], &refs, &map, 3)[0].1.len(), 3);
    }

    #[test]
    fn content_keys_read_back() {
        let s = vec![(7, vec![101, 99]), (3, vec![5])];
        assert_eq!(content_key(&s), "7:101,99;3:5");
        assert_eq!(parse_content_key(&content_key(&s)), Some(s));
        assert_eq!(parse_content_key("7:"), None);
        assert_eq!(parse_content_key("x:1"), None);
        assert_eq!(parse_content_key(""), None);
    }
}
