//! Blocks flowed down pages: each block is drawn from its top at y = 0, and
//! goes whole to the next page when it does not fit.

use crate::draw::{Mark, Op};
use std::sync::Arc;

#[derive(Debug, Default, Clone)]
pub(crate) struct Block {
    pub h: f32,
    pub ops: Vec<Op>,
    /// Not the last block of a page (a heading with its first line).
    pub keep_next: bool,
    /// Starts a new page (a part of a book).
    pub page_before: bool,
    /// Space only: dropped at the top of a page.
    pub gap: bool,
    /// A bookmark at its top: level and title.
    pub mark: Option<(usize, String)>,
    /// The mark is a contents entry.
    pub toc: bool,
    /// The running head from here on (a chapter's title).
    pub head: Option<String>,
    /// Where links to it point (a chapter's path, a heading's path#id): with its mark.
    pub anchors: Vec<String>,
    /// Drawn first when this block starts a page (a table's header row).
    pub repeat: Option<Arc<Block>>,
}

impl Block {
    pub(crate) fn gap(h: f32) -> Block {
        Block {
            h,
            gap: true,
            ..Block::default()
        }
    }
}

/// A page of flowed blocks: what is drawn, and the running head in force.
#[derive(Default)]
pub(crate) struct Flowed {
    pub ops: Vec<Op>,
    pub head: String,
}

/// Flows `blocks` onto pages whose text area runs from `top` to `bottom`
/// (`first_top` on the first page). Marks get page indexes from `first_page`.
pub(crate) fn paginate(
    blocks: &[Block],
    first_top: f32,
    top: f32,
    bottom: f32,
    first_page: usize,
) -> (Vec<Flowed>, Vec<Mark>) {
    let mut pages = vec![Flowed::default()];
    let mut marks = Vec::new();
    let mut y = first_top;
    let mut head = String::new();
    let mut fresh = true;
    for (i, b) in blocks.iter().enumerate() {
        if b.gap && fresh {
            continue;
        }
        let mut need = b.h;
        if b.keep_next {
            // The heading and what follows it (through a run of headings).
            let mut j = i + 1;
            while let Some(n) = blocks.get(j) {
                need += n.h;
                if !(n.keep_next || n.gap) {
                    break;
                }
                j += 1;
            }
            need = need.min(bottom - top);
        }
        let breaks = !fresh && (b.page_before || y + need > bottom + 0.1);
        if breaks {
            pages.push(Flowed {
                ops: Vec::new(),
                head: head.clone(),
            });
            y = top;
            fresh = true;
            if b.gap {
                continue;
            }
            if let (Some(r), Some(p)) = (&b.repeat, pages.last_mut()) {
                p.ops.extend(r.ops.iter().map(|op| op.shifted(y)));
                y += r.h;
            }
        }
        if let Some(h) = &b.head {
            head = h.clone();
            if let Some(p) = pages.last_mut() {
                if p.ops.is_empty() || p.head.is_empty() {
                    p.head = h.clone();
                }
            }
        }
        if let Some((level, title)) = &b.mark {
            marks.push(Mark {
                level: *level,
                title: title.clone(),
                page: first_page + pages.len() - 1,
                y,
                toc: b.toc,
                anchors: b.anchors.clone(),
            });
        }
        if let Some(p) = pages.last_mut() {
            p.ops.extend(b.ops.iter().map(|op| op.shifted(y)));
        }
        y += b.h;
        fresh = b.gap && fresh;
        if !b.gap {
            fresh = false;
        }
    }
    (pages, marks)
}
