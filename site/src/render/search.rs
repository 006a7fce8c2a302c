//! The site search: what the other steps rendered, fed to the `search`
//! crate's index as it is made, one entry per page with its headed parts
//! (document shards go out as they fill, so a large site's text is never all
//! held), then the term shards and the search page.

use super::context::Shared;
use super::emit::Outputs;
use crate::model::content::Doc;
use crate::problem::Problem;
use forms::FormDef;
use search::{Prepared, SEARCH_PAGE};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Time spent on the search index (page text split, terms counted, merged,
/// files made and written), summed over the threads that spent it: the
/// build logs it beside its own time (`RUST_LOG=debug`), and
/// `tests/bench/build.sh` puts it against the process's CPU time.
#[derive(Default)]
pub(super) struct Spent(AtomicU64);

impl Spent {
    pub(super) fn on<T>(&self, run: impl FnOnce() -> T) -> T {
        let clock = Instant::now();
        let out = run();
        let nanos = u64::try_from(clock.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(nanos, Ordering::Relaxed);
        out
    }

    pub(super) fn millis(&self) -> f64 {
        self.0.load(Ordering::Relaxed) as f64 / 1e6
    }
}

/// The search documents of a content page: its opening and each headed
/// section. The home page is left out (it only lists other pages).
pub(super) fn page_docs(ctx: &Shared, d: &Doc, body_html: &str) -> Option<Prepared> {
    if d.rel == "_index.md" {
        return None;
    }
    let title = d.meta.title.as_deref().unwrap_or("");
    let section = section_of(ctx, d);
    ctx.search_spent
        .on(|| Prepared::page(search::split_page(&d.output(), title, &section, body_html)))
}

/// The top-level section a page is in, by its title (`通知公告`).
fn section_of(ctx: &Shared, d: &Doc) -> String {
    let top = d.url.split('/').next().unwrap_or("");
    ctx.sections
        .iter()
        .find(|s| !top.is_empty() && s.url.trim_end_matches('/') == top)
        .map(|s| s.title())
        .unwrap_or_default()
}

/// A manual chapter's documents, under `操作手册 › <manual>`.
pub(super) fn chapter_docs(
    ctx: &Shared,
    output: &str,
    chapter: &str,
    manual: &str,
    body_html: &str,
) -> Option<Prepared> {
    let section = format!("操作手册 › {manual}");
    ctx.search_spent
        .on(|| Prepared::page(search::split_page(output, chapter, &section, body_html)))
}

/// A form as one document: its title, description, and each field's label,
/// help and choices, so `统一社会信用代码` finds the forms that ask for it.
pub(super) fn form_doc(f: &FormDef) -> Option<Prepared> {
    let mut text = f.description.clone();
    for field in &f.fields {
        text.push(' ');
        text.push_str(&field.label);
        if !field.help.is_empty() {
            text.push('：');
            text.push_str(&field.help);
        }
        for o in &field.options {
            text.push(' ');
            text.push_str(o);
        }
    }
    let title = match f.annex {
        Some(n) => format!("附件{n} {}", f.title),
        None => f.title.clone(),
    };
    Prepared::page(vec![search::Doc {
        url: forms::paths::FormPaths::of(f).page(),
        title,
        heading: String::new(),
        section: "表格填报".into(),
        text,
    }])
}

/// The search page, `search/index.html`.
pub(super) fn search_page(ctx: &Shared) -> Result<Outputs, Problem> {
    let c = ctx.base(SEARCH_PAGE, "站内搜索", "在通知、操作手册和表格中查找");
    let html = ctx.render("search.html", &c, "templates/search.html")?;
    let mut out = Outputs::new();
    out.insert(SEARCH_PAGE.to_string(), html.into_bytes().into());
    Ok(out)
}
