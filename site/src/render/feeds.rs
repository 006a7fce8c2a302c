//! sitemap.xml, atom.xml and robots.txt. The sitemap protocol and Atom
//! both require absolute URLs: the first two are made only when `base_url`
//! is set (`extras::render_feeds`).

use crate::model::Site;
use chrono::NaiveDateTime;

fn xml_escape(s: &str) -> String {
    html_escape::encode_text(s).replace('"', "&quot;")
}

fn url(abs: &dyn Fn(&str) -> Option<String>, output: &str) -> String {
    abs(output).unwrap_or_else(|| output.to_string())
}

pub(crate) fn sitemap(site: &Site, abs: &dyn Fn(&str) -> Option<String>) -> String {
    let mut entries: Vec<(String, Option<NaiveDateTime>)> = vec![];
    for d in &site.content.docs {
        entries.push((d.output(), d.date));
    }
    if !site.content.docs.iter().any(|d| d.rel == "_index.md") {
        entries.push(("index.html".into(), None));
    }
    for f in &site.forms {
        entries.push((format!("forms/{}/index.html", f.id), None));
    }
    for m in &site.manuals {
        entries.push((format!("{}index.html", m.out_dir()), None));
        for c in &m.chapters {
            if let Some(p) = &c.path {
                entries.push((m.chapter_output(p), None));
            }
        }
    }
    entries.sort();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
    for (o, date) in entries {
        out.push_str("  <url>\n    <loc>");
        out.push_str(&xml_escape(&url(abs, &o)));
        out.push_str("</loc>\n");
        if let Some(d) = date {
            out.push_str(&format!(
                "    <lastmod>{}</lastmod>\n",
                d.format("%Y-%m-%d")
            ));
        }
        out.push_str("  </url>\n");
    }
    out.push_str("</urlset>\n");
    out
}

/// The newest dated pages (notices first of all) as an Atom feed.
pub(crate) fn atom(site: &Site, abs: &dyn Fn(&str) -> Option<String>) -> String {
    let mut pages: Vec<_> = site
        .content
        .docs
        .iter()
        .filter(|d| !d.is_section && d.date.is_some())
        .collect();
    pages.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.rel.cmp(&b.rel)));
    pages.truncate(20);
    let updated = pages
        .first()
        .and_then(|d| d.date)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S+08:00").to_string())
        .unwrap_or_else(|| "1970-01-01T00:00:00+08:00".into());
    let home = url(abs, "index.html");
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{}\">\n  <title>{}</title>\n  <id>{}</id>\n  <link href=\"{}\"/>\n  <updated>{updated}</updated>\n",
        xml_escape(&site.config.site.language),
        xml_escape(&site.config.site.title),
        xml_escape(&home),
        xml_escape(&home),
    );
    for d in pages {
        let link = url(abs, &d.output());
        let date = d
            .date
            .map(|d| d.format("%Y-%m-%dT%H:%M:%S+08:00").to_string())
            .unwrap_or_default();
        out.push_str(&format!(
            "  <entry>\n    <title>{}</title>\n    <link href=\"{}\"/>\n    <id>{}</id>\n    <updated>{date}</updated>\n    <summary>{}</summary>\n  </entry>\n",
            xml_escape(&d.title()),
            xml_escape(&link),
            xml_escape(&link),
            xml_escape(d.meta.description.as_deref().unwrap_or("")),
        ));
    }
    out.push_str("</feed>\n");
    out
}

pub(crate) fn robots(site: &Site) -> String {
    let mut out = String::from("User-agent: *\nAllow: /\n");
    if !site.config.site.base_url.is_empty() {
        out.push_str(&format!(
            "Sitemap: {}/sitemap.xml\n",
            site.config.site.base_url.trim_end_matches('/')
        ));
    }
    out
}
