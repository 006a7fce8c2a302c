//! The manuals: chapter pages, the one-page print view and the offline
//! download.

use super::*;

/// Contents page, one page per chapter, the one-page print view and the
/// self-contained download of a manual.
pub(super) fn render_manual(ctx: &Shared, m: &Manual) -> Result<ManualOutput, Vec<Problem>> {
    let root_dir = &ctx.site.root;
    let src = m.src_dir.to_string_lossy().replace('\\', "/");
    let mut problems = Vec::new();
    let mut uses = Vec::new();
    let mut out = Outputs::new();
    // Read every chapter once.
    let mut texts: Vec<Option<(String, String)>> = Vec::new();
    for c in &m.chapters {
        texts.push(match &c.path {
            Some(p) => {
                let source = format!("{src}/{p}");
                match std::fs::read_to_string(root_dir.join(&source)) {
                    Ok(t) => Some((source, t)),
                    Err(e) => {
                        problems.push(Problem::new(&source, None, e.to_string()));
                        None
                    }
                }
            }
            None => None,
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let pages: Vec<(usize, &str)> = m
        .chapters
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.path.as_deref().map(|p| (i, p)))
        .collect();
    let chapter_list = |root: &str, current: Option<&str>| -> Vec<serde_json::Value> {
        m.chapters
            .iter()
            .map(|c| {
                json!({
                    "title": c.title, "number": c.number, "depth": c.depth, "part": c.part,
                    "href": c.path.as_ref().map(|p| format!("{root}{}", m.chapter_output(p))),
                    "current": c.path.as_deref() == current && current.is_some(),
                })
            })
            .collect()
    };
    let manual_ctx = |root: &str| {
        json!({
            "id": m.id, "title": m.title, "annex": m.annex, "audience": m.audience,
            "description": m.description, "authors": m.authors,
            "index": format!("{root}{}index.html", m.out_dir()),
            "print": format!("{root}{}", m.print_output()),
            "download": format!("{root}{}", m.download_output()),
        })
    };
    // Chapter pages.
    for (k, &(i, path)) in pages.iter().enumerate() {
        let Some((source, text)) = &texts[i] else {
            continue;
        };
        let output = m.chapter_output(path);
        let root = links::root_prefix(&output);
        let links = DocLinks {
            index: ctx.index,
            source,
            output: &output,
            same_page: None,
            own_prefix: "",
            inline: None,
        };
        let r = markdown::render(text, 1, "", &links);
        problems.extend(
            r.problems
                .iter()
                .map(|(l, msg)| Problem::new(source, Some(*l), msg.clone())),
        );
        uses.extend(tag_links(r.links, source));
        let chapter = &m.chapters[i];
        let link = |j: usize| {
            let (ci, p) = pages[j];
            json!({"title": m.chapters[ci].title, "href": format!("{root}{}", m.chapter_output(p))})
        };
        let mut c = ctx.base(
            &output,
            &format!("{} - {}", chapter.title, m.title),
            &m.description,
        );
        c.insert("manual", &manual_ctx(&root));
        c.insert("chapters", &chapter_list(&root, Some(path)));
        c.insert(
            "chapter",
            &json!({"title": chapter.title, "number": chapter.number, "content": r.html, "toc": r.headings}),
        );
        c.insert("prev", &(k > 0).then(|| link(k - 1)));
        c.insert("next", &(k + 1 < pages.len()).then(|| link(k + 1)));
        match ctx.render("manual_chapter.html", &c, source) {
            Ok(html) => {
                out.insert(output, html.into_bytes().into());
            }
            Err(p) => problems.push(p),
        }
    }
    // Contents page.
    let index_out = format!("{}index.html", m.out_dir());
    let root = links::root_prefix(&index_out);
    let mut c = ctx.base(&index_out, &m.title, &m.description);
    c.insert("manual", &manual_ctx(&root));
    c.insert("chapters", &chapter_list(&root, None));
    // The print view and the download share one rendering of all chapters.
    let anchors: HashMap<String, String> = pages
        .iter()
        .map(|(_, p)| {
            (
                m.chapter_output(p),
                format!("{}--", Manual::chapter_anchor(p)),
            )
        })
        .collect();
    let mut inline_images: HashMap<String, String> = HashMap::new();
    for a in &m.assets {
        let path = root_dir.join(&m.src_dir).join(a);
        if let Ok(bytes) = std::fs::read(&path) {
            inline_images.insert(format!("{}{a}", m.out_dir()), data_uri(a, &bytes));
        }
    }
    let mut print_pages = Outputs::new();
    for (output, offline) in [(m.print_output(), false), (m.download_output(), true)] {
        let root = links::root_prefix(&output);
        let mut chapters = Vec::new();
        for &(i, path) in &pages {
            let Some((source, text)) = &texts[i] else {
                continue;
            };
            let prefix = format!("{}--", Manual::chapter_anchor(path));
            let links = DocLinks {
                index: ctx.index,
                source,
                output: &output,
                same_page: Some(&anchors),
                own_prefix: &prefix,
                inline: offline.then_some(&inline_images),
            };
            let r = markdown::render_shifted(text, 1, &prefix, 1, &links);
            if !offline {
                uses.extend(tag_links(r.links, source));
            }
            let ch = &m.chapters[i];
            chapters.push(json!({"anchor": Manual::chapter_anchor(path), "title": ch.title, "number": ch.number, "depth": ch.depth, "content": r.html}));
        }
        let mut c = ctx.base(&output, &m.title, &m.description);
        c.insert("manual", &manual_ctx(&root));
        c.insert("chapters", &chapters);
        c.insert("offline", &offline);
        if offline {
            let css: String = ["style.css", "print.css"]
                .iter()
                .filter_map(|n| ctx.site.theme.static_file(n))
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect::<Vec<_>>()
                .join("\n");
            c.insert("inline_css", &css);
        }
        match ctx.render(
            "manual_print.html",
            &c,
            &format!("manuals/{}/book.toml", m.id),
        ) {
            Ok(html) => {
                print_pages.insert(output, html.into_bytes().into());
            }
            Err(p) => problems.push(p),
        }
    }
    match ctx.render(
        "manual_index.html",
        &c,
        &format!("manuals/{}/book.toml", m.id),
    ) {
        Ok(html) => {
            out.insert(index_out, html.into_bytes().into());
        }
        Err(p) => problems.push(p),
    }
    out.extend(print_pages);
    if problems.is_empty() {
        Ok((out, uses))
    } else {
        Err(problems)
    }
}

pub(super) fn data_uri(name: &str, bytes: &[u8]) -> String {
    let mime = match name
        .rsplit('.')
        .next()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        _ => "application/octet-stream",
    };
    use base64::Engine;
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}
