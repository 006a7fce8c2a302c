//! Publishing for real (issue 12): the forms fit every unit, the pages carry
//! what a government site needs, and nothing says more than is true.

use crate::common::smtp::SmtpServer;
use crate::common::{self, read, repo, run, Intake, Site};
use std::path::Path;
use std::time::Duration;

const OFFICE_EMAIL: &str = "zjk@hrss.meizhou.example";

fn build(site: &Site, out: &Path) -> std::process::Output {
    run(
        &["build", "--output", &out.display().to_string()],
        site.path(),
        &[],
    )
}

fn built(site: &Site) -> tempfile::TempDir {
    let out = tempfile::tempdir().expect("temp dir");
    let r = build(site, out.path());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    out
}

#[test]
fn the_to_header_marks_an_unconfirmed_office_address() {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let intake = Intake::builder()
        .smtp(&smtp)
        .env("GAZETTE_MAIL_RETRY_BASE", "200ms")
        .site(Site::with_repo_forms())
        .start();
    let res = intake.post("departments", &common::department("梅州市某局"));
    assert_eq!(res.status, 303, "{}", res.text());
    let mails = smtp.wait_for(1, Duration::from_secs(15));
    assert_eq!(mails.len(), 1, "{}", intake.log());
    // Delivered to the address itself; whoever reads the message (or its
    // bounce) sees the address is not confirmed.
    assert_eq!(mails[0].to, vec![OFFICE_EMAIL.to_string()]);
    let to = mails[0].header("To").expect("To header");
    assert!(
        to.contains("【待核实】") && to.contains(OFFICE_EMAIL),
        "{to}"
    );
}

#[test]
fn a_refused_form_built_after_its_deadline_is_closed_without_a_form() {
    let site = Site::bundled();
    crate::intake_http::variant(&site, "closed", "2016-07-27", "refuse");
    crate::intake_http::variant(&site, "open", "2099-12-31", "refuse");
    let out = built(&site);
    let closed = read(&out.path().join("forms/closed/index.html"));
    assert!(closed.contains("在线报送已截止"), "{closed}");
    assert!(closed.contains("2016年7月27日"), "{closed}");
    assert!(
        closed.contains("万勇") && closed.contains("0753-2128309"),
        "{closed}"
    );
    assert!(
        !closed.contains("<form class=\"return-form\""),
        "no form to fill"
    );
    assert!(closed.contains("closed.xlsx"), "the blank is still offered");
    let open = read(&out.path().join("forms/open/index.html"));
    assert!(open.contains("<form class=\"return-form\""));
    assert!(!open.contains("在线报送已截止"));
    // The bundled forms accept late returns: built open.
    let bundled = read(&out.path().join("forms/departments/index.html"));
    assert!(bundled.contains("<form class=\"return-form\""));
}

#[test]
fn forms_are_listed_by_annex_and_a_conflicting_annex_is_a_check_problem() {
    let site = Site::bundled();
    let out = built(&site);
    for page in ["forms/index.html", "index.html", "sitemap/index.html"] {
        let html = read(&out.path().join(page));
        let one = html
            .find("附件1 市直主管部门信息一览表")
            .unwrap_or_else(|| panic!("{page}"));
        let two = html
            .find("附件2 市属评委会信息一览表")
            .unwrap_or_else(|| panic!("{page}"));
        assert!(one < two, "{page}: 附件1 before 附件2");
    }
    let def = site.read("content/forms/committees.toml");
    site.write(
        "content/forms/committees.toml",
        &def.replace("annex = 2", "annex = 3"),
    );
    let r = run(&["check"], site.path(), &[]);
    assert_eq!(r.status.code(), Some(1));
    let said = String::from_utf8_lossy(&r.stdout);
    assert!(
        said.contains("content/notices/2016-216.md")
            && said.contains("附件2")
            && said.contains("annex = 3"),
        "{said}"
    );
}

#[test]
fn with_several_notices_each_form_is_listed_under_its_notice() {
    let site = Site::bundled();
    let def = site.read("content/forms/departments.toml");
    // A form of the second notice, with a radio and an idcard field.
    let extra = def
        .replace("title = \"市直主管部门信息一览表\"", "title = \"联系人信息表\"")
        + "\n[[fields]]\nname = \"gender\"\nlabel = \"性别\"\nkind = \"radio\"\noptions = [\"男\", \"女\"]\n\n[[fields]]\nname = \"idcard\"\nlabel = \"身份证号\"\nkind = \"idcard\"\n";
    site.write("content/forms/contacts.toml", &extra);
    std::fs::create_dir_all(site.path().join("content/notices/files")).unwrap();
    let pdf = b"%PDF-1.4\n%%EOF\n";
    std::fs::write(site.path().join("content/notices/files/plan.pdf"), pdf).unwrap();
    site.write(
        "content/notices/2016-300.md",
        "+++\ntitle = \"关于报送联系人信息的通知\"\ndate = 2016-08-01\n\n[notice]\ndoc_number = \"梅市人社函〔2016〕300号\"\nissuer = \"梅州市人力资源和社会保障局\"\nrecipients = \"市直有关单位\"\nwritten = 2016-08-01\n\n[[notice.attachments]]\ntitle = \"《联系人信息表》\"\nform = \"contacts\"\n\n[[notice.attachments]]\ntitle = \"工作安排\"\nfile = \"files/plan.pdf\"\n+++\n请各单位填写附件1。\n",
    );
    let out = built(&site);
    let list = read(&out.path().join("forms/index.html"));
    let first = list
        .find("梅市人社函〔2016〕216号")
        .expect("first notice heading");
    let second = list
        .find("梅市人社函〔2016〕300号")
        .expect("second notice heading");
    let departments = list.find("市直主管部门信息一览表").unwrap();
    let contacts = list.find("联系人信息表").unwrap();
    assert!(
        first < departments && departments < second && second < contacts,
        "{list}"
    );

    let form = read(&out.path().join("forms/contacts/index.html"));
    assert_eq!(form.matches("type=\"radio\"").count(), 2, "{form}");
    assert!(
        form.contains("例如：11010519491231002X"),
        "the kind's neutral example"
    );

    // A file attachment downloads with its own extension and size.
    let notice = read(&out.path().join("notices/2016-300/index.html"));
    let size = forms::paths::format_size(pdf.len());
    assert!(
        notice.contains("download=\"附件2 工作安排.pdf\""),
        "{notice}"
    );
    assert!(notice.contains(&format!("PDF，{size}")), "{notice}");
}

#[test]
fn footer_and_head_carry_the_furniture_of_a_government_site() {
    let site = Site::bundled();
    let config = site.read("gazette.toml");
    site.write(
        "gazette.toml",
        &config
            .replace("site_code = \"\"", "site_code = \"4414000099\"")
            .replace("icp = \"\"", "icp = \"粤ICP备00000000号\"")
            .replace("operator = \"\"", "operator = \"梅州市某信息中心\"")
            .replace("police_record = \"\"", "police_record = \"粤公网安备 44140202000000号\"")
            .replace(
                "police_record_url = \"\"",
                "police_record_url = \"https://beian.mps.gov.cn/#/query/webSearch?code=44140202000000\"",
            ),
    );
    let out = built(&site);
    for page in [
        "index.html",
        "notices/2016-216/index.html",
        "forms/departments/index.html",
        "manuals/employer/login.html",
        "sitemap/index.html",
    ] {
        let html = read(&out.path().join(page));
        for needle in [
            "<meta name=\"SiteIDCode\" content=\"4414000099\">",
            "<meta name=\"ColumnName\" content=\"",
            "<meta name=\"ColumnType\" content=\"",
            "<meta property=\"og:title\" content=\"",
            "<meta property=\"og:description\" content=\"",
            "favicon.svg",
            "主办单位：梅州市人力资源和社会保障局",
            "承办单位：梅州市某信息中心",
            "网站标识码：4414000099",
            ">粤ICP备00000000号</a>",
            "href=\"https://beian.mps.gov.cn/#/query/webSearch?code=44140202000000\"",
            ">网站地图</a>",
        ] {
            assert!(html.contains(needle), "{page} lacks {needle}");
        }
    }
    let form = read(&out.path().join("forms/departments/index.html"));
    assert!(form.contains("<meta name=\"ColumnName\" content=\"表格填报\">"));
    assert!(out.path().join("favicon.svg").is_file());
}

#[test]
fn export_names_its_database_and_refuses_xlsx_on_a_terminal() {
    let site = Site::with_repo_forms();
    // A terminal on stdout, as a person running it would have.
    let cmd = format!(
        "{} export departments --output - --root {}",
        common::gazette_bin().display(),
        site.path().display()
    );
    let r = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .expect("script (util-linux) runs");
    let said = String::from_utf8_lossy(&r.stdout);
    assert_ne!(r.status.code(), Some(0), "{said}");
    assert!(said.contains("不能输出到终端"), "{said}");
    // Into a pipe it is written, and stderr says where from.
    let r = run(
        &["export", "departments", "--output", "-"],
        site.path(),
        &[],
    );
    assert!(r.status.success());
    assert!(r.stdout.starts_with(b"PK"), "an xlsx (zip) on stdout");
    let said = String::from_utf8_lossy(&r.stderr);
    assert!(
        said.contains("0 条记录") && said.contains("gazette.db"),
        "{said}"
    );
}

#[test]
fn manuals_are_guides_with_one_hedge_in_the_preface_and_mainland_punctuation() {
    for book in ["supervisor", "committee", "employer", "individual"] {
        let src = repo().join("manuals").join(book).join("src");
        let mut hedges = Vec::new();
        for entry in std::fs::read_dir(&src).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "md") {
                continue;
            }
            let text = read(&path);
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            for _ in text.matches("实际显示为准") {
                hedges.push(name.clone());
            }
            assert!(
                !text.contains('「') && !text.contains('」'),
                "{book}/{name}: use “”"
            );
            for (i, line) in text.lines().enumerate() {
                if line.contains("](") || line.contains('`') {
                    continue; // links and code keep their own spacing
                }
                assert!(
                    !western_space(line),
                    "{book}/{name}:{}: Western space in Chinese text: {line}",
                    i + 1
                );
            }
        }
        assert_eq!(
            hedges,
            ["README.md"],
            "{book}: the hedge once, in the preface"
        );
        let preface = read(&src.join("README.md"));
        assert!(
            preface.contains("本导读") && preface.contains("由广东省人力资源和社会保障厅制定"),
            "{book}"
        );
    }
}

/// A Han character (or Chinese punctuation), one space, then a Latin
/// letter or digit, or the other way round: `18 位`.
fn western_space(line: &str) -> bool {
    let chars: Vec<char> = line.chars().collect();
    let han =
        |c: char| matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF) || "，。；：".contains(c);
    let latin = |c: char| c.is_ascii_alphanumeric();
    chars
        .windows(3)
        .any(|w| w[1] == ' ' && ((han(w[0]) && latin(w[2])) || (latin(w[0]) && han(w[2]))))
}
