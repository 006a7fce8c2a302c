//! `gazette export` and `gazette import` end to end: returns posted to the
//! real `gazette intake`, the 一览表 read back with calamine, and filled-in
//! spreadsheets (written here in the blank template's layout) imported while
//! the service runs on the same database.

use crate::both;
use crate::common::postgres::{Db, Engine};
use crate::common::smtp::SmtpServer;
use crate::common::{self, Intake, IntakeBuilder, Site, DEPARTMENT_HEADER};
use calamine::{Data, Reader, Xlsx};
use std::path::Path;
use std::time::Duration;

const OFFICE_EMAIL: &str = "zjk@hrss.meizhou.example";

/// An intake mailing to `smtp` that faxes through a gateway too.
fn intake(smtp: &SmtpServer) -> IntakeBuilder {
    Intake::builder()
        .smtp(smtp)
        .env("GAZETTE_FAX_GATEWAY", "{number}@fax.test")
}

/// The shared 附件1 fixture with another mobile number, as owned pairs.
fn department(unit: &str, mobile: &str) -> Vec<(String, String)> {
    common::department(unit)
        .into_iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                if k == "mobile" { mobile } else { v }.to_string(),
            )
        })
        .collect()
}

/// The shared 附件2 fixture with the given levels (and a plain-newline note),
/// as owned pairs.
fn committee(name: &str, levels: &[&str]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = common::committee(name)
        .into_iter()
        .filter(|(k, _)| *k != "levels")
        .map(|(k, v)| {
            (
                k.to_string(),
                if k == "remarks" {
                    "第一行\n第二行"
                } else {
                    v
                }
                .to_string(),
            )
        })
        .collect();
    pairs.extend(levels.iter().map(|l| ("levels".to_string(), l.to_string())));
    pairs
}

/// The data rows of an exported 一览表 (header in row 2), as text cells, with
/// every string cell checked to be text (not a number).
fn read_export(path: &Path) -> (Vec<String>, Vec<Vec<Data>>) {
    let mut book: Xlsx<_> = calamine::open_workbook(path).expect("an xlsx file");
    let range = book
        .worksheet_range_at(0)
        .expect("a sheet")
        .expect("readable");
    let rows: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    let header = rows[1].iter().map(|d| d.to_string()).collect();
    (header, rows[2..].to_vec())
}

/// What the export shows for a posted field: several values joined with 、.
fn expected(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join("、")
}

/// Compares each exported row with what was posted, field by field.
fn assert_export_equals(path: &Path, form: &str, posted: &[(String, Vec<(String, String)>)]) {
    let def = forms::FormDef::load_dir(&common::repo().join("content/forms"))
        .unwrap()
        .into_iter()
        .find(|d| d.id == form)
        .unwrap();
    let (header, rows) = read_export(path);
    let mut want_header = vec!["序号".to_string(), "参考编号".to_string()];
    want_header.extend(def.fields.iter().map(|f| f.label.clone()));
    want_header.extend(["接收时间", "是否逾期", "处理状态"].map(String::from));
    assert_eq!(header, want_header);
    assert_eq!(rows.len(), posted.len());
    for (i, (row, (reference, pairs))) in rows.iter().zip(posted).enumerate() {
        assert_eq!(row[0], Data::Float((i + 1) as f64), "序号");
        assert_eq!(row[1], Data::String(reference.clone()));
        for (j, field) in def.fields.iter().enumerate() {
            let want = expected(pairs, &field.name);
            let got = &row[j + 2];
            if want.is_empty() {
                assert!(matches!(got, Data::Empty) || got == &Data::String(String::new()));
            } else {
                // Codes, phones and dates are text cells, exactly as posted.
                assert_eq!(got, &Data::String(want), "{} of {reference}", field.label);
            }
        }
        let tail = def.fields.len() + 2;
        let received = row[tail].to_string();
        assert_eq!(received.len(), "2016-07-20 10:31".len(), "{received}");
        assert_eq!(
            row[tail + 1],
            Data::String("是".into()),
            "past the 2016 deadline"
        );
        assert_eq!(row[tail + 2], Data::String("待处理".into()));
    }
}

fn export_gives_back_what_was_posted_as_xlsx_and_csv(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let server = intake(&smtp).engine(engine).start();
    let db = Db::of(&server);
    let mut departments = Vec::new();
    for (unit, mobile) in [
        ("梅州市教育局", "13812345678"),
        ("梅州市财政局", "+8613912345678"),
        ("=梅州市公式局", "13712345678"),
    ] {
        let pairs = department(unit, mobile);
        departments.push((server.submit("departments", &pairs), pairs));
    }
    let mut committees = Vec::new();
    for (name, levels) in [
        ("梅州市卫生系列中级评审委员会", &["中级", "副高级"][..]),
        ("梅州市工程系列初级评审委员会", &["初级"][..]),
    ] {
        let pairs = committee(name, levels);
        committees.push((server.submit("committees", &pairs), pairs));
    }
    // The stored mobile is normalised; the export shows what was stored.
    departments[1].1.iter_mut().for_each(|(k, v)| {
        if k == "mobile" {
            *v = "13912345678".into();
        }
    });

    let out = tempfile::tempdir().unwrap();
    let d = out.path().join("d.xlsx");
    let c = out.path().join("c.xlsx");
    for (form, path) in [("departments", &d), ("committees", &c)] {
        let r = db.run(&["export", form, "--output", path.to_str().unwrap()], &[]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        // Names the database it read and how many rows.
        let said = String::from_utf8_lossy(&r.stderr);
        let n = if form == "departments" {
            departments.len()
        } else {
            committees.len()
        };
        assert!(
            said.contains(&format!("{n} 条记录（读自数据库 "))
                && said.contains(if db.is_postgres() {
                    "postgres://"
                } else {
                    "gazette.db"
                })
                && said.contains("已导出到"),
            "{said}"
        );
    }
    assert_export_equals(&d, "departments", &departments);
    assert_export_equals(&c, "committees", &committees);

    // CSV on stdout: BOM, header, and the formula guard.
    let r = db.run(
        &["export", "departments", "--format", "csv", "--output", "-"],
        &[],
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(r.stdout.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM");
    assert!(String::from_utf8_lossy(&r.stderr).contains("已输出到标准输出"));
    let csv = String::from_utf8(r.stdout).unwrap();
    assert!(
        csv.contains("\u{FEFF}序号,参考编号,单位全称,统一社会信用代码,"),
        "{csv}"
    );
    assert!(csv.contains(",'=梅州市公式局,"), "{csv}");
    assert!(!csv.contains(",=梅州市公式局"), "{csv}");
    assert_eq!(csv.matches("\r\n").count(), 4, "header and three rows");

    // Without --output: FORM-一览表.xlsx in the current folder.
    let r = db
        .command(&["export", "committees"], &[])
        .current_dir(out.path())
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_export_equals(
        &out.path().join("committees-一览表.xlsx"),
        "committees",
        &committees,
    );

    let r = db.run(&["export", "nosuchform"], &[]);
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("departments"));
}

/// A cell of a filled-in sheet: text, as a text-formatted cell holds it, or
/// a number, as Excel stores what looks like one.
#[derive(Clone)]
enum Cell {
    T(&'static str),
    N(f64),
}

/// A workbook in the layout of the published blank form: 填写说明 first,
/// then the form sheet with its title in row 1 and the header in row 2
/// (required columns marked *), rows from row 3.
fn filled(title: &str, header: &[&str], rows: &[Vec<Cell>]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let notes = book.add_worksheet();
    notes.set_name("填写说明").unwrap();
    notes
        .write_string(0, 0, "请按表头填写，每个单位一行。")
        .unwrap();
    let ws = book.add_worksheet();
    ws.set_name(title).unwrap();
    ws.write_string(0, 0, title).unwrap();
    for (c, h) in header.iter().enumerate() {
        ws.write_string(1, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let (r, c) = (r as u32 + 2, c as u16);
            match cell {
                Cell::T("") => {}
                Cell::T(s) => {
                    ws.write_string(r, c, *s).unwrap();
                }
                Cell::N(n) => {
                    ws.write_number(r, c, *n).unwrap();
                }
            }
        }
    }
    book.save_to_buffer().unwrap()
}

fn department_row(unit: &'static str, uscc: Cell, mobile: Cell) -> Vec<Cell> {
    use Cell::*;
    vec![
        T(unit),
        uscc,
        T("机关"),
        T("梅州市梅江区彬芳大道1号"),
        N(514000.0),
        T("陈七"),
        T("副科长"),
        T("办公室"),
        T("0753-2128309"),
        mobile,
        T(""),
        T("chen@example.org"),
        T(""),
        T("周八"),
    ]
}

fn a_filled_template_imports_after_a_dry_run_while_the_service_runs(engine: Engine) {
    let smtp = SmtpServer::start("127.0.0.1:0");
    let server = intake(&smtp).engine(engine).start();
    let site = &server.site;
    let db = Db::of(&server);
    // One web return first, so the service has the database open.
    let web = server.submit("departments", &department("梅州市教育局", "13812345678"));

    let file = site.path().join("回收表格.xlsx");
    std::fs::write(
        &file,
        filled(
            "市直主管部门信息一览表",
            &DEPARTMENT_HEADER,
            &[
                department_row(
                    "梅州市交通运输局",
                    Cell::T("11441700007280420Y"),
                    Cell::N(13800138000.0),
                ),
                department_row(
                    "梅州市林业局",
                    Cell::T("11441700007280420Y"),
                    Cell::T("13900139000"),
                ),
            ],
        ),
    )
    .unwrap();
    let file_arg = file.to_str().unwrap();

    let r = db.run(&["import", "departments", file_arg, "--dry-run"], &[]);
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        r.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(stdout.contains("2 行可以导入"), "{stdout}");
    assert_eq!(
        db.count("SELECT COUNT(*) FROM submissions"),
        1,
        "dry run stores nothing"
    );

    // The same settings as the service (in real use: gazette.toml).
    let r = db.run(
        &["import", "departments", file_arg],
        &[("GAZETTE_FAX_GATEWAY", "{number}@fax.test".into())],
    );
    let stdout = String::from_utf8_lossy(&r.stdout).into_owned();
    assert!(
        r.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let refs: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.split_once("  "))
        .map(|(r, _)| r.to_string())
        .collect();
    assert_eq!(refs.len(), 2, "{stdout}");
    assert!(stdout.contains("梅州市交通运输局") && stdout.contains("梅州市林业局"));
    assert_eq!(
        db.count("SELECT COUNT(*) FROM submissions WHERE source = 'import' AND late = 1"),
        2
    );
    for reference in &refs {
        assert_eq!(reference.len(), 8);
        let n = db.count(&format!(
            "SELECT COUNT(*) FROM outbox o JOIN submissions s ON s.id = o.submission_id
                 WHERE s.reference = '{reference}' AND s.source = 'import'"
        ));
        assert_eq!(n, 2, "an email row and a fax row for {reference}");
    }

    // The same file again (it came by email and by fax, say): nothing is
    // stored twice, and the dry run says so first.
    let r = db.run(&["import", "departments", file_arg, "--dry-run"], &[]);
    let stdout = String::from_utf8_lossy(&r.stdout).into_owned();
    assert!(
        r.status.success() && stdout.contains("0 行可以导入"),
        "{stdout}"
    );
    for reference in &refs {
        assert!(stdout.contains(&format!("参考号 {reference}")), "{stdout}");
    }
    let r = db.run(&["import", "departments", file_arg], &[]);
    let stdout = String::from_utf8_lossy(&r.stdout).into_owned();
    assert!(
        r.status.success() && stdout.contains("已导入 0 行"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("跳过：").count(), 2, "{stdout}");
    assert_eq!(db.count("SELECT COUNT(*) FROM submissions"), 3);
    assert_eq!(
        db.count("SELECT COUNT(*) FROM outbox"),
        6,
        "no new notifications"
    );

    // The running service sends the imported rows' notifications too:
    // the web return's email and fax, then two of each for the import.
    let mails = smtp.wait_for(6, Duration::from_secs(30));
    assert_eq!(mails.len(), 6, "{}", server.log());
    for reference in refs.iter().chain([&web]) {
        let about: Vec<_> = mails
            .iter()
            .filter(|m| {
                m.header("Subject")
                    .is_some_and(|s| s.contains(reference.as_str()))
            })
            .collect();
        assert_eq!(about.len(), 2, "email and fax for {reference}");
        assert!(about.iter().any(|m| m.to == [OFFICE_EMAIL]));
        assert!(about.iter().any(|m| m.to == ["07532128309@fax.test"]));
    }

    // And the export lists all three, the imported ones as imported.
    let out = site.path().join("all.xlsx");
    let r = db.run(
        &["export", "departments", "--output", out.to_str().unwrap()],
        &[],
    );
    assert!(r.status.success());
    let (_, rows) = read_export(&out);
    let units: Vec<String> = rows.iter().map(|r| r[2].to_string()).collect();
    assert_eq!(units, ["梅州市教育局", "梅州市交通运输局", "梅州市林业局"]);
    // The number typed as a number comes back as the mobile it was.
    assert_eq!(rows[1][11], Data::String("13800138000".into()));
    assert_eq!(rows[1][6], Data::String("514000".into()));
}

fn committees_import_from_any_column_order(engine: Engine) {
    let site = Site::with_repo_forms();
    let db = Db::new(&site, engine);
    // The same columns as the template, last first.
    let header = [
        "*填报人",
        "备注",
        "*电子邮箱",
        "*手机",
        "*办公电话",
        "职务",
        "管理员姓名",
        "有效期至",
        "核准日期",
        "核准/备案文号",
        "*日常工作部门统一社会信用代码",
        "*日常工作部门",
        "*组建单位统一社会信用代码",
        "*组建单位",
        "评审范围",
        "*评审级别",
        "*评审专业",
        "*系列",
        "*评委会全称",
    ];
    use Cell::*;
    let row = vec![
        T("赵六"),
        T(""),
        T("pwh@example.org"),
        T("13912345678"),
        T("0753-2128309"),
        T("科员"),
        T("王五"),
        T("2020-12-31"),
        T("2015-03-01"),
        T("粤人社函〔2015〕123号"),
        T("11441700007280420Y"),
        T("梅州市卫生健康局人事科"),
        T("11441700007280420Y"),
        T("梅州市卫生健康局"),
        T("梅州市直单位"),
        T("中级、副高级"),
        T("临床医学"),
        T("卫生技术"),
        T("梅州市卫生系列中级评审委员会"),
    ];
    let file = site.path().join("c.xlsx");
    // The row twice, as a copy-and-paste slip leaves it: stored once.
    let rows = [row.clone(), row];
    std::fs::write(&file, filled("市属评委会信息一览表", &header, &rows)).unwrap();
    let r = db.run(&["import", "committees", file.to_str().unwrap()], &[]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let stdout = String::from_utf8_lossy(&r.stdout);
    assert!(
        stdout.contains("已导入 1 行") && stdout.contains("与本文件中第 1 条数据相同"),
        "{stdout}"
    );
    let out = site.path().join("c-out.xlsx");
    let r = db.run(
        &["export", "committees", "--output", out.to_str().unwrap()],
        &[],
    );
    assert!(r.status.success());
    let (header, rows) = read_export(&out);
    assert_eq!(rows.len(), 1);
    let col = |label: &str| header.iter().position(|h| h == label).unwrap();
    assert_eq!(
        rows[0][col("评委会全称")].to_string(),
        "梅州市卫生系列中级评审委员会"
    );
    assert_eq!(rows[0][col("评审级别")].to_string(), "中级、副高级");
    assert_eq!(
        rows[0][col("核准/备案文号")].to_string(),
        "粤人社函〔2015〕123号"
    );
    // Without a fax transport (the bundled settings) only the email is queued.
    assert_eq!(
        db.count("SELECT COUNT(*) FROM outbox WHERE channel = 'email'"),
        1
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM outbox WHERE channel = 'fax'"),
        0
    );
}

fn a_file_with_bad_cells_is_refused_cell_by_cell_and_nothing_is_stored(engine: Engine) {
    let site = Site::with_repo_forms();
    let db = Db::new(&site, engine);
    let file = site.path().join("bad.xlsx");
    std::fs::write(
        &file,
        filled(
            "市直主管部门信息一览表",
            &DEPARTMENT_HEADER,
            &[
                // Row 3 is good; the others are not.
                department_row(
                    "梅州市交通运输局",
                    Cell::T("11441700007280420Y"),
                    Cell::T("13800138000"),
                ),
                // Row 4: wrong check character.
                department_row(
                    "梅州市林业局",
                    Cell::T("11441700007280420X"),
                    Cell::T("13900139000"),
                ),
                // Row 5: no unit name, a mobile that is not one.
                department_row("", Cell::T("11441700007280420Y"), Cell::T("12345")),
                // Row 6: the code typed as a number (Excel keeps 15 digits).
                department_row(
                    "梅州市水务局",
                    Cell::N(914414007280420.0),
                    Cell::T("13900139000"),
                ),
            ],
        ),
    )
    .unwrap();
    let r = db.run(&["import", "departments", file.to_str().unwrap()], &[]);
    assert_eq!(r.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&r.stderr).into_owned();
    assert!(stderr.contains("没有导入任何数据"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("第 ")).collect();
    for prefix in [
        "第 4 行 第 2 列 (统一社会信用代码): ",
        "第 5 行 第 1 列 (单位全称): ",
        "第 5 行 第 10 列 (手机): ",
        "第 6 行 第 2 列 (统一社会信用代码): ",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(prefix) && l.len() > prefix.len()),
            "no line {prefix}…:\n{stderr}"
        );
    }
    assert_eq!(lines.len(), 4, "{stderr}");
    assert!(!lines.iter().any(|l| l.starts_with("第 3 行")), "{stderr}");
    assert_eq!(db.count("SELECT COUNT(*) FROM submissions"), 0);
    // A dry run refuses the same way.
    let r = db.run(
        &["import", "departments", file.to_str().unwrap(), "--dry-run"],
        &[],
    );
    assert_eq!(r.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&r.stderr)
            .lines()
            .filter(|l| l.starts_with("第 "))
            .count(),
        4
    );
}

#[test]
fn admin_hash_password_reads_stdin_and_prints_a_phc_hash() {
    use std::io::Write as _;
    let mut child = std::process::Command::new(common::gazette_bin())
        .args(["admin", "hash-password"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("正确 horse battery\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hash = String::from_utf8(out.stdout).unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert_eq!(hash.lines().count(), 1);
    let help = std::process::Command::new(common::gazette_bin())
        .args(["admin", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("hash-password"));
}

both!(
    export_gives_back_what_was_posted_as_xlsx_and_csv,
    a_filled_template_imports_after_a_dry_run_while_the_service_runs,
    committees_import_from_any_column_order,
    a_file_with_bad_cells_is_refused_cell_by_cell_and_nothing_is_stored,
);
