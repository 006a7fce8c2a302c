//! The model: everything read from the site folder (`gazette.toml`, the
//! theme, `content/`, `manuals/`, the form definitions), before anything is
//! rendered. Rendering (`crate::render`) only reads it.

pub(crate) mod content;
pub(crate) mod frontmatter;
pub(crate) mod manual;
pub(crate) mod preprocess;
pub(crate) mod summary;
pub(crate) mod unconfirmed;

use crate::problem::Problem;
use config::Config;
use content::Content;
use forms::FormDef;
use manual::Manual;
use std::path::{Path, PathBuf};
use theme::Theme;

/// Everything read from the site folder.
pub(crate) struct Site {
    pub(crate) root: PathBuf,
    pub(crate) config: Config,
    pub(crate) theme: Theme,
    pub(crate) content: Content,
    pub(crate) manuals: Vec<Manual>,
    /// Problems of the manuals that loaded, reported by the build (a
    /// manual under `warn` is published with them).
    pub(crate) manual_problems: Vec<Problem>,
    pub(crate) forms: Vec<FormDef>,
    /// Every problem under `manuals/` is a warning (`gazette serve` with
    /// nothing good to serve yet).
    pub(crate) lenient: bool,
}

impl Site {
    pub(crate) fn load(root: &Path) -> Result<Site, Vec<Problem>> {
        let clock = std::time::Instant::now();
        let site = Self::load_inner(root);
        tracing::debug!("load: {:.1} ms", clock.elapsed().as_secs_f64() * 1000.0);
        site
    }

    fn load_inner(root: &Path) -> Result<Site, Vec<Problem>> {
        let config = Config::load(root)
            .map_err(|e| vec![Problem::new(config::FILE_NAME, None, e.to_string())])?;
        let mut forms = FormDef::load_dir(&root.join("content/forms")).map_err(|e| {
            let file = e.path.strip_prefix(root).unwrap_or(&e.path).to_path_buf();
            vec![Problem::new(file, e.line, e.reason)]
        })?;
        // Listed by annex number everywhere (those without one last), as
        // the manuals are.
        forms.sort_by(|a, b| {
            (a.annex.unwrap_or(u32::MAX), &a.id).cmp(&(b.annex.unwrap_or(u32::MAX), &b.id))
        });
        // Parsing the templates takes as long as loading 3,000 pages: do both at once.
        let (theme, (content, manuals)) = rayon::join(
            || Theme::load(root),
            || rayon::join(|| content::load(root), || manual::load_all(root)),
        );
        let theme = theme.map_err(|e| vec![Problem::new("templates", None, e.to_string())])?;
        let mut problems = Vec::new();
        let content = content.map_err(|p| problems.extend(p)).ok();
        let manuals = manuals.map_err(|p| problems.extend(p)).ok();
        match (content, manuals) {
            (Some(content), Some((manuals, manual_problems))) if problems.is_empty() => Ok(Site {
                root: root.to_path_buf(),
                config,
                theme,
                content,
                manuals,
                manual_problems,
                forms,
                lenient: false,
            }),
            _ => Err(problems),
        }
    }
}
