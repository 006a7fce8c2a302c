//! `SUMMARY.md` read the way mdBook reads it: parsed as Markdown with
//! pulldown-cmark (so HTML comments, of any length, are skipped wherever
//! they are), then walked as mdBook's grammar: an optional `# Title`,
//! prefix chapters (links in paragraphs), numbered chapters (nested lists,
//! `# Part` titles and `---` separators between them, draft chapters
//! `- [标题]()`), then suffix chapters. Numbers run on across parts, as
//! mdBook shows them.

use super::manual::Chapter;
use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

/// Where in the grammar the walk is.
#[derive(PartialEq)]
enum Stage {
    Prefix,
    Numbered,
    Suffix,
}

/// The chapters of a `SUMMARY.md`, or (line, reason) for the first thing
/// mdBook would refuse.
pub(crate) fn parse(text: &str) -> Result<Vec<Chapter>, (usize, String)> {
    let line_of = |offset: usize| 1 + text[..offset.min(text.len())].matches('\n').count();
    let mut events = Parser::new(text).into_offset_iter().peekable();
    let mut chapters: Vec<Chapter> = Vec::new();
    let mut stage = Stage::Prefix;
    let mut seen_title = false;
    let mut pending_part: Option<String> = None;
    // The counters of the open list levels; `top` numbers the top level
    // across every list of the book.
    let mut counters: Vec<usize> = Vec::new();
    let mut top = 0usize;
    // Nesting of the list items, and whether the open item already has its link.
    let mut item_has_link: Vec<bool> = Vec::new();
    let mut in_paragraph = false;
    while let Some((event, range)) = events.next() {
        let line = line_of(range.start);
        match event {
            Event::Html(_) | Event::InlineHtml(_) => {}
            Event::Start(Tag::Heading { level, .. }) => {
                let mut title = String::new();
                for (e, _) in events.by_ref() {
                    match e {
                        Event::End(TagEnd::Heading(_)) => break,
                        Event::Text(t) | Event::Code(t) => title.push_str(&t),
                        _ => {}
                    }
                }
                let title = title.trim().to_string();
                if !seen_title && chapters.is_empty() && stage == Stage::Prefix {
                    seen_title = true;
                } else if level == HeadingLevel::H1 {
                    if stage == Stage::Suffix {
                        return Err((line, "后缀章节之后不能再有分部标题（# 标题）".into()));
                    }
                    stage = Stage::Numbered;
                    pending_part = Some(title);
                } else {
                    return Err((
                        line,
                        format!(
                            "SUMMARY.md 中只能用一级标题（# 标题）作分部标题，这里是 {title:?}"
                        ),
                    ));
                }
            }
            // Separators (`---`) carry nothing gazette shows.
            Event::Start(Tag::List(_)) => {
                if stage == Stage::Suffix && item_has_link.is_empty() {
                    return Err((
                        line,
                        "后缀章节（不带 - 的链接）之后不能再有编号章节列表".into(),
                    ));
                }
                if item_has_link.is_empty() {
                    stage = Stage::Numbered;
                }
                counters.push(0);
            }
            Event::End(TagEnd::List(_)) => {
                counters.pop();
            }
            Event::Start(Tag::Item) => {
                if counters.len() == 1 {
                    top += 1;
                    counters[0] = top;
                } else if let Some(c) = counters.last_mut() {
                    *c += 1;
                }
                item_has_link.push(false);
            }
            Event::End(TagEnd::Item) if item_has_link.pop() == Some(false) => {
                return Err((
                    line,
                    "章节列表的每一项都应是一个链接，如 - [标题](file.md)，草稿章节写 - [标题]()"
                        .into(),
                ));
            }
            Event::Start(Tag::Paragraph) => {
                in_paragraph = true;
                if item_has_link.is_empty() && stage == Stage::Numbered {
                    stage = Stage::Suffix;
                }
            }
            Event::End(TagEnd::Paragraph) => in_paragraph = false,
            Event::Start(Tag::Link { dest_url, .. }) => {
                let mut title = String::new();
                for (e, _) in events.by_ref() {
                    match e {
                        Event::End(TagEnd::Link) => break,
                        Event::Text(t) | Event::Code(t) => title.push_str(&t),
                        Event::SoftBreak | Event::HardBreak => title.push(' '),
                        _ => {}
                    }
                }
                let path = dest_url.trim();
                let path = (!path.is_empty()).then(|| percent_decoded(path));
                if let Some(p) = &path {
                    if p.contains("://") || p.starts_with('/') || p.split('/').any(|s| s == "..") {
                        return Err((line, format!("章节路径 {p} 应相对于 src/ 并留在其中")));
                    }
                }
                let numbered = !item_has_link.is_empty();
                if let Some(has) = item_has_link.last_mut() {
                    if *has {
                        return Err((line, "章节列表的一项中只能有一个链接".into()));
                    }
                    *has = true;
                } else if !in_paragraph {
                    return Err((line, "章节链接应单独成段或作为列表项".into()));
                }
                let (depth, number) = if numbered {
                    let number: String = counters.iter().map(|c| format!("{c}.")).collect();
                    (counters.len() - 1, number)
                } else {
                    (0, String::new())
                };
                chapters.push(Chapter {
                    title: title.trim().to_string(),
                    path,
                    depth,
                    number,
                    part: if numbered { pending_part.take() } else { None },
                    line,
                });
            }
            Event::Text(t) if !item_has_link.is_empty() || in_paragraph => {
                if t.trim().is_empty() {
                    continue;
                }
                if item_has_link.last() == Some(&true) {
                    continue; // text after the link in an item: mdBook ignores it
                }
                return Err((
                    line,
                    format!("应为章节链接，如 - [标题](file.md)，这里是 {:?}", t.trim()),
                ));
            }
            _ => {}
        }
    }
    if chapters.is_empty() {
        return Err((1, "SUMMARY.md 没有列出任何章节".into()));
    }
    Ok(chapters)
}

/// `a%20b.md` → `a b.md`: mdBook reads chapter paths as decoded file names.
fn percent_decoded(s: &str) -> String {
    s.replace("%20", " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &str) -> Vec<(String, Option<String>, usize, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|c| (c.title, c.path, c.depth, c.number))
            .collect()
    }

    #[test]
    fn multi_line_comments_are_skipped_anywhere() {
        let text = "# Summary\n\n<!--\n- [旧](old.md)\n  还在注释里\n-->\n[前言](README.md)\n\n- [一](one.md)\n  <!-- - [注释](c.md) -->\n    - [一.一](a/b.md)\n";
        let got = list(text);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0].1.as_deref(), Some("README.md"));
        assert_eq!(
            got[2],
            ("一.一".into(), Some("a/b.md".into()), 1, "1.1.".into())
        );
    }

    #[test]
    fn parts_separators_drafts_and_suffix() {
        let text = "# Summary\n\n[前言](README.md)\n\n- [登录](login.md)\n    - [首次登录](login/first.md)\n    - [草稿]()\n- [审核](review.md)\n\n# 附录\n\n- [常见问题](faq.md)\n\n---\n\n[后记](end.md)\n";
        let c = parse(text).unwrap();
        let got: Vec<_> = c
            .iter()
            .map(|c| {
                (
                    c.title.as_str(),
                    c.path.as_deref(),
                    c.depth,
                    c.number.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("前言", Some("README.md"), 0, ""),
                ("登录", Some("login.md"), 0, "1."),
                ("首次登录", Some("login/first.md"), 1, "1.1."),
                ("草稿", None, 1, "1.2."),
                ("审核", Some("review.md"), 0, "2."),
                ("常见问题", Some("faq.md"), 0, "3."),
                ("后记", Some("end.md"), 0, ""),
            ]
        );
        assert_eq!(c[5].part.as_deref(), Some("附录"));
        assert_eq!(c[6].line, 16);
    }

    #[test]
    fn what_mdbook_refuses_is_reported_with_its_line() {
        assert_eq!(
            parse("# Summary\n\n- [a](a.md)\n- not a link\n")
                .unwrap_err()
                .0,
            4
        );
        assert!(parse("- [a](../x.md)\n").is_err());
        assert!(parse("# Summary\n").is_err());
        assert!(parse("- [a](a.md)\n\n[s](s.md)\n\n- [b](b.md)\n").is_err());
    }
}
