//! Reading and checking form definitions. Errors are for web staff and
//! engineers, so they are in English and carry the line of the problem.

use crate::def::{FormDef, FormError, Kind};
use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Parses and checks one definition; `path` gives the id and names the file.
pub(crate) fn parse(path: &Path, text: &str) -> Result<FormDef, FormError> {
    let err = |line: Option<usize>, reason: String| FormError {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let id = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string();
    // The id becomes a URL segment (/forms/<id>) and file names.
    if !is_form_id(&id) {
        return Err(err(
            None,
            format!(
                "form id {id:?} (from the file name) must be lowercase letters, digits, '_' or '-', starting with a letter"
            ),
        ));
    }
    let mut def: FormDef = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|span| line_of_offset(text, span.start));
        err(line, e.message().trim().to_string())
    })?;
    def.id = id;
    check(&def, text).map_err(|(line, reason)| err(line, reason))?;
    Ok(def)
}

/// Every `*.toml` in `dir`, sorted by id. A missing folder means no forms.
pub(crate) fn load_dir(dir: &Path) -> Result<Vec<FormDef>, FormError> {
    let io_err = |path: PathBuf, e: std::io::Error| FormError {
        path,
        line: None,
        reason: e.to_string(),
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir.to_path_buf(), e)),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir.to_path_buf(), e))?;
        let path = entry.path();
        if path.extension().is_some_and(|ext| ext == "toml") && path.is_file() {
            paths.push(path);
        }
    }
    let mut defs = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = std::fs::read(&path).map_err(|e| io_err(path.clone(), e))?;
        let text = String::from_utf8(bytes).map_err(|e| FormError {
            path: path.clone(),
            line: None,
            reason: format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
        })?;
        defs.push(parse(&path, &text)?);
    }
    defs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(defs)
}

/// `deadline` may be a TOML local date (`2016-07-27`) or a string; chrono's
/// own impl only takes strings, and toml hands dates over as a special map.
pub(crate) fn deserialize_deadline<'de, D>(d: D) -> Result<Option<NaiveDate>, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::Error;
    let value = Option::<toml::Value>::deserialize(d)?;
    let bad = || D::Error::custom("deadline must be a date such as 2016-07-27");
    match value {
        None => Ok(None),
        Some(toml::Value::Datetime(dt)) => match (dt.date, dt.time, dt.offset) {
            (Some(date), None, None) => {
                NaiveDate::from_ymd_opt(i32::from(date.year), date.month.into(), date.day.into())
                    .map(Some)
                    .ok_or_else(bad)
            }
            _ => Err(bad()),
        },
        Some(toml::Value::String(s)) => NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map(Some)
            .map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

fn is_form_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Field names end up as HTML names, SQL-free JSON keys and template
/// variables; keep them boring.
fn is_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// 1-based line of a byte offset.
fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Lines (1-based) where a `key = "value"` (or 'value') assignment occurs.
fn lines_of_assignment(text: &str, key: &str, value: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix(key) else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let rest = rest.trim_start();
        let quoted = |q: char| {
            rest.strip_prefix(q)
                .and_then(|r| r.strip_prefix(value))
                .is_some_and(|r| r.starts_with(q))
        };
        if quoted('"') || quoted('\'') {
            out.push(i + 1);
        }
    }
    out
}

/// First line whose key is `key` (for form-level settings).
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// Checks what serde cannot: names, labels, options, limits.
fn check(def: &FormDef, text: &str) -> Result<(), (Option<usize>, String)> {
    if def.title.trim().is_empty() {
        return Err((line_of_key(text, "title"), "title is empty".into()));
    }
    if def.fields.is_empty() {
        return Err((
            None,
            "the form has no fields; add at least one [[fields]] table".into(),
        ));
    }
    for (i, recipient) in def.recipients.iter().enumerate() {
        if crate::validate::check_email_syntax(recipient).is_err() {
            return Err((
                line_of_key(text, "recipients"),
                format!("recipients[{i}] {recipient:?} is not an email address"),
            ));
        }
    }
    let mut names: HashSet<&str> = HashSet::new();
    let mut labels: HashSet<String> = HashSet::new();
    for (index, field) in def.fields.iter().enumerate() {
        // The n-th field with this name is at the n-th matching line.
        let nth = def.fields[..index]
            .iter()
            .filter(|f| f.name == field.name)
            .count();
        let line = lines_of_assignment(text, "name", &field.name)
            .get(nth)
            .copied();
        let which = format!("field {} ({:?})", index + 1, field.name);
        let fail = |reason: String| Err((line, format!("{which}: {reason}")));

        if !is_field_name(&field.name) {
            return fail(
                "name must be a lowercase identifier: a-z first, then a-z, 0-9 or _".into(),
            );
        }
        if field.name == crate::HONEYPOT {
            return fail(format!(
                "name {:?} is reserved for the hidden anti-spam field",
                crate::HONEYPOT
            ));
        }
        if !names.insert(&field.name) {
            return fail("another field already has this name".into());
        }
        let label = field.label.trim();
        if label.is_empty() {
            return fail("label is empty".into());
        }
        // The spreadsheet marks required columns with * and import strips it.
        if label.ends_with('*') || label.starts_with('*') {
            return fail(
                "label must not start or end with '*' (used to mark required columns)".into(),
            );
        }
        // Import finds columns by label, so two equal labels are ambiguous.
        if !labels.insert(crate::sheet::header_key(label)) {
            return fail(format!(
                "label {label:?} is used by another field; spreadsheet import finds columns by label"
            ));
        }
        if field.kind.has_options() {
            if field.options.is_empty() {
                return fail(format!("a {} field needs options", field.kind.as_str()));
            }
            let mut seen = HashSet::new();
            for option in &field.options {
                if option.trim().is_empty() {
                    return fail("an option is empty".into());
                }
                if option.trim() != option {
                    return fail(format!("option {option:?} has leading or trailing spaces"));
                }
                if !seen.insert(option.as_str()) {
                    return fail(format!("option {option:?} is listed twice"));
                }
                // Several choices are written joined by these in spreadsheets.
                if field.kind == Kind::Multi
                    && option
                        .chars()
                        .any(|c| crate::sheet::MULTI_SEPARATORS.contains(&c))
                {
                    return fail(format!(
                        "option {option:?} contains a separator (、 , ， ; ； or a line break) used between several choices"
                    ));
                }
            }
        } else if !field.options.is_empty() {
            return fail(format!(
                "options are only for select and multi fields, not {}",
                field.kind.as_str()
            ));
        }
        if let Some(area) = &field.local_area {
            if field.kind != Kind::Phone {
                return fail(format!(
                    "local_area is only for phone fields, not {}",
                    field.kind.as_str()
                ));
            }
            let code_ok = (3..=4).contains(&area.code.len())
                && area.code.starts_with('0')
                && area.code.bytes().all(|b| b.is_ascii_digit());
            if !code_ok {
                return fail(format!(
                    "local_area.code {:?} is not an area code such as \"0753\"",
                    area.code
                ));
            }
            if area.name.trim().is_empty() {
                return fail("local_area.name is empty".into());
            }
            if !(7..=8).contains(&area.digits) {
                return fail("local_area.digits must be 7 or 8".into());
            }
        }
        if field.max_length == Some(0) {
            return fail("max_length must be at least 1".into());
        }
        if let Some(width) = field.width {
            if !(width > 0.0 && width <= 255.0) {
                return fail("width must be between 0 and 255 characters".into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<FormDef, FormError> {
        parse(Path::new("content/forms/sample.toml"), text)
    }

    const GOOD: &str = r#"title = "示例表"
annex = 1
deadline = 2016-07-27
after_deadline = "refuse"

[[fields]]
name = "unit_name"
label = "单位全称"
kind = "text"
required = true

[[fields]]
name = "unit_type"
label = "单位类型"
kind = "select"
options = ["机关", "其他"]
"#;

    #[test]
    fn parses_a_good_definition() {
        let def = parse_str(GOOD).unwrap();
        assert_eq!(def.id, "sample");
        assert_eq!(def.title, "示例表");
        assert_eq!(def.annex, Some(1));
        assert_eq!(def.deadline, NaiveDate::from_ymd_opt(2016, 7, 27));
        assert_eq!(def.after_deadline, crate::AfterDeadline::Refuse);
        assert_eq!(def.fields.len(), 2);
        assert_eq!(def.fields[1].kind, Kind::Select);
        assert!(def.fields[0].required);
        assert!(!def.fields[1].required);
    }

    #[test]
    fn local_area_is_read_and_checked() {
        let phone = "\n[[fields]]\nname = \"phone\"\nlabel = \"电话\"\nkind = \"phone\"\n";
        let with = |area: &str| parse_str(&format!("{GOOD}{phone}local_area = {area}\n"));
        let def = with(r#"{ code = "0753", name = "梅州", digits = 7 }"#).unwrap();
        assert_eq!(
            def.fields[2].local_area,
            Some(crate::LocalArea {
                code: "0753".into(),
                name: "梅州".into(),
                digits: 7
            })
        );
        assert!(parse_str(&format!("{GOOD}{phone}")).unwrap().fields[2]
            .local_area
            .is_none());
        for (area, reason) in [
            (
                r#"{ code = "753", name = "梅州", digits = 7 }"#,
                "not an area code",
            ),
            (
                r#"{ code = "0753", name = " ", digits = 7 }"#,
                "local_area.name is empty",
            ),
            (r#"{ code = "0753", name = "梅州", digits = 9 }"#, "7 or 8"),
            (
                r#"{ code = "0753", name = "梅州" }"#,
                "missing field `digits`",
            ),
        ] {
            let e = with(area).unwrap_err();
            assert!(e.reason.contains(reason), "{area}: {e}");
        }
        let text = GOOD.replace(
            "kind = \"text\"\n",
            "kind = \"text\"\nlocal_area = { code = \"0753\", name = \"梅州\", digits = 7 }\n",
        );
        let e = parse_str(&text).unwrap_err();
        assert_eq!(e.line, Some(7), "{e}");
        assert!(e.reason.contains("only for phone fields"), "{e}");
    }

    #[test]
    fn deadline_may_be_a_string() {
        let text = GOOD.replace("deadline = 2016-07-27", "deadline = \"2016-07-27\"");
        let def = parse_str(&text).unwrap();
        assert_eq!(def.deadline, NaiveDate::from_ymd_opt(2016, 7, 27));
    }

    #[test]
    fn deadline_with_time_is_refused_with_line() {
        let text = GOOD.replace("deadline = 2016-07-27", "deadline = 2016-07-27T18:00:00");
        let e = parse_str(&text).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.reason.contains("deadline must be a date"), "{}", e.reason);
    }

    #[test]
    fn toml_syntax_error_has_line() {
        let text = GOOD.replace("kind = \"select\"", "kind = select");
        let e = parse_str(&text).unwrap_err();
        assert_eq!(e.line, Some(15), "{e}");
        assert!(
            e.to_string().starts_with("content/forms/sample.toml:15: "),
            "{e}"
        );
    }

    #[test]
    fn unknown_kind_and_unknown_key_have_lines() {
        let e = parse_str(&GOOD.replace("kind = \"text\"", "kind = \"texts\"")).unwrap_err();
        assert_eq!(e.line, Some(9));
        assert!(e.reason.contains("texts"), "{}", e.reason);

        let e = parse_str(&GOOD.replace("required = true", "requird = true")).unwrap_err();
        assert_eq!(e.line, Some(10));
        assert!(e.reason.contains("requird"), "{}", e.reason);
    }

    #[test]
    fn missing_label_is_a_toml_error() {
        let e = parse_str(&GOOD.replace("label = \"单位全称\"\n", "")).unwrap_err();
        assert!(e.reason.contains("label"), "{}", e.reason);
    }

    #[test]
    fn bad_field_names_point_at_their_line() {
        let e = parse_str(&GOOD.replace("\"unit_type\"", "\"Unit-Type\"")).unwrap_err();
        assert_eq!(e.line, Some(13));
        assert!(e.reason.contains("lowercase identifier"), "{}", e.reason);

        let e = parse_str(&GOOD.replace("\"unit_type\"", "\"website\"")).unwrap_err();
        assert_eq!(e.line, Some(13));
        assert!(e.reason.contains("reserved"), "{}", e.reason);

        let e = parse_str(&GOOD.replace("\"unit_type\"", "'unit_name'")).unwrap_err();
        assert_eq!(e.line, Some(13), "second occurrence: {e}");
        assert!(e.reason.contains("already has this name"), "{}", e.reason);
    }

    #[test]
    fn options_must_match_kind() {
        let e =
            parse_str(&GOOD.replace("options = [\"机关\", \"其他\"]", "options = []")).unwrap_err();
        assert_eq!(e.line, Some(13));
        assert!(e.reason.contains("needs options"), "{}", e.reason);

        let text = GOOD.replace("kind = \"text\"", "kind = \"text\"\noptions = [\"a\"]");
        let e = parse_str(&text).unwrap_err();
        assert_eq!(e.line, Some(7));
        assert!(
            e.reason.contains("only for select and multi"),
            "{}",
            e.reason
        );

        let e = parse_str(&GOOD.replace("\"其他\"]", "\"机关\"]")).unwrap_err();
        assert!(e.reason.contains("listed twice"), "{}", e.reason);

        let text = GOOD
            .replace("kind = \"select\"", "kind = \"multi\"")
            .replace("\"其他\"]", "\"其他、别的\"]");
        let e = parse_str(&text).unwrap_err();
        assert!(e.reason.contains("separator"), "{}", e.reason);
    }

    #[test]
    fn labels_must_be_present_and_distinct() {
        let e = parse_str(&GOOD.replace("\"单位全称\"", "\"  \"")).unwrap_err();
        assert_eq!(e.line, Some(7));
        assert!(e.reason.contains("label is empty"), "{}", e.reason);

        let e = parse_str(&GOOD.replace("\"单位类型\"", "\"单位全称\"")).unwrap_err();
        assert_eq!(e.line, Some(13));
        assert!(e.reason.contains("used by another field"), "{}", e.reason);

        let e = parse_str(&GOOD.replace("\"单位类型\"", "\"单位类型*\"")).unwrap_err();
        assert!(e.reason.contains("'*'"), "{}", e.reason);
    }

    #[test]
    fn needs_fields_and_title() {
        let e = parse_str("title = \"x\"\nfields = []\n").unwrap_err();
        assert!(e.reason.contains("no fields"), "{}", e.reason);
        let e = parse_str(&GOOD.replace("\"示例表\"", "\"\"")).unwrap_err();
        assert_eq!(e.line, Some(1));
        assert!(e.reason.contains("title"), "{}", e.reason);
    }

    #[test]
    fn zero_max_length_and_bad_recipient() {
        let e = parse_str(&GOOD.replace("required = true", "max_length = 0")).unwrap_err();
        assert_eq!(e.line, Some(7));
        assert!(e.reason.contains("max_length"), "{}", e.reason);

        let text = GOOD.replace("annex = 1", "annex = 1\nrecipients = [\"not an address\"]");
        let e = parse_str(&text).unwrap_err();
        assert_eq!(e.line, Some(3));
        assert!(e.reason.contains("recipients[0]"), "{}", e.reason);
    }

    #[test]
    fn id_comes_from_the_file_stem_and_is_checked() {
        let e = parse(Path::new("forms/Bad Name.toml"), GOOD).unwrap_err();
        assert!(e.reason.contains("form id"), "{}", e.reason);
        assert_eq!(e.line, None);
    }

    #[test]
    fn load_dir_sorts_and_skips_other_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("zeta.toml"), GOOD).unwrap();
        std::fs::write(dir.path().join("alpha.toml"), GOOD).unwrap();
        std::fs::write(dir.path().join("notes.md"), "not a form").unwrap();
        let defs = load_dir(dir.path()).unwrap();
        let ids: Vec<_> = defs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["alpha", "zeta"]);

        std::fs::write(dir.path().join("broken.toml"), "title = ").unwrap();
        let e = load_dir(dir.path()).unwrap_err();
        assert!(e.path.ends_with("broken.toml"));
        assert_eq!(e.line, Some(1));
    }

    #[test]
    fn load_dir_of_missing_folder_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load_dir(&dir.path().join("nope")).unwrap().is_empty());
    }

    #[test]
    fn line_helpers() {
        assert_eq!(line_of_offset("a\nb\nc", 0), 1);
        assert_eq!(line_of_offset("a\nb\nc", 2), 2);
        assert_eq!(line_of_offset("a\nb\nc", 99), 3);
        let text = "name = \"a\"\n  name='b'\nname = \"ab\"\nname = \"a\"\n";
        assert_eq!(lines_of_assignment(text, "name", "a"), [1, 4]);
        assert_eq!(lines_of_assignment(text, "name", "b"), [2]);
    }

    fn bundled() -> Vec<FormDef> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../content/forms");
        load_dir(&dir).unwrap_or_else(|e| panic!("{e}"))
    }

    fn shape(def: &FormDef) -> Vec<(&str, Kind, bool)> {
        def.fields
            .iter()
            .map(|f| (f.name.as_str(), f.kind, f.required))
            .collect()
    }

    #[test]
    fn bundled_definitions_have_the_agreed_fields() {
        let defs = bundled();
        let ids: Vec<_> = defs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["committees", "departments"]);
        let (committees, departments) = (&defs[0], &defs[1]);

        assert_eq!(departments.title, "市直主管部门信息一览表");
        assert_eq!(departments.annex, Some(1));
        use Kind::*;
        assert_eq!(
            shape(departments),
            [
                ("unit_name", Text, true),
                ("uscc", Uscc, true),
                ("unit_type", Select, true),
                ("address", Text, true),
                ("postcode", Postcode, false),
                ("admin_name", Text, true),
                ("admin_title", Text, false),
                ("admin_section", Text, false),
                ("office_phone", Phone, true),
                ("mobile", Mobile, true),
                ("fax", Phone, false),
                ("email", Email, true),
                ("remarks", Textarea, false),
                ("filled_by", Text, true),
            ]
        );
        let labels: Vec<_> = departments
            .fields
            .iter()
            .map(|f| f.label.as_str())
            .collect();
        assert_eq!(
            labels,
            [
                "单位全称",
                "统一社会信用代码",
                "单位类型",
                "单位地址",
                "邮政编码",
                "系统管理员姓名",
                "职务",
                "所在科室",
                "办公电话",
                "手机",
                "传真",
                "电子邮箱",
                "备注",
                "填报人"
            ]
        );
        assert_eq!(
            departments.field("unit_type").unwrap().options,
            ["机关", "事业单位", "社会团体", "其他"]
        );
        assert_eq!(
            departments.field("unit_name").unwrap().help,
            "与单位公章一致的全称"
        );

        assert_eq!(committees.title, "市属评委会信息一览表");
        assert_eq!(committees.annex, Some(2));
        assert_eq!(
            shape(committees),
            [
                ("committee_name", Text, true),
                ("series", Text, true),
                ("specialties", Text, true),
                ("levels", Multi, true),
                ("scope", Textarea, false),
                ("founder_name", Text, true),
                ("founder_uscc", Uscc, true),
                ("office_name", Text, true),
                ("office_uscc", Uscc, true),
                ("approval_no", Docnum, false),
                ("approval_date", Date, false),
                ("valid_until", Date, false),
                ("admin_name", Text, true),
                ("admin_title", Text, false),
                ("office_phone", Phone, true),
                ("mobile", Mobile, true),
                ("email", Email, true),
                ("remarks", Textarea, false),
                ("filled_by", Text, true),
            ]
        );
        let labels: Vec<_> = committees.fields.iter().map(|f| f.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "评委会全称",
                "系列",
                "评审专业",
                "评审级别",
                "评审范围",
                "组建单位",
                "组建单位统一社会信用代码",
                "日常工作部门",
                "日常工作部门统一社会信用代码",
                "核准/备案文号",
                "核准日期",
                "有效期至",
                "管理员姓名",
                "职务",
                "办公电话",
                "手机",
                "电子邮箱",
                "备注",
                "填报人"
            ]
        );
        assert_eq!(
            committees.field("levels").unwrap().options,
            ["初级", "中级", "副高级", "正高级"]
        );

        for def in &defs {
            assert_eq!(def.deadline, NaiveDate::from_ymd_opt(2016, 7, 27));
            assert_eq!(def.after_deadline, crate::AfterDeadline::Accept);
            assert!(def.recipients.is_empty());
            assert!(!def.description.is_empty());
            assert!(
                def.fields.iter().all(|f| !f.help.is_empty()),
                "{}: help on every field",
                def.id
            );
        }
    }

    #[test]
    fn bundled_definitions_work_end_to_end() {
        let defs = bundled();
        let sample = |def: &FormDef| -> Vec<(String, String)> {
            def.fields
                .iter()
                .map(|f| {
                    let v = match f.kind {
                        Kind::Select | Kind::Radio | Kind::Multi => f.options[0].clone(),
                        Kind::Idcard => "11010519491231002X".into(),
                        Kind::Email => "renshi@example.com".into(),
                        Kind::Mobile => "13800138000".into(),
                        Kind::Phone => "0753-2128309".into(),
                        Kind::Postcode => "514000".into(),
                        Kind::Uscc => "11441700007280420Y".into(),
                        Kind::Docnum => "粤人社函〔2016〕12号".into(),
                        Kind::Date => "2016-07-27".into(),
                        Kind::Text | Kind::Textarea => format!("{}示例", f.label),
                    };
                    (f.name.clone(), v)
                })
                .collect()
        };
        for def in &defs {
            let pairs = sample(def);
            let answers = def
                .validate(&pairs)
                .unwrap_or_else(|e| panic!("{}: {e:?}", def.id));
            assert_eq!(
                def.title_answer(&answers),
                format!("{}示例", def.fields[0].label)
            );
            let bytes = crate::sheet::blank_xlsx(def, &["说明".into()]).unwrap();
            assert!(crate::sheet::read_xlsx(def, &bytes).unwrap().is_empty());
            let filled: Vec<String> = pairs.iter().map(|(_, v)| v.clone()).collect();
            let bytes = crate::sheet::build_form_workbook(def, &[], &[filled]).unwrap();
            assert_eq!(crate::sheet::read_xlsx(def, &bytes).unwrap(), vec![answers]);
            let errors = def.validate(&[]).unwrap_err();
            let required = def.fields.iter().filter(|f| f.required).count();
            assert_eq!(errors.len(), required);
        }
    }
}
