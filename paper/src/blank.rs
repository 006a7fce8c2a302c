//! A form's blank table to fill in by hand. Columns are as wide as what goes
//! in them (a handwritten character takes about 4 mm); when they do not fit
//! A4 landscape side by side, the form is laid out one unit per page: a row
//! per field, the label on the left and room to write on the right.

use crate::draw::{self, line, text, Measure, Op, Page, GREY, MM};
use crate::flow::{paginate, Block};
use crate::{Blank, BlankLayout, Column};
use faxsheet::text::Shaper;
use faxsheet::Font;

/// Room for one handwritten character.
const HAND: f32 = 4.0 * MM;
const LABEL: f32 = 10.5;
const LABEL_LEAD: f32 = 14.0;
const PAD: f32 = 2.0 * MM;
const RULE: f32 = 0.6;
const NOTE: f32 = 9.0;

pub(crate) fn render(b: &Blank, font: &Font) -> Result<(Vec<u8>, BlankLayout), String> {
    let face = font.face()?;
    let m = Measure {
        shaper: Shaper::new(&face),
    };
    let landscape_w = draw::A4_H - 30.0 * MM;
    let widths: Vec<f32> = b.columns.iter().map(|c| column_width(c, &m)).collect();
    let (pages, layout) = if widths.iter().sum::<f32>() <= landscape_w {
        (rows(b, &m, &widths, landscape_w), BlankLayout::Rows)
    } else {
        (one_unit(b, &m), BlankLayout::OneUnitPerPage)
    };
    let title = match b.annex {
        Some(n) => format!("附件{n} {}", b.title),
        None => b.title.to_string(),
    };
    Ok((
        draw::write(&title, &pages, &[], &[font], Vec::new())?,
        layout,
    ))
}

fn column_width(c: &Column, m: &Measure) -> f32 {
    let writing = c.chars.max(2) as f32 * HAND;
    // A label may take two lines; a choice list is printed to tick.
    let label = m.width(&c.label, LABEL) / 2.0 + 2.0 * PAD;
    let label = label.max(m.width("单位", LABEL) + 2.0 * PAD);
    let options = if c.options.is_empty() {
        0.0
    } else {
        c.options
            .iter()
            .map(|o| m.width(&format!("□{o}"), LABEL))
            .fold(0.0, f32::max)
            + 2.0 * PAD
    };
    writing.max(label).max(options) + 2.0 * PAD
}

/// The heading every layout shares: 附件N, the title, 填报单位（盖章） and 日期.
/// Returns the ops and where the table starts.
fn heading(b: &Blank, m: &Measure, left: f32, width: f32) -> (Vec<Op>, f32) {
    let mut ops = Vec::new();
    let mut y = 14.0 * MM;
    if let Some(n) = b.annex {
        ops.push(Op::Text {
            x: left,
            y: y + m.ascent(16.0),
            size: 16.0,
            text: format!("附件{n}"),
            ink: draw::BLACK,
            bold: true,
        });
        y += 10.0 * MM;
    }
    for l in m.wrap(b.title, 20.0, width) {
        let w = m.width(&l, 20.0);
        ops.push(Op::Text {
            x: left + (width - w) / 2.0,
            y: m.baseline(y, 30.0, 20.0),
            size: 20.0,
            text: l,
            ink: draw::BLACK,
            bold: true,
        });
        y += 30.0;
    }
    y += 4.0 * MM;
    let base = m.baseline(y, 20.0, 12.0);
    let unit = "填报单位（盖章）：";
    let uw = m.width(unit, 12.0);
    ops.push(text(left, base, 12.0, unit));
    ops.push(line(
        left + uw,
        base + 3.0,
        left + uw + 80.0 * MM,
        base + 3.0,
        0.5,
    ));
    let date = "填报日期：　　　　年　　月　　日";
    let dw = m.width(date, 12.0);
    ops.push(text(left + width - dw, base, 12.0, date));
    y += 20.0 + 3.0 * MM;
    (ops, y)
}

fn notes(b: &Blank, m: &Measure, left: f32, width: f32) -> Vec<Block> {
    let mut out = vec![Block::gap(3.0 * MM)];
    for n in &b.notes {
        for l in m.wrap(n, NOTE, width) {
            out.push(Block {
                h: NOTE * 1.5,
                ops: vec![Op::Text {
                    x: left,
                    y: m.baseline(0.0, NOTE * 1.5, NOTE),
                    size: NOTE,
                    text: l,
                    ink: GREY,
                    bold: false,
                }],
                ..Block::default()
            });
        }
    }
    out
}

/// Frames a row of cells `h` high at the given x edges.
fn frame_row(edges: &[f32], h: f32, ops: &mut Vec<Op>) {
    let (Some(&l), Some(&r)) = (edges.first(), edges.last()) else {
        return;
    };
    ops.push(line(l, 0.0, r, 0.0, RULE));
    ops.push(line(l, h, r, h, RULE));
    for &x in edges {
        ops.push(line(x, 0.0, x, h, RULE));
    }
}

/// A4 landscape: the labels as the header row, then empty rows to the foot.
fn rows(b: &Blank, m: &Measure, widths: &[f32], width: f32) -> Vec<Page> {
    let left = 15.0 * MM;
    // Spare width goes to the columns in proportion.
    let scale = width / widths.iter().sum::<f32>().max(1.0);
    let mut edges = vec![left];
    for w in widths {
        let last = edges.last().copied().unwrap_or(left);
        edges.push(last + w * scale);
    }
    let (head_ops, top) = heading(b, m, left, width);
    let mut head = Block::default();
    let mut lines_max = 1;
    let wrapped: Vec<Vec<String>> = b
        .columns
        .iter()
        .zip(widths)
        .map(|(c, w)| m.wrap(&c.label, LABEL, w * scale - 2.0 * PAD))
        .collect();
    for w in &wrapped {
        lines_max = lines_max.max(w.len());
    }
    head.h = lines_max as f32 * LABEL_LEAD + 2.0 * PAD;
    for (i, w) in wrapped.iter().enumerate() {
        let cw = edges[i + 1] - edges[i];
        let mut y = (head.h - w.len() as f32 * LABEL_LEAD) / 2.0;
        for l in w {
            let lw = m.width(l, LABEL);
            head.ops.push(Op::Text {
                x: edges[i] + (cw - lw) / 2.0,
                y: m.baseline(y, LABEL_LEAD, LABEL),
                size: LABEL,
                text: l.clone(),
                ink: draw::BLACK,
                bold: true,
            });
            y += LABEL_LEAD;
        }
    }
    frame_row(&edges, head.h, &mut head.ops);
    let row_h = 12.0 * MM;
    let bottom = draw::A4_W - 15.0 * MM;
    let mut blocks = vec![head];
    let note_h = b.notes.len() as f32 * NOTE * 3.0 + 3.0 * MM;
    let room = (bottom - top - blocks[0].h - note_h).max(row_h);
    for _ in 0..((room / row_h) as usize).max(1) {
        let mut r = Block {
            h: row_h,
            ..Block::default()
        };
        frame_row(&edges, row_h, &mut r.ops);
        blocks.push(r);
    }
    blocks.extend(notes(b, m, left, width));
    let (flowed, _) = paginate(&blocks, top, 15.0 * MM, bottom, 0);
    flowed
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let mut p = Page::a4_landscape();
            if i == 0 {
                p.ops.extend(head_ops.iter().cloned());
            }
            p.ops.extend(f.ops);
            p
        })
        .collect()
}

/// A4 portrait, one unit: a row per field, as tall as its answer needs.
fn one_unit(b: &Blank, m: &Measure) -> Vec<Page> {
    let left = 20.0 * MM;
    let width = draw::A4_W - 40.0 * MM;
    let label_w = 42.0 * MM;
    let answer_w = width - label_w;
    let per_line = ((answer_w - 2.0 * PAD) / HAND).floor().max(1.0) as usize;
    let (head_ops, top) = heading(b, m, left, width);
    let bottom = draw::A4_H - 15.0 * MM;
    // Handwriting lines a field needs: its characters over the row width.
    let lines_of = |c: &Column| -> usize {
        if c.long {
            3
        } else {
            c.chars.div_ceil(per_line).clamp(1, 3)
        }
    };
    let edges = [left, left + label_w, left + width];
    let row = |c: &Column, hand_lead: f32| -> Block {
        let label = m.wrap(&c.label, LABEL, label_w - 2.0 * PAD);
        let options = if c.options.is_empty() {
            Vec::new()
        } else {
            let choices: Vec<String> = c.options.iter().map(|o| format!("□{o}")).collect();
            m.wrap(&choices.join("　"), LABEL, answer_w - 2.0 * PAD)
        };
        let text_h = (label.len().max(options.len()) as f32) * LABEL_LEAD + 2.0 * PAD;
        let h = (lines_of(c) as f32 * hand_lead).max(text_h);
        let mut r = Block {
            h,
            ..Block::default()
        };
        r.ops.push(Op::Fill {
            x: left,
            y: 0.0,
            w: label_w,
            h,
            ink: draw::LIGHT,
        });
        let mut y = (h - label.len() as f32 * LABEL_LEAD) / 2.0;
        for l in label {
            r.ops
                .push(text(left + PAD, m.baseline(y, LABEL_LEAD, LABEL), LABEL, l));
            y += LABEL_LEAD;
        }
        let mut y = (h - options.len() as f32 * LABEL_LEAD) / 2.0;
        for l in options {
            r.ops.push(text(
                left + label_w + PAD,
                m.baseline(y, LABEL_LEAD, LABEL),
                LABEL,
                l,
            ));
            y += LABEL_LEAD;
        }
        frame_row(&edges, h, &mut r.ops);
        r
    };
    // Handwriting lines of 10 mm, closer (down to 6 mm) if that keeps the
    // unit on one page.
    let foot = notes(b, m, left, width);
    let foot_h: f32 = foot.iter().map(|b| b.h).sum();
    let mut blocks = Vec::new();
    let mut lead = 10.0 * MM;
    while lead >= 6.0 * MM {
        blocks = b.columns.iter().map(|c| row(c, lead)).collect();
        if blocks.iter().map(|b| b.h).sum::<f32>() + foot_h <= bottom - top {
            break;
        }
        lead -= 0.5 * MM;
    }
    blocks.extend(foot);
    let (flowed, _) = paginate(&blocks, top, 15.0 * MM, bottom, 0);
    flowed
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let mut p = Page::a4();
            if i == 0 {
                p.ops.extend(head_ops.iter().cloned());
            }
            p.ops.extend(f.ops);
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn col(label: &str, chars: usize) -> Column {
        Column {
            label: label.into(),
            chars,
            options: Vec::new(),
            long: false,
            required: true,
        }
    }

    #[test]
    fn columns_that_fit_landscape_are_rows_and_a_wide_form_is_one_unit_per_page() {
        let font = Font::find(Path::new("")).unwrap_or_else(|e| panic!("{e}"));
        let face = font.face().unwrap();
        let m = Measure {
            shaper: Shaper::new(&face),
        };
        // 单位全称 takes at least 14 handwritten characters.
        let name = col("单位全称", 14);
        assert!(column_width(&name, &m) >= 14.0 * HAND);
        // A label wider than its answer widens the column instead of overflowing.
        let short = col("统一社会信用代码", 1);
        assert!(column_width(&short, &m) >= m.width("统一社会信用代码", LABEL) / 2.0);
        let narrow = Blank {
            annex: Some(3),
            title: "联系人信息表",
            columns: vec![name.clone(), col("联系人", 5), col("电话", 12)],
            notes: vec!["请于7月27日前报送。".into()],
        };
        let (pdf, layout) = render(&narrow, &font).unwrap();
        assert_eq!(layout, BlankLayout::Rows);
        assert!(pdf.starts_with(b"%PDF-"));
        let wide = Blank {
            columns: (0..14).map(|i| col(&format!("第{i}项"), 14)).collect(),
            ..narrow
        };
        assert_eq!(render(&wide, &font).unwrap().1, BlankLayout::OneUnitPerPage);
    }
}
