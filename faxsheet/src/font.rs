//! Finding and loading the CJK font the fax sheet is set in.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use skrifa::raw::FileRef;
use skrifa::string::StringId;
use skrifa::{FontRef, MetadataProvider};

/// Debian's usual places for a CJK font, best first, with the package that installs each.
pub const SEARCH_PATHS: &[(&str, &str)] = &[
    (
        "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
        "fonts-wqy-microhei",
    ),
    (
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "fonts-wqy-zenhei",
    ),
    (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "fonts-noto-cjk",
    ),
    (
        "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
        "fonts-noto-cjk",
    ),
    (
        "/usr/share/fonts/truetype/arphic/uming.ttc",
        "fonts-arphic-uming",
    ),
    (
        "/usr/share/fonts/truetype/arphic/ukai.ttc",
        "fonts-arphic-ukai",
    ),
    (
        "/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf",
        "fonts-arphic-gbsn00lp",
    ),
    (
        "/usr/share/fonts/truetype/arphic-gkai00mp/gkai00mp.ttf",
        "fonts-arphic-gkai00mp",
    ),
];

/// Characters a usable font must have: the sheet's own words and the office's name.
/// A Latin-only font would otherwise "work" and fax rows of empty boxes.
const PROBE: &str = "梅州市人力资源和社会保障局专业技术人员管理科参考编号接收时间逾期第页共续";

/// A loaded CJK font. Cloning is cheap (shared bytes), so load it once at start-up.
#[derive(Clone)]
pub struct Font(Arc<Loaded>);

struct Loaded {
    path: PathBuf,
    index: u32,
    family: String,
    data: Arc<Vec<u8>>,
    pdf: krilla::text::Font,
}

impl Font {
    /// `configured`: `[fax] font` from gazette.toml; an empty path means search the
    /// system. A configured font that cannot be used is an error, not a silent fallback:
    /// the operator asked for that one.
    pub fn find(configured: &Path) -> Result<Font, FontError> {
        if !configured.as_os_str().is_empty() {
            return load(configured).map_err(|reason| FontError::Configured {
                path: configured.to_path_buf(),
                reason,
            });
        }
        let mut candidates: Vec<PathBuf> = SEARCH_PATHS.iter().map(|(p, _)| p.into()).collect();
        candidates.extend(fc_list());
        search(&candidates)
    }

    /// The first of `names` that loads and has Chinese glyphs: a font file
    /// (a path with `/` or ending in `.ttf`, `.otf`, `.ttc`: face 0, or a
    /// collection's Simplified Chinese face) or a family fontconfig lists
    /// (`FangSong`, by any of its names, or `Noto Serif CJK SC:style=Bold`),
    /// regular styles first. With the name that matched; else each name
    /// with why it was passed over.
    pub fn first_of(
        names: &[String],
        root: &Path,
    ) -> Result<(Font, String), Vec<(String, String)>> {
        let mut tried = Vec::new();
        // Listed once, and only if a family is asked for.
        let mut listing: Option<Vec<Installed>> = None;
        for name in names {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            let lower = name.to_lowercase();
            let is_file = name.contains('/')
                || [".ttf", ".otf", ".ttc", ".otc"]
                    .iter()
                    .any(|e| lower.ends_with(e));
            let found = if is_file {
                let path = Path::new(name);
                let path = if path.is_absolute() {
                    path.to_path_buf()
                } else {
                    root.join(path)
                };
                load(&path)
            } else {
                by_family(name, listing.get_or_insert_with(installed))
            };
            match found {
                Ok(f) => return Ok((f, name.to_string())),
                Err(why) => tried.push((name.to_string(), why)),
            }
        }
        Err(tried)
    }

    /// The file the font was read from.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// The family name (e.g. "WenQuanYi Micro Hei"), for the start-up log.
    pub fn family(&self) -> &str {
        &self.0.family
    }

    /// The font as the PDF writer takes it (for other documents set in it).
    pub fn pdf_font(&self) -> krilla::text::Font {
        self.0.pdf.clone()
    }

    /// The face the PDF embeds, for measuring text.
    pub fn face(&self) -> Result<FontRef<'_>, String> {
        FontRef::from_index(self.0.data.as_slice(), self.0.index)
            .map_err(|e| format!("font {}: {e}", self.0.path.display()))
    }
}

impl fmt::Debug for Font {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Font")
            .field("path", &self.0.path)
            .field("index", &self.0.index)
            .field("family", &self.0.family)
            .finish()
    }
}

/// Why no font could be had; the message says what was tried and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error(
        "[fax] font = \"{}\" cannot be used: {reason}. Point [fax] font in gazette.toml at a \
         .ttf/.otf/.ttc font with Chinese glyphs, or leave it empty to use an installed CJK \
         font (apt-get install fonts-wqy-microhei)",
        .path.display()
    )]
    Configured { path: PathBuf, reason: String },
    #[error(
        "no CJK font for fax sheets found; tried {}. Install one (apt-get install \
         fonts-wqy-microhei) or set [fax] font in gazette.toml to a .ttf/.otf/.ttc font \
         with Chinese glyphs",
        tried_list(.tried)
    )]
    NotFound { tried: Vec<(PathBuf, String)> },
}

fn tried_list(tried: &[(PathBuf, String)]) -> String {
    if tried.is_empty() {
        return "nothing".into();
    }
    tried
        .iter()
        .map(|(p, why)| format!("{} ({why})", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first candidate that loads; otherwise every candidate with its reason.
pub(crate) fn search(candidates: &[PathBuf]) -> Result<Font, FontError> {
    let mut tried: Vec<(PathBuf, String)> = Vec::new();
    for path in candidates {
        if tried.iter().any(|(p, _)| p == path) {
            continue;
        }
        match load(path) {
            Ok(font) => return Ok(font),
            Err(why) => tried.push((path.clone(), why)),
        }
    }
    Err(FontError::NotFound { tried })
}

/// Fonts fontconfig knows to cover Chinese; none when fc-list is absent.
fn fc_list() -> Vec<PathBuf> {
    let Ok(out) = Command::new("fc-list").args([":lang=zh", "file"]).output() else {
        return Vec::new();
    };
    if !out.status.success() {
        return Vec::new();
    }
    let mut paths: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_suffix(':'))
        .map(PathBuf::from)
        .collect();
    // Stable order, regular weights first: a fax wants neither hairlines nor bold.
    paths.sort_by_key(|p| {
        let name = p.to_string_lossy().to_lowercase();
        let odd_weight = ["bold", "black", "heavy", "light", "thin", "medium"]
            .iter()
            .any(|w| name.contains(w));
        (odd_weight, name)
    });
    paths
}

/// An installed font as fontconfig lists it: every name of its family, its
/// styles, file and face index.
struct Installed {
    families: Vec<String>,
    styles: Vec<String>,
    file: PathBuf,
    index: u32,
}

/// Every installed font, from one `fc-list` (none when it is absent).
fn installed() -> Vec<Installed> {
    let Ok(out) = Command::new("fc-list")
        .args(["--format", "%{family}|%{style}|%{index}|%{file}\n"])
        .output()
    else {
        return Vec::new();
    };
    let names = |s: &str| -> Vec<String> {
        s.split(',')
            .map(|n| n.trim().to_lowercase())
            .filter(|n| !n.is_empty())
            .collect()
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(4, '|');
            let families = names(it.next()?);
            let styles = names(it.next()?);
            let index = it.next()?.trim().parse().ok()?;
            let file = PathBuf::from(it.next()?);
            Some(Installed {
                families,
                styles,
                file,
                index,
            })
        })
        .collect()
}

/// The installed font of family `name` (any of its names: `FangSong`, `仿宋`),
/// or `Family:style=Bold`; regular styles first when no style is asked for.
fn by_family(name: &str, fonts: &[Installed]) -> Result<Font, String> {
    let (family, style) = match name.split_once(':') {
        Some((f, props)) => (
            f.trim().to_lowercase(),
            props
                .split(':')
                .find_map(|p| p.trim().strip_prefix("style="))
                .map(|s| s.trim().to_lowercase()),
        ),
        None => (name.trim().to_lowercase(), None),
    };
    let odd = |f: &Installed| {
        [
            "bold", "black", "heavy", "light", "thin", "medium", "italic", "oblique",
        ]
        .iter()
        .any(|w| f.styles.iter().any(|s| s.contains(w)))
    };
    let mut found: Vec<&Installed> = fonts
        .iter()
        .filter(|f| f.families.contains(&family))
        .filter(|f| style.as_ref().is_none_or(|s| f.styles.contains(s)))
        .collect();
    found.sort_by_key(|f| (odd(f), f.file.clone(), f.index));
    let Some(f) = found.first() else {
        return Err("not installed".into());
    };
    load_face(&f.file, Some(f.index))
}

fn load(path: &Path) -> Result<Font, String> {
    load_face(path, None)
}

/// `path`'s face `index`, or (None) the one [`pick_face`] picks.
fn load_face(path: &Path, index: Option<u32>) -> Result<Font, String> {
    let data = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        _ => e.to_string(),
    })?;
    let index = match index {
        Some(i) => i,
        None => pick_face(&data)?,
    };
    let face = FontRef::from_index(&data, index)
        .map_err(|e| format!("not a usable TrueType/OpenType font ({e})"))?;
    let charmap = face.charmap();
    let missing: String = PROBE
        .chars()
        .filter(|&c| charmap.map(c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!("has no glyphs for Chinese text (lacks {missing})"));
    }
    let family = face
        .localized_strings(StringId::FAMILY_NAME)
        .english_or_first()
        .map(|s| s.chars().collect())
        .unwrap_or_default();
    let data = Arc::new(data);
    let pdf = krilla::text::Font::new(data.clone().into(), index)
        .ok_or_else(|| "the PDF writer cannot read this font".to_string())?;
    Ok(Font(Arc::new(Loaded {
        path: path.to_path_buf(),
        index,
        family,
        data,
        pdf,
    })))
}

/// Face 0, except that a collection with a Simplified Chinese face (Noto/Source Han
/// "… SC") uses that one: face 0 there is Japanese, with different forms for some hanzi.
fn pick_face(data: &[u8]) -> Result<u32, String> {
    let file = FileRef::new(data).map_err(|_| "not a TrueType/OpenType font".to_string())?;
    let FileRef::Collection(collection) = file else {
        return Ok(0);
    };
    for index in 0..collection.len() {
        let Ok(face) = collection.get(index) else {
            continue;
        };
        let family: String = face
            .localized_strings(StringId::FAMILY_NAME)
            .english_or_first()
            .map(|s| s.chars().collect())
            .unwrap_or_default();
        if family.ends_with(" SC") {
            return Ok(index);
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WQY: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";

    #[test]
    fn finds_the_installed_font() {
        // tests/run.sh installs fonts-wqy-microhei; without it this must fail loudly.
        let font =
            Font::find(Path::new("")).expect("a CJK font (apt-get install fonts-wqy-microhei)");
        assert!(!font.family().is_empty());
        let font = Font::find(Path::new(WQY)).expect("fonts-wqy-microhei is installed");
        assert_eq!(font.path(), Path::new(WQY));
        assert!(font.family().contains("WenQuanYi"), "{}", font.family());
    }

    #[test]
    fn a_bogus_configured_path_is_named() {
        let err = Font::find(Path::new("/nonexistent/fonts/仿宋.ttf")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/fonts/仿宋.ttf"), "{msg}");
        assert!(msg.contains("no such file"), "{msg}");
        assert!(msg.contains("[fax] font"), "{msg}");
    }

    #[test]
    fn a_configured_file_that_is_no_font_or_has_no_hanzi_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.ttf");
        std::fs::write(&junk, b"not a font at all").unwrap();
        let msg = Font::find(&junk).unwrap_err().to_string();
        assert!(msg.contains("junk.ttf") && msg.contains("not a"), "{msg}");

        // A real font without hanzi (fonts-dejavu-core comes with the machine image).
        let dejavu = Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
        let msg = Font::find(dejavu).unwrap_err().to_string();
        assert!(msg.contains("no glyphs for Chinese"), "{msg}");
    }

    #[test]
    fn no_font_anywhere_says_how_to_install_one() {
        let candidates = [
            PathBuf::from("/nonexistent/wqy-microhei.ttc"),
            PathBuf::from("/nonexistent/NotoSansCJK-Regular.ttc"),
        ];
        let msg = search(&candidates).unwrap_err().to_string();
        assert!(msg.contains("apt-get install fonts-wqy-microhei"), "{msg}");
        assert!(msg.contains("[fax] font"), "{msg}");
        assert!(
            msg.contains("/nonexistent/wqy-microhei.ttc (no such file)"),
            "{msg}"
        );
        assert!(
            msg.contains("/nonexistent/NotoSansCJK-Regular.ttc"),
            "{msg}"
        );
        assert!(search(&[])
            .unwrap_err()
            .to_string()
            .contains("tried nothing"));
    }

    #[test]
    fn a_stack_gives_its_first_installed_entry_by_family_pattern_or_file() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let root = Path::new("/");
        // Any of a family's names; the ones not installed are passed over.
        let (f, name) =
            Font::first_of(&names(&["NoSuchFangSong", "文泉驿等宽微米黑"]), root).unwrap();
        assert_eq!(
            (f.family(), name.as_str()),
            ("WenQuanYi Micro Hei Mono", "文泉驿等宽微米黑")
        );
        let (f, _) = Font::first_of(&names(&["WenQuanYi Micro Hei:style=Regular"]), root).unwrap();
        assert_eq!(f.family(), "WenQuanYi Micro Hei");
        let (f, _) = Font::first_of(
            &names(&["usr/share/fonts/truetype/wqy/wqy-microhei.ttc"]),
            root,
        )
        .unwrap();
        assert_eq!(f.path(), Path::new(WQY));
        // Nothing found: each entry with its reason.
        let tried = Font::first_of(
            &names(&[
                "FangSong",
                "WenQuanYi Micro Hei:style=Bold",
                "/nonexistent/仿宋.ttf",
            ]),
            root,
        )
        .unwrap_err();
        assert_eq!(
            tried,
            [
                ("FangSong".to_string(), "not installed".to_string()),
                (
                    "WenQuanYi Micro Hei:style=Bold".to_string(),
                    "not installed".to_string()
                ),
                (
                    "/nonexistent/仿宋.ttf".to_string(),
                    "no such file".to_string()
                ),
            ]
        );
    }

    #[test]
    fn font_is_cheap_to_share_across_threads() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<Font>();
    }
}
