//! Content pages: sections, plain pages, the home page and notices (公文).

use super::*;

pub(super) fn render_doc(ctx: &Shared, d: &Doc, body: &Body, sizes: &Sizes) -> Rendered {
    let output = d.output();
    let source = format!("content/{}", d.rel);
    let root = links::root_prefix(&output);
    let description = d.meta.description.clone().unwrap_or_default();
    let mut c = ctx.base(&output, &d.title(), &description);
    let page = json!({
        "title": d.title(),
        "content": body.html,
        "toc": body.headings,
        "date": d.date.map(|d| d.format("%Y-%m-%d").to_string()),
        "date_zh": d.date.as_ref().map(date_zh),
        "description": description,
        "extra": d.meta.extra,
    });
    if d.rel == "_index.md" {
        c.insert("section", &page);
    }
    // Moved in, not inserted: `insert` would copy the whole page body again.
    let key = if d.is_section && d.rel != "_index.md" {
        "section"
    } else {
        "page"
    };
    c.extend(tera::Context::from_value(json!({ key: page })).unwrap_or_default());
    let template = if d.rel == "_index.md" {
        let sections: Vec<_> = ctx
            .sections
            .iter()
            .map(|s| json!({"title": s.title(), "href": format!("{root}{}", s.output()), "description": s.meta.description}))
            .collect();
        c.insert("sections", &sections);
        let mut recent: Vec<&Doc> = ctx
            .site
            .content
            .docs
            .iter()
            .filter(|p| !p.is_section && p.date.is_some())
            .collect();
        let notices_only: Vec<&Doc> = recent
            .iter()
            .copied()
            .filter(|p| p.meta.notice.is_some())
            .collect();
        if !notices_only.is_empty() {
            recent = notices_only;
        }
        recent.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.rel.cmp(&b.rel)));
        let recent: Vec<ListItem> = recent
            .iter()
            .take(10)
            .map(|p| list_item(p, &root))
            .collect();
        c.insert("recent", &recent);
        c.insert("forms", &form_links(ctx, &root));
        c.insert("manuals", &manual_links(ctx, &root, sizes));
        "index.html".to_string()
    } else if d.is_section {
        let pages: Vec<ListItem> = section_pages(ctx.site, d)
            .iter()
            .map(|p| list_item(p, &root))
            .collect();
        c.insert("pages", &pages);
        let dir = d.section_dir();
        let subs: Vec<_> = ctx
            .site
            .content
            .docs
            .iter()
            .filter(|s| s.is_section && s.parent_section() == dir)
            .map(|s| json!({"title": s.title(), "href": format!("{root}{}", s.output())}))
            .collect();
        c.insert("subsections", &subs);
        d.meta
            .template
            .clone()
            .unwrap_or_else(|| "section.html".into())
    } else if let Some(n) = &d.meta.notice {
        insert_notice(ctx, &mut c, d, n, &source, &root, sizes)?;
        d.meta
            .template
            .clone()
            .unwrap_or_else(|| "notice.html".into())
    } else {
        if let Some(date) = d.date {
            let mut meta: Vec<(&str, String)> =
                vec![("SiteName", ctx.site.config.site.title.clone())];
            if !ctx.site.config.site.domain.is_empty() {
                meta.push(("SiteDomain", ctx.site.config.site.domain.clone()));
            }
            meta.push(("ArticleTitle", d.title()));
            meta.push(("PubDate", date.format("%Y-%m-%d %H:%M").to_string()));
            meta.push(("ContentSource", ctx.site.config.site.title.clone()));
            if !description.is_empty() {
                meta.push(("Description", description.clone()));
            }
            c.insert("meta", &meta_list(&meta));
        }
        d.meta
            .template
            .clone()
            .unwrap_or_else(|| "page.html".into())
    };
    let html = ctx
        .site
        .theme
        .render_bytes(&template, &c)
        .map_err(|e| Problem::new(&source, None, e.to_string()))?;
    Ok((output, html.into()))
}

pub(super) fn form_links(ctx: &Shared, root: &str) -> Vec<serde_json::Value> {
    ctx.site
        .forms
        .iter()
        .map(|f| {
            json!({
                "title": f.title,
                "annex": f.annex,
                "href": format!("{root}{}", form_page(f)),
                "xlsx": format!("{root}{}", form_xlsx(f)),
                "description": f.description,
            })
        })
        .collect()
}

pub(super) fn manual_links(ctx: &Shared, root: &str, sizes: &Sizes) -> Vec<serde_json::Value> {
    ctx.site
        .manuals
        .iter()
        .map(|m| {
            json!({
                "title": m.title,
                "annex": m.annex,
                "audience": m.audience,
                "description": m.description,
                "href": format!("{root}{}index.html", m.out_dir()),
                "download": format!("{root}{}", m.download_output()),
                "download_size": format_size(sizes.manual.get(&m.id).copied().unwrap_or(0)),
            })
        })
        .collect()
}

pub(super) fn insert_notice(
    ctx: &Shared,
    c: &mut tera::Context,
    d: &Doc,
    n: &Notice,
    source: &str,
    root: &str,
    sizes: &Sizes,
) -> Result<(), Problem> {
    let written = frontmatter::to_datetime(&n.written).ok_or_else(|| {
        Problem::new(
            source,
            None,
            "notice.written is not a date such as 2016-07-15",
        )
    })?;
    let published = match &n.published {
        Some(v) => frontmatter::to_datetime(v).ok_or_else(|| {
            Problem::new(
                source,
                None,
                "notice.published is not a date such as 2016-07-15 09:00:00",
            )
        })?,
        None => d.date.unwrap_or(written),
    };
    let mut attachments = Vec::new();
    for (i, a) in n.attachments.iter().enumerate() {
        let number = i + 1;
        let item = if let Some(id) = &a.form {
            let f = ctx.site.forms.iter().find(|f| &f.id == id).ok_or_else(|| {
                Problem::new(
                    source,
                    None,
                    format!("attachment {number}: unknown form id {id:?}"),
                )
            })?;
            let xlsx = form_xlsx(f);
            json!({
                "number": number, "title": a.title, "kind": "form",
                "href": format!("{root}{}", form_page(f)),
                "downloads": [{
                    "label": "空白表格", "href": format!("{root}{xlsx}"), "format": "XLSX",
                    "size": format_size(sizes.files.get(&xlsx).copied().unwrap_or(0)),
                    "filename": format!("附件{number} {}.xlsx", a.title),
                }],
                "print": format!("{root}{}", form_print(f)),
            })
        } else if let Some(id) = &a.manual {
            let m = ctx
                .site
                .manuals
                .iter()
                .find(|m| &m.id == id)
                .ok_or_else(|| {
                    Problem::new(
                        source,
                        None,
                        format!("attachment {number}: unknown manual id {id:?}"),
                    )
                })?;
            json!({
                "number": number, "title": a.title, "kind": "manual",
                "href": format!("{root}{}index.html", m.out_dir()),
                "downloads": [{
                    "label": "离线版", "href": format!("{root}{}", m.download_output()), "format": "HTML",
                    "size": format_size(sizes.manual.get(&m.id).copied().unwrap_or(0)),
                    "filename": format!("附件{number} {}.html", a.title),
                }],
                "print": format!("{root}{}", m.print_output()),
            })
        } else {
            let file = a.file.clone().unwrap_or_default();
            let target = if let Some(abs) = file.strip_prefix('/') {
                ctx.index.lookup_url(abs)
            } else {
                links::join(links::dir_of(source), &file)
                    .and_then(|s| ctx.index.sources.get(&s).cloned())
            }
            .ok_or_else(|| {
                Problem::new(
                    source,
                    None,
                    format!("attachment {number}: file {file} does not exist"),
                )
            })?;
            let size = file_size(ctx.site, &target, source);
            let format = target.rsplit('.').next().unwrap_or("").to_ascii_uppercase();
            json!({
                "number": number, "title": a.title, "kind": "file",
                "href": format!("{root}{target}"),
                "downloads": [{
                    "label": "下载", "href": format!("{root}{target}"), "format": format,
                    "size": format_size(size), "filename": format!("附件{number} {}", a.title),
                }],
            })
        };
        attachments.push(item);
    }
    let keywords = n.keywords.join(" ");
    let description = d.meta.description.clone().unwrap_or_default();
    c.insert(
        "notice",
        &json!({
            "doc_number": n.doc_number,
            "issuer": n.issuer,
            "issuer_mark": n.issuer_mark.clone().unwrap_or_else(|| n.issuer.clone()),
            "recipients": n.recipients,
            "written": written.format("%Y-%m-%d").to_string(),
            "written_zh": date_zh(&written),
            "published": published.format("%Y-%m-%d").to_string(),
            "published_zh": date_zh(&published),
            "index_no": n.index_no,
            "category": n.category,
            "keywords": keywords,
            "contact": n.contact,
            "attachments": attachments,
        }),
    );
    let mut meta: Vec<(&str, String)> = vec![("SiteName", ctx.site.config.site.title.clone())];
    if !ctx.site.config.site.domain.is_empty() {
        meta.push(("SiteDomain", ctx.site.config.site.domain.clone()));
    }
    meta.push(("ArticleTitle", d.title()));
    meta.push(("PubDate", published.format("%Y-%m-%d %H:%M").to_string()));
    meta.push(("ContentSource", n.issuer.clone()));
    meta.push(("Keywords", keywords));
    meta.push(("Description", description));
    c.insert("meta", &meta_list(&meta));
    Ok(())
}

pub(super) fn file_size(site: &Site, output: &str, _source: &str) -> usize {
    let candidates = [
        site.root.join("content").join(output),
        site.root.join("static").join(output),
    ];
    candidates
        .iter()
        .find_map(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len() as usize)
}
