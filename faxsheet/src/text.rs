//! Measuring and line-breaking text in one font. No shaper: Chinese needs none, and
//! measuring exactly what we draw keeps wrapped lines inside their cells.

use krilla::text::{GlyphId, KrillaGlyph};
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};

pub struct Shaper<'a> {
    charmap: Charmap<'a>,
    metrics: GlyphMetrics<'a>,
    upem: f32,
    /// Ascent and descent (negative) in em.
    pub ascent: f32,
    pub descent: f32,
}

impl<'a> Shaper<'a> {
    pub fn new(face: &FontRef<'a>) -> Shaper<'a> {
        let m = face.metrics(Size::unscaled(), LocationRef::default());
        let upem = f32::from(m.units_per_em.max(1));
        Shaper {
            charmap: face.charmap(),
            metrics: face.glyph_metrics(Size::unscaled(), LocationRef::default()),
            upem,
            ascent: m.ascent / upem,
            descent: m.descent / upem,
        }
    }

    /// Glyph and advance in em; a character the font lacks becomes .notdef (a box).
    pub fn glyph(&self, ch: char) -> (u32, f32) {
        let gid = self.charmap.map(ch).unwrap_or_default();
        let adv = self.metrics.advance_width(gid).unwrap_or(0.0) / self.upem;
        (gid.to_u32(), adv)
    }

    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.glyph(c).1).sum::<f32>() * size
    }

    /// One glyph per character; each maps back to its character, so the PDF's
    /// ToUnicode map gives the text back to pdftotext and copy-paste.
    pub fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(i, c)| {
                let (gid, adv) = self.glyph(c);
                KrillaGlyph::new(
                    GlyphId::new(gid),
                    adv,
                    0.0,
                    0.0,
                    0.0,
                    i..i + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }

    /// Wraps `text` into lines no wider than `max` at `size`. Hard line breaks are
    /// kept (blank lines too, except at the end); an empty text is one empty line.
    pub fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let text = clean(text);
        let mut lines = Vec::new();
        for para in text.trim_end().split('\n') {
            self.wrap_paragraph(para.trim_end(), size, max, &mut lines);
        }
        if lines.is_empty() {
            lines.push(String::new());
        }
        lines
    }

    fn wrap_paragraph(&self, para: &str, size: f32, max: f32, out: &mut Vec<String>) {
        let mut line = String::new();
        let mut width = 0.0;
        // Spaces between words: kept only if a word follows on the same line.
        let mut pending = String::new();
        let mut pending_w = 0.0;
        let mut started = false;
        for token in tokens(para) {
            if is_space(&token) {
                // Indentation at the paragraph's start is kept; a wrapped line starts clean.
                if !line.is_empty() || !started {
                    pending.push_str(&token);
                    pending_w += self.width(&token, size);
                }
                continue;
            }
            started = true;
            let w = self.width(&token, size);
            if width + pending_w + w <= max {
                line.push_str(&pending);
                line.push_str(&token);
                width += pending_w + w;
            } else if w <= max {
                if !line.is_empty() {
                    out.push(std::mem::take(&mut line));
                }
                line.push_str(&token);
                width = w;
            } else {
                // Wider than the column on its own (a long URL, an unbroken digit run):
                // break it between characters rather than run past the border.
                line.push_str(&pending);
                width += pending_w;
                for c in token.chars() {
                    let cw = self.glyph(c).1 * size;
                    if width + cw > max && !line.is_empty() {
                        out.push(std::mem::take(&mut line));
                        width = 0.0;
                    }
                    line.push(c);
                    width += cw;
                }
            }
            pending.clear();
            pending_w = 0.0;
        }
        out.push(line);
    }

    /// Shortens `text` to one line of at most `max`, ending in "…" when cut.
    pub fn truncate(&self, text: &str, size: f32, max: f32) -> String {
        let text: String = clean(text).replace('\n', " ");
        if self.width(&text, size) <= max {
            return text;
        }
        let budget = max - self.width("…", size);
        let mut out = String::new();
        let mut w = 0.0;
        for c in text.chars() {
            let cw = self.glyph(c).1 * size;
            if w + cw > budget {
                break;
            }
            out.push(c);
            w += cw;
        }
        out.push('…');
        out
    }
}

/// Newlines normalised, tabs as spaces, control and invisible formatting characters
/// dropped: they have no glyph and would print as boxes.
fn clean(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .filter_map(|c| match c {
            '\r' | '\u{2028}' | '\u{2029}' => Some('\n'),
            '\t' => Some(' '),
            '\n' => Some('\n'),
            c if c.is_control() => None,
            '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}' => None,
            c => Some(c),
        })
        .collect()
}

/// Ideographs, kana, hangul, CJK and full-width punctuation: a line may break
/// around each of them (unlike inside a Latin word).
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{2E80}'..='\u{9FFF}'
        | '\u{AC00}'..='\u{D7AF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FE30}'..='\u{FE4F}'
        | '\u{FF00}'..='\u{FFEF}'
        | '\u{20000}'..='\u{3FFFF}')
}

/// Must not start a line (GB/T 15834 practice: closing marks stay with what precedes).
fn no_line_start(c: char) -> bool {
    "，。、；：？！）》」』】〕〉”’…—·％,.;:?!)]}%".contains(c)
}

/// Must not end a line: opening marks stay with what follows.
fn no_line_end(c: char) -> bool {
    "（《「『【〔〈“‘([{".contains(c)
}

/// Splits a paragraph into unbreakable pieces: runs of spaces, Latin words, and single
/// CJK characters with their attached punctuation.
fn tokens(para: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // The last token ended in an opening mark: the next character joins it.
    let mut glue = false;
    for c in para.chars() {
        let last = out.last_mut();
        if c == ' ' || c == '\u{3000}' {
            // An ideographic space is a space for breaking, but keeps its width.
            match last {
                Some(t) if is_space(t) => t.push(c),
                _ => out.push(c.to_string()),
            }
            glue = false;
            continue;
        }
        let joins = match &last {
            None => false,
            Some(t) if is_space(t) => false,
            Some(t) => {
                let prev = t.chars().last().unwrap_or(' ');
                glue || no_line_start(c) || (!is_cjk(c) && !is_cjk(prev))
            }
        };
        match last {
            Some(t) if joins => t.push(c),
            _ => out.push(c.to_string()),
        }
        glue = no_line_end(c);
    }
    out
}

/// A run of spaces (an ideographic space breaks like one, but keeps its width).
fn is_space(token: &str) -> bool {
    token.starts_with([' ', '\u{3000}'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Font;
    use std::path::Path;

    fn with_shaper(f: impl FnOnce(&Shaper)) {
        let font = Font::find(Path::new("")).unwrap_or_else(|e| panic!("{e}"));
        let face = font.face().expect("face");
        f(&Shaper::new(&face));
    }

    #[test]
    fn chinese_wraps_per_character_within_the_width() {
        with_shaper(|s| {
            let text = "梅州市人力资源和社会保障局专业技术人员管理科".repeat(5);
            let max = 10.0 * 11.0; // ten ideographs at 11 pt
            let lines = s.wrap(&text, 11.0, max);
            assert!(lines.len() >= 10, "{lines:?}");
            assert!(lines.iter().all(|l| s.width(l, 11.0) <= max + 0.01));
            assert_eq!(lines.concat(), text);
        });
    }

    #[test]
    fn latin_words_stay_whole_and_spaces_at_breaks_go() {
        with_shaper(|s| {
            let text = "浏览器 Internet Explorer 11 及 Google Chrome 51";
            let max = s.width("浏览器 Internet", 11.0) + 1.0;
            let lines = s.wrap(text, 11.0, max);
            for word in ["Internet", "Explorer", "Google", "Chrome"] {
                assert!(lines.iter().any(|l| l.contains(word)), "{word}: {lines:?}");
            }
            assert!(lines
                .iter()
                .all(|l| !l.starts_with(' ') && !l.ends_with(' ')));
            assert!(lines.iter().all(|l| s.width(l, 11.0) <= max));
        });
    }

    #[test]
    fn closing_punctuation_never_starts_a_line() {
        with_shaper(|s| {
            let text = "一二三四五，六七八九十。甲乙丙丁戊（己）庚辛壬癸、子丑寅卯辰".repeat(4);
            for n in 3..12 {
                let max = n as f32 * 11.0 + 0.5;
                let lines = s.wrap(&text, 11.0, max);
                assert_eq!(lines.concat(), text);
                for l in &lines[1..] {
                    let first = l.chars().next().unwrap_or('x');
                    assert!(!no_line_start(first), "{n}: {lines:?}");
                }
                for l in &lines {
                    let last = l.chars().last().unwrap_or('x');
                    assert!(!no_line_end(last), "{n}: {lines:?}");
                }
            }
        });
    }

    #[test]
    fn hard_breaks_and_indentation_are_kept() {
        with_shaper(|s| {
            let lines = s.wrap("第一行\r\n\r\n  第三行\n第四行\n\n", 11.0, 300.0);
            assert_eq!(lines, ["第一行", "", "  第三行", "第四行"]);
            assert_eq!(s.wrap("", 11.0, 300.0), [""]);
            assert_eq!(s.wrap("a\u{0}b\u{200B}c\td", 11.0, 300.0), ["abc d"]);
        });
    }

    #[test]
    fn an_unbreakable_run_is_cut_rather_than_overflow() {
        with_shaper(|s| {
            let url = "http://www.mzhrss.gov.cn/zwgk/tzgg/2016-07/content_0216.html";
            let max = 80.0;
            let lines = s.wrap(&format!("见 {url}"), 11.0, max);
            assert!(lines.len() > 2, "{lines:?}");
            assert!(lines.iter().all(|l| s.width(l, 11.0) <= max), "{lines:?}");
            assert_eq!(lines.concat().replace(' ', ""), format!("见{url}"));
            // Even a column narrower than one character gets one per line, not a loop.
            assert_eq!(s.wrap("梅州", 11.0, 1.0), ["梅", "州"]);
        });
    }

    #[test]
    fn truncation_marks_the_cut() {
        with_shaper(|s| {
            let t = s.truncate(&"很长的标题".repeat(50), 18.0, 200.0);
            assert!(t.ends_with('…') && s.width(&t, 18.0) <= 200.0, "{t}");
            assert_eq!(s.truncate("短标题", 18.0, 200.0), "短标题");
        });
    }
}
