//! CSS inlined once per template instead of once per message. Mail clients drop `<style>`, so
//! the digest's HTML carries its CSS in `style` attributes — but running a CSS inliner (an HTML
//! parse, selector matching and a serialisation) on every rendered message costs several times
//! the rendering itself. So the inliner runs once, on the template: its inheritance is resolved
//! (`{% extends %}` with `{% block %}`s, one level, with the environment's `trim_blocks` and
//! `lstrip_blocks` applied to the block tags it removes), its template syntax is set aside — statements
//! as HTML comments, expressions as plain tokens — the CSS is inlined, and the syntax is put back.
//!
//! This only works for templates whose markup does not depend on the data in ways the inliner
//! would see differently (dynamic class names, positional selectors, template syntax between
//! table rows). So the result is checked: a rich sample rendered with the inlined template must
//! give the same document as the sample rendered with the original and inlined afterwards. If it
//! does not, or the template uses what this cannot resolve (`super()`, nested blocks), the caller
//! inlines every rendering instead — slower, never wrong.

use std::collections::HashMap;

/// A template's source with its inheritance resolved and its CSS inlined; `None` if it cannot
/// be done safely (the caller then inlines each rendering).
pub fn preinline(source: &str, sources: &HashMap<String, String>) -> Option<String> {
    let flat = flatten(source, sources)?;
    let (protected, syntax) = protect(&flat)?;
    let inlined = inline_css(&protected).ok()?;
    restore(&inlined, &syntax)
}

/// Inlines the CSS of a whole document (keeping `<style>` for the clients that read it, and its
/// media queries).
pub fn inline_css(html: &str) -> Result<String, String> {
    css_inline::CSSInliner::options()
        .keep_style_tags(true)
        .load_remote_stylesheets(false)
        .build()
        .inline(html)
        .map_err(|e| format!("cannot inline CSS: {e}"))
}

/// One level of `{% extends "parent" %}`: the parent's source with each of its blocks replaced
/// by the child's block of that name (or its own content).
fn flatten(source: &str, sources: &HashMap<String, String>) -> Option<String> {
    let trimmed = source.trim_start();
    let Some(rest) = trimmed.strip_prefix("{%") else {
        return (!source.contains("{% block") && !source.contains("{%- block")).then(|| source.to_owned());
    };
    let end = rest.find("%}")?;
    let tag = rest[..end].trim_matches(['-', ' ', '\t', '\n', '\r']);
    let Some(parent) = tag.strip_prefix("extends") else {
        return (!source.contains("block")).then(|| source.to_owned());
    };
    let parent = parent.trim().trim_matches(['"', '\'']);
    let parent_source = sources.get(parent)?;
    if parent_source.contains("{% extends") || source.contains("super()") {
        return None;
    }
    let child_blocks: HashMap<String, String> =
        blocks(&rest[end + 2..])?.into_iter().map(|b| (b.name, b.body)).collect();
    let mut out = String::with_capacity(parent_source.len() * 2);
    let mut at = 0;
    for block in blocks(parent_source)? {
        push_lstripped(&mut out, &parent_source[at..block.start]);
        out.push_str(child_blocks.get(&block.name).unwrap_or(&block.body));
        at = block.end;
        // trim_blocks: the newline after a block tag goes with it.
        if parent_source[at..].starts_with('\n') {
            at += 1;
        }
    }
    out.push_str(&parent_source[at..]);
    Some(out)
}

/// Appends `text`, without the spaces before a tag that starts its line (lstrip_blocks).
fn push_lstripped(out: &mut String, text: &str) {
    let line_start = text.rfind('\n').map_or(0, |i| i + 1);
    if text[line_start..].chars().all(|c| c == ' ' || c == '\t')
        && (line_start > 0 || out.is_empty() || out.ends_with('\n'))
    {
        out.push_str(&text[..line_start]);
    } else {
        out.push_str(text);
    }
}

struct Block {
    name: String,
    body: String,
    /// The span of the whole block, tags included.
    start: usize,
    end: usize,
}

/// The top-level `{% block name %}…{% endblock %}`s of a source; `None` if blocks nest.
fn blocks(source: &str) -> Option<Vec<Block>> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((tag_start, tag_end, tag)) = next_statement(source, at) {
        at = tag_end;
        let Some(name) = tag.strip_prefix("block ").map(str::trim) else {
            if tag.starts_with("endblock") {
                return None;
            }
            continue;
        };
        let body_start = tag_end;
        let mut inner = body_start;
        loop {
            let (s, e, t) = next_statement(source, inner)?;
            inner = e;
            if t.starts_with("block ") {
                return None;
            }
            if t.starts_with("endblock") {
                // What the environment's trim_blocks and lstrip_blocks would leave of the body.
                let body = &source[body_start..s];
                let body = body.strip_prefix('\n').unwrap_or(body);
                let mut kept = String::new();
                push_lstripped(&mut kept, body);
                out.push(Block { name: name.to_owned(), body: kept, start: tag_start, end: e });
                at = e;
                break;
            }
        }
    }
    Some(out)
}

/// The next `{% … %}` at or after `from`: (start, end, the statement trimmed of `-` and spaces).
fn next_statement(source: &str, from: usize) -> Option<(usize, usize, &str)> {
    let start = from + source.get(from..)?.find("{%")?;
    let end = start + source[start..].find("%}")? + 2;
    let tag = source[start + 2..end - 2].trim_matches(['-', '+', ' ', '\t', '\n', '\r']);
    Some((start, end, tag))
}

/// Replaces template syntax by tokens the HTML parser keeps in place: a statement between tags
/// becomes a comment, an expression (or a statement inside an attribute value) a plain word.
/// Returns the protected source and the syntax by token; `None` for syntax where neither works
/// (a statement among a tag's attributes).
fn protect(source: &str) -> Option<(String, Vec<String>)> {
    let mut out = String::with_capacity(source.len());
    let mut syntax = Vec::new();
    let mut in_tag = false;
    let mut quote: Option<char> = None;
    let mut rest = source;
    while let Some(c) = rest.chars().next() {
        let open = ["{{", "{%", "{#"].into_iter().find(|o| rest.starts_with(o));
        if let Some(open) = open {
            let close = match open {
                "{{" => "}}",
                "{%" => "%}",
                _ => "#}",
            };
            let end = rest.find(close)? + 2;
            let piece = &rest[..end];
            rest = &rest[end..];
            if open == "{#" {
                continue;
            }
            let token = format!("nashra{}x", syntax.len());
            syntax.push(piece.to_owned());
            match (open, in_tag, quote) {
                ("{%", false, _) => out.push_str(&format!("<!--{token}-->")),
                // Among a tag's attributes, neither a comment nor a word stays what it was.
                (_, true, None) => return None,
                _ => out.push_str(&token),
            }
            continue;
        }
        match (c, in_tag, quote) {
            ('<', false, _) if rest[1..].starts_with(|n: char| n.is_ascii_alphabetic() || n == '/') => in_tag = true,
            ('>', true, None) => in_tag = false,
            ('"' | '\'', true, None) => quote = Some(c),
            (q, true, Some(open)) if q == open => quote = None,
            _ => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    Some((out, syntax))
}

/// Puts the template syntax back; `None` if a token was lost or moved into a changed form.
fn restore(inlined: &str, syntax: &[String]) -> Option<String> {
    let mut out = inlined.to_owned();
    for (i, piece) in syntax.iter().enumerate().rev() {
        let token = format!("nashra{i}x");
        let comment = format!("<!--{token}-->");
        if out.contains(&comment) {
            out = out.replace(&comment, piece);
        } else if out.contains(&token) {
            out = out.replace(&token, piece);
        } else {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn blocks_are_filled_from_the_child_or_keep_the_parent_default() {
        let base = "<html><body>{% block a %}A{% endblock %}|{% block b %}B{% endblock %}</body></html>";
        let child = "{% extends \"base.html.j2\" %}\n{% block b %}child {{ x }}{% endblock %}";
        let flat = flatten(child, &sources(&[("base.html.j2", base)])).unwrap();
        assert_eq!(flat, "<html><body>A|child {{ x }}</body></html>");
    }

    #[test]
    fn what_cannot_be_resolved_is_refused() {
        let base = "{% block a %}{% block b %}{% endblock %}{% endblock %}";
        assert!(flatten("{% extends \"b\" %}{% block a %}x{% endblock %}", &sources(&[("b", base)])).is_none());
        let base = "{% block a %}x{% endblock %}";
        assert!(
            flatten("{% extends \"b\" %}{% block a %}{{ super() }}{% endblock %}", &sources(&[("b", base)])).is_none()
        );
        assert!(flatten("{% extends \"missing\" %}", &sources(&[])).is_none());
        assert!(protect("<a {% if x %}href=\"y\"{% endif %}>").is_none());
    }

    #[test]
    fn syntax_survives_the_inliner_and_styles_are_added() {
        let source = "<!DOCTYPE html><html><head><style>.t { color: red; } td a { font-weight: bold; }</style></head>\
            <body><table><tr><td>{% for a in items %}<a class=\"t\" href=\"{{ a.url }}\">{{ a.title }}</a>{% endfor %}</td></tr></table></body></html>";
        let out = preinline(source, &HashMap::new()).unwrap();
        assert!(out.contains("{% for a in items %}") && out.contains("{% endfor %}"), "{out}");
        assert!(out.contains("href=\"{{ a.url }}\""), "{out}");
        assert!(out.contains("{{ a.title }}"));
        assert!(out.contains("color: red") && out.contains("font-weight: bold"), "{out}");
    }
}
