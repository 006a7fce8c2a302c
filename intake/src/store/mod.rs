//! SQLite storage: schema and migrations, the one writer thread that batches
//! queued writes into shared transactions (group commit), and reads.
//!
//! Durability: WAL with `synchronous=FULL`, so a transaction is on disk when
//! `COMMIT` returns. Each caller of [`Writer::insert`] is answered only after
//! the transaction holding its own row has committed.
//!
//! Blocking work never runs on the async executor: writes go to the writer
//! thread through a channel; reads go through [`Readers::run`], which uses
//! `spawn_blocking`.

pub(crate) mod pg;
mod read;
pub(crate) mod sql;
mod writer;

pub(crate) use read::*;
pub(crate) use writer::*;

use crate::status::Source;
use rusqlite::{Connection, TransactionBehavior};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

macro_rules! migration_6 {
    () => {
        r#"
-- A logged-in admin: found by the hash of the cookie's token; the CSRF
-- token goes into the pages' forms. Times in Unix milliseconds.
CREATE TABLE admin_sessions (
    token_hash TEXT PRIMARY KEY,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);
-- Wrong passwords per client ('address:…', 'device:…') and for the
-- account as a whole ('account'), for the login throttle.
CREATE TABLE login_failures (
    who     TEXT PRIMARY KEY,
    count   BIGINT NOT NULL,
    last_at BIGINT NOT NULL
);
CREATE INDEX outbox_submission ON outbox(submission_id);
"#
    };
}
pub(crate) use migration_6;

/// SQLite's schema migrations, numbered as PostgreSQL's
/// ([`pg::PG_MIGRATIONS`]); [`migrate_on`] runs them and counts them in the
/// `gazette_migrations` table on both engines.
pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE submissions (
    id          INTEGER PRIMARY KEY,
    reference   TEXT NOT NULL UNIQUE,
    -- The receipt token (reference + 128-bit secret); found through reference.
    token       TEXT NOT NULL,
    form_id     TEXT NOT NULL,
    form_title  TEXT NOT NULL,
    -- The unit's name (the form's title answer), for listings.
    unit        TEXT NOT NULL,
    -- JSON [[name, value], ...] in field order; value a string or a list.
    answers     TEXT NOT NULL CHECK (json_valid(answers)),
    -- sha256 of the form id and the canonical answers: finds repeats (the
    -- writer keeps the last ten minutes of these in memory; an import looks
    -- them up through submissions_form_hash, migration 4).
    hash        TEXT NOT NULL,
    late        INTEGER NOT NULL DEFAULT 0,
    -- Unix time in milliseconds.
    received_at INTEGER NOT NULL,
    source      TEXT NOT NULL DEFAULT 'web'
);
CREATE INDEX submissions_form ON submissions(form_id, received_at);
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    submission_id   INTEGER NOT NULL REFERENCES submissions(id),
    channel         TEXT NOT NULL,
    -- JSON list of addresses.
    recipients      TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed')),
    tries           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
"#,
    r#"
-- The office's work on a return (admin pages); no row means 待处理.
CREATE TABLE processing (
    submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
    status   TEXT NOT NULL DEFAULT '待处理' CHECK (status IN ('待处理','已设置','已反馈')),
    account  TEXT NOT NULL DEFAULT '',   -- the account name given to the unit
    note     TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);
-- Who changed what and when (append only).
CREATE TABLE audit (
    id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL,
    submission_id INTEGER, action TEXT NOT NULL, detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_submission ON audit(submission_id, id);
"#,
    r#"
-- Processing states as stable codes (see status::Processing), not the labels
-- people read; SQLite cannot change a CHECK in place, so the table is rebuilt.
CREATE TABLE processing_codes (
    submission_id INTEGER PRIMARY KEY REFERENCES submissions(id),
    status   TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','setup','feedback')),
    account  TEXT NOT NULL DEFAULT '',
    note     TEXT NOT NULL DEFAULT '',
    updated_at INTEGER NOT NULL
);
INSERT INTO processing_codes (submission_id, status, account, note, updated_at)
SELECT submission_id,
       CASE status WHEN '已设置' THEN 'setup' WHEN '已反馈' THEN 'feedback' ELSE 'pending' END,
       account, note, updated_at
FROM processing;
DROP TABLE processing;
ALTER TABLE processing_codes RENAME TO processing;
"#,
    r#"
CREATE INDEX IF NOT EXISTS submissions_form_hash ON submissions(form_id, hash);
"#,
    r#"
-- Every message the mailbox reader has handled, once per key (its
-- Message-ID, or a hash of the whole message when it has none): a message
-- read again after a crash is recognised, not stored twice.
CREATE TABLE mail_messages (
    id          INTEGER PRIMARY KEY,
    message_key TEXT NOT NULL UNIQUE,
    message_id  TEXT NOT NULL DEFAULT '',
    sender      TEXT NOT NULL DEFAULT '',
    subject     TEXT NOT NULL DEFAULT '',
    -- The Date header in Unix milliseconds, when it could be read.
    sent_at     INTEGER,
    received_at INTEGER NOT NULL,
    outcome     TEXT NOT NULL
                CHECK (outcome IN ('stored', 'refused', 'no_table', 'left', 'ignored', 'failed')),
    -- What a person should know (a failed message's reason, ignored's why).
    note        TEXT NOT NULL DEFAULT ''
);
CREATE INDEX mail_messages_outcome ON mail_messages(outcome, id);
ALTER TABLE submissions ADD COLUMN mail_id INTEGER REFERENCES mail_messages(id);
-- Answers to people (a mail sender's receipt or problems, a web filer's
-- copy), sent by the outbox worker beside the office's notifications.
CREATE TABLE replies (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('receipt', 'problems', 'howto', 'filer_copy')),
    mail_id         INTEGER REFERENCES mail_messages(id),
    submission_id   INTEGER REFERENCES submissions(id),
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL DEFAULT '',
    -- The text as prepared when the message was read; a filer's copy is
    -- laid out from its submission when sent.
    body            TEXT NOT NULL DEFAULT '',
    in_reply_to     TEXT NOT NULL DEFAULT '',
    refs            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed')),
    tries           INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         INTEGER,
    created_at      INTEGER NOT NULL
);
CREATE INDEX replies_due ON replies(status, next_attempt_at);
"#,
    MIGRATION_6,
];

/// The same text on both engines: admin sessions and failed logins kept in
/// the database, so every node on it knows them, and the outbox's
/// submission index (the admin list looks up one page's notifications).
pub(crate) const MIGRATION_6: &str = migration_6!();

/// The schema version this gazette makes: the number of migrations.
pub(crate) const SCHEMA_VERSION: i64 = 6;

const _: () = assert!(MIGRATIONS.len() as i64 == SCHEMA_VERSION);
const _: () = assert!(pg::PG_MIGRATIONS.len() as i64 == SCHEMA_VERSION);

/// The version a database is at: the highest row of `gazette_migrations`;
/// a SQLite file from before that table counted in `PRAGMA user_version`
/// (which is still set, so an older gazette refuses a newer file).
pub(crate) fn schema_version(db: &mut dyn sql::Sql) -> Result<i64, StoreError> {
    let has_table = match db.engine() {
        sql::Engine::Sqlite => db.one(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'gazette_migrations'",
            &[],
        )?,
        sql::Engine::Postgres => db.one(
            "SELECT COUNT(*) FROM pg_tables
             WHERE schemaname = current_schema() AND tablename = 'gazette_migrations'",
            &[],
        )?,
    }
    .int(0)?
        > 0;
    let recorded = if has_table {
        db.one(
            "SELECT COALESCE(MAX(version), 0) FROM gazette_migrations",
            &[],
        )?
        .int(0)?
    } else {
        0
    };
    Ok(match db.engine() {
        sql::Engine::Sqlite => {
            let user = db.one("PRAGMA user_version", &[])?.int(0)?;
            recorded.max(user)
        }
        // The first PostgreSQL release counted its one migration (this
        // list's 5, the whole schema of the time) as 1.
        sql::Engine::Postgres if recorded == 1 => 5,
        sql::Engine::Postgres => recorded,
    })
}

/// Brings the schema up to date in the caller's transaction, with the same
/// steps on both engines: each migration not yet run, then a row per
/// version in `gazette_migrations` (versions from before the table get
/// `applied_at` 0). Returns the version it found.
pub(crate) fn migrate_on(db: &mut dyn sql::Sql, now: i64) -> Result<i64, StoreError> {
    let version = schema_version(db)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Sqlite(format!(
            "the database has schema version {version}, newer than this gazette knows ({SCHEMA_VERSION}); use a newer gazette"
        )));
    }
    if version == SCHEMA_VERSION {
        return Ok(version);
    }
    let steps = match db.engine() {
        sql::Engine::Sqlite => MIGRATIONS,
        sql::Engine::Postgres => pg::PG_MIGRATIONS,
    };
    db.batch(
        "CREATE TABLE IF NOT EXISTS gazette_migrations (
             version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )?;
    for (i, step) in steps.iter().enumerate() {
        let v = i as i64 + 1;
        if v > version && !step.trim().is_empty() {
            db.batch(step)?;
        }
        db.execute(
            "INSERT INTO gazette_migrations (version, applied_at) VALUES (?1, ?2)
             ON CONFLICT (version) DO NOTHING",
            sql::vals![v, if v > version { now } else { 0 }],
        )?;
    }
    if db.engine() == sql::Engine::Sqlite {
        db.batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    }
    Ok(version)
}

/// How long the same answers to the same form count as a repeat.
pub(crate) const REPEAT_WINDOW_MS: i64 = 10 * 60 * 1000;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(String),
    #[error("the database writer has stopped")]
    Closed,
    #[error("{0} works on a SQLite database only, not on PostgreSQL")]
    SqliteOnly(&'static str),
}

/// The one seam every handler and the worker store and read through: the
/// embedded SQLite file (one writer thread, a reader pool) or PostgreSQL
/// (`[intake] database = "postgres://…"`, several nodes may share it).
pub(crate) enum Store {
    Sqlite {
        writer: Writer,
        readers: Arc<Readers>,
    },
    Postgres(pg::PgStore),
}

impl Store {
    /// Opens (and migrates) the configured database and starts its writer
    /// thread, which wakes `notify` after commits that queued outbox rows.
    pub(crate) fn open(
        config: &config::Config,
        notify: Arc<Notify>,
    ) -> anyhow::Result<(Store, std::thread::JoinHandle<()>)> {
        use anyhow::Context as _;
        if let Some(url) = config.database_url() {
            let (store, thread) = pg::PgStore::open(
                &url,
                pg::node_name(&config.root),
                config.intake.outbox_lease,
                notify,
            )
            .with_context(|| format!("[intake.database] {}", pg::redacted(&url)))?;
            return Ok((Store::Postgres(store), thread));
        }
        let path = config.database_path();
        let conn = open(&path).with_context(|| format!("[intake.database] {}", path.display()))?;
        let (writer, thread) =
            Writer::start(conn, notify).context("cannot start the database writer thread")?;
        Ok((
            Store::Sqlite {
                writer,
                readers: Arc::new(Readers::new(path)),
            },
            thread,
        ))
    }

    /// Whether the writer thread has gone (it only stops on shutdown).
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Store::Sqlite { writer, .. } => writer.is_closed(),
            Store::Postgres(pg) => pg.is_closed(),
        }
    }

    /// The last commit's error, if it failed.
    pub(crate) fn last_error(&self) -> Option<String> {
        match self {
            Store::Sqlite { writer, .. } => writer.last_error(),
            Store::Postgres(pg) => pg.health.last_error(),
        }
    }

    /// Stores a return and its outbox rows; answers after the commit.
    pub(crate) async fn insert(&self, s: NewSubmission) -> Result<Stored, StoreError> {
        match self {
            Store::Sqlite { writer, .. } => writer.insert(s).await,
            Store::Postgres(pg) => pg.insert(s).await,
        }
    }

    pub(crate) async fn pending_count(&self) -> Result<i64, StoreError> {
        match self {
            Store::Sqlite { readers, .. } => {
                readers
                    .run(|c| {
                        c.query_row(
                            "SELECT COUNT(*) FROM outbox WHERE status = 'pending'",
                            [],
                            |r| r.get::<_, i64>(0),
                        )
                    })
                    .await
            }
            Store::Postgres(pg) => pg.pending_count().await,
        }
    }

    pub(crate) async fn submission_by_token(
        &self,
        token: String,
    ) -> Result<Option<Submission>, StoreError> {
        match self {
            Store::Sqlite { readers, .. } => {
                readers.run(move |c| submission_by_token(c, &token)).await
            }
            Store::Postgres(pg) => pg.submission_by_token(&token).await,
        }
    }

    /// Due outbox rows for this node's worker. SQLite has one node, so
    /// due is claimed; PostgreSQL claims them with a lease.
    pub(crate) async fn claim(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        match self {
            Store::Sqlite { readers, .. } => readers.run(move |c| due(c, now, limit)).await,
            Store::Postgres(pg) => pg.claim(now, limit).await,
        }
    }

    /// Due replies for this node's worker, claimed as [`Store::claim`]
    /// claims outbox rows.
    pub(crate) async fn claim_replies(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<crate::mailbox::ReplyItem>, StoreError> {
        match self {
            Store::Sqlite { .. } => {
                self.read(move |db| crate::mailbox::due_replies(db, now, limit, None))
                    .await
            }
            Store::Postgres(pg) => {
                let (node, until) = (pg.node.clone(), now + pg.lease_ms);
                pg.run(move |db| crate::mailbox::due_replies(db, now, limit, Some((&node, until))))
                    .await
            }
        }
    }

    /// When the earliest pending notification or reply is due.
    pub(crate) async fn next_due(&self) -> Result<Option<i64>, StoreError> {
        let a = match self {
            Store::Sqlite { readers, .. } => readers.run(next_due).await?,
            Store::Postgres(pg) => pg.next_due().await?,
        };
        let b = self.read(crate::mailbox::next_reply_due).await?;
        Ok(a.into_iter().chain(b).min())
    }

    pub(crate) async fn mark(&self, marks: Vec<Mark>) -> Result<(), StoreError> {
        match self {
            Store::Sqlite { writer, .. } => writer.mark(marks).await,
            Store::Postgres(pg) => pg.mark(&marks).await,
        }
    }

    /// A read on either engine (the admin pages, the replies queue).
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut dyn sql::Sql) -> Result<T, StoreError> + Send + 'static,
    {
        match self {
            Store::Sqlite { readers, .. } => readers.run(move |c| f(&mut sql::Lite(c))).await,
            Store::Postgres(pg) => pg.run(f).await,
        }
    }

    /// Stores an imported file's rows, all or none, on either engine; a row
    /// whose answers are already stored for its form is not stored again,
    /// so importing a file twice does no harm (the caller drops repeats
    /// within the file). The repeat lookups run first, in a read, which
    /// never holds up the intake's writer; the write then only looks at
    /// what was stored since and inserts, so web posts alongside an import
    /// wait for a short write, not for the whole file.
    pub(crate) async fn import(
        &self,
        subs: Vec<NewSubmission>,
    ) -> Result<Vec<Imported>, StoreError> {
        let subs = Arc::new(subs);
        let read_at = now_ms();
        let lookups = Arc::clone(&subs);
        let (known, last_seen) = self
            .read(move |db| {
                let last = db
                    .one("SELECT COALESCE(MAX(id), 0) FROM submissions", &[])?
                    .int(0)?;
                let known = lookups
                    .iter()
                    .map(|s| already_stored(db, &s.form_id, &s.hash))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((known, last))
            })
            .await?;
        tracing::debug!("import: repeat lookups done");
        let started = std::time::Instant::now();
        let known = Arc::new(known);
        let out = self
            .write(move |db| {
                // The indexes on random keys (reference, hash) take inserts
                // all over their trees: a page cache that holds them keeps
                // SQLite's write short (its default of 2,000 pages spills
                // and rereads); back to the default after.
                let sqlite = db.engine() == sql::Engine::Sqlite;
                if sqlite {
                    db.batch("PRAGMA cache_size = -262144")?;
                }
                let out = insert_imported(db, &subs, &known, last_seen, read_at);
                if sqlite {
                    db.batch("PRAGMA cache_size = -2000")?;
                }
                out
            })
            .await?;
        tracing::debug!("import: written in {:?}", started.elapsed());
        Ok(out)
    }

    /// A write in one transaction on either engine: on SQLite inside the
    /// writer thread's transaction (see [`Writer::apply`]), so it never
    /// contends with the posts' writer for the lock; on PostgreSQL on a
    /// pooled connection. `Fn`: SQLite may redo it when its batch failed.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&mut dyn sql::Sql) -> Result<T, StoreError> + Send + Sync + 'static,
    {
        match self {
            Store::Sqlite { writer, .. } => {
                let slot = Arc::new(std::sync::Mutex::new(None));
                let out = Arc::clone(&slot);
                writer
                    .apply(Arc::new(move |db| {
                        let v = f(db)?;
                        if let Ok(mut s) = out.lock() {
                            *s = Some(v);
                        }
                        Ok(1)
                    }))
                    .await?;
                let v = slot.lock().ok().and_then(|mut s| s.take());
                v.ok_or_else(|| StoreError::Sqlite("internal: a write without a result".into()))
            }
            Store::Postgres(pg) => pg.run(f).await,
        }
    }
}

/// Runs a command (`gazette export`, `import`, `outbox`, `mailbox --once`)
/// on the configured database, whichever engine: the store is opened (and
/// migrated) as the service opens it, on a runtime of the command's own.
pub(crate) fn command<T, F, Fut>(config: &config::Config, f: F) -> anyhow::Result<T>
where
    F: FnOnce(Arc<Store>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let (store, thread) = Store::open(config, Arc::new(Notify::new()))?;
    let store = Arc::new(store);
    let out = rt.block_on(f(Arc::clone(&store)));
    // The writer thread ends once the last handle to it is gone.
    drop(store);
    let _ = thread.join();
    out
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e.to_string())
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Opens (creating if needed) the database with the durability settings and
/// brings its schema up to date.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    let text = path.to_string_lossy();
    if text.contains("postgres://") || text.contains("postgresql://") {
        return Err(StoreError::SqliteOnly("this command"));
    }
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Sqlite(format!("cannot create {}: {e}", dir.display())))?;
        }
    }
    let mut conn = Connection::open(path)
        .map_err(|e| StoreError::Sqlite(format!("{}: {e}", path.display())))?;
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(10))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Sqlite(format!(
            "cannot switch to WAL journal mode (got {mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Runs every migration not yet run, all in one transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    // Up to date (the usual case): no write lock, so `gazette import` beside
    // a busy intake does not queue for one just to open the database.
    if schema_version(&mut sql::Lite(conn))? == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    migrate_on(&mut sql::Lite(&tx), now_ms())?;
    tx.commit()?;
    Ok(())
}

/// A valid return about to be stored.
#[derive(Debug, Clone)]
pub(crate) struct NewSubmission {
    pub(crate) form_id: String,
    pub(crate) form_title: String,
    pub(crate) unit: String,
    /// `Answers` as JSON.
    pub(crate) answers_json: String,
    /// See [`repeat_hash`].
    pub(crate) hash: String,
    pub(crate) late: bool,
    pub(crate) received_at: i64,
    /// Who is emailed; empty: no outbox row.
    pub(crate) recipients: Vec<String>,
    /// Fax numbers; one `fax` outbox row each (see `fax::queued_numbers`).
    pub(crate) faxes: Vec<String>,
    pub(crate) source: Source,
    /// A web filer's own address for a copy of the receipt (`[intake]
    /// confirm_to_filer`); one `replies` row.
    pub(crate) filer: Option<String>,
}

/// What a caller gets back once its transaction has committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub(crate) reference: String,
    pub(crate) token: String,
    /// The same answers came within [`REPEAT_WINDOW_MS`]: this is the earlier receipt.
    pub(crate) repeat: bool,
}

/// sha256 over the form id and the canonical (normalised, field-ordered) answers.
pub fn repeat_hash(form_id: &str, answers_json: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(form_id.as_bytes());
    h.update([0u8]);
    h.update(answers_json.as_bytes());
    crate::refs::hex(&h.finalize())
}

/// The outcome of one delivery attempt, written back by the outbox worker.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{Channel, Delivery};
    use std::sync::Arc;
    use tokio::sync::Notify;

    fn sample(hash: &str, at: i64) -> NewSubmission {
        NewSubmission {
            form_id: "departments".into(),
            form_title: "市直主管部门信息一览表".into(),
            unit: "梅州市某局".into(),
            answers_json: r#"[["unit","梅州市某局"]]"#.into(),
            hash: hash.into(),
            late: false,
            received_at: at,
            recipients: vec!["office@example.org".into()],
            faxes: vec![],
            source: Source::Web,
            filer: None,
        }
    }

    #[test]
    fn migrations_set_user_version_and_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("var/x.db");
        let conn = open(&path).unwrap();
        assert_eq!(
            schema_version(&mut sql::Lite(&conn)).unwrap(),
            SCHEMA_VERSION
        );
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "FULL");
        drop(conn);
        // Reopening runs nothing again and keeps the version.
        let conn = open(&path).unwrap();
        assert_eq!(
            schema_version(&mut sql::Lite(&conn)).unwrap(),
            SCHEMA_VERSION
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_bad_row_does_not_fail_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("x.db")).unwrap();
        let (writer, handle) = Writer::start(conn, Arc::new(Notify::new())).unwrap();
        let now = now_ms();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let w = writer.clone();
            let mut s = sample(&format!("h{i}"), now);
            if i == 25 {
                s.answers_json = "not json".into();
            }
            tasks.push(tokio::spawn(async move { w.insert(s).await }));
        }
        let mut ok = 0;
        for (i, t) in tasks.into_iter().enumerate() {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(e) => assert_eq!(i, 25, "{e}"),
            }
        }
        assert_eq!(ok, 49);
        drop(writer);
        handle.join().unwrap();
    }

    #[test]
    fn repeat_lookups_use_the_form_hash_index() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("g.db")).unwrap();
        let plan: Vec<String> = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT reference FROM submissions
                 WHERE form_id = ?1 AND hash = ?2 ORDER BY id LIMIT 1",
            )
            .unwrap()
            .query_map(["f", "h"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|p| p.contains("submissions_form_hash")),
            "{plan:?}"
        );
    }

    /// The admin list reads one page's notifications by submission
    /// (migration 6), not by walking the outbox.
    #[test]
    fn the_lists_notification_lookup_uses_the_submission_index() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("g.db")).unwrap();
        let plan: Vec<String> = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT o.submission_id, o.channel, o.status FROM outbox o
                 WHERE o.submission_id IN (?1, ?2, ?3) ORDER BY o.id",
            )
            .unwrap()
            .query_map([1, 2, 3], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|p| p.contains("outbox_submission")),
            "{plan:?}"
        );
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let conn = open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        let e = open(&path).unwrap_err();
        assert!(e.to_string().contains("99"), "{e}");
    }

    /// A database made by the release before the states became codes.
    #[test]
    fn version_2_database_is_migrated_to_codes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch(include_str!("../fixtures/schema_v2.sql"))
            .unwrap();
        let conn = open(&path).unwrap();
        assert_eq!(
            schema_version(&mut sql::Lite(&conn)).unwrap(),
            SCHEMA_VERSION
        );
        let states: Vec<(i64, crate::status::Processing, String)> = conn
            .prepare("SELECT submission_id, status, account FROM processing ORDER BY 1")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        use crate::status::Processing as P;
        assert_eq!(
            states,
            [
                (1, P::SetUp, "mz_jia".to_string()),
                (2, P::FedBack, "mz_yi".to_string()),
                (3, P::Pending, String::new())
            ]
        );
        // The new CHECK holds: a label is no longer a state.
        assert!(conn
            .execute(
                "INSERT INTO processing (submission_id, status, updated_at) VALUES (4, '已设置', 0)",
                []
            )
            .is_err());
        let summary = outbox_summary(&mut sql::Lite(&conn)).unwrap();
        assert_eq!((summary.submissions, summary.sent), (4, 1));
        let lines: Vec<_> = summary
            .lines
            .iter()
            .map(|l| (l.reference.as_str(), l.channel, l.status))
            .collect();
        assert_eq!(
            lines,
            [
                ("BBBBBBB3", Channel::Email, Delivery::Pending),
                ("AAAAAAA2", Channel::Fax, Delivery::Failed)
            ]
        );
        let source: Source = conn
            .query_row("SELECT source FROM submissions WHERE id = 2", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(source, Source::Import);
        drop(conn);

        // The service opens it and writes next to the old rows.
        let root = dir.path();
        std::fs::write(
            root.join(config::FILE_NAME),
            "[intake]\ndatabase = \"x.db\"\n[mail]\ntransport = \"mail\"\n",
        )
        .unwrap();
        let service = crate::Service::new(
            config::Config::load_with_env(root, vec![]).unwrap(),
            vec![],
            theme::Theme::load(root).unwrap(),
        )
        .unwrap();
        drop(service);
    }

    #[test]
    fn old_schema_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        // A database from before any migration: an empty file with version 0.
        Connection::open(&path).unwrap();
        let conn = open(&path).unwrap();
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('submissions', 'outbox')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn group_commit_answers_each_and_finds_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let conn = open(&path).unwrap();
        let notify = Arc::new(Notify::new());
        let (writer, handle) = Writer::start(conn, notify.clone()).unwrap();
        let now = now_ms();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let w = writer.clone();
            tasks.push(tokio::spawn(async move {
                w.insert(sample(&format!("h{i}"), now)).await
            }));
        }
        let mut refs = std::collections::HashSet::new();
        for t in tasks {
            let s = t.await.unwrap().unwrap();
            assert!(!s.repeat);
            assert!(refs.insert(s.reference));
        }
        // Same hash within the window: the earlier receipt, no new row.
        let a = writer.insert(sample("same", now)).await.unwrap();
        let b = writer.insert(sample("same", now + 60_000)).await.unwrap();
        assert!(b.repeat);
        assert_eq!(
            (a.reference.clone(), a.token.clone()),
            (b.reference, b.token)
        );
        // After the window: a new row.
        let c = writer
            .insert(sample("same", now + REPEAT_WINDOW_MS + 1))
            .await
            .unwrap();
        assert!(!c.repeat);
        assert_ne!(c.reference, a.reference);

        let readers = Arc::new(Readers::new(path.clone()));
        let (subs, outbox) = readers
            .run(|c| {
                Ok::<_, rusqlite::Error>((
                    c.query_row("SELECT COUNT(*) FROM submissions", [], |r| {
                        r.get::<_, i64>(0)
                    })?,
                    c.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))?,
                ))
            })
            .await
            .unwrap();
        assert_eq!((subs, outbox), (202, 202));
        assert!(readers
            .run(|c| submission_by_token(c, "K7M2XR9P00000000000000000000000000"))
            .await
            .unwrap()
            .is_none());

        let got = readers
            .run(move |c| submission_by_token(c, &a.token))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.reference, a.reference);
        assert_eq!(got.answers.0[0].0, "unit");

        // Marks: retry, then fail, then requeue.
        let items = readers
            .run(move |c| due(c, now + REPEAT_WINDOW_MS * 2, 1000))
            .await
            .unwrap();
        assert_eq!(items.len(), 202);
        let id = items[0].id;
        writer
            .mark(vec![Mark::Retry {
                id,
                tries: 1,
                next_at: now + 1_000_000_000,
                error: "down".into(),
            }])
            .await
            .unwrap();
        let left = readers
            .run(move |c| due(c, now + REPEAT_WINDOW_MS * 2, 1000))
            .await
            .unwrap();
        assert_eq!(left.len(), 201);
        writer
            .mark(vec![Mark::Failed {
                id,
                tries: 2,
                error: "550 no".into(),
            }])
            .await
            .unwrap();
        let marks: Vec<Mark> = left
            .iter()
            .map(|i| Mark::Sent { id: i.id, at: now })
            .collect();
        writer.mark(marks).await.unwrap();
        let summary = readers
            .run(|c| outbox_summary(&mut sql::Lite(c)))
            .await
            .unwrap();
        assert_eq!(summary.sent, 201);
        assert_eq!(summary.lines.len(), 1);
        assert_eq!(summary.lines[0].status, Delivery::Failed);
        assert_eq!(summary.lines[0].last_error.as_deref(), Some("550 no"));

        // Identical posts arriving together (one batch) share one receipt.
        let mut burst = Vec::new();
        for _ in 0..10 {
            let w = writer.clone();
            burst.push(tokio::spawn(
                async move { w.insert(sample("burst", now)).await },
            ));
        }
        let mut receipts = std::collections::HashSet::new();
        for t in burst {
            receipts.insert(t.await.unwrap().unwrap().reference);
        }
        assert_eq!(receipts.len(), 1);

        drop(writer);
        handle.join().unwrap();
        let conn = open(&path).unwrap();
        assert_eq!(requeue_failed(&mut sql::Lite(&conn), now).unwrap(), 1);
        assert_eq!(next_due(&conn).unwrap(), Some(now));

        // After a restart the repeat index is rebuilt from the database.
        let (writer, handle) = Writer::start(conn, notify).unwrap();
        let again = writer.insert(sample("burst", now + 1000)).await.unwrap();
        assert!(again.repeat);
        assert!(receipts.contains(&again.reference));
        drop(writer);
        handle.join().unwrap();
    }
}
