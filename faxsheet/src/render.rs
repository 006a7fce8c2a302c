//! Page layout and drawing. Layout is planned first (every row cut into page-sized
//! segments) so each footer can say how many pages there are.

use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::Document;

use crate::text::Shaper;
use crate::{Font, Sheet};

// A4 portrait in points; margins leave room for fax machines' unprintable edges.
const PAGE_W: f32 = 595.276;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 50.0;
const MARGIN_TOP: f32 = 46.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN_X;
const TABLE_BOTTOM: f32 = PAGE_H - 62.0;
const FOOTER_BASELINE: f32 = PAGE_H - 34.0;

// Table body: 11 pt on 16 pt lines survives fax resolution (about 200 dpi).
const BODY: f32 = 11.0;
const LEAD: f32 = 16.0;
const PAD_X: f32 = 6.0;
const PAD_Y: f32 = 5.0;
const LABEL_W: f32 = 135.0;
const ANSWER_W: f32 = CONTENT_W - LABEL_W;
const HEAD_ROW_H: f32 = 22.0;
const RULE: f32 = 0.6;
/// A row is split at a page end only if at least this many of its lines fit there;
/// otherwise it starts on the next page.
const MIN_SPLIT: usize = 3;

// Header.
const OFFICE: f32 = 10.5;
const OFFICE_LEAD: f32 = 14.0;
const TITLE: f32 = 18.0;
const TITLE_LEAD: f32 = 26.0;
const LATE: f32 = 16.0;
const LATE_H: f32 = 26.0;
const LATE_PAD: f32 = 9.0;
const SMALL: f32 = 9.5;
const FOOTER: f32 = 10.0;

/// Renders the sheet as PDF bytes. Never panics on its input; an error means the font
/// could not be embedded.
pub fn render(sheet: &Sheet, font: &Font) -> Result<Vec<u8>, String> {
    let face = font.face()?;
    let shaper = Shaper::new(&face);
    let header = Header::new(sheet, &shaper);
    let mut pages = paginate(sheet, &shaper, header.height());
    let contacts = Contacts::new(sheet.contacts, &shaper);
    // The contacts go under the last answers, or whole on a page of their own.
    let contacts_on = contacts.as_ref().map(|c| {
        let last = pages.len() - 1;
        let top = if last == 0 {
            header.height()
        } else {
            CONTINUATION_TOP
        };
        let used: f32 = pages[last].iter().map(|s| height(s.lines())).sum();
        if top + HEAD_ROW_H + used + c.height() <= TABLE_BOTTOM + 0.01 {
            last
        } else {
            pages.push(Vec::new());
            last + 1
        }
    });
    let total = pages.len();

    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(format!("{} {}", sheet.form_title, sheet.reference))
            .language("zh-CN".into())
            .creator("gazette".into()),
    );
    let size = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or("bad page size")?;
    for (i, segments) in pages.iter().enumerate() {
        let mut page = doc.start_page_with(size.clone());
        let mut pen = Pen {
            surface: page.surface(),
            shaper: &shaper,
            font: font.pdf_font(),
        };
        let mut y = if i == 0 {
            header.draw(&mut pen)
        } else {
            continuation_header(&mut pen, sheet)
        };
        // A page of contacts only has no answers' header row.
        if !segments.is_empty() || i == 0 {
            y = table_head(&mut pen, y, "项目", "填报内容");
        }
        for seg in segments {
            y = seg.draw(&mut pen, y);
        }
        if let (Some(c), Some(on)) = (&contacts, contacts_on) {
            if on == i {
                c.draw(&mut pen, y);
            }
        }
        let footer = format!("第 {} 页 共 {} 页", i + 1, total);
        pen.text_centered(PAGE_W / 2.0, FOOTER_BASELINE, FOOTER, &footer);
        // Dropping the surface writes the page's content stream.
        drop(pen);
        page.finish();
    }
    doc.finish().map_err(|e| format!("fax sheet PDF: {e}"))
}

/// Draws in one font with black ink; strokes for rules, fills for text.
struct Pen<'s, 'a> {
    surface: Surface<'s>,
    shaper: &'a Shaper<'a>,
    font: krilla::text::Font,
}

impl Pen<'_, '_> {
    fn text(&mut self, x: f32, baseline: f32, size: f32, text: &str) {
        self.text_in(x, baseline, size, text, luma::Color::black());
    }

    fn text_in(&mut self, x: f32, baseline: f32, size: f32, text: &str, ink: luma::Color) {
        if text.is_empty() {
            return;
        }
        self.surface.set_stroke(None);
        self.surface.set_fill(Some(Fill {
            paint: ink.into(),
            ..Fill::default()
        }));
        let glyphs = self.shaper.glyphs(text);
        self.surface.draw_glyphs(
            Point::from_xy(x, baseline),
            &glyphs,
            self.font.clone(),
            text,
            size,
            false,
        );
    }

    fn text_centered(&mut self, cx: f32, baseline: f32, size: f32, text: &str) {
        let w = self.shaper.width(text, size);
        self.text(cx - w / 2.0, baseline, size, text);
    }

    /// Baseline of text of `size` centred in a line box of height `lead` starting at `top`.
    fn baseline(&self, top: f32, lead: f32, size: f32) -> f32 {
        let (asc, desc) = (self.shaper.ascent, self.shaper.descent);
        top + (lead - (asc - desc) * size) / 2.0 + asc * size
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32) {
        let mut pb = PathBuilder::new();
        pb.move_to(x1, y1);
        pb.line_to(x2, y2);
        if let Some(path) = pb.finish() {
            self.surface.set_fill(None);
            self.surface.set_stroke(Some(Stroke {
                width,
                ..Stroke::default()
            }));
            self.surface.draw_path(&path);
        }
    }

    fn frame(&mut self, x: f32, y: f32, w: f32, h: f32) {
        let Some(rect) = Rect::from_xywh(x, y, w, h) else {
            return;
        };
        let mut pb = PathBuilder::new();
        pb.push_rect(rect);
        if let Some(path) = pb.finish() {
            self.surface.set_fill(None);
            self.surface.set_stroke(Some(Stroke {
                width: RULE,
                ..Stroke::default()
            }));
            self.surface.draw_path(&path);
        }
    }

    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32) {
        let Some(rect) = Rect::from_xywh(x, y, w, h) else {
            return;
        };
        let mut pb = PathBuilder::new();
        pb.push_rect(rect);
        if let Some(path) = pb.finish() {
            self.surface.set_stroke(None);
            self.surface.set_fill(Some(Fill::default()));
            self.surface.draw_path(&path);
        }
    }
}

/// First-page header, laid out once so pagination knows its height.
struct Header {
    office: Vec<String>,
    title: Vec<String>,
    meta: Vec<String>,
    late_w: f32,
}

impl Header {
    fn new(sheet: &Sheet, shaper: &Shaper) -> Header {
        let late_w = if sheet.late {
            shaper.width("逾期", LATE) + 2.0 * LATE_PAD
        } else {
            0.0
        };
        // Header texts come from configuration, but cap them so that no title can push
        // the table off the first page.
        let office = capped(
            shaper.wrap(sheet.office, OFFICE, CONTENT_W),
            2,
            shaper,
            OFFICE,
        );
        let title = capped(
            shaper.wrap(sheet.form_title, TITLE, CONTENT_W),
            3,
            shaper,
            TITLE,
        );
        let meta_text = format!(
            "参考编号 {}\u{3000}接收时间 {}",
            sheet.reference, sheet.received
        );
        let meta_w = CONTENT_W - if late_w > 0.0 { late_w + 12.0 } else { 0.0 };
        let meta = capped(shaper.wrap(&meta_text, BODY, meta_w), 3, shaper, BODY);
        Header {
            office,
            title,
            meta,
            late_w,
        }
    }

    fn meta_row_h(&self) -> f32 {
        let text = self.meta.len() as f32 * LEAD;
        if self.late_w > 0.0 {
            text.max(LATE_H)
        } else {
            text
        }
    }

    /// Where the table starts below it.
    fn height(&self) -> f32 {
        MARGIN_TOP
            + self.office.len() as f32 * OFFICE_LEAD
            + 16.0
            + self.title.len() as f32 * TITLE_LEAD
            + 8.0
            + self.meta_row_h()
            + 10.0
    }

    fn draw(&self, pen: &mut Pen) -> f32 {
        let mut y = MARGIN_TOP;
        for line in &self.office {
            let b = pen.baseline(y, OFFICE_LEAD, OFFICE);
            pen.text(MARGIN_X, b, OFFICE, line);
            y += OFFICE_LEAD;
        }
        y += 3.0;
        pen.line(MARGIN_X, y, PAGE_W - MARGIN_X, y, 0.9);
        y += 13.0;
        for line in &self.title {
            let b = pen.baseline(y, TITLE_LEAD, TITLE);
            pen.text_centered(PAGE_W / 2.0, b, TITLE, line);
            y += TITLE_LEAD;
        }
        y += 8.0;
        let row_h = self.meta_row_h();
        let mut ty = y + (row_h - self.meta.len() as f32 * LEAD) / 2.0;
        for line in &self.meta {
            let b = pen.baseline(ty, LEAD, BODY);
            pen.text(MARGIN_X, b, BODY, line);
            ty += LEAD;
        }
        if self.late_w > 0.0 {
            // White on black: the one thing a glance at the fax must catch.
            let x = PAGE_W - MARGIN_X - self.late_w;
            let top = y + (row_h - LATE_H) / 2.0;
            pen.fill_rect(x, top, self.late_w, LATE_H);
            let b = pen.baseline(top, LATE_H, LATE);
            pen.text_in(x + LATE_PAD, b, LATE, "逾期", luma::Color::white());
        }
        y += row_h + 10.0;
        y
    }
}

fn capped(mut lines: Vec<String>, max: usize, shaper: &Shaper, size: f32) -> Vec<String> {
    if lines.len() > max {
        let rest = lines.split_off(max - 1).concat();
        lines.push(shaper.truncate(&rest, size, CONTENT_W));
    }
    lines
}

/// Pages after the first repeat who and what in one line, in case the pages come apart.
fn continuation_header(pen: &mut Pen, sheet: &Sheet) -> f32 {
    let mut text = format!(
        "{}\u{3000}参考编号 {}（续）",
        sheet.form_title, sheet.reference
    );
    if sheet.late {
        text.push_str("\u{3000}逾期");
    }
    let text = pen.shaper.truncate(&text, SMALL, CONTENT_W);
    let b = pen.baseline(MARGIN_TOP, OFFICE_LEAD, SMALL);
    pen.text(MARGIN_X, b, SMALL, &text);
    let y = MARGIN_TOP + OFFICE_LEAD + 3.0;
    pen.line(MARGIN_X, y, PAGE_W - MARGIN_X, y, 0.6);
    y + 10.0
}

const CONTINUATION_TOP: f32 = MARGIN_TOP + OFFICE_LEAD + 13.0;

fn table_head(pen: &mut Pen, y: f32, left: &str, right: &str) -> f32 {
    pen.frame(MARGIN_X, y, LABEL_W, HEAD_ROW_H);
    pen.frame(MARGIN_X + LABEL_W, y, ANSWER_W, HEAD_ROW_H);
    let b = pen.baseline(y, HEAD_ROW_H, OFFICE);
    pen.text_centered(MARGIN_X + LABEL_W / 2.0, b, OFFICE, left);
    pen.text_centered(MARGIN_X + LABEL_W + ANSWER_W / 2.0, b, OFFICE, right);
    y + HEAD_ROW_H
}

/// The caption over the contacts' table.
const CONTACTS_CAPTION: &str = "受理单位联系方式";
/// Space above the caption and its line.
const CONTACTS_GAP: f32 = 14.0;

/// The office's contacts, wrapped: a captioned table with a header row.
struct Contacts {
    rows: Vec<Segment>,
}

impl Contacts {
    fn new(contacts: &[(String, String)], shaper: &Shaper) -> Option<Contacts> {
        if contacts.is_empty() {
            return None;
        }
        let rows = contacts
            .iter()
            .map(|(what, value)| Segment {
                label: shaper.wrap(what, BODY, LABEL_W - 2.0 * PAD_X),
                // A long address stays readable: at most a few lines, kept whole.
                answer: shaper.wrap(value, BODY, ANSWER_W - 2.0 * PAD_X),
            })
            .collect();
        Some(Contacts { rows })
    }

    fn height(&self) -> f32 {
        CONTACTS_GAP
            + OFFICE_LEAD
            + 4.0
            + HEAD_ROW_H
            + self.rows.iter().map(|r| height(r.lines())).sum::<f32>()
    }

    fn draw(&self, pen: &mut Pen, y: f32) -> f32 {
        let mut y = y + CONTACTS_GAP;
        let b = pen.baseline(y, OFFICE_LEAD, OFFICE);
        pen.text(MARGIN_X, b, OFFICE, CONTACTS_CAPTION);
        y += OFFICE_LEAD + 4.0;
        y = table_head(pen, y, "联系方式", "内容");
        for r in &self.rows {
            y = r.draw(pen, y);
        }
        y
    }
}

/// The part of one row that sits on one page.
struct Segment {
    label: Vec<String>,
    answer: Vec<String>,
}

impl Segment {
    fn lines(&self) -> usize {
        self.label.len().max(self.answer.len())
    }

    fn draw(&self, pen: &mut Pen, y: f32) -> f32 {
        let h = height(self.lines());
        pen.frame(MARGIN_X, y, LABEL_W, h);
        pen.frame(MARGIN_X + LABEL_W, y, ANSWER_W, h);
        for (col_x, lines) in [(MARGIN_X, &self.label), (MARGIN_X + LABEL_W, &self.answer)] {
            for (i, line) in lines.iter().enumerate() {
                let b = pen.baseline(y + PAD_Y + i as f32 * LEAD, LEAD, BODY);
                pen.text(col_x + PAD_X, b, BODY, line);
            }
        }
        y + h
    }
}

fn height(lines: usize) -> f32 {
    lines as f32 * LEAD + 2.0 * PAD_Y
}

/// How many text lines fit in `space` points of a table.
fn fitting(space: f32) -> usize {
    ((space - 2.0 * PAD_Y) / LEAD).floor().max(0.0) as usize
}

/// Cuts the rows into pages: a row that does not fit moves to the next page; one longer
/// than a page is split, its label repeated with （续） on the next.
fn paginate(sheet: &Sheet, shaper: &Shaper, first_top: f32) -> Vec<Vec<Segment>> {
    let label_w = LABEL_W - 2.0 * PAD_X;
    let answer_w = ANSWER_W - 2.0 * PAD_X;
    let full = TABLE_BOTTOM - CONTINUATION_TOP - HEAD_ROW_H;
    let mut pages: Vec<Vec<Segment>> = vec![Vec::new()];
    let mut avail = TABLE_BOTTOM - first_top - HEAD_ROW_H;

    for (label, answer) in sheet.rows {
        let mut labels = shaper.wrap(label, BODY, label_w);
        let mut answers = shaper.wrap(answer, BODY, answer_w);
        let whole = height(labels.len().max(answers.len()));
        let fresh = pages.last().is_none_or(|p| p.is_empty());
        // Splitting is for rows longer than a page; an empty first page is no use either.
        if whole > avail && whole <= full && !fresh {
            pages.push(Vec::new());
            avail = full;
        }
        loop {
            let fresh = pages.last().is_none_or(|p| p.is_empty());
            let left = labels.len().max(answers.len());
            let fit = fitting(avail);
            if left <= fit {
                avail -= height(left);
                push(
                    &mut pages,
                    Segment {
                        label: labels,
                        answer: answers,
                    },
                );
                break;
            }
            if fit < MIN_SPLIT && !fresh {
                pages.push(Vec::new());
                avail = full;
                continue;
            }
            let take = fit.max(1);
            let seg = Segment {
                label: labels.drain(..take.min(labels.len())).collect(),
                answer: answers.drain(..take.min(answers.len())).collect(),
            };
            push(&mut pages, seg);
            pages.push(Vec::new());
            avail = full;
            if labels.is_empty() && !answers.is_empty() {
                labels = shaper.wrap(&format!("{label}（续）"), BODY, label_w);
            }
        }
    }
    pages
}

fn push(pages: &mut Vec<Vec<Segment>>, seg: Segment) {
    match pages.last_mut() {
        Some(page) => page.push(seg),
        None => pages.push(vec![seg]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_planned_header_height_is_the_drawn_one() {
        let font = Font::find(Path::new("")).unwrap_or_else(|e| panic!("{e}"));
        let face = font.face().expect("face");
        let shaper = Shaper::new(&face);
        for late in [false, true] {
            let title = "附件2 市属评委会信息一览表".repeat(if late { 9 } else { 1 });
            let sheet = Sheet {
                office: "梅州市人力资源和社会保障局 专业技术人员管理科",
                form_title: &title,
                reference: "K7QH3XMP",
                received: "2016年7月20日 10:31",
                late,
                rows: &[],
                contacts: &[],
            };
            let header = Header::new(&sheet, &shaper);
            let mut doc = Document::new();
            let mut page = doc.start_page();
            let mut pen = Pen {
                surface: page.surface(),
                shaper: &shaper,
                font: font.pdf_font(),
            };
            assert_eq!(header.draw(&mut pen), header.height());
            assert_eq!(continuation_header(&mut pen, &sheet), CONTINUATION_TOP);
        }
    }

    fn plan(rows: &[(String, String)]) -> (Vec<Vec<Segment>>, f32) {
        let font = Font::find(Path::new("")).unwrap_or_else(|e| panic!("{e}"));
        let face = font.face().expect("face");
        let shaper = Shaper::new(&face);
        let sheet = Sheet {
            office: "梅州市人力资源和社会保障局 专业技术人员管理科",
            form_title: "附件1 市直主管部门信息一览表",
            reference: "K7QH3XMP",
            received: "2016年7月20日 10:31",
            late: true,
            rows,
            contacts: &[],
        };
        let top = Header::new(&sheet, &shaper).height();
        (paginate(&sheet, &shaper, top), top)
    }

    fn fits(pages: &[Vec<Segment>], first_top: f32) {
        for (i, page) in pages.iter().enumerate() {
            let top = if i == 0 { first_top } else { CONTINUATION_TOP };
            let used: f32 = page.iter().map(|s| height(s.lines())).sum();
            assert!(
                top + HEAD_ROW_H + used <= TABLE_BOTTOM + 0.01,
                "page {i} overflows"
            );
        }
    }

    #[test]
    fn a_row_longer_than_a_page_is_split_without_losing_a_line() {
        let long = "评审范围包括市直属各单位在职在岗专业技术人员。".repeat(200);
        let rows = vec![
            (
                "单位全称".to_string(),
                "梅州市人力资源和社会保障局".to_string(),
            ),
            ("备注".to_string(), long.clone()),
            ("填报人".to_string(), "李四".to_string()),
        ];
        let (pages, top) = plan(&rows);
        assert!(pages.len() >= 3, "{}", pages.len());
        fits(&pages, top);
        let segs: Vec<&Segment> = pages.iter().flatten().collect();
        let remark: String = segs[1..segs.len() - 1]
            .iter()
            .flat_map(|s| s.answer.iter().map(String::as_str))
            .collect();
        assert_eq!(remark, long);
        assert_eq!(segs[1].label, ["备注"]);
        for s in &segs[2..segs.len() - 1] {
            assert_eq!(s.label, ["备注（续）"]);
        }
        assert!(pages.iter().all(|p| !p.is_empty()));
    }

    #[test]
    fn a_row_that_does_not_fit_moves_whole_to_the_next_page() {
        let medium = "专业技术人员管理科".repeat(60); // about 18 lines: fits a page
        let rows: Vec<(String, String)> = (0..4)
            .map(|i| (format!("说明{i}"), medium.clone()))
            .collect();
        let (pages, top) = plan(&rows);
        fits(&pages, top);
        assert!(pages.len() >= 2);
        // Every row is in one piece.
        assert_eq!(pages.iter().flatten().count(), rows.len());
    }

    #[test]
    fn no_rows_still_make_one_page() {
        let (pages, _) = plan(&[]);
        assert_eq!(pages.len(), 1);
        assert!(pages[0].is_empty());
    }
}
