//! The mailbox benchmark's corpus: N messages, each from its own unit with a
//! one-row 附件1 table attached, written into a Maildir's `new/` folder as a
//! local delivery agent would (tests/bench/mailbox.sh).
//!
//! ```text
//! cargo run --release -p gazette-intake --example mailbox_corpus -- MAILDIR N
//! ```

use base64::Engine as _;

const HEADER: [&str; 14] = [
    "*单位全称",
    "*统一社会信用代码",
    "*单位类型",
    "*单位地址",
    "邮政编码",
    "*系统管理员姓名",
    "职务",
    "所在科室",
    "*办公电话",
    "*手机",
    "传真",
    "*电子邮箱",
    "备注",
    "*填报人",
];

fn table(unit: &str) -> anyhow::Result<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name("市直主管部门信息一览表")?;
    ws.write_string(0, 0, "市直主管部门信息一览表")?;
    for (c, h) in HEADER.iter().enumerate() {
        ws.write_string(1, c as u16, *h)?;
    }
    let row = [
        unit,
        "11441700007280420Y",
        "机关",
        "梅州市梅江区彬芳大道1号",
        "514000",
        "陈七",
        "副科长",
        "办公室",
        "0753-2128309",
        "13800138000",
        "",
        "chen@unit.test",
        "",
        "周八",
    ];
    for (c, v) in row.iter().enumerate() {
        if !v.is_empty() {
            ws.write_string(2, c as u16, *v)?;
        }
    }
    Ok(book.save_to_buffer()?)
}

fn wrap(s: &str) -> String {
    s.as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or_else(|| anyhow::anyhow!("MAILDIR N"))?);
    let n: usize = args.next().unwrap_or_else(|| "1000".into()).parse()?;
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let name = format!("=?UTF-8?B?{}?=", b64.encode("附件1.xlsx"));
    for i in 0..n {
        let unit = format!("梅州市第{i}局");
        let attachment = wrap(&b64.encode(table(&unit)?));
        let raw = format!(
            "From: unit{i} <unit{i}@unit.test>\r\nTo: office@hrss.test\r\nSubject: =?UTF-8?B?{}?=\r\nMessage-ID: <bench-{i}@unit.test>\r\nDate: Wed, 20 Jul 2016 10:31:00 +0800\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nplease find the table attached\r\n--b\r\nContent-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{attachment}\r\n--b--\r\n",
            b64.encode(format!("报送 {unit}")),
        );
        let file = format!("1700000000.M{i}P1.bench");
        std::fs::write(dir.join("tmp").join(&file), raw)?;
        std::fs::rename(dir.join("tmp").join(&file), dir.join("new").join(&file))?;
    }
    println!("{n} messages in {}", dir.display());
    Ok(())
}
