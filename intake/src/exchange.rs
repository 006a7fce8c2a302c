//! The 一览表 export and the spreadsheet import, both driven by the form
//! definitions (`forms::sheet`) and both on the same database as the intake
//! service, SQLite or PostgreSQL (through `store::Store`, as the service
//! opens it): `gazette import` may run while `gazette intake` or `serve` is
//! up (on SQLite: WAL, a busy timeout, and one short write transaction for
//! the file; see `Store::import`).

use crate::status::{Processing, Source};
use crate::store::sql::{vals, Lite, Sql};
use crate::store::{self, NewSubmission, StoreError};
use anyhow::Context as _;
use config::Config;
use forms::sheet::{CellError, ExportRow};
use forms::FormDef;
use rusqlite::Connection;
use std::path::{Path, PathBuf};

/// `2016-07-20 10:31` in China Standard Time: sorts as text and reads in Excel.
pub(crate) fn received_text(ms: i64) -> String {
    use chrono::TimeZone;
    let Some(tz) = chrono::FixedOffset::east_opt(8 * 3600) else {
        return String::new();
    };
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => String::new(),
    }
}

/// Every return to `def`, oldest first, as the 一览表 lists them (the
/// admin download and `gazette export`, on either engine).
pub(crate) fn export_rows(db: &mut dyn Sql, def: &FormDef) -> Result<Vec<ExportRow>, StoreError> {
    db.query(
        "SELECT s.reference, s.received_at, s.late, s.answers, COALESCE(p.status, ?2)
         FROM submissions s LEFT JOIN processing p ON p.submission_id = s.id
         WHERE s.form_id = ?1 ORDER BY s.received_at, s.id",
        vals![&def.id, Processing::Pending.code()],
    )?
    .iter()
    .map(|r| {
        let answers: forms::Answers = serde_json::from_str(&r.text(3)?)
            .map_err(|e| StoreError::Sqlite(format!("answers: {e}")))?;
        Ok(ExportRow {
            reference: r.text(0)?,
            received: received_text(r.int(1)?),
            late: r.flag(2)?,
            status: r.code(4, Processing::from_code)?.label().to_string(),
            answers,
        })
    })
    .collect()
}

/// `--format` of `gazette export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Csv,
}

impl Format {
    fn ext(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Csv => "csv",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "xlsx" => Ok(Format::Xlsx),
            "csv" => Ok(Format::Csv),
            _ => Err(format!("{s:?}: use xlsx or csv")),
        }
    }
}

fn load_form(root: &Path, id: &str) -> anyhow::Result<(Config, FormDef)> {
    let config = Config::load(root)?;
    let defs = FormDef::load_dir(&root.join("content").join("forms"))?;
    let names: Vec<String> = defs.iter().map(|d| d.id.clone()).collect();
    let Some(def) = defs.into_iter().find(|d| d.id == id) else {
        anyhow::bail!(
            "没有名为 “{id}” 的表单；content/forms/ 中有：{}",
            if names.is_empty() {
                "（无）".to_string()
            } else {
                names.join("、")
            }
        );
    };
    Ok((config, def))
}

/// The database for reading only (a dry run changes nothing, not even the
/// schema), or None when there is none yet.
fn open_db_read_only(config: &Config) -> anyhow::Result<Option<Connection>> {
    let path = config.database_path();
    if !path.exists() {
        return Ok(None);
    }
    let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("[intake.database] {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(Some(conn))
}

/// `gazette export`: writes the 一览表 and says where. `output` `-` is
/// stdout; no output means `<form>-一览表.<format>` in the current folder.
/// The format follows `format`, else the output's extension, else xlsx.
pub fn export(
    root: &Path,
    form: &str,
    format: Option<Format>,
    output: Option<&Path>,
) -> anyhow::Result<String> {
    let (config, def) = load_form(root, form)?;
    let format = format
        .or_else(|| {
            let ext = output?.extension()?.to_str()?.to_ascii_lowercase();
            (ext == "csv").then_some(Format::Csv)
        })
        .unwrap_or(Format::Xlsx);
    let db_path = config.database_path();
    let url = config.database_url();
    let db_exists = url.is_some() || db_path.exists();
    let target = output
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("{}-一览表.{}", def.id, format.ext())));
    // Binary on a terminal is garbage and can upset it: refuse before reading.
    if target.as_os_str() == "-" && format == Format::Xlsx && {
        use std::io::IsTerminal as _;
        std::io::stdout().is_terminal()
    } {
        anyhow::bail!(
            "XLSX 是二进制文件，不能输出到终端。请用 --output 文件名.xlsx 保存，或把输出重定向到文件（> 一览表.xlsx），或用 --format csv 输出文本。"
        );
    }
    let rows = if db_exists {
        let d = def.clone();
        store::command(&config, |store| async move {
            Ok(store.read(move |db| export_rows(db, &d)).await?)
        })?
    } else {
        Vec::new()
    };
    let source = if let Some(url) = &url {
        format!("读自数据库 {}", store::pg::redacted(url))
    } else if db_exists {
        format!("读自数据库 {}", db_path.display())
    } else {
        format!(
            "数据库 {} 还不存在（尚无报送），导出的是空表",
            db_path.display()
        )
    };
    let bytes = match format {
        Format::Xlsx => forms::sheet::export_xlsx(&def, &rows)
            .map_err(|e| anyhow::anyhow!("生成 .xlsx 失败：{e}"))?,
        Format::Csv => forms::sheet::export_csv(&def, &rows).into_bytes(),
    };
    if target.as_os_str() == "-" {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        out.write_all(&bytes)?;
        out.flush()?;
        return Ok(format!(
            "《{}》{} 条记录（{source}）已输出到标准输出\n",
            def.title,
            rows.len()
        ));
    }
    std::fs::write(&target, &bytes)
        .with_context(|| format!("cannot write {}", target.display()))?;
    Ok(format!(
        "《{}》{} 条记录（{source}）已导出到 {}\n",
        def.title,
        rows.len(),
        target.display()
    ))
}

/// What `gazette import` has to say; `ok` false means exit status 1.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// The submission a validated spreadsheet row becomes: the same shape as a
/// web return, marked `import`, with the same notifications queued.
pub(crate) fn new_submission(
    config: &Config,
    def: &FormDef,
    answers: &forms::Answers,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<NewSubmission> {
    Ok(crate::service::new_submission(
        config,
        def,
        answers,
        def.is_late(now),
        now.timestamp_millis(),
        Source::Import,
    )?)
}

/// `gazette import`: reads `file` with the form's own validation; all rows
/// or none. `dry_run` only reports.
pub fn import(root: &Path, form: &str, file: &Path, dry_run: bool) -> anyhow::Result<ImportReport> {
    let (config, def) = load_form(root, form)?;
    let started = std::time::Instant::now();
    let bytes = std::fs::read(file).with_context(|| format!("无法读取 {}", file.display()))?;
    let mut report = ImportReport::default();
    let read = forms::sheet::read_table(&def, &bytes);
    tracing::debug!("import: read and validated in {:?}", started.elapsed());
    let all = match read {
        Ok(all) => all,
        Err(errors) => {
            report.stderr = refusal(&def.title, file, &errors);
            return Ok(report);
        }
    };
    if all.is_empty() {
        report.stderr = format!("{}：表格中没有填写任何数据行，没有导入。\n", file.display());
        return Ok(report);
    }
    let now = chrono::Utc::now();
    let subs = all
        .iter()
        .map(|answers| new_submission(&config, &def, answers, now))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // A row repeating an earlier row of the file is a copy, not a return.
    // (By hash: comparing each row with every earlier one was quadratic.)
    let mut skipped = Vec::new();
    let mut unique: Vec<NewSubmission> = Vec::new();
    let mut first: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for s in subs {
        match first.get(&s.hash) {
            Some(j) => skipped.push(format!(
                "跳过：{}（与本文件中第 {} 条数据相同）",
                s.unit,
                j + 1
            )),
            None => {
                first.insert(s.hash.clone(), unique.len());
                unique.push(s);
            }
        }
    }
    report.ok = true;
    report.stdout = if dry_run {
        dry_run_text(&config, &def, &unique, skipped)?
    } else {
        store_rows(&config, &def, &unique, skipped, now)?
    };
    Ok(report)
}

/// What an import would do, reading the database without changing it.
fn dry_run_text(
    config: &Config,
    def: &FormDef,
    unique: &[NewSubmission],
    mut skipped: Vec<String>,
) -> anyhow::Result<String> {
    let lookup = |db: &mut dyn Sql| -> Result<Vec<Option<String>>, StoreError> {
        unique
            .iter()
            .map(|s| store::already_stored(db, &s.form_id, &s.hash))
            .collect()
    };
    // SQLite: read-only, the file untouched (not even its schema).
    // PostgreSQL: through the store as the service opens it, which brings
    // the schema up to date first (harmless, and what any node does).
    let found = if config.database_url().is_some() {
        let keys: Vec<(String, String)> = unique
            .iter()
            .map(|s| (s.form_id.clone(), s.hash.clone()))
            .collect();
        store::command(config, |store| async move {
            Ok(store
                .read(move |db| {
                    keys.iter()
                        .map(|(f, h)| store::already_stored(db, f, h))
                        .collect::<Result<Vec<_>, _>>()
                })
                .await?)
        })?
    } else if let Some(conn) = open_db_read_only(config)? {
        lookup(&mut Lite(&conn))?
    } else {
        Vec::new()
    };
    let mut already = 0;
    for (s, r) in unique.iter().zip(found) {
        if let Some(r) = r {
            already += 1;
            skipped.push(format!("跳过：{}（已导入或已提交，参考号 {r}）", s.unit));
        }
    }
    let mut out = format!(
        "{} 行可以导入《{}》（试运行，没有保存任何数据）\n",
        unique.len() - already,
        def.title
    );
    for line in skipped {
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

/// Stores the rows (all in one transaction) and says what became of each.
fn store_rows(
    config: &Config,
    def: &FormDef,
    unique: &[NewSubmission],
    mut skipped: Vec<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<String> {
    let started = std::time::Instant::now();
    let rows = unique.to_vec();
    let results = store::command(config, |store| async move { Ok(store.import(rows).await?) })?;
    tracing::debug!(
        "import: {} rows stored in {:?}",
        unique.len(),
        started.elapsed()
    );
    let mut stored = Vec::new();
    for (r, new) in results.iter().zip(unique) {
        match r {
            store::Imported::Stored(s) => stored.push(format!("{}  {}", s.reference, new.unit)),
            store::Imported::Already(reference) => skipped.push(format!(
                "跳过：{}（已导入或已提交，参考号 {reference}）",
                new.unit
            )),
        }
    }
    let mut out = format!(
        "已导入 {} 行到《{}》{}：\n",
        stored.len(),
        def.title,
        if def.is_late(now) && !stored.is_empty() {
            "（已过截止日期，标记为逾期）"
        } else {
            ""
        }
    );
    for line in stored.iter().chain(&skipped) {
        out.push_str(line);
        out.push('\n');
    }
    let queued = unique
        .first()
        .map(|s| usize::from(!s.recipients.is_empty()) + s.faxes.len())
        .unwrap_or(0);
    if queued > 0 && !stored.is_empty() {
        out.push_str(
            "通知已排入发送队列，由运行中的 gazette intake 或 gazette serve 发送（gazette outbox 可查看）。\n",
        );
    }
    Ok(out)
}

/// How many problems a refusal lists (a huge bad file gave more error text
/// than its own size).
const MAX_LISTED: usize = 200;

/// Every problem, one line each, and that nothing was imported.
fn refusal(title: &str, file: &Path, errors: &[CellError]) -> String {
    let mut text = format!(
        "{} 不能导入《{}》，发现 {} 处问题，没有导入任何数据：\n",
        file.display(),
        title,
        errors.len()
    );
    for e in errors.iter().take(MAX_LISTED) {
        text.push_str(&e.to_string());
        text.push('\n');
    }
    if errors.len() > MAX_LISTED {
        text.push_str(&format!(
            "……另有 {} 处问题未列出。请先改正以上问题，再导入一次。\n",
            errors.len() - MAX_LISTED
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_is_china_time() {
        let ms = chrono::DateTime::parse_from_rfc3339("2016-07-20T02:31:00Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(received_text(ms), "2016-07-20 10:31");
    }

    #[test]
    fn a_refusal_lists_at_most_so_many_problems() {
        let errors: Vec<CellError> = (0..5000)
            .map(|i| CellError {
                row: i + 2,
                col: 1,
                label: "单位名称".into(),
                message: "请填写“单位名称”。".into(),
            })
            .collect();
        let text = refusal("表", Path::new("a.xlsx"), &errors);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), MAX_LISTED + 2, "{}", lines.len());
        assert!(lines[0].contains("发现 5000 处问题"), "{}", lines[0]);
        assert!(
            lines[lines.len() - 1].contains("另有 4800 处问题未列出"),
            "{text}"
        );
        let few = refusal("表", Path::new("a.xlsx"), &errors[..3]);
        assert_eq!(few.lines().count(), 4);
    }

    #[test]
    fn formats_parse() {
        assert_eq!("CSV".parse::<Format>(), Ok(Format::Csv));
        assert_eq!("xlsx".parse::<Format>(), Ok(Format::Xlsx));
        assert!("pdf".parse::<Format>().is_err());
    }
}
