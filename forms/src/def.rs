//! A form definition as read from `content/forms/<id>.toml`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Text,
    Textarea,
    Select,
    /// One choice shown as radio buttons (for a few short options).
    Radio,
    Multi,
    Email,
    Mobile,
    /// Landline or fax number with area code.
    Phone,
    Postcode,
    /// 统一社会信用代码 (GB 32100-2015).
    Uscc,
    /// 发文字号 such as 梅市人社函〔2016〕216号.
    Docnum,
    Date,
    /// 居民身份证号 (GB 11643-1999, 18 characters with a check character).
    Idcard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AfterDeadline {
    /// Take late returns and mark them 逾期.
    #[default]
    Accept,
    /// Refuse with 410 and point to the offline route.
    Refuse,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    pub label: String,
    pub kind: Kind,
    #[serde(default)]
    pub required: bool,
    /// Maximum length in characters (after normalisation). Without it,
    /// text, textarea, docnum and email get a default cap
    /// (`Field::effective_max_length`).
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Allowed values of `select` and `multi` fields.
    #[serde(default)]
    pub options: Vec<String>,
    /// One line of help shown under the label.
    #[serde(default)]
    pub help: String,
    /// A value people can copy the shape of, shown as 例如 … and used in
    /// messages; without it the kind's neutral example (`Kind::example`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// Column width in the spreadsheet, in characters.
    #[serde(default)]
    pub width: Option<f64>,
    /// `phone` fields: the area most numbers are in, whose local numbers
    /// all have one length, so a digit too many or too few is caught.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_area: Option<LocalArea>,
}

/// A telephone area (`local_area = { code = "0753", name = "梅州", digits = 7 }`):
/// a number with this area code must have `digits` digits after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalArea {
    /// The area code with its leading 0, e.g. `0753`.
    pub code: String,
    /// The place, as messages name it (梅州).
    pub name: String,
    /// Digits of a local number after the area code (7 or 8).
    pub digits: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDef {
    /// From the file name (`departments.toml` → `departments`).
    #[serde(skip_deserializing, default)]
    pub id: String,
    pub title: String,
    /// Annex number in the notice (附件1 → 1).
    #[serde(default)]
    pub annex: Option<u32>,
    #[serde(default)]
    pub description: String,
    /// Last day returns are due (inclusive, China Standard Time). Written
    /// as a TOML date (`deadline = 2016-07-27`) or a string.
    #[serde(default, deserialize_with = "crate::def_load::deserialize_deadline")]
    pub deadline: Option<NaiveDate>,
    #[serde(default)]
    pub after_deadline: AfterDeadline,
    /// Extra email addresses told of each return, besides `[office] email`.
    #[serde(default)]
    pub recipients: Vec<String>,
    pub fields: Vec<Field>,
}

#[derive(Debug, thiserror::Error)]
#[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct FormError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub reason: String,
}

impl FormDef {
    /// Parses a definition; `path` names the file in errors and gives the id.
    pub fn parse(path: &Path, text: &str) -> Result<FormDef, FormError> {
        crate::def_load::parse(path, text)
    }

    /// Every `*.toml` in `dir`, sorted by id; an absent folder gives none.
    pub fn load_dir(dir: &Path) -> Result<Vec<FormDef>, FormError> {
        crate::def_load::load_dir(dir)
    }

    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

impl Kind {
    /// Every kind, in the order the documentation lists them.
    #[cfg(test)]
    pub(crate) const ALL: [Kind; 13] = [
        Kind::Text,
        Kind::Textarea,
        Kind::Select,
        Kind::Radio,
        Kind::Multi,
        Kind::Email,
        Kind::Mobile,
        Kind::Phone,
        Kind::Postcode,
        Kind::Uscc,
        Kind::Docnum,
        Kind::Date,
        Kind::Idcard,
    ];

    /// The name used in the TOML (`kind = "uscc"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Textarea => "textarea",
            Kind::Select => "select",
            Kind::Radio => "radio",
            Kind::Multi => "multi",
            Kind::Email => "email",
            Kind::Mobile => "mobile",
            Kind::Phone => "phone",
            Kind::Postcode => "postcode",
            Kind::Uscc => "uscc",
            Kind::Docnum => "docnum",
            Kind::Date => "date",
            Kind::Idcard => "idcard",
        }
    }

    /// `select`, `radio` and `multi` take their values from `options`.
    pub(crate) fn has_options(self) -> bool {
        matches!(self, Kind::Select | Kind::Radio | Kind::Multi)
    }

    /// The neutral example of a kind, for fields whose definition gives
    /// none. Deliberately no real place's number: a site sets its own
    /// (`example = "0753-2000000"`) in the form definition.
    pub fn example(self) -> Option<&'static str> {
        match self {
            Kind::Phone => Some("010-12345678"),
            Kind::Mobile => Some("13800138000"),
            Kind::Postcode => Some("100000"),
            // A made-up code with valid check characters (both of them).
            Kind::Uscc => Some("12100000000000019C"),
            Kind::Docnum => Some("某人社函〔2016〕1号"),
            Kind::Date => Some("2016-07-27"),
            Kind::Email => Some("name@example.com"),
            // A made-up number with a valid check character (born 1949-12-31).
            Kind::Idcard => Some("11010519491231002X"),
            Kind::Text | Kind::Textarea | Kind::Select | Kind::Radio | Kind::Multi => None,
        }
    }

    /// What a value of this kind looks like, in Chinese, for the
    /// spreadsheet's 填写说明 and similar help text; `eg` is the field's
    /// example.
    pub(crate) fn expectation(self, eg: Option<&str>) -> String {
        let eg = |text: &str| match eg {
            Some(e) => format!("{text}，例如{e}"),
            None => text.to_string(),
        };
        match self {
            Kind::Text => "文字".into(),
            Kind::Textarea => "文字，可以分段".into(),
            Kind::Select => "从下拉列表中选择一项".into(),
            Kind::Radio => "从选项中选择一项".into(),
            Kind::Multi => "可选多项，多项之间用“、”分隔".into(),
            Kind::Email => eg("电子邮箱地址"),
            Kind::Mobile => eg("11位手机号码"),
            Kind::Phone => format!(
                "{}；有分机的在号码后写“转”和分机号",
                eg("固定电话或传真，须带区号")
            ),
            Kind::Postcode => eg("6位数字邮政编码"),
            Kind::Uscc => format!(
                "{}，以登记证书或营业执照为准；尚未取得统一社会信用代码的单位可填写9位组织机构代码（如 XXXXXXXX-X）",
                eg("18位统一社会信用代码")
            ),
            Kind::Docnum => eg("发文字号，年份用六角括号〔〕"),
            Kind::Date => eg("日期"),
            Kind::Idcard => eg("18位居民身份证号，最后一位可能是X"),
        }
    }
}

impl Field {
    /// The example shown and used in messages: the definition's own, else
    /// the kind's neutral one.
    pub fn example(&self) -> Option<&str> {
        match self.example.as_deref().map(str::trim) {
            Some("") => None,
            Some(e) => Some(e),
            None => self.kind.example(),
        }
    }

    /// The length limit actually enforced: `max_length`, or for free text a
    /// default cap so one answer cannot fill the store or a notification.
    pub(crate) fn effective_max_length(&self) -> Option<usize> {
        self.max_length.or(match self.kind {
            Kind::Text => Some(DEFAULT_TEXT_MAX),
            Kind::Textarea => Some(DEFAULT_TEXTAREA_MAX),
            Kind::Docnum => Some(DEFAULT_DOCNUM_MAX),
            Kind::Email => Some(crate::validate::EMAIL_MAX),
            _ => None,
        })
    }
}

/// Default limit of a `text` field without `max_length`.
pub(crate) const DEFAULT_TEXT_MAX: usize = 200;
/// Default limit of a `textarea` field without `max_length`.
pub(crate) const DEFAULT_TEXTAREA_MAX: usize = 2000;
/// Default limit of a `docnum` field without `max_length`.
pub(crate) const DEFAULT_DOCNUM_MAX: usize = 60;
