//! The site's documents on paper, as A4 PDFs set in CJK fonts found as the
//! fax sheet finds its own ([`faxsheet::Font`]), embedded as subsets with a
//! ToUnicode map so `pdftotext` and copy-paste give the text back:
//!
//! - [`notice`]: an official notice in the GB/T 9704-2012 函 layout, its
//!   body and its title each in their own font ([`NoticeFonts`]);
//! - [`blank`]: a form's blank table to fill in by hand;
//! - [`book`]: a manual with cover, contents, bookmarks, running heads,
//!   page numbers, links, inline styles and figures.
//!
//! Written with krilla directly, the fax sheet's PDF layer: the layouts are
//! few and fixed, and a typesetting engine (Typst) would add hundreds of
//! crates to build for them.

mod blank;
mod book;
mod draw;
mod flow;
mod markdown;
mod notice;
mod svg;

pub use faxsheet::{Font, FontError};

/// A notice as the 函 prints it. Values that are not confirmed carry their
/// 【待核实】 mark already.
#[derive(Debug, Clone)]
pub struct Notice<'a> {
    /// 发文机关标志, e.g. 梅州市人力资源和社会保障局.
    pub mark: &'a str,
    pub doc_number: &'a str,
    /// The title as the document breaks it (one entry: one line, wrapped if long).
    pub title_lines: Vec<String>,
    /// 主送机关, without the closing colon.
    pub recipients: &'a str,
    /// The body in Markdown.
    pub body: &'a str,
    /// The annexes' names, in order (附件说明).
    pub annexes: Vec<String>,
    /// A line after the annex list.
    pub annex_note: &'a str,
    /// 发文机关署名.
    pub issuer: &'a str,
    /// 成文日期, e.g. 2016年7月15日.
    pub date: &'a str,
    /// 附注, as written (联系人、电话).
    pub contact: &'a str,
}

/// The fonts a notice is set in (GB/T 9704: the body in 仿宋, the
/// 发文机关标志 and title in 小标宋), with what each is for the metadata.
#[derive(Debug, Clone)]
pub struct NoticeFonts {
    pub body: Font,
    pub title: Font,
    /// The title's face is a heavy display face (小标宋, 中宋, a bold): not
    /// emboldened again, as a regular fallback face is.
    pub title_heavy: bool,
}

/// Renders a notice.
pub fn notice(n: &Notice, fonts: &NoticeFonts) -> Result<Vec<u8>, String> {
    notice::render(n, fonts)
}

/// A form's blank table.
#[derive(Debug, Clone)]
pub struct Blank<'a> {
    /// 附件N.
    pub annex: Option<u32>,
    pub title: &'a str,
    pub columns: Vec<Column>,
    /// How to return it, printed under the table.
    pub notes: Vec<String>,
}

/// One column (one field) of a blank table.
#[derive(Debug, Clone)]
pub struct Column {
    pub label: String,
    /// Room to write, in characters.
    pub chars: usize,
    /// Choices printed to tick (□机关 □事业单位 …).
    pub options: Vec<String>,
    /// Several lines (a remark).
    pub long: bool,
    pub required: bool,
}

/// How a blank table was laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlankLayout {
    /// A4 landscape, one row per unit.
    Rows,
    /// A4 portrait, one unit per page, a row per field.
    OneUnitPerPage,
}

/// Renders a blank table: rows on A4 landscape when the columns fit it,
/// otherwise one unit per page.
pub fn blank(b: &Blank, font: &Font) -> Result<(Vec<u8>, BlankLayout), String> {
    blank::render(b, font)
}

/// A manual as a book.
#[derive(Debug, Clone)]
pub struct Book {
    pub title: String,
    /// Under the title on the cover (附件3, the audience).
    pub subtitle: Vec<String>,
    /// At the foot of the cover (the issuer).
    pub publisher: String,
    pub chapters: Vec<Chapter>,
}

/// A chapter as SUMMARY.md lists it, with its Markdown (directives expanded).
#[derive(Debug, Clone)]
pub struct Chapter {
    pub title: String,
    /// Its file under `src/` as SUMMARY.md names it: where links to it point.
    pub path: String,
    /// "1.2." or empty.
    pub number: String,
    pub depth: usize,
    /// The part title it starts (`# Part` in SUMMARY.md): a new page.
    pub part: Option<String>,
    pub markdown: String,
    /// Figures it names, by their path as written: SVG source.
    pub figures: Vec<(String, String)>,
}

/// Renders a manual.
pub fn book(b: &Book, font: &Font) -> Result<Vec<u8>, String> {
    book::render(b, font)
}
