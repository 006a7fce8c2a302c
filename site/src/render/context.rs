//! What every template gets: the shared context, the header and footer
//! rendered once per folder depth, and the small view models lists use.

use super::index::{form_page, form_xlsx};
use super::links::{self, Index};
use super::views::{FormLink, ListItem, ManualLink, MetaTag, NavItem};
use crate::model::content::Doc;
use crate::model::Site;
use crate::problem::Problem;
use chrono::{Datelike, NaiveDateTime};
use forms::paths::{format_size, FORMS_INDEX};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// What every page's context shares.
pub(super) struct Shared<'a> {
    pub(super) site: &'a Site,
    /// The top-level sections, in navigation order.
    pub(super) sections: Vec<&'a Doc>,
    pub(super) index: &'a Index,
    pub(super) instructions: Vec<String>,
    /// `site`, `office` and `meta`: what every page's context starts from.
    pub(super) base_vars: serde_json::Map<String, serde_json::Value>,
    /// The main navigation, for `header.html`.
    pub(super) nav: Vec<NavItem>,
    pub(super) nav_outputs: HashSet<String>,
    /// Header and footer by (root, current page if it is in the navigation).
    /// They are the same on every page at one folder depth, and rendering
    /// the navigation on each of 10,000 pages was most of the template time.
    pub(super) chrome: Mutex<HashMap<(String, String), Arc<Chrome>>>,
    /// The PDFs made, by output path, with their sizes (set by the `pdfs` step).
    pub(super) pdf_sizes: std::sync::OnceLock<HashMap<String, usize>>,
    /// Time spent making the search index, over all threads.
    pub(super) search_spent: super::search::Spent,
}

/// A link to a PDF the build made, as pages show it.
#[derive(serde::Serialize)]
pub(super) struct PdfLink {
    pub(super) href: String,
    pub(super) size: String,
    pub(super) filename: String,
}

/// `header.html` and `footer.html`, rendered.
pub(super) struct Chrome {
    pub(super) header: String,
    pub(super) footer: String,
}

impl<'a> Shared<'a> {
    pub(super) fn new(site: &'a Site, index: &'a Index) -> Self {
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
            nav.push(("表格填报".into(), FORMS_INDEX.into()));
        }
        if !site.manuals.is_empty() {
            nav.push(("操作手册".into(), "manuals/index.html".into()));
        }
        let instructions = site.config.office.return_instructions();
        let mut base_vars = serde_json::Map::new();
        base_vars.insert("site".into(), to_value(&site.config.site));
        base_vars.insert("office".into(), to_value(&site.config.office));
        // atom.xml exists only with a base_url (see `extras::render_feeds`).
        base_vars.insert(
            "feeds".into(),
            (!site.config.site.base_url.is_empty()).into(),
        );
        let mut meta = vec![("SiteName", site.config.site.title.clone())];
        if !site.config.site.domain.is_empty() {
            meta.push(("SiteDomain", site.config.site.domain.clone()));
        }
        base_vars.insert("meta".into(), to_value(&meta_list(&meta)));
        let nav_outputs = nav.iter().map(|(_, o)| o.clone()).collect();
        let nav = nav
            .into_iter()
            .map(|(title, output)| NavItem { title, output })
            .collect();
        Shared {
            site,
            sections,
            index,
            instructions,
            base_vars,
            nav,
            nav_outputs,
            chrome: Default::default(),
            pdf_sizes: Default::default(),
            search_spent: Default::default(),
        }
    }

    /// The context every template gets, for a page written at `output`.
    pub(super) fn base(&self, output: &str, title: &str, description: &str) -> tera::Context {
        self.base_at(output, &links::root_prefix(output), title, description)
    }

    /// As [`Shared::base`], with links from the page starting with `root`.
    pub(super) fn base_at(
        &self,
        output: &str,
        root: &str,
        title: &str,
        description: &str,
    ) -> tera::Context {
        let mut vars = self.base_vars.clone();
        if let Some(chrome) = self.chrome(root, output) {
            vars.insert("header".into(), chrome.header.as_str().into());
            vars.insert("footer".into(), chrome.footer.as_str().into());
        }
        vars.insert("root".into(), root.into());
        vars.insert("current".into(), output.into());
        vars.insert("page_title".into(), title.into());
        vars.insert("description".into(), description.into());
        vars.insert("canonical".into(), self.absolute(output).into());
        // Government-site page metadata (国办发〔2017〕47号): the site's
        // code and the page's column, on every page.
        let site = &self.site.config.site;
        let (column, column_type) = self.column_of(output);
        let mut column_meta = Vec::new();
        if !site.site_code.is_empty() {
            column_meta.push(("SiteIDCode", site.site_code.clone()));
        }
        column_meta.push(("ColumnName", column));
        column_meta.push(("ColumnType", column_type));
        vars.insert("column_meta".into(), to_value(&meta_list(&column_meta)));
        // Open Graph, so a link shared in a chat app shows a title.
        let og_title = if title.is_empty() {
            site.title.as_str()
        } else {
            title
        };
        let og_description = if description.is_empty() {
            site.description.as_str()
        } else {
            description
        };
        vars.insert("og_title".into(), og_title.into());
        vars.insert("og_description".into(), og_description.into());
        tera::Context::from_value(serde_json::Value::Object(vars)).unwrap_or_default()
    }

    /// The column (栏目) a page belongs to and its type, for the
    /// `ColumnName`/`ColumnType` meta tags: the top-level section it is
    /// under (its `[extra] column_type`, default 信息发布), or the
    /// generated lists.
    pub(super) fn column_of(&self, output: &str) -> (String, String) {
        let fixed = |name: &str, kind: &str| (name.to_string(), kind.to_string());
        let first = output.split('/').next().unwrap_or("");
        match first {
            "index.html" => return fixed("首页", "首页"),
            "forms" => return fixed("表格填报", "政务服务"),
            "manuals" => return fixed("操作手册", "文件下载"),
            "search" => return fixed("站内搜索", "站内搜索"),
            "sitemap" => return fixed("网站地图", "网站地图"),
            _ => {}
        }
        let section = self
            .sections
            .iter()
            .find(|d| d.url.split('/').next() == Some(first) && !first.is_empty());
        match section {
            Some(d) => {
                let kind = d
                    .meta
                    .extra
                    .get("column_type")
                    .and_then(|v| v.as_str())
                    .unwrap_or("信息发布");
                (d.title(), kind.to_string())
            }
            None => (self.site.config.site.title.clone(), "其他".into()),
        }
    }

    /// Header and footer for a page at `root`, rendered on first use. None if
    /// they fail to render: `base.html` then includes them itself, and the
    /// page's own render reports the template problem.
    pub(super) fn chrome(&self, root: &str, output: &str) -> Option<Arc<Chrome>> {
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

    /// The link to the PDF at `output` from a page at `root`, if it was made
    /// (its size from `sizes`, or else from the `pdfs` step).
    pub(super) fn pdf_link(
        &self,
        output: &str,
        root: &str,
        filename: String,
        sizes: Option<&Sizes>,
    ) -> Option<PdfLink> {
        let size = match sizes.and_then(|s| s.files.get(output)) {
            Some(n) => *n,
            None => *self.pdf_sizes.get()?.get(output)?,
        };
        Some(PdfLink {
            href: format!("{root}{output}"),
            size: format_size(size),
            filename,
        })
    }

    pub(super) fn lock_chrome(&self) -> MutexGuard<'_, HashMap<(String, String), Arc<Chrome>>> {
        // A panic elsewhere cannot leave the cache half-written: insert is one call.
        self.chrome.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Absolute URL of an output when `base_url` is set.
    pub(super) fn absolute(&self, output: &str) -> Option<String> {
        let base = &self.site.config.site.base_url;
        if base.is_empty() {
            return None;
        }
        let pretty = output.strip_suffix("index.html").unwrap_or(output);
        Some(format!("{}/{}", base.trim_end_matches('/'), pretty))
    }

    pub(super) fn render(
        &self,
        template: &str,
        ctx: &tera::Context,
        file: &str,
    ) -> Result<String, Problem> {
        self.site
            .theme
            .render(template, ctx)
            .map_err(|e| Problem::new(file, None, e.to_string()))
    }
}

pub(super) fn meta_list<'a>(pairs: &'a [(&'a str, String)]) -> Vec<MetaTag<'a>> {
    pairs
        .iter()
        .map(|(name, content)| MetaTag { name, content })
        .collect()
}

/// A value for the template context; what the model holds always serialises.
fn to_value(v: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

pub(super) fn date_zh(d: &NaiveDateTime) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

pub(super) struct Sizes {
    pub(super) manual: HashMap<String, usize>,
    pub(super) files: HashMap<String, usize>,
}

pub(super) fn list_item(d: &Doc, root: &str) -> ListItem {
    ListItem {
        title: d.title(),
        href: format!("{root}{}", d.output()),
        date: d
            .date
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        date_zh: d.date.as_ref().map(date_zh).unwrap_or_default(),
        date_unconfirmed: d
            .meta
            .notice
            .as_ref()
            .is_some_and(|n| n.is_unconfirmed("published")),
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
pub(super) fn section_pages<'a>(site: &'a Site, section: &Doc) -> Vec<&'a Doc> {
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

impl Sizes {
    /// No sizes known (the generated lists, which show none).
    pub(super) fn none() -> Sizes {
        Sizes {
            manual: HashMap::new(),
            files: HashMap::new(),
        }
    }

    /// The size of a manual's offline download, as people read it.
    pub(super) fn manual(&self, id: &str) -> String {
        format_size(self.manual.get(id).copied().unwrap_or(0))
    }

    /// The size of a made file (a blank spreadsheet), as people read it.
    pub(super) fn file(&self, output: &str) -> String {
        format_size(self.files.get(output).copied().unwrap_or(0))
    }
}

/// The forms, as the home page and 表格填报 list them.
pub(super) fn form_links<'a>(ctx: &Shared<'a>, root: &str) -> Vec<FormLink<'a>> {
    ctx.site
        .forms
        .iter()
        .map(|f| FormLink {
            title: &f.title,
            annex: f.annex,
            href: format!("{root}{}", form_page(f)),
            xlsx: format!("{root}{}", form_xlsx(f)),
            description: &f.description,
        })
        .collect()
}

/// The manuals, as the home page and 操作手册 list them.
pub(super) fn manual_links<'a>(ctx: &Shared<'a>, root: &str, sizes: &Sizes) -> Vec<ManualLink<'a>> {
    ctx.site
        .manuals
        .iter()
        .map(|m| ManualLink {
            title: &m.title,
            annex: m.annex,
            audience: &m.audience,
            description: &m.description,
            href: format!("{root}{}index.html", m.out_dir()),
            download: format!("{root}{}", m.download_output()),
            download_size: sizes.manual(&m.id),
        })
        .collect()
}
