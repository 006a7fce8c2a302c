//! The mailbox's tables (`mail_messages`, `replies`; migration 5): a
//! batch of read messages stored in one transaction, the replies queue,
//! and what the admin pages show. The same statements on both engines.

use super::message::{Meta, Table};
use super::reply::{self, Part, RowLine};
use crate::status::Source;
use crate::store::sql::{vals, Row, Sql};
use crate::store::{self, NewSubmission, StoreError};
use config::Config;

/// What became of a message, as `mail_messages.outcome` holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// At least one attachment's rows are stored.
    Stored,
    /// Spreadsheets, none stored (each problem told to the sender).
    Refused,
    /// No spreadsheet; the sender was told how to return the tables.
    NoTable,
    /// No spreadsheet, left in the folder for a person (`no_attachment = "leave"`).
    Left,
    /// An auto-reply, bounce or list message: nothing stored, no answer.
    Ignored,
    /// Not readable, too large, or a spreadsheet refused for its size: in the failed folder.
    Failed,
}

impl Outcome {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Refused => "refused",
            Outcome::NoTable => "no_table",
            Outcome::Left => "left",
            Outcome::Ignored => "ignored",
            Outcome::Failed => "failed",
        }
    }

    pub(crate) fn from_code(code: &str) -> Option<Outcome> {
        [
            Outcome::Stored,
            Outcome::Refused,
            Outcome::NoTable,
            Outcome::Left,
            Outcome::Ignored,
            Outcome::Failed,
        ]
        .into_iter()
        .find(|o| o.code() == code)
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Outcome::Stored => "已登记",
            Outcome::Refused => "表格有误，已回复",
            Outcome::NoTable => "没有表格，已回复",
            Outcome::Left => "没有表格，待人工处理",
            Outcome::Ignored => "自动邮件，未回复",
            Outcome::Failed => "无法处理",
        }
    }
}

/// The answer a message gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    None,
    /// Receipt or problems, from the tables.
    Result,
    HowTo,
    TooLarge(u64),
}

/// A message read and judged, ready to be stored.
#[derive(Debug)]
pub(crate) struct Decided {
    pub(crate) meta: Meta,
    pub(crate) outcome: Outcome,
    pub(crate) note: String,
    pub(crate) tables: Vec<Table>,
    pub(crate) answer: Answer,
}

/// The keys among `keys` already handled, with their outcome.
pub(crate) fn known(
    db: &mut dyn Sql,
    keys: &[String],
) -> Result<std::collections::HashMap<String, Outcome>, StoreError> {
    let mut out = std::collections::HashMap::new();
    for k in keys {
        if let Some(r) = db.opt(
            "SELECT outcome FROM mail_messages WHERE message_key = ?1",
            vals![k],
        )? {
            out.insert(
                k.clone(),
                Outcome::from_code(&r.text(0)?).unwrap_or(Outcome::Failed),
            );
        }
    }
    Ok(out)
}

/// Stores every message of the batch, its rows and its answer, in the
/// caller's transaction: after the COMMIT the messages may be moved; before
/// it nothing of them exists. A key already stored (the same message read
/// again) stores nothing. Returns the outcome each message ends with.
pub(crate) fn store_batch(
    tx: &mut dyn Sql,
    config: &Config,
    all_forms: &[std::sync::Arc<forms::FormDef>],
    batch: &[&Decided],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Outcome>, StoreError> {
    let mut outcomes = Vec::with_capacity(batch.len());
    let now_ms = now.timestamp_millis();
    for d in batch {
        let inserted = tx.opt(
            "INSERT INTO mail_messages (message_key, message_id, sender, subject, sent_at, received_at, outcome, note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (message_key) DO NOTHING RETURNING id",
            vals![
                &d.meta.key,
                &d.meta.message_id,
                &d.meta.sender,
                &d.meta.subject,
                d.meta.sent_at,
                now_ms,
                d.outcome.code(),
                &d.note
            ],
        )?;
        let Some(inserted) = inserted else {
            // Read twice (a crash before the move, or the same message
            // delivered again): what it came to the first time stands.
            let code = tx
                .one(
                    "SELECT outcome FROM mail_messages WHERE message_key = ?1",
                    vals![&d.meta.key],
                )?
                .text(0)?;
            outcomes.push(Outcome::from_code(&code).unwrap_or(Outcome::Failed));
            continue;
        };
        let mail_id = inserted.int(0)?;
        let mut parts = Vec::new();
        let mut defs: Vec<std::sync::Arc<forms::FormDef>> = Vec::new();
        for table in &d.tables {
            match table {
                Table::Rows { name, def, rows } => {
                    parts.push(store_rows(tx, config, def, name, rows, mail_id, now)?);
                    if !defs.iter().any(|x| x.id == def.id) {
                        defs.push(def.clone());
                    }
                }
                Table::Refused {
                    name,
                    form,
                    problems,
                    ..
                } => parts.push(Part::Refused {
                    name: name.clone(),
                    form: form.clone(),
                    problems: problems.clone(),
                }),
            }
        }
        outcomes.push(d.outcome);
        if d.meta.reply_to.is_empty() || d.answer == Answer::None {
            continue;
        }
        // The links of the forms the answer is about, else of every form.
        let about = if defs.is_empty() {
            all_forms
        } else {
            &defs[..]
        };
        let links = reply::links(
            config,
            &about.iter().map(|d| d.as_ref()).collect::<Vec<_>>(),
        );
        let (kind, body) = match d.answer {
            Answer::Result => {
                let stored = parts.iter().any(|p| matches!(p, Part::Stored { .. }));
                (
                    if stored { "receipt" } else { "problems" },
                    reply::result_text(config, &d.meta, &parts, &links),
                )
            }
            Answer::HowTo => ("howto", reply::howto_text(config, &d.meta, &links)),
            Answer::TooLarge(limit) => (
                "problems",
                reply::too_large_text(config, &d.meta, limit, &links),
            ),
            Answer::None => continue,
        };
        let in_reply_to = if d.meta.message_id.is_empty() {
            String::new()
        } else {
            reply::angle(&d.meta.message_id)
        };
        tx.execute(
            "INSERT INTO replies (kind, mail_id, recipient, subject, body, in_reply_to, refs, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            vals![
                kind,
                mail_id,
                &d.meta.reply_to,
                reply::subject(&d.meta.subject),
                body,
                in_reply_to,
                reply::references(&d.meta),
                now_ms
            ],
        )?;
    }
    Ok(outcomes)
}

/// One attachment's rows, as `gazette import` stores a file: repeats within
/// it dropped, rows already stored for the form (an earlier import, the web,
/// an earlier mail) not stored again, the rest with their notifications.
/// The caller's transaction makes it all or none.
fn store_rows(
    tx: &mut dyn Sql,
    config: &Config,
    def: &forms::FormDef,
    name: &str,
    rows: &[forms::Answers],
    mail_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Part, StoreError> {
    let late = def.is_late(now);
    let mut unique: Vec<(NewSubmission, &forms::Answers)> = Vec::new();
    // Up to 10,000 rows per sheet: a set, not a scan per row.
    let mut seen = std::collections::HashSet::new();
    for answers in rows {
        let new = crate::service::new_submission(
            config,
            def,
            answers,
            late,
            now.timestamp_millis(),
            Source::Mail,
        )
        .map_err(|e| StoreError::Sqlite(format!("answers: {e}")))?;
        if seen.insert(new.hash.clone()) {
            unique.push((new, answers));
        }
    }
    let mut lines = Vec::with_capacity(unique.len());
    for (new, answers) in &unique {
        let (reference, already) = match store::already_stored(tx, &new.form_id, &new.hash)? {
            Some(r) => (r, true),
            None => {
                let stored = store::insert_new(tx, new)?;
                tx.execute(
                    "UPDATE submissions SET mail_id = ?1 WHERE reference = ?2",
                    vals![mail_id, &stored.reference],
                )?;
                (stored.reference, false)
            }
        };
        lines.push(RowLine {
            reference,
            already,
            rows: crate::present::answer_rows(Some(def), answers),
        });
    }
    Ok(Part::Stored {
        name: name.to_string(),
        form: def.title.clone(),
        late,
        rows: lines,
    })
}

/// A message as the admin pages show it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct MailRow {
    pub(crate) id: i64,
    pub(crate) sender: String,
    pub(crate) subject: String,
    pub(crate) sent: String,
    pub(crate) received: String,
    pub(crate) outcome: String,
    pub(crate) note: String,
}

/// The latest messages that could not be handled (the failed folder).
pub(crate) fn failed_messages(
    db: &mut dyn Sql,
    limit: usize,
) -> Result<(i64, Vec<MailRow>), StoreError> {
    let total = db
        .one(
            "SELECT COUNT(*) FROM mail_messages WHERE outcome IN ('failed', 'left')",
            &[],
        )?
        .int(0)?;
    let rows = db
        .query(
            "SELECT id, sender, subject, sent_at, received_at, outcome, note FROM mail_messages
             WHERE outcome IN ('failed', 'left') ORDER BY id DESC LIMIT ?1",
            vals![limit as i64],
        )?
        .iter()
        .map(mail_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((total, rows))
}

fn mail_row(r: &Row) -> Result<MailRow, StoreError> {
    let outcome = r.text(5)?;
    Ok(MailRow {
        id: r.int(0)?,
        sender: r.text(1)?,
        subject: r.text(2)?,
        sent: r
            .opt_int(3)?
            .map(crate::present::cst_text)
            .unwrap_or_default(),
        received: crate::present::cst_text(r.int(4)?),
        outcome: Outcome::from_code(&outcome)
            .map(Outcome::label)
            .unwrap_or("?")
            .to_string(),
        note: r.text(6)?,
    })
}

/// The message a return came in, if it came by mail.
pub(crate) fn mail_of_submission(
    db: &mut dyn Sql,
    submission_id: i64,
) -> Result<Option<MailRow>, StoreError> {
    db.opt(
        "SELECT m.id, m.sender, m.subject, m.sent_at, m.received_at, m.outcome, m.note
         FROM submissions s JOIN mail_messages m ON m.id = s.mail_id WHERE s.id = ?1",
        vals![submission_id],
    )?
    .map(|r| mail_row(&r))
    .transpose()
}

/// A reply waiting to be sent.
#[derive(Debug, Clone)]
pub(crate) struct ReplyItem {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) recipient: String,
    pub(crate) subject: String,
    pub(crate) body: String,
    pub(crate) in_reply_to: String,
    pub(crate) refs: String,
    pub(crate) tries: i64,
    /// For a filer's copy: the return it confirms.
    pub(crate) submission: Option<store::Submission>,
}

/// What a reply row is read as.
const REPLY_COLUMNS: &str =
    "id, kind, recipient, subject, body, in_reply_to, refs, tries, submission_id";

/// Pending replies due at `now`, oldest first. On PostgreSQL they are
/// claimed for `node` until `lease_end`, as outbox rows are (see
/// `store::pg`), so each is sent by one node; SQLite has one node.
pub(crate) fn due_replies(
    db: &mut dyn Sql,
    now: i64,
    limit: usize,
    claim: Option<(&str, i64)>,
) -> Result<Vec<ReplyItem>, StoreError> {
    let rows = match claim {
        None => db.query(
            &format!(
                "SELECT {REPLY_COLUMNS} FROM replies WHERE status = 'pending' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, id LIMIT ?2"
            ),
            vals![now, limit as i64],
        )?,
        Some((node, lease_end)) => db.query(
            &format!(
                "UPDATE replies SET claimed_by = ?3, claimed_until = ?4
                 WHERE id IN (
                     SELECT id FROM replies
                     WHERE status = 'pending' AND next_attempt_at <= ?1
                       AND (claimed_until IS NULL OR claimed_until < ?1 OR claimed_by = ?3)
                     ORDER BY next_attempt_at, id LIMIT ?2
                     FOR UPDATE SKIP LOCKED)
                 RETURNING {REPLY_COLUMNS}"
            ),
            vals![now, limit as i64, node, lease_end],
        )?,
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let mut item = ReplyItem {
            id: r.int(0)?,
            kind: r.text(1)?,
            recipient: r.text(2)?,
            subject: r.text(3)?,
            body: r.text(4)?,
            in_reply_to: r.text(5)?,
            refs: r.text(6)?,
            tries: r.int(7)?,
            submission: None,
        };
        if let Some(id) = r.opt_int(8)? {
            let reference = db
                .opt("SELECT reference FROM submissions WHERE id = ?1", vals![id])?
                .map(|r| r.text(0))
                .transpose()?;
            if let Some(reference) = reference {
                item.submission = store::submission_by_reference(db, &reference)?;
            }
        }
        out.push(item);
    }
    out.sort_by_key(|i| i.id);
    Ok(out)
}

/// When the earliest pending reply is due (or, on PostgreSQL, another
/// node's claim on it ends).
pub(crate) fn next_reply_due(db: &mut dyn Sql) -> Result<Option<i64>, StoreError> {
    let sql = match db.engine() {
        store::sql::Engine::Sqlite => {
            "SELECT MIN(next_attempt_at) FROM replies WHERE status = 'pending'"
        }
        store::sql::Engine::Postgres => {
            "SELECT MIN(GREATEST(next_attempt_at, COALESCE(claimed_until + 1, 0)))
             FROM replies WHERE status = 'pending'"
        }
    };
    db.one(sql, &[])?.opt_int(0)
}

/// Writes back delivery results (the outbox worker's marks, for replies),
/// dropping PostgreSQL's claims.
pub(crate) fn mark_replies(db: &mut dyn Sql, marks: &[store::Mark]) -> Result<usize, StoreError> {
    let claims = match db.engine() {
        store::sql::Engine::Sqlite => "",
        store::sql::Engine::Postgres => ", claimed_by = NULL, claimed_until = NULL",
    };
    for m in marks {
        match m {
            store::Mark::Sent { id, at } => db.execute(
                &format!(
                    "UPDATE replies SET status = 'sent', sent_at = ?2, tries = tries + 1, last_error = NULL{claims}
                     WHERE id = ?1"
                ),
                vals![*id, *at],
            )?,
            store::Mark::Retry {
                id,
                tries,
                next_at,
                error,
            } => db.execute(
                &format!(
                    "UPDATE replies SET tries = ?2, next_attempt_at = ?3, last_error = ?4{claims}
                     WHERE id = ?1 AND status = 'pending'"
                ),
                vals![*id, *tries, *next_at, error],
            )?,
            store::Mark::Failed { id, tries, error } => db.execute(
                &format!(
                    "UPDATE replies SET status = 'failed', tries = ?2, last_error = ?3{claims}
                     WHERE id = ?1 AND status = 'pending'"
                ),
                vals![*id, *tries, error],
            )?,
        };
    }
    Ok(marks.len())
}

/// A reply as the admin outbox lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ReplyRow {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) recipient: String,
    pub(crate) subject: String,
    pub(crate) status: crate::status::Delivery,
    pub(crate) status_label: &'static str,
    pub(crate) tries: i64,
    pub(crate) last_error: Option<String>,
    pub(crate) created: String,
}

pub(crate) fn kind_label(kind: &str) -> &'static str {
    match kind {
        "receipt" => "回执（邮件报送）",
        "problems" => "问题清单（邮件报送）",
        "howto" => "报送说明（邮件报送）",
        "filer_copy" => "回执副本（网上填报人）",
        _ => "回复",
    }
}

/// The latest replies, every status (newest first).
pub(crate) fn reply_rows(db: &mut dyn Sql, limit: usize) -> Result<Vec<ReplyRow>, StoreError> {
    db.query(
        "SELECT id, kind, recipient, subject, status, tries, last_error, created_at FROM replies
         ORDER BY CASE status WHEN 'failed' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END, id DESC LIMIT ?1",
        vals![limit as i64],
    )?
    .iter()
    .map(|r| {
        let kind = r.text(1)?;
        let status = r.code(4, crate::status::Delivery::from_code)?;
        Ok(ReplyRow {
            id: r.int(0)?,
            kind: kind_label(&kind).to_string(),
            recipient: r.text(2)?,
            subject: r.text(3)?,
            status,
            status_label: status.label(),
            tries: r.int(5)?,
            last_error: r.opt_text(6)?,
            created: crate::present::cst_text(r.int(7)?),
        })
    })
    .collect()
}

/// Requeues failed replies (with `gazette outbox retry`).
pub(crate) fn requeue_failed_replies(db: &mut dyn Sql, now: i64) -> Result<usize, StoreError> {
    let claims = match db.engine() {
        store::sql::Engine::Sqlite => "",
        store::sql::Engine::Postgres => ", claimed_by = NULL, claimed_until = NULL",
    };
    Ok(db.execute(
        &format!(
            "UPDATE replies SET status = 'pending', tries = 0, next_attempt_at = ?1{claims}
             WHERE status = 'failed'"
        ),
        vals![now],
    )? as usize)
}
