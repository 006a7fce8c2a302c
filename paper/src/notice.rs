//! The notice as a 函 on paper (GB/T 9704-2012 §5, §7, §10.1): A4, 版心
//! 156 × 225 mm at 37 mm from the top and 28 mm from the left, 22 lines of 28
//! characters, the red 发文机关标志 30 mm from the top with a red double rule
//! 4 mm under it, another 20 mm above the bottom of the first page, and page
//! numbers `— N —` from page 2, 7 mm under the 版心, odd right, even left.

use crate::draw::{self, text, Ink, Measure, Op, Page, A4_W, MM, RED};
use crate::flow::{paginate, Block};
use crate::markdown::{parse, plain, Node};
use crate::{Notice, NoticeFonts};
use faxsheet::text::Shaper;

pub(crate) const LEFT: f32 = 28.0 * MM;
pub(crate) const TOP: f32 = 37.0 * MM;
pub(crate) const WIDTH: f32 = 156.0 * MM;
pub(crate) const HEIGHT: f32 = 225.0 * MM;
/// 3号 set on the 28-character grid of the 版心.
const BODY: f32 = WIDTH / 28.0;
/// 22 lines to the 版心.
const LEAD: f32 = HEIGHT / 22.0;
/// 2号.
const TITLE: f32 = 22.0;
const TITLE_LEAD: f32 = 34.0;
/// 4号.
const FOLIO: f32 = 14.0;
const MARK_MAX: f32 = 30.0;
const RULE_LEN: f32 = 170.0 * MM;

pub(crate) fn render(n: &Notice, fonts: &NoticeFonts) -> Result<Vec<u8>, String> {
    let face = fonts.body.face()?;
    let m = Measure {
        shaper: Shaper::new(&face),
    };
    let title_face = fonts.title.face()?;
    let t = Measure {
        shaper: Shaper::new(&title_face),
    };
    let (header, body_top) = first_page_header(n, &m, &t, !fonts.title_heavy);
    let blocks = body_blocks(n, &m);
    let (flowed, _) = paginate(&blocks, body_top, TOP, TOP + HEIGHT, 0);
    let mut pages = Vec::new();
    for (i, f) in flowed.into_iter().enumerate() {
        let mut page = Page::a4();
        if i == 0 {
            page.ops.extend(header.iter().cloned());
        } else {
            page.ops.push(folio(i + 1, &m));
        }
        page.ops.extend(f.ops);
        pages.push(page);
    }
    let title = n.title_lines.concat();
    // Which font set what, for whoever checks the file.
    let keywords = vec![
        format!("正文字体：{}", fonts.body.family()),
        format!("标题字体：{}", fonts.title.family()),
    ];
    draw::write(&title, &pages, &[], &[&fonts.body, &fonts.title], keywords)
}

/// `op` set in the title's font (the document's second).
fn in_title_face(op: Op) -> Op {
    Op::Face {
        face: 1,
        op: Box::new(op),
    }
}

/// `— N —` 7 mm under the 版心: odd pages flush right less one character,
/// even pages flush left plus one.
fn folio(number: usize, m: &Measure) -> Op {
    let s = format!("— {number} —");
    let w = m.width(&s, FOLIO);
    let top = TOP + HEIGHT + 7.0 * MM;
    let y = top + m.ascent(FOLIO);
    let x = if number % 2 == 1 {
        LEFT + WIDTH - FOLIO - w
    } else {
        LEFT + FOLIO
    };
    text(x, y, FOLIO, s)
}

fn red_rule(y: f32, width: f32) -> Op {
    let x = (A4_W - RULE_LEN) / 2.0;
    Op::Line {
        x1: x,
        y1: y,
        x2: x + RULE_LEN,
        y2: y,
        width,
        ink: RED,
    }
}

fn coloured(x: f32, y: f32, size: f32, s: &str, ink: Ink, bold: bool) -> Op {
    Op::Text {
        x,
        y,
        size,
        text: s.to_string(),
        ink,
        bold,
    }
}

/// The 发文机关标志, its rules, the 发文字号, the title and the 主送 line
/// (`t`: the title's font, `bold`: emboldened); returns where the body starts.
fn first_page_header(n: &Notice, m: &Measure, t: &Measure, bold: bool) -> (Vec<Op>, f32) {
    let mut ops = Vec::new();
    let em = t.width("国", 1.0).max(0.5);
    let mark_size = MARK_MAX.min(WIDTH / (t.width(n.mark, 1.0).max(em)));
    let mark_top = 30.0 * MM;
    let w = t.width(n.mark, mark_size);
    ops.push(in_title_face(coloured(
        LEFT + (WIDTH - w) / 2.0,
        mark_top + t.ascent(mark_size),
        mark_size,
        n.mark,
        RED,
        bold,
    )));
    // Thick over thin, 4 mm under the mark.
    let rule = mark_top + mark_size + 4.0 * MM;
    ops.push(red_rule(rule, 2.0));
    ops.push(red_rule(rule + 2.5, 0.75));
    // And thin over thick, 20 mm above the bottom of the page.
    let bottom = draw::A4_H - 20.0 * MM;
    ops.push(red_rule(bottom - 2.5, 0.75));
    ops.push(red_rule(bottom, 2.0));
    // The 发文字号 one line under the rule, flush right in the 版心.
    let mut y = rule + 3.0 * MM;
    let wn = m.width(n.doc_number, BODY);
    ops.push(text(
        LEFT + WIDTH - wn,
        m.baseline(y, LEAD, BODY),
        BODY,
        n.doc_number,
    ));
    y += LEAD * 2.0;
    // The title as the content breaks it, each line centred.
    for l in &n.title_lines {
        for part in t.wrap(l, TITLE, WIDTH) {
            let w = t.width(&part, TITLE);
            ops.push(in_title_face(Op::Text {
                x: LEFT + (WIDTH - w) / 2.0,
                y: t.baseline(y, TITLE_LEAD, TITLE),
                size: TITLE,
                text: part,
                ink: draw::BLACK,
                bold,
            }));
            y += TITLE_LEAD;
        }
    }
    y += LEAD * 0.6;
    (ops, y)
}

/// One block per line of text, so paragraphs run on over pages.
fn lines(
    m: &Measure,
    s: &str,
    first_indent: f32,
    indent: f32,
    bold: bool,
    keep: bool,
) -> Vec<Block> {
    let mut out = Vec::new();
    let wrapped = wrap_hanging(m, s, BODY, WIDTH - first_indent, WIDTH - indent);
    for (i, l) in wrapped.into_iter().enumerate() {
        let x = LEFT + if i == 0 { first_indent } else { indent };
        out.push(Block {
            h: LEAD,
            ops: vec![Op::Text {
                x,
                y: m.baseline(0.0, LEAD, BODY),
                size: BODY,
                text: l,
                ink: draw::BLACK,
                bold,
            }],
            // On the 函's fixed grid a paragraph may leave one line behind.
            keep_next: keep,
            ..Block::default()
        });
    }
    out
}

/// Wraps with a first line of `first` and the others of `rest` width.
pub(crate) fn wrap_hanging(m: &Measure, s: &str, size: f32, first: f32, rest: f32) -> Vec<String> {
    let mut out = Vec::new();
    let lines = m.wrap(s, size, first);
    let Some(head) = lines.first() else {
        return out;
    };
    out.push(head.clone());
    let tail: String = s
        .chars()
        .skip(head.chars().count())
        .collect::<String>()
        .trim_start()
        .to_string();
    if !tail.is_empty() {
        out.extend(m.wrap(&tail, size, rest));
    }
    out
}

fn body_blocks(n: &Notice, m: &Measure) -> Vec<Block> {
    let two = BODY * 2.0;
    let mut blocks = Vec::new();
    if !n.recipients.is_empty() {
        blocks.extend(lines(
            m,
            &format!("{}：", n.recipients),
            0.0,
            0.0,
            false,
            false,
        ));
    }
    for node in parse(n.body) {
        match node {
            Node::Heading { text: t, level } => {
                // 一、 headings in 黑体: bold, on the body's grid.
                blocks.extend(lines(m, &t, two, 0.0, level <= 2, true));
            }
            // The 函 is set in one style: emphasis and links keep their text.
            Node::Para { spans, prefix, .. } => blocks.extend(lines(
                m,
                &format!("{prefix}{}", plain(&spans)),
                two,
                0.0,
                false,
                false,
            )),
            Node::Code(t) => {
                for l in t.lines() {
                    blocks.extend(lines(m, l, two, two, false, false));
                }
            }
            Node::Table { head, rows } => {
                blocks.extend(lines(m, &head.join("　"), two, two, true, false));
                for r in rows {
                    blocks.extend(lines(m, &r.join("　"), two, two, false, false));
                }
            }
            Node::Image { alt, .. } => blocks.extend(lines(m, &alt, two, two, false, false)),
            Node::Rule => blocks.push(Block::gap(LEAD)),
        }
    }
    // 附件说明: a line under the body, 附件：1. 名称, the names aligned.
    if !n.annexes.is_empty() {
        blocks.push(Block::gap(LEAD));
        let label = "附件：";
        let label_w = m.width(label, BODY);
        let many = n.annexes.len() > 1;
        for (i, name) in n.annexes.iter().enumerate() {
            let item = if many {
                format!("{}. {name}", i + 1)
            } else {
                name.clone()
            };
            let num_w = if many {
                m.width(&format!("{}. ", i + 1), BODY)
            } else {
                0.0
            };
            let start = two + label_w;
            let mut ls = lines(m, &item, start, start + num_w, false, false);
            if i == 0 {
                if let Some(b) = ls.first_mut() {
                    b.ops
                        .push(text(LEFT + two, m.baseline(0.0, LEAD, BODY), BODY, label));
                }
            }
            blocks.extend(ls);
        }
    }
    if !n.annex_note.is_empty() {
        blocks.extend(lines(m, n.annex_note, two, 0.0, false, false));
    }
    // 署名 centred over the 成文日期, which stands four characters from the right.
    blocks.push(Block::gap(LEAD * 2.0));
    let date_w = m.width(n.date, BODY);
    let date_x = LEFT + WIDTH - BODY * 4.0 - date_w;
    let centre = date_x + date_w / 2.0;
    let issuer_w = m.width(n.issuer, BODY);
    let issuer_x = (centre - issuer_w / 2.0)
        .min(LEFT + WIDTH - issuer_w)
        .max(LEFT);
    let b = |x: f32, s: &str, keep: bool| Block {
        h: LEAD,
        ops: vec![text(x, m.baseline(0.0, LEAD, BODY), BODY, s)],
        keep_next: keep,
        ..Block::default()
    };
    blocks.push(b(issuer_x, n.issuer, true));
    blocks.push(b(date_x.max(LEFT), n.date, false));
    // 附注: one line under the date, two characters in, in parentheses.
    if !n.contact.is_empty() {
        blocks.push(Block::gap(LEAD));
        let c = n.contact.trim().trim_end_matches(['；', '。', ';']);
        blocks.extend(lines(m, &format!("（{c}）"), two, 0.0, false, false));
    }
    blocks
}
