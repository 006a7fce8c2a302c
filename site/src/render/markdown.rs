//! Markdown to HTML with pulldown-cmark: heading ids for anchors, and every
//! link handed to a resolver that checks it and rewrites it relative.

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Heading {
    pub(crate) level: u8,
    pub(crate) id: String,
    pub(crate) text: String,
}

/// A link found in the Markdown that points to an anchor inside the site,
/// kept so the anchor can be checked once every page is rendered. (Links
/// without an anchor are checked as they are resolved, and not kept.)
#[derive(Debug, Clone)]
pub(crate) struct LinkUse {
    pub(crate) line: usize,
    pub(crate) written: String,
    /// Output path of the target, e.g. `notices/2016-216/index.html`.
    pub(crate) output: String,
    pub(crate) anchor: Option<String>,
}

pub(crate) enum Resolved {
    /// Another site, mailto:, tel: ...: written unchanged.
    External,
    Internal {
        href: String,
        output: String,
        anchor: Option<String>,
    },
}

/// Resolves a link destination as written in a document.
pub(crate) trait Links {
    fn resolve(&self, dest: &str) -> Result<Resolved, String>;
}

pub(crate) struct Rendered {
    pub(crate) html: String,
    pub(crate) headings: Vec<Heading>,
    pub(crate) links: Vec<LinkUse>,
    /// (line, reason) for links that lead nowhere.
    pub(crate) problems: Vec<(usize, String)>,
}

pub(crate) fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// Renders `src`, whose first line is line `first_line` of its file.
/// Heading ids get `id_prefix` (the one-page print view needs them unique).
pub(crate) fn render(src: &str, first_line: usize, id_prefix: &str, links: &dyn Links) -> Rendered {
    render_shifted(src, first_line, id_prefix, 0, links)
}

/// As [`render`], with every heading `shift` levels lower: in a one-page
/// book the book title is the only `h1`, so chapter titles become `h2`.
pub(crate) fn render_shifted(
    src: &str,
    first_line: usize,
    id_prefix: &str,
    shift: u8,
    links: &dyn Links,
) -> Rendered {
    // Line numbers are only needed for links; most of a page has none.
    let line_starts = std::cell::OnceCell::new();
    let line_of = |offset: usize| {
        let starts: &Vec<usize> = line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(memchr::memchr_iter(b'\n', src.as_bytes()).map(|i| i + 1))
                .collect()
        });
        first_line + starts.partition_point(|&s| s <= offset) - 1
    };

    let mut out: Vec<Event> = Vec::with_capacity(src.len() / 16);
    let mut headings = Vec::new();
    let mut used_ids: Vec<String> = Vec::new();
    let mut link_uses = Vec::new();
    let mut problems = Vec::new();
    // Index in `out` of the open heading, and its text so far.
    let mut open_heading: Option<(usize, String)> = None;

    for (event, range) in Parser::new_ext(src, options()).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading {
                level,
                id,
                classes,
                attrs,
            }) => {
                open_heading = Some((out.len(), String::new()));
                out.push(Event::Start(Tag::Heading {
                    level: shifted(level, shift),
                    id,
                    classes,
                    attrs,
                }));
            }
            Event::End(TagEnd::Heading(level)) => {
                let level = shifted(level, shift);
                if let Some((at, text)) = open_heading.take() {
                    if let Event::Start(Tag::Heading { id, .. }) = &mut out[at] {
                        let base = match id {
                            Some(given) => given.to_string(),
                            None => slugify(&text),
                        };
                        let unique = unique_id(&base, &mut used_ids);
                        let full = format!("{id_prefix}{unique}");
                        *id = Some(CowStr::from(full.clone()));
                        headings.push(Heading {
                            level: heading_number(level),
                            id: full,
                            text: text.trim().to_string(),
                        });
                    }
                }
                out.push(Event::End(TagEnd::Heading(level)));
            }
            Event::Text(ref t) | Event::Code(ref t) => {
                if let Some((_, text)) = open_heading.as_mut() {
                    text.push_str(t);
                }
                out.push(event);
            }
            Event::Start(Tag::Link { ref dest_url, .. } | Tag::Image { ref dest_url, .. }) => {
                let line = line_of(range.start);
                match rewrite(dest_url, line, links, &mut link_uses, &mut problems) {
                    Some(href) => out.push(with_dest(event, href)),
                    None => out.push(event),
                }
            }
            other => out.push(other),
        }
    }
    let mut html = String::with_capacity(src.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    Rendered {
        html,
        headings,
        links: link_uses,
        problems,
    }
}

fn rewrite(
    dest: &str,
    line: usize,
    links: &dyn Links,
    uses: &mut Vec<LinkUse>,
    problems: &mut Vec<(usize, String)>,
) -> Option<String> {
    match links.resolve(dest) {
        Ok(Resolved::External) => None,
        Ok(Resolved::Internal {
            href,
            output,
            anchor,
        }) => {
            if anchor.is_some() {
                uses.push(LinkUse {
                    line,
                    written: dest.to_string(),
                    output,
                    anchor,
                });
            }
            Some(href)
        }
        Err(reason) => {
            problems.push((line, format!("broken link {dest}: {reason}")));
            None
        }
    }
}

fn shifted(level: HeadingLevel, shift: u8) -> HeadingLevel {
    let n = (heading_number(level) + shift).min(6);
    HeadingLevel::try_from(n as usize).unwrap_or(HeadingLevel::H6)
}

/// The same link or image start tag with another destination.
fn with_dest(event: Event<'_>, href: String) -> Event<'_> {
    match event {
        Event::Start(Tag::Link {
            link_type,
            title,
            id,
            ..
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: href.into(),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            title,
            id,
            ..
        }) => Event::Start(Tag::Image {
            link_type,
            dest_url: href.into(),
            title,
            id,
        }),
        other => other,
    }
}

fn heading_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// The anchor of a heading: its text with letters and digits of any script
/// kept (Chinese headings keep their Chinese), ASCII lower-cased, spaces as
/// `-`, other punctuation dropped.
pub(crate) fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        if c.is_alphanumeric() || c == '_' {
            out.push(c.to_ascii_lowercase());
        } else if (c == '-' || c.is_whitespace()) && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-');
    if out.is_empty() {
        "section".to_string()
    } else {
        out.to_string()
    }
}

fn unique_id(base: &str, used: &mut Vec<String>) -> String {
    let mut candidate = base.to_string();
    let mut n = 0;
    while used.contains(&candidate) {
        n += 1;
        candidate = format!("{base}-{n}");
    }
    used.push(candidate.clone());
    candidate
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed;
    impl Links for Fixed {
        fn resolve(&self, dest: &str) -> Result<Resolved, String> {
            if dest.starts_with("http") {
                return Ok(Resolved::External);
            }
            if dest.contains("missing") {
                return Err("no such page".into());
            }
            let (path, anchor) = match dest.split_once('#') {
                Some((p, a)) => (p, Some(a.to_string())),
                None => (dest, None),
            };
            Ok(Resolved::Internal {
                href: format!("../{path}.html"),
                output: format!("{path}.html"),
                anchor,
            })
        }
    }

    #[test]
    fn headings_get_unique_ids() {
        let r = render(
            "## 操作步骤\n\n## 操作步骤\n\n### Hello World!\n",
            1,
            "",
            &Fixed,
        );
        let ids: Vec<_> = r.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["操作步骤", "操作步骤-1", "hello-world"]);
        assert!(r.html.contains("<h2 id=\"操作步骤\">"), "{}", r.html);
        assert!(r.html.contains("<h2 id=\"操作步骤-1\">"));
    }

    #[test]
    fn headings_shift_down_for_one_page_books() {
        let r = render_shifted("# 章\n\n## 节\n\n###### 六\n", 1, "", 1, &Fixed);
        assert!(r.html.contains("<h2 id=\"章\">章</h2>"), "{}", r.html);
        assert!(r.html.contains("<h3 id=\"节\">"));
        assert!(r.html.contains("<h6 id=\"六\">"));
        assert_eq!(r.headings[0].level, 2);
    }

    #[test]
    fn prefix_and_explicit_ids() {
        let r = render("## 一、分级建立用户账号 {#accounts}\n", 1, "ch--", &Fixed);
        assert_eq!(r.headings[0].id, "ch--accounts");
        assert_eq!(slugify("一、分级建立用户账号"), "一分级建立用户账号");
    }

    #[test]
    fn links_are_rewritten_and_recorded_with_lines() {
        let src = "text\n\n[a](page#x) and [b](https://example.org) [d](page)\n\n[c](missing)\n";
        let r = render(src, 10, "", &Fixed);
        assert!(r.html.contains("href=\"../page.html\""), "{}", r.html);
        assert!(r.html.contains("href=\"https://example.org\""));
        assert_eq!(r.links.len(), 1);
        assert_eq!(r.links[0].line, 12);
        assert_eq!(r.links[0].anchor.as_deref(), Some("x"));
        assert_eq!(r.problems.len(), 1);
        assert_eq!(r.problems[0].0, 14);
    }
}
