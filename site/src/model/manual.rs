//! Manuals: mdBook source folders (`book.toml`, `src/SUMMARY.md`, chapters),
//! so an existing mdBook drops into `manuals/` and builds.

use crate::problem::Problem;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct BookToml {
    book: BookSection,
    #[serde(default)]
    output: OutputTables,
    /// Where gazette's settings used to be; mdBook 0.5 refuses the table.
    gazette: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
struct BookSection {
    title: String,
    #[serde(default)]
    authors: Vec<String>,
    #[serde(default)]
    description: String,
    #[serde(default = "default_src")]
    src: String,
}

fn default_src() -> String {
    "src".into()
}

/// `[output.*]`: mdBook's HTML settings gazette follows, and gazette's own.
#[derive(Debug, Default, Deserialize)]
struct OutputTables {
    #[serde(default)]
    html: HtmlOutput,
    #[serde(default)]
    gazette: GazetteSection,
}

#[derive(Debug, Deserialize)]
struct HtmlOutput {
    /// mdBook 0.5 turns it on unless told otherwise.
    #[serde(rename = "smart-punctuation", default = "yes")]
    smart_punctuation: bool,
}

impl Default for HtmlOutput {
    fn default() -> Self {
        HtmlOutput {
            smart_punctuation: true,
        }
    }
}

fn yes() -> bool {
    true
}

/// Our own table, `[output.gazette]`: mdBook 0.5 accepts an output table
/// it has no backend for when it says `optional = true` (without it,
/// `mdbook build` fails looking for `mdbook-gazette`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GazetteSection {
    /// mdBook's: skip this backend when `mdbook-gazette` is not installed.
    #[serde(default)]
    #[allow(dead_code)]
    optional: bool,
    annex: Option<u32>,
    #[serde(default)]
    audience: String,
    /// `error` or `warn`; unset: `[site] manual_problems` of `gazette.toml`.
    problems: Option<config::ProblemPolicy>,
    /// The official document this book guides through (a PDF or Word
    /// file under the book's `src/`), shown first on its contents page.
    #[serde(default)]
    official: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Chapter {
    pub(crate) title: String,
    /// Chapter file relative to the book's `src/`, e.g. `login.md`; None for a draft.
    pub(crate) path: Option<String>,
    /// Nesting depth, 0 for top-level chapters.
    pub(crate) depth: usize,
    /// "1.2." style number for numbered chapters; empty for prefix/suffix chapters.
    pub(crate) number: String,
    /// The part title this chapter starts, if a `# Part` heading precedes it.
    pub(crate) part: Option<String>,
    /// Line in SUMMARY.md, for errors.
    #[serde(skip)]
    pub(crate) line: usize,
}

#[derive(Debug)]
pub(crate) struct Manual {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) authors: Vec<String>,
    pub(crate) description: String,
    pub(crate) annex: Option<u32>,
    pub(crate) audience: String,
    /// `manuals/<id>/<src>` relative to the site root.
    pub(crate) src_dir: PathBuf,
    pub(crate) chapters: Vec<Chapter>,
    /// Non-Markdown files under src/ (images), relative to src/.
    pub(crate) assets: Vec<String>,
    /// `[output.html] smart-punctuation` (mdBook 0.5's default: on).
    pub(crate) smart_punctuation: bool,
    /// `[output.gazette] problems`; None: the site's default.
    pub(crate) policy: Option<config::ProblemPolicy>,
    /// `official` of the book's settings: the official document as a file.
    pub(crate) official: Option<Official>,
}

/// The official document a manual carries as an attachment.
#[derive(Debug, Clone)]
pub(crate) struct Official {
    /// Relative to the book's `src/` (and to its output folder).
    pub(crate) path: String,
    /// PDF, DOC, DOCX …, as shown.
    pub(crate) format: String,
    pub(crate) bytes: u64,
}

/// Formats an official document may come in.
const OFFICIAL_FORMATS: &[&str] = &["pdf", "doc", "docx", "wps", "ofd"];

impl Manual {
    /// Output folder, e.g. `manuals/supervisor/`.
    pub(crate) fn out_dir(&self) -> String {
        format!("manuals/{}/", self.id)
    }

    /// Output path of a chapter file: `login.md` → `manuals/<id>/login.html`;
    /// a `README.md` becomes its folder's `index.html`, as in mdBook. The
    /// top-level one is the manual's front page (`manuals/<id>/index.html`):
    /// there it is shown above the contents, so links into the book that
    /// work with mdBook (`index.html#…`) work here too.
    pub(crate) fn chapter_output(&self, path: &str) -> String {
        let stem = path.strip_suffix(".md").unwrap_or(path);
        match stem.strip_suffix("README") {
            Some(dir) if dir.is_empty() || dir.ends_with('/') => {
                format!("{}{dir}index.html", self.out_dir())
            }
            _ => format!("{}{stem}.html", self.out_dir()),
        }
    }

    /// Whether a chapter is the top-level `README.md`, shown on the front page.
    pub(crate) fn is_front(path: &str) -> bool {
        path == "README.md"
    }

    pub(crate) fn print_output(&self) -> String {
        format!("{}print.html", self.out_dir())
    }

    pub(crate) fn download_output(&self) -> String {
        format!("{}{}-offline.html", self.out_dir(), self.id)
    }

    /// Anchor of a chapter in the one-page views: its path with `/` and `.md` folded.
    pub(crate) fn chapter_anchor(path: &str) -> String {
        format!(
            "ch-{}",
            path.trim_end_matches(".md").replace(['/', '.'], "-")
        )
    }
}

/// Every `manuals/<id>/book.toml`, sorted by annex number then id, and
/// the problems of manuals that load (a chapter file missing: the chapter
/// is shown as a draft), which the build reports with its own.
pub(crate) fn load_all(root: &Path) -> Result<(Vec<Manual>, Vec<Problem>), Vec<Problem>> {
    let dir = root.join("manuals");
    let mut manuals = Vec::new();
    let mut later = Vec::new();
    if !dir.is_dir() {
        return Ok((manuals, later));
    }
    let mut ids: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter(|e| e.path().join("book.toml").is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect(),
        Err(e) => return Err(vec![Problem::new("manuals", None, e.to_string())]),
    };
    ids.sort();
    for id in ids {
        match load(root, &id) {
            Ok((m, mut p)) => {
                manuals.push(m);
                later.append(&mut p);
            }
            // The rest of the site builds without it; the build reports why.
            Err(mut p) => later.append(&mut p),
        }
    }
    manuals.sort_by(|a, b| {
        (a.annex.unwrap_or(u32::MAX), &a.id).cmp(&(b.annex.unwrap_or(u32::MAX), &b.id))
    });
    Ok((manuals, later))
}

fn load(root: &Path, id: &str) -> Result<(Manual, Vec<Problem>), Vec<Problem>> {
    let book_rel = PathBuf::from("manuals").join(id).join("book.toml");
    let text = std::fs::read_to_string(root.join(&book_rel))
        .map_err(|e| vec![Problem::new(&book_rel, None, e.to_string())])?;
    let book: BookToml = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| 1 + text[..s.start.min(text.len())].matches('\n').count());
        vec![Problem::new(
            &book_rel,
            line,
            e.message().trim().to_string(),
        )]
    })?;
    let src_dir = PathBuf::from("manuals").join(id).join(&book.book.src);
    let summary_rel = src_dir.join("SUMMARY.md");
    let summary = std::fs::read_to_string(root.join(&summary_rel)).map_err(|e| {
        vec![Problem::new(
            &summary_rel,
            None,
            format!("cannot read: {e}"),
        )]
    })?;
    if book.gazette.is_some() {
        return Err(vec![Problem::new(
            &book_rel,
            None,
            "[gazette] 表应改名为 [output.gazette]（并加 optional = true），mdBook 0.5 不接受未知的顶层表",
        )]);
    }
    let mut chapters = super::summary::parse(&summary)
        .map_err(|(line, m)| vec![Problem::new(&summary_rel, Some(line), m)])?;
    let mut problems = Vec::new();
    for c in &mut chapters {
        if let Some(p) = &c.path {
            let file = root.join(&src_dir).join(p);
            if let Some(m) = crate::model::content::link_problem(&file, &root.join(&src_dir)) {
                problems.push(Problem::new(
                    &summary_rel,
                    Some(c.line),
                    format!("chapter file {p}: {m}"),
                ));
            } else if !file.is_file() {
                problems.push(Problem::new(
                    &summary_rel,
                    Some(c.line),
                    format!("SUMMARY.md 列出的章节文件 {p} 不存在"),
                ));
                c.path = None;
            }
        }
    }
    let mut assets = Vec::new();
    collect_assets(&root.join(&src_dir), "", &mut assets);
    assets.sort();
    let official = match book.output.gazette.official.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(path) => {
            let ext = Path::new(path)
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .unwrap_or_default();
            if !OFFICIAL_FORMATS.contains(&ext.as_str()) {
                problems.push(Problem::new(
                    &book_rel,
                    None,
                    format!(
                        "official = {path:?}: the official document must be a PDF or Word file ({})",
                        OFFICIAL_FORMATS.join(", ")
                    ),
                ));
                None
            } else {
                let file = root.join(&src_dir).join(path);
                match std::fs::metadata(&file) {
                    Ok(m) if m.is_file() && assets.iter().any(|a| a == path) => Some(Official {
                        path: path.to_string(),
                        format: ext.to_ascii_uppercase(),
                        bytes: m.len(),
                    }),
                    _ => {
                        problems.push(Problem::new(
                        &book_rel,
                        None,
                        format!(
                            "official = {path:?}: no such file under {} (the path is relative to the book's src/)",
                            src_dir.display()
                        ),
                    ));
                        None
                    }
                }
            }
        }
    };
    Ok((
        Manual {
            id: id.to_string(),
            title: book.book.title,
            authors: book.book.authors,
            description: book.book.description,
            annex: book.output.gazette.annex,
            audience: book.output.gazette.audience,
            src_dir,
            chapters,
            assets,
            smart_punctuation: book.output.html.smart_punctuation,
            policy: book.output.gazette.problems,
            official,
        },
        problems,
    ))
}

fn collect_assets(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let rel = format!("{prefix}{name}");
        // Not through links: a link to a folder is refused when copied.
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect_assets(&e.path(), &format!("{rel}/"), out);
        } else if !name.ends_with(".md") {
            out.push(rel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_a_book_and_reports_missing_chapters() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("manuals/demo");
        std::fs::create_dir_all(m.join("src/images")).unwrap();
        std::fs::write(
            m.join("book.toml"),
            "[book]\ntitle = \"示例\"\n[output.html]\n[output.gazette]\noptional = true\nannex = 3\naudience = \"个人\"\n",
        )
        .unwrap();
        std::fs::write(m.join("src/SUMMARY.md"), "- [一](one.md)\n- [二](two.md)\n").unwrap();
        std::fs::write(m.join("src/one.md"), "# 一\n").unwrap();
        std::fs::write(m.join("src/images/a.svg"), "<svg/>").unwrap();
        let (_, p) = load_all(dir.path()).unwrap();
        assert_eq!(
            p[0].to_string(),
            "manuals/demo/src/SUMMARY.md:2: SUMMARY.md 列出的章节文件 two.md 不存在"
        );
        std::fs::write(m.join("src/two.md"), "# 二\n").unwrap();
        let (all, p) = load_all(dir.path()).unwrap();
        assert!(p.is_empty());
        assert_eq!(all[0].annex, Some(3));
        assert_eq!(all[0].assets, ["images/a.svg"]);
        assert_eq!(all[0].chapter_output("one.md"), "manuals/demo/one.html");
        assert_eq!(
            all[0].chapter_output("README.md"),
            "manuals/demo/index.html"
        );
        assert_eq!(
            all[0].chapter_output("a/README.md"),
            "manuals/demo/a/index.html"
        );
        assert_eq!(
            all[0].chapter_output("NOTREADME.md"),
            "manuals/demo/NOTREADME.html"
        );
        assert!(all[0].smart_punctuation);
    }
}
