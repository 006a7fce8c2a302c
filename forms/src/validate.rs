//! Normalisation and validation of submitted answers, one validator per kind.
//!
//! Messages are for the people filling the form: Chinese, the field named by
//! its label in “”, and what is expected.

use crate::def::{Field, FormDef, Kind};
use crate::ids::{self, IdcardProblem, OrgCodeProblem, UsccProblem};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

/// Longest email address accepted (RFC 5321 path limit).
pub(crate) const EMAIL_MAX: usize = 254;

/// One field's answer after normalisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum Value {
    One(String),
    Many(Vec<String>),
}

/// Valid answers in the definition's field order, every field present
/// (an empty optional field is `One("")`, an empty multi `Many(vec![])`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Answers(pub Vec<(String, Value)>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FieldError {
    pub field: String,
    pub label: String,
    /// In Chinese, names the field and says what is expected.
    pub message: String,
}

/// Every problem found, in field order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Errors(pub Vec<FieldError>);

impl Value {
    /// As people read it: several choices joined with 、.
    pub fn display(&self) -> String {
        match self {
            Value::One(s) => s.clone(),
            Value::Many(items) => items.join("、"),
        }
    }

    /// The text of a single-valued answer.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::One(s) => Some(s),
            Value::Many(_) => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Value::One(s) => s.is_empty(),
            Value::Many(items) => items.is_empty(),
        }
    }
}

impl Answers {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }
}

impl Errors {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The error of one field, if any (there is at most one per field).
    pub fn get(&self, field: &str) -> Option<&FieldError> {
        self.0.iter().find(|e| e.field == field)
    }
}

impl FieldError {
    pub fn new(field: &Field, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.name.clone(),
            label: field.label.clone(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl FormDef {
    /// Normalises and checks a decoded `application/x-www-form-urlencoded`
    /// body. Keys that are not fields (the honeypot, buttons) are ignored;
    /// a key repeated for a single-valued field is that field's error.
    pub fn validate(&self, pairs: &[(String, String)]) -> Result<Answers, Errors> {
        let mut answers = Vec::with_capacity(self.fields.len());
        let mut errors = Vec::new();
        for field in &self.fields {
            let raws: Vec<&str> = pairs
                .iter()
                .filter(|(k, _)| *k == field.name)
                .map(|(_, v)| v.as_str())
                .collect();
            let result = if field.kind == Kind::Multi {
                check_multi(field, &raws).map(Value::Many)
            } else if raws.len() > 1 {
                Err(format!("{}只能填写一项。", quoted(field)))
            } else {
                check_one(field, raws.first().copied().unwrap_or("")).map(Value::One)
            };
            match result {
                Ok(value) => answers.push((field.name.clone(), value)),
                Err(message) => errors.push(FieldError::new(field, message)),
            }
        }
        if errors.is_empty() {
            Ok(Answers(answers))
        } else {
            Err(Errors(errors))
        }
    }

    /// The first field's answer (the unit's or committee's name), used to
    /// say whose return a notification is about.
    pub fn title_answer(&self, answers: &Answers) -> String {
        self.fields
            .first()
            .and_then(|f| answers.get(&f.name))
            .map(Value::display)
            .unwrap_or_default()
    }

    /// The first instant after the deadline day, China Standard Time.
    pub(crate) fn deadline_end(&self) -> Option<DateTime<Utc>> {
        let cst = FixedOffset::east_opt(8 * 3600)?;
        let next_day = self.deadline?.succ_opt()?;
        let start = next_day.and_hms_opt(0, 0, 0)?;
        cst.from_local_datetime(&start)
            .single()
            .map(|t| t.with_timezone(&Utc))
    }

    /// True once the whole deadline day (UTC+8) is over.
    pub fn is_late(&self, now: DateTime<Utc>) -> bool {
        self.deadline_end().is_some_and(|end| now >= end)
    }
}

/// “label”
fn quoted(field: &Field) -> String {
    format!("“{}”", field.label.trim())
}

/// "请填写“x”" with an example where the kind has one.
fn required_message(field: &Field) -> String {
    match field.kind {
        Kind::Select | Kind::Radio => format!("请选择{}。", quoted(field)),
        Kind::Multi => format!("请至少选择一项{}。", quoted(field)),
        _ => format!("请填写{}{}。", quoted(field), eg(field)),
    }
}

/// "，例如 <the field's example>", or nothing when it has none.
fn eg(field: &Field) -> String {
    field
        .example()
        .map(|e| format!("，例如 {e}"))
        .unwrap_or_default()
}

/// Free text keeps its punctuation: NFKC would turn Chinese ，：（） into
/// ASCII ones, so text only gets the canonical form (NFC).
fn normalize_text(raw: &str) -> String {
    raw.nfc().collect::<String>().trim().to_string()
}

/// Codes, numbers and addresses: NFKC turns full-width ０-９, Ａ-Ｚ, －, ＠
/// and the ideographic space into their ASCII forms.
fn normalize_code(raw: &str) -> String {
    raw.nfkc().collect::<String>().trim().to_string()
}

/// Separators people put inside numbers: spaces and every dash (after
/// NFKC, which already maps －, ﹣ and the ideographic space).
pub(crate) fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '-' | '\u{2010}'
                | '\u{2011}'
                | '\u{2012}'
                | '\u{2013}'
                | '\u{2014}'
                | '\u{2015}'
                | '\u{2212}'
        )
}

/// Zero-width characters and the BOM: invisible, and meaningless in one
/// line of text.
fn is_zero_width(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// Direction controls (embeddings, overrides, isolates) and the line and
/// paragraph separators: invisible, but they change how the text reads (an
/// unpaired U+202E reverses what follows it, a reference number included).
fn is_layout_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
}

/// One-line fields: zero-width characters are dropped (they come in with
/// pasted text and mean nothing there, so nothing is lost and nobody has to
/// hunt for a character they cannot see); direction controls and line
/// separators are refused, since dropping them could change what the
/// person saw when they typed it.
fn one_line(field: &Field, raw: &str) -> Result<String, String> {
    if raw.chars().any(is_layout_control) {
        return Err(format!(
            "{}含有看不见的文字方向控制符或分行符（常见于从网页或聊天软件复制的文字），请删除后重新输入。",
            quoted(field)
        ));
    }
    Ok(raw.chars().filter(|c| !is_zero_width(*c)).collect())
}

/// Normalises and checks one single-valued answer, giving the stored form.
pub(crate) fn check_one(field: &Field, raw: &str) -> Result<String, String> {
    let stripped;
    let raw = if field.kind == Kind::Textarea {
        raw
    } else {
        stripped = one_line(field, raw)?;
        stripped.as_str()
    };
    let value = match field.kind {
        Kind::Text | Kind::Textarea | Kind::Select | Kind::Radio | Kind::Multi => {
            let text = normalize_text(raw);
            // Browsers send CRLF from a textarea; store plain newlines.
            if field.kind == Kind::Textarea {
                text.replace("\r\n", "\n").replace('\r', "\n")
            } else {
                text
            }
        }
        _ => normalize_code(raw),
    };
    if value.is_empty() {
        return if field.required {
            Err(required_message(field))
        } else {
            Ok(String::new())
        };
    }
    let value = match field.kind {
        Kind::Text | Kind::Textarea => check_text(field, value)?,
        Kind::Select | Kind::Radio => check_option(field, value)?,
        // One choice of a multi field, checked on its own.
        Kind::Multi => check_option(field, value)?,
        Kind::Email => check_email(field, &value)?,
        Kind::Mobile => check_mobile(field, &value)?,
        Kind::Phone => check_phone(field, &value)?,
        Kind::Postcode => check_postcode(field, &value)?,
        Kind::Uscc => check_uscc_field(field, &value)?,
        Kind::Docnum => check_docnum(field, &value)?,
        Kind::Date => check_date(field, &value)?,
        Kind::Idcard => check_idcard(field, &value)?,
    };
    if let Some(max) = field.effective_max_length() {
        let n = value.chars().count();
        if n > max {
            return Err(format!(
                "{}最多 {max} 个字，现在有 {n} 个字，请精简。",
                quoted(field)
            ));
        }
    }
    Ok(value)
}

fn check_text(field: &Field, value: String) -> Result<String, String> {
    let allowed = |c: char| field.kind == Kind::Textarea && (c == '\n' || c == '\t');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(if field.kind == Kind::Textarea {
            format!("{}含有不可见的控制字符，请删除后重新填写。", quoted(field))
        } else {
            format!(
                "{}只能填写一行文字，不能包含换行、制表符等控制字符。",
                quoted(field)
            )
        });
    }
    Ok(value)
}

fn options_list(field: &Field) -> String {
    field.options.join("、")
}

fn check_option(field: &Field, value: String) -> Result<String, String> {
    if field.options.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{}只能从以下选项中选择：{}。",
            quoted(field),
            options_list(field)
        ))
    }
}

/// Several choices: each must be an option; repeats collapse and the result
/// follows the definition's option order.
fn check_multi(field: &Field, raws: &[&str]) -> Result<Vec<String>, String> {
    let mut chosen = vec![false; field.options.len()];
    for raw in raws {
        let value = normalize_text(raw);
        if value.is_empty() {
            continue;
        }
        match field.options.iter().position(|o| *o == value) {
            Some(i) => chosen[i] = true,
            None => {
                return Err(format!(
                    "{}中的“{value}”不是可选项，只能从以下选项中选择：{}。",
                    quoted(field),
                    options_list(field)
                ))
            }
        }
    }
    let values: Vec<String> = field
        .options
        .iter()
        .zip(&chosen)
        .filter(|(_, &c)| c)
        .map(|(o, _)| o.clone())
        .collect();
    if values.is_empty() && field.required {
        return Err(required_message(field));
    }
    Ok(values)
}

/// Why an address is refused; shared with the definition checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EmailProblem {
    Space,
    At,
    BadChar(char),
    Local,
    Domain,
    TooLong,
}

/// Syntax of an address the way browsers check `type=email`, plus a dot in
/// the domain and the length limit, so the server is never more lenient
/// than the page (and rarely stricter).
pub(crate) fn check_email_syntax(s: &str) -> Result<(), EmailProblem> {
    if s.chars().any(char::is_whitespace) {
        return Err(EmailProblem::Space);
    }
    if s.chars().count() > EMAIL_MAX {
        return Err(EmailProblem::TooLong);
    }
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(EmailProblem::At);
    };
    let local_ok = |c: char| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c);
    if let Some(c) = local.chars().find(|&c| !local_ok(c)) {
        return Err(EmailProblem::BadChar(c));
    }
    if let Some(c) = domain
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        return Err(EmailProblem::BadChar(c));
    }
    if local.is_empty()
        || local.len() > 64
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Err(EmailProblem::Local);
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok =
        |l: &&str| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-');
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(EmailProblem::Domain);
    }
    Ok(())
}

fn check_email(field: &Field, value: &str) -> Result<String, String> {
    let q = quoted(field);
    let eg = eg(field);
    match check_email_syntax(value) {
        Ok(()) => {
            // The domain is case-insensitive; the local part may not be.
            let (local, domain) = value.split_once('@').unwrap_or((value, ""));
            Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
        }
        Err(EmailProblem::Space) => Err(format!("{q}中间不能有空格{eg}。")),
        Err(EmailProblem::TooLong) => Err(format!("{q}不能超过 {EMAIL_MAX} 个字符。")),
        Err(EmailProblem::At) => Err(format!("{q}应包含一个“@”{eg}。")),
        Err(EmailProblem::BadChar(c)) => Err(format!(
            "{q}含有不能使用的字符“{c}”：邮箱地址只能使用英文字母、数字和 . _ - + 等符号{eg}。"
        )),
        Err(EmailProblem::Local) => Err(format!("{q}“@”前面的用户名不完整{eg}。")),
        Err(EmailProblem::Domain) => Err(format!("{q}“@”后面应是完整的域名（带“.”）{eg}。")),
    }
}

fn check_mobile(field: &Field, value: &str) -> Result<String, String> {
    let q = quoted(field);
    let eg = eg(field);
    let compact: String = value.chars().filter(|&c| !is_separator(c)).collect();
    let digits = compact.strip_prefix('+').unwrap_or(&compact);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("{q}只能填写数字{eg}。"));
    }
    // 86 is the country code only in front of a full 11-digit number.
    let national = match digits.strip_prefix("86") {
        Some(rest) if rest.len() == 11 => rest,
        _ if compact.starts_with('+') => {
            return Err(format!("{q}应为中国大陆手机号码（+86 可省略）{eg}。"))
        }
        _ => digits,
    };
    if national.starts_with('0') {
        return Err(format!(
            "{q}应为 11 位手机号码，以 1 开头；固定电话不能填在这里{eg}。"
        ));
    }
    if national.len() != 11 {
        return Err(format!(
            "{q}应为 11 位手机号码，现在是 {} 位{eg}。",
            national.len()
        ));
    }
    let bytes = national.as_bytes();
    if bytes[0] != b'1' || !(b'3'..=b'9').contains(&bytes[1]) {
        return Err(format!("{q}不是有效的手机号码：应以 13–19 开头{eg}。"));
    }
    Ok(national.to_string())
}

/// `0753-2128309`, `(0753)2128309`, `07532128309`, `0753 2128309`, each
/// optionally followed by `-123`, `转123` or `分机123`. Stored as
/// `0753-2128309` or `0753-2128309转123`.
fn check_phone(field: &Field, value: &str) -> Result<String, String> {
    let q = quoted(field);
    let eg = eg(field);
    let bad_chars = || format!("{q}只能包含数字、括号、空格和“-”，分机号写成“转123”{eg}。");
    let format_err =
        || format!("{q}应填写区号和号码{eg}；有分机的在号码后写“转”和分机号，如“转123”。");

    // Split off an extension written with 转 or 分机.
    let (main, mut ext) = match value
        .find('转')
        .map(|i| (i, '转'.len_utf8()))
        .or_else(|| value.find("分机").map(|i| (i, "分机".len())))
    {
        Some((i, len)) => {
            let ext: String = value[i + len..]
                .chars()
                .filter(|&c| !is_separator(c))
                .collect();
            (value[..i].trim(), Some(ext))
        }
        None => (value, None),
    };

    // An area code in brackets may only come first.
    let (paren_area, rest) = match main.strip_prefix('(') {
        Some(after) => {
            let Some(close) = after.find(')') else {
                return Err(bad_chars());
            };
            let area: String = after[..close]
                .chars()
                .filter(|&c| !is_separator(c))
                .collect();
            (Some(area), &after[close + 1..])
        }
        None => (None, main),
    };
    let mut groups: Vec<&str> = Vec::new();
    for part in rest.split(is_separator) {
        if part.is_empty() {
            continue;
        }
        if !part.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad_chars());
        }
        groups.push(part);
    }
    if let Some(area) = &paren_area {
        if area.is_empty() || !area.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad_chars());
        }
    }

    // A trailing short group after a complete number is an extension.
    let complete_before_last = |g: &[&str]| match (&paren_area, g) {
        (Some(_), [_local]) => true,
        (None, [area, _local]) => area.starts_with('0') && area.len() <= 4,
        (None, [combined]) => combined.starts_with('0') && combined.len() >= 10,
        _ => false,
    };
    if ext.is_none() && groups.len() >= 2 {
        let (head, last) = groups.split_at(groups.len() - 1);
        if last[0].len() <= 6 && complete_before_last(head) {
            ext = Some(last[0].to_string());
            groups.truncate(groups.len() - 1);
        }
    }
    if let Some(e) = &ext {
        if e.is_empty() || e.len() > 6 || !e.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "{q}的分机号应为 1–6 位数字，写在号码后，如“转123”。"
            ));
        }
    }

    let (area, local): (String, String) = match (&paren_area, groups.as_slice()) {
        (Some(area), [local]) => (area.clone(), local.to_string()),
        (None, [area, local]) if area.starts_with('0') => (area.to_string(), local.to_string()),
        (None, [combined]) if combined.starts_with('0') => {
            let split = if combined.starts_with("01") || combined.starts_with("02") {
                3
            } else {
                4
            };
            if combined.len() <= split {
                return Err(format_err());
            }
            (combined[..split].to_string(), combined[split..].to_string())
        }
        (None, groups) => {
            let all: String = groups.concat();
            return Err(
                if (all.len() == 7 || all.len() == 8) && !all.starts_with('0') {
                    format!("{q}缺少区号，请在号码前加上区号{eg}。")
                } else if all.len() == 11 && all.starts_with('1') {
                    format!("{q}应填写固定电话（区号-号码）{eg}；手机号码请填在手机栏。")
                } else {
                    format_err()
                },
            );
        }
        _ => return Err(format_err()),
    };

    let area_ok = match area.len() {
        3 => area == "010" || area.starts_with("02"),
        4 => {
            area.starts_with('0')
                && !area.starts_with("00")
                && !area.starts_with("01")
                && !area.starts_with("02")
        }
        _ => false,
    };
    if !area_ok {
        return Err(format!(
            "{q}的区号“{area}”不正确：区号以 0 开头，共 3 或 4 位（如 020、0753）{eg}。"
        ));
    }
    if let Some(home) = field.local_area.as_ref().filter(|a| a.code == area) {
        if local.len() != home.digits {
            return Err(format!(
                "{q}的号码不正确：{}（{}）的电话号码是 {} 位，现在是 {} 位{eg}。",
                home.name,
                home.code,
                home.digits,
                local.len()
            ));
        }
    }
    if local.len() != 7 && local.len() != 8 {
        return Err(format!(
            "{q}的号码应为 7 或 8 位（不含区号），现在是 {} 位{eg}。",
            local.len()
        ));
    }
    if local.starts_with('0') || local.starts_with('1') {
        return Err(format!(
            "{q}的号码“{local}”不正确：区号之后的号码不以 0 或 1 开头{eg}。"
        ));
    }
    let mut out = format!("{area}-{local}");
    if let Some(e) = ext {
        out.push('转');
        out.push_str(&e);
    }
    Ok(out)
}

fn check_postcode(field: &Field, value: &str) -> Result<String, String> {
    let q = quoted(field);
    if !value.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("{q}只能填写数字，应为 6 位{}。", eg(field)));
    }
    if value.len() != 6 {
        return Err(format!(
            "{q}应为 6 位数字，现在是 {} 位{}。",
            value.len(),
            eg(field)
        ));
    }
    Ok(value.to_string())
}

/// A 统一社会信用代码, or for a unit that has none yet (the change-over
/// ran to the end of 2017) its 9-character 组织机构代码, stored as
/// `XXXXXXXX-X`.
fn check_uscc_field(field: &Field, value: &str) -> Result<String, String> {
    let q = quoted(field);
    let code = value.to_ascii_uppercase();
    let both = "应为 18 位统一社会信用代码；尚未取得的单位可填写 9 位组织机构代码（如 XXXXXXXX-X）";
    // An org code may carry its hyphen before the check character.
    let org_shape = code.chars().count() == 10 && code.chars().nth(8) == Some('-');
    if org_shape || code.chars().count() == 9 {
        return check_org_code_field(field, &code);
    }
    // The page's pattern refuses inner spaces too; say so plainly.
    if code.chars().any(is_separator) {
        return Err(format!(
            "{q}中间不能有空格或“-”，请连续填写 18 位代码；尚未取得统一社会信用代码的单位可填写组织机构代码（如 XXXXXXXX-X）。"
        ));
    }
    match ids::check_uscc(&code) {
        Ok(()) => Ok(code),
        Err(UsccProblem::Length(n)) => Err(format!(
            "{q}{both}，现在是 {n} 位，请核对登记证书或营业执照。"
        )),
        Err(UsccProblem::BadChar { position, found }) if ids::uscc_excluded_letter(found) => {
            let likely = match found {
                'I' => "数字“1”",
                'O' => "数字“0”",
                'S' => "数字“5”",
                'V' => "字母“U”",
                _ => "数字“2”",
            };
            Err(format!(
                "{q}第 {position} 位的字母“{found}”不会出现在代码中（代码不使用 I、O、S、V、Z），这里可能是{likely}，请核对营业执照或登记证书。"
            ))
        }
        Err(UsccProblem::BadChar { position, found }) => Err(format!(
            "{q}第 {position} 位的“{found}”不是有效字符：代码只由数字和大写英文字母（不含 I、O、S、V、Z）组成。"
        )),
        Err(UsccProblem::CheckChar { .. }) => Err(format!(
            "{q}的校验位不正确：应为 18 位，最后一位是校验码，请核对营业执照或登记证书。"
        )),
        Err(UsccProblem::OrgCode { .. }) => Err(format!(
            "{q}第 9–17 位（组织机构代码）的校验码不正确，请逐位核对营业执照或登记证书。"
        )),
    }
}

/// A 组织机构代码 (GB 11714) given in place of a 统一社会信用代码.
fn check_org_code_field(field: &Field, code: &str) -> Result<String, String> {
    let q = quoted(field);
    let compact: String = code.chars().filter(|&c| c != '-').collect();
    match ids::check_org_code(code) {
        Ok(()) => Ok(format!("{}-{}", &compact[..8], &compact[8..])),
        Err(OrgCodeProblem::Length(n)) => Err(format!(
            "{q}应为 18 位统一社会信用代码，或 9 位组织机构代码（如 XXXXXXXX-X），现在是 {n} 位。"
        )),
        Err(OrgCodeProblem::BadChar { position, found }) => Err(format!(
            "{q}按组织机构代码核对：第 {position} 位的“{found}”不是有效字符（前 8 位是数字或大写字母，最后一位是数字或 X）。如有 18 位统一社会信用代码，请填写统一社会信用代码。"
        )),
        Err(OrgCodeProblem::CheckChar { .. }) => Err(format!(
            "{q}按组织机构代码核对：校验码（最后一位）不正确，请核对组织机构代码证。如有 18 位统一社会信用代码，请填写统一社会信用代码。"
        )),
    }
}

/// 居民身份证号 (GB 11643-1999): 17 digits and a check character (0–9 or
/// X, ISO 7064 MOD 11-2); digits 7–14 are a real birth date, not in the
/// future. The 15-digit numbers of before 1999 are refused: they were
/// replaced by 18-digit ones and the systems fed from this form take
/// only those.
fn check_idcard(field: &Field, value: &str) -> Result<String, String> {
    let q = quoted(field);
    let code: String = value
        .chars()
        .filter(|&c| !is_separator(c))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    // Today in China Standard Time.
    let today = (Utc::now() + chrono::Duration::hours(8)).date_naive();
    match ids::check_idcard(&code, today) {
        Ok(()) => Ok(code),
        Err(IdcardProblem::Legacy15) => Err(format!(
            "{q}填写的是 15 位的旧身份证号。旧号码已换发为 18 位，请填写 18 位居民身份证号（见身份证正面下方）。"
        )),
        Err(IdcardProblem::Length(n)) => Err(format!(
            "{q}应为 18 位，现在是 {n} 位{}。",
            eg(field)
        )),
        Err(IdcardProblem::BadChar { position }) => Err(format!(
            "{q}第 {position} 位不是数字：身份证号前 17 位都是数字，最后一位是数字或 X。"
        )),
        Err(IdcardProblem::BirthDate) => Err(format!(
            "{q}第 7–14 位应是出生日期（年月日），现在不是有效的日期，请核对。"
        )),
        Err(IdcardProblem::CheckChar) => Err(format!(
            "{q}的最后一位（校验码）与前 17 位不符，请逐位核对身份证。"
        )),
    }
}

/// Counted as CJK ideographs (script Han), for the 机关代字 of a 文号.
fn is_han(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x2FDF // radicals
        | 0x3005 | 0x3007 | 0x3021..=0x3029 | 0x3038..=0x303B
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x323AF)
}

/// Brackets people type instead of 〔〕 (after NFKC: ［］ → [], （） → ()).
fn is_lookalike_open(c: char) -> bool {
    matches!(
        c,
        '[' | '(' | '{' | '<' | '【' | '〖' | '〘' | '《' | '〈' | '❲' | '「' | '『'
    )
}

fn is_lookalike_close(c: char) -> bool {
    matches!(
        c,
        ']' | ')' | '}' | '>' | '】' | '〗' | '〙' | '》' | '〉' | '❳' | '」' | '』'
    )
}

/// 发文字号: 机关代字〔年份〕序号号, e.g. 梅市人社函〔2016〕216号. Look-alike
/// brackets and leading zeros are refused with the corrected form shown, not
/// silently changed: the number must match the paper document.
fn check_docnum(field: &Field, value: &str) -> Result<String, String> {
    let q = quoted(field);
    let eg = eg(field);
    let general = || format!("{q}的格式应为“机关代字〔年份〕序号号”{eg}。");
    let chars: Vec<char> = value.chars().filter(|c| !c.is_whitespace()).collect();
    let mut i = 0;
    while i < chars.len() && is_han(chars[i]) {
        i += 1;
    }
    let prefix: String = chars[..i].iter().collect();
    if prefix.is_empty() {
        return Err(format!("{q}应以发文机关代字开头{eg}。"));
    }
    let open = chars.get(i).copied();
    let right_open = open == Some('〔');
    if !(right_open || open.is_some_and(is_lookalike_open)) {
        return Err(general());
    }
    i += 1;
    let year_start = i;
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    let year: String = chars[year_start..i].iter().collect();
    let close = chars.get(i).copied();
    let right_close = close == Some('〕');
    if !(right_close || close.is_some_and(is_lookalike_close)) {
        return Err(general());
    }
    if year.len() != 4 {
        return Err(format!("{q}的年份应为 4 位数字{eg}。"));
    }
    i += 1;
    let number_start = i;
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    let number: String = chars[number_start..i].iter().collect();
    let tail: String = chars[i..].iter().collect();
    let trimmed_number = number.trim_start_matches('0');
    if trimmed_number.is_empty() || !(tail == "号" || tail.is_empty()) {
        return Err(general());
    }
    let corrected = format!("{prefix}〔{year}〕{trimmed_number}号");
    if !(right_open && right_close) {
        return Err(format!("{q}年份应使用六角括号〔〕，例如：{corrected}"));
    }
    if trimmed_number != number {
        return Err(format!("{q}的序号前面不加“0”，例如：{corrected}"));
    }
    if tail.is_empty() {
        return Err(format!("{q}应以“号”结尾，例如：{corrected}"));
    }
    Ok(corrected)
}

/// A date written 2016-07-27, 2016/7/27, 2016.7.27, 2016年7月27日 or
/// 20160727; `None` if it has none of these shapes.
pub(crate) fn parse_date_parts(value: &str) -> Option<(i32, u32, u32)> {
    let s: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    fn number(t: &str, min: usize, max: usize) -> Option<u32> {
        let ok = t.len() >= min && t.len() <= max && t.bytes().all(|b| b.is_ascii_digit());
        if ok {
            t.parse().ok()
        } else {
            None
        }
    }
    let (y, m, d) = if let Some((y, rest)) = s.split_once('年') {
        let (m, rest) = rest.split_once('月')?;
        let d = rest.strip_suffix('日').unwrap_or(rest);
        (y, m, d)
    } else if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        (&s[..4], &s[4..6], &s[6..])
    } else {
        let sep = s.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
        let mut parts = s.split(sep);
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        (y, m, d)
    };
    let y = i32::try_from(number(y, 4, 4)?).ok()?;
    Some((y, number(m, 1, 2)?, number(d, 1, 2)?))
}

/// The ISO form of a date answer, if it is a real date.
pub(crate) fn parse_date(value: &str) -> Option<NaiveDate> {
    let normalized = normalize_code(value);
    let (y, m, d) = parse_date_parts(&normalized)?;
    NaiveDate::from_ymd_opt(y, m, d).filter(|date| (1900..=2100).contains(&date.year()))
}

fn check_date(field: &Field, value: &str) -> Result<String, String> {
    let q = quoted(field);
    let Some((y, m, d)) = parse_date_parts(value) else {
        return Err(format!("{q}应为日期，例如 2016-07-27 或 2016年7月27日。"));
    };
    if !(1900..=2100).contains(&y) {
        return Err(format!("{q}的年份“{y}”不正确，例如 2016-07-27。"));
    }
    if !(1..=12).contains(&m) {
        return Err(format!("{q}的月份应为 1–12，现在是 {m}，例如 2016-07-27。"));
    }
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(date) => Ok(date.format("%Y-%m-%d").to_string()),
        None => Err(format!("{q}不是真实的日期：{y}年{m}月没有{d}日。")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::def::AfterDeadline;

    fn field(name: &str, label: &str, kind: Kind, required: bool) -> Field {
        Field {
            name: name.into(),
            label: label.into(),
            kind,
            required,
            max_length: None,
            options: if kind == Kind::Select {
                vec![
                    "机关".into(),
                    "事业单位".into(),
                    "社会团体".into(),
                    "其他".into(),
                ]
            } else if kind == Kind::Multi {
                vec![
                    "初级".into(),
                    "中级".into(),
                    "副高级".into(),
                    "正高级".into(),
                ]
            } else {
                vec![]
            },
            help: String::new(),
            width: None,
            local_area: None,
            example: None,
        }
    }

    fn one(kind: Kind, label: &str, raw: &str) -> Result<String, String> {
        check_one(&field("f", label, kind, true), raw)
    }

    fn def() -> FormDef {
        FormDef {
            id: "departments".into(),
            title: "市直主管部门信息一览表".into(),
            annex: Some(1),
            description: String::new(),
            deadline: NaiveDate::from_ymd_opt(2016, 7, 27),
            after_deadline: AfterDeadline::Accept,
            recipients: vec![],
            fields: vec![
                field("unit_name", "单位全称", Kind::Text, true),
                field("uscc", "统一社会信用代码", Kind::Uscc, true),
                field("unit_type", "单位类型", Kind::Select, true),
                field("levels", "评审级别", Kind::Multi, false),
                field("fax", "传真", Kind::Phone, false),
                field("remarks", "备注", Kind::Textarea, false),
            ],
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn validates_a_full_return_in_field_order() {
        let answers = def()
            .validate(&pairs(&[
                ("website", ""),
                ("unit_type", "机关"),
                ("unit_name", "  梅州市人力资源和社会保障局 "),
                ("uscc", "11441700007280420y"),
                ("levels", "正高级"),
                ("levels", "初级"),
                ("levels", "初级"),
                ("submit", "提交"),
            ]))
            .unwrap();
        assert_eq!(
            answers,
            Answers(vec![
                (
                    "unit_name".into(),
                    Value::One("梅州市人力资源和社会保障局".into())
                ),
                ("uscc".into(), Value::One("11441700007280420Y".into())),
                ("unit_type".into(), Value::One("机关".into())),
                (
                    "levels".into(),
                    Value::Many(vec!["初级".into(), "正高级".into()])
                ),
                ("fax".into(), Value::One(String::new())),
                ("remarks".into(), Value::One(String::new())),
            ])
        );
        assert_eq!(def().title_answer(&answers), "梅州市人力资源和社会保障局");
        assert_eq!(answers.get("levels").unwrap().display(), "初级、正高级");
        assert_eq!(answers.get("nope"), None);
    }

    #[test]
    fn reports_every_field_once_in_order() {
        let errors = def()
            .validate(&pairs(&[
                ("unit_name", "甲"),
                ("unit_name", "乙"),
                ("uscc", "1144170000728042"),
                ("levels", "高级"),
            ]))
            .unwrap_err();
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["unit_name", "uscc", "unit_type", "levels"]);
        assert_eq!(
            errors.get("unit_name").unwrap().message,
            "“单位全称”只能填写一项。"
        );
        assert_eq!(errors.get("unit_name").unwrap().label, "单位全称");
        assert_eq!(
            errors.get("uscc").unwrap().message,
            "“统一社会信用代码”应为 18 位统一社会信用代码；尚未取得的单位可填写 9 位组织机构代码（如 XXXXXXXX-X），现在是 16 位，请核对登记证书或营业执照。"
        );
        assert_eq!(
            errors.get("unit_type").unwrap().message,
            "请选择“单位类型”。"
        );
        assert_eq!(
            errors.get("levels").unwrap().message,
            "“评审级别”中的“高级”不是可选项，只能从以下选项中选择：初级、中级、副高级、正高级。"
        );
        assert!(!errors.is_empty());
        assert_eq!(errors.len(), 4);
        assert!(errors.get("fax").is_none());
    }

    #[test]
    fn required_multi_needs_one() {
        let f = field("levels", "评审级别", Kind::Multi, true);
        assert_eq!(
            check_multi(&f, &[]).unwrap_err(),
            "请至少选择一项“评审级别”。"
        );
        assert_eq!(
            check_multi(&f, &["  ", "中级"]).unwrap(),
            vec!["中级".to_string()]
        );
    }

    #[test]
    fn text_rules() {
        assert_eq!(
            one(Kind::Text, "单位全称", "   ").unwrap_err(),
            "请填写“单位全称”。"
        );
        assert_eq!(
            check_one(&field("f", "职务", Kind::Text, false), "  ").unwrap(),
            ""
        );
        // Chinese punctuation survives (no NFKC on free text).
        assert_eq!(
            one(Kind::Text, "单位全称", "梅州市某某（集团）有限公司，分部").unwrap(),
            "梅州市某某（集团）有限公司，分部"
        );
        assert!(one(Kind::Text, "单位地址", "梅江区\n某路")
            .unwrap_err()
            .contains("只能填写一行文字"));
        assert!(one(Kind::Text, "单位地址", "a\u{7}b").is_err());
        let mut f = field("f", "单位全称", Kind::Text, true);
        f.max_length = Some(5);
        assert_eq!(check_one(&f, "一二三四五").unwrap(), "一二三四五");
        assert_eq!(
            check_one(&f, "一二三四五六").unwrap_err(),
            "“单位全称”最多 5 个字，现在有 6 个字，请精简。"
        );
        // Default cap for free text.
        assert!(one(Kind::Text, "单位全称", &"字".repeat(201)).is_err());
    }

    #[test]
    fn invisible_format_characters_in_one_line_fields() {
        let refused = "含有看不见的文字方向控制符或分行符";
        // (kind, label, typed, Ok(stored) or Err(part of the message))
        let table: &[(Kind, &str, &str, Result<&str, &str>)] = &[
            // Zero-width characters and BOMs mean nothing in one line and
            // come in with pasted text: dropped.
            (
                Kind::Text,
                "单位全称",
                "梅州\u{200B}市教育局",
                Ok("梅州市教育局"),
            ),
            (
                Kind::Text,
                "单位全称",
                "\u{FEFF}梅州市教育局",
                Ok("梅州市教育局"),
            ),
            (
                Kind::Text,
                "单位全称",
                "梅州\u{200C}\u{200D}\u{2060}市",
                Ok("梅州市"),
            ),
            (
                Kind::Mobile,
                "手机",
                "139\u{200B}2345\u{FEFF}6789",
                Ok("13923456789"),
            ),
            // Direction controls and line separators change how the text
            // reads: refused, naming the field.
            (Kind::Text, "单位全称", "梅州\u{202E}市教育局", Err(refused)),
            (Kind::Text, "单位全称", "a\u{202A}b", Err(refused)),
            (Kind::Text, "单位全称", "a\u{202D}b", Err(refused)),
            (Kind::Text, "联系人", "a\u{2066}b\u{2069}", Err(refused)),
            (Kind::Text, "联系人", "a\u{2028}b", Err(refused)),
            (Kind::Text, "联系人", "a\u{2029}b", Err(refused)),
            (
                Kind::Docnum,
                "文号",
                "梅人社\u{202E}〔2016〕12号",
                Err(refused),
            ),
            (
                Kind::Email,
                "电子邮箱",
                "a\u{202E}@example.com",
                Err(refused),
            ),
        ];
        for (kind, label, typed, want) in table {
            let got = one(*kind, label, typed);
            match want {
                Ok(stored) => assert_eq!(got.as_deref(), Ok(*stored), "{typed:?}"),
                Err(part) => {
                    let m = got.expect_err(typed);
                    assert!(m.contains(part) && m.contains(label), "{typed:?}: {m}");
                }
            }
        }
        // A textarea keeps its lines; only one-line fields are checked here.
        assert!(one(Kind::Textarea, "备注", "a\u{200B}b").is_ok());
    }

    #[test]
    fn textarea_keeps_lines_and_tabs() {
        assert_eq!(
            one(Kind::Textarea, "备注", "一\r\n二\t三\r").unwrap(),
            "一\n二\t三"
        );
        assert!(one(Kind::Textarea, "备注", "一\u{0}二")
            .unwrap_err()
            .contains("控制字符"));
    }

    #[test]
    fn select_rules() {
        assert_eq!(
            one(Kind::Select, "单位类型", " 事业单位 ").unwrap(),
            "事业单位"
        );
        assert_eq!(
            one(Kind::Select, "单位类型", "企业").unwrap_err(),
            "“单位类型”只能从以下选项中选择：机关、事业单位、社会团体、其他。"
        );
    }

    #[test]
    fn email_rules() {
        let ok = |s: &str| one(Kind::Email, "电子邮箱", s);
        assert_eq!(
            ok("Zhang.San@MZ.Example.COM").unwrap(),
            "Zhang.San@mz.example.com"
        );
        assert_eq!(
            ok("ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ").unwrap(),
            "zhang@example.com"
        );
        assert_eq!(ok(" a+b@qq.com ").unwrap(), "a+b@qq.com");
        assert!(ok("zhang san@example.com")
            .unwrap_err()
            .contains("不能有空格"));
        assert!(ok("zhang.example.com").unwrap_err().contains("“@”"));
        assert!(ok("a@b@example.com").unwrap_err().contains("“@”"));
        assert!(ok("zhang@localhost").unwrap_err().contains("域名"));
        assert!(ok("zhang@-x.com").unwrap_err().contains("域名"));
        assert!(ok("zhang@x..com").unwrap_err().contains("域名"));
        assert!(ok("@example.com").unwrap_err().contains("用户名"));
        assert!(ok("a..b@example.com").unwrap_err().contains("用户名"));
        assert!(ok("张三@example.com").unwrap_err().contains("“张”"));
        assert!(ok(&format!("{}@example.com", "a".repeat(250)))
            .unwrap_err()
            .contains("254"));
    }

    #[test]
    fn mobile_rules() {
        let m = |s: &str| one(Kind::Mobile, "手机", s);
        for good in [
            "13800138000",
            "138 0013 8000",
            "138-0013-8000",
            "+8613800138000",
            "+86 138 0013 8000",
            "8613800138000",
            "１３８００１３８０００",
            "19912345678",
        ] {
            assert_eq!(
                m(good).unwrap(),
                if good.contains("199") {
                    "19912345678"
                } else {
                    "13800138000"
                },
                "{good}"
            );
        }
        assert_eq!(
            m("1380013800").unwrap_err(),
            "“手机”应为 11 位手机号码，现在是 10 位，例如 13800138000。"
        );
        assert!(m("12800138000").unwrap_err().contains("13–19"));
        assert!(m("0753-2128309").unwrap_err().contains("固定电话"));
        assert!(m("138001380OO").unwrap_err().contains("只能填写数字"));
        assert!(m("+4413800138000").unwrap_err().contains("中国大陆"));
        assert!(m("861380013800").is_err());
    }

    #[test]
    fn phone_rules() {
        let mut office = field("f", "办公电话", Kind::Phone, true);
        office.local_area = Some(crate::LocalArea {
            code: "0753".into(),
            name: "梅州".into(),
            digits: 7,
        });
        let p = |s: &str| check_one(&office, s);
        for (raw, stored) in [
            ("0753-2128309", "0753-2128309"),
            ("(0753)2128309", "0753-2128309"),
            ("（0753）2128309", "0753-2128309"),
            ("07532128309", "0753-2128309"),
            ("0753 2128309", "0753-2128309"),
            ("０７５３－２１２８３０９", "0753-2128309"),
            ("0753—2128309", "0753-2128309"),
            ("0753-2128309-123", "0753-2128309转123"),
            ("0753-2128309转123", "0753-2128309转123"),
            ("0753-2128309 转 123", "0753-2128309转123"),
            ("(0753) 2128309 分机 8", "0753-2128309转8"),
            ("07532128309-123", "0753-2128309转123"),
            ("020-83881234", "020-83881234"),
            ("02083881234", "020-83881234"),
            ("010 62345678", "010-62345678"),
            ("0755-2612345", "0755-2612345"),
        ] {
            assert_eq!(p(raw).as_deref(), Ok(stored), "{raw}");
        }
        assert_eq!(
            p("2128309").unwrap_err(),
            "“办公电话”缺少区号，请在号码前加上区号，例如 010-12345678。"
        );
        assert!(p("21283090").unwrap_err().contains("缺少区号"));
        assert!(p("212 8309").unwrap_err().contains("缺少区号"));
        assert_eq!(
            p("0753-21283091").unwrap_err(),
            "“办公电话”的号码不正确：梅州（0753）的电话号码是 7 位，现在是 8 位，例如 010-12345678。"
        );
        assert!(p("13800138000")
            .unwrap_err()
            .contains("手机号码请填在手机栏"));
        assert!(p("0755-212830").unwrap_err().contains("7 或 8 位"));
        assert!(p("0753-212830").unwrap_err().contains("梅州（0753）"));
        assert!(p("0123-2128309").unwrap_err().contains("区号“0123”"));
        assert!(p("00753-2128309").unwrap_err().contains("区号"));
        assert!(p("0755-0128309").unwrap_err().contains("不以 0 或 1 开头"));
        assert!(p("0753-2128309转1234567").unwrap_err().contains("分机号"));
        assert!(p("0753-2128309转").unwrap_err().contains("分机号"));
        assert!(p("0753-21283O9").unwrap_err().contains("只能包含数字"));
        assert!(p("(0753-2128309").unwrap_err().contains("只能包含数字"));
        assert!(p("0753-212-8309").is_err());
        // Without a local area, only the general 7-or-8 rule applies.
        assert_eq!(
            one(Kind::Phone, "办公电话", "0753-21283091").as_deref(),
            Ok("0753-21283091")
        );
        assert!(one(Kind::Phone, "办公电话", "0753-212830")
            .unwrap_err()
            .contains("7 或 8 位"));
        // Another area of 8-digit numbers.
        office.local_area = Some(crate::LocalArea {
            code: "020".into(),
            name: "广州".into(),
            digits: 8,
        });
        assert_eq!(
            check_one(&office, "020-8388123").unwrap_err(),
            "“办公电话”的号码不正确：广州（020）的电话号码是 8 位，现在是 7 位，例如 010-12345678。"
        );
        assert_eq!(
            check_one(&office, "0753-21283091").as_deref(),
            Ok("0753-21283091")
        );
    }

    #[test]
    fn postcode_rules() {
        let p = |s: &str| one(Kind::Postcode, "邮政编码", s);
        assert_eq!(p(" 514000 ").unwrap(), "514000");
        assert_eq!(p("５１４０００").unwrap(), "514000");
        assert_eq!(
            p("51400").unwrap_err(),
            "“邮政编码”应为 6 位数字，现在是 5 位，例如 100000。"
        );
        assert!(p("514 000").unwrap_err().contains("只能填写数字"));
        assert!(p("51400a").unwrap_err().contains("只能填写数字"));
    }

    #[test]
    fn uscc_rules() {
        let u = |s: &str| one(Kind::Uscc, "统一社会信用代码", s);
        assert_eq!(u("11441700007280420Y").unwrap(), "11441700007280420Y");
        assert_eq!(
            u(" １１４４１７００００７２８０４２０ｙ ").unwrap(),
            "11441700007280420Y"
        );
        assert_eq!(
            u("11441700007280420X").unwrap_err(),
            "“统一社会信用代码”的校验位不正确：应为 18 位，最后一位是校验码，请核对营业执照或登记证书。"
        );
        assert_eq!(
            u("1144170000728042OY").unwrap_err(),
            "“统一社会信用代码”第 17 位的字母“O”不会出现在代码中（代码不使用 I、O、S、V、Z），这里可能是数字“0”，请核对营业执照或登记证书。"
        );
        assert!(u("11441700007280420#")
            .unwrap_err()
            .contains("第 18 位的“#”不是有效字符"));
        assert!(u("114417000072804").unwrap_err().contains("现在是 15 位"));
        assert!(u("11441700 007280420Y").unwrap_err().contains("不能有空格"));
        let first17 = "11441700007280421";
        let code = format!("{first17}{}", ids::uscc_check_char(first17).unwrap());
        assert!(u(&code).unwrap_err().contains("组织机构代码"));
    }

    #[test]
    fn org_code_instead_of_uscc_table() {
        let u = |s: &str| one(Kind::Uscc, "统一社会信用代码", s);
        // (typed, stored): check characters X and 0 included.
        for (raw, stored) in [
            ("00001434-9", "00001434-9"),
            ("000014349", "00001434-9"),
            ("40000000-X", "40000000-X"),
            ("40000000x", "40000000-X"),
            ("00000000-0", "00000000-0"),
            ("１２３４５６７８－８", "12345678-8"),
            ("a0000000-3", "A0000000-3"),
        ] {
            assert_eq!(u(raw).as_deref(), Ok(stored), "{raw}");
        }
        for (raw, says) in [
            ("00001434-8", "校验码（最后一位）不正确"),
            ("40000000-0", "校验码（最后一位）不正确"),
            ("00000000-X", "校验码（最后一位）不正确"),
            ("0000#434-9", "第 5 位的“#”不是有效字符"),
            ("00001434Y", "第 9 位的“Y”不是有效字符"),
            ("0000143", "现在是 7 位"),
        ] {
            let e = u(raw).unwrap_err();
            assert!(e.contains(says), "{raw}: {e}");
            // Every refusal names both codes, so a unit with either knows what to give.
            assert!(
                e.contains("统一社会信用代码") && e.contains("组织机构代码"),
                "{raw}: {e}"
            );
        }
        // A length that is neither names both too.
        let e = u("1234567890123").unwrap_err();
        assert!(
            e.contains("18 位统一社会信用代码") && e.contains("9 位组织机构代码"),
            "{e}"
        );
    }

    #[test]
    fn idcard_table() {
        let i = |s: &str| one(Kind::Idcard, "身份证号", s);
        for (raw, stored) in [
            ("11010519491231002X", "11010519491231002X"),
            ("11010519491231002x", "11010519491231002X"),
            ("441400199001010100", "441400199001010100"),
            ("441400 19900101 0012", "441400199001010012"),
            ("４４１４００１９９００１０１００８Ｘ", "44140019900101008X"),
        ] {
            assert_eq!(i(raw).as_deref(), Ok(stored), "{raw}");
        }
        for (raw, says) in [
            // Right shape, wrong check character (X and 0 swapped in).
            ("110105194912310020", "校验码"),
            ("44140019900101010X", "校验码"),
            ("441400199001010013", "校验码"),
            ("441400900101001", "15 位的旧身份证号"),
            ("4414001990010100", "应为 18 位，现在是 16 位"),
            ("44140019900101010Y", "第 18 位不是数字"),
            ("4414001990010X0100", "第 14 位不是数字"),
            // 1990-02-30 does not exist; 2990 is in the future.
            ("441400199002300105", "出生日期"),
            ("441400299001010100", "出生日期"),
        ] {
            let e = i(raw).unwrap_err();
            assert!(e.contains(says), "{raw}: {e}");
            assert!(e.starts_with("“身份证号”"), "{raw}: {e}");
        }
        assert_eq!(ids::idcard_check_char("11010519491231002"), Some('X'));
        assert_eq!(ids::idcard_check_char("44140019900101010"), Some('0'));
        assert_eq!(ids::idcard_check_char("4414001990010101"), None);
    }

    #[test]
    fn radio_is_one_of_its_options() {
        let mut f = field("sex", "性别", Kind::Radio, true);
        f.options = vec!["男".into(), "女".into()];
        assert_eq!(check_one(&f, " 女 ").as_deref(), Ok("女"));
        assert_eq!(check_one(&f, "").unwrap_err(), "请选择“性别”。");
        assert!(check_one(&f, "未知")
            .unwrap_err()
            .contains("只能从以下选项中选择：男、女"));
    }

    #[test]
    fn examples_come_from_the_definition() {
        let mut f = field("office_phone", "办公电话", Kind::Phone, true);
        f.example = Some("0753-2000000".into());
        assert_eq!(
            check_one(&f, "").unwrap_err(),
            "请填写“办公电话”，例如 0753-2000000。"
        );
        assert!(check_one(&f, "2000000")
            .unwrap_err()
            .contains("例如 0753-2000000"));
        // An empty example means none: the message has no 例如.
        f.example = Some(String::new());
        assert_eq!(check_one(&f, "").unwrap_err(), "请填写“办公电话”。");
        // No program default names a real place's office.
        for kind in crate::def::Kind::ALL {
            if let Some(e) = kind.example() {
                assert!(
                    !e.contains("2128309") && !e.contains("0753") && !e.contains("梅"),
                    "{e}"
                );
            }
        }
    }

    #[test]
    fn docnum_rules() {
        let d = |s: &str| one(Kind::Docnum, "核准/备案文号", s);
        assert_eq!(
            d("梅市人社函〔2016〕216号").unwrap(),
            "梅市人社函〔2016〕216号"
        );
        assert_eq!(
            d(" 粤人社函 〔2016〕 12号").unwrap(),
            "粤人社函〔2016〕12号"
        );
        // ﹝﹞ are compatibility forms of 〔〕 and normalise to them.
        assert_eq!(d("粤人社函﹝2016﹞12号").unwrap(), "粤人社函〔2016〕12号");
        for wrong in [
            "粤人社函[2016]12号",
            "粤人社函(2016)12号",
            "粤人社函（2016）12号",
            "粤人社函【2016】12号",
            "粤人社函［2016］12号",
            "粤人社函〔2016]12号",
        ] {
            assert_eq!(
                d(wrong).unwrap_err(),
                "“核准/备案文号”年份应使用六角括号〔〕，例如：粤人社函〔2016〕12号",
                "{wrong}"
            );
        }
        assert_eq!(
            d("粤人社函〔2016〕012号").unwrap_err(),
            "“核准/备案文号”的序号前面不加“0”，例如：粤人社函〔2016〕12号"
        );
        assert_eq!(
            d("粤人社函〔2016〕12").unwrap_err(),
            "“核准/备案文号”应以“号”结尾，例如：粤人社函〔2016〕12号"
        );
        assert!(d("〔2016〕12号").unwrap_err().contains("机关代字开头"));
        assert!(d("粤人社函〔16〕12号").unwrap_err().contains("4 位数字"));
        assert!(d("粤人社函2016年12号").unwrap_err().contains("格式应为"));
        assert!(d("粤人社函〔2016〕0号").unwrap_err().contains("格式应为"));
        assert!(d("粤人社函〔2016〕12号文")
            .unwrap_err()
            .contains("格式应为"));
    }

    #[test]
    fn date_rules() {
        let d = |s: &str| one(Kind::Date, "核准日期", s);
        for raw in [
            "2016-07-27",
            "2016/7/27",
            "2016.7.27",
            "2016年7月27日",
            "2016 年 7 月 27 日",
            "20160727",
            "２０１６－０７－２７",
        ] {
            assert_eq!(d(raw).as_deref(), Ok("2016-07-27"), "{raw}");
        }
        assert_eq!(
            d("2016-02-30").unwrap_err(),
            "“核准日期”不是真实的日期：2016年2月没有30日。"
        );
        assert!(d("2016-13-01").unwrap_err().contains("月份"));
        assert!(d("16-7-27").unwrap_err().contains("应为日期"));
        assert!(d("明天").unwrap_err().contains("应为日期"));
        assert!(d("1800-01-01").unwrap_err().contains("年份"));
        assert_eq!(
            parse_date("2016年7月27日"),
            NaiveDate::from_ymd_opt(2016, 7, 27)
        );
        assert_eq!(parse_date("2016-2-30"), None);
    }

    #[test]
    fn lateness_uses_china_standard_time() {
        let d = def();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // 23:59:59 on 27 July in Beijing is 15:59:59 UTC.
        assert!(!d.is_late(at("2016-07-27T15:59:59Z")));
        assert!(d.is_late(at("2016-07-27T16:00:00Z")));
        assert!(!d.is_late(at("2016-07-01T00:00:00+08:00")));
        let mut open = d.clone();
        open.deadline = None;
        assert!(!open.is_late(at("2030-01-01T00:00:00Z")));
    }

    #[test]
    fn answers_serialise_as_pairs_and_round_trip() {
        let answers = Answers(vec![
            ("unit_name".into(), Value::One("甲".into())),
            (
                "levels".into(),
                Value::Many(vec!["初级".into(), "中级".into()]),
            ),
            ("empty".into(), Value::Many(vec![])),
        ]);
        let json = serde_json::to_string(&answers).unwrap();
        assert_eq!(
            json,
            r#"[["unit_name","甲"],["levels",["初级","中级"]],["empty",[]]]"#
        );
        let back: Answers = serde_json::from_str(&json).unwrap();
        assert_eq!(back, answers);
    }
}
