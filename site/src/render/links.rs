//! Where every source file ends up, and how a link written in one document
//! becomes a relative href to another. All hrefs are relative to the page
//! and name the file (`../notices/a/index.html`), so `public/` works from
//! `file://` as well as from any sub-path of a web server.

use crate::render::markdown::{Links, Resolved};
use rustc_hash::{FxHashMap, FxHashSet};
use std::cell::Cell;
use std::collections::HashMap;

/// Looked up for every link of every page, so with a fast (not
/// DoS-resistant) hash: the keys are the site's own paths.
#[derive(Default)]
pub(crate) struct Index {
    /// Root-relative source path (`content/notices/a.md`, `manuals/x/src/a.md`,
    /// `content/notices/b/pic.png`) → output path.
    pub(crate) sources: FxHashMap<String, String>,
    /// Root-relative URL of a page (`notices/a/`) → output path.
    pub(crate) urls: FxHashMap<String, String>,
    /// Every output path of the build.
    pub(crate) outputs: FxHashSet<String>,
}

impl Index {
    pub(crate) fn add_source(&mut self, source: String, output: String) {
        self.outputs.insert(output.clone());
        self.sources.insert(source, output);
    }

    pub(crate) fn add_page(&mut self, source: Option<String>, url: String, output: String) {
        self.outputs.insert(output.clone());
        if let Some(s) = source {
            self.sources.insert(s, output.clone());
        }
        self.urls.insert(url, output);
    }

    /// A root-relative URL path (no leading `/`) to an output path.
    pub(crate) fn lookup_url(&self, path: &str) -> Option<String> {
        if let Some(o) = self.urls.get(path) {
            return Some(o.clone());
        }
        if let Some(o) = self.urls.get(&format!("{path}/")) {
            return Some(o.clone());
        }
        if path.ends_with("index.html") {
            let dir = path.trim_end_matches("index.html");
            if let Some(o) = self.urls.get(dir) {
                return Some(o.clone());
            }
        }
        if self.outputs.contains(path) {
            return Some(path.to_string());
        }
        None
    }
}

/// `../` once per folder level of `output`: the way from a page back to the root.
pub(crate) fn root_prefix(output: &str) -> String {
    "../".repeat(output.matches('/').count())
}

/// The shortest relative href from the page `from` to the file `to`
/// (both output paths): `notices/a/index.html` → `notices/b/index.html` is
/// `../b/index.html`.
pub(crate) fn relative(from: &str, to: &str) -> String {
    let from_dir: Vec<&str> = dir_of(from).split('/').filter(|s| !s.is_empty()).collect();
    let to_parts: Vec<&str> = to.split('/').collect();
    let (to_dirs, file) = to_parts.split_at(to_parts.len() - 1);
    let common = from_dir
        .iter()
        .zip(to_dirs)
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = "../".repeat(from_dir.len() - common);
    for d in &to_dirs[common..] {
        out.push_str(d);
        out.push('/');
    }
    out.push_str(file[0]);
    out
}

/// Joins a relative path onto a folder and folds `.` and `..`; None if it climbs above the root.
pub(crate) fn join(dir: &str, rel: &str) -> Option<String> {
    let mut out = String::new();
    join_into(dir, rel, &mut out).then_some(out)
}

/// [`join`] into `out` (cleared first), so that a caller resolving many
/// links reuses one buffer; false if the path climbs above the root.
pub(crate) fn join_into(dir: &str, rel: &str, out: &mut String) -> bool {
    out.clear();
    // Fast path for what generated pages hold: `../` steps, then a plain path.
    // It runs for every link on every page.
    if !rel.is_empty() && !dir.starts_with('/') && !dir.contains("//") {
        let (mut dir, mut rest) = (dir, rel);
        while let Some(r) = rest.strip_prefix("../") {
            let Some(up) = parent_dir(dir) else {
                return false;
            };
            dir = up;
            rest = r;
        }
        let plain = !rest.starts_with('/')
            && !rest.contains("//")
            && rest.split('/').all(|seg| seg != "." && seg != "..");
        if plain {
            out.push_str(dir);
            out.push_str(rest);
            return true;
        }
    }
    match join_segments(dir, rel) {
        Some(joined) => {
            *out = joined;
            true
        }
        None => false,
    }
}

/// `a/b/` → `a/`; `a/` → ``; `` → None (above the root).
fn parent_dir(dir: &str) -> Option<&str> {
    let trimmed = dir.strip_suffix('/')?;
    Some(match trimmed.rfind('/') {
        Some(i) => &dir[..i + 1],
        None => "",
    })
}

/// The general case of [`join`], segment by segment.
fn join_segments(dir: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    let mut out = parts.join("/");
    if rel.ends_with('/') && !out.is_empty() {
        out.push('/');
    }
    Some(out)
}

pub(crate) fn dir_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i + 1],
        None => "",
    }
}

pub(crate) fn is_external(dest: &str) -> bool {
    if dest.starts_with("//") {
        return true;
    }
    // A URL scheme: letters, then letters/digits/+.- up to a colon.
    match dest.find(':') {
        Some(i) => {
            let scheme = &dest[..i];
            !scheme.is_empty()
                && scheme
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
        }
        None => false,
    }
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

/// How one document resolves its links.
pub(crate) struct DocLinks<'a> {
    pub(crate) index: &'a Index,
    /// Root-relative source path of the document (`content/notices/a.md`).
    pub(crate) source: &'a str,
    /// Output path of the page the links are written into.
    pub(crate) output: &'a str,
    /// For the one-page views of a manual: links to its own chapters become
    /// in-page anchors. (chapter output path → anchor prefix)
    pub(crate) same_page: Option<&'a HashMap<String, String>>,
    /// Anchor prefix of the chapter being rendered in a one-page view.
    pub(crate) own_prefix: &'a str,
    /// Images become data: URIs (the offline download): output path → data URI.
    pub(crate) inline: Option<&'a HashMap<String, String>>,
    /// Set when a link was given one of `inline`'s data: URIs, so the
    /// download knows whether its copy of a chapter differs from the print
    /// view's.
    pub(crate) inlined: Cell<bool>,
    /// For a manual's chapter: where relative and root-relative links are
    /// also looked for, as they work in mdBook.
    pub(crate) book: Option<BookLinks<'a>>,
}

/// A manual's chapter, for its links.
#[derive(Clone, Copy)]
pub(crate) struct BookLinks<'a> {
    /// `manuals/<id>/src/`.
    pub(crate) src_dir: &'a str,
    /// `manuals/<id>/`.
    pub(crate) out_dir: &'a str,
    /// The chapter's own page: relative `.html` links are relative to it,
    /// in the one-page views too.
    pub(crate) chapter_output: &'a str,
}

impl Links for DocLinks<'_> {
    fn resolve(&self, dest: &str) -> Result<Resolved, String> {
        if is_external(dest) {
            return Ok(Resolved::External);
        }
        let (path, anchor) = match dest.split_once('#') {
            Some((p, a)) => (p, Some(percent_decode(a))),
            None => (dest, None),
        };
        let path = path.split('?').next().unwrap_or("");
        let path = percent_decode(path);
        let target = if path.is_empty() {
            self.output.to_string()
        } else if let Some(content) = path.strip_prefix("@/") {
            let key = format!("content/{content}");
            self.index
                .sources
                .get(&key)
                .cloned()
                .ok_or_else(|| format!("no content file {key}"))?
        } else if let Some(abs) = path.strip_prefix('/') {
            match (self.index.lookup_url(abs), self.book) {
                (Some(t), _) => t,
                // mdBook serves the book as the site: `/a.md` is the book's.
                (None, Some(b)) => self
                    .index
                    .sources
                    .get(&format!("{}{abs}", b.src_dir))
                    .cloned()
                    .or_else(|| self.index.lookup_url(&format!("{}{abs}", b.out_dir)))
                    .ok_or_else(|| {
                        format!(
                            "no page or file at /{abs}: looked at the site root and at the book's root ({}{abs})",
                            b.out_dir
                        )
                    })?,
                (None, None) => return Err(format!("no page or file at /{abs}")),
            }
        } else {
            let from_source =
                join(dir_of(self.source), &path).and_then(|s| self.index.sources.get(&s).cloned());
            let base = self.book.map_or(self.output, |b| b.chapter_output);
            match from_source {
                Some(t) => t,
                None => join(dir_of(base), &path)
                    .and_then(|p| self.index.lookup_url(&p))
                    .ok_or_else(|| {
                        format!("no page or file at {path} (relative to {})", self.source)
                    })?,
            }
        };
        if let Some(map) = self.inline {
            if let Some(uri) = map.get(&target) {
                self.inlined.set(true);
                return Ok(Resolved::Internal {
                    href: uri.clone(),
                    output: target,
                    anchor: None,
                });
            }
        }
        if let Some(chapters) = self.same_page {
            let prefix = if path.is_empty() {
                Some(self.own_prefix.to_string())
            } else {
                chapters.get(&target).cloned()
            };
            if let Some(prefix) = prefix {
                let href = match &anchor {
                    Some(a) => format!("#{prefix}{a}"),
                    None => format!("#{}", prefix.trim_end_matches("--")),
                };
                return Ok(Resolved::Internal {
                    href,
                    output: self.output.to_string(),
                    anchor: anchor.map(|a| format!("{prefix}{a}")),
                });
            }
        }
        let href = if !path.is_empty() || target != self.output {
            let mut h = relative(self.output, &target);
            if let Some(a) = &anchor {
                h.push('#');
                h.push_str(a);
            }
            h
        } else {
            format!("#{}", anchor.clone().unwrap_or_default())
        };
        Ok(Resolved::Internal {
            href,
            output: target,
            anchor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Index {
        let mut i = Index::default();
        i.add_page(
            Some("content/notices/a.md".into()),
            "notices/a/".into(),
            "notices/a/index.html".into(),
        );
        i.add_page(
            Some("content/_index.md".into()),
            "".into(),
            "index.html".into(),
        );
        i.add_source("content/notices/pic.png".into(), "notices/pic.png".into());
        i.outputs
            .insert("forms/departments/departments.xlsx".into());
        i
    }

    fn href(links: &DocLinks, dest: &str) -> Result<String, String> {
        match links.resolve(dest)? {
            Resolved::External => Ok("EXTERNAL".into()),
            Resolved::Internal { href, .. } => Ok(href),
        }
    }

    #[test]
    fn every_link_style_resolves_relative() {
        let i = index();
        let l = DocLinks {
            index: &i,
            source: "content/guide/b.md",
            output: "guide/b/index.html",
            same_page: None,
            own_prefix: "",
            inline: None,
            inlined: Cell::new(false),
            book: None,
        };
        assert_eq!(
            href(&l, "@/notices/a.md#x").unwrap(),
            "../../notices/a/index.html#x"
        );
        assert_eq!(
            href(&l, "/notices/a/").unwrap(),
            "../../notices/a/index.html"
        );
        assert_eq!(
            href(&l, "/notices/a").unwrap(),
            "../../notices/a/index.html"
        );
        assert_eq!(
            href(&l, "../../notices/a/").unwrap(),
            "../../notices/a/index.html"
        );
        assert_eq!(
            href(&l, "../notices/a.md").unwrap(),
            "../../notices/a/index.html"
        );
        assert_eq!(href(&l, "/").unwrap(), "../../index.html");
        assert_eq!(
            href(&l, "/forms/departments/departments.xlsx").unwrap(),
            "../../forms/departments/departments.xlsx"
        );
        assert_eq!(href(&l, "#top").unwrap(), "#top");
        assert_eq!(href(&l, "https://example.org/").unwrap(), "EXTERNAL");
        assert_eq!(href(&l, "mailto:a@b").unwrap(), "EXTERNAL");
        assert!(href(&l, "/nowhere/").is_err());
        assert!(href(&l, "@/missing.md").is_err());
        assert!(href(&l, "../../../../x").is_err());
    }

    #[test]
    fn shortest_relative_paths() {
        assert_eq!(
            relative("notices/a/index.html", "notices/b/index.html"),
            "../b/index.html"
        );
        assert_eq!(
            relative("manuals/x/login.html", "manuals/x/faq.html"),
            "faq.html"
        );
        assert_eq!(
            relative("index.html", "forms/a/index.html"),
            "forms/a/index.html"
        );
        assert_eq!(
            relative("guide/b/index.html", "index.html"),
            "../../index.html"
        );
        assert_eq!(relative("a/index.html", "a/index.html"), "index.html");
    }

    #[test]
    fn prefixes_and_joins() {
        assert_eq!(root_prefix("index.html"), "");
        assert_eq!(root_prefix("a/b/index.html"), "../../");
        assert_eq!(join("a/b/", "../c.md").as_deref(), Some("a/c.md"));
        assert_eq!(join("a/", "../../c"), None);
        // The fast path agrees with the segment-by-segment join.
        for dir in ["", "a/", "a/b/", "a/b/c/"] {
            for rel in [
                "x.html",
                "x/",
                "../x.html",
                "../../x/index.html",
                "../",
                "../../",
                "./x",
                "x/../y",
                "../x/./y",
                "..",
                "x//y",
                "../../../x",
                "x/y/",
            ] {
                assert_eq!(join(dir, rel), join_segments(dir, rel), "{dir} + {rel}");
            }
        }
        assert!(is_external("tel:0753"));
        assert!(!is_external("a/b:c"));
        assert_eq!(percent_decode("%E6%93%8D"), "操");
    }
}
