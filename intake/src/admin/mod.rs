//! The admin pages under `/admin`: login with the `[admin] password_hash`
//! password, the returns of each form with their processing state, a detail
//! page per return with its audit trail, the outbox, and the 一览表 download.
//!
//! Nothing here answers without a session: the `session::Admin` extractor
//! sends GETs to the login page and refuses POSTs with 403, and
//! `session::AdminForm` also checks the origin and the session's CSRF
//! token. With no hash configured every admin URL is a 404 saying the pages
//! are off. Sessions live in the database (every node on it knows them; a
//! restart logs nobody out), and the cookie is `SameSite=Strict` on top of
//! the CSRF token.

pub(crate) mod db;
mod export;
mod login;
mod outbox;
mod returns;
mod session;

use crate::response::{Error, Page};
use crate::state::Inner;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use session::Admin;
use std::sync::Arc;

pub use crate::auth::hash_password;

/// The `/admin` routes, merged into the intake's router.
pub(crate) fn routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/admin", get(returns::index))
        .route("/admin/", get(returns::index))
        .route("/admin/login", get(login::page).post(login::login))
        .route("/admin/logout", post(login::logout))
        .route("/admin/forms/{id}", get(returns::list))
        .route("/admin/forms/{id}/export.xlsx", get(export::xlsx))
        .route("/admin/forms/{id}/export.csv", get(export::csv))
        .route("/admin/returns/{reference}", get(returns::detail))
        .route(
            "/admin/returns/{reference}/setup",
            post(returns::mark_setup),
        )
        .route(
            "/admin/returns/{reference}/feedback",
            post(returns::mark_feedback),
        )
        .route("/admin/outbox", get(outbox::page))
        .route("/admin/outbox/retry", post(outbox::retry_all))
        .route("/admin/outbox/{id}/retry", post(outbox::retry_one))
}

/// An admin page for a logged-in admin: its forms carry the CSRF token.
fn admin_page(template: &'static str, title: impl Into<String>, admin: &Admin) -> Page {
    Page::new(template, title).with("csrf", &admin.csrf)
}

fn enabled(inner: &Inner) -> bool {
    !inner.config.admin.password_hash.trim().is_empty()
}

fn disabled() -> Error {
    Error::new(
        StatusCode::NOT_FOUND,
        "管理页面未启用",
        "本服务没有设置管理密码，管理页面未启用。管理员可运行 gazette admin hash-password 生成密码散列值，写入 gazette.toml 的 [admin] password_hash（或环境变量 GAZETTE_ADMIN_PASSWORD_HASH）后重新启动服务。",
    )
}

fn not_found(what: &str) -> Error {
    Error::new(StatusCode::NOT_FOUND, "找不到", format!("找不到{what}。"))
        .link("/admin/", "返回管理页面")
}

/// The form `id`, or a 404 naming it.
fn form(inner: &Inner, id: &str) -> Result<Arc<forms::FormDef>, Error> {
    inner
        .forms()
        .get(id)
        .cloned()
        .ok_or_else(|| not_found(&format!("表格“{id}”")))
}
