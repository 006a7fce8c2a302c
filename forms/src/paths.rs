//! Every public path of a form, spelled once.
//!
//! The site writes a form's pages and the intake links back to them (after
//! a validation error, on a receipt, on a closed form); when each side
//! spelled the paths itself they drifted apart and the intake linked to a
//! print view that did not exist. Both sides now take them from here, and
//! fill the one [`FormPage`] context that `form.html` and `form_print.html`
//! draw.

use crate::{FormDef, FormView};
use serde::Serialize;

/// The intake's routes, as axum spells them.
pub const FORM_ROUTE: &str = "/forms/{id}";
pub const RECEIPT_ROUTE: &str = "/receipts/{token}";

/// Paths of one form's site outputs, relative to the site root (no leading
/// `/`), and of its intake routes (absolute paths, joined to `[intake] url`
/// when the intake lives elsewhere). Form ids are `[a-z][a-z0-9_-]*`
/// (checked when definitions load), so no segment needs encoding.
#[derive(Debug, Clone, Copy)]
pub struct FormPaths<'a> {
    id: &'a str,
}

impl<'a> FormPaths<'a> {
    pub fn new(id: &'a str) -> FormPaths<'a> {
        FormPaths { id }
    }

    pub fn of(def: &'a FormDef) -> FormPaths<'a> {
        FormPaths::new(&def.id)
    }

    /// `forms/<id>/`
    pub fn dir(&self) -> String {
        format!("forms/{}/", self.id)
    }

    /// `forms/<id>/index.html`: the form to fill in online.
    pub fn page(&self) -> String {
        format!("forms/{}/index.html", self.id)
    }

    /// `forms/<id>/print.html`: the blank table to print and fill by hand.
    pub fn print(&self) -> String {
        format!("forms/{}/print.html", self.id)
    }

    /// `forms/<id>/<id>.xlsx`: the blank spreadsheet.
    pub fn xlsx(&self) -> String {
        format!("forms/{0}/{0}.xlsx", self.id)
    }

    /// `/forms/<id>`: where the form posts (an intake route).
    pub fn action(&self) -> String {
        format!("/forms/{}", self.id)
    }
}

/// `/receipts/<token>`: a stored return's receipt (an intake route).
pub fn receipt(token: &str) -> String {
    format!("/receipts/{token}")
}

/// The index of all forms, relative to the site root.
pub const FORMS_INDEX: &str = "forms/index.html";

/// Where links on a page point: the site's pages and the intake's routes.
#[derive(Debug, Clone)]
pub struct Links {
    /// Prefix for site outputs, ending in `/`: `../../` on a built page,
    /// `/` or `[site] base_url` + `/` on a page the intake renders.
    pub site_root: String,
    /// `[intake] url` without a trailing `/`, or empty when the intake
    /// answers on the site's own origin.
    pub intake_url: String,
}

impl Links {
    pub fn new(site_root: impl Into<String>, intake_url: &str) -> Links {
        Links {
            site_root: site_root.into(),
            intake_url: intake_url.trim().trim_end_matches('/').to_string(),
        }
    }

    /// A site output (`forms/x/index.html`) as a link from this page.
    pub fn site(&self, output: &str) -> String {
        format!("{}{output}", self.site_root)
    }

    /// An intake route (`/forms/x`) as a link from this page.
    pub fn intake(&self, route: &str) -> String {
        format!("{}{route}", self.intake_url)
    }
}

/// The context of `form.html` and `form_print.html`, whoever renders them:
/// the site (a blank form) or the intake (the form again with errors).
#[derive(Debug, Clone, Serialize)]
pub struct FormPage {
    pub form: FormView,
    pub action: String,
    pub page_url: String,
    pub print_url: String,
    pub xlsx_url: String,
    /// "8.1 KB", or empty when unknown.
    pub xlsx_size: String,
}

impl FormPage {
    pub fn new(form: FormView, links: &Links, xlsx_bytes: Option<usize>) -> FormPage {
        let paths = FormPaths::new(&form.id);
        FormPage {
            action: links.intake(&paths.action()),
            page_url: links.site(&paths.page()),
            print_url: links.site(&paths.print()),
            xlsx_url: links.site(&paths.xlsx()),
            xlsx_size: xlsx_bytes.map(format_size).unwrap_or_default(),
            form,
        }
    }
}

/// A download's size as people read it: `812 B`, `8.1 KB`, `1.2 MB`.
pub fn format_size(bytes: usize) -> String {
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MB", bytes as f64 / 1024.0 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_spelling_for_every_path() {
        let p = FormPaths::new("departments");
        assert_eq!(p.dir(), "forms/departments/");
        assert_eq!(p.page(), "forms/departments/index.html");
        assert_eq!(p.print(), "forms/departments/print.html");
        assert_eq!(p.xlsx(), "forms/departments/departments.xlsx");
        assert_eq!(p.action(), "/forms/departments");
        assert_eq!(receipt("abc"), "/receipts/abc");
        assert!(p.page().starts_with(&p.dir()) && p.print().starts_with(&p.dir()));
    }

    #[test]
    fn links_join_the_roots() {
        let built = Links::new("../../", "");
        assert_eq!(built.site("forms/a/print.html"), "../../forms/a/print.html");
        assert_eq!(built.intake("/forms/a"), "/forms/a");
        let elsewhere = Links::new(
            "https://www.example.gov.cn/",
            "https://intake.example.gov.cn/",
        );
        assert_eq!(
            elsewhere.intake("/forms/a"),
            "https://intake.example.gov.cn/forms/a"
        );
    }

    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(format_size(812), "812 B");
        assert_eq!(format_size(8 * 1024 + 100), "8.1 KB");
        assert_eq!(format_size(3 * 1024 * 1024 / 2), "1.5 MB");
    }
}
