//! The notice as published: the bundled site's 函 text equals the seed
//! (tests/fixtures/seed/, a copy of the text the bureau published), line by
//! line, ignoring only layout whitespace; what the page adds is marked 【待核实】.

use crate::common::{gazette, read, repo};

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
    let result = gazette()
        .args(["build", "--root"])
        .arg(repo())
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
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
