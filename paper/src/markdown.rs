//! Markdown to the few kinds of block paper has: headings, paragraphs, list
//! items, code, tables, figures, quotes and rules. A paragraph is a list of
//! spans, each with its style (bold, italic, code) and the link it is in.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Heading {
        level: u8,
        text: String,
    },
    /// A paragraph; `prefix` is a list item's marker, `depth` its nesting.
    Para {
        spans: Vec<Span>,
        prefix: String,
        depth: usize,
        quote: bool,
    },
    Code(String),
    Table {
        head: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    Image {
        alt: String,
        src: String,
    },
    Rule,
}

/// A run of a paragraph's text in one style.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Span {
    pub text: String,
    pub bold: bool,
    pub italic: bool,
    pub code: bool,
    /// The link's destination as written.
    pub link: Option<String>,
}

/// The text of `spans`, unstyled.
pub(crate) fn plain(spans: &[Span]) -> String {
    spans.iter().map(|s| s.text.as_str()).collect()
}

/// A Rust block as mdBook shows it: `# ` lines hidden, `##` as `#`.
fn shown_rust(code: &str) -> String {
    let mut out = String::new();
    for line in code.lines() {
        let t = line.trim_start();
        if t == "#" || t.starts_with("# ") {
            continue;
        }
        if let Some(rest) = t.strip_prefix("##") {
            out.push_str(&line[..line.len() - t.len()]);
            out.push('#');
            out.push_str(rest);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Every block of `src` in order.
pub(crate) fn parse(src: &str) -> Vec<Node> {
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_SMART_PUNCTUATION
        | Options::ENABLE_DEFINITION_LIST;
    let mut st = State::default();
    for ev in Parser::new_ext(src, opts) {
        st.event(ev);
    }
    st.flush();
    st.out
}

#[derive(Default)]
struct State {
    out: Vec<Node>,
    text: String,
    /// The open lists: the next number of each (None: bullets).
    lists: Vec<Option<u64>>,
    /// The marker of the item whose first paragraph is being read.
    item_prefix: Option<String>,
    quote: usize,
    heading: Option<u8>,
    code: Option<String>,
    /// The open code block is Rust: its `# ` lines are hidden, as in mdBook.
    rust: bool,
    table: Option<(Vec<String>, Vec<Vec<String>>, bool)>,
    row: Vec<String>,
    image: Option<(String, String)>,
    /// The paragraph being read, as styled runs.
    spans: Vec<Span>,
    bold: usize,
    italic: usize,
    links: Vec<String>,
}

impl State {
    fn event(&mut self, ev: Event) {
        if let Some(code) = &mut self.code {
            match ev {
                Event::Text(t) => code.push_str(&t),
                Event::End(TagEnd::CodeBlock) => {
                    let code = self.code.take().unwrap_or_default();
                    let code = if self.rust { shown_rust(&code) } else { code };
                    self.out
                        .push(Node::Code(code.trim_end_matches('\n').to_string()));
                }
                _ => {}
            }
            return;
        }
        if let Some((_, alt)) = &mut self.image {
            match ev {
                Event::Text(t) | Event::Code(t) => alt.push_str(&t),
                Event::End(TagEnd::Image) => {
                    if let Some((src, alt)) = self.image.take() {
                        self.flush();
                        self.out.push(Node::Image { alt, src });
                    }
                }
                _ => {}
            }
            return;
        }
        match ev {
            Event::Start(Tag::Heading { level, .. }) => {
                self.flush();
                self.heading = Some(match level {
                    HeadingLevel::H1 => 1,
                    HeadingLevel::H2 => 2,
                    HeadingLevel::H3 => 3,
                    HeadingLevel::H4 => 4,
                    HeadingLevel::H5 => 5,
                    HeadingLevel::H6 => 6,
                });
            }
            Event::End(TagEnd::Heading(_)) => {
                let text = std::mem::take(&mut self.text).trim().to_string();
                self.spans.clear();
                if let Some(level) = self.heading.take() {
                    self.out.push(Node::Heading { level, text });
                }
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                self.flush();
                self.rust = match &kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split([',', ' ']).next().unwrap_or("").trim() == "rust"
                    }
                    CodeBlockKind::Indented => false,
                };
                self.code = Some(String::new());
            }
            Event::Start(Tag::List(first)) => {
                self.flush();
                self.lists.push(first);
            }
            Event::End(TagEnd::List(_)) => {
                self.flush();
                self.lists.pop();
            }
            Event::Start(Tag::Item) => {
                self.flush();
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let m = format!("{n}. ");
                        *n += 1;
                        m
                    }
                    _ => "• ".to_string(),
                };
                self.item_prefix = Some(marker);
            }
            Event::End(TagEnd::Item) | Event::End(TagEnd::Paragraph) => self.flush(),
            Event::Start(Tag::BlockQuote(_)) => {
                self.flush();
                self.quote += 1;
            }
            Event::End(TagEnd::BlockQuote(_)) => {
                self.flush();
                self.quote = self.quote.saturating_sub(1);
            }
            Event::Start(Tag::Table(_)) => {
                self.flush();
                self.table = Some((Vec::new(), Vec::new(), true));
            }
            Event::End(TagEnd::TableHead) => {
                if let Some((head, _, in_head)) = &mut self.table {
                    *head = std::mem::take(&mut self.row);
                    *in_head = false;
                }
            }
            Event::End(TagEnd::TableRow) => {
                if let Some((_, rows, _)) = &mut self.table {
                    rows.push(std::mem::take(&mut self.row));
                }
            }
            Event::End(TagEnd::TableCell) => {
                let cell = std::mem::take(&mut self.text).trim().to_string();
                self.spans.clear();
                self.row.push(cell);
            }
            Event::End(TagEnd::Table) => {
                if let Some((head, rows, _)) = self.table.take() {
                    self.out.push(Node::Table { head, rows });
                }
            }
            Event::Start(Tag::Image { dest_url, .. }) => {
                self.image = Some((dest_url.to_string(), String::new()));
            }
            Event::Start(Tag::DefinitionListTitle)
            | Event::Start(Tag::DefinitionListDefinition) => self.flush(),
            Event::End(TagEnd::DefinitionListTitle)
            | Event::End(TagEnd::DefinitionListDefinition) => self.flush(),
            Event::Text(t) => self.push(&t, false),
            Event::Code(t) => self.push(&t, true),
            Event::InlineMath(t) | Event::DisplayMath(t) => self.push(&t, false),
            Event::Start(Tag::Strong) => self.bold += 1,
            Event::End(TagEnd::Strong) => self.bold = self.bold.saturating_sub(1),
            Event::Start(Tag::Emphasis) => self.italic += 1,
            Event::End(TagEnd::Emphasis) => self.italic = self.italic.saturating_sub(1),
            Event::Start(Tag::Link { dest_url, .. }) => self.links.push(dest_url.to_string()),
            Event::End(TagEnd::Link) => {
                self.links.pop();
            }
            Event::SoftBreak => {
                // Chinese lines join without a space; Latin ones with one.
                let latin = self
                    .text
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_alphanumeric());
                if latin {
                    self.push(" ", false);
                }
            }
            Event::HardBreak => self.push("\n", false),
            Event::FootnoteReference(name) => {
                self.push(&format!("[{name}]"), false);
            }
            Event::Start(Tag::FootnoteDefinition(name)) => {
                self.flush();
                self.push(&format!("[{name}] "), false);
            }
            Event::TaskListMarker(done) => self.push(if done { "☑ " } else { "☐ " }, false),
            Event::Rule => {
                self.flush();
                self.out.push(Node::Rule);
            }
            // <br> is a line break; other raw HTML is markup, not text.
            Event::Html(h) | Event::InlineHtml(h)
                if h.trim_start().to_ascii_lowercase().starts_with("<br") =>
            {
                self.push("\n", false);
            }
            _ => {}
        }
    }

    /// Text read in the current style (`code`: an inline code span).
    fn push(&mut self, t: &str, code: bool) {
        self.text.push_str(t);
        let span = Span {
            text: t.to_string(),
            bold: self.bold > 0,
            italic: self.italic > 0,
            code,
            link: self.links.last().cloned(),
        };
        match self.spans.last_mut() {
            Some(last)
                if (last.bold, last.italic, last.code, &last.link)
                    == (span.bold, span.italic, span.code, &span.link) =>
            {
                last.text.push_str(t)
            }
            _ => self.spans.push(span),
        }
    }

    /// Ends the paragraph being read, if any.
    fn flush(&mut self) {
        if self.table.is_some() || self.heading.is_some() {
            return;
        }
        let text = std::mem::take(&mut self.text);
        let mut spans = std::mem::take(&mut self.spans);
        if text.trim().is_empty() {
            return;
        }
        // The paragraph's white space at either end goes.
        if let Some(first) = spans.first_mut() {
            first.text = first.text.trim_start().to_string();
        }
        if let Some(last) = spans.last_mut() {
            last.text = last.text.trim_end().to_string();
        }
        spans.retain(|s| !s.text.is_empty());
        let prefix = self.item_prefix.take().unwrap_or_default();
        self.out.push(Node::Para {
            spans,
            prefix,
            depth: self.lists.len(),
            quote: self.quote > 0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_come_out_in_order_with_their_text() {
        let nodes = parse(
            "# 标题\n\n第一段，[链接](x.md)在中间\n接着。\n\n- 甲\n- 乙\n\n1. 一\n2. 二\n\n```\ncode line\n```\n\n| 甲 | 乙 |\n|---|---|\n| 1 | 2 |\n\n![示意图](images/a.svg)\n",
        );
        assert_eq!(
            nodes[0],
            Node::Heading {
                level: 1,
                text: "标题".into()
            }
        );
        assert!(
            matches!(&nodes[1], Node::Para { spans, .. } if plain(spans) == "第一段，链接在中间接着。")
        );
        assert!(
            matches!(&nodes[2], Node::Para { prefix, spans, depth: 1, .. } if prefix == "• " && plain(spans) == "甲")
        );
        assert!(matches!(&nodes[5], Node::Para { prefix, .. } if prefix == "2. "));
        assert_eq!(nodes[6], Node::Code("code line".into()));
        assert_eq!(
            nodes[7],
            Node::Table {
                head: vec!["甲".into(), "乙".into()],
                rows: vec![vec!["1".into(), "2".into()]]
            }
        );
        assert_eq!(
            nodes[8],
            Node::Image {
                alt: "示意图".into(),
                src: "images/a.svg".into()
            }
        );
    }
}

#[cfg(test)]
mod span_tests {
    use super::*;

    #[test]
    fn inline_styles_and_links_become_spans() {
        let nodes = parse("先**加粗**再*斜体*和`code`，见[名单](roster.md#名单说明)。\n");
        let Node::Para { spans, .. } = &nodes[0] else {
            panic!("{nodes:?}")
        };
        let got: Vec<(&str, bool, bool, bool, Option<&str>)> = spans
            .iter()
            .map(|s| (s.text.as_str(), s.bold, s.italic, s.code, s.link.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("先", false, false, false, None),
                ("加粗", true, false, false, None),
                ("再", false, false, false, None),
                ("斜体", false, true, false, None),
                ("和", false, false, false, None),
                ("code", false, false, true, None),
                ("，见", false, false, false, None),
                ("名单", false, false, false, Some("roster.md#名单说明")),
                ("。", false, false, false, None),
            ]
        );
    }
}

#[cfg(test)]
mod rust_tests {
    use super::*;

    #[test]
    fn hidden_rust_lines_are_left_out() {
        let nodes = parse("```rust\n# use std::fmt;\nfn main() {}\n##[derive(Debug)]\n```\n\n```text\n# kept\n```\n");
        assert_eq!(
            nodes[0],
            Node::Code("fn main() {}\n#[derive(Debug)]".into())
        );
        assert_eq!(nodes[1], Node::Code("# kept".into()));
    }
}
