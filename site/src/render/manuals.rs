//! The manuals: chapter pages, the contents page, the one-page print view
//! and the offline download.

use super::context::Shared;
use super::emit::{emit, Emitted, Sink, Streamed};
use super::links::{self, BookLinks, DocLinks};
use super::markdown::{self, BookStyle, LinkUse};
use super::views::{ChapterItem, ChapterLink, ChapterView, ManualView, PrintChapter};
use crate::model::manual::Manual;
use crate::model::preprocess;
use crate::problem::Problem;
use rayon::prelude::*;
use std::cell::Cell;
use std::collections::HashMap;

/// A manual's files, the Markdown links found in it (with their source),
/// its chapters as search documents, and the problems found: a manual with
/// problems is still rendered as far as it can be, so that one run lists
/// every problem and a manual published under `warn` has its pages.
pub(super) struct ManualOutput {
    pub(super) problems: Vec<Problem>,
    /// Each file, handed to the sink as soon as it was made (a large
    /// book's pages are never all held at once).
    pub(super) files: Vec<Emitted>,
    /// The download's size in bytes (the manuals list shows it).
    pub(super) download_size: usize,
    pub(super) links: Vec<(String, LinkUse)>,
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
    out: Vec<Emitted>,
    uses: Vec<(String, LinkUse)>,
    problems: Vec<Problem>,
    search: Vec<search::Prepared>,
}

/// Contents page, one page per chapter, the one-page print view and the
/// self-contained download of a manual. Each chapter's search document
/// goes to `index` in chapter order as soon as its chunk is made.
pub(super) fn render_manual(
    ctx: &Shared,
    m: &Manual,
    sink: &Sink,
    index: &mut (dyn FnMut(search::Prepared) + Send),
) -> ManualOutput {
    let mut made = Made::default();
    let texts = read_chapters(ctx, m, &mut made.problems);
    let mut front = None;
    // Chapters on every core: a 400-chapter book is one step of the build.
    // In chunks, so that only a chunk's search terms wait for the index.
    super::overlapped(
        &texts,
        64,
        |first, chunk| {
            (first..first + chunk.len())
                .into_par_iter()
                .map(|k| {
                    let mut one = Made::default();
                    let html = chapter_page(ctx, m, &texts, k, sink, &mut one);
                    (one, html)
                })
                .collect()
        },
        |_, pages: Vec<(Made, Option<String>)>| {
            for (one, html) in pages {
                made.out.extend(one.out);
                made.uses.extend(one.uses);
                made.problems.extend(one.problems);
                one.search.into_iter().for_each(&mut *index);
                if html.is_some() {
                    front = html;
                }
            }
        },
    );
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
    let one_page = one_page_views(ctx, m, &texts, sink);
    match ctx.render("manual_index.html", &c, &book) {
        Ok(html) => {
            made.out
                .push(emit(sink, ctx.index, index_out, html.into_bytes()));
        }
        Err(p) => made.problems.push(p),
    }
    made.out.extend(one_page.out);
    made.uses.extend(one_page.uses);
    // The one-page views render the same Markdown: their problems are the
    // chapter pages' (except template errors).
    made.problems
        .extend(one_page.problems.into_iter().filter(|p| p.line.is_none()));
    let download = m.download_output();
    let download_size = made
        .out
        .iter()
        .find(|e| e.path == download)
        .map_or(0, |e| e.len);
    ManualOutput {
        problems: made.problems,
        files: made.out,
        download_size,
        links: made.uses,
    }
}

/// Every chapter file of the manual (drafts have none), read once, with
/// its directives expanded.
fn read_chapters<'m>(ctx: &Shared, m: &'m Manual, problems: &mut Vec<Problem>) -> Vec<Text<'m>> {
    let src = m.src_dir.to_string_lossy().replace('\\', "/");
    let read: Vec<(Option<Text>, Vec<Problem>)> = m
        .chapters
        .par_iter()
        .enumerate()
        .filter_map(|(index, c)| {
            let path = c.path.as_deref()?;
            let source = format!("{src}/{path}");
            let file = ctx.site.root.join(&source);
            Some(match std::fs::read_to_string(&file) {
                Ok(raw) => {
                    let mut e = preprocess::expand(&raw, &file);
                    let found = std::mem::take(&mut e.problems)
                        .into_iter()
                        .map(|(l, msg)| Problem::new(&source, Some(l), msg))
                        .collect();
                    let text = Text {
                        index,
                        path,
                        source,
                        text: std::mem::take(&mut e.text),
                        title: e.title.take(),
                        expanded: e,
                    };
                    (Some(text), found)
                }
                Err(e) => (None, vec![Problem::new(&source, None, e.to_string())]),
            })
        })
        .collect();
    let mut texts = Vec::with_capacity(read.len());
    for (text, found) in read {
        texts.extend(text);
        problems.extend(found);
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
    sink: &Sink,
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
        inlined: Cell::new(false),
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
        search: Some(&ctx.search_spent),
    };
    let mut r = markdown::render_book(&t.text, &style, &links);
    made.problems.extend(
        r.problems
            .iter()
            .map(|(l, msg)| Problem::new(&t.source, Some(t.expanded.source_line(*l)), msg.clone())),
    );
    made.uses.extend(tag_links(r.links, t));
    let chapter = &m.chapters[t.index];
    let title = t.title.as_deref().unwrap_or(&chapter.title);
    if let Some(text) = r.text.take() {
        made.search.push(super::search::chapter_docs(
            ctx, &output, title, &m.title, text,
        ));
    }
    if Manual::is_front(t.path) {
        return Some(r.html);
    }
    let link = |j: usize| ChapterLink {
        title: &m.chapters[texts[j].index].title,
        href: format!("{root}{}", m.chapter_output(texts[j].path)),
    };
    let mut c = ctx.base(&output, &format!("{title} - {}", m.title), &m.description);
    c.insert("manual", &manual_view(m, &root));
    c.insert("chapters", &sidebar_list(m, &root, t.path));
    c.insert("chapter_count", &m.chapters.len());
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
            made.out
                .push(emit(sink, ctx.index, output, html.into_bytes()));
        }
        Err(p) => made.problems.push(p),
    }
    None
}

/// The print view and the download, each chapter written to both as it
/// comes, so a 400-chapter book's views are never held whole. A chapter
/// shows the same HTML in both, rendered once, unless it embeds one of the
/// images the download carries inside itself. Templates that do not place
/// the chapters alike get each view rendered whole.
fn one_page_views(ctx: &Shared, m: &Manual, texts: &[Text], sink: &Sink) -> Made {
    let images = inline_images(ctx, m);
    let mut made = Made::default();
    if streamed_views(ctx, m, texts, &images, sink, &mut made) {
        return made;
    }
    let (print, download) = (m.print_output(), m.download_output());
    let view = |offline: bool| {
        let mut v = Made::default();
        let (output, inline) = if offline {
            (&download, Some(&images))
        } else {
            (&print, None)
        };
        let chapters = one_page_chapters(ctx, m, texts, output, inline, &mut v);
        one_page_render(ctx, m, &chapters, offline, sink, &mut v);
        v
    };
    let (a, b) = rayon::join(|| view(false), || view(true));
    for v in [a, b] {
        made.out.extend(v.out);
        made.uses.extend(v.uses);
        made.problems.extend(v.problems);
    }
    made
}

/// A rendered one-page template, cut at its chapter markers.
enum Piece<'a> {
    Text(&'a str),
    Chapter(usize),
}

fn pieces(html: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(MARK) {
        let after = &rest[at + 1..];
        let Some(end) = after.find(MARK) else { break };
        let Ok(i) = after[..end].parse::<usize>() else {
            break;
        };
        out.push(Piece::Text(&rest[..at]));
        out.push(Piece::Chapter(i));
        rest = &after[end + 1..];
    }
    out.push(Piece::Text(rest));
    out
}

/// Both one-page views streamed to the sink, chapters rendered in parallel
/// chunks: once for the two, or once for each when the chapter embeds one
/// of `images` (the download's copy has it inside). False, with nothing done, when the templates do not place the chapters
/// alike (or fail to render: the other path then reports why).
fn streamed_views(
    ctx: &Shared,
    m: &Manual,
    texts: &[Text],
    images: &HashMap<String, String>,
    sink: &Sink,
    made: &mut Made,
) -> bool {
    let (print, download) = (m.print_output(), m.download_output());
    let outline: Vec<PrintChapter> = texts
        .iter()
        .map(|t| {
            let ch = &m.chapters[t.index];
            PrintChapter {
                anchor: Manual::chapter_anchor(t.path),
                title: t.title.as_deref().unwrap_or(&ch.title),
                number: &ch.number,
                depth: ch.depth,
                part: ch.part.as_deref(),
                content: String::new(),
            }
        })
        .collect();
    let outline = marked(&outline);
    let (Ok(a), Ok(b)) = (
        one_page_template(ctx, m, &outline, false),
        one_page_template(ctx, m, &outline, true),
    ) else {
        return false;
    };
    let (pa, pb) = (pieces(&a), pieces(&b));
    let order = |p: &[Piece]| -> Vec<usize> {
        p.iter()
            .filter_map(|x| match x {
                Piece::Chapter(i) => Some(*i),
                Piece::Text(_) => None,
            })
            .collect()
    };
    let chapters = order(&pa);
    if chapters != order(&pb) || chapters.iter().any(|&i| i >= texts.len()) {
        return false;
    }
    let anchors = one_page_anchors(m, texts);
    let mut wa = Streamed::new(sink, ctx.index, print.clone());
    let mut wb = Streamed::new(sink, ctx.index, download.clone());
    let texts_of = |p: &[Piece]| -> Vec<String> {
        // The text before each chapter, and after the last.
        let mut out = vec![String::new()];
        for x in p {
            match x {
                Piece::Text(t) => out.last_mut().map_or((), |l| l.push_str(t)),
                Piece::Chapter(_) => out.push(String::new()),
            }
        }
        out
    };
    let (ta, tb) = (texts_of(&pa), texts_of(&pb));
    // Each chapter is rendered for the download, with its images inside;
    // only a chapter that embeds one is rendered again for the print view
    // (any other shows the same HTML in both).
    let render = |&i: &usize| {
        let mut one = Made::default();
        let (offline, inlined) = one_page_chapter(
            ctx,
            m,
            &texts[i],
            &download,
            &anchors,
            Some(images),
            &mut one,
        );
        if inlined {
            let mut own = Made::default();
            let (html, _) = one_page_chapter(ctx, m, &texts[i], &print, &anchors, None, &mut own);
            // Its problems are the download's, found once.
            one.uses.extend(own.uses);
            (one, html, Some(offline))
        } else {
            one.uses.extend(at_output(&one.uses, &download, &print));
            (one, offline, None)
        }
    };
    super::overlapped(
        &chapters,
        32,
        |_, chunk| chunk.par_iter().map(render).collect(),
        |first, rendered: Vec<(Made, String, Option<String>)>| {
            for (k, (one, html, offline)) in rendered.into_iter().enumerate() {
                let n = first + k;
                wa.write(ta[n].as_bytes());
                wb.write(tb[n].as_bytes());
                wa.write(html.as_bytes());
                wb.write(offline.as_deref().unwrap_or(&html).as_bytes());
                made.uses.extend(one.uses);
                made.problems.extend(one.problems);
            }
        },
    );
    wa.write(ta[chapters.len()].as_bytes());
    wb.write(tb[chapters.len()].as_bytes());
    made.out.push(wa.finish());
    made.out.push(wb.finish());
    true
}

/// The links of `uses` into the page `from`, as links into `to` (the other
/// one-page view, which holds the same chapter HTML).
fn at_output(uses: &[(String, LinkUse)], from: &str, to: &str) -> Vec<(String, LinkUse)> {
    uses.iter()
        .filter(|(_, u)| u.output == from)
        .map(|(s, u)| {
            let mut u = u.clone();
            u.output = to.to_string();
            (s.clone(), u)
        })
        .collect()
}

/// Links to the manual's own chapters become anchors on a one-page view.
fn one_page_anchors(m: &Manual, texts: &[Text]) -> HashMap<String, String> {
    texts
        .iter()
        .map(|t| {
            let prefix = format!("{}--", Manual::chapter_anchor(t.path));
            (m.chapter_output(t.path), prefix)
        })
        .collect()
}

/// One chapter's HTML for a one-page view at `output`, and whether a link
/// in it was given a data: URI from `inline`.
fn one_page_chapter(
    ctx: &Shared,
    m: &Manual,
    t: &Text,
    output: &str,
    anchors: &HashMap<String, String>,
    inline: Option<&HashMap<String, String>>,
    made: &mut Made,
) -> (String, bool) {
    let src_dir = format!("{}/", m.src_dir.to_string_lossy().replace('\\', "/"));
    let out_dir = m.out_dir();
    let prefix = format!("{}--", Manual::chapter_anchor(t.path));
    let chapter_output = m.chapter_output(t.path);
    let links = DocLinks {
        index: ctx.index,
        source: &t.source,
        output,
        same_page: Some(anchors),
        own_prefix: &prefix,
        inline,
        inlined: Cell::new(false),
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
        search: None,
    };
    let r = markdown::render_book(&t.text, &style, &links);
    made.problems.extend(
        r.problems
            .iter()
            .map(|(l, msg)| Problem::new(&t.source, Some(t.expanded.source_line(*l)), msg.clone())),
    );
    made.uses.extend(tag_links(r.links, t));
    (r.html, links.inlined.get())
}

/// Every chapter rendered for a one-page view at `output` (`inline`: the
/// images to inline, for the download).
fn one_page_chapters<'m>(
    ctx: &Shared,
    m: &'m Manual,
    texts: &'m [Text],
    output: &str,
    inline: Option<&HashMap<String, String>>,
    made: &mut Made,
) -> Vec<PrintChapter<'m>> {
    let anchors = one_page_anchors(m, texts);
    texts
        .iter()
        .map(|t| {
            let ch = &m.chapters[t.index];
            PrintChapter {
                anchor: Manual::chapter_anchor(t.path),
                title: t.title.as_deref().unwrap_or(&ch.title),
                number: &ch.number,
                depth: ch.depth,
                part: ch.part.as_deref(),
                content: one_page_chapter(ctx, m, t, output, &anchors, inline, made).0,
            }
        })
        .collect()
}

/// Every chapter on one page: the print view, or (`offline`) the download,
/// with the style sheets inlined. The template gets a marker for each
/// chapter's HTML, spliced in after it rendered, so the book's text is not
/// copied into the template's context and out again.
fn one_page_render(
    ctx: &Shared,
    m: &Manual,
    chapters: &[PrintChapter],
    offline: bool,
    sink: &Sink,
    made: &mut Made,
) {
    let output = if offline {
        m.download_output()
    } else {
        m.print_output()
    };
    match one_page_template(ctx, m, &marked(chapters), offline) {
        Ok(html) => {
            let html = splice(&html, chapters);
            made.out
                .push(emit(sink, ctx.index, output, html.into_bytes()));
        }
        Err(p) => made.problems.push(p),
    }
}

/// `chapters` with a marker (see [`MARK`]) for each one's HTML.
fn marked<'m>(chapters: &[PrintChapter<'m>]) -> Vec<PrintChapter<'m>> {
    chapters
        .iter()
        .enumerate()
        .map(|(i, c)| PrintChapter {
            anchor: c.anchor.clone(),
            title: c.title,
            number: c.number,
            depth: c.depth,
            part: c.part,
            content: format!("{MARK}{i}{MARK}"),
        })
        .collect()
}

/// `manual_print.html` for the print view or (`offline`) the download.
fn one_page_template(
    ctx: &Shared,
    m: &Manual,
    chapters: &[PrintChapter],
    offline: bool,
) -> Result<String, Problem> {
    let output = if offline {
        m.download_output()
    } else {
        m.print_output()
    };
    let root = links::root_prefix(&output);
    let mut c = ctx.base(&output, &m.title, &m.description);
    c.insert("manual", &manual_view(m, &root));
    c.insert("chapters", chapters);
    c.insert("offline", &offline);
    if offline {
        c.insert("inline_css", &inline_css(ctx));
    }
    ctx.render(
        "manual_print.html",
        &c,
        &format!("manuals/{}/book.toml", m.id),
    )
}

/// Marks a chapter's place in a rendered one-page view: NUL, which no
/// rendered Markdown holds (CommonMark replaces it) and templates do not write.
const MARK: char = '\0';

/// `html` with each `MARK i MARK` replaced by chapter `i`'s HTML.
fn splice(html: &str, chapters: &[PrintChapter]) -> String {
    let total: usize = chapters.iter().map(|c| c.content.len()).sum();
    let mut out = String::with_capacity(html.len() + total);
    let mut rest = html;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some(end) = after.find(MARK) else {
            rest = after;
            break;
        };
        match after[..end]
            .parse::<usize>()
            .ok()
            .and_then(|i| chapters.get(i))
        {
            Some(c) => out.push_str(&c.content),
            None => out.push_str(&after[..end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
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

/// A book with up to this many chapters shows all of them beside each
/// chapter; a larger one shows the chapter's neighbourhood there (the full
/// list on every page made a 400-chapter book's build quadratic), and the
/// contents page one link away has them all.
const SIDEBAR_FULL: usize = 60;
/// Chapters shown before and after the current one in a large book's sidebar.
const SIDEBAR_AROUND: usize = 8;

/// The table of contents, with `current` marked.
fn chapter_list<'m>(m: &'m Manual, root: &str, current: Option<&str>) -> Vec<ChapterItem<'m>> {
    let item = |c: &'m crate::model::manual::Chapter| ChapterItem {
        title: &c.title,
        number: &c.number,
        depth: c.depth,
        part: c.part.as_deref(),
        href: c
            .path
            .as_ref()
            .map(|p| format!("{root}{}", m.chapter_output(p))),
        current: c.path.as_deref() == current && current.is_some(),
        gap_before: false,
    };
    m.chapters.iter().map(item).collect()
}

/// The sidebar of a chapter page: every chapter, or in a large book the
/// current one's parents and the chapters around it (a gap marked where
/// some are left out), always with a link to the full contents.
fn sidebar_list<'m>(m: &'m Manual, root: &str, current: &str) -> Vec<ChapterItem<'m>> {
    let mut all = chapter_list(m, root, Some(current));
    let Some(k) = all.iter().position(|c| c.current) else {
        return all;
    };
    if all.len() <= SIDEBAR_FULL {
        return all;
    }
    let mut keep = vec![false; all.len()];
    let (from, to) = (
        k.saturating_sub(SIDEBAR_AROUND),
        (k + SIDEBAR_AROUND).min(all.len() - 1),
    );
    keep[from..=to].fill(true);
    // The parents: each nearest chapter before it one level up.
    let mut depth = all[k].depth;
    for j in (0..k).rev() {
        if depth == 0 {
            break;
        }
        if all[j].depth < depth {
            keep[j] = true;
            depth = all[j].depth;
        }
    }
    let mut shown = Vec::new();
    let mut left_out = false;
    for (j, mut c) in all.drain(..).enumerate() {
        if keep[j] {
            c.gap_before = left_out;
            shown.push(c);
            left_out = false;
        } else {
            left_out = true;
        }
    }
    shown
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
