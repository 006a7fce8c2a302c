//! Just enough reading of our own generated HTML to check links: the `id`s a
//! page defines and the `href`/`src` values it uses.

use std::collections::HashSet;

/// Values of every `id="…"` attribute.
pub fn ids(html: &str) -> HashSet<String> {
    attribute_values(html, " id=\"").map(unescape).collect()
}

/// Values of every `href="…"` and `src="…"` attribute.
pub fn links(html: &str) -> Vec<String> {
    attribute_values(html, " href=\"")
        .chain(attribute_values(html, " src=\""))
        .map(unescape)
        .collect()
}

fn attribute_values<'a>(html: &'a str, needle: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    html.match_indices(needle).filter_map(move |(i, _)| {
        let start = i + needle.len();
        let end = html[start..].find('"')?;
        Some(&html[start..start + end])
    })
}

/// Undoes the escaping tera and pulldown-cmark apply inside attributes.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    html_escape::decode_html_entities(s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_ids_and_links() {
        let html = r#"<h2 id="操作步骤">x</h2><a href="a/index.html#x&amp;y">a</a><img src="i.svg" alt=""><p id="b">"#;
        let ids = ids(html);
        assert!(ids.contains("操作步骤") && ids.contains("b"));
        assert_eq!(links(html), ["a/index.html#x&y", "i.svg"]);
    }
}
