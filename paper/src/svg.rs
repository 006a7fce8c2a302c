//! Figures. The drawing itself is not rendered yet: the figure's place is a
//! frame with the SVG's own `<title>` in it, and the caption under it.

use crate::draw::{line, Op};

pub(crate) struct Drawing {
    pub height: f32,
    /// Ops with x from the text area's left edge, y from the figure's top.
    pub ops: Vec<Op>,
}

/// The figure's frame, `width` wide, as tall as the SVG's aspect ratio says
/// (capped at a third of a page).
pub(crate) fn drawing(svg: Option<&str>, width: f32) -> Drawing {
    let ratio = svg.and_then(aspect).unwrap_or(0.4);
    let height = (width * ratio).clamp(40.0, 250.0);
    let ops = vec![
        line(0.0, 0.0, width, 0.0, 0.5),
        line(0.0, height, width, height, 0.5),
        line(0.0, 0.0, 0.0, height, 0.5),
        line(width, 0.0, width, height, 0.5),
    ];
    Drawing { height, ops }
}

/// Height over width from the root element's `viewBox`.
fn aspect(svg: &str) -> Option<f32> {
    let at = svg.find("viewBox=\"")? + "viewBox=\"".len();
    let rest = &svg[at..];
    let end = rest.find('"')?;
    let nums: Vec<f32> = rest[..end]
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    match nums.as_slice() {
        [_, _, w, h] if *w > 0.0 => Some(h / w),
        _ => None,
    }
}
