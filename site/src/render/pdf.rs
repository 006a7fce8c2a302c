//! The `pdfs` step: the notice in the 函 layout, each form's blank table and
//! each manual as A4 PDFs (crate `paper`), made before the pages that show
//! their sizes. A PDF whose sources did not change since the last build in
//! this process is not made again (`gazette serve` rebuilds on every save).

use super::context::{date_zh, Shared};
use super::index::form_dir;
use super::Outputs;
use crate::model::content::Doc;
use crate::model::frontmatter::{self, Notice};
use crate::model::manual::Manual;
use crate::model::preprocess;
use crate::problem::Problem;
use forms::{FormDef, Kind};
use rayon::prelude::*;
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// Where a notice's PDF goes: beside its page.
pub(super) fn notice_pdf(d: &Doc) -> String {
    format!("{}notice.pdf", d.url)
}

/// Where a form's blank table goes.
pub(super) fn form_pdf(f: &FormDef) -> String {
    format!("{}{}-blank.pdf", form_dir(f), f.id)
}

/// Where a manual's PDF goes.
pub(super) fn manual_pdf(m: &Manual) -> String {
    format!("{}{}.pdf", m.out_dir(), m.id)
}

/// Every PDF the build makes, with the source that writes it.
pub(super) fn outputs(site: &crate::model::Site) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if !site.config.pdf.enabled {
        return out;
    }
    for d in &site.content.docs {
        if d.meta.notice.is_some() {
            out.push((notice_pdf(d), d.source_str()));
        }
    }
    for f in &site.forms {
        out.push((form_pdf(f), format!("content/forms/{}.toml", f.id)));
    }
    for m in &site.manuals {
        out.push((manual_pdf(m), format!("manuals/{}/book.toml", m.id)));
    }
    out
}

/// One PDF to make: where, from which source, and how.
enum Job<'a> {
    Notice(&'a Doc, &'a Notice),
    Form(&'a FormDef),
    Manual(&'a Manual),
}

/// Makes every PDF; problems name the source.
pub(super) fn render_pdfs(ctx: &Shared) -> (Outputs, Vec<Problem>) {
    let site = ctx.site;
    if !site.config.pdf.enabled {
        return (Outputs::new(), Vec::new());
    }
    let mut jobs = Vec::new();
    for d in &site.content.docs {
        if let Some(n) = &d.meta.notice {
            jobs.push(Job::Notice(d, n));
        }
    }
    jobs.extend(site.forms.iter().map(Job::Form));
    jobs.extend(site.manuals.iter().map(Job::Manual));
    if jobs.is_empty() {
        return (Outputs::new(), Vec::new());
    }
    let font = match font(site.config.pdf_font()) {
        Ok(f) => f,
        Err(e) => {
            let p = Problem::new(
                "gazette.toml",
                None,
                format!("[pdf] font: {e} (PDF 文件需要中文字体：apt-get install fonts-wqy-microhei，或在 gazette.toml 的 [pdf] font 指定字体文件)"),
            );
            return (Outputs::new(), vec![p]);
        }
    };
    let fonts = notice_fonts(&site.config, &font);
    let made: Vec<super::emit::OneFile> = jobs
        .par_iter()
        .map(|job| make(ctx, job, &font, &fonts))
        .collect();
    let mut files = Outputs::new();
    let mut problems = Vec::new();
    for m in made {
        match m {
            Ok((path, bytes)) => {
                files.insert(path, bytes);
            }
            Err(p) => problems.push(p),
        }
    }
    (files, problems)
}

/// The PDF of notice `d` (None if it is no notice), for an update of its page.
pub(super) fn notice_file(ctx: &Shared, d: &Doc) -> Option<super::emit::OneFile> {
    let n = d
        .meta
        .notice
        .as_ref()
        .filter(|_| ctx.site.config.pdf.enabled)?;
    let font = match font(ctx.site.config.pdf_font()) {
        Ok(f) => f,
        Err(e) => {
            return Some(Err(Problem::new(
                "gazette.toml",
                None,
                format!("[pdf] font: {e}"),
            )))
        }
    };
    let fonts = notice_fonts(&ctx.site.config, &font);
    Some(make(ctx, &Job::Notice(d, n), &font, &fonts))
}

/// What the notice is set in: each role's font from its stack (`[pdf]
/// body_font`, `title_font`), else `fallback`. The first time in a process,
/// one line (a warning in the log, not a problem: `--strict` is about facts)
/// says so when a role has no 仿宋 or 小标宋, and what stands in.
fn notice_fonts(config: &config::Config, fallback: &paper::Font) -> paper::NoticeFonts {
    type Key = (Vec<String>, Vec<String>, PathBuf, PathBuf);
    static FOUND: OnceLock<Mutex<HashMap<Key, paper::NoticeFonts>>> = OnceLock::new();
    let (body_stack, title_stack) = (&config.pdf.body_font, &config.pdf.title_font);
    let key = (
        body_stack.clone(),
        title_stack.clone(),
        config.root.clone(),
        fallback.path().to_path_buf(),
    );
    let cache = FOUND.get_or_init(Default::default);
    if let Some(f) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return f.clone();
    }
    let pick = |stack: &[String]| match paper::Font::first_of(stack, &config.root) {
        Ok((f, name)) => (f, Some(name), Vec::new()),
        Err(tried) => (fallback.clone(), None, tried),
    };
    let (body, body_name, body_tried) = pick(body_stack);
    let (title, title_name, title_tried) = pick(title_stack);
    // Whether the font used is the kind asked for, by its name or family.
    let is = |font: &paper::Font, name: &Option<String>, words: &[&str]| {
        let said = format!("{} {}", name.as_deref().unwrap_or(""), font.family()).to_lowercase();
        words.iter().any(|w| said.contains(w))
    };
    let body_ok = is(&body, &body_name, &["fangsong", "仿宋"]);
    let title_ok = is(&title, &title_name, &["xiaobiaosong", "小标宋"]);
    let title_heavy = title_name.is_some()
        && is(
            &title,
            &title_name,
            &[
                "xiaobiaosong",
                "小标宋",
                "zhongsong",
                "中宋",
                "bold",
                "black",
                "heavy",
            ],
        );
    let used = |font: &paper::Font| format!("{} ({})", font.family(), font.path().display());
    let tried = |t: &[(String, String)], stack: &[String]| -> String {
        if stack.is_empty() {
            return "none listed".into();
        }
        let names: Vec<String> = if t.is_empty() {
            stack.to_vec()
        } else {
            t.iter()
                .map(|(n, why)| {
                    if why == "not installed" {
                        n.clone()
                    } else {
                        format!("{n}: {why}")
                    }
                })
                .collect()
        };
        names.join(", ")
    };
    let mut said = Vec::new();
    if !body_ok {
        said.push(format!(
            "no 仿宋 for its body (tried {}), set in {}",
            tried(&body_tried, body_stack),
            used(&body)
        ));
    }
    if !title_ok {
        said.push(format!(
            "no 小标宋 for its title (tried {}), set in {}{}",
            tried(&title_tried, title_stack),
            used(&title),
            if title_heavy { "" } else { ", emboldened" }
        ));
    }
    if !said.is_empty() {
        tracing::warn!(
            "{}: [pdf] the notice: {}; install one or name it in [pdf] body_font / title_font",
            config::FILE_NAME,
            said.join("; ")
        );
    } else {
        tracing::info!(
            "the notice: body in {}, title in {}",
            used(&body),
            used(&title)
        );
    }
    let fonts = paper::NoticeFonts {
        body,
        title,
        title_heavy,
    };
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, fonts.clone());
    fonts
}

/// The font, found once per process (and again only if the setting changes).
fn font(configured: PathBuf) -> Result<paper::Font, String> {
    static FOUND: OnceLock<Mutex<HashMap<PathBuf, paper::Font>>> = OnceLock::new();
    let cache = FOUND.get_or_init(Default::default);
    if let Some(f) = cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&configured)
    {
        return Ok(f.clone());
    }
    let f = paper::Font::find(&configured).map_err(|e| e.to_string())?;
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(configured, f.clone());
    Ok(f)
}

/// A PDF made: the hash of what it was made from, and its bytes.
type Made = (u64, Arc<[u8]>);
/// The PDFs made in this process, by site root and output path.
type Cache = Mutex<HashMap<(PathBuf, String), Made>>;

fn made_before() -> &'static Cache {
    static MADE: OnceLock<Cache> = OnceLock::new();
    MADE.get_or_init(Default::default)
}

fn make(
    ctx: &Shared,
    job: &Job,
    font: &paper::Font,
    fonts: &paper::NoticeFonts,
) -> Result<(String, Arc<[u8]>), Problem> {
    let (path, source, input) = match job {
        Job::Notice(d, n) => (notice_pdf(d), d.source_str(), notice_input(ctx, d, n)?),
        Job::Form(f) => (
            form_pdf(f),
            format!("content/forms/{}.toml", f.id),
            Input::Blank(blank_input(ctx, f)),
        ),
        Job::Manual(m) => (
            manual_pdf(m),
            format!("manuals/{}/book.toml", m.id),
            Input::Book(book_input(ctx, m)),
        ),
    };
    let key = {
        let mut h = DefaultHasher::new();
        format!("{input:?}").hash(&mut h);
        font.path().hash(&mut h);
        if matches!(input, Input::Notice(_)) {
            format!("{fonts:?}").hash(&mut h);
        }
        h.finish()
    };
    let cache = made_before();
    let slot = (ctx.site.root.clone(), path.clone());
    if let Some((k, bytes)) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&slot) {
        if *k == key {
            return Ok((path, bytes.clone()));
        }
    }
    let bytes = match &input {
        Input::Notice(n) => paper::notice(&n.view(), fonts),
        Input::Blank(b) => paper::blank(b, font).map(|(b, _)| b),
        Input::Book(b) => paper::book(b, font),
    }
    .map_err(|e| Problem::new(&source, None, format!("PDF {path}: {e}")))?;
    let bytes: Arc<[u8]> = bytes.into();
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(slot, (key, bytes.clone()));
    Ok((path, bytes))
}

/// What a PDF is made from (its Debug text is hashed to tell changes).
#[derive(Debug)]
enum Input<'a> {
    Notice(NoticeInput),
    Blank(paper::Blank<'a>),
    Book(paper::Book),
}

#[derive(Debug)]
struct NoticeInput {
    mark: String,
    doc_number: String,
    title_lines: Vec<String>,
    recipients: String,
    body: String,
    annexes: Vec<String>,
    annex_note: String,
    issuer: String,
    date: String,
    contact: String,
}

impl NoticeInput {
    fn view(&self) -> paper::Notice<'_> {
        paper::Notice {
            mark: &self.mark,
            doc_number: &self.doc_number,
            title_lines: self.title_lines.clone(),
            recipients: &self.recipients,
            body: &self.body,
            annexes: self.annexes.clone(),
            annex_note: &self.annex_note,
            issuer: &self.issuer,
            date: &self.date,
            contact: &self.contact,
        }
    }
}

/// The mark a value not yet confirmed carries, on paper as on the page.
const UNCONFIRMED: &str = "【待核实】";

fn notice_input<'a>(ctx: &Shared, d: &Doc, n: &Notice) -> Result<Input<'a>, Problem> {
    let marked = |field: &str, v: &str| {
        if n.is_unconfirmed(field) && !v.is_empty() {
            format!("{v}{UNCONFIRMED}")
        } else {
            v.to_string()
        }
    };
    let body = d.read_body(&ctx.site.root.join("content"))?;
    let written = frontmatter::to_datetime(&n.written)
        .map(|w| date_zh(&w))
        .unwrap_or_default();
    let title_lines = if n.title_lines.is_empty() {
        vec![d.title()]
    } else {
        n.title_lines.clone()
    };
    Ok(Input::Notice(NoticeInput {
        mark: marked("issuer_mark", n.issuer_mark.as_deref().unwrap_or(&n.issuer)),
        doc_number: marked("doc_number", &n.doc_number),
        title_lines,
        recipients: marked("recipients", &n.recipients),
        body,
        annexes: n
            .attachments
            .iter()
            .map(|a| a.title.replace(['《', '》'], ""))
            .collect(),
        annex_note: n.annex_note.clone(),
        issuer: marked("issuer", &n.issuer),
        date: marked("written", &written),
        contact: marked("contact", &n.contact),
    }))
}

fn blank_input<'a>(ctx: &Shared, f: &'a FormDef) -> paper::Blank<'a> {
    let columns = f
        .fields
        .iter()
        .map(|field| {
            // The spreadsheet's width is in Latin characters: a hanzi takes two.
            let from_width = field.width.map(|w| (w / 2.0).ceil() as usize);
            let chars = match field.kind {
                // A unit's full name (as on its seal) runs to 14 characters and more.
                Kind::Text => {
                    from_width
                        .unwrap_or(10)
                        .max(if is_name(&field.label) { 14 } else { 4 })
                }
                Kind::Textarea => from_width.unwrap_or(15).max(15),
                Kind::Uscc | Kind::Idcard => 18,
                Kind::Email => from_width.unwrap_or(12).max(12),
                Kind::Mobile => 11,
                Kind::Phone => 12,
                Kind::Postcode => 6,
                Kind::Date => 8,
                Kind::Docnum => 12,
                _ => from_width.unwrap_or(6),
            };
            paper::Column {
                label: field.label.clone(),
                chars,
                options: field.options.clone(),
                long: field.kind == Kind::Textarea,
                required: field.required,
            }
        })
        .collect();
    paper::Blank {
        annex: f.annex,
        title: &f.title,
        columns,
        notes: ctx.instructions.clone(),
    }
}

/// A field that holds a name written in full (单位全称, 评委会全称 …).
fn is_name(label: &str) -> bool {
    ["全称", "名称", "单位", "部门"]
        .iter()
        .any(|w| label.contains(w))
}

fn book_input(ctx: &Shared, m: &Manual) -> paper::Book {
    let src = m.src_dir.to_string_lossy().replace('\\', "/");
    let chapters = m
        .chapters
        .iter()
        .filter_map(|c| {
            let path = c.path.as_deref()?;
            let file = ctx.site.root.join(&src).join(path);
            // Unreadable chapters are the manuals step's problem, reported there.
            let raw = std::fs::read_to_string(&file).ok()?;
            let markdown = preprocess::expand(&raw, &file).text;
            let dir = std::path::Path::new(path)
                .parent()
                .unwrap_or(std::path::Path::new(""));
            let figures = figure_sources(&markdown)
                .into_iter()
                .filter(|s| s.ends_with(".svg"))
                .filter_map(|s| {
                    let text = std::fs::read_to_string(ctx.site.root.join(&src).join(dir).join(&s))
                        .ok()?;
                    Some((s, text))
                })
                .collect();
            Some(paper::Chapter {
                title: c.title.clone(),
                path: path.to_string(),
                number: c.number.trim_end_matches('.').to_string(),
                depth: c.depth,
                part: c.part.clone(),
                markdown,
                figures,
            })
        })
        .collect();
    let mut subtitle = Vec::new();
    if let Some(n) = m.annex {
        subtitle.push(format!("附件{n}"));
    }
    if !m.audience.is_empty() {
        subtitle.push(format!("适用对象：{}", m.audience));
    }
    paper::Book {
        title: m.title.clone(),
        subtitle,
        publisher: ctx.site.config.site.title.clone(),
        chapters,
    }
}

/// The image paths a chapter's Markdown names.
fn figure_sources(md: &str) -> Vec<String> {
    use pulldown_cmark::{Event, Parser, Tag};
    Parser::new(md)
        .filter_map(|e| match e {
            Event::Start(Tag::Image { dest_url, .. }) => Some(dest_url.to_string()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{render_full, Sink};
    use crate::model::Site;
    use std::sync::Arc;

    fn pdfs(root: &std::path::Path) -> Vec<(String, Arc<[u8]>)> {
        let site = Site::load(root).unwrap();
        let built = render_full(&site, &Sink::Memory).unwrap_or_else(|p| panic!("{p:?}"));
        built
            .outputs
            .into_iter()
            .filter(|(p, _)| p.ends_with(".pdf"))
            .collect()
    }

    #[test]
    fn a_rebuild_makes_again_only_the_pdfs_whose_sources_changed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        crate::init(&root).unwrap();
        let first = pdfs(&root);
        let kinds = |end: &str| first.iter().filter(|(p, _)| p.ends_with(end)).count();
        assert_eq!(
            (kinds("notice.pdf"), kinds("-blank.pdf"), first.len()),
            (1, 1, 3),
            "{:?}",
            first.iter().map(|(p, _)| p).collect::<Vec<_>>()
        );
        for (_, b) in &first {
            assert!(b.starts_with(b"%PDF-"));
        }
        // Nothing changed: the very same bytes, not made again.
        let second = pdfs(&root);
        for ((p, a), (_, b)) in first.iter().zip(&second) {
            assert!(Arc::ptr_eq(a, b), "{p} was made again");
        }
        // One manual chapter changed: only that manual's PDF is made again.
        let readme = root.join("manuals/guide/src/start.md");
        let old = std::fs::read_to_string(&readme).unwrap();
        std::fs::write(&readme, format!("{old}\n新增的一段说明。\n")).unwrap();
        let third = pdfs(&root);
        for ((p, a), (_, b)) in first.iter().zip(&third) {
            let is_manual = p.starts_with("manuals/");
            assert_eq!(!Arc::ptr_eq(a, b), is_manual, "{p}");
        }
    }
}
