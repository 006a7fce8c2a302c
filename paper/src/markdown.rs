//! Markdown to the few kinds of block paper has: headings, paragraphs, list
//! items, code, tables, figures, quotes and rules. Inline styling is dropped
//! (a paragraph is set in one style); links keep their text.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Heading {
        level: u8,
        text: String,
    },
    /// A paragraph; `prefix` is a list item's marker, `depth` its nesting.
    Para {
        text: String,
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
            Event::Text(t) | Event::Code(t) => self.text.push_str(&t),
            Event::InlineMath(t) | Event::DisplayMath(t) => self.text.push_str(&t),
            Event::SoftBreak => {
                // Chinese lines join without a space; Latin ones with one.
                let latin = self
                    .text
                    .chars()
                    .last()
                    .is_some_and(|c| c.is_ascii_alphanumeric());
                if latin {
                    self.text.push(' ');
                }
            }
            Event::HardBreak => self.text.push('\n'),
            Event::FootnoteReference(name) => {
                self.text.push_str(&format!("[{name}]"));
            }
            Event::Start(Tag::FootnoteDefinition(name)) => {
                self.flush();
                self.text.push_str(&format!("[{name}] "));
            }
            Event::TaskListMarker(done) => self.text.push_str(if done { "☑ " } else { "☐ " }),
            Event::Rule => {
                self.flush();
                self.out.push(Node::Rule);
            }
            // <br> is a line break; other raw HTML is markup, not text.
            Event::Html(h) | Event::InlineHtml(h)
                if h.trim_start().to_ascii_lowercase().starts_with("<br") =>
            {
                self.text.push('\n');
            }
            _ => {}
        }
    }

    /// Ends the paragraph being read, if any.
    fn flush(&mut self) {
        if self.table.is_some() || self.heading.is_some() {
            return;
        }
        let text = std::mem::take(&mut self.text);
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let prefix = self.item_prefix.take().unwrap_or_default();
        self.out.push(Node::Para {
            text: text.to_string(),
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
        assert!(matches!(&nodes[1], Node::Para { text, .. } if text == "第一段，链接在中间接着。"));
        assert!(
            matches!(&nodes[2], Node::Para { prefix, text, depth: 1, .. } if prefix == "• " && text == "甲")
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
