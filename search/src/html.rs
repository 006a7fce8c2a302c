//! A page's text as search documents: one for the text before the first
//! heading, one per `<h2>`/`<h3>` with an `id` (so a result leads to the
//! heading itself).
//!
//! [`PageText`] takes the text piece by piece. The site's Markdown renderer
//! feeds it from the events it writes the page from, so no page's HTML is
//! scanned back for its text; [`split_page`] feeds it from HTML. Both give
//! the same parts (the site tests that on every bundled page and chapter).
//! For HTML a small scanner is enough, since our own renderer wrote it: tags
//! are dropped, `<script>`/`<style>` skipped, entities decoded.

use crate::Doc;

/// A page's text, split at its headings as it comes in.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct PageText {
    /// The parts finished so far.
    parts: Vec<Part>,
    current: Part,
    /// The text of the open `<h2>`/`<h3>` that has an id.
    heading: Option<String>,
    /// Inside `<script>` or `<style>`: the closing tag looked for.
    skipping: Option<&'static str>,
}

#[derive(Debug, Default, Clone, PartialEq)]
struct Part {
    /// The heading's id; `None` for the page's opening.
    anchor: Option<String>,
    heading: String,
    /// With white space collapsed as it comes: words one space apart.
    text: String,
    /// White space came after the last word: a space before the next.
    space: bool,
}

impl PageText {
    /// A page whose text is at most about `bytes` long (its source's
    /// length, say): room for it is made once, not grown piece by piece.
    pub fn with_capacity(bytes: usize) -> PageText {
        let mut page = PageText::default();
        page.current.text.reserve(bytes);
        page
    }

    /// Text as people read it (decoded), inside the open heading if any.
    pub fn text(&mut self, text: &str) {
        if self.skipping.is_some() || text.is_empty() {
            return;
        }
        match &mut self.heading {
            Some(h) => h.push_str(text),
            None => push_collapsed(&mut self.current, text),
        }
    }

    /// White space: where the HTML has any, or a block ends.
    pub fn space(&mut self) {
        if self.skipping.is_some() {
            return;
        }
        match &mut self.heading {
            Some(h) => h.push(' '),
            None => self.current.space = true,
        }
    }

    /// An `<h2>`/`<h3>` with this id starts: the part before it ends.
    pub fn start_heading(&mut self, id: &str) {
        if self.skipping.is_some() {
            return;
        }
        self.finish();
        self.current.anchor = Some(id.to_string());
        self.heading = Some(String::new());
    }

    /// An `<h2>`/`<h3>` ends: its text is the part's heading.
    pub fn end_heading(&mut self) {
        if self.skipping.is_some() {
            return;
        }
        match self.heading.take() {
            Some(text) => {
                self.current.heading = text.split_whitespace().collect::<Vec<_>>().join(" ")
            }
            None => self.current.space = true,
        }
    }

    /// A piece of HTML (raw HTML in Markdown, or a whole page): its text,
    /// its headings, a space at each block's end.
    pub fn html(&mut self, html: &str) {
        let mut rest = html;
        loop {
            if let Some(close) = self.skipping {
                match find_ignoring_case(rest, close) {
                    Some(i) => {
                        rest = &rest[i..];
                        self.skipping = None;
                    }
                    None => return,
                }
            }
            let Some(lt) = rest.find('<') else { break };
            let (text, after) = rest.split_at(lt);
            self.decoded(text);
            let Some(gt) = after.find('>') else {
                return;
            };
            let tag = &after[1..gt];
            rest = &after[gt + 1..];
            match &*tag_name(tag) {
                "script" => self.skipping = Some("</script"),
                "style" => self.skipping = Some("</style"),
                "h2" | "h3" => {
                    if let Some(id) = attr(tag, "id") {
                        self.start_heading(&id);
                    }
                }
                "/h2" | "/h3" => self.end_heading(),
                // Block ends separate words that no space separates in the HTML.
                "/p" | "br" | "/li" | "/td" | "/th" | "/tr" | "/div" | "/h4" | "/h5" | "/h6"
                | "/pre" | "/dt" | "/dd" | "/blockquote" => self.current.space = true,
                _ => {}
            }
        }
        self.decoded(rest);
    }

    /// Text with character references, as it stands in HTML.
    fn decoded(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        match &mut self.heading {
            Some(h) => decode_into(text, h),
            None if !text.contains('&') => push_collapsed(&mut self.current, text),
            None => push_collapsed(&mut self.current, &decode_entities(text)),
        }
    }

    /// Ends the current part.
    fn finish(&mut self) {
        let current = &mut self.current;
        if !current.text.is_empty() || !current.heading.is_empty() || self.parts.is_empty() {
            // The part keeps an exact copy of its text; the room made for
            // the page's text stays for the next part (one allocation a
            // page, not one the size of the rest of the page per heading).
            self.parts.push(Part {
                anchor: current.anchor.clone(),
                heading: std::mem::take(&mut current.heading),
                text: current.text.as_str().to_owned(),
                space: false,
            });
        }
        current.text.clear();
        current.heading.clear();
        current.space = false;
    }

    /// The parts as `[anchor, heading, text]`.
    pub(crate) fn into_parts(mut self) -> Vec<[String; 3]> {
        self.finish();
        self.parts
            .into_iter()
            .map(|p| [p.anchor.unwrap_or_default(), p.heading, p.text])
            .collect()
    }

    /// The parts as documents of the page at `url` (from the site root).
    pub fn into_docs(mut self, url: &str, title: &str, section: &str) -> Vec<Doc> {
        self.finish();
        self.parts
            .into_iter()
            .map(|p| Doc {
                url: match p.anchor {
                    Some(id) => format!("{url}#{id}"),
                    None => url.to_string(),
                },
                title: title.to_string(),
                heading: p.heading,
                section: section.to_string(),
                text: p.text,
            })
            .collect()
    }
}

/// Splits `body_html` (the page's content, without header and footer) at
/// its headings. `url` is the page's path from the site root.
pub fn split_page(url: &str, title: &str, section: &str, body_html: &str) -> Vec<Doc> {
    let mut page = PageText::default();
    page.html(body_html);
    page.into_docs(url, title, section)
}

/// Appends `text` to the part's text with runs of white space made one
/// space and none at the start: every page's text passes here once, so it
/// is collapsed as it comes, not copied again when the part ends.
fn push_collapsed(part: &mut Part, text: &str) {
    let bytes = text.as_bytes();
    let mut word = 0; // where the current word starts
    let mut i = 0;
    while i < bytes.len() {
        let space = crate::whitespace_at(bytes, i);
        if space == 0 {
            i += 1;
            continue;
        }
        push_word(part, &text[word..i]);
        part.space = true;
        i += space;
        word = i;
    }
    push_word(part, &text[word..]);
}

fn push_word(part: &mut Part, word: &str) {
    if word.is_empty() {
        return;
    }
    if part.space && !part.text.is_empty() {
        part.text.push(' ');
    }
    part.text.push_str(word);
    part.space = false;
}

/// Where `needle` (ASCII, lower case) starts in `text`, in any case.
fn find_ignoring_case(text: &str, needle: &str) -> Option<usize> {
    let (text, needle) = (text.as_bytes(), needle.as_bytes());
    text.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}
/// A tag's name, lower-cased (our renderer writes lower case; raw HTML in
/// Markdown may not, and only then is a copy made).
fn tag_name(tag: &str) -> std::borrow::Cow<'_, str> {
    let name = tag
        .split(|c: char| c.is_whitespace() || c == '/' && !tag.starts_with('/'))
        .next()
        .unwrap_or("");
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        name.to_ascii_lowercase().into()
    } else {
        name.into()
    }
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let needle = format!(" {name}=\"");
    let start = tag.find(&needle)? + needle.len();
    let end = tag[start..].find('"')?;
    Some(decode_entities(&tag[start..start + end]))
}

fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    decode_into(s, &mut out);
    out
}

/// `s` with its character references decoded, appended to `out`.
fn decode_into(s: &str, out: &mut String) {
    if !s.contains('&') {
        out.push_str(s);
        return;
    }
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        // By bytes: the 12th byte may fall inside a character (found by
        // the site's fuzz target).
        let Some(semi) = after.bytes().take(12).position(|b| b == b';') else {
            out.push('&');
            rest = &after[1..];
            continue;
        };
        let entity = &after[1..semi];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ampersand_before_chinese_text_is_kept() {
        // A page with "&[^1]: 注" crashed the build (a slice inside 注).
        assert_eq!(decode_entities("&[^1]: 注"), "&[^1]: 注");
        assert_eq!(decode_entities("&amp;中文&lt;"), "&中文<");
    }

    #[test]
    fn a_page_splits_at_headings_with_ids() {
        let html = "<p>导言&amp;说明</p><h2 id=\"登录\">系统<em>登录</em></h2><p>输入账号</p><p>和密码</p>\
                    <h3>无 id 的小标题</h3><p>仍属上一节</p><h2 id=\"x\">密码修改</h2><ul><li>一</li><li>二</li></ul>";
        let docs = split_page("m/a.html", "手册", "操作手册", html);
        let got: Vec<(&str, &str, &str)> = docs
            .iter()
            .map(|d| (d.url.as_str(), d.heading.as_str(), d.text.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("m/a.html", "", "导言&说明"),
                (
                    "m/a.html#登录",
                    "系统登录",
                    "输入账号 和密码 无 id 的小标题 仍属上一节"
                ),
                ("m/a.html#x", "密码修改", "一 二"),
            ]
        );
        assert!(docs
            .iter()
            .all(|d| d.title == "手册" && d.section == "操作手册"));
    }

    #[test]
    fn scripts_styles_and_tags_leave_no_text() {
        let docs = split_page(
            "a.html",
            "t",
            "",
            "<style>p{color:red}</style><p>正文<script>var a='<p>';</script>结束 &#x4E00;&#20108;</p>",
        );
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].text, "正文结束 一二");
    }

    #[test]
    fn an_empty_body_still_gives_the_page() {
        let docs = split_page("a.html", "只有标题", "", "");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].title, "只有标题");
    }

    #[test]
    fn text_in_pieces_collapses_as_the_whole_would() {
        let pieces = [
            "",
            " ",
            "\n",
            "甲",
            "乙 丙",
            " a",
            "b ",
            "\u{3000}",
            "  c  d",
            "。",
            // Longer pieces, with white space of every UTF-8 length inside.
            "评审计划评审计划 x",
            "abcdefghij\u{2003}klmnopqr",
            "\u{a0}",
            "统一社会信用代码\t\n代码",
            "0123456789abcdef\u{1680}0123456789\u{205f}z",
        ];
        let mut state = 99u64;
        for len in 0..10 {
            for _ in 0..300 {
                let mut page = PageText::default();
                let mut whole = String::new();
                for _ in 0..len {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let piece = pieces[(state >> 33) as usize % pieces.len()];
                    if state >> 62 == 0 {
                        page.space();
                        whole.push(' ');
                    }
                    page.text(piece);
                    whole.push_str(piece);
                }
                let docs = page.into_docs("a.html", "", "");
                let expected = whole.split_whitespace().collect::<Vec<_>>().join(" ");
                assert_eq!(docs[0].text, expected, "{whole:?}");
            }
        }
    }
}
