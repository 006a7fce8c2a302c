//! Where each made file goes ([`Sink`]), and the checks run on it as it
//! goes: its ids are kept and its links resolved, anchors elsewhere left
//! pending until every page is made.

use super::html::{self, IdSet};
use super::links::{self, Index};
use crate::problem::Problem;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a build produces: output path → bytes, in a stable order. The bytes
/// are shared so that `gazette serve` can keep a snapshot while a rebuild
/// replaces a few pages.
pub type Outputs = BTreeMap<String, Arc<[u8]>>;

/// One rendered output file, or why it could not be made.
pub(super) type OneFile = Result<(String, Arc<[u8]>), Problem>;

/// Where rendered files go.
pub(crate) enum Sink {
    /// Kept in memory (`gazette serve`).
    Memory,
    /// Written into this folder as they are made, so a large site never has
    /// to fit in memory (`gazette build`).
    Dir(PathBuf),
    /// Checked and dropped (`gazette check`).
    Discard,
}

/// A link found in generated HTML whose anchor is in another page, checked
/// once every page is made.
pub(super) struct Pending {
    pub(super) page: String,
    pub(super) link: String,
    pub(super) target: String,
    pub(super) anchor: String,
}

/// What is kept of one output file after it went to the sink.
pub(super) struct Emitted {
    pub(super) path: String,
    pub(super) len: usize,
    pub(super) bytes: Option<Arc<[u8]>>,
    pub(super) ids: Option<IdSet>,
    pub(super) pending: Vec<Pending>,
    pub(super) problems: Vec<Problem>,
}

/// Hands one file to the sink; for HTML, reads its ids and checks its links
/// against the index of every output (anchors elsewhere are left pending).
/// The bytes become shared only when they are kept (a large page given as a
/// `Vec` is never copied for a build that writes it out).
pub(super) fn emit<B>(sink: &Sink, index: &Index, path: String, bytes: B) -> Emitted
where
    B: AsRef<[u8]> + Into<Arc<[u8]>>,
{
    let mut problems = Vec::new();
    let mut pending = Vec::new();
    let ids = if path.ends_with(".html") {
        let ids = html::ids(bytes.as_ref());
        if path != "404.html" {
            scan_links(
                &path,
                bytes.as_ref(),
                &ids,
                index,
                &mut pending,
                &mut problems,
            );
        }
        Some(ids)
    } else {
        None
    };
    let len = bytes.as_ref().len();
    let kept = match sink {
        Sink::Memory => Some(bytes.into()),
        Sink::Discard => None,
        Sink::Dir(dir) => {
            let file = dir.join(&path);
            if let Err(e) = write_over(dir, &file, bytes.as_ref()) {
                problems.push(Problem::new(file, None, e.to_string()));
            }
            None
        }
    };
    Emitted {
        path,
        len,
        bytes: kept,
        ids,
        pending,
        problems,
    }
}

/// One file handed to the sink in parts, for a page too large to hold
/// whole (a book's one-page views): each part is written as it comes, its
/// ids read and its links kept; the links are checked at [`Streamed::finish`],
/// once the page's own ids are all known. A part must not split a tag.
pub(super) struct Streamed<'s> {
    sink: &'s Sink,
    index: &'s Index,
    path: String,
    len: usize,
    ids: Vec<u64>,
    links: Vec<String>,
    kept: Option<Vec<u8>>,
    file: Option<std::io::BufWriter<std::fs::File>>,
    problems: Vec<Problem>,
}

impl<'s> Streamed<'s> {
    pub(super) fn new(sink: &'s Sink, index: &'s Index, path: String) -> Streamed<'s> {
        let mut problems = Vec::new();
        let file = match sink {
            Sink::Dir(dir) => {
                let file = dir.join(&path);
                match create_over(dir, &file) {
                    Ok(f) => Some(std::io::BufWriter::with_capacity(256 * 1024, f)),
                    Err(e) => {
                        problems.push(Problem::new(file, None, e.to_string()));
                        None
                    }
                }
            }
            _ => None,
        };
        Streamed {
            sink,
            index,
            path,
            len: 0,
            ids: Vec::new(),
            links: Vec::new(),
            kept: matches!(sink, Sink::Memory).then(Vec::new),
            file,
            problems,
        }
    }

    pub(super) fn write(&mut self, part: &[u8]) {
        use std::io::Write as _;
        self.len += part.len();
        html::id_hashes(part, &mut self.ids);
        self.links
            .extend(html::links(part).map(std::borrow::Cow::into_owned));
        if let Some(kept) = &mut self.kept {
            kept.extend_from_slice(part);
        }
        if let Some(f) = &mut self.file {
            if let Err(e) = f.write_all(part) {
                let file = self.path.clone();
                self.problems.push(Problem::new(file, None, e.to_string()));
                self.file = None;
            }
        }
    }

    pub(super) fn finish(mut self) -> Emitted {
        use std::io::Write as _;
        if let Some(mut f) = self.file.take() {
            if let Err(e) = f.flush() {
                self.problems
                    .push(Problem::new(self.path.clone(), None, e.to_string()));
            }
        }
        let ids = IdSet::from_hashes(std::mem::take(&mut self.ids));
        let mut pending = Vec::new();
        let links = std::mem::take(&mut self.links);
        check_links(
            &self.path,
            links.iter().map(|l| std::borrow::Cow::Borrowed(l.as_str())),
            &ids,
            self.index,
            &mut pending,
            &mut self.problems,
        );
        let _ = self.sink;
        Emitted {
            len: self.len,
            bytes: self.kept.take().map(Into::into),
            ids: Some(ids),
            pending,
            problems: self.problems,
            path: self.path,
        }
    }
}

/// [`write_over`] for a file written in parts: the file, created over
/// whatever an earlier build left where it goes.
fn create_over(out_dir: &Path, file: &Path) -> std::io::Result<std::fs::File> {
    match std::fs::File::create(file) {
        Ok(f) => Ok(f),
        Err(_) => {
            write_over(out_dir, file, b"")?;
            std::fs::File::create(file)
        }
    }
}

/// Writes `file` (under `out_dir`) over whatever an earlier build left:
/// folders are made only when missing, and a file or folder standing where
/// the other is needed now is removed first.
pub(super) fn write_over(out_dir: &Path, file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let Err(e) = std::fs::write(file, bytes) else {
        return Ok(());
    };
    let parent = file.parent().unwrap_or(out_dir);
    if e.kind() == std::io::ErrorKind::NotFound && std::fs::create_dir_all(parent).is_ok() {
        return std::fs::write(file, bytes);
    }
    // An earlier build's folder where this file goes, or its file where a
    // folder is needed now.
    if file.is_dir() {
        std::fs::remove_dir_all(file)?;
    }
    for a in parent
        .ancestors()
        .take_while(|a| a.starts_with(out_dir) && *a != out_dir)
    {
        if a.is_file() {
            std::fs::remove_file(a)?;
        }
    }
    std::fs::create_dir_all(parent)?;
    std::fs::write(file, bytes)
}

/// Every href/src of a generated page: the target must be built; an anchor
/// on the same page must exist; anchors elsewhere are checked later.
pub(super) fn scan_links(
    path: &str,
    html: &[u8],
    own_ids: &IdSet,
    index: &Index,
    pending: &mut Vec<Pending>,
    problems: &mut Vec<Problem>,
) {
    check_links(path, html::links(html), own_ids, index, pending, problems);
}

/// [`scan_links`] over links already read.
fn check_links<'a>(
    path: &str,
    links: impl Iterator<Item = std::borrow::Cow<'a, str>>,
    own_ids: &IdSet,
    index: &Index,
    pending: &mut Vec<Pending>,
    problems: &mut Vec<Problem>,
) {
    let mut target = String::new();
    for link in links {
        let anchor = match resolve_into(path, &link, &mut target) {
            Ok(Some(anchor)) => anchor,
            Ok(None) => continue,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        if !index.outputs.contains(target.as_str()) {
            problems.push(Problem::new(
                path,
                None,
                format!("link {link} leads nowhere ({target} is not built)"),
            ));
        } else if !anchor.is_empty() && target.ends_with(".html") {
            if target == path {
                if !own_ids.contains(&anchor) {
                    problems.push(Problem::new(
                        path,
                        None,
                        format!("link {link}: {target} has no #{anchor}"),
                    ));
                }
            } else {
                pending.push(Pending {
                    page: path.to_string(),
                    link: link.to_string(),
                    target: target.clone(),
                    anchor,
                });
            }
        }
    }
}

/// An href/src of the generated page `page`, resolved to the output it
/// points to and its anchor ("" for none). None for what the build does not
/// own: other sites, `data:` URIs, and the intake's own routes. Other
/// root-relative paths (raw HTML may hold them) are checked from the root.
pub(super) fn resolve_html_link(
    page: &str,
    link: &str,
) -> Result<Option<(String, String)>, Problem> {
    let mut target = String::new();
    Ok(resolve_into(page, link, &mut target)?.map(|anchor| (target, anchor)))
}

/// [`resolve_html_link`] with the target written into `target` (cleared
/// first): a page's links are resolved into one buffer, not a new string
/// each. Returns the anchor.
fn resolve_into(page: &str, link: &str, target: &mut String) -> Result<Option<String>, Problem> {
    target.clear();
    if links::is_external(link) || link.starts_with("data:") {
        return Ok(None);
    }
    let decoded: std::borrow::Cow<str> = if link.contains('%') {
        links::percent_decode(link).into()
    } else {
        link.into()
    };
    let (file, anchor) = decoded.split_once('#').unwrap_or((&decoded, ""));
    let file = file.split('?').next().unwrap_or("");
    if let Some(abs) = file.strip_prefix('/') {
        const SERVED: &[&str] = &[
            "admin",
            "search",
            "healthz",
            "__gazette",
            "receipt",
            "forms",
        ];
        let first = abs.split('/').next().unwrap_or("");
        if SERVED.contains(&first) && !abs.ends_with(".html") && !abs.ends_with(".xlsx") {
            return Ok(None);
        }
        target.push_str(abs);
    } else if file.is_empty() {
        target.push_str(page);
    } else if !links::join_into(links::dir_of(page), file, target) {
        return Err(Problem::new(
            page,
            None,
            format!("link {link} climbs above the site root"),
        ));
    }
    if target.is_empty() || target.ends_with('/') {
        target.push_str("index.html");
    }
    Ok(Some(anchor.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shape of href a page holds, resolved from `notices/a/index.html`,
    /// one after another into one buffer (a long target, then shorter ones:
    /// nothing of the last may stay behind).
    #[test]
    fn links_resolve_to_the_outputs_they_name() {
        let page = "notices/a/index.html";
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            (
                "../../manuals/very-long-name/chapter/index.html#step",
                Some(("manuals/very-long-name/chapter/index.html", "step")),
            ),
            ("../b/", Some(("notices/b/index.html", ""))),
            ("../", Some(("notices/index.html", ""))),
            ("../../", Some(("index.html", ""))),
            ("#x", Some(("notices/a/index.html", "x"))),
            ("pic%20one.png?v=2", Some(("notices/a/pic one.png", ""))),
            ("./c/../d.html", Some(("notices/a/d.html", ""))),
            ("/about/", Some(("about/index.html", ""))),
            ("/forms/f1/print.html", Some(("forms/f1/print.html", ""))),
            ("/forms/f1", None),
            ("/admin/", None),
            ("https://example.org/x", None),
            ("data:image/png;base64,AAAA", None),
        ];
        let mut target = String::new();
        for (link, want) in cases {
            let got = resolve_into(page, link, &mut target).unwrap();
            let got = got.map(|anchor| (target.as_str(), anchor));
            assert_eq!(got, want.map(|(t, a)| (t, a.to_string())), "{link}");
            assert_eq!(
                resolve_html_link(page, link).unwrap(),
                want.map(|(t, a)| (t.to_string(), a.to_string())),
                "{link}"
            );
        }
        let err = resolve_into(page, "../../../x.html", &mut target).unwrap_err();
        assert!(
            err.to_string().contains("climbs above the site root"),
            "{err}"
        );
    }
}
