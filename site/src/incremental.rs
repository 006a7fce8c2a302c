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
    /// Search index files rewritten by an incremental rebuild (the index
    /// follows the edited page's text; a full rebuild makes it anew).
    pub index_files: usize,
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

    /// For `gazette serve` when a full build fails and nothing was built
    /// before: the site rendered with every manual's problems taken as
    /// warnings, so the notice, the forms and the other manuals are served
    /// (with the error banner) rather than nothing.
    pub fn new_lenient(root: &Path) -> Result<Incremental, Problems> {
        let mut site = Site::load(root).map_err(Problems)?;
        site.lenient = true;
        let built = render::render_full(&site, &render::Sink::Memory).map_err(Problems)?;
        let snapshot = Arc::new(built.outputs.clone());
        Ok(Incremental {
            root: root.to_path_buf(),
            site,
            built,
            snapshot,
        })
    }

    /// Problems of manuals published under `warn` in the last full build.
    pub fn warnings(&self) -> &[crate::Problem] {
        &self.built.warnings
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
                        rendered: rendered.pages.len(),
                        full: false,
                        index_files: rendered.index_files,
                    });
                }
            }
        }
        let fresh = Incremental::new(&self.root)?;
        *self = fresh;
        Ok(Update {
            rendered: self.snapshot.len(),
            full: true,
            index_files: 0,
        })
    }

    /// `content/a/b.md` → `a/b.md`, for an existing Markdown file (not a form definition).
    fn content_page(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(self.root.join("content")).ok()?;
        let rel = rel.to_str()?.replace('\\', "/");
        // A link is checked by the full rebuild (see content::link_problem).
        let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        (rel.ends_with(".md") && path.is_file() && !link).then_some(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::Incremental;
    use std::path::Path;

    fn write(root: &Path, rel: &str, text: &str) {
        std::fs::write(root.join(rel), text).unwrap();
    }

    fn page(title: &str) -> String {
        format!("+++\ntitle = \"{title}\"\ndate = 2026-01-06\n+++\n正文。\n")
    }

    #[test]
    fn an_edit_re_renders_one_page_and_a_deleted_page_disappears() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        crate::init(&root).unwrap();
        write(&root, "content/notices/second.md", &page("第二份"));
        let mut inc = Incremental::new(&root).unwrap();
        let second = root.join("content/notices/second.md");
        assert!(inc.outputs().contains_key("notices/second/index.html"));

        write(
            &root,
            "content/notices/second.md",
            &page("第二份").replace("正文", "改过的正文"),
        );
        let update = inc.update(std::slice::from_ref(&second)).unwrap();
        assert_eq!((update.rendered, update.full), (1, false));
        let html = &inc.outputs()["notices/second/index.html"];
        assert!(std::str::from_utf8(html).unwrap().contains("改过的正文"));

        std::fs::remove_file(&second).unwrap();
        let update = inc.update(std::slice::from_ref(&second)).unwrap();
        assert!(update.full);
        let outputs = inc.outputs();
        assert!(!outputs.contains_key("notices/second/index.html"));
        let list = std::str::from_utf8(&outputs["notices/index.html"]).unwrap();
        assert!(!list.contains("第二份"));
        assert_eq!(update.rendered, outputs.len());
    }

    /// The search index's files among `outputs`.
    fn index_files(outputs: &crate::Outputs) -> Vec<(String, String)> {
        outputs
            .iter()
            .filter(|(k, _)| k.starts_with("search/") && k.ends_with(".js"))
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    fn first_hit(outputs: &crate::Outputs, query: &str) -> Option<String> {
        let index = search::Index::from_files(|p| {
            outputs
                .get(p)
                .map(|b| String::from_utf8_lossy(b).into_owned())
        })
        .unwrap();
        index.search(query, 10).hits.first().map(|h| h.url.clone())
    }

    #[test]
    fn an_edit_updates_the_search_index_as_a_full_build_would() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        crate::init(&root).unwrap();
        let second = root.join("content/notices/second.md");
        write(
            &root,
            "content/notices/second.md",
            &page("第二份").replace("正文", "旧词甲乙"),
        );
        let mut inc = Incremental::new(&root).unwrap();
        let url = Some("notices/second/index.html".to_string());
        assert_eq!(first_hit(&inc.outputs(), "旧词甲乙"), url);
        let terms = |o: &crate::Outputs| o.keys().filter(|k| k.contains("/terms-")).count();
        assert_eq!(terms(&inc.outputs()), 1);

        // The old words go, the new ones come; and enough distinct words to
        // need a second term shard, then back to one (the extra shard goes).
        let many: String = (0..6000).map(|n| format!(" w{n:05}")).collect();
        for body in [format!("新词丙丁{many}"), "新词丙丁".to_string()] {
            write(
                &root,
                "content/notices/second.md",
                &page("第二份").replace("正文", &body),
            );
            let update = inc.update(std::slice::from_ref(&second)).unwrap();
            assert_eq!((update.rendered, update.full), (1, false));
            assert!(update.index_files > 0);
            let outputs = inc.outputs();
            assert_eq!(first_hit(&outputs, "新词丙丁"), url);
            assert_eq!(first_hit(&outputs, "旧词甲乙"), None);
            let full = Incremental::new(&root).unwrap();
            assert_eq!(index_files(&outputs), index_files(&full.outputs()));
            assert_eq!(*outputs, *full.outputs(), "the same site as a full build");
        }
        assert_eq!(terms(&inc.outputs()), 1);
    }

    #[test]
    fn a_new_page_or_a_form_change_rebuilds_everything() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        crate::init(&root).unwrap();
        let mut inc = Incremental::new(&root).unwrap();
        let third = root.join("content/notices/third.md");
        write(&root, "content/notices/third.md", &page("第三份"));
        assert!(inc.update(std::slice::from_ref(&third)).unwrap().full);
        assert!(inc.outputs().contains_key("notices/third/index.html"));

        let form = root.join("content/forms/contacts.toml");
        let old = std::fs::read_to_string(&form).unwrap();
        std::fs::write(&form, old.replace("联系人信息表", "联系人表")).unwrap();
        assert!(inc.update(std::slice::from_ref(&form)).unwrap().full);
        let html = &inc.outputs()["forms/contacts/index.html"];
        assert!(std::str::from_utf8(html).unwrap().contains("联系人表"));
    }

    #[test]
    fn a_broken_edit_keeps_the_last_good_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        crate::init(&root).unwrap();
        let mut inc = Incremental::new(&root).unwrap();
        let before = inc.outputs();
        let first = root.join("content/notices/first.md");
        let old = std::fs::read_to_string(&first).unwrap();
        std::fs::write(&first, format!("{old}\n[坏](@/nowhere.md)\n")).unwrap();
        let problems = inc.update(std::slice::from_ref(&first)).err().unwrap();
        assert!(problems
            .to_string()
            .starts_with("content/notices/first.md:"));
        assert_eq!(*inc.outputs(), *before);
    }
}
