//! The admin pages' reads and writes. Reads run on the reader pool, writes
//! inside the writer thread's transaction (see [`crate::store::Writer::apply`]).

use crate::status::{Channel, Delivery, Processing, Source};
use crate::store::{self, Submission};
use rusqlite::{params, Connection, OptionalExtension};
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

/// Returns to `form_id`, newest first, optionally only those in `status`.
pub(crate) fn list(
    conn: &Connection,
    form_id: &str,
    status: Option<Processing>,
    page: u32,
) -> Result<ListPage, rusqlite::Error> {
    let total: i64 = conn.query_row(
        "SELECT count(*) FROM submissions s LEFT JOIN processing p ON p.submission_id = s.id
         WHERE s.form_id = ?1 AND (?2 IS NULL OR COALESCE(p.status, ?3) = ?2)",
        params![form_id, status, Processing::Pending],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT s.id, s.reference, s.unit, s.received_at, s.late, COALESCE(p.status, ?3), s.source
         FROM submissions s LEFT JOIN processing p ON p.submission_id = s.id
         WHERE s.form_id = ?1 AND (?2 IS NULL OR COALESCE(p.status, ?3) = ?2)
         ORDER BY s.received_at DESC, s.id DESC LIMIT ?4 OFFSET ?5",
    )?;
    let offset = i64::from(page) * PAGE_ROWS;
    let rows: Vec<(i64, ListRow)> = stmt
        .query_map(
            params![form_id, status, Processing::Pending, PAGE_ROWS, offset],
            |r| {
                Ok((
                    r.get(0)?,
                    ListRow {
                        reference: r.get(1)?,
                        unit: r.get(2)?,
                        received_at: r.get(3)?,
                        late: r.get(4)?,
                        status: r.get(5)?,
                        channels: Vec::new(),
                        source: r.get(6)?,
                    },
                ))
            },
        )?
        .collect::<Result<_, _>>()?;
    // The notifications of this page's returns only.
    let ids = serde_json::Value::from(rows.iter().map(|(id, _)| *id).collect::<Vec<_>>());
    let mut channels: HashMap<i64, Vec<ChannelState>> = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT o.submission_id, o.channel, o.status FROM outbox o
         WHERE o.submission_id IN (SELECT value FROM json_each(?1)) ORDER BY o.id",
    )?;
    let mut q = stmt.query([ids.to_string()])?;
    while let Some(r) = q.next()? {
        channels.entry(r.get(0)?).or_default().push(ChannelState {
            channel: r.get(1)?,
            status: r.get(2)?,
        });
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

pub(crate) fn counts(conn: &Connection) -> Result<HashMap<String, FormCounts>, rusqlite::Error> {
    let mut stmt = conn.prepare_cached(
        "SELECT s.form_id, COALESCE(p.status, ?1), COUNT(*)
         FROM submissions s LEFT JOIN processing p ON p.submission_id = s.id
         GROUP BY 1, 2",
    )?;
    let mut out: HashMap<String, FormCounts> = HashMap::new();
    let mut q = stmt.query([Processing::Pending])?;
    while let Some(r) = q.next()? {
        let c = out.entry(r.get(0)?).or_default();
        let n: i64 = r.get(2)?;
        c.total += n;
        match r.get::<_, Processing>(1)? {
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

pub(crate) fn detail(
    conn: &Connection,
    reference: &str,
) -> Result<Option<Detail>, rusqlite::Error> {
    let Some(submission) = store::submission_by_reference(conn, reference)? else {
        return Ok(None);
    };
    let id = submission.id;
    let source: Source = conn
        .prepare_cached("SELECT source FROM submissions WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    let (status, account, note) = conn
        .prepare_cached("SELECT status, account, note FROM processing WHERE submission_id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?
        .unwrap_or_else(|| (Processing::Pending, String::new(), String::new()));
    let notifications = conn
        .prepare_cached(
            "SELECT id, channel, recipients, status, tries, next_attempt_at, last_error, sent_at
             FROM outbox WHERE submission_id = ?1 ORDER BY id",
        )?
        .query_map([id], |r| {
            let recipients: String = r.get(2)?;
            // A JSON list of addresses (or numbers), shown as one line.
            let recipients = serde_json::from_str::<Vec<String>>(&recipients)
                .map(|v| v.join("，"))
                .unwrap_or(recipients);
            Ok(Notification {
                id: r.get(0)?,
                channel: r.get(1)?,
                recipients,
                status: r.get(3)?,
                tries: r.get(4)?,
                next_attempt_at: r.get(5)?,
                last_error: r.get(6)?,
                sent_at: r.get(7)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let audit = conn
        .prepare_cached(
            "SELECT at, actor, action, detail FROM audit WHERE submission_id = ?1 ORDER BY id",
        )?
        .query_map([id], |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                detail: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
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
    conn: &Connection,
    reference: &str,
    change: &Change,
    now: i64,
) -> Result<usize, rusqlite::Error> {
    let Some(id) = conn
        .prepare_cached("SELECT id FROM submissions WHERE reference = ?1")?
        .query_row([reference], |r| r.get::<_, i64>(0))
        .optional()?
    else {
        return Ok(0);
    };
    let (action, detail) = match change {
        Change::SetUp { account, note } => {
            conn.prepare_cached(
                "INSERT INTO processing (submission_id, status, account, note, updated_at)
                 VALUES (?1, ?5, ?2, ?3, ?4)
                 ON CONFLICT (submission_id) DO UPDATE SET
                   status = excluded.status, account = excluded.account,
                   note = excluded.note, updated_at = excluded.updated_at",
            )?
            .execute(params![id, account, note, now, Processing::SetUp])?;
            let mut d = format!("账号：{account}");
            if !note.is_empty() {
                d.push_str(&format!("；备注：{note}"));
            }
            ("标记为已设置", d)
        }
        Change::FedBack { note } => {
            conn.prepare_cached(
                "INSERT INTO processing (submission_id, status, note, updated_at)
                 VALUES (?1, ?4, ?2, ?3)
                 ON CONFLICT (submission_id) DO UPDATE SET
                   status = excluded.status,
                   note = CASE WHEN excluded.note = '' THEN processing.note ELSE excluded.note END,
                   updated_at = excluded.updated_at",
            )?
            .execute(params![id, note, now, Processing::FedBack])?;
            let d = if note.is_empty() {
                String::new()
            } else {
                format!("备注：{note}")
            };
            ("标记为已反馈", d)
        }
    };
    audit(conn, now, Some(id), action, &detail)?;
    Ok(1)
}

/// Action names of login records in the audit table.
const LOGIN: &str = "登录";
const LOGIN_FAILED: &str = "登录失败";

/// Notes a login attempt that reached the password check (throttled ones
/// do not): the returns hold personal data, so who got in, and who tried,
/// is kept.
pub(crate) fn record_login(
    conn: &Connection,
    at: i64,
    from: &str,
    ok: bool,
) -> Result<usize, rusqlite::Error> {
    let action = if ok { LOGIN } else { LOGIN_FAILED };
    audit(conn, at, None, action, &format!("来自 {from}"))?;
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
pub(crate) fn recent_logins(
    conn: &Connection,
    limit: i64,
) -> Result<Vec<LoginRow>, rusqlite::Error> {
    conn.prepare_cached(
        "SELECT at, action, detail FROM audit
         WHERE submission_id IS NULL AND action IN (?1, ?2)
         ORDER BY id DESC LIMIT ?3",
    )?
    .query_map(params![LOGIN, LOGIN_FAILED, limit], |r| {
        Ok(LoginRow {
            at: crate::present::cst_text(r.get(0)?),
            ok: r.get::<_, String>(1)? == LOGIN,
            detail: r.get(2)?,
        })
    })?
    .collect()
}

fn audit(
    conn: &Connection,
    at: i64,
    submission_id: Option<i64>,
    action: &str,
    detail: &str,
) -> Result<(), rusqlite::Error> {
    conn.prepare_cached(
        "INSERT INTO audit (at, actor, submission_id, action, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![at, ACTOR, submission_id, action, detail])?;
    Ok(())
}

/// Puts failed notifications back in the queue (one, or all with `None`),
/// due now with their tries reset, and notes each in the audit trail.
pub(crate) fn requeue(
    conn: &Connection,
    id: Option<i64>,
    now: i64,
) -> Result<usize, rusqlite::Error> {
    let targets: Vec<(i64, i64, Channel)> = conn
        .prepare_cached(
            "SELECT id, submission_id, channel FROM outbox
             WHERE status = 'failed' AND (?1 IS NULL OR id = ?1) ORDER BY id",
        )?
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (row, submission, channel) in &targets {
        conn.prepare_cached(
            "UPDATE outbox SET status = 'pending', tries = 0, next_attempt_at = ?2 WHERE id = ?1",
        )?
        .execute(params![row, now])?;
        audit(
            conn,
            now,
            Some(*submission),
            "重新发送通知",
            channel.label(),
        )?;
    }
    Ok(targets.len())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let all = list(&conn, "departments", None, 0).unwrap().rows;
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].unit, "乙局", "newest first");
        assert_eq!(all[0].status, Processing::Pending);
        assert_eq!(all[0].channels[0].status, Delivery::Failed);

        let set = Change::SetUp {
            account: "mz_jia".into(),
            note: "已电话告知".into(),
        };
        assert_eq!(change(&conn, "AAAAAAA2", &set, 3000).unwrap(), 1);
        assert_eq!(change(&conn, "NOSUCH22", &set, 3000).unwrap(), 0);
        let fb = Change::FedBack {
            note: String::new(),
        };
        change(&conn, "AAAAAAA2", &fb, 4000).unwrap();
        let d = detail(&conn, "AAAAAAA2").unwrap().unwrap();
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

        let pending = list(&conn, "departments", Some(Processing::Pending), 0)
            .unwrap()
            .rows;
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].unit, "乙局");
        let c = counts(&conn).unwrap();
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
        let first = list(&conn, "departments", None, 0).unwrap();
        assert_eq!(first.total, n);
        assert_eq!(first.rows.len() as i64, PAGE_ROWS);
        assert_eq!(first.rows[0].unit, format!("单位{}", n - 1), "newest first");
        assert!(first.rows.iter().all(|r| r.channels.len() == 1));
        let second = list(&conn, "departments", None, 1).unwrap();
        assert_eq!(second.rows.len(), 5);
        assert_eq!(second.rows[4].unit, "单位0");
        assert!(second.rows.iter().all(|r| r.channels.len() == 1));
        assert!(list(&conn, "departments", None, 2).unwrap().rows.is_empty());
    }

    #[test]
    fn requeue_one_or_all() {
        let (_d, conn) = db();
        let a = add(&conn, "AAAAAAA2", "甲局", 1000);
        add(&conn, "BBBBBBB3", "乙局", 2000);
        assert_eq!(crate::store::outbox_rows(&conn).unwrap().len(), 2);
        let first: i64 = conn
            .query_row("SELECT id FROM outbox WHERE submission_id = ?1", [a], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(requeue(&conn, Some(first), 5000).unwrap(), 1);
        assert_eq!(
            requeue(&conn, Some(first), 5000).unwrap(),
            0,
            "no longer failed"
        );
        assert_eq!(requeue(&conn, None, 5000).unwrap(), 1);
        let rows = crate::store::outbox_rows(&conn).unwrap();
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
