//! The notice as published: the bundled site's 函 text equals the seed
//! (tests/fixtures/seed/, a copy of the text the bureau published), line by
//! line, ignoring only layout whitespace; what the page adds is marked 【待核实】.

use crate::common::{build_bundled, gazette, read, repo, Site};
use std::path::Path;

const SEED: &str = include_str!("fixtures/seed/notice-2016-216.txt");
const MARK: char = '\u{1}';

/// The text lines of an HTML fragment: block ends and `<br>` end a line, a
/// 【待核实】 mark becomes [`MARK`], tags go, entities are decoded, and blank
/// lines and leading/trailing spaces (layout) are dropped.
fn lines(html: &str) -> Vec<String> {
    let mut s = html.to_string();
    while let Some(start) = s.find("<span class=\"unconfirmed\"") {
        // The mark holds one nested span (the screen-reader text).
        let end = s[start..]
            .match_indices("</span>")
            .nth(1)
            .map(|(i, _)| start + i + "</span>".len())
            .expect("a 【待核实】 mark is two nested spans");
        assert!(
            s[start..end].contains("【待核实】")
                && s[start..end].contains("此项信息尚待发布单位核实"),
            "a mark shows 【待核实】 and says why: {}",
            &s[start..end]
        );
        s.replace_range(start..end, &MARK.to_string());
    }
    for end in [
        "<br>",
        "</p>",
        "</h1>",
        "</h2>",
        "</h3>",
        "</li>",
        "</div>",
        "</header>",
    ] {
        s = s.replace(end, &format!("{end}\n"));
    }
    let mut text = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    html_escape::decode_html_entities(&text)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The inner HTML of the first element whose opening tag has `class="{class}"`.
fn element<'a>(html: &'a str, tag: &str, class: &str) -> &'a str {
    let open = format!("class=\"{class}\"");
    let at = html
        .find(&open)
        .unwrap_or_else(|| panic!("no element of class {class}"));
    let start = at + html[at..].find('>').unwrap() + 1;
    // Nested elements of the same tag: count to the matching close.
    let (mut depth, mut pos) = (1, start);
    let (o, c) = (format!("<{tag}"), format!("</{tag}>"));
    loop {
        let next_close = pos + html[pos..].find(&c).expect("element is closed");
        match html[pos..next_close].find(&o) {
            Some(i) => {
                depth += 1;
                pos += i + o.len();
            }
            None => {
                depth -= 1;
                if depth == 0 {
                    return &html[start..next_close];
                }
                pos = next_close + c.len();
            }
        }
    }
}

#[test]
fn the_notice_reads_as_the_seed_with_additions_marked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("public");
    build_bundled(&out);
    let page = read(&out.join("notices/2016-216/index.html"));
    let article = element(&page, "article", "gongwen");

    // The seed's parts, in the seed's order.
    let mut shown = Vec::new();
    for (tag, class) in [
        ("h1", "gw-title"),
        ("p", "gw-number"),
        ("p", "gw-to"),
        ("div", "gw-body"),
        ("ul", "gw-annex-list"),
        ("p", "gw-annex-after"),
        ("p", "gw-note"),
    ] {
        let part = lines(element(article, tag, class));
        assert!(!part.is_empty(), "{class} is empty");
        shown.extend(part);
    }
    let seed: Vec<String> = SEED
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    for (i, (got, want)) in shown.iter().zip(&seed).enumerate() {
        assert_eq!(got, want, "line {} of the seed's text", i + 1);
    }
    assert_eq!(shown.len(), seed.len(), "as many lines as the seed");

    // Everything else the article shows is an addition, and each is marked.
    let mut additions: Vec<String> = lines(article)
        .into_iter()
        .filter(|l| !seed.contains(l))
        .collect();
    additions.sort();
    let mut expected = vec![
        format!("梅州市人力资源和社会保障局{MARK}"), // 发文机关标志
        format!("梅州市人力资源和社会保障局{MARK}"), // 署名
        format!("2016年7月15日{MARK}"),              // 成文日期 (落款)
    ];
    expected.sort();
    assert_eq!(additions, expected, "only the marked additions");
}

#[test]
fn html_lines_drop_layout_and_keep_marks() {
    let html = "<p> a<b>b</b> </p>\n\n<ul><li>x &amp; y</li><li>z<span class=\"unconfirmed\" title=\"t\">【待核实】<span class=\"visually-hidden\">此项信息尚待发布单位核实</span></span></li></ul>";
    assert_eq!(lines(html), ["ab", "x & y", &format!("z{MARK}")]);
    assert_eq!(
        element("<div class=\"a\"><div>i</div>o</div>", "div", "a"),
        "<div>i</div>o"
    );
}

/// `gazette ARGS --root ROOT`: exit code and stdout lines.
fn run(args: &[&str], root: &Path) -> (Option<i32>, Vec<String>, String) {
    let out = gazette()
        .args(args)
        .arg("--root")
        .arg(root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    (
        out.status.code(),
        stdout.lines().map(str::to_string).collect(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The line of `[office] email` in the repository's gazette.toml (other
/// settings above it come and go).
fn office_email_line() -> usize {
    let config = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/gazette.toml"))
        .expect("gazette.toml");
    let office = config.find("\n[office]").expect("[office] table");
    let email = office + config[office..].find("\nemail = ").expect("[office] email");
    config[..email].matches('\n').count() + 2
}

/// Every fact of the bundled site that the seed does not give.
fn bundled_unconfirmed() -> Vec<String> {
    vec![
        format!("gazette.toml:{}: [office] email (电子邮箱) zjk@hrss.meizhou.example is marked unconfirmed (example is a reserved domain: mail to it bounces)", office_email_line()),
        "content/notices/2016-216.md:14: 发文机关（署名） 梅州市人力资源和社会保障局 is marked unconfirmed".into(),
        "content/notices/2016-216.md:17: 成文日期 2016-07-15 is marked unconfirmed".into(),
        "content/notices/2016-216.md:19: 发布日期 2016-07-15 is marked unconfirmed".into(),
        "content/notices/2016-216.md:23: 索引号 11441400MB2C000058/2016-00216 is marked unconfirmed".into(),
    ]
}
#[test]
fn strict_check_lists_exactly_the_bundled_sites_unconfirmed_facts() {
    let (code, lines, stderr) = run(&["check", "--strict"], &repo());
    assert_eq!(code, Some(1), "{lines:?}\n{stderr}");
    assert_eq!(lines, bundled_unconfirmed(), "{stderr}");
    assert!(stderr.contains("--strict"), "{stderr}");
    // Without --strict they are warnings and the check passes.
    let (code, lines, _) = run(&["check"], &repo());
    assert_eq!(code, Some(0), "{lines:?}");
    let warned: Vec<String> = bundled_unconfirmed()
        .iter()
        .map(|l| format!("warning: {l}"))
        .collect();
    assert_eq!(lines[..warned.len()], warned[..]);
}

#[test]
fn a_confirmed_site_passes_strict_and_a_strict_build_writes_nothing_until_then() {
    let site = Site::bundled();
    let out = site.path().join("public");
    let out_arg = out.to_str().unwrap();
    let (code, lines, _) = run(&["build", "--strict", "--output", out_arg], site.path());
    assert_eq!(code, Some(1), "{lines:?}");
    assert_eq!(lines, bundled_unconfirmed());
    assert!(!out.exists(), "a refused strict build writes nothing");

    // The bureau confirms: the marks go, the email is its own.
    let notice = site.read("content/notices/2016-216.md");
    let notice = notice.replace(
        "unconfirmed = [\"issuer\", \"written\", \"published\", \"index_no\"]\n",
        "",
    );
    assert!(
        !notice.contains("unconfirmed ="),
        "the bundled marks are one line"
    );
    site.write("content/notices/2016-216.md", &notice);
    let config = site
        .read("gazette.toml")
        .replace("zjk@hrss.meizhou.example", "zjk@hrss.meizhou.gov.cn");
    site.write("gazette.toml", &config);
    let (code, lines, stderr) = run(&["check", "--strict"], site.path());
    assert_eq!(code, Some(0), "{lines:?}\n{stderr}");
    assert_eq!(lines, ["no problems found"]);
    let (code, lines, stderr) = run(&["build", "--strict", "--output", out_arg], site.path());
    assert_eq!(code, Some(0), "{lines:?}\n{stderr}");
    assert!(!stderr.contains("warning:"), "{stderr}");
    let page = read(&out.join("notices/2016-216/index.html"));
    assert!(!page.contains("【待核实】"), "no marks once confirmed");
    let form = read(&out.join("forms/departments/index.html"));
    assert!(
        form.contains("zjk@hrss.meizhou.gov.cn</a>"),
        "the confirmed email"
    );
    assert!(!form.contains("【待核实】"), "and no mark on the form page");
}

#[test]
fn a_reserved_domain_email_in_office_is_caught_and_marked() {
    let site = Site::bundled();
    let notice = site.read("content/notices/2016-216.md").replace(
        "unconfirmed = [\"issuer\", \"written\", \"published\", \"index_no\"]\n",
        "",
    );
    site.write("content/notices/2016-216.md", &notice);
    for (email, domain) in [("office@example.com", "example.com"), ("a@b.test", "test")] {
        let config = site.read("gazette.toml");
        let start = config.find("\nemail = ").unwrap() + 1;
        let end = start + config[start..].find('\n').unwrap();
        let config = format!("{}email = \"{email}\"{}", &config[..start], &config[end..]);
        site.write("gazette.toml", &config);
        let (code, lines, _) = run(&["check", "--strict"], site.path());
        assert_eq!(code, Some(1), "{email}");
        assert_eq!(
            lines,
            [format!("gazette.toml:{}: [office] email (电子邮箱) {email} is marked unconfirmed ({domain} is a reserved domain: mail to it bounces)", office_email_line())]
        );
    }
    // The form page marks it where people read it.
    let out = site.path().join("public");
    let (code, _, stderr) = run(&["build", "--output", out.to_str().unwrap()], site.path());
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "warning: gazette.toml:{}: [office] email",
            office_email_line()
        )),
        "{stderr}"
    );
    let form = read(&out.join("forms/departments/index.html"));
    assert!(
        form.contains("a@b.test</a><span class=\"unconfirmed\""),
        "the email is marked on the form page"
    );
}
