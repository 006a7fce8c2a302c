//! Pages that have no source file (the home page when there is no
//! `_index.md`, the forms and manuals indexes, 404), the feeds and
//! robots.txt, and files copied as they are.

use super::context::{form_links, manual_links, Shared, Sizes};
use super::emit::{OneFile, Outputs};
use super::feeds;
use super::index::walk_files;
use super::pages::recent;
use super::views::{BlankPage, ListItem, SectionLink};
use crate::model::Site;
use crate::problem::Problem;
use forms::paths::FORMS_INDEX;
use rayon::prelude::*;
use std::path::PathBuf;

/// Home page (when content has no `_index.md`), the forms and manuals lists
/// and 404.
pub(super) fn render_extras(ctx: &Shared) -> Result<Outputs, Problem> {
    let mut out = Outputs::new();
    if !ctx.site.content.docs.iter().any(|d| d.rel == "_index.md") {
        out.insert("index.html".into(), default_home(ctx)?.into_bytes().into());
    }
    for (output, html) in list_pages(ctx)? {
        out.insert(output.into(), html.into_bytes().into());
    }
    out.insert("404.html".into(), not_found(ctx)?.into_bytes().into());
    Ok(out)
}

/// sitemap.xml, atom.xml and robots.txt.
pub(super) fn render_feeds(ctx: &Shared) -> Outputs {
    let abs = |o: &str| ctx.absolute(o);
    let mut out = Outputs::new();
    out.insert(
        "sitemap.xml".into(),
        feeds::sitemap(ctx.site, &abs).into_bytes().into(),
    );
    out.insert(
        "atom.xml".into(),
        feeds::atom(ctx.site, &abs).into_bytes().into(),
    );
    out.insert(
        "robots.txt".into(),
        feeds::robots(ctx.site).into_bytes().into(),
    );
    out
}

/// The home page of a site whose content has no `_index.md`.
fn default_home(ctx: &Shared) -> Result<String, Problem> {
    let site = &ctx.site.config.site;
    let mut c = ctx.base("index.html", &site.title, &site.description);
    let blank = BlankPage {
        title: &site.title,
        content: "",
    };
    c.insert("page", &blank);
    c.insert("section", &blank);
    c.insert("recent", &recent(ctx, "", false));
    let sections: Vec<SectionLink> = ctx
        .site
        .content
        .docs
        .iter()
        .filter(|s| s.is_section && s.parent_section().is_empty())
        .map(|s| SectionLink {
            title: s.meta.title.as_deref().unwrap_or(""),
            href: s.output(),
            description: s.meta.description.as_deref(),
        })
        .collect();
    c.insert("sections", &sections);
    c.insert("forms", &form_links(ctx, ""));
    c.insert("manuals", &manual_links(ctx, "", &Sizes::none()));
    ctx.render("index.html", &c, "index.html")
}

/// 表格填报 and 操作手册: the forms and the manuals as section pages.
fn list_pages(ctx: &Shared) -> Result<Vec<(&'static str, String)>, Problem> {
    let item = |annex: Option<u32>, title: &str, href: &str, description: &str| ListItem {
        title: format!(
            "{}{title}",
            annex.map(|n| format!("附件{n} ")).unwrap_or_default()
        ),
        href: href.to_string(),
        date: String::new(),
        date_zh: String::new(),
        date_unconfirmed: false,
        description: description.to_string(),
        doc_number: String::new(),
    };
    let forms: Vec<ListItem> = form_links(ctx, "../")
        .iter()
        .map(|f| item(f.annex, f.title, &f.href, f.description))
        .collect();
    let manuals: Vec<ListItem> = manual_links(ctx, "../", &Sizes::none())
        .iter()
        .map(|m| item(m.annex, m.title, &m.href, m.description))
        .collect();
    let mut out = Vec::new();
    for (output, title, pages) in [
        (FORMS_INDEX, "表格填报", forms),
        ("manuals/index.html", "操作手册", manuals),
    ] {
        if pages.is_empty() {
            continue;
        }
        let mut c = ctx.base(output, title, "");
        let blank = BlankPage { title, content: "" };
        c.insert("section", &blank);
        c.insert("page", &blank);
        c.insert("pages", &pages);
        c.insert("subsections", &Vec::<String>::new());
        out.push((output, ctx.render("section.html", &c, output)?));
    }
    Ok(out)
}

/// 404 is served at any depth: its links are root-absolute.
fn not_found(ctx: &Shared) -> Result<String, Problem> {
    let base_url = &ctx.site.config.site.base_url;
    let root = if base_url.is_empty() {
        "/".to_string()
    } else {
        format!("{}/", base_url.trim_end_matches('/'))
    };
    let c = ctx.base_at("404.html", &root, "页面不存在", "");
    ctx.render("404.html", &c, "404.html")
}

/// Content assets, manual images and the site's `static/` folder.
pub(super) fn copy_files(site: &Site, out: &mut Outputs) -> Result<(), Vec<Problem>> {
    // (source, output, the folder a link in it must stay inside)
    let mut jobs: Vec<(PathBuf, String, PathBuf)> = Vec::new();
    let content = site.root.join("content");
    for a in &site.content.assets {
        jobs.push((content.join(&a.rel), a.rel.clone(), content.clone()));
    }
    for m in &site.manuals {
        let src = site.root.join(&m.src_dir);
        for a in &m.assets {
            jobs.push((src.join(a), format!("{}{a}", m.out_dir()), src.clone()));
        }
    }
    let mut files = Vec::new();
    let statics = site.root.join("static");
    walk_files(&statics, "", &mut files);
    for f in files {
        jobs.push((statics.join(&f), f, statics.clone()));
    }
    let read: Vec<OneFile> = jobs
        .into_par_iter()
        .map(|(from, to, folder)| {
            if let Some(m) = crate::model::content::link_problem(&from, &folder) {
                return Err(Problem::new(
                    from.strip_prefix(&site.root).unwrap_or(&from),
                    None,
                    m,
                ));
            }
            std::fs::read(&from).map(|b| (to, b.into())).map_err(|e| {
                Problem::new(
                    from.strip_prefix(&site.root).unwrap_or(&from),
                    None,
                    e.to_string(),
                )
            })
        })
        .collect();
    let mut problems = Vec::new();
    for r in read {
        match r {
            Ok((to, b)) => {
                out.insert(to, b);
            }
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
