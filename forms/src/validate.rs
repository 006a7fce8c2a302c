//! Normalisation and validation of submitted answers, one validator per kind.

use crate::def::FormDef;
use serde::Serialize;

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub label: String,
    /// In Chinese, names the field and says what is expected.
    pub message: String,
}

/// Every problem found, in field order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Errors(pub Vec<FieldError>);
