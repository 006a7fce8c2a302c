//! The generator: reads `gazette.toml`, `content/`, `manuals/` and the form
//! definitions into one model, renders it with the theme, checks every link
//! and writes `public/`.
//!
//! `gazette build` writes each page into `public/` as it is made, over the
//! previous build, so memory stays flat however large the site, then removes
//! what the previous build left that this one did not make. (It used to render
//! into a staging folder and swap it in; removing the old tree's 20,000
//! entries cost more than a fifth of a 10,000-page build.) `gazette serve`
//! keeps everything in memory instead (`Sink::Memory`, [`Incremental`]).

mod incremental;
mod init;
mod model;
mod problem;
mod render;

pub use incremental::{Incremental, Update};
pub use init::init;
use model::Site;
pub use problem::{Problem, Problems};
pub use render::Outputs;
use render::{render_full, Sink};

use std::path::Path;
use std::time::Instant;

/// The one-line summary of a build.
pub struct Report {
    pages: usize,
    files: usize,
    bytes: usize,
    millis: u128,
    output: std::path::PathBuf,
    /// Values marked unconfirmed (see `model::unconfirmed`): shown, not fatal.
    pub warnings: Vec<Problem>,
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

/// `gazette build`: renders straight into the output folder, then removes
/// files an earlier build left there that this one did not make. On problems
/// it stops with all of them; a folder this build created is removed again,
/// an earlier build's folder may be partly updated (as with Hugo and Zola).
pub fn build(root: &Path, output: Option<&Path>) -> anyhow::Result<Report> {
    build_with(root, output, false)
}

/// [`build`]; with `strict` (for publishing), unconfirmed values are
/// problems and nothing is written.
pub fn build_with(root: &Path, output: Option<&Path>, strict: bool) -> anyhow::Result<Report> {
    let start = Instant::now();
    let site = Site::load(root).map_err(Problems)?;
    let mut warnings = model::unconfirmed::collect(&site);
    if strict && !warnings.is_empty() {
        return Err(Problems(warnings).into());
    }
    let out_dir = output
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join("public"));
    check_output_dir(&out_dir)?;
    let existed = out_dir.exists();
    std::fs::create_dir_all(&out_dir)?;
    let built = match render_full(&site, &Sink::Dir(out_dir.clone())) {
        Ok(b) => b,
        Err(problems) => {
            if existed {
                tracing::warn!(
                    "{} is partly updated by this failed build: fix the problems and build again",
                    out_dir.display()
                );
            } else {
                let _ = std::fs::remove_dir_all(&out_dir);
            }
            return Err(Problems(problems).into());
        }
    };
    warnings.extend(built.warnings.iter().cloned());
    tracing::debug!("rendered: {} ms", start.elapsed().as_millis());
    let clock = Instant::now();
    let stale = remove_stale(&out_dir, "", &|rel| built.is_output(rel))?;
    tracing::debug!("cleanup: {:.1} ms", clock.elapsed().as_secs_f64() * 1000.0);
    if stale > 0 {
        tracing::info!("removed {stale} files the previous build made and this one did not");
    }
    Ok(Report {
        pages: built.pages,
        files: built.files - built.pages,
        bytes: built.bytes,
        millis: start.elapsed().as_millis(),
        output: out_dir,
        warnings,
    })
}

/// Removes every file under `dir` that `keep` does not name (by its path
/// relative to the output folder, `/`-separated), and folders left empty.
/// Returns how many files went. Folders are walked in parallel: at 10,000
/// pages there are 10,000 of them.
fn remove_stale(
    dir: &Path,
    prefix: &str,
    keep: &(dyn Fn(&str) -> bool + Sync),
) -> std::io::Result<usize> {
    use rayon::prelude::*;
    let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    let counts: Vec<usize> = entries
        .par_iter()
        .map(|entry| {
            let rel = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type()?.is_dir() {
                let path = entry.path();
                let removed = remove_stale(&path, &format!("{rel}/"), keep)?;
                if removed > 0 {
                    // Only succeeds when nothing is left in it.
                    let _ = std::fs::remove_dir(&path);
                }
                Ok(removed)
            } else if keep(&rel) {
                Ok(0)
            } else {
                std::fs::remove_file(entry.path())?;
                Ok(1)
            }
        })
        .collect::<std::io::Result<_>>()?;
    Ok(counts.iter().sum())
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
    Ok(check_with_warnings(root)?.0)
}

/// [`check`], and the unconfirmed values (warnings) of a site that loads.
pub fn check_with_warnings(root: &Path) -> anyhow::Result<(Vec<Problem>, Vec<Problem>)> {
    let site = match Site::load(root) {
        Ok(s) => s,
        Err(p) => return Ok((p, Vec::new())),
    };
    let mut warnings = model::unconfirmed::collect(&site);
    match render_full(&site, &Sink::Discard) {
        Ok(built) => {
            warnings.extend(built.warnings);
            Ok((Vec::new(), warnings))
        }
        Err(p) => Ok((p, warnings)),
    }
}
