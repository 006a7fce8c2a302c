//! Just enough reading of our own generated HTML to check links: the `id`s a
//! page defines and the `href`/`src` values it uses. Works on bytes with a
//! SIMD substring search: it runs over every page of every build.

use memchr::memmem;
use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

static ID: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b" id=\""));
static HREF: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b" href=\""));
static SRC: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(b" src=\""));

/// The `id`s of one page, kept as sorted 64-bit hashes: the build holds them
/// for every page until the last anchor is checked, and at 10,000 pages the
/// strings themselves were a tenth of its memory. (A collision could only let
/// one broken anchor pass, with odds of one in 2^64.)
#[derive(Debug, Default, Clone)]
pub(crate) struct IdSet(Box<[u64]>);

impl IdSet {
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.0.binary_search(&hash(id)).is_ok()
    }
}

fn hash(id: &str) -> u64 {
    // Fixed keys: the same id hashes the same way in every run.
    let mut h = std::hash::DefaultHasher::new();
    id.hash(&mut h);
    h.finish()
}

/// Every `id="…"` attribute.
pub(crate) fn ids(html: &[u8]) -> IdSet {
    let mut hashes = Vec::new();
    id_hashes(html, &mut hashes);
    IdSet::from_hashes(hashes)
}

/// The hashes of a part of a page's ids, for [`IdSet::from_hashes`].
pub(crate) fn id_hashes(html: &[u8], out: &mut Vec<u64>) {
    out.extend(values(html, &ID).map(|v| hash(&unescape(v))));
}

impl IdSet {
    pub(crate) fn from_hashes(mut hashes: Vec<u64>) -> IdSet {
        hashes.sort_unstable();
        hashes.dedup();
        IdSet(hashes.into_boxed_slice())
    }
}

/// Values of every `href="…"` and `src="…"` attribute.
pub(crate) fn links(html: &[u8]) -> impl Iterator<Item = Cow<'_, str>> {
    values(html, &HREF).chain(values(html, &SRC)).map(unescape)
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
pub(crate) fn unescape(s: &str) -> Cow<'_, str> {
    // Most links hold no reference: one fast scan, not the decoder's walk.
    if memchr::memchr(b'&', s.as_bytes()).is_none() {
        return Cow::Borrowed(s);
    }
    html_escape::decode_html_entities(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ids_and_links() {
        let html = r#"<h2 id="操作步骤">x</h2><a href="a/index.html#x&amp;y">a</a><img src="i.svg" alt=""><p id="b">"#;
        let ids = ids(html.as_bytes());
        assert!(ids.contains("操作步骤") && ids.contains("b"));
        assert!(!ids.contains("操作") && !ids.contains("a/index.html"));
        let links: Vec<_> = links(html.as_bytes()).collect();
        assert_eq!(links, ["a/index.html#x&y", "i.svg"]);
    }
}
