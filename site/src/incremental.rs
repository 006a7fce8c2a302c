//! Rebuilding after a change, for `gazette serve`: an edited page re-renders
//! itself and the pages that list it; anything else rebuilds everything.

use crate::model::Site;
use crate::problem::Problems;
use crate::render::{self, Built, Outputs};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The site as last built, kept between changes.
pub struct Incremental {
    root: PathBuf,
    site: Site,
    built: Built,
    snapshot: Arc<Outputs>,
}

/// What a rebuild did.
pub struct Update {
    /// Files rendered by this rebuild.
    pub rendered: usize,
    /// Whether everything was rebuilt.
    pub full: bool,
}

impl Incremental {
    pub fn new(root: &Path) -> Result<Incremental, Problems> {
        let site = Site::load(root).map_err(Problems)?;
        let built = render::render_full(&site, &render::Sink::Memory).map_err(Problems)?;
        let snapshot = Arc::new(built.outputs.clone());
        Ok(Incremental {
            root: root.to_path_buf(),
            site,
            built,
            snapshot,
        })
    }

    /// The current outputs; cheap to clone and hand to the HTTP side.
    pub fn outputs(&self) -> Arc<Outputs> {
        self.snapshot.clone()
    }

    /// Rebuilds after `changed` (absolute paths under the root). On problems
    /// the previous outputs stay as they were.
    pub fn update(&mut self, changed: &[PathBuf]) -> Result<Update, Problems> {
        if let [one] = changed {
            if let Some(rel) = self.content_page(one) {
                if let Some(rendered) = self
                    .built
                    .update_doc(&mut self.site, &rel)
                    .map_err(Problems)?
                {
                    self.snapshot = Arc::new(self.built.outputs.clone());
                    return Ok(Update {
                        rendered: rendered.len(),
                        full: false,
                    });
                }
            }
        }
        let fresh = Incremental::new(&self.root)?;
        *self = fresh;
        Ok(Update {
            rendered: self.snapshot.len(),
            full: true,
        })
    }

    /// `content/a/b.md` → `a/b.md`, for an existing Markdown file (not a form definition).
    fn content_page(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(self.root.join("content")).ok()?;
        let rel = rel.to_str()?.replace('\\', "/");
        (rel.ends_with(".md") && path.is_file()).then_some(rel)
    }
}
