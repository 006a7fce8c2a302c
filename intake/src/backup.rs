//! `gazette backup`: an online copy of the SQLite database, safe while the
//! intake runs.
//!
//! `VACUUM INTO` copies one read transaction's snapshot: every return
//! committed before the copy began is in it, posts go on meanwhile (WAL
//! readers do not block the writer), and the copy is compact and needs no
//! `-wal` file beside it. It is written under a temporary name and renamed
//! when complete and checked, so a file with the backup's name is never a
//! half-written one.

use anyhow::Context as _;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct Report {
    pub file: PathBuf,
    pub returns: i64,
    pub bytes: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "backed up {} return(s), {} bytes, to {}",
            self.returns,
            self.bytes,
            self.file.display()
        )
    }
}

/// Copies the database of the site at `root` to `output` (default:
/// `backups/gazette-<UTC time>.db` beside the database).
pub fn backup(root: &Path, output: Option<&Path>) -> anyhow::Result<Report> {
    let config = config::Config::load(root)?;
    let source = config.database_path();
    if let Some(url) = config.database_url() {
        anyhow::bail!(
            "[intake] database is PostgreSQL ({}): back it up with its own tools, e.g. pg_dump --format=custom --file=gazette.dump (see the README, \"Backups and restore\")",
            crate::store::pg::redacted(&url)
        );
    }
    if !source.is_file() {
        anyhow::bail!(
            "no database at {} (nothing has been submitted yet)",
            source.display()
        );
    }
    let file = match output {
        Some(p) => p.to_path_buf(),
        None => {
            let dir = source.parent().unwrap_or(Path::new(".")).join("backups");
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
            dir.join(format!("gazette-{stamp}.db"))
        }
    };
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut partial = file.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    // A partial file of an earlier, interrupted run would make VACUUM INTO fail.
    let _ = std::fs::remove_file(&partial);

    let conn = Connection::open_with_flags(
        &source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", source.display()))?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let target = partial.to_string_lossy().into_owned();
    conn.execute("VACUUM INTO ?1", [&target])
        .with_context(|| format!("cannot copy {} to {target}", source.display()))?;
    drop(conn);

    let returns = check_copy(&partial)?;
    std::fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot flush {}", partial.display()))?;
    std::fs::rename(&partial, &file)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), file.display()))?;
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    Ok(Report {
        file,
        returns,
        bytes,
    })
}

/// The copy opens, passes SQLite's integrity check, and has its returns.
fn check_copy(path: &Path) -> anyhow::Result<i64> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let verdict: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if verdict != "ok" {
        anyhow::bail!(
            "the copy {} failed its integrity check: {verdict}",
            path.display()
        );
    }
    Ok(conn.query_row("SELECT count(*) FROM submissions", [], |r| r.get(0))?)
}
