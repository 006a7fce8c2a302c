//! The public routes: a form's post, its receipt, `GET /forms/{id}` and
//! `/healthz`. Every answer is a Chinese HTML page, or JSON when the client
//! sends `Accept: application/json`, with the same status codes.

use crate::body::{self, MAX_BODY};
use crate::present::{answer_rows, cst_text};
use crate::refs;
use crate::response::{json, pct, redirect, Error, Format, Page};
use crate::state::{Decoy, Inner};
use crate::store::{self, Stored};
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use forms::paths::{self, FormPage, FormPaths};
use forms::{AfterDeadline, FormDef};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) async fn stylesheet(State(inner): State<Arc<Inner>>, req: Request) -> Response {
    let name = req.uri().path().trim_start_matches('/').to_string();
    match inner.theme().static_file(&name) {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, "text/css; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            bytes.to_vec(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

pub(crate) async fn healthz(State(inner): State<Arc<Inner>>) -> Response {
    if inner.writer_closed() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "database writer stopped"})),
        )
            .into_response();
    }
    // The backlog tells a monitor that mail is stuck; a read that fails is
    // a database that cannot serve receipts either.
    let pending = inner.store.pending_count().await;
    let last_error = inner.store.last_error();
    let status = match (&last_error, &pending) {
        (None, Ok(_)) => StatusCode::OK,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    let body = serde_json::json!({
        "status": if status == StatusCode::OK { "ok" } else { "cannot store returns" },
        "last_commit": last_error.as_deref().unwrap_or("ok"),
        "outbox_pending": pending.as_ref().ok(),
        "forms": inner.forms().keys().collect::<std::collections::BTreeSet<_>>(),
        "outbox_passes": inner.outbox_passes.load(std::sync::atomic::Ordering::SeqCst),
    });
    (status, axum::Json(body)).into_response()
}

/// The standalone intake's answer to any other URL.
pub(crate) async fn not_found() -> Error {
    Error::new(
        StatusCode::NOT_FOUND,
        "页面不存在",
        "您要找的页面不存在。在线表格请从通知页面进入。",
    )
}

/// `GET /forms/{id}`: the form itself is a static page; send people there.
pub(crate) async fn get_form(
    State(inner): State<Arc<Inner>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = id.map(|Path(id)| id).unwrap_or_default();
    // Ids of known forms need no encoding; anything else is encoded.
    let id = pct(&id);
    redirect(
        StatusCode::MOVED_PERMANENTLY,
        &inner.links().site(&FormPaths::new(&id).dir()),
    )
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `application/x-www-form-urlencoded`, with no charset or UTF-8.
fn is_urlencoded(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut parts = ct.split(';');
    let mime = parts.next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return false;
    }
    parts.all(|p| match p.split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
            let v = v.trim().trim_matches('"');
            v.eq_ignore_ascii_case("utf-8") || v.eq_ignore_ascii_case("utf8")
        }
        _ => true,
    })
}

pub(crate) enum BodyError {
    TooLarge,
    Broken,
}

/// The body, at most [`MAX_BODY`] bytes.
pub(crate) async fn read_body(body: Body) -> Result<Bytes, BodyError> {
    use http_body_util::BodyExt;
    match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(BodyError::TooLarge)
        }
        Err(_) => Err(BodyError::Broken),
    }
}

pub(crate) async fn post_form(
    State(inner): State<Arc<Inner>>,
    format: Format,
    id: Result<Path<String>, PathRejection>,
    req: Request,
) -> Result<Response, Error> {
    let said = Said(&inner);
    let Ok(Path(id)) = id else {
        return Err(said.unknown_form(""));
    };
    // Limits first, before the body is read.
    let headers = req.headers();
    if content_length(headers).is_some_and(|n| n > MAX_BODY as u64) {
        return Err(said.too_large());
    }
    if !is_urlencoded(headers) {
        return Err(said.unsupported_type());
    }
    if let Err(origin) = inner.origins.check(headers) {
        tracing::warn!("refused a post to {id:?} from another site ({origin})");
        return Err(said.cross_site());
    }
    if inner.limiter.enabled() {
        match req.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(addr)) => {
                if let Err(wait) = inner.limiter.check(addr.ip(), Instant::now()) {
                    tracing::warn!("rate limit: {} must wait {wait:?}", addr.ip());
                    return Err(said.rate_limited(wait));
                }
            }
            None => warn_no_client_address(),
        }
    }
    let forms = inner.forms();
    let Some(def) = forms.get(&id).cloned() else {
        return Err(said.unknown_form(&id));
    };
    let bytes = read_body(req.into_body()).await.map_err(|e| match e {
        BodyError::TooLarge => said.too_large(),
        BodyError::Broken => Error::new(
            StatusCode::BAD_REQUEST,
            "提交未完成",
            "接收表格内容时连接中断，表格没有保存。请返回上一页重新提交。",
        ),
    })?;
    let pairs = body::decode(&bytes).map_err(|e| said.bad_encoding(&def, e.field.as_deref()))?;
    if pairs
        .iter()
        .any(|(k, v)| k == forms::HONEYPOT && !v.trim().is_empty())
    {
        return Ok(decoy(&inner, format, &def, &pairs));
    }
    let now = chrono::Utc::now();
    let late = def.is_late(now);
    if late && def.after_deadline == AfterDeadline::Refuse {
        return Err(said.closed(&def));
    }
    match def.validate(&pairs) {
        Ok(answers) => {
            let stored = inner
                .store_return(&def, &answers, late, now)
                .await
                .map_err(|e| {
                    tracing::error!("storing a return to {}: {e}", def.id);
                    said.unavailable()
                })?;
            Ok(see_receipt(&inner, format, &stored))
        }
        Err(errors) => Ok(invalid(&inner, format, &def, &pairs, &errors, now)),
    }
}

fn warn_no_client_address() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing::warn!(
            "no client address on requests (serve with into_make_service_with_connect_info): rate limit off"
        )
    });
}

/// `GET /receipts/{token}/receipt.pdf`: the receipt as a PDF, set by the
/// fax sheet's layer (the office's header, reference, received time, the
/// 逾期 mark, every answer, then the office's contacts).
pub(crate) const RECEIPT_PDF_ROUTE: &str = "/receipts/{token}/receipt.pdf";

/// Where the receipt at `token` has its PDF.
fn receipt_pdf_route(token: &str) -> String {
    format!("{}/receipt.pdf", paths::receipt(token))
}

/// A stored receipt (or a decoy's), owned.
struct Found {
    form_id: String,
    form_title: String,
    annex: Option<u32>,
    reference: String,
    received_at: i64,
    late: bool,
    rows: Vec<(String, String)>,
}

async fn find_receipt(
    inner: &Arc<Inner>,
    token: Result<Path<String>, PathRejection>,
) -> Result<(String, Found), Error> {
    let said = Said(inner);
    let token = match token {
        Ok(Path(t)) if refs::is_token(&t) => t,
        _ => return Err(said.no_receipt()),
    };
    let lookup = token.clone();
    let found = inner.store.submission_by_token(lookup).await.map_err(|e| {
        tracing::error!("reading a receipt: {e}");
        said.unavailable()
    })?;
    let forms = inner.forms();
    let found = match found {
        Some(sub) => {
            let def = forms.get(&sub.form_id);
            let rows = answer_rows(def.map(|d| d.as_ref()), &sub.answers);
            Found {
                annex: def.and_then(|d| d.annex),
                form_id: sub.form_id,
                form_title: sub.form_title,
                reference: sub.reference,
                received_at: sub.received_at,
                late: sub.late,
                rows,
            }
        }
        None => {
            let d = inner.decoys.get(&token).ok_or_else(|| said.no_receipt())?;
            let def = forms.get(&d.form_id);
            Found {
                form_title: def.map(|d| d.title.clone()).unwrap_or_default(),
                annex: def.and_then(|d| d.annex),
                form_id: d.form_id,
                reference: d.reference,
                received_at: d.received_at,
                late: false,
                rows: d.rows,
            }
        }
    };
    Ok((token, found))
}

pub(crate) async fn get_receipt(
    State(inner): State<Arc<Inner>>,
    format: Format,
    token: Result<Path<String>, PathRejection>,
) -> Result<Response, Error> {
    let (token, f) = find_receipt(&inner, token).await?;
    let pdf_url = inner.links().intake(&receipt_pdf_route(&token));
    Ok(receipt(
        format,
        ReceiptView {
            form_id: &f.form_id,
            form_title: &f.form_title,
            annex: f.annex,
            reference: &f.reference,
            received_at: f.received_at,
            late: f.late,
            rows: &f.rows,
            pdf_url: &pdf_url,
        },
    ))
}

pub(crate) async fn get_receipt_pdf(
    State(inner): State<Arc<Inner>>,
    token: Result<Path<String>, PathRejection>,
) -> Result<Response, Error> {
    let (_, f) = find_receipt(&inner, token).await?;
    let config = &inner.config;
    let office = format!("{} {}", config.office.name, config.office.section)
        .trim()
        .to_string();
    let form_title = match f.annex {
        Some(n) => format!("附件{n} {}", f.form_title),
        None => f.form_title.clone(),
    };
    let received = format!("{}（北京时间）", cst_text(f.received_at));
    let mut rows = f.rows.clone();
    rows.push((
        "报送状态".into(),
        if f.late {
            "逾期（截止日期后报送）".into()
        } else {
            "按时报送".into()
        },
    ));
    // The office's contacts in a table of their own, as the receipt page has them.
    let mut contacts = Vec::new();
    let section = format!("{} {}", config.office.name, config.office.section);
    if !section.trim().is_empty() {
        contacts.push(("联系科室".to_string(), section.trim().to_string()));
    }
    for (key, label) in [
        ("person", "联系人"),
        ("phone", "电话"),
        ("fax", "传真"),
        ("email", "电子邮件"),
        ("address", "地址"),
    ] {
        let v = match key {
            "person" => &config.office.person,
            "phone" => &config.office.phone,
            "fax" => &config.office.fax,
            "email" => &config.office.email,
            _ => &config.office.address,
        };
        if !v.is_empty() {
            let mark = if config.office.is_unconfirmed(key) {
                "【待核实】"
            } else {
                ""
            };
            contacts.push((label.to_string(), format!("{v}{mark}")));
        }
    }
    let font_path = config.pdf_font();
    let reference = f.reference.clone();
    let late = f.late;
    // Font loading, layout and subsetting are CPU work: off the async thread.
    let pdf = tokio::task::spawn_blocking(move || {
        let font = receipt_font(font_path)?;
        faxsheet::render(
            &faxsheet::Sheet {
                office: &office,
                form_title: &form_title,
                reference: &reference,
                received: &received,
                late,
                rows: &rows,
                contacts: &contacts,
            },
            &font,
        )
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    let pdf = pdf.map_err(|e| {
        tracing::error!("receipt PDF: {e}");
        Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "暂时无法生成PDF回执",
            "服务器缺少中文字体，暂时无法生成PDF回执（管理员请安装 fonts-wqy-microhei，或在 gazette.toml 的 [pdf] font 指定字体）。请使用回执页面打印。",
        )
    })?;
    let name = format!("回执-{}.pdf", f.reference);
    let mut res = (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"receipt-{}.pdf\"; filename*=UTF-8''{}",
                    f.reference,
                    pct(&name)
                ),
            ),
        ],
        pdf,
    )
        .into_response();
    keep_private(&mut res);
    Ok(res)
}

/// The receipt's font, found on first use (and again if the setting changes).
fn receipt_font(path: std::path::PathBuf) -> Result<faxsheet::Font, String> {
    static FOUND: std::sync::Mutex<Option<(std::path::PathBuf, faxsheet::Font)>> =
        std::sync::Mutex::new(None);
    let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((p, f)) = found.as_ref() {
        if *p == path {
            return Ok(f.clone());
        }
    }
    let f = faxsheet::Font::find(&path).map_err(|e| e.to_string())?;
    *found = Some((path, f.clone()));
    Ok(f)
}

struct ReceiptView<'a> {
    form_id: &'a str,
    form_title: &'a str,
    annex: Option<u32>,
    reference: &'a str,
    received_at: i64,
    late: bool,
    rows: &'a [(String, String)],
    pdf_url: &'a str,
}

#[derive(Serialize)]
struct Row<'a> {
    label: &'a str,
    value: &'a str,
}

fn receipt(format: Format, r: ReceiptView<'_>) -> Response {
    let received = cst_text(r.received_at);
    let mut res = match format {
        Format::Json => {
            let answers: Vec<_> = r
                .rows
                .iter()
                .map(|(l, v)| serde_json::json!({"label": l, "value": v}))
                .collect();
            json(
                StatusCode::OK,
                serde_json::json!({
                    "ref": r.reference,
                    "form": r.form_id,
                    "form_title": r.form_title,
                    "received": received,
                    "late": r.late,
                    "answers": answers,
                }),
            )
        }
        Format::Html => {
            let rows: Vec<Row> = r
                .rows
                .iter()
                .map(|(l, v)| Row { label: l, value: v })
                .collect();
            Page::new(
                "receipt.html",
                format!("报送回执（参考编号 {}）", r.reference),
            )
            .with(
                "form",
                &serde_json::json!({"id": r.form_id, "title": r.form_title, "annex": r.annex}),
            )
            .with("reference", r.reference)
            .with("received", &received)
            .with("late", &r.late)
            .with("answers", &rows)
            .with("pdf_url", r.pdf_url)
            .into_response()
        }
    };
    keep_private(&mut res);
    res
}

/// 422: the same form again with the errors and every value kept.
fn invalid(
    inner: &Inner,
    format: Format,
    def: &FormDef,
    pairs: &[(String, String)],
    errors: &forms::Errors,
    now: chrono::DateTime<chrono::Utc>,
) -> Response {
    if format == Format::Json {
        let mut map = serde_json::Map::new();
        for e in &errors.0 {
            map.entry(e.field.clone())
                .or_insert_with(|| serde_json::Value::String(e.message.clone()));
        }
        return json(
            StatusCode::UNPROCESSABLE_ENTITY,
            serde_json::json!({ "errors": map }),
        );
    }
    let view = def.view(pairs, errors, now);
    // The same blank the site wrote, so the size shown is the download's.
    let xlsx_bytes = forms::sheet::blank_xlsx(def, &inner.config.office.return_instructions())
        .ok()
        .map(|b| b.len());
    let page = FormPage::new(view, &inner.links(), xlsx_bytes);
    Page::new("form.html", format!("{}（请更正后重新提交）", def.title))
        .status(StatusCode::UNPROCESSABLE_ENTITY)
        .with_all(&page)
        .into_response()
}

fn see_receipt(inner: &Inner, format: Format, stored: &Stored) -> Response {
    let location = inner.links().intake(&paths::receipt(&stored.token));
    if format == Format::Json {
        let mut res = json(
            StatusCode::SEE_OTHER,
            serde_json::json!({
                "ref": stored.reference,
                "receipt": location,
                "repeat": stored.repeat,
            }),
        );
        if let Ok(v) = HeaderValue::from_str(&location) {
            res.headers_mut().insert(header::LOCATION, v);
        }
        return res;
    }
    redirect(StatusCode::SEE_OTHER, &location)
}

/// The honeypot was filled: answer as if stored, store nothing.
fn decoy(inner: &Inner, format: Format, def: &FormDef, pairs: &[(String, String)]) -> Response {
    let reference = refs::reference();
    let token = refs::token(&reference);
    let rows = def
        .fields
        .iter()
        .map(|f| {
            let v: Vec<&str> = pairs
                .iter()
                .filter(|(k, _)| *k == f.name)
                .map(|(_, v)| v.as_str())
                .collect();
            (f.label.clone(), v.join("、"))
        })
        .collect();
    tracing::info!("honeypot filled on {}: nothing stored", def.id);
    inner.decoys.put(
        token.clone(),
        Decoy {
            reference: reference.clone(),
            form_id: def.id.clone(),
            received_at: store::now_ms(),
            rows,
        },
    );
    see_receipt(
        inner,
        format,
        &Stored {
            reference,
            token,
            repeat: false,
        },
    )
}

/// The public side's errors, each with the offline route where it helps.
struct Said<'a>(&'a Inner);

impl Said<'_> {
    fn offline_route(&self) -> Vec<String> {
        let o = &self.0.config.office;
        // Unconfirmed values (a reserved-domain email among them) say so.
        let marked = |key: &str, value: &str| {
            if o.is_unconfirmed(key) {
                format!("{value}【待核实】")
            } else {
                value.to_string()
            }
        };
        let mut v = Vec::new();
        if !o.email.is_empty() {
            v.push(format!("电子邮件：{}", marked("email", &o.email)));
        }
        if !o.fax.is_empty() {
            v.push(format!("传真：{}", marked("fax", &o.fax)));
        }
        if !o.phone.is_empty() {
            let person = if o.person.is_empty() {
                String::new()
            } else {
                format!("（联系人：{}）", o.person)
            };
            v.push(format!("电话：{}{person}", marked("phone", &o.phone)));
        }
        v
    }

    fn too_large(&self) -> Error {
        Error::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "提交的内容过多",
            "表格内容超过 64 KB 的上限，没有保存。请删减备注等较长的文字后重新提交；内容确实较多时，可下载 Excel 表格填写后通过电子邮件报送。",
        )
        .details(self.offline_route())
    }

    fn unsupported_type(&self) -> Error {
        Error::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "提交方式不正确",
            "本服务只接收网页表格以 UTF-8 编码提交的内容（application/x-www-form-urlencoded）。请打开通知页面上的在线表格填写并提交。",
        )
    }

    fn cross_site(&self) -> Error {
        Error::new(
            StatusCode::FORBIDDEN,
            "不接收来自其他网站的提交",
            "这份表格只能从本站的在线表格页面提交，内容没有保存。如果您正是从本站页面提交的，请刷新页面后重新提交，或下载 Excel 表格填写后报送。",
        )
        .details(self.offline_route())
    }

    fn rate_limited(&self, wait: Duration) -> Error {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        Error::new(
            StatusCode::TOO_MANY_REQUESTS,
            "提交过于频繁",
            format!(
                "同一网络地址在短时间内提交的次数过多，内容没有保存。请在 {secs} 秒后重新提交。"
            ),
        )
        .retry_after(secs)
    }

    fn unknown_form(&self, id: &str) -> Error {
        Error::new(
            StatusCode::NOT_FOUND,
            "没有这份表格",
            format!("找不到编号为“{id}”的表格。请从通知页面进入在线表格。"),
        )
        .link(self.0.links().site(""), "返回首页")
    }

    fn bad_encoding(&self, def: &FormDef, field: Option<&str>) -> Error {
        let which = match field.and_then(|f| def.field(f)) {
            Some(f) => format!("“{}”一栏的", f.label),
            None => String::new(),
        };
        Error::new(
            StatusCode::BAD_REQUEST,
            "无法识别提交的文字",
            format!(
                "{which}内容不是有效的 UTF-8 编码，表格没有保存。请直接在本站的在线表格页面填写并提交（不要使用另存的网页或其他编码的页面），或下载 Excel 表格填写后报送。"
            ),
        )
        .details(self.offline_route())
        .link(
            self.0.links().site(&FormPaths::of(def).dir()),
            format!("打开《{}》在线表格", def.title),
        )
    }

    fn closed(&self, def: &FormDef) -> Error {
        let deadline = def
            .deadline
            .map(|d| {
                use chrono::Datelike;
                format!("{}年{}月{}日", d.year(), d.month(), d.day())
            })
            .unwrap_or_default();
        let o = &self.0.config.office;
        let xlsx = self.0.links().site(&FormPaths::of(def).xlsx());
        let office = format!("{}{}", o.name, o.section);
        let office = if office.is_empty() {
            "联系科室".to_string()
        } else {
            office
        };
        Error::new(
            StatusCode::GONE,
            "在线报送已截止",
            format!(
                "《{}》的报送截止日期是{deadline}，截止后不再接受在线报送，您这次填写的内容没有保存。如需补报，请先与{office}联系，按联系人的要求下载表格填写后报送："
                , def.title
            ),
        )
        .details(self.offline_route())
        .link(xlsx.clone(), format!("下载《{}》空白表格（XLSX）", def.title))
        // The offline route in the JSON too.
        .json(serde_json::json!({
            "status": 410,
            "error": "在线报送已截止",
            "deadline": deadline,
            "xlsx": xlsx,
            "email": o.email,
            "fax": o.fax,
        }))
    }

    fn unavailable(&self) -> Error {
        Error::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "暂时无法保存",
            "系统暂时无法保存表格，内容没有保存。请使用浏览器的“后退”返回表格（已填写的内容一般仍在），稍后重新提交；如仍不成功，请下载 Excel 表格填写后报送。",
        )
        .details(self.offline_route())
    }

    fn no_receipt(&self) -> Error {
        Error::new(
            StatusCode::NOT_FOUND,
            "找不到这份回执",
            "回执地址不完整或有误。请使用提交后打开的回执页面地址；如需核实报送情况，请告诉联系人参考编号。",
        )
        .details(self.offline_route())
    }
}

/// A receipt (page or PDF) is for its filer only: not cached, its address
/// not sent on as a referrer, not indexed.
fn keep_private(res: &mut Response) {
    let h = res.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, private"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
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
    fn content_types() {
        let ok = |ct: &str| is_urlencoded(&h(&[(header::CONTENT_TYPE, ct)]));
        assert!(ok("application/x-www-form-urlencoded"));
        assert!(ok("Application/X-WWW-Form-Urlencoded; charset=UTF-8"));
        assert!(!ok("application/x-www-form-urlencoded; charset=gbk"));
        assert!(!ok("multipart/form-data; boundary=x"));
        assert!(!ok("application/json"));
        assert!(!is_urlencoded(&HeaderMap::new()));
    }
}
