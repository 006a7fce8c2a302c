//! Baseline for the intake benchmark: plain SQLite inserts into the intake's
//! own schema with the same durability settings (WAL, synchronous=FULL,
//! BEGIN IMMEDIATE), from one thread, with no HTTP in front.
//!
//! ```text
//! cargo run --release -p gazette-intake --example sqlite_baseline -- [SECONDS] [DIR]
//! ```
//! Prints single-row commits per second, then rows per second when 32 rows
//! share a commit.

use rusqlite::{params, TransactionBehavior};
use std::time::{Duration, Instant};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5.0);
    let dir = match args.next() {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir(),
    };
    let run = Duration::from_secs_f64(secs);
    let answers = r#"[["unit_name","梅州市教育局"],["uscc","11441700007280420Y"],["unit_type","机关"],["address","梅州市梅江区江南路1号"],["postcode","514000"],["admin_name","张三"],["admin_title",""],["admin_section",""],["office_phone","0753-2128309"],["mobile","13812345678"],["fax",""],["email","admin@example.org"],["remarks",""],["filled_by","李四"]]"#;

    for batch in [1usize, 32] {
        let path = dir.join(format!(
            "gazette-baseline-{}-{batch}.db",
            std::process::id()
        ));
        let mut conn = intake::baseline::open(&path)?;
        let start = Instant::now();
        let mut rows = 0u64;
        let mut commits = 0u64;
        // Each transaction's time, for the engine's own latency tail.
        let mut took: Vec<Duration> = Vec::new();
        while start.elapsed() < run {
            let began = Instant::now();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for _ in 0..batch {
                let now = intake::baseline::now_ms();
                let reference = intake::baseline::reference();
                let hash =
                    intake::baseline::repeat_hash("departments", &format!("{answers}{rows}"));
                tx.prepare_cached(
                    "INSERT INTO submissions
                     (reference, token, form_id, form_title, unit, answers, hash, late, received_at)
                     VALUES (?1, ?2, 'departments', '市直主管部门信息一览表', '梅州市教育局', ?3, ?4, 1, ?5)",
                )?
                .execute(params![
                    reference,
                    intake::baseline::token(&reference),
                    answers,
                    hash,
                    now
                ])?;
                let id = tx.last_insert_rowid();
                tx.prepare_cached(
                    "INSERT INTO outbox (submission_id, channel, recipients, next_attempt_at, created_at)
                     VALUES (?1, 'email', '[\"zjk@hrss.meizhou.example\"]', ?2, ?2)",
                )?
                .execute(params![id, now])?;
                rows += 1;
            }
            tx.commit()?;
            commits += 1;
            took.push(began.elapsed());
        }
        took.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let p99 = took.get(took.len() * 99 / 100).copied().unwrap_or_default();
        let longest = took.last().copied().unwrap_or_default();
        let over_25ms = took
            .iter()
            .filter(|d| **d > Duration::from_millis(25))
            .count();
        let elapsed = start.elapsed().as_secs_f64();
        drop(conn);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        println!(
            "baseline batch={batch}: {:.0} commits/s, {:.0} rows/s ({rows} rows in {elapsed:.1} s); \
             commit p99 {:.2} ms, longest {:.1} ms, {over_25ms} over 25 ms",
            commits as f64 / elapsed,
            rows as f64 / elapsed,
            ms(p99),
            ms(longest)
        );
    }
    Ok(())
}
