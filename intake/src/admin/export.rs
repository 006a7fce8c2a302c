//! `/admin/forms/{id}/export.xlsx` and `.csv`: the 一览表 download.

use super::form;
use super::session::Admin;
use crate::response::{pct, Error};
use crate::state::Inner;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

pub(super) async fn xlsx(
    State(inner): State<Arc<Inner>>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    export(&inner, &id, true).await
}

pub(super) async fn csv(
    State(inner): State<Arc<Inner>>,
    _admin: Admin,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    export(&inner, &id, false).await
}

fn failed(e: impl std::fmt::Display) -> Error {
    crate::store::StoreError::Sqlite(format!("export: {e}")).into()
}

async fn export(inner: &Inner, id: &str, xlsx: bool) -> Result<Response, Error> {
    let def = form(inner, id)?;
    let ext = if xlsx { "xlsx" } else { "csv" };
    let d = Arc::clone(&def);
    let rows = inner
        .store
        .read(move |c| crate::exchange::export_rows(c, &d))
        .await?;
    // Building a workbook is CPU work: off the async threads too.
    let d = Arc::clone(&def);
    let bytes = tokio::task::spawn_blocking(move || {
        if xlsx {
            forms::sheet::export_xlsx(&d, &rows)
        } else {
            Ok(forms::sheet::export_csv(&d, &rows).into_bytes())
        }
    })
    .await
    .map_err(failed)?
    .map_err(failed)?;
    let date = crate::exchange::received_text(crate::store::now_ms());
    let date: String = date.chars().take(10).filter(|c| *c != '-').collect();
    let name = format!("{}（{date}）.{ext}", def.title);
    let disposition = format!(
        "attachment; filename=\"{}-{date}.{ext}\"; filename*=UTF-8''{}",
        def.id.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
            "_"
        ),
        pct(&name)
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
    Ok(res)
}
