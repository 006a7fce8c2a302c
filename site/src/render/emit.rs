//! Where each made file goes ([`Sink`]), and the checks run on it as it
//! goes: its ids are kept and its links resolved, anchors elsewhere left
//! pending until every page is made.

use super::*;

/// A link found in generated HTML whose anchor is in another page, checked
/// once every page is made.
pub(super) struct Pending {
    pub(super) page: String,
    pub(super) link: String,
    pub(super) target: String,
    pub(super) anchor: String,
}

/// What is kept of one output file after it went to the sink.
pub(super) struct Emitted {
    pub(super) path: String,
    pub(super) len: usize,
    pub(super) bytes: Option<Arc<[u8]>>,
    pub(super) ids: Option<IdSet>,
    pub(super) pending: Vec<Pending>,
    pub(super) problems: Vec<Problem>,
}

/// Hands one file to the sink; for HTML, reads its ids and checks its links
/// against the index of every output (anchors elsewhere are left pending).
pub(super) fn emit(sink: &Sink, index: &Index, path: String, bytes: Arc<[u8]>) -> Emitted {
    let mut problems = Vec::new();
    let mut pending = Vec::new();
    let ids = if path.ends_with(".html") {
        let ids = crate::render::html::ids(&bytes);
        if path != "404.html" {
            scan_links(&path, &bytes, &ids, index, &mut pending, &mut problems);
        }
        Some(ids)
    } else {
        None
    };
    let len = bytes.len();
    let kept = match sink {
        Sink::Memory => Some(bytes),
        Sink::Discard => None,
        Sink::Dir(dir) => {
            let file = dir.join(&path);
            if let Err(e) = write_over(dir, &file, &bytes) {
                problems.push(Problem::new(file, None, e.to_string()));
            }
            None
        }
    };
    Emitted {
        path,
        len,
        bytes: kept,
        ids,
        pending,
        problems,
    }
}

/// Writes `file` (under `out_dir`) over whatever an earlier build left:
/// folders are made only when missing, and a file or folder standing where
/// the other is needed now is removed first.
pub(super) fn write_over(out_dir: &Path, file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let Err(e) = std::fs::write(file, bytes) else {
        return Ok(());
    };
    let parent = file.parent().unwrap_or(out_dir);
    if e.kind() == std::io::ErrorKind::NotFound && std::fs::create_dir_all(parent).is_ok() {
        return std::fs::write(file, bytes);
    }
    // An earlier build's folder where this file goes, or its file where a
    // folder is needed now.
    if file.is_dir() {
        std::fs::remove_dir_all(file)?;
    }
    for a in parent
        .ancestors()
        .take_while(|a| a.starts_with(out_dir) && *a != out_dir)
    {
        if a.is_file() {
            std::fs::remove_file(a)?;
        }
    }
    std::fs::create_dir_all(parent)?;
    std::fs::write(file, bytes)
}

/// Every href/src of a generated page: the target must be built; an anchor
/// on the same page must exist; anchors elsewhere are checked later.
pub(super) fn scan_links(
    path: &str,
    html: &[u8],
    own_ids: &IdSet,
    index: &Index,
    pending: &mut Vec<Pending>,
    problems: &mut Vec<Problem>,
) {
    for link in crate::render::html::links(html) {
        let (target, anchor) = match resolve_html_link(path, &link) {
            Ok(Some(resolved)) => resolved,
            Ok(None) => continue,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        if !index.outputs.contains(&target) {
            problems.push(Problem::new(
                path,
                None,
                format!("link {link} leads nowhere ({target} is not built)"),
            ));
        } else if !anchor.is_empty() && target.ends_with(".html") {
            if target == path {
                if !own_ids.contains(&anchor) {
                    problems.push(Problem::new(
                        path,
                        None,
                        format!("link {link}: {target} has no #{anchor}"),
                    ));
                }
            } else {
                pending.push(Pending {
                    page: path.to_string(),
                    link: link.to_string(),
                    target,
                    anchor,
                });
            }
        }
    }
}
