//! One schema-version mechanism on both engines: a database made by the
//! previous release (SQLite counted in `PRAGMA user_version`, PostgreSQL's
//! first release counted its one migration as 1) is brought up to date by
//! `gazette intake`, its rows intact and served, and both end with the same
//! `gazette_migrations` rows.

use crate::both;
use crate::common::postgres::{connect, Cluster, Db, Engine};
use crate::common::smtp::SmtpServer;
use crate::common::{department, Intake, Site};
use std::time::Duration;

const SQLITE_V5: &str = include_str!("fixtures/schema/sqlite_v5.sql");
const POSTGRES_V1: &str = include_str!("fixtures/schema/postgres_v1.sql");

/// The schema version this gazette makes (`store::SCHEMA_VERSION`).
const VERSION: i64 = 6;

fn a_database_made_by_the_previous_release_is_migrated(engine: Engine) {
    let site = Site::with_repo_forms();
    let url = match engine {
        Engine::Sqlite => {
            let path = site.path().join("var/gazette.db");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            rusqlite::Connection::open(&path)
                .unwrap()
                .execute_batch(SQLITE_V5)
                .unwrap();
            None
        }
        Engine::Postgres => {
            let url = Cluster::get().new_database();
            connect(&url).batch_execute(POSTGRES_V1).unwrap();
            Some(url)
        }
    };
    let smtp = SmtpServer::start("127.0.0.1:0");
    let mut builder = Intake::builder().site(site).smtp(&smtp);
    if let Some(url) = &url {
        builder = builder.database_url(url);
    }
    let intake = builder.start();
    let db = Db::of(&intake);

    // Every version has its row; the ones from before the table (or before
    // PostgreSQL's renumbering) say so with applied_at 0.
    assert_eq!(db.count("SELECT COUNT(*) FROM gazette_migrations"), VERSION);
    assert_eq!(
        db.count("SELECT MAX(version) FROM gazette_migrations"),
        VERSION
    );
    let before_the_table = match engine {
        Engine::Sqlite => 5,
        // Its own row 1 stays as it was written.
        Engine::Postgres => 4,
    };
    assert_eq!(
        db.count("SELECT COUNT(*) FROM gazette_migrations WHERE applied_at = 0"),
        before_the_table
    );
    if engine == Engine::Sqlite {
        // Still counted where an older gazette looks, so it refuses the file.
        let v: i64 = intake
            .db()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, VERSION);
    }
    // Migration 6: sessions and failures in the database, the outbox index.
    assert_eq!(db.count("SELECT COUNT(*) FROM admin_sessions"), 0);
    assert_eq!(db.count("SELECT COUNT(*) FROM login_failures"), 0);
    let index = match engine {
        Engine::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'outbox_submission'"
        }
        Engine::Postgres => "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'outbox_submission'",
    };
    assert_eq!(db.count(index), 1);

    // The old rows are read as before: the receipt, and the pending
    // notification (claimed, on PostgreSQL, by a node long gone) is sent.
    let receipt = intake.get("/receipts/AAAAAAA2000000000000000000000000000000aa");
    assert_eq!(receipt.status, 200, "{}", receipt.text());
    assert!(receipt.text().contains("AAAAAAA2"), "{}", receipt.text());
    let mails = smtp.wait_for(1, Duration::from_secs(30));
    assert_eq!(mails.len(), 1, "{}", intake.log());
    assert!(
        mails[0]
            .header("Subject")
            .is_some_and(|s| s.contains("BBBBBBB3")),
        "{:?}",
        mails[0].header("Subject")
    );
    // New returns go in beside them, and the export lists all three.
    let new = intake.submit("departments", &department("梅州市新库丙局"));
    assert_eq!(new.len(), 8);
    let out = intake.site.path().join("all.csv");
    let r = intake.run(&["export", "departments", "--output", out.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let csv = std::fs::read_to_string(&out).unwrap();
    for unit in ["梅州市旧库甲局", "梅州市旧库乙局", "梅州市新库丙局"] {
        assert!(csv.contains(unit), "{unit}: {csv}");
    }
    assert!(csv.contains("已设置"), "the old processing state: {csv}");
}

/// The migrations run once: a second start finds the schema current.
fn a_second_start_runs_nothing_again(engine: Engine) {
    let mut intake = Intake::builder().engine(engine).start();
    intake.submit("departments", &department("梅州市重启局"));
    let db = Db::of(&intake);
    let applied = db.count("SELECT MAX(applied_at) FROM gazette_migrations");
    intake.restart(&[]);
    intake.submit("departments", &department("梅州市重启后局"));
    assert_eq!(
        db.count("SELECT MAX(applied_at) FROM gazette_migrations"),
        applied
    );
    assert_eq!(db.count("SELECT COUNT(*) FROM gazette_migrations"), VERSION);
}

both!(
    a_database_made_by_the_previous_release_is_migrated,
    a_second_start_runs_nothing_again,
);
