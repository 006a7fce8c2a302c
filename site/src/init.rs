//! `gazette init`: a small site that builds at once and shows every part:
//! a notice with a form and a manual as attachments.

use anyhow::{bail, Context, Result};
use std::path::Path;

const FILES: &[(&str, &str)] = &[
    ("gazette.toml", include_str!("../scaffold/gazette.toml")),
    (
        "content/_index.md",
        include_str!("../scaffold/content/_index.md"),
    ),
    (
        "content/notices/_index.md",
        include_str!("../scaffold/content/notices/_index.md"),
    ),
    (
        "content/notices/first.md",
        include_str!("../scaffold/content/notices/first.md"),
    ),
    (
        "content/forms/contacts.toml",
        include_str!("../scaffold/content/forms/contacts.toml"),
    ),
    (
        "manuals/guide/book.toml",
        include_str!("../scaffold/manuals/guide/book.toml"),
    ),
    (
        "manuals/guide/src/SUMMARY.md",
        include_str!("../scaffold/manuals/guide/src/SUMMARY.md"),
    ),
    (
        "manuals/guide/src/start.md",
        include_str!("../scaffold/manuals/guide/src/start.md"),
    ),
    (
        "manuals/guide/src/submit.md",
        include_str!("../scaffold/manuals/guide/src/submit.md"),
    ),
];

pub fn init(dir: &Path) -> Result<()> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| dir.display().to_string())?
            .next()
            .is_some()
    {
        bail!("{} already exists and is not empty", dir.display());
    }
    for (rel, text) in FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
        }
        std::fs::write(&path, text).with_context(|| path.display().to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_new_site_builds_and_checks() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("new");
        super::init(&site).unwrap();
        assert!(super::init(&site).is_err(), "init must not overwrite");
        let problems = crate::check(&site).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let report = crate::build(&site, None).unwrap();
        assert!(site.join("public/notices/first/index.html").is_file());
        assert!(site.join("public/forms/contacts/contacts.xlsx").is_file());
        assert!(site.join("public/manuals/guide/start.html").is_file());
        assert!(report.pages >= 6, "{}", report);
    }
}
