//! The other spreadsheet formats people save returns in: `.xls` (and WPS's
//! `.et`, the same BIFF file in practice) and `.ods`. calamine reads every
//! sheet of these at once and sizes its grids from what the file claims,
//! so each file is first checked here, without building anything, against
//! the same [`MAX_ROWS`] × [`MAX_COLUMNS`] as an `.xlsx`.

use super::{file_error, CellError, MAX_COLUMNS, MAX_ROWS};
use std::io::{Cursor, Read as _};

/// What a file is, by its first bytes rather than its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Xlsx,
    Ods,
    Xls,
    Unknown,
}

const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
const ODS_MIME: &[u8] = b"application/vnd.oasis.opendocument.spreadsheet";

pub(crate) fn sniff(bytes: &[u8]) -> Format {
    if bytes.starts_with(&CFB_MAGIC) {
        return Format::Xls;
    }
    if !bytes.starts_with(b"PK") {
        return Format::Unknown;
    }
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Format::Unknown;
    };
    if zip.by_name("content.xml").is_ok() {
        // An OpenDocument package names its type in `mimetype`.
        let mut mime = Vec::new();
        if let Ok(entry) = zip.by_name("mimetype") {
            let _ = entry.take(200).read_to_end(&mut mime);
        }
        if mime.is_empty() || mime.trim_ascii() == ODS_MIME {
            return Format::Ods;
        }
        return Format::Unknown;
    }
    Format::Xlsx
}

fn too_big(row: u64, col: u64) -> CellError {
    file_error(format!(
        "表格太大：最多读取 {MAX_ROWS} 行、{MAX_COLUMNS} 列，但第 {row} 行第 {col} 列还有内容。请删除表格以外的内容，或把数据分成几个文件上传。"
    ))
}

fn unreadable(kind: &str) -> CellError {
    file_error(format!(
        "无法读取这个 {kind} 文件：文件可能已损坏，请用 Excel 或 WPS 重新保存后再上传。"
    ))
}

/// Refuses an `.ods` with content beyond the limits, repeats included
/// (`number-rows-repeated` / `number-columns-repeated` are expanded by
/// calamine when content follows or is repeated).
pub(crate) fn check_ods(bytes: &[u8]) -> Result<(), CellError> {
    use quick_xml::events::Event;
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|_| unreadable(".ods"))?;
    let entry = zip.by_name("content.xml").map_err(|_| unreadable(".ods"))?;
    let mut reader = quick_xml::Reader::from_reader(std::io::BufReader::new(entry));
    let mut buf = Vec::new();
    let repeats = |e: &quick_xml::events::BytesStart<'_>, name: &[u8]| -> Result<u64, CellError> {
        match e.try_get_attribute(name) {
            Ok(None) => Ok(1),
            Ok(Some(a)) => std::str::from_utf8(&a.value)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| unreadable(".ods")),
            Err(_) => Err(unreadable(".ods")),
        }
    };
    // Position of the next row and cell; whether the current row has content.
    let (mut row, mut col, mut row_repeats, mut row_has_content) = (0u64, 0u64, 1u64, false);
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|_| unreadable(".ods"))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                match e.name().as_ref() {
                    b"table:table" => row = 0,
                    b"table:table-row" => {
                        row_repeats = repeats(e, b"table:number-rows-repeated")?;
                        (col, row_has_content) = (0, false);
                        if empty {
                            row = row.saturating_add(row_repeats);
                        }
                    }
                    b"table:table-cell" | b"table:covered-table-cell" => {
                        let n = repeats(e, b"table:number-columns-repeated")?;
                        let has_value = !empty
                            || e.try_get_attribute(b"office:value-type")
                                .ok()
                                .flatten()
                                .is_some()
                            || e.try_get_attribute(b"table:formula")
                                .ok()
                                .flatten()
                                .is_some();
                        col = col.saturating_add(n);
                        if has_value {
                            row_has_content = true;
                            if col > u64::from(MAX_COLUMNS) {
                                return Err(too_big(row + 1, col));
                            }
                        }
                    }
                    _ => {}
                }
            }
            Event::End(ref e) if e.name().as_ref() == b"table:table-row" => {
                row = row.saturating_add(row_repeats);
                if row_has_content && row > u64::from(MAX_ROWS) {
                    return Err(too_big(row, col.max(1)));
                }
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
        buf.clear();
    }
}

/// Refuses an `.xls` whose sheets claim (DIMENSIONS) or hold a cell beyond
/// the limits. Walks the BIFF records the way calamine does: the globals
/// from the start, then each sheet from where its BOUNDSHEET record says.
pub(crate) fn check_xls(bytes: &[u8]) -> Result<(), CellError> {
    let mut file = cfb::CompoundFile::open(Cursor::new(bytes)).map_err(|_| unreadable(".xls"))?;
    let name = ["/Workbook", "/Book"]
        .into_iter()
        .find(|n| file.is_stream(n))
        .ok_or_else(|| unreadable(".xls"))?;
    let mut stream = Vec::new();
    file.open_stream(name)
        .map_err(|_| unreadable(".xls"))?
        .take(bytes.len() as u64)
        .read_to_end(&mut stream)
        .map_err(|_| unreadable(".xls"))?;
    let u32_at = |d: &[u8], i: usize| {
        d.get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let sheets: Vec<usize> = records(&stream, 0)
        .filter(|(typ, _)| *typ == 0x0085)
        .filter_map(|(_, d)| u32_at(d, 0).map(|p| p as usize))
        .collect();
    let (max_rows, max_cols) = (u64::from(MAX_ROWS), u64::from(MAX_COLUMNS));
    for pos in sheets {
        for (typ, d) in records(&stream, pos) {
            match typ {
                // DIMENSIONS: calamine reserves rows × columns for it.
                0x0200 => {
                    let (rows, cols) = match d.len() {
                        10 => (u16_at(d, 2).map(u64::from), u16_at(d, 6)),
                        14 => (u32_at(d, 4).map(u64::from), u16_at(d, 10)),
                        _ => continue,
                    };
                    let (rows, cols) = (rows.unwrap_or(0), u64::from(cols.unwrap_or(0)));
                    if rows > max_rows || cols > max_cols {
                        return Err(too_big(rows, cols));
                    }
                }
                // NUMBER, LABEL, BOOLERR, RK, LABELSST, FORMULA: row, col first.
                0x0203 | 0x0204 | 0x0205 | 0x027E | 0x00FD | 0x0006 | 0x00BD => {
                    let row = u64::from(u16_at(d, 0).unwrap_or(0));
                    // MULRK ends with its last column.
                    let col = if typ == 0x00BD {
                        d.len().checked_sub(2).and_then(|i| u16_at(d, i))
                    } else {
                        u16_at(d, 2)
                    };
                    let col = u64::from(col.unwrap_or(0));
                    if row >= max_rows || col >= max_cols {
                        return Err(too_big(row + 1, col + 1));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn u16_at(d: &[u8], i: usize) -> Option<u16> {
    d.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

/// BIFF records (type, data) from `pos` up to EOF or the end of the stream.
fn records(stream: &[u8], pos: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut at = pos;
    std::iter::from_fn(move || {
        let typ = u16_at(stream, at)?;
        let len = usize::from(u16_at(stream, at + 2)?);
        let data = stream.get(at + 4..at + 4 + len)?;
        at += 4 + len;
        Some((typ, data))
    })
    .take_while(|(typ, _)| *typ != 0x000A)
}
