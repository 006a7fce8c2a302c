//! The index of every output, made before anything is rendered, so links
//! can be resolved (and two sources writing one path refused) up front.

use super::links::Index;
use crate::model::Site;
use crate::problem::Problem;
use forms::paths::{FormPaths, FORMS_INDEX};
use forms::FormDef;
use std::collections::HashMap;
use std::path::Path;

pub(super) fn form_dir(f: &FormDef) -> String {
    FormPaths::of(f).dir()
}
pub(super) fn form_page(f: &FormDef) -> String {
    FormPaths::of(f).page()
}
pub(super) fn form_xlsx(f: &FormDef) -> String {
    FormPaths::of(f).xlsx()
}
pub(super) fn form_print(f: &FormDef) -> String {
    FormPaths::of(f).print()
}

/// Every output path known before rendering, so links can be resolved while
/// rendering; two sources writing one path are problems.
pub(super) fn build_index(site: &Site) -> Result<Index, Vec<Problem>> {
    let mut problems = Vec::new();
    let index = index_outputs(site, &mut problems);
    if problems.is_empty() {
        Ok(index)
    } else {
        Err(problems)
    }
}

fn index_outputs(site: &Site, problems: &mut Vec<Problem>) -> Index {
    let mut index = Index::default();
    let mut claimed: HashMap<String, String> = HashMap::new();
    let mut claim = |output: &str, by: String, problems: &mut Vec<Problem>| {
        if let Some(prev) = claimed.insert(output.to_string(), by.clone()) {
            problems.push(Problem::new(
                &by,
                None,
                format!("writes {output}, which {prev} writes too"),
            ));
        }
    };
    for d in &site.content.docs {
        let source = format!("content/{}", d.rel);
        claim(&d.output(), source.clone(), problems);
        index.add_page(Some(source), d.url.clone(), d.output());
    }
    for a in &site.content.assets {
        let source = format!("content/{}", a.rel);
        claim(&a.rel, source.clone(), problems);
        index.add_source(source, a.rel.clone());
    }
    for f in &site.forms {
        let source = format!("content/forms/{}.toml", f.id);
        claim(&form_page(f), source.clone(), problems);
        index.add_page(None, form_dir(f), form_page(f));
        for out in [form_xlsx(f), form_print(f)] {
            claim(&out, source.clone(), problems);
            index.outputs.insert(out);
        }
    }
    for m in &site.manuals {
        let src = m.src_dir.to_string_lossy().replace('\\', "/");
        let book = format!("manuals/{}/book.toml", m.id);
        claim(
            &format!("{}index.html", m.out_dir()),
            book.clone(),
            problems,
        );
        index.add_page(None, m.out_dir(), format!("{}index.html", m.out_dir()));
        for out in [m.print_output(), m.download_output()] {
            claim(&out, book.clone(), problems);
            index.outputs.insert(out);
        }
        for c in &m.chapters {
            if let Some(p) = &c.path {
                let out = m.chapter_output(p);
                claim(&out, format!("{src}/{p}"), problems);
                index.add_source(format!("{src}/{p}"), out);
            }
        }
        for a in &m.assets {
            let out = format!("{}{a}", m.out_dir());
            claim(&out, format!("{src}/{a}"), problems);
            index.add_source(format!("{src}/{a}"), out);
        }
    }
    for generated in [
        "index.html",
        FORMS_INDEX,
        "manuals/index.html",
        "404.html",
        "sitemap.xml",
        "atom.xml",
        "robots.txt",
    ] {
        if generated == "index.html" && index.outputs.contains("index.html") {
            continue; // content/_index.md is the home page
        }
        if index.outputs.contains(generated)
            && generated != FORMS_INDEX
            && generated != "manuals/index.html"
        {
            problems.push(Problem::new(
                generated,
                None,
                "this path is reserved for a generated file",
            ));
        }
        index.outputs.insert(generated.to_string());
    }
    index
        .urls
        .entry(String::new())
        .or_insert_with(|| "index.html".into());
    index
        .urls
        .entry("forms/".into())
        .or_insert_with(|| FORMS_INDEX.into());
    index
        .urls
        .entry("manuals/".into())
        .or_insert_with(|| "manuals/index.html".into());
    for (name, _) in site.theme.statics() {
        index.outputs.insert(name.to_string());
    }
    let static_dir = site.root.join("static");
    let mut files = Vec::new();
    walk_files(&static_dir, "", &mut files);
    for f in files {
        claim(&f, format!("static/{f}"), problems);
        index.outputs.insert(f);
    }
    index
}

pub(super) fn walk_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let rel = format!("{prefix}{name}");
        if e.path().is_dir() {
            walk_files(&e.path(), &format!("{rel}/"), out);
        } else {
            out.push(rel);
        }
    }
}
