//! The build steps and incremental updates on a tiny site made in a
//! tempdir: `gazette init`'s (one notice, one form, one manual).

use super::{render_full, Built, Outputs, Sink};
use crate::model::Site;
use crate::problem::Problem;
use std::path::{Path, PathBuf};

fn fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("site");
    crate::init(&root).unwrap();
    (dir, root)
}

fn write(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn append(root: &Path, rel: &str, text: &str) {
    let old = std::fs::read_to_string(root.join(rel)).unwrap();
    write(root, rel, &format!("{old}{text}"));
}

fn text<'a>(out: &'a Outputs, path: &str) -> &'a str {
    std::str::from_utf8(&out[path]).unwrap()
}

/// The whole site in memory, or every problem.
fn render(site: &Site) -> Result<Outputs, Vec<Problem>> {
    render_full(site, &Sink::Memory).map(|b| b.outputs)
}

fn problems_of(root: &Path) -> Vec<String> {
    let site = Site::load(root).unwrap();
    render(&site)
        .unwrap_err()
        .iter()
        .map(Problem::to_string)
        .collect()
}

/// The 1-based line of the first line of `file` (under `root`) containing `needle`.
fn line_of(root: &Path, file: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(root.join(file)).unwrap();
    1 + text.lines().position(|l| l.contains(needle)).unwrap()
}

#[test]
fn a_notice_a_form_and_a_manual_make_every_output() {
    let (_dir, root) = fixture();
    let site = Site::load(&root).unwrap();
    let out = render(&site).unwrap();
    let paths: Vec<&str> = out.keys().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "404.html",
            "favicon.svg",
            "forms/contacts/contacts-blank.pdf",
            "forms/contacts/contacts.xlsx",
            "forms/contacts/index.html",
            "forms/contacts/print.html",
            "forms/index.html",
            "index.html",
            "manuals/guide/guide-offline.html",
            "manuals/guide/guide.pdf",
            "manuals/guide/index.html",
            "manuals/guide/print.html",
            "manuals/guide/start.html",
            "manuals/guide/submit.html",
            "manuals/index.html",
            "notices/first/index.html",
            "notices/first/notice.pdf",
            "notices/index.html",
            "print.css",
            "robots.txt",
            "search.js",
            "search/docs-0.js",
            "search/index.html",
            "search/meta.js",
            "search/terms-0.js",
            "sitemap/index.html",
            "style.css",
        ]
    );
    // No base_url: no sitemap.xml or atom.xml (they need absolute URLs),
    // and no page links to the feed.
    assert!(!text(&out, "index.html").contains("atom.xml"));
    assert!(text(&out, "index.html").contains("href=\"sitemap/index.html\">网站地图</a>"));
    // The notice links its attachments and shows the sizes the earlier
    // steps measured.
    let notice = text(&out, "notices/first/index.html");
    assert!(notice.contains("示例函〔2026〕1号"));
    assert!(notice.contains("href=\"../../forms/contacts/index.html\""));
    assert!(notice.contains("href=\"../../manuals/guide/index.html\""));
    let xlsx = forms::paths::format_size(out["forms/contacts/contacts.xlsx"].len());
    let offline = forms::paths::format_size(out["manuals/guide/guide-offline.html"].len());
    assert!(notice.contains(&format!("XLSX，{xlsx}")), "{xlsx}");
    assert!(notice.contains(&format!("HTML，{offline}")), "{offline}");
    // A chapter link to another chapter becomes an anchor in the print view.
    let print = text(&out, "manuals/guide/print.html");
    assert!(print.contains("href=\"#ch-submit--%E5%9C%A8%E7%BA%BF%E6%8F%90%E4%BA%A4\""));
    let map = text(&out, "sitemap/index.html");
    assert!(
        map.contains("href=\"../notices/first/index.html\""),
        "{map}"
    );
    assert!(
        map.contains("href=\"../forms/contacts/index.html\""),
        "{map}"
    );
}

#[test]
fn feeds_are_written_only_with_absolute_urls() {
    let (_dir, root) = fixture();
    let config = std::fs::read_to_string(root.join("gazette.toml")).unwrap();
    write(
        &root,
        "gazette.toml",
        &config.replace(
            "base_url = \"\"",
            "base_url = \"https://www.example.gov.cn/\"",
        ),
    );
    let out = render(&Site::load(&root).unwrap()).unwrap();
    let sitemap = text(&out, "sitemap.xml");
    let locs: Vec<&str> = sitemap
        .split("<loc>")
        .skip(1)
        .map(|l| l.split("</loc>").next().unwrap())
        .collect();
    assert!(!locs.is_empty());
    assert!(
        locs.iter()
            .all(|l| l.starts_with("https://www.example.gov.cn/")),
        "{locs:?}"
    );
    let atom = text(&out, "atom.xml");
    for href in atom.split("href=\"").skip(1) {
        assert!(href.starts_with("https://www.example.gov.cn/"), "{atom}");
    }
    assert!(text(&out, "index.html").contains("atom.xml"));
}

#[test]
fn each_sink_gets_the_files() {
    let (dir, root) = fixture();
    let site = Site::load(&root).unwrap();
    let memory = render_full(&site, &Sink::Memory).unwrap();
    let public = dir.path().join("public");
    let written = render_full(&site, &Sink::Dir(public.clone())).unwrap();
    let checked = render_full(&site, &Sink::Discard).unwrap();
    assert!(written.outputs.is_empty() && checked.outputs.is_empty());
    for built in [&written, &checked] {
        assert_eq!(
            (built.files, built.bytes, built.pages),
            (memory.files, memory.bytes, memory.pages)
        );
    }
    assert_eq!(memory.files, memory.outputs.len());
    for (path, bytes) in &memory.outputs {
        assert_eq!(&std::fs::read(public.join(path)).unwrap()[..], &bytes[..]);
    }
}

#[test]
fn a_broken_link_is_a_problem_at_its_file_and_line() {
    let (_dir, root) = fixture();
    let page = "content/notices/first.md";
    append(&root, page, "\n另见[说明](@/notices/missing.md)。\n");
    let line = line_of(&root, page, "另见");
    assert_eq!(
        problems_of(&root),
        [format!(
            "{page}:{line}: broken link @/notices/missing.md: no content file content/notices/missing.md"
        )]
    );
}

#[test]
fn a_broken_anchor_is_a_problem_at_its_file_and_line() {
    let (_dir, root) = fixture();
    append(
        &root,
        "content/_index.md",
        "\n见[通知](@/notices/first.md#没有)。\n",
    );
    let line = line_of(&root, "content/_index.md", "见[通知]");
    let problems = problems_of(&root);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].starts_with(&format!("content/_index.md:{line}: broken anchor")),
        "{problems:?}"
    );
}

#[test]
fn two_sources_of_one_output_are_refused_before_rendering() {
    let (_dir, root) = fixture();
    write(
        &root,
        "content/notices/again.md",
        "+++\ntitle = \"又一\"\npath = \"notices/first\"\n+++\n",
    );
    assert_eq!(
        problems_of(&root),
        ["content/notices/first.md: writes notices/first/index.html, which content/notices/again.md writes too"]
    );
}

#[test]
fn an_unknown_attachment_is_a_problem_of_the_notice() {
    let (_dir, root) = fixture();
    let page = "content/notices/first.md";
    let old = std::fs::read_to_string(root.join(page)).unwrap();
    write(
        &root,
        page,
        &old.replace("form = \"contacts\"", "form = \"nope\""),
    );
    assert_eq!(
        problems_of(&root),
        [format!("{page}: attachment 1: unknown form id \"nope\"")]
    );
}

/// A full render in memory and the site it came from.
fn full(root: &Path) -> (Site, Built) {
    let site = Site::load(root).unwrap();
    let built = render_full(&site, &Sink::Memory).unwrap();
    (site, built)
}

#[test]
fn an_edited_body_re_renders_only_its_page() {
    let (_dir, root) = fixture();
    let (mut site, mut built) = full(&root);
    let before = built.outputs.clone();
    append(&root, "content/notices/first.md", "\n补充一句。\n");
    let rendered = built
        .update_doc(&mut site, "notices/first.md")
        .unwrap()
        .unwrap();
    // The page and the notice's PDF, made from it.
    let pdf = "notices/first/notice.pdf";
    assert_eq!(rendered.pages, ["notices/first/index.html", pdf]);
    assert!(text(&built.outputs, "notices/first/index.html").contains("补充一句。"));
    // The search index follows the new text: its document shard and term
    // shards change, the rest of the site does not.
    assert!(rendered.index_files >= 2, "{rendered:?}");
    assert!(text(&built.outputs, "search/docs-0.js").contains("补充一句。"));
    for (path, bytes) in &before {
        let index = path.starts_with("search/") && path.ends_with(".js");
        if path != "notices/first/index.html" && path != pdf && !index {
            assert_eq!(built.outputs[path], *bytes, "{path} changed");
        }
    }
}

#[test]
fn a_new_title_re_renders_the_page_its_section_home_and_feeds() {
    let (_dir, root) = fixture();
    // With a base_url, so the feeds are made too.
    let config = std::fs::read_to_string(root.join("gazette.toml")).unwrap();
    write(
        &root,
        "gazette.toml",
        &config.replace(
            "base_url = \"\"",
            "base_url = \"https://www.example.gov.cn/\"",
        ),
    );
    let (mut site, mut built) = full(&root);
    let page = "content/notices/first.md";
    let old = std::fs::read_to_string(root.join(page)).unwrap();
    write(
        &root,
        page,
        &old.replace("关于报送联系人信息的通知", "关于报送联系人的通知"),
    );
    let mut rendered = built
        .update_doc(&mut site, "notices/first.md")
        .unwrap()
        .unwrap()
        .pages;
    rendered.sort();
    assert_eq!(
        rendered,
        [
            "404.html",
            "atom.xml",
            "forms/index.html",
            "index.html",
            "manuals/index.html",
            "notices/first/index.html",
            "notices/first/notice.pdf",
            "notices/index.html",
            "robots.txt",
            "sitemap.xml",
            "sitemap/index.html",
        ]
    );
    for listing in [
        "index.html",
        "notices/index.html",
        "atom.xml",
        "sitemap/index.html",
    ] {
        assert!(
            text(&built.outputs, listing).contains("关于报送联系人的通知"),
            "{listing}"
        );
    }
    assert!(!text(&built.outputs, "manuals/guide/index.html").contains("关于报送联系人的通知"));
}

#[test]
fn an_update_with_problems_changes_nothing() {
    let (_dir, root) = fixture();
    let (mut site, mut built) = full(&root);
    let before = built.outputs.clone();
    // Another page links to this heading; removing it breaks that link.
    append(
        &root,
        "content/_index.md",
        "\n见[填报方式](@/notices/first.md#一填报方式)。\n",
    );
    let (mut site2, mut built2) = full(&root);
    let page = "content/notices/first.md";
    let old = std::fs::read_to_string(root.join(page)).unwrap();
    write(&root, page, &old.replace("## 一、填报方式", "## 填报方式"));
    let line = line_of(&root, "content/_index.md", "见[填报方式]");
    let problems = built2
        .update_doc(&mut site2, "notices/first.md")
        .unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0]
        .to_string()
        .starts_with(&format!("content/_index.md:{line}: broken anchor")));
    // A broken link of its own: reported at its line, nothing replaced.
    write(&root, page, &format!("{old}\n[坏](@/nowhere.md)\n"));
    let line = line_of(&root, page, "[坏]");
    let problems = built.update_doc(&mut site, "notices/first.md").unwrap_err();
    assert!(problems[0]
        .to_string()
        .starts_with(&format!("{page}:{line}:")));
    assert_eq!(built.outputs, before);
}

#[test]
fn a_new_or_moved_page_needs_a_full_render() {
    let (_dir, root) = fixture();
    // With a base_url, so the feeds are made too.
    let config = std::fs::read_to_string(root.join("gazette.toml")).unwrap();
    write(
        &root,
        "gazette.toml",
        &config.replace(
            "base_url = \"\"",
            "base_url = \"https://www.example.gov.cn/\"",
        ),
    );
    let (mut site, mut built) = full(&root);
    let page = "content/notices/first.md";
    let old = std::fs::read_to_string(root.join(page)).unwrap();
    write(
        &root,
        page,
        &old.replace("+++\ntitle", "+++\nslug = \"moved\"\ntitle"),
    );
    assert_eq!(
        built.update_doc(&mut site, "notices/first.md").unwrap(),
        None
    );
    assert_eq!(built.update_doc(&mut site, "notices/new.md").unwrap(), None);
}

#[test]
fn a_manual_carries_its_official_document_first_on_its_contents_page() {
    let (_dir, root) = fixture();
    let pdf = b"%PDF-1.4\n% the official manual\n%%EOF\n";
    write(
        &root,
        "manuals/guide/src/official/guide.pdf",
        std::str::from_utf8(pdf).unwrap(),
    );
    let book = std::fs::read_to_string(root.join("manuals/guide/book.toml")).unwrap();
    let with = |value: &str| {
        book.replace(
            "[output.gazette]\n",
            &format!("[output.gazette]\nofficial = {value:?}\n"),
        )
    };
    write(
        &root,
        "manuals/guide/book.toml",
        &with("official/guide.pdf"),
    );
    let out = render(&Site::load(&root).unwrap()).unwrap();
    assert_eq!(&out["manuals/guide/official/guide.pdf"][..], &pdf[..]);
    let index = text(&out, "manuals/guide/index.html");
    let size = forms::paths::format_size(pdf.len());
    let official = index
        .find(&format!(
            "<a href=\"official/guide.pdf\" download=\"guide.pdf\">guide.pdf</a> <span class=\"file-info\">PDF，{size}</span>"
        ))
        .unwrap_or_else(|| panic!("{index}"));
    // First on the page: before the book's own description and contents.
    assert!(official < index.find("目录").unwrap());
    assert!(official < index.find("manual-actions").unwrap());

    // Only a PDF or Word file, and one that is there.
    write(&root, "manuals/guide/src/official/guide.txt", "x");
    write(
        &root,
        "manuals/guide/book.toml",
        &with("official/guide.txt"),
    );
    let problems = Site::load(&root).unwrap().manual_problems;
    assert!(
        problems[0].to_string().contains("PDF or Word"),
        "{}",
        problems[0]
    );
    write(
        &root,
        "manuals/guide/book.toml",
        &with("official/missing.pdf"),
    );
    let problems = Site::load(&root).unwrap().manual_problems;
    assert!(
        problems[0].to_string().contains("no such file"),
        "{}",
        problems[0]
    );
}

#[test]
fn a_large_books_sidebar_shows_the_chapters_around_and_links_the_contents() {
    let (_dir, root) = fixture();
    let book = std::fs::read_to_string(root.join("manuals/guide/book.toml")).unwrap();
    write(&root, "manuals/big/book.toml", &book);
    // Two parts of 35: a top-level chapter, then 34 under it.
    let mut summary = String::from("# Summary\n\n");
    for n in 0..70 {
        let indent = if n % 35 == 0 { "" } else { "    " };
        summary.push_str(&format!("{indent}- [第{n}章](c{n}.md)\n"));
        write(
            &root,
            &format!("manuals/big/src/c{n}.md"),
            &format!("# 第{n}章\n\n正文。\n"),
        );
    }
    write(&root, "manuals/big/src/SUMMARY.md", &summary);
    let site = Site::load(&root).unwrap();
    let out = render(&site).unwrap();
    let sidebar = |page: &str| {
        let html = text(&out, page);
        let from = html.find("class=\"manual-side\"").unwrap();
        html[from..from + html[from..].find("</nav>").unwrap()].to_string()
    };
    let listed = |side: &str| -> Vec<usize> {
        (0..70)
            .filter(|n| side.contains(&format!("big/c{n}.html\"")))
            .collect()
    };
    let side = sidebar("manuals/big/c50.html");
    // Its parent (c35), the 8 before and after it, and the full contents.
    let mut want = vec![35];
    want.extend(42..=58);
    assert_eq!(listed(&side), want, "{side}");
    assert!(side.contains("aria-current=\"page\">"));
    assert!(side.contains("完整目录"), "{side}");
    assert_eq!(side.matches("toc-gap").count(), 2, "{side}");
    // The contents page lists every chapter; a small book's sidebar too.
    let contents = text(&out, "manuals/big/index.html");
    assert_eq!(contents.matches("class=\"toc-depth-").count(), 70);
    // Its one-page views, streamed chapter by chapter, hold every chapter.
    for view in ["manuals/big/print.html", "manuals/big/big-offline.html"] {
        let html = text(&out, view);
        assert_eq!(
            html.matches("<section class=\"book-chapter").count(),
            70,
            "{view}"
        );
        assert!(
            html.contains("第69章</h2>") && html.trim_end().ends_with("</html>"),
            "{view}"
        );
    }
    let small = sidebar("manuals/guide/start.html");
    assert!(
        !small.contains("完整目录") && !small.contains("toc-gap"),
        "{small}"
    );
}
