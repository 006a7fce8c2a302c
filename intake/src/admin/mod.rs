//! The admin pages under `/admin`: login with the `[admin] password_hash`
//! password, the returns of each form with their processing state, a detail
//! page per return with its audit trail, the outbox, and the 一览表 download.
//!
//! Nothing here answers without a session: GETs redirect to the login page,
//! POSTs are refused with 403. With no hash configured every admin URL is a
//! 404 saying the pages are off. Sessions live in memory (a restart logs
//! everybody out); every POST carries the session's CSRF token, and the
//! cookie is `SameSite=Strict` on top of that.

// Guards return `Err(page)`: the response to send instead, made at most
// once per request, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod db;

use crate::service::{answer_rows, cst_text, Inner};
use crate::status::{Delivery, Processing};
use auth::{LoginThrottle, Sessions, COOKIE};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use auth::hash_password;

/// In-memory admin state kept in the service.
#[derive(Default)]
pub struct AdminState {
    pub sessions: Sessions,
    pub throttle: LoginThrottle,
}

/// The `/admin` routes, merged into the intake's router.
pub fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/admin", get(index))
        .route("/admin/", get(index))
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/forms/{id}", get(form_list))
        .route("/admin/forms/{id}/export.xlsx", get(export_xlsx))
        .route("/admin/forms/{id}/export.csv", get(export_csv))
        .route("/admin/returns/{reference}", get(detail))
        .route("/admin/returns/{reference}/setup", post(mark_setup))
        .route("/admin/returns/{reference}/feedback", post(mark_feedback))
        .route("/admin/outbox", get(outbox_page))
        .route("/admin/outbox/retry", post(retry_all))
        .route("/admin/outbox/{id}/retry", post(retry_one))
}

/// A logged-in request.
struct Auth {
    csrf: String,
}

fn enabled(inner: &Inner) -> bool {
    !inner.config.admin.password_hash.trim().is_empty()
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn session(inner: &Inner, headers: &HeaderMap) -> Option<Auth> {
    let token = cookie_token(headers)?;
    let csrf = inner.admin.sessions.touch(&token, Instant::now())?;
    Some(Auth { csrf })
}

/// For GET pages: the session, or the response to send instead (404 when
/// the pages are off, a redirect to the login page otherwise).
fn require(inner: &Inner, headers: &HeaderMap, here: &str) -> Result<Auth, Response> {
    if !enabled(inner) {
        return Err(disabled(inner));
    }
    session(inner, headers).ok_or_else(|| {
        let next = if here.starts_with("/admin/") && here != "/admin/" {
            format!("?next={}", pct(here))
        } else {
            String::new()
        };
        redirect(&format!("/admin/login{next}"))
    })
}

/// For POSTs: a session, a same-site origin and the session's CSRF token.
fn require_post(
    inner: &Inner,
    headers: &HeaderMap,
    pairs: &[(String, String)],
) -> Result<Auth, Response> {
    if !enabled(inner) {
        return Err(disabled(inner));
    }
    let Some(auth) = session(inner, headers) else {
        return Err(message(
            inner,
            StatusCode::FORBIDDEN,
            "请先登录",
            "登录已过期或尚未登录，操作没有执行。请重新登录后再试。",
            Some(("/admin/login", "登录管理页面")),
        ));
    };
    if inner.origins.check(headers).is_err() || !csrf_ok(&auth, pairs) {
        return Err(message(
            inner,
            StatusCode::FORBIDDEN,
            "页面已失效",
            "操作没有执行：请求不是从本站当前的管理页面发出的。请返回管理页面，刷新后重新操作。",
            Some(("/admin/", "返回管理页面")),
        ));
    }
    Ok(auth)
}

fn csrf_ok(auth: &Auth, pairs: &[(String, String)]) -> bool {
    field(pairs, "csrf").is_some_and(|t| auth::same_secret(t, &auth.csrf))
}

fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Behind HTTPS (as the proxy says, or as `[intake] url` says) the cookie is `Secure`.
fn is_https(inner: &Inner, headers: &HeaderMap) -> bool {
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

fn cookie(value: &str, secure: bool, clear: bool) -> String {
    format!(
        "{COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict{}{}",
        if clear { "; Max-Age=0" } else { "" },
        if secure { "; Secure" } else { "" }
    )
}

fn client_ip(req: &Request) -> IpAddr {
    // Without connection info (an embedding that did not ask for it) all
    // clients share one record: stricter, never looser.
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Percent-encodes everything but unreserved characters and `/`.
fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where to go after login: only an admin page of this site.
fn safe_next(next: Option<&str>) -> String {
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

fn admin_headers(res: &mut Response) {
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

fn redirect(location: &str) -> Response {
    let mut res = (
        StatusCode::SEE_OTHER,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!DOCTYPE html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>正在跳转</title><p><a href=\"{0}\">{0}</a></p></html>",
            crate::mail::esc(location)
        ),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    admin_headers(&mut res);
    res
}

fn context(inner: &Inner, page_title: &str, auth: Option<&Auth>) -> tera::Context {
    let mut ctx = tera::Context::new();
    ctx.insert("site", &inner.config.site);
    ctx.insert("office", &inner.config.office);
    ctx.insert("root", "/");
    ctx.insert("page_title", page_title);
    ctx.insert("nav", &Vec::<String>::new());
    if let Some(a) = auth {
        ctx.insert("csrf", &a.csrf);
    }
    ctx
}

fn render(inner: &Inner, status: StatusCode, template: &str, ctx: &tera::Context) -> Response {
    let mut res = match inner.theme().render(template, ctx) {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(e) => {
            tracing::error!("rendering {template}: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>页面暂时无法显示</title></head><body><h1>页面暂时无法显示</h1><p>管理页面模板出错，请查看服务日志。</p></body></html>",
            )
                .into_response()
        }
    };
    admin_headers(&mut res);
    res
}

fn message(
    inner: &Inner,
    status: StatusCode,
    heading: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let mut ctx = context(inner, heading, None);
    ctx.insert("status", &status.as_u16());
    ctx.insert("heading", heading);
    ctx.insert("message", text);
    ctx.insert("details", &Vec::<String>::new());
    let links: Vec<_> = link
        .map(|(href, text)| json!({"href": href, "text": text}))
        .into_iter()
        .collect();
    ctx.insert("links", &links);
    render(inner, status, "message.html", &ctx)
}

fn disabled(inner: &Inner) -> Response {
    message(
        inner,
        StatusCode::NOT_FOUND,
        "管理页面未启用",
        "本服务没有设置管理密码，管理页面未启用。管理员可运行 gazette admin hash-password 生成密码散列值，写入 gazette.toml 的 [admin] password_hash（或环境变量 GAZETTE_ADMIN_PASSWORD_HASH）后重新启动服务。",
        None,
    )
}

fn unavailable(inner: &Inner, e: impl std::fmt::Display) -> Response {
    tracing::error!("admin: {e}");
    message(
        inner,
        StatusCode::SERVICE_UNAVAILABLE,
        "暂时无法读取数据",
        "数据库暂时无法访问，请稍后刷新页面。",
        None,
    )
}

fn not_found(inner: &Inner, what: &str) -> Response {
    message(
        inner,
        StatusCode::NOT_FOUND,
        "找不到",
        &format!("找不到{what}。"),
        Some(("/admin/", "返回管理页面")),
    )
}

/// Reads a urlencoded body (strict UTF-8) into pairs; `Err` is a 400 page.
fn pairs_of(inner: &Inner, body: &[u8]) -> Result<Vec<(String, String)>, Response> {
    crate::body::decode(body).map_err(|_| {
        message(
            inner,
            StatusCode::BAD_REQUEST,
            "无法识别提交的内容",
            "提交的内容不是有效的 UTF-8 表单数据，操作没有执行。",
            Some(("/admin/", "返回管理页面")),
        )
    })
}

/// A logged-in admin's POST: its headers and form fields, once the session,
/// the origin and the CSRF token are checked.
struct Posted {
    headers: HeaderMap,
    pairs: Vec<(String, String)>,
    auth: Auth,
}

async fn posted(inner: &Inner, req: Request) -> Result<Posted, Response> {
    let headers = req.headers().clone();
    let pairs = read_body(inner, req).await?;
    let auth = require_post(inner, &headers, &pairs)?;
    Ok(Posted {
        headers,
        pairs,
        auth,
    })
}

async fn read_body(inner: &Inner, req: Request) -> Result<Vec<(String, String)>, Response> {
    match axum::body::to_bytes(req.into_body(), crate::body::MAX_BODY).await {
        Ok(b) => pairs_of(inner, &b),
        Err(_) => Err(message(
            inner,
            StatusCode::PAYLOAD_TOO_LARGE,
            "提交的内容过多",
            "提交的内容超过上限，操作没有执行。",
            Some(("/admin/", "返回管理页面")),
        )),
    }
}

// ---------------------------------------------------------------- login

struct LoginView<'a> {
    status: StatusCode,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    next: &'a str,
}

fn login_form(inner: &Inner, v: LoginView<'_>) -> Response {
    let title = if v.error.is_some() {
        "错误：管理登录"
    } else {
        "管理登录"
    };
    let mut ctx = context(inner, title, None);
    ctx.insert("error", &v.error);
    ctx.insert("notice", &v.notice);
    ctx.insert("next", v.next);
    render(inner, v.status, "admin_login.html", &ctx)
}

async fn login_page(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if !enabled(&inner) {
        return disabled(&inner);
    }
    let next = safe_next(q.get("next").map(String::as_str));
    if session(&inner, &headers).is_some() {
        return redirect(&next);
    }
    let notice = q.contains_key("out").then_some("您已退出管理页面。");
    login_form(
        &inner,
        LoginView {
            status: StatusCode::OK,
            error: None,
            notice,
            next: &next,
        },
    )
}

async fn login(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    if !enabled(&inner) {
        return disabled(&inner);
    }
    let headers = req.headers().clone();
    if inner.origins.check(&headers).is_err() {
        return message(
            &inner,
            StatusCode::FORBIDDEN,
            "不接收来自其他网站的登录",
            "请从本站的管理登录页面登录。",
            Some(("/admin/login", "打开管理登录页面")),
        );
    }
    let ip = client_ip(&req);
    // A client that gave too many wrong passwords waits before any check.
    if let Err(wait) = inner.admin.throttle.check(ip, Instant::now()) {
        return throttled(&inner, wait, "/admin/");
    }
    let pairs = match read_body(&inner, req).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let next = safe_next(field(&pairs, "next"));
    let password = field(&pairs, "password").unwrap_or("").to_string();
    if password.is_empty() {
        return login_form(
            &inner,
            LoginView {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                error: Some("请输入管理密码。"),
                notice: None,
                next: &next,
            },
        );
    }
    let hash = inner.config.admin.password_hash.clone();
    if !auth::hash_is_valid(&hash) {
        tracing::error!("[admin.password_hash] is not an argon2 PHC string: nobody can log in");
        return message(
            &inner,
            StatusCode::INTERNAL_SERVER_ERROR,
            "管理密码设置有误",
            "gazette.toml 中 [admin] password_hash 的格式不正确，无法登录。请用 gazette admin hash-password 重新生成后重启服务。",
            None,
        );
    }
    // argon2 is slow by design: off the async threads.
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let now = Instant::now();
    let from = ip.to_string();
    let record = inner
        .writer
        .apply(Arc::new(move |conn| {
            db::record_login(conn, crate::store::now_ms(), &from, ok)
        }))
        .await;
    if let Err(e) = record {
        // The login itself does not depend on its record being written.
        tracing::error!("admin: cannot record the login from {ip}: {e}");
    }
    if !ok {
        inner.admin.throttle.failed(ip, now);
        tracing::warn!("admin: wrong password from {ip}");
        return login_form(
            &inner,
            LoginView {
                status: StatusCode::FORBIDDEN,
                error: Some("密码不正确，请重新输入。连续输错 5 次后需等待一段时间才能再试。"),
                notice: None,
                next: &next,
            },
        );
    }
    inner.admin.throttle.succeeded(ip);
    let (token, _) = inner.admin.sessions.create(now);
    tracing::info!("admin: login from {ip}");
    let mut res = redirect(&next);
    if let Ok(v) = HeaderValue::from_str(&cookie(&token, is_https(&inner, &headers), false)) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

fn throttled(inner: &Inner, wait: Duration, next: &str) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let text = format!("密码连续输错次数过多，请在 {secs} 秒后再试。");
    let mut res = login_form(
        inner,
        LoginView {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: Some(&text),
            notice: None,
            next,
        },
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

async fn logout(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let headers = match posted(&inner, req).await {
        Ok(p) => p.headers,
        Err(res) => return res,
    };
    if let Some(token) = cookie_token(&headers) {
        inner.admin.sessions.remove(&token);
    }
    let mut res = redirect("/admin/login?out=1");
    if let Ok(v) = HeaderValue::from_str(&cookie("", is_https(&inner, &headers), true)) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

// ---------------------------------------------------------------- pages

/// Form ids in annex order (then by id).
fn sorted_forms(inner: &Inner) -> Vec<Arc<forms::FormDef>> {
    let mut v: Vec<_> = inner.forms().values().cloned().collect();
    v.sort_by(|a, b| (a.annex, &a.id).cmp(&(b.annex, &b.id)));
    v
}

async fn index(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let auth = match require(&inner, &headers, "/admin/") {
        Ok(a) => a,
        Err(res) => return res,
    };
    let read = inner
        .readers
        .run(|c| {
            Ok((
                db::counts(c)?,
                crate::store::outbox_rows(c)?,
                db::recent_logins(c, 10)?,
            ))
        })
        .await;
    let (counts, outbox, logins) = match read {
        Ok(v) => v,
        Err(e) => return unavailable(&inner, e),
    };
    let forms: Vec<_> = sorted_forms(&inner)
        .iter()
        .map(|d| {
            let c = counts.get(&d.id).cloned().unwrap_or_default();
            json!({
                "id": d.id, "title": d.title, "annex": d.annex,
                "href": format!("/admin/forms/{}", pct(&d.id)), "counts": c,
            })
        })
        .collect();
    let failed = outbox
        .iter()
        .filter(|r| r.status == Delivery::Failed)
        .count();
    let mut ctx = context(&inner, "管理页面", Some(&auth));
    ctx.insert("forms", &forms);
    ctx.insert("failed", &failed);
    ctx.insert("pending", &(outbox.len() - failed));
    ctx.insert("logins", &logins);
    render(&inner, StatusCode::OK, "admin_index.html", &ctx)
}

async fn form_list(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let auth = match require(&inner, &headers, &format!("/admin/forms/{}", pct(&id))) {
        Ok(a) => a,
        Err(res) => return res,
    };
    let forms = inner.forms();
    let Some(def) = forms.get(&id).cloned() else {
        return not_found(&inner, &format!("表格“{id}”"));
    };
    let status = q.get("status").and_then(|s| Processing::from_query(s));
    let form_id = id.clone();
    let rows = match inner
        .readers
        .run(move |c| db::list(c, &form_id, status))
        .await
    {
        Ok(r) => r,
        Err(e) => return unavailable(&inner, e),
    };
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            let channels: Vec<_> = r
                .channels
                .iter()
                .map(|c| {
                    json!({
                        "name": c.channel.label(),
                        "state": c.status.label(),
                        "status": c.status,
                    })
                })
                .collect();
            json!({
                "reference": r.reference,
                "href": format!("/admin/returns/{}", pct(&r.reference)),
                "unit": r.unit,
                "received": cst_text(r.received_at),
                "late": r.late,
                "status": r.status.label(),
                "channels": channels,
            })
        })
        .collect();
    let mut ctx = context(&inner, &format!("{}：报送情况", def.title), Some(&auth));
    ctx.insert(
        "form",
        &json!({"id": def.id, "title": def.title, "annex": def.annex}),
    );
    ctx.insert("rows", &rows);
    // The filter speaks in labels, as the select's options do.
    ctx.insert("status", &status.map(Processing::label));
    let labels: Vec<_> = Processing::ALL.iter().map(|p| p.label()).collect();
    ctx.insert("statuses", &labels);
    let base = format!("/admin/forms/{}", pct(&def.id));
    ctx.insert("xlsx_href", &format!("{base}/export.xlsx"));
    ctx.insert("csv_href", &format!("{base}/export.csv"));
    ctx.insert("list_href", &base);
    render(&inner, StatusCode::OK, "admin_list.html", &ctx)
}

struct DetailView<'a> {
    status: StatusCode,
    errors: Vec<(&'a str, &'a str)>,
    account: Option<&'a str>,
    note: Option<&'a str>,
    saved: bool,
}

async fn detail(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(reference): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let auth = match require(
        &inner,
        &headers,
        &format!("/admin/returns/{}", pct(&reference)),
    ) {
        Ok(a) => a,
        Err(res) => return res,
    };
    detail_page(
        &inner,
        &auth,
        reference,
        DetailView {
            status: StatusCode::OK,
            errors: vec![],
            account: None,
            note: None,
            saved: q.contains_key("saved"),
        },
    )
    .await
}

async fn detail_page(inner: &Inner, auth: &Auth, reference: String, v: DetailView<'_>) -> Response {
    if !crate::refs::is_reference(&reference) {
        return not_found(inner, &format!("参考编号为“{reference}”的报送"));
    }
    let lookup = reference.clone();
    let d = match inner.readers.run(move |c| db::detail(c, &lookup)).await {
        Ok(Some(d)) => d,
        Ok(None) => return not_found(inner, &format!("参考编号为“{reference}”的报送")),
        Err(e) => return unavailable(inner, e),
    };
    let forms = inner.forms();
    let def = forms.get(&d.submission.form_id);
    let answers: Vec<_> = answer_rows(def.map(|d| d.as_ref()), &d.submission.answers)
        .into_iter()
        .map(|(label, value)| json!({"label": label, "value": value}))
        .collect();
    let notifications: Vec<_> = d
        .notifications
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "channel": n.channel.label(),
                "recipients": n.recipients,
                "state": n.status.label(),
                "status": n.status,
                "tries": n.tries,
                "next": if n.status == Delivery::Pending { cst_text(n.next_attempt_at) } else { String::new() },
                "sent": n.sent_at.map(cst_text).unwrap_or_default(),
                "error": n.last_error.clone().unwrap_or_default(),
            })
        })
        .collect();
    let audit: Vec<_> = d
        .audit
        .iter()
        .map(|a| json!({"at": cst_text(a.at), "actor": a.actor, "action": a.action, "detail": a.detail}))
        .collect();
    let errors: Vec<_> = v
        .errors
        .iter()
        .map(|(f, m)| json!({"field": f, "message": m}))
        .collect();
    let s = &d.submission;
    let title = format!("报送详情（参考编号 {}）", s.reference);
    let title = if errors.is_empty() {
        title
    } else {
        format!("错误：{title}")
    };
    let mut ctx = context(inner, &title, Some(auth));
    ctx.insert(
        "sub",
        &json!({
            "reference": s.reference,
            "unit": s.unit,
            "form_title": s.form_title,
            "form_href": format!("/admin/forms/{}", pct(&s.form_id)),
            "received": cst_text(s.received_at),
            "late": s.late,
            "source": d.source.label(),
        }),
    );
    ctx.insert("answers", &answers);
    ctx.insert("notifications", &notifications);
    ctx.insert("audit", &audit);
    ctx.insert("status", d.status.label());
    ctx.insert("current_account", &d.account);
    ctx.insert("current_note", &d.note);
    ctx.insert("account", v.account.unwrap_or(&d.account));
    ctx.insert("note", v.note.unwrap_or(""));
    ctx.insert("errors", &errors);
    ctx.insert("saved", &v.saved);
    ctx.insert(
        "action_base",
        &format!("/admin/returns/{}", pct(&s.reference)),
    );
    render(inner, v.status, "admin_detail.html", &ctx)
}

/// Longest account name and note kept.
const MAX_ACCOUNT: usize = 100;
const MAX_NOTE: usize = 1000;

async fn mark_setup(
    State(inner): State<Arc<Inner>>,
    Path(reference): Path<String>,
    req: Request,
) -> Response {
    change(inner, reference, req, true).await
}

async fn mark_feedback(
    State(inner): State<Arc<Inner>>,
    Path(reference): Path<String>,
    req: Request,
) -> Response {
    change(inner, reference, req, false).await
}

async fn change(inner: Arc<Inner>, reference: String, req: Request, setup: bool) -> Response {
    let Posted { pairs, auth, .. } = match posted(&inner, req).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    if !crate::refs::is_reference(&reference) {
        return not_found(&inner, &format!("参考编号为“{reference}”的报送"));
    }
    let account = field(&pairs, "account").unwrap_or("").trim().to_string();
    let note = field(&pairs, "note").unwrap_or("").trim().to_string();
    let mut errors: Vec<(&str, &str)> = Vec::new();
    if setup && account.is_empty() {
        errors.push(("account", "请填写开设给该单位的账号名称。"));
    }
    if account.chars().count() > MAX_ACCOUNT {
        errors.push(("account", "账号名称不能超过 100 个字。"));
    }
    if note.chars().count() > MAX_NOTE {
        errors.push((
            if setup { "setup-note" } else { "feedback-note" },
            "备注不能超过 1000 个字。",
        ));
    }
    if !errors.is_empty() {
        return detail_page(
            &inner,
            &auth,
            reference,
            DetailView {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                account: Some(&account),
                note: Some(&note),
                saved: false,
            },
        )
        .await;
    }
    let c = if setup {
        db::Change::SetUp { account, note }
    } else {
        db::Change::FedBack { note }
    };
    let target = reference.clone();
    let now = crate::store::now_ms();
    match inner
        .writer
        .apply(Arc::new(move |conn| db::change(conn, &target, &c, now)))
        .await
    {
        Ok(0) => not_found(&inner, &format!("参考编号为“{reference}”的报送")),
        Ok(_) => redirect(&format!("/admin/returns/{}?saved=1", pct(&reference))),
        Err(e) => unavailable(&inner, e),
    }
}

async fn outbox_page(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let auth = match require(&inner, &headers, "/admin/outbox") {
        Ok(a) => a,
        Err(res) => return res,
    };
    let rows = match inner.readers.run(crate::store::outbox_rows).await {
        Ok(r) => r,
        Err(e) => return unavailable(&inner, e),
    };
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "reference": r.reference,
                "href": format!("/admin/returns/{}", pct(&r.reference)),
                "unit": r.unit,
                "form_title": r.form_title,
                "channel": r.channel.label(),
                "state": r.status.label(),
                "status": r.status,
                "tries": r.tries,
                "next": if r.status == Delivery::Pending { cst_text(r.next_attempt_at) } else { String::new() },
                "error": r.last_error.clone().unwrap_or_default(),
            })
        })
        .collect();
    let failed = rows.iter().filter(|r| r["status"] == "failed").count();
    let mut ctx = context(&inner, "通知发送情况", Some(&auth));
    ctx.insert("rows", &rows);
    ctx.insert("failed", &failed);
    ctx.insert(
        "requeued",
        &q.get("requeued").and_then(|n| n.parse::<usize>().ok()),
    );
    render(&inner, StatusCode::OK, "admin_outbox.html", &ctx)
}

async fn retry_all(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    requeue(inner, None, req).await
}

async fn retry_one(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    match id.parse::<i64>() {
        Ok(id) => requeue(inner, Some(id), req).await,
        Err(_) => not_found(&inner, "这条通知"),
    }
}

async fn requeue(inner: Arc<Inner>, id: Option<i64>, req: Request) -> Response {
    if let Err(res) = posted(&inner, req).await {
        return res;
    }
    let now = crate::store::now_ms();
    match inner
        .writer
        .apply(Arc::new(move |conn| db::requeue(conn, id, now)))
        .await
    {
        Ok(n) => {
            if n > 0 {
                inner.outbox_wake.notify_one();
            }
            redirect(&format!("/admin/outbox?requeued={n}"))
        }
        Err(e) => unavailable(&inner, e),
    }
}

// ---------------------------------------------------------------- export

async fn export_xlsx(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    export(inner, headers, id, true).await
}

async fn export_csv(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    export(inner, headers, id, false).await
}

async fn export(inner: Arc<Inner>, headers: HeaderMap, id: String, xlsx: bool) -> Response {
    let ext = if xlsx { "xlsx" } else { "csv" };
    let here = format!("/admin/forms/{}/export.{ext}", pct(&id));
    if let Err(res) = require(&inner, &headers, &here) {
        return res;
    }
    let forms = inner.forms();
    let Some(def) = forms.get(&id).cloned() else {
        return not_found(&inner, &format!("表格“{id}”"));
    };
    let d = Arc::clone(&def);
    let rows = match inner
        .readers
        .run(move |c| crate::exchange::export_rows(c, &d))
        .await
    {
        Ok(r) => r,
        Err(e) => return unavailable(&inner, e),
    };
    // Building a workbook is CPU work: off the async threads too.
    let d = Arc::clone(&def);
    let built = tokio::task::spawn_blocking(move || {
        if xlsx {
            forms::sheet::export_xlsx(&d, &rows)
        } else {
            Ok(forms::sheet::export_csv(&d, &rows).into_bytes())
        }
    })
    .await;
    let bytes = match built {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return unavailable(&inner, e),
        Err(e) => return unavailable(&inner, e),
    };
    let date = crate::exchange::received_text(crate::store::now_ms());
    let date: String = date.chars().take(10).filter(|c| *c != '-').collect();
    let name = format!("{}（{date}）.{ext}", def.title);
    let disposition = format!(
        "attachment; filename=\"{}-{date}.{ext}\"; filename*=UTF-8''{}",
        def.id.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
            "_"
        ),
        pct(&name).replace('/', "%2F")
    );
    let content_type = if xlsx {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else {
        "text/csv; charset=utf-8"
    };
    let mut res = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        Bytes::from(bytes),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    admin_headers(&mut res);
    res
}

#[cfg(test)]
mod tests {
    use super::*;

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
