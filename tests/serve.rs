//! End to end: `gazette serve` builds into memory, serves the site and the
//! intake on one address, and rebuilds on every change.

use crate::common::{self, http, Intake, IntakeBuilder, Site};
use std::time::{Duration, Instant};

/// `gazette serve` on the bundled site, its database where the
/// configuration says.
fn serve() -> IntakeBuilder {
    Intake::builder()
        .serve()
        .site(Site::bundled())
        .env("GAZETTE_INTAKE_DATABASE", "var/serve.db")
}

/// Polls until `check` holds for the page at `path`, for up to `limit`.
fn wait_for(
    server: &Intake,
    path: &str,
    limit: Duration,
    check: impl Fn(&str) -> bool,
) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        let r = server.get(path);
        if check(&r.text()) {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Whether the server's stderr says `text` within a few seconds.
fn logs(server: &Intake, text: &str) -> bool {
    common::eventually(Duration::from_secs(5), || {
        server.log().contains(text).then_some(())
    })
    .is_some()
}

#[test]
fn serves_the_site_and_takes_a_return_on_one_address() {
    let server = serve().start();
    let site = &server.site;
    let home = server.get("/");
    assert_eq!(home.status, 200);
    assert!(home
        .header("content-type")
        .unwrap_or("")
        .starts_with("text/html"));
    assert!(
        home.text().contains("/__gazette/reload.js"),
        "reload script injected in serve mode"
    );
    let notice = server.get("/notices/2016-216/index.html");
    assert!(notice.text().contains("梅市人社函〔2016〕216号"));
    assert_eq!(server.get("/forms/departments").status, 301);
    let xlsx = server.get("/forms/departments/departments.xlsx");
    assert_eq!(xlsx.status, 200);
    assert_eq!(&xlsx.body[..2], b"PK");
    assert_eq!(server.get("/no/such/page/").status, 404);
    assert_eq!(server.get("/__gazette/reload.js").status, 200);

    // A return posted to the same origin is stored.
    let body = http::encode(&[
        ("unit_name", "梅州市测试局"),
        ("uscc", "11441700007280420Y"),
        ("unit_type", "机关"),
        ("address", "梅州市梅江区新中路1号"),
        ("admin_name", "张三"),
        ("office_phone", "0753-2128309"),
        ("mobile", "13800138000"),
        ("email", "zhangsan@example.org"),
        ("filled_by", "李四"),
    ]);
    let origin = server.origin();
    let r = server.post_with(
        "/forms/departments",
        &[("Origin", origin.as_str())],
        body.as_bytes(),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let receipt = r.header("location").expect("receipt location").to_string();
    assert!(server.get(&receipt).text().contains("梅州市测试局"));
    assert!(site.path().join("var/serve.db").is_file());
    assert_eq!(server.rows(), 1);
}

#[test]
fn edits_rebuild_broken_edits_keep_the_last_good_build() {
    let server = serve().start();
    let site = &server.site;
    let page = "content/about.md";
    let original = site.read(page);

    // An edit shows within a second.
    site.write(page, &original.replace("关于本站", "关于本站（已修改）"));
    let took = wait_for(&server, "/about/", Duration::from_secs(1), |t| {
        t.contains("关于本站（已修改）")
    });
    assert!(
        took.is_some(),
        "edit not served within 1 s: {}",
        server.log()
    );

    // A body-only edit re-renders that one page, not the site.
    let edited = site.read(page);
    site.write(page, &format!("{edited}\n只改正文。\n"));
    let took = wait_for(&server, "/about/", Duration::from_secs(1), |t| {
        t.contains("只改正文。")
    });
    assert!(
        took.is_some(),
        "edit not served within 1 s: {}",
        server.log()
    );
    // The page can be served before the log line has reached us.
    assert!(
        logs(&server, "rebuilt 1 file(s) in"),
        "incremental rebuild expected: {}",
        server.log()
    );

    // A broken edit: the old page stays, with the error, file and line, on it.
    site.write(page, "+++\ntitle = \n+++\n");
    let shown = wait_for(&server, "/about/", Duration::from_secs(8), |t| {
        t.contains("role=\"alert\"")
    });
    assert!(shown.is_some(), "error banner not shown: {}", server.log());
    let text = server.get("/about/").text();
    assert!(
        text.contains("关于本站（已修改）"),
        "the last good page is still served"
    );
    assert!(
        text.contains("content/about.md:2"),
        "the error names file and line"
    );
    assert!(
        logs(&server, "content/about.md:2"),
        "and the terminal too: {}",
        server.log()
    );

    // Fixing it recovers without a restart.
    site.write(page, &original);
    let fixed = wait_for(&server, "/about/", Duration::from_secs(8), |t| {
        !t.contains("role=\"alert\"") && !t.contains("已修改")
    });
    assert!(fixed.is_some(), "did not recover: {}", server.log());

    // A broken link is a broken edit too.
    site.write(page, &format!("{original}\n[坏链接](/no-such-page/)\n"));
    let shown = wait_for(&server, "/", Duration::from_secs(8), |t| {
        t.contains("no-such-page")
    });
    assert!(
        shown.is_some(),
        "broken link not reported: {}",
        server.log()
    );
}

#[test]
fn a_template_change_reaches_every_page_that_uses_it() {
    let server = serve().start();
    let site = &server.site;
    let base = std::fs::read_to_string(common::repo().join("theme/templates/base.html")).unwrap();
    site.write(
        "templates/base.html",
        &base.replace("跳到正文", "跳到正文（新模板）"),
    );
    let took = wait_for(
        &server,
        "/notices/2016-216/index.html",
        Duration::from_secs(8),
        |t| t.contains("（新模板）"),
    );
    assert!(took.is_some(), "{}", server.log());
    for path in [
        "/",
        "/guide/accounts/index.html",
        "/forms/committees/index.html",
        "/manuals/employer/login.html",
    ] {
        assert!(
            server.get(path).text().contains("（新模板）"),
            "{path} not rebuilt"
        );
    }

    // The header is rendered once per folder depth and reused: a change to
    // it must still reach pages at every depth.
    let header =
        std::fs::read_to_string(common::repo().join("theme/templates/header.html")).unwrap();
    site.write(
        "templates/header.html",
        &header.replace("aria-label=\"主导航\"", "aria-label=\"主导航（新页头）\""),
    );
    let took = wait_for(&server, "/", Duration::from_secs(8), |t| {
        t.contains("（新页头）")
    });
    assert!(took.is_some(), "{}", server.log());
    for path in [
        "/guide/accounts/index.html",
        "/notices/2016-216/index.html",
        "/manuals/employer/login.html",
    ] {
        assert!(
            server.get(path).text().contains("（新页头）"),
            "{path} not rebuilt"
        );
    }
}

/// The search index as the browser loads it: the `search/*.js` scripts
/// the server answers with, read by the code that reads the built files
/// (theme/static/search.js is its line-for-line copy).
fn served_index(server: &Intake) -> search::Index {
    search::Index::from_files(|p| {
        let r = server.get(&format!("/{p}"));
        (r.status == 200).then(|| r.text())
    })
    .expect("the served index reads back")
}

/// The pages `GET /search?q=` lists, in order (without their `#part`).
fn server_hits(server: &Intake, q: &str) -> Vec<String> {
    let pct: String = q.bytes().map(|b| format!("%{b:02X}")).collect();
    let r = server.get(&format!("/search?q={pct}"));
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
        .split("class=\"search-hit-title\"><a href=\"/")
        .skip(1)
        .filter_map(|s| s.split(['"', '#']).next())
        .map(str::to_string)
        .collect()
}

fn browser_hits(server: &Intake, q: &str) -> Vec<String> {
    served_index(server)
        .search(q, 10)
        .hits
        .into_iter()
        .map(|h| h.url.split('#').next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn an_edit_updates_the_search_index_in_the_browser_and_on_the_server() {
    let server = serve().start();
    let site = &server.site;
    let page = "content/about.md";
    let about = "about/index.html".to_string();
    let (old, new) = ("弹出窗口", "琥珀海豚");
    for hits in [browser_hits(&server, old), server_hits(&server, old)] {
        assert_eq!(hits.first(), Some(&about), "{old} before the edit");
    }
    for hits in [browser_hits(&server, new), server_hits(&server, new)] {
        assert!(hits.is_empty(), "{new} before the edit: {hits:?}");
    }

    // One page's text changes: the old words go, the new ones come, in the
    // scripts the browser loads and in GET /search alike, without a full
    // rebuild.
    site.write(page, &site.read(page).replace(old, new));
    let updated = common::eventually(Duration::from_secs(8), || {
        let (browser, server) = (browser_hits(&server, new), server_hits(&server, new));
        (browser.first() == Some(&about) && server.first() == Some(&about)).then_some(())
    });
    assert!(
        updated.is_some(),
        "{new} not found after the edit: {}",
        server.log()
    );
    for hits in [browser_hits(&server, old), server_hits(&server, old)] {
        assert!(!hits.contains(&about), "{old} after the edit: {hits:?}");
    }
    assert!(
        logs(&server, "search index file(s) updated"),
        "an incremental rebuild: {}",
        server.log()
    );
    assert!(!server.log().contains("(full)"), "{}", server.log());
}

#[test]
fn the_intakes_pages_carry_the_navigation_of_the_latest_rebuild() {
    let server = serve().start();
    let site = &server.site;
    let origin = server.origin();
    let invalid = |server: &Intake| {
        let r = server.post_with(
            "/forms/departments",
            &[("Origin", origin.as_str())],
            http::encode(&[("unit_name", "梅州市测试局")]).as_bytes(),
        );
        assert_eq!(r.status, 422, "{}", r.text());
        r.text()
    };
    let nav = |page: &str| -> String {
        let at = page
            .find("class=\"site-nav\"")
            .expect("the site's navigation");
        page[at..].split("</nav>").next().unwrap_or("").to_string()
    };
    assert!(!nav(&invalid(&server)).contains("政策法规"));

    // A new section: the built pages' navigation has it after the rebuild…
    site.write(
        "content/policy/_index.md",
        "+++\ntitle = \"政策法规\"\ndescription = \"有关职称评审的政策文件。\"\n+++\n\n本栏目收录有关政策文件。\n",
    );
    let took = wait_for(&server, "/", Duration::from_secs(8), |t| {
        nav(t).contains("政策法规")
    });
    assert!(took.is_some(), "not rebuilt: {}", server.log());
    // …and so have the intake's: the 422 form and a receipt.
    let page = invalid(&server);
    assert!(
        nav(&page).contains(r#"href="/policy/index.html""#) && nav(&page).contains("政策法规"),
        "{}",
        nav(&page)
    );
    let body = http::encode(&crate::common::department("梅州市测试局"));
    let r = server.post_with(
        "/forms/departments",
        &[("Origin", origin.as_str())],
        body.as_bytes(),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    let receipt = server.get(r.header("location").expect("receipt"));
    assert!(
        nav(&receipt.text()).contains("政策法规"),
        "{}",
        receipt.text()
    );

    // And when the section goes, it goes from the intake's pages too.
    std::fs::remove_dir_all(site.path().join("content/policy")).unwrap();
    let took = wait_for(&server, "/", Duration::from_secs(8), |t| {
        !nav(t).contains("政策法规")
    });
    assert!(took.is_some(), "not rebuilt: {}", server.log());
    assert!(!nav(&invalid(&server)).contains("政策法规"));
}
