//! Paper (issue 13): the blank spreadsheets as they print. LibreOffice
//! (the oracle, installed by tests/run.sh) converts each built `.xlsx` to
//! PDF as a person pressing Print would get it; poppler reads it back.

use crate::common::{run, Site};
use std::path::{Path, PathBuf};
use std::process::Command;

fn soffice() -> PathBuf {
    for p in [
        "/usr/bin/soffice",
        "/usr/bin/libreoffice",
        "/usr/lib/libreoffice/program/soffice",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "LibreOffice is needed to print the blank spreadsheets: install the Debian package \
         libreoffice-calc-nogui (tests/run.sh does)"
    );
}

/// `xlsx` converted to PDF by LibreOffice, with a profile of its own so
/// tests running at once do not share (and lock) one.
fn to_pdf(xlsx: &Path, work: &Path) -> PathBuf {
    let profile = work.join("lo-profile");
    let out = Command::new(soffice())
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args([
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
        ])
        .arg(work)
        .arg(xlsx)
        .env("HOME", work)
        .output()
        .expect("run soffice");
    let pdf = work.join(xlsx.file_stem().unwrap()).with_extension("pdf");
    assert!(
        pdf.exists(),
        "soffice made no PDF: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    pdf
}

fn poppler(program: &str, args: &[&str], pdf: &Path) -> Vec<u8> {
    let out = Command::new(program)
        .args(args)
        .arg(pdf)
        .args(if program == "pdftoppm" {
            vec![]
        } else {
            vec!["-"]
        })
        .output()
        .unwrap_or_else(|e| panic!("{program} (poppler-utils) installed: {e}"));
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn pages(pdf: &Path) -> (usize, String) {
    let out = Command::new("pdfinfo")
        .arg(pdf)
        .output()
        .expect("pdfinfo (poppler-utils)");
    let info = String::from_utf8_lossy(&out.stdout).to_string();
    let pages = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo gives Pages:");
    let size = info
        .lines()
        .find_map(|l| l.strip_prefix("Page size:"))
        .unwrap_or_default()
        .trim()
        .to_string();
    (pages, size)
}

fn page_text(pdf: &Path, page: usize) -> String {
    let n = page.to_string();
    let text = poppler("pdftotext", &["-layout", "-f", &n, "-l", &n], pdf);
    String::from_utf8_lossy(&text).to_string()
}

/// Page `page` as a grey bitmap (P5 PGM): width, height, pixels.
fn page_bitmap(pdf: &Path, page: usize) -> (usize, usize, Vec<u8>) {
    let n = page.to_string();
    let pgm = poppler("pdftoppm", &["-r", "60", "-gray", "-f", &n, "-l", &n], pdf);
    // "P5\n<w> <h>\n255\n" then the pixels.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while pgm[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !pgm[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&pgm[start..i]).to_string());
    }
    assert_eq!(fields[0], "P5", "pdftoppm -gray gives a PGM");
    let w: usize = fields[1].parse().unwrap();
    let h: usize = fields[2].parse().unwrap();
    let pixels = pgm[i + 1..].to_vec();
    assert_eq!(pixels.len(), w * h);
    (w, h, pixels)
}

/// Rows and columns of the bitmap that are a rule: dark over at least
/// `share` of the page's width (height). Adjacent pixel lines count once.
fn rules(w: usize, h: usize, px: &[u8], share: f64) -> (usize, usize) {
    let dark = |x: usize, y: usize| px[y * w + x] < 160;
    let count = |lines: Vec<bool>| {
        lines
            .iter()
            .enumerate()
            .filter(|(i, on)| **on && (*i == 0 || !lines[i - 1]))
            .count()
    };
    let rows = (0..h)
        .map(|y| (0..w).filter(|&x| dark(x, y)).count() as f64 >= share * w as f64)
        .collect();
    let cols = (0..w)
        .map(|x| (0..h).filter(|&y| dark(x, y)).count() as f64 >= share * h as f64)
        .collect();
    (count(rows), count(cols))
}

#[test]
fn the_blank_spreadsheets_print_one_page_wide_with_grid_and_header_on_every_page() {
    let site = Site::bundled();
    let out = tempfile::tempdir().expect("temp dir");
    let r = run(
        &["build", "--output", &out.path().display().to_string()],
        site.path(),
        &[],
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let defs = forms::FormDef::load_dir(&site.path().join("content/forms")).unwrap();
    for (form, annex) in [("departments", "附件1"), ("committees", "附件2")] {
        let xlsx = out.path().join(format!("forms/{form}/{form}.xlsx"));
        // The print setup leaves the read side alone: the blank form reads
        // back as an empty table.
        let def = defs.iter().find(|d| d.id == form).unwrap();
        let bytes = std::fs::read(&xlsx).unwrap();
        assert_eq!(forms::sheet::read_xlsx(def, &bytes), Ok(vec![]));

        // What Excel and WPS read: the grid is a print option, not only
        // cell borders; the print area and the repeated rows are names.
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&bytes)).unwrap();
        let mut sheet = String::new();
        std::io::Read::read_to_string(
            &mut zip.by_name("xl/worksheets/sheet1.xml").unwrap(),
            &mut sheet,
        )
        .unwrap();
        assert!(sheet.contains("gridLines=\"1\""), "{form}: no printed grid");
        assert!(
            sheet.contains("fitToWidth=\"1\"") || sheet.contains("fitToHeight=\"0\""),
            "{form}: not fitted to the width"
        );
        assert!(
            sheet.contains("orientation=\"landscape\""),
            "{form}: not landscape"
        );
        let mut book = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/workbook.xml").unwrap(), &mut book)
            .unwrap();
        assert!(
            book.contains("_xlnm.Print_Area") && book.contains("_xlnm.Print_Titles"),
            "{form}: {book}"
        );

        let work = tempfile::tempdir().expect("temp dir");
        let pdf = to_pdf(&xlsx, work.path());
        let (count, size) = pages(&pdf);
        // The form sheet (50 rows at a writable height) and the 填写说明.
        assert!((2..=12).contains(&count), "{form}: {count} pages");
        // A4 landscape: 842 × 595 pt.
        assert!(
            size.starts_with("841.") && size.contains("x 595."),
            "{form}: {size}"
        );
        let labels: Vec<String> = def.fields.iter().map(|f| f.label.clone()).collect();
        let first = &labels[0];
        let last = labels.last().unwrap();
        let mut form_pages = 0;
        for page in 1..=count {
            let text = page_text(&pdf, page);
            if text.contains("填写说明") {
                continue;
            }
            form_pages += 1;
            // Every column on the page (one page wide), the header row
            // repeated, and the page header with 附件N and the 盖章 line.
            for l in [first, last] {
                assert!(
                    text.contains(l.as_str()),
                    "{form} page {page} lacks the column {l}:\n{text}"
                );
            }
            assert!(
                text.contains(annex),
                "{form} page {page} lacks {annex}:\n{text}"
            );
            assert!(
                text.contains("填报单位（盖章）"),
                "{form} page {page}:\n{text}"
            );
            assert!(
                text.contains(&format!("第 {page} 页")),
                "{form} page {page} number:\n{text}"
            );
            // The grid: a rule under every row and between every column.
            let (w, h, px) = page_bitmap(&pdf, page);
            let (across, down) = rules(w, h, &px, 0.5);
            assert!(
                across >= 12,
                "{form} page {page}: {across} horizontal rules"
            );
            let (_, down_short) = rules(w, h, &px, 0.3);
            assert!(
                down.max(down_short) > labels.len(),
                "{form} page {page}: {down}/{down_short} vertical rules for {} columns",
                labels.len()
            );
        }
        assert!(form_pages >= 1, "{form}: no page of the form sheet");
    }
}

/// The header's main navigation in `html`: (href, text) of each entry.
fn nav_links(html: &str) -> Vec<(String, String)> {
    let Some(start) = html.find("<nav class=\"site-nav\"") else {
        return Vec::new();
    };
    let nav = &html[start..start + html[start..].find("</nav>").unwrap()];
    nav.split("<a href=\"")
        .skip(1)
        .map(|a| {
            let href = a[..a.find('"').unwrap()].to_string();
            let text = a[a.find('>').unwrap() + 1..a.find("</a>").unwrap()].to_string();
            (href, text)
        })
        .collect()
}

#[test]
fn the_intakes_pages_carry_the_sites_navigation() {
    let site = Site::bundled();
    let out = tempfile::tempdir().expect("temp dir");
    let r = run(
        &["build", "--output", &out.path().display().to_string()],
        site.path(),
        &[],
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    // The built home page's navigation, made absolute (the intake's root is /).
    let home = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    let want: Vec<(String, String)> = nav_links(&home)
        .into_iter()
        .map(|(href, text)| (format!("/{href}"), text))
        .collect();
    assert!(want.len() >= 4, "the site's navigation: {want:?}");
    let intake = crate::common::Intake::builder().site(site).start();
    let mut bad = crate::common::department("梅州市某局");
    bad.retain(|(k, _)| *k != "uscc");
    let invalid = intake.post("departments", &bad);
    assert_eq!(invalid.status, 422, "{}", invalid.text());
    let ok = intake.post("departments", &crate::common::department("梅州市某局"));
    assert_eq!(ok.status, 303, "{}", ok.text());
    let receipt = intake.get(ok.header("location").expect("a receipt address"));
    assert_eq!(receipt.status, 200);
    let missing = intake.get(&format!("/receipts/{}", "0".repeat(32)));
    assert_eq!(missing.status, 404);
    for (what, page) in [
        ("422 form", &invalid),
        ("receipt", &receipt),
        ("unknown receipt", &missing),
    ] {
        assert_eq!(
            nav_links(&page.text()),
            want,
            "{what}: the site's navigation"
        );
    }
    // The receipt prints its reference, status and contacts before the
    // answers, and tells phones no keyboard shortcut.
    let text = receipt.text();
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("receipt lacks {s}"));
    assert!(at("参考编号") < at("联系方式") && at("联系方式") < at("报送内容"));
    assert!(
        text.contains("<span class=\"keys-hint\">"),
        "Ctrl+P only in the keys hint"
    );
}
