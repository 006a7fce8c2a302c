//! `gazette intake` end to end: the real binary, a real SQLite file in a
//! temporary site, and a real SMTP server on loopback.

use crate::both;
use crate::common::http::{self, encode, Response};
use crate::common::postgres::Engine;
use crate::common::smtp::SmtpServer;
use crate::common::{Intake, IntakeBuilder, Site};
use std::time::Duration;

const OFFICE_EMAIL: &str = "zjk@hrss.meizhou.example";

/// An intake mailing to `smtp`, retrying every 200 ms.
fn intake(smtp: &SmtpServer) -> IntakeBuilder {
    Intake::builder()
        .smtp(smtp)
        .env("GAZETTE_MAIL_RETRY_BASE", "200ms")
}

fn body(pairs: &[(String, String)]) -> String {
    encode(pairs)
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A valid 附件1 return.
fn department(unit: &str) -> Vec<(String, String)> {
    pairs(&crate::common::department(unit))
}

/// A valid 附件2 return choosing two levels.
fn committee(name: &str) -> Vec<(String, String)> {
    pairs(&crate::common::committee(name))
}

fn set(pairs: &mut Vec<(String, String)>, name: &str, value: &str) {
    match pairs.iter_mut().find(|(k, _)| k == name) {
        Some(p) => p.1 = value.to_string(),
        None => pairs.push((name.to_string(), value.to_string())),
    }
}

fn without(mut pairs: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
    pairs.retain(|(k, _)| k != name);
    pairs
}

fn with(mut pairs: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    set(&mut pairs, name, value);
    pairs
}

/// Follows a 303 to the receipt; returns (reference, receipt HTML).
fn receipt(intake: &Intake, res: &Response) -> (String, String) {
    assert_eq!(res.status, 303, "{}", res.text());
    let location = res.header("Location").expect("Location").to_string();
    let token = location
        .strip_prefix("/receipts/")
        .unwrap_or_else(|| panic!("Location {location}"));
    // The reference, then a 128-bit secret in hex.
    assert_eq!(token.len(), 40, "{token}");
    assert!(token[8..].bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    let json = http::get_with(intake.addr(), &location, &[("Accept", "application/json")]);
    assert_eq!(json.status, 200);
    let reference = json.json()["ref"].as_str().unwrap().to_string();
    assert_eq!(&token[..8], reference);
    // Knowing the reference is not enough: the secret must match.
    let forged = format!("/receipts/{reference}{}", "0".repeat(32));
    assert_eq!(http::get(intake.addr(), &forged).status, 404);
    let page = http::get(intake.addr(), &location);
    assert_eq!(page.status, 200);
    assert_eq!(page.header("Cache-Control"), Some("no-store, private"));
    assert_eq!(page.header("Referrer-Policy"), Some("no-referrer"));
    (reference, page.text())
}

fn assert_reference_shape(r: &str) {
    assert_eq!(r.len(), 8, "{r}");
    assert!(
        r.bytes()
            .all(|b| b"ABCDEFGHJKLMNPRSTUVWXYZ23456789".contains(&b)),
        "{r}"
    );
}

fn a_valid_department_return_is_stored_receipted_and_emailed(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let intake = intake(&smtp).engine(engine).start();
    let res = intake.post("departments", &department("梅州市教育局"));
    let (reference, page) = receipt(&intake, &res);
    assert_reference_shape(&reference);
    for expected in [
        "报送回执",
        reference.as_str(),
        "市直主管部门信息一览表",
        "单位全称",
        "梅州市教育局",
        "11441700007280420Y",
        "0753-2128309",
        "13812345678",
        "admin@example.org",
        // The bundled form's deadline (2016-07-27) has passed: accepted, marked.
        "逾期",
        "专业技术人员管理科",
        "万勇",
    ] {
        assert!(page.contains(expected), "receipt lacks {expected}:\n{page}");
    }
    assert!(page.contains("/print.css"), "print styles linked");
    assert_eq!(intake.rows(), 1);
    assert_eq!(
        intake.count("SELECT COUNT(*) FROM submissions WHERE late = 1"),
        1
    );

    let mails = smtp.wait_for(1, Duration::from_secs(15));
    assert_eq!(mails.len(), 1, "{}", intake.log());
    let mail = &mails[0];
    assert_eq!(mail.to, vec![OFFICE_EMAIL.to_string()]);
    assert_eq!(
        mail.header("Message-ID").as_deref(),
        Some(format!("<{reference}@gazette>").as_str())
    );
    let subject = mail.header("Subject").unwrap();
    assert_eq!(
        subject,
        format!("【逾期】【附件1 市直主管部门信息一览表】梅州市教育局（参考编号 {reference}）")
    );
    let text = mail.text();
    for expected in [
        format!("参考编号：{reference}"),
        "单位全称：梅州市教育局".to_string(),
        "统一社会信用代码：11441700007280420Y".to_string(),
        "单位类型：机关".to_string(),
        "手机：13812345678".to_string(),
        "填报人：李四".to_string(),
        "text/html".to_string(),
        ">梅州市教育局</td>".to_string(),
    ] {
        assert!(text.contains(&expected), "email lacks {expected}:\n{text}");
    }
    // The delivery is recorded once the server has taken the message.
    let recorded = crate::common::eventually(Duration::from_secs(15), || {
        (intake.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'") == 1).then_some(())
    });
    assert!(recorded.is_some(), "not marked sent: {}", intake.log());
    assert_eq!(intake.count("SELECT COUNT(*) FROM outbox"), 1);
}

fn a_valid_committee_return_keeps_every_level(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let intake = intake(&smtp).engine(engine).start();
    let res = intake.post("committees", &committee("梅州市卫生系列中级评审委员会"));
    let (reference, page) = receipt(&intake, &res);
    for expected in [
        "市属评委会信息一览表",
        "梅州市卫生系列中级评审委员会",
        "中级、副高级",
        "粤人社函〔2015〕123号",
        "第一行\n第二行",
    ] {
        assert!(page.contains(expected), "receipt lacks {expected}:\n{page}");
    }
    assert_eq!(intake.rows(), 1);
    let mails = smtp.wait_for(1, Duration::from_secs(15));
    assert_eq!(mails.len(), 1);
    let text = mails[0].text();
    assert!(text.contains(&format!("参考编号：{reference}")), "{text}");
    assert!(text.contains("评审级别：中级、副高级"), "{text}");
    assert!(
        text.contains("核准/备案文号：粤人社函〔2015〕123号"),
        "{text}"
    );
    assert!(
        mails[0]
            .header("Subject")
            .unwrap()
            .contains("【附件2 市属评委会信息一览表】梅州市卫生系列中级评审委员会"),
        "{:?}",
        mails[0].header("Subject")
    );
}

struct Case {
    name: &'static str,
    form: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, &'static str)>,
    status: u16,
    /// Text the answer must contain (the Chinese message naming the field).
    expect: &'static str,
}

fn case(
    name: &'static str,
    form: &'static str,
    p: Vec<(String, String)>,
    status: u16,
    expect: &'static str,
) -> Case {
    Case {
        name,
        form,
        body: body(&p).into_bytes(),
        headers: vec![("Content-Type", "application/x-www-form-urlencoded")],
        status,
        expect,
    }
}

/// The USCC of `base` with positions 9–17 replaced by `org` and the last
/// character recomputed (GB 32100-2015), so only the embedded 组织机构代码 is wrong.
fn uscc_with_org(base: &str, org: &str) -> String {
    const CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
    const W: [u32; 17] = [
        1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
    ];
    let first17 = format!("{}{}", &base[..8], org);
    let sum: u32 = first17
        .chars()
        .zip(W)
        .map(|(c, w)| CHARS.find(c).unwrap() as u32 * w)
        .sum();
    let check = (31 - sum % 31) % 31;
    format!("{first17}{}", CHARS.chars().nth(check as usize).unwrap())
}

fn bad_cases() -> Vec<Case> {
    let d = || department("梅州市教育局");
    let c = || committee("梅州市卫生系列评审委员会");
    let long_name = "梅".repeat(61);
    let long_remarks = "备".repeat(501);
    let mut v = vec![
        case(
            "check character",
            "departments",
            with(d(), "uscc", "11441700007280420X"),
            422,
            "“统一社会信用代码”的校验位不正确",
        ),
        case(
            "letter I in credit code",
            "departments",
            with(d(), "uscc", "114417000I7280420Y"),
            422,
            "字母“I”不会出现在代码中",
        ),
        case(
            "letter O in credit code",
            "departments",
            with(d(), "uscc", "11441700O07280420Y"),
            422,
            "字母“O”不会出现在代码中",
        ),
        case(
            "letter S in credit code",
            "departments",
            with(d(), "uscc", "1144170000728042SY"),
            422,
            "字母“S”不会出现在代码中",
        ),
        case(
            "letter V in credit code",
            "departments",
            with(d(), "uscc", "V1441700007280420Y"),
            422,
            "字母“V”不会出现在代码中",
        ),
        case(
            "letter Z in credit code",
            "departments",
            with(d(), "uscc", "114417Z0007280420Y"),
            422,
            "字母“Z”不会出现在代码中",
        ),
        case(
            "short credit code",
            "departments",
            with(d(), "uscc", "1144170000728042"),
            422,
            "现在是 16 位",
        ),
        case(
            "spaces in credit code",
            "departments",
            with(d(), "uscc", "114417 00007280420Y"),
            422,
            "中间不能有空格",
        ),
        case(
            "embedded organisation code",
            "departments",
            with(
                d(),
                "uscc",
                &uscc_with_org("11441700007280420Y", "007280421"),
            ),
            422,
            "组织机构代码）的校验码不正确",
        ),
        case(
            "missing credit code",
            "departments",
            without(d(), "uscc"),
            422,
            "请填写“统一社会信用代码”",
        ),
        case(
            "short mobile",
            "departments",
            with(d(), "mobile", "1381234567"),
            422,
            "“手机”应为 11 位手机号码，现在是 10 位",
        ),
        case(
            "mobile 12x",
            "departments",
            with(d(), "mobile", "12812345678"),
            422,
            "应以 13–19 开头",
        ),
        case(
            "mobile with letters",
            "departments",
            with(d(), "mobile", "1381234567a"),
            422,
            "“手机”只能填写数字",
        ),
        case(
            "landline as mobile",
            "departments",
            with(d(), "mobile", "07532128309"),
            422,
            "固定电话不能填在这里",
        ),
        case(
            "fax without area code",
            "departments",
            with(d(), "fax", "2128309"),
            422,
            "“传真”缺少区号",
        ),
        case(
            "phone with letters",
            "departments",
            with(d(), "office_phone", "0753-21283O9"),
            422,
            "“办公电话”只能包含数字",
        ),
        case(
            "Meizhou number of 8 digits",
            "departments",
            with(d(), "office_phone", "0753-21283090"),
            422,
            "梅州（0753）的电话号码是 7 位",
        ),
        case(
            "mobile in phone field",
            "departments",
            with(d(), "office_phone", "13812345678"),
            422,
            "手机号码请填在手机栏",
        ),
        case(
            "short postcode",
            "departments",
            with(d(), "postcode", "51400"),
            422,
            "“邮政编码”应为 6 位数字，现在是 5 位",
        ),
        case(
            "postcode letters",
            "departments",
            with(d(), "postcode", "51400a"),
            422,
            "“邮政编码”只能填写数字",
        ),
        case(
            "email without @",
            "departments",
            with(d(), "email", "admin.example.org"),
            422,
            "“电子邮箱”应包含一个“@”",
        ),
        case(
            "email without domain dot",
            "departments",
            with(d(), "email", "admin@localhost"),
            422,
            "后面应是完整的域名",
        ),
        case(
            "unknown select value",
            "departments",
            with(d(), "unit_type", "公司"),
            422,
            "“单位类型”只能从以下选项中选择：机关、事业单位、社会团体、其他",
        ),
        case(
            "missing select",
            "departments",
            with(d(), "unit_type", ""),
            422,
            "请选择“单位类型”",
        ),
        case(
            "missing required text",
            "departments",
            with(d(), "unit_name", "  "),
            422,
            "请填写“单位全称”",
        ),
        case(
            "missing key",
            "departments",
            without(d(), "filled_by"),
            422,
            "请填写“填报人”",
        ),
        case(
            "over-long name",
            "departments",
            with(d(), "unit_name", &long_name),
            422,
            "“单位全称”最多 60 个字，现在有 61 个字",
        ),
        case(
            "over-long remarks",
            "departments",
            with(d(), "remarks", &long_remarks),
            422,
            "“备注”最多 500 个字，现在有 501 个字",
        ),
        case(
            "newline in a one-line field",
            "departments",
            with(d(), "unit_name", "梅州市\n教育局"),
            422,
            "“单位全称”只能填写一行文字",
        ),
        case(
            "duplicate key",
            "departments",
            {
                let mut p = d();
                p.push(("unit_name".into(), "另一个单位".into()));
                p
            },
            422,
            "“单位全称”只能填写一项",
        ),
        case(
            "several problems at once",
            "departments",
            without(without(without(d(), "unit_name"), "mobile"), "email"),
            422,
            "有 3 处需要修改",
        ),
        case(
            "文号 in square brackets",
            "committees",
            with(c(), "approval_no", "粤人社函[2015]123号"),
            422,
            "年份应使用六角括号〔〕，例如：粤人社函〔2015〕123号",
        ),
        case(
            "文号 in 【】",
            "committees",
            with(c(), "approval_no", "粤人社函【2015】123号"),
            422,
            "六角括号",
        ),
        case(
            "文号 with leading zero",
            "committees",
            with(c(), "approval_no", "粤人社函〔2015〕0123号"),
            422,
            "序号前面不加“0”",
        ),
        case(
            "unknown multi value",
            "committees",
            {
                let mut p = c();
                p.push(("levels".into(), "特级".into()));
                p
            },
            422,
            "“评审级别”中的“特级”不是可选项",
        ),
        case(
            "no level chosen",
            "committees",
            without(c(), "levels"),
            422,
            "请至少选择一项“评审级别”",
        ),
        case(
            "impossible date",
            "committees",
            with(c(), "approval_date", "2015-02-30"),
            422,
            "“核准日期”不是真实的日期：2015年2月没有30日",
        ),
        case(
            "bad founder credit code",
            "committees",
            with(c(), "founder_uscc", "11441700007280420A"),
            422,
            "“组建单位统一社会信用代码”",
        ),
        case("unknown form", "nosuchform", d(), 404, "没有这份表格"),
    ];
    // Invalid UTF-8: GBK bytes for 梅州 as a page in another encoding sends them.
    let mut gbk = body(&d()).into_bytes();
    gbk.extend_from_slice(b"&admin_name=%C3%B7%D6%DD");
    v.push(Case {
        name: "GBK-encoded value",
        form: "departments",
        body: gbk,
        headers: vec![("Content-Type", "application/x-www-form-urlencoded")],
        status: 400,
        expect: "“系统管理员姓名”一栏的内容不是有效的 UTF-8 编码",
    });
    let mut raw = b"unit_name=\xff\xfe&".to_vec();
    raw.extend_from_slice(body(&d()).as_bytes());
    v.push(Case {
        name: "raw invalid UTF-8",
        form: "departments",
        body: raw,
        headers: vec![("Content-Type", "application/x-www-form-urlencoded")],
        status: 400,
        expect: "不是有效的 UTF-8 编码",
    });
    let huge = format!("{}&remarks={}", body(&d()), "a".repeat(70 * 1024));
    v.push(Case {
        name: "huge body",
        form: "departments",
        body: huge.clone().into_bytes(),
        headers: vec![("Content-Type", "application/x-www-form-urlencoded")],
        status: 413,
        expect: "超过 64 KB",
    });
    v.push(Case {
        name: "huge chunked body",
        form: "departments",
        body: huge.into_bytes(),
        headers: vec![
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Transfer-Encoding", "chunked"),
        ],
        status: 413,
        expect: "超过 64 KB",
    });
    for (name, ct) in [
        ("multipart", "multipart/form-data; boundary=x"),
        ("JSON body", "application/json"),
        (
            "GBK charset",
            "application/x-www-form-urlencoded; charset=gbk",
        ),
        ("plain text", "text/plain"),
    ] {
        v.push(Case {
            name,
            form: "departments",
            body: body(&d()).into_bytes(),
            headers: vec![("Content-Type", ct)],
            status: 415,
            expect: "提交方式不正确",
        });
    }
    v.push(Case {
        name: "no content type",
        form: "departments",
        body: body(&d()).into_bytes(),
        headers: vec![],
        status: 415,
        expect: "提交方式不正确",
    });
    v.push(Case {
        name: "cross-site origin",
        form: "departments",
        body: body(&d()).into_bytes(),
        headers: vec![
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Origin", "https://evil.example"),
        ],
        status: 403,
        expect: "不接收来自其他网站的提交",
    });
    v.push(Case {
        name: "cross-site referer",
        form: "departments",
        body: body(&d()).into_bytes(),
        headers: vec![
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Referer", "https://evil.example/forms.html"),
        ],
        status: 403,
        expect: "不接收来自其他网站的提交",
    });
    v
}

/// What is wrong with the answer to a bad case: `Some(why)` for a wrong
/// status or message; a panic for a wrong page around the right message.
fn check_case(c: &Case, res: &Response) -> Option<String> {
    let text = res.text();
    if res.status != c.status || !text.contains(c.expect) {
        return Some(format!(
            "{}: got {} (want {} with {:?})\n{}",
            c.name,
            res.status,
            c.status,
            c.expect,
            text.lines()
                .filter(|l| l.contains("error") || l.contains("<h1") || l.contains("lead"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    // Every answer is a Chinese HTML page, never a bare body.
    assert_eq!(
        res.header("Content-Type"),
        Some("text/html; charset=utf-8"),
        "{}",
        c.name
    );
    assert!(text.contains("<html lang=\"zh-CN\">"), "{}", c.name);
    if c.status == 422 {
        // The form again: summary at the top, values kept.
        assert!(text.contains("提交未成功"), "{}", c.name);
        assert!(
            text.contains("href=\"#f-"),
            "{}: summary links to fields",
            c.name
        );
        assert!(
            text.contains("aria-invalid=\"true\"") || text.contains("field-error"),
            "{}",
            c.name
        );
        let kept = if c.form == "departments" {
            "value=\"张三\""
        } else {
            "value=\"王五\""
        };
        assert!(text.contains(kept), "{}: values kept", c.name);
    }
    None
}

fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The whole table through the router in-process: the answers are the
/// handlers' own, no socket needed.
fn bad_inputs_get_their_status_and_message_and_nothing_is_stored(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    // The database is made before the runtime starts (its client blocks).
    let builder = intake(&smtp).engine(engine);
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(bad_inputs(builder, smtp));
}

async fn bad_inputs(builder: IntakeBuilder, smtp: SmtpServer) {
    let intake = builder.in_process();
    let cases = bad_cases();
    assert!(cases.len() >= 30, "{} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let path = format!("/forms/{}", c.form);
        let res = intake
            .request("POST", &path, &c.headers, c.body.clone())
            .await;
        failures.extend(check_case(c, &res));
    }
    assert_no_failures(&failures);
    assert_eq!(intake.rows(), 0, "nothing stored");
    intake.outbox_looked().await;
    assert_eq!(smtp.count(), 0, "nothing emailed");
    intake.shutdown().await;
}

/// The oversized bodies again over a real socket: hyper reads (or stops
/// reading) a long `Content-Length` or chunked body, which the router alone
/// never shows.
#[test]
fn huge_bodies_on_the_wire_get_413() {
    let intake = Intake::builder().start();
    let mut failures = Vec::new();
    for c in bad_cases().iter().filter(|c| c.status == 413) {
        let path = format!("/forms/{}", c.form);
        let res = http::request(intake.addr(), "POST", &path, &c.headers, &c.body)
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        failures.extend(check_case(c, &res));
    }
    assert_no_failures(&failures);
    assert_eq!(intake.rows(), 0, "nothing stored");
}

fn json_clients_get_json_with_the_same_status_codes(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let intake = intake(&smtp).engine(engine).start();
    let addr = intake.addr();
    let json = [("Accept", "application/json")];
    let res = http::post_with(
        addr,
        "/forms/departments",
        &json,
        body(&department("梅州市财政局")).as_bytes(),
    );
    assert_eq!(res.status, 303);
    let v = res.json();
    let reference = v["ref"].as_str().unwrap();
    assert_reference_shape(reference);
    assert_eq!(res.header("Location"), v["receipt"].as_str());

    let bad = with(
        with(department("梅州市财政局"), "uscc", "11441700007280420X"),
        "mobile",
        "123",
    );
    let res = http::post_with(addr, "/forms/departments", &json, body(&bad).as_bytes());
    assert_eq!(res.status, 422);
    let v = res.json();
    assert!(
        v["errors"]["uscc"]
            .as_str()
            .unwrap()
            .contains("校验位不正确"),
        "{v}"
    );
    assert!(
        v["errors"]["mobile"].as_str().unwrap().contains("“手机”"),
        "{v}"
    );
    assert_eq!(v["errors"].as_object().unwrap().len(), 2);

    let res = http::request(
        addr,
        "POST",
        "/forms/departments",
        &[
            ("Accept", "application/json"),
            ("Content-Type", "text/plain"),
        ],
        b"x",
    );
    let res = res.unwrap();
    assert_eq!(res.status, 415);
    assert_eq!(res.json()["status"], 415);
    assert!(res.json()["message"].as_str().unwrap().contains("UTF-8"));

    let res = http::post_with(addr, "/forms/nothing", &json, b"a=1");
    assert_eq!(res.status, 404);
    assert_eq!(res.json()["error"], "没有这份表格");
    assert_eq!(intake.rows(), 1);
}

fn origins_the_intake_and_site_own_or_list_are_accepted(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let intake = intake(&smtp)
        .engine(engine)
        .env(
            "GAZETTE_INTAKE_ALLOWED_ORIGINS",
            "https://hrss.meizhou.gov.cn",
        )
        .start();
    let addr = intake.addr();
    let own = format!("http://{addr}");
    let ok = [
        vec![("Origin", own.as_str())],
        vec![("Origin", "https://hrss.meizhou.gov.cn")],
        vec![("Referer", "https://hrss.meizhou.gov.cn/forms/departments/")],
        vec![],
    ];
    for (i, headers) in ok.iter().enumerate() {
        let res = http::post_with(
            addr,
            "/forms/departments",
            headers,
            body(&department(&format!("单位{i}"))).as_bytes(),
        );
        assert_eq!(res.status, 303, "{headers:?}: {}", res.text());
    }
    for headers in [
        vec![("Origin", "https://evil.example")],
        vec![("Origin", "null")],
        vec![("Origin", "http://127.0.0.1:1")],
        vec![("Referer", "http://evil.example/")],
    ] {
        let res = http::post_with(
            addr,
            "/forms/departments",
            &headers,
            body(&department("坏单位")).as_bytes(),
        );
        assert_eq!(res.status, 403, "{headers:?}");
        assert!(res.text().contains("不接收来自其他网站的提交"));
    }
    assert_eq!(intake.rows(), 4);
}

fn too_many_posts_from_one_client_get_429_with_retry_after(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let intake = intake(&smtp)
        .engine(engine)
        .env("GAZETTE_INTAKE_RATE_LIMIT", "3")
        .start();
    let addr = intake.addr();
    for i in 0..3 {
        let res = intake.post("departments", &department(&format!("单位{i}")));
        assert_eq!(res.status, 303);
    }
    let res = intake.post("departments", &department("第四个单位"));
    assert_eq!(res.status, 429);
    let wait: u64 = res.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=20).contains(&wait), "{wait}");
    assert!(res.text().contains("提交过于频繁"));
    assert!(res.text().contains(&format!("{wait} 秒后")));
    let res = http::post_with(
        addr,
        "/forms/departments",
        &[("Accept", "application/json")],
        b"",
    );
    assert_eq!(res.status, 429);
    assert_eq!(res.json()["status"], 429);
    // Reading receipts and health is not limited.
    assert_eq!(http::get(addr, "/healthz").status, 200);
    assert_eq!(intake.rows(), 3);
}

fn the_honeypot_gets_a_normal_looking_receipt_and_nothing_is_stored(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let intake = intake(&smtp).engine(engine).start();
    let res = intake.post(
        "departments",
        &with(
            department("梅州市机器人局"),
            "website",
            "http://spam.example",
        ),
    );
    assert_eq!(res.status, 303);
    let location = res.header("Location").unwrap().to_string();
    assert!(location.starts_with("/receipts/"));
    let page = http::get(intake.addr(), &location);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("报送回执"));
    assert!(page.text().contains("梅州市机器人局"));
    assert_eq!(intake.rows(), 0);
    assert_eq!(intake.count("SELECT COUNT(*) FROM outbox"), 0);
    intake.outbox_looked();
    assert_eq!(smtp.count(), 0, "nothing emailed");
}

fn the_same_answers_within_ten_minutes_give_the_same_receipt(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let intake = intake(&smtp).engine(engine).start();
    let answers = department("梅州市重复局");
    let first = intake.post("departments", &answers);
    let second = intake.post("departments", &answers);
    assert_eq!(first.status, 303);
    assert_eq!(second.status, 303);
    assert_eq!(first.header("Location"), second.header("Location"));
    // Normalisation makes a full-width retype the same answers.
    let third = intake.post(
        "departments",
        &with(answers.clone(), "mobile", "１３８１２３４５６７８"),
    );
    assert_eq!(first.header("Location"), third.header("Location"));
    assert_eq!(intake.rows(), 1);
    // Different answers are a new return.
    let other = intake.post("departments", &with(answers, "remarks", "补充说明"));
    assert_ne!(first.header("Location"), other.header("Location"));
    assert_eq!(intake.rows(), 2);
    assert_eq!(intake.count("SELECT COUNT(*) FROM outbox"), 2);
    let mails = smtp.wait_for(2, Duration::from_secs(15));
    assert_eq!(mails.len(), 2, "{}", intake.log());
    // And no third: the worker has been over the queue since.
    intake.outbox_looked();
    assert_eq!(smtp.count(), 2, "{mails:?}");
}

/// The bundled departments form with another deadline and rule, under a new id.
pub(crate) fn variant(site: &Site, id: &str, deadline: &str, after: &str) {
    let text = site.read("content/forms/departments.toml");
    let text = text
        .replace("deadline = 2016-07-27", &format!("deadline = {deadline}"))
        .replace(
            "after_deadline = \"accept\"",
            &format!("after_deadline = \"{after}\""),
        );
    assert!(text.contains(&format!("deadline = {deadline}")));
    assert!(text.contains(&format!("after_deadline = \"{after}\"")));
    site.write(&format!("content/forms/{id}.toml"), &text);
}

fn after_the_deadline_a_form_either_refuses_with_410_or_accepts_and_marks_late(engine: Engine) {
    let site = Site::with_repo_forms();
    variant(&site, "closed", "2016-07-27", "refuse");
    variant(&site, "late", "2016-07-27", "accept");
    variant(&site, "open", "2099-12-31", "refuse");
    let smtp = SmtpServer::start("127.0.0.1:0");
    let intake = intake(&smtp).engine(engine).site(site).start();

    let res = intake.post("closed", &department("梅州市迟到局"));
    assert_eq!(res.status, 410);
    let text = res.text();
    for expected in [
        "在线报送已截止",
        "2016年7月27日",
        "/forms/closed/closed.xlsx",
        // The reserved-domain address is marked where it is offered.
        &format!("{OFFICE_EMAIL}【待核实】"),
        "传真：0753-2128309",
    ] {
        assert!(
            text.contains(expected),
            "410 page lacks {expected}:\n{text}"
        );
    }
    // Plain words for the public: no HTTP status code on the page.
    assert!(!text.contains("状态码"), "{text}");
    let res = http::post_with(
        intake.addr(),
        "/forms/closed",
        &[("Accept", "application/json")],
        body(&department("x")).as_bytes(),
    );
    assert_eq!(res.status, 410);
    assert_eq!(res.json()["email"], OFFICE_EMAIL);
    assert_eq!(intake.rows(), 0);

    let (late_ref, page) = receipt(&intake, &intake.post("late", &department("梅州市迟到局")));
    assert!(page.contains("逾期"), "{page}");
    let (open_ref, page) = receipt(&intake, &intake.post("open", &department("梅州市准时局")));
    assert!(page.contains("按时报送"), "{page}");
    assert!(!page.contains("逾期"), "{page}");
    assert_eq!(
        intake.count("SELECT COUNT(*) FROM submissions WHERE late = 1"),
        1
    );
    let mails = smtp.wait_for(2, Duration::from_secs(15));
    let subject_of = |r: &str| {
        mails
            .iter()
            .find(|m| m.header("Message-ID").as_deref() == Some(format!("<{r}@gazette>").as_str()))
            .and_then(|m| m.header("Subject"))
            .unwrap_or_default()
    };
    assert!(
        subject_of(&late_ref).starts_with("【逾期】"),
        "{}",
        subject_of(&late_ref)
    );
    assert!(
        subject_of(&open_ref).starts_with("【附件1"),
        "{}",
        subject_of(&open_ref)
    );
}

fn health_stylesheets_redirects_and_unknown_pages(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let intake = intake(&smtp).engine(engine).start();
    let addr = intake.addr();
    let res = http::get(addr, "/healthz");
    assert_eq!(res.status, 200);
    assert_eq!(res.json()["status"], "ok");
    for css in ["/style.css", "/print.css"] {
        let res = http::get(addr, css);
        assert_eq!(res.status, 200, "{css}");
        assert_eq!(res.header("Content-Type"), Some("text/css; charset=utf-8"));
        assert!(!res.body.is_empty());
    }
    let res = http::get(addr, "/forms/departments");
    assert_eq!(res.status, 301);
    assert_eq!(res.header("Location"), Some("/forms/departments/"));
    let res = http::get(addr, "/no/such/page");
    assert_eq!(res.status, 404);
    assert!(res.text().contains("页面不存在"));
    for bad in [
        "/receipts/00000000000000000000000000000000",
        "/receipts/..%2F..%2Fetc",
        "/receipts/ABCD2345",
    ] {
        let res = http::get(addr, bad);
        assert_eq!(res.status, 404, "{bad}");
        assert!(res.text().contains("找不到这份回执"));
    }
}

#[test]
fn smtp_credentials_come_from_the_transport_url() {
    let smtp = SmtpServer::start_with("127.0.0.1:0", Some(("gazette", "p@ss word")));
    let unused = SmtpServer::start("127.0.0.1:0");
    let url = format!("smtp://gazette:p%40ss%20word@{}", smtp.addr);
    let intake = intake(&unused).env("GAZETTE_MAIL_TRANSPORT", url).start();
    let res = intake.post("departments", &department("梅州市认证局"));
    assert_eq!(res.status, 303);
    let mails = smtp.wait_for(1, Duration::from_secs(15));
    assert_eq!(mails.len(), 1, "{}", intake.log());
    assert_eq!(mails[0].user.as_deref(), Some("gazette"));
    assert_eq!(unused.count(), 0);
}

#[test]
fn bad_configuration_stops_start_up_naming_the_key() {
    let site = Site::with_repo_forms();
    for (var, value, key) in [
        (
            "GAZETTE_MAIL_TRANSPORT",
            "ftp://mail.example.org",
            "mail.transport",
        ),
        (
            "GAZETTE_MAIL_TRANSPORT",
            "smtp://mail.example.org?tls=sometimes",
            "mail.transport",
        ),
        ("GAZETTE_MAIL_TRANSPORT", "smtp://", "mail.transport"),
        ("GAZETTE_MAIL_FROM", "not an address", "mail.from"),
        ("GAZETTE_OFFICE_EMAIL", "office at example", "office.email"),
        ("GAZETTE_INTAKE_LISTEN", "nowhere", "intake.listen"),
        ("GAZETTE_MAIL_RETRY_BASE", "soon", "mail.retry_base"),
        (
            "GAZETTE_INTAKE_RATE_LIMIT",
            "many",
            "GAZETTE_INTAKE_RATE_LIMIT",
        ),
    ] {
        let out = crate::common::run(&["intake"], site.path(), &[(var, value.to_string())]);
        assert!(!out.status.success(), "{var}={value} started");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(key), "{var}={value}: {stderr}");
    }
    // A port already taken names the listen key too.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let out = crate::common::run(
        &["intake"],
        site.path(),
        &[(
            "GAZETTE_INTAKE_LISTEN",
            taken.local_addr().unwrap().to_string(),
        )],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("intake.listen"));
}

both!(
    bad_inputs_get_their_status_and_message_and_nothing_is_stored,
    a_valid_department_return_is_stored_receipted_and_emailed,
    a_valid_committee_return_keeps_every_level,
    json_clients_get_json_with_the_same_status_codes,
    origins_the_intake_and_site_own_or_list_are_accepted,
    too_many_posts_from_one_client_get_429_with_retry_after,
    the_honeypot_gets_a_normal_looking_receipt_and_nothing_is_stored,
    the_same_answers_within_ten_minutes_give_the_same_receipt,
    after_the_deadline_a_form_either_refuses_with_410_or_accepts_and_marks_late,
    health_stylesheets_redirects_and_unknown_pages,
);
