//! Templates and stylesheets shared by the generator and the intake service.
//!
//! The defaults are compiled into the binary so a bare content folder builds;
//! a site's `templates/` folder overrides any of them by file name, as in Zola
//! and mdBook. Pages the intake renders (a form with errors, a receipt) use
//! the same templates as the static site, so they look the same.
//!
//! Every page template extends `base.html` and gets at least:
//! - `site` (the `[site]` table), `office` (the `[office]` table);
//! - `root`: the relative path from the page to the site root ("", "../", ...),
//!   prefixed to every link so `public/` works from `file://` and any sub-path;
//! - `page_title`; optional `description`, `meta` (name → content), `live_reload`;
//! - `header`, `footer`: `header.html` and `footer.html` already rendered.
//!   The generator renders them once per folder depth (with `nav`, `root`,
//!   and `current` only when the page is in the navigation) instead of on
//!   every page; where they are absent (the intake's pages) `base.html`
//!   includes the templates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// (name, source) of every built-in template.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("header.html", include_str!("../templates/header.html")),
    ("footer.html", include_str!("../templates/footer.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("index.html", include_str!("../templates/index.html")),
    ("section.html", include_str!("../templates/section.html")),
    ("page.html", include_str!("../templates/page.html")),
    ("notice.html", include_str!("../templates/notice.html")),
    ("form.html", include_str!("../templates/form.html")),
    (
        "form_print.html",
        include_str!("../templates/form_print.html"),
    ),
    (
        "manual_index.html",
        include_str!("../templates/manual_index.html"),
    ),
    (
        "manual_chapter.html",
        include_str!("../templates/manual_chapter.html"),
    ),
    (
        "manual_print.html",
        include_str!("../templates/manual_print.html"),
    ),
    ("receipt.html", include_str!("../templates/receipt.html")),
    ("message.html", include_str!("../templates/message.html")),
    (
        "mail_notification.html",
        include_str!("../templates/mail_notification.html"),
    ),
    ("404.html", include_str!("../templates/404.html")),
    ("search.html", include_str!("../templates/search.html")),
    ("sitemap.html", include_str!("../templates/sitemap.html")),
    (
        "admin_base.html",
        include_str!("../templates/admin_base.html"),
    ),
    (
        "admin_login.html",
        include_str!("../templates/admin_login.html"),
    ),
    (
        "admin_index.html",
        include_str!("../templates/admin_index.html"),
    ),
    (
        "admin_list.html",
        include_str!("../templates/admin_list.html"),
    ),
    (
        "admin_detail.html",
        include_str!("../templates/admin_detail.html"),
    ),
    (
        "admin_outbox.html",
        include_str!("../templates/admin_outbox.html"),
    ),
];

/// (output path, bytes) of every built-in static file.
pub const STATIC: &[(&str, &str)] = &[
    ("style.css", include_str!("../static/style.css")),
    ("print.css", include_str!("../static/print.css")),
    ("search.js", include_str!("../static/search.js")),
    ("favicon.svg", include_str!("../static/favicon.svg")),
];

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("{path}: {reason}")]
    Load { path: PathBuf, reason: String },
    #[error("template {name}: {reason}")]
    Render { name: String, reason: String },
}

pub struct Theme {
    tera: tera::Tera,
    /// Static files after overrides (name → bytes).
    statics: BTreeMap<String, Vec<u8>>,
    /// Which templates came from the site's `templates/` folder.
    overridden: Vec<String>,
}

impl Theme {
    /// The built-in templates, overridden by `<root>/templates/*.html` and
    /// `<root>/templates/*.css` where present.
    pub fn load(root: &Path) -> Result<Theme, ThemeError> {
        let mut sources: BTreeMap<String, String> = TEMPLATES
            .iter()
            .map(|(n, s)| (n.to_string(), s.to_string()))
            .collect();
        let mut statics: BTreeMap<String, Vec<u8>> = STATIC
            .iter()
            .map(|(n, s)| (n.to_string(), s.as_bytes().to_vec()))
            .collect();
        let mut overridden = Vec::new();
        let dir = root.join("templates");
        if dir.is_dir() {
            let entries = std::fs::read_dir(&dir).map_err(|e| ThemeError::Load {
                path: dir.clone(),
                reason: e.to_string(),
            })?;
            let mut paths: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                let Some(name) = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_string)
                else {
                    continue;
                };
                let read = |p: &Path| {
                    // A link out of templates/ (to a secret, to the
                    // database) would be published with the pages.
                    if std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()) {
                        let inside = std::fs::canonicalize(p)
                            .ok()
                            .zip(std::fs::canonicalize(&dir).ok())
                            .is_some_and(|(t, d)| t.starts_with(d) && t.is_file());
                        if !inside {
                            return Err(ThemeError::Load {
                                path: p.to_path_buf(),
                                reason: "a symbolic link that does not lead to a file in templates/: copy the file in instead".into(),
                            });
                        }
                    }
                    std::fs::read(p).map_err(|e| ThemeError::Load {
                        path: p.to_path_buf(),
                        reason: e.to_string(),
                    })
                };
                if name.ends_with(".html") {
                    let bytes = read(&path)?;
                    let text = String::from_utf8(bytes).map_err(|_| ThemeError::Load {
                        path: path.clone(),
                        reason: "not UTF-8".into(),
                    })?;
                    sources.insert(name.clone(), text);
                    overridden.push(name);
                } else if name.ends_with(".css") {
                    statics.insert(name.clone(), read(&path)?);
                    overridden.push(name);
                }
            }
        }
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![".html"]);
        tera.set_escape_fn(escape_html);
        tera.add_raw_templates(sources.iter().map(|(n, s)| (n.as_str(), s.as_str())))
            .map_err(|e| ThemeError::Load {
                path: dir.clone(),
                reason: error_chain(&e),
            })?;
        Ok(Theme {
            tera,
            statics,
            overridden,
        })
    }

    pub fn render(&self, name: &str, context: &tera::Context) -> Result<String, ThemeError> {
        self.tera
            .render(name, context)
            .map_err(|e| ThemeError::Render {
                name: name.to_string(),
                reason: error_chain(&e),
            })
    }

    /// As [`Theme::render`], as bytes: skips checking that tera's own output
    /// is UTF-8, and starts with room for a typical page.
    pub fn render_bytes(&self, name: &str, context: &tera::Context) -> Result<Vec<u8>, ThemeError> {
        let mut out = Vec::with_capacity(16 * 1024);
        self.tera
            .render_to(name, context, &mut out)
            .map_err(|e| ThemeError::Render {
                name: name.to_string(),
                reason: error_chain(&e),
            })?;
        Ok(out)
    }

    pub fn statics(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.statics.iter().map(|(n, b)| (n.as_str(), b.as_slice()))
    }

    pub fn static_file(&self, name: &str) -> Option<&[u8]> {
        self.statics.get(name).map(Vec::as_slice)
    }

    pub fn overridden(&self) -> &[String] {
        &self.overridden
    }

    /// Names of the templates `name` extends or includes, itself first.
    pub fn dependencies(&self, name: &str) -> Vec<String> {
        let mut out = vec![name.to_string()];
        let mut i = 0;
        while i < out.len() {
            if let Ok(t) = self.tera.get_template(&out[i]) {
                let mut next: Vec<String> = Vec::new();
                if let Some(parent) = &t.parent {
                    next.push(parent.clone());
                }
                next.extend(t.imported_macro_files.iter().map(|(f, _)| f.clone()));
                for n in next {
                    if !out.contains(&n) {
                        out.push(n);
                    }
                }
            }
            i += 1;
        }
        out
    }
}

/// Escapes what HTML needs escaped. Tera's default also escapes `/`, which
/// makes every relative link unreadable (`..&#x2F;index.html`) for no gain
/// inside quoted attributes.
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len() + input.len() / 8);
    let mut rest = input;
    // Copy the runs between special characters whole: most values have
    // none. They are ASCII, so bytes are searched, not characters decoded.
    while let Some(i) = rest
        .bytes()
        .position(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\''))
    {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&#39;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out
}

/// Tera nests the real cause (file, line) in `source()`: show all of it on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Declarations that use a custom property without the same property,
    /// in plain values, just before it in the same rule: IE11 and the
    /// 兼容模式 of 360/QQ browsers drop a `var(--…)` declaration, and the
    /// plain one before it is what they show (the red 发文机关标志, rules).
    fn missing_fallbacks(css: &str) -> Vec<String> {
        let mut text = css.to_string();
        while let Some(start) = text.find("/*") {
            let end = text[start..]
                .find("*/")
                .map_or(text.len(), |e| start + e + 2);
            text.replace_range(start..end, "");
        }
        let mut missing = Vec::new();
        for block in text.split(['{', '}']) {
            let mut previous: Option<(&str, &str)> = None;
            for decl in block.split(';') {
                let Some((prop, value)) = decl.split_once(':') else {
                    previous = None;
                    continue;
                };
                let (prop, value) = (prop.trim(), value.trim());
                if value.contains("var(--") && !prop.starts_with("--") {
                    let ok = previous
                        .is_some_and(|(p, v)| p == prop && !v.contains("var(") && !v.is_empty());
                    if !ok {
                        missing.push(format!("{prop}: {value}"));
                    }
                }
                previous = Some((prop, value));
            }
        }
        missing
    }

    #[test]
    fn every_custom_property_use_has_a_plain_fallback_before_it() {
        let mut checked = 0;
        let styles = TEMPLATES
            .iter()
            .flat_map(|(name, text)| {
                text.split("<style>")
                    .skip(1)
                    .filter_map(|s| s.split("</style>").next())
                    .map(move |css| (*name, css))
            })
            .chain(
                STATIC
                    .iter()
                    .filter(|(n, _)| n.ends_with(".css"))
                    .map(|(n, t)| (*n, *t)),
            );
        for (name, css) in styles {
            checked += css.matches("var(--").count();
            assert_eq!(missing_fallbacks(css), Vec::<String>::new(), "{name}");
        }
        assert!(checked >= 50, "only {checked} var(--…) uses found");
        // The check itself fails on a use without one.
        assert_eq!(
            missing_fallbacks(".a { color: #000; border: 1px solid var(--red); }"),
            vec!["border: 1px solid var(--red)".to_string()]
        );
        assert!(missing_fallbacks(".a { color: red; color: var(--red) }").is_empty());
    }

    #[test]
    fn builtin_templates_compile_and_escape_without_mangling_paths() {
        let dir = std::env::temp_dir().join(format!("gazette-theme-{}", std::process::id()));
        let theme = Theme::load(&dir).unwrap();
        assert!(theme.overridden().is_empty());
        assert_eq!(
            escape_html("../a/<b>&\"'"),
            "../a/&lt;b&gt;&amp;&quot;&#39;"
        );
        assert!(theme
            .dependencies("notice.html")
            .contains(&"base.html".to_string()));
    }

    #[test]
    fn site_templates_override_by_name() {
        let dir = std::env::temp_dir().join(format!("gazette-theme-o-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(dir.join("templates/404.html"), "custom {{ page_title }}").unwrap();
        std::fs::write(dir.join("templates/style.css"), "body{}").unwrap();
        let theme = Theme::load(&dir).unwrap();
        let mut c = tera::Context::new();
        c.insert("page_title", "<x>");
        assert_eq!(theme.render("404.html", &c).unwrap(), "custom &lt;x&gt;");
        assert_eq!(theme.static_file("style.css"), Some(&b"body{}"[..]));
        std::fs::write(dir.join("templates/page.html"), "{% if %}").unwrap();
        let err = Theme::load(&dir).err().unwrap().to_string();
        assert!(err.contains("page.html"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A theme with several broken templates names the first by name, with
    /// its line; the checks across templates (a parent, a macro file) run too.
    #[test]
    fn a_broken_theme_names_its_first_broken_template() {
        let dir = std::env::temp_dir().join(format!("gazette-theme-b-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("templates")).unwrap();
        std::fs::write(dir.join("templates/section.html"), "{{ x(").unwrap();
        std::fs::write(dir.join("templates/page.html"), "ok\n\n{% if %}").unwrap();
        let err = Theme::load(&dir).err().unwrap().to_string();
        assert!(err.contains("Failed to parse 'page.html'"), "{err}");
        assert!(err.contains("3:"), "the line of the error: {err}");
        std::fs::remove_file(dir.join("templates/section.html")).unwrap();
        // A missing parent, then a missing macro file.
        for page in [
            "{% extends \"nowhere.html\" %}",
            "{% import \"nowhere.html\" as m %}",
        ] {
            std::fs::write(dir.join("templates/page.html"), page).unwrap();
            let err = Theme::load(&dir).err().unwrap().to_string();
            assert!(err.contains("nowhere.html"), "{page}: {err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The form template with a definition from the forms crate: labels,
    /// constraints, the honeypot, and after a failed post the error summary
    /// linking to each field with the values kept.
    #[test]
    fn form_template_renders_fields_errors_and_values() {
        let def = forms::FormDef::parse(
            std::path::Path::new("t.toml"),
            "title = \"测试表\"\nannex = 1\n[[fields]]\nname = \"unit_name\"\nlabel = \"单位全称\"\nkind = \"text\"\nrequired = true\n[[fields]]\nname = \"mobile\"\nlabel = \"手机\"\nkind = \"mobile\"\nrequired = true\n[[fields]]\nname = \"levels\"\nlabel = \"级别\"\nkind = \"multi\"\noptions = [\"初级\", \"中级\"]\n",
        )
        .unwrap();
        let theme = Theme::load(std::path::Path::new("/nonexistent")).unwrap();
        let now = chrono::Utc::now();
        let render = |pairs: &[(String, String)]| {
            // A blank form is shown without errors; a posted one with them.
            let errors = match def.validate(pairs) {
                Err(e) if !pairs.is_empty() => e,
                _ => forms::Errors::default(),
            };
            let mut c = tera::Context::new();
            c.insert(
                "site",
                &serde_json::json!({"title": "站点", "language": "zh-CN"}),
            );
            c.insert(
                "office",
                &serde_json::json!({"email": "a@b.cn", "fax": "0753-1"}),
            );
            c.insert("root", "../../");
            c.insert("page_title", "测试表");
            c.insert("form", &def.view(pairs, &errors, now));
            c.insert("action", "/forms/t");
            c.insert("xlsx_url", "t.xlsx");
            c.insert("print_url", "print.html");
            theme.render("form.html", &c).unwrap()
        };
        let blank = render(&[]);
        assert!(blank.contains(r#"<form class="return-form" method="post" action="/forms/t" accept-charset="UTF-8""#), "{blank}");
        assert!(blank.contains(r#"<label for="f-unit_name">单位全称"#));
        assert!(blank.contains(r#"type="tel""#) && blank.contains(r#"inputmode="numeric""#));
        assert!(blank.contains(r#"name="website""#), "honeypot");
        assert!(!blank.contains("error-summary"));

        let pairs = vec![
            ("unit_name".to_string(), "梅州市<测试>局".to_string()),
            ("mobile".to_string(), "1380013".to_string()),
            ("levels".to_string(), "中级".to_string()),
        ];
        let html = render(&pairs);
        assert!(
            html.contains("<title>错误："),
            "the title says there are errors"
        );
        assert!(
            html.contains(r##"<a href="#f-mobile">"##),
            "summary links to the field"
        );
        assert!(html.contains(r#"id="f-mobile-error""#) && html.contains(r#"aria-invalid="true""#));
        assert!(
            html.contains(r#"value="梅州市&lt;测试&gt;局""#),
            "value kept, escaped"
        );
        assert!(
            html.contains(r#"value="1380013""#),
            "bad value kept for correction"
        );
        assert!(
            html.contains(r#"value="中级" checked"#),
            "multi choice kept"
        );
    }
}
