//! Terms for Chinese and Latin text alike, with no dictionary.
//!
//! A run of Han (or kana, hangul) characters gives its overlapping character
//! bigrams, `评审计划` → `评审 审计 计划`, and its single characters; a run of
//! letters and digits gives one word, `IE11` → `ie11`. Bigrams need no
//! segmenter, so names and terms a dictionary lacks (`统一社会信用代码`,
//! `梅市人社函`) are found as typed; a query of N characters matches where
//! all its N−1 bigrams occur, which for the short queries people type is
//! nearly always the phrase itself. Single characters are indexed so that a
//! one-character query (`码`) works; longer queries use only bigrams.

use unicode_normalization::UnicodeNormalization as _;

/// Full-width letters and digits to ASCII, compatibility forms folded
/// (NFKC), letters lower-cased: what is indexed and what is queried.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    each_normalized(text, &mut String::new(), |c| out.push(c));
    out
}

/// Calls `f` with each character of [`normalize`]`(text)`, in order: the
/// one mapping that both queries and the index's tokenizer ([`each_key`])
/// use. Full NFKC costs some 200 instructions a character, so the
/// characters most text is made of (ASCII, Han, full-width forms, common
/// CJK punctuation) are mapped directly and only the stretches between
/// them go through NFKC (into `nfkc`). That gives the same result, because
/// a directly mapped character `c` and its mapping `m` (tested in
/// `fast_characters_are_safe`):
/// - decompose to `m` alone, with `m` a starter (combining class 0), so no
///   reordering crosses them;
/// - `m` is never the second half of a composition, so nothing before can
///   combine with it.
///
/// It may be the first half, though (`e` + U+0301 → `é`): a stretch that
/// goes through NFKC starts at the directly mapped character before it, so
/// each directly mapped character is given one character late.
fn each_normalized(text: &str, nfkc: &mut String, mut f: impl FnMut(char)) {
    // Where the stretch being collected for NFKC starts in `text`.
    let mut slow_from: Option<usize> = None;
    // The previous character, mapped directly and not yet given.
    let mut pending: Option<(usize, char)> = None;
    for (i, c) in text.char_indices() {
        match fast(c) {
            Some(m) => {
                if let Some(from) = slow_from.take() {
                    each_nfkc(&text[from..i], nfkc, &mut f);
                }
                if let Some((_, before)) = pending.replace((i, m)) {
                    f(before);
                }
            }
            None => {
                if slow_from.is_none() {
                    // The pending character goes through NFKC with this one.
                    slow_from = Some(pending.take().map_or(i, |(p, _)| p));
                }
            }
        }
    }
    if let Some(from) = slow_from {
        each_nfkc(&text[from..], nfkc, &mut f);
    } else if let Some((_, last)) = pending {
        f(last);
    }
}

fn each_nfkc(stretch: &str, nfkc: &mut String, f: &mut impl FnMut(char)) {
    nfkc.clear();
    nfkc.extend(stretch.nfkc().flat_map(char::to_lowercase));
    nfkc.chars().for_each(f);
}

/// The normalized form of a character that can be mapped on its own (see
/// [`each_normalized`]), lower-cased.
fn fast(c: char) -> Option<char> {
    match c {
        '\0'..='\x7f' => Some(c.to_ascii_lowercase()),
        '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' => Some(c),
        // Full-width ASCII: ，：；（）！？Ａ１
        '\u{FF01}'..='\u{FF5E}' => {
            char::from_u32(c as u32 - 0xFEE0).map(|a| a.to_ascii_lowercase())
        }
        '\u{3000}' => Some(' '),
        // 、。〈〉《》「」『』【】, — ‘ ’ “ ” ·
        '\u{3001}' | '\u{3002}' | '\u{3008}'..='\u{3011}' => Some(c),
        '\u{2014}' | '\u{2018}' | '\u{2019}' | '\u{201C}' | '\u{201D}' | '\u{00B7}' => Some(c),
        _ => None,
    }
}

/// Characters written without spaces between words.
pub fn is_cjk(c: char) -> bool {
    // Most characters are below the first range (ASCII, Latin, punctuation)
    // or in the main Han block: those two answers first.
    let c = c as u32;
    if c < 0x3040 {
        return false;
    }
    matches!(c,
        0x4E00..=0x9FFF      // Han
        | 0x3040..=0x30FF    // kana
        | 0x3400..=0x4DBF    // Han extension A
        | 0xAC00..=0xD7AF    // hangul
        | 0xF900..=0xFAFF    // Han compatibility
        | 0x20000..=0x3134F) // Han extensions B–G
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() && !is_cjk(c)
}

/// The terms of `text`, in order, repeats kept (for term frequencies).
/// `text` must already be [`normalize`]d.
pub fn index_terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    each_term(text, |t| out.push(t.to_string()));
    out
}

/// Calls `f` with each term of normalized `text` as a slice of it (every
/// term is a run of adjacent characters), so counting terms allocates
/// nothing per occurrence.
pub fn each_term<'t>(text: &'t str, mut f: impl FnMut(&'t str)) {
    // Byte offsets of the current Han run's characters, and of a word.
    let mut han: Vec<usize> = Vec::new();
    let mut word: Option<usize> = None;
    let flush_han = |han: &mut Vec<usize>, end: usize, f: &mut dyn FnMut(&'t str)| {
        for (i, &start) in han.iter().enumerate() {
            let next = han.get(i + 1).copied().unwrap_or(end);
            f(&text[start..next]);
        }
        for i in 0..han.len().saturating_sub(1) {
            let stop = han.get(i + 2).copied().unwrap_or(end);
            f(&text[han[i]..stop]);
        }
        han.clear();
    };
    for (at, c) in text.char_indices() {
        if is_cjk(c) {
            if let Some(start) = word.take() {
                f(&text[start..at]);
            }
            han.push(at);
        } else {
            if !han.is_empty() {
                flush_han(&mut han, at, &mut f);
            }
            if is_word(c) {
                word.get_or_insert(at);
            } else if let Some(start) = word.take() {
                f(&text[start..at]);
            }
        }
    }
    if !han.is_empty() {
        flush_han(&mut han, text.len(), &mut f);
    }
    if let Some(start) = word {
        f(&text[start..]);
    }
}

/// A term as the index counts it: up to 8 bytes packed into an integer
/// (its bytes, little-endian, zero-padded: one hash and one compare), else
/// its text. Every Han bigram fits (two characters of at most 4 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Term<'t> {
    Short(u64),
    /// A Han bigram, which stands for its first character too: in a run,
    /// every character but the last starts one, so a run of N characters
    /// is N − 1 pairs and its last character ([`Term::Short`]), and each
    /// character is counted once, not twice.
    Pair(u64),
    Long(&'t str),
}

/// The first character of a [`Term::Pair`]'s key, as its own key.
pub(crate) fn first_of_pair(key: u64) -> u64 {
    let len = match key as u8 {
        0xF0.. => 4,
        0xE0.. => 3,
        0xC0.. => 2,
        _ => 1,
    };
    key & ((1u64 << (8 * len)) - 1)
}

/// What [`each_key`] reuses from one text to the next: the output of NFKC
/// for a stretch that needs it, and the word being read.
#[derive(Default)]
pub(crate) struct KeyBuffers {
    nfkc: String,
    word: String,
}

/// The terms of `normalize(text)`, as [`each_term`] gives them (the same
/// multiset, a [`Term::Pair`] standing for its bigram and its first
/// character; the order within a Han run differs), without writing the
/// normalized text: each character is read once, mapped by
/// [`each_normalized`], and its key made at once (a bigram's key is its
/// two characters' keys side by side). A long word's text is in a buffer
/// while `f` sees it.
pub(crate) fn each_key<F: FnMut(Term<'_>)>(text: &str, buffers: &mut KeyBuffers, f: &mut F) {
    let KeyBuffers { nfkc, word } = buffers;
    word.clear();
    let mut keys = Keys { prev: None, word };
    each_normalized(text, nfkc, |c| keys.feed(c, f));
    keys.finish(f);
}

/// Terms made from normalized characters fed one by one.
struct Keys<'b> {
    /// The previous character of the current Han run: its key and length.
    prev: Option<(u64, usize)>,
    word: &'b mut String,
}

impl Keys<'_> {
    fn feed<F: FnMut(Term<'_>)>(&mut self, c: char, f: &mut F) {
        if is_cjk(c) {
            self.end_word(f);
            // The key is the UTF-8 bytes, zero-padded: what `pack` makes of
            // them, read as one little-endian word.
            let mut bytes = [0u8; 4];
            let len = c.encode_utf8(&mut bytes).len();
            let key = u64::from(u32::from_le_bytes(bytes));
            if let Some((before, before_len)) = self.prev {
                f(Term::Pair(before | key << (8 * before_len)));
            }
            self.prev = Some((key, len));
        } else {
            if let Some((last, _)) = self.prev.take() {
                f(Term::Short(last));
            }
            // `is_word`, knowing `c` is not CJK.
            if c.is_alphanumeric() {
                self.word.push(c);
            } else {
                self.end_word(f);
            }
        }
    }

    fn end_word<F: FnMut(Term<'_>)>(&mut self, f: &mut F) {
        if self.word.is_empty() {
            return;
        }
        match pack(self.word.as_bytes()) {
            0 => f(Term::Long(self.word)),
            key => f(Term::Short(key)),
        }
        self.word.clear();
    }

    fn finish<F: FnMut(Term<'_>)>(mut self, f: &mut F) {
        if let Some((last, _)) = self.prev.take() {
            f(Term::Short(last));
        }
        self.end_word(f);
    }
}

/// Up to 8 bytes as an integer (zero-padded), else 0. Terms are letters,
/// digits and CJK characters, never a NUL byte, so the padding cannot be
/// mistaken for part of a term. A loop, not a copy into a buffer: a
/// variable-length `memcpy` then a load of the same bytes stalls the CPU.
pub(crate) fn pack(bytes: &[u8]) -> u64 {
    if bytes.is_empty() || bytes.len() > 8 {
        return 0;
    }
    let mut key = 0u64;
    for (i, &b) in bytes.iter().enumerate() {
        key |= u64::from(b) << (8 * i);
    }
    key
}

/// The distinct terms a query must all match: bigrams of each Han run (a
/// lone character stands for itself) and whole words.
pub fn query_terms(query: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |t: String| {
        if !out.contains(&t) {
            out.push(t);
        }
    };
    for run in runs(&normalize(query)) {
        match run {
            Run::Cjk(chars) if chars.len() == 1 => push(chars[0].to_string()),
            Run::Cjk(chars) => {
                for pair in chars.windows(2) {
                    push(pair.iter().collect());
                }
            }
            Run::Word(w) => push(w),
        }
    }
    out
}

enum Run {
    Cjk(Vec<char>),
    Word(String),
}

fn runs(text: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut cjk: Vec<char> = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(Run::Word(std::mem::take(&mut word)));
            }
            cjk.push(c);
        } else {
            if !cjk.is_empty() {
                out.push(Run::Cjk(std::mem::take(&mut cjk)));
            }
            if is_word(c) {
                word.push(c);
            } else if !word.is_empty() {
                out.push(Run::Word(std::mem::take(&mut word)));
            }
        }
    }
    if !cjk.is_empty() {
        out.push(Run::Cjk(cjk));
    }
    if !word.is_empty() {
        out.push(Run::Word(word));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NFKC then lower case, character by character: what [`normalize`]
    /// must equal.
    fn reference(text: &str) -> String {
        text.nfkc().flat_map(char::to_lowercase).collect()
    }

    #[test]
    fn fast_characters_are_safe() {
        use unicode_normalization::char::canonical_combining_class;
        use unicode_normalization::{is_nfc_quick, IsNormalized};
        let mut checked = 0;
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let Some(lower) = fast(c) else { continue };
            let kd: Vec<char> = c.to_string().nfkd().collect();
            let kc: Vec<char> = c.to_string().nfkc().collect();
            assert_eq!(kd.len(), 1, "{c:?} decomposes to one character");
            assert_eq!(kd, kc, "{c:?}");
            let m = kd[0];
            assert_eq!(canonical_combining_class(m), 0, "{c:?}");
            assert_eq!(
                is_nfc_quick(std::iter::once(m)),
                IsNormalized::Yes,
                "{c:?} maps to {m:?}, which may combine with what is before it"
            );
            assert_eq!(lower.to_string(), reference(&c.to_string()), "{c:?}");
            checked += 1;
        }
        assert!(checked > 20_000, "{checked}");
    }

    #[test]
    fn normalize_equals_nfkc_then_lower_case() {
        // Direct, NFKC-only and combining characters, mixed every way.
        let parts = [
            "a", "E", "é", "\u{301}", "\u{308}", "\u{327}", "Ａ", "ｅ", "，", "评", "〈", "㈠",
            "①", "ﬁ", "Å", "\u{1100}", "\u{1161}", "\u{11A8}", "가", " ", "\u{3000}", "…", "㎏",
            "Ⅻ", "·", "\u{30AB}", "\u{3099}", "ｶ", "ﾞ", "Σ", "ς", "İ", "𠀋", "豈", "\u{0F73}",
            "\u{0344}",
        ];
        let mut state = 12345u64;
        for len in 1..12 {
            for _ in 0..2000 {
                let mut s = String::new();
                for _ in 0..len {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    s.push_str(parts[(state >> 33) as usize % parts.len()]);
                }
                assert_eq!(normalize(&s), reference(&s), "{s:?}");
            }
        }
    }

    #[test]
    fn han_runs_give_bigrams_and_characters_words_stay_whole() {
        assert_eq!(
            index_terms(&normalize("评审计划 IE11")),
            ["评", "审", "计", "划", "评审", "审计", "计划", "ie11"]
        );
        assert_eq!(query_terms("评审计划"), ["评审", "审计", "计划"]);
        assert_eq!(query_terms("码"), ["码"]);
    }

    #[test]
    fn slices_and_strings_give_the_same_terms() {
        let text = normalize("甲乙丙 ab1 丁，戊己 x");
        let mut slices = Vec::new();
        each_term(&text, |t| slices.push(t));
        assert_eq!(
            slices,
            ["甲", "乙", "丙", "甲乙", "乙丙", "ab1", "丁", "戊", "己", "戊己", "x"]
        );
    }

    #[test]
    fn keys_are_the_packed_terms() {
        let parts = [
            "评",
            "审",
            "𠀋",
            "a",
            "IE11",
            " ",
            "，",
            "ｶ",
            "가",
            "registration",
            "x9",
            // Through NFKC: composed with the character before, expanded,
            // full-width, compatibility forms.
            "e",
            "\u{301}",
            "Ａ",
            "①",
            "ﬁ",
            "ﾞ",
            "\u{3000}",
            "İ",
            "DETERMINISTIC",
        ];
        let mut state = 7u64;
        for len in 0..14 {
            for _ in 0..500 {
                let mut s = String::new();
                for _ in 0..len {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    s.push_str(parts[(state >> 33) as usize % parts.len()]);
                }
                let text = normalize(&s);
                let mut terms: Vec<Term> = Vec::new();
                each_term(&text, |t| {
                    terms.push(match pack(t.as_bytes()) {
                        0 => Term::Long(t),
                        key => Term::Short(key),
                    })
                });
                // Keys of the text before normalizing; long words copied
                // out of the buffer they are in while `f` sees them.
                let mut owned: Vec<(u64, String)> = Vec::new();
                each_key(&s, &mut KeyBuffers::default(), &mut |k| match k {
                    Term::Pair(pair) => {
                        owned.push((first_of_pair(pair), String::new()));
                        owned.push((pair, String::new()));
                    }
                    Term::Short(k) => owned.push((k, String::new())),
                    Term::Long(w) => owned.push((0, w.to_string())),
                });
                let mut keys: Vec<Term> = owned
                    .iter()
                    .map(|(k, w)| {
                        if *k == 0 {
                            Term::Long(w)
                        } else {
                            Term::Short(*k)
                        }
                    })
                    .collect();
                let order = |t: &Term| match *t {
                    Term::Short(k) | Term::Pair(k) => (k, String::new()),
                    Term::Long(s) => (0, s.to_string()),
                };
                terms.sort_by_key(order);
                keys.sort_by_key(order);
                assert_eq!(keys, terms, "{s:?}");
            }
        }
    }

    #[test]
    fn full_width_and_case_fold_to_one_term() {
        assert_eq!(query_terms("ＩＥ浏览器"), ["ie", "浏览", "览器"]);
        assert_eq!(query_terms("IE 浏览器"), query_terms("ie浏览器"));
    }

    #[test]
    fn punctuation_separates_and_repeats_are_dropped_from_queries() {
        assert_eq!(query_terms("密码，密码！"), ["密码"]);
        assert_eq!(
            index_terms(&normalize("账号；⑷")),
            ["账", "号", "账号", "4"]
        );
        assert!(query_terms("，。！").is_empty());
    }
}
