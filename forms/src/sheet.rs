//! Spreadsheets: the blank form people download, the 一览表 export, CSV,
//! and reading a filled-in form back through the same validation.

use crate::def::{Field, FormDef, Kind};
use crate::validate::{Answers, Value};
use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::{
    DataValidation, DataValidationErrorStyle, DataValidationRule, DocProperties, ExcelDateTime,
    Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};
use std::io::Cursor;
use unicode_normalization::UnicodeNormalization;

/// Characters that separate several choices in one cell of a `multi` column.
pub(crate) const MULTI_SEPARATORS: [char; 7] = ['、', ',', '，', ';', '；', '\n', '\r'];

/// Formatted empty rows in the blank form.
pub(crate) const BLANK_ROWS: u32 = 50;

/// Name of the instructions sheet.
pub(crate) const INSTRUCTIONS_SHEET: &str = "填写说明";

/// The extra columns of an export, around the form's own.
const EXPORT_LEAD: [&str; 2] = ["序号", "参考编号"];
const EXPORT_TAIL: [&str; 3] = ["接收时间", "是否逾期", "处理状态"];

/// Rows above the data: the title, then the header.
const TITLE_ROW: u32 = 0;
const HEADER_ROW: u32 = 1;
const FIRST_DATA_ROW: u32 = 2;

/// One stored return, as the export lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRow {
    pub reference: String,
    /// Already formatted for people, e.g. 2016-07-20 09:30.
    pub received: String,
    pub late: bool,
    pub status: String,
    pub answers: Answers,
}

/// A problem in an uploaded spreadsheet, placed where Excel shows it.
/// `row` and `col` are 1-based; 0 means the problem is not in one cell
/// (an unreadable file, a missing column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellError {
    pub row: usize,
    pub col: usize,
    pub label: String,
    pub message: String,
}

impl std::fmt::Display for CellError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.row == 0 || self.col == 0 {
            f.write_str(&self.message)
        } else {
            write!(
                f,
                "第 {} 行 第 {} 列 ({}): {}",
                self.row, self.col, self.label, self.message
            )
        }
    }
}

impl std::error::Error for CellError {}

#[path = "sheet_formats.rs"]
mod formats;

/// How a header cell is compared with a label: NFKC, no spaces, no *
/// marks and no (必填) note, so edited headers still match.
pub(crate) fn header_key(text: &str) -> String {
    let s: String = text
        .nfkc()
        .filter(|c| !c.is_whitespace() && *c != '*')
        .collect();
    s.replace("(必填)", "").replace("(选填)", "")
}

/// Excel forbids these in sheet names, and limits them to 31 characters.
fn sheet_name(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(31)
        .collect();
    let cleaned = cleaned.trim_matches('\'').trim().to_string();
    if cleaned.is_empty() || cleaned == INSTRUCTIONS_SHEET {
        "表1".to_string()
    } else {
        cleaned
    }
}

fn column_width(field: &Field) -> f64 {
    if let Some(width) = field.width {
        return width;
    }
    let by_kind: f64 = match field.kind {
        Kind::Text => 20.0,
        Kind::Textarea => 30.0,
        Kind::Select | Kind::Radio => 12.0,
        Kind::Multi => 18.0,
        Kind::Email => 24.0,
        Kind::Mobile => 14.0,
        Kind::Phone => 16.0,
        Kind::Postcode => 10.0,
        Kind::Uscc => 22.0,
        Kind::Docnum => 24.0,
        Kind::Date => 12.0,
        Kind::Idcard => 22.0,
    };
    // Chinese characters are about two columns wide.
    let label = (field.label.chars().count() * 2 + 3) as f64;
    by_kind.max(label)
}

fn header_text(field: &Field) -> String {
    if field.required {
        format!("*{}", field.label)
    } else {
        field.label.clone()
    }
}

/// One line on what a field wants, for the instructions sheet and the
/// message Excel shows when a cell is selected.
fn field_instruction(field: &Field) -> String {
    let mut text = match field.kind {
        Kind::Select | Kind::Radio => {
            format!("从下拉列表中选择一项：{}", field.options.join("、"))
        }
        Kind::Multi => format!("可选多项，多项之间用“、”分隔：{}", field.options.join("、")),
        kind => kind.expectation(field.example()),
    };
    if let Some(max) = field.max_length {
        if matches!(field.kind, Kind::Text | Kind::Textarea | Kind::Docnum) {
            text.push_str(&format!("；不超过 {max} 个字"));
        }
    }
    if !field.help.trim().is_empty() {
        text.push('；');
        text.push_str(field.help.trim());
    }
    text
}

fn truncate_chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Fixed so the site build gives the same bytes every time: the notice's
/// date of issue.
fn fixed_properties(title: &str) -> Result<DocProperties, XlsxError> {
    let created = ExcelDateTime::from_ymd(2016, 7, 15)?;
    Ok(DocProperties::new()
        .set_title(title)
        .set_creation_datetime(&created))
}

struct Formats {
    title: Format,
    header: Format,
    cell: Format,
    wrap: Format,
}

fn formats() -> Formats {
    let border = Format::new().set_border(FormatBorder::Thin);
    Formats {
        title: Format::new()
            .set_bold()
            .set_font_size(16)
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter),
        header: border
            .clone()
            .set_bold()
            .set_text_wrap()
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter)
            .set_background_color(0xD9E1F2),
        // Text (@) so Excel keeps codes, phone numbers and dates as typed:
        // no lost leading zeros, no 1.14417E+17, no date conversion.
        cell: border
            .clone()
            .set_num_format("@")
            .set_align(FormatAlign::VerticalCenter),
        wrap: border
            .set_num_format("@")
            .set_text_wrap()
            .set_align(FormatAlign::VerticalCenter),
    }
}

fn write_title(
    ws: &mut Worksheet,
    title: &str,
    columns: u16,
    format: &Format,
) -> Result<(), XlsxError> {
    ws.set_row_height(TITLE_ROW, 32)?;
    if columns > 1 {
        ws.merge_range(TITLE_ROW, 0, TITLE_ROW, columns - 1, title, format)?;
    } else {
        ws.write_string_with_format(TITLE_ROW, 0, title, format)?;
    }
    Ok(())
}

/// Printed as it is, a sheet gives a table to read or fill in by hand: A4
/// landscape, the used columns on one page width, the title and header
/// rows on every page, the grid, page numbers, and `header` (Excel's
/// header codes) at the top of every page.
fn print_setup(
    ws: &mut Worksheet,
    columns: u16,
    last_row: u32,
    header: &str,
) -> Result<(), XlsxError> {
    ws.set_landscape();
    ws.set_paper_size(9); // A4
    ws.set_print_area(TITLE_ROW, 0, last_row, columns.max(1) - 1)?;
    ws.set_print_fit_to_pages(1, 0);
    ws.set_print_gridlines(true);
    ws.set_print_center_horizontally(true);
    ws.set_repeat_rows(TITLE_ROW, HEADER_ROW)?;
    ws.set_freeze_panes(FIRST_DATA_ROW, 0)?;
    // Inches: room at the top for the header line.
    ws.set_margins(0.4, 0.4, 0.9, 0.7, 0.35, 0.3);
    ws.set_header(header);
    ws.set_footer("&C第 &P 页，共 &N 页");
    Ok(())
}

/// The page header of the blank form: 附件N on the left, the 填报单位（盖章）
/// and date line on the right. A header, not a row: the read side finds
/// the labels in the first rows and takes every row below them as data.
fn blank_header(def: &FormDef) -> String {
    let annex = def.annex.map(|n| format!("附件{n}")).unwrap_or_default();
    format!(
        "&L{annex}&R填报单位（盖章）：＿＿＿＿＿＿＿＿＿＿＿＿　填报日期：＿＿＿＿年＿＿月＿＿日"
    )
}

/// The form sheet: title, header, formatted rows (with `filled` values
/// written in, which tests use to play the person filling it in).
fn write_form_sheet(
    ws: &mut Worksheet,
    def: &FormDef,
    filled: &[Vec<String>],
) -> Result<(), XlsxError> {
    let f = formats();
    let columns = def.fields.len() as u16;
    ws.set_name(sheet_name(&def.title))?;
    write_title(ws, &def.title, columns, &f.title)?;
    ws.set_row_height(HEADER_ROW, 30)?;
    let rows = BLANK_ROWS.max(filled.len() as u32);
    let last_row = FIRST_DATA_ROW + rows - 1;
    // Tall enough to write in by hand once printed.
    for r in FIRST_DATA_ROW..=last_row {
        ws.set_row_height(r, 24)?;
    }
    for (i, field) in def.fields.iter().enumerate() {
        let col = i as u16;
        ws.set_column_width(col, column_width(field))?;
        ws.write_string_with_format(HEADER_ROW, col, header_text(field), &f.header)?;
        let cell = if field.kind == Kind::Textarea {
            &f.wrap
        } else {
            &f.cell
        };
        // Beyond the formatted rows the column is still text.
        ws.set_column_format(col, &f.cell)?;
        for r in 0..rows {
            let value = filled.get(r as usize).and_then(|row| row.get(i));
            match value {
                Some(v) if !v.is_empty() => {
                    ws.write_string_with_format(FIRST_DATA_ROW + r, col, v, cell)?
                }
                _ => ws.write_blank(FIRST_DATA_ROW + r, col, cell)?,
            };
        }
        let prompt = truncate_chars(&field_instruction(field), 255);
        let title = truncate_chars(&field.label, 32);
        let validation = match field.kind {
            Kind::Select | Kind::Radio
                if field
                    .options
                    .iter()
                    .map(|o| o.chars().count() + 1)
                    .sum::<usize>()
                    <= 255 =>
            {
                DataValidation::new()
                    .allow_list_strings(&field.options)?
                    .set_error_title(truncate_chars(&field.label, 32))?
                    .set_error_message(truncate_chars(
                        &format!("请从下拉列表中选择：{}", field.options.join("、")),
                        255,
                    ))?
            }
            // Warn, not stop: the server gives the precise reason. A
            // 组织机构代码 (9 characters, 10 with its hyphen) is taken too.
            Kind::Uscc => DataValidation::new()
                .allow_custom(
                    format!(
                        "OR(LEN({cell})=18,LEN({cell})=9,LEN({cell})=10)",
                        cell = rust_xlsxwriter::utility::row_col_to_cell(FIRST_DATA_ROW, col)
                    )
                    .as_str()
                    .into(),
                )
                .set_error_style(DataValidationErrorStyle::Warning)
                .set_error_title(title.clone())?
                .set_error_message(
                    "统一社会信用代码应为 18 位；尚未取得的单位填写 9 位组织机构代码。",
                )?,
            Kind::Idcard => DataValidation::new()
                .allow_text_length(DataValidationRule::EqualTo(18))
                .set_error_style(DataValidationErrorStyle::Warning)
                .set_error_title(title.clone())?
                .set_error_message("居民身份证号应为 18 位。")?,
            Kind::Postcode => DataValidation::new()
                .allow_text_length(DataValidationRule::EqualTo(6))
                .set_error_style(DataValidationErrorStyle::Warning)
                .set_error_title(title.clone())?
                .set_error_message("邮政编码应为 6 位数字。")?,
            _ => DataValidation::new().allow_any_value(),
        };
        let validation = validation
            .set_input_title(title)?
            .set_input_message(prompt)?;
        ws.add_data_validation(FIRST_DATA_ROW, col, last_row, col, &validation)?;
    }
    print_setup(ws, columns, last_row, &blank_header(def))
}

fn write_instructions(
    ws: &mut Worksheet,
    def: &FormDef,
    instructions: &[String],
) -> Result<(), XlsxError> {
    let f = formats();
    let plain_wrap = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    ws.set_name(INSTRUCTIONS_SHEET)?;
    ws.set_column_width(0, 22)?;
    ws.set_column_width(1, 10)?;
    ws.set_column_width(2, 80)?;
    write_title(ws, &format!("{} 填写说明", def.title), 3, &f.title)?;
    let mut row = 1;
    for line in instructions {
        ws.merge_range(row, 0, row, 2, line, &plain_wrap)?;
        // Long lines wrap over the merged width; give them room.
        let lines = line.chars().count() / 50 + 1;
        ws.set_row_height(row, 15.0 * lines as f64 + 3.0)?;
        row += 1;
    }
    row += 1;
    for (col, text) in ["栏目", "是否必填", "填写要求"].iter().enumerate() {
        ws.write_string_with_format(row, col as u16, *text, &f.header)?;
    }
    for field in &def.fields {
        row += 1;
        ws.write_string_with_format(row, 0, &field.label, &f.wrap)?;
        ws.write_string_with_format(
            row,
            1,
            if field.required { "必填" } else { "选填" },
            &f.wrap,
        )?;
        ws.write_string_with_format(row, 2, field_instruction(field), &f.wrap)?;
    }
    ws.set_paper_size(9);
    ws.set_print_area(0, 0, row, 2)?;
    ws.set_print_fit_to_pages(1, 0);
    Ok(())
}

pub(crate) fn build_form_workbook(
    def: &FormDef,
    instructions: &[String],
    filled: &[Vec<String>],
) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    workbook.set_properties(&fixed_properties(&def.title)?);
    write_form_sheet(workbook.add_worksheet(), def, filled)?;
    write_instructions(workbook.add_worksheet(), def, instructions)?;
    workbook.save_to_buffer()
}

/// The blank form to download: the form sheet (title, header with required
/// columns marked *, drop-downs, text-formatted cells) and a 填写说明 sheet
/// with `instructions` and one line per field. Same input, same bytes.
pub fn blank_xlsx(def: &FormDef, instructions: &[String]) -> Result<Vec<u8>, String> {
    build_form_workbook(def, instructions, &[]).map_err(|e| e.to_string())
}

fn export_header(def: &FormDef) -> Vec<String> {
    EXPORT_LEAD
        .iter()
        .map(|s| s.to_string())
        .chain(def.fields.iter().map(|f| f.label.clone()))
        .chain(EXPORT_TAIL.iter().map(|s| s.to_string()))
        .collect()
}

/// The cells of one export row after 序号.
fn export_cells(def: &FormDef, row: &ExportRow) -> Vec<String> {
    let mut cells = vec![row.reference.clone()];
    cells.extend(def.fields.iter().map(|f| {
        row.answers
            .get(&f.name)
            .map(Value::display)
            .unwrap_or_default()
    }));
    cells.push(row.received.clone());
    cells.push(if row.late { "是" } else { "否" }.to_string());
    cells.push(row.status.clone());
    cells
}

/// The 一览表: title, header (序号, 参考编号, the labels, 接收时间, 是否逾期,
/// 处理状态), one row per return. Everything but 序号 is written as text, so
/// codes and numbers stay exactly as stored.
pub fn export_xlsx(def: &FormDef, rows: &[ExportRow]) -> Result<Vec<u8>, String> {
    build_export(def, rows).map_err(|e| e.to_string())
}

fn build_export(def: &FormDef, rows: &[ExportRow]) -> Result<Vec<u8>, XlsxError> {
    let f = formats();
    let mut workbook = Workbook::new();
    workbook.set_properties(&DocProperties::new().set_title(format!("{}（汇总）", def.title)));
    let ws = workbook.add_worksheet();
    ws.set_name(sheet_name(&def.title))?;
    let header = export_header(def);
    let columns = header.len() as u16;
    write_title(ws, &def.title, columns, &f.title)?;
    ws.set_row_height(HEADER_ROW, 30)?;
    for (col, text) in header.iter().enumerate() {
        ws.write_string_with_format(HEADER_ROW, col as u16, text, &f.header)?;
    }
    ws.set_column_width(0, 6)?;
    ws.set_column_width(1, 12)?;
    for (i, field) in def.fields.iter().enumerate() {
        ws.set_column_width(i as u16 + 2, column_width(field))?;
    }
    let tail = def.fields.len() as u16 + 2;
    ws.set_column_width(tail, 18)?;
    ws.set_column_width(tail + 1, 10)?;
    ws.set_column_width(tail + 2, 12)?;
    let number = Format::new()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    for (i, row) in rows.iter().enumerate() {
        let r = FIRST_DATA_ROW + i as u32;
        ws.write_number_with_format(r, 0, (i + 1) as f64, &number)?;
        for (j, cell) in export_cells(def, row).iter().enumerate() {
            let format = match def.fields.get(j.wrapping_sub(1)) {
                Some(field) if field.kind == Kind::Textarea => &f.wrap,
                _ => &f.cell,
            };
            ws.write_string_with_format(r, j as u16 + 1, cell, format)?;
        }
    }
    let last = FIRST_DATA_ROW + (rows.len() as u32).max(1) - 1;
    ws.autofilter(HEADER_ROW, 0, last, columns - 1)?;
    let annex = def.annex.map(|n| format!("附件{n}")).unwrap_or_default();
    print_setup(ws, columns, last, &format!("&L{annex}&R汇总"))?;
    workbook.save_to_buffer()
}

/// One CSV cell: ' before anything a spreadsheet would run as a formula,
/// then RFC 4180 quoting.
fn csv_cell(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// The same table as CSV for Excel: UTF-8 with BOM, CRLF line ends.
pub fn export_csv(def: &FormDef, rows: &[ExportRow]) -> String {
    let mut out = String::from("\u{FEFF}");
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .map(|c| csv_cell(c))
            .collect::<Vec<_>>()
            .join(",")
            + "\r\n"
    };
    out.push_str(&line(export_header(def)));
    for (i, row) in rows.iter().enumerate() {
        let mut cells = vec![(i + 1).to_string()];
        cells.extend(export_cells(def, row));
        out.push_str(&line(cells));
    }
    out
}

/// Where the form's columns are in an uploaded workbook.
struct Layout {
    sheet: usize,
    /// 0-based absolute row of the header.
    header_row: u32,
    /// Per field, the 0-based absolute column, if present.
    columns: Vec<Option<u32>>,
    /// Labels found more than once: (label, first col, other col).
    duplicates: Vec<(String, u32, u32)>,
}

/// Header rows are looked for this far down (the title may take a row or two).
const HEADER_SEARCH_ROWS: u32 = 3;

fn cell_text(data: &Data) -> String {
    match data {
        Data::String(s) => s.clone(),
        Data::Float(f) => number_text(*f),
        Data::Int(i) => i.to_string(),
        Data::DateTime(dt) => serial_date(dt.as_f64()).unwrap_or_else(|| number_text(dt.as_f64())),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Bool(b) => b.to_string(),
        Data::Error(_) | Data::Empty => String::new(),
    }
}

/// A number as people typed it: 13800138000, not 13800138000.0.
fn number_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// An Excel serial day number (1900 system) as an ISO date.
fn serial_date(serial: f64) -> Option<String> {
    if !(61.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let base = chrono::NaiveDate::from_ymd_opt(1899, 12, 30)?;
    let date = base.checked_add_days(chrono::Days::new(serial.floor() as u64))?;
    Some(date.format("%Y-%m-%d").to_string())
}

fn find_layout(def: &FormDef, sheets: &[(String, calamine::Range<Data>)]) -> Option<Layout> {
    let keys: Vec<String> = def.fields.iter().map(|f| header_key(&f.label)).collect();
    let mut best: Option<(usize, Layout)> = None;
    for (index, (_, range)) in sheets.iter().enumerate() {
        let (Some((top, left)), Some((bottom, right))) = (range.start(), range.end()) else {
            continue;
        };
        for row in top..=bottom.min(HEADER_SEARCH_ROWS - 1) {
            let mut columns = vec![None; keys.len()];
            let mut duplicates = Vec::new();
            for col in left..=right {
                let Some(data) = range.get_value((row, col)) else {
                    continue;
                };
                let key = header_key(&cell_text(data));
                if key.is_empty() {
                    continue;
                }
                if let Some(i) = keys.iter().position(|k| *k == key) {
                    match columns[i] {
                        None => columns[i] = Some(col),
                        Some(first) => duplicates.push((def.fields[i].label.clone(), first, col)),
                    }
                }
            }
            let score = columns.iter().filter(|c| c.is_some()).count();
            if score > 0 && best.as_ref().is_none_or(|(s, _)| score > *s) {
                best = Some((
                    score,
                    Layout {
                        sheet: index,
                        header_row: row,
                        columns,
                        duplicates,
                    },
                ));
            }
        }
    }
    best.map(|(_, layout)| layout)
}

fn file_error(message: impl Into<String>) -> CellError {
    CellError {
        row: 0,
        col: 0,
        label: String::new(),
        message: message.into(),
    }
}

/// A cell turned into the form values it holds, or a message for the cell.
fn cell_values(field: &Field, data: &Data) -> Result<Vec<String>, String> {
    let numeric = matches!(data, Data::Float(_) | Data::Int(_));
    match data {
        Data::Error(e) => {
            return Err(format!(
                "“{}”单元格是错误值 {e}，请改为实际内容。",
                field.label
            ))
        }
        Data::Empty => return Ok(Vec::new()),
        _ => {}
    }
    let mut text = cell_text(data);
    if numeric && matches!(field.kind, Kind::Uscc | Kind::Idcard) {
        // Excel keeps 15 significant digits; an all-digit code saved as a
        // number has lost its tail and cannot be recovered.
        return Err(format!(
            "“{}”被 Excel 当作数字保存，后几位可能已经丢失。请把这一列设为“文本”格式，重新填写完整的 18 位代码。",
            field.label
        ));
    }
    if numeric
        && field.kind == Kind::Phone
        && !text.starts_with('0')
        && (9..=11).contains(&text.len())
    {
        // Area codes start with 0, which a number cell drops.
        text.insert(0, '0');
    }
    if field.kind == Kind::Date {
        if let Data::DateTimeIso(s) = data {
            text = s.chars().take(10).collect();
        }
    }
    if field.kind == Kind::Multi {
        return Ok(text
            .split(MULTI_SEPARATORS)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect());
    }
    Ok(vec![text])
}

fn is_blank(data: Option<&Data>) -> bool {
    match data {
        None | Some(Data::Empty) => true,
        Some(Data::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

/// The largest sheet [`read_xlsx`] reads (far more than any form's rows; a
/// file of 60,000 returns imports in one go).
pub const MAX_ROWS: u32 = 100_000;
/// The widest sheet [`read_xlsx`] reads.
pub const MAX_COLUMNS: u32 = 200;

/// Streams one sheet's cells with content to `keep`, refused when one lies
/// beyond [`MAX_ROWS`] or [`MAX_COLUMNS`] (only the first `rows` rows if
/// given, where cells beyond the columns are passed over).
fn stream_sheet<RS: std::io::Read + std::io::Seek>(
    workbook: &mut Xlsx<RS>,
    name: &str,
    rows: Option<u32>,
    mut keep: impl FnMut(u32, u32, Data),
) -> Result<(), CellError> {
    let unreadable = |_| {
        file_error(format!(
            "无法读取工作表“{name}”：文件可能已损坏，请用 Excel 或 WPS 重新保存后再上传。"
        ))
    };
    let mut reader = workbook.worksheet_cells_reader(name).map_err(unreadable)?;
    while let Some(cell) = reader.next_cell().map_err(unreadable)? {
        let (row, col) = cell.get_position();
        if rows.is_some_and(|n| row >= n) {
            break;
        }
        if matches!(cell.get_value(), calamine::DataRef::Empty) {
            continue;
        }
        if rows.is_some() && col >= MAX_COLUMNS {
            // Looking for the header: the full read refuses it.
            continue;
        }
        if row >= MAX_ROWS || col >= MAX_COLUMNS {
            return Err(file_error(format!(
                "工作表“{name}”太大：最多读取 {MAX_ROWS} 行、{MAX_COLUMNS} 列，但第 {} 行第 {} 列还有内容。请删除表格以外的内容，或把数据分成几个文件上传。",
                row + 1,
                col + 1
            )));
        }
        keep(row, col, Data::from(cell.get_value().clone()));
    }
    Ok(())
}

/// The first `rows` rows of a sheet, as a grid (at most `rows` ×
/// [`MAX_COLUMNS`] cells).
fn load_head<RS: std::io::Read + std::io::Seek>(
    workbook: &mut Xlsx<RS>,
    name: &str,
    rows: u32,
) -> Result<calamine::Range<Data>, CellError> {
    let mut cells = Vec::new();
    stream_sheet(workbook, name, Some(rows), |row, col, data| {
        cells.push(calamine::Cell::new((row, col), data));
    })?;
    Ok(calamine::Range::from_sparse(cells))
}

/// The form's cells below the header, row by row in field order: only the
/// form's columns are kept, so memory follows what the file holds, never
/// the sheet's extent.
fn load_rows<RS: std::io::Read + std::io::Seek>(
    workbook: &mut Xlsx<RS>,
    name: &str,
    layout: &Layout,
) -> Result<std::collections::BTreeMap<u32, Vec<Option<Data>>>, CellError> {
    let mut field_of = std::collections::HashMap::new();
    for (i, c) in layout.columns.iter().enumerate() {
        if let Some(c) = c {
            field_of.insert(*c, i);
        }
    }
    let width = layout.columns.len();
    let mut rows = std::collections::BTreeMap::new();
    stream_sheet(workbook, name, None, |row, col, data| {
        if row <= layout.header_row {
            return;
        }
        if let Some(&i) = field_of.get(&col) {
            let cells: &mut Vec<Option<Data>> =
                rows.entry(row).or_insert_with(|| vec![None; width]);
            cells[i] = Some(data);
        }
    })?;
    Ok(rows)
}

/// Reads a filled-in form: finds the sheet and header row with the form's
/// labels (any sheet, any column order, header in one of the first rows),
/// skips blank rows, and runs every row through `FormDef::validate`. Any
/// problem in any row fails the whole file, each placed at its cell; an
/// empty table gives `Ok(vec![])`.
pub fn read_xlsx(def: &FormDef, bytes: &[u8]) -> Result<Vec<Answers>, Vec<CellError>> {
    // The spreadsheet library panics on some damaged files (an index out of
    // bounds in its cell reader, found by the fuzz target below): such a
    // file is refused as damaged, never a crash of whoever reads it.
    match std::panic::catch_unwind(|| read_xlsx_unchecked(def, bytes)) {
        Ok(result) => result,
        Err(_) => Err(vec![file_error(
            "无法读取这个文件：文件可能已损坏，请用 Excel 或 WPS 重新保存后再上传。",
        )]),
    }
}

fn read_xlsx_unchecked(def: &FormDef, bytes: &[u8]) -> Result<Vec<Answers>, Vec<CellError>> {
    let mut workbook: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).map_err(|_| {
        vec![file_error(
            "无法读取这个文件：请上传用 Excel 或 WPS 保存的 .xlsx 文件（可先下载本表的空白模板填写）。",
        )]
    })?;
    // Only the first rows of each sheet to find the header, then only the
    // form's sheet, cell by cell with its size checked: a dense grid of a
    // crafted file's far-away cell would take gigabytes.
    let mut heads = Vec::new();
    for name in workbook.sheet_names() {
        let head = load_head(&mut workbook, &name, HEADER_SEARCH_ROWS).map_err(|e| vec![e])?;
        heads.push((name, head));
    }
    let Some(layout) = find_layout(def, &heads) else {
        return Err(no_header(def));
    };
    let name = heads[layout.sheet].0.clone();
    drop(heads);
    let rows = load_rows(&mut workbook, &name, &layout).map_err(|e| vec![e])?;
    read_rows(def, &layout, &rows)
}

fn no_header(def: &FormDef) -> Vec<CellError> {
    vec![file_error(format!(
        "找不到“{}”的表头：第 1 或第 2 行应为栏目名称，如“{}”。请使用本表的空白模板填写。",
        def.title,
        def.fields
            .first()
            .map(|f| f.label.as_str())
            .unwrap_or_default()
    ))]
}

/// Reads a filled-in form saved as `.xlsx`, `.xls` (WPS's `.et` is one) or
/// `.ods`, told apart by content, not name, exactly as [`read_xlsx`] does.
/// `.xls` and `.ods` are checked against [`MAX_ROWS`] × [`MAX_COLUMNS`]
/// before calamine, which loads all their sheets at once, builds anything.
pub fn read_table(def: &FormDef, bytes: &[u8]) -> Result<Vec<Answers>, Vec<CellError>> {
    let sheets = match formats::sniff(bytes) {
        formats::Format::Xlsx => return read_xlsx(def, bytes),
        formats::Format::Unknown => {
            return Err(vec![file_error(
                "无法读取这个文件：请上传用 Excel 或 WPS 保存的表格（.xlsx、.xls、.et 或 .ods），可先下载本表的空白模板填写。",
            )])
        }
        formats::Format::Ods => {
            formats::check_ods(bytes).map_err(|e| vec![e])?;
            calamine::open_workbook_from_rs::<calamine::Ods<_>, _>(Cursor::new(bytes))
                .map(|mut wb| wb.worksheets())
                .map_err(|_| vec![file_error("无法读取这个 .ods 文件：文件可能已损坏，请用 WPS 或 LibreOffice 重新保存后再上传。")])?
        }
        formats::Format::Xls => {
            formats::check_xls(bytes).map_err(|e| vec![e])?;
            calamine::open_workbook_from_rs::<calamine::Xls<_>, _>(Cursor::new(bytes))
                .map(|mut wb| wb.worksheets())
                .map_err(|_| vec![file_error("无法读取这个 .xls 文件：文件可能已损坏，请用 Excel 或 WPS 重新保存后再上传。")])?
        }
    };
    for (name, range) in &sheets {
        if let Some((row, col)) = range.end() {
            if row >= MAX_ROWS || col >= MAX_COLUMNS {
                return Err(vec![file_error(format!(
                    "工作表“{name}”太大：最多读取 {MAX_ROWS} 行、{MAX_COLUMNS} 列，但第 {} 行第 {} 列还有内容。请删除表格以外的内容，或把数据分成几个文件上传。",
                    row + 1,
                    col + 1
                ))]);
            }
        }
    }
    let Some(layout) = find_layout(def, &sheets) else {
        return Err(no_header(def));
    };
    let rows = rows_of(&layout, &sheets[layout.sheet].1);
    read_rows(def, &layout, &rows)
}

/// A loaded sheet's cells below the header, in field order, as
/// [`load_rows`] streams them from an `.xlsx`.
fn rows_of(layout: &Layout, range: &calamine::Range<Data>) -> Rows {
    let (top, left) = range.start().unwrap_or((0, 0));
    let mut rows = Rows::new();
    for (r, c, data) in range.used_cells() {
        let (row, col) = (top + r as u32, left + c as u32);
        if row <= layout.header_row {
            continue;
        }
        if let Some(i) = layout.columns.iter().position(|&f| f == Some(col)) {
            rows.entry(row)
                .or_insert_with(|| vec![None; layout.columns.len()])[i] = Some(data.clone());
        }
    }
    rows
}

/// A form's cells below its header: row → one cell per field.
type Rows = std::collections::BTreeMap<u32, Vec<Option<Data>>>;

/// Every row under the header found, validated; all or nothing.
fn read_rows(def: &FormDef, layout: &Layout, rows: &Rows) -> Result<Vec<Answers>, Vec<CellError>> {
    let header_row = layout.header_row as usize + 1;

    let mut errors: Vec<CellError> = layout
        .duplicates
        .iter()
        .map(|(label, first, other)| CellError {
            row: header_row,
            col: *other as usize + 1,
            label: label.clone(),
            message: format!(
                "“{label}”列出现了不止一次（第 {} 列和第 {} 列），请只保留一列。",
                first + 1,
                other + 1
            ),
        })
        .collect();
    for (field, col) in def.fields.iter().zip(&layout.columns) {
        if col.is_none() && field.required {
            errors.push(CellError {
                row: 0,
                col: 0,
                label: field.label.clone(),
                message: format!(
                    "表格缺少“{}”列（表头在第 {header_row} 行）。请使用本表的空白模板，不要删除或改名栏目。",
                    field.label
                ),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    let mut all = Vec::new();
    for (&row, cells) in rows {
        let cells: Vec<Option<&Data>> = cells.iter().map(Option::as_ref).collect();
        if cells.iter().all(|c| is_blank(*c)) {
            continue;
        }
        let mut pairs = Vec::new();
        let mut cell_failed = vec![false; def.fields.len()];
        for (i, field) in def.fields.iter().enumerate() {
            let (Some(col), Some(data)) = (layout.columns[i], cells[i]) else {
                continue;
            };
            match cell_values(field, data) {
                Ok(values) => pairs.extend(values.into_iter().map(|v| (field.name.clone(), v))),
                Err(message) => {
                    cell_failed[i] = true;
                    errors.push(CellError {
                        row: row as usize + 1,
                        col: col as usize + 1,
                        label: field.label.clone(),
                        message,
                    });
                }
            }
        }
        match def.validate(&pairs) {
            Ok(answers) if !cell_failed.contains(&true) => all.push(answers),
            Ok(_) => {}
            Err(found) => {
                for e in found.0 {
                    let Some(i) = def.fields.iter().position(|f| f.name == e.field) else {
                        continue;
                    };
                    if cell_failed[i] {
                        continue;
                    }
                    errors.push(CellError {
                        row: row as usize + 1,
                        col: layout.columns[i].map(|c| c as usize + 1).unwrap_or(0),
                        label: e.label,
                        message: e.message,
                    });
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(all)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::def::AfterDeadline;
    use calamine::Reader;
    use chrono::NaiveDate;

    fn field(name: &str, label: &str, kind: Kind, required: bool, options: &[&str]) -> Field {
        Field {
            name: name.into(),
            label: label.into(),
            kind,
            required,
            max_length: None,
            options: options.iter().map(|s| s.to_string()).collect(),
            help: String::new(),
            width: None,
            local_area: None,
            example: None,
        }
    }

    /// Every kind once, a mix of required and optional.
    fn def() -> FormDef {
        FormDef {
            id: "sample".into(),
            title: "市属评委会信息一览表".into(),
            annex: Some(2),
            description: String::new(),
            deadline: NaiveDate::from_ymd_opt(2016, 7, 27),
            after_deadline: AfterDeadline::Accept,
            recipients: vec![],
            fields: vec![
                field("name", "评委会全称", Kind::Text, true, &[]),
                field("uscc", "统一社会信用代码", Kind::Uscc, true, &[]),
                field(
                    "kind",
                    "单位类型",
                    Kind::Select,
                    true,
                    &["机关", "事业单位"],
                ),
                field(
                    "levels",
                    "评审级别",
                    Kind::Multi,
                    true,
                    &["初级", "中级", "副高级", "正高级"],
                ),
                field("phone", "办公电话", Kind::Phone, true, &[]),
                field("mobile", "手机", Kind::Mobile, false, &[]),
                field("postcode", "邮政编码", Kind::Postcode, false, &[]),
                field("email", "电子邮箱", Kind::Email, false, &[]),
                field("docnum", "核准/备案文号", Kind::Docnum, false, &[]),
                field("date", "核准日期", Kind::Date, false, &[]),
                field("remarks", "备注", Kind::Textarea, false, &[]),
            ],
        }
    }

    fn row(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| s.to_string()).collect()
    }

    const ROW_A: [&str; 11] = [
        "梅州市卫生系列高级职称评审委员会",
        "11441700007280420Y",
        "事业单位",
        "副高级、正高级",
        "0753-2128309",
        "13800138000",
        "514000",
        "office@example.com",
        "粤人社函〔2016〕12号",
        "2016-07-27",
        "第一行\n第二行",
    ];
    const ROW_B: [&str; 11] = [
        "梅州市工程系列中级职称评审委员会",
        "11441700007280420y",
        "机关",
        "中级",
        "(0753)2128309转12",
        "",
        "",
        "",
        "",
        "2016年7月1日",
        "",
    ];

    fn pairs_of(values: &[&str]) -> Vec<(String, String)> {
        let d = def();
        let mut out = Vec::new();
        for (f, v) in d.fields.iter().zip(values) {
            if f.kind == Kind::Multi {
                for part in v.split('、') {
                    out.push((f.name.clone(), part.to_string()));
                }
            } else {
                out.push((f.name.clone(), v.to_string()));
            }
        }
        out
    }

    fn open(bytes: &[u8]) -> Xlsx<Cursor<&[u8]>> {
        calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap()
    }

    fn string_at(range: &calamine::Range<Data>, row: u32, col: u32) -> String {
        range
            .get_value((row, col))
            .map(cell_text)
            .unwrap_or_default()
    }

    #[test]
    fn blank_form_layout() {
        let instructions = vec![
            "请于2016年7月27日前报送。".to_string(),
            "第二行说明".to_string(),
        ];
        let bytes = blank_xlsx(&def(), &instructions).unwrap();
        let mut wb = open(&bytes);
        assert_eq!(wb.sheet_names(), ["市属评委会信息一览表", "填写说明"]);
        let form = wb.worksheet_range("市属评委会信息一览表").unwrap();
        assert_eq!(string_at(&form, 0, 0), "市属评委会信息一览表");
        assert_eq!(string_at(&form, 1, 0), "*评委会全称");
        assert_eq!(string_at(&form, 1, 5), "手机");
        assert_eq!(string_at(&form, 1, 10), "备注");
        // Formatted blank rows (bordered text cells) reach down to BLANK_ROWS;
        // calamine leaves empty cells out, so look at the sheet itself.
        let xml = unzip_entry(&bytes, "xl/worksheets/sheet1.xml");
        assert!(xml.contains(r#"<c r="K52" s="#), "last formatted cell");
        assert!(!xml.contains(r#"<c r="K53""#));

        let help = wb.worksheet_range("填写说明").unwrap();
        let text: Vec<String> = help
            .rows()
            .flat_map(|r| r.iter().map(cell_text))
            .filter(|s| !s.is_empty())
            .collect();
        assert!(text.contains(&"请于2016年7月27日前报送。".to_string()));
        assert!(text.contains(&"第二行说明".to_string()));
        assert!(text.contains(&"统一社会信用代码".to_string()));
        assert!(text.contains(&"必填".to_string()));
        assert!(text.contains(&"选填".to_string()));
        assert!(text
            .iter()
            .any(|t| t.starts_with("可选多项") && t.contains("副高级")));
        assert!(text.iter().any(|t| t.contains("例如010-12345678")));
    }

    #[test]
    fn blank_form_has_text_cells_dropdowns_and_frozen_header() {
        let bytes = blank_xlsx(&def(), &[]).unwrap();
        let sheet = unzip_entry(&bytes, "xl/worksheets/sheet1.xml");
        assert!(
            sheet.contains(r#"<pane ySplit="2" topLeftCell="A3""#),
            "frozen header"
        );
        assert!(sheet.contains(r#"type="list""#), "drop-down for select");
        assert!(sheet.contains("&quot;机关,事业单位&quot;") || sheet.contains("\"机关,事业单位\""));
        assert!(sheet.contains("可选多项，多项之间用“、”分隔"));
        let styles = unzip_entry(&bytes, "xl/styles.xml");
        assert!(styles.contains(r#"formatCode="@""#), "text number format");
        let core = unzip_entry(&bytes, "docProps/core.xml");
        assert!(core.contains("2016-07-15T00:00:00Z"), "{core}");
    }

    #[test]
    fn blank_form_is_byte_for_byte_reproducible() {
        let a = blank_xlsx(&def(), &["说明".into()]).unwrap();
        let b = blank_xlsx(&def(), &["说明".into()]).unwrap();
        assert_eq!(a, b);
    }

    /// One part of the xlsx package, as text.
    fn unzip_entry(bytes: &[u8], name: &str) -> String {
        use std::io::Read;
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut text = String::new();
        archive
            .by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn filled_blank_form_round_trips() {
        let d = def();
        let bytes = build_form_workbook(&d, &[], &[row(&ROW_A), row(&[]), row(&ROW_B)]).unwrap();
        let read = read_xlsx(&d, &bytes).unwrap();
        let expected = vec![
            d.validate(&pairs_of(&ROW_A)).unwrap(),
            d.validate(&pairs_of(&ROW_B)).unwrap(),
        ];
        assert_eq!(read, expected);
        assert_eq!(
            read[0].get("levels"),
            Some(&Value::Many(vec!["副高级".into(), "正高级".into()]))
        );
        assert_eq!(
            read[1].get("phone"),
            Some(&Value::One("0753-2128309转12".into()))
        );
        assert_eq!(read[1].get("date"), Some(&Value::One("2016-07-01".into())));
    }

    #[test]
    fn errors_are_placed_at_their_cells() {
        let d = def();
        let mut bad = ROW_A;
        bad[1] = "11441700007280420X";
        bad[4] = "2128309";
        let bytes = build_form_workbook(&d, &[], &[row(&ROW_A), row(&bad)]).unwrap();
        let errors = read_xlsx(&d, &bytes).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        // Title row 1, header row 2, data from row 3: the bad row is row 4.
        assert_eq!((errors[0].row, errors[0].col), (4, 2));
        assert_eq!(errors[0].label, "统一社会信用代码");
        assert_eq!(
            errors[0].to_string(),
            "第 4 行 第 2 列 (统一社会信用代码): “统一社会信用代码”的校验位不正确：应为 18 位，最后一位是校验码，请核对营业执照或登记证书。"
        );
        assert_eq!((errors[1].row, errors[1].col), (4, 5));
        assert!(errors[1].message.contains("缺少区号"));
    }

    /// A sheet someone made themselves: header in row 1, columns shuffled,
    /// an extra column, numbers and dates as Excel stores them, after an
    /// unrelated sheet.
    #[test]
    fn reads_a_hand_made_sheet() {
        let d = def();
        let mut wb = Workbook::new();
        wb.add_worksheet()
            .set_name("封面")
            .unwrap()
            .write_string(0, 0, "说明")
            .unwrap();
        let ws = wb.add_worksheet();
        let header = [
            "序号",
            "手机",
            "评委会全称 *",
            "统一社会信用代码",
            "单位类型",
            "评审级别",
            "办公电话",
            "核准日期",
            "邮政编码",
        ];
        for (c, h) in header.iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        let date_format = Format::new().set_num_format("yyyy-mm-dd");
        let date = ExcelDateTime::from_ymd(2016, 7, 27).unwrap();
        ws.write_number(1, 0, 1).unwrap();
        ws.write_number(1, 1, 13800138000.0).unwrap();
        ws.write_string(1, 2, "梅州市某评委会").unwrap();
        ws.write_string(1, 3, "11441700007280420Y").unwrap();
        ws.write_string(1, 4, "机关").unwrap();
        ws.write_string(1, 5, "初级，中级\n正高级").unwrap();
        ws.write_number(1, 6, 7532128309.0).unwrap();
        ws.write_datetime_with_format(1, 7, &date, &date_format)
            .unwrap();
        ws.write_number(1, 8, 514000).unwrap();
        // Only 序号 filled: counts as blank.
        ws.write_number(2, 0, 2).unwrap();
        let bytes = wb.save_to_buffer().unwrap();

        let read = read_xlsx(&d, &bytes).unwrap();
        assert_eq!(read.len(), 1);
        let a = &read[0];
        assert_eq!(a.get("mobile"), Some(&Value::One("13800138000".into())));
        assert_eq!(a.get("phone"), Some(&Value::One("0753-2128309".into())));
        assert_eq!(a.get("date"), Some(&Value::One("2016-07-27".into())));
        assert_eq!(a.get("postcode"), Some(&Value::One("514000".into())));
        assert_eq!(
            a.get("levels"),
            Some(&Value::Many(vec![
                "初级".into(),
                "中级".into(),
                "正高级".into()
            ]))
        );
        // A column that is absent and optional reads as empty.
        assert_eq!(a.get("email"), Some(&Value::One(String::new())));
    }

    #[test]
    fn a_stray_cell_far_away_is_refused_quickly() {
        let d = def();
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in ["评委会全称", "统一社会信用代码"].iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        ws.write_string(1, 0, "某评委会").unwrap();
        // XFD1048576, the last cell a sheet has: a dense grid of it would
        // take half a terabyte.
        ws.write_string(1_048_575, 16_383, "x").unwrap();
        let bytes = wb.save_to_buffer().unwrap();
        assert!(bytes.len() < 20_000);
        let started = std::time::Instant::now();
        let errors = read_xlsx(&d, &bytes).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert_eq!(errors.len(), 1, "{errors:?}");
        let m = &errors[0].message;
        assert!(m.contains("100000 行") && m.contains("200 列"), "{m}");
        assert!(m.contains("第 1048576 行"), "{m}");
    }

    #[test]
    fn numeric_uscc_and_missing_columns_are_explained() {
        let d = def();
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in [
            "评委会全称",
            "统一社会信用代码",
            "单位类型",
            "评审级别",
            "办公电话",
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        ws.write_string(1, 0, "某评委会").unwrap();
        ws.write_number(1, 1, 124414000000000000.0).unwrap();
        ws.write_string(1, 2, "机关").unwrap();
        ws.write_string(1, 3, "中级").unwrap();
        ws.write_string(1, 4, "0753-2128309").unwrap();
        let errors = read_xlsx(&d, &wb.save_to_buffer().unwrap()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!((errors[0].row, errors[0].col), (2, 2));
        assert!(errors[0].message.contains("文本"), "{}", errors[0].message);

        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in ["评委会全称", "单位类型", "评审级别"].iter().enumerate() {
            ws.write_string(1, c as u16, *h).unwrap();
        }
        let errors = read_xlsx(&d, &wb.save_to_buffer().unwrap()).unwrap_err();
        let labels: Vec<_> = errors.iter().map(|e| e.label.as_str()).collect();
        assert_eq!(labels, ["统一社会信用代码", "办公电话"]);
        assert_eq!(
            errors[0].to_string(),
            "表格缺少“统一社会信用代码”列（表头在第 2 行）。请使用本表的空白模板，不要删除或改名栏目。"
        );
    }

    #[test]
    fn unreadable_or_foreign_files() {
        let d = def();
        let errors = read_xlsx(&d, b"not a zip").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains(".xlsx"));

        let mut wb = Workbook::new();
        wb.add_worksheet().write_string(0, 0, "别的表").unwrap();
        let errors = read_xlsx(&d, &wb.save_to_buffer().unwrap()).unwrap_err();
        assert!(
            errors[0].message.contains("找不到"),
            "{}",
            errors[0].message
        );

        // The blank form itself holds no returns.
        assert_eq!(
            read_xlsx(&d, &blank_xlsx(&d, &[]).unwrap()).unwrap(),
            vec![]
        );
    }

    #[test]
    fn duplicate_header_columns_are_an_error() {
        let d = def();
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in [
            "评委会全称",
            "统一社会信用代码",
            "单位类型",
            "评审级别",
            "办公电话",
            "单位类型",
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        let errors = read_xlsx(&d, &wb.save_to_buffer().unwrap()).unwrap_err();
        assert_eq!((errors[0].row, errors[0].col), (1, 6));
        assert!(errors[0].message.contains("不止一次"));
    }

    fn export_rows() -> Vec<ExportRow> {
        let d = def();
        vec![
            ExportRow {
                reference: "K7M3Q9TX".into(),
                received: "2016-07-20 09:30".into(),
                late: false,
                status: "已接收".into(),
                answers: d.validate(&pairs_of(&ROW_A)).unwrap(),
            },
            ExportRow {
                reference: "A2B3C4D5".into(),
                received: "2016-07-28 10:00".into(),
                late: true,
                status: "已处理".into(),
                answers: d.validate(&pairs_of(&ROW_B)).unwrap(),
            },
        ]
    }

    #[test]
    fn export_xlsx_holds_the_values_as_text() {
        let d = def();
        let rows = export_rows();
        let bytes = export_xlsx(&d, &rows).unwrap();
        let mut wb = open(&bytes);
        let range = wb.worksheet_range("市属评委会信息一览表").unwrap();
        assert_eq!(string_at(&range, 0, 0), "市属评委会信息一览表");
        let header: Vec<String> = (0..16).map(|c| string_at(&range, 1, c)).collect();
        assert_eq!(header[..3], ["序号", "参考编号", "评委会全称"]);
        assert_eq!(header[13..], ["接收时间", "是否逾期", "处理状态"]);
        assert_eq!(range.get_value((2, 0)), Some(&Data::Float(1.0)));
        assert_eq!(
            range.get_value((2, 3)),
            Some(&Data::String("11441700007280420Y".into()))
        );
        assert_eq!(
            range.get_value((2, 7)),
            Some(&Data::String("13800138000".into()))
        );
        assert_eq!(
            range.get_value((2, 8)),
            Some(&Data::String("514000".into()))
        );
        assert_eq!(string_at(&range, 2, 5), "副高级、正高级");
        assert_eq!(string_at(&range, 2, 12), "第一行\n第二行");
        assert_eq!(string_at(&range, 3, 1), "A2B3C4D5");
        assert_eq!(string_at(&range, 3, 14), "是");
        assert_eq!(string_at(&range, 2, 14), "否");
        assert_eq!(string_at(&range, 3, 15), "已处理");

        // The export can be imported again: same answers.
        let back = read_xlsx(&d, &bytes).unwrap();
        let original: Vec<Answers> = rows.into_iter().map(|r| r.answers).collect();
        assert_eq!(back, original);
    }

    #[test]
    fn export_csv_is_excel_friendly_and_injection_safe() {
        let d = FormDef {
            fields: vec![
                field("name", "名称", Kind::Text, true, &[]),
                field("levels", "级别", Kind::Multi, false, &["初级", "中级"]),
                field("remarks", "备注", Kind::Textarea, false, &[]),
            ],
            ..def()
        };
        let row = |name: &str, levels: Vec<&str>, remarks: &str| ExportRow {
            reference: "K7M3Q9TX".into(),
            received: "2016-07-20 09:30".into(),
            late: false,
            status: "已接收".into(),
            answers: Answers(vec![
                ("name".into(), Value::One(name.into())),
                (
                    "levels".into(),
                    Value::Many(levels.into_iter().map(String::from).collect()),
                ),
                ("remarks".into(), Value::One(remarks.into())),
            ]),
        };
        let csv = export_csv(
            &d,
            &[
                row("=HYPERLINK(\"x\")", vec!["初级", "中级"], "a,b"),
                row("梅州, \"某\"局", vec![], "-1\n+2"),
                row("@SUM(A1)", vec![], "\tx"),
            ],
        );
        assert_eq!(
            csv,
            "\u{FEFF}序号,参考编号,名称,级别,备注,接收时间,是否逾期,处理状态\r\n\
             1,K7M3Q9TX,\"'=HYPERLINK(\"\"x\"\")\",初级、中级,\"a,b\",2016-07-20 09:30,否,已接收\r\n\
             2,K7M3Q9TX,\"梅州, \"\"某\"\"局\",,\"'-1\n+2\",2016-07-20 09:30,否,已接收\r\n\
             3,K7M3Q9TX,'@SUM(A1),,'\tx,2016-07-20 09:30,否,已接收\r\n"
        );
    }

    #[test]
    fn cell_display_and_helpers() {
        let e = CellError {
            row: 3,
            col: 2,
            label: "手机".into(),
            message: "错".into(),
        };
        assert_eq!(e.to_string(), "第 3 行 第 2 列 (手机): 错");
        assert_eq!(number_text(13800138000.0), "13800138000");
        assert_eq!(number_text(1.5), "1.5");
        assert_eq!(serial_date(42578.0).as_deref(), Some("2016-07-27"));
        assert_eq!(serial_date(42578.75).as_deref(), Some("2016-07-27"));
        assert_eq!(serial_date(-1.0), None);
        assert_eq!(header_key(" *单位全称（必填） "), "单位全称");
        assert_eq!(header_key("＊ 单位 全称"), "单位全称");
        assert_eq!(sheet_name("a/b:c"), "a_b_c");
        assert_eq!(sheet_name(&"长".repeat(40)).chars().count(), 31);
    }

    /// Fuzz targets (issue 17): the validators and the spreadsheet reader
    /// never panic on what a client or a file may hold; what validation
    /// accepts it accepts again (normalising twice changes nothing), and
    /// every problem names a field of the form. More cases:
    /// `GAZETTE_FUZZ_CASES=100000 cargo test -p gazette-forms fuzz`.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn config() -> ProptestConfig {
            let cases = std::env::var("GAZETTE_FUZZ_CASES")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(128);
            ProptestConfig {
                cases,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        /// Values near what each kind accepts, and noise.
        fn value() -> impl Strategy<Value = String> {
            prop_oneof![
                Just(String::new()),
                Just("11441700007280420Y".to_string()),
                Just("0753-2128309".to_string()),
                Just("13812345678".to_string()),
                Just("514000".to_string()),
                Just("a@example.org".to_string()),
                Just("梅市人社函〔2016〕216号".to_string()),
                Just("2016-07-20".to_string()),
                Just("初级".to_string()),
                Just("机关".to_string()),
                Just("\u{202e}abc\u{200b}".to_string()),
                Just("\u{feff}梅州\u{2028}".to_string()),
                "[0-9 -]{0,20}",
                "\\PC{0,30}",
                any::<String>(),
            ]
        }

        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                prop::sample::select(vec![
                    "name",
                    "uscc",
                    "unit_type",
                    "levels",
                    "phone",
                    "mobile",
                    "postcode",
                    "email",
                    "docnum",
                    "date",
                    "remarks",
                    "website",
                ])
                .prop_map(str::to_string),
                "[a-z_]{0,8}",
            ]
        }

        /// A cell of a generated sheet.
        #[derive(Debug, Clone)]
        enum Cell {
            Text(String),
            Number(f64),
            Bool(bool),
        }

        fn cell() -> impl Strategy<Value = Cell> {
            prop_oneof![
                value().prop_map(Cell::Text),
                prop::sample::select(vec![
                    "评委会全称",
                    "*统一社会信用代码",
                    "单位类型",
                    "评审级别",
                    "办公电话",
                    "手机",
                    "邮政编码",
                    "电子邮箱",
                    "核准/备案文号",
                    "核准日期",
                    "备注",
                ])
                .prop_map(|s| Cell::Text(s.to_string())),
                any::<f64>().prop_map(Cell::Number),
                (0.0..60000.0f64).prop_map(Cell::Number),
                any::<bool>().prop_map(Cell::Bool),
            ]
        }

        fn workbook(cells: &[(u32, u16, Cell)], sheets: usize) -> Vec<u8> {
            let mut wb = Workbook::new();
            for s in 0..sheets.max(1) {
                let ws = wb.add_worksheet();
                for (r, c, cell) in cells.iter().skip(s) {
                    let _ = match cell {
                        Cell::Text(t) => ws.write_string(*r, *c, t).map(|_| ()),
                        Cell::Number(n) => ws.write_number(*r, *c, *n).map(|_| ()),
                        Cell::Bool(b) => ws.write_boolean(*r, *c, *b).map(|_| ()),
                    };
                }
            }
            wb.save_to_buffer().unwrap_or_default()
        }

        /// What the fuzz target found: one zeroed byte made calamine panic.
        #[test]
        fn a_damaged_file_is_refused_not_a_crash() {
            let mut bytes = workbook(
                &[
                    (0, 0, Cell::Text("评委会全称".into())),
                    (0, 1, Cell::Text("统一社会信用代码".into())),
                    (1, 0, Cell::Text("某评委会".into())),
                ],
                1,
            );
            let at = ((bytes.len() as u128 * 17872218474994614071u128) >> 64) as usize;
            // The file's bytes vary a little (a timestamp): zero each byte near there.
            for i in at.saturating_sub(24)..(at + 24).min(bytes.len()) {
                let mut damaged = bytes.clone();
                damaged[i] = 0;
                if let Err(errors) = read_xlsx(&def(), &damaged) {
                    assert!(!errors.is_empty());
                }
            }
            bytes.truncate(bytes.len() / 2);
            assert!(read_xlsx(&def(), &bytes).is_err());
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn validation_never_panics_and_is_idempotent(
                pairs in prop::collection::vec((name(), value()), 0..20)
            ) {
                let d = def();
                match d.validate(&pairs) {
                    Ok(answers) => {
                        let again: Vec<(String, String)> = answers
                            .iter()
                            .flat_map(|(k, v)| match v {
                                Value::One(s) => vec![(k.to_string(), s.clone())],
                                Value::Many(list) => {
                                    list.iter().map(|s| (k.to_string(), s.clone())).collect()
                                }
                            })
                            .collect();
                        let twice = d.validate(&again);
                        prop_assert_eq!(twice.as_ref().ok(), Some(&answers));
                    }
                    Err(errors) => {
                        for e in errors.0 {
                            prop_assert!(d.fields.iter().any(|f| f.name == e.field), "{:?}", e);
                            prop_assert!(!e.message.is_empty());
                        }
                    }
                }
            }

            #[test]
            fn the_reader_never_panics_on_generated_sheets(
                cells in prop::collection::vec((0u32..6, 0u16..14, cell()), 0..60),
                sheets in 1usize..3,
            ) {
                let bytes = workbook(&cells, sheets);
                match read_xlsx(&def(), &bytes) {
                    Ok(rows) => prop_assert!(rows.len() <= 6),
                    Err(errors) => prop_assert!(!errors.is_empty()),
                }
            }

            #[test]
            fn the_reader_never_panics_on_damaged_files(
                flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
                cut in any::<prop::sample::Index>(),
                truncate in any::<bool>(),
            ) {
                let mut bytes = workbook(
                    &[
                        (0, 0, Cell::Text("评委会全称".into())),
                        (0, 1, Cell::Text("统一社会信用代码".into())),
                        (1, 0, Cell::Text("某评委会".into())),
                    ],
                    1,
                );
                for (at, b) in flips {
                    let i = at.index(bytes.len());
                    bytes[i] = b;
                }
                if truncate {
                    bytes.truncate(cut.index(bytes.len()));
                }
                let _ = read_xlsx(&def(), &bytes);
            }
        }
    }
    /// A minimal OpenDocument spreadsheet, as WPS or LibreOffice saves one:
    /// `rows` of `<table:table-row>` bodies in one table.
    fn ods(rows: &[String]) -> Vec<u8> {
        let body: String = rows
            .iter()
            .map(|r| format!("<table:table-row>{r}</table:table-row>"))
            .collect();
        ods_raw(&body)
    }

    /// The same with the table's body as given.
    fn ods_raw(body: &str) -> Vec<u8> {
        use std::io::Write as _;
        let mut z = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("mimetype", stored).unwrap();
        z.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
            .unwrap();
        z.start_file(
            "META-INF/manifest.xml",
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        z.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#).unwrap();
        z.start_file("content.xml", zip::write::SimpleFileOptions::default())
            .unwrap();
        write!(z, r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="一览表">"#).unwrap();
        z.write_all(body.as_bytes()).unwrap();
        write!(
            z,
            "</table:table></office:spreadsheet></office:body></office:document-content>"
        )
        .unwrap();
        z.finish().unwrap().into_inner()
    }

    fn ods_cells(values: &[&str]) -> String {
        values
            .iter()
            .map(|v| {
                if v.is_empty() {
                    "<table:table-cell/>".to_string()
                } else {
                    format!(r#"<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>"#)
                }
            })
            .collect()
    }

    #[test]
    fn an_ods_is_read_like_an_xlsx() {
        let d = def();
        let header: Vec<&str> = d.fields.iter().map(|f| f.label.as_str()).collect();
        let bytes = ods(&[
            ods_cells(&[d.title.as_str()]),
            ods_cells(&header),
            ods_cells(&ROW_A),
            // LibreOffice's trailing empty rows: repeated, never expanded.
            r#"<table:table-cell table:number-columns-repeated="1024"/>"#.into(),
            ods_cells(&ROW_B),
        ]);
        assert_eq!(
            read_table(&d, &bytes).unwrap(),
            vec![
                d.validate(&pairs_of(&ROW_A)).unwrap(),
                d.validate(&pairs_of(&ROW_B)).unwrap(),
            ]
        );
        // The same checks as an xlsx: a bad code is placed at its cell.
        let mut bad = ROW_A;
        bad[1] = "11441700007280420X";
        let bytes = ods(&[ods_cells(&header), ods_cells(&bad)]);
        let errors = read_table(&d, &bytes).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!((errors[0].row, errors[0].col), (2, 2));
        // An .xlsx still goes through read_xlsx.
        let xlsx = build_form_workbook(&d, &[], &[row(&ROW_A)]).unwrap();
        assert_eq!(read_table(&d, &xlsx).unwrap().len(), 1);
        let errors = read_table(&d, b"not a spreadsheet").unwrap_err();
        assert!(errors[0].message.contains(".ods"), "{errors:?}");
    }

    #[test]
    fn an_ods_repeating_content_beyond_the_limits_is_refused_before_it_is_built() {
        let d = def();
        let header: Vec<&str> = d.fields.iter().map(|f| f.label.as_str()).collect();
        // A billion copies of one cell, or of one row, in a few bytes.
        let wide = r#"<table:table-cell table:number-columns-repeated="1000000000" office:value-type="string"><text:p>x</text:p></table:table-cell>"#.to_string();
        let started = std::time::Instant::now();
        for rows in [
            vec![ods_cells(&header), wide],
            vec![
                ods_cells(&header),
                r#"<table:table-cell table:number-columns-repeated="1000000000"/>"#.to_string()
                    + &ods_cells(&["x"]),
            ],
        ] {
            let errors = read_table(&d, &ods(&rows)).unwrap_err();
            assert!(errors[0].message.contains("太大"), "{errors:?}");
        }
        let tall = ods_raw(&format!(
            r#"<table:table-row>{}</table:table-row><table:table-row table:number-rows-repeated="100000000">{}</table:table-row>"#,
            ods_cells(&header),
            ods_cells(&ROW_A)
        ));
        let errors = read_table(&d, &tall).unwrap_err();
        assert!(errors[0].message.contains("太大"), "{errors:?}");
        // Empty rows repeated past the limit and nothing after them are fine.
        let trailing = ods_raw(&format!(
            r#"<table:table-row>{}</table:table-row><table:table-row>{}</table:table-row><table:table-row table:number-rows-repeated="1048570"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>"#,
            ods_cells(&header),
            ods_cells(&ROW_A)
        ));
        assert_eq!(read_table(&d, &trailing).unwrap().len(), 1);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    /// departments.xls, made by xlwt (tests/fixtures/mailbox/make_xls.py).
    const XLS: &[u8] = include_bytes!("../../tests/fixtures/mailbox/departments.xls");

    fn unit_def() -> FormDef {
        FormDef {
            fields: vec![
                field("unit", "单位全称", Kind::Text, true, &[]),
                field("uscc", "统一社会信用代码", Kind::Uscc, true, &[]),
                field("postcode", "邮政编码", Kind::Postcode, false, &[]),
                field("mobile", "手机", Kind::Mobile, true, &[]),
            ],
            ..def()
        }
    }

    #[test]
    fn an_xls_is_read_like_an_xlsx() {
        let rows = read_table(&unit_def(), XLS).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].get("unit"),
            Some(&Value::One("梅州市水务局".into()))
        );
        assert_eq!(
            rows[1].get("unit"),
            Some(&Value::One("梅州市气象局".into()))
        );
        // A number cell, as Excel keeps a typed 514000.
        assert_eq!(rows[1].get("postcode"), Some(&Value::One("514000".into())));
        assert_eq!(
            rows[1].get("mobile"),
            Some(&Value::One("13600136000".into()))
        );
    }

    #[test]
    fn an_xls_claiming_or_holding_cells_beyond_the_limits_is_refused_before_calamine() {
        // DIMENSIONS (0x0200, 14 bytes): first row, last row + 1, first col, last col + 1.
        let at = XLS
            .windows(4)
            .position(|w| w == [0x00, 0x02, 0x0E, 0x00])
            .expect("DIMENSIONS record");
        let mut huge = XLS.to_vec();
        huge[at + 8..at + 12].copy_from_slice(&u32::MAX.to_le_bytes());
        let errors = read_table(&unit_def(), &huge).unwrap_err();
        assert!(errors[0].message.contains("太大"), "{errors:?}");
        // A LABELSST (0x00FD) cell moved to column 250 (BIFF8 rows stop at
        // 65,536, below MAX_ROWS, so only a column can be too far).
        let at = XLS
            .windows(4)
            .position(|w| w == [0xFD, 0x00, 0x0A, 0x00])
            .expect("LABELSST record");
        let mut far = XLS.to_vec();
        far[at + 6..at + 8].copy_from_slice(&250u16.to_le_bytes());
        let errors = read_table(&unit_def(), &far).unwrap_err();
        assert!(errors[0].message.contains("第 251 列"), "{errors:?}");
    }
}
