//! Drawing: pages as lists of operations in points (origin top left), written
//! with krilla in the one CJK font, with an outline (bookmarks).

use faxsheet::text::Shaper;
use faxsheet::Font;
use krilla::annotation::{LinkAnnotation, Target};
use krilla::color::rgb;
use krilla::destination::{Destination, XyzDestination};
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::Metadata;
use krilla::outline::{Outline, OutlineNode};
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke, StrokeDash};
use krilla::Document;

pub(crate) const MM: f32 = 72.0 / 25.4;
pub(crate) const A4_W: f32 = 210.0 * MM;
pub(crate) const A4_H: f32 = 297.0 * MM;

/// An ink colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ink(pub u8, pub u8, pub u8);

pub(crate) const BLACK: Ink = Ink(0, 0, 0);
/// The red of the 发文机关标志 and its rules.
pub(crate) const RED: Ink = Ink(0xE6, 0x00, 0x12);
pub(crate) const GREY: Ink = Ink(0x55, 0x55, 0x55);
pub(crate) const LIGHT: Ink = Ink(0xF0, 0xF0, 0xF0);
/// Link text: a dark blue that still prints as black on a fax.
pub(crate) const LINK: Ink = Ink(0x0B, 0x4A, 0x8F);

/// Where a link goes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Goal {
    /// A web address (a URI action).
    Uri(String),
    /// A chapter or heading of the same document, by its anchor key,
    /// resolved to a place once the pages are laid out.
    Anchor(String),
    /// A page (index) and the y on it.
    Place(usize, f32),
}

/// One drawing operation; `y` of text is its baseline.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        text: String,
        ink: Ink,
        /// No bold face on most systems: a thin outline of the same ink.
        bold: bool,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
        width: f32,
        ink: Ink,
    },
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        ink: Ink,
    },
    /// Polylines (each closed or open), filled and/or stroked (a figure's shapes).
    Shape {
        lines: Vec<(Vec<(f32, f32)>, bool)>,
        fill: Option<Ink>,
        stroke: Option<(Ink, f32)>,
    },
    /// A path with curves, filled and/or stroked, dashed if `dash` is not empty.
    Path {
        path: kurbo::BezPath,
        fill: Option<Ink>,
        stroke: Option<(Ink, f32)>,
        dash: Vec<f32>,
    },
    /// The operation slanted about its baseline `y` (italic: the CJK font has none).
    Slant { y: f32, op: Box<Op> },
    /// The operation's text in the document's font number `face` (0: the first).
    Face { face: usize, op: Box<Op> },
    /// A link over the box `x, y, w, h` (drawn nothing; an annotation).
    Link {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        goal: Goal,
    },
}

impl Op {
    /// The same operation `dy` lower.
    pub(crate) fn shifted(&self, dy: f32) -> Op {
        let mut op = self.clone();
        match &mut op {
            Op::Text { y, .. } | Op::Fill { y, .. } | Op::Link { y, .. } => *y += dy,
            Op::Path { path, .. } => {
                path.apply_affine(kurbo::Affine::translate((0.0, f64::from(dy))));
            }
            Op::Slant { y, op: inner } => {
                *y += dy;
                **inner = inner.shifted(dy);
            }
            Op::Face { op: inner, .. } => **inner = inner.shifted(dy),
            Op::Line { y1, y2, .. } => {
                *y1 += dy;
                *y2 += dy;
            }
            Op::Shape { lines, .. } => {
                for (points, _) in lines {
                    for p in points {
                        p.1 += dy;
                    }
                }
            }
        }
        op
    }
}

pub(crate) fn text(x: f32, y: f32, size: f32, s: impl Into<String>) -> Op {
    Op::Text {
        x,
        y,
        size,
        text: s.into(),
        ink: BLACK,
        bold: false,
    }
}

pub(crate) fn line(x1: f32, y1: f32, x2: f32, y2: f32, width: f32) -> Op {
    Op::Line {
        x1,
        y1,
        x2,
        y2,
        width,
        ink: BLACK,
    }
}

/// A bookmark: its level (0 = top), title and where it points.
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    pub level: usize,
    pub title: String,
    pub page: usize,
    pub y: f32,
    /// Listed in the contents (a chapter, not a heading in one).
    pub toc: bool,
    /// The anchor keys links to it use.
    pub anchors: Vec<String>,
}

/// A page: its size and what is drawn on it.
pub(crate) struct Page {
    pub w: f32,
    pub h: f32,
    pub ops: Vec<Op>,
}

impl Page {
    pub(crate) fn a4() -> Page {
        Page {
            w: A4_W,
            h: A4_H,
            ops: Vec::new(),
        }
    }
    pub(crate) fn a4_landscape() -> Page {
        Page {
            w: A4_H,
            h: A4_W,
            ops: Vec::new(),
        }
    }
}

/// Measures in the document's font.
pub(crate) struct Measure<'a> {
    pub shaper: Shaper<'a>,
}

impl Measure<'_> {
    pub(crate) fn width(&self, s: &str, size: f32) -> f32 {
        self.shaper.width(s, size)
    }
    pub(crate) fn wrap(&self, s: &str, size: f32, max: f32) -> Vec<String> {
        self.shaper.wrap(s, size, max)
    }
    /// Baseline of text of `size` centred in a line box of height `lead` at `top`.
    pub(crate) fn baseline(&self, top: f32, lead: f32, size: f32) -> f32 {
        let (asc, desc) = (self.shaper.ascent, self.shaper.descent);
        top + (lead - (asc - desc) * size) / 2.0 + asc * size
    }
    pub(crate) fn ascent(&self, size: f32) -> f32 {
        self.shaper.ascent * size
    }
}

/// Writes the pages as one PDF with `title` and the bookmarks `marks` (in
/// page order; levels nest), its text in `fonts` (the first unless an
/// [`Op::Face`] says otherwise); `keywords` go in its metadata.
pub(crate) fn write(
    title: &str,
    pages: &[Page],
    marks: &[Mark],
    fonts: &[&Font],
    keywords: Vec<String>,
) -> Result<Vec<u8>, String> {
    let faces = fonts
        .iter()
        .map(|f| f.face())
        .collect::<Result<Vec<_>, _>>()?;
    let inks: Vec<(Shaper, krilla::text::Font)> = faces
        .iter()
        .zip(fonts)
        .map(|(face, f)| (Shaper::new(face), f.pdf_font()))
        .collect();
    if inks.is_empty() {
        return Err("no font".into());
    }
    let mut doc = Document::new();
    let mut meta = Metadata::new()
        .title(title.to_string())
        .language("zh-CN".into())
        .creator("gazette".into());
    if !keywords.is_empty() {
        meta = meta.keywords(keywords);
    }
    doc.set_metadata(meta);
    for p in pages {
        let size = PageSettings::from_wh(p.w, p.h).ok_or("bad page size")?;
        let mut page = doc.start_page_with(size);
        let mut surface = page.surface();
        let mut links = Vec::new();
        for op in &p.ops {
            match op {
                Op::Link { x, y, w, h, goal } => links.push((*x, *y, *w, *h, goal)),
                _ => draw(&mut surface, op, &inks, 0),
            }
        }
        surface.finish();
        for (x, y, w, h, goal) in links {
            let target = match goal {
                Goal::Uri(uri) => {
                    Target::Action(krilla::action::LinkAction::new(uri.clone()).into())
                }
                Goal::Place(page, y) if *page < pages.len() => Target::Destination(
                    Destination::Xyz(XyzDestination::new(*page, Point::from_xy(0.0, y.max(0.0)))),
                ),
                // Not found in the document: the text stays, without a link.
                Goal::Place(..) | Goal::Anchor(_) => continue,
            };
            if let Some(rect) = Rect::from_xywh(x, y, w, h) {
                page.add_annotation(LinkAnnotation::new(rect, target).into());
            }
        }
        page.finish();
    }
    if !marks.is_empty() {
        doc.set_outline(outline(marks));
    }
    doc.finish().map_err(|e| format!("PDF: {e}"))
}

fn colour(ink: Ink) -> krilla::color::rgb::Color {
    rgb::Color::new(ink.0, ink.1, ink.2)
}

/// Draws `op` in font `face` of `fonts`.
fn draw(
    surface: &mut krilla::surface::Surface,
    op: &Op,
    fonts: &[(Shaper, krilla::text::Font)],
    face: usize,
) {
    let (shaper, font) = &fonts[face.min(fonts.len() - 1)];
    match op {
        Op::Text {
            x,
            y,
            size,
            text,
            ink,
            bold,
        } => {
            if text.is_empty() {
                return;
            }
            surface.set_fill(Some(Fill {
                paint: colour(*ink).into(),
                ..Fill::default()
            }));
            surface.set_stroke(bold.then(|| Stroke {
                paint: colour(*ink).into(),
                width: size * 0.035,
                ..Stroke::default()
            }));
            let glyphs = shaper.glyphs(text);
            surface.draw_glyphs(
                Point::from_xy(*x, *y),
                &glyphs,
                font.clone(),
                text,
                *size,
                false,
            );
        }
        Op::Line {
            x1,
            y1,
            x2,
            y2,
            width,
            ink,
        } => {
            let mut pb = PathBuilder::new();
            pb.move_to(*x1, *y1);
            pb.line_to(*x2, *y2);
            if let Some(path) = pb.finish() {
                surface.set_fill(None);
                surface.set_stroke(Some(Stroke {
                    paint: colour(*ink).into(),
                    width: *width,
                    ..Stroke::default()
                }));
                surface.draw_path(&path);
            }
        }
        Op::Shape {
            lines,
            fill,
            stroke,
        } => {
            let mut pb = PathBuilder::new();
            for (points, closed) in lines {
                let mut it = points.iter();
                let Some(&(x, y)) = it.next() else {
                    continue;
                };
                pb.move_to(x, y);
                for &(x, y) in it {
                    pb.line_to(x, y);
                }
                if *closed {
                    pb.close();
                }
            }
            if let Some(path) = pb.finish() {
                surface.set_fill(fill.map(|ink| Fill {
                    paint: colour(ink).into(),
                    ..Fill::default()
                }));
                surface.set_stroke(stroke.map(|(ink, width)| Stroke {
                    paint: colour(ink).into(),
                    width,
                    ..Stroke::default()
                }));
                surface.draw_path(&path);
            }
        }
        Op::Path {
            path,
            fill,
            stroke,
            dash,
        } => {
            let mut pb = PathBuilder::new();
            for el in path.elements() {
                use kurbo::PathEl;
                let p = |p: kurbo::Point| (p.x as f32, p.y as f32);
                match *el {
                    PathEl::MoveTo(a) => {
                        let (x, y) = p(a);
                        pb.move_to(x, y);
                    }
                    PathEl::LineTo(a) => {
                        let (x, y) = p(a);
                        pb.line_to(x, y);
                    }
                    PathEl::QuadTo(a, b) => {
                        let ((x1, y1), (x, y)) = (p(a), p(b));
                        pb.quad_to(x1, y1, x, y);
                    }
                    PathEl::CurveTo(a, b, c) => {
                        let ((x1, y1), (x2, y2), (x, y)) = (p(a), p(b), p(c));
                        pb.cubic_to(x1, y1, x2, y2, x, y);
                    }
                    PathEl::ClosePath => pb.close(),
                }
            }
            if let Some(path) = pb.finish() {
                surface.set_fill(fill.map(|ink| Fill {
                    paint: colour(ink).into(),
                    ..Fill::default()
                }));
                surface.set_stroke(stroke.map(|(ink, width)| Stroke {
                    paint: colour(ink).into(),
                    width,
                    dash: (!dash.is_empty()).then(|| StrokeDash {
                        array: dash.clone(),
                        offset: 0.0,
                    }),
                    ..Stroke::default()
                }));
                surface.draw_path(&path);
            }
        }
        Op::Slant { y, op } => {
            // x' = x + k·(y₀ − y): upright at the baseline, leaning right above it.
            const K: f32 = 0.2;
            surface.push_transform(&Transform::from_row(1.0, 0.0, -K, 1.0, K * y, 0.0));
            draw(surface, op, fonts, face);
            surface.pop();
        }
        Op::Face { face, op } => draw(surface, op, fonts, *face),
        Op::Link { .. } => {}
        Op::Fill { x, y, w, h, ink } => {
            let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) else {
                return;
            };
            let mut pb = PathBuilder::new();
            pb.push_rect(rect);
            if let Some(path) = pb.finish() {
                surface.set_stroke(None);
                surface.set_fill(Some(Fill {
                    paint: colour(*ink).into(),
                    ..Fill::default()
                }));
                surface.draw_path(&path);
            }
        }
    }
}

/// Nests the marks by level into krilla's outline.
fn outline(marks: &[Mark]) -> Outline {
    fn node(m: &Mark) -> OutlineNode {
        OutlineNode::new(
            m.title.clone(),
            XyzDestination::new(m.page, Point::from_xy(0.0, m.y.max(0.0))),
        )
    }
    // Builds the children of the marks in `marks[from..]` deeper than `level`.
    fn children(marks: &[Mark], i: &mut usize, level: usize) -> Vec<OutlineNode> {
        let mut out = Vec::new();
        while *i < marks.len() && marks[*i].level >= level {
            let m = &marks[*i];
            *i += 1;
            let mut n = node(m);
            for c in children(marks, i, m.level + 1) {
                n.push_child(c);
            }
            out.push(n);
        }
        out
    }
    let mut outline = Outline::new();
    let mut i = 0;
    let min = marks.iter().map(|m| m.level).min().unwrap_or(0);
    for n in children(marks, &mut i, min) {
        outline.push_child(n);
    }
    outline
}
