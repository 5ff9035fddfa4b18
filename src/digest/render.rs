//! Rendering a digest email from the operator's minijinja templates in `email-templates/`:
//! `digest/subject.txt.j2`, `digest/body.txt.j2` and `digest/body.html.j2` over shared
//! `base.*.j2`. `.html.j2` templates auto-escape; variables must exist (strict mode), so a typo
//! fails the start-up sample render instead of the 7 a.m. digest. The HTML's CSS is inlined for
//! mail clients that drop `<style>`. Pure: the same context gives the same bytes.

use std::collections::HashMap;
use std::path::Path;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::inline::inline_css;
use crate::config::Problem;

pub const SUBJECT: &str = "digest/subject.txt.j2";
pub const BODY_TEXT: &str = "digest/body.txt.j2";
pub const BODY_HTML: &str = "digest/body.html.j2";
pub const CONFIRM_SUBJECT: &str = "confirm/subject.txt.j2";
pub const CONFIRM_TEXT: &str = "confirm/body.txt.j2";
pub const CONFIRM_HTML: &str = "confirm/body.html.j2";
/// `BODY_HTML` with its CSS inlined once, at load (see `inline`).
const BODY_HTML_INLINED: &str = "digest/body.inlined.html.j2";

#[derive(Debug, thiserror::Error)]
#[error("cannot render {template}: {reason}")]
pub struct RenderError {
    pub template: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub html: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DigestContext {
    pub site: SiteContext,
    pub edition: EditionContext,
    pub subscriber: SubscriberContext,
    pub sections: Vec<SectionContext>,
    pub article_count: usize,
    pub unsubscribe_url: String,
    /// The reader's page to change their topics or unsubscribe.
    pub preferences_url: String,
    /// This digest's page on the site ("view in browser"): the same for every reader who gets
    /// the same digest, and free of anyone's own links.
    pub view_url: String,
    /// Rendered as that web page, not as an email: the reader's own lines are left out.
    pub web: bool,
}

/// A reader's own values in their digest, filled into one rendering shared by every reader.
#[derive(Debug, Clone, Copy)]
pub struct ReaderFields<'a> {
    pub email: &'a str,
    pub unsubscribe_url: &'a str,
    pub preferences_url: &'a str,
}

/// What the confirmation email of a sign-up shows. Nothing the visitor typed: a form cannot
/// make nashra mail a stranger someone else's words.
#[derive(Debug, Clone, Serialize)]
pub struct ConfirmContext {
    pub site: SiteContext,
    pub confirm_url: String,
    /// Until when the link works, in Arabic, in the site's time zone.
    pub expires: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiteContext {
    pub title: String,
    pub url: String,
    /// The publisher's postal address or contact line (empty: none).
    pub postal_address: String,
}

impl SiteContext {
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            title: config.site.title.clone(),
            url: config.site.base_url.to_string(),
            postal_address: config.site.postal_address.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EditionContext {
    pub name: String,
    pub title: String,
    /// The edition's date, in Arabic, in the edition's time zone.
    pub date: String,
    /// The same day in the Hijri calendar, when the publisher asks for it (`site.hijri_date`).
    pub hijri_date: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SubscriberContext {
    pub email: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SectionContext {
    pub keyword: String,
    pub feed_url: String,
    pub articles: Vec<ArticleContext>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArticleContext {
    pub title: String,
    pub url: String,
    pub summary: Option<String>,
    pub author: Option<String>,
    pub section: Option<String>,
    /// Publication time, in Arabic, in the edition's time zone; empty for an article whose page
    /// gave no date.
    pub published: String,
}

pub struct Templates {
    env: Environment<'static>,
    /// Whether `BODY_HTML_INLINED` (the HTML template with its CSS inlined once) renders what
    /// rendering `BODY_HTML` and inlining its CSS would.
    inlined: bool,
    /// Whether the templates use the reader's own fields (address, links) only as plain
    /// output, so one rendering of a content serves every reader by substitution.
    mergeable: bool,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Templates")
    }
}

impl Templates {
    /// Loads every `*.j2` under `dir` and renders the digest once with sample data. Every
    /// problem is reported with the template it is in.
    pub fn load(dir: &Path) -> Result<Self, Vec<Problem>> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        let mut problems = Vec::new();
        let mut files = Vec::new();
        collect_files(dir, dir, &mut files, &mut problems);
        let sources: HashMap<String, String> = files.iter().cloned().collect();
        for (name, source) in files {
            if let Err(e) = env.add_template_owned(name.clone(), source) {
                problems.push(Problem::new(format!("{}/{name}", dir.display()), "", crate::errors::chain(&e)));
            }
        }
        for required in [SUBJECT, BODY_TEXT, BODY_HTML, CONFIRM_SUBJECT, CONFIRM_TEXT, CONFIRM_HTML] {
            if env.get_template(required).is_err() && !problems.iter().any(|p| p.key.ends_with(required)) {
                problems.push(Problem::new(
                    "mail.templates_dir",
                    dir.display(),
                    format!("missing template {required}"),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let inlined = sources
            .get(BODY_HTML)
            .and_then(|body| super::inline::preinline(body, &sources))
            .is_some_and(|source| env.add_template_owned(BODY_HTML_INLINED, source).is_ok());
        let mut templates = Self { env, mergeable: false, inlined: false };
        templates.inlined = inlined && templates.inlined_renders_the_same();
        if !templates.inlined {
            tracing::warn!(
                "the digest's HTML template cannot have its CSS inlined once: it is inlined in every rendering (slower)"
            );
        }
        let direct = match templates.render_digest(&sample()) {
            Ok(email) => email,
            Err(e) => {
                return Err(vec![Problem::new(
                    format!("{}/{}", dir.display(), e.template),
                    "",
                    format!("fails on sample data: {}", e.reason),
                )]);
            }
        };
        let web = DigestContext { web: true, ..sample() };
        let checks = templates.render_confirmation(&sample_confirmation()).and_then(|_| templates.render_digest(&web));
        if let Err(e) = checks {
            return Err(vec![Problem::new(
                format!("{}/{}", dir.display(), e.template),
                "",
                format!("fails on sample data: {}", e.reason),
            )]);
        }
        let sample = sample();
        templates.mergeable = templates
            .render_digest(&sample.with_merge_fields())
            .is_ok_and(|merged| templates.merge(&merged, &sample.reader()) == direct);
        if !templates.mergeable {
            tracing::warn!(
                "the email templates transform the reader's address or links: each digest is rendered on its own (slower)"
            );
        }
        Ok(templates)
    }

    /// Whether `render_digest` of a context `with_merge_fields` then `merge` gives what
    /// `render_digest` of the reader's own context gives.
    pub fn mergeable(&self) -> bool {
        self.mergeable
    }

    pub fn render_digest(&self, ctx: &DigestContext) -> Result<RenderedEmail, RenderError> {
        let subject = self.render(SUBJECT, ctx)?;
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = self.render(BODY_TEXT, ctx)?;
        let html = if self.inlined {
            self.render(BODY_HTML_INLINED, ctx)?
        } else {
            let html = self.render(BODY_HTML, ctx)?;
            inline_css(&html).map_err(|reason| RenderError { template: BODY_HTML.into(), reason })?
        };
        Ok(RenderedEmail { subject, html, text: tidy_text(&text) })
    }

    /// Whether the template inlined once renders a rich sample (several headings, articles with
    /// and without their optional parts) as the original does when its output is inlined.
    fn inlined_renders_the_same(&self) -> bool {
        let ctx = rich_sample();
        let once = self.render(BODY_HTML_INLINED, &ctx);
        let each = self.render(BODY_HTML, &ctx).ok().and_then(|html| inline_css(&html).ok());
        match (once, each) {
            (Ok(once), Some(each)) => same_document(&once, &each),
            _ => false,
        }
    }

    /// Whether the HTML part is rendered from the template inlined once.
    pub fn inlined_once(&self) -> bool {
        self.inlined
    }

    /// The email that asks a new reader to confirm their sign-up.
    pub fn render_confirmation(&self, ctx: &ConfirmContext) -> Result<RenderedEmail, RenderError> {
        let subject = self.render(CONFIRM_SUBJECT, ctx)?.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = self.render(CONFIRM_TEXT, ctx)?;
        let html = self.render(CONFIRM_HTML, ctx)?;
        let html = inline_css(&html).map_err(|reason| RenderError { template: CONFIRM_HTML.into(), reason })?;
        Ok(RenderedEmail { subject, html, text: tidy_text(&text) })
    }

    fn render<C: Serialize>(&self, name: &str, ctx: &C) -> Result<String, RenderError> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| RenderError { template: name.to_owned(), reason: crate::errors::chain(&e) })
    }
}

/// Stand-ins for the reader's own fields, replaced after rendering (`RenderedEmail::merge`).
/// Private-use characters: no text or markup contains them, and neither escaping nor CSS
/// inlining changes them.
const EMAIL_FIELD: &str = "\u{E000}nashra:email\u{E001}";
const UNSUBSCRIBE_FIELD: &str = "\u{E000}nashra:unsubscribe\u{E001}";
const PREFERENCES_FIELD: &str = "\u{E000}nashra:preferences\u{E001}";

impl DigestContext {
    /// This context with the reader's own fields replaced by merge fields.
    pub fn with_merge_fields(&self) -> DigestContext {
        let mut ctx = self.clone();
        ctx.subscriber.email = EMAIL_FIELD.into();
        ctx.unsubscribe_url = UNSUBSCRIBE_FIELD.into();
        ctx.preferences_url = PREFERENCES_FIELD.into();
        ctx
    }

    /// This context's own reader fields.
    pub fn reader(&self) -> ReaderFields<'_> {
        ReaderFields {
            email: &self.subscriber.email,
            unsubscribe_url: &self.unsubscribe_url,
            preferences_url: &self.preferences_url,
        }
    }
}

impl Templates {
    /// Fills the merge fields of `rendered` with one reader's values, escaped in the HTML part as
    /// the rendering would have escaped them.
    pub fn merge(&self, rendered: &RenderedEmail, reader: &ReaderFields<'_>) -> RenderedEmail {
        let escape = |s: &str| {
            if self.inlined {
                // Rendered from the template inlined once: minijinja's own escaping.
                minijinja::HtmlEscape(s).to_string()
            } else {
                // Inlined after rendering: as the HTML serializer writes it.
                serializer_escape(s)
            }
        };
        let fill = |s: &str, html: bool| {
            let value = |v: &str| if html { escape(v) } else { v.to_owned() };
            s.replace(EMAIL_FIELD, &value(reader.email))
                .replace(UNSUBSCRIBE_FIELD, &value(reader.unsubscribe_url))
                .replace(PREFERENCES_FIELD, &value(reader.preferences_url))
        };
        RenderedEmail {
            subject: fill(&rendered.subject, false),
            html: fill(&rendered.html, true),
            text: fill(&rendered.text, false),
        }
    }
}

/// Escapes text for HTML text and quoted attributes, as the HTML serializer does.
fn serializer_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<(String, String)>, problems: &mut Vec<Problem>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            problems.push(Problem::new("mail.templates_dir", dir.display(), format!("cannot read the folder: {e}")));
            return;
        }
    };
    let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_files(root, &path, out, problems);
        } else if path.extension().is_some_and(|x| x == "j2") {
            let name = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            match std::fs::read_to_string(&path) {
                Ok(source) => out.push((name, source)),
                Err(e) => problems.push(Problem::new(path.display().to_string(), "", format!("cannot read: {e}"))),
            }
        }
    }
}

/// Whether two HTML documents are the same once parsed (whitespace runs count as one).
fn same_document(a: &str, b: &str) -> bool {
    let canonical = |html: &str| {
        let serialized = scraper::Html::parse_document(html).html();
        serialized.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    canonical(a) == canonical(b)
}

/// Trims trailing spaces and squeezes runs of blank lines left by template logic.
fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines().map(str::trim_end) {
        if line.is_empty() {
            blank += 1;
            if blank > 1 || out.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_owned() + "\n"
}

/// The sample, with three headings of up to three articles, some without author or summary.
fn rich_sample() -> DigestContext {
    let mut ctx = sample();
    let first = ctx.sections[0].clone();
    ctx.sections = (0..3)
        .map(|s| {
            let mut section = first.clone();
            section.keyword = format!("{} {s}", first.keyword);
            section.articles = (0..=s)
                .map(|a| {
                    let mut article = first.articles[0].clone();
                    article.title = format!("{} {a}", article.title);
                    if a == 1 {
                        article.author = None;
                        article.summary = None;
                    }
                    article
                })
                .collect();
            section
        })
        .collect();
    ctx.article_count = 6;
    ctx
}

/// Sample data for the start-up check, with the characters that break careless templates.
pub fn sample_confirmation() -> ConfirmContext {
    ConfirmContext {
        site: sample_site(),
        confirm_url: "https://example.org/confirm/c1.1893456000.00000000000000000000000000000000".into(),
        expires: "الأربعاء 2 ديسمبر 2026 - 9:00 م".into(),
    }
}

fn sample_site() -> SiteContext {
    SiteContext {
        title: "نشرة «تجريبية» & <اختبار>".into(),
        url: "https://example.org/".into(),
        postal_address: "شارع «المثال» 12 & <القاهرة>".into(),
    }
}

pub fn sample() -> DigestContext {
    DigestContext {
        site: sample_site(),
        edition: EditionContext {
            name: "daily".into(),
            title: "النشرة اليومية".into(),
            date: "الأحد 29 نوفمبر 2026".into(),
            hijri_date: Some("19 جمادى الآخرة 1448 هـ".into()),
        },
        subscriber: SubscriberContext { email: "reader@example.org".into() },
        sections: vec![SectionContext {
            keyword: "العراق".into(),
            feed_url: "https://example.org/feeds/keywords/%D8%A7%D9%84%D8%B9%D8%B1%D8%A7%D9%82.atom".into(),
            articles: vec![ArticleContext {
                title: "«متحدون لهزيمة داعش».. خطوات \"عراقية\" <متسارعة> & جديدة".into(),
                url: "https://example.org/a?x=1&y=2".into(),
                summary: Some("ملخص المقال.".into()),
                author: Some("شيماء يحيى".into()),
                section: None,
                published: "الإثنين 12 أبريل 2021 - 10:18 ص".into(),
            }],
        }],
        article_count: 1,
        unsubscribe_url: "https://example.org/unsubscribe/token".into(),
        preferences_url: "https://example.org/preferences/token".into(),
        view_url: "https://example.org/digests/1.00000000000000000000000000000000".into(),
        web: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates() -> Templates {
        Templates::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("email-templates")).unwrap()
    }

    /// A folder with the shipped templates, for a test to change one.
    fn copy_of_the_shipped_templates() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("email-templates");
        for name in
            ["base.html.j2", "base.txt.j2", SUBJECT, BODY_TEXT, BODY_HTML, CONFIRM_SUBJECT, CONFIRM_TEXT, CONFIRM_HTML]
        {
            let to = dir.path().join(name);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(src.join(name), to).unwrap();
        }
        dir
    }

    #[test]
    fn the_shipped_templates_render_rtl_arabic_with_escaping() {
        let email = templates().render_digest(&sample()).unwrap();
        assert!(email.html.contains(r#"lang="ar""#) && email.html.contains(r#"dir="rtl""#));
        assert!(email.html.contains("&lt;متسارعة&gt;"), "titles are escaped in HTML");
        assert!(!email.html.contains("<متسارعة>"));
        assert!(email.text.contains("<متسارعة>"), "plain text is not HTML-escaped");
        assert!(email.subject.contains("النشرة اليومية"));
        assert!(!email.subject.contains('\n'));
        assert!(email.html.contains("style=\""), "CSS is inlined");
    }

    #[test]
    fn one_rendering_serves_every_reader_by_merging_their_fields() {
        let t = templates();
        assert!(t.mergeable(), "the shipped templates use the reader's fields plainly");
        let mut ctx = sample();
        ctx.subscriber.email = "o'neil&co@example.org".into();
        ctx.unsubscribe_url = "https://example.org/unsubscribe/abc?x=1&y=2".into();
        let rendered = t.render_digest(&ctx.with_merge_fields()).unwrap();
        ctx.preferences_url = "https://example.org/preferences/p1.0.abc?x=1&y=2".into();
        let merged = t.merge(&rendered, &ctx.reader());
        assert_eq!(merged, t.render_digest(&ctx).unwrap());
        assert!(merged.html.contains("o&#x27;neil&amp;co@example.org"), "escaped in HTML");
        assert!(!merged.html.contains('\u{E000}'));
    }

    #[test]
    fn a_template_that_transforms_the_address_is_rendered_per_reader() {
        let dir = copy_of_the_shipped_templates();
        std::fs::write(dir.path().join(SUBJECT), "{{ edition.title }} {{ subscriber.email|upper }}").unwrap();
        assert!(!Templates::load(dir.path()).unwrap().mergeable());
    }

    #[test]
    fn the_shipped_html_template_has_its_css_inlined_once() {
        let t = templates();
        assert!(t.inlined_once());
        let html = t.render_digest(&rich_sample()).unwrap().html;
        let each = inline_css(&t.render(BODY_HTML, &rich_sample()).unwrap()).unwrap();
        assert!(same_document(&html, &each));
        assert!(html.contains("style=\""));
    }

    #[test]
    fn rendering_is_deterministic() {
        let t = templates();
        assert_eq!(t.render_digest(&sample()).unwrap(), t.render_digest(&sample()).unwrap());
    }

    #[test]
    fn a_template_using_an_unknown_variable_fails_the_load_with_its_name() {
        let dir = copy_of_the_shipped_templates();
        std::fs::write(dir.path().join(SUBJECT), "{{ edition.titel }}").unwrap();
        let problems = Templates::load(dir.path()).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].key.ends_with(SUBJECT), "{problems:?}");
    }

    #[test]
    fn the_confirmation_email_is_rtl_with_its_link_and_css_inlined() {
        let ctx = sample_confirmation();
        let email = templates().render_confirmation(&ctx).unwrap();
        assert!(email.html.contains(r#"dir="rtl""#) && email.html.contains("style=\""));
        assert!(email.html.contains("&lt;اختبار&gt;"), "the site title is escaped");
        assert!(email.text.contains(&ctx.confirm_url) && email.text.contains(&ctx.expires));
        assert!(!email.subject.contains('\n'));
        let dir = copy_of_the_shipped_templates();
        std::fs::write(dir.path().join(CONFIRM_TEXT), "{{ confirm_link }}").unwrap();
        let problems = Templates::load(dir.path()).unwrap_err();
        assert!(problems[0].key.ends_with(CONFIRM_TEXT), "{problems:?}");
    }

    #[test]
    fn a_missing_template_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let problems = Templates::load(dir.path()).unwrap_err();
        assert!(problems.iter().any(|p| p.reason.contains(BODY_HTML)), "{problems:?}");
    }
}
