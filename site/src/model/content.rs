//! Loads `content/`: a tree of sections (folders with `_index.md`) and pages
//! (Markdown files with TOML front matter), as in Zola.

use crate::model::frontmatter::{self, FrontMatter};
use crate::problem::Problem;
use chrono::NaiveDateTime;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// A section or a page, before rendering.
#[derive(Debug)]
pub(crate) struct Doc {
    /// Path relative to `content/`, with `/` separators, e.g. `notices/2016-216.md`.
    pub(crate) rel: String,
    pub(crate) is_section: bool,
    pub(crate) meta: FrontMatter,
    pub(crate) date: Option<NaiveDateTime>,
    /// 1-based line where the body starts. The body itself is not kept: it is
    /// read again when the page is rendered, so a large site's Markdown never
    /// has to be in memory all at once.
    pub(crate) body_line: usize,
    /// Root-relative URL path, e.g. `notices/2016-216/` (empty for the home page).
    pub(crate) url: String,
}

impl Doc {
    pub(crate) fn source(&self) -> PathBuf {
        Path::new("content").join(&self.rel)
    }

    /// `content/<rel>`, as link problems name it.
    pub(crate) fn source_str(&self) -> String {
        format!("content/{}", self.rel)
    }

    /// The Markdown body, read from `content_dir` (the site's `content/`).
    pub(crate) fn read_body(&self, content_dir: &Path) -> Result<String, Problem> {
        let text = read_text(content_dir, &self.rel)?;
        let split =
            frontmatter::split(&text).map_err(|(l, m)| Problem::new(self.source(), Some(l), m))?;
        Ok(split.body.to_string())
    }

    pub(crate) fn output(&self) -> String {
        format!("{}index.html", self.url)
    }

    /// The section folder this doc belongs to (`notices/` for both the
    /// section's `_index.md` and its pages); "" for the top.
    pub(crate) fn parent_section(&self) -> &str {
        let dir = match self.rel.rfind('/') {
            Some(i) => &self.rel[..i + 1],
            None => "",
        };
        // A section's parent is the folder above its own, and so is a page
        // bundle's (folder/index.md belongs to the folder's parent).
        if self.is_section || self.rel.ends_with("/index.md") {
            let trimmed = dir.trim_end_matches('/');
            match trimmed.rfind('/') {
                Some(i) => &trimmed[..i + 1],
                None => "",
            }
        } else {
            dir
        }
    }
    pub(crate) fn section_dir(&self) -> String {
        self.rel.trim_end_matches("_index.md").to_string()
    }

    pub(crate) fn title(&self) -> String {
        self.meta.title.clone().unwrap_or_default()
    }
}

/// A file under `content/` that is not Markdown: copied as it is.
#[derive(Debug)]
pub(crate) struct Asset {
    pub(crate) rel: String,
}

#[derive(Debug)]
pub(crate) struct Content {
    pub(crate) docs: Vec<Doc>,
    pub(crate) assets: Vec<Asset>,
}

/// Reads every Markdown file under `content/` in parallel. Form definitions
/// (`content/forms/*.toml`) are not content and are skipped here.
pub(crate) fn load(root: &Path) -> Result<Content, Vec<Problem>> {
    let dir = root.join("content");
    let mut files = Vec::new();
    if dir.is_dir() {
        walk(&dir, "", &mut files).map_err(|e| vec![Problem::new("content", None, e)])?;
    }
    let mut links: Vec<Problem> = files
        .iter()
        .filter_map(|rel| {
            link_problem(&dir.join(rel), &dir)
                .map(|m| Problem::new(Path::new("content").join(rel), None, m))
        })
        .collect();
    if !links.is_empty() {
        links.sort();
        return Err(links);
    }
    let (md, other): (Vec<String>, Vec<String>) =
        files.into_iter().partition(|f| f.ends_with(".md"));
    let assets = other
        .into_iter()
        .filter(|f| !(f.starts_with("forms/") && f.ends_with(".toml")))
        .map(|rel| Asset { rel })
        .collect();
    let results: Vec<Result<Option<Doc>, Problem>> =
        md.into_par_iter().map(|rel| load_doc(&dir, rel)).collect();
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    for r in results {
        match r {
            Ok(Some(d)) => docs.push(d),
            Ok(None) => {}
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        problems.sort();
        return Err(problems);
    }
    docs.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(Content { docs, assets })
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        let Some(name) = name.to_str() else {
            return Err(format!("{}: file name is not UTF-8", e.path().display()));
        };
        if name.starts_with('.') {
            continue;
        }
        let rel = format!("{prefix}{name}");
        let ft = e
            .file_type()
            .map_err(|err| format!("{}: {err}", e.path().display()))?;
        if ft.is_dir() {
            walk(&e.path(), &format!("{rel}/"), out)?;
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

/// Why the file at `path` may not be published, if it is a symbolic link
/// that leads out of `folder` (the source folder it was found in: a link to
/// `/etc/passwd` or to `var/gazette.db` would publish it), to a folder (a
/// loop waiting to happen), or nowhere. Links to files inside the folder
/// are fine. The site's source folders and the files it copies are all
/// checked with this.
pub(crate) fn link_problem(path: &Path, folder: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_symlink() {
        return None;
    }
    let target = std::fs::read_link(path)
        .map(|t| t.display().to_string())
        .unwrap_or_default();
    let Ok(resolved) = std::fs::canonicalize(path) else {
        return Some(format!(
            "a symbolic link to {target}, which does not exist: remove the link or restore its target"
        ));
    };
    let inside = std::fs::canonicalize(folder).is_ok_and(|f| resolved.starts_with(f));
    if !inside {
        return Some(format!(
            "a symbolic link to {target}, outside {}: links must lead to a file in the same folder, or the file's content would be published (copy the file in instead)",
            folder.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
        ));
    }
    if resolved.is_dir() {
        return Some(format!(
            "a symbolic link to the folder {target}: only links to files are followed"
        ));
    }
    None
}

/// `content_dir/rel` as UTF-8 text; problems name `content/<rel>`.
fn read_text(content_dir: &Path, rel: &str) -> Result<String, Problem> {
    String::from_utf8(read_bytes(content_dir, rel)?).map_err(|e| {
        let bytes = e.as_bytes();
        not_utf8(rel, &bytes[..e.utf8_error().valid_up_to()])
    })
}

fn read_bytes(content_dir: &Path, rel: &str) -> Result<Vec<u8>, Problem> {
    std::fs::read(content_dir.join(rel))
        .map_err(|e| Problem::new(Path::new("content").join(rel), None, e.to_string()))
}

/// `bytes` as text, or a problem naming the line of the first bad byte.
fn utf8<'a>(rel: &str, bytes: &'a [u8]) -> Result<&'a str, Problem> {
    std::str::from_utf8(bytes).map_err(|e| not_utf8(rel, &bytes[..e.valid_up_to()]))
}

/// The problem for a file whose text turns invalid after `valid`.
fn not_utf8(rel: &str, valid: &[u8]) -> Problem {
    let line = 1 + valid.iter().filter(|b| **b == b'\n').count();
    Problem::new(
        Path::new("content").join(rel),
        Some(line),
        "not valid UTF-8 text",
    )
}

/// Where the front matter ends (after its closing `+++` line), or the whole
/// length when there is none to find: loading needs only that part, and the
/// body is read (and checked) again when the page is rendered.
fn front_matter_len(bytes: &[u8]) -> usize {
    let text = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let bom = bytes.len() - text.len();
    let mut lines = text.split_inclusive(|b| *b == b'\n');
    let is_fence = |line: &[u8]| line.trim_ascii_end() == b"+++";
    if !lines.next().is_some_and(is_fence) {
        return bytes.len();
    }
    let mut end = bom;
    for (i, line) in text.split_inclusive(|b| *b == b'\n').enumerate() {
        end += line.len();
        if i > 0 && is_fence(line) {
            return end;
        }
    }
    bytes.len()
}

pub(crate) fn load_doc(dir: &Path, rel: String) -> Result<Option<Doc>, Problem> {
    let source = Path::new("content").join(&rel);
    let bytes = read_bytes(dir, &rel)?;
    let text = utf8(&rel, &bytes[..front_matter_len(&bytes)])?;
    let split = frontmatter::split(text).map_err(|(l, m)| Problem::new(&source, Some(l), m))?;
    let meta = frontmatter::parse(&split).map_err(|(l, m)| Problem::new(&source, Some(l), m))?;
    if meta.draft {
        return Ok(None);
    }
    let date = match &meta.date {
        None => None,
        Some(v) => Some(frontmatter::to_datetime(v).ok_or_else(|| {
            Problem::new(
                &source,
                Some(2),
                format!("date {v} is not a date such as 2016-07-15"),
            )
        })?),
    };
    let is_section = rel == "_index.md" || rel.ends_with("/_index.md");
    let url = url_of(&rel, is_section, &meta);
    Ok(Some(Doc {
        body_line: split.body_line,
        rel,
        is_section,
        meta,
        date,
        url,
    }))
}

fn url_of(rel: &str, is_section: bool, meta: &FrontMatter) -> String {
    if let Some(path) = &meta.path {
        let p = path.trim_matches('/');
        return if p.is_empty() {
            String::new()
        } else {
            format!("{p}/")
        };
    }
    if is_section {
        return rel.trim_end_matches("_index.md").to_string();
    }
    let (dir, stem) = if let Some(folder) = rel.strip_suffix("/index.md") {
        // Page bundle: the folder is the page.
        match folder.rfind('/') {
            Some(i) => (&folder[..i + 1], &folder[i + 1..]),
            None => ("", folder),
        }
    } else {
        let no_ext = rel.trim_end_matches(".md");
        match no_ext.rfind('/') {
            Some(i) => (&no_ext[..i + 1], &no_ext[i + 1..]),
            None => ("", no_ext),
        }
    };
    let slug = meta.slug.as_deref().unwrap_or(stem);
    format!("{dir}{slug}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn loads_sections_pages_bundles_and_assets() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "content/_index.md", "+++\ntitle = \"首页\"\n+++\n");
        write(
            r,
            "content/notices/_index.md",
            "+++\ntitle = \"通知\"\n+++\n",
        );
        write(
            r,
            "content/notices/a.md",
            "+++\ntitle = \"A\"\ndate = 2016-07-15\n+++\nbody\n",
        );
        write(r, "content/notices/b/index.md", "+++\ntitle = \"B\"\n+++\n");
        write(r, "content/notices/b/pic.png", "png");
        write(
            r,
            "content/notices/c.md",
            "+++\ntitle = \"C\"\ndraft = true\n+++\n",
        );
        write(r, "content/forms/x.toml", "title = \"x\"");
        let c = load(r).unwrap();
        let urls: Vec<_> = c
            .docs
            .iter()
            .map(|d| (d.rel.as_str(), d.url.as_str()))
            .collect();
        assert_eq!(
            urls,
            [
                ("_index.md", ""),
                ("notices/_index.md", "notices/"),
                ("notices/a.md", "notices/a/"),
                ("notices/b/index.md", "notices/b/")
            ]
        );
        assert_eq!(c.docs[2].parent_section(), "notices/");
        assert_eq!(c.docs[3].parent_section(), "notices/");
        assert_eq!(c.docs[1].parent_section(), "");
        assert_eq!(c.docs[2].read_body(&r.join("content")).unwrap(), "body\n");
        assert_eq!(c.docs[2].body_line, 5);
        let assets: Vec<_> = c.assets.iter().map(|a| a.rel.as_str()).collect();
        assert_eq!(assets, ["notices/b/pic.png"]);
    }

    #[test]
    fn malformed_files_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "content/ok.md", "+++\ntitle = \"ok\"\n+++\n");
        write(r, "content/bad.md", "+++\ntitle = \"a\"\ntitle2 = \n+++\n");
        std::fs::write(r.join("content/bin.md"), b"+++\ntitle = \"\xff\"\n+++\n").unwrap();
        let problems = load(r).unwrap_err();
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].starts_with("content/bad.md:3:"), "{lines:?}");
        assert!(lines[1].starts_with("content/bin.md:2:"), "{lines:?}");

        // A bad byte in the body is found when the body is read to render it.
        std::fs::remove_file(r.join("content/bad.md")).unwrap();
        std::fs::write(
            r.join("content/bin.md"),
            b"+++\ntitle = \"a\"\n+++\nok\n\xff\n",
        )
        .unwrap();
        let c = load(r).unwrap();
        let bin = c.docs.iter().find(|d| d.rel == "bin.md").unwrap();
        let p = bin.read_body(&r.join("content")).unwrap_err().to_string();
        assert!(p.starts_with("content/bin.md:5:"), "{p}");
    }

    #[test]
    fn front_matter_len_stops_after_the_closing_fence() {
        let with = b"+++\ntitle = \"a\"\n+++  \nbody +++\n+++\n";
        assert_eq!(front_matter_len(with), 22);
        assert_eq!(front_matter_len("\u{feff}+++\n+++\nb".as_bytes()), 11);
        for whole in [
            &b"no front matter\n+++\n"[..],
            b"+++\nnever closed\n",
            b"---\na: 1\n---\n",
        ] {
            assert_eq!(front_matter_len(whole), whole.len());
        }
    }
}

/// Fuzz targets (issue 17): generated pages and SUMMARY.md files through the
/// public entry point (`crate::check`, the whole load, render and link
/// check) never panic, and always answer with problems or a clean check.
/// `GAZETTE_FUZZ_CASES=100000 cargo test -p gazette-site fuzz` runs longer.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    fn config() -> ProptestConfig {
        let cases = std::env::var("GAZETTE_FUZZ_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(24);
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    /// Pieces that mean something to the loader or to Markdown, and noise.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("+++\n".to_string()),
            Just("title = \"通知\"\n".to_string()),
            Just("date = 2016-07-20\n".to_string()),
            Just("date = 2016-07-20T10:31:00\n".to_string()),
            Just("path = \"/a/\"\n".to_string()),
            Just("draft = true\n".to_string()),
            Just("weight = -3\n".to_string()),
            Just("[extra]\n".to_string()),
            Just("\u{feff}".to_string()),
            Just("# 标题 {#id}\n".to_string()),
            Just("[链接](../a.md#b)\n".to_string()),
            Just("![图](x.png)\n".to_string()),
            Just("| a | b |\n|---|---|\n| 1 | 2 |\n".to_string()),
            Just("```\ncode\n".to_string()),
            Just("<script>x</script>\n".to_string()),
            Just("[^1]: 注\n".to_string()),
            Just("- [ ] 项\n".to_string()),
            Just("\r\n".to_string()),
            "[ -~]{0,20}",
            "\\PC{0,12}",
            any::<String>().prop_map(|s| s.chars().take(16).collect()),
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(piece(), 0..16).prop_map(|v| v.concat())
    }

    fn summary_piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("# Summary\n".to_string()),
            Just("- [开始之前](start.md)\n".to_string()),
            Just("  - [提交表格](submit.md)\n".to_string()),
            Just("    - [草稿]()\n".to_string()),
            Just("[前言](start.md)\n".to_string()),
            Just("---\n".to_string()),
            Just("# 第一部分\n".to_string()),
            Just("- [缺](missing.md)\n".to_string()),
            Just("- [外](../../../etc/passwd)\n".to_string()),
            Just("\t- [表](submit.md)\n".to_string()),
            Just("* [星](start.md)\n".to_string()),
            Just("1. [数](submit.md)\n".to_string()),
            "[ -~]{0,20}\n",
            "\\PC{0,10}",
        ]
    }

    fn site() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        crate::init(&root).unwrap();
        (dir, root)
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_page_is_loaded_or_refused(page in text(), nested in any::<bool>()) {
            let (_dir, root) = site();
            let rel = if nested { "content/notices/fuzz.md" } else { "content/fuzz.md" };
            std::fs::write(root.join(rel), &page).unwrap();
            // Problems or none; never a panic.
            let _ = crate::check(&root);
        }

        #[test]
        fn any_bytes_page_is_loaded_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let (_dir, root) = site();
            let mut page = b"+++\ntitle = \"x\"\n+++\n".to_vec();
            page.extend(bytes);
            std::fs::write(root.join("content/fuzz.md"), &page).unwrap();
            let _ = crate::check(&root);
        }

        #[test]
        fn any_summary_is_loaded_or_refused(
            summary in prop::collection::vec(summary_piece(), 0..12).prop_map(|v| v.concat())
        ) {
            let (_dir, root) = site();
            std::fs::write(root.join("manuals/guide/src/SUMMARY.md"), &summary).unwrap();
            let _ = crate::check(&root);
        }
    }
}
