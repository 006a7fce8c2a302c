//! The admin pages end to end: the real `gazette intake` binary on each
//! engine (a real SQLite file, a real PostgreSQL), and (for the outbox) a
//! real SMTP server on loopback.

use crate::both;
use crate::common::http::{encode, Response};
use crate::common::postgres::{Cluster, Engine};
use crate::common::smtp::SmtpServer;
use crate::common::{department, eventually, Intake, IntakeBuilder};
use std::time::Duration;

const PASSWORD: &str = "梅州 专技科 2016 admin";

/// One hash for the whole test binary (argon2 takes a moment).
fn password_hash() -> String {
    use std::sync::OnceLock;
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| intake::admin::hash_password(PASSWORD).expect("hash"))
        .clone()
}

/// An intake with the admin pages on (mail into a folder unless changed).
fn admin() -> IntakeBuilder {
    Intake::builder().env("GAZETTE_ADMIN_PASSWORD_HASH", password_hash())
}

/// The admin pages of a running intake, with or without the session cookie.
struct Admin {
    intake: Intake,
}

impl Admin {
    fn new(intake: Intake) -> Admin {
        Admin { intake }
    }

    fn get(&self, path: &str, cookie: Option<&str>) -> Response {
        match cookie {
            Some(c) => self.intake.get_with(path, &[("Cookie", c)]),
            None => self.intake.get(path),
        }
    }

    fn post(&self, path: &str, cookie: Option<&str>, pairs: &[(&str, &str)]) -> Response {
        let body = encode(pairs);
        let cookie = cookie.map(|c| ("Cookie", c));
        self.intake
            .post_with(path, cookie.as_slice(), body.as_bytes())
    }

    /// Posts a valid return and gives back its reference.
    fn submit(&self, form: &str, pairs: &[(&str, &str)]) -> String {
        self.intake.submit(form, pairs)
    }

    /// Logs in; returns the `Cookie` header value.
    fn login(&self) -> String {
        let res = self.post("/admin/login", None, &[("password", PASSWORD)]);
        assert_eq!(res.status, 303, "{}", res.text());
        assert_eq!(res.header("location"), Some("/admin/"));
        let set = res.header("set-cookie").expect("set-cookie").to_string();
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
            assert!(set.contains(attr), "{set}");
        }
        assert!(!set.contains("Secure"), "plain HTTP: {set}");
        let pair = set.split(';').next().expect("cookie").to_string();
        assert!(
            pair.starts_with("gazette_admin=") && pair.len() == 14 + 64,
            "{pair}"
        );
        pair
    }
}

/// The CSRF token in a page's forms.
fn csrf(page: &str) -> String {
    let key = r#"name="csrf" value=""#;
    let at = page
        .find(key)
        .unwrap_or_else(|| panic!("no csrf in {page}"))
        + key.len();
    page[at..at + 64].to_string()
}

fn assert_refused(res: &Response, what: &str) {
    match res.status {
        303 => assert!(
            res.header("location")
                .is_some_and(|l| l.starts_with("/admin/login")),
            "{what}: redirected elsewhere: {:?}",
            res.header("location")
        ),
        401 | 403 => {}
        s => panic!("{what}: status {s}: {}", res.text()),
    }
    assert!(
        !res.text().contains(r#"name="csrf""#) && !res.body.starts_with(b"PK"),
        "{what}: content leaked"
    );
}

fn admin_pages_refuse_access_without_login(engine: Engine) {
    let a = Admin::new(admin().engine(engine).start());
    let reference = a.submit("departments", &department("梅州市未登录测试局"));
    let gets = [
        "/admin".to_string(),
        "/admin/".to_string(),
        "/admin/forms/departments".to_string(),
        "/admin/forms/departments?status=待处理".to_string(),
        "/admin/forms/departments/export.xlsx".to_string(),
        "/admin/forms/departments/export.csv".to_string(),
        format!("/admin/returns/{reference}"),
        "/admin/outbox".to_string(),
    ];
    let forged = format!("gazette_admin={}", "a".repeat(64));
    for path in &gets {
        let res = a.get(path, None);
        assert_refused(&res, path);
        assert_eq!(res.status, 303, "{path}");
        assert_refused(
            &a.get(path, Some(&forged)),
            &format!("{path} (forged cookie)"),
        );
    }
    // Sent back to where they were going after login, but never off-site.
    let res = a.get("/admin/outbox", None);
    assert_eq!(
        res.header("location"),
        Some("/admin/login?next=/admin/outbox")
    );
    let posts = [
        format!("/admin/returns/{reference}/setup"),
        format!("/admin/returns/{reference}/feedback"),
        "/admin/outbox/retry".to_string(),
        "/admin/outbox/1/retry".to_string(),
        "/admin/logout".to_string(),
    ];
    for path in &posts {
        let res = a.post(path, None, &[("csrf", &"a".repeat(64)), ("account", "x")]);
        assert_eq!(res.status, 403, "{path}: {}", res.text());
        assert!(res.text().contains("请先登录"), "{path}");
        assert_refused(&a.post(path, Some(&forged), &[("account", "x")]), path);
    }
    // The login page itself is open, in Chinese, with a labelled field.
    let login = a.get("/admin/login", None);
    assert_eq!(login.status, 200);
    let page = login.text();
    assert!(
        page.contains(r#"<label for="password">管理密码</label>"#),
        "{page}"
    );
    assert!(page.contains(r#"autocomplete="current-password""#));
    assert!(page.contains("lang=\"zh-CN\""));
    // Nothing was changed by the refused posts.
    assert_eq!(a.intake.count("SELECT COUNT(*) FROM processing"), 0);
}

fn admin_pages_are_off_without_a_password_hash(engine: Engine) {
    let a = Admin::new(
        admin()
            .engine(engine)
            .env("GAZETTE_ADMIN_PASSWORD_HASH", "")
            .start(),
    );
    for path in [
        "/admin/login",
        "/admin/",
        "/admin/forms/departments/export.xlsx",
    ] {
        let res = a.get(path, None);
        assert_eq!(res.status, 404, "{path}");
        assert!(res.text().contains("管理页面未启用"), "{path}");
    }
    let res = a.post("/admin/login", None, &[("password", "")]);
    assert_eq!(res.status, 404);
    assert!(res.header("set-cookie").is_none());
}

fn wrong_passwords_are_refused_then_slowed_down(engine: Engine) {
    let a = Admin::new(admin().engine(engine).start());
    let empty = a.post("/admin/login", None, &[("password", "")]);
    assert_eq!(empty.status, 422);
    assert!(empty.text().contains("请输入管理密码"));
    for i in 1..=5 {
        let res = a.post("/admin/login", None, &[("password", "wrong password")]);
        assert_eq!(res.status, 403, "try {i}");
        let page = res.text();
        assert!(page.contains("密码不正确"), "{page}");
        assert!(
            page.contains(r#"class="error-summary""#) && page.contains(r##"href="#password""##)
        );
        assert!(page.contains("<title>错误："), "the title says so");
        assert!(res.header("set-cookie").is_none());
    }
    // The sixth try waits, even with the right password: it is not checked.
    for password in ["wrong password", PASSWORD] {
        let res = a.post("/admin/login", None, &[("password", password)]);
        assert_eq!(res.status, 429, "{}", res.text());
        let wait: u64 = res
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .expect("Retry-After");
        assert!((1..=30).contains(&wait), "{wait}");
        assert!(res.text().contains("秒后再试"));
        assert!(res.header("set-cookie").is_none());
    }
}

fn logged_in_admin_lists_marks_audits_and_exports(engine: Engine) {
    let a = Admin::new(admin().engine(engine).start());
    // Listed newest first; posts in the same millisecond are ordered by
    // arrival, so no pause is needed between them.
    let first = a.submit("departments", &department("梅州市甲测试局"));
    let second = a.submit("departments", &department("梅州市乙测试局"));
    let wrong = a.post("/admin/login", None, &[("password", "wrong password")]);
    assert_eq!(wrong.status, 403);
    let cookie = a.login();
    let c = Some(cookie.as_str());

    // The overview links each form with its counts.
    let index = a.get("/admin/", c);
    assert_eq!(index.status, 200, "{}", index.text());
    let page = index.text();
    assert!(
        page.contains(r#"href="/admin/forms/departments""#),
        "{page}"
    );
    assert!(page.contains("退出登录"));
    assert_eq!(index.header("cache-control"), Some("no-store, private"));
    // Who got in and who tried, newest first.
    let logins = &page[page.find("最近登录记录").expect("login records")..];
    let (ok, failed) = (
        logins.find("登录成功").expect("the login"),
        logins.find("密码错误").expect("the wrong password"),
    );
    assert!(ok < failed, "newest first: {logins}");
    assert!(logins.contains("来自 127.0.0.1"), "{logins}");

    // The list: newest first, with notification and processing state.
    let list = a.get("/admin/forms/departments", c).text();
    let (i1, i2) = (
        list.find("梅州市甲测试局").expect("first unit listed"),
        list.find("梅州市乙测试局").expect("second unit listed"),
    );
    assert!(i2 < i1, "newest first");
    assert!(list.contains(&format!(r#"href="/admin/returns/{first}""#)));
    assert!(list.contains(r#"<th scope="col">参考编号</th>"#));
    assert!(list.contains("电子邮件："), "{list}");
    assert!(list.contains("待处理"));
    // XLSX first; the CSV is labelled for other systems, with why.
    let xlsx = list.find("下载一览表（XLSX）").expect("XLSX download");
    let csv = list.find("CSV（供其他系统导入）").expect("CSV download");
    assert!(xlsx < csv, "XLSX is offered first");
    assert!(
        list.contains("1.14414000000144E+17"),
        "the CSV caveat is said"
    );

    // Detail: the answers in form order.
    let detail = a.get(&format!("/admin/returns/{first}"), c);
    assert_eq!(detail.status, 200);
    let page = detail.text();
    let (p1, p2) = (
        page.find("11441700007280420Y").expect("uscc"),
        page.find("514000").expect("postcode"),
    );
    assert!(p1 < p2, "form order");
    let token = csrf(&page);

    // Without the CSRF token, or with another one: refused, nothing stored.
    let setup = format!("/admin/returns/{first}/setup");
    let res = a.post(&setup, c, &[("account", "mz_jia")]);
    assert_eq!(res.status, 403, "{}", res.text());
    let res = a.post(
        &setup,
        c,
        &[("account", "mz_jia"), ("csrf", &"0".repeat(64))],
    );
    assert_eq!(res.status, 403);
    // From another site: refused even with the token.
    let res = a.intake.post_with(
        &setup,
        &[("Cookie", &cookie), ("Origin", "https://evil.example")],
        encode(&[("account", "mz_jia"), ("csrf", &token)]).as_bytes(),
    );
    assert_eq!(res.status, 403);
    assert!(!a
        .get(&format!("/admin/returns/{first}"), c)
        .text()
        .contains("标记为已设置</td>"));

    // No account name: the page again with an error summary.
    let res = a.post(
        &setup,
        c,
        &[("account", " "), ("note", "稍后"), ("csrf", &token)],
    );
    assert_eq!(res.status, 422);
    let page = res.text();
    assert!(page.contains("请填写开设给该单位的账号名称"), "{page}");
    assert!(page.contains(r##"href="#account""##));

    let res = a.post(
        &setup,
        c,
        &[
            ("account", "mz_jia_admin"),
            ("note", "已电话通知张三"),
            ("csrf", &token),
        ],
    );
    assert_eq!(res.status, 303, "{}", res.text());
    assert_eq!(
        res.header("location"),
        Some(format!("/admin/returns/{first}?saved=1").as_str())
    );
    let res = a.post(
        &format!("/admin/returns/{first}/feedback"),
        c,
        &[("note", "单位已确认收到账号"), ("csrf", &token)],
    );
    assert_eq!(res.status, 303, "{}", res.text());

    let page = a.get(&format!("/admin/returns/{first}?saved=1"), c).text();
    assert!(page.contains("已保存"));
    assert!(page.contains("<td>已反馈</td>"), "{page}");
    assert!(page.contains("mz_jia_admin"));
    let a1 = page.find("<td>标记为已设置</td>").expect("set-up audited");
    let a2 = page
        .find("<td>标记为已反馈</td>")
        .expect("feedback audited");
    assert!(a1 < a2, "in order");
    assert!(page.contains("账号：mz_jia_admin；备注：已电话通知张三"));
    assert!(page.contains("<td>管理员</td>"));

    // The filter.
    let done = a
        .get(
            "/admin/forms/departments?status=%E5%B7%B2%E5%8F%8D%E9%A6%88",
            c,
        )
        .text();
    assert!(done.contains("梅州市甲测试局") && !done.contains("梅州市乙测试局"));
    let todo = a
        .get(
            "/admin/forms/departments?status=%E5%BE%85%E5%A4%84%E7%90%86",
            c,
        )
        .text();
    assert!(!todo.contains("梅州市甲测试局") && todo.contains("梅州市乙测试局"));
    assert!(todo.contains(&second));

    // Export: a real workbook with the units, oldest first, and the status.
    let res = a.get("/admin/forms/departments/export.xlsx", c);
    assert_eq!(res.status, 200);
    assert_eq!(
        res.header("content-type"),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    let disposition = res.header("content-disposition").expect("disposition");
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains("filename*=UTF-8''%E5%B8%82"),
        "{disposition}"
    );
    let cells = workbook_cells(&res.body);
    let units: Vec<&String> = cells.iter().filter(|c| c.contains("测试局")).collect();
    assert_eq!(units, ["梅州市甲测试局", "梅州市乙测试局"], "{cells:?}");
    assert!(cells.iter().any(|c| c == "已反馈"));
    assert!(cells.iter().any(|c| c == &first));

    let csv = a.get("/admin/forms/departments/export.csv", c);
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with("\u{FEFF}".as_bytes()), "BOM");
    assert!(csv.text().contains("梅州市乙测试局"));
    assert!(csv
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/csv")));

    // Logout ends the session.
    let res = a.post("/admin/logout", c, &[("csrf", &token)]);
    assert_eq!(res.status, 303);
    assert!(res
        .header("set-cookie")
        .is_some_and(|s| s.contains("Max-Age=0")));
    assert_refused(&a.get("/admin/", c), "after logout");
    assert_refused(
        &a.get("/admin/forms/departments/export.xlsx", c),
        "export after logout",
    );
}

fn workbook_cells(bytes: &[u8]) -> Vec<String> {
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes.to_vec())).expect("xlsx");
    let names = book.sheet_names().to_vec();
    let range = book.worksheet_range(&names[0]).expect("sheet");
    range
        .rows()
        .flat_map(|r| r.iter().map(|c| c.to_string()))
        .filter(|s| !s.is_empty())
        .collect()
}

fn outbox_view_shows_failures_and_retry_sends_them(engine: Engine) {
    // A port with nobody listening yet: every send fails at once.
    let port = crate::common::free_port();
    let a = Admin::new(
        admin()
            .engine(engine)
            .env("GAZETTE_MAIL_TRANSPORT", format!("smtp://127.0.0.1:{port}"))
            .env("GAZETTE_MAIL_RETRY_BASE", "50ms")
            .env("GAZETTE_MAIL_RETRY_MAX", "1")
            .start(),
    );
    let reference = a.submit("departments", &department("梅州市发信测试局"));
    let cookie = a.login();
    let c = Some(cookie.as_str());
    let email_row = |intake: &Intake| -> (i64, String) {
        let rows =
            intake.texts("SELECT CAST(id AS TEXT), status FROM outbox WHERE channel = 'email'");
        let row = &rows[0];
        (
            row[0].as_deref().unwrap_or("").parse().unwrap(),
            row[1].clone().unwrap_or_default(),
        )
    };
    let db = &a.intake;
    let id = eventually(Duration::from_secs(20), || {
        let (id, status) = email_row(db);
        (status == "failed").then_some(id)
    })
    .expect("the email fails");
    let page = a.get("/admin/outbox", c).text();
    assert!(page.contains(&reference), "{page}");
    assert!(page.contains("失败") && page.contains("电子邮件"));
    assert!(page.contains(&format!(r#"action="/admin/outbox/{id}/retry""#)));
    assert!(page.contains("全部重试"));
    // The error is shown on the return's page and in the list too.
    let detail = a.get(&format!("/admin/returns/{reference}"), c).text();
    assert!(detail.contains("失败"), "{detail}");
    let list = a.get("/admin/forms/departments", c).text();
    assert!(list.contains("电子邮件：失败"), "{list}");

    // Now the mail server is up: "重试" on the row requeues and sends it.
    let smtp = SmtpServer::start(&format!("127.0.0.1:{port}"));
    let token = csrf(&page);
    let res = a.post(&format!("/admin/outbox/{id}/retry"), c, &[]);
    assert_eq!(res.status, 403, "no CSRF token: refused");
    let res = a.post(&format!("/admin/outbox/{id}/retry"), c, &[("csrf", &token)]);
    assert_eq!(res.status, 303, "{}", res.text());
    assert_eq!(res.header("location"), Some("/admin/outbox?requeued=1"));
    let mails = smtp.wait_for(1, Duration::from_secs(20));
    assert_eq!(mails.len(), 1, "sent after the retry");
    let sent = eventually(Duration::from_secs(10), || {
        (email_row(db).1 == "sent").then_some(())
    });
    assert!(sent.is_some(), "marked sent");
    let page = a.get("/admin/outbox?requeued=1", c).text();
    assert!(page.contains("已重新排队 1 条通知"), "{page}");
    assert!(!page.contains(&format!("/admin/outbox/{id}/retry")));
    let detail = a.get(&format!("/admin/returns/{reference}"), c).text();
    assert!(
        detail.contains("重新发送通知"),
        "the retry is in the audit trail"
    );

    // "全部重试" with nothing failed requeues nothing.
    let res = a.post("/admin/outbox/retry", c, &[("csrf", &token)]);
    assert_eq!(res.header("location"), Some("/admin/outbox?requeued=0"));
}

/// Sessions are in the database: a restart logs nobody out, and a logout
/// still ends the session for good.
fn a_session_outlives_a_restart_and_not_a_logout(engine: Engine) {
    let mut a = Admin::new(admin().engine(engine).start());
    let cookie = a.login();
    let c = Some(cookie.as_str());
    let token = csrf(&a.get("/admin/", c).text());
    a.intake.restart(&[]);
    let page = a.get("/admin/", c);
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(
        csrf(&page.text()),
        token,
        "the same session, the same token"
    );
    let res = a.post("/admin/logout", c, &[("csrf", &token)]);
    assert_eq!(res.status, 303);
    a.intake.restart(&[]);
    assert_refused(&a.get("/admin/", c), "after logout and a restart");
}

both!(
    a_session_outlives_a_restart_and_not_a_logout,
    admin_pages_refuse_access_without_login,
    admin_pages_are_off_without_a_password_hash,
    wrong_passwords_are_refused_then_slowed_down,
    logged_in_admin_lists_marks_audits_and_exports,
    outbox_view_shows_failures_and_retry_sends_them
);

/// Two intake nodes on one PostgreSQL: a login at one is good at the other
/// (session and CSRF token in the database), a logout at either ends it
/// everywhere, and wrong passwords count wherever they are tried.
#[test]
fn admin_sessions_csrf_and_the_login_throttle_hold_on_every_node() {
    let url = Cluster::get().new_database();
    let a = Admin::new(admin().database_url(&url).start());
    let b = Admin::new(admin().database_url(&url).start());
    let reference = a.submit("departments", &department("梅州市两节点测试局"));
    let cookie = a.login();
    let c = Some(cookie.as_str());
    // Node B knows the session node A made, and takes its CSRF token.
    let page = b.get(&format!("/admin/returns/{reference}"), c);
    assert_eq!(page.status, 200, "{}", page.text());
    let token = csrf(&page.text());
    let res = b.post(
        &format!("/admin/returns/{reference}/setup"),
        c,
        &[
            ("csrf", &token),
            ("account", "mz_liangjiedian"),
            ("note", ""),
        ],
    );
    assert_eq!(res.status, 303, "{}", res.text());
    let detail = a.get(&format!("/admin/returns/{reference}"), c).text();
    assert!(detail.contains("mz_liangjiedian"), "{detail}");
    // A forged token is refused at either node.
    let res = a.post(
        &format!("/admin/returns/{reference}/feedback"),
        c,
        &[("csrf", &"0".repeat(64)), ("note", "")],
    );
    assert_eq!(res.status, 403);
    // Logout at B ends the session at A.
    let res = b.post("/admin/logout", c, &[("csrf", &token)]);
    assert_eq!(res.status, 303);
    assert_refused(&a.get("/admin/", c), "after logout at the other node");

    // Five wrong passwords spread over both nodes: the sixth waits, at both.
    for i in 0..5 {
        let node = if i % 2 == 0 { &a } else { &b };
        let res = node.post("/admin/login", None, &[("password", "错误的密码")]);
        assert_eq!(res.status, 403, "try {i}: {}", res.text());
    }
    for node in [&a, &b] {
        let res = node.post("/admin/login", None, &[("password", PASSWORD)]);
        assert_eq!(res.status, 429, "{}", res.text());
        assert!(res.header("retry-after").is_some());
    }
}
