//! mdBook's `links` preprocessor: `{{#include}}` (whole files, line ranges,
//! anchors), `{{#rustdoc_include}}` (the rest of the file as hidden `# `
//! lines), `{{#playground}}` (a file as a Rust code block) and `{{#title}}`.
//! mdBook prints any other `{{#…}}` as written and says nothing; here it is a
//! problem with file and line. `\{{#…}}` is written out without the `\`.

use std::path::Path;

/// How deep includes may nest (mdBook stops at the same depth).
const MAX_DEPTH: usize = 10;

/// A chapter after its directives were expanded.
#[derive(Debug, Default)]
pub(crate) struct Expanded {
    pub(crate) text: String,
    /// `{{#title …}}`: the page title instead of the chapter's.
    pub(crate) title: Option<String>,
    /// (line in the chapter file, reason).
    pub(crate) problems: Vec<(usize, String)>,
    /// Where included text went: (output line of the directive, last output
    /// line of the included text, lines added), in order.
    inserts: Vec<(usize, usize, isize)>,
}

impl Expanded {
    /// The line of the chapter file that line `line` of [`Self::text`]
    /// comes from (an included line: the directive's).
    pub(crate) fn source_line(&self, line: usize) -> usize {
        let mut shift = 0isize;
        for &(start, end, added) in &self.inserts {
            if line <= start {
                break;
            }
            if line <= end {
                return (start as isize - shift).max(1) as usize;
            }
            shift += added;
        }
        (line as isize - shift).max(1) as usize
    }
}

/// Expands the directives of `text`, the file `file` (absolute, for the
/// included files' folder; `shown` is how problems name included files).
pub(crate) fn expand(text: &str, file: &Path) -> Expanded {
    let mut out = Expanded::default();
    if !text.contains("{{") {
        out.text = text.to_string();
        return out;
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    let mut problems = Vec::new();
    out.text = expand_in(
        text,
        dir,
        0,
        &mut out.title,
        &mut out.inserts,
        &mut |line, reason| problems.push((line, reason)),
    );
    out.problems = problems;
    out
}

fn expand_in(
    text: &str,
    dir: &Path,
    depth: usize,
    title: &mut Option<String>,
    inserts: &mut Vec<(usize, usize, isize)>,
    report: &mut dyn FnMut(usize, String),
) -> String {
    let mut out = String::with_capacity(text.len());
    // Lines of `out` so far, counted as it grows.
    let mut out_lines = 1usize;
    let mut counted = 0usize;
    let mut rest = text;
    let mut consumed = 0usize;
    while let Some(at) = rest.find("{{") {
        let line = 1 + text[..consumed + at].matches('\n').count();
        // `\{{#…}}`: written as it is, without the backslash.
        if at > 0 && rest.as_bytes()[at - 1] == b'\\' {
            if let Some(end) = rest[at..].find("}}") {
                out.push_str(&rest[..at - 1]);
                out.push_str(&rest[at..at + end + 2]);
                consumed += at + end + 2;
                rest = &rest[at + end + 2..];
                continue;
            }
        }
        let Some(directive) = parse_directive(&rest[at..]) else {
            out.push_str(&rest[..at + 2]);
            consumed += at + 2;
            rest = &rest[at + 2..];
            continue;
        };
        out.push_str(&rest[..at]);
        out_lines += out[counted..].matches('\n').count();
        counted = out.len();
        let (kind, args, len) = directive;
        match kind {
            "include" | "rustdoc_include" | "playground" => {
                let (path_part, props) = match args.split_once(char::is_whitespace) {
                    Some((p, rest)) => (p, rest.trim()),
                    None => (args, ""),
                };
                let (path, selector) = match path_part.split_once(':') {
                    Some((p, s)) => (p, Some(s)),
                    None => (path_part, None),
                };
                let target = dir.join(path);
                match std::fs::read_to_string(&target) {
                    Err(e) => report(line, format!("{{{{#{kind} {args}}}}}: 读不到 {path}：{e}")),
                    Ok(body) => {
                        let selected = match kind {
                            "rustdoc_include" => rustdoc_lines(&body, selector),
                            _ => take_lines(&body, selector),
                        };
                        match selected {
                            Err(reason) => {
                                report(line, format!("{{{{#{kind} {args}}}}}: {reason}"))
                            }
                            Ok(sel) => {
                                let sel = if depth + 1 < MAX_DEPTH && kind != "playground" {
                                    let sub = target.parent().unwrap_or(dir);
                                    expand_in(
                                        &sel,
                                        sub,
                                        depth + 1,
                                        title,
                                        &mut Vec::new(),
                                        &mut |_, r| report(line, format!("{path} 中：{r}")),
                                    )
                                } else {
                                    sel
                                };
                                if kind == "playground" {
                                    let attrs: Vec<&str> = props.split_whitespace().collect();
                                    out.push_str("```rust");
                                    if !attrs.is_empty() {
                                        out.push(',');
                                        out.push_str(&attrs.join(","));
                                    }
                                    out.push('\n');
                                    out.push_str(&sel);
                                    if !sel.ends_with('\n') {
                                        out.push('\n');
                                    }
                                    out.push_str("```");
                                } else {
                                    out.push_str(&sel);
                                }
                            }
                        }
                    }
                }
            }
            "title" => *title = Some(args.trim().to_string()),
            other => report(
                line,
                format!(
                    "不认识的指令 {{{{#{other}}}}}：mdBook 只认 include、rustdoc_include、playground、title（原样显示请写 \\{{{{#{other} …}}}}）"
                ),
            ),
        }
        let added_out = out[counted..].matches('\n').count();
        let removed = rest[at..at + len].matches('\n').count();
        inserts.push((
            out_lines,
            out_lines + added_out,
            added_out as isize - removed as isize,
        ));
        out_lines += added_out;
        counted = out.len();
        consumed += at + len;
        rest = &rest[at + len..];
    }
    out.push_str(rest);
    out
}

/// `{{#kind args}}` at the start of `s`: (kind, args, length in bytes).
fn parse_directive(s: &str) -> Option<(&str, &str, usize)> {
    let inner = s.strip_prefix("{{")?;
    let end = inner.find("}}")?;
    let body = &inner[..end];
    if body.contains('\n') && body.lines().count() > 1 && !body.trim_start().starts_with('#') {
        return None;
    }
    let body = body.trim_start().strip_prefix('#')?;
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(body.len());
    if name_len == 0 {
        return None;
    }
    let (kind, args) = body.split_at(name_len);
    if kind != "title" && !args.starts_with(char::is_whitespace) {
        return None;
    }
    Some((kind, args.trim(), 2 + end + 2))
}

/// Lines by range (`3`, `3:`, `:7`, `3:7`, 1-based and inclusive) or by
/// anchor (`name`, between `ANCHOR: name` and `ANCHOR_END: name`); lines
/// that mark an anchor are dropped, as mdBook does.
fn take_lines(body: &str, selector: Option<&str>) -> Result<String, String> {
    let lines: Vec<&str> = body.lines().collect();
    let picked: Vec<&str> = match selector.map(str::trim) {
        None | Some("") => lines.clone(),
        Some(sel) => match range(sel, lines.len()) {
            Some(r) => lines[r].to_vec(),
            None => anchored(&lines, sel)?,
        },
    };
    let kept: Vec<&str> = picked.into_iter().filter(|l| !is_anchor_line(l)).collect();
    let mut out = kept.join("\n");
    if selector.is_none() && body.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// rustdoc_include: the whole file, the lines outside the selection hidden
/// (`# ` prefix), so the example still compiles.
fn rustdoc_lines(body: &str, selector: Option<&str>) -> Result<String, String> {
    let lines: Vec<&str> = body.lines().collect();
    let keep: Vec<bool> = match selector.map(str::trim) {
        None | Some("") => vec![true; lines.len()],
        Some(sel) => match range(sel, lines.len()) {
            Some(r) => (0..lines.len()).map(|i| r.contains(&i)).collect(),
            None => {
                let (start, end) = anchor_span(&lines, sel)?;
                (0..lines.len()).map(|i| i > start && i < end).collect()
            }
        },
    };
    let out: Vec<String> = lines
        .iter()
        .zip(keep)
        .filter(|(l, _)| !is_anchor_line(l))
        .map(|(l, k)| if k { l.to_string() } else { format!("# {l}") })
        .collect();
    Ok(out.join("\n"))
}

/// A line range selector, clamped to the file as mdBook clamps it.
fn range(sel: &str, len: usize) -> Option<std::ops::Range<usize>> {
    let num = |s: &str| s.trim().parse::<usize>().ok();
    let (start, end) = match sel.split_once(':') {
        Some((a, b)) => {
            let start = if a.trim().is_empty() { 1 } else { num(a)? };
            let end = if b.trim().is_empty() { len } else { num(b)? };
            (start, end)
        }
        None => {
            let n = num(sel)?;
            (n, n)
        }
    };
    let start = start.max(1) - 1;
    let end = end.min(len);
    Some(start.min(end)..end)
}

fn is_anchor_line(l: &str) -> bool {
    l.contains("ANCHOR:") || l.contains("ANCHOR_END:")
}

/// (start marker line, end marker line) of anchor `name`.
fn anchor_span(lines: &[&str], name: &str) -> Result<(usize, usize), String> {
    let marker = |l: &str, kind: &str| {
        l.find(kind)
            .map(|i| l[i + kind.len()..].trim().trim_end_matches("-->").trim() == name)
            .unwrap_or(false)
    };
    let start = lines
        .iter()
        .position(|l| marker(l, "ANCHOR:"))
        .ok_or_else(|| format!("文件中没有锚点 ANCHOR: {name}"))?;
    let end = lines[start..]
        .iter()
        .position(|l| marker(l, "ANCHOR_END:"))
        .map_or(lines.len(), |i| start + i);
    Ok((start, end))
}

fn anchored<'a>(lines: &[&'a str], name: &str) -> Result<Vec<&'a str>, String> {
    let (start, end) = anchor_span(lines, name)?;
    Ok(lines[start + 1..end].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn includes_ranges_anchors_and_unknown_directives() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.rs"),
            "l1\n// ANCHOR: part\nl3\nl4\n// ANCHOR_END: part\nl6\n",
        )
        .unwrap();
        let chapter = dir.path().join("ch.md");
        let e = expand(
            "A {{#include a.rs:1:1}}\n{{#include a.rs:part}}\n{{#include a.rs:6:}}\n\\{{#include a.rs}}\n{{#title 新标题}}{{#bogus x}}\n{{#include nope.rs}}\n",
            &chapter,
        );
        assert_eq!(e.text, "A l1\nl3\nl4\nl6\n{{#include a.rs}}\n\n\n");
        assert_eq!(e.title.as_deref(), Some("新标题"));
        let lines: Vec<usize> = e.problems.iter().map(|p| p.0).collect();
        assert_eq!(lines, [5, 6], "{:?}", e.problems);
        assert!(e.problems[0].1.contains("bogus"));
        // Lines after an include map back to the chapter file.
        let m = expand("一\n```\n{{#include a.rs}}\n```\n[坏](x.md)\n", &chapter);
        let bad = 1 + m.text.lines().position(|l| l.contains("[坏]")).unwrap();
        assert_eq!(m.source_line(bad), 5);
        assert_eq!(m.source_line(4), 3);
        assert_eq!(m.source_line(2), 2);
        let r = expand("{{#rustdoc_include a.rs:3}}", &chapter);
        assert_eq!(r.text, "# l1\nl3\n# l4\n# l6");
        let p = expand("{{#playground a.rs:6 editable}}", &chapter);
        assert_eq!(p.text, "```rust,editable\nl6\n```");
    }
}
