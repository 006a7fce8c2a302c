//! A form return as an A4 PDF fax sheet: the office header, the form title, reference,
//! received time and a late mark, then every answer in a bordered two-column table over
//! as many pages as it takes, each page numbered "第 N 页 共 M 页"; then, if given, the
//! office's contacts in a table of their own.
//!
//! Text is set in one CJK font found on the system ([`Font::find`]), embedded as a
//! subset, with a ToUnicode map so `pdftotext` and copy-paste give the text back.
//!
//! ```no_run
//! use std::path::Path;
//! // Once at start-up; an error here says what was tried and how to fix it.
//! let font = faxsheet::Font::find(Path::new(""))?;
//! let rows = vec![("单位全称".to_string(), "梅州市人力资源和社会保障局".to_string())];
//! let pdf = faxsheet::render(
//!     &faxsheet::Sheet {
//!         office: "梅州市人力资源和社会保障局 专业技术人员管理科",
//!         form_title: "附件1 市直主管部门信息一览表",
//!         reference: "K7QH3XMP",
//!         received: "2016年7月20日 10:31",
//!         late: false,
//!         rows: &rows,
//!         contacts: &[],
//!     },
//!     &font,
//! )?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod font;
mod render;
pub mod text;

pub use font::{Font, FontError, SEARCH_PATHS};
pub use render::render;

/// What goes on the sheet. Rows are (label, answer) in form order; answers may be long
/// or span several lines.
#[derive(Debug, Clone, Copy)]
pub struct Sheet<'a> {
    /// Header line, e.g. "梅州市人力资源和社会保障局 专业技术人员管理科".
    pub office: &'a str,
    /// e.g. "附件1 市直主管部门信息一览表".
    pub form_title: &'a str,
    /// The return's reference, e.g. "K7QH3XMP".
    pub reference: &'a str,
    /// e.g. "2016年7月20日 10:31".
    pub received: &'a str,
    /// Received after the deadline: the sheet carries a prominent 逾期 mark.
    pub late: bool,
    pub rows: &'a [(String, String)],
    /// The office's contacts as (what, value), e.g. ("联系人", "万勇"): a table of
    /// their own under the answers, with its caption and header row, kept on one page.
    pub contacts: &'a [(String, String)],
}

/// The number of pages of a PDF this crate wrote (counts its page objects; not a
/// general PDF parser).
pub fn page_count(pdf: &[u8]) -> usize {
    let mut count = 0;
    let mut rest = pdf;
    while let Some(at) = find(rest, b"/Type") {
        rest = &rest[at + 5..];
        let value = trim_start(rest);
        if let Some(after) = value.strip_prefix(b"/Page") {
            // "/Page", not "/Pages".
            if !after.first().is_some_and(|b| b.is_ascii_alphanumeric()) {
                count += 1;
            }
        }
    }
    count
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}
