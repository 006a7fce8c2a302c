//! Full-text search over a built site, for Chinese and Latin text.
//!
//! The build adds one [`Doc`] per searchable unit (a page's opening, each
//! heading's section, a form) to a [`Builder`]; [`Index::files`] writes the
//! index as script files (`search/*.js`) that a page loads with `<script>`
//! tags, which works from `file://` where `fetch` does not, and in pieces, so
//! one query loads only the shards its terms and its results live in. The
//! server answers `GET /search?q=` from the same files ([`Index::from_files`])
//! with the same ranking ([`Index::search`]), for browsers without
//! JavaScript; `theme/static/search.js` is the browser's copy of the
//! ranking and snippet code below, line for line.
//!
//! Ranking is BM25 over precomputed per-posting scores, with a document's
//! title counted three times and its heading twice (BM25F-style field
//! weights): a query's score for a document is the sum of its terms'
//! scores, and a document must contain every term.

mod html;
mod json;
mod swar;
mod tokenize;

pub use html::{split_page, PageText};

pub use tokenize::{each_term, index_terms, is_cjk, normalize, query_terms};

use rustc_hash::FxHashMap;
use tokenize::{each_key, first_of_pair, KeyBuffers, Term};

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

const K1: f64 = 1.2;
const B: f64 = 0.75;
const TITLE_WEIGHT: u32 = 3;
const HEADING_WEIGHT: u32 = 2;
/// Added to a term's BM25 score, times its idf, when the page's title has it.
const TITLE_BONUS: f64 = 2.0;
/// Scores are stored as integers (thousandths) so that both copies of the
/// ranking add exactly the same numbers.
const SCALE: f64 = 1000.0;
/// Text kept per part for snippets, in UTF-16 units (what the browser
/// counts).
const TEXT_CAP: usize = 800;
/// Text kept per page, all parts together.
const PAGE_TEXT_CAP: usize = 3000;
pub const DOCS_PER_SHARD: usize = 8;
/// `search/meta.js`'s `v`: 2 since postings are base64 VLQ strings (1 had
/// arrays of JSON numbers).
const INDEX_VERSION: u32 = 2;
/// Where the site writes its search page.
pub const SEARCH_PAGE: &str = "search/index.html";
/// A term shard of about this many bytes; the shard count follows.
const TERM_SHARD_BYTES: usize = 48 * 1024;
const MAX_TERM_SHARDS: usize = 512;
/// Characters of context shown before the first match.
const SNIPPET_BEFORE: usize = 30;
const SNIPPET_LEN: usize = 120;

/// One searchable unit: a page, a section of a page under a heading, a form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    /// Relative to the site root, with the heading's `#id` when it has one.
    pub url: String,
    /// The page's title.
    pub title: String,
    /// The heading this unit starts with, empty for a page's opening.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub heading: String,
    /// Where the page belongs, as people read it: `操作手册 › 评委会`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub section: String,
    /// Plain text, capped for snippets (the index covers all of it).
    pub text: String,
}

/// A page as the index stores it: its parts (the opening, then each headed
/// section) keep their anchors, so a result links to the part that matched.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredPage {
    pub url: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub section: String,
    /// `[anchor, heading, text]`; the opening has an empty anchor and heading.
    pub parts: Vec<[String; 3]>,
}

/// A page with its terms counted, made in parallel; [`Builder::add`] then
/// only merges counts. `gazette serve` keeps a copy of each, so that after
/// an edit the index is made again from them with only that page counted
/// anew.
#[derive(Clone)]
pub struct Prepared {
    page: StoredPage,
    /// `(packed key, count × 2 + in-title flag)` per distinct term of up to
    /// 8 bytes (nearly all: Han unigrams and bigrams, short words).
    short: Vec<(u64, u32)>,
    /// The same for longer words.
    long: Vec<(Box<str>, u32)>,
    length: u32,
    title_length: u32,
}

/// What every page's counting reuses on its thread: the tokenizer's
/// buffers and the short terms' counts, Han bigrams apart (cleared, not
/// freed, between pages).
#[derive(Default)]
struct Scratch {
    buffers: KeyBuffers,
    short: FxHashMap<u64, u32>,
    pairs: FxHashMap<u64, u32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

impl Prepared {
    /// One page from its parts (as [`split_page`] gives them: the same URL
    /// before `#`, the page's title and section); `None` for no parts.
    pub fn page(parts: Vec<Doc>) -> Option<Prepared> {
        let first = parts.first()?;
        let url = first.url.split('#').next().unwrap_or("").to_string();
        let (title, section) = (first.title.clone(), first.section.clone());
        let parts = parts
            .into_iter()
            .map(|d| {
                let anchor = d.url.split_once('#').map(|(_, a)| a).unwrap_or("");
                [anchor.to_string(), d.heading, d.text]
            })
            .collect();
        Some(Prepared::of_parts(url, title, section, parts, false))
    }

    /// One page from its text as [`PageText`] collected it (the site's
    /// pages and chapters): already collapsed, so its parts are only cut
    /// to length, not looked through again.
    pub fn of_text(text: PageText, url: &str, title: &str, section: &str) -> Prepared {
        let parts = text.into_parts();
        Prepared::of_parts(url.into(), title.into(), section.into(), parts, true)
    }

    /// `parts` are `[anchor, heading, text]`; `collapsed` says the texts
    /// already have single spaces and none at either end.
    fn of_parts(
        url: String,
        title: String,
        section: String,
        mut parts: Vec<[String; 3]>,
        collapsed: bool,
    ) -> Prepared {
        let (short, long, length, title_length) = SCRATCH.with(|s| match s.try_borrow_mut() {
            Ok(mut s) => count_terms(&title, &parts, &mut s),
            // Not reached (counting calls nothing that counts); a fresh
            // scratch keeps it correct if it ever were.
            Err(_) => count_terms(&title, &parts, &mut Scratch::default()),
        });
        let mut left = PAGE_TEXT_CAP;
        for [_, _, text] in &mut parts {
            let cap = TEXT_CAP.min(left);
            let units = match collapsed.then(|| utf16_len(text)) {
                Some(n) if n <= cap => n,
                _ => {
                    let (kept, n) = collapse_space_capped_owned(std::mem::take(text), cap);
                    *text = kept;
                    n
                }
            };
            left = left.saturating_sub(units);
        }
        Prepared {
            page: StoredPage {
                url,
                title,
                section,
                parts,
            },
            short,
            long,
            length,
            title_length,
        }
    }
}

/// How many UTF-16 units `text` takes (what the browser counts), by bytes:
/// every byte but a continuation byte (`0b10xxxxxx`) starts a character,
/// and those of four bytes take two.
fn utf16_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let by_byte = |b: &u8| usize::from(b & 0xC0 != 0x80) + usize::from(*b >= 0xF0);
    let mut words = bytes.chunks_exact(8);
    let mut units = 0;
    for word in &mut words {
        let x = swar::word(word, 0).unwrap_or(0);
        units += 8 - swar::count(swar::continuation(x)) + swar::count(swar::four_byte_lead(x));
    }
    units + words.remainder().iter().map(by_byte).sum::<usize>()
}

/// A page's distinct terms with `count × 2 + in-title flag`, its length in
/// terms and its title's: the title, then each part's heading and text,
/// each with the weight it counts for (no term spans two of them).
type Counted = (Vec<(u64, u32)>, Vec<(Box<str>, u32)>, u32, u32);

fn count_terms(title: &str, parts: &[[String; 3]], scratch: &mut Scratch) -> Counted {
    let Scratch {
        buffers,
        short,
        pairs,
    } = scratch;
    short.clear();
    pairs.clear();
    // The low bit says the term is in the title (a bonus beside BM25,
    // which saturates: a title match should not drown in a long body).
    // Counts add in steps of 2, so the bit stays where it was set.
    let mut long: FxHashMap<Box<str>, u32> = FxHashMap::default();
    let mut count = |text: &str, weight: u32, flag: u32| {
        let mut n = 0;
        each_key(text, buffers, &mut |term| {
            let add = |count: &mut u32| *count = (*count + weight * 2) | flag;
            match term {
                Term::Short(key) => add(short.entry(key).or_default()),
                Term::Pair(key) => add(pairs.entry(key).or_default()),
                Term::Long(word) => match long.get_mut(word) {
                    Some(count) => add(count),
                    None => _ = long.insert(word.into(), (weight * 2) | flag),
                },
            }
            n += if matches!(term, Term::Pair(_)) { 2 } else { 1 };
        });
        n
    };
    let title_length = count(title, TITLE_WEIGHT, 1);
    let mut length = title_length;
    for [_, heading, body] in parts {
        length += count(heading, HEADING_WEIGHT, 0) + count(body, 1, 0);
    }
    // A Han character's count: the bigrams it starts, and where it ends a
    // run. Its in-title bit: any of those in the title.
    for (&pair, &count) in pairs.iter() {
        let first = short.entry(first_of_pair(pair)).or_default();
        *first = (*first + (count & !1)) | (count & 1);
    }
    let long = long.into_iter().collect();
    let mut counted = Vec::with_capacity(short.len() + pairs.len());
    counted.extend(short.drain());
    counted.extend(pairs.drain());
    (counted, long, length, title_length)
}

/// Collects documents in order and writes the index: document shards as
/// soon as they fill (so a large site's text is never all in memory), the
/// terms, scored, at [`Builder::finish`].
#[derive(Default)]
pub struct Builder {
    /// Pages of the shard being filled.
    pending: Vec<StoredPage>,
    docs: u32,
    /// term → (last doc, `(doc delta, term frequency)` pairs as varints):
    /// documents arrive in order, so a posting takes 2–3 bytes. Terms of up
    /// to 8 bytes by packed key ([`pack`]), longer ones by text.
    postings: FxHashMap<u64, (u32, Vec<u8>)>,
    long_postings: FxHashMap<Box<str>, (u32, Vec<u8>)>,
    lengths: Vec<u32>,
    title_lengths: Vec<u32>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Adds one page; returns the document shard it completed, if any.
    pub fn add(&mut self, p: Prepared) -> Option<(String, String)> {
        self.count(&p);
        self.pending.push(p.page);
        (self.pending.len() == DOCS_PER_SHARD).then(|| self.flush_docs())
    }

    /// [`Builder::add`] for a page the caller keeps.
    pub fn add_ref(&mut self, p: &Prepared) -> Option<(String, String)> {
        self.count(p);
        self.pending.push(p.page.clone());
        (self.pending.len() == DOCS_PER_SHARD).then(|| self.flush_docs())
    }

    /// Merges a page's term counts into the postings, as the next document.
    fn count(&mut self, p: &Prepared) {
        let id = self.docs;
        self.docs += 1;
        let add = |(last, bytes): &mut (u32, Vec<u8>), tf: u32| {
            varint(bytes, id - *last);
            varint(bytes, tf);
            *last = id;
        };
        for &(key, tf) in &p.short {
            add(self.postings.entry(key).or_default(), tf);
        }
        for (term, tf) in &p.long {
            match self.long_postings.get_mut(term) {
                Some(entry) => add(entry, *tf),
                None => add(self.long_postings.entry(term.clone()).or_default(), *tf),
            }
        }
        self.lengths.push(p.length);
        self.title_lengths.push(p.title_length);
    }

    pub fn len(&self) -> usize {
        self.docs as usize
    }

    pub fn is_empty(&self) -> bool {
        self.docs == 0
    }

    fn flush_docs(&mut self) -> (String, String) {
        let shard = (self.docs as usize - self.pending.len()) / DOCS_PER_SHARD;
        let name = format!("docs-{shard}");
        let file = (
            format!("search/{name}.js"),
            json::docs_script(&name, &self.pending),
        );
        self.pending.clear();
        file
    }

    /// The rest of the index: the last document shard, the term shards and
    /// `search/meta.js`, each made on demand by [`Finished::file`] (in
    /// parallel if the caller likes), so the index's text is never all held.
    pub fn finish(mut self) -> Finished {
        let last_docs = (!self.pending.is_empty()).then(|| self.flush_docs());
        let n = self.docs.max(1) as f64;
        let avg = (self.lengths.iter().map(|&l| l as f64).sum::<f64>() / n).max(1.0);
        let avg_title = (self.title_lengths.iter().map(|&l| l as f64).sum::<f64>() / n).max(1.0);
        let postings: Vec<(Box<str>, Vec<u8>)> = self
            .postings
            .into_iter()
            .map(|(k, (_, v))| (unpack(k), v))
            .chain(self.long_postings.into_iter().map(|(t, (_, v))| (t, v)))
            .collect();
        let bytes: usize = postings.iter().map(|(t, v)| entry_len(t, v)).sum();
        let term_shards = bytes.div_ceil(TERM_SHARD_BYTES).clamp(1, MAX_TERM_SHARDS);
        let mut shards: Vec<Vec<(Box<str>, Vec<u8>)>> = vec![Vec::new(); term_shards];
        for (t, v) in postings {
            shards[term_shard(&t, term_shards)].push((t, v));
        }
        let meta = Meta {
            v: INDEX_VERSION,
            docs: self.docs as usize,
            docs_per_shard: DOCS_PER_SHARD,
            term_shards,
        };
        Finished {
            last_docs,
            shards,
            meta: ("search/meta.js".to_string(), script("meta", &meta)),
            n,
            norms: (self.lengths.iter().zip(&self.title_lengths))
                .map(|(&l, &t)| Norms::of(l, t, avg, avg_title))
                .collect(),
            unknown: Norms::of(1, 1, avg, avg_title),
        }
    }
}

/// The index's remaining files, made one by one: [`Finished::file`] for
/// `0..len()`.
pub struct Finished {
    last_docs: Option<(String, String)>,
    /// Each term shard's postings, as the builder collected them.
    shards: Vec<Vec<(Box<str>, Vec<u8>)>>,
    meta: (String, String),
    n: f64,
    /// Each document's, by number.
    norms: Vec<Norms>,
    /// For a document without lengths (not reached): lengths of 1.
    unknown: Norms,
}

impl Finished {
    pub fn len(&self) -> usize {
        self.shards.len() + 1 + usize::from(self.last_docs.is_some())
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// File `i`: the term shards first, then `meta.js`, then the last
    /// document shard.
    pub fn file(&self, i: usize) -> (String, String) {
        match i.checked_sub(self.shards.len()) {
            None => {
                let name = format!("terms-{i}");
                (
                    format!("search/{name}.js"),
                    self.term_script(&name, &self.shards[i]),
                )
            }
            Some(0) => self.meta.clone(),
            Some(_) => self.last_docs.clone().unwrap_or_default(),
        }
    }

    /// A shard's postings as the script `gazetteSearch(name, {term:
    /// "postings"})`, sorted by term: the JSON that [`script`] would write
    /// for a map of strings to strings, written directly (a shard is mostly
    /// postings, and this is the index's largest output). Each term's
    /// postings are `doc delta, score, …` as base64 VLQ ([`vlq_push`]).
    fn term_script(&self, name: &str, postings: &[(Box<str>, Vec<u8>)]) -> String {
        let mut sorted: Vec<&(Box<str>, Vec<u8>)> = postings.iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let bytes: usize = postings.iter().map(|(t, v)| entry_len(t, v)).sum();
        let mut out = String::with_capacity(bytes + name.len() + 20);
        out.push_str("gazetteSearch(\"");
        out.push_str(name);
        out.push_str("\",{");
        for (k, (term, list)) in sorted.into_iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            json::push_str(&mut out, term);
            out.push_str(":\"");
            self.score(list, |delta, score| {
                vlq_push(&mut out, delta);
                vlq_push(&mut out, score);
            });
            out.push('"');
        }
        out.push_str("});\n");
        out
    }

    /// Calls `f` with each `(doc delta, score)` of one term's postings.
    fn score(&self, bytes: &[u8], mut f: impl FnMut(u32, u32)) {
        let df = (bytes.iter().filter(|&&b| b & 0x80 == 0).count() / 2) as f64;
        let idf = (1.0 + (self.n - df + 0.5) / (df + 0.5)).ln();
        let mut doc = 0u32;
        let mut pair = [0u32; 2];
        for (k, v) in varints(bytes).enumerate() {
            pair[k % 2] = v;
            if k % 2 == 0 {
                continue;
            }
            let [delta, counted] = pair;
            doc += delta;
            let tf = (counted >> 1) as f64;
            let norm = self
                .norms
                .get(doc as usize)
                .copied()
                .unwrap_or(self.unknown);
            // The title as a field of its own, one occurrence, its
            // length normalised: a short title that is the query
            // beats a long one that merely contains it.
            let bonus = if counted & 1 == 1 {
                idf * TITLE_BONUS * (K1 + 1.0) / norm.title
            } else {
                0.0
            };
            let s = idf * tf * (K1 + 1.0) / (tf + norm.body) + bonus;
            f(delta, (s * SCALE).round().max(1.0) as u32);
        }
    }
}

/// A document's BM25 length normalisers, the same for every term: made
/// once per document, not once per posting.
#[derive(Clone, Copy)]
struct Norms {
    /// `K1 · (1 − B + B · length / average)`, added to the term frequency.
    body: f64,
    /// `1 + K1 · (1 − B + B · title length / average)`.
    title: f64,
}

impl Norms {
    fn of(length: u32, title_length: u32, avg: f64, avg_title: f64) -> Norms {
        Norms {
            body: K1 * (1.0 - B + B * length as f64 / avg),
            title: 1.0 + K1 * (1.0 - B + B * title_length as f64 / avg_title),
        }
    }
}

/// Every index file of `pages`, in order (the whole [`Builder`] run at once).
pub fn files_of<'a>(pages: impl IntoIterator<Item = &'a Prepared>) -> Vec<(String, String)> {
    let mut b = Builder::new();
    let mut files: Vec<(String, String)> = pages.into_iter().filter_map(|p| b.add_ref(p)).collect();
    let finished = b.finish();
    files.extend((0..finished.len()).map(|i| finished.file(i)));
    files
}

/// About how long a term's entry in a terms file is, from its postings as
/// varints (each number's last byte has its high bit clear): the quoted
/// term and punctuation, and 2.5 base64 VLQ digits a number (doc deltas
/// take 1–2, scores 3). Sizes the shards and their buffers.
fn entry_len(term: &str, varints: &[u8]) -> usize {
    term.len() + 6 + varints.iter().filter(|&&b| b & 0x80 == 0).count() * 5 / 2
}

/// The term [`pack`] made `key` from.
fn unpack(key: u64) -> Box<str> {
    let bytes = key.to_le_bytes();
    let len = bytes.iter().position(|&b| b == 0).unwrap_or(8);
    String::from_utf8_lossy(&bytes[..len]).into()
}

fn varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The numbers [`varint`] wrote, in order.
fn varints(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    let mut v = 0u32;
    let mut shift = 0;
    bytes.iter().filter_map(move |&b| {
        v |= u32::from(b & 0x7F) << shift;
        if b & 0x80 == 0 {
            let done = v;
            v = 0;
            shift = 0;
            Some(done)
        } else {
            shift += 7;
            None
        }
    })
}

/// The index as the server reads it back: documents and, per term,
/// `(doc, score)` sorted by doc.
#[derive(Debug, Default, PartialEq)]
pub struct Index {
    docs: Vec<StoredPage>,
    postings: BTreeMap<String, Vec<(u32, u32)>>,
}

/// What `search/meta.js` says: enough for a page to know which files to load.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    v: u32,
    docs: usize,
    docs_per_shard: usize,
    term_shards: usize,
}

/// One result, with its snippet as HTML (escaped, matches in `<mark>`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub url: String,
    pub title: String,
    pub heading: String,
    pub section: String,
    pub snippet_html: String,
    pub score: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Results {
    pub query: String,
    /// How many documents matched (more than `hits` may hold).
    pub total: usize,
    pub hits: Vec<Hit>,
}

/// The shard a term lives in: a hash of its UTF-16 units (the browser
/// computes the same with `charCodeAt` and plain arithmetic, which stays
/// exact in a JavaScript number: no `Math.imul` needed for old browsers).
pub fn term_shard(term: &str, shards: usize) -> usize {
    let mut h: u64 = 0;
    for u in term.encode_utf16() {
        h = (h * 31 + u as u64) % 2_147_483_647;
    }
    (h % shards.max(1) as u64) as usize
}

impl Index {
    pub fn docs(&self) -> &[StoredPage] {
        &self.docs
    }

    pub fn term_count(&self) -> usize {
        self.postings.len()
    }

    /// An index of `docs` built in memory, with the files it was read from;
    /// consecutive documents with one URL (before `#`) are one page.
    pub fn of(docs: Vec<Doc>) -> (Index, Vec<(String, String)>) {
        // Parts of one page share its URL before the `#`.
        let mut pages = Vec::new();
        let mut page: Vec<Doc> = Vec::new();
        let mut url = String::new();
        for d in docs {
            let this = d.url.split('#').next().unwrap_or("").to_string();
            if this != url && !page.is_empty() {
                pages.extend(Prepared::page(std::mem::take(&mut page)));
            }
            url = this;
            page.push(d);
        }
        pages.extend(Prepared::page(page));
        let files = files_of(&pages);
        let map: HashMap<&str, &str> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let index = Index::from_files(|p| map.get(p).map(|t| t.to_string())).unwrap_or_default();
        (index, files)
    }

    /// Reads the files [`Builder`] wrote; `read` gives a file's text by
    /// its path under the site root (`search/meta.js`).
    pub fn from_files(read: impl Fn(&str) -> Option<String>) -> Result<Index, String> {
        let meta: Meta = load(&read, "meta")?;
        if meta.v != INDEX_VERSION {
            return Err(format!(
                "search/meta.js: version {} is not {INDEX_VERSION} (rebuild the site)",
                meta.v
            ));
        }
        let mut postings = BTreeMap::new();
        for i in 0..meta.term_shards {
            let name = format!("terms-{i}");
            let shard: BTreeMap<String, String> = load(&read, &name)?;
            for (t, l) in shard {
                let list = decode_postings(&l).ok_or_else(|| {
                    format!("search/{name}.js: postings of {t:?} are not base64 VLQ")
                })?;
                postings.insert(t, list);
            }
        }
        let mut docs = Vec::with_capacity(meta.docs);
        for i in 0..meta.docs.div_ceil(meta.docs_per_shard.max(1)) {
            let chunk: Vec<StoredPage> = load(&read, &format!("docs-{i}"))?;
            docs.extend(chunk);
        }
        if docs.len() != meta.docs {
            return Err(format!(
                "search/: {} pages, meta.js says {}",
                docs.len(),
                meta.docs
            ));
        }
        Ok(Index { docs, postings })
    }

    /// Every document holding all the query's terms, best first (equal
    /// scores in document order); the first `limit` with snippets.
    pub fn search(&self, query: &str, limit: usize) -> Results {
        let terms = query_terms(query);
        let mut lists = Vec::with_capacity(terms.len());
        for t in &terms {
            match self.postings.get(t) {
                Some(l) => lists.push(l),
                None => {
                    lists.clear();
                    break;
                }
            }
        }
        let ranked = rank(&lists);
        let hits = ranked
            .iter()
            .take(limit)
            .filter_map(|&(doc, score)| {
                let d = self.docs.get(doc as usize)?;
                let [anchor, heading, text] = best_part(&d.parts, &terms)?;
                Some(Hit {
                    url: if anchor.is_empty() {
                        d.url.clone()
                    } else {
                        format!("{}#{anchor}", d.url)
                    },
                    title: d.title.clone(),
                    heading: heading.clone(),
                    section: d.section.clone(),
                    snippet_html: snippet_html(text, &terms),
                    score,
                })
            })
            .collect();
        Results {
            query: query.to_string(),
            total: ranked.len(),
            hits,
        }
    }
}

/// Documents in every list, with the sum of their scores, best first.
fn rank(lists: &[&Vec<(u32, u32)>]) -> Vec<(u32, u32)> {
    let Some((shortest, rest)) = lists.split_first() else {
        return Vec::new();
    };
    let mut out: Vec<(u32, u32)> = shortest.to_vec();
    for list in rest {
        let mut kept = Vec::with_capacity(out.len());
        let mut j = 0;
        for &(doc, score) in &out {
            while j < list.len() && list[j].0 < doc {
                j += 1;
            }
            if j < list.len() && list[j].0 == doc {
                kept.push((doc, score + list[j].1));
            }
        }
        out = kept;
    }
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// The part of a page a result leads to: the one where most of the query's
/// terms occur (in its heading or text), then where they occur most often;
/// ties go to the earlier part.
fn best_part<'p>(parts: &'p [[String; 3]], terms: &[String]) -> Option<&'p [String; 3]> {
    let mut best: Option<(&[String; 3], usize)> = None;
    for part in parts {
        let hay = format!("{} {}", part[1], part[2]);
        let folded: Vec<u16> = hay.encode_utf16().map(ascii_lower).collect();
        let (mut distinct, mut total) = (0, 0);
        for t in terms {
            let t: Vec<u16> = t.encode_utf16().collect();
            if t.is_empty() || t.len() > folded.len() {
                continue;
            }
            let hits = folded
                .windows(t.len())
                .filter(|w| *w == t.as_slice())
                .count();
            distinct += usize::from(hits > 0);
            total += hits;
        }
        let n = distinct * 100_000 + total;
        if best.is_none_or(|(_, m)| n > m) {
            best = Some((part, n));
        }
    }
    best.map(|(p, _)| p)
}

/// Base64 VLQ (as source maps use): a number in groups of 5 bits, lowest
/// first, each group one base64 digit with 32 added while more follow.
/// Postings are mostly small doc deltas and 4-digit scores, which take 1
/// and 3 digits here against 2–5 characters and a comma as JSON numbers;
/// the digits need no escaping in a JSON string.
const VLQ_DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Each byte's digit value, 255 for a byte that is not a digit.
const VLQ_VALUES: [u8; 256] = {
    let mut table = [255u8; 256];
    let mut i = 0;
    while i < 64 {
        table[VLQ_DIGITS[i] as usize] = i as u8;
        i += 1;
    }
    table
};

fn vlq_push(out: &mut String, mut v: u32) {
    loop {
        let group = (v & 31) as usize;
        v >>= 5;
        let digit = if v == 0 { group } else { group | 32 };
        out.push(VLQ_DIGITS[digit] as char);
        if v == 0 {
            return;
        }
    }
}

/// The numbers [`vlq_push`] wrote; `None` for a character that is not a
/// digit, a number cut off or too large for `u32`.
fn vlq_numbers(text: &str) -> Option<Vec<u32>> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let (mut v, mut shift) = (0u64, 0u32);
    for b in text.bytes() {
        let digit = match VLQ_VALUES[b as usize] {
            255 => return None,
            d => u64::from(d),
        };
        v |= (digit & 31) << shift;
        if digit & 32 == 0 {
            out.push(u32::try_from(v).ok()?);
            (v, shift) = (0, 0);
        } else {
            shift += 5;
            if shift > 30 {
                return None;
            }
        }
    }
    (shift == 0).then_some(out)
}

/// `doc delta, score, …` as base64 VLQ: doc ids delta-coded, which keeps
/// the numbers (and the shards) short.
fn decode_postings(text: &str) -> Option<Vec<(u32, u32)>> {
    let flat = vlq_numbers(text)?;
    if flat.len() % 2 != 0 {
        return None;
    }
    let mut doc = 0u32;
    flat.chunks_exact(2)
        .map(|p| {
            doc = doc.checked_add(p[0])?;
            Some((doc, p[1]))
        })
        .collect()
}

fn script(name: &str, value: &impl Serialize) -> String {
    // serde_json cannot fail on these maps of strings and numbers; an empty
    // object keeps the file loadable if it ever did.
    let json = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    // `</script>` cannot occur in JSON text, but U+2028/9 end a line in old
    // JavaScript engines, inside strings too. (Looked for as strings, with
    // a fast substring search: a set of characters would decode every
    // character of the index's text.)
    let json = if json.contains("\u{2028}") || json.contains("\u{2029}") {
        json.replace('\u{2028}', "\\u2028")
            .replace('\u{2029}', "\\u2029")
    } else {
        json
    };
    format!("gazetteSearch(\"{name}\",{json});\n")
}

fn load<T: serde::de::DeserializeOwned>(
    read: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<T, String> {
    let path = format!("search/{name}.js");
    let text = read(&path).ok_or_else(|| format!("{path}: missing"))?;
    let prefix = format!("gazetteSearch(\"{name}\",");
    let json = text
        .trim_end()
        .strip_prefix(&prefix)
        .and_then(|t| t.strip_suffix(");"))
        .ok_or_else(|| format!("{path}: not a search index file"))?;
    serde_json::from_str(json).map_err(|e| format!("{path}: {e}"))
}

/// The bytes a white space character can start with: ASCII white space
/// and four lead bytes. Most bytes of any text are not, and are passed over
/// with one look-up.
const MAY_START_SPACE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8, b'\t'..=b'\r' | b' ' | 0xC2 | 0xE1 | 0xE2 | 0xE3);
        b += 1;
    }
    table
};

/// The length of the white space character (`char::is_whitespace`) that
/// starts at byte `i`, or 0. By bytes, without decoding, since every page's
/// text passes here.
#[inline]
pub(crate) fn whitespace_at(bytes: &[u8], i: usize) -> usize {
    let b = bytes[i];
    if !MAY_START_SPACE[b as usize] {
        return 0;
    }
    match b {
        b'\t'..=b'\r' | b' ' => 1,
        // U+0085, U+00A0
        0xC2 => usize::from(matches!(bytes.get(i + 1), Some(0x85 | 0xA0))) * 2,
        // U+1680
        0xE1 => usize::from(bytes.get(i + 1..i + 3) == Some(&[0x9A, 0x80])) * 3,
        // U+2000–U+200A, U+2028, U+2029, U+202F; U+205F
        0xE2 => match (bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(0x80), Some(0x80..=0x8A | 0xA8 | 0xA9 | 0xAF)) | (Some(0x81), Some(0x9F)) => 3,
            _ => 0,
        },
        // U+3000
        0xE3 => usize::from(bytes.get(i + 1..i + 3) == Some(&[0x80, 0x80])) * 3,
        _ => 0,
    }
}

/// [`collapse_space_capped`] of a string the caller gives away: returned
/// as it is when it already is what that would make (as [`split_page`]'s
/// parts are: single spaces, none at either end) and fits, so most parts
/// are neither copied nor freed.
fn collapse_space_capped_owned(text: String, cap: usize) -> (String, usize) {
    let mut units = 0;
    // After a space (or at the start): a space here would be one too many.
    let mut after_space = true;
    // By bytes: a character's first byte is not 0b10xxxxxx, and only those
    // of four bytes take two UTF-16 units.
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b & 0xC0 == 0x80 {
            continue;
        }
        units += 1 + usize::from(b >= 0xF0);
        if whitespace_at(bytes, i) == 0 {
            after_space = false;
        } else if b != b' ' || after_space {
            return collapse_space_capped(&text, cap);
        } else {
            after_space = true;
        }
    }
    if (after_space && !text.is_empty()) || units > cap {
        return collapse_space_capped(&text, cap);
    }
    (text, units)
}

/// `text` with its whitespace runs as one space and none at either end,
/// cut to at most `cap` UTF-16 units (what the browser counts), and the
/// units it holds. Only the kept part is looked at.
fn collapse_space_capped(text: &str, cap: usize) -> (String, usize) {
    let mut out = String::new();
    let mut units = 0;
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            if units + 1 > cap {
                break;
            }
            out.push(' ');
            units += 1;
            space = false;
        }
        if units + c.len_utf16() > cap {
            break;
        }
        out.push(c);
        units += c.len_utf16();
    }
    (out, units)
}

/// A window of `text` around the first match, every match in `<mark>`.
/// Positions are UTF-16 units and matching folds only ASCII case, so the
/// browser's copy (which indexes JavaScript strings) marks the same ranges.
pub fn snippet_html(text: &str, terms: &[String]) -> String {
    let units: Vec<u16> = text.encode_utf16().collect();
    let folded: Vec<u16> = units.iter().map(|&u| ascii_lower(u)).collect();
    let needles: Vec<Vec<u16>> = terms
        .iter()
        .map(|t| t.encode_utf16().collect::<Vec<u16>>())
        .filter(|t| !t.is_empty())
        .collect();
    let mut marks = vec![false; units.len()];
    let mut first = None;
    for i in 0..folded.len() {
        for n in &needles {
            if folded[i..].starts_with(n) {
                first = first.or(Some(i));
                for m in &mut marks[i..i + n.len()] {
                    *m = true;
                }
            }
        }
    }
    let start = first.map_or(0, |f| f.saturating_sub(SNIPPET_BEFORE));
    let end = (start + SNIPPET_LEN).min(units.len());
    // Never split a surrogate pair.
    let start = if start > 0 && is_low_surrogate(units[start]) {
        start - 1
    } else {
        start
    };
    let end = if end < units.len() && is_low_surrogate(units[end]) {
        end + 1
    } else {
        end
    };
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut i = start;
    while i < end {
        let marked = marks[i];
        let mut j = i;
        while j < end && marks[j] == marked {
            j += 1;
        }
        let piece = String::from_utf16_lossy(&units[i..j]);
        if marked {
            out.push_str("<mark>");
            out.push_str(&escape(&piece));
            out.push_str("</mark>");
        } else {
            out.push_str(&escape(&piece));
        }
        i = j;
    }
    if end < units.len() {
        out.push('…');
    }
    out
}

fn ascii_lower(u: u16) -> u16 {
    if (b'A' as u16..=b'Z' as u16).contains(&u) {
        u + 32
    } else {
        u
    }
}

fn is_low_surrogate(u: u16) -> bool {
    (0xDC00..=0xDFFF).contains(&u)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::pack;

    fn doc(url: &str, title: &str, heading: &str, text: &str) -> Doc {
        Doc {
            url: url.into(),
            title: title.into(),
            heading: heading.into(),
            section: "操作手册".into(),
            text: text.into(),
        }
    }

    fn sample() -> Index {
        sample_with_files().0
    }

    fn sample_with_files() -> (Index, Vec<(String, String)>) {
        Index::of(vec![
            doc(
                "a.html",
                "系统登录",
                "",
                "使用IE内核浏览器登录系统，输入账号和密码。",
            ),
            doc(
                "b.html#plan",
                "职称评审计划管理",
                "填写评审计划",
                "评委会管理员在系统中填写该年度的评审工作计划。",
            ),
            doc(
                "c.html",
                "密码修改",
                "",
                "首次登录后请修改密码，确保账户安全。",
            ),
            doc("d.html", "查询统计", "", "按评审年度查询申报人数。"),
        ])
    }

    #[test]
    fn short_terms_pack_into_integers_and_back() {
        for t in ["评审", "码", "ie11", "abcdefgh", "𠀀𠀁"] {
            assert_ne!(pack(t.as_bytes()), 0, "{t}");
            assert_eq!(&*unpack(pack(t.as_bytes())), t);
        }
        // Distinct terms, distinct keys; longer ones are counted by text.
        assert_ne!(pack(b"ab"), pack(b"ab0"));
        assert_eq!(pack(b"abcdefghi"), 0);
        assert_eq!(pack("统一社会".as_bytes()), 0);
    }

    #[test]
    fn a_collapsed_part_is_kept_as_it_is() {
        for (text, cap) in [
            ("", 10),
            ("评审 计划", 10),
            ("评审 计划", 3),
            (" 评审", 10),
            ("评审 ", 10),
            ("评审  计划", 10),
            ("评审\n计划", 10),
            ("评审\u{3000}计划", 10),
            ("𠀋𠀋", 3),
            ("𠀋𠀋", 4),
            ("   ", 5),
        ] {
            assert_eq!(
                collapse_space_capped_owned(text.to_string(), cap),
                collapse_space_capped(text, cap),
                "{text:?} {cap}"
            );
        }
    }

    #[test]
    fn long_and_short_terms_are_counted_alike() {
        // A 9-byte word and a Han bigram in the same pages: both found.
        let (index, _) = Index::of(vec![
            doc("a.html", "甲", "", "统一社会信用代码 registration"),
            doc("b.html", "乙", "", "registration registration 信用"),
        ]);
        let urls = |q: &str| -> Vec<String> {
            index
                .search(q, 10)
                .hits
                .iter()
                .map(|h| h.url.clone())
                .collect()
        };
        assert_eq!(urls("registration"), ["b.html", "a.html"]);
        assert_eq!(urls("信用代码"), ["a.html"]);
    }

    #[test]
    fn a_title_match_ranks_first_and_every_term_must_match() {
        let index = sample();
        let r = index.search("评审计划", 10);
        assert_eq!(r.total, 1, "{r:?}");
        assert_eq!(r.hits[0].url, "b.html#plan");
        let r = index.search("密码", 10);
        assert_eq!(
            r.hits.iter().map(|h| h.url.as_str()).collect::<Vec<_>>(),
            ["c.html", "a.html"]
        );
        assert_eq!(index.search("火星基地", 10).total, 0);
        assert_eq!(index.search("", 10).total, 0);
    }

    #[test]
    fn a_page_is_shown_once_at_its_best_part() {
        let (index, _) = Index::of(vec![
            doc("p.html", "评审", "", "评审计划在此"),
            doc("p.html#a", "评审", "计划", "评审计划的步骤：评审计划"),
            doc("q.html", "其他", "", "评审计划"),
        ]);
        let r = index.search("评审计划", 10);
        assert_eq!(r.total, 2);
        assert_eq!(r.hits[0].url, "p.html#a");
        assert_eq!(r.hits[1].url, "q.html");
    }

    #[test]
    fn latin_words_match_whole_and_case_blind() {
        let r = sample().search("ie", 10);
        assert_eq!(r.total, 1);
        assert!(r.hits[0].snippet_html.contains("<mark>IE</mark>"), "{r:?}");
        assert_eq!(sample().search("I", 10).total, 0, "no prefix matches");
    }

    #[test]
    fn snippets_mark_the_phrase_and_escape_the_rest() {
        let terms = query_terms("评审计划");
        let s = snippet_html("在<系统>中填写评审计划。", &terms);
        assert_eq!(s, "在&lt;系统&gt;中填写<mark>评审计划</mark>。");
        let long = format!("{}评审计划{}", "甲".repeat(100), "乙".repeat(200));
        let s = snippet_html(&long, &terms);
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>评审计划</mark>"));
        assert_eq!(s.chars().filter(|&c| c == '甲').count(), SNIPPET_BEFORE);
    }

    #[test]
    fn the_files_read_back_to_the_same_index_and_answers() {
        let (index, files) = sample_with_files();
        assert_eq!(index.docs().len(), 4);
        let files: HashMap<String, String> = files.into_iter().collect();
        assert!(files
            .keys()
            .all(|f| f.starts_with("search/") && f.ends_with(".js")));
        assert!(files["search/meta.js"].starts_with("gazetteSearch(\"meta\",{"));
        let back = Index::from_files(|p| files.get(p).cloned()).expect("reads back");
        assert_eq!(back, index);
        assert_eq!(back.search("密码", 5), index.search("密码", 5));
        let err =
            Index::from_files(|p| (p != "search/docs-0.js").then(|| files[p].clone())).unwrap_err();
        assert!(err.contains("search/docs-0.js: missing"), "{err}");
    }

    #[test]
    fn postings_are_base64_vlq_and_read_back() {
        let mut text = String::new();
        for v in [0, 31, 32, 6950, u32::MAX] {
            vlq_push(&mut text, v);
        }
        // 0 → A; 31 → f; 32 → 0 then 1 (g = 32 + 0, B = 1); 6950 = 6 + 25·32
        // + 6·1024 → 6+32, 25+32, 6 → m5G; u32::MAX: six full groups and 3.
        assert_eq!(text, "AfgBm5G//////D");
        assert_eq!(vlq_numbers(&text), Some(vec![0, 31, 32, 6950, u32::MAX]));
        assert_eq!(decode_postings("Cm5GBf"), Some(vec![(2, 6950), (3, 31)]));
        for bad in ["!", "g", "////////A", "A", "E="] {
            assert_eq!(decode_postings(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_damaged_terms_file_is_named() {
        let (_, files) = sample_with_files();
        let files: HashMap<String, String> = files
            .into_iter()
            .map(|(p, t)| {
                let t = if p == "search/terms-0.js" {
                    t.replacen(":\"", ":\"!", 1)
                } else {
                    t
                };
                (p, t)
            })
            .collect();
        let err = Index::from_files(|p| files.get(p).cloned()).unwrap_err();
        assert!(
            err.starts_with("search/terms-0.js: postings of") && err.contains("base64 VLQ"),
            "{err}"
        );
    }

    #[test]
    fn term_shards_are_the_json_serde_writes() {
        // Written directly for speed; read back and written by serde, the
        // same text (escaping, order, numbers).
        let (_, files) = Index::of(vec![
            doc(
                "a.html",
                "引号\"与\\反斜杠",
                "",
                "ｑｕｏｔｅ \"x\" 评审 ie11 ie",
            ),
            doc("b.html", "二", "", "评审计划 registration"),
        ]);
        let mut shards = 0;
        for (path, text) in files.iter().filter(|(p, _)| p.contains("terms-")) {
            let name = path.trim_start_matches("search/").trim_end_matches(".js");
            let map: BTreeMap<String, String> =
                load(&|p: &str| (p == path).then(|| text.clone()), name)
                    .expect("a terms file reads back");
            assert!(!map.is_empty());
            assert_eq!(&script(name, &map), text);
            shards += 1;
        }
        assert!(shards > 0);
    }

    #[test]
    fn many_terms_spread_over_shards_by_hash() {
        let docs = (0..3000)
            .map(|i| {
                let text: String = (0..40)
                    .map(|k| {
                        char::from_u32(0x4E00 + ((i * 7 + k * 13) % 6000) as u32).unwrap_or('一')
                    })
                    .collect();
                doc(&format!("p{i}.html"), &format!("第{i}页"), "", &text)
            })
            .collect();
        let (index, files) = Index::of(docs);
        assert_eq!(index.docs().len(), 3000);
        assert_eq!(
            files.iter().filter(|(p, _)| p.contains("docs-")).count(),
            3000usize.div_ceil(DOCS_PER_SHARD)
        );
        let terms = files.iter().filter(|(p, _)| p.contains("terms-")).count();
        assert!(terms > 4, "{terms} shards");
        let biggest = files.iter().map(|(_, t)| t.len()).max().unwrap_or(0);
        assert!(biggest < TERM_SHARD_BYTES * 4, "largest shard {biggest} B");
        let h = (('评' as u64) * 31 + ('审' as u64)) % 2_147_483_647;
        assert_eq!(term_shard("评审", terms) as u64, h % terms as u64);
    }

    #[test]
    fn white_space_is_found_by_its_bytes() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let text = format!("{c}x");
            let expected = if c.is_whitespace() { c.len_utf8() } else { 0 };
            assert_eq!(whitespace_at(text.as_bytes(), 0), expected, "{c:?}");
        }
        // Cut short at the end of the text.
        assert_eq!(whitespace_at(&[0xE3, 0x80], 0), 0);
        assert_eq!(whitespace_at(&[0xC2], 0), 0);
    }

    #[test]
    fn line_separators_are_escaped_in_the_scripts() {
        // Text is collapsed (both are white space); a title is kept as written.
        let (index, files) = Index::of(vec![doc("a.html", "甲\u{2028}乙\u{2029}丙", "", "文")]);
        let docs = &files
            .iter()
            .find(|(p, _)| p == "search/docs-0.js")
            .unwrap()
            .1;
        assert!(!docs.contains(['\u{2028}', '\u{2029}']), "{docs}");
        assert!(
            docs.contains("\\u2028") && docs.contains("\\u2029"),
            "{docs}"
        );
        let files: HashMap<String, String> = files.into_iter().collect();
        let back = Index::from_files(|p| files.get(p).cloned()).expect("reads back");
        assert_eq!(back, index);
        assert_eq!(back.docs()[0].title, "甲\u{2028}乙\u{2029}丙");
    }

    #[test]
    fn utf16_length_by_bytes() {
        for text in ["", "a", "评审", "𠀋x", "é ü", "a\u{3000}b"] {
            assert_eq!(utf16_len(text), text.encode_utf16().count(), "{text:?}");
        }
        // Longer than the eight bytes counted at once, at every offset.
        let long = "统一社会信用代码 IE11 𠀋𠀋 é😀ü 评审计划 abcdefghijklmnop";
        for (start, _) in long.char_indices() {
            let text = &long[start..];
            assert_eq!(utf16_len(text), text.encode_utf16().count(), "{text:?}");
        }
    }

    #[test]
    fn a_page_from_its_text_is_the_page_from_its_documents() {
        let html =
            "<p>导言</p><h2 id=\"a\">一节</h2><p>正文 甲乙</p><h3 id=\"b\">二节</h3><p>尾</p>";
        let long = format!(
            "<p>{}</p><h2 id=\"c\">长</h2><p>{}</p>",
            "字".repeat(900),
            "𠀋".repeat(500)
        );
        for html in [html.to_string(), long] {
            let mut text = PageText::default();
            text.html(&html);
            let from_text = Prepared::of_text(text, "p.html", "题", "节");
            let from_docs = Prepared::page(split_page("p.html", "题", "节", &html)).unwrap();
            assert_eq!(from_text.page, from_docs.page);
            let sorted = |p: &Prepared| {
                let mut v = p.short.clone();
                v.sort_unstable();
                (v, p.length, p.title_length)
            };
            assert_eq!(sorted(&from_text), sorted(&from_docs));
        }
    }
}
