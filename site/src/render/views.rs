//! What templates get: one `Serialize` struct per thing a template shows.
//! Field names are the template variables (`page.title`, `notice.doc_number`,
//! `a.downloads`, …), so renaming a field renames a variable in every theme.
//!
//! Views borrow from the model where they can: a page's body is serialised
//! into the template context once, never copied into a view first.

use super::markdown::Heading;
use serde::Serialize;

/// `page` (or `section`) of a content page.
#[derive(Serialize)]
pub(super) struct PageView<'a> {
    pub(super) title: &'a str,
    pub(super) content: &'a str,
    pub(super) toc: &'a [Heading],
    pub(super) date: Option<String>,
    pub(super) date_zh: Option<String>,
    pub(super) description: &'a str,
    pub(super) extra: &'a toml::Table,
}

/// `page` and `section` of a page without a source (the generated lists).
#[derive(Serialize)]
pub(super) struct BlankPage<'a> {
    pub(super) title: &'a str,
    pub(super) content: &'a str,
}

/// One entry of a list of pages (a section, the home page's 最新).
#[derive(Serialize)]
pub(super) struct ListItem {
    pub(super) title: String,
    pub(super) href: String,
    pub(super) date: String,
    pub(super) date_zh: String,
    /// The date is a notice's 发布日期 marked unconfirmed.
    pub(super) date_unconfirmed: bool,
    pub(super) description: String,
    pub(super) doc_number: String,
}

/// A top-level section on the home page.
#[derive(Serialize)]
pub(super) struct SectionLink<'a> {
    pub(super) title: &'a str,
    pub(super) href: String,
    pub(super) description: Option<&'a str>,
}

/// A section inside a section.
#[derive(Serialize)]
pub(super) struct SubsectionLink<'a> {
    pub(super) title: &'a str,
    pub(super) href: String,
}

/// An entry of the main navigation (`header.html`).
#[derive(Serialize)]
pub(super) struct NavItem {
    pub(super) title: String,
    pub(super) output: String,
}

/// A `<meta name content>` pair.
#[derive(Serialize)]
pub(super) struct MetaTag<'a> {
    pub(super) name: &'a str,
    pub(super) content: &'a str,
}

/// A form in the lists (home page, 表格填报).
#[derive(Serialize)]
pub(super) struct FormLink<'a> {
    pub(super) title: &'a str,
    pub(super) annex: Option<u32>,
    pub(super) href: String,
    pub(super) xlsx: String,
    pub(super) description: &'a str,
}

/// A manual in the lists (home page, 操作手册).
#[derive(Serialize)]
pub(super) struct ManualLink<'a> {
    pub(super) title: &'a str,
    pub(super) annex: Option<u32>,
    pub(super) audience: &'a str,
    pub(super) description: &'a str,
    pub(super) href: String,
    pub(super) download: String,
    pub(super) download_size: String,
}

/// `notice`: an official notice's 版头, 版记 and attachments.
#[derive(Serialize)]
pub(super) struct NoticeView<'a> {
    pub(super) doc_number: &'a str,
    pub(super) issuer: &'a str,
    pub(super) issuer_mark: &'a str,
    pub(super) recipients: &'a str,
    pub(super) written: String,
    pub(super) written_zh: String,
    pub(super) published: String,
    pub(super) published_zh: String,
    pub(super) index_no: &'a str,
    pub(super) category: &'a str,
    pub(super) keywords: &'a str,
    pub(super) contact: &'a str,
    /// The title's lines in the 函 heading (empty: the title on one line).
    pub(super) title_lines: &'a [String],
    pub(super) annex_note: &'a str,
    /// The `[notice]` fields marked unconfirmed (`issuer_mark` included when
    /// it follows `issuer`): templates test `"written" in notice.unconfirmed`.
    pub(super) unconfirmed: Vec<&'static str>,
    pub(super) attachments: Vec<AttachmentView<'a>>,
}

/// One 附件 of a notice: a form, a manual or a file.
#[derive(Serialize)]
pub(super) struct AttachmentView<'a> {
    pub(super) number: usize,
    pub(super) title: &'a str,
    /// The entry of the 附件 list, as the document writes it.
    pub(super) listed: String,
    pub(super) kind: &'static str,
    pub(super) href: String,
    pub(super) downloads: Vec<Download>,
    /// The printable view; files have none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) print: Option<String>,
}

/// A file people can download, with what the link shows about it.
#[derive(Serialize)]
pub(super) struct Download {
    pub(super) label: &'static str,
    pub(super) href: String,
    pub(super) format: String,
    pub(super) size: String,
    pub(super) filename: String,
}

/// `manual`, on every page of a manual.
#[derive(Serialize)]
pub(super) struct ManualView<'a> {
    pub(super) id: &'a str,
    pub(super) title: &'a str,
    pub(super) annex: Option<u32>,
    pub(super) audience: &'a str,
    pub(super) description: &'a str,
    pub(super) authors: &'a [String],
    pub(super) index: String,
    pub(super) print: String,
    pub(super) download: String,
}

/// An entry of a manual's table of contents.
#[derive(Serialize)]
pub(super) struct ChapterItem<'a> {
    pub(super) title: &'a str,
    pub(super) number: &'a str,
    pub(super) depth: usize,
    pub(super) part: Option<&'a str>,
    /// None for a draft chapter (no file yet).
    pub(super) href: Option<String>,
    pub(super) current: bool,
    /// Chapters before this one are left out (a large book's sidebar).
    pub(super) gap_before: bool,
}

/// `chapter`: the chapter a chapter page shows.
#[derive(Serialize)]
pub(super) struct ChapterView<'a> {
    pub(super) title: &'a str,
    pub(super) number: &'a str,
    pub(super) content: &'a str,
    pub(super) toc: &'a [Heading],
}

/// `prev` and `next` of a chapter page.
#[derive(Serialize)]
pub(super) struct ChapterLink<'a> {
    pub(super) title: &'a str,
    pub(super) href: String,
}

/// A chapter in the one-page views (print, offline download).
#[derive(Serialize)]
pub(super) struct PrintChapter<'a> {
    pub(super) anchor: String,
    pub(super) title: &'a str,
    pub(super) number: &'a str,
    pub(super) depth: usize,
    /// The part title it starts (`# Part` in SUMMARY.md): a new page in print.
    pub(super) part: Option<&'a str>,
    pub(super) content: String,
}
