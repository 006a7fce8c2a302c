//! The build pipeline: load → index every output → render Markdown (parallel)
//! → make the artifacts (spreadsheets, manual downloads) → render templates
//! (parallel) → check every link and anchor.
//!
//! This file holds the pipeline ([`render_full`]) and what it returns; one
//! file per kind of output or step beside it:
//! - `index`: every output path, known before anything renders;
//! - `context`: what templates get (shared context, header/footer, list items);
//! - `pages`, `form_pages`, `manuals`, `extras`: the outputs themselves;
//! - `emit`: where files go, with the link scan run on each as it goes;
//! - `check`: anchors across pages, once all are made;
//! - `update`: one page re-rendered after an edit, for `gazette serve`.
//!
//! The steps share this module's imports and types through `use super::*`.

use crate::model::content::{self, Doc};
use crate::model::frontmatter::{self, Notice};
use crate::model::manual::Manual;
pub use crate::model::Site;
use crate::problem::Problem;
use chrono::{Datelike, NaiveDateTime};
use forms::FormDef;
use html::IdSet;
use links::{DocLinks, Index};
use markdown::{Heading, LinkUse};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod check;
mod context;
mod emit;
mod extras;
mod feeds;
mod form_pages;
mod html;
mod index;
mod links;
mod manuals;
mod markdown;
mod pages;
mod update;

use check::*;
use context::*;
use emit::*;
use extras::*;
use form_pages::*;
use index::*;
use manuals::*;
use pages::*;

/// What a build produces: output path → bytes, in a stable order. The bytes
/// are shared so that `gazette serve` can keep a snapshot while a rebuild
/// replaces a few pages.
pub type Outputs = BTreeMap<String, Arc<[u8]>>;

/// One rendered output file, or why it could not be made.
type Rendered = Result<(String, Arc<[u8]>), Problem>;

/// A manual's files and the Markdown links found in it.
type ManualOutput = (Outputs, Vec<(String, LinkUse)>);

/// A rendered Markdown document.
struct Body {
    html: String,
    headings: Vec<Heading>,
}

/// Where rendered files go.
pub enum Sink {
    /// Kept in memory (`gazette serve`).
    Memory,
    /// Written into this folder as they are made, so a large site never has
    /// to fit in memory (`gazette build`).
    Dir(PathBuf),
    /// Checked and dropped (`gazette check`).
    Discard,
}

/// Renders the whole site in memory. On any problem, returns all of them.
pub fn render(site: &Site) -> Result<Outputs, Vec<Problem>> {
    render_full(site, &Sink::Memory).map(|b| b.outputs)
}

/// A full render and what an incremental update needs from it.
pub struct Built {
    /// Every file, when rendered into [`Sink::Memory`].
    pub outputs: Outputs,
    /// Number of files and bytes made.
    pub files: usize,
    pub bytes: usize,
    pub pages: usize,
    index: Index,
    /// Rendered bodies of the sections (they are re-rendered when a page they list changes).
    bodies: HashMap<usize, Body>,
    /// Markdown links per content doc (same order as `site.content.docs`).
    doc_links: Vec<Vec<LinkUse>>,
    /// Markdown links of the manuals, with their source.
    manual_links: Vec<(String, LinkUse)>,
    sizes: Sizes,
    ids: HashMap<String, IdSet>,
}

impl Built {
    /// Whether this build made `path` (relative to the output folder).
    pub fn is_output(&self, path: &str) -> bool {
        self.index.outputs.contains(path)
    }
}

/// A content page after rendering: its body if it is a section (kept for
/// incremental updates), its Markdown links, problems, and the file made.
type DocResult = (Option<Body>, Vec<LinkUse>, Vec<Problem>, Option<Emitted>);

pub fn render_full(site: &Site, sink: &Sink) -> Result<Built, Vec<Problem>> {
    let clock = std::time::Instant::now();
    let lap =
        |what: &str| tracing::debug!("{what}: {:.1} ms", clock.elapsed().as_secs_f64() * 1000.0);
    let mut problems: Vec<Problem> = Vec::new();
    let index = build_index(site, &mut problems);
    lap("index");
    if !problems.is_empty() {
        return Err(problems);
    }
    let ctx = Shared::new(site, &index);
    let mut emitted: Vec<Emitted> = Vec::new();

    // 1. The artifacts whose sizes the pages show: manuals and spreadsheets.
    let mut manual_links: Vec<(String, LinkUse)> = Vec::new();
    let mut sizes = Sizes {
        manual: HashMap::new(),
        files: HashMap::new(),
    };
    for m in &site.manuals {
        match render_manual(&ctx, m) {
            Ok((files, uses)) => {
                sizes.manual.insert(
                    m.id.clone(),
                    files.get(&m.download_output()).map_or(0, |b| b.len()),
                );
                emitted.extend(files.into_iter().map(|(k, v)| emit(sink, &index, k, v)));
                manual_links.extend(uses);
            }
            Err(p) => problems.extend(p),
        }
    }
    for f in &site.forms {
        match forms::sheet::blank_xlsx(f, &ctx.instructions) {
            Ok(bytes) => {
                sizes.files.insert(form_xlsx(f), bytes.len());
                emitted.push(emit(sink, &index, form_xlsx(f), bytes.into()));
            }
            Err(e) => problems.push(Problem::new(
                format!("content/forms/{}.toml", f.id),
                None,
                e,
            )),
        }
    }
    if !problems.is_empty() {
        problems.sort();
        problems.dedup();
        return Err(problems);
    }
    lap("manuals and spreadsheets");

    // 2. Every content page: Markdown, template and out, in parallel, so
    // that no more than a few pages are held at a time.
    let content_dir = site.root.join("content");
    let docs: Vec<DocResult> = site
        .content
        .docs
        .par_iter()
        .map(|d| {
            let (body, links, problems) = render_markdown(&index, &content_dir, d);
            if !problems.is_empty() {
                return (None, links, problems, None);
            }
            match render_doc(&ctx, d, &body, &sizes) {
                Ok((path, bytes)) => {
                    let e = emit(sink, &index, path, bytes);
                    (d.is_section.then_some(body), links, Vec::new(), Some(e))
                }
                Err(p) => (None, links, vec![p], None),
            }
        })
        .collect();
    let mut doc_links = Vec::with_capacity(docs.len());
    let mut bodies = HashMap::new();
    for (i, (body, links, p, e)) in docs.into_iter().enumerate() {
        if let Some(b) = body {
            bodies.insert(i, b);
        }
        doc_links.push(links);
        problems.extend(p);
        emitted.extend(e);
    }
    lap("pages");
    let forms: Vec<Rendered> = site
        .forms
        .par_iter()
        .flat_map_iter(|f| render_form(&ctx, f, &sizes))
        .collect();
    let mut rest = Outputs::new();
    for r in forms {
        match r {
            Ok((path, bytes)) => {
                rest.insert(path, bytes);
            }
            Err(p) => problems.push(p),
        }
    }
    match render_extras(&ctx) {
        Ok(extra) => rest.extend(extra),
        Err(p) => problems.push(p),
    }
    for (name, bytes) in site.theme.statics() {
        rest.insert(name.to_string(), bytes.into());
    }
    if let Err(p) = copy_files(site, &mut rest) {
        problems.extend(p);
    }
    emitted.extend(rest.into_iter().map(|(k, v)| emit(sink, &index, k, v)));
    lap("forms, extras and copies");

    // 3. Anchors across pages, now that every page's ids are known.
    let mut outputs = Outputs::new();
    let mut ids = HashMap::new();
    let mut pending = Vec::new();
    let mut template_problems = Vec::new();
    let (mut files, mut bytes, mut pages) = (0, 0, 0);
    for e in emitted {
        files += 1;
        bytes += e.len;
        if let Some(set) = e.ids {
            pages += 1;
            ids.insert(e.path.clone(), set);
        }
        pending.extend(e.pending);
        template_problems.extend(e.problems);
        if let Some(b) = e.bytes {
            outputs.insert(e.path, b);
        }
    }
    if problems.is_empty() {
        let all = Ids {
            base: &ids,
            overlay: None,
        };
        let uses = site
            .content
            .docs
            .iter()
            .zip(&doc_links)
            .flat_map(|(d, links)| links.iter().map(move |u| (d.source_str(), u)))
            .chain(manual_links.iter().map(|(s, u)| (s.clone(), u)));
        problems.extend(check_uses(uses, &all));
        // A broken Markdown link shows up in the HTML too: report it once, at its source line.
        if problems.is_empty() {
            problems.extend(template_problems);
            problems.extend(pending.iter().filter_map(|p| {
                let ok = all.get(&p.target).is_some_and(|s| s.contains(&p.anchor));
                (!ok).then(|| {
                    Problem::new(
                        &p.page,
                        None,
                        format!("link {}: {} has no #{}", p.link, p.target, p.anchor),
                    )
                })
            }));
        }
    }
    lap("link check");
    if problems.is_empty() {
        Ok(Built {
            outputs,
            files,
            bytes,
            pages,
            index,
            bodies,
            doc_links,
            manual_links,
            sizes,
            ids,
        })
    } else {
        problems.sort();
        problems.dedup();
        Err(problems)
    }
}

fn render_markdown(
    index: &Index,
    content_dir: &Path,
    d: &Doc,
) -> (Body, Vec<LinkUse>, Vec<Problem>) {
    let empty = || Body {
        html: String::new(),
        headings: Vec::new(),
    };
    let text = match d.read_body(content_dir) {
        Ok(t) => t,
        Err(p) => return (empty(), Vec::new(), vec![p]),
    };
    let source = d.source_str();
    let output = d.output();
    let links = DocLinks {
        index,
        source: &source,
        output: &output,
        same_page: None,
        own_prefix: "",
        inline: None,
    };
    let r = markdown::render(&text, d.body_line, "", &links);
    let problems = r
        .problems
        .into_iter()
        .map(|(l, m)| Problem::new(&source, Some(l), m))
        .collect();
    let body = Body {
        html: r.html,
        headings: r.headings,
    };
    (body, r.links, problems)
}

fn tag_links(uses: Vec<LinkUse>, source: &str) -> Vec<(String, LinkUse)> {
    uses.into_iter().map(|u| (source.to_string(), u)).collect()
}
