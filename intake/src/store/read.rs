//! Reads: receipts, the outbox queue and listings, and the reader pool.

use super::sql::{vals, Sql};
use super::StoreError;
use crate::status::{Channel, Delivery};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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

/// A submission from [`SUBMISSION_COLUMNS`] starting at column `at`.
pub(crate) fn submission_from(r: &super::sql::Row, at: usize) -> Result<Submission, StoreError> {
    let answers = r.text(at + 6)?;
    Ok(Submission {
        id: r.int(at)?,
        reference: r.text(at + 1)?,
        token: r.text(at + 2)?,
        form_id: r.text(at + 3)?,
        form_title: r.text(at + 4)?,
        unit: r.text(at + 5)?,
        answers: serde_json::from_str(&answers)
            .map_err(|e| StoreError::Sqlite(format!("answers: {e}")))?,
        late: r.flag(at + 7)?,
        received_at: r.int(at + 8)?,
    })
}

/// The submission with this reference (for the admin pages, which are
/// behind a login; the public receipt goes through the whole token).
pub(crate) fn submission_by_reference(
    db: &mut dyn Sql,
    reference: &str,
) -> Result<Option<Submission>, StoreError> {
    db.opt(
        &format!("SELECT {SUBMISSION_COLUMNS} FROM submissions s WHERE s.reference = ?1"),
        vals![reference],
    )?
    .map(|r| submission_from(&r, 0))
    .transpose()
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
pub(crate) fn outbox_rows(db: &mut dyn Sql) -> Result<Vec<OutboxRow>, StoreError> {
    db.query(
        "SELECT o.id, s.reference, s.form_id, s.form_title, s.unit, o.channel, o.status,
                o.tries, o.next_attempt_at, o.last_error
         FROM outbox o JOIN submissions s ON s.id = o.submission_id
         WHERE o.status IN ('pending', 'failed')
         ORDER BY o.status DESC, o.id",
        &[],
    )?
    .iter()
    .map(|r| {
        Ok(OutboxRow {
            id: r.int(0)?,
            reference: r.text(1)?,
            form_id: r.text(2)?,
            form_title: r.text(3)?,
            unit: r.text(4)?,
            channel: r.code(5, Channel::from_code)?,
            status: r.code(6, Delivery::from_code)?,
            tries: r.int(7)?,
            next_attempt_at: r.int(8)?,
            last_error: r.opt_text(9)?,
        })
    })
    .collect()
}

#[derive(Debug, Clone, Default)]
pub(crate) struct OutboxSummary {
    pub(crate) submissions: i64,
    pub(crate) sent: i64,
    pub(crate) lines: Vec<OutboxRow>,
}

/// Counts plus every pending and failed row.
pub(crate) fn outbox_summary(db: &mut dyn Sql) -> Result<OutboxSummary, StoreError> {
    let submissions = db.one("SELECT COUNT(*) FROM submissions", &[])?.int(0)?;
    let sent = db
        .one("SELECT COUNT(*) FROM outbox WHERE status = 'sent'", &[])?
        .int(0)?;
    Ok(OutboxSummary {
        submissions,
        sent,
        lines: outbox_rows(db)?,
    })
}

/// Puts every failed notification and reply back in the queue, due now,
/// with their tries reset (`gazette outbox retry`). Returns how many.
pub(crate) fn requeue_failed(db: &mut dyn Sql, now: i64) -> Result<usize, StoreError> {
    let claims = match db.engine() {
        super::sql::Engine::Sqlite => "",
        super::sql::Engine::Postgres => ", claimed_by = NULL, claimed_until = NULL",
    };
    let n = db.execute(
        &format!(
            "UPDATE outbox SET status = 'pending', tries = 0, next_attempt_at = ?1{claims}
             WHERE status = 'failed'"
        ),
        vals![now],
    )?;
    let replies = crate::mailbox::requeue_failed_replies(db, now)?;
    Ok(n as usize + replies)
}

/// How many read connections the pool holds at most.
pub(crate) const READERS: usize = 4;

/// A few read connections, used from blocking threads.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Connections opened so far (for tests and diagnostics).
    opened: std::sync::atomic::AtomicUsize,
    /// One permit per connection: a read waits for one instead of opening
    /// another (each is a file descriptor or two).
    permits: Arc<tokio::sync::Semaphore>,
}

impl Readers {
    pub(crate) fn new(path: PathBuf) -> Readers {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
            opened: Default::default(),
            permits: Arc::new(tokio::sync::Semaphore::new(READERS)),
        }
    }

    #[cfg(test)]
    pub(crate) fn opened(&self) -> usize {
        self.opened.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn take(&self) -> Result<Connection, StoreError> {
        if let Some(c) = self.idle.lock().ok().and_then(|mut v| v.pop()) {
            return Ok(c);
        }
        self.opened
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "query_only", "ON")?;
        Ok(conn)
    }

    fn put(&self, conn: Connection) {
        if let Ok(mut v) = self.idle.lock() {
            if v.len() < READERS {
                v.push(conn);
            }
        }
    }

    /// Runs `f` on a read connection on a blocking thread.
    pub(crate) async fn run<T, E, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        E: Into<StoreError>,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        // The permit moves into the blocking task: a caller that gives up
        // (a client gone) does not free its connection's place early.
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Sqlite(format!("read pool: {e}")))?;
        let this = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = this.take()?;
            let r = f(&conn);
            this.put(conn);
            r.map_err(Into::into)
        })
        .await
        .map_err(|e| StoreError::Sqlite(format!("read task: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn readers_never_open_more_than_the_pool_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        drop(super::super::open(&path).unwrap());
        let readers = Arc::new(Readers::new(path));
        // A burst of slow reads, far more than the pool holds: each waits
        // for a connection instead of opening its own.
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let r = Arc::clone(&readers);
                tokio::spawn(async move {
                    r.run(|c| {
                        std::thread::sleep(Duration::from_millis(5));
                        c.query_row("SELECT COUNT(*) FROM submissions", [], |r| {
                            r.get::<_, i64>(0)
                        })
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 0);
        }
        assert!(
            readers.opened() <= READERS,
            "{} connections opened",
            readers.opened()
        );
    }
}
