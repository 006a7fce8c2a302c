//! Rebuilding after a change, for `gazette serve`.

use crate::build::{self, Outputs, Site};
use crate::problem::Problems;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The site as last built, kept between changes.
pub struct Incremental {
    root: PathBuf,
    outputs: Arc<Outputs>,
}

/// What a rebuild did.
pub struct Update {
    /// Files rendered (or re-checked) by this rebuild.
    pub rendered: usize,
    /// Whether everything was rebuilt.
    pub full: bool,
}

impl Incremental {
    pub fn new(root: &Path) -> Result<Incremental, Problems> {
        let site = Site::load(root).map_err(Problems)?;
        let outputs = build::render(&site).map_err(Problems)?;
        Ok(Incremental {
            root: root.to_path_buf(),
            outputs: Arc::new(outputs),
        })
    }

    /// The current outputs; cheap to clone and hand to the HTTP side.
    pub fn outputs(&self) -> Arc<Outputs> {
        self.outputs.clone()
    }

    /// Rebuilds after `changed` paths changed. On problems the previous
    /// outputs stay as they were.
    pub fn update(&mut self, _changed: &[PathBuf]) -> Result<Update, Problems> {
        let site = Site::load(&self.root).map_err(Problems)?;
        let outputs = build::render(&site).map_err(Problems)?;
        let rendered = outputs.len();
        self.outputs = Arc::new(outputs);
        Ok(Update {
            rendered,
            full: true,
        })
    }
}
