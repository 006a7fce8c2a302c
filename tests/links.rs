//! The pages the intake renders link back into the site: the form again
//! after a validation error (its print view and blank spreadsheet), a
//! receipt, a closed form. Each link must name a file the site build wrote;
//! once the intake spelled a form's print view itself, and got it wrong.

use crate::common::{self, department, Intake, Site};
use std::path::Path;

/// Every `href` and `src` in `html`, entities decoded, in order.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in [" href=\"", " src=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attr) {
            rest = &rest[at + attr.len()..];
            let end = rest.find('"').expect("a closing quote");
            out.push(html_escape::decode_html_entities(&rest[..end]).into_owned());
            rest = &rest[end..];
        }
    }
    out
}

/// Where a link from the page at `page` (a URL path such as
/// `/forms/departments`) leads, as a URL path: `None` for what is not a
/// file of the site (mail, phone, a fragment of the page itself, the
/// intake's own routes). `roots` are the absolute URLs of the site root
/// (the intake's origin, `[site] base_url`).
fn target(page: &str, link: &str, roots: &[String]) -> Option<String> {
    if link.starts_with('#') || link.starts_with("mailto:") || link.starts_with("tel:") {
        return None;
    }
    let link = roots
        .iter()
        .find_map(|r| link.strip_prefix(r.trim_end_matches('/')))
        .unwrap_or(link);
    assert!(
        !link.contains("://") && !link.starts_with("//"),
        "{page} links off the site: {link}"
    );
    let link = link.split(['#', '?']).next().unwrap_or_default();
    let joined = if link.starts_with('/') {
        link.to_string()
    } else {
        format!(
            "{}{link}",
            &page[..=page.rfind('/').expect("an absolute path")]
        )
    };
    let mut segments: Vec<&str> = Vec::new();
    for seg in joined.split('/').skip(1) {
        match seg {
            "." => {}
            ".." => {
                assert!(
                    segments.pop().is_some(),
                    "{page}: {link} climbs above the root"
                );
            }
            s => segments.push(s),
        }
    }
    let path = format!("/{}", segments.join("/"));
    let intake_route = path.starts_with("/receipts/")
        || path.starts_with("/admin")
        || path == "/healthz"
        || (segments.len() == 2 && segments[0] == "forms" && !segments[1].contains('.'));
    (!intake_route).then_some(path)
}

/// The links of `html` (the page at `page`) that lead to no file in `out`.
fn broken(out: &Path, page: &str, html: &str, roots: &[String]) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut missing = Vec::new();
    for link in links(html) {
        let Some(path) = target(page, &link, roots) else {
            continue;
        };
        checked += 1;
        let mut file = out.join(path.trim_start_matches('/'));
        if path.ends_with('/') || file.is_dir() {
            file = file.join("index.html");
        }
        if !file.is_file() {
            missing.push(format!("{page}: {link} → {path}"));
        }
    }
    (checked, missing)
}

#[test]
fn every_link_on_intake_pages_is_a_file_of_the_built_site() {
    let site = Site::bundled();
    // A form past its deadline that refuses late returns (the bundled one
    // accepts them).
    crate::intake_http::variant(&site, "closed", "2016-07-27", "refuse");
    let out = tempfile::tempdir().expect("temp dir");
    let built = common::run(
        &["build", "--output", &out.path().display().to_string()],
        site.path(),
        &[],
    );
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    // Links are root-relative on an unpublished site, absolute under
    // `[site] base_url` once it is published.
    let mut intake = Intake::builder().site(site).start();
    for base_url in ["", "https://hrss.meizhou.gov.cn/"] {
        if !base_url.is_empty() {
            intake.restart(&[("GAZETTE_SITE_BASE_URL", base_url.to_string())]);
        }
        let roots = [intake.origin(), base_url.to_string()];
        let missing = broken_links_on_intake_pages(&intake, out.path(), &roots);
        assert!(
            missing.is_empty(),
            "base_url {base_url:?}: links to nothing in the built site:\n{}",
            missing.join("\n")
        );
    }
}

/// A 422 page, a receipt and a closed form's 410 page: their links that
/// lead to no file in `out`.
fn broken_links_on_intake_pages(intake: &Intake, out: &Path, roots: &[String]) -> Vec<String> {
    let mut bad = department("梅州市链接测试局");
    bad.retain(|(k, _)| *k != "unit_name");
    let invalid = intake.post("departments", &bad);
    assert_eq!(invalid.status, 422, "{}", invalid.text());

    let stored = intake.post("departments", &department("梅州市链接测试局"));
    assert_eq!(stored.status, 303, "{}", stored.text());
    let receipt_url = stored.header("location").expect("Location").to_string();
    let receipt = intake.get(&receipt_url);
    assert_eq!(receipt.status, 200);

    let closed = intake.post("closed", &department("梅州市链接测试局"));
    assert_eq!(closed.status, 410, "{}", closed.text());

    let mut missing = Vec::new();
    for (page, html, at_least) in [
        ("/forms/departments", invalid.text(), "departments.xlsx"),
        (receipt_url.as_str(), receipt.text(), "print.css"),
        ("/forms/closed", closed.text(), "closed.xlsx"),
    ] {
        // The links the page exists for are among those checked.
        assert!(
            links(&html).iter().any(|l| l.ends_with(at_least)),
            "{page} has no link to {at_least}:\n{html}"
        );
        let (checked, broken) = broken(out, page, &html, roots);
        assert!(checked >= 4, "{page}: only {checked} links to the site");
        missing.extend(broken);
    }
    missing
}
