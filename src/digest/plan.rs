//! Who gets what: for one subscriber, the window's articles grouped under the keywords they
//! follow, in the subscriber's order, newest first within a heading, each article under the first
//! of its keywords only (never twice in one email), and at most `max_per_keyword` per heading.
//! Pure: no store, no clock.

use std::collections::{HashMap, HashSet};

use crate::store::{Article, ArticleId, Keyword, KeywordId};

#[derive(Debug, Clone, PartialEq)]
pub struct Section<'a> {
    pub keyword: &'a Keyword,
    pub articles: Vec<&'a Article>,
}

/// `articles` are expected newest first; `article_keywords` maps each to its keywords.
pub fn sections<'a>(
    follows: &'a [Keyword],
    articles: &[&'a Article],
    article_keywords: &HashMap<ArticleId, HashSet<KeywordId>>,
    max_per_keyword: usize,
) -> Vec<Section<'a>> {
    let mut placed: HashSet<ArticleId> = HashSet::new();
    let mut out = Vec::new();
    for keyword in follows {
        let mut section = Section { keyword, articles: Vec::new() };
        for &article in articles {
            if section.articles.len() >= max_per_keyword {
                break;
            }
            let carries = article_keywords.get(&article.id).is_some_and(|ks| ks.contains(&keyword.id));
            if carries && placed.insert(article.id) {
                section.articles.push(article);
            }
        }
        if !section.articles.is_empty() {
            out.push(section);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn keyword(id: KeywordId, name: &str) -> Keyword {
        let created_at = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        Keyword {
            id,
            name: name.into(),
            normalized: name.into(),
            slug: name.into(),
            origin: "subscriber".into(),
            created_at,
        }
    }

    fn article(id: ArticleId) -> Article {
        let t = Utc.with_ymd_and_hms(2026, 11, 29, 8, 0, 0).unwrap();
        Article {
            id,
            source_id: 1,
            url: format!("https://example.org/{id}"),
            guid: None,
            title: format!("مقال {id}"),
            author: None,
            section: None,
            summary: None,
            body_html: String::new(),
            body_text: String::new(),
            image_url: None,
            lang: None,
            published_at: t,
            updated_at: t,
            first_seen_at: t,
        }
    }

    fn tags(pairs: &[(ArticleId, &[KeywordId])]) -> HashMap<ArticleId, HashSet<KeywordId>> {
        pairs.iter().map(|(a, ks)| (*a, ks.iter().copied().collect())).collect()
    }

    #[test]
    fn an_article_with_two_followed_keywords_appears_once_under_the_first() {
        let follows = [keyword(1, "العراق"), keyword(2, "داعش")];
        let articles = [article(10), article(11), article(12)];
        let map = tags(&[(10, &[1, 2]), (11, &[2]), (12, &[3])]);
        let refs: Vec<_> = articles.iter().collect();
        let s = sections(&follows, &refs, &map, 10);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].keyword.name, "العراق");
        assert_eq!(s[0].articles.iter().map(|a| a.id).collect::<Vec<_>>(), [10]);
        assert_eq!(s[1].articles.iter().map(|a| a.id).collect::<Vec<_>>(), [11]);
    }

    #[test]
    fn keywords_with_nothing_new_get_no_heading() {
        let follows = [keyword(1, "مصر")];
        let articles = [article(10)];
        let refs: Vec<_> = articles.iter().collect();
        assert!(sections(&follows, &refs, &tags(&[(10, &[2])]), 10).is_empty());
    }

    #[test]
    fn each_heading_is_capped() {
        let follows = [keyword(1, "العراق")];
        let articles: Vec<_> = (1..=5).map(article).collect();
        let map = tags(&[(1, &[1]), (2, &[1]), (3, &[1]), (4, &[1]), (5, &[1])]);
        let refs: Vec<_> = articles.iter().collect();
        assert_eq!(sections(&follows, &refs, &map, 3)[0].articles.len(), 3);
    }
}
