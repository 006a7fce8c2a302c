//! Re-rendering after one content page changed, for `gazette serve`.

use super::built::{Built, SearchKey};
use super::check::{check_html_links, check_uses, collect_ids, Ids};
use super::context::Shared;
use super::extras::{render_extras, render_feeds};
use super::markdown::LinkUse;
use super::pages::{render_doc, render_markdown, Body};
use super::search::{page_docs, Spent};
use crate::model::content::{self, Doc};
use crate::model::Site;
use crate::problem::Problem;
use rayon::prelude::*;
use search::PageText;
use std::collections::HashSet;
use std::sync::Arc;

/// The files an update re-rendered, in the order they were made.
type Fresh = Vec<(String, Arc<[u8]>)>;

/// What an update made.
#[derive(Debug, PartialEq)]
pub(crate) struct Rerendered {
    /// The pages (and feeds) rendered again.
    pub(crate) pages: Vec<String>,
    /// The search index's files that changed with the edited page's text.
    pub(crate) index_files: usize,
}

impl Built {
    /// After `content/<rel>` was edited: re-renders that page and, when its
    /// title, date or description changed, the pages that list it (its
    /// section, the home page, the feeds). Returns the outputs rendered, or
    /// None when the change needs a full rebuild (a new, deleted or moved
    /// page, or a change to the navigation). On problems nothing changes.
    pub(crate) fn update_doc(
        &mut self,
        site: &mut Site,
        rel: &str,
    ) -> Result<Option<Rerendered>, Vec<Problem>> {
        let Some(i) = site.content.docs.iter().position(|d| d.rel == rel) else {
            return Ok(None);
        };
        let fresh = match content::load_doc(&site.root.join("content"), rel.to_string()) {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(None), // became a draft
            Err(p) => return Err(vec![p]),
        };
        let old = &site.content.docs[i];
        if fresh.url != old.url || fresh.is_section != old.is_section {
            return Ok(None);
        }
        if fresh.meta.notice.is_some() != old.meta.notice.is_some() {
            return Ok(None); // its PDF comes or goes
        }
        let listed = |d: &Doc| {
            (
                d.title(),
                d.date,
                d.meta.description.clone(),
                d.meta.weight,
                d.meta.sort_by.clone(),
                d.meta.notice.as_ref().map(|n| n.doc_number.clone()),
            )
        };
        let listing_changed = listed(&fresh) != listed(old);
        if listing_changed && fresh.is_section && fresh.parent_section().is_empty() {
            return Ok(None); // a top-level section: its title is in every page's navigation
        }
        let content_dir = site.root.join("content");
        // The index's time is only reported for whole builds.
        let spent = Spent::default();
        let (body, doc_links, problems) =
            render_markdown(&self.index, &content_dir, &fresh, Some(&spent));
        if !problems.is_empty() {
            return Err(problems);
        }
        let old_doc = std::mem::replace(&mut site.content.docs[i], fresh);
        // A notice's PDF is made from it too (before its page, which shows its size).
        let pdf = super::pdf::notice_file(&Shared::new(site, &self.index), &site.content.docs[i]);
        let pdf = match pdf.transpose() {
            Ok(pdf) => pdf.filter(|(p, b)| self.outputs.get(p) != Some(b)),
            Err(p) => {
                site.content.docs[i] = old_doc;
                return Err(vec![p]);
            }
        };
        let old_size = pdf.as_ref().and_then(|(p, b)| {
            self.sizes
                .files
                .insert(p.clone(), b.len())
                .map(|n| (p.clone(), n))
        });
        let result = self.rerender(site, i, body, doc_links, listing_changed);
        match (&result, pdf) {
            (Ok(_), Some((path, bytes))) => {
                self.outputs.insert(path.clone(), bytes);
                return result.map(|mut r| {
                    r.pages.push(path);
                    Some(r)
                });
            }
            (Err(_), _) => {
                site.content.docs[i] = old_doc;
                if let Some((p, n)) = old_size {
                    self.sizes.files.insert(p, n);
                }
            }
            _ => {}
        }
        result.map(Some)
    }

    fn rerender(
        &mut self,
        site: &Site,
        i: usize,
        mut body: Body,
        doc_links: Vec<LinkUse>,
        listing_changed: bool,
    ) -> Result<Rerendered, Vec<Problem>> {
        let text = body.text.take();
        let (fresh, found) = self.render_affected(site, i, &body, text, listing_changed)?;
        // Check against the site as it would be after this update (the set
        // of output paths stays the same; only these pages' ids change).
        let fresh_ids = collect_ids(fresh.par_iter().map(|(k, v)| (k, v)));
        let ids = Ids {
            base: &self.ids,
            overlay: Some(&fresh_ids),
        };
        let mut problems = self.check_links_of(site, i, &doc_links, &ids);
        if problems.is_empty() {
            problems = check_html_links(fresh.par_iter().map(|(k, v)| (k, v)), &self.outputs, &ids);
        }
        if !problems.is_empty() {
            problems.sort();
            problems.dedup();
            return Err(problems);
        }
        let rendered = fresh.iter().map(|(k, _)| k.clone()).collect();
        self.ids.extend(fresh_ids);
        self.outputs.extend(fresh);
        if site.content.docs[i].is_section {
            self.bodies.insert(i, body);
        }
        self.doc_links[i] = doc_links;
        let index_files = self.reindex(i, found);
        Ok(Rerendered {
            pages: rendered,
            index_files,
        })
    }

    /// The search index made again with doc `i`'s search page (`found`)
    /// in place of its old one, the others as they were counted: the same
    /// files a full build would write. Only the files that changed are
    /// replaced in the outputs; returns how many did.
    fn reindex(&mut self, i: usize, found: Option<::search::Prepared>) -> usize {
        let Some(pages) = &mut self.search_pages else {
            return 0;
        };
        // Kept in index order: chapters, then docs by index, then forms.
        let key = SearchKey::Doc(i);
        let at = pages.partition_point(|(k, _)| *k < key);
        let present = pages.get(at).is_some_and(|(k, _)| *k == key);
        match (present, found) {
            (true, Some(p)) => pages[at].1 = p,
            (true, None) => {
                pages.remove(at);
            }
            (false, Some(p)) => pages.insert(at, (key, p)),
            (false, None) => return 0,
        }
        let files = ::search::files_of(pages.iter().map(|(_, p)| p));
        let names: HashSet<String> = files.iter().map(|(p, _)| p.clone()).collect();
        // A shard count that shrank leaves files no build would make now.
        for gone in self.search_files.difference(&names) {
            self.outputs.remove(gone);
        }
        let mut changed = 0;
        for (path, text) in files {
            if self.outputs.get(&path).map(|b| &b[..]) != Some(text.as_bytes()) {
                self.outputs.insert(path, text.into_bytes().into());
                changed += 1;
            }
        }
        self.search_files = names;
        changed
    }

    /// Doc `i` (with its new `body`) and, when its listing changed, the
    /// sections that list it, the home page, the generated pages and feeds.
    fn render_affected(
        &self,
        site: &Site,
        i: usize,
        body: &Body,
        text: Option<PageText>,
        listing_changed: bool,
    ) -> Result<(Fresh, Option<::search::Prepared>), Vec<Problem>> {
        let mut targets = vec![i];
        if listing_changed {
            let parent = site.content.docs[i].parent_section();
            targets.extend(
                site.content
                    .docs
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| {
                        d.is_section && (d.section_dir() == parent || d.rel == "_index.md")
                    })
                    .map(|(j, _)| j),
            );
        }
        let ctx = Shared::new(site, &self.index);
        let mut fresh = Vec::new();
        let mut problems = Vec::new();
        for &j in &targets {
            let b = if j == i {
                Some(body)
            } else {
                self.bodies.get(&j)
            };
            let Some(b) = b else { continue };
            match render_doc(&ctx, &site.content.docs[j], b, &self.sizes) {
                Ok(out) => fresh.push(out),
                Err(p) => problems.push(p),
            }
        }
        if listing_changed {
            match render_extras(&ctx) {
                Ok(extra) => fresh.extend(extra),
                Err(p) => problems.push(p),
            }
            fresh.extend(render_feeds(&ctx));
        }
        if problems.is_empty() {
            let found = text.and_then(|text| page_docs(&ctx, &site.content.docs[i], text));
            Ok((fresh, found))
        } else {
            Err(problems)
        }
    }

    /// The anchors of doc `i`'s own Markdown links, and of every link
    /// elsewhere into it (its anchors may be gone).
    fn check_links_of(
        &self,
        site: &Site,
        i: usize,
        doc_links: &[LinkUse],
        ids: &Ids,
    ) -> Vec<Problem> {
        let doc = &site.content.docs[i];
        let own_output = doc.output();
        let mine = doc_links.iter().map(|u| (doc.source_str(), u));
        let into_it = site
            .content
            .docs
            .iter()
            .zip(&self.doc_links)
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, (d, links))| links.iter().map(move |u| (d.source_str(), u)))
            .chain(self.manual_links.iter().map(|(s, u)| (s.clone(), u)))
            .filter(|(_, u)| u.output == own_output);
        check_uses(mine.chain(into_it), ids)
    }
}
