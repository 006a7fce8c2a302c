//! The benchmark's floor: read each page, render its Markdown with
//! pulldown-cmark, write it out — nothing else. `tests/bench/build.sh` runs it
//! beside `gazette build` so the ratio means the same on any machine.
//!
//!     cargo run --release -p gazette-site --example floor -- CONTENT_DIR OUT_DIR

use std::path::Path;

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "md") {
            out.push(p);
        }
    }
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
    for (i, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(f)?;
        let body = text.splitn(3, "+++").nth(2).unwrap_or(&text);
        let mut html = String::with_capacity(body.len() * 2);
        pulldown_cmark::html::push_html(
            &mut html,
            pulldown_cmark::Parser::new_ext(body, pulldown_cmark::Options::ENABLE_TABLES),
        );
        let out = Path::new(dst).join(format!("{i}"));
        std::fs::create_dir_all(&out)?;
        std::fs::write(out.join("index.html"), html)?;
    }
    Ok(())
}
