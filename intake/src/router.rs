//! The routes. This module depends on the service, the state and the
//! handlers; none of them depends on it.

use crate::response::finish;
use crate::service::Service;
use crate::state::Inner;
use crate::{admin, public};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use forms::paths;
use std::sync::Arc;

impl Service {
    /// `POST /forms/{id}`, `GET /forms/{id}` (a redirect to the form page),
    /// `GET /receipts/{token}`, `GET /healthz` and the `/admin` pages. Serve
    /// it with `into_make_service_with_connect_info::<SocketAddr>()` so the
    /// rate limit sees client addresses.
    pub fn router(&self) -> Router {
        with_layers(routes(), Arc::clone(&self.inner))
    }

    /// [`Service::router`] plus `/style.css`, `/print.css` and a Chinese 404
    /// page for everything else: what `gazette intake` serves on its own port.
    pub fn standalone_router(&self) -> Router {
        let routes = routes()
            .route("/style.css", get(public::stylesheet))
            .route("/print.css", get(public::stylesheet))
            .fallback(public::not_found);
        with_layers(routes, Arc::clone(&self.inner))
    }
}

fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route(
            paths::FORM_ROUTE,
            axum::routing::post(public::post_form).get(public::get_form),
        )
        .route(paths::RECEIPT_ROUTE, get(public::get_receipt))
        .route(public::RECEIPT_PDF_ROUTE, get(public::get_receipt_pdf))
        .route("/healthz", get(public::healthz))
        .route("/search", get(crate::search::search_page))
        .route("/search/", get(crate::search::search_page))
        .route("/search/index.html", get(crate::search::search_page))
        .merge(admin::routes())
}

fn with_layers(routes: Router<Arc<Inner>>, inner: Arc<Inner>) -> Router {
    routes
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&inner),
            finish,
        ))
        .layer(axum::middleware::map_response(common_headers))
        .with_state(inner)
}

/// The policy for every page the intake or `serve` sends: scripts only as
/// files from the site's own origin (no inline script anywhere; the
/// live-reload script of `serve` is a file too), inline styles allowed (the
/// receipt and admin pages carry a `<style>`, the rebuild-error banner a
/// `style` attribute: no script can run from them), no plugins, no
/// framing by other sites. Forms post to the site's own origin and to
/// `form_origin` (`[intake] url`, when the intake is elsewhere).
pub fn content_security_policy(form_origin: Option<&str>) -> String {
    let form_action = match form_origin.and_then(crate::limits::origin_of) {
        Some(o) => format!("'self' {o}"),
        None => "'self'".to_string(),
    };
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; object-src 'none'; base-uri 'self'; \
         form-action {form_action}; frame-ancestors 'self'"
    )
}

async fn common_headers(mut res: Response) -> Response {
    static CSP: std::sync::OnceLock<Option<HeaderValue>> = std::sync::OnceLock::new();
    let csp = CSP.get_or_init(|| HeaderValue::from_str(&content_security_policy(None)).ok());
    let h = res.headers_mut();
    if let Some(csp) = csp {
        h.entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(csp.clone());
    }
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("SAMEORIGIN"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt as _;

    /// A service on a fresh folder; `toml` is added to its gazette.toml and
    /// `templates` are theme overrides.
    fn service(toml: &str, templates: &[(&str, &str)]) -> (tempfile::TempDir, Service) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(
            root.join(config::FILE_NAME),
            format!("[mail]\ntransport = \"mail\"\n{toml}"),
        )
        .unwrap();
        std::fs::create_dir_all(root.join("templates")).unwrap();
        for (name, text) in templates {
            std::fs::write(root.join("templates").join(name), text).unwrap();
        }
        let service = Service::new(
            config::Config::load_with_env(root, vec![]).unwrap(),
            vec![],
            theme::Theme::load(root).unwrap(),
        )
        .unwrap();
        (dir, service)
    }

    async fn get(app: Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let res = app.oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (
            parts.status,
            parts.headers,
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    fn request(method: &str, uri: &str, accept: &str) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(uri)
            .header("accept", accept)
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn errors_render_as_pages_or_json() {
        let (_dir, s) = service("", &[]);
        let (status, headers, body) = get(
            s.router(),
            request("GET", "/receipts/nonsense", "text/html"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        assert!(body.contains("<h1>找不到这份回执</h1>"), "{body}");
        assert_eq!(headers["x-content-type-options"], "nosniff");

        let (status, headers, body) = get(
            s.router(),
            request("GET", "/receipts/nonsense", "application/json"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers["cache-control"], "no-store");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"], "找不到这份回执");
        assert_eq!(v["status"], 404);

        // The standalone router's fallback is the same kind of page.
        let (status, _, body) = get(
            s.standalone_router(),
            request("GET", "/nowhere", "text/html"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("页面不存在"), "{body}");
        s.shutdown().await;
    }

    #[tokio::test]
    async fn a_broken_template_falls_back_to_a_plain_page() {
        let (_dir, s) = service("", &[("message.html", "{{ no_such_variable }}")]);
        let (status, headers, body) = get(
            s.router(),
            request("GET", "/receipts/nonsense", "text/html"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "the status survives");
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        assert!(body.contains("<h1>找不到这份回执</h1>"), "{body}");
        assert!(!body.contains("状态码"), "not message.html: {body}");
        s.shutdown().await;
    }

    #[tokio::test]
    async fn admin_extractors_guard_every_page() {
        // Off: every admin URL is a 404 saying so.
        let (_dir, off) = service("", &[]);
        let (status, _, body) =
            get(off.router(), request("GET", "/admin/outbox", "text/html")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.contains("管理页面未启用"), "{body}");
        off.shutdown().await;

        let (_dir, on) = service("[admin]\npassword_hash = \"set\"\n", &[]);
        // No session: a GET goes to the login page and comes back after.
        let (status, headers, _) =
            get(on.router(), request("GET", "/admin/outbox", "text/html")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers["location"], "/admin/login?next=/admin/outbox");
        assert_eq!(headers["cache-control"], "no-store, private");
        assert_eq!(headers["x-frame-options"], "DENY");
        // ... a POST is refused, even before its CSRF token is looked at.
        let (status, _, body) = get(
            on.router(),
            Request::builder()
                .method("POST")
                .uri("/admin/outbox/retry")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from("csrf=x"))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("请先登录"), "{body}");
        // With a session but a wrong token: refused too.
        let (token, _) = on
            .inner
            .store
            .write(|db| crate::auth::sessions::create(db, crate::store::now_ms()))
            .await
            .unwrap();
        let (status, _, body) = get(
            on.router(),
            Request::builder()
                .method("POST")
                .uri("/admin/outbox/retry")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("cookie", format!("{}={token}", crate::auth::COOKIE))
                .body(Body::from("csrf=wrong"))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("页面已失效"), "{body}");
        // And with it, the page answers.
        let (status, _, body) = get(
            on.router(),
            Request::builder()
                .uri("/admin/outbox")
                .header("cookie", format!("{}={token}", crate::auth::COOKIE))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("通知发送情况"), "{body}");
        on.shutdown().await;
    }
}
