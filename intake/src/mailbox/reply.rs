//! The answers a sender gets, as text: a receipt with each row's reference
//! and the row as stored, the problems cell by cell, or how to return the
//! tables. Subject and threading headers follow RFC 5322 (`Re:`,
//! `In-Reply-To`, `References`).

use super::message::Meta;
use config::Config;
use forms::FormDef;

/// One stored (or already stored) row of an attachment.
pub(crate) struct RowLine {
    pub(crate) reference: String,
    /// True when the same answers were stored before (not stored again).
    pub(crate) already: bool,
    pub(crate) rows: Vec<(String, String)>,
}

/// What one attachment came to, for the answer.
pub(crate) enum Part {
    Stored {
        name: String,
        form: String,
        late: bool,
        rows: Vec<RowLine>,
    },
    Refused {
        name: String,
        form: Option<String>,
        problems: Vec<String>,
    },
}

/// `Re: <subject>`, not `Re: Re: …`.
pub(crate) fn subject(original: &str) -> String {
    let s = original.trim();
    if s.is_empty() {
        return "Re: 报送表格".into();
    }
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("re:") || s.starts_with("回复：") || s.starts_with("答复：") {
        s.to_string()
    } else {
        format!("Re: {s}")
    }
}

/// `References`: the original's references and its own id, as `<…>` ids.
pub(crate) fn references(meta: &Meta) -> String {
    let mut ids: Vec<String> = meta.references.iter().map(|r| angle(r)).collect();
    if !meta.message_id.is_empty() {
        ids.push(angle(&meta.message_id));
    }
    ids.join(" ")
}

pub(crate) fn angle(id: &str) -> String {
    format!(
        "<{}>",
        id.trim().trim_start_matches('<').trim_end_matches('>')
    )
}

/// Where the online form and the blank table are, for every form.
pub(crate) fn links(config: &Config, defs: &[&FormDef]) -> String {
    let base = if !config.site.base_url.is_empty() {
        config
            .site
            .base_url
            .as_str()
            .trim_end_matches('/')
            .to_string()
    } else {
        config.intake.url.as_str().trim_end_matches('/').to_string()
    };
    let mut out = String::new();
    for def in defs {
        let paths = forms::paths::FormPaths::of(def);
        let title = match def.annex {
            Some(n) => format!("附件{n}《{}》", def.title),
            None => format!("《{}》", def.title),
        };
        if base.is_empty() {
            out.push_str(&format!(
                "{title}：网上填报页 {}，空白表格 {}（在本单位网站上）\n",
                paths.page(),
                paths.xlsx()
            ));
        } else {
            out.push_str(&format!(
                "{title}\n  网上填报：{base}/{}\n  空白表格：{base}/{}\n",
                paths.page(),
                paths.xlsx()
            ));
        }
    }
    out
}

fn greeting(meta: &Meta) -> String {
    let when = meta
        .sent_at
        .map(crate::present::cst_text)
        .filter(|t| !t.is_empty())
        .map(|t| format!("于 {t} "))
        .unwrap_or_default();
    let subject = if meta.subject.is_empty() {
        "（无主题）".to_string()
    } else {
        meta.subject.clone()
    };
    format!("您好！\n\n我们收到了您{when}发来的邮件“{subject}”。\n\n")
}

fn footer(config: &Config, links: &str) -> String {
    let office = format!("{}{}", config.office.name, config.office.section);
    let mut out = String::from("\n也可以在网上填报，或下载空白表格填写后作为附件发送到本邮箱：\n");
    out.push_str(links);
    if !office.is_empty() {
        out.push_str(&format!("\n{office}\n"));
    }
    out.push_str("\n本邮件由报送系统自动发送。\n");
    out
}

/// The answer to a message with spreadsheets: each stored row with its
/// reference and answers, each refused attachment with its problems.
pub(crate) fn result_text(config: &Config, meta: &Meta, parts: &[Part], links: &str) -> String {
    let mut out = greeting(meta);
    for part in parts {
        match part {
            Part::Stored {
                name,
                form,
                late,
                rows,
            } => {
                let new = rows.iter().filter(|r| !r.already).count();
                out.push_str(&format!(
                    "附件“{name}”（《{form}》）已登记 {new} 行{}：\n\n",
                    if *late {
                        "（已过截止日期，标记为逾期）"
                    } else {
                        ""
                    }
                ));
                for row in rows {
                    if row.already {
                        out.push_str(&format!(
                            "参考编号 {}（此前已登记，本次未重复登记）\n",
                            row.reference
                        ));
                    } else {
                        out.push_str(&format!("参考编号 {}\n", row.reference));
                    }
                    for (label, value) in &row.rows {
                        let value = value.replace('\n', " / ");
                        out.push_str(&format!("  {label}：{value}\n"));
                    }
                    out.push('\n');
                }
            }
            Part::Refused {
                name,
                form,
                problems,
            } => {
                let form = form
                    .as_ref()
                    .map(|f| format!("（《{f}》）"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "附件“{name}”{form}没有登记：发现 {} 处问题，整份表格都没有登记。请改正后把整份表格重新发送。\n\n",
                    problems.len()
                ));
                for p in problems.iter().take(200) {
                    out.push_str(p);
                    out.push('\n');
                }
                if problems.len() > 200 {
                    out.push_str(&format!("……另有 {} 处问题未列出。\n", problems.len() - 200));
                }
                out.push('\n');
            }
        }
    }
    out.push_str("请保留参考编号，以便查询和更正。");
    out.push_str(&footer(config, links));
    out
}

/// The answer to a message without a usable spreadsheet.
pub(crate) fn howto_text(config: &Config, meta: &Meta, links: &str) -> String {
    let mut out = greeting(meta);
    out.push_str(
        "邮件中没有找到可以登记的表格附件（.xlsx、.xls、.et 或 .ods）。请下载空白表格，每个单位填写一行，不要修改表头，填好后作为附件回复本邮件。\n",
    );
    out.push_str(&footer(config, links));
    out
}

/// The answer to a message too large to read.
pub(crate) fn too_large_text(config: &Config, meta: &Meta, limit: u64, links: &str) -> String {
    let mut out = greeting(meta);
    out.push_str(&format!(
        "这封邮件超过 {} MB，没有读取，其中的表格都没有登记。请只附上填好的表格，重新发送。\n",
        limit / (1024 * 1024)
    ));
    out.push_str(&footer(config, links));
    out
}

/// A web filer's copy of the receipt.
pub(crate) fn filer_copy_text(
    config: &Config,
    form: &str,
    reference: &str,
    received: &str,
    rows: &[(String, String)],
) -> String {
    let mut out = format!(
        "您好！\n\n您在网上填报的《{form}》已登记。\n\n参考编号：{reference}\n提交时间：{received}\n\n"
    );
    for (label, value) in rows {
        out.push_str(&format!("  {label}：{}\n", value.replace('\n', " / ")));
    }
    out.push_str("\n请保留参考编号，以便查询和更正。\n");
    let office = format!("{}{}", config.office.name, config.office.section);
    if !office.is_empty() {
        out.push_str(&format!("\n{office}\n"));
    }
    out.push_str("\n本邮件由报送系统自动发送。\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_references() {
        assert_eq!(subject("报送附件1"), "Re: 报送附件1");
        assert_eq!(subject("RE: 报送"), "RE: 报送");
        assert_eq!(subject(""), "Re: 报送表格");
        let meta = Meta {
            message_id: "m1@x".into(),
            references: vec!["r0@x".into()],
            ..Default::default()
        };
        assert_eq!(references(&meta), "<r0@x> <m1@x>");
    }

    #[test]
    fn problems_are_listed_one_per_line() {
        let config = Config::default();
        let meta = Meta {
            subject: "报送".into(),
            ..Default::default()
        };
        let text = result_text(
            &config,
            &meta,
            &[Part::Refused {
                name: "a.xlsx".into(),
                form: Some("市直主管部门信息一览表".into()),
                problems: vec!["第 4 行 第 2 列 (统一社会信用代码): 校验位不对".into()],
            }],
            "",
        );
        assert!(text.contains("发现 1 处问题"), "{text}");
        assert!(text.contains("\n第 4 行 第 2 列 (统一社会信用代码): 校验位不对\n"));
    }
}
