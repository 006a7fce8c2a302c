//! The build pipeline: load → index every output → render Markdown (parallel)
//! → make the artifacts (spreadsheets, manual downloads) → render templates
//! (parallel) → check every link and anchor.

use crate::content::{self, Content, Doc};
use crate::frontmatter::{self, Notice};
use crate::html::IdSet;
use crate::links::{self, DocLinks, Index};
use crate::manual::{self, Manual};
use crate::markdown::{self, Heading, LinkUse};
use crate::problem::Problem;
use chrono::{Datelike, NaiveDateTime};
use config::Config;
use forms::FormDef;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use theme::Theme;

/// What a build produces: output path → bytes, in a stable order. The bytes
/// are shared so that `gazette serve` can keep a snapshot while a rebuild
/// replaces a few pages.
pub type Outputs = BTreeMap<String, Arc<[u8]>>;

/// One rendered output file, or why it could not be made.
type Rendered = Result<(String, Arc<[u8]>), Problem>;

/// A manual's files and the Markdown links found in it.
type ManualOutput = (Outputs, Vec<(String, LinkUse)>);

/// Everything read from the site folder.
pub struct Site {
    pub root: PathBuf,
    pub config: Config,
    pub theme: Theme,
    pub content: Content,
    pub manuals: Vec<Manual>,
    pub forms: Vec<FormDef>,
}

impl Site {
    pub fn load(root: &Path) -> Result<Site, Vec<Problem>> {
        let clock = std::time::Instant::now();
        let site = Self::load_inner(root);
        tracing::debug!("load: {:.1} ms", clock.elapsed().as_secs_f64() * 1000.0);
        site
    }

    fn load_inner(root: &Path) -> Result<Site, Vec<Problem>> {
        let config = Config::load(root)
            .map_err(|e| vec![Problem::new(config::FILE_NAME, None, e.to_string())])?;
        let forms = FormDef::load_dir(&root.join("content/forms")).map_err(|e| {
            let file = e.path.strip_prefix(root).unwrap_or(&e.path).to_path_buf();
            vec![Problem::new(file, e.line, e.reason)]
        })?;
        // Parsing the templates takes as long as loading 3,000 pages: do both at once.
        let (theme, (content, manuals)) = rayon::join(
            || Theme::load(root),
            || rayon::join(|| content::load(root), || manual::load_all(root)),
        );
        let theme = theme.map_err(|e| vec![Problem::new("templates", None, e.to_string())])?;
        let mut problems = Vec::new();
        let content = content.map_err(|p| problems.extend(p)).ok();
        let manuals = manuals.map_err(|p| problems.extend(p)).ok();
        match (content, manuals) {
            (Some(content), Some(manuals)) if problems.is_empty() => Ok(Site {
                root: root.to_path_buf(),
                config,
                theme,
                content,
                manuals,
                forms,
            }),
            _ => Err(problems),
        }
    }
}

/// A rendered Markdown document.
struct Body {
    html: String,
    headings: Vec<Heading>,
}

/// Where rendered files go.
pub enum Sink {
    /// Kept in memory (`gazette serve`).
    Memory,
    /// Written into this folder as they are made, so a large site never has
    /// to fit in memory (`gazette build`).
    Dir(PathBuf),
    /// Checked and dropped (`gazette check`).
    Discard,
}

/// Renders the whole site in memory. On any problem, returns all of them.
pub fn render(site: &Site) -> Result<Outputs, Vec<Problem>> {
    render_full(site, &Sink::Memory).map(|b| b.outputs)
}

/// A full render and what an incremental update needs from it.
pub struct Built {
    /// Every file, when rendered into [`Sink::Memory`].
    pub outputs: Outputs,
    /// Number of files and bytes made.
    pub files: usize,
    pub bytes: usize,
    pub pages: usize,
    index: Index,
    /// Rendered bodies of the sections (they are re-rendered when a page they list changes).
    bodies: HashMap<usize, Body>,
    /// Markdown links per content doc (same order as `site.content.docs`).
    doc_links: Vec<Vec<LinkUse>>,
    /// Markdown links of the manuals, with their source.
    manual_links: Vec<(String, LinkUse)>,
    sizes: Sizes,
    ids: HashMap<String, IdSet>,
}

impl Built {
    /// Whether this build made `path` (relative to the output folder).
    pub fn is_output(&self, path: &str) -> bool {
        self.index.outputs.contains(path)
    }
}

/// A link found in generated HTML whose anchor is in another page, checked
/// once every page is made.
struct Pending {
    page: String,
    link: String,
    target: String,
    anchor: String,
}

/// A content page after rendering: its body if it is a section (kept for
/// incremental updates), its Markdown links, problems, and the file made.
type DocResult = (Option<Body>, Vec<LinkUse>, Vec<Problem>, Option<Emitted>);

/// What is kept of one output file after it went to the sink.
struct Emitted {
    path: String,
    len: usize,
    bytes: Option<Arc<[u8]>>,
    ids: Option<IdSet>,
    pending: Vec<Pending>,
    problems: Vec<Problem>,
}

/// Hands one file to the sink; for HTML, reads its ids and checks its links
/// against the index of every output (anchors elsewhere are left pending).
fn emit(sink: &Sink, index: &Index, path: String, bytes: Arc<[u8]>) -> Emitted {
    let mut problems = Vec::new();
    let mut pending = Vec::new();
    let ids = if path.ends_with(".html") {
        let ids = crate::html::ids(&bytes);
        if path != "404.html" {
            scan_links(&path, &bytes, &ids, index, &mut pending, &mut problems);
        }
        Some(ids)
    } else {
        None
    };
    let len = bytes.len();
    let kept = match sink {
        Sink::Memory => Some(bytes),
        Sink::Discard => None,
        Sink::Dir(dir) => {
            let file = dir.join(&path);
            if let Err(e) = write_over(dir, &file, &bytes) {
                problems.push(Problem::new(file, None, e.to_string()));
            }
            None
        }
    };
    Emitted {
        path,
        len,
        bytes: kept,
        ids,
        pending,
        problems,
    }
}

/// Writes `file` (under `out_dir`) over whatever an earlier build left:
/// folders are made only when missing, and a file or folder standing where
/// the other is needed now is removed first.
fn write_over(out_dir: &Path, file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let Err(e) = std::fs::write(file, bytes) else {
        return Ok(());
    };
    let parent = file.parent().unwrap_or(out_dir);
    if e.kind() == std::io::ErrorKind::NotFound && std::fs::create_dir_all(parent).is_ok() {
        return std::fs::write(file, bytes);
    }
    // An earlier build's folder where this file goes, or its file where a
    // folder is needed now.
    if file.is_dir() {
        std::fs::remove_dir_all(file)?;
    }
    for a in parent
        .ancestors()
        .take_while(|a| a.starts_with(out_dir) && *a != out_dir)
    {
        if a.is_file() {
            std::fs::remove_file(a)?;
        }
    }
    std::fs::create_dir_all(parent)?;
    std::fs::write(file, bytes)
}

/// Every href/src of a generated page: the target must be built; an anchor
/// on the same page must exist; anchors elsewhere are checked later.
fn scan_links(
    path: &str,
    html: &[u8],
    own_ids: &IdSet,
    index: &Index,
    pending: &mut Vec<Pending>,
    problems: &mut Vec<Problem>,
) {
    for link in crate::html::links(html) {
        if links::is_external(&link) || link.starts_with("data:") {
            continue;
        }
        let decoded: std::borrow::Cow<str> = if link.contains('%') {
            links::percent_decode(&link).into()
        } else {
            link.as_ref().into()
        };
        let (file, anchor) = match decoded.split_once('#') {
            Some((f, a)) => (f, a),
            None => (&*decoded, ""),
        };
        if file.starts_with('/') {
            continue; // root-absolute: the form action and the like; the server owns it
        }
        let target = if file.is_empty() {
            path.to_string()
        } else {
            match links::join(links::dir_of(path), file) {
                Some(t) if t.is_empty() || t.ends_with('/') => format!("{t}index.html"),
                Some(t) => t,
                None => {
                    problems.push(Problem::new(
                        path,
                        None,
                        format!("link {link} climbs above the site root"),
                    ));
                    continue;
                }
            }
        };
        if !index.outputs.contains(&target) {
            problems.push(Problem::new(
                path,
                None,
                format!("link {link} leads nowhere ({target} is not built)"),
            ));
        } else if !anchor.is_empty() && target.ends_with(".html") {
            if target == path {
                if !own_ids.contains(anchor) {
                    problems.push(Problem::new(
                        path,
                        None,
                        format!("link {link}: {target} has no #{anchor}"),
                    ));
                }
            } else {
                pending.push(Pending {
                    page: path.to_string(),
                    link: link.to_string(),
                    target,
                    anchor: anchor.to_string(),
                });
            }
        }
    }
}

pub fn render_full(site: &Site, sink: &Sink) -> Result<Built, Vec<Problem>> {
    let clock = std::time::Instant::now();
    let lap =
        |what: &str| tracing::debug!("{what}: {:.1} ms", clock.elapsed().as_secs_f64() * 1000.0);
    let mut problems: Vec<Problem> = Vec::new();
    let index = build_index(site, &mut problems);
    lap("index");
    if !problems.is_empty() {
        return Err(problems);
    }
    let ctx = Shared::new(site, &index);
    let mut emitted: Vec<Emitted> = Vec::new();

    // 1. The artifacts whose sizes the pages show: manuals and spreadsheets.
    let mut manual_links: Vec<(String, LinkUse)> = Vec::new();
    let mut sizes = Sizes {
        manual: HashMap::new(),
        files: HashMap::new(),
    };
    for m in &site.manuals {
        match render_manual(&ctx, m) {
            Ok((files, uses)) => {
                sizes.manual.insert(
                    m.id.clone(),
                    files.get(&m.download_output()).map_or(0, |b| b.len()),
                );
                emitted.extend(files.into_iter().map(|(k, v)| emit(sink, &index, k, v)));
                manual_links.extend(uses);
            }
            Err(p) => problems.extend(p),
        }
    }
    for f in &site.forms {
        match forms::sheet::blank_xlsx(f, &ctx.instructions) {
            Ok(bytes) => {
                sizes.files.insert(form_xlsx(f), bytes.len());
                emitted.push(emit(sink, &index, form_xlsx(f), bytes.into()));
            }
            Err(e) => problems.push(Problem::new(
                format!("content/forms/{}.toml", f.id),
                None,
                e,
            )),
        }
    }
    if !problems.is_empty() {
        problems.sort();
        problems.dedup();
        return Err(problems);
    }
    lap("manuals and spreadsheets");

    // 2. Every content page: Markdown, template and out, in parallel, so
    // that no more than a few pages are held at a time.
    let content_dir = site.root.join("content");
    let docs: Vec<DocResult> = site
        .content
        .docs
        .par_iter()
        .map(|d| {
            let (body, links, problems) = render_markdown(&index, &content_dir, d);
            if !problems.is_empty() {
                return (None, links, problems, None);
            }
            match render_doc(&ctx, d, &body, &sizes) {
                Ok((path, bytes)) => {
                    let e = emit(sink, &index, path, bytes);
                    (d.is_section.then_some(body), links, Vec::new(), Some(e))
                }
                Err(p) => (None, links, vec![p], None),
            }
        })
        .collect();
    let mut doc_links = Vec::with_capacity(docs.len());
    let mut bodies = HashMap::new();
    for (i, (body, links, p, e)) in docs.into_iter().enumerate() {
        if let Some(b) = body {
            bodies.insert(i, b);
        }
        doc_links.push(links);
        problems.extend(p);
        emitted.extend(e);
    }
    lap("pages");
    let forms: Vec<Rendered> = site
        .forms
        .par_iter()
        .flat_map_iter(|f| render_form(&ctx, f, &sizes))
        .collect();
    let mut rest = Outputs::new();
    for r in forms {
        match r {
            Ok((path, bytes)) => {
                rest.insert(path, bytes);
            }
            Err(p) => problems.push(p),
        }
    }
    match render_extras(&ctx) {
        Ok(extra) => rest.extend(extra),
        Err(p) => problems.push(p),
    }
    for (name, bytes) in site.theme.statics() {
        rest.insert(name.to_string(), bytes.into());
    }
    if let Err(p) = copy_files(site, &mut rest) {
        problems.extend(p);
    }
    emitted.extend(rest.into_iter().map(|(k, v)| emit(sink, &index, k, v)));
    lap("forms, extras and copies");

    // 3. Anchors across pages, now that every page's ids are known.
    let mut outputs = Outputs::new();
    let mut ids = HashMap::new();
    let mut pending = Vec::new();
    let mut template_problems = Vec::new();
    let (mut files, mut bytes, mut pages) = (0, 0, 0);
    for e in emitted {
        files += 1;
        bytes += e.len;
        if let Some(set) = e.ids {
            pages += 1;
            ids.insert(e.path.clone(), set);
        }
        pending.extend(e.pending);
        template_problems.extend(e.problems);
        if let Some(b) = e.bytes {
            outputs.insert(e.path, b);
        }
    }
    if problems.is_empty() {
        let all = Ids {
            base: &ids,
            overlay: None,
        };
        let uses = site
            .content
            .docs
            .iter()
            .zip(&doc_links)
            .flat_map(|(d, links)| links.iter().map(move |u| (d.source_str(), u)))
            .chain(manual_links.iter().map(|(s, u)| (s.clone(), u)));
        problems.extend(check_uses(uses, &all));
        // A broken Markdown link shows up in the HTML too: report it once, at its source line.
        if problems.is_empty() {
            problems.extend(template_problems);
            problems.extend(pending.iter().filter_map(|p| {
                let ok = all.get(&p.target).is_some_and(|s| s.contains(&p.anchor));
                (!ok).then(|| {
                    Problem::new(
                        &p.page,
                        None,
                        format!("link {}: {} has no #{}", p.link, p.target, p.anchor),
                    )
                })
            }));
        }
    }
    lap("link check");
    if problems.is_empty() {
        Ok(Built {
            outputs,
            files,
            bytes,
            pages,
            index,
            bodies,
            doc_links,
            manual_links,
            sizes,
            ids,
        })
    } else {
        problems.sort();
        problems.dedup();
        Err(problems)
    }
}

fn render_markdown(
    index: &Index,
    content_dir: &Path,
    d: &Doc,
) -> (Body, Vec<LinkUse>, Vec<Problem>) {
    let empty = || Body {
        html: String::new(),
        headings: Vec::new(),
    };
    let text = match d.read_body(content_dir) {
        Ok(t) => t,
        Err(p) => return (empty(), Vec::new(), vec![p]),
    };
    let source = d.source_str();
    let output = d.output();
    let links = DocLinks {
        index,
        source: &source,
        output: &output,
        same_page: None,
        own_prefix: "",
        inline: None,
    };
    let r = markdown::render(&text, d.body_line, "", &links);
    let problems = r
        .problems
        .into_iter()
        .map(|(l, m)| Problem::new(&source, Some(l), m))
        .collect();
    let body = Body {
        html: r.html,
        headings: r.headings,
    };
    (body, r.links, problems)
}

fn tag_links(uses: Vec<LinkUse>, source: &str) -> Vec<(String, LinkUse)> {
    uses.into_iter().map(|u| (source.to_string(), u)).collect()
}

fn form_dir(f: &FormDef) -> String {
    format!("forms/{}/", f.id)
}
fn form_page(f: &FormDef) -> String {
    format!("{}index.html", form_dir(f))
}
fn form_xlsx(f: &FormDef) -> String {
    format!("{}{}.xlsx", form_dir(f), f.id)
}
fn form_print(f: &FormDef) -> String {
    format!("{}print.html", form_dir(f))
}

/// Every output path known before rendering, so links can be resolved while
/// rendering; duplicates are problems.
fn build_index(site: &Site, problems: &mut Vec<Problem>) -> Index {
    let mut index = Index::default();
    let mut claimed: HashMap<String, String> = HashMap::new();
    let mut claim = |output: &str, by: String, problems: &mut Vec<Problem>| {
        if let Some(prev) = claimed.insert(output.to_string(), by.clone()) {
            problems.push(Problem::new(
                &by,
                None,
                format!("writes {output}, which {prev} writes too"),
            ));
        }
    };
    for d in &site.content.docs {
        let source = format!("content/{}", d.rel);
        claim(&d.output(), source.clone(), problems);
        index.add_page(Some(source), d.url.clone(), d.output());
    }
    for a in &site.content.assets {
        let source = format!("content/{}", a.rel);
        claim(&a.rel, source.clone(), problems);
        index.add_source(source, a.rel.clone());
    }
    for f in &site.forms {
        let source = format!("content/forms/{}.toml", f.id);
        claim(&form_page(f), source.clone(), problems);
        index.add_page(None, form_dir(f), form_page(f));
        for out in [form_xlsx(f), form_print(f)] {
            claim(&out, source.clone(), problems);
            index.outputs.insert(out);
        }
    }
    for m in &site.manuals {
        let src = m.src_dir.to_string_lossy().replace('\\', "/");
        let book = format!("manuals/{}/book.toml", m.id);
        claim(
            &format!("{}index.html", m.out_dir()),
            book.clone(),
            problems,
        );
        index.add_page(None, m.out_dir(), format!("{}index.html", m.out_dir()));
        for out in [m.print_output(), m.download_output()] {
            claim(&out, book.clone(), problems);
            index.outputs.insert(out);
        }
        for c in &m.chapters {
            if let Some(p) = &c.path {
                let out = m.chapter_output(p);
                claim(&out, format!("{src}/{p}"), problems);
                index.add_source(format!("{src}/{p}"), out);
            }
        }
        for a in &m.assets {
            let out = format!("{}{a}", m.out_dir());
            claim(&out, format!("{src}/{a}"), problems);
            index.add_source(format!("{src}/{a}"), out);
        }
    }
    for generated in [
        "index.html",
        "forms/index.html",
        "manuals/index.html",
        "404.html",
        "sitemap.xml",
        "atom.xml",
        "robots.txt",
    ] {
        if generated == "index.html" && index.outputs.contains("index.html") {
            continue; // content/_index.md is the home page
        }
        if index.outputs.contains(generated)
            && generated != "forms/index.html"
            && generated != "manuals/index.html"
        {
            problems.push(Problem::new(
                generated,
                None,
                "this path is reserved for a generated file",
            ));
        }
        index.outputs.insert(generated.to_string());
    }
    index
        .urls
        .entry(String::new())
        .or_insert_with(|| "index.html".into());
    index
        .urls
        .entry("forms/".into())
        .or_insert_with(|| "forms/index.html".into());
    index
        .urls
        .entry("manuals/".into())
        .or_insert_with(|| "manuals/index.html".into());
    for (name, _) in site.theme.statics() {
        index.outputs.insert(name.to_string());
    }
    let static_dir = site.root.join("static");
    let mut files = Vec::new();
    walk_files(&static_dir, "", &mut files);
    for f in files {
        claim(&f, format!("static/{f}"), problems);
        index.outputs.insert(f);
    }
    index
}

fn walk_files(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let rel = format!("{prefix}{name}");
        if e.path().is_dir() {
            walk_files(&e.path(), &format!("{rel}/"), out);
        } else {
            out.push(rel);
        }
    }
}

/// What every page's context shares.
struct Shared<'a> {
    site: &'a Site,
    index: &'a Index,
    instructions: Vec<String>,
    /// `site`, `office` and `meta`: what every page's context starts from.
    base_vars: serde_json::Map<String, serde_json::Value>,
    /// The main navigation, for `header.html`.
    nav: serde_json::Value,
    nav_outputs: HashSet<String>,
    /// Header and footer by (root, current page if it is in the navigation).
    /// They are the same on every page at one folder depth, and rendering
    /// the navigation on each of 10,000 pages was most of the template time.
    chrome: std::sync::Mutex<HashMap<(String, String), Arc<Chrome>>>,
}

/// `header.html` and `footer.html`, rendered.
struct Chrome {
    header: String,
    footer: String,
}

impl<'a> Shared<'a> {
    fn new(site: &'a Site, index: &'a Index) -> Self {
        let mut sections: Vec<&Doc> = site
            .content
            .docs
            .iter()
            .filter(|d| d.is_section && d.rel != "_index.md" && d.parent_section().is_empty())
            .collect();
        sections.sort_by_key(|d| (d.meta.weight.unwrap_or(0), d.rel.clone()));
        let mut nav: Vec<(String, String)> = vec![("首页".into(), "index.html".into())];
        nav.extend(sections.iter().map(|d| (d.title(), d.output())));
        if !site.forms.is_empty() {
            nav.push(("表格填报".into(), "forms/index.html".into()));
        }
        if !site.manuals.is_empty() {
            nav.push(("操作手册".into(), "manuals/index.html".into()));
        }
        let o = &site.config.office;
        let mut instructions = vec![
            "请按本表格式填写，每行填写一个单位，不要修改表头。".to_string(),
            "填写完成后，请通过电子邮件或传真报送：".to_string(),
        ];
        let office = [o.name.as_str(), o.section.as_str()].concat();
        if !office.is_empty() {
            instructions.push(format!("报送单位：{office}"));
        }
        if !o.email.is_empty() {
            instructions.push(format!("电子邮箱：{}", o.email));
        }
        if !o.fax.is_empty() {
            instructions.push(format!("传真：{}", o.fax));
        }
        if !o.person.is_empty() || !o.phone.is_empty() {
            instructions.push(format!("联系人：{} 电话：{}", o.person, o.phone));
        }
        let mut base_vars = serde_json::Map::new();
        base_vars.insert("site".into(), json!(site.config.site));
        base_vars.insert("office".into(), json!(site.config.office));
        let mut meta = vec![("SiteName", site.config.site.title.clone())];
        if !site.config.site.domain.is_empty() {
            meta.push(("SiteDomain", site.config.site.domain.clone()));
        }
        base_vars.insert("meta".into(), json!(meta_list(&meta)));
        let nav_outputs = nav.iter().map(|(_, o)| o.clone()).collect();
        let nav = nav
            .iter()
            .map(|(t, o)| json!({"title": t, "output": o}))
            .collect();
        Shared {
            site,
            index,
            instructions,
            base_vars,
            nav,
            nav_outputs,
            chrome: Default::default(),
        }
    }

    /// The context every template gets, for a page written at `output`.
    fn base(&self, output: &str, title: &str, description: &str) -> tera::Context {
        self.base_at(output, &links::root_prefix(output), title, description)
    }

    /// As [`Shared::base`], with links from the page starting with `root`.
    fn base_at(&self, output: &str, root: &str, title: &str, description: &str) -> tera::Context {
        let mut vars = self.base_vars.clone();
        if let Some(chrome) = self.chrome(root, output) {
            vars.insert("header".into(), chrome.header.as_str().into());
            vars.insert("footer".into(), chrome.footer.as_str().into());
        }
        vars.insert("root".into(), root.into());
        vars.insert("current".into(), output.into());
        vars.insert("page_title".into(), title.into());
        vars.insert("description".into(), description.into());
        vars.insert("canonical".into(), json!(self.absolute(output)));
        tera::Context::from_value(serde_json::Value::Object(vars)).unwrap_or_default()
    }

    /// Header and footer for a page at `root`, rendered on first use. None if
    /// they fail to render: `base.html` then includes them itself, and the
    /// page's own render reports the template problem.
    fn chrome(&self, root: &str, output: &str) -> Option<Arc<Chrome>> {
        let current = if self.nav_outputs.contains(output) {
            output
        } else {
            ""
        };
        let key = (root.to_string(), current.to_string());
        if let Some(c) = self.lock_chrome().get(&key) {
            return Some(c.clone());
        }
        let mut c = tera::Context::new();
        c.insert("site", &self.site.config.site);
        c.insert("office", &self.site.config.office);
        c.insert("nav", &self.nav);
        c.insert("root", root);
        c.insert("current", current);
        let theme = &self.site.theme;
        let chrome = Arc::new(Chrome {
            header: theme.render("header.html", &c).ok()?.trim().to_string(),
            footer: theme.render("footer.html", &c).ok()?.trim().to_string(),
        });
        self.lock_chrome().insert(key, chrome.clone());
        Some(chrome)
    }

    fn lock_chrome(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Arc<Chrome>>> {
        // A panic elsewhere cannot leave the cache half-written: insert is one call.
        self.chrome.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Absolute URL of an output when `base_url` is set.
    fn absolute(&self, output: &str) -> Option<String> {
        let base = &self.site.config.site.base_url;
        if base.is_empty() {
            return None;
        }
        let pretty = output.strip_suffix("index.html").unwrap_or(output);
        Some(format!("{}/{}", base.trim_end_matches('/'), pretty))
    }

    fn render(&self, template: &str, ctx: &tera::Context, file: &str) -> Result<String, Problem> {
        self.site
            .theme
            .render(template, ctx)
            .map_err(|e| Problem::new(file, None, e.to_string()))
    }
}

fn meta_list(pairs: &[(&str, String)]) -> Vec<serde_json::Value> {
    pairs
        .iter()
        .map(|(n, c)| json!({"name": n, "content": c}))
        .collect()
}

pub fn date_zh(d: &NaiveDateTime) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

pub fn format_size(bytes: usize) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MB", bytes as f64 / 1024.0 / 1024.0)
    }
}

struct Sizes {
    manual: HashMap<String, usize>,
    files: HashMap<String, usize>,
}

#[derive(Serialize)]
struct ListItem {
    title: String,
    href: String,
    date: String,
    date_zh: String,
    description: String,
    doc_number: String,
}

fn list_item(d: &Doc, root: &str) -> ListItem {
    ListItem {
        title: d.title(),
        href: format!("{root}{}", d.output()),
        date: d
            .date
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        date_zh: d.date.as_ref().map(date_zh).unwrap_or_default(),
        description: d.meta.description.clone().unwrap_or_default(),
        doc_number: d
            .meta
            .notice
            .as_ref()
            .map(|n| n.doc_number.clone())
            .unwrap_or_default(),
    }
}

/// Pages directly in a section, newest first unless `sort_by = "weight"` or `"title"`.
fn section_pages<'a>(site: &'a Site, section: &Doc) -> Vec<&'a Doc> {
    let dir = section.section_dir();
    let mut pages: Vec<&Doc> = site
        .content
        .docs
        .iter()
        .filter(|d| !d.is_section && d.parent_section() == dir)
        .collect();
    match section.meta.sort_by.as_deref() {
        Some("weight") => pages.sort_by_key(|d| (d.meta.weight.unwrap_or(0), d.rel.clone())),
        Some("title") => pages.sort_by_key(|d| (d.title(), d.rel.clone())),
        _ => pages.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.rel.cmp(&b.rel))),
    }
    pages
}

fn render_doc(ctx: &Shared, d: &Doc, body: &Body, sizes: &Sizes) -> Rendered {
    let output = d.output();
    let source = format!("content/{}", d.rel);
    let root = links::root_prefix(&output);
    let description = d.meta.description.clone().unwrap_or_default();
    let mut c = ctx.base(&output, &d.title(), &description);
    let page = json!({
        "title": d.title(),
        "content": body.html,
        "toc": body.headings,
        "date": d.date.map(|d| d.format("%Y-%m-%d").to_string()),
        "date_zh": d.date.as_ref().map(date_zh),
        "description": description,
        "extra": d.meta.extra,
    });
    if d.rel == "_index.md" {
        c.insert("section", &page);
    }
    // Moved in, not inserted: `insert` would copy the whole page body again.
    let key = if d.is_section && d.rel != "_index.md" {
        "section"
    } else {
        "page"
    };
    c.extend(tera::Context::from_value(json!({ key: page })).unwrap_or_default());
    let template = if d.rel == "_index.md" {
        let mut sections: Vec<&Doc> = ctx
            .site
            .content
            .docs
            .iter()
            .filter(|s| s.is_section && s.rel != "_index.md" && s.parent_section().is_empty())
            .collect();
        sections.sort_by_key(|s| (s.meta.weight.unwrap_or(0), s.rel.clone()));
        let sections: Vec<_> = sections
            .iter()
            .map(|s| json!({"title": s.title(), "href": format!("{root}{}", s.output()), "description": s.meta.description}))
            .collect();
        c.insert("sections", &sections);
        let mut recent: Vec<&Doc> = ctx
            .site
            .content
            .docs
            .iter()
            .filter(|p| !p.is_section && p.date.is_some())
            .collect();
        let notices_only: Vec<&Doc> = recent
            .iter()
            .copied()
            .filter(|p| p.meta.notice.is_some())
            .collect();
        if !notices_only.is_empty() {
            recent = notices_only;
        }
        recent.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.rel.cmp(&b.rel)));
        let recent: Vec<ListItem> = recent
            .iter()
            .take(10)
            .map(|p| list_item(p, &root))
            .collect();
        c.insert("recent", &recent);
        c.insert("forms", &form_links(ctx, &root));
        c.insert("manuals", &manual_links(ctx, &root, sizes));
        "index.html".to_string()
    } else if d.is_section {
        let pages: Vec<ListItem> = section_pages(ctx.site, d)
            .iter()
            .map(|p| list_item(p, &root))
            .collect();
        c.insert("pages", &pages);
        let dir = d.section_dir();
        let subs: Vec<_> = ctx
            .site
            .content
            .docs
            .iter()
            .filter(|s| s.is_section && s.parent_section() == dir)
            .map(|s| json!({"title": s.title(), "href": format!("{root}{}", s.output())}))
            .collect();
        c.insert("subsections", &subs);
        d.meta
            .template
            .clone()
            .unwrap_or_else(|| "section.html".into())
    } else if let Some(n) = &d.meta.notice {
        insert_notice(ctx, &mut c, d, n, &source, &root, sizes)?;
        d.meta
            .template
            .clone()
            .unwrap_or_else(|| "notice.html".into())
    } else {
        if let Some(date) = d.date {
            let mut meta: Vec<(&str, String)> =
                vec![("SiteName", ctx.site.config.site.title.clone())];
            if !ctx.site.config.site.domain.is_empty() {
                meta.push(("SiteDomain", ctx.site.config.site.domain.clone()));
            }
            meta.push(("ArticleTitle", d.title()));
            meta.push(("PubDate", date.format("%Y-%m-%d %H:%M").to_string()));
            meta.push(("ContentSource", ctx.site.config.site.title.clone()));
            if !description.is_empty() {
                meta.push(("Description", description.clone()));
            }
            c.insert("meta", &meta_list(&meta));
        }
        d.meta
            .template
            .clone()
            .unwrap_or_else(|| "page.html".into())
    };
    let html = ctx
        .site
        .theme
        .render_bytes(&template, &c)
        .map_err(|e| Problem::new(&source, None, e.to_string()))?;
    Ok((output, html.into()))
}

fn form_links(ctx: &Shared, root: &str) -> Vec<serde_json::Value> {
    ctx.site
        .forms
        .iter()
        .map(|f| {
            json!({
                "title": f.title,
                "annex": f.annex,
                "href": format!("{root}{}", form_page(f)),
                "xlsx": format!("{root}{}", form_xlsx(f)),
                "description": f.description,
            })
        })
        .collect()
}

fn manual_links(ctx: &Shared, root: &str, sizes: &Sizes) -> Vec<serde_json::Value> {
    ctx.site
        .manuals
        .iter()
        .map(|m| {
            json!({
                "title": m.title,
                "annex": m.annex,
                "audience": m.audience,
                "description": m.description,
                "href": format!("{root}{}index.html", m.out_dir()),
                "download": format!("{root}{}", m.download_output()),
                "download_size": format_size(sizes.manual.get(&m.id).copied().unwrap_or(0)),
            })
        })
        .collect()
}

fn insert_notice(
    ctx: &Shared,
    c: &mut tera::Context,
    d: &Doc,
    n: &Notice,
    source: &str,
    root: &str,
    sizes: &Sizes,
) -> Result<(), Problem> {
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
    let mut attachments = Vec::new();
    for (i, a) in n.attachments.iter().enumerate() {
        let number = i + 1;
        let item = if let Some(id) = &a.form {
            let f = ctx.site.forms.iter().find(|f| &f.id == id).ok_or_else(|| {
                Problem::new(
                    source,
                    None,
                    format!("attachment {number}: unknown form id {id:?}"),
                )
            })?;
            let xlsx = form_xlsx(f);
            json!({
                "number": number, "title": a.title, "kind": "form",
                "href": format!("{root}{}", form_page(f)),
                "downloads": [{
                    "label": "空白表格", "href": format!("{root}{xlsx}"), "format": "XLSX",
                    "size": format_size(sizes.files.get(&xlsx).copied().unwrap_or(0)),
                    "filename": format!("附件{number} {}.xlsx", a.title),
                }],
                "print": format!("{root}{}", form_print(f)),
            })
        } else if let Some(id) = &a.manual {
            let m = ctx
                .site
                .manuals
                .iter()
                .find(|m| &m.id == id)
                .ok_or_else(|| {
                    Problem::new(
                        source,
                        None,
                        format!("attachment {number}: unknown manual id {id:?}"),
                    )
                })?;
            json!({
                "number": number, "title": a.title, "kind": "manual",
                "href": format!("{root}{}index.html", m.out_dir()),
                "downloads": [{
                    "label": "离线版", "href": format!("{root}{}", m.download_output()), "format": "HTML",
                    "size": format_size(sizes.manual.get(&m.id).copied().unwrap_or(0)),
                    "filename": format!("附件{number} {}.html", a.title),
                }],
                "print": format!("{root}{}", m.print_output()),
            })
        } else {
            let file = a.file.clone().unwrap_or_default();
            let target = if let Some(abs) = file.strip_prefix('/') {
                ctx.index.lookup_url(abs)
            } else {
                links::join(links::dir_of(source), &file)
                    .and_then(|s| ctx.index.sources.get(&s).cloned())
            }
            .ok_or_else(|| {
                Problem::new(
                    source,
                    None,
                    format!("attachment {number}: file {file} does not exist"),
                )
            })?;
            let size = file_size(ctx.site, &target, source);
            let format = target.rsplit('.').next().unwrap_or("").to_ascii_uppercase();
            json!({
                "number": number, "title": a.title, "kind": "file",
                "href": format!("{root}{target}"),
                "downloads": [{
                    "label": "下载", "href": format!("{root}{target}"), "format": format,
                    "size": format_size(size), "filename": format!("附件{number} {}", a.title),
                }],
            })
        };
        attachments.push(item);
    }
    let keywords = n.keywords.join(" ");
    let description = d.meta.description.clone().unwrap_or_default();
    c.insert(
        "notice",
        &json!({
            "doc_number": n.doc_number,
            "issuer": n.issuer,
            "issuer_mark": n.issuer_mark.clone().unwrap_or_else(|| n.issuer.clone()),
            "recipients": n.recipients,
            "written": written.format("%Y-%m-%d").to_string(),
            "written_zh": date_zh(&written),
            "published": published.format("%Y-%m-%d").to_string(),
            "published_zh": date_zh(&published),
            "index_no": n.index_no,
            "category": n.category,
            "keywords": keywords,
            "contact": n.contact,
            "attachments": attachments,
        }),
    );
    let mut meta: Vec<(&str, String)> = vec![("SiteName", ctx.site.config.site.title.clone())];
    if !ctx.site.config.site.domain.is_empty() {
        meta.push(("SiteDomain", ctx.site.config.site.domain.clone()));
    }
    meta.push(("ArticleTitle", d.title()));
    meta.push(("PubDate", published.format("%Y-%m-%d %H:%M").to_string()));
    meta.push(("ContentSource", n.issuer.clone()));
    meta.push(("Keywords", keywords));
    meta.push(("Description", description));
    c.insert("meta", &meta_list(&meta));
    Ok(())
}

fn file_size(site: &Site, output: &str, _source: &str) -> usize {
    let candidates = [
        site.root.join("content").join(output),
        site.root.join("static").join(output),
    ];
    candidates
        .iter()
        .find_map(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len() as usize)
}

fn render_form(ctx: &Shared, f: &FormDef, sizes: &Sizes) -> Vec<Rendered> {
    let source = format!("content/forms/{}.toml", f.id);
    let epoch = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
    let view = f.view(&[], &forms::Errors::default(), epoch);
    let page_title = match f.annex {
        Some(n) => format!("附件{n} {}", f.title),
        None => f.title.clone(),
    };
    let intake = ctx.site.config.intake.url.trim_end_matches('/');
    let mut results = Vec::new();
    for (output, template) in [
        (form_page(f), "form.html"),
        (form_print(f), "form_print.html"),
    ] {
        let root = links::root_prefix(&output);
        let mut c = ctx.base(&output, &page_title, &f.description);
        c.insert("form", &view);
        let action = if intake.is_empty() {
            format!("/forms/{}", f.id)
        } else {
            format!("{intake}/forms/{}", f.id)
        };
        c.insert("action", &action);
        c.insert("xlsx_url", &format!("{root}{}", form_xlsx(f)));
        c.insert(
            "xlsx_size",
            &format_size(sizes.files.get(&form_xlsx(f)).copied().unwrap_or(0)),
        );
        c.insert("print_url", &format!("{root}{}", form_print(f)));
        c.insert("page_url", &format!("{root}{}", form_page(f)));
        results.push(
            ctx.render(template, &c, &source)
                .map(|html| (output, html.into_bytes().into())),
        );
    }
    results
}

/// Home page (when content has no `_index.md`), the forms and manuals lists,
/// 404, sitemap, feed and robots.txt.
fn render_extras(ctx: &Shared) -> Result<Outputs, Problem> {
    let site = ctx.site;
    let mut out = Outputs::new();
    if !site.content.docs.iter().any(|d| d.rel == "_index.md") {
        let root = "";
        let mut c = ctx.base(
            "index.html",
            &site.config.site.title,
            &site.config.site.description,
        );
        c.insert(
            "page",
            &json!({"title": site.config.site.title, "content": ""}),
        );
        c.insert(
            "section",
            &json!({"title": site.config.site.title, "content": ""}),
        );
        let mut recent: Vec<&Doc> = site
            .content
            .docs
            .iter()
            .filter(|p| !p.is_section && p.date.is_some())
            .collect();
        recent.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.rel.cmp(&b.rel)));
        let recent: Vec<ListItem> = recent.iter().take(10).map(|p| list_item(p, root)).collect();
        c.insert("recent", &recent);
        let sections: Vec<_> = site
            .content
            .docs
            .iter()
            .filter(|s| s.is_section && s.parent_section().is_empty())
            .map(|s| json!({"title": s.title(), "href": s.output(), "description": s.meta.description}))
            .collect();
        c.insert("sections", &sections);
        c.insert("forms", &form_links(ctx, root));
        let empty = Sizes {
            manual: HashMap::new(),
            files: HashMap::new(),
        };
        c.insert("manuals", &manual_links(ctx, root, &empty));
        out.insert(
            "index.html".into(),
            ctx.render("index.html", &c, "index.html")?
                .into_bytes()
                .into(),
        );
    }
    for (output, title, items) in [
        ("forms/index.html", "表格填报", form_links(ctx, "../")),
        (
            "manuals/index.html",
            "操作手册",
            manual_links(
                ctx,
                "../",
                &Sizes {
                    manual: HashMap::new(),
                    files: HashMap::new(),
                },
            ),
        ),
    ] {
        if items.is_empty() {
            continue;
        }
        let mut c = ctx.base(output, title, "");
        let pages: Vec<_> = items
            .iter()
            .map(|i| {
                let annex = i["annex"].as_u64().map(|n| format!("附件{n} ")).unwrap_or_default();
                json!({"title": format!("{annex}{}", i["title"].as_str().unwrap_or("")), "href": i["href"], "date": "", "date_zh": "", "description": i["description"], "doc_number": ""})
            })
            .collect();
        c.insert("section", &json!({"title": title, "content": ""}));
        c.insert("page", &json!({"title": title, "content": ""}));
        c.insert("pages", &pages);
        c.insert("subsections", &Vec::<String>::new());
        out.insert(
            output.into(),
            ctx.render("section.html", &c, output)?.into_bytes().into(),
        );
    }
    // 404 is served at any depth: its links are root-absolute.
    let root = if site.config.site.base_url.is_empty() {
        "/".to_string()
    } else {
        format!("{}/", site.config.site.base_url.trim_end_matches('/'))
    };
    let c = ctx.base_at("404.html", &root, "页面不存在", "");
    out.insert(
        "404.html".into(),
        ctx.render("404.html", &c, "404.html")?.into_bytes().into(),
    );
    out.insert(
        "sitemap.xml".into(),
        crate::feeds::sitemap(ctx.site, &|o| ctx.absolute(o))
            .into_bytes()
            .into(),
    );
    out.insert(
        "atom.xml".into(),
        crate::feeds::atom(ctx.site, &|o| ctx.absolute(o))
            .into_bytes()
            .into(),
    );
    out.insert(
        "robots.txt".into(),
        crate::feeds::robots(ctx.site).into_bytes().into(),
    );
    Ok(out)
}

/// Contents page, one page per chapter, the one-page print view and the
/// self-contained download of a manual.
fn render_manual(ctx: &Shared, m: &Manual) -> Result<ManualOutput, Vec<Problem>> {
    let root_dir = &ctx.site.root;
    let src = m.src_dir.to_string_lossy().replace('\\', "/");
    let mut problems = Vec::new();
    let mut uses = Vec::new();
    let mut out = Outputs::new();
    // Read every chapter once.
    let mut texts: Vec<Option<(String, String)>> = Vec::new();
    for c in &m.chapters {
        texts.push(match &c.path {
            Some(p) => {
                let source = format!("{src}/{p}");
                match std::fs::read_to_string(root_dir.join(&source)) {
                    Ok(t) => Some((source, t)),
                    Err(e) => {
                        problems.push(Problem::new(&source, None, e.to_string()));
                        None
                    }
                }
            }
            None => None,
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let pages: Vec<(usize, &str)> = m
        .chapters
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.path.as_deref().map(|p| (i, p)))
        .collect();
    let chapter_list = |root: &str, current: Option<&str>| -> Vec<serde_json::Value> {
        m.chapters
            .iter()
            .map(|c| {
                json!({
                    "title": c.title, "number": c.number, "depth": c.depth, "part": c.part,
                    "href": c.path.as_ref().map(|p| format!("{root}{}", m.chapter_output(p))),
                    "current": c.path.as_deref() == current && current.is_some(),
                })
            })
            .collect()
    };
    let manual_ctx = |root: &str| {
        json!({
            "id": m.id, "title": m.title, "annex": m.annex, "audience": m.audience,
            "description": m.description, "authors": m.authors,
            "index": format!("{root}{}index.html", m.out_dir()),
            "print": format!("{root}{}", m.print_output()),
            "download": format!("{root}{}", m.download_output()),
        })
    };
    // Chapter pages.
    for (k, &(i, path)) in pages.iter().enumerate() {
        let Some((source, text)) = &texts[i] else {
            continue;
        };
        let output = m.chapter_output(path);
        let root = links::root_prefix(&output);
        let links = DocLinks {
            index: ctx.index,
            source,
            output: &output,
            same_page: None,
            own_prefix: "",
            inline: None,
        };
        let r = markdown::render(text, 1, "", &links);
        problems.extend(
            r.problems
                .iter()
                .map(|(l, msg)| Problem::new(source, Some(*l), msg.clone())),
        );
        uses.extend(tag_links(r.links, source));
        let chapter = &m.chapters[i];
        let link = |j: usize| {
            let (ci, p) = pages[j];
            json!({"title": m.chapters[ci].title, "href": format!("{root}{}", m.chapter_output(p))})
        };
        let mut c = ctx.base(
            &output,
            &format!("{} - {}", chapter.title, m.title),
            &m.description,
        );
        c.insert("manual", &manual_ctx(&root));
        c.insert("chapters", &chapter_list(&root, Some(path)));
        c.insert(
            "chapter",
            &json!({"title": chapter.title, "number": chapter.number, "content": r.html, "toc": r.headings}),
        );
        c.insert("prev", &(k > 0).then(|| link(k - 1)));
        c.insert("next", &(k + 1 < pages.len()).then(|| link(k + 1)));
        match ctx.render("manual_chapter.html", &c, source) {
            Ok(html) => {
                out.insert(output, html.into_bytes().into());
            }
            Err(p) => problems.push(p),
        }
    }
    // Contents page.
    let index_out = format!("{}index.html", m.out_dir());
    let root = links::root_prefix(&index_out);
    let mut c = ctx.base(&index_out, &m.title, &m.description);
    c.insert("manual", &manual_ctx(&root));
    c.insert("chapters", &chapter_list(&root, None));
    // The print view and the download share one rendering of all chapters.
    let anchors: HashMap<String, String> = pages
        .iter()
        .map(|(_, p)| {
            (
                m.chapter_output(p),
                format!("{}--", Manual::chapter_anchor(p)),
            )
        })
        .collect();
    let mut inline_images: HashMap<String, String> = HashMap::new();
    for a in &m.assets {
        let path = root_dir.join(&m.src_dir).join(a);
        if let Ok(bytes) = std::fs::read(&path) {
            inline_images.insert(format!("{}{a}", m.out_dir()), data_uri(a, &bytes));
        }
    }
    let mut print_pages = Outputs::new();
    for (output, offline) in [(m.print_output(), false), (m.download_output(), true)] {
        let root = links::root_prefix(&output);
        let mut chapters = Vec::new();
        for &(i, path) in &pages {
            let Some((source, text)) = &texts[i] else {
                continue;
            };
            let prefix = format!("{}--", Manual::chapter_anchor(path));
            let links = DocLinks {
                index: ctx.index,
                source,
                output: &output,
                same_page: Some(&anchors),
                own_prefix: &prefix,
                inline: offline.then_some(&inline_images),
            };
            let r = markdown::render_shifted(text, 1, &prefix, 1, &links);
            if !offline {
                uses.extend(tag_links(r.links, source));
            }
            let ch = &m.chapters[i];
            chapters.push(json!({"anchor": Manual::chapter_anchor(path), "title": ch.title, "number": ch.number, "depth": ch.depth, "content": r.html}));
        }
        let mut c = ctx.base(&output, &m.title, &m.description);
        c.insert("manual", &manual_ctx(&root));
        c.insert("chapters", &chapters);
        c.insert("offline", &offline);
        if offline {
            let css: String = ["style.css", "print.css"]
                .iter()
                .filter_map(|n| ctx.site.theme.static_file(n))
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect::<Vec<_>>()
                .join("\n");
            c.insert("inline_css", &css);
        }
        match ctx.render(
            "manual_print.html",
            &c,
            &format!("manuals/{}/book.toml", m.id),
        ) {
            Ok(html) => {
                print_pages.insert(output, html.into_bytes().into());
            }
            Err(p) => problems.push(p),
        }
    }
    match ctx.render(
        "manual_index.html",
        &c,
        &format!("manuals/{}/book.toml", m.id),
    ) {
        Ok(html) => {
            out.insert(index_out, html.into_bytes().into());
        }
        Err(p) => problems.push(p),
    }
    out.extend(print_pages);
    if problems.is_empty() {
        Ok((out, uses))
    } else {
        Err(problems)
    }
}

fn data_uri(name: &str, bytes: &[u8]) -> String {
    let mime = match name
        .rsplit('.')
        .next()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        _ => "application/octet-stream",
    };
    use base64::Engine;
    format!(
        "data:{mime};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// Content assets, manual images and the site's `static/` folder.
fn copy_files(site: &Site, out: &mut Outputs) -> Result<(), Vec<Problem>> {
    let mut jobs: Vec<(PathBuf, String)> = Vec::new();
    for a in &site.content.assets {
        jobs.push((site.root.join("content").join(&a.rel), a.rel.clone()));
    }
    for m in &site.manuals {
        for a in &m.assets {
            jobs.push((
                site.root.join(&m.src_dir).join(a),
                format!("{}{a}", m.out_dir()),
            ));
        }
    }
    let mut files = Vec::new();
    walk_files(&site.root.join("static"), "", &mut files);
    for f in files {
        jobs.push((site.root.join("static").join(&f), f));
    }
    let read: Vec<Rendered> = jobs
        .into_par_iter()
        .map(|(from, to)| {
            std::fs::read(&from).map(|b| (to, b.into())).map_err(|e| {
                Problem::new(
                    from.strip_prefix(&site.root).unwrap_or(&from),
                    None,
                    e.to_string(),
                )
            })
        })
        .collect();
    let mut problems = Vec::new();
    for r in read {
        match r {
            Ok((to, b)) => {
                out.insert(to, b);
            }
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The `id`s of the HTML outputs: a full map, optionally overlaid by the
/// pages an incremental update re-rendered.
struct Ids<'a> {
    base: &'a HashMap<String, IdSet>,
    overlay: Option<&'a HashMap<String, IdSet>>,
}

impl Ids<'_> {
    fn get(&self, output: &str) -> Option<&IdSet> {
        self.overlay
            .and_then(|o| o.get(output))
            .or_else(|| self.base.get(output))
    }
}

/// The `id`s of every HTML output.
fn collect_ids<'a>(
    outputs: impl ParallelIterator<Item = (&'a String, &'a Arc<[u8]>)>,
) -> HashMap<String, IdSet> {
    outputs
        .filter(|(p, _)| p.ends_with(".html"))
        .map(|(p, b)| (p.clone(), crate::html::ids(b)))
        .collect()
}

/// Checks the anchors of Markdown links, reported at their source line.
fn check_uses<'a>(uses: impl Iterator<Item = (String, &'a LinkUse)>, ids: &Ids) -> Vec<Problem> {
    uses.filter_map(|(source, u)| {
        let anchor = u.anchor.as_ref()?;
        if !u.output.ends_with(".html") {
            return None;
        }
        let ok = ids.get(&u.output).is_some_and(|set| set.contains(anchor));

        (!ok).then(|| {
            Problem::new(
                source,
                Some(u.line),
                format!("broken anchor {}: {} has no #{anchor}", u.written, u.output),
            )
        })
    })
    .collect()
}

/// Checks every href/src in the given HTML outputs (template links included)
/// against all outputs.
fn check_html_links<'a>(
    pages: impl ParallelIterator<Item = (&'a String, &'a Arc<[u8]>)>,
    outputs: &Outputs,
    ids: &Ids,
) -> Vec<Problem> {
    pages
        .filter(|(p, _)| p.ends_with(".html") && p.as_str() != "404.html")
        .flat_map_iter(|(path, bytes)| {
            let mut found = Vec::new();
            for link in crate::html::links(bytes) {
                if links::is_external(&link) || link.starts_with("data:") {
                    continue;
                }
                let decoded: std::borrow::Cow<str> = if link.contains('%') {
                    links::percent_decode(&link).into()
                } else {
                    link.as_ref().into()
                };
                let (file, anchor) = match decoded.split_once('#') {
                    Some((f, a)) => (f, Some(a)),
                    None => (&*decoded, None),
                };
                if file.starts_with('/') {
                    continue; // root-absolute: the form action and the like; the server owns it
                }
                let target = if file.is_empty() {
                    Some(path.clone())
                } else {
                    links::join(links::dir_of(path), file)
                };
                let Some(target) = target else {
                    found.push(Problem::new(
                        path.as_str(),
                        None,
                        format!("link {link} climbs above the site root"),
                    ));
                    continue;
                };
                let target = if target.is_empty() || target.ends_with('/') {
                    format!("{target}index.html")
                } else {
                    target
                };
                if !outputs.contains_key(&target) {
                    found.push(Problem::new(
                        path.as_str(),
                        None,
                        format!("link {link} leads nowhere ({target} is not built)"),
                    ));
                } else if let Some(a) = anchor.filter(|a| !a.is_empty()) {
                    if target.ends_with(".html") && !ids.get(&target).is_some_and(|s| s.contains(a))
                    {
                        found.push(Problem::new(
                            path.as_str(),
                            None,
                            format!("link {link}: {target} has no #{a}"),
                        ));
                    }
                }
            }
            found
        })
        .collect()
}

impl Built {
    /// After `content/<rel>` was edited: re-renders that page and, when its
    /// title, date or description changed, the pages that list it (its
    /// section, the home page, the feeds). Returns the outputs rendered, or
    /// None when the change needs a full rebuild (a new, deleted or moved
    /// page, or a change to the navigation). On problems nothing changes.
    pub fn update_doc(
        &mut self,
        site: &mut Site,
        rel: &str,
    ) -> Result<Option<Vec<String>>, Vec<Problem>> {
        let Some(i) = site.content.docs.iter().position(|d| d.rel == rel) else {
            return Ok(None);
        };
        let fresh = match content::load_doc(&site.root.join("content"), rel.to_string()) {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(None), // became a draft
            Err(p) => return Err(vec![p]),
        };
        let old = &site.content.docs[i];
        if fresh.url != old.url || fresh.is_section != old.is_section {
            return Ok(None);
        }
        let listed = |d: &Doc| {
            (
                d.title(),
                d.date,
                d.meta.description.clone(),
                d.meta.weight,
                d.meta.sort_by.clone(),
                d.meta.notice.as_ref().map(|n| n.doc_number.clone()),
            )
        };
        let listing_changed = listed(&fresh) != listed(old);
        if listing_changed && fresh.is_section && fresh.parent_section().is_empty() {
            return Ok(None); // a top-level section: its title is in every page's navigation
        }
        let content_dir = site.root.join("content");
        let (body, doc_links, problems) = render_markdown(&self.index, &content_dir, &fresh);
        if !problems.is_empty() {
            return Err(problems);
        }
        let old_doc = std::mem::replace(&mut site.content.docs[i], fresh);
        let result = self.rerender(site, i, body, doc_links, listing_changed);
        if result.is_err() {
            site.content.docs[i] = old_doc;
        }
        result.map(Some)
    }

    fn rerender(
        &mut self,
        site: &Site,
        i: usize,
        body: Body,
        doc_links: Vec<LinkUse>,
        listing_changed: bool,
    ) -> Result<Vec<String>, Vec<Problem>> {
        let doc = &site.content.docs[i];
        let mut targets = vec![i];
        if listing_changed {
            let parent = doc.parent_section();
            targets.extend(
                site.content
                    .docs
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| {
                        d.is_section && (d.section_dir() == parent || d.rel == "_index.md")
                    })
                    .map(|(j, _)| j),
            );
        }
        let ctx = Shared::new(site, &self.index);
        let mut fresh: Vec<(String, Arc<[u8]>)> = Vec::new();
        let mut problems = Vec::new();
        for &j in &targets {
            let b = if j == i {
                Some(&body)
            } else {
                self.bodies.get(&j)
            };
            let Some(b) = b else { continue };
            match render_doc(&ctx, &site.content.docs[j], b, &self.sizes) {
                Ok(out) => fresh.push(out),
                Err(p) => problems.push(p),
            }
        }
        if listing_changed {
            match render_extras(&ctx) {
                Ok(extra) => fresh.extend(extra),
                Err(p) => problems.push(p),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        // Check against the site as it would be after this update (the set
        // of output paths stays the same; only these pages' ids change).
        let fresh_ids = collect_ids(fresh.par_iter().map(|(k, v)| (k, v)));
        let ids = Ids {
            base: &self.ids,
            overlay: Some(&fresh_ids),
        };
        let own_output = doc.output();
        let mine = doc_links.iter().map(|u| (doc.source_str(), u));
        // Links elsewhere into this page: its anchors may be gone.
        let into_it = site
            .content
            .docs
            .iter()
            .zip(&self.doc_links)
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, (d, links))| links.iter().map(move |u| (d.source_str(), u)))
            .chain(self.manual_links.iter().map(|(s, u)| (s.clone(), u)))
            .filter(|(_, u)| u.output == own_output);
        let mut problems = check_uses(mine.chain(into_it), &ids);
        if problems.is_empty() {
            problems = check_html_links(fresh.par_iter().map(|(k, v)| (k, v)), &self.outputs, &ids);
        }
        if !problems.is_empty() {
            problems.sort();
            problems.dedup();
            return Err(problems);
        }
        let rendered = fresh.iter().map(|(k, _)| k.clone()).collect();
        self.ids.extend(fresh_ids);
        self.outputs.extend(fresh);
        if site.content.docs[i].is_section {
            self.bodies.insert(i, body);
        }
        self.doc_links[i] = doc_links;
        Ok(rendered)
    }
}
