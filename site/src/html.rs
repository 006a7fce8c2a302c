//! Just enough reading of our own generated HTML to check links: the `id`s a
//! page defines and the `href`/`src` values it uses. Works on bytes with a
//! SIMD substring search: it runs over every page of every build.

use memchr::memmem;
use std::collections::HashSet;
use std::sync::LazyLock;

static ID: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b" id=\""));
static HREF: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b" href=\""));
static SRC: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b" src=\""));

/// Values of every `id="…"` attribute.
pub fn ids(html: &[u8]) -> HashSet<String> {
    values(html, &ID).map(unescape).collect()
}

/// Values of every `href="…"` and `src="…"` attribute.
pub fn links(html: &[u8]) -> Vec<String> {
    values(html, &HREF)
        .chain(values(html, &SRC))
        .map(unescape)
        .collect()
}

fn values<'a>(
    html: &'a [u8],
    finder: &'a memmem::Finder<'static>,
) -> impl Iterator<Item = &'a str> + 'a {
    let skip = finder.needle().len();
    finder.find_iter(html).filter_map(move |i| {
        let start = i + skip;
        let end = memchr::memchr(b'"', &html[start..])?;
        std::str::from_utf8(&html[start..start + end]).ok()
    })
}

/// Undoes the escaping tera and pulldown-cmark apply inside attributes.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    html_escape::decode_html_entities(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ids_and_links() {
        let html = r#"<h2 id="操作步骤">x</h2><a href="a/index.html#x&amp;y">a</a><img src="i.svg" alt=""><p id="b">"#;
        let ids = ids(html.as_bytes());
        assert!(ids.contains("操作步骤") && ids.contains("b"));
        assert_eq!(links(html.as_bytes()), ["a/index.html#x&y", "i.svg"]);
    }
}
