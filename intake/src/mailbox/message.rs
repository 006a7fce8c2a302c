//! One message as the reader sees it: who sent it, whether it may be
//! answered at all, and what its spreadsheet attachments hold, validated
//! with the same code as `gazette import` (`forms::sheet::read_table`:
//! .xlsx, .xls, WPS's .et, .ods).
//! Nothing here touches the network or the database.

use forms::sheet::CellError;
use forms::FormDef;
use mail_parser::{MessageParser, MimeHeaders as _};
use std::io::Read as _;

/// What the reader needs to know of a message's headers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta {
    /// `Message-ID`, or `sha256:<hex>` of the whole message when it has none.
    pub(crate) key: String,
    /// The `Message-ID` as written (without `<>`), may be empty.
    pub(crate) message_id: String,
    /// `From` as people read it: `名字 <a@b>`.
    pub(crate) sender: String,
    /// Where an answer goes (`Reply-To`, else `From`); empty: nobody.
    pub(crate) reply_to: String,
    pub(crate) subject: String,
    /// `Date`, Unix ms.
    pub(crate) sent_at: Option<i64>,
    /// `References` of the message, for the answer's `References`.
    pub(crate) references: Vec<String>,
}

/// Why a message gets no answer, if it gets none.
pub(crate) fn no_answer_reason(
    parsed: &mail_parser::Message<'_>,
    own: &[String],
) -> Option<String> {
    let header_text = |name: &str| {
        parsed
            .header(name)
            .and_then(|h| h.as_text())
            .map(|t| t.trim().to_ascii_lowercase())
    };
    if let Some(a) = header_text("Auto-Submitted") {
        if a != "no" {
            return Some(format!("自动发送的邮件（Auto-Submitted: {a}）"));
        }
    }
    if let Some(p) = header_text("Precedence") {
        if ["bulk", "junk", "list"].contains(&p.as_str()) {
            return Some(format!("群发邮件（Precedence: {p}）"));
        }
    }
    for h in [
        "List-Id",
        "List-Unsubscribe",
        "X-Autoreply",
        "X-Autorespond",
    ] {
        if parsed.header(h).is_some() {
            return Some(format!("邮件列表或自动回复（{h}）"));
        }
    }
    if let Some(ct) = parsed.content_type() {
        if ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        {
            return Some("退信或回执（multipart/report）".into());
        }
    }
    // An empty envelope sender (`Return-Path: <>`) marks a bounce.
    if let Some(rp) = parsed.header_raw("Return-Path") {
        let rp = rp.trim();
        if rp == "<>" || rp.is_empty() {
            return Some("退信（空的发件人 Return-Path: <>）".into());
        }
    }
    let from = first_address(parsed.from());
    let Some(from) = from else {
        return Some("没有发件人地址".into());
    };
    let local = from.split('@').next().unwrap_or("").to_ascii_lowercase();
    if [
        "mailer-daemon",
        "postmaster",
        "noreply",
        "no-reply",
        "do-not-reply",
    ]
    .contains(&local.as_str())
    {
        return Some(format!("系统发件人 {from}"));
    }
    if own.iter().any(|o| o.eq_ignore_ascii_case(&from)) {
        return Some(format!("本机自己的地址 {from}"));
    }
    None
}

fn first_address(a: Option<&mail_parser::Address<'_>>) -> Option<String> {
    let addr = a?.first()?.address()?.trim();
    (!addr.is_empty() && addr.contains('@')).then(|| addr.to_string())
}

pub(crate) fn meta(raw: &[u8], parsed: &mail_parser::Message<'_>) -> Meta {
    let message_id = parsed.message_id().unwrap_or("").trim().to_string();
    let key = if message_id.is_empty() {
        use sha2::{Digest, Sha256};
        format!("sha256:{}", crate::refs::hex(&Sha256::digest(raw)))
    } else {
        message_id.clone()
    };
    let sender = parsed
        .from()
        .and_then(|a| a.first())
        .map(|a| match (a.name(), a.address()) {
            (Some(n), Some(addr)) if !n.trim().is_empty() => format!("{} <{addr}>", n.trim()),
            (_, Some(addr)) => addr.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .unwrap_or_default();
    let reply_to = first_address(parsed.reply_to())
        .or_else(|| first_address(parsed.from()))
        .unwrap_or_default();
    let references = match parsed.references() {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    };
    Meta {
        key,
        message_id,
        sender: one_line(&sender),
        reply_to,
        subject: one_line(parsed.subject().unwrap_or("")),
        sent_at: parsed.date().map(|d| d.to_timestamp() * 1000),
        references,
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The parsed message, or `None` when it is not a message at all.
pub(crate) fn parse(raw: &[u8]) -> Option<mail_parser::Message<'_>> {
    let parsed = MessageParser::default().parse(raw)?;
    // A message needs at least one header line; mail-parser accepts almost anything.
    if parsed.headers().is_empty() {
        return None;
    }
    Some(parsed)
}

/// The limits a message's attachments are held to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) attachment: u64,
    pub(crate) unpacked: u64,
}

/// What became of one spreadsheet attachment.
#[derive(Debug, Clone)]
pub(crate) enum Table {
    /// Every row valid: to be stored (all or none).
    Rows {
        name: String,
        def: std::sync::Arc<FormDef>,
        rows: Vec<forms::Answers>,
    },
    /// Not stored, with each problem (`第 R 行 第 C 列 (字段): 问题`).
    Refused {
        name: String,
        form: Option<String>,
        problems: Vec<String>,
        /// Refused for its size: worth a note to a person, too.
        oversize: bool,
    },
}

const SPREADSHEET_EXTENSIONS: &[&str] = &["xlsx", "xls", "et", "ods"];

/// Every spreadsheet attachment of the message, read and validated.
pub(crate) fn tables(
    parsed: &mail_parser::Message<'_>,
    forms: &crate::state::FormSet,
    limits: Limits,
) -> Vec<Table> {
    let mut out = Vec::new();
    for part in parsed.attachments() {
        let Some(name) = part.attachment_name().map(str::to_string) else {
            continue;
        };
        let ext = name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        if !SPREADSHEET_EXTENSIONS.contains(&ext.as_str()) {
            continue;
        }
        let bytes = part.contents();
        let refused = |problems: Vec<String>, oversize: bool| Table::Refused {
            name: name.clone(),
            form: None,
            problems,
            oversize,
        };
        if bytes.len() as u64 > limits.attachment {
            out.push(refused(
                vec![format!(
                    "附件太大（{}），最多接收 {}。请删除表格以外的内容后重新发送。",
                    size_text(bytes.len() as u64),
                    size_text(limits.attachment)
                )],
                true,
            ));
            continue;
        }
        // .xlsx and .ods are zips; an .xls is not compressed, its size is its size.
        if bytes.starts_with(b"PK") {
            if let Err(problem) = check_unpacked(bytes, limits.unpacked) {
                out.push(refused(vec![problem], true));
                continue;
            }
        }
        out.push(read_table(&name, bytes, forms));
    }
    out
}

/// Refuses a zip (an .xlsx is one) that unpacks to more than `limit`
/// bytes, counting what each entry really inflates to, not what it claims.
pub(crate) fn check_unpacked(bytes: &[u8], limit: u64) -> Result<(), String> {
    let unreadable =
        || "无法读取这个附件：文件可能已损坏，请用 Excel 或 WPS 重新保存后再发送。".to_string();
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|_| unreadable())?;
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|_| unreadable())?;
        let left = limit.saturating_sub(total);
        let n = std::io::copy(&mut entry.take(left + 1), &mut std::io::sink())
            .map_err(|_| unreadable())?;
        total += n;
        if total > limit {
            return Err(format!(
                "表格解压后超过 {}，不予读取（正常填写的表格远小于此）。请只保留表格本身后重新发送。",
                size_text(limit)
            ));
        }
    }
    Ok(())
}

fn size_text(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// The form whose header the table has, and its rows or problems. The form
/// is the one `read_table` accepts, else the one missing fewest columns.
fn read_table(name: &str, bytes: &[u8], forms: &crate::state::FormSet) -> Table {
    let mut best: Option<(usize, std::sync::Arc<FormDef>, Vec<CellError>)> = None;
    let mut defs: Vec<_> = forms.values().cloned().collect();
    defs.sort_by(|a, b| a.id.cmp(&b.id));
    for def in defs {
        match forms::sheet::read_table(&def, bytes) {
            Ok(rows) if rows.is_empty() => {
                return Table::Refused {
                    name: name.to_string(),
                    form: Some(def.title.clone()),
                    problems: vec!["表格中没有填写任何数据行。".into()],
                    oversize: false,
                }
            }
            Ok(rows) => {
                return Table::Rows {
                    name: name.to_string(),
                    def,
                    rows,
                }
            }
            Err(errors) => {
                let no_header = errors
                    .iter()
                    .any(|e| e.row == 0 && e.label.is_empty() && e.message.starts_with("找不到"));
                // Unreadable or too big for any form: no form to name.
                let unreadable = errors.iter().any(|e| {
                    e.row == 0
                        && e.label.is_empty()
                        && (e.message.starts_with("无法读取")
                            || e.message.contains("太大：最多读取"))
                });
                if unreadable {
                    return Table::Refused {
                        name: name.to_string(),
                        form: None,
                        problems: errors.iter().map(ToString::to_string).collect(),
                        oversize: false,
                    };
                }
                if no_header {
                    continue;
                }
                let missing = errors
                    .iter()
                    .filter(|e| e.row == 0 && !e.label.is_empty())
                    .count();
                if best.as_ref().is_none_or(|(m, _, _)| missing < *m) {
                    best = Some((missing, def, errors));
                }
            }
        }
    }
    match best {
        Some((_, def, errors)) => Table::Refused {
            name: name.to_string(),
            form: Some(def.title.clone()),
            problems: errors.iter().map(ToString::to_string).collect(),
            oversize: false,
        },
        None => {
            let mut titles: Vec<String> =
                forms.values().map(|d| format!("《{}》", d.title)).collect();
            titles.sort();
            Table::Refused {
                name: name.to_string(),
                form: None,
                problems: vec![format!(
                    "认不出这是哪一张表：表头（第 1 至 3 行）中没有{}的栏目名称。请使用网站上的空白表格填写，不要修改表头。",
                    titles.join("或")
                )],
                oversize: false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(raw: &str) -> mail_parser::Message<'_> {
        parse(raw.as_bytes()).unwrap()
    }

    #[test]
    fn auto_replies_bounces_and_lists_get_no_answer() {
        let own = vec!["office@example.org".to_string()];
        let base = "From: 张三 <zhang@example.net>\r\nSubject: x\r\nMessage-ID: <a@b>\r\n";
        let ok = format!("{base}\r\nbody\r\n");
        assert_eq!(no_answer_reason(&parsed(&ok), &own), None);
        for extra in [
            "Auto-Submitted: auto-replied\r\n",
            "Precedence: bulk\r\n",
            "Precedence: list\r\n",
            "List-Id: <x.example.net>\r\n",
            "Return-Path: <>\r\n",
            "Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n",
        ] {
            let raw = format!("{base}{extra}\r\nbody\r\n");
            assert!(no_answer_reason(&parsed(&raw), &own).is_some(), "{extra}");
        }
        let raw = format!("{base}Auto-Submitted: no\r\n\r\nbody\r\n");
        assert_eq!(no_answer_reason(&parsed(&raw), &own), None);
        for from in ["MAILER-DAEMON@example.net", "office@EXAMPLE.org"] {
            let raw = format!("From: {from}\r\nSubject: x\r\n\r\nbody\r\n");
            assert!(no_answer_reason(&parsed(&raw), &own).is_some(), "{from}");
        }
    }

    #[test]
    fn meta_reads_the_headers_and_keys_by_message_id_or_hash() {
        let raw = "From: =?UTF-8?B?5byg5LiJ?= <zhang@example.net>\r\nReply-To: li@example.net\r\nSubject: =?UTF-8?B?5oql6YCB?=\r\nMessage-ID: <k1@example.net>\r\nReferences: <r0@x> <r1@x>\r\nDate: Wed, 20 Jul 2016 10:31:00 +0800\r\n\r\nbody\r\n";
        let m = meta(raw.as_bytes(), &parsed(raw));
        assert_eq!(m.key, "k1@example.net");
        assert_eq!(m.sender, "张三 <zhang@example.net>");
        assert_eq!(m.reply_to, "li@example.net");
        assert_eq!(m.subject, "报送");
        assert_eq!(m.references, ["r0@x", "r1@x"]);
        assert_eq!(m.sent_at, Some(1_468_981_860_000));
        let raw = "From: a@example.net\r\n\r\nbody\r\n";
        let m = meta(raw.as_bytes(), &parsed(raw));
        assert!(m.key.starts_with("sha256:"), "{}", m.key);
    }

    #[test]
    fn a_zip_bomb_is_refused_by_what_it_inflates_to() {
        use std::io::Write as _;
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            z.start_file(
                "xl/worksheets/sheet1.xml",
                zip::write::SimpleFileOptions::default(),
            )
            .unwrap();
            let zeros = vec![0u8; 1024 * 1024];
            for _ in 0..3 {
                z.write_all(&zeros).unwrap();
            }
            z.finish().unwrap();
        }
        let bytes = buf.into_inner();
        assert!(bytes.len() < 100 * 1024, "{}", bytes.len());
        assert!(check_unpacked(&bytes, 4 * 1024 * 1024).is_ok());
        let e = check_unpacked(&bytes, 2 * 1024 * 1024).unwrap_err();
        assert!(e.contains("解压后超过 2.0 MB"), "{e}");
        assert!(check_unpacked(b"not a zip", 1024).is_err());
    }
}
