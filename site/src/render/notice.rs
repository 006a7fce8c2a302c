//! An official notice (公文): its dates, 附件 and article `<meta>` tags.

use super::context::{date_zh, meta_list, Shared, Sizes};
use super::index::{form_page, form_print, form_xlsx};
use super::links;
use super::views::{AttachmentView, Download, NoticeView};
use crate::model::content::Doc;
use crate::model::frontmatter::{self, Attachment, Notice};
use crate::model::Site;
use crate::problem::Problem;
use chrono::NaiveDateTime;

/// `notice` and the `meta` tags of a notice page.
pub(super) fn insert_notice(
    ctx: &Shared,
    c: &mut tera::Context,
    d: &Doc,
    n: &Notice,
    root: &str,
    sizes: &Sizes,
) -> Result<(), Problem> {
    let source = d.source_str();
    let (written, published) = notice_dates(d, n, &source)?;
    let attachments = n
        .attachments
        .iter()
        .enumerate()
        .map(|(i, a)| attachment(ctx, a, i + 1, &source, root, sizes))
        .collect::<Result<Vec<_>, _>>()?;
    let keywords = n.keywords.join(" ");
    let pdf_name = format!("{} {}.pdf", n.doc_number, d.title());
    if let Some(pdf) = ctx.pdf_link(&super::pdf::notice_pdf(d), root, pdf_name, Some(sizes)) {
        c.insert("notice_pdf", &pdf);
    }
    c.insert(
        "notice",
        &NoticeView {
            doc_number: &n.doc_number,
            issuer: &n.issuer,
            issuer_mark: n.issuer_mark.as_deref().unwrap_or(&n.issuer),
            recipients: &n.recipients,
            written: written.format("%Y-%m-%d").to_string(),
            written_zh: date_zh(&written),
            published: published.format("%Y-%m-%d").to_string(),
            published_zh: date_zh(&published),
            index_no: &n.index_no,
            category: &n.category,
            keywords: &keywords,
            contact: &n.contact,
            title_lines: &n.title_lines,
            annex_note: &n.annex_note,
            unconfirmed: frontmatter::UNCONFIRMABLE
                .iter()
                .map(|(f, _)| *f)
                .filter(|f| n.is_unconfirmed(f))
                .collect(),
            attachments,
        },
    );
    let site = &ctx.site.config.site;
    let mut meta: Vec<(&str, String)> = vec![("SiteName", site.title.clone())];
    if !site.domain.is_empty() {
        meta.push(("SiteDomain", site.domain.clone()));
    }
    meta.push(("ArticleTitle", d.title()));
    meta.push(("PubDate", published.format("%Y-%m-%d %H:%M").to_string()));
    meta.push(("ContentSource", n.issuer.clone()));
    meta.push(("Keywords", keywords));
    meta.push((
        "Description",
        d.meta.description.clone().unwrap_or_default(),
    ));
    c.insert("meta", &meta_list(&meta));
    Ok(())
}

/// 成文日期 and 发布日期 (the page date when not given).
fn notice_dates(
    d: &Doc,
    n: &Notice,
    source: &str,
) -> Result<(NaiveDateTime, NaiveDateTime), Problem> {
    let written = frontmatter::to_datetime(&n.written).ok_or_else(|| {
        Problem::new(
            source,
            None,
            "notice.written is not a date such as 2016-07-15",
        )
    })?;
    let published = match &n.published {
        Some(v) => frontmatter::to_datetime(v).ok_or_else(|| {
            Problem::new(
                source,
                None,
                "notice.published is not a date such as 2016-07-15 09:00:00",
            )
        })?,
        None => d.date.unwrap_or(written),
    };
    Ok((written, published))
}

/// 附件 `number`: a form, a manual or a file of the site.
fn attachment<'a>(
    ctx: &Shared,
    a: &'a Attachment,
    number: usize,
    source: &str,
    root: &str,
    sizes: &Sizes,
) -> Result<AttachmentView<'a>, Problem> {
    let unknown = |what: String| Problem::new(source, None, format!("attachment {number}: {what}"));
    let listed = a
        .listed
        .clone()
        .unwrap_or_else(|| format!("附件{number}.{}", a.title));
    // A file name without the title's book-title marks (《…》).
    let name = a.title.trim_start_matches('《').trim_end_matches('》');
    if let Some(id) = &a.form {
        let f = ctx.site.forms.iter().find(|f| &f.id == id);
        let f = f.ok_or_else(|| unknown(format!("unknown form id {id:?}")))?;
        // One annex number, two places: they must agree.
        if let Some(own) = f.annex.filter(|&n| n as usize != number) {
            return Err(unknown(format!(
                "form {id:?} is 附件{number} here but content/forms/{id}.toml says annex = {own}; make them agree (or drop annex from the form)"
            )));
        }
        let xlsx = form_xlsx(f);
        Ok(AttachmentView {
            number,
            title: &a.title,
            listed,
            kind: "form",
            href: format!("{root}{}", form_page(f)),
            downloads: vec![Download {
                label: "空白表格",
                href: format!("{root}{xlsx}"),
                format: "XLSX".into(),
                size: sizes.file(&xlsx),
                filename: format!("附件{number} {name}.xlsx"),
            }]
            .into_iter()
            .chain(pdf_download(
                ctx,
                sizes,
                &super::pdf::form_pdf(f),
                root,
                "空白表格",
                format!("附件{number} {name}.pdf"),
            ))
            .collect(),
            print: Some(format!("{root}{}", form_print(f))),
        })
    } else if let Some(id) = &a.manual {
        let m = ctx.site.manuals.iter().find(|m| &m.id == id);
        let m = m.ok_or_else(|| unknown(format!("unknown manual id {id:?}")))?;
        if let Some(own) = m.annex.filter(|&n| n as usize != number) {
            return Err(unknown(format!(
                "manual {id:?} is 附件{number} here but manuals/{id}/book.toml says annex = {own}; make them agree (or drop annex from the book)"
            )));
        }
        Ok(AttachmentView {
            number,
            title: &a.title,
            listed,
            kind: "manual",
            href: format!("{root}{}index.html", m.out_dir()),
            downloads: vec![Download {
                label: "离线版",
                href: format!("{root}{}", m.download_output()),
                format: "HTML".into(),
                size: sizes.manual(&m.id),
                filename: format!("附件{number} {name}.html"),
            }]
            .into_iter()
            .chain(pdf_download(
                ctx,
                sizes,
                &super::pdf::manual_pdf(m),
                root,
                "PDF版",
                format!("附件{number} {name}.pdf"),
            ))
            .collect(),
            print: Some(format!("{root}{}", m.print_output())),
        })
    } else {
        let file = a.file.as_deref().unwrap_or_default();
        let target = if let Some(abs) = file.strip_prefix('/') {
            ctx.index.lookup_url(abs)
        } else {
            links::join(links::dir_of(source), file)
                .and_then(|s| ctx.index.sources.get(&s).cloned())
        };
        let target = target.ok_or_else(|| unknown(format!("file {file} does not exist")))?;
        // The file's own extension, for the format shown and the name saved.
        let ext = std::path::Path::new(&target)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        let format = ext.to_ascii_uppercase();
        let filename = if ext.is_empty() {
            format!("附件{number} {name}")
        } else {
            format!("附件{number} {name}.{}", ext.to_ascii_lowercase())
        };
        Ok(AttachmentView {
            number,
            title: &a.title,
            listed,
            kind: "file",
            href: format!("{root}{target}"),
            downloads: vec![Download {
                label: "下载",
                href: format!("{root}{target}"),
                format,
                size: forms::paths::format_size(file_size(ctx.site, &target)),
                filename,
            }],
            print: None,
        })
    }
}

/// The PDF at `output` as a download, if the build made it.
fn pdf_download(
    ctx: &Shared,
    sizes: &Sizes,
    output: &str,
    root: &str,
    label: &'static str,
    filename: String,
) -> Option<Download> {
    let link = ctx.pdf_link(output, root, filename, Some(sizes))?;
    Some(Download {
        label,
        href: link.href,
        format: "PDF".into(),
        size: link.size,
        filename: link.filename,
    })
}

/// The size of a file copied as it is (from `content/` or `static/`).
fn file_size(site: &Site, output: &str) -> usize {
    let candidates = [
        site.root.join("content").join(output),
        site.root.join("static").join(output),
    ];
    candidates
        .iter()
        .find_map(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len() as usize)
}
