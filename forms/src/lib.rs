//! The form model shared by the generator and the intake service.
//!
//! One definition (`content/forms/<id>.toml`) drives the HTML form, server
//! validation, the blank spreadsheet, import, export and the notification
//! layout, so the rules live here and nowhere else.

mod def;
mod def_load;
mod ids;
pub mod paths;
pub mod sheet;
mod validate;
mod view;

pub use def::{AfterDeadline, Field, FormDef, FormError, Kind, LocalArea};
pub use validate::{Answers, Errors, FieldError, Value};
pub use view::{FieldView, FormView, OptionView};

/// Name of the hidden field that people leave empty and bots fill in.
pub const HONEYPOT: &str = "website";
