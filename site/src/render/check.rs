//! Links and anchors checked across pages, once every page's ids are known.

use super::emit::{resolve_html_link, Outputs, Pending};
use super::html::{self, IdSet};
use super::markdown::LinkUse;
use crate::problem::Problem;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

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
        .map(|(p, b)| (p.clone(), html::ids(b)))
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
            for link in html::links(bytes) {
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

/// The last step of a full render: the anchors of Markdown links, reported
/// at their source line, then those of template links (`pending`) and the
/// template links that lead nowhere. A broken Markdown link shows up in the
/// HTML too: when there is one, only the Markdown problems are reported.
pub(super) fn check_anchors<'a>(
    uses: impl Iterator<Item = (String, &'a LinkUse)>,
    pending: &[Pending],
    template_problems: Vec<Problem>,
    ids: &Ids,
) -> Vec<Problem> {
    let problems = check_uses(uses, ids);
    if !problems.is_empty() {
        return problems;
    }
    let mut problems = template_problems;
    problems.extend(pending.iter().filter_map(|p| {
        let ok = ids.get(&p.target).is_some_and(|s| s.contains(&p.anchor));
        (!ok).then(|| {
            Problem::new(
                &p.page,
                None,
                format!("link {}: {} has no #{}", p.link, p.target, p.anchor),
            )
        })
    }));
    problems
}
