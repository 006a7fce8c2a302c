//! The admin pages' reads and writes, the same on both engines (through
//! [`Sql`]). Reads run on the reader pool, writes through
//! [`crate::store::Store::write`] (on SQLite inside the writer thread's
//! transaction).

use crate::status::{Channel, Delivery, Processing, Source};
use crate::store::sql::{placeholders, vals, Row, Sql, V};
use crate::store::{self, StoreError, Submission};
use serde::Serialize;
use std::collections::HashMap;

/// Who made a change: one shared admin password, so one name.
pub(crate) const ACTOR: &str = "管理员";

/// One notification's state, for the listings.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChannelState {
    pub(crate) channel: Channel,
    pub(crate) status: Delivery,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct ListRow {
    pub(crate) reference: String,
    pub(crate) unit: String,
    pub(crate) received_at: i64,
    pub(crate) late: bool,
    pub(crate) status: Processing,
    pub(crate) channels: Vec<ChannelState>,
    /// 网页 / 邮件 / 导入.
    pub(crate) source: Source,
}

/// The filter of the list: every return, or those in one state.
const FILTER: &str = "s.form_id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR COALESCE(p.status, ?3) = ?2)";

/// Returns to `form_id`, newest first, optionally only those in `status`.
pub(crate) fn list(
    db: &mut dyn Sql,
    form_id: &str,
    status: Option<Processing>,
    page: u32,
) -> Result<ListPage, StoreError> {
    let pending = Processing::Pending.code();
    let status = status.map(Processing::code);
    let total = db
        .one(
            &format!(
                "SELECT COUNT(*) FROM submissions s LEFT JOIN processing p ON p.submission_id = s.id
                 WHERE {FILTER}"
            ),
            vals![form_id, status, pending],
        )?
        .int(0)?;
    let offset = i64::from(page) * PAGE_ROWS;
    let rows: Vec<(i64, ListRow)> = db
        .query(
            &format!(
                "SELECT s.id, s.reference, s.unit, s.received_at, s.late, COALESCE(p.status, ?3), s.source
                 FROM submissions s LEFT JOIN processing p ON p.submission_id = s.id
                 WHERE {FILTER}
                 ORDER BY s.received_at DESC, s.id DESC LIMIT ?4 OFFSET ?5"
            ),
            vals![form_id, status, pending, PAGE_ROWS, offset],
        )?
        .iter()
        .map(|r| {
            Ok((
                r.int(0)?,
                ListRow {
                    reference: r.text(1)?,
                    unit: r.text(2)?,
                    received_at: r.int(3)?,
                    late: r.flag(4)?,
                    status: r.code(5, Processing::from_code)?,
                    channels: Vec::new(),
                    source: r.code(6, Source::from_code)?,
                },
            ))
        })
        .collect::<Result<_, StoreError>>()?;
    // The notifications of this page's returns only (through
    // outbox_submission, migration 6).
    let mut channels: HashMap<i64, Vec<ChannelState>> = HashMap::new();
    if !rows.is_empty() {
        let ids: Vec<V> = rows.iter().map(|(id, _)| V::Int(*id)).collect();
        let found = db.query(
            &format!(
                "SELECT o.submission_id, o.channel, o.status FROM outbox o
                 WHERE o.submission_id IN ({}) ORDER BY o.id",
                placeholders(1, ids.len())
            ),
            &ids,
        )?;
        for r in found {
            channels.entry(r.int(0)?).or_default().push(ChannelState {
                channel: r.code(1, Channel::from_code)?,
                status: r.code(2, Delivery::from_code)?,
            });
        }
    }
    let rows = rows
        .into_iter()
        .map(|(id, mut row)| {
            row.channels = channels.remove(&id).unwrap_or_default();
            row
        })
        .collect();
    Ok(ListPage { rows, total })
}

/// Returns per page of the list: the office reads the newest first, and a
/// page of a province's 10^5 returns must not be built in memory at once.
pub(crate) const PAGE_ROWS: i64 = 100;

/// One page of a form's returns, and how many there are in all.
pub(crate) struct ListPage {
    pub(crate) rows: Vec<ListRow>,
    pub(crate) total: i64,
}

/// Per form: how many returns in each processing state.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct FormCounts {
    pub(crate) total: i64,
    pub(crate) pending: i64,
    pub(crate) set_up: i64,
    pub(crate) fed_back: i64,
}

pub(crate) fn counts(db: &mut dyn Sql) -> Result<HashMap<String, FormCounts>, StoreError> {
    let rows = db.query(
        "SELECT s.form_id, COALESCE(p.status, ?1), COUNT(*)
         FROM submissions s LEFT JOIN processing p ON p.submission_id = s.id
         GROUP BY 1, 2",
        vals![Processing::Pending.code()],
    )?;
    let mut out: HashMap<String, FormCounts> = HashMap::new();
    for r in rows {
        let c = out.entry(r.text(0)?).or_default();
        let n = r.int(2)?;
        c.total += n;
        match r.code(1, Processing::from_code)? {
            Processing::SetUp => c.set_up += n,
            Processing::FedBack => c.fed_back += n,
            Processing::Pending => c.pending += n,
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Notification {
    pub(crate) id: i64,
    pub(crate) channel: Channel,
    pub(crate) recipients: String,
    pub(crate) status: Delivery,
    pub(crate) tries: i64,
    pub(crate) next_attempt_at: i64,
    pub(crate) last_error: Option<String>,
    pub(crate) sent_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct AuditEntry {
    pub(crate) at: i64,
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) detail: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Detail {
    pub(crate) submission: Submission,
    pub(crate) source: Source,
    pub(crate) status: Processing,
    pub(crate) account: String,
    pub(crate) note: String,
    pub(crate) notifications: Vec<Notification>,
    pub(crate) audit: Vec<AuditEntry>,
}

pub(crate) fn detail(db: &mut dyn Sql, reference: &str) -> Result<Option<Detail>, StoreError> {
    let Some(submission) = store::submission_by_reference(db, reference)? else {
        return Ok(None);
    };
    let id = submission.id;
    let source = db
        .one("SELECT source FROM submissions WHERE id = ?1", vals![id])?
        .code(0, Source::from_code)?;
    let (status, account, note) = match db.opt(
        "SELECT status, account, note FROM processing WHERE submission_id = ?1",
        vals![id],
    )? {
        Some(r) => (r.code(0, Processing::from_code)?, r.text(1)?, r.text(2)?),
        None => (Processing::Pending, String::new(), String::new()),
    };
    let notifications = db
        .query(
            "SELECT id, channel, recipients, status, tries, next_attempt_at, last_error, sent_at
             FROM outbox WHERE submission_id = ?1 ORDER BY id",
            vals![id],
        )?
        .iter()
        .map(|r| {
            let recipients = r.text(2)?;
            // A JSON list of addresses (or numbers), shown as one line.
            let recipients = serde_json::from_str::<Vec<String>>(&recipients)
                .map(|v| v.join("，"))
                .unwrap_or(recipients);
            Ok(Notification {
                id: r.int(0)?,
                channel: r.code(1, Channel::from_code)?,
                recipients,
                status: r.code(3, Delivery::from_code)?,
                tries: r.int(4)?,
                next_attempt_at: r.int(5)?,
                last_error: r.opt_text(6)?,
                sent_at: r.opt_int(7)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let audit = db
        .query(
            "SELECT at, actor, action, detail FROM audit WHERE submission_id = ?1 ORDER BY id",
            vals![id],
        )?
        .iter()
        .map(|r| {
            Ok(AuditEntry {
                at: r.int(0)?,
                actor: r.text(1)?,
                action: r.text(2)?,
                detail: r.text(3)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Some(Detail {
        submission,
        source,
        status,
        account,
        note,
        notifications,
        audit,
    }))
}

/// A processing change asked for on the detail page.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    /// 已设置, with the account name given to the unit.
    SetUp { account: String, note: String },
    /// 已反馈 (the unit was told); the account stays.
    FedBack { note: String },
}

/// Applies `change` to the return `reference` and appends it to the audit
/// trail. Returns 0 when there is no such return.
pub(crate) fn change(
    db: &mut dyn Sql,
    reference: &str,
    change: &Change,
    now: i64,
) -> Result<usize, StoreError> {
    let Some(id) = db
        .opt(
            "SELECT id FROM submissions WHERE reference = ?1",
            vals![reference],
        )?
        .map(|r| r.int(0))
        .transpose()?
    else {
        return Ok(0);
    };
    let (action, detail) = match change {
        Change::SetUp { account, note } => {
            db.execute(
                "INSERT INTO processing (submission_id, status, account, note, updated_at)
                 VALUES (?1, ?5, ?2, ?3, ?4)
                 ON CONFLICT (submission_id) DO UPDATE SET
                   status = excluded.status, account = excluded.account,
                   note = excluded.note, updated_at = excluded.updated_at",
                vals![id, account, note, now, Processing::SetUp.code()],
            )?;
            let mut d = format!("账号：{account}");
            if !note.is_empty() {
                d.push_str(&format!("；备注：{note}"));
            }
            ("标记为已设置", d)
        }
        Change::FedBack { note } => {
            db.execute(
                "INSERT INTO processing (submission_id, status, note, updated_at)
                 VALUES (?1, ?4, ?2, ?3)
                 ON CONFLICT (submission_id) DO UPDATE SET
                   status = excluded.status,
                   note = CASE WHEN excluded.note = '' THEN processing.note ELSE excluded.note END,
                   updated_at = excluded.updated_at",
                vals![id, note, now, Processing::FedBack.code()],
            )?;
            let d = if note.is_empty() {
                String::new()
            } else {
                format!("备注：{note}")
            };
            ("标记为已反馈", d)
        }
    };
    audit(db, now, Some(id), action, &detail)?;
    Ok(1)
}

/// Action names of login records in the audit table.
const LOGIN: &str = "登录";
const LOGIN_FAILED: &str = "登录失败";

/// Notes a login attempt that reached the password check (throttled ones
/// do not): the returns hold personal data, so who got in, and who tried,
/// is kept.
pub(crate) fn record_login(
    db: &mut dyn Sql,
    at: i64,
    from: &str,
    ok: bool,
) -> Result<usize, StoreError> {
    let action = if ok { LOGIN } else { LOGIN_FAILED };
    audit(db, at, None, action, &format!("来自 {from}"))?;
    Ok(1)
}

/// A login record, for the admin overview.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LoginRow {
    pub(crate) at: String,
    pub(crate) ok: bool,
    pub(crate) detail: String,
}

/// The latest `limit` login records, newest first.
pub(crate) fn recent_logins(db: &mut dyn Sql, limit: i64) -> Result<Vec<LoginRow>, StoreError> {
    db.query(
        "SELECT at, action, detail FROM audit
         WHERE submission_id IS NULL AND action IN (?1, ?2)
         ORDER BY id DESC LIMIT ?3",
        vals![LOGIN, LOGIN_FAILED, limit],
    )?
    .iter()
    .map(|r: &Row| {
        Ok(LoginRow {
            at: crate::present::cst_text(r.int(0)?),
            ok: r.text(1)? == LOGIN,
            detail: r.text(2)?,
        })
    })
    .collect()
}

fn audit(
    db: &mut dyn Sql,
    at: i64,
    submission_id: Option<i64>,
    action: &str,
    detail: &str,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO audit (at, actor, submission_id, action, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        vals![at, ACTOR, submission_id, action, detail],
    )?;
    Ok(())
}

/// Puts failed notifications back in the queue (one, or all with `None`),
/// due now with their tries reset, and notes each in the audit trail.
pub(crate) fn requeue(db: &mut dyn Sql, id: Option<i64>, now: i64) -> Result<usize, StoreError> {
    let targets: Vec<(i64, i64, Channel)> = db
        .query(
            "SELECT id, submission_id, channel FROM outbox
             WHERE status = 'failed' AND (CAST(?1 AS BIGINT) IS NULL OR id = ?1) ORDER BY id",
            vals![id],
        )?
        .iter()
        .map(|r| Ok((r.int(0)?, r.int(1)?, r.code(2, Channel::from_code)?)))
        .collect::<Result<_, StoreError>>()?;
    for (row, submission, channel) in &targets {
        db.execute(
            "UPDATE outbox SET status = 'pending', tries = 0, next_attempt_at = ?2 WHERE id = ?1",
            vals![*row, now],
        )?;
        // The outbox's claim columns exist on PostgreSQL only: a row put
        // back is free for any node at once.
        if db.engine() == crate::store::sql::Engine::Postgres {
            db.execute(
                "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE id = ?1",
                vals![*row],
            )?;
        }
        audit(db, now, Some(*submission), "重新发送通知", channel.label())?;
    }
    Ok(targets.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::sql::Lite;
    use rusqlite::{params, Connection};

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = store::open(&dir.path().join("x.db")).unwrap();
        (dir, conn)
    }

    fn add(conn: &Connection, reference: &str, unit: &str, at: i64) -> i64 {
        conn.execute(
            "INSERT INTO submissions (reference, token, form_id, form_title, unit, answers, hash, received_at)
             VALUES (?1, ?1, 'departments', '市直主管部门信息一览表', ?2, ?3, 'h', ?4)",
            params![reference, unit, format!(r#"[["unit_name",{}]]"#, serde_json::json!(unit)), at],
        )
        .unwrap();
        let id = conn.last_insert_rowid();
        conn.execute(
            "INSERT INTO outbox (submission_id, channel, recipients, status, next_attempt_at, created_at, last_error)
             VALUES (?1, 'email', '[\"a@b.cn\"]', 'failed', 0, 0, 'refused')",
            [id],
        )
        .unwrap();
        id
    }

    #[test]
    fn list_filters_and_changes_are_audited() {
        let (_d, conn) = db();
        add(&conn, "AAAAAAA2", "甲局", 1000);
        add(&conn, "BBBBBBB3", "乙局", 2000);
        let all = list(&mut Lite(&conn), "departments", None, 0).unwrap().rows;
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].unit, "乙局", "newest first");
        assert_eq!(all[0].status, Processing::Pending);
        assert_eq!(all[0].channels[0].status, Delivery::Failed);

        let set = Change::SetUp {
            account: "mz_jia".into(),
            note: "已电话告知".into(),
        };
        assert_eq!(change(&mut Lite(&conn), "AAAAAAA2", &set, 3000).unwrap(), 1);
        assert_eq!(change(&mut Lite(&conn), "NOSUCH22", &set, 3000).unwrap(), 0);
        let fb = Change::FedBack {
            note: String::new(),
        };
        change(&mut Lite(&conn), "AAAAAAA2", &fb, 4000).unwrap();
        let d = detail(&mut Lite(&conn), "AAAAAAA2").unwrap().unwrap();
        assert_eq!(d.status, Processing::FedBack);
        assert_eq!(d.account, "mz_jia");
        assert_eq!(
            d.note, "已电话告知",
            "an empty feedback note keeps the old one"
        );
        assert_eq!(d.audit.len(), 2);
        assert_eq!(d.audit[0].action, "标记为已设置");
        assert!(d.audit[0].detail.contains("mz_jia"));
        assert_eq!(d.audit[1].actor, ACTOR);

        let pending = list(
            &mut Lite(&conn),
            "departments",
            Some(Processing::Pending),
            0,
        )
        .unwrap()
        .rows;
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].unit, "乙局");
        let c = counts(&mut Lite(&conn)).unwrap();
        assert_eq!((c["departments"].total, c["departments"].fed_back), (2, 1));
    }

    /// The list is read a page at a time, newest first, each row with its
    /// own notifications (the soak test's memory grew with a list page that
    /// held every return).
    #[test]
    fn the_list_comes_a_page_at_a_time() {
        let (_d, conn) = db();
        let n = PAGE_ROWS + 5;
        for i in 0..n {
            add(&conn, &format!("R{i:07}"), &format!("单位{i}"), 1000 + i);
        }
        let first = list(&mut Lite(&conn), "departments", None, 0).unwrap();
        assert_eq!(first.total, n);
        assert_eq!(first.rows.len() as i64, PAGE_ROWS);
        assert_eq!(first.rows[0].unit, format!("单位{}", n - 1), "newest first");
        assert!(first.rows.iter().all(|r| r.channels.len() == 1));
        let second = list(&mut Lite(&conn), "departments", None, 1).unwrap();
        assert_eq!(second.rows.len(), 5);
        assert_eq!(second.rows[4].unit, "单位0");
        assert!(second.rows.iter().all(|r| r.channels.len() == 1));
        assert!(list(&mut Lite(&conn), "departments", None, 2)
            .unwrap()
            .rows
            .is_empty());
    }

    #[test]
    fn requeue_one_or_all() {
        let (_d, conn) = db();
        let a = add(&conn, "AAAAAAA2", "甲局", 1000);
        add(&conn, "BBBBBBB3", "乙局", 2000);
        assert_eq!(
            crate::store::outbox_rows(&mut Lite(&conn)).unwrap().len(),
            2
        );
        let first: i64 = conn
            .query_row("SELECT id FROM outbox WHERE submission_id = ?1", [a], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(requeue(&mut Lite(&conn), Some(first), 5000).unwrap(), 1);
        assert_eq!(
            requeue(&mut Lite(&conn), Some(first), 5000).unwrap(),
            0,
            "no longer failed"
        );
        assert_eq!(requeue(&mut Lite(&conn), None, 5000).unwrap(), 1);
        let rows = crate::store::outbox_rows(&mut Lite(&conn)).unwrap();
        assert!(rows
            .iter()
            .all(|r| r.status == Delivery::Pending && r.tries == 0 && r.next_attempt_at == 5000));
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM audit WHERE action = '重新发送通知'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 2);
    }
}
