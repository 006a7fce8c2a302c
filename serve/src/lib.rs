//! `gazette serve`: builds the site into memory, serves it together with the
//! intake routes on one address, and rebuilds on every change under
//! `content/`, `manuals/`, `templates/`, `static/` and `gazette.toml`.
//!
//! A broken edit keeps the last good build on the air: the problems are
//! printed and shown in a banner on every page until the next good build.
//! Open pages reload themselves through server-sent events; the script that
//! listens is injected into HTML responses here, so built sites carry none.

mod published;
mod watch;

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use tokio::sync::watch as tokio_watch;
use tokio_stream::wrappers::WatchStream;
use tokio_stream::StreamExt as _;

pub struct Options {
    pub root: PathBuf,
    /// Overrides the port of `[intake] listen`.
    pub port: Option<u16>,
    pub open: bool,
    /// Serve a folder built by `gazette build` as it is, with none of the
    /// development parts: no build, no watcher, no reload script, no error
    /// banner. `Some(dir)`; the default folder is `[intake] site_dir`.
    pub production: Option<Option<PathBuf>>,
}

/// What is on the air: the last good build and, if the newest attempt
/// failed, why.
pub struct Snapshot {
    pub outputs: Arc<site::Outputs>,
    pub error: Option<String>,
}

#[derive(Clone)]
struct AppState {
    pages: Pages,
    /// Bumped after every rebuild, good or bad; open pages listen to it.
    version: tokio_watch::Receiver<u64>,
    /// `Content-Security-Policy` of every response without one.
    csp: HeaderValue,
}

/// Where the pages come from.
#[derive(Clone)]
enum Pages {
    /// Development: the watcher's last good build, in memory.
    Live(Arc<RwLock<Snapshot>>),
    /// Production: a folder written by `gazette build`, read per request,
    /// so a new `gazette build` goes on the air without a restart.
    Published(Arc<published::Folder>),
}

const EVENTS: &str = "/__gazette/events";
const RELOAD_JS: &str = "/__gazette/reload.js";

/// Keeps one connection open and reloads the page when the version changes.
/// EventSource is missing in old browsers; they simply don't reload.
const RELOAD_SCRIPT: &str = "(function(){if(!window.EventSource)return;var seen=null;var es=new EventSource('/__gazette/events');es.onmessage=function(e){if(seen===null){seen=e.data;}else if(e.data!==seen){location.reload();}};})();\n";

pub async fn run(opts: Options) -> anyhow::Result<()> {
    // Watcher events carry absolute paths.
    let root = opts
        .root
        .canonicalize()
        .with_context(|| format!("{}: no such folder", opts.root.display()))?;
    let service = intake::Service::open(&root)?;
    let mut listen = service.config().intake.listen;
    if let Some(p) = opts.port {
        listen.set_port(p);
    }
    let service = Arc::new(service);
    let (version_tx, version_rx) = tokio_watch::channel(0u64);
    let (pages, rebuilder) = match &opts.production {
        Some(dir) => {
            let dir = match dir {
                Some(d) => d.clone(),
                None => service.config().resolve(&service.config().intake.site_dir),
            };
            let folder = published::Folder::open(&dir)?;
            // `GET /search` reads the folder's index, and again after each
            // `gazette build` into it.
            service.search_from(folder.dir().to_path_buf());
            drop(version_tx);
            (Pages::Published(Arc::new(folder)), None)
        }
        None => {
            let (first, incremental) = watch::first_build(&root);
            service.set_search_index(search_index(&first.outputs));
            let snapshot = Arc::new(RwLock::new(first));
            let rebuilder = watch::start(
                root.clone(),
                incremental,
                snapshot.clone(),
                version_tx,
                service.clone(),
            )?;
            (Pages::Live(snapshot), Some(rebuilder))
        }
    };
    service.start_outbox()?;
    // The office mailbox, as `gazette intake` reads it.
    let mailbox = service.start_mailbox()?;
    let csp = intake::content_security_policy(Some(&service.config().intake.url));
    let what = match &pages {
        Pages::Live(_) => format!("watching {}", root.display()),
        Pages::Published(folder) => format!("production, pages from {}", folder.dir().display()),
    };
    let state = AppState {
        pages,
        version: version_rx,
        csp: HeaderValue::from_str(&csp)?,
    };
    let app = app(service.router(), state);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (set --port or [intake] listen)"))?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}/");
    println!("gazette serve: http://{addr}/ (site and forms); {what}");
    if opts.open {
        if let Err(e) = open::that_detached(&url) {
            tracing::warn!("could not open a browser: {e}");
        }
    }
    let limits = intake::listen::Limits::from_config(&service.config().intake);
    intake::listen::serve(listener, app, limits, async move {
        intake::shutdown_signal().await;
        tracing::info!("stopping");
        // Ending the rebuild thread drops the version sender, which ends
        // every open event stream; without that, an open page would keep
        // the graceful shutdown waiting forever.
        if let Some(rebuilder) = rebuilder {
            let _ = tokio::task::spawn_blocking(move || rebuilder.stop()).await;
        }
    })
    .await?;
    mailbox.stop().await;
    match Arc::try_unwrap(service) {
        Ok(service) => service.shutdown().await,
        Err(_) => tracing::warn!("the intake is still in use; the outbox was not drained"),
    }
    Ok(())
}

async fn events(
    State(state): State<AppState>,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let stream =
        WatchStream::new(state.version.clone()).map(|v| Ok(Event::default().data(v.to_string())));
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn reload_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        RELOAD_SCRIPT,
    )
        .into_response()
}

/// Builds the whole application: the site's built outputs come first for
/// GET and HEAD, so an intake route such as `GET /forms/{id}` (a redirect to
/// the static form page) cannot shadow a page such as `forms/index.html`;
/// everything else goes to the intake, and what the intake does not know
/// falls back to the site's 404 page.
fn app(intake: Router, state: AppState) -> Router {
    let mut site_routes = Router::new();
    if matches!(state.pages, Pages::Live(_)) {
        site_routes = site_routes
            .route(EVENTS, get(events))
            .route(RELOAD_JS, get(reload_js));
    }
    let site_routes: Router = site_routes.fallback(static_file).with_state(state.clone());
    intake
        .merge(site_routes)
        .layer(middleware::from_fn_with_state(state, site_first))
}

async fn site_first(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = site_or_intake(&state, req, next).await;
    // Static pages get what the intake's own pages get.
    let h = res.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(state.csp.clone());
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("SAMEORIGIN"));
    res
}

async fn site_or_intake(state: &AppState, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) && !is_search_query(req.uri()) {
        let path = req.uri().path().to_owned();
        let local = is_local(&req);
        if let Some(response) = from_site(state, &path, req.headers(), local).await {
            return response;
        }
    }
    next.run(req).await
}

/// A query to the search page: answered by the intake on the server, so
/// that it works without JavaScript (the static page answers in the browser).
fn is_search_query(uri: &axum::http::Uri) -> bool {
    matches!(uri.path(), "/search" | "/search/" | "/search/index.html")
        && uri
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("q=")))
}

/// The search index in a build's outputs, for the intake's `GET /search`.
pub(crate) fn search_index(outputs: &site::Outputs) -> Option<Arc<search::Index>> {
    let text = |p: &str| {
        outputs
            .get(p)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    };
    match search::Index::from_files(text) {
        Ok(index) => Some(Arc::new(index)),
        Err(e) => {
            tracing::warn!("search: {e}");
            None
        }
    }
}

/// The last good build and, for a request from this machine, the newest
/// error: build errors name files and folders, which visitors from
/// elsewhere have no business reading (they see the last good pages).
fn on_air(snapshot: &RwLock<Snapshot>, local: bool) -> (Arc<site::Outputs>, Option<String>) {
    let snap = match snapshot.read() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    (snap.outputs.clone(), snap.error.clone().filter(|_| local))
}

/// Whether the request comes from this machine (the person editing the
/// site). Without connection info: no.
fn is_local<B>(req: &axum::http::Request<B>) -> bool {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback())
}

/// A built file, or a redirect to a built folder; None if the site has
/// neither (or the path is not a site path at all).
/// Takes the request's parts, not the request: its body is not `Sync`,
/// so no borrow of it may live across an await.
async fn from_site(
    state: &AppState,
    path: &str,
    headers: &axum::http::HeaderMap,
    local: bool,
) -> Option<Response> {
    match &state.pages {
        Pages::Live(snapshot) => from_memory(snapshot, path, local),
        Pages::Published(folder) => folder.respond(path, headers).await,
    }
}

fn from_memory(snapshot: &RwLock<Snapshot>, path: &str, local: bool) -> Option<Response> {
    let rel = decode_path(path)?;
    let (outputs, error) = on_air(snapshot, local);
    let key = if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.clone()
    };
    if let Some(bytes) = outputs.get(&key) {
        return Some(respond(&key, bytes, error.as_deref(), StatusCode::OK));
    }
    if !rel.is_empty() && !rel.ends_with('/') && outputs.contains_key(&format!("{rel}/index.html"))
    {
        // 301 rather than 308: old browsers know it.
        return Some(
            (
                StatusCode::MOVED_PERMANENTLY,
                [(header::LOCATION, format!("{path}/"))],
            )
                .into_response(),
        );
    }
    None
}

async fn static_file(State(state): State<AppState>, req: Request) -> Response {
    // Static paths are read-only: PUT, DELETE, TRACE and the like get 405.
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "405 Method Not Allowed\n",
        )
            .into_response();
    }
    if decode_path(req.uri().path()).is_none() {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let path = req.uri().path().to_owned();
    let local = is_local(&req);
    if let Some(response) = from_site(&state, &path, req.headers(), local).await {
        return response;
    }
    let snapshot = match &state.pages {
        Pages::Live(snapshot) => snapshot,
        Pages::Published(folder) => return folder.not_found().await,
    };
    let (outputs, error) = on_air(snapshot, local);
    match outputs.get("404.html") {
        Some(bytes) => respond("404.html", bytes, error.as_deref(), StatusCode::NOT_FOUND),
        // Nothing built yet (the first build failed): why, only to this
        // machine; to others a page that names no file.
        None if outputs.is_empty() => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            match error {
                Some(e) => format!("gazette：网站未能构建。\n\n{e}"),
                None => "网站暂时无法访问，请稍后再试。\n".into(),
            },
        )
            .into_response(),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            error.unwrap_or_else(|| "not found".into()),
        )
            .into_response(),
    }
}

/// `/forms/a%20b/` → `forms/a b/`; None if it tries to leave the site.
pub(crate) fn decode_path(path: &str) -> Option<String> {
    let trimmed = path.trim_start_matches('/');
    let bytes = trimmed.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let s = String::from_utf8(out).ok()?;
    if s.split('/').any(|seg| seg == "..") {
        return None;
    }
    Some(s)
}

fn respond(key: &str, bytes: &[u8], error: Option<&str>, status: StatusCode) -> Response {
    let mime = mime_guess::from_path(key).first_or_octet_stream();
    let response = if mime.essence_str() == "text/html" {
        let html = String::from_utf8_lossy(bytes);
        (status, inject(&html, error)).into_response()
    } else {
        (status, bytes.to_vec()).into_response()
    };
    with_type(key, response)
}

/// `Content-Type` (UTF-8 for text) and `Cache-Control: no-cache`.
pub(crate) fn with_type(key: &str, mut response: Response) -> Response {
    let mime = mime_guess::from_path(key).first_or_octet_stream();
    let content_type = if mime.type_() == "text"
        || mime.essence_str() == "image/svg+xml"
        || mime.essence_str() == "application/xml"
    {
        format!("{}; charset=utf-8", mime.essence_str())
    } else {
        mime.essence_str().to_string()
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Adds the reload script and, after a failed rebuild, the error banner.
fn inject(html: &str, error: Option<&str>) -> String {
    let mut extra = String::new();
    if let Some(e) = error {
        extra.push_str("<div role=\"alert\" style=\"position:fixed;left:0;right:0;bottom:0;max-height:50vh;overflow:auto;z-index:9999;background:#b10e1e;color:#fff;font:15px/1.5 monospace;padding:12px 16px;white-space:pre-wrap\"><strong>gazette：最近一次修改未能构建，正在显示上一次成功的版本。</strong>\n");
        extra.push_str(&html_escape::encode_text(e));
        extra.push_str("</div>");
    }
    extra.push_str("<script src=\"");
    extra.push_str(RELOAD_JS);
    extra.push_str("\"></script>");
    match html.rfind("</body>") {
        Some(i) => format!("{}{extra}{}", &html[..i], &html[i..]),
        None => format!("{html}{extra}"),
    }
}

/// The root a watcher event belongs to, for messages.
pub(crate) fn relative<'a>(root: &Path, p: &'a Path) -> std::borrow::Cow<'a, str> {
    match p.strip_prefix(root) {
        Ok(r) => r.to_string_lossy(),
        Err(_) => p.to_string_lossy(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_decoded_and_kept_inside() {
        assert_eq!(
            decode_path("/forms/departments/").as_deref(),
            Some("forms/departments/")
        );
        assert_eq!(decode_path("/a%20b").as_deref(), Some("a b"));
        assert_eq!(decode_path("/%E6%93%8D.html").as_deref(), Some("操.html"));
        assert_eq!(decode_path("/../etc/passwd"), None);
        assert_eq!(decode_path("/a/%2e%2e/b"), None);
    }

    /// A failed first build: why, to this machine only; visitors from
    /// elsewhere get a page that names no file (issue 17, defect 7).
    #[tokio::test]
    async fn a_failed_first_build_tells_its_paths_only_to_this_machine() {
        use http_body_util::BodyExt as _;
        use tower::ServiceExt as _;
        let (_tx, version) = tokio_watch::channel(0u64);
        let state = AppState {
            pages: Pages::Live(Arc::new(RwLock::new(Snapshot {
                outputs: Arc::new(site::Outputs::new()),
                error: Some("/srv/site/content/leak.txt: a symbolic link to /etc/passwd".into()),
            }))),
            version,
            csp: HeaderValue::from_static("default-src 'self'"),
        };
        let app = app(Router::new(), state);
        for (peer, shown) in [
            (None, false),
            (Some("203.0.113.5:4000"), false),
            (Some("127.0.0.1:4000"), true),
        ] {
            let mut req = Request::builder()
                .uri("/no/such/page/")
                .body(axum::body::Body::empty())
                .unwrap();
            if let Some(p) = peer {
                let addr: std::net::SocketAddr = p.parse().unwrap();
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(addr));
            }
            let res = app.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{peer:?}");
            let body = res.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8_lossy(&body);
            assert_eq!(body.contains("leak.txt"), shown, "{peer:?}: {body}");
        }
    }

    #[test]
    fn the_script_and_banner_go_before_the_end_of_body() {
        let out = inject(
            "<html><body><p>x</p></body></html>",
            Some("content/a.md:3: <bad>"),
        );
        assert!(
            out.ends_with("<script src=\"/__gazette/reload.js\"></script></body></html>"),
            "{out}"
        );
        assert!(out.contains("content/a.md:3: &lt;bad&gt;"));
        assert!(!inject("<body></body>", None).contains("role=\"alert\""));
    }

    /// A site with the forms index and one form page, and an intake that,
    /// like the real one, redirects `GET /forms/{id}` and takes POSTs there.
    fn test_app() -> Router {
        let mut outputs = site::Outputs::new();
        for key in [
            "index.html",
            "forms/index.html",
            "forms/departments/index.html",
            "404.html",
        ] {
            let html = format!("<html><body>{key}</body></html>");
            outputs.insert(key.to_string(), Arc::from(html.into_bytes()));
        }
        let (_tx, version) = tokio_watch::channel(0u64);
        let state = AppState {
            pages: Pages::Live(Arc::new(RwLock::new(Snapshot {
                outputs: Arc::new(outputs),
                error: None,
            }))),
            version,
            csp: HeaderValue::from_static("default-src 'self'"),
        };
        let intake = Router::new().route(
            "/forms/{id}",
            get(|| async { axum::response::Redirect::permanent("/elsewhere/") })
                .post(|| async { (StatusCode::SEE_OTHER, "intake took it") }),
        );
        app(intake, state)
    }

    async fn call(method: Method, uri: &str) -> (StatusCode, Option<String>, String) {
        use http_body_util::BodyExt as _;
        use tower::ServiceExt as _;
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(axum::body::Body::empty())
            .unwrap();
        let res = test_app().oneshot(req).await.unwrap();
        let status = res.status();
        let location = res
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string());
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            location,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    #[tokio::test]
    async fn built_pages_come_before_the_intake_routes() {
        let (status, _, body) = call(Method::GET, "/forms/index.html").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("forms/index.html"), "{body}");
        assert!(
            body.contains(RELOAD_JS),
            "the reload script is injected: {body}"
        );

        let (status, _, body) = call(Method::GET, "/forms/departments/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("forms/departments/index.html"), "{body}");

        let (status, location, _) = call(Method::GET, "/forms/departments").await;
        assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
        assert_eq!(location.as_deref(), Some("/forms/departments/"));

        let (status, _, _) = call(Method::HEAD, "/forms/index.html").await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn everything_else_reaches_the_intake_or_the_404_page() {
        let (status, _, body) = call(Method::POST, "/forms/departments").await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(body, "intake took it");

        // A form the site does not have: the intake's own answer.
        let (status, location, _) = call(Method::GET, "/forms/unknown").await;
        assert_eq!(status, StatusCode::PERMANENT_REDIRECT);
        assert_eq!(location.as_deref(), Some("/elsewhere/"));

        let (status, _, body) = call(Method::GET, "/no/such/page.html").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("404.html"), "{body}");
    }
}
