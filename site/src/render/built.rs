//! What a full render leaves for an incremental update (`update`).

use super::context::Sizes;
use super::emit::Outputs;
use super::html::IdSet;
use super::links::Index;
use super::markdown::LinkUse;
use super::pages::Body;
use std::collections::HashMap;

/// A full render and what an incremental update needs from it.
pub(crate) struct Built {
    /// Every file, when rendered into [`super::Sink::Memory`].
    pub(crate) outputs: Outputs,
    /// Number of files and bytes made.
    pub(crate) files: usize,
    pub(crate) bytes: usize,
    pub(crate) pages: usize,
    pub(super) index: Index,
    /// Rendered bodies of the sections (they are re-rendered when a page they list changes).
    pub(super) bodies: HashMap<usize, Body>,
    /// Markdown links per content doc (same order as `site.content.docs`).
    pub(super) doc_links: Vec<Vec<LinkUse>>,
    /// Markdown links of the manuals, with their source.
    pub(super) manual_links: Vec<(String, LinkUse)>,
    pub(super) sizes: Sizes,
    pub(super) ids: HashMap<String, IdSet>,
    /// The search index's files (named by the site's size, so not in `index`).
    pub(super) search_files: std::collections::HashSet<String>,
    /// Problems of manuals published under `warn`: printed, counted, not fatal.
    pub(crate) warnings: Vec<crate::problem::Problem>,
    /// Every search page as it was counted, in index order, when rendering
    /// into memory (`gazette serve`): after an edit the index is made again
    /// from these with only the edited page counted anew.
    pub(super) search_pages: Option<Vec<(SearchKey, ::search::Prepared)>>,
}

/// Where a search page came from, in the order the build indexes them:
/// manual chapters, content docs, forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum SearchKey {
    Chapter,
    /// The content doc at this index of `site.content.docs`.
    Doc(usize),
    Form,
}

impl Built {
    /// Whether this build made `path` (relative to the output folder).
    pub(crate) fn is_output(&self, path: &str) -> bool {
        self.index.outputs.contains(path) || self.search_files.contains(path)
    }
}
