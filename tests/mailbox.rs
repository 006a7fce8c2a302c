//! Returns by email: a real Dovecot (tests/common/dovecot.rs) holds the
//! office mailbox, the real `gazette intake` (or `gazette mailbox --once`)
//! reads it, and the SMTP sink receives the answers and notifications.

use crate::both;
use crate::common::dovecot::{Dovecot, MessageBuilder};
use crate::common::postgres::{Db, Engine};
use crate::common::smtp::{Mail, SmtpServer};
use crate::common::{self, eventually, Intake, IntakeBuilder, DEPARTMENT_HEADER};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);
const SENDER: &str = "张三 <zhang@unit.test>";

const ADMIN_PASSWORD: &str = "专技科 mailbox admin";

fn admin_hash() -> String {
    use std::sync::OnceLock;
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| intake::admin::hash_password(ADMIN_PASSWORD).expect("hash"))
        .clone()
}

/// Logs in to the admin pages; the `Cookie` header value.
fn admin_login(intake: &Intake) -> String {
    let body = crate::common::http::encode(&[("password", ADMIN_PASSWORD)]);
    let res = intake.post_with("/admin/login", &[], body.as_bytes());
    assert_eq!(res.status, 303, "{}", res.text());
    let set = res.header("set-cookie").expect("set-cookie").to_string();
    set.split(';').next().expect("cookie").to_string()
}

fn intake(dovecot: &Dovecot, smtp: &SmtpServer) -> IntakeBuilder {
    let mut b = Intake::builder().smtp(smtp);
    for (k, v) in dovecot.env() {
        b = b.env(k, v);
    }
    b
}

/// A row of 附件1 as a unit fills it in; `uscc` and `mobile` may be made wrong.
fn row(unit: &str, uscc: &str, mobile: &str) -> Vec<String> {
    [
        unit,
        uscc,
        "机关",
        "梅州市梅江区彬芳大道1号",
        "514000",
        "陈七",
        "副科长",
        "办公室",
        "0753-2128309",
        mobile,
        "",
        "chen@unit.test",
        "",
        "周八",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

const USCC: &str = "11441700007280420Y";

/// The published blank form's layout filled in: title row, header row, rows.
fn table(rows: &[Vec<String>]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name("市直主管部门信息一览表").unwrap();
    ws.write_string(0, 0, "市直主管部门信息一览表").unwrap();
    for (c, h) in DEPARTMENT_HEADER.iter().enumerate() {
        ws.write_string(1, c as u16, *h).unwrap();
    }
    for (r, cells) in rows.iter().enumerate() {
        for (c, v) in cells.iter().enumerate() {
            if !v.is_empty() {
                ws.write_string(r as u32 + 2, c as u16, v).unwrap();
            }
        }
    }
    book.save_to_buffer().unwrap()
}

fn replies_to(mails: &[Mail], to: &str) -> Vec<Mail> {
    mails
        .iter()
        .filter(|m| m.to.iter().any(|t| t == to))
        .cloned()
        .collect()
}

fn wait_count(intake: &Intake, sql: &str, n: i64) {
    let got = eventually(WAIT, || (intake.count(sql) >= n).then_some(()));
    assert!(
        got.is_some(),
        "{sql}: {} after {WAIT:?}, wanted {n}\n{}",
        intake.count(sql),
        intake.log()
    );
}

fn wait_folder(dovecot: &Dovecot, folder: &str, n: usize) {
    let got = eventually(WAIT, || (dovecot.count(folder) == n).then_some(()));
    assert!(
        got.is_some(),
        "{folder} holds {}, wanted {n}",
        dovecot.count(folder)
    );
}

fn a_good_table_is_stored_answered_with_the_references_and_the_office_notified(engine: Engine) {
    let dovecot = Dovecot::start();
    let smtp = SmtpServer::start("127.0.0.1:0");
    let intake = intake(&dovecot, &smtp)
        .engine(engine)
        .env("GAZETTE_ADMIN_PASSWORD_HASH", admin_hash())
        .start();
    // One web return beside the mailed ones.
    let web = intake.submit("departments", &common::department("梅州市教育局"));
    dovecot.deliver(
        &MessageBuilder::new(SENDER, "报送附件1", "good-1@unit.test")
            .header("References", "<earlier@unit.test>")
            .attach(
                "附件1 市直主管部门信息一览表.xlsx",
                table(&[
                    row("梅州市交通运输局", USCC, "13800138000"),
                    row("梅州市林业局", USCC, "13900139000"),
                ]),
            )
            .build(),
    );
    wait_count(
        &intake,
        "SELECT COUNT(*) FROM submissions WHERE source = 'mail'",
        2,
    );
    wait_folder(&dovecot, "Gazette-Processed", 1);
    // MOVE copies first, then expunges: the inbox empties a moment later.
    wait_folder(&dovecot, "INBOX", 0);
    // The message's sender, subject and date are kept with the rows.
    let got = intake.texts(
        "SELECT m.sender, m.subject, CAST(m.sent_at AS TEXT) FROM submissions s JOIN mail_messages m ON m.id = s.mail_id LIMIT 1",
    );
    let (sender, subject, sent_at) = (
        got[0][0].clone().unwrap_or_default(),
        got[0][1].clone().unwrap_or_default(),
        got[0][2]
            .as_deref()
            .and_then(|t| t.parse::<i64>().ok())
            .unwrap_or(0),
    );
    assert_eq!(sender, SENDER);
    assert_eq!(subject, "报送附件1");
    assert_eq!(sent_at, 1_468_981_860_000);
    // Two notifications to the office (and the web one's), one answer to the sender.
    let mails = smtp.wait_for(4, WAIT);
    let office = replies_to(&mails, "zjk@hrss.meizhou.example");
    assert_eq!(office.len(), 3, "{mails:?}");
    let answers = replies_to(&mails, "zhang@unit.test");
    assert_eq!(answers.len(), 1);
    let a = &answers[0];
    assert_eq!(
        a.header("In-Reply-To").as_deref(),
        Some("<good-1@unit.test>")
    );
    assert_eq!(
        a.header("References").as_deref(),
        Some("<earlier@unit.test> <good-1@unit.test>")
    );
    assert_eq!(a.header("Auto-Submitted").as_deref(), Some("auto-replied"));
    let text = a.text();
    assert!(text.contains("Re: 报送附件1"), "{text}");
    let refs: Vec<String> = intake
        .texts("SELECT reference FROM submissions WHERE source = 'mail' ORDER BY id")
        .into_iter()
        .filter_map(|r| r[0].clone())
        .collect();
    for r in &refs {
        assert!(text.contains(&format!("参考编号 {r}")), "{r}: {text}");
    }
    assert!(text.contains("单位全称：梅州市交通运输局"), "{text}");
    assert!(text.contains("手机：13900139000"), "{text}");
    assert!(
        text.contains("forms/departments/departments.xlsx"),
        "{text}"
    );
    assert!(text.contains("forms/departments/index.html"), "{text}");
    // The admin pages: the channel of each, the mail's sender, subject and
    // date, and the answer beside the notifications.
    let cookie = admin_login(&intake);
    let list = intake
        .get_with("/admin/forms/departments", &[("Cookie", &cookie)])
        .text();
    let cell = |r: &str| {
        let at = list
            .find(r)
            .unwrap_or_else(|| panic!("{r} not listed: {list}"));
        let row_end = list[at..].find("</tr>").unwrap() + at;
        list[at..row_end].to_string()
    };
    assert!(
        cell(&refs[0]).contains("<td>邮件</td>"),
        "{}",
        cell(&refs[0])
    );
    assert!(cell(&web).contains("<td>网页</td>"), "{}", cell(&web));
    let detail = intake
        .get_with(
            &format!("/admin/returns/{}", refs[0]),
            &[("Cookie", &cookie)],
        )
        .text();
    assert!(detail.contains("<td>邮件</td>"), "{detail}");
    assert!(detail.contains("张三 &lt;zhang@unit.test&gt;"), "{detail}");
    assert!(detail.contains("报送附件1"), "{detail}");
    assert!(detail.contains("2016年7月20日 10:31"), "{detail}");
    let outbox = intake
        .get_with("/admin/outbox", &[("Cookie", &cookie)])
        .text();
    assert!(outbox.contains("回执（邮件报送）"), "{outbox}");
    assert!(outbox.contains("zhang@unit.test"), "{outbox}");
    // The export lists them like any other return.
    let out = intake.site.path().join("d.csv");
    let r = intake.run(&["export", "departments", "--output", out.to_str().unwrap()]);
    assert!(r.status.success());
    let csv = std::fs::read_to_string(&out).unwrap();
    assert!(
        csv.contains("梅州市交通运输局") && csv.contains("梅州市林业局"),
        "{csv}"
    );
}

fn three_bad_cells_store_nothing_and_the_answer_names_exactly_them(engine: Engine) {
    let dovecot = Dovecot::start();
    let smtp = SmtpServer::start("127.0.0.1:0");
    let site = common::Site::with_repo_forms();
    let db = Db::new(&site, engine);
    let env: Vec<(&str, String)> = dovecot.env();
    dovecot.deliver(
        &MessageBuilder::new(SENDER, "报送", "bad-1@unit.test")
            .attach(
                "表.xlsx",
                table(&[
                    row("梅州市交通运输局", USCC, "13800138000"),
                    // Row 4: a wrong check character.
                    row("梅州市林业局", "11441700007280420X", "13900139000"),
                    // Row 5: no unit name, a mobile that is not one.
                    row("", USCC, "12345"),
                ]),
            )
            .build(),
    );
    // One pass by hand; the answer waits in the queue.
    let r = db.run(&["mailbox", "--once"], &env);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(stdout.contains("读取 1 封邮件"), "{stdout}");
    assert!(stdout.contains("表格有误 1"), "{stdout}");
    assert_eq!(db.count("SELECT COUNT(*) FROM submissions"), 0);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM replies WHERE kind = 'problems'"),
        1
    );
    assert_eq!(dovecot.count("Gazette-Processed"), 1);
    // A running intake sends it.
    let intake = db.intake(intake(&dovecot, &smtp).site(site)).start();
    let mails = smtp.wait_for(1, WAIT);
    let answers = replies_to(&mails, "zhang@unit.test");
    assert_eq!(answers.len(), 1, "{mails:?}");
    let text = answers[0].text();
    let problems: Vec<&str> = text.lines().filter(|l| l.starts_with("第 ")).collect();
    assert_eq!(problems.len(), 3, "{text}");
    for prefix in [
        "第 4 行 第 2 列 (统一社会信用代码): ",
        "第 5 行 第 1 列 (单位全称): ",
        "第 5 行 第 10 列 (手机): ",
    ] {
        assert!(
            problems
                .iter()
                .any(|l| l.starts_with(prefix) && l.len() > prefix.len()),
            "no {prefix}: {text}"
        );
    }
    assert!(text.contains("整份表格都没有登记"), "{text}");
    intake.outbox_looked();
    assert_eq!(smtp.count(), 1, "nothing else is sent");
    assert_eq!(intake.rows(), 0);
}

/// The same table saved by WPS or LibreOffice as `.ods`: a zip holding
/// `mimetype`, `META-INF/manifest.xml` and `content.xml`.
fn ods_table(rows: &[Vec<String>]) -> Vec<u8> {
    use std::io::Write as _;
    let cells = |values: &[&str]| -> String {
        values
            .iter()
            .map(|v| {
                if v.is_empty() {
                    "<table:table-cell/>".to_string()
                } else {
                    format!(r#"<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>"#)
                }
            })
            .collect()
    };
    let mut body = format!(
        "<table:table-row>{}</table:table-row><table:table-row>{}</table:table-row>",
        cells(&["市直主管部门信息一览表"]),
        cells(&DEPARTMENT_HEADER)
    );
    for r in rows {
        let r: Vec<&str> = r.iter().map(String::as_str).collect();
        body += &format!("<table:table-row>{}</table:table-row>", cells(&r));
    }
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("mimetype", stored).unwrap();
    z.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    z.start_file(
        "META-INF/manifest.xml",
        zip::write::SimpleFileOptions::default(),
    )
    .unwrap();
    z.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#).unwrap();
    z.start_file("content.xml", zip::write::SimpleFileOptions::default())
        .unwrap();
    write!(z, r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="市直主管部门信息一览表">{body}</table:table></office:spreadsheet></office:body></office:document-content>"#).unwrap();
    z.finish().unwrap().into_inner()
}

/// 水务局 and 气象局 in BIFF8, made by xlwt (tests/fixtures/mailbox/make_xls.py).
const XLS: &[u8] = include_bytes!("fixtures/mailbox/departments.xls");

fn ods_and_xls_attachments_are_read_like_xlsx_and_so_are_they_by_import(engine: Engine) {
    let dovecot = Dovecot::start();
    let site = common::Site::with_repo_forms();
    let db = Db::new(&site, engine);
    let env: Vec<(&str, String)> = dovecot.env();
    let ods = ods_table(&[
        row("梅州市交通运输局", USCC, "13800138000"),
        row("梅州市林业局", USCC, "13900139000"),
    ]);
    dovecot.deliver(
        &MessageBuilder::new(SENDER, "报送（WPS）", "ods-xls@unit.test")
            .attach("附件1.ods", ods.clone())
            .attach("附件1.xls", XLS.to_vec())
            .build(),
    );
    let r = db.run(&["mailbox", "--once"], &env);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM submissions WHERE source = 'mail'"),
        4,
        "{stdout}"
    );
    for unit in [
        "梅州市交通运输局",
        "梅州市林业局",
        "梅州市水务局",
        "梅州市气象局",
    ] {
        let sql =
            format!("SELECT COUNT(*) FROM submissions WHERE CAST(answers AS TEXT) LIKE '%{unit}%'");
        assert_eq!(db.count(&sql), 1, "{unit}");
    }
    assert_eq!(
        db.count("SELECT COUNT(*) FROM replies WHERE kind = 'receipt'"),
        1
    );
    assert_eq!(dovecot.count("Gazette-Processed"), 1);
    // `gazette import` reads both too: every row is already there.
    for (name, bytes) in [("a.ods", ods), ("b.xls", XLS.to_vec())] {
        let file = site.path().join(name);
        std::fs::write(&file, bytes).unwrap();
        let r = db.run(&["import", "departments", file.to_str().unwrap()], &[]);
        let out = format!(
            "{}{}",
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&r.stderr)
        );
        assert!(r.status.success(), "{out}");
        assert_eq!(out.matches("已导入或已提交").count(), 2, "{out}");
    }
    assert_eq!(db.count("SELECT COUNT(*) FROM submissions"), 4);
}

fn the_same_message_twice_is_stored_once_and_answered_once(engine: Engine) {
    let dovecot = Dovecot::start();
    let smtp = SmtpServer::start("127.0.0.1:0");
    let raw = MessageBuilder::new(SENDER, "报送", "twice@unit.test")
        .attach(
            "表.xlsx",
            table(&[row("梅州市水务局", USCC, "13800138000")]),
        )
        .build();
    dovecot.deliver(&raw);
    dovecot.deliver(&raw);
    let intake = intake(&dovecot, &smtp).engine(engine).start();
    wait_folder(&dovecot, "Gazette-Processed", 2);
    assert_eq!(intake.rows(), 1);
    let mails = smtp.wait_for(2, WAIT);
    intake.outbox_looked();
    let mails = if mails.len() < smtp.count() {
        smtp.mails()
    } else {
        mails
    };
    assert_eq!(replies_to(&mails, "zhang@unit.test").len(), 1, "{mails:?}");
    assert_eq!(replies_to(&mails, "zjk@hrss.meizhou.example").len(), 1);
    // Delivered once more later: still nothing new.
    dovecot.deliver(&raw);
    wait_folder(&dovecot, "Gazette-Processed", 3);
    intake.outbox_looked();
    assert_eq!(intake.rows(), 1);
    assert_eq!(smtp.count(), 2);
}

fn auto_replies_and_bounces_get_no_answer_and_a_plain_question_gets_how_to(engine: Engine) {
    let dovecot = Dovecot::start();
    let smtp = SmtpServer::start("127.0.0.1:0");
    let auto = MessageBuilder::new(SENDER, "自动回复：外出", "auto@unit.test")
        .header("Auto-Submitted", "auto-replied")
        .text("我外出了。")
        .build();
    let bounce = MessageBuilder::new(
        "Mail Delivery System <MAILER-DAEMON@unit.test>",
        "Undelivered Mail Returned to Sender",
        "bounce@unit.test",
    )
    .header("Return-Path", "<>")
    .attach("表.xlsx", table(&[row("梅州市某局", USCC, "13800138000")]))
    .build();
    let list = MessageBuilder::new("news <news@lists.test>", "周报", "list@lists.test")
        .header("Precedence", "list")
        .header("List-Id", "<weekly.lists.test>")
        .build();
    let question = MessageBuilder::new(SENDER, "请问怎么报送？", "question@unit.test")
        .text("请问表格在哪里下载？")
        .build();
    dovecot.deliver_many([auto, bounce, list, question]);
    let intake = intake(&dovecot, &smtp).engine(engine).start();
    wait_folder(&dovecot, "Gazette-Processed", 4);
    let mails = smtp.wait_for(1, WAIT);
    intake.outbox_looked();
    assert_eq!(smtp.count(), 1, "{mails:?}");
    let answer = &mails[0];
    assert_eq!(answer.to, ["zhang@unit.test"]);
    assert_eq!(
        answer.header("In-Reply-To").as_deref(),
        Some("<question@unit.test>")
    );
    let text = answer.text();
    assert!(text.contains("没有找到可以登记的表格附件"), "{text}");
    assert!(
        text.contains("forms/departments/departments.xlsx"),
        "{text}"
    );
    assert!(text.contains("forms/committees/committees.xlsx"), "{text}");
    assert_eq!(intake.rows(), 0, "a bounce's attachment is not a return");
    assert_eq!(
        intake.count("SELECT COUNT(*) FROM mail_messages WHERE outcome = 'ignored'"),
        3
    );
}

/// A zip whose one entry inflates to `mb` megabytes of zeros.
fn bomb(mb: usize) -> Vec<u8> {
    use std::io::Write as _;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    z.start_file(
        "xl/worksheets/sheet1.xml",
        zip::write::SimpleFileOptions::default().compression_level(Some(9)),
    )
    .unwrap();
    let mb_of_zeros = vec![b'0'; 1024 * 1024];
    for _ in 0..mb {
        z.write_all(&mb_of_zeros).unwrap();
    }
    z.finish().unwrap().into_inner()
}

fn a_spreadsheet_unpacking_to_100_mb_is_refused_with_a_note(engine: Engine) {
    let dovecot = Dovecot::start();
    let smtp = SmtpServer::start("127.0.0.1:0");
    let bytes = bomb(100);
    assert!(bytes.len() < 1024 * 1024, "{}", bytes.len());
    dovecot.deliver(
        &MessageBuilder::new(SENDER, "报送", "bomb@unit.test")
            .attach("表.xlsx", bytes)
            .build(),
    );
    let intake = intake(&dovecot, &smtp)
        .engine(engine)
        .env("GAZETTE_ADMIN_PASSWORD_HASH", admin_hash())
        .start();
    wait_folder(&dovecot, "Gazette-Failed", 1);
    assert_eq!(intake.rows(), 0);
    let note: String = intake.texts("SELECT note FROM mail_messages WHERE outcome = 'failed'")[0]
        [0]
    .clone()
    .unwrap_or_default();
    assert!(note.contains("解压后超过"), "{note}");
    let mails = smtp.wait_for(1, WAIT);
    assert!(
        mails[0].text().contains("解压后超过"),
        "{}",
        mails[0].text()
    );
    // The overview lists it for a person.
    let cookie = admin_login(&intake);
    let page = intake.get_with("/admin", &[("Cookie", &cookie)]);
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("无法处理的邮件"), "{html}");
    assert!(html.contains("解压后超过"), "{html}");
}

fn kill_9_during_a_pass_neither_loses_nor_doubles_anything(engine: Engine) {
    const N: usize = 400;
    let dovecot = Dovecot::start();
    let smtp = SmtpServer::start("127.0.0.1:0");
    let units: Vec<String> = (0..N).map(|i| format!("梅州市第{i}局")).collect();
    dovecot.deliver_many(units.iter().enumerate().map(|(i, u)| {
        MessageBuilder::new(SENDER, &format!("报送 {i}"), &format!("k{i}@unit.test"))
            .attach("表.xlsx", table(&[row(u, USCC, "13800138000")]))
            .build()
    }));
    let mut intake = intake(&dovecot, &smtp).engine(engine).start();
    // Some committed, some not yet moved or read.
    let some = eventually(WAIT, || (intake.rows() > 0).then_some(()));
    assert!(some.is_some(), "{}", intake.log());
    intake.kill9();
    let (stored, left) = (intake.rows(), dovecot.count("INBOX"));
    assert!(
        left > 0 && (stored as usize) < N,
        "the pass was over: {stored} stored"
    );
    intake.restart(&[]);
    wait_folder(&dovecot, "INBOX", 0);
    wait_count(&intake, "SELECT COUNT(*) FROM mail_messages", N as i64);
    assert_eq!(intake.rows(), N as i64, "one row per message");
    assert_eq!(
        intake.count("SELECT COUNT(DISTINCT unit) FROM submissions"),
        N as i64
    );
    assert_eq!(dovecot.count("Gazette-Processed"), N);
    assert_eq!(
        intake.count("SELECT COUNT(*) FROM replies WHERE kind = 'receipt'"),
        N as i64,
        "one answer per message"
    );
}

fn the_reader_catches_up_after_dovecot_is_stopped_and_started(engine: Engine) {
    let mut dovecot = Dovecot::start();
    let smtp = SmtpServer::start("127.0.0.1:0");
    let intake = intake(&dovecot, &smtp).engine(engine).start();
    let message = |i: usize| {
        MessageBuilder::new(SENDER, "报送", &format!("up{i}@unit.test"))
            .attach(
                "表.xlsx",
                table(&[row(&format!("梅州市第{i}局"), USCC, "13800138000")]),
            )
            .build()
    };
    dovecot.deliver(&message(1));
    wait_count(&intake, "SELECT COUNT(*) FROM submissions", 1);
    dovecot.stop();
    dovecot.deliver(&message(2));
    let noticed = eventually(WAIT, || intake.log().contains("mailbox:").then_some(()));
    assert!(noticed.is_some(), "{}", intake.log());
    dovecot.restart();
    wait_count(&intake, "SELECT COUNT(*) FROM submissions", 2);
    wait_folder(&dovecot, "INBOX", 0);
    assert_eq!(
        replies_to(&smtp.wait_for(4, WAIT), "zhang@unit.test").len(),
        2
    );
}

fn a_web_filer_gets_a_copy_of_the_receipt_with_confirm_to_filer(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let intake = Intake::builder()
        .engine(engine)
        .smtp(&smtp)
        .env("GAZETTE_INTAKE_CONFIRM_TO_FILER", "true")
        .start();
    let reference = intake.submit("departments", &common::department("梅州市教育局"));
    let mails = smtp.wait_for(2, WAIT);
    let copies = replies_to(&mails, "admin@example.org");
    assert_eq!(copies.len(), 1, "{mails:?}");
    let text = copies[0].text();
    assert!(text.contains(&format!("参考编号：{reference}")), "{text}");
    assert!(text.contains("单位全称：梅州市教育局"), "{text}");
    assert_eq!(replies_to(&mails, "zjk@hrss.meizhou.example").len(), 1);
    // Without the setting nobody but the office is emailed.
    let smtp2 = SmtpServer::start("127.0.0.1:0");
    let plain = Intake::builder().engine(engine).smtp(&smtp2).start();
    plain.submit("departments", &common::department("梅州市民政局"));
    smtp2.wait_for(1, WAIT);
    plain.outbox_looked();
    assert_eq!(smtp2.count(), 1);
}

fn with_idle_new_mail_is_read_at_once_and_leave_keeps_a_plain_question_for_a_person(
    engine: Engine,
) {
    let dovecot = Dovecot::start();
    let smtp = SmtpServer::start("127.0.0.1:0");
    // Passes 5 minutes apart: only IDLE can make the second message quick.
    let intake = intake(&dovecot, &smtp)
        .engine(engine)
        .env("GAZETTE_MAILBOX_POLL", "300s")
        .env("GAZETTE_MAILBOX_IDLE", "true")
        .env("GAZETTE_MAILBOX_NO_ATTACHMENT", "leave")
        .start();
    dovecot.deliver(
        &MessageBuilder::new(SENDER, "请问", "ask@unit.test")
            .text("表格在哪里？")
            .build(),
    );
    let left = eventually(WAIT, || {
        (intake.count("SELECT COUNT(*) FROM mail_messages WHERE outcome = 'left'") == 1)
            .then_some(())
    });
    assert!(left.is_some(), "{}", intake.log());
    // The first pass is over: the reader is idling now.
    dovecot.deliver(
        &MessageBuilder::new(SENDER, "报送", "idle@unit.test")
            .attach(
                "表.xlsx",
                table(&[row("梅州市文广旅局", USCC, "13800138000")]),
            )
            .build(),
    );
    let quick = eventually(Duration::from_secs(30), || {
        (intake.rows() == 1).then_some(())
    });
    assert!(quick.is_some(), "not read while idling: {}", intake.log());
    wait_folder(&dovecot, "Gazette-Processed", 1);
    // The question stays in the inbox, unanswered, flagged for a person.
    wait_folder(&dovecot, "INBOX", 1);
    let mails = smtp.wait_for(2, WAIT);
    intake.outbox_looked();
    assert_eq!(
        replies_to(&smtp.mails(), "zhang@unit.test").len(),
        1,
        "{mails:?}"
    );
}

fn gazette_serve_reads_the_mailbox_too_and_stops_its_reader_on_sigterm(engine: Engine) {
    let dovecot = Dovecot::start();
    let smtp = SmtpServer::start("127.0.0.1:0");
    dovecot.deliver(
        &MessageBuilder::new(SENDER, "报送附件1", "serve-1@unit.test")
            .attach(
                "表.xlsx",
                table(&[row("梅州市交通运输局", USCC, "13800138000")]),
            )
            .build(),
    );
    let mut server = intake(&dovecot, &smtp).engine(engine).serve().start();
    let mail = "SELECT COUNT(*) FROM submissions WHERE source = 'mail'";
    wait_count(&server, mail, 1);
    wait_folder(&dovecot, "Gazette-Processed", 1);
    // Mail that arrives while it runs is read as well.
    dovecot.deliver(
        &MessageBuilder::new(SENDER, "报送附件1", "serve-2@unit.test")
            .attach(
                "表.xlsx",
                table(&[row("梅州市林业局", USCC, "13900139000")]),
            )
            .build(),
    );
    wait_count(&server, mail, 2);
    wait_folder(&dovecot, "Gazette-Processed", 2);
    let got = eventually(WAIT, || {
        let mails = smtp.mails();
        (replies_to(&mails, "zhang@unit.test").len() == 2).then_some(())
    });
    assert!(got.is_some(), "{:?}\n{}", smtp.mails(), server.log());
    let status = server
        .stop_within(Duration::from_secs(20))
        .expect("gazette serve stops on SIGTERM with its mailbox reader");
    assert!(status.success(), "{status:?}\n{}", server.log());
    assert_eq!(
        server.count("SELECT COUNT(*) FROM replies WHERE kind = 'receipt'"),
        2
    );
}

both!(
    a_good_table_is_stored_answered_with_the_references_and_the_office_notified,
    three_bad_cells_store_nothing_and_the_answer_names_exactly_them,
    ods_and_xls_attachments_are_read_like_xlsx_and_so_are_they_by_import,
    the_same_message_twice_is_stored_once_and_answered_once,
    auto_replies_and_bounces_get_no_answer_and_a_plain_question_gets_how_to,
    a_spreadsheet_unpacking_to_100_mb_is_refused_with_a_note,
    kill_9_during_a_pass_neither_loses_nor_doubles_anything,
    the_reader_catches_up_after_dovecot_is_stopped_and_started,
    a_web_filer_gets_a_copy_of_the_receipt_with_confirm_to_filer,
    with_idle_new_mail_is_read_at_once_and_leave_keeps_a_plain_question_for_a_person,
    gazette_serve_reads_the_mailbox_too_and_stops_its_reader_on_sigterm,
);
