//! End to end: the real `gazette` binary builds the bundled content.

use crate::common::{gazette, read, repo, Site};
use std::path::Path;

#[test]
fn builds_the_bundled_site() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("public");
    let result = gazette()
        .args(["build", "--root"])
        .arg(repo())
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(stdout.starts_with("built "), "one-line summary: {stdout}");

    // The notice in the 函 layout, with the portal metadata and meta tags.
    let notice = read(&out.join("notices/2016-216/index.html"));
    for needle in [
        "<html lang=\"zh-CN\">",
        "class=\"gw-mark\">梅州市人力资源和社会保障局<",
        "class=\"gw-number\">梅市人社函〔2016〕216号<",
        "各县（市、区）人力资源和社会保障局，蕉岭县委组织部，市直有关单位：",
        "<meta name=\"ArticleTitle\" content=\"关于启用广东省专业技术人才网上申报系统有关问题的通知\">",
        "<meta name=\"PubDate\" content=\"2016-07-15 09:00\">",
        "<meta name=\"ContentSource\" content=\"梅州市人力资源和社会保障局\">",
        "<meta name=\"Keywords\"",
        "<meta name=\"SiteName\"",
        "索引号",
        "2016年7月15日",
        "id=\"attachments\"",
        "href=\"#main\"",
    ] {
        assert!(notice.contains(needle), "notice lacks {needle}");
    }
    // Each annex is linked, and downloads show format and size.
    for href in [
        "../../forms/departments/index.html",
        "../../forms/committees/index.html",
        "../../manuals/supervisor/index.html",
        "../../manuals/committee/index.html",
        "../../manuals/employer/index.html",
        "../../manuals/individual/index.html",
        "../../forms/departments/departments.xlsx",
        "../../manuals/individual/individual-offline.html",
    ] {
        assert!(
            notice.contains(&format!("href=\"{href}\"")),
            "notice lacks a link to {href}"
        );
    }
    assert!(
        notice.contains("XLSX，") && notice.contains("HTML，") && notice.contains(" KB<"),
        "sizes shown"
    );

    // Forms: a plain POST form with honeypot, constraints and the offline route.
    let form = read(&out.join("forms/departments/index.html"));
    for needle in [
        "method=\"post\"",
        "action=\"/forms/departments\"",
        "accept-charset=\"UTF-8\"",
        "name=\"website\"",
        "name=\"uscc\"",
        "maxlength=\"18\"",
        "type=\"email\"",
        "type=\"tel\"",
        "departments.xlsx",
        "0753-2128309",
        "2016年7月27日",
    ] {
        assert!(form.contains(needle), "form page lacks {needle}");
    }
    let committees = read(&out.join("forms/committees/index.html"));
    assert_eq!(
        committees.matches("type=\"checkbox\"").count(),
        4,
        "levels as four checkboxes"
    );
    assert!(out.join("forms/departments/print.html").is_file());

    // Manuals: contents, chapters with prev/next, print view, offline download.
    for id in ["supervisor", "committee", "employer", "individual"] {
        let dir = out.join("manuals").join(id);
        let index = read(&dir.join("index.html"));
        let chapters = index.matches("class=\"toc-depth-").count();
        assert!(chapters >= 6, "{id}: {chapters} chapters");
        let print = read(&dir.join("print.html"));
        let offline = read(&dir.join(format!("{id}-offline.html")));
        assert!(
            offline.contains("<style>") && !offline.contains("rel=\"stylesheet\""),
            "{id}: CSS inlined"
        );
        assert!(
            offline.contains("data:image/svg+xml;base64,"),
            "{id}: figure inlined"
        );
        assert!(
            !offline.contains("src=\"images/"),
            "{id}: no image left outside the file"
        );
        // Both views are written chapter by chapter; the print view links
        // its figures rather than carrying the download's copies.
        assert!(
            print.contains("src=\"images/") && !print.contains("data:image"),
            "{id}: print view links its figures"
        );
        // Anchors in the one-page views are unique.
        let ids: Vec<&str> = print
            .split(" id=\"")
            .skip(1)
            .map(|s| &s[..s.find('"').unwrap()])
            .collect();
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(ids.len(), sorted.len(), "{id}: duplicate ids in print view");
        assert!(dir.join("images/accounts.svg").is_file());
    }
    let login = read(&out.join("manuals/individual/login.html"));
    assert!(login.contains("rel=\"prev\"") && login.contains("rel=\"next\""));

    // The blank spreadsheet, re-read with calamine.
    use calamine::{Reader, Xlsx};
    let mut book: Xlsx<_> =
        calamine::open_workbook(out.join("forms/departments/departments.xlsx")).unwrap();
    let names = book.sheet_names().to_vec();
    assert!(
        names.len() >= 2,
        "a data sheet and an instructions sheet: {names:?}"
    );
    let range = book.worksheet_range(&names[0]).unwrap();
    let cells: Vec<String> = range
        .rows()
        .take(3)
        .flatten()
        .map(|c| c.to_string())
        .collect();
    for label in [
        "单位全称",
        "统一社会信用代码",
        "单位类型",
        "电子邮箱",
        "填报人",
    ] {
        assert!(
            cells.iter().any(|c| c.contains(label)),
            "xlsx header lacks {label}: {cells:?}"
        );
    }

    // Home, feeds and the rest.
    let home = read(&out.join("index.html"));
    assert!(home.contains("notices/2016-216/index.html") && home.contains("2016-07-15"));
    for f in [
        "sitemap/index.html",
        "favicon.svg",
        "404.html",
        "robots.txt",
        "style.css",
        "print.css",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // Without base_url no sitemap.xml or atom.xml: they need absolute URLs.
    assert!(!out.join("sitemap.xml").exists() && !out.join("atom.xml").exists());

    // Byte-for-byte deterministic.
    let again = tmp.path().join("again");
    let status = gazette()
        .args(["build", "--root"])
        .arg(repo())
        .arg("--output")
        .arg(&again)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(tree(&out), tree(&again));
}

#[test]
fn a_rebuild_overwrites_in_place_and_removes_what_is_gone() {
    let site = Site::bundled();
    let out = site.path().join("public");
    let build = || {
        let r = gazette()
            .args(["build", "--root"])
            .arg(site.path())
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    };
    build();
    let first = tree(&out);

    // What an earlier build might have left: a page since deleted (with its
    // folder), a file where a folder is needed now, a folder where a file goes.
    std::fs::create_dir_all(out.join("old-section/gone")).unwrap();
    std::fs::write(out.join("old-section/gone/index.html"), "old").unwrap();
    std::fs::remove_dir_all(out.join("about")).unwrap();
    std::fs::write(out.join("about"), "a file in the way").unwrap();
    std::fs::remove_file(out.join("style.css")).unwrap();
    std::fs::create_dir_all(out.join("style.css/x")).unwrap();
    build();
    assert_eq!(
        tree(&out),
        first,
        "same tree as a build into an empty folder"
    );
    assert!(!out.join("old-section").exists(), "emptied folders go too");

    // A broken page: the build fails, and an earlier build's folder stays.
    let page = site.path().join("content/guide/accounts.md");
    let text = read(&page) + "\n[坏链接](/no/such/page/)\n";
    std::fs::write(&page, text).unwrap();
    let r = gazette()
        .args(["build", "--root"])
        .arg(site.path())
        .output()
        .unwrap();
    assert!(!r.status.success());
    assert!(out.join("index.html").is_file());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(
        err.contains("partly updated") && err.contains("/no/such/page/"),
        "{err}"
    );
}

fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.push((
                    p.strip_prefix(base).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn check_passes_on_the_bundled_site() {
    let out = gazette()
        .args(["check", "--root"])
        .arg(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_broken_link_fails_the_build_naming_the_file() {
    let site = Site::bundled();
    let page = site.path().join("content/guide/accounts.md");
    let mut text = read(&page);
    text.push_str("\n见[不存在的页面](/notices/no-such-notice/)和[坏锚点](@/notices/2016-216.md#no-such-anchor)。\n");
    std::fs::write(&page, text).unwrap();
    let out = gazette()
        .args(["build", "--root"])
        .arg(site.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("content/guide/accounts.md:") && err.contains("/notices/no-such-notice/"),
        "{err}"
    );
    assert!(
        !site.path().join("public").exists(),
        "nothing written on failure"
    );
    let out = gazette()
        .args(["check", "--root"])
        .arg(site.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let lines = String::from_utf8_lossy(&out.stdout);
    assert!(
        lines.lines().any(|l| l.contains("no-such-notice")),
        "{lines}"
    );

    // Fix that one; the broken anchor alone still fails, at its line.
    let text = read(&page).replace("[不存在的页面](/notices/no-such-notice/)", "");
    std::fs::write(&page, text).unwrap();
    let out = gazette()
        .args(["check", "--root"])
        .arg(site.path())
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{lines}");
    assert!(
        lines.contains("content/guide/accounts.md:") && lines.contains("no-such-anchor"),
        "{lines}"
    );
}

#[test]
fn malformed_content_is_reported_with_file_and_line() {
    let site = Site::bundled();
    std::fs::write(
        site.path().join("content/guide/bad.md"),
        "+++\ntitle = \"坏\"\ndate = 2016-02-30\n+++\n",
    )
    .unwrap();
    std::fs::write(
        site.path().join("content/forms/broken.toml"),
        "title = \"x\"\n[[fields]]\nname = \"a\"\nlabel = \"A\"\nkind = \"colour\"\n",
    )
    .unwrap();
    let out = gazette()
        .args(["build", "--root"])
        .arg(site.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("content/forms/broken.toml:5"), "{err}");
    std::fs::remove_file(site.path().join("content/forms/broken.toml")).unwrap();
    let out = gazette()
        .args(["build", "--root"])
        .arg(site.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("content/guide/bad.md:3"), "{err}");
}

#[test]
fn unknown_attachment_ids_and_duplicate_outputs_fail() {
    let site = Site::bundled();
    let notice = site.path().join("content/notices/2016-216.md");
    std::fs::write(
        &notice,
        read(&notice).replace("form = \"committees\"", "form = \"committes\""),
    )
    .unwrap();
    // content/notices/2016-216/index.md would write the same page as 2016-216.md.
    std::fs::create_dir_all(site.path().join("content/notices/2016-216")).unwrap();
    std::fs::write(
        site.path().join("content/notices/2016-216/index.md"),
        "+++\ntitle = \"重复\"\n+++\n",
    )
    .unwrap();
    let out = gazette()
        .args(["check", "--root"])
        .arg(site.path())
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        lines.contains("notices/2016-216/index.html"),
        "duplicate output named: {lines}"
    );
    std::fs::remove_dir_all(site.path().join("content/notices/2016-216")).unwrap();
    let out = gazette()
        .args(["check", "--root"])
        .arg(site.path())
        .output()
        .unwrap();
    let lines = String::from_utf8_lossy(&out.stdout);
    assert!(lines.contains("unknown form id \"committes\""), "{lines}");
}

#[test]
fn init_makes_a_site_that_builds_and_checks() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("new-site");
    assert!(gazette().arg("init").arg(&site).status().unwrap().success());
    let out = gazette()
        .args(["check", "--root"])
        .arg(&site)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(gazette()
        .args(["build", "--root"])
        .arg(&site)
        .status()
        .unwrap()
        .success());
    assert!(site.join("public/index.html").is_file());
}
