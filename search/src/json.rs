//! The index's document shards written as JSON directly: byte for byte what
//! `serde_json` writes, then [`crate::script`]'s U+2028/9 escapes. The
//! shards hold every page's text (twice the term shards' bytes), and
//! `serde_json` looks at a string one byte at a time; here eight clean
//! bytes are passed over at once (tested against `serde_json` itself).

use crate::{swar, StoredPage};

/// `pages` as `gazetteSearch("name",[…]);`, the script [`crate::script`]
/// makes of them.
pub(crate) fn docs_script(name: &str, pages: &[StoredPage]) -> String {
    let text: usize = pages
        .iter()
        .map(|p| {
            let parts: usize = p.parts.iter().flatten().map(|s| s.len() + 3).sum();
            p.url.len() + p.title.len() + p.section.len() + parts + 40
        })
        .sum();
    let mut out = String::with_capacity(text + name.len() + 20);
    out.push_str("gazetteSearch(\"");
    out.push_str(name);
    out.push_str("\",[");
    for (i, page) in pages.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"url\":");
        push_str(&mut out, &page.url);
        out.push_str(",\"title\":");
        push_str(&mut out, &page.title);
        // As `skip_serializing_if = "String::is_empty"` leaves it out.
        if !page.section.is_empty() {
            out.push_str(",\"section\":");
            push_str(&mut out, &page.section);
        }
        out.push_str(",\"parts\":[");
        for (j, part) in page.parts.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            for (k, s) in part.iter().enumerate() {
                out.push(if k == 0 { '[' } else { ',' });
                push_str(&mut out, s);
            }
            out.push(']');
        }
        out.push_str("]}");
    }
    out.push_str("]);\n");
    out
}

/// `s` as a JSON string, escaped as `serde_json` escapes it, and U+2028/9
/// as `\u2028`/`\u2029` (they end a line in old JavaScript engines, inside
/// strings too).
pub(crate) fn push_str(out: &mut String, s: &str) {
    out.push('"');
    let bytes = s.as_bytes();
    // `from`: the first byte not yet copied; `at`: the byte looked at.
    let mut from = 0;
    let mut at = 0;
    while at < bytes.len() {
        if let Some(word) = swar::word(bytes, at) {
            if !word_may_escape(word) {
                at += 8;
                continue;
            }
        }
        let b = bytes[at];
        let escape = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0C => Some("\\f"),
            0xE2 => match bytes.get(at + 1..at + 3) {
                Some([0x80, 0xA8]) => Some("\\u2028"),
                Some([0x80, 0xA9]) => Some("\\u2029"),
                _ => None,
            },
            _ => None,
        };
        if let Some(escape) = escape {
            out.push_str(&s[from..at]);
            out.push_str(escape);
            at += if b == 0xE2 { 3 } else { 1 };
            from = at;
        } else if b < 0x20 {
            out.push_str(&s[from..at]);
            out.push_str("\\u00");
            out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xF)]));
            at += 1;
            from = at;
        } else {
            at += 1;
        }
    }
    out.push_str(&s[from..]);
    out.push('"');
}

/// Whether one of the 8 bytes of `x` may start something to escape: a
/// control character, `"`, `\\`, or the first byte of U+2028/9 (and of
/// other characters).
fn word_may_escape(x: u64) -> bool {
    (swar::below(x, 0x20) | swar::equal(x, b'"') | swar::equal(x, b'\\') | swar::equal(x, 0xE2))
        != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the index wrote before: serde_json, then the line separators.
    fn serde(s: &str) -> String {
        serde_json::to_string(s)
            .unwrap()
            .replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    }

    #[test]
    fn strings_escape_as_serde_json_escapes_them() {
        let mut cases: Vec<String> = (0u8..0x80).map(|b| char::from(b).to_string()).collect();
        cases.extend(
            [
                "",
                "统一社会信用代码“评审”—…",
                "a\u{2028}b\u{2029}c\u{2027}\u{202A}",
                "\u{2028}",
                "tail \u{2029}",
                "\u{E2}\u{80}",
                "0123456789abcdef\"0123456789abcdef\\",
                "0123456789abcde\u{1}",
                "评审计划评审计划评审计划评审计划\n评审计划评审\t计划",
                "😀 emoji and \u{7f} delete",
            ]
            .map(String::from),
        );
        // Every position of each escape inside and across the 8-byte steps.
        for len in 0..40 {
            for special in ["\"", "\\", "\n", "\u{1f}", "\u{2028}", "—"] {
                let mut s = "x".repeat(len);
                s.push_str(special);
                s.push_str(&"审".repeat(len % 7));
                cases.push(s);
            }
        }
        for s in cases {
            let mut out = String::new();
            push_str(&mut out, &s);
            assert_eq!(out, serde(&s), "{s:?}");
        }
    }

    #[test]
    fn a_word_may_escape_when_one_of_its_bytes_may() {
        // Every byte value at every place, among neighbours that could
        // borrow or carry into it.
        for fill in [b'x', 0x00, 0x1F, 0x20, 0x21, 0x7F, 0x80, 0xE1, 0xE3, 0xFF] {
            for at in 0..8 {
                for b in 0..=255u8 {
                    let mut word = [fill; 8];
                    word[at] = b;
                    let expected = word
                        .iter()
                        .any(|&c| c < 0x20 || c == b'"' || c == b'\\' || c == 0xE2);
                    let x = u64::from_ne_bytes(word);
                    assert_eq!(word_may_escape(x), expected, "{word:?}");
                }
            }
        }
    }

    #[test]
    fn a_docs_script_is_what_serde_json_writes() {
        let pages = vec![
            StoredPage {
                url: "notices/216.html".into(),
                title: "关于\"报送\"的通知".into(),
                section: "通知公告".into(),
                parts: vec![
                    ["".into(), "".into(), "开头\u{2028}正文".into()],
                    ["heading".into(), "二、报送".into(), "a\\b\tc".into()],
                ],
            },
            StoredPage {
                url: "about.html".into(),
                title: "关于".into(),
                section: String::new(),
                parts: Vec::new(),
            },
        ];
        assert_eq!(
            docs_script("docs-3", &pages),
            crate::script("docs-3", &pages)
        );
        assert_eq!(
            docs_script("docs-0", &[]),
            crate::script("docs-0", &[0u8; 0])
        );
    }
}
