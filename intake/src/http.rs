//! Routes and handlers. Every answer is a Chinese HTML page, or JSON when the
//! client sends `Accept: application/json`, with the same status codes.

use crate::body::{self, MAX_BODY};
use crate::refs;
use crate::service::{answer_rows, cst_text, Decoy, Inner};
use crate::store::{self, NewSubmission, Stored};
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use forms::{paths, AfterDeadline, FormDef};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn routes(inner: Arc<Inner>) -> Router {
    Router::new()
        .route(paths::FORM_ROUTE, post(post_form).get(get_form))
        .route(paths::RECEIPT_ROUTE, get(get_receipt))
        .route("/healthz", get(healthz))
        .merge(crate::admin::routes())
        .layer(axum::middleware::map_response(common_headers))
        .with_state(inner)
}

pub fn standalone(inner: Arc<Inner>) -> Router {
    let fallback_inner = Arc::clone(&inner);
    Router::new()
        .route("/style.css", get(stylesheet))
        .route("/print.css", get(stylesheet))
        .with_state(Arc::clone(&inner))
        .merge(routes(inner))
        .fallback(move |headers: HeaderMap| {
            let inner = Arc::clone(&fallback_inner);
            async move {
                Pages::new(&inner, &headers).message(
                    StatusCode::NOT_FOUND,
                    "页面不存在",
                    "您要找的页面不存在。在线表格请从通知页面进入。",
                    vec![],
                    vec![],
                )
            }
        })
        .layer(axum::middleware::map_response(common_headers))
}

async fn common_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("same-origin"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("SAMEORIGIN"));
    res
}

async fn stylesheet(State(inner): State<Arc<Inner>>, req: Request) -> Response {
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

async fn healthz(State(inner): State<Arc<Inner>>) -> Response {
    if inner.writer_closed() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "database writer stopped"})),
        )
            .into_response();
    }
    axum::Json(serde_json::json!({
        "status": "ok",
        "forms": inner.forms().keys().collect::<std::collections::BTreeSet<_>>(),
        "outbox_passes": inner.outbox_passes.load(std::sync::atomic::Ordering::SeqCst),
    }))
    .into_response()
}

/// `GET /forms/{id}`: the form itself is a static page; send people there.
async fn get_form(
    State(inner): State<Arc<Inner>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = id.map(|Path(id)| id).unwrap_or_default();
    let site = &inner.config.site.base_url;
    let location = if site.is_empty() {
        format!("/forms/{}/", url_segment(&id))
    } else {
        format!("{}/forms/{}/", site.trim_end_matches('/'), url_segment(&id))
    };
    redirect(StatusCode::MOVED_PERMANENTLY, &location)
}

fn redirect(status: StatusCode, location: &str) -> Response {
    let body = format!(
        "<!DOCTYPE html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>正在跳转</title><p><a href=\"{0}\">{0}</a></p></html>",
        crate::mail::esc(location)
    );
    let mut res = (status, html_headers(), body).into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

fn html_headers() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
    ]
}

/// Percent-encodes anything but unreserved characters (ids are ASCII anyway).
fn url_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json") && !a.contains("text/html"))
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

enum BodyError {
    TooLarge,
    Broken,
}

async fn read_body(body: Body) -> Result<Bytes, BodyError> {
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

async fn post_form(
    State(inner): State<Arc<Inner>>,
    id: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    let pages = Pages::new(&inner, req.headers());
    let Ok(Path(id)) = id else {
        return pages.unknown_form("");
    };
    // Limits first, before the body is read.
    let headers = req.headers();
    if content_length(headers).is_some_and(|n| n > MAX_BODY as u64) {
        return pages.too_large();
    }
    if !is_urlencoded(headers) {
        return pages.unsupported_type();
    }
    if let Err(origin) = inner.origins.check(headers) {
        tracing::warn!("refused a post to {id:?} from another site ({origin})");
        return pages.cross_site();
    }
    if inner.limiter.enabled() {
        match req.extensions().get::<ConnectInfo<SocketAddr>>() {
            Some(ConnectInfo(addr)) => {
                if let Err(wait) = inner.limiter.check(addr.ip(), Instant::now()) {
                    tracing::warn!("rate limit: {} must wait {wait:?}", addr.ip());
                    return pages.rate_limited(wait);
                }
            }
            None => warn_no_client_address(),
        }
    }
    let forms = inner.forms();
    let Some(def) = forms.get(&id).cloned() else {
        return pages.unknown_form(&id);
    };
    let bytes = match read_body(req.into_body()).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return pages.too_large(),
        Err(BodyError::Broken) => {
            return pages.message(
                StatusCode::BAD_REQUEST,
                "提交未完成",
                "接收表格内容时连接中断，表格没有保存。请返回上一页重新提交。",
                vec![],
                vec![],
            )
        }
    };
    let pairs = match body::decode(&bytes) {
        Ok(p) => p,
        Err(e) => return pages.bad_encoding(&def, e.field.as_deref()),
    };
    if pairs
        .iter()
        .any(|(k, v)| k == forms::HONEYPOT && !v.trim().is_empty())
    {
        return pages.decoy(&def, &pairs);
    }
    let now = chrono::Utc::now();
    let late = def.is_late(now);
    if late && def.after_deadline == AfterDeadline::Refuse {
        return pages.closed(&def);
    }
    match def.validate(&pairs) {
        Ok(answers) => pages.store(&def, answers, late, now).await,
        Err(errors) => pages.invalid(&def, &pairs, &errors, now),
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

async fn get_receipt(
    State(inner): State<Arc<Inner>>,
    token: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let pages = Pages::new(&inner, &headers);
    let token = match token {
        Ok(Path(t)) if refs::is_token(&t) => t,
        _ => return pages.no_receipt(),
    };
    let lookup = token.clone();
    match inner
        .readers
        .run(move |c| store::submission_by_token(c, &lookup))
        .await
    {
        Ok(Some(sub)) => {
            let forms = inner.forms();
            let def = forms.get(&sub.form_id);
            let rows = answer_rows(def.map(|d| d.as_ref()), &sub.answers);
            pages.receipt(ReceiptView {
                form_id: &sub.form_id,
                form_title: &sub.form_title,
                annex: def.and_then(|d| d.annex),
                reference: &sub.reference,
                received_at: sub.received_at,
                late: sub.late,
                rows: &rows,
            })
        }
        Ok(None) => match inner.decoys.get(&token) {
            Some(d) => {
                let forms = inner.forms();
                let def = forms.get(&d.form_id);
                pages.receipt(ReceiptView {
                    form_id: &d.form_id,
                    form_title: def.map(|d| d.title.as_str()).unwrap_or(""),
                    annex: def.and_then(|d| d.annex),
                    reference: &d.reference,
                    received_at: d.received_at,
                    late: false,
                    rows: &d.rows,
                })
            }
            None => pages.no_receipt(),
        },
        Err(e) => {
            tracing::error!("reading a receipt: {e}");
            pages.unavailable()
        }
    }
}

struct ReceiptView<'a> {
    form_id: &'a str,
    form_title: &'a str,
    annex: Option<u32>,
    reference: &'a str,
    received_at: i64,
    late: bool,
    rows: &'a [(String, String)],
}

#[derive(Serialize)]
struct Link {
    href: String,
    text: String,
}

#[derive(Serialize)]
struct Row<'a> {
    label: &'a str,
    value: &'a str,
}

/// Builds responses for one request, as HTML or JSON.
struct Pages<'a> {
    inner: &'a Inner,
    json: bool,
}

impl<'a> Pages<'a> {
    fn new(inner: &'a Inner, headers: &HeaderMap) -> Pages<'a> {
        Pages {
            inner,
            json: wants_json(headers),
        }
    }

    /// Where site pages (the form page, its spreadsheet) live, ending in `/`.
    fn site_root(&self) -> String {
        let base = self.inner.config.site.base_url.trim();
        if base.is_empty() {
            "/".to_string()
        } else {
            format!("{}/", base.trim_end_matches('/'))
        }
    }

    fn intake_url(&self, path: &str) -> String {
        let url = self.inner.config.intake.url.trim();
        if url.is_empty() {
            path.to_string()
        } else {
            format!("{}{path}", url.trim_end_matches('/'))
        }
    }

    fn xlsx_url(&self, id: &str) -> String {
        format!("{}{}", self.site_root(), paths::FormPaths::new(id).xlsx())
    }

    fn context(&self, page_title: &str) -> tera::Context {
        let mut ctx = tera::Context::new();
        ctx.insert("site", &self.inner.config.site);
        ctx.insert("office", &self.inner.config.office);
        ctx.insert("root", "/");
        ctx.insert("page_title", page_title);
        ctx
    }

    fn render(&self, status: StatusCode, template: &str, ctx: &tera::Context) -> Response {
        match self.inner.theme().render(template, ctx) {
            Ok(html) => (status, html_headers(), html).into_response(),
            Err(e) => {
                tracing::error!("rendering {template}: {e}");
                let heading = ctx
                    .get("heading")
                    .and_then(|v| v.as_str())
                    .unwrap_or("页面暂时无法显示");
                let message = ctx
                    .get("message")
                    .and_then(|v| v.as_str())
                    .unwrap_or("页面模板出错，请稍后再试，或与联系人联系。");
                let body = format!(
                    "<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{0}</title></head><body><h1>{0}</h1><p>{1}</p></body></html>",
                    crate::mail::esc(heading),
                    crate::mail::esc(message)
                );
                (status, html_headers(), body).into_response()
            }
        }
    }

    fn json(&self, status: StatusCode, value: serde_json::Value) -> Response {
        (
            status,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(value),
        )
            .into_response()
    }

    /// A status page (`message.html`) or `{"status", "error", "message", "details"}`.
    fn message(
        &self,
        status: StatusCode,
        heading: &str,
        message: &str,
        details: Vec<String>,
        links: Vec<Link>,
    ) -> Response {
        if self.json {
            return self.json(
                status,
                serde_json::json!({
                    "status": status.as_u16(),
                    "error": heading,
                    "message": message,
                    "details": details,
                }),
            );
        }
        let mut ctx = self.context(heading);
        ctx.insert("status", &status.as_u16());
        ctx.insert("heading", heading);
        ctx.insert("message", message);
        ctx.insert("details", &details);
        ctx.insert("links", &links);
        self.render(status, "message.html", &ctx)
    }

    fn offline_route(&self) -> Vec<String> {
        let o = &self.inner.config.office;
        let mut v = Vec::new();
        if !o.email.is_empty() {
            v.push(format!("电子邮件：{}", o.email));
        }
        if !o.fax.is_empty() {
            v.push(format!("传真：{}", o.fax));
        }
        if !o.phone.is_empty() {
            let person = if o.person.is_empty() {
                String::new()
            } else {
                format!("（联系人：{}）", o.person)
            };
            v.push(format!("电话：{}{person}", o.phone));
        }
        v
    }

    fn too_large(&self) -> Response {
        self.message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "提交的内容过多",
            "表格内容超过 64 KB 的上限，没有保存。请删减备注等较长的文字后重新提交；内容确实较多时，可下载 Excel 表格填写后通过电子邮件报送。",
            self.offline_route(),
            vec![],
        )
    }

    fn unsupported_type(&self) -> Response {
        self.message(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "提交方式不正确",
            "本服务只接收网页表格以 UTF-8 编码提交的内容（application/x-www-form-urlencoded）。请打开通知页面上的在线表格填写并提交。",
            vec![],
            vec![],
        )
    }

    fn cross_site(&self) -> Response {
        self.message(
            StatusCode::FORBIDDEN,
            "不接收来自其他网站的提交",
            "这份表格只能从本站的在线表格页面提交，内容没有保存。如果您正是从本站页面提交的，请刷新页面后重新提交，或下载 Excel 表格填写后报送。",
            self.offline_route(),
            vec![],
        )
    }

    fn rate_limited(&self, wait: Duration) -> Response {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut res = self.message(
            StatusCode::TOO_MANY_REQUESTS,
            "提交过于频繁",
            &format!(
                "同一网络地址在短时间内提交的次数过多，内容没有保存。请在 {secs} 秒后重新提交。"
            ),
            vec![],
            vec![],
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res
    }

    fn unknown_form(&self, id: &str) -> Response {
        self.message(
            StatusCode::NOT_FOUND,
            "没有这份表格",
            &format!("找不到编号为“{id}”的表格。请从通知页面进入在线表格。"),
            vec![],
            vec![Link {
                href: self.site_root(),
                text: "返回首页".into(),
            }],
        )
    }

    fn bad_encoding(&self, def: &FormDef, field: Option<&str>) -> Response {
        let which = match field.and_then(|f| def.field(f)) {
            Some(f) => format!("“{}”一栏的", f.label),
            None => String::new(),
        };
        self.message(
            StatusCode::BAD_REQUEST,
            "无法识别提交的文字",
            &format!(
                "{which}内容不是有效的 UTF-8 编码，表格没有保存。请直接在本站的在线表格页面填写并提交（不要使用另存的网页或其他编码的页面），或下载 Excel 表格填写后报送。"
            ),
            self.offline_route(),
            vec![Link {
                href: format!("{}forms/{}/", self.site_root(), url_segment(&def.id)),
                text: format!("打开《{}》在线表格", def.title),
            }],
        )
    }

    fn closed(&self, def: &FormDef) -> Response {
        let deadline = def
            .deadline
            .map(|d| {
                use chrono::Datelike;
                format!("{}年{}月{}日", d.year(), d.month(), d.day())
            })
            .unwrap_or_default();
        let o = &self.inner.config.office;
        let mut res = self.message(
            StatusCode::GONE,
            "已过报送截止日期",
            &format!(
                "《{}》的报送截止日期为{deadline}，在线报送已经关闭，内容没有保存。如需补报，请下载 Excel 表格填写后，通过电子邮件或传真报送{}{}：",
                def.title, o.name, o.section
            ),
            self.offline_route(),
            vec![Link {
                href: self.xlsx_url(&def.id),
                text: format!("下载《{}》Excel 表格", def.title),
            }],
        );
        if self.json {
            // Add the offline route to the JSON too.
            let body = serde_json::json!({
                "status": 410,
                "error": "已过报送截止日期",
                "deadline": deadline,
                "xlsx": self.xlsx_url(&def.id),
                "email": o.email,
                "fax": o.fax,
            });
            res = self.json(StatusCode::GONE, body);
        }
        res
    }

    fn unavailable(&self) -> Response {
        self.message(
            StatusCode::SERVICE_UNAVAILABLE,
            "暂时无法保存",
            "系统暂时无法保存表格，内容没有保存。请使用浏览器的“后退”返回表格（已填写的内容一般仍在），稍后重新提交；如仍不成功，请下载 Excel 表格填写后报送。",
            self.offline_route(),
            vec![],
        )
    }

    fn no_receipt(&self) -> Response {
        self.message(
            StatusCode::NOT_FOUND,
            "找不到这份回执",
            "回执地址不完整或有误。请使用提交后打开的回执页面地址；如需核实报送情况，请告诉联系人参考编号。",
            self.offline_route(),
            vec![],
        )
    }

    /// 422: the same form again with the errors and every value kept.
    fn invalid(
        &self,
        def: &FormDef,
        pairs: &[(String, String)],
        errors: &forms::Errors,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Response {
        if self.json {
            let mut map = serde_json::Map::new();
            for e in &errors.0 {
                map.entry(e.field.clone())
                    .or_insert_with(|| serde_json::Value::String(e.message.clone()));
            }
            return self.json(
                StatusCode::UNPROCESSABLE_ENTITY,
                serde_json::json!({ "errors": map }),
            );
        }
        let view = def.view(pairs, errors, now);
        let links = forms::paths::Links::new(self.site_root(), &self.inner.config.intake.url);
        // The same blank the site wrote, so the size shown is the download's.
        let xlsx_bytes =
            forms::sheet::blank_xlsx(def, &self.inner.config.office.return_instructions())
                .ok()
                .map(|b| b.len());
        let page = forms::paths::FormPage::new(view, &links, xlsx_bytes);
        let mut ctx = self.context(&format!("{}（请更正后重新提交）", def.title));
        if let Ok(fields) = tera::Context::from_serialize(&page) {
            ctx.extend(fields);
        }
        self.render(StatusCode::UNPROCESSABLE_ENTITY, "form.html", &ctx)
    }

    /// Stores a valid return; answers after the commit.
    async fn store(
        &self,
        def: &FormDef,
        answers: forms::Answers,
        late: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Response {
        let answers_json = match serde_json::to_string(&answers) {
            Ok(j) => j,
            Err(e) => {
                tracing::error!("serialising answers for {}: {e}", def.id);
                return self.unavailable();
            }
        };
        let new = NewSubmission {
            form_id: def.id.clone(),
            form_title: def.title.clone(),
            unit: def.title_answer(&answers),
            hash: store::repeat_hash(&def.id, &answers_json),
            answers_json,
            late,
            received_at: now.timestamp_millis(),
            recipients: self.inner.recipients(def),
            faxes: crate::fax::queued_numbers(&self.inner.config),
            source: crate::status::Source::Web,
        };
        match self.inner.writer.insert(new).await {
            Ok(stored) => {
                tracing::debug!(
                    "stored {} for {}{}",
                    stored.reference,
                    def.id,
                    if stored.repeat { " (repeat)" } else { "" }
                );
                self.see_receipt(&stored)
            }
            Err(e) => {
                tracing::error!("storing a return to {}: {e}", def.id);
                self.unavailable()
            }
        }
    }

    fn see_receipt(&self, stored: &Stored) -> Response {
        let location = self.intake_url(&paths::receipt(&stored.token));
        if self.json {
            let mut res = self.json(
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
    fn decoy(&self, def: &FormDef, pairs: &[(String, String)]) -> Response {
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
        self.inner.decoys.put(
            token.clone(),
            Decoy {
                reference: reference.clone(),
                form_id: def.id.clone(),
                received_at: store::now_ms(),
                rows,
            },
        );
        self.see_receipt(&Stored {
            reference,
            token,
            repeat: false,
        })
    }

    fn receipt(&self, r: ReceiptView<'_>) -> Response {
        let received = cst_text(r.received_at);
        let mut res = if self.json {
            let answers: Vec<_> = r
                .rows
                .iter()
                .map(|(l, v)| serde_json::json!({"label": l, "value": v}))
                .collect();
            self.json(
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
        } else {
            let mut ctx = self.context(&format!("报送回执（参考编号 {}）", r.reference));
            ctx.insert(
                "form",
                &serde_json::json!({"id": r.form_id, "title": r.form_title, "annex": r.annex}),
            );
            ctx.insert("reference", r.reference);
            ctx.insert("received", &received);
            ctx.insert("late", &r.late);
            let rows: Vec<Row> = r
                .rows
                .iter()
                .map(|(l, v)| Row { label: l, value: v })
                .collect();
            ctx.insert("answers", &rows);
            self.render(StatusCode::OK, "receipt.html", &ctx)
        };
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
        res
    }
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

    #[test]
    fn json_is_chosen_by_accept() {
        assert!(wants_json(&h(&[(header::ACCEPT, "application/json")])));
        assert!(!wants_json(&h(&[(
            header::ACCEPT,
            "text/html,application/xhtml+xml,application/json;q=0.9"
        )])));
        assert!(!wants_json(&HeaderMap::new()));
    }

    #[test]
    fn segments_are_escaped() {
        assert_eq!(url_segment("departments"), "departments");
        assert_eq!(url_segment("a b/c"), "a%20b%2Fc");
    }
}
