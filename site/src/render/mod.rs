//! Rendering: the model (`crate::model`) in, every output file out, each
//! link and anchor checked. [`render_full`] is the pipeline, a short list of
//! named steps, each timed (`RUST_LOG=debug`):
//!
//! 1. `index`: every output path, known before anything renders;
//! 2. `manuals`, `spreadsheets`: the files whose sizes the pages show;
//! 3. `pages`: every content page, Markdown then template, in parallel;
//! 4. `forms`, `extras`, `feeds`, `copies`: form pages, generated pages,
//!    sitemap/feed/robots, and files copied as they are;
//! 5. `check`: anchors across pages, once every page's ids are known.
//!
//! Beside it, one file per step or kind of output: `index`, `manuals`,
//! `pages` (with `notice`), `form_pages`, `extras` (with `feeds`), `check`;
//! `context` and `views` are what templates get; `emit` is where files go
//! (with the link scan run on each as it goes); `update` re-renders one page
//! after an edit, for `gazette serve`, from what `built` keeps.

mod built;
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
mod notice;
mod pages;
mod pdf;
mod search;
mod update;
mod views;

#[cfg(test)]
mod tests;

pub(crate) use built::Built;
use built::SearchKey;
pub use emit::Outputs;
pub(crate) use emit::Sink;

use check::{check_anchors, Ids};
use context::{Shared, Sizes};
use emit::{emit, Emitted};
use extras::{copy_files, render_extras, render_feeds};
use form_pages::render_form;
use index::{build_index, form_xlsx};
use links::Index;
use manuals::render_manual;
use markdown::LinkUse;
use pages::{render_doc, render_markdown, Body};

use crate::model::Site;
use crate::problem::Problem;
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

/// Renders every output into `sink`; on any problem, returns all of them.
pub(crate) fn render_full(site: &Site, sink: &Sink) -> Result<Built, Vec<Problem>> {
    let index = timed("index", || build_index(site))?;
    let ctx = Shared::new(site, &index);
    let mut made = Made::new(sink, &index, &ctx.search_spent);
    made.later.extend(site.manual_problems.iter().cloned());
    timed("pdfs", || pdfs(&ctx, &mut made));
    let (manual_sizes, manual_links) = timed("manuals", || manuals(&ctx, &mut made));
    let file_sizes = timed("spreadsheets", || spreadsheets(&ctx, &mut made));
    // The pages show these files' sizes: they must all be there.
    made.stop_on_problems()?;
    let mut sizes = Sizes {
        manual: manual_sizes,
        files: file_sizes,
    };
    sizes.files.extend(
        ctx.pdf_sizes
            .get()
            .into_iter()
            .flatten()
            .map(|(p, n)| (p.clone(), *n)),
    );
    let (bodies, doc_links) = timed("pages", || pages(&ctx, &sizes, &mut made));
    timed("forms", || forms(&ctx, &sizes, &mut made));
    timed("search", || search_index(&ctx, &mut made));
    timed("extras", || extras(&ctx, &mut made));
    timed("feeds", || made.emit_all(render_feeds(&ctx)));
    timed("copies", || copies(site, &mut made));
    let links = Links {
        doc_links,
        manual_links,
    };
    let search_files = std::mem::take(&mut made.search_files);
    let search_pages = made.search_pages.take();
    tracing::debug!(
        "search index: {:.1} ms over all threads",
        ctx.search_spent.millis()
    );
    let tally = timed("check", || check(site, made, &links))?;
    Ok(Built {
        outputs: tally.outputs,
        files: tally.files,
        bytes: tally.bytes,
        pages: tally.pages,
        index,
        bodies,
        doc_links: links.doc_links,
        manual_links: links.manual_links,
        sizes,
        ids: tally.ids,
        search_files,
        warnings: tally.warnings,
        search_pages,
    })
}

/// Runs one step and logs how long it took, at debug level.
fn timed<T>(step: &str, run: impl FnOnce() -> T) -> T {
    let clock = Instant::now();
    let out = run();
    tracing::debug!("{step}: {:.1} ms", clock.elapsed().as_secs_f64() * 1000.0);
    out
}

/// The files made so far (each handed to the sink as it was made) and the
/// problems found.
struct Made<'a> {
    sink: &'a Sink,
    index: &'a Index,
    search_spent: &'a search::Spent,
    emitted: Vec<Emitted>,
    problems: Vec<Problem>,
    /// The search index, fed by every step that renders text.
    search: ::search::Builder,
    /// The index files written (their names depend on the site's size).
    search_files: HashSet<String>,
    /// A copy of every search page, for [`Built::search_pages`].
    search_pages: Option<Vec<(SearchKey, ::search::Prepared)>>,
    /// Problems that do not stop the later steps (the manuals'), reported
    /// with the check's.
    later: Vec<Problem>,
}

/// What the build made, counted; every page's ids.
#[derive(Default)]
struct Tally {
    /// Every file, when rendered into [`Sink::Memory`].
    outputs: Outputs,
    files: usize,
    bytes: usize,
    pages: usize,
    ids: HashMap<String, html::IdSet>,
    /// Problems of manuals published under `warn`.
    warnings: Vec<Problem>,
}

/// The Markdown links of the content docs (in `site.content.docs` order)
/// and of the manuals, kept for the anchor check and for updates.
struct Links {
    doc_links: Vec<Vec<LinkUse>>,
    manual_links: Vec<(String, LinkUse)>,
}

impl<'a> Made<'a> {
    fn new(sink: &'a Sink, index: &'a Index, search_spent: &'a search::Spent) -> Self {
        Made {
            sink,
            index,
            search_spent,
            emitted: Vec::new(),
            problems: Vec::new(),
            search: ::search::Builder::new(),
            search_files: HashSet::new(),
            // Only `gazette serve` updates the index; a build keeps no copy.
            search_pages: matches!(sink, Sink::Memory).then(Vec::new),
            later: Vec::new(),
        }
    }

    /// Adds a page to the search index; a document shard that fills goes
    /// out at once.
    fn index_text(&mut self, key: SearchKey, page: Option<::search::Prepared>) {
        let Some(page) = page else { return };
        let spent = self.search_spent;
        spent.on(|| {
            if let Some(kept) = &mut self.search_pages {
                kept.push((key, page.clone()));
            }
            if let Some((path, text)) = self.search.add(page) {
                self.search_files.insert(path.clone());
                self.emit(path, text.into_bytes().into());
            }
        })
    }

    fn emit(&mut self, path: String, bytes: Arc<[u8]>) {
        self.emitted.push(emit(self.sink, self.index, path, bytes));
    }

    fn emit_all(&mut self, files: Outputs) {
        for (path, bytes) in files {
            self.emit(path, bytes);
        }
    }

    fn stop_on_problems(&mut self) -> Result<(), Vec<Problem>> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(sorted(std::mem::take(&mut self.problems)))
        }
    }
}

/// Every manual's pages and download; returns the download sizes by manual
/// id and the Markdown links found.
fn manuals(ctx: &Shared, made: &mut Made) -> (HashMap<String, usize>, Vec<(String, LinkUse)>) {
    let mut sizes = HashMap::new();
    let mut uses = Vec::new();
    for m in &ctx.site.manuals {
        let sink = made.sink;
        let manual = render_manual(ctx, m, sink, &mut |chapter| {
            made.index_text(SearchKey::Chapter, Some(chapter))
        });
        sizes.insert(m.id.clone(), manual.download_size);
        made.emitted.extend(manual.files);
        uses.extend(manual.links);
        // Reported with everything else at the end: the rest of the build
        // does not depend on them.
        made.later.extend(manual.problems);
    }
    (sizes, uses)
}

/// The notice, blank forms and manuals as PDFs, before the pages that
/// link to them with their sizes.
fn pdfs(ctx: &Shared, made: &mut Made) {
    let (files, problems) = pdf::render_pdfs(ctx);
    let sizes = files.iter().map(|(p, b)| (p.clone(), b.len())).collect();
    let _ = ctx.pdf_sizes.set(sizes);
    made.emit_all(files);
    made.problems.extend(problems);
}

/// Every form's blank spreadsheet; returns their sizes by output path.
fn spreadsheets(ctx: &Shared, made: &mut Made) -> HashMap<String, usize> {
    let mut sizes = HashMap::new();
    for f in &ctx.site.forms {
        match forms::sheet::blank_xlsx(f, &ctx.instructions) {
            Ok(bytes) => {
                sizes.insert(form_xlsx(f), bytes.len());
                made.emit(form_xlsx(f), bytes.into());
            }
            Err(e) => made.problems.push(Problem::new(
                format!("content/forms/{}.toml", f.id),
                None,
                e,
            )),
        }
    }
    sizes
}

/// Every content page: Markdown, template and out, in parallel, so that no
/// more than a few pages are held at a time. Returns the sections' bodies
/// (by doc index) and every doc's Markdown links.
fn pages(
    ctx: &Shared,
    sizes: &Sizes,
    made: &mut Made,
) -> (HashMap<usize, Body>, Vec<Vec<LinkUse>>) {
    /// One doc after rendering: its body if it is a section, its links,
    /// its problems and the file made.
    type Doc = (
        Option<Body>,
        Vec<LinkUse>,
        Vec<Problem>,
        Option<Emitted>,
        Option<::search::Prepared>,
    );
    let content_dir = ctx.site.root.join("content");
    let (sink, index) = (made.sink, made.index);
    let mut doc_links = Vec::with_capacity(ctx.site.content.docs.len());
    let mut bodies = HashMap::new();
    let render = |d: &crate::model::content::Doc| -> Doc {
        let (mut body, links, problems) =
            render_markdown(index, &content_dir, d, Some(&ctx.search_spent));
        if !problems.is_empty() {
            return (None, links, problems, None, None);
        }
        match render_doc(ctx, d, &body, sizes) {
            Ok((path, bytes)) => {
                let e = emit(sink, index, path, bytes);
                let found = body
                    .text
                    .take()
                    .and_then(|text| search::page_docs(ctx, d, text));
                (
                    d.is_section.then_some(body),
                    links,
                    Vec::new(),
                    Some(e),
                    found,
                )
            }
            Err(p) => (None, links, vec![p], None, None),
        }
    };
    // What is kept of each doc, and its search terms merged into the index,
    // in doc order (which numbers the search documents); in chunks, so that
    // no more than two chunks' search terms are held before they are merged.
    overlapped(
        &ctx.site.content.docs,
        256,
        |_, chunk| chunk.par_iter().map(&render).collect(),
        |first, docs: Vec<Doc>| {
            for (i, (body, links, problems, e, found)) in docs.into_iter().enumerate() {
                if let Some(b) = body {
                    bodies.insert(first + i, b);
                }
                doc_links.push(links);
                made.problems.extend(problems);
                made.emitted.extend(e);
                made.index_text(SearchKey::Doc(first + i), found);
            }
        },
    );
    (bodies, doc_links)
}

/// `items` rendered chunk by chunk on every core, each chunk handed to
/// `keep` (with the index of its first item) on one thread while the next
/// one renders, so a serial step after rendering (merging search terms,
/// writing a file in order) leaves no core idle, and no more than two
/// chunks are held at a time.
fn overlapped<T: Sync, R: Send>(
    items: &[T],
    chunk: usize,
    render: impl Fn(usize, &[T]) -> Vec<R> + Sync,
    mut keep: impl FnMut(usize, Vec<R>) + Send,
) {
    let mut done: (usize, Vec<R>) = (0, Vec::new());
    for (c, part) in items.chunks(chunk).enumerate() {
        let (first, rendered) = std::mem::take(&mut done);
        let ((), next) = rayon::join(|| keep(first, rendered), || render(c * chunk, part));
        done = (c * chunk, next);
    }
    keep(done.0, done.1);
}

/// Each form's page and printable blank.
fn forms(ctx: &Shared, sizes: &Sizes, made: &mut Made) {
    let files: Vec<emit::OneFile> = ctx
        .site
        .forms
        .par_iter()
        .flat_map_iter(|f| render_form(ctx, f, sizes))
        .collect();
    for file in files {
        match file {
            Ok((path, bytes)) => made.emit(path, bytes),
            Err(p) => made.problems.push(p),
        }
    }
    for f in &ctx.site.forms {
        let doc = ctx.search_spent.on(|| search::form_doc(f));
        made.index_text(SearchKey::Form, doc);
    }
}

/// The rest of the search index (term shards, the last documents) and the
/// search page.
fn search_index(ctx: &Shared, made: &mut Made) {
    let spent = &ctx.search_spent;
    let finished = spent.on(|| std::mem::take(&mut made.search).finish());
    let (sink, index) = (made.sink, made.index);
    // Each file made and written by itself, in parallel: the term shards
    // are most of the index's bytes, and none waits for the others.
    let files: Vec<Emitted> = (0..finished.len())
        .into_par_iter()
        .map(|i| {
            spent.on(|| {
                let (path, text) = finished.file(i);
                emit(sink, index, path, text.into_bytes())
            })
        })
        .collect();
    made.search_files
        .extend(files.iter().map(|e| e.path.clone()));
    made.emitted.extend(files);
    match search::search_page(ctx) {
        Ok(files) => made.emit_all(files),
        Err(p) => made.problems.push(p),
    }
}

/// The pages without a source: home (when there is no `_index.md`), the
/// forms and manuals lists, 404.
fn extras(ctx: &Shared, made: &mut Made) {
    match render_extras(ctx) {
        Ok(files) => made.emit_all(files),
        Err(p) => made.problems.push(p),
    }
}

/// The theme's static files, then the site's own files copied as they are
/// (a site's `static/style.css` replaces the theme's).
fn copies(site: &Site, made: &mut Made) {
    let mut files: Outputs = site
        .theme
        .statics()
        .map(|(name, bytes)| (name.to_string(), bytes.into()))
        .collect();
    if let Err(p) = copy_files(site, &mut files) {
        made.problems.extend(p);
    }
    made.emit_all(files);
}

/// Anchors across pages, now that every page's ids are known; then what the
/// build made, counted. Every step's problems are reported together, each
/// once; those of a manual published under `warn` become warnings.
fn check(site: &Site, made: Made, links: &Links) -> Result<Tally, Vec<Problem>> {
    let Made {
        emitted,
        mut problems,
        later,
        ..
    } = made;
    problems.extend(later);
    let mut built = Tally::default();
    let mut pending = Vec::new();
    let mut template_problems = Vec::new();
    for e in emitted {
        built.files += 1;
        built.bytes += e.len;
        if let Some(set) = e.ids {
            built.pages += 1;
            built.ids.insert(e.path.clone(), set);
        }
        pending.extend(e.pending);
        template_problems.extend(e.problems);
        if let Some(b) = e.bytes {
            built.outputs.insert(e.path, b);
        }
    }
    let ids = Ids {
        base: &built.ids,
        overlay: None,
    };
    let uses = site
        .content
        .docs
        .iter()
        .zip(&links.doc_links)
        .flat_map(|(d, links)| links.iter().map(move |u| (d.source_str(), u)))
        .chain(links.manual_links.iter().map(|(s, u)| (s.clone(), u)));
    let found = check_anchors(uses, &pending, template_problems, &ids, &problems);
    problems.extend(found);
    let (errors, warnings) = check::by_policy(site, sorted(problems));
    if errors.is_empty() {
        built.warnings = warnings;
        Ok(built)
    } else {
        let mut all = errors;
        all.extend(warnings);
        Err(sorted(all))
    }
}

fn sorted(mut problems: Vec<Problem>) -> Vec<Problem> {
    problems.sort();
    problems.dedup();
    problems
}
