//! `/admin/login` and `/admin/logout`.

use super::session::{
    client_ip, cookie, cookie_value, device_cookie, field, is_https, read_pairs, safe_next,
    session, AdminForm,
};
use super::{db, disabled, enabled};
use crate::auth;
use crate::response::{redirect, Error, Page};
use crate::state::Inner;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

struct LoginView<'a> {
    status: StatusCode,
    error: Option<&'a str>,
    notice: Option<&'a str>,
    next: &'a str,
}

fn login_form(v: LoginView<'_>) -> Page {
    let title = if v.error.is_some() {
        "错误：管理登录"
    } else {
        "管理登录"
    };
    Page::new("admin_login.html", title)
        .status(v.status)
        .with("error", &v.error)
        .with("notice", &v.notice)
        .with("next", v.next)
}

pub(super) async fn page(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Error> {
    if !enabled(&inner) {
        return Err(disabled());
    }
    let next = safe_next(q.get("next").map(String::as_str));
    if session(&inner, &headers).await?.is_some() {
        return Ok(redirect(StatusCode::SEE_OTHER, &next));
    }
    let notice = q.contains_key("out").then_some("您已退出管理页面。");
    Ok(login_form(LoginView {
        status: StatusCode::OK,
        error: None,
        notice,
        next: &next,
    })
    .into_response())
}

pub(super) async fn login(
    State(inner): State<Arc<Inner>>,
    req: Request,
) -> Result<Response, Error> {
    if !enabled(&inner) {
        return Err(disabled());
    }
    let (parts, body) = req.into_parts();
    if inner.origins.check(&parts.headers).is_err() {
        return Err(Error::new(
            StatusCode::FORBIDDEN,
            "不接收来自其他网站的登录",
            "请从本站的管理登录页面登录。",
        )
        .link("/admin/login", "打开管理登录页面"));
    }
    let ip = client_ip(&parts);
    let password_hash = inner.config.admin.password_hash.clone();
    // A browser that logged in before is counted by its device cookie, so
    // others' wrong passwords from its address cannot lock it out.
    let who = auth::Trier::of(
        ip,
        cookie_value(&parts.headers, auth::DEVICE_COOKIE)
            .and_then(|v| auth::device_nonce(&v, &password_hash)),
    );
    // A client that gave too many wrong passwords waits before any check.
    // (Only a check here: an empty or unreadable form costs no try.)
    let now = crate::store::now_ms();
    let w = who.clone();
    if let Err(wait) = inner
        .store
        .read(move |db| auth::throttle::check(db, &w, now))
        .await?
    {
        return Ok(throttled(wait, "/admin/"));
    }
    let pairs = read_pairs(body).await?;
    let next = safe_next(field(&pairs, "next"));
    let password = field(&pairs, "password").unwrap_or("").to_string();
    if password.is_empty() {
        return Ok(login_form(LoginView {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: Some("请输入管理密码。"),
            notice: None,
            next: &next,
        })
        .into_response());
    }
    let hash = password_hash;
    if !auth::hash_is_valid(&hash) {
        tracing::error!("[admin.password_hash] is not an argon2 PHC string: nobody can log in");
        return Err(Error::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "管理密码设置有误",
            "gazette.toml 中 [admin] password_hash 的格式不正确，无法登录。请用 gazette admin hash-password 重新生成后重启服务。",
        ));
    }
    // Bounded memory: a few argon2 checks at once, the rest come back later.
    let Ok(_permit) = inner.admin.verifying.try_acquire() else {
        return Ok(busy(&next));
    };
    // The try is counted before the check: tries sent at once cannot all
    // pass the throttle before the first failure is recorded.
    let w = who.clone();
    let now = crate::store::now_ms();
    if let Err(wait) = inner
        .store
        .write(move |db| auth::throttle::reserve(db, &w, now))
        .await?
    {
        return Ok(throttled(wait, "/admin/"));
    }
    let ok = check_password(&inner, ip, password, hash.clone()).await;
    if !ok {
        tracing::warn!("admin: wrong password from {ip}");
        return Ok(login_form(LoginView {
            status: StatusCode::FORBIDDEN,
            error: Some("密码不正确，请重新输入。连续输错 5 次后需等待一段时间才能再试。"),
            notice: None,
            next: &next,
        })
        .into_response());
    }
    let w = who.clone();
    let (token, _) = inner
        .store
        .write(move |db| {
            auth::throttle::succeeded(db, &w)?;
            auth::sessions::create(db, crate::store::now_ms())
        })
        .await?;
    tracing::info!("admin: login from {ip}");
    let mut res = redirect(StatusCode::SEE_OTHER, &next);
    let secure = is_https(&inner, &parts.headers);
    set_cookie(&mut res, &cookie(&token, secure, false));
    if !matches!(who, auth::Trier::Device(_)) {
        set_cookie(
            &mut res,
            &device_cookie(&auth::device_cookie(&hash), secure),
        );
    }
    Ok(res)
}

/// Whether `password` matches `hash`; the attempt goes into the audit table.
async fn check_password(inner: &Inner, ip: IpAddr, password: String, hash: String) -> bool {
    // argon2 is slow by design: off the async threads.
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .unwrap_or(false);
    let from = ip.to_string();
    let record = inner
        .store
        .write(move |db| db::record_login(db, crate::store::now_ms(), &from, ok))
        .await;
    if let Err(e) = record {
        // The login itself does not depend on its record being written.
        tracing::error!("admin: cannot record the login from {ip}: {e}");
    }
    ok
}

fn set_cookie(res: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn busy(next: &str) -> Response {
    let mut res = login_form(LoginView {
        status: StatusCode::SERVICE_UNAVAILABLE,
        error: Some("正在核对其他登录，请稍等几秒后再试。"),
        notice: None,
        next,
    })
    .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(2u64));
    res
}

fn throttled(wait: Duration, next: &str) -> Response {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    let text = format!("密码连续输错次数过多，请在 {secs} 秒后再试。");
    let mut res = login_form(LoginView {
        status: StatusCode::TOO_MANY_REQUESTS,
        error: Some(&text),
        notice: None,
        next,
    })
    .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    res
}

pub(super) async fn logout(
    State(inner): State<Arc<Inner>>,
    form: AdminForm,
) -> Result<Response, Error> {
    let token = form.admin.token.clone();
    inner
        .store
        .write(move |db| auth::sessions::remove(db, &token))
        .await?;
    let mut res = redirect(StatusCode::SEE_OTHER, "/admin/login?out=1");
    set_cookie(&mut res, &cookie("", form.admin.secure, true));
    Ok(res)
}
