//! A guard against pages nested absurdly deep: HTML parsers and readability slow down with the
//! square of the nesting, so a hostile page of a few megabytes of `<div>` could stall a
//! collection for hours. Real pages nest a few dozen levels; past `MAX_DEPTH` a page is refused
//! with a clear error before it is parsed. The scan is one linear pass over the bytes.

/// Deeper than any real page.
pub const MAX_DEPTH: usize = 1_000;

/// Elements that have no end tag, or whose end tag may be left out (they do not nest with
/// themselves), so they do not count as depth.
const FLAT: &[&[u8]] = &[
    b"area",
    b"base",
    b"br",
    b"col",
    b"embed",
    b"hr",
    b"img",
    b"input",
    b"link",
    b"meta",
    b"source",
    b"track",
    b"wbr",
    b"p",
    b"li",
    b"td",
    b"th",
    b"tr",
    b"dd",
    b"dt",
    b"option",
    b"!doctype",
];

/// The deepest nesting of `html` (approximately: a tag scanner, not a parser), stopping at
/// `limit + 1`.
pub fn depth(html: &str, limit: usize) -> usize {
    let bytes = html.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        if bytes[i..].starts_with(b"<!--") {
            i = find(bytes, i + 4, b"-->").map_or(bytes.len(), |e| e + 3);
            continue;
        }
        let closing = bytes.get(i + 1) == Some(&b'/');
        let start = i + 1 + usize::from(closing);
        let end = bytes[start..]
            .iter()
            .position(|b| !(b.is_ascii_alphanumeric() || *b == b'!'))
            .map_or(bytes.len(), |n| start + n);
        let name = bytes[start..end].to_ascii_lowercase();
        let tag_end = find(bytes, end, b">").unwrap_or(bytes.len());
        let self_closing = tag_end > 0 && bytes.get(tag_end - 1) == Some(&b'/');
        if !name.is_empty() && !FLAT.contains(&name.as_slice()) && !self_closing {
            if closing {
                depth = depth.saturating_sub(1);
            } else {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > limit {
                    return deepest;
                }
            }
        }
        // The text of scripts and styles is not markup.
        i = if !closing && (name == b"script" || name == b"style") {
            let close: &[u8] = if name == b"script" { b"</script" } else { b"</style" };
            find_ci(bytes, tag_end, close).unwrap_or(bytes.len())
        } else {
            tag_end + 1
        };
    }
    deepest
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w == needle).map(|p| from + p)
}

fn find_ci(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle)).map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_pages_are_shallow() {
        let page = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/demo/articles/2026-11-29-iraq-border-operations.html"
        ))
        .unwrap();
        assert!(depth(&page, MAX_DEPTH) < 10, "{}", depth(&page, MAX_DEPTH));
        assert_eq!(depth("<ul><li>a<li>b<li>c</ul><p>x<p>y<br><img src=x>", 100), 1);
        assert_eq!(depth("<script>if (a<b) { x = '<div><div><div>'; }</script><div></div>", 100), 1);
        assert_eq!(depth("<!-- <div><div> --><div/>", 100), 0);
    }

    #[test]
    fn hostile_nesting_is_measured_without_reading_it_all() {
        let deep = "<div>".repeat(1_000_000);
        assert_eq!(depth(&deep, MAX_DEPTH), MAX_DEPTH + 1);
    }
}
