//! `/admin/outbox`: every pending and failed notification, and requeueing
//! the failed ones.

use super::session::{Admin, AdminForm};
use super::{admin_page, db, not_found};
use crate::present::cst_text;
use crate::response::{pct, redirect, Error, Page};
use crate::state::Inner;
use crate::status::Delivery;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

pub(super) async fn page(
    State(inner): State<Arc<Inner>>,
    admin: Admin,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Page, Error> {
    let (rows, replies) = inner
        .store
        .read(|c| {
            Ok((
                crate::store::outbox_rows(c)?,
                crate::mailbox::reply_rows(c, 200)?,
            ))
        })
        .await?;
    let failed = rows.iter().filter(|r| r.status == Delivery::Failed).count();
    let routes = crate::outbox::Routes::new(&inner.config);
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
                "state": routes.label(r.channel, r.status),
                "status": r.status,
                "tries": r.tries,
                "next": if r.status == Delivery::Pending { cst_text(r.next_attempt_at) } else { String::new() },
                "error": r.last_error.clone().unwrap_or_default(),
            })
        })
        .collect();
    Ok(admin_page("admin_outbox.html", "通知发送情况", &admin)
        .with("rows", &rows)
        .with("replies", &replies)
        .with("failed", &failed)
        .with("routes", &routes.describe_zh())
        .with(
            "requeued",
            &q.get("requeued").and_then(|n| n.parse::<usize>().ok()),
        ))
}

pub(super) async fn retry_all(
    State(inner): State<Arc<Inner>>,
    _form: AdminForm,
) -> Result<Response, Error> {
    requeue(&inner, None).await
}

pub(super) async fn retry_one(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    _form: AdminForm,
) -> Result<Response, Error> {
    let id = id.parse::<i64>().map_err(|_| not_found("这条通知"))?;
    requeue(&inner, Some(id)).await
}

async fn requeue(inner: &Inner, id: Option<i64>) -> Result<Response, Error> {
    let now = crate::store::now_ms();
    let n = inner
        .store
        .write(move |db| db::requeue(db, id, now))
        .await?;
    if n > 0 {
        inner.outbox_wake.notify_one();
    }
    Ok(redirect(
        StatusCode::SEE_OTHER,
        &format!("/admin/outbox?requeued={n}"),
    ))
}
