//! The author of a page without author metadata, read from its byline as a reader reads it: the
//! short element the page marks as the byline (a class or id such as `author`, `byline`,
//! `writer`, `auteur`), or schema.org microdata; the name is the person's — a link or a name
//! element inside the byline, or its text without the lead-in («كتب:», «بقلم»), the reporter's
//! city («دمشق - …») or the desk («من مراسلتنا بوهران:»).

use scraper::{ElementRef, Html, Selector};

use super::dateline::about_the_article;
use super::element_text;

/// Class or id words that mark a byline.
const MARKS: &[&str] = &["author", "byline", "writer", "auteur", "kateb", "reporter", "journalist", "redacteur"];

/// Words that mark an author's biography box rather than the byline.
const NOT_BYLINE: &[&str] = &["box", "bio", "about", "info", "avatar", "image", "img", "photo"];

/// A byline is short.
const MAX_BYLINE_CHARS: usize = 80;

/// The byline's name, if the page shows one.
pub(super) fn find(doc: &Html) -> Option<String> {
    // The author's name property first: the author element may hold a job title too.
    for css in ["[itemprop~=author] [itemprop~=name]", "[itemprop~=author]"] {
        let microdata = Selector::parse(css).ok()?;
        let mut found = doc.select(&microdata).filter(|e| about_the_article(*e)).map(element_text);
        if let Some(name) = found.find(|t| plausible(t)) {
            return Some(name);
        }
    }
    let any = Selector::parse("[class], [id]").ok()?;
    doc.select(&any).filter(|e| marked(e) && about_the_article(*e)).find_map(name_in)
}

fn marked(e: &ElementRef<'_>) -> bool {
    let v = e.value();
    let words: Vec<String> = v
        .attr("class")
        .into_iter()
        .chain(v.attr("id"))
        .flat_map(|s| s.split([' ', '-', '_']))
        .map(str::to_ascii_lowercase)
        .collect();
    words.iter().any(|w| MARKS.contains(&w.as_str())) && !words.iter().any(|w| NOT_BYLINE.contains(&w.as_str()))
}

/// The person's name in a byline element.
fn name_in(e: ElementRef<'_>) -> Option<String> {
    let text = element_text(e);
    if text.is_empty() || text.chars().count() > MAX_BYLINE_CHARS {
        return None;
    }
    let inner = Selector::parse("a, .name, [class*=name]").ok()?;
    if let Some(name) = e.select(&inner).map(element_text).find(|t| plausible(t)) {
        return Some(name);
    }
    Some(strip_lead(&text)).filter(|t| plausible(t))
}

/// «كتب: فلان», «من مراسلتنا بوهران: فلان», «دمشق - فلان» → «فلان».
fn strip_lead(text: &str) -> String {
    let after_colon = text.rsplit(':').next().unwrap_or(text).trim();
    let cleaned = super::clean_byline(after_colon);
    // «دمشق - فلان»: a one-word place before a dash.
    match cleaned.split_once(" - ").or_else(|| cleaned.split_once(" – ")) {
        Some((place, name)) if !place.trim().contains(' ') => name.trim().to_owned(),
        _ => cleaned,
    }
}

/// A name: one to six words, no digits, not a URL.
fn plausible(t: &str) -> bool {
    let words = t.split_whitespace().count();
    (1..=6).contains(&words) && t.chars().count() <= 60 && !t.chars().any(|c| c.is_numeric()) && !t.starts_with("http")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn byline(body: &str) -> Option<String> {
        find(&Html::parse_document(&format!("<html><body><h1>عنوان</h1>{body}</body></html>")))
    }

    #[test]
    fn the_name_is_read_out_of_the_byline() {
        assert_eq!(byline("<span class=\"writer\">كتب أحمد عبد الرحمن</span>").as_deref(), Some("أحمد عبد الرحمن"));
        assert_eq!(
            byline("<div class=\"author-article\">من مراسلتنا بوهران: <a href=\"/a\">كريمة بن سالم</a></div>")
                .as_deref(),
            Some("كريمة بن سالم")
        );
        assert_eq!(byline("<span class=\"writer\">دمشق - ماهر الأيوبي</span>").as_deref(), Some("ماهر الأيوبي"));
        assert_eq!(byline("<span class=\"auteur\">بقلم: منية الطرابلسي</span>").as_deref(), Some("منية الطرابلسي"));
        assert_eq!(
            byline("<span class=\"meta-author\">كتب: <span itemprop=\"author\"><span itemprop=\"name\">سالم البلوشي</span></span></span>")
                .as_deref(),
            Some("سالم البلوشي")
        );
    }

    #[test]
    fn microdata_gives_the_name_not_the_job_title() {
        let html = "<div itemprop=\"author\"><span itemprop=\"name\">سالم البلوشي</span> \
                    <span itemprop=\"jobTitle\">مراسل الشؤون الخليجية</span></div>";
        assert_eq!(byline(html).as_deref(), Some("سالم البلوشي"));
    }

    #[test]
    fn a_biography_box_or_a_related_storys_author_is_not_the_byline() {
        assert_eq!(byline("<div class=\"author-box\">ليلى الجبوري باحثة عراقية تكتب عن الريف</div>"), None);
        assert_eq!(byline("<aside><span class=\"writer\">كتب فلان الفلاني</span></aside>"), None);
        assert_eq!(byline("<div class=\"related\"><span class=\"author\">سامي</span></div>"), None);
    }
}
