//! The manuals: chapter pages, the contents page, the one-page print view
//! and the offline download.

use super::context::Shared;
use super::emit::Outputs;
use super::links::{self, BookLinks, DocLinks};
use super::markdown::{self, BookStyle, LinkUse};
use super::views::{ChapterItem, ChapterLink, ChapterView, ManualView, PrintChapter};
use crate::model::manual::Manual;
use crate::model::preprocess;
use crate::problem::Problem;
use rayon::prelude::*;
use std::collections::HashMap;

/// A manual's files, the Markdown links found in it (with their source),
/// its chapters as search documents, and the problems found: a manual with
/// problems is still rendered as far as it can be, so that one run lists
/// every problem and a manual published under `warn` has its pages.
pub(super) struct ManualOutput {
    pub(super) problems: Vec<Problem>,
    pub(super) files: Outputs,
    pub(super) links: Vec<(String, LinkUse)>,
    /// Each chapter, for the search index.
    pub(super) search: Vec<search::Prepared>,
}

/// One chapter file of a manual, read once for all the views.
struct Text<'m> {
    /// Index in `Manual::chapters`.
    index: usize,
    /// The chapter file relative to the book's `src/`.
    path: &'m str,
    /// Root-relative source path, as problems name it.
    source: String,
    /// After `{{#include}}` and its family.
    text: String,
    /// `{{#title}}`, if the chapter sets one.
    title: Option<String>,
    /// Maps lines of `text` back to the chapter file.
    expanded: preprocess::Expanded,
}

/// What one rendering step of a manual adds.
#[derive(Default)]
struct Made {
    out: Outputs,
    uses: Vec<(String, LinkUse)>,
    problems: Vec<Problem>,
    search: Vec<search::Prepared>,
}

/// Contents page, one page per chapter, the one-page print view and the
/// self-contained download of a manual.
pub(super) fn render_manual(ctx: &Shared, m: &Manual) -> ManualOutput {
    let mut made = Made::default();
    let texts = read_chapters(ctx, m, &mut made.problems);
    let mut front = None;
    // Chapters on every core: a 400-chapter book is one step of the build.
    let pages: Vec<(Made, Option<String>)> = (0..texts.len())
        .into_par_iter()
        .map(|k| {
            let mut one = Made::default();
            let html = chapter_page(ctx, m, &texts, k, &mut one);
            (one, html)
        })
        .collect();
    for (one, html) in pages {
        made.out.extend(one.out);
        made.uses.extend(one.uses);
        made.problems.extend(one.problems);
        made.search.extend(one.search);
        if html.is_some() {
            front = html;
        }
    }
    let book = format!("manuals/{}/book.toml", m.id);
    let index_out = format!("{}index.html", m.out_dir());
    let root = links::root_prefix(&index_out);
    let mut c = ctx.base(&index_out, &m.title, &m.description);
    c.insert("manual", &manual_view(m, &root));
    c.insert("chapters", &chapter_list(m, &root, None));
    c.insert("readme", &front);
    let name = match m.annex {
        Some(n) => format!("附件{n} {}.pdf", m.title),
        None => format!("{}.pdf", m.title),
    };
    if let Some(pdf) = ctx.pdf_link(&super::pdf::manual_pdf(m), &root, name, None) {
        c.insert("pdf", &pdf);
    }
    // The official document, if the book carries one (shown first).
    if let Some(o) = &m.official {
        let name = std::path::Path::new(&o.path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(&o.path);
        c.insert(
            "official",
            &serde_json::json!({
                "href": o.path,
                "filename": name,
                "format": o.format,
                "size": forms::paths::format_size(o.bytes as usize),
            }),
        );
    }
    // The print view and the download share the chapters' one-page rendering.
    let view = |offline: bool| {
        let mut v = Made::default();
        one_page_view(ctx, m, &texts, offline, &mut v);
        v
    };
    let (mut one_page, offline) = rayon::join(|| view(false), || view(true));
    one_page.out.extend(offline.out);
    one_page.uses.extend(offline.uses);
    one_page.problems.extend(offline.problems);
    match ctx.render("manual_index.html", &c, &book) {
        Ok(html) => {
            made.out.insert(index_out, html.into_bytes().into());
        }
        Err(p) => made.problems.push(p),
    }
    made.out.extend(one_page.out);
    made.uses.extend(one_page.uses);
    // The one-page views render the same Markdown: their problems are the
    // chapter pages' (except template errors).
    made.problems
        .extend(one_page.problems.into_iter().filter(|p| p.line.is_none()));
    ManualOutput {
        problems: made.problems,
        files: made.out,
        links: made.uses,
        search: made.search,
    }
}

/// Every chapter file of the manual (drafts have none), read once, with
/// its directives expanded.
fn read_chapters<'m>(ctx: &Shared, m: &'m Manual, problems: &mut Vec<Problem>) -> Vec<Text<'m>> {
    let src = m.src_dir.to_string_lossy().replace('\\', "/");
    let mut texts = Vec::new();
    for (index, c) in m.chapters.iter().enumerate() {
        let Some(path) = c.path.as_deref() else {
            continue;
        };
        let source = format!("{src}/{path}");
        let file = ctx.site.root.join(&source);
        match std::fs::read_to_string(&file) {
            Ok(raw) => {
                let mut e = preprocess::expand(&raw, &file);
                problems.extend(
                    std::mem::take(&mut e.problems)
                        .into_iter()
                        .map(|(l, msg)| Problem::new(&source, Some(l), msg)),
                );
                texts.push(Text {
                    index,
                    path,
                    source,
                    text: std::mem::take(&mut e.text),
                    title: e.title.take(),
                    expanded: e,
                })
            }
            Err(e) => problems.push(Problem::new(&source, None, e.to_string())),
        }
    }
    texts
}

/// The page of chapter `texts[k]`, with links to the ones before and after.
/// The top-level `README.md` is shown on the contents page instead: its
/// HTML is returned for it.
fn chapter_page(
    ctx: &Shared,
    m: &Manual,
    texts: &[Text],
    k: usize,
    made: &mut Made,
) -> Option<String> {
    let t = &texts[k];
    let output = m.chapter_output(t.path);
    let root = links::root_prefix(&output);
    let src_dir = format!("{}/", m.src_dir.to_string_lossy().replace('\\', "/"));
    let out_dir = m.out_dir();
    let links = DocLinks {
        index: ctx.index,
        source: &t.source,
        output: &output,
        same_page: None,
        own_prefix: "",
        inline: None,
        book: Some(BookLinks {
            src_dir: &src_dir,
            out_dir: &out_dir,
            chapter_output: &output,
        }),
    };
    let style = BookStyle {
        id_prefix: "",
        shift: 0,
        smart_punctuation: m.smart_punctuation,
    };
    let r = markdown::render_book(&t.text, &style, &links);
    made.problems.extend(
        r.problems
            .iter()
            .map(|(l, msg)| Problem::new(&t.source, Some(t.expanded.source_line(*l)), msg.clone())),
    );
    made.uses.extend(tag_links(r.links, t));
    let chapter = &m.chapters[t.index];
    let title = t.title.as_deref().unwrap_or(&chapter.title);
    made.search.extend(super::search::chapter_docs(
        &output, title, &m.title, &r.html,
    ));
    if Manual::is_front(t.path) {
        return Some(r.html);
    }
    let link = |j: usize| ChapterLink {
        title: &m.chapters[texts[j].index].title,
        href: format!("{root}{}", m.chapter_output(texts[j].path)),
    };
    let mut c = ctx.base(&output, &format!("{title} - {}", m.title), &m.description);
    c.insert("manual", &manual_view(m, &root));
    c.insert("chapters", &chapter_list(m, &root, Some(t.path)));
    c.insert(
        "chapter",
        &ChapterView {
            title,
            number: &chapter.number,
            content: &r.html,
            toc: &r.headings,
        },
    );
    c.insert("prev", &(k > 0).then(|| link(k - 1)));
    c.insert("next", &(k + 1 < texts.len()).then(|| link(k + 1)));
    match ctx.render("manual_chapter.html", &c, &t.source) {
        Ok(html) => {
            made.out.insert(output, html.into_bytes().into());
        }
        Err(p) => made.problems.push(p),
    }
    None
}

/// Every chapter on one page: the print view, or (`offline`) the download,
/// with its images and style sheets inlined.
fn one_page_view(ctx: &Shared, m: &Manual, texts: &[Text], offline: bool, made: &mut Made) {
    let output = if offline {
        m.download_output()
    } else {
        m.print_output()
    };
    let root = links::root_prefix(&output);
    // Links to the manual's own chapters become anchors on this page.
    let anchors: HashMap<String, String> = texts
        .iter()
        .map(|t| {
            let prefix = format!("{}--", Manual::chapter_anchor(t.path));
            (m.chapter_output(t.path), prefix)
        })
        .collect();
    let images = if offline {
        inline_images(ctx, m)
    } else {
        HashMap::new()
    };
    let mut chapters = Vec::new();
    let src_dir = format!("{}/", m.src_dir.to_string_lossy().replace('\\', "/"));
    let out_dir = m.out_dir();
    for t in texts {
        let prefix = format!("{}--", Manual::chapter_anchor(t.path));
        let chapter_output = m.chapter_output(t.path);
        let links = DocLinks {
            index: ctx.index,
            source: &t.source,
            output: &output,
            same_page: Some(&anchors),
            own_prefix: &prefix,
            inline: offline.then_some(&images),
            book: Some(BookLinks {
                src_dir: &src_dir,
                out_dir: &out_dir,
                chapter_output: &chapter_output,
            }),
        };
        let style = BookStyle {
            id_prefix: &prefix,
            shift: 1,
            smart_punctuation: m.smart_punctuation,
        };
        let r = markdown::render_book(&t.text, &style, &links);
        made.problems.extend(r.problems.iter().map(|(l, msg)| {
            Problem::new(&t.source, Some(t.expanded.source_line(*l)), msg.clone())
        }));
        made.uses.extend(tag_links(r.links, t));
        let ch = &m.chapters[t.index];
        chapters.push(PrintChapter {
            anchor: Manual::chapter_anchor(t.path),
            title: t.title.as_deref().unwrap_or(&ch.title),
            number: &ch.number,
            depth: ch.depth,
            content: r.html,
        });
    }
    let mut c = ctx.base(&output, &m.title, &m.description);
    c.insert("manual", &manual_view(m, &root));
    c.insert("chapters", &chapters);
    c.insert("offline", &offline);
    if offline {
        c.insert("inline_css", &inline_css(ctx));
    }
    match ctx.render(
        "manual_print.html",
        &c,
        &format!("manuals/{}/book.toml", m.id),
    ) {
        Ok(html) => {
            made.out.insert(output, html.into_bytes().into());
        }
        Err(p) => made.problems.push(p),
    }
}

/// `manual`: what every page of a manual shows about it.
fn manual_view<'m>(m: &'m Manual, root: &str) -> ManualView<'m> {
    ManualView {
        id: &m.id,
        title: &m.title,
        annex: m.annex,
        audience: &m.audience,
        description: &m.description,
        authors: &m.authors,
        index: format!("{root}{}index.html", m.out_dir()),
        print: format!("{root}{}", m.print_output()),
        download: format!("{root}{}", m.download_output()),
    }
}

/// The table of contents, with `current` marked.
fn chapter_list<'m>(m: &'m Manual, root: &str, current: Option<&str>) -> Vec<ChapterItem<'m>> {
    m.chapters
        .iter()
        .map(|c| ChapterItem {
            title: &c.title,
            number: &c.number,
            depth: c.depth,
            part: c.part.as_deref(),
            href: c
                .path
                .as_ref()
                .map(|p| format!("{root}{}", m.chapter_output(p))),
            current: c.path.as_deref() == current && current.is_some(),
        })
        .collect()
}

/// The manual's images as data: URIs, by output path (for the download).
fn inline_images(ctx: &Shared, m: &Manual) -> HashMap<String, String> {
    let mut images = HashMap::new();
    for a in &m.assets {
        let path = ctx.site.root.join(&m.src_dir).join(a);
        if let Ok(bytes) = std::fs::read(&path) {
            images.insert(format!("{}{a}", m.out_dir()), data_uri(a, &bytes));
        }
    }
    images
}

/// The theme's style sheets, for the download to carry inside itself.
fn inline_css(ctx: &Shared) -> String {
    ["style.css", "print.css"]
        .iter()
        .filter_map(|n| ctx.site.theme.static_file(n))
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The links of a chapter with its source, at the chapter file's lines.
fn tag_links(uses: Vec<LinkUse>, t: &Text) -> Vec<(String, LinkUse)> {
    uses.into_iter()
        .map(|mut u| {
            u.line = t.expanded.source_line(u.line);
            (t.source.clone(), u)
        })
        .collect()
}

fn data_uri(name: &str, bytes: &[u8]) -> String {
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
