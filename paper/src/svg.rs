//! Figures: the SVG subset manual figures are drawn in (rect, line,
//! polyline/polygon, path with straight segments, text with its anchor,
//! arrowhead markers), scaled to the text width. Anything else in the file
//! is left out; a file this cannot read gets an empty frame, its caption
//! still under it.

use crate::draw::{Ink, Measure, Op, BLACK};

pub(crate) struct Drawing {
    pub height: f32,
    /// Ops with x absolute, y from the figure's top.
    pub ops: Vec<Op>,
}

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
    let map = |x: f32, y: f32| (x0 + (x - vx) * scale, (y - vy) * scale);
    let mut ops = Vec::new();
    let mut arrow: Option<Ink> = None;
    for el in elements(svg) {
        let a = |n: &str| attr(&el.attrs, n);
        let num = |n: &str| a(n).and_then(|v| number(&v)).unwrap_or(0.0);
        let fill = match a("fill") {
            Some(v) => colour(&v),
            None => Some(BLACK),
        };
        let stroke = a("stroke").and_then(|v| colour(&v)).map(|ink| {
            (
                ink,
                a("stroke-width").and_then(|w| number(&w)).unwrap_or(1.0) * scale,
            )
        });
        match el.name.as_str() {
            "marker-path" => arrow = fill.or(arrow),
            "rect" => {
                let (x, y) = map(num("x"), num("y"));
                let (w, h) = (num("width") * scale, num("height") * scale);
                let pts = vec![(x, y), (x + w, y), (x + w, y + h), (x, y + h)];
                ops.push(Op::Shape {
                    lines: vec![(pts, true)],
                    fill,
                    stroke,
                });
            }
            "line" => {
                let pts = vec![map(num("x1"), num("y1")), map(num("x2"), num("y2"))];
                push_stroked(
                    &mut ops,
                    pts,
                    stroke,
                    a("marker-end").is_some().then_some(arrow).flatten(),
                    scale,
                );
            }
            "polyline" | "polygon" => {
                let nums: Vec<f32> = a("points").map(|p| numbers(&p)).unwrap_or_default();
                let pts: Vec<(f32, f32)> = nums
                    .chunks(2)
                    .filter(|c| c.len() == 2)
                    .map(|c| map(c[0], c[1]))
                    .collect();
                let closed = el.name == "polygon";
                ops.push(Op::Shape {
                    lines: vec![(pts, closed)],
                    fill: if closed { fill } else { None },
                    stroke,
                });
            }
            "path" => {
                let lines: Vec<(Vec<(f32, f32)>, bool)> = a("d")
                    .map(|d| path(&d))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(pts, closed)| {
                        (pts.into_iter().map(|(x, y)| map(x, y)).collect(), closed)
                    })
                    .collect();
                let any_closed = lines.iter().any(|(_, c)| *c);
                let end = a("marker-end").is_some().then_some(arrow).flatten();
                let last = lines.last().map(|(p, _)| p.clone());
                ops.push(Op::Shape {
                    lines,
                    fill: if any_closed { fill } else { None },
                    stroke,
                });
                if let (Some(ink), Some(pts)) = (end, last) {
                    arrowhead(&mut ops, &pts, ink, scale);
                }
            }
            "text" => {
                let size = a("font-size").and_then(|v| number(&v)).unwrap_or(16.0) * scale;
                let (x, y) = map(num("x"), num("y"));
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

fn push_stroked(
    ops: &mut Vec<Op>,
    pts: Vec<(f32, f32)>,
    stroke: Option<(Ink, f32)>,
    arrow: Option<Ink>,
    scale: f32,
) {
    if let Some(ink) = arrow {
        arrowhead(ops, &pts, ink, scale);
    }
    ops.push(Op::Shape {
        lines: vec![(pts, false)],
        fill: None,
        stroke,
    });
}

/// A filled triangle at the end of `pts`, pointing along the last segment.
fn arrowhead(ops: &mut Vec<Op>, pts: &[(f32, f32)], ink: Ink, scale: f32) {
    let [.., (ax, ay), (bx, by)] = pts else {
        return;
    };
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
        (*bx, *by),
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
}

/// The drawable elements in document order; a marker's path comes as
/// `marker-path` (its colour is the arrowheads'); title, desc and other
/// definitions are skipped.
fn elements(svg: &str) -> Vec<Element> {
    let mut out = Vec::new();
    let mut rest = svg;
    let mut skip: Option<String> = None;
    let mut in_marker = false;
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
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let (name, attrs) = tag.split_once(char::is_whitespace).unwrap_or((tag, ""));
        if skip.is_some() {
            continue;
        }
        match name {
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
                out.push(Element {
                    name: "text".into(),
                    attrs: attrs.to_string(),
                    text: unescape(text.trim()),
                });
            }
            "path" if in_marker => out.push(Element {
                name: "marker-path".into(),
                attrs: attrs.to_string(),
                text: String::new(),
            }),
            "rect" | "line" | "polyline" | "polygon" | "path" if !in_marker => out.push(Element {
                name: name.to_string(),
                attrs: attrs.to_string(),
                text: String::new(),
            }),
            _ => {}
        }
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

/// Straight-segment paths: M L H V Z, absolute and relative; curves are
/// joined by their end points.
fn path(d: &str) -> Vec<(Vec<(f32, f32)>, bool)> {
    let mut tokens: Vec<String> = Vec::new();
    let mut num = String::new();
    for c in d.chars() {
        if c.is_ascii_alphabetic() && c != 'e' && c != 'E' {
            if !num.is_empty() {
                tokens.push(std::mem::take(&mut num));
            }
            tokens.push(c.to_string());
        } else if c == ','
            || c.is_whitespace()
            || (c == '-' && !num.is_empty() && !num.ends_with(['e', 'E']))
        {
            if !num.is_empty() {
                tokens.push(std::mem::take(&mut num));
            }
            if c == '-' {
                num.push(c);
            }
        } else {
            num.push(c);
        }
    }
    if !num.is_empty() {
        tokens.push(num);
    }
    let mut out: Vec<(Vec<(f32, f32)>, bool)> = Vec::new();
    let mut cur: Vec<(f32, f32)> = Vec::new();
    let (mut x, mut y) = (0.0f32, 0.0f32);
    let mut cmd = 'M';
    let mut i = 0;
    let take = |i: &mut usize| -> Option<f32> {
        let v = tokens.get(*i)?.parse().ok()?;
        *i += 1;
        Some(v)
    };
    while i < tokens.len() {
        if let Some(c) = tokens[i].chars().next().filter(|c| c.is_ascii_alphabetic()) {
            cmd = c;
            i += 1;
            if cmd == 'Z' || cmd == 'z' {
                if cur.len() > 1 {
                    out.push((std::mem::take(&mut cur), true));
                }
                continue;
            }
        }
        let rel = cmd.is_ascii_lowercase();
        let (bx, by) = if rel { (x, y) } else { (0.0, 0.0) };
        match cmd.to_ascii_uppercase() {
            'M' | 'L' | 'T' => {
                let (Some(a), Some(b)) = (take(&mut i), take(&mut i)) else {
                    break;
                };
                (x, y) = (bx + a, by + b);
                if cmd.eq_ignore_ascii_case(&'M') {
                    if cur.len() > 1 {
                        out.push((std::mem::take(&mut cur), false));
                    }
                    cur.clear();
                    // Further pairs after M are line-tos.
                    cmd = if rel { 'l' } else { 'L' };
                }
                cur.push((x, y));
            }
            'H' => {
                let Some(a) = take(&mut i) else { break };
                x = bx + a;
                cur.push((x, y));
            }
            'V' => {
                let Some(b) = take(&mut i) else { break };
                y = by + b;
                cur.push((x, y));
            }
            'C' | 'S' | 'Q' | 'A' => {
                let n = match cmd.to_ascii_uppercase() {
                    'C' => 6,
                    'S' | 'Q' => 4,
                    _ => 7,
                };
                let mut vals = Vec::new();
                for _ in 0..n {
                    match take(&mut i) {
                        Some(v) => vals.push(v),
                        None => break,
                    }
                }
                if vals.len() < n {
                    break;
                }
                (x, y) = (bx + vals[n - 2], by + vals[n - 1]);
                cur.push((x, y));
            }
            _ => i += 1,
        }
    }
    if cur.len() > 1 {
        out.push((cur, false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_attributes_and_colours_are_read() {
        assert_eq!(
            path("M360,84 V110 M160,110 H560"),
            vec![
                (vec![(360.0, 84.0), (360.0, 110.0)], false),
                (vec![(160.0, 110.0), (560.0, 110.0)], false)
            ]
        );
        assert!(path("M0,0 L10,5 L0,10 z")[0].1);
        assert_eq!(
            path("m1 1l2-1h3")[0].0,
            vec![(1.0, 1.0), (3.0, 0.0), (6.0, 0.0)]
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
}
