//! What a template needs to draw a form: one entry per field with its HTML
//! attributes, the value to show and the error, if any.

use serde::Serialize;

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
    pub required: bool,
    pub help: String,
    /// What people type, e.g. 0753-2128309, shown as a hint.
    pub example: Option<&'static str>,
    pub value: String,
    pub options: Vec<OptionView>,
    pub error: Option<String>,
}
