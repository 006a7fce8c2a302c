//! Pages that have no source file (the forms and manuals indexes, 404, the
//! feeds, robots.txt) and files copied as they are.

use super::*;

/// Home page (when content has no `_index.md`), the forms and manuals lists,
/// 404, sitemap, feed and robots.txt.
pub(super) fn render_extras(ctx: &Shared) -> Result<Outputs, Problem> {
    let site = ctx.site;
    let mut out = Outputs::new();
    if !site.content.docs.iter().any(|d| d.rel == "_index.md") {
        let root = "";
        let mut c = ctx.base(
            "index.html",
            &site.config.site.title,
            &site.config.site.description,
        );
        c.insert(
            "page",
            &json!({"title": site.config.site.title, "content": ""}),
        );
        c.insert(
            "section",
            &json!({"title": site.config.site.title, "content": ""}),
        );
        let mut recent: Vec<&Doc> = site
            .content
            .docs
            .iter()
            .filter(|p| !p.is_section && p.date.is_some())
            .collect();
        recent.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.rel.cmp(&b.rel)));
        let recent: Vec<ListItem> = recent.iter().take(10).map(|p| list_item(p, root)).collect();
        c.insert("recent", &recent);
        let sections: Vec<_> = site
            .content
            .docs
            .iter()
            .filter(|s| s.is_section && s.parent_section().is_empty())
            .map(|s| json!({"title": s.title(), "href": s.output(), "description": s.meta.description}))
            .collect();
        c.insert("sections", &sections);
        c.insert("forms", &form_links(ctx, root));
        let empty = Sizes {
            manual: HashMap::new(),
            files: HashMap::new(),
        };
        c.insert("manuals", &manual_links(ctx, root, &empty));
        out.insert(
            "index.html".into(),
            ctx.render("index.html", &c, "index.html")?
                .into_bytes()
                .into(),
        );
    }
    for (output, title, items) in [
        ("forms/index.html", "表格填报", form_links(ctx, "../")),
        (
            "manuals/index.html",
            "操作手册",
            manual_links(
                ctx,
                "../",
                &Sizes {
                    manual: HashMap::new(),
                    files: HashMap::new(),
                },
            ),
        ),
    ] {
        if items.is_empty() {
            continue;
        }
        let mut c = ctx.base(output, title, "");
        let pages: Vec<_> = items
            .iter()
            .map(|i| {
                let annex = i["annex"].as_u64().map(|n| format!("附件{n} ")).unwrap_or_default();
                json!({"title": format!("{annex}{}", i["title"].as_str().unwrap_or("")), "href": i["href"], "date": "", "date_zh": "", "description": i["description"], "doc_number": ""})
            })
            .collect();
        c.insert("section", &json!({"title": title, "content": ""}));
        c.insert("page", &json!({"title": title, "content": ""}));
        c.insert("pages", &pages);
        c.insert("subsections", &Vec::<String>::new());
        out.insert(
            output.into(),
            ctx.render("section.html", &c, output)?.into_bytes().into(),
        );
    }
    // 404 is served at any depth: its links are root-absolute.
    let root = if site.config.site.base_url.is_empty() {
        "/".to_string()
    } else {
        format!("{}/", site.config.site.base_url.trim_end_matches('/'))
    };
    let c = ctx.base_at("404.html", &root, "页面不存在", "");
    out.insert(
        "404.html".into(),
        ctx.render("404.html", &c, "404.html")?.into_bytes().into(),
    );
    out.insert(
        "sitemap.xml".into(),
        crate::render::feeds::sitemap(ctx.site, &|o| ctx.absolute(o))
            .into_bytes()
            .into(),
    );
    out.insert(
        "atom.xml".into(),
        crate::render::feeds::atom(ctx.site, &|o| ctx.absolute(o))
            .into_bytes()
            .into(),
    );
    out.insert(
        "robots.txt".into(),
        crate::render::feeds::robots(ctx.site).into_bytes().into(),
    );
    Ok(out)
}

/// Content assets, manual images and the site's `static/` folder.
pub(super) fn copy_files(site: &Site, out: &mut Outputs) -> Result<(), Vec<Problem>> {
    let mut jobs: Vec<(PathBuf, String)> = Vec::new();
    for a in &site.content.assets {
        jobs.push((site.root.join("content").join(&a.rel), a.rel.clone()));
    }
    for m in &site.manuals {
        for a in &m.assets {
            jobs.push((
                site.root.join(&m.src_dir).join(a),
                format!("{}{a}", m.out_dir()),
            ));
        }
    }
    let mut files = Vec::new();
    walk_files(&site.root.join("static"), "", &mut files);
    for f in files {
        jobs.push((site.root.join("static").join(&f), f));
    }
    let read: Vec<Rendered> = jobs
        .into_par_iter()
        .map(|(from, to)| {
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
