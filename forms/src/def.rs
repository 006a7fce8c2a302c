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
    pub(crate) const ALL: [Kind; 11] = [
        Kind::Text,
        Kind::Textarea,
        Kind::Select,
        Kind::Multi,
        Kind::Email,
        Kind::Mobile,
        Kind::Phone,
        Kind::Postcode,
        Kind::Uscc,
        Kind::Docnum,
        Kind::Date,
    ];

    /// The name used in the TOML (`kind = "uscc"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Textarea => "textarea",
            Kind::Select => "select",
            Kind::Multi => "multi",
            Kind::Email => "email",
            Kind::Mobile => "mobile",
            Kind::Phone => "phone",
            Kind::Postcode => "postcode",
            Kind::Uscc => "uscc",
            Kind::Docnum => "docnum",
            Kind::Date => "date",
        }
    }

    /// `select` and `multi` take their values from `options`.
    pub(crate) fn has_options(self) -> bool {
        matches!(self, Kind::Select | Kind::Multi)
    }

    /// A value people can copy the shape of, shown as 例如 … next to the field.
    pub fn example(self) -> Option<&'static str> {
        match self {
            Kind::Phone => Some("0753-2128309"),
            Kind::Mobile => Some("13800138000"),
            Kind::Postcode => Some("514000"),
            Kind::Uscc => Some("11441700007280420Y"),
            Kind::Docnum => Some("梅市人社函〔2016〕216号"),
            Kind::Date => Some("2016-07-27"),
            Kind::Email => Some("name@example.com"),
            Kind::Text | Kind::Textarea | Kind::Select | Kind::Multi => None,
        }
    }

    /// What a value of this kind looks like, in Chinese, for the
    /// spreadsheet's 填写说明 and similar help text.
    pub(crate) fn expectation(self) -> &'static str {
        match self {
            Kind::Text => "文字",
            Kind::Textarea => "文字，可以分段",
            Kind::Select => "从下拉列表中选择一项",
            Kind::Multi => "可选多项，多项之间用“、”分隔",
            Kind::Email => "电子邮箱地址，例如 name@example.com",
            Kind::Mobile => "11 位手机号码，例如 13800138000",
            Kind::Phone => {
                "固定电话或传真，须带区号，例如 0753-2128309；有分机的写成 0753-2128309转123"
            }
            Kind::Postcode => "6 位数字邮政编码，例如 514000",
            Kind::Uscc => {
                "18 位统一社会信用代码，例如 11441700007280420Y，以营业执照或登记证书为准"
            }
            Kind::Docnum => "发文字号，年份用六角括号〔〕，例如 梅市人社函〔2016〕216号",
            Kind::Date => "日期，例如 2016-07-27 或 2016年7月27日",
        }
    }
}

impl Field {
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
