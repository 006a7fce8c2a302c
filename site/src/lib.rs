//! The generator: reads `gazette.toml`, `content/`, `manuals/` and the form
//! definitions into one model, renders it with the theme, checks every link
//! and writes `public/`.
//!
//! `gazette build` renders into a staging folder beside the output and swaps
//! it in only when there were no problems, so a failed build never leaves a
//! half-written `public/`; pages are written as they are made, so memory
//! stays flat however large the site. `gazette serve` keeps everything in
//! memory instead ([`Sink::Memory`], [`Incremental`]).

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

pub use build::{render, render_full, Built, Outputs, Sink, Site};
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

/// `gazette build`: renders straight into a staging folder beside the
/// output, then swaps it in, so a failed build leaves the old `public/`
/// untouched and a large site never has to fit in memory.
pub fn build(root: &Path, output: Option<&Path>) -> anyhow::Result<Report> {
    let start = Instant::now();
    let site = Site::load(root).map_err(Problems)?;
    let out_dir = output
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join("public"));
    check_output_dir(&out_dir)?;
    let name = out_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "public".into());
    let staging = out_dir.with_file_name(format!(".{name}.gazette-new"));
    let old = out_dir.with_file_name(format!(".{name}.gazette-old"));
    for leftover in [&staging, &old] {
        if leftover.exists() {
            std::fs::remove_dir_all(leftover)?;
        }
    }
    std::fs::create_dir_all(&staging)?;
    let built = match render_full(&site, &Sink::Dir(staging.clone())) {
        Ok(b) => b,
        Err(problems) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(Problems(problems).into());
        }
    };
    tracing::debug!("rendered: {} ms", start.elapsed().as_millis());
    if out_dir.exists() {
        std::fs::rename(&out_dir, &old)?;
    }
    std::fs::rename(&staging, &out_dir)?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(Report {
        pages: built.pages,
        files: built.files - built.pages,
        bytes: built.bytes,
        millis: start.elapsed().as_millis(),
        output: out_dir,
    })
}

/// Refuses to replace a folder that holds something other than a build.
fn check_output_dir(out_dir: &Path) -> anyhow::Result<()> {
    if !out_dir.is_dir() {
        return Ok(());
    }
    let looks_like_ours =
        out_dir.join("index.html").is_file() || out_dir.join("sitemap.xml").is_file();
    let empty = std::fs::read_dir(out_dir)?.next().is_none();
    if !looks_like_ours && !empty {
        anyhow::bail!(
            "{} is not empty and holds no earlier build; remove it or choose another --output",
            out_dir.display()
        );
    }
    Ok(())
}

/// `gazette check`: everything a build does except writing.
pub fn check(root: &Path) -> anyhow::Result<Vec<Problem>> {
    let site = match Site::load(root) {
        Ok(s) => s,
        Err(p) => return Ok(p),
    };
    match render_full(&site, &Sink::Discard) {
        Ok(_) => Ok(Vec::new()),
        Err(p) => Ok(p),
    }
}
