//! Links and anchors checked across pages, once every page's ids are known.

use super::*;

/// The `id`s of the HTML outputs: a full map, optionally overlaid by the
/// pages an incremental update re-rendered.
pub(super) struct Ids<'a> {
    pub(super) base: &'a HashMap<String, IdSet>,
    pub(super) overlay: Option<&'a HashMap<String, IdSet>>,
}

impl Ids<'_> {
    pub(super) fn get(&self, output: &str) -> Option<&IdSet> {
        self.overlay
            .and_then(|o| o.get(output))
            .or_else(|| self.base.get(output))
    }
}

/// The `id`s of every HTML output.
pub(super) fn collect_ids<'a>(
    outputs: impl ParallelIterator<Item = (&'a String, &'a Arc<[u8]>)>,
) -> HashMap<String, IdSet> {
    outputs
        .filter(|(p, _)| p.ends_with(".html"))
        .map(|(p, b)| (p.clone(), crate::render::html::ids(b)))
        .collect()
}

/// Checks the anchors of Markdown links, reported at their source line.
pub(super) fn check_uses<'a>(
    uses: impl Iterator<Item = (String, &'a LinkUse)>,
    ids: &Ids,
) -> Vec<Problem> {
    uses.filter_map(|(source, u)| {
        let anchor = u.anchor.as_ref()?;
        if !u.output.ends_with(".html") {
            return None;
        }
        let ok = ids.get(&u.output).is_some_and(|set| set.contains(anchor));

        (!ok).then(|| {
            Problem::new(
                source,
                Some(u.line),
                format!("broken anchor {}: {} has no #{anchor}", u.written, u.output),
            )
        })
    })
    .collect()
}

/// An href/src of the generated page `page`, resolved to the output it
/// points to and its anchor ("" for none). None for what the build does not
/// own: other sites, `data:` URIs, root-absolute paths (the form action and
/// the like: the server answers them).
pub(super) fn resolve_html_link(
    page: &str,
    link: &str,
) -> Result<Option<(String, String)>, Problem> {
    if links::is_external(link) || link.starts_with("data:") {
        return Ok(None);
    }
    let decoded: std::borrow::Cow<str> = if link.contains('%') {
        links::percent_decode(link).into()
    } else {
        link.into()
    };
    let (file, anchor) = decoded.split_once('#').unwrap_or((&decoded, ""));
    if file.starts_with('/') {
        return Ok(None);
    }
    let target = if file.is_empty() {
        page.to_string()
    } else {
        match links::join(links::dir_of(page), file) {
            Some(t) if t.is_empty() || t.ends_with('/') => format!("{t}index.html"),
            Some(t) => t,
            None => {
                return Err(Problem::new(
                    page,
                    None,
                    format!("link {link} climbs above the site root"),
                ))
            }
        }
    };
    Ok(Some((target, anchor.to_string())))
}

/// Checks every href/src in the given HTML outputs (template links included)
/// against all outputs.
pub(super) fn check_html_links<'a>(
    pages: impl ParallelIterator<Item = (&'a String, &'a Arc<[u8]>)>,
    outputs: &Outputs,
    ids: &Ids,
) -> Vec<Problem> {
    pages
        .filter(|(p, _)| p.ends_with(".html") && p.as_str() != "404.html")
        .flat_map_iter(|(path, bytes)| {
            let mut found = Vec::new();
            for link in crate::render::html::links(bytes) {
                let (target, anchor) = match resolve_html_link(path, &link) {
                    Ok(Some(resolved)) => resolved,
                    Ok(None) => continue,
                    Err(p) => {
                        found.push(p);
                        continue;
                    }
                };
                if !outputs.contains_key(&target) {
                    found.push(Problem::new(
                        path.as_str(),
                        None,
                        format!("link {link} leads nowhere ({target} is not built)"),
                    ));
                } else if !anchor.is_empty()
                    && target.ends_with(".html")
                    && !ids.get(&target).is_some_and(|s| s.contains(&anchor))
                {
                    found.push(Problem::new(
                        path.as_str(),
                        None,
                        format!("link {link}: {target} has no #{anchor}"),
                    ));
                }
            }
            found
        })
        .collect()
}
