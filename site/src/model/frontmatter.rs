//! Front matter: TOML between `+++` lines at the top of a Markdown file,
//! with the keys Zola knows, so a Zola content folder loads unchanged.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Deserialize;
use std::collections::BTreeMap;

/// A file split into its front matter and body, with line numbers for errors.
pub(crate) struct Split<'a> {
    pub(crate) front: &'a str,
    /// 1-based line of the first front-matter line.
    pub(crate) front_line: usize,
    pub(crate) body: &'a str,
    /// 1-based line of the first body line.
    pub(crate) body_line: usize,
}

pub(crate) fn split(text: &str) -> Result<Split<'_>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_end = text.find('\n').unwrap_or(text.len());
    let first = text[..first_end].trim_end_matches('\r').trim_end();
    if first == "---" {
        return Err((
            1,
            "YAML front matter (---) is not supported; use TOML between +++ lines".into(),
        ));
    }
    if first != "+++" {
        // No front matter at all: the whole file is the body.
        return Ok(Split {
            front: "",
            front_line: 1,
            body: text,
            body_line: 1,
        });
    }
    let after = (first_end + 1).min(text.len());
    let mut pos = after;
    let mut line = 2;
    while pos < text.len() {
        let end = text[pos..]
            .find('\n')
            .map(|i| pos + i)
            .unwrap_or(text.len());
        if text[pos..end].trim_end() == "+++" {
            let body_start = (end + 1).min(text.len());
            return Ok(Split {
                front: &text[after..pos],
                front_line: 2,
                body: &text[body_start..],
                body_line: line + 1,
            });
        }
        pos = end + 1;
        line += 1;
    }
    Err((1, "front matter opened with +++ is never closed".into()))
}

/// The front matter of a page or section. Keys Zola accepts but gazette does
/// not use are taken and ignored, so Zola sites build; anything else is an error.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FrontMatter {
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) date: Option<toml::Value>,
    pub(crate) updated: Option<toml::Value>,
    pub(crate) draft: bool,
    pub(crate) weight: Option<i64>,
    pub(crate) template: Option<String>,
    pub(crate) slug: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) sort_by: Option<String>,
    pub(crate) extra: toml::Table,
    pub(crate) notice: Option<Notice>,
    #[serde(flatten)]
    pub(crate) other: BTreeMap<String, toml::Value>,
}

/// Zola keys that are accepted without effect.
const ZOLA_KEYS: &[&str] = &[
    "aliases",
    "authors",
    "in_search_index",
    "render",
    "taxonomies",
    "paginate_by",
    "paginate_path",
    "paginate_reversed",
    "insert_anchor_links",
    "page_template",
    "redirect_to",
    "transparent",
    "generate_feeds",
    "generate_feed",
    "lang",
];

/// The fields of an official notice (公文), from GB/T 9704 and the portal conventions.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Notice {
    /// 发文字号, e.g. 梅市人社函〔2016〕216号.
    pub(crate) doc_number: String,
    /// 发文机关 (also the 署名).
    pub(crate) issuer: String,
    /// 发文机关标志; defaults to the issuer.
    #[serde(default)]
    pub(crate) issuer_mark: Option<String>,
    /// 主送机关.
    #[serde(default)]
    pub(crate) recipients: String,
    /// 成文日期.
    pub(crate) written: toml::Value,
    /// 发布日期; defaults to the page date.
    #[serde(default)]
    pub(crate) published: Option<toml::Value>,
    /// 索引号.
    #[serde(default)]
    pub(crate) index_no: String,
    /// 分类.
    #[serde(default)]
    pub(crate) category: String,
    /// 主题词.
    #[serde(default)]
    pub(crate) keywords: Vec<String>,
    /// 附注: 联系人、电话, shown verbatim (no parentheses added).
    #[serde(default)]
    pub(crate) contact: String,
    /// The title as the document breaks it into lines (the 函 heading shows
    /// them as lines; `<title>` and the metadata join them). Must join to `title`.
    #[serde(default)]
    pub(crate) title_lines: Vec<String>,
    /// A sentence printed after the 附件 list, as the document has it
    /// (e.g. 附件3至附件6请到…下载。).
    #[serde(default)]
    pub(crate) annex_note: String,
    /// Fields whose value the issuer has not confirmed yet (see [`UNCONFIRMABLE`]):
    /// pages mark them 【待核实】, build and check warn, `--strict` fails.
    #[serde(default)]
    pub(crate) unconfirmed: Vec<String>,
    #[serde(default)]
    pub(crate) attachments: Vec<Attachment>,
}

/// The `[notice]` fields `unconfirmed` can name, with what people call them.
pub(crate) const UNCONFIRMABLE: &[(&str, &str)] = &[
    ("doc_number", "发文字号"),
    ("issuer", "发文机关（署名）"),
    ("issuer_mark", "发文机关标志"),
    ("recipients", "主送机关"),
    ("written", "成文日期"),
    ("published", "发布日期"),
    ("index_no", "索引号"),
    ("category", "分类"),
    ("keywords", "主题词"),
    ("contact", "联系人"),
];

impl Notice {
    /// Whether `[notice] unconfirmed` names `field` (`issuer_mark` follows
    /// `issuer` when it is not given: then it shows the issuer).
    pub(crate) fn is_unconfirmed(&self, field: &str) -> bool {
        let named = |f: &str| self.unconfirmed.iter().any(|u| u == f);
        named(field) || (field == "issuer_mark" && self.issuer_mark.is_none() && named("issuer"))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Attachment {
    pub(crate) title: String,
    #[serde(default)]
    pub(crate) form: Option<String>,
    #[serde(default)]
    pub(crate) manual: Option<String>,
    /// A file, relative to the notice's folder or root-relative (`/files/a.pdf`).
    #[serde(default)]
    pub(crate) file: Option<String>,
    /// The entry as the document's 附件 list writes it, when it differs from
    /// `附件N.title` (e.g. `附件3. 广东省…`, with the document's own space).
    #[serde(default)]
    pub(crate) listed: Option<String>,
}

/// Parses front matter; the error carries the 1-based line in the file.
pub(crate) fn parse(split: &Split<'_>) -> Result<FrontMatter, (usize, String)> {
    let fm: FrontMatter = toml::from_str(split.front).map_err(|e| {
        let line = e
            .span()
            .map(|s| {
                split.front_line
                    + split.front[..s.start.min(split.front.len())]
                        .matches('\n')
                        .count()
            })
            .unwrap_or(split.front_line);
        (line, e.message().trim().to_string())
    })?;
    for key in fm.other.keys() {
        if !ZOLA_KEYS.contains(&key.as_str()) {
            let line = split
                .front
                .lines()
                .position(|l| l.trim_start().starts_with(key.as_str()))
                .map(|i| split.front_line + i)
                .unwrap_or(split.front_line);
            return Err((
                line,
                format!("unknown front matter key `{key}`; custom values go under [extra]"),
            ));
        }
    }
    if let Some(n) = &fm.notice {
        check_doc_number(&n.doc_number).map_err(|reason| {
            let line = split
                .front
                .lines()
                .position(|l| l.trim_start().starts_with("doc_number"))
                .map(|i| split.front_line + i)
                .unwrap_or(split.front_line);
            (line, reason)
        })?;
        let line_of = |key: &str| {
            split
                .front
                .lines()
                .position(|l| l.trim_start().starts_with(key))
                .map(|i| split.front_line + i)
                .unwrap_or(split.front_line)
        };
        if !n.title_lines.is_empty() {
            let joined = n.title_lines.concat();
            if fm.title.as_deref().is_some_and(|t| t != joined) {
                return Err((
                    line_of("title_lines"),
                    format!("title_lines join to {joined:?}, not the title"),
                ));
            }
        }
        for u in &n.unconfirmed {
            if !UNCONFIRMABLE.iter().any(|(f, _)| f == u) {
                let known: Vec<&str> = UNCONFIRMABLE.iter().map(|(f, _)| *f).collect();
                return Err((
                    line_of("unconfirmed"),
                    format!(
                        "unconfirmed names {u:?}, which is not a [notice] field that can be marked ({})",
                        known.join(", ")
                    ),
                ));
            }
        }
        for a in &n.attachments {
            let kinds = [a.form.is_some(), a.manual.is_some(), a.file.is_some()];
            if kinds.iter().filter(|k| **k).count() != 1 {
                return Err((
                    split.front_line,
                    format!(
                        "attachment \"{}\" needs exactly one of form, manual or file",
                        a.title
                    ),
                ));
            }
        }
    }
    Ok(fm)
}

/// 发文字号: the year in 〔〕, no leading zeros, ends with 号 (GB/T 9704-2012 7.2.4).
fn check_doc_number(s: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "doc_number {s:?} is not of the form 梅市人社函〔2016〕216号 (year in 〔〕 U+3014/U+3015, no leading zeros, ending in 号)"
        )
    };
    let (agency, rest) = s.split_once('〔').ok_or_else(bad)?;
    let (year, rest) = rest.split_once('〕').ok_or_else(bad)?;
    let serial = rest.strip_suffix('号').ok_or_else(bad)?;
    let ok = !agency.is_empty()
        && year.len() == 4
        && year.chars().all(|c| c.is_ascii_digit())
        && !serial.is_empty()
        && serial.chars().all(|c| c.is_ascii_digit())
        && !serial.starts_with('0');
    if ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// A date or date-time from front matter: TOML dates or strings like 2016-07-15.
pub(crate) fn to_datetime(v: &toml::Value) -> Option<NaiveDateTime> {
    match v {
        toml::Value::Datetime(dt) => {
            let d = dt.date?;
            let date = NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into())?;
            let time = dt
                .time
                .and_then(|t| {
                    NaiveTime::from_hms_opt(t.hour.into(), t.minute.into(), t.second.into())
                })
                .unwrap_or(NaiveTime::MIN);
            Some(date.and_time(time))
        }
        toml::Value::String(s) => {
            let s = s.trim();
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
                .ok()
                .or_else(|| {
                    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d")
                        .ok()
                        .map(|d| d.and_time(NaiveTime::MIN))
                })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_counts_lines() {
        let s = split("+++\ntitle = \"a\"\n+++\nbody\n").unwrap();
        assert_eq!(s.front, "title = \"a\"\n");
        assert_eq!(s.body, "body\n");
        assert_eq!(s.body_line, 4);
        let s = split("no front matter").unwrap();
        assert_eq!(s.body, "no front matter");
    }

    #[test]
    fn unclosed_and_yaml_are_errors() {
        assert!(split("+++\ntitle = 1\n").is_err());
        assert_eq!(split("---\ntitle: a\n---\n").err().unwrap().0, 1);
    }

    #[test]
    fn toml_errors_point_at_the_line() {
        let text = "+++\ntitle = \"ok\"\ndate = 2016-13-45\n+++\n";
        let (line, msg) = parse(&split(text).unwrap()).unwrap_err();
        assert_eq!(line, 3, "{msg}");
    }

    #[test]
    fn unknown_keys_are_errors_but_zola_keys_pass() {
        let text = "+++\ntitle = \"a\"\ntitel = \"b\"\n+++\n";
        let (line, msg) = parse(&split(text).unwrap()).unwrap_err();
        assert_eq!(line, 3);
        assert!(msg.contains("titel"));
        let text = "+++\ntitle = \"a\"\naliases = [\"/x/\"]\n[taxonomies]\ntags = [\"a\"]\n+++\n";
        assert!(parse(&split(text).unwrap()).is_ok());
    }

    #[test]
    fn notice_marks_and_title_lines_are_checked() {
        let n = "[notice]\ndoc_number = \"梅市人社函〔2016〕216号\"\nissuer = \"局\"\nwritten = 2016-07-15\n";
        let text = format!("+++\ntitle = \"ab\"\n{n}unconfirmed = [\"writen\"]\n+++\n");
        let (line, msg) = parse(&split(&text).unwrap()).unwrap_err();
        assert_eq!(line, 7, "{msg}");
        assert!(msg.contains("writen"), "{msg}");
        let text = format!("+++\ntitle = \"ab\"\n{n}title_lines = [\"a\", \"c\"]\n+++\n");
        let (line, msg) = parse(&split(&text).unwrap()).unwrap_err();
        assert_eq!(line, 7, "{msg}");
        let text = format!("+++\ntitle = \"ab\"\n{n}title_lines = [\"a\", \"b\"]\nunconfirmed = [\"written\"]\n+++\n");
        let fm = parse(&split(&text).unwrap()).unwrap();
        assert!(fm.notice.unwrap().is_unconfirmed("written"));
    }

    #[test]
    fn doc_numbers() {
        assert!(check_doc_number("梅市人社函〔2016〕216号").is_ok());
        assert!(check_doc_number("梅市人社函[2016]216号").is_err());
        assert!(check_doc_number("梅市人社函〔2016〕0216号").is_err());
        assert!(check_doc_number("梅市人社函〔2016〕216").is_err());
    }

    #[test]
    fn dates() {
        let d = to_datetime(&toml::Value::String("2016-07-15".into())).unwrap();
        assert_eq!(d.to_string(), "2016-07-15 00:00:00");
        let v: toml::Table = toml::from_str("d = 2016-07-15T09:30:00").unwrap();
        assert_eq!(
            to_datetime(&v["d"]).unwrap().to_string(),
            "2016-07-15 09:30:00"
        );
    }
}
