//! Values marked as not yet confirmed by the issuer: `[notice] unconfirmed`
//! in front matter, `[office] unconfirmed` in `gazette.toml`, and an office
//! email in a reserved domain. Each is one warning with file and line;
//! `--strict` turns them into problems.

use super::frontmatter::{self, Notice, UNCONFIRMABLE};
use super::Site;
use crate::problem::Problem;

/// Every unconfirmed value of the site, in file order.
pub(crate) fn collect(site: &Site) -> Vec<Problem> {
    let mut out = Vec::new();
    let config_text =
        std::fs::read_to_string(site.root.join(config::FILE_NAME)).unwrap_or_default();
    for (key, zh, value) in site.config.office.unconfirmed_values() {
        let line = key_line(&config_text, 1, Some("office"), key);
        let why = match (key, config::reserved_domain(value)) {
            ("email", Some(domain)) => {
                format!(" ({domain} is a reserved domain: mail to it bounces)")
            }
            _ => String::new(),
        };
        out.push(Problem::new(
            config::FILE_NAME,
            line,
            format!("[office] {key} ({zh}) {value} is marked unconfirmed{why}"),
        ));
    }
    for d in &site.content.docs {
        let Some(n) = &d.meta.notice else { continue };
        if n.unconfirmed.is_empty() {
            continue;
        }
        let text = std::fs::read_to_string(site.root.join(d.source())).unwrap_or_default();
        let front = frontmatter::split(&text).map(|s| (s.front.to_string(), s.front_line));
        let (front, front_line) = front.unwrap_or_default();
        for (key, zh) in UNCONFIRMABLE {
            if !explicit(&n.unconfirmed, key) {
                continue;
            }
            let line = key_line(&front, front_line, Some("notice"), key)
                .or_else(|| key_line(&front, front_line, Some("notice"), "unconfirmed"));
            let value = shown(n, key, d.date);
            out.push(Problem::new(
                d.source(),
                line,
                format!("{zh} {value} is marked unconfirmed"),
            ));
        }
    }
    out
}

fn explicit(list: &[String], key: &str) -> bool {
    list.iter().any(|u| u == key)
}

/// A notice value as the warning names it.
fn shown(n: &Notice, key: &str, page_date: Option<chrono::NaiveDateTime>) -> String {
    let date = |v: Option<&toml::Value>| {
        v.and_then(frontmatter::to_datetime)
            .or(page_date)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    match key {
        "doc_number" => n.doc_number.clone(),
        "issuer" => n.issuer.clone(),
        "issuer_mark" => n.issuer_mark.clone().unwrap_or_else(|| n.issuer.clone()),
        "recipients" => n.recipients.clone(),
        "written" => date(Some(&n.written)),
        "published" => date(n.published.as_ref()),
        "index_no" => n.index_no.clone(),
        "category" => n.category.clone(),
        "keywords" => n.keywords.join(" "),
        "contact" => n.contact.clone(),
        _ => String::new(),
    }
}

/// The 1-based line of `key = …` inside the TOML table `[table]` (or at the
/// top when `table` is None); `first_line` is the line `text` starts on.
fn key_line(text: &str, first_line: usize, table: Option<&str>, key: &str) -> Option<usize> {
    let mut current: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix('[') {
            let name = name.trim_start_matches('[').split(']').next().unwrap_or("");
            current = Some(name.trim().to_string());
            continue;
        }
        let in_table = current.as_deref() == table;
        let is_key = t
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if in_table && is_key {
            return Some(first_line + i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines_are_found_in_their_table() {
        let text = "title = \"a\"\n[notice]\nwritten = 2016-07-15\n# written = no\n[[notice.attachments]]\nwritten = 1\n";
        assert_eq!(key_line(text, 2, Some("notice"), "written"), Some(4));
        assert_eq!(key_line(text, 2, None, "title"), Some(2));
        assert_eq!(key_line(text, 2, Some("notice"), "title"), None);
        let config = "[site]\nemail = \"x\"\n[office]\nemail_x = 1\nemail = \"y\"\n";
        assert_eq!(key_line(config, 1, Some("office"), "email"), Some(5));
    }

    fn notice(front: &str) -> Notice {
        let text = format!("+++\ntitle = \"t\"\n{front}+++\n");
        let fm = frontmatter::parse(&frontmatter::split(&text).unwrap()).unwrap();
        fm.notice.unwrap()
    }

    #[test]
    fn notice_values_are_shown_as_written() {
        let n = notice("[notice]\ndoc_number = \"梅市人社函〔2016〕216号\"\nissuer = \"局\"\nwritten = 2016-07-15\nunconfirmed = [\"written\", \"issuer\"]\n");
        assert!(n.is_unconfirmed("written"));
        assert!(n.is_unconfirmed("issuer_mark"), "the mark shows the issuer");
        assert!(!n.is_unconfirmed("index_no"));
        assert_eq!(shown(&n, "written", None), "2016-07-15");
        assert_eq!(shown(&n, "published", None), "", "no date at all");
    }
}
