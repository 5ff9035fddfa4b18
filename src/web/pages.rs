//! The pages people see: Arabic, right-to-left, usable without JavaScript, rendered with minijinja
//! from templates compiled into the binary (auto-escaped: `.html.j2`).

use std::sync::LazyLock;

use axum::response::Html;
use minijinja::Environment;
use serde::Serialize;

static PAGES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, source) in [
        ("base.html.j2", include_str!("templates/base.html.j2")),
        ("home.html.j2", include_str!("templates/home.html.j2")),
        ("message.html.j2", include_str!("templates/message.html.j2")),
        ("unsubscribe.html.j2", include_str!("templates/unsubscribe.html.j2")),
        ("subscribe.html.j2", include_str!("templates/subscribe.html.j2")),
        ("confirm.html.j2", include_str!("templates/confirm.html.j2")),
        ("preferences.html.j2", include_str!("templates/preferences.html.j2")),
        ("confirmed.html.j2", include_str!("templates/confirmed.html.j2")),
        ("archive.html.j2", include_str!("templates/archive.html.j2")),
        ("keyword.html.j2", include_str!("templates/keyword.html.j2")),
        ("signup_form.html.j2", include_str!("templates/signup_form.html.j2")),
        ("topics.html.j2", include_str!("templates/topics.html.j2")),
        ("editions.html.j2", include_str!("templates/editions.html.j2")),
        ("errors.html.j2", include_str!("templates/errors.html.j2")),
    ] {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!("page template {name} is broken: {e:#}");
        }
    }
    env
});

pub fn render<S: Serialize>(name: &str, ctx: S) -> Html<String> {
    match PAGES.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => Html(html),
        Err(e) => super::error::fallback(e),
    }
}

/// A page with a title and one message.
pub fn message(title: &str, text: &str) -> Html<String> {
    render("message.html.j2", minijinja::context! { title, text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_template_compiles_and_is_rtl() {
        let html = message("عنوان", "نص <b>");
        assert!(html.0.contains(r#"<html lang="ar" dir="rtl">"#));
        assert!(html.0.contains("نص &lt;b&gt;"));
        for name in [
            "home.html.j2",
            "unsubscribe.html.j2",
            "subscribe.html.j2",
            "confirm.html.j2",
            "confirmed.html.j2",
            "preferences.html.j2",
            "archive.html.j2",
        ] {
            assert!(PAGES.get_template(name).is_ok(), "{name}");
        }
    }
}
