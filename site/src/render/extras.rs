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
    out.insert(SITE_MAP.into(), site_map(ctx)?.into_bytes().into());
    Ok(out)
}

/// The 网站地图 page, linked from every footer.
pub(super) const SITE_MAP: &str = "sitemap/index.html";

#[derive(serde::Serialize)]
struct MapGroup {
    title: String,
    href: String,
    items: Vec<MapItem>,
}

#[derive(serde::Serialize)]
struct MapItem {
    title: String,
    href: String,
}

/// 网站地图: the home page, every top-level section with its pages, the
/// forms, the manuals and the search.
fn site_map(ctx: &Shared) -> Result<String, Problem> {
    let root = "../";
    let mut groups = vec![MapGroup {
        title: "首页".into(),
        href: format!("{root}index.html"),
        items: Vec::new(),
    }];
    for s in &ctx.sections {
        let dir = s.url.clone();
        let items = ctx
            .site
            .content
            .docs
            .iter()
            .filter(|d| !d.is_section && !d.meta.draft && d.url.starts_with(&dir) && d.url != dir)
            .map(|d| MapItem {
                title: d.title(),
                href: format!("{root}{}", d.output()),
            })
            .collect();
        groups.push(MapGroup {
            title: s.title(),
            href: format!("{root}{}", s.output()),
            items,
        });
    }
    let forms: Vec<MapItem> = form_links(ctx, root)
        .iter()
        .map(|f| MapItem {
            title: match f.annex {
                Some(n) => format!("附件{n} {}", f.title),
                None => f.title.to_string(),
            },
            href: f.href.clone(),
        })
        .collect();
    if !forms.is_empty() {
        groups.push(MapGroup {
            title: "表格填报".into(),
            href: format!("{root}{FORMS_INDEX}"),
            items: forms,
        });
    }
    let manuals: Vec<MapItem> = manual_links(ctx, root, &Sizes::none())
        .iter()
        .map(|m| MapItem {
            title: match m.annex {
                Some(n) => format!("附件{n} {}", m.title),
                None => m.title.to_string(),
            },
            href: m.href.clone(),
        })
        .collect();
    if !manuals.is_empty() {
        groups.push(MapGroup {
            title: "操作手册".into(),
            href: format!("{root}manuals/index.html"),
            items: manuals,
        });
    }
    groups.push(MapGroup {
        title: "站内搜索".into(),
        href: format!("{root}{}", ::search::SEARCH_PAGE),
        items: Vec::new(),
    });
    let mut c = ctx.base(SITE_MAP, "网站地图", "");
    c.insert("groups", &groups);
    ctx.render("sitemap.html", &c, "templates/sitemap.html")
}

/// sitemap.xml, atom.xml and robots.txt. The first two only with a
/// `base_url`: both formats require absolute URLs, so without one they
/// are left out (and the build says so) rather than written invalid.
pub(super) fn render_feeds(ctx: &Shared) -> Outputs {
    let mut out = Outputs::new();
    if ctx.site.config.site.base_url.is_empty() {
        tracing::info!(
            "sitemap.xml and atom.xml not written: they need absolute URLs and [site] base_url is empty"
        );
    } else {
        let abs = |o: &str| ctx.absolute(o);
        out.insert(
            "sitemap.xml".into(),
            feeds::sitemap(ctx.site, &abs).into_bytes().into(),
        );
        out.insert(
            "atom.xml".into(),
            feeds::atom(ctx.site, &abs).into_bytes().into(),
        );
    }
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
    let form_links = form_links(ctx, "../");
    let forms: Vec<ListItem> = form_links
        .iter()
        .map(|f| item(f.annex, f.title, &f.href, f.description))
        .collect();
    // With several notices that have forms, each form is listed under
    // the notice that makes it an annex (in the notice's order).
    let notices: Vec<_> = ctx
        .site
        .content
        .docs
        .iter()
        .filter_map(|d| Some((d, d.meta.notice.as_ref()?)))
        .filter(|(_, n)| n.attachments.iter().any(|a| a.form.is_some()))
        .collect();
    let mut groups: Vec<FormGroup> = Vec::new();
    if notices.len() > 1 {
        let mut listed = std::collections::HashSet::new();
        for (d, n) in &notices {
            let items: Vec<ListItem> = n
                .attachments
                .iter()
                .filter_map(|a| a.form.as_deref())
                .filter_map(|id| {
                    let i = ctx.site.forms.iter().position(|f| f.id == id)?;
                    listed.insert(i);
                    let f = &form_links[i];
                    Some(item(f.annex, f.title, &f.href, f.description))
                })
                .collect();
            groups.push(FormGroup {
                title: d.meta.title.clone().unwrap_or_default(),
                doc_number: n.doc_number.clone(),
                href: format!("../{}", d.output()),
                items,
            });
        }
        let rest: Vec<ListItem> = form_links
            .iter()
            .enumerate()
            .filter(|(i, _)| !listed.contains(i))
            .map(|(_, f)| item(f.annex, f.title, &f.href, f.description))
            .collect();
        if !rest.is_empty() {
            groups.push(FormGroup {
                title: "其他表格".into(),
                doc_number: String::new(),
                href: String::new(),
                items: rest,
            });
        }
    }
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
        let groups: &[FormGroup] = if output == FORMS_INDEX { &groups } else { &[] };
        let mut c = ctx.base(output, title, "");
        let blank = BlankPage { title, content: "" };
        c.insert("section", &blank);
        c.insert("page", &blank);
        c.insert("pages", &pages);
        c.insert("groups", groups);
        c.insert("subsections", &Vec::<String>::new());
        out.push((output, ctx.render("section.html", &c, output)?));
    }
    Ok(out)
}

/// The forms one notice makes its annexes, for the 表格填报 list.
#[derive(serde::Serialize)]
struct FormGroup {
    title: String,
    doc_number: String,
    href: String,
    items: Vec<ListItem>,
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
