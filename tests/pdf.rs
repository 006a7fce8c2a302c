//! The PDFs the build makes (the notice, the blank forms, the manuals) and
//! the receipt's, read back with poppler-utils (`pdftotext`, `pdffonts`,
//! `pdfinfo`, `pdftohtml -xml` for the outline), which tests/run.sh installs.

use crate::common::{build_bundled, http, repo, Intake};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs a poppler tool; a missing one fails the test saying what to install.
fn poppler(tool: &str, args: &[&str], pdf: &Path) -> String {
    let out = Command::new(tool)
        .args(args)
        .arg(pdf)
        .args(if tool == "pdftotext" || tool == "pdftohtml" {
            &["-"][..]
        } else {
            &[][..]
        })
        .output()
        .unwrap_or_else(|e| {
            panic!("{tool}: {e}: install poppler-utils (apt-get install poppler-utils)")
        });
    assert!(
        out.status.success(),
        "{tool} {}: {}",
        pdf.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(pdf: &Path) -> String {
    poppler("pdftotext", &["-enc", "UTF-8"], pdf)
}

/// The text without white space (a label wrapped in its cell reads as one).
fn squeezed(pdf: &Path) -> String {
    text(pdf).split_whitespace().collect()
}

fn pages(pdf: &Path) -> usize {
    let info = poppler("pdfinfo", &[], pdf);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count:\n{info}"))
}

/// Every page A4, portrait or landscape.
fn assert_a4(pdf: &Path) {
    let info = poppler("pdfinfo", &["-f", "1", "-l", "999"], pdf);
    let sizes: Vec<&str> = info
        .lines()
        .filter(|l| l.starts_with("Page") && l.contains(" size:"))
        .collect();
    assert!(!sizes.is_empty(), "{info}");
    for s in sizes {
        assert!(
            s.contains("595.276 x 841.89 pts") || s.contains("841.89 x 595.276 pts"),
            "{}: {s}",
            pdf.display()
        );
    }
}

/// Only embedded subset fonts, each with a ToUnicode map.
fn assert_subset_fonts(pdf: &Path) {
    let list = poppler("pdffonts", &[], pdf);
    let fonts: Vec<&str> = list.lines().skip(2).collect();
    assert!(!fonts.is_empty(), "{list}");
    for f in fonts {
        let cols: Vec<&str> = f.split_whitespace().collect();
        let n = cols.len();
        assert!(n >= 5, "{f}");
        // name … emb sub uni object ID
        assert_eq!(
            cols[n - 5..n - 2],
            ["yes", "yes", "yes"],
            "{}: {f}",
            pdf.display()
        );
        assert!(
            cols[0].len() > 7 && cols[0].as_bytes()[6] == b'+',
            "not a subset: {f}"
        );
    }
}

fn built() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("public");
    build_bundled(&out);
    (dir, out)
}

/// The PDFs of a built site, by path under it.
fn pdfs(out: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![out.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "pdf") {
                found.push(p.strip_prefix(out).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_pdf_of_the_bundled_site_is_a4_with_subset_fonts_and_linked_with_its_size() {
    let (_dir, out) = built();
    let found = pdfs(&out);
    assert_eq!(
        found,
        [
            "forms/committees/committees-blank.pdf",
            "forms/departments/departments-blank.pdf",
            "manuals/committee/committee.pdf",
            "manuals/employer/employer.pdf",
            "manuals/individual/individual.pdf",
            "manuals/supervisor/supervisor.pdf",
            "notices/2016-216/notice.pdf",
        ]
    );
    for rel in &found {
        let pdf = out.join(rel);
        assert_a4(&pdf);
        assert_subset_fonts(&pdf);
        let n = pages(&pdf);
        let sane = if rel.starts_with("forms/") {
            1..=2
        } else if rel.starts_with("manuals/") {
            4..=40
        } else {
            2..=8
        };
        assert!(sane.contains(&n), "{rel}: {n} pages");
    }
    // The notice's annex table links each PDF with format and size; so do
    // the form and manual pages.
    let notice = std::fs::read_to_string(out.join("notices/2016-216/index.html")).unwrap();
    assert!(
        notice.contains(r#"href="../../notices/2016-216/notice.pdf""#),
        "the notice links its own PDF"
    );
    for rel in &found[..6] {
        let href = format!(r#"href="../../{rel}""#);
        assert!(notice.contains(&href), "notice lacks {href}");
    }
    assert!(
        notice.matches(">PDF，").count() >= 7,
        "format and size shown"
    );
    let form = std::fs::read_to_string(out.join("forms/departments/index.html")).unwrap();
    assert!(
        form.contains(r#"href="../../forms/departments/departments-blank.pdf""#)
            && form.contains("（PDF，")
    );
    let manual = std::fs::read_to_string(out.join("manuals/supervisor/index.html")).unwrap();
    assert!(
        manual.contains(r#"href="../../manuals/supervisor/supervisor.pdf""#)
            && manual.contains("PDF，")
    );
}

/// A word of `pdftotext -bbox`: page, text and box in points.
struct Word {
    page: usize,
    text: String,
    x0: f32,
    y0: f32,
    x1: f32,
    y1: f32,
}

fn words(pdf: &Path) -> Vec<Word> {
    let xml = poppler("pdftotext", &["-bbox", "-enc", "UTF-8"], pdf);
    let attr = |l: &str, name: &str| -> f32 {
        let at = l.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        l[at..].split('"').next().unwrap().parse().unwrap()
    };
    let mut page = 0;
    let mut out = Vec::new();
    for l in xml.lines() {
        let l = l.trim();
        if l.starts_with("<page ") {
            page += 1;
        } else if l.starts_with("<word ") {
            let text = l
                .split('>')
                .nth(1)
                .unwrap_or("")
                .split('<')
                .next()
                .unwrap_or("");
            out.push(Word {
                page,
                text: text.to_string(),
                x0: attr(l, "xMin"),
                y0: attr(l, "yMin"),
                x1: attr(l, "xMax"),
                y1: attr(l, "yMax"),
            });
        }
    }
    out
}

#[test]
fn the_notice_is_a_letter_with_its_text_inside_the_type_area_and_numbered_from_page_2() {
    let (_dir, out) = built();
    let pdf = out.join("notices/2016-216/notice.pdf");
    let all = text(&pdf);
    let flat: String = all.split_whitespace().collect();
    // In reading order: the mark, the number, the title as the content breaks
    // it, the addressees, the body, the annex list, signature, date, contact.
    let order = [
        "梅州市人力资源和社会保障局",
        "梅市人社函〔2016〕216号",
        "关于启用广东省专业技术人才网上申报",
        "系统有关问题的通知",
        "各县（市、区）人力资源和社会保障局，蕉岭县委组织部，市直有关单位：",
        "一、分级建立用户账号",
        "四、其它",
        "附件：1.市直主管部门信息一览表",
        "6.广东省技术人才网上申报系统操作手册_个人",
        "2016年7月15日【待核实】",
        "（联系人：万勇，电话（传真）：2128309）",
    ];
    let mut at = 0;
    for s in order {
        let found = flat[at..]
            .find(s)
            .unwrap_or_else(|| panic!("{s:?} not after {at}:\n{all}"));
        at += found + s.len();
    }
    // The title's lines are the content's own: a line ends at 申报.
    assert!(
        all.lines()
            .any(|l| l.trim() == "关于启用广东省专业技术人才网上申报"),
        "{all}"
    );
    const MM: f32 = 72.0 / 25.4;
    let (left, top, right, bottom) = (28.0 * MM, 37.0 * MM, 184.0 * MM, 262.0 * MM);
    let ws = words(&pdf);
    let last_page = ws.iter().map(|w| w.page).max().unwrap();
    assert!(last_page >= 2);
    let slack = 1.0;
    for w in &ws {
        let folio = w.y0 > bottom && w.page > 1;
        // The 发文机关标志 stands 30 mm from the top, above the 版心.
        let mark = w.page == 1 && w.y0 < top;
        if folio || mark {
            continue;
        }
        assert!(
            w.x0 >= left - slack
                && w.x1 <= right + slack
                && w.y0 >= top - slack
                && w.y1 <= bottom + slack,
            "page {} {:?} at ({}, {})–({}, {}) is outside the 版心",
            w.page,
            w.text,
            w.x0,
            w.y0,
            w.x1,
            w.y1
        );
    }
    // Page numbers: none on page 1, `— N —` 7 mm under the 版心 from page 2.
    let folio = |page: usize| -> String {
        ws.iter()
            .filter(|w| w.page == page && w.y0 > bottom)
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(folio(1), "");
    assert_eq!(folio(2), "— 2 —");
    assert_eq!(folio(last_page), format!("— {last_page} —"));
    // Odd pages flush right, even flush left.
    let x_of = |page: usize| {
        ws.iter()
            .find(|w| w.page == page && w.y0 > bottom)
            .unwrap()
            .x0
    };
    assert!(x_of(2) < 200.0, "page 2's number is on the left");
    if last_page >= 3 {
        assert!(x_of(3) > 350.0, "page 3's number is on the right");
    }
    // On the grid of 22 lines to the 版心: page 2 full, the lines 225/22 mm apart.
    let mut tops: Vec<f32> = ws
        .iter()
        .filter(|w| w.page == 2 && w.y0 <= bottom)
        .map(|w| w.y0)
        .collect();
    tops.sort_by(f32::total_cmp);
    tops.dedup_by(|a, b| (*a - *b).abs() < 4.0);
    assert_eq!(tops.len(), 22, "{tops:?}");
    for pair in tops.windows(2) {
        let pitch = pair[1] - pair[0];
        assert!((pitch - 225.0 * MM / 22.0).abs() < 0.5, "{tops:?}");
    }
}

#[test]
fn each_blank_form_has_its_annex_number_labels_and_the_seal_and_date_lines() {
    let (_dir, out) = built();
    for (form, annex, labels) in [
        (
            "departments",
            "附件1",
            &[
                "单位全称",
                "统一社会信用代码",
                "单位类型",
                "□机关",
                "□事业单位",
                "单位地址",
                "备注",
                "填报人",
            ][..],
        ),
        (
            "committees",
            "附件2",
            &[
                "评委会全称",
                "评审级别",
                "□正高级",
                "组建单位统一社会信用代码",
                "核准/备案文号",
                "有效期至",
            ][..],
        ),
    ] {
        let pdf = out.join(format!("forms/{form}/{form}-blank.pdf"));
        let flat = squeezed(&pdf);
        assert!(flat.starts_with(annex), "{form}: {flat}");
        for l in labels.iter().chain(&["填报单位（盖章）：", "填报日期："]) {
            assert!(flat.contains(l), "{form} lacks {l}: {flat}");
        }
        // The labels in the form's order.
        let first = flat.find(labels[0]).unwrap();
        let last = flat.find(labels[labels.len() - 1]).unwrap();
        assert!(first < last, "{form}: {flat}");
        // Too many columns for A4 landscape: one unit per page, portrait.
        assert_eq!(pages(&pdf), 1, "{form}");
        let info = poppler("pdfinfo", &[], &pdf);
        assert!(info.contains("595.276 x 841.89"), "{info}");
    }
}

/// The chapters of a SUMMARY.md as (depth, title), in order.
fn summary(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|l| {
            let indent = l.len() - l.trim_start().len();
            let t = l.trim_start().trim_start_matches("- ");
            let title = t.strip_prefix('[')?.split("](").next()?;
            Some((indent / 4, title.to_string()))
        })
        .collect()
}

/// The outline of a PDF as (depth, title, page), from `pdftohtml -xml`.
fn outline(pdf: &Path) -> Vec<(usize, String, usize)> {
    let xml = poppler("pdftohtml", &["-xml", "-i", "-q", "-stdout"], pdf);
    let mut depth = 0;
    let mut out = Vec::new();
    for l in xml.lines() {
        let l = l.trim();
        if l == "<outline>" {
            depth += 1;
        } else if l == "</outline>" {
            depth -= 1;
        } else if let Some(rest) = l.strip_prefix("<item page=\"") {
            let (page, rest) = rest.split_once("\">").unwrap();
            let title = rest.trim_end_matches("</item>").to_string();
            out.push((depth, title, page.parse().unwrap()));
        }
    }
    out
}

#[test]
fn each_manual_pdf_has_cover_contents_and_an_outline_matching_its_summary() {
    let (_dir, out) = built();
    for id in ["supervisor", "committee", "employer", "individual"] {
        let pdf = out.join(format!("manuals/{id}/{id}.pdf"));
        let want = summary(&repo().join(format!("manuals/{id}/src/SUMMARY.md")));
        assert!(want.len() > 5, "{id}: {want:?}");
        let titles: Vec<&str> = want.iter().map(|(_, t)| t.as_str()).collect();
        // Chapter entries of the outline: their number stripped.
        let strip = |t: &str| -> String {
            let rest = t.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
            rest.trim_start().to_string()
        };
        let got = outline(&pdf);
        assert!(!got.is_empty(), "{id}: no outline");
        let chapters: Vec<(usize, String, usize)> = got
            .iter()
            .filter(|(_, t, _)| titles.contains(&strip(t).as_str()))
            .map(|(d, t, p)| (d - 1, strip(t), *p))
            .collect();
        let shape: Vec<(usize, String)> =
            chapters.iter().map(|(d, t, _)| (*d, t.clone())).collect();
        assert_eq!(shape, want, "{id}");
        // Headings inside chapters are bookmarked too, under their chapter.
        assert!(got.len() > want.len() + 5, "{id}: {got:?}");
        // Each bookmark leads to the page where its chapter starts, and the
        // contents page gives that page number.
        let contents = poppler("pdftotext", &["-f", "2", "-l", "2", "-enc", "UTF-8"], &pdf);
        for (_, title, page) in &chapters {
            let on_page = poppler(
                "pdftotext",
                &[
                    "-f",
                    &page.to_string(),
                    "-l",
                    &page.to_string(),
                    "-enc",
                    "UTF-8",
                ],
                &pdf,
            );
            let flat: String = on_page.split_whitespace().collect();
            let t: String = title.split_whitespace().collect();
            assert!(flat.contains(&t), "{id}: {title} not on page {page}");
            // Each page carries its number and the running head.
            assert!(
                flat.contains(&format!("—{page}—")),
                "{id}: page {page}: {on_page}"
            );
            assert!(
                on_page.starts_with("广东省专业技术人才"),
                "{id}: page {page}: {on_page}"
            );
            let line = contents
                .lines()
                .find(|l| l.contains(title.as_str()))
                .unwrap_or_else(|| panic!("{id}: {title} not in the contents:\n{contents}"));
            assert!(
                line.trim_end().ends_with(&page.to_string()),
                "{id}: {line} ≠ page {page}"
            );
        }
        let cover = poppler("pdftotext", &["-f", "1", "-l", "1", "-enc", "UTF-8"], &pdf);
        assert!(cover.contains("附件"), "{id} cover: {cover}");
        let body: String = text(&pdf).split_whitespace().collect();
        assert!(body.contains("目录") || body.contains("目　录"), "{id}");
        // Chapters flow on: fewer pages than chapters.
        assert!(pages(&pdf) < want.len() + 3, "{id}: {} pages", pages(&pdf));
    }
}

#[test]
fn the_receipt_page_offers_its_pdf_with_reference_answers_and_contacts() {
    let intake = Intake::builder().start();
    let res = intake.post("departments", &crate::common::department("梅州市教育局"));
    assert_eq!(res.status, 303, "{}", res.text());
    let location = res.header("Location").expect("Location").to_string();
    let page = intake.get(&location).text();
    let href = format!("{location}/receipt.pdf");
    assert!(page.contains(&format!("href=\"{href}\"")), "{page}");
    let res = intake.get(&href);
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.header("Content-Type"), Some("application/pdf"));
    assert_eq!(res.header("Cache-Control"), Some("no-store, private"));
    assert!(res.body.starts_with(b"%PDF-"));
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("receipt.pdf");
    std::fs::write(&pdf, &res.body).unwrap();
    assert_a4(&pdf);
    assert_subset_fonts(&pdf);
    assert_eq!(pages(&pdf), 1);
    let reference = &location["/receipts/".len().."/receipts/".len() + 8];
    let flat = squeezed(&pdf);
    let order = [
        "附件1市直主管部门信息一览表",
        reference,
        "单位全称",
        "梅州市教育局",
        "统一社会信用代码",
        "11441700007280420Y",
        "报送状态",
        // The bundled deadline (2016) is past: the return is marked late.
        "逾期（截止日期后报送）",
        // The contacts: a table of their own, with a header row.
        "受理单位联系方式",
        "联系方式",
        "内容",
        "联系科室",
        "梅州市人力资源和社会保障局",
        "联系人",
        "万勇",
        "电话",
        "0753-2128309",
    ];
    let mut at = 0;
    for s in order {
        let found = flat[at..]
            .find(s)
            .unwrap_or_else(|| panic!("{s:?} not after {at}: {flat}"));
        at += found + s.len();
    }
    // Laid out as a table: each contact on one line, label and value in
    // the columns of the header row above them.
    let layout = poppler("pdftotext", &["-layout", "-enc", "UTF-8"], &pdf);
    let row = |label: &str| -> &str {
        layout
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no row {label}:\n{layout}"))
    };
    assert!(row("联系人").contains("万勇"), "{layout}");
    assert!(row("电话").contains("0753-2128309"), "{layout}");
    let ws = words(&pdf);
    let word = |t: &str| {
        ws.iter()
            .rev()
            .find(|w| w.text == t)
            .unwrap_or_else(|| panic!("no word {t}"))
    };
    let (head_l, head_r) = (word("联系方式"), word("内容"));
    assert!(
        (head_l.y0 - head_r.y0).abs() < 1.0,
        "the header row is one row"
    );
    let (label, value) = (word("联系人"), word("万勇"));
    assert!(
        (label.y0 - value.y0).abs() < 1.0,
        "联系人 and 万勇 on one row"
    );
    assert!(head_l.y1 < label.y0, "the header row above the rows");
    assert!(label.x1 < head_r.x0 && value.x0 < head_r.x1 && value.x1 > head_r.x0 - 200.0);
    assert!(
        label.x0 < head_l.x1 && value.x0 > head_l.x1,
        "label and value in their columns"
    );
    // A forged token has no PDF either.
    let forged = format!("/receipts/{reference}{}/receipt.pdf", "0".repeat(32));
    assert_eq!(http::get(intake.addr(), &forged).status, 404);
}

#[test]
fn without_a_cjk_font_the_build_says_what_to_install() {
    let out = tempfile::tempdir().unwrap();
    let result = crate::common::gazette()
        .args(["build", "--root"])
        .arg(repo())
        .arg("--output")
        .arg(out.path().join("public"))
        .env("GAZETTE_PDF_FONT", "/nonexistent/fonts/仿宋.ttf")
        .output()
        .unwrap();
    assert!(!result.status.success());
    let err = String::from_utf8_lossy(&result.stderr);
    assert!(err.contains("[pdf] font"), "{err}");
    assert!(err.contains("/nonexistent/fonts/仿宋.ttf"), "{err}");
    assert!(err.contains("apt-get install fonts-wqy-microhei"), "{err}");
    // Nothing half-made: no PDF set in a fallback font.
    assert!(!out
        .path()
        .join("public/notices/2016-216/notice.pdf")
        .exists());
}

/// The bundled site with `tests/fixtures/parts` (three parts, short
/// chapters, a long table, links, inline styles, a figure with curves) as
/// `manuals/parts`, built; the site folder and the output.
fn built_with_parts() -> (crate::common::Site, PathBuf) {
    let site = crate::common::Site::bundled();
    crate::common::copy_dir(
        &repo().join("tests/fixtures/parts"),
        &site.path().join("manuals/parts"),
    );
    let out = site.path().join("public");
    let result = crate::common::gazette()
        .args(["build", "--root"])
        .arg(site.path())
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    (site, out)
}

/// Page `n`'s text without white space.
fn page_text(pdf: &Path, n: usize) -> String {
    let n = n.to_string();
    poppler("pdftotext", &["-f", &n, "-l", &n, "-enc", "UTF-8"], pdf)
        .split_whitespace()
        .collect()
}

/// The first page from `from` whose text holds `s`.
fn page_of(pdf: &Path, from: usize, s: &str) -> usize {
    (from..=pages(pdf))
        .find(|&n| page_text(pdf, n).contains(s))
        .unwrap_or_else(|| panic!("{s:?} on no page of {}", pdf.display()))
}

/// A part's page and the pages its chapters are on: the part starts its
/// page, its chapters run on after it.
fn assert_parts_break_pages(pdf: &Path, body_from: &str) {
    // After the contents (which list the parts too).
    let preface = page_of(pdf, 1, body_from);
    let (one, two, three) = (
        page_of(pdf, preface, "第一部分准备"),
        page_of(pdf, preface, "第二部分操作"),
        page_of(pdf, preface, "第三部分附录"),
    );
    // The preface is before the first part, on a page of its own.
    assert!(preface < one, "{preface} {one}");
    // Part one's three short chapters run on, on the part's own page.
    let first = page_text(pdf, one);
    for s in [
        "每个单位只有一个账号",
        "首次登录须修改初始密码",
        "请使用IE内核浏览器",
    ] {
        assert!(first.contains(s), "page {one} lacks {s}: {first}");
    }
    // Part two starts the next page, though part one's page has room.
    assert_eq!(two, one + 1, "part two on page {two}, part one on {one}");
    assert!(!first.contains("第二部分"), "{first}");
    // Its chapters run on: 名单 starts on the part's page, not a new one.
    assert_eq!(page_of(pdf, preface, "下表列出九十个单位"), two);
    // The table runs over pages; part three starts after the chapter, on a page of its own.
    let table_end = page_of(pdf, preface, "测试单位第90号");
    assert!(table_end > two, "the table fits one page?");
    let chapter_end = page_of(pdf, table_end, "表格到此为止");
    assert_eq!(three, chapter_end + 1);
    assert!(!page_text(pdf, chapter_end).contains("第三部分"));
    assert!(page_text(pdf, three).contains("图示"));
}

#[test]
fn a_manual_pdf_starts_a_new_page_only_at_each_part() {
    let (_site, out) = built_with_parts();
    let pdf = out.join("manuals/parts/parts.pdf");
    assert_a4(&pdf);
    assert_subset_fonts(&pdf);
    assert_parts_break_pages(&pdf, "本手册只用于测试");
    // A part's page is headed by the chapter it starts with, not the one before.
    let two = page_of(&pdf, 3, "第二部分操作");
    let t = page_text(&pdf, two);
    assert!(t.starts_with("分部测试手册填报第二部分操作"), "{t}");
    // The parts are bookmarked, and listed in the contents.
    let marks: Vec<String> = outline(&pdf).into_iter().map(|(_, t, _)| t).collect();
    for t in ["第一部分 准备", "第二部分 操作", "第三部分 附录"] {
        assert!(marks.iter().any(|m| m == t), "{t}: {marks:?}");
    }
}

#[test]
fn the_print_view_starts_a_new_page_only_at_each_part_in_chromium() {
    let (site, out) = built_with_parts();
    let html = out.join("manuals/parts/print.html");
    let view = std::fs::read_to_string(&html).unwrap();
    assert_eq!(view.matches(r#"<h1 class="book-part">"#).count(), 3);
    let pdf = site.path().join("print.pdf");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let result = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap_or_else(|e| panic!("{chromium}: {e}: apt-get install chromium"));
    assert!(
        pdf.exists(),
        "{chromium}: {}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_parts_break_pages(&pdf, "本手册只用于测试");
    // The 90-row table starts on the page of the line that introduces it
    // (not on a page of its own after a half-empty one), and every page it
    // runs onto starts with its header row.
    let intro = page_of(&pdf, 1, "跨页时每页重复表头");
    let first = page_of(&pdf, 1, "测试单位第1号");
    let last = page_of(&pdf, 1, "测试单位第90号");
    assert_eq!(first, intro, "the table left its introduction's page");
    assert!(last > first, "90 rows fit one page? {first}..{last}");
    for p in first..=last {
        let t = page_text(&pdf, p);
        assert!(t.contains("单位名称"), "page {p} lacks the header row: {t}");
    }
}

/// The links `pdftohtml -xml` finds: (text, where to), `#N` for page N of
/// the document itself.
fn links(pdf: &Path) -> Vec<(String, String)> {
    let xml = poppler("pdftohtml", &["-xml", "-i", "-q", "-stdout"], pdf);
    let mut out = Vec::new();
    for piece in xml.split("<a href=\"").skip(1) {
        let Some((href, rest)) = piece.split_once("\">") else {
            continue;
        };
        let text = rest.split("</a>").next().unwrap_or("");
        let href = match href.split_once('#') {
            Some((_, page)) if !href.contains("://") => format!("#{page}"),
            _ => href.to_string(),
        };
        out.push((text.to_string(), href));
    }
    out
}

/// A page rendered by `pdftoppm` in grey at `dpi`: width, height, pixels.
fn rendered(pdf: &Path, page: usize, dpi: u32) -> (usize, usize, Vec<u8>) {
    let n = page.to_string();
    let out = Command::new("pdftoppm")
        .args(["-gray", "-r", &dpi.to_string(), "-f", &n, "-l", &n])
        .arg(pdf)
        .output()
        .expect("pdftoppm (poppler-utils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // P5 <w> <h> 255, one byte a pixel.
    let b = out.stdout;
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while b[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !b[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&b[start..at]).into_owned());
    }
    assert_eq!(fields[0], "P5");
    let (w, h) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    (w, h, b[at + 1..].to_vec())
}

/// Each character of the page's words with its box (a word's box shared out
/// evenly: the test's words are all full-width characters).
fn chars(pdf: &Path, page: usize) -> Vec<(char, f32, f32, f32, f32)> {
    let mut out = Vec::new();
    for w in words(pdf).into_iter().filter(|w| w.page == page) {
        let n = w.text.chars().count() as f32;
        let step = (w.x1 - w.x0) / n;
        for (i, c) in w.text.chars().enumerate() {
            let x = w.x0 + step * i as f32;
            out.push((c, x, w.y0, x + step, w.y1));
        }
    }
    out
}

#[test]
fn manual_pdfs_keep_links_emphasis_and_table_heads() {
    let (_site, out) = built_with_parts();
    let pdf = out.join("manuals/parts/parts.pdf");
    let start = page_of(&pdf, 1, "本手册只用于测试");
    // A table running over pages repeats its header row at the top of each.
    let (first, last) = (
        page_of(&pdf, start, "下表列出九十个单位"),
        page_of(&pdf, start, "测试单位第90号"),
    );
    assert!(last > first, "the table fits one page");
    for p in first + 1..=last {
        let t = page_text(&pdf, p);
        let head = t.find("序号单位名称联系电话");
        let row = t.find("测试单位第");
        assert!(
            head.is_some() && head < row,
            "page {p} does not start the table with its header: {t}"
        );
    }
    // Links: to a chapter, to a heading pages further on, and to the web.
    let found = links(&pdf);
    let to = |text: &str| -> String {
        found
            .iter()
            .find(|(t, _)| t == text)
            .map(|(_, h)| h.clone())
            .unwrap_or_else(|| panic!("no link on {text:?}: {found:?}"))
    };
    let after_table = page_of(&pdf, last, "表格到此为止");
    assert_eq!(to("表后说明"), format!("#{after_table}"));
    assert_eq!(
        to("图示"),
        format!("#{}", page_of(&pdf, after_table + 1, "第三部分附录"))
    );
    assert_eq!(to("名单说明"), format!("#{first}"));
    assert_eq!(to("广东省人力资源和社会保障厅"), "http://hrss.gd.gov.cn/");
    // The contents' entries lead to their chapters' pages.
    let entry = page_of(&pdf, first, "4名单");
    assert!(
        found
            .iter()
            .any(|(t, h)| t.contains("名单") && t != "名单" && *h == format!("#{entry}")),
        "no contents link to page {entry}: {found:?}"
    );
    let uris = poppler("pdfinfo", &["-url"], &pdf);
    assert!(uris.contains("http://hrss.gd.gov.cn/"), "{uris}");
    // Bold is seen: 公章 in bold carries more ink than the same word beside it.
    let page = page_of(&pdf, start, "对照：公章公章公章。");
    let cs = chars(&pdf, page);
    let line: String = cs.iter().map(|c| c.0).collect();
    let at = line.find("对照：公章公章公章").unwrap();
    let at = line[..at].chars().count();
    let (w, h, px) = rendered(&pdf, page, 200);
    let scale = 200.0 / 72.0;
    let ink = |from: usize| -> u64 {
        let (x0, y0) = (cs[at + from].1, cs[at + from].2);
        let (x1, y1) = (cs[at + from + 1].3, cs[at + from + 1].4);
        let mut sum = 0u64;
        for y in (y0 * scale) as usize..((y1 * scale) as usize).min(h) {
            for x in (x0 * scale) as usize..((x1 * scale) as usize).min(w) {
                sum += u64::from(255 - px[y * w + x]);
            }
        }
        sum
    };
    let (plain, bold, again) = (ink(3), ink(5), ink(7));
    assert!(plain > 0, "no ink where 公章 is");
    assert!(
        bold as f64 > plain.max(again) as f64 * 1.15,
        "bold 公章 {bold} is not darker than 公章 {plain} / {again}"
    );
}

/// The fonts `pdftohtml -xml` gives the text pieces of page 1 in: (text, family).
fn text_fonts(pdf: &Path) -> Vec<(String, String)> {
    let xml = poppler(
        "pdftohtml",
        &["-xml", "-i", "-q", "-stdout", "-f", "1", "-l", "1"],
        pdf,
    );
    let attr = |l: &str, name: &str| -> Option<String> {
        let at = l.find(&format!(" {name}=\""))? + name.len() + 3;
        Some(l[at..].split('"').next()?.to_string())
    };
    let mut families = std::collections::HashMap::new();
    let mut out = Vec::new();
    for l in xml.lines().map(str::trim) {
        if l.starts_with("<fontspec ") {
            if let (Some(id), Some(family)) = (attr(l, "id"), attr(l, "family")) {
                families.insert(id, family);
            }
        } else if l.starts_with("<text ") {
            let font = attr(l, "font").and_then(|id| families.get(&id).cloned());
            let text: String = l
                .split_once('>')
                .map(|(_, t)| t.trim_end_matches("</text>"))
                .unwrap_or("")
                .replace("<b>", "")
                .replace("</b>", "");
            out.push((text, font.unwrap_or_default()));
        }
    }
    out
}

fn build_repo_with(env: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("public");
    let mut cmd = crate::common::gazette();
    cmd.args(["build", "--root"])
        .arg(repo())
        .arg("--output")
        .arg(&out);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let result = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&result.stderr).into_owned();
    assert!(result.status.success(), "{err}");
    (dir, out, err)
}

#[test]
fn without_fangsong_the_notice_says_in_one_line_what_stands_in_and_never_prints_tofu() {
    // The test machine has WenQuanYi Micro Hei only: no 仿宋, no 小标宋.
    let (_dir, out, err) = build_repo_with(&[]);
    let said: Vec<&str> = err.lines().filter(|l| l.contains("[pdf]")).collect();
    assert_eq!(said.len(), 1, "{err}");
    let line = said[0];
    for s in [
        "no 仿宋 for its body (tried FangSong, 仿宋,",
        "no 小标宋 for its title (tried FZXiaoBiaoSong-B05S,",
        "set in WenQuanYi Micro Hei (/usr/share/fonts/truetype/wqy/wqy-microhei.ttc)",
        "emboldened",
    ] {
        assert!(line.contains(s), "{s:?} not in {line}");
    }
    let pdf = out.join("notices/2016-216/notice.pdf");
    assert_subset_fonts(&pdf);
    let fonts = poppler("pdffonts", &[], &pdf);
    assert!(
        fonts
            .lines()
            .skip(2)
            .all(|l| l.contains("+WenQuanYiMicroHei ")),
        "{fonts}"
    );
    let info = poppler("pdfinfo", &[], &pdf);
    assert!(
        info.contains("正文字体：WenQuanYi Micro Hei")
            && info.contains("标题字体：WenQuanYi Micro Hei"),
        "{info}"
    );
    // Every character has its glyph: the text comes back whole.
    assert!(squeezed(&pdf).contains("关于启用广东省专业技术人才网上申报系统有关问题的通知"));
}

#[test]
fn the_notice_is_set_in_the_fonts_its_stacks_name() {
    let wqy = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";
    let (_dir, out, err) = build_repo_with(&[
        // A name not installed is passed over for the next; a family by name.
        (
            "GAZETTE_PDF_BODY_FONT",
            "NoSuchFangSong, WenQuanYi Micro Hei Mono",
        ),
        // A font file named.
        ("GAZETTE_PDF_TITLE_FONT", wqy),
    ]);
    let pdf = out.join("notices/2016-216/notice.pdf");
    assert_subset_fonts(&pdf);
    let fonts = poppler("pdffonts", &[], &pdf);
    assert!(fonts.contains("+WenQuanYiMicroHeiMono "), "{fonts}");
    assert!(fonts.contains("+WenQuanYiMicroHei "), "{fonts}");
    let info = poppler("pdfinfo", &[], &pdf);
    assert!(
        info.contains("正文字体：WenQuanYi Micro Hei Mono")
            && info.contains("标题字体：WenQuanYi Micro Hei"),
        "{info}"
    );
    // The mark and the title in the title's font, the body in the body's.
    let pieces = text_fonts(&pdf);
    let family = |s: &str| -> String {
        pieces
            .iter()
            .find(|(t, _)| t.contains(s))
            .map(|(_, f)| f.clone())
            .unwrap_or_else(|| panic!("{s:?} not on page 1: {pieces:?}"))
    };
    assert!(family("梅州市人力资源和社会保障局").ends_with("WenQuanYiMicroHei"));
    assert!(family("系统有关问题的通知").ends_with("WenQuanYiMicroHei"));
    assert!(family("根据省人力资源和社会保障厅").ends_with("WenQuanYiMicroHeiMono"));
    // Neither is 仿宋 or 小标宋, and the line says so, naming the passed-over name.
    let line = err
        .lines()
        .find(|l| l.contains("[pdf]"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("tried NoSuchFangSong, WenQuanYi Micro Hei Mono")
            || line.contains("set in WenQuanYi Micro Hei Mono"),
        "{line}"
    );
}
