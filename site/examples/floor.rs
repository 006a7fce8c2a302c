//! The benchmark's floor: read each page, render its Markdown with
//! pulldown-cmark, write it out — nothing else, on every core (rayon over the
//! pages, as `gazette build` does). `tests/bench/build.sh` runs it beside
//! `gazette build` so the ratio means the same on any machine.
//!
//!     cargo run --release -p gazette-site --example floor -- CONTENT_DIR OUT_DIR

use rayon::prelude::*;
use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
}

fn page(i: usize, src: &Path, dst: &Path) -> std::io::Result<()> {
    let text = std::fs::read_to_string(src)?;
    let body = text.splitn(3, "+++").nth(2).unwrap_or(&text);
    let mut html = String::with_capacity(body.len() * 2);
    pulldown_cmark::html::push_html(
        &mut html,
        pulldown_cmark::Parser::new_ext(body, pulldown_cmark::Options::ENABLE_TABLES),
    );
    let out = dst.join(format!("{i}"));
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("index.html"), html)
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(src), Some(dst)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: floor CONTENT_DIR OUT_DIR");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    walk(Path::new(src), &mut files);
    files.sort();
    let dst = Path::new(dst);
    files
        .par_iter()
        .enumerate()
        .try_for_each(|(i, f)| page(i, f, dst))
}
