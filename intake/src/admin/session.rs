//! Who is asking: the session cookie, and the extractors every admin
//! handler takes instead of checking for itself.

use super::{disabled, enabled};
use crate::auth::{self, COOKIE};
use crate::public::{read_body, BodyError};
use crate::response::{pct_path, redirect, Error};
use crate::state::Inner;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// A logged-in admin. As an extractor: a 404 when the pages are off; else,
/// without a live session, GETs go to the login page and other methods get
/// a 403.
pub(crate) struct Admin {
    pub(crate) csrf: String,
    /// The session cookie's token (logout drops it).
    pub(crate) token: String,
    /// Whether the cookie is `Secure` (the client came over HTTPS).
    pub(crate) secure: bool,
}

impl FromRequestParts<Arc<Inner>> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, inner: &Arc<Inner>) -> Result<Admin, Response> {
        if !enabled(inner) {
            return Err(disabled().into_response());
        }
        match session(inner, &parts.headers).await {
            Ok(Some(admin)) => return Ok(admin),
            Ok(None) => {}
            Err(e) => return Err(e.into_response()),
        }
        if parts.method == Method::GET || parts.method == Method::HEAD {
            let here = parts.uri.path();
            let next = if here.starts_with("/admin/") && here != "/admin/" {
                format!("?next={}", pct_path(here))
            } else {
                String::new()
            };
            return Err(redirect(
                StatusCode::SEE_OTHER,
                &format!("/admin/login{next}"),
            ));
        }
        Err(login_first().into_response())
    }
}

/// A logged-in admin's POST: the session, a same-site origin and the
/// session's CSRF token are checked before the handler runs.
pub(crate) struct AdminForm {
    pub(crate) admin: Admin,
    pub(crate) pairs: Vec<(String, String)>,
}

impl AdminForm {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        field(&self.pairs, name)
    }
}

impl FromRequest<Arc<Inner>> for AdminForm {
    type Rejection = Response;

    async fn from_request(req: Request, inner: &Arc<Inner>) -> Result<AdminForm, Response> {
        if !enabled(inner) {
            return Err(disabled().into_response());
        }
        let (parts, body) = req.into_parts();
        let pairs = read_pairs(body)
            .await
            .map_err(IntoResponse::into_response)?;
        let Some(admin) = session(inner, &parts.headers)
            .await
            .map_err(IntoResponse::into_response)?
        else {
            return Err(login_first().into_response());
        };
        let csrf_ok = field(&pairs, "csrf").is_some_and(|t| auth::same_secret(t, &admin.csrf));
        if inner.origins.check(&parts.headers).is_err() || !csrf_ok {
            return Err(Error::new(
                StatusCode::FORBIDDEN,
                "页面已失效",
                "操作没有执行：请求不是从本站当前的管理页面发出的。请返回管理页面，刷新后重新操作。",
            )
            .link("/admin/", "返回管理页面")
            .into_response());
        }
        Ok(AdminForm { admin, pairs })
    }
}

fn login_first() -> Error {
    Error::new(
        StatusCode::FORBIDDEN,
        "请先登录",
        "登录已过期或尚未登录，操作没有执行。请重新登录后再试。",
    )
    .link("/admin/login", "登录管理页面")
}

/// A urlencoded body (strict UTF-8) as pairs.
pub(crate) async fn read_pairs(body: axum::body::Body) -> Result<Vec<(String, String)>, Error> {
    let back = |e: Error| e.link("/admin/", "返回管理页面");
    let bytes = read_body(body).await.map_err(|e| match e {
        BodyError::TooLarge | BodyError::Broken => back(Error::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "提交的内容过多",
            "提交的内容超过上限，操作没有执行。",
        )),
    })?;
    crate::body::decode(&bytes).map_err(|_| {
        back(Error::new(
            StatusCode::BAD_REQUEST,
            "无法识别提交的内容",
            "提交的内容不是有效的 UTF-8 表单数据，操作没有执行。",
        ))
    })
}

pub(crate) fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The value of the request's cookie `name`.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_string())
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, COOKIE)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The live session the request's cookie names, if any (looked up in the
/// database, so a session made at another node counts).
pub(crate) async fn session(inner: &Inner, headers: &HeaderMap) -> Result<Option<Admin>, Error> {
    let Some(token) = cookie_token(headers) else {
        return Ok(None);
    };
    let now = crate::store::now_ms();
    let t = token.clone();
    let Some((csrf, stale)) = inner
        .store
        .read(move |db| auth::sessions::find(db, &t, now))
        .await?
    else {
        return Ok(None);
    };
    if stale {
        let t = token.clone();
        inner
            .store
            .write(move |db| auth::sessions::seen(db, &t, now))
            .await?;
    }
    Ok(Some(Admin {
        csrf,
        token,
        secure: is_https(inner, headers),
    }))
}

/// Behind HTTPS (as the proxy says, or as `[intake] url` says) the cookie is `Secure`.
pub(crate) fn is_https(inner: &Inner, headers: &HeaderMap) -> bool {
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("proto=https"));
    proto
        || forwarded
        || inner
            .config
            .intake
            .url
            .trim()
            .to_ascii_lowercase()
            .starts_with("https://")
}

pub(crate) fn cookie(value: &str, secure: bool, clear: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict{}{}",
        if clear { "; Max-Age=0" } else { "" },
        if secure { "; Secure" } else { "" }
    )
}

/// The device cookie a browser gets at login (see `auth::LoginThrottle`):
/// long-lived, sent only to the admin pages.
pub(crate) fn device_cookie(value: &str, secure: bool) -> String {
    format!(
        "{}={value}; Path=/admin; Max-Age={}; HttpOnly; SameSite=Strict{}",
        auth::DEVICE_COOKIE,
        auth::DEVICE_LIFETIME.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The client's address (behind a trusted proxy, the one it forwards: see
/// `listen`).
pub(crate) fn client_ip(parts: &Parts) -> IpAddr {
    // Without connection info (an embedding that did not ask for it) all
    // clients share one record: stricter, never looser.
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Where to go after login: only an admin page of this site.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/admin/")
                && !n.contains("//")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_string()
        }
        _ => "/admin/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn next_stays_on_admin_pages() {
        assert_eq!(safe_next(Some("/admin/outbox")), "/admin/outbox");
        assert_eq!(safe_next(Some("https://evil.example/")), "/admin/");
        assert_eq!(safe_next(Some("/admin//evil.example")), "/admin/");
        assert_eq!(safe_next(Some("/admin/\\evil")), "/admin/");
        assert_eq!(safe_next(None), "/admin/");
    }

    #[test]
    fn cookie_is_strict_and_secure_behind_https() {
        let c = cookie("ab", true, false);
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/admin")
        );
        assert!(c.ends_with("; Secure"));
        assert!(!cookie("ab", false, false).contains("Secure"));
        assert!(cookie("", false, true).contains("Max-Age=0"));
    }

    #[test]
    fn cookie_token_is_read_and_checked() {
        let tok = "a".repeat(64);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("x=1; {COOKIE}={tok}; y=2")).unwrap(),
        );
        assert_eq!(cookie_token(&h), Some(tok));
        let mut bad = HeaderMap::new();
        bad.insert(
            header::COOKIE,
            HeaderValue::from_static("gazette_admin=../../etc"),
        );
        assert_eq!(cookie_token(&bad), None);
    }
}
