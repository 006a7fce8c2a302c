//! Markdown to HTML with pulldown-cmark: heading ids for anchors, and every
//! link handed to a resolver that checks it and rewrites it relative.

use super::search::{page_text, Spent};
use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use search::PageText;

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
    /// The text for the search index, when asked for.
    pub(crate) text: Option<PageText>,
}

pub(crate) fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// Renders `src`, whose first line is line `first_line` of its file.
/// Heading ids get `id_prefix` (the one-page print view needs them unique).
/// With `search`, the page's text is collected for the search index too
/// (its time counted there).
pub(crate) fn render(
    src: &str,
    first_line: usize,
    id_prefix: &str,
    links: &dyn Links,
    search: Option<&Spent>,
) -> Rendered {
    render_shifted(src, first_line, id_prefix, 0, links, search)
}

/// As [`render`], with every heading `shift` levels lower: in a one-page
/// book the book title is the only `h1`, so chapter titles become `h2`.
pub(crate) fn render_shifted(
    src: &str,
    first_line: usize,
    id_prefix: &str,
    shift: u8,
    links: &dyn Links,
    search: Option<&Spent>,
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

    let mut out: Vec<Event> = Vec::with_capacity(events_hint(src));
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
    let text = search.map(|spent| page_text(&out, spent, src.len()));
    let mut html = String::with_capacity(src.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    Rendered {
        html,
        headings,
        links: link_uses,
        problems,
        text,
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

/// How a manual's chapter is rendered: mdBook 0.5's dialect.
pub(crate) struct BookStyle<'a> {
    /// Put before every id of the chapter (the one-page views need them
    /// unique across chapters), and so before every in-page link's anchor.
    pub(crate) id_prefix: &'a str,
    /// Headings this many levels lower (the one-page views).
    pub(crate) shift: u8,
    /// `[output.html] smart-punctuation`.
    pub(crate) smart_punctuation: bool,
    /// Collect the chapter's text for the search index (its time counted
    /// there); `None` for the one-page views.
    pub(crate) search: Option<&'a Spent>,
}

/// mdBook 0.5's Markdown options.
fn book_options(smart: bool) -> Options {
    let mut o = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
        | Options::ENABLE_GFM
        | Options::ENABLE_DEFINITION_LIST;
    if smart {
        o |= Options::ENABLE_SMART_PUNCTUATION;
    }
    o
}

/// mdBook's id of a heading or definition term: its text (code included,
/// tags not), trimmed; letters, digits, `_` and `-` kept (ASCII lower-cased),
/// each whitespace a `-`, the rest dropped. Runs of `-` stay, and an empty
/// heading gets the empty id, as mdBook does.
pub(crate) fn mdbook_id(text: &str) -> String {
    text.trim()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// Renders a manual's chapter as mdBook 0.5 does: its heading ids, GFM
/// alerts, task lists, definition lists (terms get ids too), footnotes at
/// the end with mdBook's ids, fence attributes as classes, hidden `# `
/// lines of Rust blocks left out; raw HTML links resolved like Markdown
/// ones, raw HTML ids prefixed like heading ids.
pub(crate) fn render_book(src: &str, style: &BookStyle, links: &dyn Links) -> Rendered {
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(memchr::memchr_iter(b'\n', src.as_bytes()).map(|i| i + 1))
        .collect();
    let line_of = |offset: usize| line_starts.partition_point(|&s| s <= offset);
    let prefix = style.id_prefix;
    let mut st = BookState {
        links,
        prefix,
        uses: Vec::new(),
        problems: Vec::new(),
    };
    let mut out: Vec<Event> = Vec::with_capacity(events_hint(src));
    let mut headings = Vec::new();
    let mut used: std::collections::HashSet<String> = std::collections::HashSet::new();
    // (index in `out` of the open heading or term, its text so far, is a term).
    let mut open: Option<(usize, String, bool)> = None;
    // Footnotes: number and reference count by name; definitions by name.
    let mut numbers: std::collections::HashMap<String, (usize, usize)> = Default::default();
    let mut defs: Vec<(String, Vec<Event>)> = Vec::new();
    let mut in_def: Option<Vec<Event>> = None;
    let mut code: Option<(String, String)> = None;
    let mut html_block: Option<(String, usize)> = None;
    let mut in_image = 0usize;

    let mut events = Parser::new_ext(src, book_options(style.smart_punctuation)).into_offset_iter();
    while let Some((event, range)) = events.next() {
        let line = line_of(range.start);
        let buf: &mut Vec<Event> = in_def.as_mut().unwrap_or(&mut out);
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let classes = match &kind {
                    pulldown_cmark::CodeBlockKind::Fenced(info) => {
                        let mut parts = info.split([' ', '\t', ',']).filter(|s| !s.is_empty());
                        match parts.next() {
                            Some(lang) => {
                                let mut c = format!("language-{lang}");
                                for p in parts {
                                    c.push(' ');
                                    c.push_str(p);
                                }
                                c
                            }
                            None => String::new(),
                        }
                    }
                    pulldown_cmark::CodeBlockKind::Indented => String::new(),
                };
                code = Some((classes, String::new()));
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((classes, text)) = code.take() {
                    let rust = classes.split(' ').next() == Some("language-rust");
                    let shown = if rust { hide_lines(&text) } else { text };
                    let mut h = String::with_capacity(shown.len() + 40);
                    h.push_str("<pre><code");
                    if !classes.is_empty() {
                        h.push_str(" class=\"");
                        h.push_str(&html_escape::encode_double_quoted_attribute(&classes));
                        h.push('"');
                    }
                    h.push('>');
                    h.push_str(&html_escape::encode_text(&shown));
                    h.push_str("</code></pre>\n");
                    buf.push(Event::Html(h.into()));
                }
            }
            Event::Text(t) if code.is_some() => {
                if let Some((_, text)) = code.as_mut() {
                    text.push_str(&t);
                }
            }
            Event::Start(Tag::HtmlBlock) => html_block = Some((String::new(), line)),
            Event::Html(h) if html_block.is_some() => {
                if let Some((text, _)) = html_block.as_mut() {
                    text.push_str(&h);
                }
            }
            Event::Text(h) if html_block.is_some() => {
                if let Some((text, _)) = html_block.as_mut() {
                    text.push_str(&h);
                }
            }
            Event::End(TagEnd::HtmlBlock) => {
                if let Some((text, l)) = html_block.take() {
                    let h = st.raw_html(&text, l);
                    buf.push(Event::Html(h.into()));
                }
            }
            Event::InlineHtml(h) | Event::Html(h) => {
                let h = st.raw_html(&h, line);
                buf.push(Event::InlineHtml(h.into()));
            }
            Event::Start(Tag::Heading {
                level,
                id,
                classes,
                attrs,
            }) => {
                open = Some((buf.len(), String::new(), false));
                buf.push(Event::Start(Tag::Heading {
                    level: shifted(level, style.shift),
                    id,
                    classes,
                    attrs,
                }));
            }
            Event::Start(Tag::DefinitionListTitle) => {
                open = Some((buf.len(), String::new(), true));
                buf.push(Event::Start(Tag::DefinitionListTitle));
            }
            Event::End(TagEnd::Heading(level)) => {
                let level = shifted(level, style.shift);
                if let Some((at, text, _)) = open.take() {
                    if let Event::Start(Tag::Heading { id, .. }) = &mut buf[at] {
                        let full = match id {
                            Some(given) => format!("{prefix}{given}"),
                            None => format!("{prefix}{}", unique_in(&mdbook_id(&text), &mut used)),
                        };
                        *id = Some(CowStr::from(full.clone()));
                        headings.push(Heading {
                            level: heading_number(level),
                            id: full,
                            text: text.trim().to_string(),
                        });
                    }
                }
                buf.push(Event::End(TagEnd::Heading(level)));
            }
            Event::End(TagEnd::DefinitionListTitle) => {
                if let Some((at, text, true)) = open.take() {
                    let id = format!("{prefix}{}", unique_in(&mdbook_id(&text), &mut used));
                    buf[at] = Event::Html(
                        format!(
                            "<dt id=\"{}\">",
                            html_escape::encode_double_quoted_attribute(&id)
                        )
                        .into(),
                    );
                }
                buf.push(Event::End(TagEnd::DefinitionListTitle));
            }
            Event::Text(ref t) | Event::Code(ref t) => {
                // An image's alt text is an attribute in mdBook's tree: not in the id.
                if let Some((_, text, _)) = open.as_mut().filter(|_| in_image == 0) {
                    text.push_str(t);
                }
                buf.push(event);
            }
            Event::End(TagEnd::Image) => {
                in_image = in_image.saturating_sub(1);
                buf.push(event);
            }
            Event::FootnoteReference(name) => {
                let next = numbers.len() + 1;
                let entry = numbers.entry(name.to_string()).or_insert((next, 0));
                entry.1 += 1;
                let (n, count) = *entry;
                // mdBook's heading ids include the reference's number.
                if let Some((_, text, _)) = open.as_mut() {
                    text.push_str(&n.to_string());
                }
                let esc = html_escape::encode_double_quoted_attribute(&name);
                buf.push(Event::InlineHtml(
                    format!("<sup class=\"footnote-reference\" id=\"{prefix}fr-{esc}-{count}\"><a href=\"#{prefix}footnote-{esc}\">{n}</a></sup>")
                        .into(),
                ));
            }
            Event::Start(Tag::FootnoteDefinition(name)) => {
                if defs.iter().any(|(n, _)| n.as_str() == name.as_ref()) {
                    // mdBook keeps the first definition.
                    let mut depth = 0;
                    for (e, _) in events.by_ref() {
                        match e {
                            Event::Start(_) => depth += 1,
                            Event::End(TagEnd::FootnoteDefinition) if depth == 0 => break,
                            Event::End(_) => depth -= 1,
                            _ => {}
                        }
                    }
                } else {
                    defs.push((name.to_string(), Vec::new()));
                    in_def = Some(Vec::new());
                }
            }
            Event::End(TagEnd::FootnoteDefinition) => {
                if let (Some(body), Some(last)) = (in_def.take(), defs.last_mut()) {
                    last.1 = body;
                }
            }
            Event::Start(Tag::Link {
                link_type: pulldown_cmark::LinkType::Email,
                ..
            }) => buf.push(event),
            Event::Start(Tag::Link { ref dest_url, .. } | Tag::Image { ref dest_url, .. }) => {
                if matches!(event, Event::Start(Tag::Image { .. })) {
                    in_image += 1;
                }
                match rewrite(dest_url, line, links, &mut st.uses, &mut st.problems) {
                    Some(href) => buf.push(with_dest(event, href)),
                    None => buf.push(event),
                }
            }
            other => buf.push(other),
        }
    }
    // Footnote definitions go to the end, in the order of their numbers;
    // those never referred to are dropped (mdBook warns about them).
    let mut defs: Vec<(usize, usize, String, Vec<Event>)> = defs
        .into_iter()
        .filter_map(|(name, body)| numbers.get(&name).map(|&(n, count)| (n, count, name, body)))
        .collect();
    if !defs.is_empty() {
        defs.sort_by_key(|d| d.0);
        out.push(Event::Html(
            "<hr>\n<ol class=\"footnote-definition\">\n".into(),
        ));
        for (_, count, name, mut body) in defs {
            let esc = html_escape::encode_double_quoted_attribute(&name).into_owned();
            out.push(Event::Html(
                format!("<li id=\"{prefix}footnote-{esc}\">\n").into(),
            ));
            let back: String = (1..=count)
                .map(|u| {
                    let nth = if u == 1 { String::new() } else { u.to_string() };
                    format!(" <a href=\"#{prefix}fr-{esc}-{u}\">↩{nth}</a>")
                })
                .collect();
            let at = match body.last() {
                Some(Event::End(TagEnd::Paragraph)) => body.len() - 1,
                _ => body.len(),
            };
            body.insert(at, Event::InlineHtml(back.into()));
            out.extend(body);
            out.push(Event::Html("</li>\n".into()));
        }
        out.push(Event::Html("</ol>\n".into()));
    }
    let text = style.search.map(|spent| page_text(&out, spent, src.len()));
    let mut html = String::with_capacity(src.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, out.into_iter());
    Rendered {
        html,
        headings,
        links: st.uses,
        problems: st.problems,
        text,
    }
}

/// mdBook's unique id: the id itself, else the first free `id-1`, `id-2` …
fn unique_in(base: &str, used: &mut std::collections::HashSet<String>) -> String {
    if used.insert(base.to_string()) {
        return base.to_string();
    }
    let mut n = 1;
    loop {
        let candidate = format!("{base}-{n}");
        if used.insert(candidate.clone()) {
            return candidate;
        }
        n += 1;
    }
}

/// The lines mdBook hides in a Rust block (`# ` or a lone `#`, after any
/// indentation) left out; `##` written for a literal `#`.
fn hide_lines(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    for line in code.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let trimmed = body.trim_start();
        let indent = &body[..body.len() - trimmed.len()];
        if let Some(rest) = trimmed.strip_prefix("##") {
            out.push_str(indent);
            out.push('#');
            out.push_str(rest);
            if line.ends_with('\n') {
                out.push('\n');
            }
        } else if trimmed == "#" || trimmed.starts_with("# ") {
            continue;
        } else {
            out.push_str(line);
        }
    }
    out
}

/// What the raw-HTML rewriting of one chapter needs and finds.
struct BookState<'a> {
    links: &'a dyn Links,
    prefix: &'a str,
    uses: Vec<LinkUse>,
    problems: Vec<(usize, String)>,
}

impl BookState<'_> {
    /// Raw HTML with its links resolved (`.md` → `.html` as mdBook does,
    /// then relative, checked) and, in a one-page view, its `id`s and
    /// `<a name>`s prefixed like the headings'.
    fn raw_html(&mut self, html: &str, line: usize) -> String {
        let mut out = String::with_capacity(html.len() + 16);
        let mut rest = html;
        while let Some(lt) = rest.find('<') {
            out.push_str(&rest[..lt]);
            rest = &rest[lt..];
            if rest.starts_with("<!--") {
                let end = rest.find("-->").map_or(rest.len(), |e| e + 3);
                out.push_str(&rest[..end]);
                rest = &rest[end..];
                continue;
            }
            match parse_tag(rest) {
                Some(tag) => {
                    let here = line + html[..html.len() - rest.len()].matches('\n').count();
                    out.push_str(&self.rewrite_tag(&tag, here));
                    rest = &rest[tag.len..];
                }
                None => {
                    out.push('<');
                    rest = &rest[1..];
                }
            }
        }
        out.push_str(rest);
        out
    }

    fn rewrite_tag(&mut self, tag: &RawTag, line: usize) -> String {
        let touches = tag.attrs.iter().any(|(n, _)| {
            matches!(n.as_str(), "href" | "src" | "xlink:href")
                || (!self.prefix.is_empty() && (n == "id" || (n == "name" && tag.name == "a")))
        });
        if !touches {
            return tag.text.to_string();
        }
        let mut s = format!("<{}", tag.name);
        for (name, value) in &tag.attrs {
            let value = match value {
                None => {
                    s.push(' ');
                    s.push_str(name);
                    continue;
                }
                Some(v) => html_escape::decode_html_entities(v).into_owned(),
            };
            let new = match name.as_str() {
                "href" | "src" | "xlink:href" => {
                    rewrite(&value, line, self.links, &mut self.uses, &mut self.problems)
                        .unwrap_or(value)
                }
                "id" if !self.prefix.is_empty() => format!("{}{value}", self.prefix),
                "name" if tag.name == "a" && !self.prefix.is_empty() => {
                    format!("{}{value}", self.prefix)
                }
                _ => value,
            };
            s.push(' ');
            s.push_str(name);
            s.push_str("=\"");
            s.push_str(&html_escape::encode_double_quoted_attribute(&new));
            s.push('"');
        }
        if tag.self_closing {
            s.push_str(" /");
        }
        s.push('>');
        s
    }
}

/// A start tag as written: its name (lower case), attributes, length.
struct RawTag<'a> {
    text: &'a str,
    name: String,
    attrs: Vec<(String, Option<&'a str>)>,
    self_closing: bool,
    len: usize,
}

/// The start tag at the beginning of `s` (which starts with `<`), or None
/// for an end tag, a declaration or text.
fn parse_tag(s: &str) -> Option<RawTag<'_>> {
    let b = s.as_bytes();
    if b.len() < 2 || !b[1].is_ascii_alphabetic() {
        return None;
    }
    let mut i = 1;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
        i += 1;
    }
    let name = s[1..i].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let mut self_closing = false;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        match b.get(i)? {
            b'>' => {
                i += 1;
                break;
            }
            b'/' => {
                self_closing = true;
                i += 1;
                continue;
            }
            _ => {}
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        if i == start {
            return None;
        }
        let attr = s[start..i].to_ascii_lowercase();
        self_closing = false;
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b.get(i) == Some(&b'=') {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let value = match b.get(i)? {
                q @ (b'"' | b'\'') => {
                    let end = i + 1 + memchr::memchr(*q, &b[i + 1..])?;
                    let v = &s[i + 1..end];
                    i = end + 1;
                    v
                }
                _ => {
                    let start = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    &s[start..i]
                }
            };
            attrs.push((attr, Some(value)));
        } else {
            attrs.push((attr, None));
        }
    }
    Some(RawTag {
        text: &s[..i],
        name,
        attrs,
        self_closing,
        len: i,
    })
}

/// Room for a page's events, so that the list is not grown (and its large
/// events copied) while it fills: the benchmark corpus has one event per
/// 12 bytes of Markdown (median; 1 per 11 at the 90th percentile).
fn events_hint(src: &str) -> usize {
    src.len() / 10
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
            None,
        );
        let ids: Vec<_> = r.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids, ["操作步骤", "操作步骤-1", "hello-world"]);
        assert!(r.html.contains("<h2 id=\"操作步骤\">"), "{}", r.html);
        assert!(r.html.contains("<h2 id=\"操作步骤-1\">"));
    }

    #[test]
    fn headings_shift_down_for_one_page_books() {
        let r = render_shifted("# 章\n\n## 节\n\n###### 六\n", 1, "", 1, &Fixed, None);
        assert!(r.html.contains("<h2 id=\"章\">章</h2>"), "{}", r.html);
        assert!(r.html.contains("<h3 id=\"节\">"));
        assert!(r.html.contains("<h6 id=\"六\">"));
        assert_eq!(r.headings[0].level, 2);
    }

    #[test]
    fn prefix_and_explicit_ids() {
        let r = render(
            "## 一、分级建立用户账号 {#accounts}\n",
            1,
            "ch--",
            &Fixed,
            None,
        );
        assert_eq!(r.headings[0].id, "ch--accounts");
        assert_eq!(slugify("一、分级建立用户账号"), "一分级建立用户账号");
    }

    #[test]
    fn links_are_rewritten_and_recorded_with_lines() {
        let src = "text\n\n[a](page#x) and [b](https://example.org) [d](page)\n\n[c](missing)\n";
        let r = render(src, 10, "", &Fixed, None);
        assert!(r.html.contains("href=\"../page.html\""), "{}", r.html);
        assert!(r.html.contains("href=\"https://example.org\""));
        assert_eq!(r.links.len(), 1);
        assert_eq!(r.links[0].line, 12);
        assert_eq!(r.links[0].anchor.as_deref(), Some("x"));
        assert_eq!(r.problems.len(), 1);
        assert_eq!(r.problems[0].0, 14);
    }

    #[test]
    fn book_ids_follow_mdbook() {
        let src = "# Intro\n\n## a -- b\n## a - - b\n##\n## \n## Dup\n## Dup\n## Dup-1\n## Dup {#given}\n## Dup\n## `code` *em* <span>raw</span> &amp; x\n\nTerm\n: Definition\n";
        let style = BookStyle {
            id_prefix: "",
            shift: 0,
            smart_punctuation: true,
            search: None,
        };
        let r = render_book(src, &style, &Fixed);
        let ids: Vec<_> = r.headings.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "intro",
                "a--b",
                "a-----b",
                "",
                "-1",
                "dup",
                "dup-1",
                "dup-1-1",
                "given",
                "dup-2",
                "code-em-raw--x"
            ]
        );
        assert!(r.html.contains("<dt id=\"term\">Term</dt>"), "{}", r.html);
    }

    #[test]
    fn book_blocks_footnotes_and_raw_html() {
        let src = "Text[^n] <a id=\"c-feature\"></a><a href=\"page.md#x\">r</a>\n\n[^n]: note\n\n- [x] done\n\n> [!NOTE]\n> noted\n\n```rust,editable,ignore\n# fn hidden() {}\n## not hidden\nfn main() {}\n```\n";
        let style = BookStyle {
            id_prefix: "ch-a--",
            shift: 1,
            smart_punctuation: true,
            search: None,
        };
        let r = render_book(src, &style, &Fixed);
        let h = &r.html;
        assert!(
            h.contains("id=\"ch-a--fr-n-1\"><a href=\"#ch-a--footnote-n\">1</a>"),
            "{h}"
        );
        assert!(h.contains("<li id=\"ch-a--footnote-n\">"), "{h}");
        assert!(h.contains("<a href=\"#ch-a--fr-n-1\">↩</a>"), "{h}");
        assert!(h.contains("<a id=\"ch-a--c-feature\">"), "{h}");
        assert!(h.contains("href=\"../page.md.html\""), "{h}");
        assert!(h.contains("checkbox"), "{h}");
        assert!(h.contains("markdown-alert-note"), "{h}");
        assert!(h.contains("class=\"language-rust editable ignore\""), "{h}");
        assert!(!h.contains("hidden()") && h.contains("# not hidden"), "{h}");
        assert_eq!(r.links.len(), 1);
    }

    /// The search index takes a page's text from the events its HTML is
    /// written from; that must be what scanning the HTML finds, on tricky
    /// Markdown and on every bundled page and manual chapter.
    #[test]
    fn the_search_text_is_what_the_html_shows() {
        let tricky = [
            "导言 &amp; *强调*`代码`\n\n## 第一节 {#one}\n\n正文[^n]一\n第二行  \n硬换行\n\n[^n]: 注**释**\n",
            "| 甲 | 乙 |\n|---|:-:|\n| 一 | 二 |\n\n- a\n- [x] b\n  - c\n\n1. 一\n\n2. 二\n",
            "![图 *说明*[^m]](a.png \"题\")后文[^m]\n\n[^m]: 注\n\n> 引用\n> 续\n\n---\n\n```\n<代码>\n```\n",
            "<div class=\"x\">\n<h2 id=\"raw\">原始</h2>\n<p>段&lt;落</p>\n</div>\n\n<script>var a = '<p>';\n</script>\n\n后 <span>行内</span> 文\n",
            "<style>\np { color: red }\n</style>\n\n### 小节\n\n#### 四级\n\n文字\n\n设置\n标题\n---\n\n~~删~~ <https://example.org> [链](page#x)\n",
            "术语\n: 定义\n\n> [!NOTE]\n> 注意\n\n## `代码` 标题 <em>raw</em>\n",
        ];
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut sources: Vec<(String, String)> = tricky
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("tricky {i}"), s.to_string()))
            .collect();
        for dir in ["content", "manuals"] {
            let mut stack = vec![root.join(dir)];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap().flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.extension().is_some_and(|x| x == "md") {
                        let text = std::fs::read_to_string(&p).unwrap();
                        sources.push((p.display().to_string(), text));
                    }
                }
            }
        }
        assert!(sources.len() > 40, "{} sources", sources.len());
        let spent = Spent::default();
        for (name, src) in &sources {
            let page = render(src, 1, "", &Fixed, Some(&spent));
            let style = BookStyle {
                id_prefix: "",
                shift: 0,
                smart_punctuation: true,
                search: Some(&spent),
            };
            let book = render_book(src, &style, &Fixed);
            for (how, r) in [("page", page), ("book", book)] {
                let from_events = r.text.unwrap().into_docs("p.html", "题", "节");
                let from_html = search::split_page("p.html", "题", "节", &r.html);
                assert_eq!(from_events, from_html, "{how} {name}\n{}", r.html);
            }
        }
    }
}
