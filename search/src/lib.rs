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
mod tokenize;

pub use html::split_page;

pub use tokenize::{index_terms, is_cjk, normalize, query_terms};

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

const K1: f64 = 1.2;
const B: f64 = 0.75;
const TITLE_WEIGHT: u32 = 3;
const HEADING_WEIGHT: u32 = 2;
/// Scores are stored as integers (thousandths) so that both copies of the
/// ranking add exactly the same numbers.
const SCALE: f64 = 1000.0;
/// Text kept per document for snippets, in UTF-16 units (what the browser
/// counts).
const TEXT_CAP: usize = 1500;
pub const DOCS_PER_SHARD: usize = 16;
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

/// Collects documents; [`Builder::finish`] computes the scores.
#[derive(Default)]
pub struct Builder {
    docs: Vec<Doc>,
    /// term → (doc, weighted term frequency)
    postings: HashMap<String, Vec<(u32, u32)>>,
    lengths: Vec<u32>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    pub fn add(&mut self, mut doc: Doc) {
        let id = self.docs.len() as u32;
        let mut tf: HashMap<String, u32> = HashMap::new();
        let mut length = 0u32;
        for (text, weight) in [
            (&doc.title, TITLE_WEIGHT),
            (&doc.heading, HEADING_WEIGHT),
            (&doc.text, 1),
        ] {
            for term in index_terms(&normalize(text)) {
                *tf.entry(term).or_default() += weight;
                length += 1;
            }
        }
        for (term, f) in tf {
            self.postings.entry(term).or_default().push((id, f));
        }
        self.lengths.push(length);
        doc.text = cap_utf16(&normalize_space(&doc.text), TEXT_CAP);
        self.docs.push(doc);
    }

    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    pub fn finish(self) -> Index {
        let n = self.docs.len().max(1) as f64;
        let avg = self.lengths.iter().map(|&l| l as f64).sum::<f64>() / n;
        let avg = avg.max(1.0);
        let mut postings = BTreeMap::new();
        for (term, list) in self.postings {
            let df = list.len() as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            let mut scored: Vec<(u32, u32)> = list
                .into_iter()
                .map(|(doc, tf)| {
                    let tf = tf as f64;
                    let dl = self.lengths[doc as usize] as f64;
                    let s = idf * tf * (K1 + 1.0) / (tf + K1 * (1.0 - B + B * dl / avg));
                    (doc, (s * SCALE).round().max(1.0) as u32)
                })
                .collect();
            scored.sort_unstable();
            postings.insert(term, scored);
        }
        Index {
            docs: self.docs,
            postings,
        }
    }
}

/// The finished index: documents and, per term, `(doc, score)` sorted by doc.
#[derive(Debug, Default, PartialEq)]
pub struct Index {
    docs: Vec<Doc>,
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

/// The shard a term lives in: its first UTF-16 unit, modulo the shard
/// count, which the browser computes with `charCodeAt(0)`.
pub fn term_shard(term: &str, shards: usize) -> usize {
    let first = term.encode_utf16().next().unwrap_or(0) as usize;
    first % shards.max(1)
}

impl Index {
    pub fn docs(&self) -> &[Doc] {
        &self.docs
    }

    pub fn term_count(&self) -> usize {
        self.postings.len()
    }

    /// The index as files under `search/`: `meta.js`, `terms-N.js` and
    /// `docs-N.js`, each a call `gazetteSearch("name", {...})`.
    pub fn files(&self) -> Vec<(String, String)> {
        let encoded: Vec<(&String, Vec<u32>)> = self
            .postings
            .iter()
            .map(|(t, list)| (t, encode_postings(list)))
            .collect();
        let bytes: usize = encoded.iter().map(|(t, l)| t.len() + 6 + l.len() * 4).sum();
        let term_shards = bytes.div_ceil(TERM_SHARD_BYTES).clamp(1, MAX_TERM_SHARDS);
        let mut shards: Vec<BTreeMap<&str, &Vec<u32>>> = vec![BTreeMap::new(); term_shards];
        for (t, l) in &encoded {
            shards[term_shard(t, term_shards)].insert(t.as_str(), l);
        }
        let meta = Meta {
            v: 1,
            docs: self.docs.len(),
            docs_per_shard: DOCS_PER_SHARD,
            term_shards,
        };
        let mut files = vec![("search/meta.js".to_string(), script("meta", &meta))];
        for (i, shard) in shards.iter().enumerate() {
            let name = format!("terms-{i}");
            files.push((format!("search/{name}.js"), script(&name, shard)));
        }
        for (i, chunk) in self.docs.chunks(DOCS_PER_SHARD).enumerate() {
            let name = format!("docs-{i}");
            files.push((format!("search/{name}.js"), script(&name, &chunk)));
        }
        files
    }

    /// Reads the files [`Index::files`] wrote; `read` gives a file's text by
    /// its path under the site root (`search/meta.js`).
    pub fn from_files(read: impl Fn(&str) -> Option<String>) -> Result<Index, String> {
        let meta: Meta = load(&read, "meta")?;
        if meta.v != 1 {
            return Err(format!("search/meta.js: version {} is not 1", meta.v));
        }
        let mut postings = BTreeMap::new();
        for i in 0..meta.term_shards {
            let shard: BTreeMap<String, Vec<u32>> = load(&read, &format!("terms-{i}"))?;
            for (t, l) in shard {
                postings.insert(t, decode_postings(&l));
            }
        }
        let mut docs = Vec::with_capacity(meta.docs);
        for i in 0..meta.docs.div_ceil(meta.docs_per_shard.max(1)) {
            let chunk: Vec<Doc> = load(&read, &format!("docs-{i}"))?;
            docs.extend(chunk);
        }
        if docs.len() != meta.docs {
            return Err(format!(
                "search/: {} documents, meta.js says {}",
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
                Some(Hit {
                    url: d.url.clone(),
                    title: d.title.clone(),
                    heading: d.heading.clone(),
                    section: d.section.clone(),
                    snippet_html: snippet_html(&d.text, &terms),
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

/// `[doc, score, doc delta, score, …]`: doc ids delta-coded, which keeps
/// the numbers (and the shards) short.
fn encode_postings(list: &[(u32, u32)]) -> Vec<u32> {
    let mut out = Vec::with_capacity(list.len() * 2);
    let mut prev = 0;
    for &(doc, score) in list {
        out.push(doc - prev);
        out.push(score);
        prev = doc;
    }
    out
}

fn decode_postings(flat: &[u32]) -> Vec<(u32, u32)> {
    let mut doc = 0;
    flat.chunks_exact(2)
        .map(|p| {
            doc += p[0];
            (doc, p[1])
        })
        .collect()
}

fn script(name: &str, value: &impl Serialize) -> String {
    // serde_json cannot fail on these maps of strings and numbers; an empty
    // object keeps the file loadable if it ever did.
    let json = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    // `</script>` cannot occur in JSON text, but U+2028/9 end a line in old
    // JavaScript engines, inside strings too.
    let json = json
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029");
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

fn normalize_space(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cap_utf16(text: &str, cap: usize) -> String {
    let mut n = 0;
    let mut out = String::new();
    for c in text.chars() {
        n += c.len_utf16();
        if n > cap {
            break;
        }
        out.push(c);
    }
    out
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
        let mut b = Builder::new();
        b.add(doc(
            "a.html",
            "系统登录",
            "",
            "使用IE内核浏览器登录系统，输入账号和密码。",
        ));
        b.add(doc(
            "b.html#plan",
            "职称评审计划管理",
            "填写评审计划",
            "评委会管理员在系统中填写该年度的评审工作计划。",
        ));
        b.add(doc(
            "c.html",
            "密码修改",
            "",
            "首次登录后请修改密码，确保账户安全。",
        ));
        b.add(doc("d.html", "查询统计", "", "按评审年度查询申报人数。"));
        b.finish()
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
        let index = sample();
        let files: HashMap<String, String> = index.files().into_iter().collect();
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
    fn many_terms_spread_over_shards_by_first_unit() {
        let mut b = Builder::new();
        for i in 0..3000 {
            let text: String = (0..40)
                .map(|k| char::from_u32(0x4E00 + ((i * 7 + k * 13) % 6000) as u32).unwrap_or('一'))
                .collect();
            b.add(doc(&format!("p{i}.html"), &format!("第{i}页"), "", &text));
        }
        let index = b.finish();
        let files = index.files();
        let terms = files.iter().filter(|(p, _)| p.contains("terms-")).count();
        assert!(terms > 4, "{terms} shards");
        let biggest = files.iter().map(|(_, t)| t.len()).max().unwrap_or(0);
        assert!(biggest < TERM_SHARD_BYTES * 4, "largest shard {biggest} B");
        assert_eq!(term_shard("评审", terms), ('评' as usize) % terms);
    }
}
