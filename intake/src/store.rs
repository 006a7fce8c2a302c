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

use crate::status::{Channel, Delivery, Source};
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

/// Schema migrations; `PRAGMA user_version` counts how many have run.
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
    -- writer keeps the last ten minutes of these in memory, so no index).
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
];

/// How long the same answers to the same form count as a repeat.
pub(crate) const REPEAT_WINDOW_MS: i64 = 10 * 60 * 1000;

/// Most queued operations folded into one transaction.
const MAX_BATCH: usize = 512;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(String),
    #[error("the database writer has stopped")]
    Closed,
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

/// Runs every migration newer than `user_version`, all in one transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::Sqlite(format!(
            "the database has schema version {version}, newer than this gazette knows ({known}); use a newer gazette"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
fn schema_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
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
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Mark {
    Sent {
        id: i64,
        at: i64,
    },
    Retry {
        id: i64,
        tries: i64,
        next_at: i64,
        error: String,
    },
    Failed {
        id: i64,
        tries: i64,
        error: String,
    },
}

/// A write of any other kind, run inside the writer's transaction. `Fn`, not
/// `FnOnce`: a failed batch is redone one operation at a time.
pub(crate) type ApplyFn = Arc<dyn Fn(&Connection) -> Result<usize, rusqlite::Error> + Send + Sync>;

enum Op {
    Insert(NewSubmission, oneshot::Sender<Result<Stored, StoreError>>),
    Marks(Vec<Mark>, oneshot::Sender<Result<(), StoreError>>),
    Apply(ApplyFn, oneshot::Sender<Result<usize, StoreError>>),
}

/// Handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Op>,
}

impl Writer {
    /// Starts the writer thread on `conn`. After each commit that stored
    /// outbox rows it wakes `notify`. The thread ends when every `Writer` is
    /// dropped, after finishing what is queued.
    pub(crate) fn start(
        conn: Connection,
        notify: Arc<Notify>,
    ) -> std::io::Result<(Writer, std::thread::JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(4096);
        // Checkpoints (copying the WAL into the database file) run on a
        // thread of their own, so commits never wait behind one.
        let checkpoints = match conn.path().map(PathBuf::from) {
            Some(path) if !path.as_os_str().is_empty() => {
                let (ck_tx, ck_rx) = std::sync::mpsc::channel::<()>();
                std::thread::Builder::new()
                    .name("gazette-db-ckpt".into())
                    .spawn(move || checkpoint_loop(&path, ck_rx))?;
                if let Err(e) = conn.pragma_update(None, "wal_autocheckpoint", 0) {
                    tracing::warn!("cannot hand checkpoints to their thread: {e}");
                }
                Some(ck_tx)
            }
            _ => None,
        };
        let handle = std::thread::Builder::new()
            .name("gazette-db-writer".into())
            .spawn(move || {
                writer_loop(conn, rx, notify);
                drop(checkpoints);
            })?;
        Ok((Writer { tx }, handle))
    }

    /// Whether the writer thread has gone (it only stops on shutdown).
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Stores a submission and its outbox row; returns after the commit.
    pub(crate) async fn insert(&self, s: NewSubmission) -> Result<Stored, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Insert(s, tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` in a write transaction (with whatever else is queued);
    /// returns its result after the commit.
    pub(crate) async fn apply(&self, f: ApplyFn) -> Result<usize, StoreError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Apply(f, tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    pub(crate) async fn mark(&self, marks: Vec<Mark>) -> Result<(), StoreError> {
        if marks.is_empty() {
            return Ok(());
        }
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Op::Marks(marks, tx))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

fn writer_loop(mut conn: Connection, mut rx: mpsc::Receiver<Op>, notify: Arc<Notify>) {
    let mut recent = match Recent::load(&conn, now_ms()) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(
                "cannot read recent returns (repeats of them will be stored again): {e}"
            );
            Recent::default()
        }
    };
    let mut batch: Vec<Op> = Vec::with_capacity(MAX_BATCH);
    let (mut transactions, mut operations) = (0u64, 0u64);
    while let Some(op) = rx.blocking_recv() {
        batch.push(op);
        // Everything that queued up while the last commit was syncing goes
        // into this transaction: no waiting, so a lone request is not delayed.
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        transactions += 1;
        operations += batch.len() as u64;
        recent.prune(now_ms());
        let inserted = commit_batch(&mut conn, &mut batch, &mut recent);
        if inserted {
            notify.notify_one();
        }
    }
    tracing::info!(
        "database writer done: {operations} operations in {transactions} transactions ({:.1} per commit)",
        operations as f64 / transactions.max(1) as f64
    );
}

/// Every 200 ms, and once more when the writer stops: a PASSIVE checkpoint,
/// which never blocks the writer or readers.
fn checkpoint_loop(path: &Path, stop: std::sync::mpsc::Receiver<()>) {
    let conn = match Connection::open(path) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("checkpoint thread: {e}");
            return;
        }
    };
    loop {
        let last = match stop.recv_timeout(Duration::from_millis(200)) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) | Ok(()) => false,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => true,
        };
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!("checkpoint: {e}");
        }
        if last {
            return;
        }
    }
}

/// The repeat index: hash → receipt for the returns of the last ten minutes,
/// kept by the writer thread (cheaper than a database index on a random key).
#[derive(Default)]
struct Recent {
    by_hash: std::collections::HashMap<String, (Stored, i64)>,
    order: std::collections::VecDeque<(i64, String)>,
}

impl Recent {
    /// The returns of the last ten minutes, newest first, read by rowid so
    /// only they are visited.
    fn load(conn: &Connection, now: i64) -> Result<Recent, rusqlite::Error> {
        let cutoff = now - REPEAT_WINDOW_MS;
        let mut stmt = conn.prepare(
            "SELECT hash, reference, token, received_at FROM submissions ORDER BY id DESC",
        )?;
        let mut rows = stmt.query([])?;
        let mut found: Vec<(String, Stored, i64)> = Vec::new();
        while let Some(r) = rows.next()? {
            let at: i64 = r.get(3)?;
            if at < cutoff {
                // Rows are in arrival order; allow an hour of clock steps.
                if at < cutoff - 3_600_000 {
                    break;
                }
                continue;
            }
            let stored = Stored {
                reference: r.get(1)?,
                token: r.get(2)?,
                repeat: true,
            };
            found.push((r.get(0)?, stored, at));
        }
        let mut recent = Recent::default();
        for (hash, stored, at) in found.into_iter().rev() {
            recent.insert(hash, stored, at);
        }
        Ok(recent)
    }

    fn get(&self, hash: &str, at: i64) -> Option<Stored> {
        self.by_hash
            .get(hash)
            .filter(|(_, t)| *t >= at - REPEAT_WINDOW_MS)
            .map(|(s, _)| Stored {
                repeat: true,
                ..s.clone()
            })
    }

    fn insert(&mut self, hash: String, stored: Stored, at: i64) {
        self.order.push_back((at, hash.clone()));
        self.by_hash.insert(hash, (stored, at));
    }

    fn prune(&mut self, now: i64) {
        let cutoff = now - REPEAT_WINDOW_MS;
        while let Some((at, _)) = self.order.front() {
            if *at >= cutoff {
                break;
            }
            if let Some((at, hash)) = self.order.pop_front() {
                if self.by_hash.get(&hash).is_some_and(|(_, t)| *t == at) {
                    self.by_hash.remove(&hash);
                }
            }
        }
    }
}

/// Repeat-index entries of a transaction not yet committed.
type Pending = Vec<(String, Stored, i64)>;

enum Outcome {
    Insert(Result<Stored, StoreError>),
    Marks(Result<(), StoreError>),
    Apply(Result<usize, StoreError>),
}

impl Outcome {
    fn failed(op: &Op, text: String) -> Outcome {
        let err = StoreError::Sqlite(text);
        match op {
            Op::Insert(..) => Outcome::Insert(Err(err)),
            Op::Marks(..) => Outcome::Marks(Err(err)),
            Op::Apply(..) => Outcome::Apply(Err(err)),
        }
    }
}

/// Applies `ops` in one transaction; any error rolls all of them back. The
/// repeat index learns the new rows only once they are committed.
fn run_ops(
    conn: &mut Connection,
    ops: &[Op],
    recent: &mut Recent,
) -> Result<Vec<Outcome>, rusqlite::Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(ops.len());
    let mut pending: Pending = Vec::new();
    for op in ops {
        outcomes.push(match op {
            Op::Insert(s, _) => Outcome::Insert(Ok(insert_one(&tx, s, recent, &mut pending)?)),
            Op::Marks(marks, _) => {
                apply_marks(&tx, marks)?;
                Outcome::Marks(Ok(()))
            }
            Op::Apply(f, _) => Outcome::Apply(Ok(f(&tx)?)),
        });
    }
    tx.commit()?;
    for (hash, stored, at) in pending {
        recent.insert(hash, stored, at);
    }
    Ok(outcomes)
}

/// Applies `batch` in one transaction and replies to each caller after the
/// COMMIT. Should anything fail, the batch is redone one operation per
/// transaction, so only the failing caller gets the error. Returns whether
/// any new outbox row was stored.
fn commit_batch(conn: &mut Connection, batch: &mut Vec<Op>, recent: &mut Recent) -> bool {
    let outcomes = match run_ops(conn, batch, recent) {
        Ok(outcomes) => outcomes,
        Err(e) if batch.len() > 1 => {
            tracing::warn!(
                "a batch of {} failed ({e}); retrying one by one",
                batch.len()
            );
            batch
                .iter()
                .map(|op| match run_ops(conn, std::slice::from_ref(op), recent) {
                    Ok(mut one) if one.len() == 1 => one.remove(0),
                    Ok(_) => Outcome::failed(op, "no outcome".into()),
                    Err(e) => {
                        tracing::error!("database write failed: {e}");
                        Outcome::failed(op, e.to_string())
                    }
                })
                .collect()
        }
        Err(e) => {
            tracing::error!("database write failed: {e}");
            batch
                .iter()
                .map(|op| Outcome::failed(op, e.to_string()))
                .collect()
        }
    };
    let mut inserted = false;
    for (op, outcome) in batch.drain(..).zip(outcomes) {
        match (op, outcome) {
            (Op::Insert(new, reply), Outcome::Insert(r)) => {
                // Wake the outbox worker only for a new outbox row.
                inserted |= !(new.recipients.is_empty() && new.faxes.is_empty())
                    && matches!(&r, Ok(s) if !s.repeat);
                let _ = reply.send(r);
            }
            (Op::Marks(_, reply), Outcome::Marks(r)) => {
                let _ = reply.send(r);
            }
            (Op::Apply(_, reply), Outcome::Apply(r)) => {
                let _ = reply.send(r);
            }
            // Outcomes are made in the batch's order, one per operation.
            (Op::Insert(_, reply), _) => {
                let _ = reply.send(Err(StoreError::Sqlite("internal mismatch".into())));
            }
            (Op::Marks(_, reply), _) => {
                let _ = reply.send(Err(StoreError::Sqlite("internal mismatch".into())));
            }
            (Op::Apply(_, reply), _) => {
                let _ = reply.send(Err(StoreError::Sqlite("internal mismatch".into())));
            }
        }
    }
    inserted
}

fn insert_one(
    conn: &Connection,
    s: &NewSubmission,
    recent: &Recent,
    pending: &mut Pending,
) -> Result<Stored, rusqlite::Error> {
    let earlier = recent.get(&s.hash, s.received_at).or_else(|| {
        pending
            .iter()
            .find(|(h, _, at)| *h == s.hash && *at >= s.received_at - REPEAT_WINDOW_MS)
            .map(|(_, stored, _)| Stored {
                repeat: true,
                ..stored.clone()
            })
    });
    if let Some(stored) = earlier {
        return Ok(stored);
    }
    let stored = insert_new(conn, s)?;
    pending.push((s.hash.clone(), stored.clone(), s.received_at));
    Ok(stored)
}

/// What became of one row of an imported file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Imported {
    Stored(Stored),
    /// The same answers were already stored for this form (an earlier import
    /// of the same file, or the same return sent on the web): the reference.
    Already(String),
}

/// Stores the rows of an imported file in one transaction: all or none.
/// A row whose answers are already stored for its form is not stored again,
/// so importing a file twice does no harm. (The caller drops repeats within
/// the file.)
pub(crate) fn insert_all(
    conn: &mut Connection,
    subs: &[NewSubmission],
) -> Result<Vec<Imported>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut out = Vec::with_capacity(subs.len());
    for s in subs {
        out.push(match already_stored(&tx, &s.form_id, &s.hash)? {
            Some(reference) => Imported::Already(reference),
            None => Imported::Stored(insert_new(&tx, s)?),
        });
    }
    tx.commit()?;
    Ok(out)
}

/// The reference of the earliest return to `form_id` with these answers.
pub(crate) fn already_stored(
    conn: &Connection,
    form_id: &str,
    hash: &str,
) -> Result<Option<String>, rusqlite::Error> {
    conn.prepare_cached(
        "SELECT reference FROM submissions WHERE form_id = ?1 AND hash = ?2 ORDER BY id LIMIT 1",
    )?
    .query_row(params![form_id, hash], |r| r.get(0))
    .optional()
}

/// The submission row and its outbox rows (one email row, one row per fax number).
fn insert_new(conn: &Connection, s: &NewSubmission) -> Result<Stored, rusqlite::Error> {
    let mut tries = 0;
    let (id, reference, token) = loop {
        let reference = crate::refs::reference();
        let token = crate::refs::token(&reference);
        let r = conn
            .prepare_cached(
                "INSERT INTO submissions
                 (reference, token, form_id, form_title, unit, answers, hash, late, received_at, source)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                reference,
                token,
                s.form_id,
                s.form_title,
                s.unit,
                s.answers_json,
                s.hash,
                s.late,
                s.received_at,
                s.source
            ]);
        match r {
            Ok(_) => break (conn.last_insert_rowid(), reference, token),
            // A reference already taken: draw again.
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == ErrorCode::ConstraintViolation && tries < 8 =>
            {
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    };
    if !s.recipients.is_empty() {
        let recipients = serde_json::to_string(&s.recipients)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        conn.prepare_cached(
            "INSERT INTO outbox (submission_id, channel, recipients, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?4)",
        )?
        .execute(params![id, Channel::Email, recipients, s.received_at])?;
    }
    for number in &s.faxes {
        let recipients = serde_json::to_string(&[number])
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        conn.prepare_cached(
            "INSERT INTO outbox (submission_id, channel, recipients, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?4)",
        )?
        .execute(params![id, Channel::Fax, recipients, s.received_at])?;
    }
    Ok(Stored {
        reference,
        token,
        repeat: false,
    })
}

fn apply_marks(conn: &Connection, marks: &[Mark]) -> Result<(), rusqlite::Error> {
    for m in marks {
        match m {
            Mark::Sent { id, at } => {
                conn.prepare_cached(
                    "UPDATE outbox SET status = 'sent', sent_at = ?2, tries = tries + 1, last_error = NULL
                     WHERE id = ?1",
                )?
                .execute(params![id, at])?;
            }
            Mark::Retry {
                id,
                tries,
                next_at,
                error,
            } => {
                conn.prepare_cached(
                    "UPDATE outbox SET tries = ?2, next_attempt_at = ?3, last_error = ?4
                     WHERE id = ?1 AND status = 'pending'",
                )?
                .execute(params![id, tries, next_at, error])?;
            }
            Mark::Failed { id, tries, error } => {
                conn.prepare_cached(
                    "UPDATE outbox SET status = 'failed', tries = ?2, last_error = ?3
                     WHERE id = ?1 AND status = 'pending'",
                )?
                .execute(params![id, tries, error])?;
            }
        }
    }
    Ok(())
}

/// A stored return, as read back.
#[derive(Debug, Clone)]
pub(crate) struct Submission {
    pub(crate) id: i64,
    pub(crate) reference: String,
    pub(crate) token: String,
    pub(crate) form_id: String,
    pub(crate) form_title: String,
    pub(crate) unit: String,
    pub(crate) answers: forms::Answers,
    pub(crate) late: bool,
    pub(crate) received_at: i64,
}

const SUBMISSION_COLUMNS: &str =
    "s.id, s.reference, s.token, s.form_id, s.form_title, s.unit, s.answers, s.late, s.received_at";

fn submission_from_row(r: &rusqlite::Row, at: usize) -> rusqlite::Result<Submission> {
    let answers: String = r.get(at + 6)?;
    let answers: forms::Answers = serde_json::from_str(&answers).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(at + 6, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Submission {
        id: r.get(at)?,
        reference: r.get(at + 1)?,
        token: r.get(at + 2)?,
        form_id: r.get(at + 3)?,
        form_title: r.get(at + 4)?,
        unit: r.get(at + 5)?,
        answers,
        late: r.get(at + 7)?,
        received_at: r.get(at + 8)?,
    })
}

/// The submission a receipt token belongs to: found by the token's
/// reference, then the whole token compared in constant time.
pub(crate) fn submission_by_token(
    conn: &Connection,
    token: &str,
) -> Result<Option<Submission>, rusqlite::Error> {
    if !crate::refs::is_token(token) {
        return Ok(None);
    }
    let found = conn
        .prepare_cached(&format!(
            "SELECT {SUBMISSION_COLUMNS} FROM submissions s WHERE s.reference = ?1"
        ))?
        .query_row([crate::refs::token_reference(token)], |r| {
            submission_from_row(r, 0)
        })
        .optional()?;
    Ok(found.filter(|s| crate::refs::same_token(&s.token, token)))
}

/// The submission with this reference (for the admin pages, which are
/// behind a login; the public receipt goes through the whole token).
pub(crate) fn submission_by_reference(
    conn: &Connection,
    reference: &str,
) -> Result<Option<Submission>, rusqlite::Error> {
    conn.prepare_cached(&format!(
        "SELECT {SUBMISSION_COLUMNS} FROM submissions s WHERE s.reference = ?1"
    ))?
    .query_row([reference], |r| submission_from_row(r, 0))
    .optional()
}

/// One outbox row with its submission, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct OutboxItem {
    pub(crate) id: i64,
    pub(crate) channel: Channel,
    pub(crate) recipients: Vec<String>,
    pub(crate) tries: i64,
    pub(crate) submission: Submission,
}

/// Pending rows whose next attempt is due at `now`, oldest first.
pub(crate) fn due(
    conn: &Connection,
    now: i64,
    limit: usize,
) -> Result<Vec<OutboxItem>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT o.id, o.channel, o.recipients, o.tries, {SUBMISSION_COLUMNS}
         FROM outbox o JOIN submissions s ON s.id = o.submission_id
         WHERE o.status = 'pending' AND o.next_attempt_at <= ?1
         ORDER BY o.next_attempt_at, o.id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![now, limit as i64], |r| {
        let recipients: String = r.get(2)?;
        let recipients: Vec<String> = serde_json::from_str(&recipients).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
        })?;
        Ok(OutboxItem {
            id: r.get(0)?,
            channel: r.get(1)?,
            recipients,
            tries: r.get(3)?,
            submission: submission_from_row(r, 4)?,
        })
    })?;
    rows.collect()
}

/// When the earliest pending row is due, if any.
pub(crate) fn next_due(conn: &Connection) -> Result<Option<i64>, rusqlite::Error> {
    conn.prepare_cached("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'")?
        .query_row([], |r| r.get(0))
}

/// A pending or failed notification, for `gazette outbox` and the admin
/// outbox page.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct OutboxRow {
    pub(crate) id: i64,
    pub(crate) reference: String,
    pub(crate) form_id: String,
    pub(crate) form_title: String,
    pub(crate) unit: String,
    pub(crate) channel: Channel,
    pub(crate) status: Delivery,
    pub(crate) tries: i64,
    pub(crate) next_attempt_at: i64,
    pub(crate) last_error: Option<String>,
}

/// Every pending and failed notification: failed ones first, then pending
/// ones, each oldest first.
pub(crate) fn outbox_rows(conn: &Connection) -> Result<Vec<OutboxRow>, rusqlite::Error> {
    conn.prepare_cached(
        "SELECT o.id, s.reference, s.form_id, s.form_title, s.unit, o.channel, o.status,
                o.tries, o.next_attempt_at, o.last_error
         FROM outbox o JOIN submissions s ON s.id = o.submission_id
         WHERE o.status IN ('pending', 'failed')
         ORDER BY o.status DESC, o.id",
    )?
    .query_map([], |r| {
        Ok(OutboxRow {
            id: r.get(0)?,
            reference: r.get(1)?,
            form_id: r.get(2)?,
            form_title: r.get(3)?,
            unit: r.get(4)?,
            channel: r.get(5)?,
            status: r.get(6)?,
            tries: r.get(7)?,
            next_attempt_at: r.get(8)?,
            last_error: r.get(9)?,
        })
    })?
    .collect()
}

#[derive(Debug, Clone, Default)]
pub(crate) struct OutboxSummary {
    pub(crate) submissions: i64,
    pub(crate) sent: i64,
    pub(crate) lines: Vec<OutboxRow>,
}

/// Counts plus every pending and failed row.
pub(crate) fn outbox_summary(conn: &Connection) -> Result<OutboxSummary, rusqlite::Error> {
    let submissions = conn.query_row("SELECT COUNT(*) FROM submissions", [], |r| r.get(0))?;
    let sent = conn.query_row(
        "SELECT COUNT(*) FROM outbox WHERE status = 'sent'",
        [],
        |r| r.get(0),
    )?;
    Ok(OutboxSummary {
        submissions,
        sent,
        lines: outbox_rows(conn)?,
    })
}

/// Puts every failed row back in the queue, due now, with its tries reset.
pub(crate) fn requeue_failed(conn: &mut Connection, now: i64) -> Result<usize, rusqlite::Error> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx.execute(
        "UPDATE outbox SET status = 'pending', tries = 0, next_attempt_at = ?1 WHERE status = 'failed'",
        [now],
    )?;
    tx.commit()?;
    Ok(n)
}

/// A few read connections, used from blocking threads.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Readers {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(c) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(c);
        }
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "query_only", "ON")?;
        Ok(conn)
    }

    fn put(&self, conn: Connection) {
        if let Ok(mut v) = self.idle.lock() {
            if v.len() < 8 {
                v.push(conn);
            }
        }
    }

    /// Runs `f` on a read connection on a blocking thread.
    pub(crate) async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    {
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = this.take()?;
            let r = f(&conn);
            this.put(conn);
            r.map_err(StoreError::from)
        })
        .await
        .map_err(|e| StoreError::Sqlite(format!("read task: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        }
    }

    #[test]
    fn migrations_set_user_version_and_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("var/x.db");
        let conn = open(&path).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len() as i64);
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
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len() as i64);
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
            .execute_batch(include_str!("fixtures/schema_v2.sql"))
            .unwrap();
        let conn = open(&path).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), MIGRATIONS.len() as i64);
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
        let summary = outbox_summary(&conn).unwrap();
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
                Ok((
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
        let summary = readers.run(outbox_summary).await.unwrap();
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
        let mut conn = open(&path).unwrap();
        assert_eq!(requeue_failed(&mut conn, now).unwrap(), 1);
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
