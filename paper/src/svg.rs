//! Figures: the SVG manual figures are drawn in (rect with rounded corners,
//! circle, ellipse, line, polyline/polygon, paths with curves and arcs,
//! dashes, text with its anchor, arrowhead markers, groups' transforms),
//! scaled to the text width. Paths, shapes and transforms are kurbo's
//! (already built for the font subsetter). Anything else in the file is
//! left out; a file this cannot read gets an empty frame, its caption still
//! under it.

use crate::draw::{Ink, Measure, Op, BLACK};
use kurbo::{Affine, BezPath, Circle, Ellipse, PathEl, Point, Rect, RoundedRect, Shape};

pub(crate) struct Drawing {
    pub height: f32,
    /// Ops with x absolute, y from the figure's top.
    pub ops: Vec<Op>,
}

/// How finely curves of circles and ellipses are approximated, in user units.
const TOLERANCE: f64 = 0.1;

/// The figure `left`…`left + width` wide, as tall as its aspect ratio says
/// (at most `max_h`, narrower then).
pub(crate) fn drawing(
    svg: Option<&str>,
    m: &Measure,
    left: f32,
    width: f32,
    max_h: f32,
) -> Drawing {
    let Some(svg) = svg else {
        return frame(left, width, width * 0.4);
    };
    let Some((vx, vy, vw, vh)) = view_box(svg) else {
        return frame(left, width, width * 0.4);
    };
    let mut scale = width / vw;
    if vh * scale > max_h {
        scale = max_h / vh;
    }
    let x0 = left + (width - vw * scale) / 2.0;
    // User space to the page: the view box scaled into the text width.
    let page = Affine::translate((f64::from(x0), 0.0))
        * Affine::scale(f64::from(scale))
        * Affine::translate((-f64::from(vx), -f64::from(vy)));
    let mut ops = Vec::new();
    let mut arrow: Option<Ink> = None;
    for el in elements(svg) {
        let a = |n: &str| attr(&el.attrs, n);
        let num = |n: &str| a(n).and_then(|v| number(&v)).unwrap_or(0.0);
        let to_page = page * el.transform;
        // Lengths (stroke widths, font sizes) scale by the transform's mean factor.
        let factor = to_page.determinant().abs().sqrt() as f32;
        let fill = match a("fill") {
            Some(v) => colour(&v),
            None => Some(BLACK),
        };
        let stroke = a("stroke").and_then(|v| colour(&v)).map(|ink| {
            (
                ink,
                a("stroke-width").and_then(|w| number(&w)).unwrap_or(1.0) * factor,
            )
        });
        let dash: Vec<f32> = a("stroke-dasharray")
            .map(|d| numbers(&d).into_iter().map(|v| v * factor).collect())
            .unwrap_or_default();
        let dash = if dash.iter().all(|v| *v > 0.0) {
            dash
        } else {
            Vec::new()
        };
        let shape = |path: BezPath, fill: Option<Ink>| Op::Path {
            path: to_page * path,
            fill,
            stroke,
            dash: dash.clone(),
        };
        let f = |n: &str| f64::from(num(n));
        match el.name.as_str() {
            "marker-path" => arrow = fill.or(arrow),
            "rect" => {
                let r = Rect::new(f("x"), f("y"), f("x") + f("width"), f("y") + f("height"));
                // rx alone gives ry too, and the other way round.
                let (rx, ry) = match (a("rx"), a("ry")) {
                    (Some(_), None) => (f("rx"), f("rx")),
                    (None, Some(_)) => (f("ry"), f("ry")),
                    _ => (f("rx"), f("ry")),
                };
                let path = if rx > 0.0 || ry > 0.0 {
                    RoundedRect::from_rect(r, rx.max(ry)).to_path(TOLERANCE)
                } else {
                    r.to_path(TOLERANCE)
                };
                ops.push(shape(path, fill));
            }
            "circle" => {
                let c = Circle::new(Point::new(f("cx"), f("cy")), f("r"));
                ops.push(shape(c.to_path(TOLERANCE), fill));
            }
            "ellipse" => {
                let e = Ellipse::new(Point::new(f("cx"), f("cy")), (f("rx"), f("ry")), 0.0);
                ops.push(shape(e.to_path(TOLERANCE), fill));
            }
            "line" | "polyline" | "polygon" => {
                let nums: Vec<f32> = if el.name == "line" {
                    vec![num("x1"), num("y1"), num("x2"), num("y2")]
                } else {
                    a("points").map(|p| numbers(&p)).unwrap_or_default()
                };
                let mut path = BezPath::new();
                for (i, c) in nums.chunks(2).filter(|c| c.len() == 2).enumerate() {
                    let p = Point::new(f64::from(c[0]), f64::from(c[1]));
                    if i == 0 {
                        path.move_to(p);
                    } else {
                        path.line_to(p);
                    }
                }
                let closed = el.name == "polygon";
                if closed {
                    path.close_path();
                }
                let end = (a("marker-end").is_some()).then_some(arrow).flatten();
                let path = to_page * path;
                if let Some(ink) = end {
                    arrowhead(&mut ops, &path, ink, factor);
                }
                ops.push(Op::Path {
                    path,
                    fill: if closed { fill } else { None },
                    stroke,
                    dash: dash.clone(),
                });
            }
            "path" => {
                // A path kurbo cannot read is left out, not half drawn.
                let Some(path) = a("d").and_then(|d| BezPath::from_svg(&d).ok()) else {
                    continue;
                };
                let closed = path
                    .elements()
                    .iter()
                    .any(|e| matches!(e, PathEl::ClosePath));
                let end = a("marker-end").is_some().then_some(arrow).flatten();
                let path = to_page * path;
                if let Some(ink) = end {
                    arrowhead(&mut ops, &path, ink, factor);
                }
                // An open path is filled only when asked to (SVG fills it by default,
                // but figures' open paths are lines).
                let fill = if closed || a("fill").is_some() {
                    fill
                } else {
                    None
                };
                ops.push(Op::Path {
                    path,
                    fill,
                    stroke,
                    dash: dash.clone(),
                });
            }
            "text" => {
                let size = a("font-size").and_then(|v| number(&v)).unwrap_or(16.0) * factor;
                let at = to_page * Point::new(f("x"), f("y"));
                let (x, y) = (at.x as f32, at.y as f32);
                let w = m.width(&el.text, size);
                let x = match a("text-anchor").as_deref() {
                    Some("middle") => x - w / 2.0,
                    Some("end") => x - w,
                    _ => x,
                };
                ops.push(Op::Text {
                    x,
                    y,
                    size,
                    text: el.text.clone(),
                    ink: fill.unwrap_or(BLACK),
                    bold: a("font-weight")
                        .is_some_and(|v| v == "bold" || v.starts_with(['6', '7', '8', '9'])),
                });
            }
            _ => {}
        }
    }
    Drawing {
        height: vh * scale,
        ops,
    }
}

fn frame(left: f32, width: f32, height: f32) -> Drawing {
    let pts = vec![
        (left, 0.0),
        (left + width, 0.0),
        (left + width, height),
        (left, height),
    ];
    Drawing {
        height,
        ops: vec![Op::Shape {
            lines: vec![(pts, true)],
            fill: None,
            stroke: Some((BLACK, 0.5)),
        }],
    }
}

/// A filled triangle at the end of `path`, pointing along its last segment
/// (for a curve: from its last control point).
fn arrowhead(ops: &mut Vec<Op>, path: &BezPath, ink: Ink, scale: f32) {
    let mut prev = None;
    let mut tip = None;
    for el in path.elements() {
        match *el {
            PathEl::MoveTo(p) => {
                prev = None;
                tip = Some(p);
            }
            PathEl::LineTo(p) => (prev, tip) = (tip, Some(p)),
            PathEl::QuadTo(c, p) | PathEl::CurveTo(_, c, p) => (prev, tip) = (Some(c), Some(p)),
            PathEl::ClosePath => {}
        }
    }
    let (Some(a), Some(b)) = (prev, tip) else {
        return;
    };
    let (ax, ay, bx, by) = (a.x as f32, a.y as f32, b.x as f32, b.y as f32);
    let (dx, dy) = (bx - ax, by - ay);
    let len = (dx * dx + dy * dy).sqrt();
    if len <= 0.0 {
        return;
    }
    let (ux, uy) = (dx / len, dy / len);
    let size = 8.0 * scale;
    let back = (bx - ux * size, by - uy * size);
    let half = size * 0.5;
    let tri = vec![
        (bx, by),
        (back.0 - uy * half, back.1 + ux * half),
        (back.0 + uy * half, back.1 - ux * half),
    ];
    ops.push(Op::Shape {
        lines: vec![(tri, true)],
        fill: Some(ink),
        stroke: None,
    });
}

/// `viewBox` of the root, else its width and height.
fn view_box(svg: &str) -> Option<(f32, f32, f32, f32)> {
    let open = svg.find("<svg")?;
    let end = svg[open..].find('>')? + open;
    let attrs = &svg[open + 4..end];
    if let Some(v) = attr(attrs, "viewBox") {
        if let [x, y, w, h] = numbers(&v)[..] {
            if w > 0.0 && h > 0.0 {
                return Some((x, y, w, h));
            }
        }
    }
    let w = attr(attrs, "width").and_then(|v| number(&v))?;
    let h = attr(attrs, "height").and_then(|v| number(&v))?;
    (w > 0.0 && h > 0.0).then_some((0.0, 0.0, w, h))
}

struct Element {
    name: String,
    attrs: String,
    text: String,
    /// Its own `transform` after those of the groups it is in.
    transform: Affine,
}

/// The drawable elements in document order; a marker's path comes as
/// `marker-path` (its colour is the arrowheads'); title, desc and other
/// definitions are skipped.
fn elements(svg: &str) -> Vec<Element> {
    let mut out = Vec::new();
    let mut rest = svg;
    let mut skip: Option<String> = None;
    let mut in_marker = false;
    // The transforms of the open groups, outermost first.
    let mut groups: Vec<Affine> = Vec::new();
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt + 1..];
        let Some(gt) = rest.find('>') else { break };
        let tag = &rest[..gt];
        let after = &rest[gt + 1..];
        rest = after;
        if tag.starts_with('!') || tag.starts_with('?') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            if skip.as_deref() == Some(name) {
                skip = None;
            }
            if name == "marker" {
                in_marker = false;
            }
            if name == "g" && skip.is_none() {
                groups.pop();
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, attrs) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        if skip.is_some() {
            continue;
        }
        let outer = groups.last().copied().unwrap_or(Affine::IDENTITY);
        let transform =
            outer * attr(attrs, "transform").map_or(Affine::IDENTITY, |t| parse_transform(&t));
        let element = |name: &str, text: String| Element {
            name: name.to_string(),
            attrs: attrs.to_string(),
            text,
            transform,
        };
        match name {
            "g" if !self_closing => groups.push(transform),
            "marker" => in_marker = !self_closing,
            "title" | "desc" | "style" | "script" | "clipPath" | "mask" | "pattern"
            | "linearGradient" | "radialGradient" | "symbol"
                if !self_closing =>
            {
                skip = Some(name.to_string());
            }
            "text" => {
                let end = after.find("</text>").unwrap_or(after.len());
                // Tspans and their markup are flattened to their text.
                let mut text = String::new();
                let mut inside = false;
                for c in after[..end].chars() {
                    match c {
                        '<' => inside = true,
                        '>' => inside = false,
                        c if !inside => text.push(c),
                        _ => {}
                    }
                }
                out.push(element("text", unescape(text.trim())));
            }
            "path" if in_marker => out.push(element("marker-path", String::new())),
            "rect" | "circle" | "ellipse" | "line" | "polyline" | "polygon" | "path"
                if !in_marker =>
            {
                out.push(element(name, String::new()))
            }
            _ => {}
        }
    }
    out
}

/// An SVG `transform` list (matrix, translate, scale, rotate, skewX, skewY),
/// applied right to left as SVG applies them; what it cannot read is left out.
fn parse_transform(t: &str) -> Affine {
    let mut out = Affine::IDENTITY;
    for item in t.split(')') {
        let Some((name, args)) = item.split_once('(') else {
            continue;
        };
        let v: Vec<f64> = numbers(args).into_iter().map(f64::from).collect();
        let one = match (name.trim().trim_start_matches(','), v.as_slice()) {
            ("matrix", [a, b, c, d, e, f]) => Affine::new([*a, *b, *c, *d, *e, *f]),
            ("translate", [x]) => Affine::translate((*x, 0.0)),
            ("translate", [x, y]) => Affine::translate((*x, *y)),
            ("scale", [s]) => Affine::scale(*s),
            ("scale", [x, y]) => Affine::scale_non_uniform(*x, *y),
            ("rotate", [a]) => Affine::rotate(a.to_radians()),
            ("rotate", [a, x, y]) => Affine::rotate_about(a.to_radians(), Point::new(*x, *y)),
            ("skewX", [a]) => Affine::skew(a.to_radians().tan(), 0.0),
            ("skewY", [a]) => Affine::skew(0.0, a.to_radians().tan()),
            _ => Affine::IDENTITY,
        };
        out *= one;
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The value of attribute `name` in `attrs`.
fn attr(attrs: &str, name: &str) -> Option<String> {
    let mut rest = attrs;
    while let Some(at) = rest.find(name) {
        let before = rest[..at].chars().last();
        let tail = rest[at + name.len()..].trim_start();
        if before.is_none_or(char::is_whitespace) {
            if let Some(v) = tail.strip_prefix('=') {
                let v = v.trim_start();
                let q = v.chars().next()?;
                if q == '"' || q == '\'' {
                    let v = &v[1..];
                    return v.find(q).map(|e| unescape(&v[..e]));
                }
            }
        }
        rest = &rest[at + name.len()..];
    }
    None
}

fn number(v: &str) -> Option<f32> {
    v.trim().trim_end_matches("px").parse().ok()
}

fn numbers(v: &str) -> Vec<f32> {
    v.split([' ', ',', '\n', '\t'])
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

fn colour(v: &str) -> Option<Ink> {
    let v = v.trim();
    let hex = |s: &str| u8::from_str_radix(s, 16).ok();
    match v {
        "none" | "transparent" => None,
        "black" => Some(Ink(0, 0, 0)),
        "white" => Some(Ink(255, 255, 255)),
        "red" => Some(Ink(255, 0, 0)),
        "gray" | "grey" => Some(Ink(128, 128, 128)),
        _ if v.len() == 7 && v.starts_with('#') => {
            Some(Ink(hex(&v[1..3])?, hex(&v[3..5])?, hex(&v[5..7])?))
        }
        _ if v.len() == 4 && v.starts_with('#') => {
            let d = |i: usize| hex(&v[i..i + 1]).map(|n| n * 17);
            Some(Ink(d(1)?, d(2)?, d(3)?))
        }
        _ => Some(BLACK),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_attributes_and_colours_are_read() {
        assert_eq!(
            parse_transform("translate(20,90) scale(2)") * Point::new(1.0, 1.0),
            Point::new(22.0, 92.0)
        );
        assert_eq!(
            attr(r#" x="20" font-size="16""#, "x").as_deref(),
            Some("20")
        );
        assert_eq!(attr(r#" font-size="16" x="20""#, "size"), None);
        assert_eq!(colour("#2f4f75"), Some(Ink(0x2f, 0x4f, 0x75)));
        assert_eq!(colour("none"), None);
        let svg = r##"<svg viewBox="0 0 100 50"><title>t</title><defs><marker id="a"><path d="M0,0 L1,1 z" fill="#ff0000"/></marker></defs><rect x="0" y="0" width="10" height="10"/><text x="5" y="5">甲 &amp; 乙</text><path d="M0,0 H10" marker-end="url(#a)" fill="none" stroke="#000"/></svg>"##;
        let els = elements(svg);
        let names: Vec<&str> = els.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["marker-path", "rect", "text", "path"]);
        assert_eq!(els[2].text, "甲 & 乙");
        assert_eq!(view_box(svg), Some((0.0, 0.0, 100.0, 50.0)));
    }

    #[test]
    fn curves_rounded_corners_circles_dashes_and_groups_are_drawn() {
        let font = crate::Font::find(std::path::Path::new("")).expect("a CJK font");
        let face = font.face().unwrap();
        let m = Measure {
            shaper: faxsheet::text::Shaper::new(&face),
        };
        let svg = include_str!("../../tests/fixtures/parts/src/images/curves.svg");
        let d = drawing(Some(svg), &m, 0.0, 400.0, 1000.0);
        assert!((d.height - 200.0).abs() < 0.01, "{}", d.height);
        let paths: Vec<(&BezPath, &Vec<f32>)> = d
            .ops
            .iter()
            .filter_map(|op| match op {
                Op::Path { path, dash, .. } => Some((path, dash)),
                _ => None,
            })
            .collect();
        // rect (rounded), circle, ellipse, cubic, quad + arc, dashed line.
        assert_eq!(paths.len(), 6, "{:?}", d.ops);
        let curved = |p: &BezPath| {
            p.elements()
                .iter()
                .any(|e| matches!(e, PathEl::CurveTo(..) | PathEl::QuadTo(..)))
        };
        for (i, (p, _)) in paths.iter().take(5).enumerate() {
            assert!(curved(p), "shape {i} has no curve: {p:?}");
        }
        // The circle keeps its size: its box is 70 units wide at scale 1.
        let b = paths[1].0.bounding_box();
        assert!(
            (b.width() - 70.0).abs() < 0.5 && (b.min_x() - 265.0).abs() < 0.5,
            "{b:?}"
        );
        assert_eq!(paths[5].1, &vec![6.0, 4.0]);
        // The text in the translated group lands where the group puts it.
        let text = d.ops.iter().find_map(|op| match op {
            Op::Text { x, y, text, .. } if text == "组内文字" => Some((*x, *y)),
            _ => None,
        });
        assert_eq!(text, Some((20.0, 102.0)));
    }
}
