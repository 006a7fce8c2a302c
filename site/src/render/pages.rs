//! Content pages: the home page, sections and plain pages (notices, 公文,
//! in `notice`). Markdown first ([`render_markdown`]), then the template.

use super::context::{date_zh, form_links, manual_links};
use super::context::{list_item, meta_list, section_pages, Shared, Sizes};
use super::emit::OneFile;
use super::links::{self, DocLinks, Index};
use super::markdown::{self, Heading, LinkUse};
use super::notice::insert_notice;
use super::search::Spent;
use super::views::{ListItem, PageView, SectionLink, SubsectionLink};
use crate::model::content::Doc;
use crate::problem::Problem;
use search::PageText;
use std::path::Path;

/// A rendered Markdown document.
pub(super) struct Body {
    pub(super) html: String,
    pub(super) headings: Vec<Heading>,
    /// Its text for the search index, until the index takes it.
    pub(super) text: Option<PageText>,
}

/// A content doc's Markdown as HTML, with its links (checked against the
/// index as they are resolved) and the problems found, at their lines;
/// with `search`, its text for the search index.
pub(super) fn render_markdown(
    index: &Index,
    content_dir: &Path,
    d: &Doc,
    search: Option<&Spent>,
) -> (Body, Vec<LinkUse>, Vec<Problem>) {
    let empty = || Body {
        html: String::new(),
        headings: Vec::new(),
        text: None,
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
        inlined: std::cell::Cell::new(false),
        book: None,
    };
    let r = markdown::render(&text, d.body_line, "", &links, search);
    let problems = r
        .problems
        .into_iter()
        .map(|(l, m)| Problem::new(&source, Some(l), m))
        .collect();
    let body = Body {
        html: r.html,
        headings: r.headings,
        text: r.text,
    };
    (body, r.links, problems)
}

/// A content doc through its template: the home page (`_index.md`), a
/// section, a notice or a plain page.
pub(super) fn render_doc(ctx: &Shared, d: &Doc, body: &Body, sizes: &Sizes) -> OneFile {
    let output = d.output();
    let source = d.source_str();
    let root = links::root_prefix(&output);
    let title = d.meta.title.as_deref().unwrap_or("");
    let description = d.meta.description.as_deref().unwrap_or("");
    let mut c = ctx.base(&output, title, description);
    let page = PageView {
        title,
        content: &body.html,
        toc: &body.headings,
        date: d.date.map(|d| d.format("%Y-%m-%d").to_string()),
        date_zh: d.date.as_ref().map(date_zh),
        description,
        extra: &d.meta.extra,
    };
    let is_home = d.rel == "_index.md";
    if is_home {
        c.insert("section", &page);
    }
    c.insert(
        if d.is_section && !is_home {
            "section"
        } else {
            "page"
        },
        &page,
    );
    drop(page);
    let default_template = if is_home {
        insert_home(ctx, &mut c, &root, sizes);
        "index.html"
    } else if d.is_section {
        insert_section(ctx, &mut c, d, &root);
        "section.html"
    } else if let Some(n) = &d.meta.notice {
        insert_notice(ctx, &mut c, d, n, &root, sizes)?;
        "notice.html"
    } else {
        insert_page_meta(ctx, &mut c, d);
        "page.html"
    };
    // The home page always has the home template; the others may choose.
    let template = match &d.meta.template {
        Some(t) if !is_home => t.as_str(),
        _ => default_template,
    };
    let html = ctx
        .site
        .theme
        .render_bytes(template, &c)
        .map_err(|e| Problem::new(&source, None, e.to_string()))?;
    Ok((output, html.into()))
}

/// The home page's lists: sections, the newest notices (or pages), forms
/// and manuals.
fn insert_home(ctx: &Shared, c: &mut tera::Context, root: &str, sizes: &Sizes) {
    let sections: Vec<SectionLink> = ctx
        .sections
        .iter()
        .map(|s| SectionLink {
            title: s.meta.title.as_deref().unwrap_or(""),
            href: format!("{root}{}", s.output()),
            description: s.meta.description.as_deref(),
        })
        .collect();
    c.insert("sections", &sections);
    c.insert("recent", &recent(ctx, root, true));
    c.insert("forms", &form_links(ctx, root));
    c.insert("manuals", &manual_links(ctx, root, sizes));
}

/// The ten newest dated pages, notices only when there are any and
/// `notices_first` is set.
pub(super) fn recent(ctx: &Shared, root: &str, notices_first: bool) -> Vec<ListItem> {
    let mut recent: Vec<&Doc> = ctx
        .site
        .content
        .docs
        .iter()
        .filter(|p| !p.is_section && p.date.is_some())
        .collect();
    if notices_first && recent.iter().any(|p| p.meta.notice.is_some()) {
        recent.retain(|p| p.meta.notice.is_some());
    }
    recent.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.rel.cmp(&b.rel)));
    recent.iter().take(10).map(|p| list_item(p, root)).collect()
}

/// A section's pages and subsections.
fn insert_section(ctx: &Shared, c: &mut tera::Context, d: &Doc, root: &str) {
    let pages: Vec<ListItem> = section_pages(ctx.site, d)
        .iter()
        .map(|p| list_item(p, root))
        .collect();
    c.insert("pages", &pages);
    let dir = d.section_dir();
    let subs: Vec<SubsectionLink> = ctx
        .site
        .content
        .docs
        .iter()
        .filter(|s| s.is_section && s.parent_section() == dir)
        .map(|s| SubsectionLink {
            title: s.meta.title.as_deref().unwrap_or(""),
            href: format!("{root}{}", s.output()),
        })
        .collect();
    c.insert("subsections", &subs);
}

/// A dated plain page's article `<meta>` tags.
fn insert_page_meta(ctx: &Shared, c: &mut tera::Context, d: &Doc) {
    let Some(date) = d.date else {
        return;
    };
    let site = &ctx.site.config.site;
    let mut meta: Vec<(&str, String)> = vec![("SiteName", site.title.clone())];
    if !site.domain.is_empty() {
        meta.push(("SiteDomain", site.domain.clone()));
    }
    meta.push(("ArticleTitle", d.title()));
    meta.push(("PubDate", date.format("%Y-%m-%d %H:%M").to_string()));
    meta.push(("ContentSource", site.title.clone()));
    if let Some(description) = d.meta.description.as_deref().filter(|s| !s.is_empty()) {
        meta.push(("Description", description.to_string()));
    }
    c.insert("meta", &meta_list(&meta));
}
