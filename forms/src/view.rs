//! What a template needs to draw a form: one entry per field with its HTML
//! attributes, the value to show and the error, if any.

use crate::def::{Field, FormDef, Kind};
use crate::validate::{parse_date, Errors};
use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, Serialize)]
pub struct FormView {
    pub id: String,
    pub title: String,
    pub annex: Option<u32>,
    pub description: String,
    /// The deadline written out in Chinese, e.g. 2016年7月27日; empty if none.
    pub deadline_text: String,
    /// "accept" or "refuse".
    pub after_deadline: crate::AfterDeadline,
    /// The deadline has passed at the time of rendering.
    pub late: bool,
    pub fields: Vec<FieldView>,
    /// The error summary, in field order; empty when there are none.
    pub errors: Vec<crate::FieldError>,
    pub honeypot: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct OptionView {
    pub value: String,
    pub selected: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldView {
    pub name: String,
    pub label: String,
    pub kind: crate::Kind,
    /// `input` `type` attribute (text, email, tel, date); unused for textarea/select/multi.
    pub input_type: &'static str,
    pub inputmode: Option<&'static str>,
    pub pattern: Option<String>,
    pub maxlength: Option<usize>,
    pub autocomplete: Option<&'static str>,
    /// `autocapitalize` hint for phone keyboards (codes are upper case).
    pub autocapitalize: Option<&'static str>,
    pub required: bool,
    pub help: String,
    /// What people type, from the definition (or the kind's neutral
    /// example), shown as a hint.
    pub example: Option<String>,
    pub value: String,
    pub options: Vec<OptionView>,
    pub error: Option<String>,
}

/// What the server drops between digits (see `validate::is_separator`),
/// before NFKC: spaces (`\s` also covers U+3000) and every dash.
const SEP: &str = r"[\s\-‐‑‒–—―−－﹣]";
/// ASCII and full-width digits (NFKC maps the latter).
const DIGIT: &str = "[0-9０-９]";

/// The HTML `pattern` of a kind. Each one accepts at least everything the
/// server accepts (full-width forms, separators the server drops), so the
/// browser never refuses an answer the server would take; the server gives
/// the precise message for the rest. Written to compile under both the `u`
/// and the `v` RegExp flags (browsers use `v` for `pattern` now).
pub(crate) fn html_pattern(kind: Kind) -> Option<String> {
    match kind {
        // ^(?:\+?86)?1[3-9]\d{9}$ once separators are dropped.
        Kind::Mobile => Some(format!(
            "{SEP}*(?:[+＋]?{SEP}*[8８]{SEP}*[6６]{SEP}*)?[1１]{SEP}*[3-9３-９](?:{SEP}*{DIGIT}){{9}}{SEP}*"
        )),
        // Area code and number in any of the accepted layouts, with 转/分机
        // extensions; the structure is checked on the server.
        Kind::Phone => {
            let any = r"[0-9０-９\s\-‐‑‒–—―−－﹣\(\)（）转分机]";
            Some(format!("{any}*{DIGIT}{any}*"))
        }
        Kind::Postcode => Some(format!(r"\s*{DIGIT}{{6}}\s*")),
        // 18 characters of the code's alphabet, or a 组织机构代码: 8
        // digits or letters, an optional hyphen, a digit or X.
        Kind::Uscc => Some(format!(
            r"\s*(?:[0-9A-HJ-NP-RTUWXYa-hj-np-rtuwxy０-９Ａ-ＨＪ-ＮＰ-ＲＴＵＷＸＹａ-ｈｊ-ｎｐ-ｒｔｕｗｘｙ]{{18}}|[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]{{8}}{SEP}?[0-9Xx０-９Ｘｘ])\s*"
        )),
        // 17 digits and a digit or X; spaces between groups are dropped.
        Kind::Idcard => Some(format!(
            r"(?:{SEP}*{DIGIT}){{17}}{SEP}*[0-9Xx０-９Ｘｘ]{SEP}*"
        )),
        _ => None,
    }
}

/// 2016年7月27日: Arabic numerals without leading zeros (GB/T 9704).
pub(crate) fn chinese_date(date: chrono::NaiveDate) -> String {
    format!("{}年{}月{}日", date.year(), date.month(), date.day())
}

fn field_attributes(field: &Field) -> FieldView {
    let kind = field.kind;
    let (input_type, inputmode, autocomplete, maxlength) = match kind {
        Kind::Email => (
            "email",
            Some("email"),
            Some("email"),
            field.effective_max_length(),
        ),
        // 20, not 14: "+86 138 0013 8000" is 17 characters and accepted.
        Kind::Mobile => ("tel", Some("numeric"), Some("tel"), Some(20)),
        // Not autocomplete=tel: an office line or fax is not the person's own.
        Kind::Phone => ("tel", Some("tel"), None, Some(30)),
        Kind::Postcode => ("text", Some("numeric"), Some("postal-code"), Some(6)),
        Kind::Uscc => ("text", None, Some("off"), Some(18)),
        Kind::Date => ("date", None, None, None),
        // Up to 18 characters plus spaces between groups.
        Kind::Idcard => ("text", None, Some("off"), Some(22)),
        Kind::Text | Kind::Textarea | Kind::Docnum | Kind::Select | Kind::Radio | Kind::Multi => {
            ("text", None, None, field.effective_max_length())
        }
    };
    FieldView {
        name: field.name.clone(),
        label: field.label.clone(),
        kind,
        input_type,
        inputmode,
        pattern: html_pattern(kind),
        maxlength: if kind.has_options() { None } else { maxlength },
        autocomplete,
        autocapitalize: matches!(kind, Kind::Uscc | Kind::Idcard).then_some("characters"),
        required: field.required,
        help: field.help.clone(),
        example: field.example().map(str::to_string),
        value: String::new(),
        options: Vec::new(),
        error: None,
    }
}

impl FormDef {
    /// The form as a template draws it, with what the person typed (not
    /// the normalised values, so they can see and fix their own text) and
    /// each field's error.
    pub fn view(
        &self,
        pairs: &[(String, String)],
        errors: &Errors,
        now: DateTime<Utc>,
    ) -> FormView {
        let fields = self
            .fields
            .iter()
            .map(|field| {
                let mut view = field_attributes(field);
                let raws: Vec<&str> = pairs
                    .iter()
                    .filter(|(k, _)| *k == field.name)
                    .map(|(_, v)| v.as_str())
                    .collect();
                let first = raws.first().copied().unwrap_or("");
                let chosen: Vec<String> = raws
                    .iter()
                    .map(|r| r.nfc().collect::<String>().trim().to_string())
                    .collect();
                match field.kind {
                    Kind::Select | Kind::Radio => {
                        view.options = options(field, &chosen[..chosen.len().min(1)]);
                        view.value = first.to_string();
                    }
                    Kind::Multi => view.options = options(field, &chosen),
                    // A date input only shows ISO values.
                    Kind::Date => {
                        view.value = parse_date(first)
                            .map(|d| d.format("%Y-%m-%d").to_string())
                            .unwrap_or_else(|| first.to_string());
                    }
                    _ => view.value = first.to_string(),
                }
                view.error = errors.get(&field.name).map(|e| e.message.clone());
                view
            })
            .collect();
        FormView {
            id: self.id.clone(),
            title: self.title.clone(),
            annex: self.annex,
            description: self.description.clone(),
            deadline_text: self.deadline.map(chinese_date).unwrap_or_default(),
            after_deadline: self.after_deadline,
            late: self.is_late(now),
            fields,
            errors: errors.0.clone(),
            honeypot: crate::HONEYPOT,
        }
    }
}

fn options(field: &Field, chosen: &[String]) -> Vec<OptionView> {
    field
        .options
        .iter()
        .map(|o| OptionView {
            value: o.clone(),
            selected: chosen.iter().any(|c| c == o),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::check_one;
    use crate::{AfterDeadline, FieldError};
    use chrono::NaiveDate;

    fn field(name: &str, label: &str, kind: Kind) -> Field {
        Field {
            name: name.into(),
            label: label.into(),
            kind,
            required: true,
            max_length: None,
            options: match kind {
                Kind::Select => vec!["机关".into(), "其他".into()],
                Kind::Multi => vec!["初级".into(), "中级".into(), "正高级".into()],
                _ => vec![],
            },
            help: "帮助".into(),
            width: None,
            local_area: None,
            example: None,
        }
    }

    fn def() -> FormDef {
        FormDef {
            id: "committees".into(),
            title: "市属评委会信息一览表".into(),
            annex: Some(2),
            description: "说明".into(),
            deadline: NaiveDate::from_ymd_opt(2016, 7, 27),
            after_deadline: AfterDeadline::Accept,
            recipients: vec![],
            fields: Kind::ALL
                .iter()
                .map(|&k| field(k.as_str(), k.as_str(), k))
                .collect(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn form_level_view() {
        let v = def().view(&[], &Errors::default(), at("2016-07-20T00:00:00Z"));
        assert_eq!(v.id, "committees");
        assert_eq!(v.annex, Some(2));
        assert_eq!(v.deadline_text, "2016年7月27日");
        assert!(!v.late);
        assert_eq!(v.honeypot, "website");
        assert_eq!(v.fields.len(), Kind::ALL.len());
        assert!(v.errors.is_empty());
        let late = def().view(&[], &Errors::default(), at("2016-07-27T16:00:00Z"));
        assert!(late.late);
        assert_eq!(
            chinese_date(NaiveDate::from_ymd_opt(2016, 1, 5).unwrap()),
            "2016年1月5日"
        );
    }

    #[test]
    fn attributes_by_kind() {
        let v = def().view(&[], &Errors::default(), at("2016-07-20T00:00:00Z"));
        let f = |name: &str| v.fields.iter().find(|f| f.name == name).unwrap();
        assert_eq!(f("email").input_type, "email");
        assert_eq!(f("email").autocomplete, Some("email"));
        assert_eq!(f("mobile").input_type, "tel");
        assert_eq!(f("mobile").inputmode, Some("numeric"));
        assert_eq!(f("mobile").autocomplete, Some("tel"));
        assert_eq!(f("mobile").example, Some("13800138000".into()));
        assert!(f("mobile").pattern.is_some());
        assert_eq!(f("phone").input_type, "tel");
        assert_eq!(f("phone").example.as_deref(), Some("010-12345678"));
        assert_eq!(f("postcode").inputmode, Some("numeric"));
        assert_eq!(f("postcode").maxlength, Some(6));
        assert_eq!(f("postcode").example.as_deref(), Some("100000"));
        assert_eq!(f("uscc").maxlength, Some(18));
        assert_eq!(f("uscc").autocapitalize, Some("characters"));
        assert_eq!(f("uscc").example.as_deref(), Some("12100000000000019C"));
        assert_eq!(f("docnum").example.as_deref(), Some("某人社函〔2016〕1号"));
        assert_eq!(f("docnum").pattern, None);
        assert_eq!(f("date").input_type, "date");
        assert_eq!(f("date").example.as_deref(), Some("2016-07-27"));
        assert_eq!(f("text").maxlength, Some(crate::def::DEFAULT_TEXT_MAX));
        assert_eq!(f("text").pattern, None);
        assert_eq!(f("text").help, "帮助");
        assert!(f("text").required);
        assert_eq!(f("select").options.len(), 2);
        assert_eq!(f("multi").options.len(), 3);
        assert_eq!(f("select").maxlength, None);
    }

    #[test]
    fn values_are_what_was_typed_and_errors_attach() {
        let d = def();
        let typed = pairs(&[
            ("text", " 梅州市（某）局 "),
            ("text", "second ignored"),
            ("phone", "(0753)2128309"),
            ("select", "其他"),
            ("multi", "初级"),
            ("multi", "正高级"),
            ("multi", "不存在"),
            ("date", "2016年7月27日"),
            ("docnum", "粤人社函[2016]12号"),
        ]);
        let errors = Errors(vec![FieldError {
            field: "docnum".into(),
            label: "docnum".into(),
            message: "错".into(),
        }]);
        let v = d.view(&typed, &errors, at("2016-07-20T00:00:00Z"));
        let f = |name: &str| v.fields.iter().find(|f| f.name == name).unwrap();
        assert_eq!(f("text").value, " 梅州市（某）局 ");
        assert_eq!(f("phone").value, "(0753)2128309");
        assert_eq!(f("date").value, "2016-07-27");
        assert_eq!(f("docnum").value, "粤人社函[2016]12号");
        assert_eq!(f("docnum").error.as_deref(), Some("错"));
        assert_eq!(f("text").error, None);
        assert_eq!(v.errors, errors.0);
        let selected = |name: &str| {
            f(name)
                .options
                .iter()
                .filter(|o| o.selected)
                .map(|o| o.value.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(selected("select"), ["其他"]);
        assert_eq!(selected("multi"), ["初级", "正高级"]);
        // An unparseable date is shown as typed.
        let v = d.view(
            &pairs(&[("date", "明天")]),
            &Errors::default(),
            at("2016-07-20T00:00:00Z"),
        );
        assert_eq!(
            v.fields.iter().find(|f| f.name == "date").unwrap().value,
            "明天"
        );
    }

    /// What the browser checks: the whole value against the pattern.
    fn browser_accepts(kind: Kind, value: &str) -> bool {
        let pattern = html_pattern(kind).unwrap();
        regex::Regex::new(&format!("^(?:{pattern})$"))
            .unwrap()
            .is_match(value)
    }

    #[test]
    fn patterns_are_never_stricter_than_the_server() {
        let corpus: &[(Kind, &[&str])] = &[
            (
                Kind::Mobile,
                &[
                    "13800138000",
                    " 138 0013 8000 ",
                    "138-0013-8000",
                    "138—0013—8000",
                    "+86 138 0013 8000",
                    "+86-13800138000",
                    "8613800138000",
                    "１３８００１３８０００",
                    "＋８６　１３８　００１３　８０００",
                    "19912345678",
                    "12800138000",
                    "1380013800",
                    "0753-2128309",
                    "abc",
                ],
            ),
            (
                Kind::Phone,
                &[
                    "0753-2128309",
                    "(0753)2128309",
                    "（０７５３）２１２８３０９",
                    "07532128309",
                    "0753 2128309",
                    "-0753-2128309",
                    "0753—2128309",
                    "0753-2128309-123",
                    "0753-2128309转123",
                    "(0753) 2128309 分机 8",
                    "07532128309-123",
                    "020-83881234",
                    "2128309",
                    "0753-2128309 ext 5",
                    "电话",
                ],
            ),
            (
                Kind::Postcode,
                &[
                    "514000",
                    " 514000 ",
                    "５１４０００",
                    "51400",
                    "514 000",
                    "51400a",
                ],
            ),
            (
                Kind::Uscc,
                &[
                    "11441700007280420Y",
                    "11441700007280420y",
                    " 11441700007280420Y ",
                    "１１４４１７００００７２８０４２０Ｙ",
                    "１１４４１７００００７２８０４２０ｙ",
                    "1144170000728042OY",
                    "11441700007280420X",
                    "114417000072804",
                    "00001434-9",
                    "000014349",
                    "40000000x",
                    "１２３４５６７８－８",
                    "0000143",
                ],
            ),
            (
                Kind::Idcard,
                &[
                    "11010519491231002X",
                    "11010519491231002x",
                    "441400 19900101 0012",
                    "４４１４００１９９００１０１００８Ｘ",
                    "441400199001010013",
                    "441400900101001",
                ],
            ),
        ];
        for (kind, values) in corpus {
            let f = field("f", "栏目", *kind);
            for value in *values {
                let server = check_one(&f, value).is_ok();
                let browser = browser_accepts(*kind, value);
                assert!(
                    !server || browser,
                    "{kind:?}: server accepts {value:?} but the pattern refuses it"
                );
            }
        }
        // And the patterns still catch obvious mistakes early.
        assert!(!browser_accepts(Kind::Mobile, "abc"));
        assert!(!browser_accepts(Kind::Mobile, "12800138000"));
        assert!(!browser_accepts(Kind::Phone, "电话"));
        assert!(!browser_accepts(Kind::Postcode, "51400"));
        assert!(!browser_accepts(Kind::Uscc, "1144170000728042OY"));
        assert!(browser_accepts(Kind::Uscc, "11441700007280420X"));
        assert!(!browser_accepts(Kind::Uscc, "0000143"));
        assert!(!browser_accepts(Kind::Idcard, "441400900101001"));
    }

    #[test]
    fn generated_mobile_and_phone_layouts_pass_both() {
        // Every layout the server accepts for a few numbers, checked against
        // the pattern: separators at each possible place.
        let f = field("f", "手机", Kind::Mobile);
        let number = "13800138000";
        for pos in 1..number.len() {
            for sep in [" ", "-", "　", "－", "—"] {
                let v = format!("{}{sep}{}", &number[..pos], &number[pos..]);
                assert!(check_one(&f, &v).is_ok(), "{v}");
                assert!(browser_accepts(Kind::Mobile, &v), "{v}");
                let v = format!("+86{sep}{v}");
                assert!(check_one(&f, &v).is_ok(), "{v}");
                assert!(browser_accepts(Kind::Mobile, &v), "{v}");
            }
        }
    }
}
