//! The overview, a form's returns, and one return's detail page with its
//! processing changes.

use super::session::{Admin, AdminForm};
use super::{admin_page, db, form, not_found};
use crate::present::{answer_rows, cst_text};
use crate::response::{pct, redirect, Error, Page};
use crate::state::Inner;
use crate::status::{Delivery, Processing};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

fn list_href(form_id: &str) -> String {
    format!("/admin/forms/{}", pct(form_id))
}

fn detail_href(reference: &str) -> String {
    format!("/admin/returns/{}", pct(reference))
}

pub(super) async fn index(State(inner): State<Arc<Inner>>, admin: Admin) -> Result<Page, Error> {
    let (counts, outbox, logins, (failed_total, failed_mail)) = inner
        .store
        .read(|c| {
            Ok((
                db::counts(c)?,
                crate::store::outbox_rows(c)?,
                db::recent_logins(c, 10)?,
                crate::mailbox::failed_messages(c, 50)?,
            ))
        })
        .await?;
    // Forms in annex order (then by id).
    let mut defs: Vec<_> = inner.forms().values().cloned().collect();
    defs.sort_by(|a, b| (a.annex, &a.id).cmp(&(b.annex, &b.id)));
    let forms: Vec<_> = defs
        .iter()
        .map(|d| {
            let c = counts.get(&d.id).cloned().unwrap_or_default();
            json!({
                "id": d.id, "title": d.title, "annex": d.annex,
                "href": list_href(&d.id), "counts": c,
            })
        })
        .collect();
    let failed = outbox
        .iter()
        .filter(|r| r.status == Delivery::Failed)
        .count();
    Ok(admin_page("admin_index.html", "管理页面", &admin)
        .with("forms", &forms)
        .with("failed", &failed)
        .with("pending", &(outbox.len() - failed))
        .with("logins", &logins)
        .with("failed_mail", &failed_mail)
        .with("failed_mail_total", &failed_total)
        .with("mailbox", &inner.config.mailbox.enabled()))
}

pub(super) async fn list(
    State(inner): State<Arc<Inner>>,
    admin: Admin,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Page, Error> {
    let def = form(&inner, &id)?;
    let routes = crate::outbox::Routes::new(&inner.config);
    let status = q.get("status").and_then(|s| Processing::from_query(s));
    // 第 N 页 in the address counts from 1.
    let page = q
        .get("page")
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    let list = inner
        .store
        .read(move |c| db::list(c, &id, status, page - 1))
        .await?;
    let rows: Vec<_> = list
        .rows
        .iter()
        .map(|r| {
            let channels: Vec<_> = r
                .channels
                .iter()
                .map(|c| {
                    json!({
                        "name": c.channel.label(),
                        "state": routes.label(c.channel, c.status),
                        "status": c.status,
                    })
                })
                .collect();
            json!({
                "reference": r.reference,
                "href": detail_href(&r.reference),
                "unit": r.unit,
                "received": cst_text(r.received_at),
                "late": r.late,
                "status": r.status.label(),
                "channels": channels,
                "source": r.source.label(),
            })
        })
        .collect();
    let base = list_href(&def.id);
    // The filter speaks in labels, as the select's options do.
    let labels: Vec<_> = Processing::ALL.iter().map(|p| p.label()).collect();
    let pages = ((list.total + db::PAGE_ROWS - 1) / db::PAGE_ROWS).max(1);
    let page_href = |n: i64| {
        let filter = status
            .map(|s| format!("status={}&", pct(s.label())))
            .unwrap_or_default();
        format!("{base}?{filter}page={n}")
    };
    let page = i64::from(page);
    let paging = json!({
        "page": page,
        "pages": pages,
        "total": list.total,
        "prev": (page > 1).then(|| page_href(page - 1)),
        "next": (page < pages).then(|| page_href(page + 1)),
    });
    Ok(admin_page(
        "admin_list.html",
        format!("{}：报送情况", def.title),
        &admin,
    )
    .with(
        "form",
        &json!({"id": def.id, "title": def.title, "annex": def.annex}),
    )
    .with("rows", &rows)
    .with("paging", &paging)
    .with("status", &status.map(Processing::label))
    .with("statuses", &labels)
    .with("xlsx_href", &format!("{base}/export.xlsx"))
    .with("csv_href", &format!("{base}/export.csv"))
    .with("list_href", &base))
}

/// What the detail page shows besides the stored return: the last attempt's
/// errors and values after a refused change, or that a change was saved.
#[derive(Default)]
struct Attempt<'a> {
    errors: Vec<(&'a str, &'a str)>,
    account: Option<&'a str>,
    note: Option<&'a str>,
    saved: bool,
}

pub(super) async fn detail(
    State(inner): State<Arc<Inner>>,
    admin: Admin,
    Path(reference): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Page, Error> {
    let attempt = Attempt {
        saved: q.contains_key("saved"),
        ..Attempt::default()
    };
    detail_page(&inner, &admin, reference, attempt).await
}

fn no_return(reference: &str) -> Error {
    not_found(&format!("参考编号为“{reference}”的报送"))
}

async fn detail_page(
    inner: &Inner,
    admin: &Admin,
    reference: String,
    v: Attempt<'_>,
) -> Result<Page, Error> {
    if !crate::refs::is_reference(&reference) {
        return Err(no_return(&reference));
    }
    let lookup = reference.clone();
    let (d, mail) = inner
        .store
        .read(move |c| {
            let Some(d) = db::detail(c, &lookup)? else {
                return Ok((None, None));
            };
            let mail = crate::mailbox::mail_of_submission(c, d.submission.id)?;
            Ok((Some(d), mail))
        })
        .await?;
    let d = d.ok_or_else(|| no_return(&reference))?;
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
                "state": crate::outbox::Routes::new(&inner.config).label(n.channel, n.status),
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
    let (status, title) = if errors.is_empty() {
        (StatusCode::OK, title)
    } else {
        (StatusCode::UNPROCESSABLE_ENTITY, format!("错误：{title}"))
    };
    Ok(admin_page("admin_detail.html", title, admin)
        .status(status)
        .with(
            "sub",
            &json!({
                "reference": s.reference,
                "unit": s.unit,
                "form_title": s.form_title,
                "form_href": list_href(&s.form_id),
                "received": cst_text(s.received_at),
                "late": s.late,
                "source": d.source.label(),
            }),
        )
        .with("answers", &answers)
        .with("mail", &mail)
        .with("notifications", &notifications)
        .with("audit", &audit)
        .with("status", d.status.label())
        .with("current_account", &d.account)
        .with("current_note", &d.note)
        .with("account", v.account.unwrap_or(&d.account))
        .with("note", v.note.unwrap_or(""))
        .with("errors", &errors)
        .with("saved", &v.saved)
        .with("action_base", &detail_href(&s.reference)))
}

/// Longest account name and note kept.
const MAX_ACCOUNT: usize = 100;
const MAX_NOTE: usize = 1000;

pub(super) async fn mark_setup(
    State(inner): State<Arc<Inner>>,
    Path(reference): Path<String>,
    form: AdminForm,
) -> Result<Response, Error> {
    change(&inner, reference, form, true).await
}

pub(super) async fn mark_feedback(
    State(inner): State<Arc<Inner>>,
    Path(reference): Path<String>,
    form: AdminForm,
) -> Result<Response, Error> {
    change(&inner, reference, form, false).await
}

async fn change(
    inner: &Inner,
    reference: String,
    form: AdminForm,
    setup: bool,
) -> Result<Response, Error> {
    use axum::response::IntoResponse as _;
    if !crate::refs::is_reference(&reference) {
        return Err(no_return(&reference));
    }
    let account = form.get("account").unwrap_or("").trim().to_string();
    let note = form.get("note").unwrap_or("").trim().to_string();
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
        let attempt = Attempt {
            errors,
            account: Some(&account),
            note: Some(&note),
            saved: false,
        };
        return Ok(detail_page(inner, &form.admin, reference.clone(), attempt)
            .await?
            .into_response());
    }
    let c = if setup {
        db::Change::SetUp { account, note }
    } else {
        db::Change::FedBack { note }
    };
    let target = reference.clone();
    let now = crate::store::now_ms();
    let changed = inner
        .store
        .write(move |db| db::change(db, &target, &c, now))
        .await?;
    if changed == 0 {
        return Err(no_return(&reference));
    }
    Ok(redirect(
        StatusCode::SEE_OTHER,
        &format!("{}?saved=1", detail_href(&reference)),
    ))
}
