//! Manuals: mdBook source folders (`book.toml`, `src/SUMMARY.md`, chapters),
//! so an existing mdBook drops into `manuals/` and builds.

use crate::problem::Problem;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct BookToml {
    book: BookSection,
    #[serde(default)]
    gazette: GazetteSection,
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

/// Our own table in `book.toml`; mdBook ignores it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GazetteSection {
    annex: Option<u32>,
    #[serde(default)]
    audience: String,
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
}

impl Manual {
    /// Output folder, e.g. `manuals/supervisor/`.
    pub(crate) fn out_dir(&self) -> String {
        format!("manuals/{}/", self.id)
    }

    /// Output path of a chapter file: `login.md` → `manuals/<id>/login.html`.
    pub(crate) fn chapter_output(&self, path: &str) -> String {
        format!("{}{}.html", self.out_dir(), path.trim_end_matches(".md"))
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

/// Every `manuals/<id>/book.toml`, sorted by annex number then id.
pub(crate) fn load_all(root: &Path) -> Result<Vec<Manual>, Vec<Problem>> {
    let dir = root.join("manuals");
    let mut manuals = Vec::new();
    let mut problems = Vec::new();
    if !dir.is_dir() {
        return Ok(manuals);
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
            Ok(m) => manuals.push(m),
            Err(mut p) => problems.append(&mut p),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    manuals.sort_by(|a, b| {
        (a.annex.unwrap_or(u32::MAX), &a.id).cmp(&(b.annex.unwrap_or(u32::MAX), &b.id))
    });
    Ok(manuals)
}

fn load(root: &Path, id: &str) -> Result<Manual, Vec<Problem>> {
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
    let chapters = parse_summary(&summary)
        .map_err(|(line, m)| vec![Problem::new(&summary_rel, Some(line), m)])?;
    let mut problems = Vec::new();
    for c in &chapters {
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
                    format!("chapter file {p} does not exist"),
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut assets = Vec::new();
    collect_assets(&root.join(&src_dir), "", &mut assets);
    assets.sort();
    Ok(Manual {
        id: id.to_string(),
        title: book.book.title,
        authors: book.book.authors,
        description: book.book.description,
        annex: book.gazette.annex,
        audience: book.gazette.audience,
        src_dir,
        chapters,
        assets,
    })
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

/// mdBook's SUMMARY.md: an optional `# Title`, prefix chapters `[T](a.md)`,
/// a nested list of numbered chapters (`- [T](a.md)`, `- [Draft]()`),
/// `# Part` headings and `---` separators between them, then suffix chapters.
pub(crate) fn parse_summary(text: &str) -> Result<Vec<Chapter>, (usize, String)> {
    let mut chapters = Vec::new();
    let mut seen_list = false;
    let mut seen_title = false;
    let mut pending_part: Option<String> = None;
    // Indentation of each open nesting level, and the counters per depth.
    let mut indents: Vec<usize> = Vec::new();
    let mut counters: Vec<usize> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with("<!--") {
            continue;
        }
        if let Some(h) = trimmed.strip_prefix('#') {
            let title = h.trim_start_matches('#').trim().to_string();
            if !seen_title && !seen_list && chapters.is_empty() {
                seen_title = true;
            } else {
                pending_part = Some(title);
            }
            continue;
        }
        if trimmed.chars().all(|c| c == '-') && trimmed.len() >= 3 {
            continue; // separator
        }
        let indent = line.len() - trimmed.len();
        let item = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "));
        let (title, path) = parse_link(item.unwrap_or(trimmed)).ok_or((
            line_no,
            format!("expected a chapter link like - [标题](file.md), found {trimmed:?}"),
        ))?;
        if let Some(p) = &path {
            if p.contains("://") || p.starts_with('/') || p.split('/').any(|s| s == "..") {
                return Err((
                    line_no,
                    format!("chapter path {p} must be relative to src/ and stay inside it"),
                ));
            }
        }
        let (depth, number) = if item.is_some() {
            seen_list = true;
            while indents.last().is_some_and(|&d| indent < d) {
                indents.pop();
                counters.pop();
            }
            if indents.last().is_none_or(|&d| indent > d) {
                indents.push(indent);
                counters.push(0);
            }
            if let Some(c) = counters.last_mut() {
                *c += 1;
            }
            let number: String = counters.iter().map(|c| format!("{c}.")).collect();
            (indents.len() - 1, number)
        } else {
            // Prefix or suffix chapter: unnumbered, top level.
            indents.clear();
            counters.clear();
            (0, String::new())
        };
        chapters.push(Chapter {
            title,
            path,
            depth,
            number,
            part: pending_part.take(),
            line: line_no,
        });
    }
    if chapters.is_empty() {
        return Err((1, "SUMMARY.md lists no chapters".into()));
    }
    Ok(chapters)
}

/// `[Title](path.md)` → (Title, Some(path)); `[Draft]()` → (Draft, None).
fn parse_link(s: &str) -> Option<(String, Option<String>)> {
    let s = s.strip_prefix('[')?;
    let close = s.rfind("](")?;
    let title = s[..close].to_string();
    let rest = s[close + 2..].strip_suffix(')')?;
    let path = rest.trim();
    Some((
        title,
        if path.is_empty() {
            None
        } else {
            Some(path.replace("%20", " "))
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_with_prefix_nesting_parts_and_drafts() {
        let text = "# Summary\n\n[前言](README.md)\n\n- [登录](login.md)\n    - [首次登录](login/first.md)\n    - [草稿]()\n- [审核](review.md)\n\n# 附录\n\n- [常见问题](faq.md)\n\n---\n\n[后记](end.md)\n";
        let c = parse_summary(text).unwrap();
        let got: Vec<_> = c
            .iter()
            .map(|c| {
                (
                    c.title.as_str(),
                    c.path.as_deref(),
                    c.depth,
                    c.number.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("前言", Some("README.md"), 0, ""),
                ("登录", Some("login.md"), 0, "1."),
                ("首次登录", Some("login/first.md"), 1, "1.1."),
                ("草稿", None, 1, "1.2."),
                ("审核", Some("review.md"), 0, "2."),
                ("常见问题", Some("faq.md"), 0, "3."),
                ("后记", Some("end.md"), 0, ""),
            ]
        );
        assert_eq!(c[5].part.as_deref(), Some("附录"));
    }

    #[test]
    fn bad_summary_lines_are_reported() {
        let err = parse_summary("# Summary\n\n- [a](a.md)\n- not a link\n").unwrap_err();
        assert_eq!(err.0, 4);
        assert!(parse_summary("- [a](../x.md)\n").is_err());
        assert!(parse_summary("# Summary\n").is_err());
    }

    #[test]
    fn loads_a_book_and_reports_missing_chapters() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("manuals/demo");
        std::fs::create_dir_all(m.join("src/images")).unwrap();
        std::fs::write(
            m.join("book.toml"),
            "[book]\ntitle = \"示例\"\n[gazette]\nannex = 3\naudience = \"个人\"\n[output.html]\n",
        )
        .unwrap();
        std::fs::write(m.join("src/SUMMARY.md"), "- [一](one.md)\n- [二](two.md)\n").unwrap();
        std::fs::write(m.join("src/one.md"), "# 一\n").unwrap();
        std::fs::write(m.join("src/images/a.svg"), "<svg/>").unwrap();
        let p = load_all(dir.path()).unwrap_err();
        assert_eq!(
            p[0].to_string(),
            "manuals/demo/src/SUMMARY.md:2: chapter file two.md does not exist"
        );
        std::fs::write(m.join("src/two.md"), "# 二\n").unwrap();
        let all = load_all(dir.path()).unwrap();
        assert_eq!(all[0].annex, Some(3));
        assert_eq!(all[0].assets, ["images/a.svg"]);
        assert_eq!(all[0].chapter_output("one.md"), "manuals/demo/one.html");
    }
}
