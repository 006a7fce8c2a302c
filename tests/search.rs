//! Site search: the index the real binary builds answers the query table in
//! tests/search_queries.json, and the intake's GET /search gives the same
//! first results from the same files.

use crate::common::service::Intake;
use crate::common::{repo, Site};
use std::path::Path;

fn table() -> serde_json::Value {
    let text = std::fs::read_to_string(repo().join("tests/search_queries.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn build(out: &Path) {
    crate::common::build_bundled(out);
}

fn pct(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fn page(url: &str) -> &str {
    url.split('#').next().unwrap_or(url)
}

#[test]
fn the_built_index_answers_the_query_table() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("public");
    build(&out);
    let index = search::Index::from_files(|p| std::fs::read_to_string(out.join(p)).ok())
        .expect("the build wrote a readable index");
    let table = table();
    for row in table["queries"].as_array().unwrap() {
        let q = row["q"].as_str().unwrap();
        let r = index.search(q, 10);
        let first = r.hits.first().map(|h| page(&h.url)).unwrap_or("(none)");
        assert_eq!(first, row["first"].as_str().unwrap(), "query {q}: {r:#?}");
        assert!(
            r.hits[0].snippet_html.contains("<mark>") || r.hits[0].title.contains(q),
            "query {q}: the snippet marks the match: {}",
            r.hits[0].snippet_html
        );
    }
    for q in table["no_hits"].as_array().unwrap() {
        let q = q.as_str().unwrap();
        assert_eq!(index.search(q, 10).total, 0, "{q}");
    }
    // 统一社会信用代码 finds both forms and the guide on returning them.
    let urls: Vec<String> = index
        .search("统一社会信用代码", 20)
        .hits
        .into_iter()
        .map(|h| page(&h.url).to_string())
        .collect();
    for want in [
        "forms/departments/index.html",
        "forms/committees/index.html",
        "guide/how-to-return/index.html",
    ] {
        assert!(urls.iter().any(|u| u == want), "{want} in {urls:?}");
    }
    // 密码 finds the password chapter of every manual.
    let urls: Vec<String> = index
        .search("密码", 20)
        .hits
        .into_iter()
        .map(|h| page(&h.url).to_string())
        .collect();
    for m in ["supervisor", "committee", "employer", "individual"] {
        let want = format!("manuals/{m}/password.html");
        assert!(urls.contains(&want), "{want} in {urls:?}");
    }
}

#[test]
fn the_intake_answers_search_without_javascript() {
    let site = Site::copy_of_repo();
    build(&site.path().join("public"));
    let intake = Intake::builder().site(site).start();
    let table = table();
    for row in table["queries"].as_array().unwrap() {
        let q = row["q"].as_str().unwrap();
        let res = intake.get(&format!("/search?q={}", pct(q)));
        assert_eq!(res.status, 200, "{q}");
        let html = res.text();
        let first = html
            .split("class=\"search-hit-title\"><a href=\"/")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map(page)
            .unwrap_or("(none)");
        assert_eq!(first, row["first"].as_str().unwrap(), "query {q}");
        assert!(html.contains("role=\"status\""), "the count is announced");
        assert!(!html.contains("src=\"/search.js\""), "no script needed");
    }
    let res = intake.get(&format!("/search/index.html?q={}", pct("火星基地")));
    assert_eq!(res.status, 200);
    assert!(res.text().contains("没有找到与“火星基地”相关的内容"));
    // A broken encoding is read lossily: no hit, no error page, no panic.
    let res = intake.get("/search?q=%FF%FE");
    assert_eq!(res.status, 200);
    assert!(res.text().contains("没有找到"), "{}", res.text());
}
