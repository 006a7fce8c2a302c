//! Renders real sheets and reads them back with pdftotext (poppler-utils), as the
//! contact office's fax machine and a person copying text would.

use std::path::{Path, PathBuf};
use std::process::Command;

use faxsheet::{page_count, render, Font, Sheet};
use forms::{FormDef, Kind};

const OFFICE: &str = "梅州市人力资源和社会保障局 专业技术人员管理科";

fn font() -> Font {
    // tests/run.sh installs fonts-wqy-microhei: a missing font is a failure, not a skip.
    Font::find(Path::new("")).unwrap_or_else(|e| panic!("{e}"))
}

fn forms() -> Vec<FormDef> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../content/forms");
    FormDef::load_dir(&dir).unwrap_or_else(|e| panic!("{}: {e:?}", dir.display()))
}

fn form(id: &str) -> FormDef {
    forms()
        .into_iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no bundled form {id}"))
}

/// A 备注 of exactly 600 characters: several paragraphs, Chinese with Latin words, a
/// URL and numbers, so that wrapping of every kind happens.
fn long_remark() -> String {
    let paras = [
        "一、本单位系统管理员由专业技术人员管理科副科长担任，负责本单位及下属人事单位账号的设置、审核和日常维护，\
         账号开通后将在首次登录时修改初始密码，并妥善保管，不得转借他人使用。",
        "二、我单位下属事业单位共十二个，其中梅州市人民医院、梅州市中医医院、梅州市第三人民医院等单位专业技术人员较多，\
         请在系统开通后优先安排上述单位的人事单位账号设置工作，以便按时完成2016年度职称评审申报。",
        "三、办公电脑操作系统为 Windows 7，浏览器为 Internet Explorer 11 及 Google Chrome 51，\
         如系统对浏览器版本有特殊要求，请提前告知。相关通知见 http://www.mzhrss.gov.cn/zwgk/tzgg/2016-07/content_0216.html 。",
        "四、联系电话 0753-2128309，传真 0753-2128309，手机 13823456789；如有变更将及时书面报告市人力资源和社会保障局专业技术人员管理科。",
    ];
    let mut text = String::new();
    'fill: loop {
        for p in paras {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(p);
            if text.chars().count() >= 600 {
                break 'fill;
            }
        }
    }
    text.chars().take(600).collect()
}

/// Realistic answers, chosen by field name where known and by kind otherwise, so new
/// fields in the bundled forms still get one.
fn answer(name: &str, kind: Kind) -> String {
    let known = match name {
        "unit_name" => "梅州市人力资源和社会保障局",
        "committee_name" => "梅州市中小学教师中级职称评审委员会",
        "unit_type" => "机关",
        "address" => "广东省梅州市梅江区江南路68号人力资源和社会保障综合服务大楼五楼",
        "series" => "中小学教师",
        "specialties" => "语文、数学、英语、物理、化学、生物、政治、历史、地理、音乐、体育、美术、信息技术、心理健康教育",
        "levels" => "初级、中级",
        "scope" => "梅州市直属中小学校及各县（市、区）教育局所属中小学校、幼儿园在职在岗教师",
        "founder_name" => "梅州市教育局",
        "office_name" => "梅州市教育局人事科",
        "admin_name" => "万勇",
        "admin_title" => "副科长",
        "admin_section" => "专业技术人员管理科",
        "filled_by" => "李四",
        "approval_no" => "粤人社函〔2016〕1024号",
        "approval_date" => "2016-05-12",
        "valid_until" => "2019-05-11",
        "remarks" => return long_remark(),
        _ => "",
    };
    if !known.is_empty() {
        return known.to_string();
    }
    match kind {
        Kind::Uscc => "11441700007280420Y",
        Kind::Phone => "0753-2128309",
        Kind::Mobile => "13823456789",
        Kind::Email => "zjk@mzhrss.example.cn",
        Kind::Postcode => "514000",
        Kind::Date => "2016-07-20",
        Kind::Textarea => return long_remark(),
        _ => "梅州市专业技术人员管理服务中心",
    }
    .to_string()
}

fn rows_for(def: &FormDef) -> Vec<(String, String)> {
    def.fields
        .iter()
        .map(|f| (f.label.clone(), answer(&f.name, f.kind)))
        .collect()
}

fn title_of(def: &FormDef) -> String {
    match def.annex {
        Some(n) => format!("附件{n} {}", def.title),
        None => def.title.clone(),
    }
}

fn pdftotext(pdf: &[u8], args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sheet.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let out = Command::new("pdftotext")
        .args(args)
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("pdftotext ({e}): apt-get install poppler-utils"));
    assert!(
        out.status.success(),
        "pdftotext failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("pdftotext gives UTF-8")
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Where the test run keeps the PDFs, to look at them by hand.
fn keep(name: &str, pdf: &[u8]) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, pdf).expect("keep pdf");
    path
}

const RECEIVED: &str = "2016年7月20日 10:31";

/// The answer column of every page, read with -layout: labels cannot interleave with it.
fn answer_column(pdf: &[u8]) -> String {
    // Left edge of the answer column in points (margin 50 + label column 135), a hair in.
    pdftotext(
        pdf,
        &["-layout", "-x", "186", "-y", "0", "-W", "420", "-H", "842"],
    )
}

/// The label column of every page.
fn label_column(pdf: &[u8]) -> String {
    pdftotext(
        pdf,
        &["-layout", "-x", "0", "-y", "0", "-W", "184", "-H", "842"],
    )
}

fn pdfinfo_pages(pdf: &[u8]) -> usize {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("sheet.pdf");
    std::fs::write(&path, pdf).expect("write pdf");
    let out = Command::new("pdfinfo")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("pdfinfo ({e}): apt-get install poppler-utils"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo prints Pages:")
}

/// Renders each bundled form with realistic answers and reads it back.
fn check_bundled(id: &str, late: bool) -> (usize, usize) {
    let font = font();
    let def = form(id);
    let rows = rows_for(&def);
    let title = title_of(&def);
    let sheet = Sheet {
        office: OFFICE,
        form_title: &title,
        reference: "K7QH3XMP",
        received: RECEIVED,
        late,
        rows: &rows,
        contacts: &[],
    };
    let pdf = render(&sheet, &font).unwrap_or_else(|e| panic!("{id}: {e}"));
    // Same return, same bytes: a retried fax sends what the first try would have.
    assert!(
        render(&sheet, &font).is_ok_and(|again| again == pdf),
        "{id}: deterministic"
    );
    let path = keep(&format!("faxsheet-{id}.pdf"), &pdf);
    assert!(pdf.starts_with(b"%PDF-"), "{id}: not a PDF");
    let pages = page_count(&pdf);
    assert!(pages >= 1);

    let all = squash(&pdftotext(&pdf, &["-layout"]));
    let answers = squash(&answer_column(&pdf));
    let labels = squash(&label_column(&pdf));
    assert_eq!(
        pdfinfo_pages(&pdf),
        pages,
        "{id}: page_count agrees with poppler"
    );
    for (label, answer) in &rows {
        assert!(
            labels.contains(&squash(label)),
            "{id}: label {label} missing"
        );
        assert!(
            answers.contains(&squash(answer)),
            "{id}: answer to {label} not read back from {}:\n{answer}\n---\n{answers}",
            path.display()
        );
    }
    for text in [OFFICE, title.as_str(), "参考编号K7QH3XMP", RECEIVED] {
        assert!(all.contains(&squash(text)), "{id}: {text} missing");
    }
    assert_eq!(all.contains("逾期"), late, "{id}: late mark");
    assert!(all.contains(&format!("第1页共{pages}页")), "{id}: footer");
    (pdf.len(), pages)
}

#[test]
fn departments_sheet_reads_back() {
    let (size, _) = check_bundled("departments", false);
    assert!(
        size < 300 * 1024,
        "departments sheet is {size} bytes: font not subset?"
    );
}

#[test]
fn committees_sheet_reads_back_with_its_late_mark() {
    check_bundled("committees", true);
}

#[test]
fn every_bundled_form_renders() {
    // New forms in content/forms get the same treatment without a new test.
    let font = font();
    let defs = forms();
    assert!(defs.len() >= 2);
    for def in &defs {
        let rows = rows_for(def);
        let title = title_of(def);
        let sheet = Sheet {
            office: OFFICE,
            form_title: &title,
            reference: "K7QH3XMP",
            received: RECEIVED,
            late: false,
            rows: &rows,
            contacts: &[],
        };
        let pdf = render(&sheet, &font).unwrap_or_else(|e| panic!("{}: {e}", def.id));
        let answers = squash(&answer_column(&pdf));
        for (label, answer) in &rows {
            assert!(answers.contains(&squash(answer)), "{}: {label}", def.id);
        }
    }
}

#[test]
fn sizes_and_page_counts() {
    // Run with --nocapture to see the figures for the handover note.
    let font = font();
    for def in forms() {
        let title = title_of(&def);
        let long = rows_for(&def);
        // The common case: a short 备注.
        let short: Vec<(String, String)> = long
            .iter()
            .map(|(l, a)| match a.chars().count() {
                n if n >= 600 => (l.clone(), "无".to_string()),
                _ => (l.clone(), a.clone()),
            })
            .collect();
        for (remark, rows, late) in [("600字", &long, false), ("短", &short, true)] {
            let sheet = Sheet {
                office: OFFICE,
                form_title: &title,
                reference: "K7QH3XMP",
                received: RECEIVED,
                late,
                rows,
                contacts: &[],
            };
            let pdf = render(&sheet, &font).unwrap_or_else(|e| panic!("{}: {e}", def.id));
            println!(
                "fax sheet {:<12} 备注={remark:<5} late={late:<5} {:>6} bytes ({:.1} KB), {} page(s), font {}",
                def.id,
                pdf.len(),
                pdf.len() as f64 / 1024.0,
                page_count(&pdf),
                font.family()
            );
            assert!(pdf.len() < 300 * 1024, "{}: {} bytes", def.id, pdf.len());
        }
    }
}

/// Deterministic filler: distinct Chinese text with Latin words and digits.
fn filler(seed: u32, chars: usize) -> String {
    const HAN: &str = "梅州市人力资源和社会保障局专业技术人员管理科评审委员会职称申报系统账号设置审核单位部门教师医院工程";
    let han: Vec<char> = HAN.chars().collect();
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    let mut out = String::new();
    let mut n = 0;
    while n < chars {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let pick = (state >> 16) as usize;
        let piece = match pick % 29 {
            0 => format!(" Excel{} ", pick % 100),
            1 => "，".to_string(),
            2 => "。".to_string(),
            3 => "\n".to_string(),
            _ => han[pick % han.len()].to_string(),
        };
        n += piece.chars().count();
        out.push_str(&piece);
    }
    out
}

#[test]
fn long_rows_span_pages_and_every_footer_agrees() {
    let font = font();
    let mut rows: Vec<(String, String)> = (1..=8)
        .map(|i| (format!("说明{i}"), filler(i, 420)))
        .collect();
    // Longer than a whole page: must be split, not cut.
    rows.insert(3, ("附件说明".to_string(), filler(99, 3000)));
    let sheet = Sheet {
        office: OFFICE,
        form_title: "附件1 市直主管部门信息一览表",
        reference: "K7QH3XMP",
        received: RECEIVED,
        late: true,
        rows: &rows,
        contacts: &[],
    };
    let pdf = render(&sheet, &font).expect("render");
    keep("faxsheet-long.pdf", &pdf);
    let pages = page_count(&pdf);
    assert!(pages >= 3, "{pages} pages");
    for n in 1..=pages {
        let page = n.to_string();
        let text = squash(&pdftotext(&pdf, &["-layout", "-f", &page, "-l", &page]));
        assert!(
            text.contains(&format!("第{n}页共{pages}页")),
            "page {n}: {text}"
        );
        if n > 1 {
            assert!(text.contains("参考编号K7QH3XMP（续）"), "page {n} header");
        }
    }
    assert_eq!(pdfinfo_pages(&pdf), pages, "page_count agrees with poppler");

    // Nothing lost: each answer reads back whole once the page furniture between the
    // parts of a split row is taken out.
    let mut column = squash(&answer_column(&pdf));
    for n in 1..=pages {
        column = column.replace(&format!("第{n}页共{pages}页"), "");
    }
    column = column.replace("填报内容", "");
    // What of the continuation header falls inside the answer column's crop.
    let header = squash(&pdftotext(
        &pdf,
        &[
            "-layout", "-f", "2", "-l", "2", "-x", "186", "-y", "0", "-W", "420", "-H", "70",
        ],
    ));
    assert!(!header.is_empty());
    column = column.replace(&header, "");
    for (label, answer) in &rows {
        assert!(
            column.contains(&squash(answer)),
            "{label}: answer not read back whole"
        );
    }
}

#[test]
fn hostile_input_does_not_panic() {
    let font = font();
    let rows: Vec<(String, String)> = vec![
        (String::new(), String::new()),
        ("控制字符".into(), "a\u{0}b\u{7}c\r\n\u{feff}d\u{1b}".into()),
        ("表情".into(), "👍🏻 𠮷野家 \u{202e}txet".into()),
        ("只有空白".into(), " \n\t\n \u{3000} ".into()),
        ("x".repeat(500), "一".repeat(5)),
        ("长串".into(), "9".repeat(5000)),
    ];
    let long_title = "很长的标题".repeat(300);
    let sheet = Sheet {
        office: &"梅州".repeat(400),
        form_title: &long_title,
        reference: &"K".repeat(300),
        received: "",
        late: true,
        rows: &rows,
        contacts: &[],
    };
    let pdf = render(&sheet, &font).expect("render");
    assert!(page_count(&pdf) >= 2);
    let text = squash(&pdftotext(&pdf, &["-layout"]));
    assert!(text.contains("abcd"), "controls dropped, text kept");
    assert!(text.contains(&"9".repeat(100)));

    // Many short rows: many pages, all numbered.
    let rows: Vec<(String, String)> = (0..400)
        .map(|i| (format!("第{i}项"), format!("答案{i}")))
        .collect();
    let sheet = Sheet {
        rows: &rows,
        contacts: &[],
        late: false,
        ..sheet
    };
    let pdf = render(&sheet, &font).expect("render");
    let pages = page_count(&pdf);
    assert!(pages > 5);
    let text = squash(&pdftotext(&pdf, &["-layout"]));
    assert!(text.contains(&format!("第{pages}页共{pages}页")));
    assert!(text.contains("答案399"));
}

fn contacts() -> Vec<(String, String)> {
    [
        ("联系科室", OFFICE),
        ("联系人", "万勇"),
        ("电话", "0753-2128309"),
        (
            "地址",
            "梅州市梅江区江南彬芳大道中路2号市人力资源和社会保障局大楼五楼专业技术人员管理科",
        ),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

#[test]
fn contacts_are_a_table_of_their_own_with_a_header_row() {
    // The short answers (the 600-character 备注 would take a second page).
    let rows: Vec<(String, String)> = rows_for(&form("departments"))
        .into_iter()
        .filter(|(_, a)| a.chars().count() < 60)
        .collect();
    let contacts = contacts();
    let sheet = Sheet {
        office: OFFICE,
        form_title: "附件1 市直主管部门信息一览表",
        reference: "K7QH3XMP",
        received: RECEIVED,
        late: false,
        rows: &rows,
        contacts: &contacts,
    };
    let pdf = render(&sheet, &font()).unwrap();
    keep("faxsheet-contacts.pdf", &pdf);
    assert_eq!(page_count(&pdf), 1);
    // Under the answers: the caption, the header row, then one row a contact,
    // each label in the label column and its value in the answer column.
    let all = squash(&pdftotext(&pdf, &[]));
    let caption = all
        .find("受理单位联系方式联系方式内容联系科室")
        .unwrap_or_else(|| panic!("{all}"));
    assert!(all.find("填报人").unwrap() < caption, "{all}");
    let labels = squash(&label_column(&pdf));
    let answers = squash(&answer_column(&pdf));
    assert!(
        labels.ends_with("填报人受理单位联系方式联系方式联系科室联系人电话地址"),
        "{labels}"
    );
    assert!(
        answers.contains(
            "内容梅州市人力资源和社会保障局专业技术人员管理科万勇0753-2128309梅州市梅江区"
        ),
        "{answers}"
    );
}

#[test]
fn contacts_that_do_not_fit_go_whole_to_a_page_of_their_own() {
    let contacts = contacts();
    // Rows filling page 1 to within a few lines of its foot.
    for n in [28usize, 29, 30, 31, 32] {
        let rows: Vec<(String, String)> = (0..n)
            .map(|i| (format!("项目{i}"), format!("答案{i}")))
            .collect();
        let sheet = Sheet {
            office: OFFICE,
            form_title: "附件1 市直主管部门信息一览表",
            reference: "K7QH3XMP",
            received: RECEIVED,
            late: false,
            rows: &rows,
            contacts: &contacts,
        };
        let pdf = render(&sheet, &font()).unwrap();
        let pages = page_count(&pdf);
        let last = squash(&pdftotext(
            &pdf,
            &["-f", &pages.to_string(), "-l", &pages.to_string()],
        ));
        // The whole table on the last page, never split from its caption or header.
        assert!(
            last.contains("受理单位联系方式联系方式内容联系科室") && last.contains("梅州市梅江区"),
            "{n} rows: {last}"
        );
        if pages > 1 && !last.contains(&format!("项目{}", n - 1)) {
            // A page of contacts only: no answers' header row.
            assert!(!last.contains("填报内容"), "{n} rows: {last}");
        }
    }
}
