//! A manual as a book: a cover, the contents with page numbers, then the
//! chapters running on (a new page only for a part), each page with a running
//! head (the book and the chapter) and its number; bookmarks for every
//! chapter as SUMMARY.md nests them and for the headings in each.

use crate::draw::{self, line, text, Goal, Mark, Measure, Op, Page, GREY, LIGHT, LINK, MM};
use crate::flow::{paginate, Block};
use crate::markdown::{parse, plain, Node, Span};
use crate::notice::wrap_hanging;
use crate::Book;
use faxsheet::text::Shaper;
use faxsheet::Font;
use std::collections::HashMap;
use std::sync::Arc;

const LEFT: f32 = 25.0 * MM;
const WIDTH: f32 = 160.0 * MM;
const TOP: f32 = 25.0 * MM;
const BOTTOM: f32 = draw::A4_H - 22.0 * MM;
const BODY: f32 = 10.5;
const LEAD: f32 = 17.0;
const CODE: f32 = 9.0;
const CODE_LEAD: f32 = 13.0;
const CELL: f32 = 9.5;
const CELL_LEAD: f32 = 14.0;
const PAD: f32 = 4.0;

pub(crate) fn render(b: &Book, font: &Font) -> Result<Vec<u8>, String> {
    let face = font.face()?;
    let m = Measure {
        shaper: Shaper::new(&face),
    };
    let blocks = body(b, &m);
    // The contents' length is known before the body is laid out: one line per chapter.
    let entries = b.chapters.len();
    let toc_lines_per_page = ((BOTTOM - TOP - 40.0) / LEAD).floor().max(1.0) as usize;
    let toc_pages = entries.div_ceil(toc_lines_per_page).max(1);
    let first_body = 1 + toc_pages;
    let (flowed, marks) = paginate(&blocks, TOP, TOP, BOTTOM, first_body);
    let places: HashMap<&str, (usize, f32)> = marks
        .iter()
        .flat_map(|k| k.anchors.iter().map(move |a| (a.as_str(), (k.page, k.y))))
        .collect();
    let mut pages = vec![cover(b, &m)];
    pages.extend(contents(&marks, &m, toc_lines_per_page, toc_pages));
    for (i, f) in flowed.into_iter().enumerate() {
        let number = first_body + i + 1;
        let mut p = Page::a4();
        running_head(&mut p, &b.title, &f.head, &m);
        folio(&mut p, number, &m);
        p.ops
            .extend(f.ops.into_iter().map(|op| placed(op, &places)));
        pages.push(p);
    }
    let mut all_marks = vec![Mark {
        level: 0,
        title: "目录".into(),
        page: 1,
        y: 0.0,
        toc: false,
        anchors: Vec::new(),
    }];
    all_marks.extend(marks);
    draw::write(&b.title, &pages, &all_marks, &[font], Vec::new())
}

fn centred(m: &Measure, y: f32, size: f32, s: &str, bold: bool) -> Op {
    let w = m.width(s, size);
    Op::Text {
        x: (draw::A4_W - w) / 2.0,
        y,
        size,
        text: s.to_string(),
        ink: draw::BLACK,
        bold,
    }
}

fn cover(b: &Book, m: &Measure) -> Page {
    let mut p = Page::a4();
    let mut y = 90.0 * MM;
    for l in m.wrap(&b.title, 24.0, WIDTH) {
        p.ops.push(centred(m, y, 24.0, &l, true));
        y += 36.0;
    }
    y += 12.0 * MM;
    for s in &b.subtitle {
        for l in m.wrap(s, 14.0, WIDTH) {
            p.ops.push(centred(m, y, 14.0, &l, false));
            y += 24.0;
        }
    }
    p.ops.push(centred(
        m,
        draw::A4_H - 40.0 * MM,
        14.0,
        &b.publisher,
        false,
    ));
    p
}

fn contents(marks: &[Mark], m: &Measure, per_page: usize, pages: usize) -> Vec<Page> {
    let entries: Vec<&Mark> = marks.iter().filter(|k| k.toc).collect();
    let mut out = Vec::new();
    for n in 0..pages {
        let mut p = Page::a4();
        let mut y = TOP;
        if n == 0 {
            p.ops.push(centred(m, y + 20.0, 18.0, "目　录", true));
        }
        y += 40.0;
        for e in entries.iter().skip(n * per_page).take(per_page) {
            let indent = e.level as f32 * BODY * 2.0;
            let num = format!("{}", e.page + 1);
            let nw = m.width(&num, BODY);
            let avail = WIDTH - indent - nw - BODY * 2.0;
            let title = m.shaper.truncate(&e.title, BODY, avail);
            let tw = m.width(&title, BODY);
            let base = m.baseline(y, LEAD, BODY);
            p.ops.push(text(LEFT + indent, base, BODY, title));
            // Dot leaders to the page number.
            let dot = m.width("·", BODY).max(1.0);
            let from = LEFT + indent + tw + BODY * 0.5;
            let to = LEFT + WIDTH - nw - BODY * 0.5;
            if to > from + dot {
                let count = ((to - from) / dot) as usize;
                p.ops.push(Op::Text {
                    x: to - count as f32 * dot,
                    y: base,
                    size: BODY,
                    text: "·".repeat(count),
                    ink: GREY,
                    bold: false,
                });
            }
            p.ops.push(text(LEFT + WIDTH - nw, base, BODY, num));
            // The whole entry leads to its page.
            p.ops.push(Op::Link {
                x: LEFT + indent,
                y,
                w: WIDTH - indent,
                h: LEAD,
                goal: Goal::Place(e.page, e.y),
            });
            y += LEAD;
        }
        folio(&mut p, 2 + n, m);
        out.push(p);
    }
    out
}

fn running_head(p: &mut Page, book: &str, chapter: &str, m: &Measure) {
    let y = 15.0 * MM;
    let size = 9.0;
    let half = WIDTH / 2.0 - size;
    let left = m.shaper.truncate(book, size, half);
    p.ops.push(Op::Text {
        x: LEFT,
        y,
        size,
        text: left,
        ink: GREY,
        bold: false,
    });
    let right = m.shaper.truncate(chapter, size, half);
    let rw = m.width(&right, size);
    p.ops.push(Op::Text {
        x: LEFT + WIDTH - rw,
        y,
        size,
        text: right,
        ink: GREY,
        bold: false,
    });
    p.ops.push(line(LEFT, y + 4.0, LEFT + WIDTH, y + 4.0, 0.4));
}

fn folio(p: &mut Page, number: usize, m: &Measure) {
    let s = format!("— {number} —");
    p.ops
        .push(centred(m, draw::A4_H - 12.0 * MM, 10.0, &s, false));
}

/// A link's goal: a web address, or the anchor key of a chapter (its path
/// under `src/`) or heading (`path#id`) of this book, `href` being written
/// in the chapter at `chapter`.
fn goal(chapter: &str, href: &str) -> Goal {
    let scheme = href.split_once(':').is_some_and(|(s, _)| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    });
    if scheme || href.starts_with("//") {
        return Goal::Uri(href.to_string());
    }
    let (file, frag) = href.split_once('#').unwrap_or((href, ""));
    let file = if file.is_empty() {
        chapter.to_string()
    } else {
        // Relative to the chapter's folder (root-relative from `src/`), as mdBook reads it.
        let mut parts: Vec<&str> = if file.starts_with('/') {
            Vec::new()
        } else {
            chapter.split('/').collect()
        };
        parts.pop();
        for p in file.split('/') {
            match p {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        let joined = parts.join("/");
        match joined.strip_suffix(".html") {
            Some(stem) => format!("{stem}.md"),
            None => joined,
        }
    };
    let frag = percent_decode(frag);
    if frag.is_empty() {
        Goal::Anchor(file)
    } else {
        Goal::Anchor(format!("{file}#{frag}"))
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, ..) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A heading's id as mdBook makes it: letters, digits, `_` and `-` kept
/// (ASCII lowercased), white space as `-`, the rest dropped.
pub(crate) fn heading_id(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// `op` with a link to an anchor pointed at its place (a heading's, else
/// its chapter's); a link to nothing in the book is dropped.
fn placed(op: Op, places: &HashMap<&str, (usize, f32)>) -> Op {
    let Op::Link {
        x,
        y,
        w,
        h,
        goal: Goal::Anchor(key),
    } = &op
    else {
        return op;
    };
    let found = places.get(key.as_str()).or_else(|| {
        let (file, _) = key.split_once('#')?;
        places.get(file)
    });
    match found {
        Some(&(page, at)) => Op::Link {
            x: *x,
            y: *y,
            w: *w,
            h: *h,
            goal: Goal::Place(page, at),
        },
        // Left as it is: written without a link.
        None => op,
    }
}

/// The lines `wrapped` (of the text of `spans`, white space at breaks
/// dropped) as runs: each run's text and the span it is from.
fn runs(spans: &[Span], wrapped: &[String]) -> Vec<Vec<(String, usize)>> {
    let chars: Vec<(char, usize)> = spans
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.text.chars().map(move |c| (c, i)))
        .collect();
    let mut k = 0;
    let mut out = Vec::new();
    for l in wrapped {
        let mut line: Vec<(String, usize)> = Vec::new();
        for c in l.chars() {
            // Skip what the wrapping dropped (spaces at a break, control characters).
            while k < chars.len() && chars[k].0 != c && !(c == ' ' && chars[k].0 == '\t') {
                k += 1;
            }
            let span = chars
                .get(k)
                .map(|&(_, i)| i)
                .unwrap_or(spans.len().saturating_sub(1));
            k += 1;
            match line.last_mut() {
                Some((t, i)) if *i == span => t.push(c),
                _ => line.push((c.to_string(), span)),
            }
        }
        out.push(line);
    }
    out
}

/// Lines of `s` as blocks, the first `first` in and the rest `indent` in.
#[allow(clippy::too_many_arguments)]
fn para(
    m: &Measure,
    s: &str,
    size: f32,
    lead: f32,
    first: f32,
    indent: f32,
    bold: bool,
    keep: bool,
) -> Vec<Block> {
    let span = Span {
        text: s.to_string(),
        bold,
        ..Span::default()
    };
    rich(m, &[span], "", size, lead, first, indent, keep)
}

/// Lines of styled `spans` as blocks (links written in the chapter at
/// `chapter`), the first `first` in and the rest `indent` in.
#[allow(clippy::too_many_arguments)]
fn rich(
    m: &Measure,
    spans: &[Span],
    chapter: &str,
    size: f32,
    lead: f32,
    first: f32,
    indent: f32,
    keep: bool,
) -> Vec<Block> {
    let wrapped = wrap_hanging(m, &plain(spans), size, WIDTH - first, WIDTH - indent);
    let n = wrapped.len();
    let base = m.baseline(0.0, lead, size);
    runs(spans, &wrapped)
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let mut x = LEFT + if i == 0 { first } else { indent };
            let mut ops = Vec::new();
            for (t, k) in line {
                let s = &spans[k];
                let w = m.width(&t, size);
                if s.code {
                    ops.push(Op::Fill {
                        x: x - 1.0,
                        y: base - m.ascent(size) - 1.0,
                        w: w + 2.0,
                        h: size * 1.3,
                        ink: LIGHT,
                    });
                }
                let ink = if s.link.is_some() { LINK } else { draw::BLACK };
                let glyphs = Op::Text {
                    x,
                    y: base,
                    size,
                    text: t,
                    ink,
                    bold: s.bold,
                };
                ops.push(if s.italic {
                    Op::Slant {
                        y: base,
                        op: Box::new(glyphs),
                    }
                } else {
                    glyphs
                });
                if let Some(href) = &s.link {
                    ops.push(Op::Line {
                        x1: x,
                        y1: base + 1.5,
                        x2: x + w,
                        y2: base + 1.5,
                        width: 0.5,
                        ink,
                    });
                    ops.push(Op::Link {
                        x,
                        y: 0.0,
                        w,
                        h: lead,
                        goal: goal(chapter, href),
                    });
                }
                x += w;
            }
            Block {
                h: lead,
                ops,
                // Two lines at least together at a page end.
                keep_next: keep || (n > 1 && i == 0),
                ..Block::default()
            }
        })
        .collect()
}

fn body(b: &Book, m: &Measure) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut head = String::new();
    for c in &b.chapters {
        if c.depth == 0 {
            head = c.title.clone();
        }
        if let Some(part) = &c.part {
            let mut ls = para(m, part, 18.0, 30.0, 0.0, 0.0, true, true);
            if let Some(first) = ls.first_mut() {
                first.page_before = true;
                first.mark = Some((0, part.clone()));
                // The page it starts is headed by the chapter after it.
                first.head = Some(head.clone());
            }
            blocks.extend(ls);
            blocks.push(Block::gap(LEAD));
        }
        let shown = if c.number.is_empty() {
            c.title.clone()
        } else {
            format!("{} {}", c.number, c.title)
        };
        let (size, lead) = if c.depth == 0 {
            (16.0, 26.0)
        } else {
            (13.0, 21.0)
        };
        blocks.push(Block::gap(if c.depth == 0 { LEAD * 1.5 } else { LEAD }));
        let mut ls = para(m, &shown, size, lead, 0.0, 0.0, true, true);
        let title_at = blocks.len();
        if let Some(first) = ls.first_mut() {
            first.mark = Some((c.depth, shown.clone()));
            first.toc = true;
            first.head = Some(head.clone());
            first.anchors.push(c.path.clone());
        }
        blocks.extend(ls);
        blocks.push(Block::gap(LEAD * 0.4));
        let mut skipped_title = false;
        for node in parse(&c.markdown) {
            if let Node::Heading { level: 1, text } = &node {
                // The chapter's own title, shown above: links to its id go there.
                if !skipped_title {
                    let key = format!("{}#{}", c.path, heading_id(text));
                    if let Some(b) = blocks.get_mut(title_at) {
                        b.anchors.push(key);
                    }
                }
            }
            chapter_node(m, c, node, &mut skipped_title, &mut blocks);
        }
    }
    blocks
}

fn chapter_node(
    m: &Measure,
    c: &crate::Chapter,
    node: Node,
    skipped_title: &mut bool,
    blocks: &mut Vec<Block>,
) {
    match node {
        Node::Heading { level: 1, .. } if !*skipped_title => {
            // The chapter's own title, shown above from SUMMARY.md.
            *skipped_title = true;
        }
        Node::Heading { level, text: t } => {
            *skipped_title = true;
            let (size, lead) = if level <= 2 {
                (12.5, 20.0)
            } else {
                (11.0, 18.0)
            };
            blocks.push(Block::gap(LEAD * 0.6));
            let mut ls = para(m, &t, size, lead, 0.0, 0.0, true, true);
            if let Some(first) = ls.first_mut() {
                first.anchors.push(format!("{}#{}", c.path, heading_id(&t)));
                first.mark = Some((c.depth + (level as usize).saturating_sub(1).max(1), t));
            }
            blocks.extend(ls);
        }
        Node::Para {
            spans,
            prefix,
            depth,
            quote,
        } => {
            *skipped_title = true;
            let indent =
                depth.saturating_sub(1) as f32 * BODY * 2.0 + if quote { BODY * 1.5 } else { 0.0 };
            let hang = indent + m.width(&prefix, BODY);
            let mut all = vec![Span {
                text: prefix,
                ..Span::default()
            }];
            all.extend(spans);
            all.retain(|s| !s.text.is_empty());
            let mut ls = rich(m, &all, &c.path, BODY, LEAD, indent, hang, false);
            if quote {
                for b in &mut ls {
                    b.ops.push(Op::Fill {
                        x: LEFT + indent - BODY,
                        y: 0.0,
                        w: 2.0,
                        h: LEAD,
                        ink: GREY,
                    });
                }
            }
            blocks.extend(ls);
            blocks.push(Block::gap(LEAD * 0.35));
        }
        Node::Code(code) => {
            *skipped_title = true;
            for raw in code.lines() {
                let wrapped = m.wrap(raw, CODE, WIDTH - 2.0 * PAD);
                for l in wrapped {
                    blocks.push(Block {
                        h: CODE_LEAD,
                        ops: vec![
                            Op::Fill {
                                x: LEFT,
                                y: 0.0,
                                w: WIDTH,
                                h: CODE_LEAD,
                                ink: LIGHT,
                            },
                            text(LEFT + PAD, m.baseline(0.0, CODE_LEAD, CODE), CODE, l),
                        ],
                        ..Block::default()
                    });
                }
            }
            blocks.push(Block::gap(LEAD * 0.5));
        }
        Node::Table { head, rows } => {
            *skipped_title = true;
            table(m, &head, &rows, blocks);
            blocks.push(Block::gap(LEAD * 0.5));
        }
        Node::Image { alt, src } => {
            *skipped_title = true;
            figure(m, c, &alt, &src, blocks);
        }
        Node::Rule => blocks.push(Block {
            h: LEAD,
            ops: vec![line(LEFT, LEAD / 2.0, LEFT + WIDTH, LEAD / 2.0, 0.4)],
            ..Block::default()
        }),
    }
}

/// Column widths in proportion to their widest cell, each at least four
/// characters, filling the text width.
fn table(m: &Measure, head: &[String], rows: &[Vec<String>], blocks: &mut Vec<Block>) {
    let cols = head.len().max(rows.iter().map(Vec::len).max().unwrap_or(0));
    if cols == 0 {
        return;
    }
    let mut natural = vec![CELL * 4.0; cols];
    for r in std::iter::once(head).chain(rows.iter().map(Vec::as_slice)) {
        for (i, cell) in r.iter().enumerate() {
            natural[i] = natural[i].max(m.width(cell, CELL) + 2.0 * PAD);
        }
    }
    let total: f32 = natural.iter().sum();
    let widths: Vec<f32> = if total <= WIDTH {
        natural.iter().map(|w| w * WIDTH / total).collect()
    } else {
        // Too wide: long columns give way, short ones keep their width.
        let fair = WIDTH / cols as f32;
        let short: f32 = natural.iter().filter(|w| **w <= fair).sum();
        let long: f32 = natural.iter().filter(|w| **w > fair).sum();
        let room = (WIDTH - short).max(0.0);
        natural
            .iter()
            .map(|w| {
                if *w <= fair {
                    *w
                } else {
                    w * room / long.max(1.0)
                }
            })
            .collect()
    };
    let mut edges = vec![LEFT];
    for w in &widths {
        let last = edges.last().copied().unwrap_or(LEFT);
        edges.push(last + w);
    }
    let row = |cells: &[String], bold: bool| -> Block {
        let wrapped: Vec<Vec<String>> = (0..cols)
            .map(|i| {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                m.wrap(cell, CELL, widths[i] - 2.0 * PAD)
            })
            .collect();
        let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let h = lines as f32 * CELL_LEAD + PAD;
        let mut b = Block {
            h,
            ..Block::default()
        };
        if bold {
            b.ops.push(Op::Fill {
                x: LEFT,
                y: 0.0,
                w: WIDTH.min(edges[cols] - LEFT),
                h,
                ink: LIGHT,
            });
        }
        for (i, w) in wrapped.into_iter().enumerate() {
            let mut y = PAD / 2.0;
            for l in w {
                b.ops.push(Op::Text {
                    x: edges[i] + PAD,
                    y: m.baseline(y, CELL_LEAD, CELL),
                    size: CELL,
                    text: l,
                    ink: draw::BLACK,
                    bold,
                });
                y += CELL_LEAD;
            }
        }
        let (l, r) = (edges[0], edges[cols]);
        b.ops.push(line(l, 0.0, r, 0.0, 0.5));
        b.ops.push(line(l, h, r, h, 0.5));
        for &x in &edges {
            b.ops.push(line(x, 0.0, x, h, 0.5));
        }
        b
    };
    // The header row again at the top of each page the table runs onto.
    let mut repeat = None;
    if !head.is_empty() {
        let mut h = row(head, true);
        h.keep_next = true;
        repeat = Some(Arc::new(h.clone()));
        blocks.push(h);
    }
    for r in rows {
        let mut b = row(r, false);
        b.repeat = repeat.clone();
        blocks.push(b);
    }
}

/// A figure (its SVG drawn) with its caption under it.
fn figure(m: &Measure, c: &crate::Chapter, alt: &str, src: &str, blocks: &mut Vec<Block>) {
    let svg = c
        .figures
        .iter()
        .find(|(p, _)| p == src)
        .map(|(_, s)| s.as_str());
    let caption = if alt.is_empty() { src } else { alt };
    let drawing = crate::svg::drawing(svg, m, LEFT, WIDTH, (BOTTOM - TOP) * 0.6);
    let h = drawing.height;
    let mut b = Block {
        h: h + LEAD,
        ops: drawing.ops,
        ..Block::default()
    };
    let cap = format!("图　{caption}");
    let cw = m.width(&cap, CELL);
    b.ops.push(Op::Text {
        x: LEFT + (WIDTH - cw).max(0.0) / 2.0,
        y: h + m.baseline(0.0, LEAD, CELL),
        size: CELL,
        text: cap,
        ink: GREY,
        bold: false,
    });
    blocks.push(Block::gap(LEAD * 0.5));
    blocks.push(b);
    blocks.push(Block::gap(LEAD * 0.5));
}
