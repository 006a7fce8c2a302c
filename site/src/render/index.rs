//! The index of every output, made before anything is rendered, so links
//! can be resolved (and two sources writing one path refused) up front.

use super::links::Index;
use crate::model::Site;
use crate::problem::Problem;
use forms::paths::{FormPaths, FORMS_INDEX};
use forms::FormDef;
use std::collections::HashMap;
use std::path::Path;

pub(super) fn form_dir(f: &FormDef) -> String {
    FormPaths::of(f).dir()
}
pub(super) fn form_page(f: &FormDef) -> String {
    FormPaths::of(f).page()
}
pub(super) fn form_xlsx(f: &FormDef) -> String {
    FormPaths::of(f).xlsx()
}
pub(super) fn form_print(f: &FormDef) -> String {
    FormPaths::of(f).print()
}

/// Every output path known before rendering, so links can be resolved while
/// rendering; two sources writing one path are problems.
pub(super) fn build_index(site: &Site) -> Result<Index, Vec<Problem>> {
    let mut claims = Claims::default();
    claims.content(site);
    claims.forms(site);
    claims.manuals(site);
    for (out, source) in super::pdf::outputs(site) {
        claims.claim(&out, &source);
        claims.index.outputs.insert(out);
    }
    claims.generated();
    claims.statics(site);
    if claims.problems.is_empty() {
        Ok(claims.index)
    } else {
        Err(claims.problems)
    }
}

/// The index as it is made, with who writes each output.
#[derive(Default)]
struct Claims {
    index: Index,
    /// Output path → the source that writes it.
    by: HashMap<String, String>,
    problems: Vec<Problem>,
}

impl Claims {
    /// `source` writes `output`: a problem if another source does too.
    fn claim(&mut self, output: &str, source: &str) {
        if let Some(prev) = self.by.insert(output.to_string(), source.to_string()) {
            self.problems.push(Problem::new(
                source,
                None,
                format!("writes {output}, which {prev} writes too"),
            ));
        }
    }

    /// Pages, sections and the files beside them.
    fn content(&mut self, site: &Site) {
        for d in &site.content.docs {
            let source = d.source_str();
            self.claim(&d.output(), &source);
            self.index.add_page(Some(source), d.url.clone(), d.output());
        }
        for a in &site.content.assets {
            let source = format!("content/{}", a.rel);
            self.claim(&a.rel, &source);
            self.index.add_source(source, a.rel.clone());
        }
    }

    /// Each form's page, printable blank and spreadsheet.
    fn forms(&mut self, site: &Site) {
        for f in &site.forms {
            let source = format!("content/forms/{}.toml", f.id);
            self.claim(&form_page(f), &source);
            self.index.add_page(None, form_dir(f), form_page(f));
            for out in [form_xlsx(f), form_print(f)] {
                self.claim(&out, &source);
                self.index.outputs.insert(out);
            }
        }
    }

    /// Each manual's contents, chapters, one-page views and images.
    fn manuals(&mut self, site: &Site) {
        for m in &site.manuals {
            let src = m.src_dir.to_string_lossy().replace('\\', "/");
            let book = format!("manuals/{}/book.toml", m.id);
            let contents = format!("{}index.html", m.out_dir());
            self.claim(&contents, &book);
            self.index.add_page(None, m.out_dir(), contents);
            for out in [m.print_output(), m.download_output()] {
                self.claim(&out, &book);
                self.index.outputs.insert(out);
            }
            for c in &m.chapters {
                if let Some(p) = &c.path {
                    let out = m.chapter_output(p);
                    // The top-level README is the contents page (claimed above).
                    if !crate::model::manual::Manual::is_front(p) {
                        self.claim(&out, &format!("{src}/{p}"));
                    }
                    self.index.add_source(format!("{src}/{p}"), out);
                }
            }
            for a in &m.assets {
                let out = format!("{}{a}", m.out_dir());
                self.claim(&out, &format!("{src}/{a}"));
                self.index.add_source(format!("{src}/{a}"), out);
            }
        }
    }

    /// The files the build makes without a source; no source may write them
    /// (except the home page, which `content/_index.md` may be).
    fn generated(&mut self) {
        const MANUALS_INDEX: &str = "manuals/index.html";
        let index = &mut self.index;
        for generated in [
            "index.html",
            FORMS_INDEX,
            MANUALS_INDEX,
            "404.html",
            ::search::SEARCH_PAGE,
            super::extras::SITE_MAP,
            "sitemap.xml",
            "atom.xml",
            "robots.txt",
        ] {
            if generated == "index.html" && index.outputs.contains("index.html") {
                continue; // content/_index.md is the home page
            }
            if index.outputs.contains(generated)
                && generated != FORMS_INDEX
                && generated != MANUALS_INDEX
            {
                self.problems.push(Problem::new(
                    generated,
                    None,
                    "this path is reserved for a generated file",
                ));
            }
            index.outputs.insert(generated.to_string());
        }
        for (url, output) in [
            ("", "index.html"),
            ("forms/", FORMS_INDEX),
            ("manuals/", MANUALS_INDEX),
            ("search/", ::search::SEARCH_PAGE),
        ] {
            index
                .urls
                .entry(url.to_string())
                .or_insert_with(|| output.to_string());
        }
    }

    /// The theme's static files, and the site's `static/` folder.
    fn statics(&mut self, site: &Site) {
        for (name, _) in site.theme.statics() {
            self.index.outputs.insert(name.to_string());
        }
        let mut files = Vec::new();
        walk_files(&site.root.join("static"), "", &mut files);
        for f in files {
            self.claim(&f, &format!("static/{f}"));
            self.index.outputs.insert(f);
        }
    }
}

pub(super) fn walk_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let rel = format!("{prefix}{name}");
        // Not through links: a link to a folder is refused when copied.
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk_files(&e.path(), &format!("{rel}/"), out);
        } else {
            out.push(rel);
        }
    }
}
