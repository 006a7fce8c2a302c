//! Links and anchors checked across pages, once every page's ids are known.

use super::emit::{resolve_html_link, Outputs, Pending};
use super::html::{self, IdSet};
use super::links::percent_decode;
use super::markdown::LinkUse;
use crate::model::Site;
use crate::problem::Problem;
use config::ProblemPolicy;
use rayon::prelude::*;
use std::collections::HashMap;
use std::collections::HashSet;
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
/// template links that lead nowhere. Every one of them is checked, so one
/// run lists all; a broken Markdown link shows up in the HTML too, and is
/// reported once, at its source line (`earlier` holds those already found).
pub(super) fn check_anchors<'a>(
    uses: impl Iterator<Item = (String, &'a LinkUse)>,
    pending: &[Pending],
    template_problems: Vec<Problem>,
    ids: &Ids,
    earlier: &[Problem],
) -> Vec<Problem> {
    let mut broken_targets: HashSet<(String, String)> = HashSet::new();
    // One link of one source line, rendered into several views, is one problem.
    let mut seen: HashSet<(String, usize, String)> = HashSet::new();
    let mut problems: Vec<Problem> = uses
        .filter_map(|(source, u)| {
            let anchor = u.anchor.as_ref()?;
            if !u.output.ends_with(".html") {
                return None;
            }
            // A page that was not made had its problems reported already.
            let ok = ids.get(&u.output)?.contains(anchor);
            if ok {
                return None;
            }
            broken_targets.insert((u.output.clone(), anchor.clone()));
            seen.insert((source.clone(), u.line, u.written.clone()))
                .then(|| {
                    Problem::new(
                        source,
                        Some(u.line),
                        format!("broken anchor {}: {} has no #{anchor}", u.written, u.output),
                    )
                })
        })
        .collect();
    // Hrefs left as written because they lead nowhere (already reported).
    let written: HashSet<&str> = earlier
        .iter()
        .filter_map(|p| p.message.strip_prefix("broken link "))
        .filter_map(|m| m.rsplit_once(": no ").map(|(d, _)| d))
        .collect();
    problems.extend(template_problems.into_iter().filter(|p| {
        let Some(rest) = p.message.strip_prefix("link ") else {
            return true;
        };
        if let Some((l, _)) = rest.split_once(" leads nowhere") {
            return !(written.contains(l) || written.contains(percent_decode(l).as_str()));
        }
        // `link L: T has no #A` for an anchor on the same page.
        match rest.rsplit_once(" has no #").and_then(|(a, anchor)| {
            a.rsplit_once(": ")
                .map(|(_, t)| (t.to_string(), anchor.to_string()))
        }) {
            Some(key) => !broken_targets.contains(&key),
            None => true,
        }
    }));
    problems.extend(pending.iter().filter_map(|p| {
        if broken_targets.contains(&(p.target.clone(), p.anchor.clone())) {
            return None;
        }
        let ok = ids.get(&p.target)?.contains(&p.anchor);
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

/// Splits problems into errors and warnings: a problem in a manual whose
/// policy (`[output.gazette] problems`, else `[site] manual_problems`) is
/// `warn` is a warning.
pub(super) fn by_policy(site: &Site, problems: Vec<Problem>) -> (Vec<Problem>, Vec<Problem>) {
    let default = site.config.site.manual_problems;
    let warn_dirs: Vec<String> = if site.lenient {
        vec!["manuals/".to_string()]
    } else {
        site.manuals
            .iter()
            .filter(|m| m.policy.unwrap_or(default) == ProblemPolicy::Warn)
            .map(|m| m.out_dir())
            .collect()
    };
    if warn_dirs.is_empty() {
        return (problems, Vec::new());
    }
    problems.into_iter().partition(|p| {
        let file = p.file.to_string_lossy();
        let file = file.replace('\\', "/");
        !warn_dirs.iter().any(|d| file.starts_with(d.as_str()))
    })
}
