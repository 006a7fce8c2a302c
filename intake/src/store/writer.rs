//! The one writer thread: queued writes folded into shared transactions
//! (group commit), the repeat index, and the outbox marks.

use super::sql::{vals, Lite, Sql};
use super::{NewSubmission, StoreError, Stored, REPEAT_WINDOW_MS};
use crate::status::Channel;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

/// How long the writer waits for another process's write lock.
const WRITER_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Most queued operations folded into one transaction.
const MAX_BATCH: usize = 512;

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
pub(crate) type ApplyFn =
    Arc<dyn Fn(&mut dyn super::sql::Sql) -> Result<usize, StoreError> + Send + Sync>;

enum Op {
    Insert(NewSubmission, oneshot::Sender<Result<Stored, StoreError>>),
    Marks(Vec<Mark>, oneshot::Sender<Result<(), StoreError>>),
    Apply(ApplyFn, oneshot::Sender<Result<usize, StoreError>>),
}

/// Handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub(crate) struct Writer {
    tx: mpsc::Sender<Op>,
    health: Arc<Health>,
}

/// How the last commit went, for `/healthz`: `None` when it succeeded (or
/// nothing was written yet), else its error.
#[derive(Default)]
pub(crate) struct Health {
    last_error: std::sync::Mutex<Option<String>>,
}

impl Health {
    pub(crate) fn set(&self, error: Option<String>) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = error;
        }
    }

    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error.lock().ok().and_then(|e| e.clone())
    }
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
        // `gazette import` holds the write lock while it inserts its rows
        // (all or none): a few seconds for 60,000 rows, more on a loaded
        // machine. Posts wait that out (answered late, not refused), well
        // within `[intake] request_timeout`.
        if let Err(e) = conn.busy_timeout(WRITER_BUSY_TIMEOUT) {
            tracing::warn!("cannot set the writer's busy timeout: {e}");
        }
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
        let health = Arc::new(Health::default());
        let reported = Arc::clone(&health);
        let handle = std::thread::Builder::new()
            .name("gazette-db-writer".into())
            .spawn(move || {
                writer_loop(conn, rx, notify, &reported);
                drop(checkpoints);
            })?;
        Ok((Writer { tx, health }, handle))
    }

    /// The last commit's error, if it failed.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.health.last_error()
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

fn writer_loop(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Op>,
    notify: Arc<Notify>,
    health: &Health,
) {
    let mut batch: Vec<Op> = Vec::with_capacity(MAX_BATCH);
    let (mut transactions, mut operations) = (0u64, 0u64);
    let mut slow = SlowCommits::default();
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
        let clock = std::time::Instant::now();
        let inserted = commit_batch(&mut conn, &mut batch, health);
        slow.record(clock.elapsed());
        if inserted {
            notify.notify_one();
        }
    }
    tracing::info!(
        "database writer done: {operations} operations in {transactions} transactions ({:.1} per commit)",
        operations as f64 / transactions.max(1) as f64
    );
    tracing::info!("{slow}");
}

/// How many transactions took long (statements, COMMIT and its fsync), for
/// finding where a latency tail comes from: said when the writer stops.
#[derive(Default)]
struct SlowCommits {
    over_10ms: u64,
    over_25ms: u64,
    over_100ms: u64,
    longest: Duration,
}

impl SlowCommits {
    fn record(&mut self, took: Duration) {
        self.over_10ms += u64::from(took > Duration::from_millis(10));
        self.over_25ms += u64::from(took > Duration::from_millis(25));
        self.over_100ms += u64::from(took > Duration::from_millis(100));
        self.longest = self.longest.max(took);
    }
}

impl std::fmt::Display for SlowCommits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "database writer: transactions over 10 ms: {}, over 25 ms: {}, over 100 ms: {}; longest {:.1} ms",
            self.over_10ms,
            self.over_25ms,
            self.over_100ms,
            self.longest.as_secs_f64() * 1000.0
        )
    }
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

/// Applies `ops` in one transaction; any error rolls all of them back.
fn run_ops(conn: &mut Connection, ops: &[Op]) -> Result<Vec<Outcome>, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcomes = Vec::with_capacity(ops.len());
    for op in ops {
        outcomes.push(match op {
            Op::Insert(s, _) => Outcome::Insert(Ok(insert_one(&tx, s)?)),
            Op::Marks(marks, _) => {
                apply_marks(&mut Lite(&tx), marks)?;
                Outcome::Marks(Ok(()))
            }
            Op::Apply(f, _) => Outcome::Apply(Ok(f(&mut super::sql::Lite(&tx))?)),
        });
    }
    tx.commit()?;
    Ok(outcomes)
}

/// Applies `batch` in one transaction and replies to each caller after the
/// COMMIT. Should anything fail, the batch is redone one operation per
/// transaction, so only the failing caller gets the error. Returns whether
/// any new outbox row was stored.
fn commit_batch(conn: &mut Connection, batch: &mut Vec<Op>, health: &Health) -> bool {
    let outcomes = match run_ops(conn, batch) {
        Ok(outcomes) => {
            health.set(None);
            outcomes
        }
        Err(e) if batch.len() > 1 => {
            tracing::warn!(
                "a batch of {} failed ({e}); retrying one by one",
                batch.len()
            );
            // Healthy again as soon as one of them commits.
            let mut last = Some(e.to_string());
            let outcomes = batch
                .iter()
                .map(|op| match run_ops(conn, std::slice::from_ref(op)) {
                    Ok(mut one) if one.len() == 1 => {
                        last = None;
                        one.remove(0)
                    }
                    Ok(_) => Outcome::failed(op, "no outcome".into()),
                    Err(e) => {
                        tracing::error!("database write failed: {e}");
                        Outcome::failed(op, e.to_string())
                    }
                })
                .collect();
            health.set(last);
            outcomes
        }
        Err(e) => {
            tracing::error!("database write failed: {e}");
            health.set(Some(e.to_string()));
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
                inserted |=
                    !(new.recipients.is_empty() && new.faxes.is_empty() && new.filer.is_none())
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

/// A repeat of a return stored in the last ten minutes (a double click, a
/// resend) gets that return's receipt; anything else is stored. The lookup
/// goes through `submissions_form_hash` in the writer's own transaction, so
/// it also sees a repeat earlier in the same batch. (It replaced a map of
/// ten minutes of hashes in memory, which grew with the post rate.)
fn insert_one(conn: &Connection, s: &NewSubmission) -> Result<Stored, StoreError> {
    let earlier = conn
        // Named: without statistics the planner would take
        // `submissions_form (form_id, received_at)` and walk every return
        // of the window (measured: 500 posts/s instead of thousands).
        .prepare_cached(
            "SELECT reference, token, received_at FROM submissions
             INDEXED BY submissions_form_hash
             WHERE form_id = ?1 AND hash = ?2
             ORDER BY id DESC LIMIT 1",
        )?
        .query_row(params![s.form_id, s.hash], |r| {
            Ok((
                Stored {
                    reference: r.get(0)?,
                    token: r.get(1)?,
                    repeat: true,
                },
                r.get::<_, i64>(2)?,
            ))
        })
        .optional()?
        .filter(|(_, at)| *at >= s.received_at - REPEAT_WINDOW_MS)
        .map(|(stored, _)| stored);
    match earlier {
        Some(stored) => Ok(stored),
        None => insert_new(&mut Lite(conn), s),
    }
}

/// What became of one row of an imported file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Imported {
    Stored(Stored),
    /// The same answers were already stored for this form (an earlier import
    /// of the same file, or the same return sent on the web): the reference.
    Already(String),
}

/// The write half of an import (see [`super::Store::import`]): in the write
/// transaction, the rows the read half did not see (stored since it began)
/// are looked at, then every row not yet stored is inserted. All or none.
pub(crate) fn insert_imported(
    db: &mut dyn Sql,
    subs: &[NewSubmission],
    known: &[Option<String>],
    last_seen: i64,
    read_at: i64,
) -> Result<Vec<Imported>, StoreError> {
    let mut since: std::collections::HashMap<(String, String), String> =
        std::collections::HashMap::new();
    // Stored since the read: a higher id, or (PostgreSQL hands out ids
    // before commits, so one may land late with a lower id) received
    // within a repeat window of it. An import is one form's rows. Two
    // lookups, each on an index (the rowid; submissions_form), so the
    // write stays short however many returns the form has.
    if let Some(form) = subs.first().map(|s| s.form_id.as_str()) {
        let mut rows = db.query(
            "SELECT form_id, hash, reference FROM submissions WHERE id > ?1 ORDER BY id",
            vals![last_seen],
        )?;
        rows.extend(db.query(
            "SELECT form_id, hash, reference FROM submissions
             WHERE form_id = ?1 AND received_at >= ?2 ORDER BY id",
            vals![form, read_at - REPEAT_WINDOW_MS],
        )?);
        for r in rows {
            since.entry((r.text(0)?, r.text(1)?)).or_insert(r.text(2)?);
        }
    }
    let mut out = Vec::with_capacity(subs.len());
    for (s, known) in subs.iter().zip(known) {
        let earlier = known
            .clone()
            .or_else(|| since.get(&(s.form_id.clone(), s.hash.clone())).cloned());
        out.push(match earlier {
            Some(reference) => Imported::Already(reference),
            None => Imported::Stored(insert_new(db, s)?),
        });
    }
    Ok(out)
}

/// The reference of the earliest return to `form_id` with these answers.
pub(crate) fn already_stored(
    db: &mut dyn Sql,
    form_id: &str,
    hash: &str,
) -> Result<Option<String>, StoreError> {
    db.opt(
        "SELECT reference FROM submissions WHERE form_id = ?1 AND hash = ?2 ORDER BY id LIMIT 1",
        vals![form_id, hash],
    )?
    .map(|r| r.text(0))
    .transpose()
}

/// The submission row and its outbox rows (one email row, one row per fax
/// number) and a filer's copy, on either engine.
pub(crate) fn insert_new(db: &mut dyn Sql, s: &NewSubmission) -> Result<Stored, StoreError> {
    let mut found = None;
    // A reference already taken (one in 32^8 per pair) is drawn again.
    for _ in 0..8 {
        let reference = crate::refs::reference();
        let token = crate::refs::token(&reference);
        let row = db.opt(
            "INSERT INTO submissions
             (reference, token, form_id, form_title, unit, answers, hash, late, received_at, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (reference) DO NOTHING RETURNING id",
            vals![
                &reference,
                &token,
                &s.form_id,
                &s.form_title,
                &s.unit,
                &s.answers_json,
                &s.hash,
                s.late,
                s.received_at,
                s.source.code()
            ],
        )?;
        if let Some(r) = row {
            found = Some((r.int(0)?, reference, token));
            break;
        }
    }
    let Some((id, reference, token)) = found else {
        return Err(StoreError::Sqlite(
            "no free reference number after 8 draws".into(),
        ));
    };
    if !s.recipients.is_empty() {
        db.execute(
            "INSERT INTO outbox (submission_id, channel, recipients, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?4)",
            vals![
                id,
                Channel::Email.code(),
                recipients_json(&s.recipients)?,
                s.received_at
            ],
        )?;
    }
    for number in &s.faxes {
        db.execute(
            "INSERT INTO outbox (submission_id, channel, recipients, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?4)",
            vals![
                id,
                Channel::Fax.code(),
                recipients_json(std::slice::from_ref(number))?,
                s.received_at
            ],
        )?;
    }
    if let Some(filer) = &s.filer {
        db.execute(
            "INSERT INTO replies (kind, submission_id, recipient, next_attempt_at, created_at)
             VALUES ('filer_copy', ?1, ?2, ?3, ?3)",
            vals![id, filer, s.received_at],
        )?;
    }
    Ok(Stored {
        reference,
        token,
        repeat: false,
    })
}

/// A list of addresses (or fax numbers) as the `recipients` column's JSON.
fn recipients_json(list: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(list).map_err(|e| StoreError::Sqlite(format!("recipients: {e}")))
}

/// Writes back delivery results, on either engine: a row sent, to be
/// retried, or failed for good. PostgreSQL also drops the node's claim on
/// the row (its lease), in the same statement.
pub(crate) fn apply_marks(db: &mut dyn Sql, marks: &[Mark]) -> Result<(), StoreError> {
    let claims = match db.engine() {
        super::sql::Engine::Sqlite => "",
        super::sql::Engine::Postgres => ", claimed_by = NULL, claimed_until = NULL",
    };
    for m in marks {
        match m {
            Mark::Sent { id, at } => db.execute(
                &format!(
                    "UPDATE outbox SET status = 'sent', sent_at = ?2, tries = tries + 1, last_error = NULL{claims}
                     WHERE id = ?1"
                ),
                vals![*id, *at],
            )?,
            Mark::Retry {
                id,
                tries,
                next_at,
                error,
            } => db.execute(
                &format!(
                    "UPDATE outbox SET tries = ?2, next_attempt_at = ?3, last_error = ?4{claims}
                     WHERE id = ?1 AND status = 'pending'"
                ),
                vals![*id, *tries, *next_at, error],
            )?,
            Mark::Failed { id, tries, error } => db.execute(
                &format!(
                    "UPDATE outbox SET status = 'failed', tries = ?2, last_error = ?3{claims}
                     WHERE id = ?1 AND status = 'pending'"
                ),
                vals![*id, *tries, error],
            )?,
        };
    }
    Ok(())
}
