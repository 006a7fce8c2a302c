//! How every intake answer is made. Handlers return a [`Page`] (a theme
//! template and its context), an [`Error`] (a message page, or JSON for
//! clients that ask for it), a [`redirect`] or [`json`]; [`finish`], the
//! layer around every route, renders pages and errors with the theme and
//! the site settings, with one fallback when a template fails, and adds the
//! admin pages' headers.

use crate::state::Inner;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use std::convert::Infallible;
use std::sync::Arc;

/// Everything but the unreserved characters of RFC 3986.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// The same, keeping `/`: a path as a query value.
const PATH: &AsciiSet = &SEGMENT.remove(b'/');

/// Percent-encodes one path segment (or a `filename*` value).
pub(crate) fn pct(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Percent-encodes a path, keeping its slashes.
pub(crate) fn pct_path(s: &str) -> String {
    utf8_percent_encode(s, PATH).to_string()
}

/// What the client asked for: JSON when `Accept` names it (and not HTML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Html,
    Json,
}

impl Format {
    pub(crate) fn of(headers: &HeaderMap) -> Format {
        let json = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"));
        if json {
            Format::Json
        } else {
            Format::Html
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Format {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Format, Infallible> {
        Ok(Format::of(&parts.headers))
    }
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Link {
    pub(crate) href: String,
    pub(crate) text: String,
}

impl Link {
    pub(crate) fn new(href: impl Into<String>, text: impl Into<String>) -> Link {
        Link {
            href: href.into(),
            text: text.into(),
        }
    }
}

/// A page from a theme template; [`finish`] renders it.
#[derive(Clone)]
pub(crate) struct Page {
    status: StatusCode,
    template: &'static str,
    title: String,
    context: tera::Context,
}

impl Page {
    pub(crate) fn new(template: &'static str, title: impl Into<String>) -> Page {
        Page {
            status: StatusCode::OK,
            template,
            title: title.into(),
            context: tera::Context::new(),
        }
    }

    pub(crate) fn status(mut self, status: StatusCode) -> Page {
        self.status = status;
        self
    }

    pub(crate) fn with<T: Serialize + ?Sized>(mut self, key: &str, value: &T) -> Page {
        self.context.insert(key, value);
        self
    }

    /// Every field of `view` as a top-level variable.
    pub(crate) fn with_all<T: Serialize>(mut self, view: &T) -> Page {
        match tera::Context::from_serialize(view) {
            Ok(c) => self.context.extend(c),
            Err(e) => tracing::error!("{}: context: {e}", self.template),
        }
        self
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        res.extensions_mut().insert(self);
        res
    }
}

/// What went wrong, said to people: `message.html` with a heading, a
/// message, details (such as the offline route) and links; or
/// `{"status", "error", "message", "details"}` for JSON clients. Handlers
/// return `Result<_, Error>` and use `?`.
#[derive(Debug)]
pub(crate) struct Error(Box<Message>);

/// An [`Error`]'s content, carried to [`finish`] in the response.
#[derive(Debug, Clone)]
struct Message {
    status: StatusCode,
    heading: String,
    message: String,
    details: Vec<String>,
    links: Vec<Link>,
    json: Option<serde_json::Value>,
    retry_after: Option<u64>,
}

impl Error {
    pub(crate) fn new(status: StatusCode, heading: &str, message: impl Into<String>) -> Error {
        Error(Box::new(Message {
            status,
            heading: heading.to_string(),
            message: message.into(),
            details: Vec::new(),
            links: Vec::new(),
            json: None,
            retry_after: None,
        }))
    }

    pub(crate) fn details(mut self, details: Vec<String>) -> Error {
        self.0.details = details;
        self
    }

    pub(crate) fn link(mut self, href: impl Into<String>, text: impl Into<String>) -> Error {
        self.0.links.push(Link::new(href, text));
        self
    }

    /// The JSON body instead of the usual one.
    pub(crate) fn json(mut self, body: serde_json::Value) -> Error {
        self.0.json = Some(body);
        self
    }

    pub(crate) fn retry_after(mut self, secs: u64) -> Error {
        self.0.retry_after = Some(secs);
        self
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut res = self.0.status.into_response();
        if let Some(secs) = self.0.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res.extensions_mut().insert(*self.0);
        res
    }
}

/// The database could not be read or written (details go to the log).
impl From<crate::store::StoreError> for Error {
    fn from(e: crate::store::StoreError) -> Error {
        tracing::error!("database: {e}");
        Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "暂时无法读取数据",
            "数据库暂时无法访问，请稍后刷新页面。",
        )
    }
}

/// A redirect with a tiny page for clients that do not follow it.
pub(crate) fn redirect(status: StatusCode, location: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>正在跳转</title><p><a href=\"{0}\">{0}</a></p></html>",
        theme::escape_html(location)
    );
    let mut res = (status, html_headers(), body).into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// A JSON answer, never cached.
pub(crate) fn json(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(value),
    )
        .into_response()
}

fn html_headers() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
    ]
}

fn is_admin(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// The layer around every intake route: renders the [`Page`] or [`Error`]
/// a handler answered with, and marks admin answers private.
pub(crate) async fn finish(State(inner): State<Arc<Inner>>, req: Request, next: Next) -> Response {
    let format = Format::of(req.headers());
    let admin = is_admin(req.uri().path());
    let mut res = next.run(req).await;
    if let Some(error) = res.extensions_mut().remove::<Message>() {
        res = if format == Format::Json && !admin {
            let body = error.json.clone().unwrap_or_else(|| {
                serde_json::json!({
                    "status": error.status.as_u16(),
                    "error": error.heading,
                    "message": error.message,
                    "details": error.details,
                })
            });
            let mut out = json(error.status, body);
            out.headers_mut().extend(res.headers().clone());
            out
        } else {
            let page = Page::new("message.html", error.heading.clone())
                .status(error.status)
                .with("status", &error.status.as_u16())
                .with("heading", &error.heading)
                .with("message", &error.message)
                .with("details", &error.details)
                .with("links", &error.links);
            render(&inner, page, admin, res)
        };
    } else if let Some(page) = res.extensions_mut().remove::<Page>() {
        res = render(&inner, page, admin, res);
    }
    if admin {
        let h = res.headers_mut();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, private"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            "x-robots-tag",
            HeaderValue::from_static("noindex, nofollow"),
        );
    }
    res
}

/// One entry of the site's main navigation (`header.html`'s `nav`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct NavItem {
    pub(crate) title: String,
    pub(crate) output: String,
}

/// The site's main navigation as `gazette build` makes it (see
/// site/src/render/context.rs), so the intake's pages (the 422 form, the
/// receipt, the closed form, messages) carry the same header: 首页, the
/// top-level sections of `content/` (a folder with an `_index.md`, by
/// `weight` then name), 表格填报 when there are forms, 操作手册 when
/// `manuals/` holds a book. A section whose front matter cannot be read is
/// left out (the build reports it).
pub(crate) fn site_nav(root: &std::path::Path, has_forms: bool) -> Vec<NavItem> {
    let mut sections: Vec<(i64, String, String)> = Vec::new();
    if let Ok(dirs) = std::fs::read_dir(root.join("content")) {
        for entry in dirs.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(text) = std::fs::read_to_string(entry.path().join("_index.md")) else {
                continue;
            };
            let Some(meta) = front_matter(&text) else {
                continue;
            };
            let title = meta
                .get("title")
                .and_then(|t| t.as_str())
                .unwrap_or_default();
            let weight = meta.get("weight").and_then(|w| w.as_integer()).unwrap_or(0);
            sections.push((weight, name.clone(), title.to_string()));
        }
    }
    sections.sort();
    let mut nav = vec![NavItem {
        title: "首页".into(),
        output: "index.html".into(),
    }];
    nav.extend(sections.into_iter().map(|(_, dir, title)| NavItem {
        title,
        output: format!("{dir}/index.html"),
    }));
    if has_forms {
        nav.push(NavItem {
            title: "表格填报".into(),
            output: forms::paths::FORMS_INDEX.into(),
        });
    }
    let has_manuals = std::fs::read_dir(root.join("manuals"))
        .map(|dirs| dirs.flatten().any(|d| d.path().join("book.toml").is_file()))
        .unwrap_or(false);
    if has_manuals {
        nav.push(NavItem {
            title: "操作手册".into(),
            output: "manuals/index.html".into(),
        });
    }
    nav
}

/// The TOML front matter between `+++` lines.
fn front_matter(text: &str) -> Option<toml::Table> {
    let rest = text.trim_start_matches('\u{feff}').strip_prefix("+++")?;
    let end = rest.find("\n+++")?;
    rest[..end].parse().ok()
}

/// `page` with the variables every template has, in the headers and status
/// of `res`. A template that fails gives a plain page with the heading and
/// message (when there are any) and the error in the log.
fn render(inner: &Inner, page: Page, admin: bool, res: Response) -> Response {
    let mut ctx = tera::Context::new();
    ctx.insert("site", &inner.config.site);
    ctx.insert("office", &inner.config.office);
    ctx.insert("root", "/");
    ctx.insert("page_title", &page.title);
    if admin {
        ctx.insert("nav", &Vec::<String>::new());
    } else {
        ctx.insert("nav", &*inner.nav());
        ctx.insert("current", "");
    }
    ctx.extend(page.context);
    let (mut parts, _) = res.into_parts();
    let html = match inner.theme().render(page.template, &ctx) {
        Ok(html) => html,
        Err(e) => {
            tracing::error!("rendering {}: {e}", page.template);
            if parts.status.is_success() {
                parts.status = StatusCode::INTERNAL_SERVER_ERROR;
            }
            let text = |key: &str, default: &'static str| {
                ctx.get(key)
                    .and_then(|v| v.as_str())
                    .unwrap_or(default)
                    .to_string()
            };
            format!(
                "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{0}</title></head><body><h1>{0}</h1><p>{1}</p></body></html>",
                theme::escape_html(&text("heading", "页面暂时无法显示")),
                theme::escape_html(&text(
                    "message",
                    "页面模板出错，请稍后再试，或与联系人联系。"
                ))
            )
        }
    };
    for (k, v) in html_headers() {
        parts
            .headers
            .entry(k)
            .or_insert(HeaderValue::from_static(v));
    }
    Response::from_parts(parts, Body::from(html))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        m
    }

    #[test]
    fn json_is_chosen_by_accept() {
        assert_eq!(
            Format::of(&h(&[(header::ACCEPT, "application/json")])),
            Format::Json
        );
        assert_eq!(
            Format::of(&h(&[(
                header::ACCEPT,
                "text/html,application/xhtml+xml,application/json;q=0.9"
            )])),
            Format::Html
        );
        assert_eq!(Format::of(&HeaderMap::new()), Format::Html);
    }

    #[test]
    fn the_site_navigation_is_read_from_content_and_manuals() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write("content/_index.md", "+++\ntitle = \"首页\"\n+++\n");
        write(
            "content/notices/_index.md",
            "+++\ntitle = \"通知公告\"\nweight = 2\n+++\n",
        );
        write(
            "content/guide/_index.md",
            "+++\ntitle = \"办事指南\"\nweight = 2\n+++\n",
        );
        write(
            "content/about/_index.md",
            "+++\ntitle = \"关于\"\nweight = 1\n[extra]\na = 1\n+++\n",
        );
        write("content/files/a.pdf", "%PDF");
        write("content/broken/_index.md", "+++\ntitle = \n+++\n");
        let titles = |nav: Vec<NavItem>| {
            nav.into_iter()
                .map(|n| format!("{} {}", n.title, n.output))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            titles(site_nav(dir.path(), false)),
            [
                "首页 index.html",
                "关于 about/index.html",
                "办事指南 guide/index.html",
                "通知公告 notices/index.html",
            ]
        );
        write("manuals/a/book.toml", "[book]\n");
        let nav = titles(site_nav(dir.path(), true));
        assert_eq!(
            nav[4..],
            ["表格填报 forms/index.html", "操作手册 manuals/index.html"]
        );
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(pct("departments"), "departments");
        assert_eq!(pct("a b/c"), "a%20b%2Fc");
        assert_eq!(pct("市"), "%E5%B8%82");
        assert_eq!(pct_path("/admin/forms/a b"), "/admin/forms/a%20b");
    }
}
