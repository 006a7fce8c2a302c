//! The generator: reads `gazette.toml`, `content/`, `manuals/` and the form
//! definitions into one model, renders it with the theme, checks every link
//! and writes `public/`.
//!
//! The whole site is rendered in memory first and written only when it has no
//! problems, so a failed build never leaves a half-written `public/`.

mod build;
mod content;
mod feeds;
mod frontmatter;
mod html;
mod incremental;
mod init;
mod links;
mod manual;
mod markdown;
mod problem;

pub use build::{render, Outputs, Site};
pub use incremental::{Incremental, Update};
pub use init::init;
pub use problem::{Problem, Problems};

use std::path::Path;
use std::time::Instant;

/// The one-line summary of a build.
pub struct Report {
    pub pages: usize,
    pub files: usize,
    pub bytes: usize,
    pub millis: u128,
    pub output: std::path::PathBuf,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "built {} pages and {} other files ({:.1} MB) into {} in {} ms",
            self.pages,
            self.files,
            self.bytes as f64 / 1_048_576.0,
            self.output.display(),
            self.millis
        )
    }
}

/// Loads and renders the site; every problem at once.
pub fn render_site(root: &Path) -> Result<Outputs, Problems> {
    let site = Site::load(root).map_err(Problems)?;
    render(&site).map_err(Problems)
}

/// `gazette build`: render, then write into `output` (default `ROOT/public`),
/// removing files a previous build left that this one no longer makes.
pub fn build(root: &Path, output: Option<&Path>) -> anyhow::Result<Report> {
    let start = Instant::now();
    let outputs = render_site(root)?;
    tracing::debug!("rendered: {} ms", start.elapsed().as_millis());
    let out_dir = output
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join("public"));
    write_outputs(&out_dir, &outputs)?;
    let pages = outputs.keys().filter(|k| k.ends_with(".html")).count();
    Ok(Report {
        pages,
        files: outputs.len() - pages,
        bytes: outputs.values().map(|b| b.len()).sum(),
        millis: start.elapsed().as_millis(),
        output: out_dir,
    })
}

/// `gazette check`: everything a build does except writing.
pub fn check(root: &Path) -> anyhow::Result<Vec<Problem>> {
    match render_site(root) {
        Ok(_) => Ok(Vec::new()),
        Err(Problems(p)) => Ok(p),
    }
}

/// Writes the outputs, skipping files whose bytes are unchanged (so watchers
/// and caches see only real changes), and deletes stale files.
pub fn write_outputs(out_dir: &Path, outputs: &Outputs) -> anyhow::Result<()> {
    use rayon::prelude::*;
    if out_dir.is_dir() {
        let looks_like_ours =
            out_dir.join("index.html").is_file() || out_dir.join("sitemap.xml").is_file();
        let empty = std::fs::read_dir(out_dir)?.next().is_none();
        if !looks_like_ours && !empty {
            anyhow::bail!(
                "{} is not empty and holds no earlier build; remove it or choose another --output",
                out_dir.display()
            );
        }
        remove_stale(out_dir, "", outputs)?;
    }
    outputs
        .par_iter()
        .try_for_each(|(rel, bytes)| -> anyhow::Result<()> {
            let path = out_dir.join(rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            if std::fs::read(&path).is_ok_and(|old| old[..] == bytes[..]) {
                return Ok(());
            }
            std::fs::write(&path, bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        })
}

fn remove_stale(dir: &Path, prefix: &str, outputs: &Outputs) -> anyhow::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        if e.file_type()?.is_dir() {
            remove_stale(&e.path(), &format!("{rel}/"), outputs)?;
            if std::fs::read_dir(e.path())?.next().is_none() {
                std::fs::remove_dir(e.path())?;
            }
        } else if !outputs.contains_key(&rel) {
            std::fs::remove_file(e.path())?;
        }
    }
    Ok(())
}
