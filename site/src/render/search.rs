//! The site search: what the other steps rendered, fed to the `search`
//! crate's index as it is made, one entry per page with its headed parts
//! (document shards go out as they fill, so a large site's text is never all
//! held), then the term shards and the search page.

use super::context::Shared;
use super::emit::Outputs;
use crate::model::content::Doc;
use crate::problem::Problem;
use forms::FormDef;
use pulldown_cmark::{Event, HeadingLevel, Tag, TagEnd};
use search::{PageText, Prepared, SEARCH_PAGE};
use std::collections::HashMap;
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
pub(super) fn page_docs(ctx: &Shared, d: &Doc, text: PageText) -> Option<Prepared> {
    if d.rel == "_index.md" {
        return None;
    }
    let title = d.meta.title.as_deref().unwrap_or("");
    let section = section_of(ctx, d);
    ctx.search_spent
        .on(|| Some(Prepared::of_text(text, &d.output(), title, &section)))
}

/// A page's text for the search index, from the events its HTML is about
/// to be written from: what [`search::split_page`] would find in that HTML
/// (tested on every bundled page and chapter), without scanning it. Text
/// and code as they read; a space wherever `push_html` writes white space
/// or a block ends; raw HTML scanned; an image's description (an
/// attribute) left out; footnote marks numbered as `push_html` numbers
/// them.
pub(super) fn page_text<'e>(events: &'e [Event<'e>], spent: &Spent, source_len: usize) -> PageText {
    spent.on(|| {
        // Room for the text as long as its Markdown (a hint, not a limit).
        let mut page = PageText::with_capacity(source_len);
        // Raw HTML events in a row, scanned as one (a tag may span lines).
        let mut html = String::new();
        let mut numbers: HashMap<&'e str, usize> = HashMap::new();
        // Depth inside an image: its text is its `alt` attribute.
        let mut in_image = 0usize;
        for event in events {
            if in_image > 0 {
                match event {
                    Event::Start(_) => in_image += 1,
                    Event::End(_) => in_image -= 1,
                    Event::FootnoteReference(name) => _ = number(&mut numbers, name),
                    _ => {}
                }
                continue;
            }
            if !html.is_empty() && !matches!(event, Event::Html(_) | Event::InlineHtml(_)) {
                page.html(&html);
                html.clear();
            }
            match event {
                Event::Html(h) | Event::InlineHtml(h) => html.push_str(h),
                Event::Text(t) | Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => {
                    page.text(t)
                }
                Event::SoftBreak | Event::HardBreak | Event::Rule | Event::TaskListMarker(_) => {
                    page.space()
                }
                Event::FootnoteReference(name) => page.text(&number(&mut numbers, name)),
                Event::Start(tag) => match tag {
                    Tag::Heading {
                        level: HeadingLevel::H2 | HeadingLevel::H3,
                        id: Some(id),
                        ..
                    } => {
                        page.space();
                        page.start_heading(id);
                    }
                    Tag::Image { .. } => in_image = 1,
                    Tag::FootnoteDefinition(name) => {
                        page.space();
                        page.text(&number(&mut numbers, name));
                    }
                    Tag::Paragraph
                    | Tag::Heading { .. }
                    | Tag::BlockQuote(_)
                    | Tag::CodeBlock(_)
                    | Tag::List(_)
                    | Tag::Item
                    | Tag::DefinitionList
                    | Tag::DefinitionListTitle
                    | Tag::DefinitionListDefinition => page.space(),
                    // Inline tags, table parts (no white space before
                    // them in the HTML), raw HTML's container.
                    _ => {}
                },
                Event::End(tag) => match tag {
                    TagEnd::Heading(HeadingLevel::H2 | HeadingLevel::H3) => {
                        page.end_heading();
                        page.space();
                    }
                    TagEnd::Emphasis
                    | TagEnd::Strong
                    | TagEnd::Strikethrough
                    | TagEnd::Link
                    | TagEnd::Subscript
                    | TagEnd::Superscript
                    | TagEnd::Image
                    | TagEnd::HtmlBlock
                    | TagEnd::MetadataBlock(_) => {}
                    _ => page.space(),
                },
            }
        }
        if !html.is_empty() {
            page.html(&html);
        }
        page
    })
}

/// A footnote's number: in order of first mention, reference or definition.
fn number<'e>(numbers: &mut HashMap<&'e str, usize>, name: &'e str) -> String {
    let next = numbers.len() + 1;
    numbers.entry(name).or_insert(next).to_string()
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
    text: PageText,
) -> Prepared {
    let section = format!("操作手册 › {manual}");
    ctx.search_spent
        .on(|| Prepared::of_text(text, output, chapter, &section))
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
