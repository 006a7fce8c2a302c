//! Returns by email: the office mailbox read over IMAP. Each new message's
//! spreadsheet attachments are recognised by their header row, validated
//! with the code `gazette import` uses, and stored (source 邮件) with the
//! message's Message-ID, sender, subject and date; the sender gets an
//! answer through the outbox. `gazette intake` reads the mailbox when
//! `[mailbox] server` is set; `gazette mailbox --once` does one pass.
//!
//! Nothing lost, nothing doubled: a batch of messages is committed in one
//! transaction (rows, notifications, answers and one `mail_messages` row per
//! message key) before any of them is moved out of the folder. A crash in
//! between leaves them in the folder; read again, their keys are known, so
//! they are only moved.

mod db;
mod imap;
mod message;
mod reply;

pub(crate) use db::{
    due_replies, failed_messages, mail_of_submission, mark_replies, next_reply_due, reply_rows,
    requeue_failed_replies, ReplyItem,
};
pub(crate) use reply::filer_copy_text;

use crate::state::FormSet;
use crate::store::Store;
use anyhow::Context as _;
use config::Config;
use db::{Answer, Decided, Outcome};
use forms::FormDef;
use std::sync::Arc;
use std::time::Duration;

/// Messages fetched and committed together (one transaction, one MOVE).
const BATCH: usize = 100;

/// The web filer's address for a copy of the receipt: the answer to the
/// form's first email field, if it is an address.
pub(crate) fn filer_address(def: &FormDef, answers: &forms::Answers) -> Option<String> {
    let field = def.fields.iter().find(|f| f.kind == forms::Kind::Email)?;
    let value = answers.get(&field.name)?.display();
    let value = value.trim();
    value
        .parse::<lettre::Address>()
        .ok()
        .map(|_| value.to_string())
}

/// `[mailbox]`, checked, with the password read.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    account: imap::Account,
    folder: String,
    processed: String,
    failed: String,
    poll: Duration,
    idle: bool,
    reply_without_table: bool,
    max_message: u64,
    limits: message::Limits,
    /// Addresses that are this service's own: never answered.
    own: Vec<String>,
}

impl Settings {
    pub(crate) fn from_config(config: &Config) -> anyhow::Result<Settings> {
        let m = &config.mailbox;
        let file = config.root.join(config::FILE_NAME);
        let bad = |key: &str, reason: String| {
            anyhow::anyhow!("{}: [mailbox.{key}] {reason}", file.display())
        };
        let (host, port) = m
            .server
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.trim_matches(['[', ']']).to_string(), p.parse().ok()?)))
            .ok_or_else(|| bad("server", format!("{:?} is not host:port", m.server)))?;
        if m.tls == "none" && !is_loopback(&host) {
            return Err(bad(
                "tls",
                format!("\"none\" sends the password in clear text; it is allowed only to a loopback address, not {host:?}. Use tls or starttls"),
            ));
        }
        let password = if m.password_file.as_os_str().is_empty() {
            m.password.clone()
        } else {
            let path = config.resolve(&m.password_file);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                bad(
                    "password_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            text.lines().next().unwrap_or("").to_string()
        };
        let mut own: Vec<String> = Vec::new();
        if m.user.contains('@') {
            own.push(m.user.trim().to_string());
        }
        if let Ok(from) = config.mail.from.trim().parse::<lettre::message::Mailbox>() {
            own.push(from.email.to_string());
        }
        if !config.office.email.trim().is_empty() {
            own.push(config.office.email.trim().to_string());
        }
        Ok(Settings {
            account: imap::Account {
                host,
                port,
                tls: m.tls.clone(),
                user: m.user.clone(),
                password,
            },
            folder: m.folder.clone(),
            processed: m.processed_folder.clone(),
            failed: m.failed_folder.clone(),
            poll: m.poll,
            idle: m.idle,
            reply_without_table: m.no_attachment == "reply",
            max_message: m.max_message_bytes,
            limits: message::Limits {
                attachment: m.max_attachment_bytes,
                unpacked: m.max_unpacked_bytes,
            },
            own,
        })
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// What one pass did.
#[derive(Debug, Default, Clone)]
pub struct PassReport {
    pub read: usize,
    pub stored: usize,
    pub refused: usize,
    pub answered_howto: usize,
    pub left: usize,
    pub ignored: usize,
    pub failed: usize,
    /// Read before (a crash before the move, or a second copy): only moved.
    pub again: usize,
}

impl std::fmt::Display for PassReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "读取 {} 封邮件：已登记 {}，表格有误 {}，没有表格 {}（已回复 {}，待人工处理 {}），自动邮件 {}，无法处理 {}，此前已处理 {}",
            self.read,
            self.stored,
            self.refused,
            self.answered_howto + self.left,
            self.answered_howto,
            self.left,
            self.ignored,
            self.failed,
            self.again
        )
    }
}

/// Judges one message (no I/O): what to store and how to answer.
fn decide(raw: &[u8], forms: &FormSet, settings: &Settings) -> Decided {
    let judged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        decide_inner(raw, forms, settings)
    }));
    judged.unwrap_or_else(|_| Decided {
        meta: hash_meta(raw),
        outcome: Outcome::Failed,
        note: "读取这封邮件时出错（内部错误），已移到处理失败的文件夹。".into(),
        tables: Vec::new(),
        answer: Answer::None,
    })
}

fn hash_meta(raw: &[u8]) -> message::Meta {
    use sha2::{Digest, Sha256};
    message::Meta {
        key: format!("sha256:{}", crate::refs::hex(&Sha256::digest(raw))),
        ..Default::default()
    }
}

fn decide_inner(raw: &[u8], forms: &FormSet, settings: &Settings) -> Decided {
    let Some(parsed) = message::parse(raw) else {
        return Decided {
            meta: hash_meta(raw),
            outcome: Outcome::Failed,
            note: "不是一封可以读取的邮件（没有邮件头）。".into(),
            tables: Vec::new(),
            answer: Answer::None,
        };
    };
    let meta = message::meta(raw, &parsed);
    if let Some(why) = message::no_answer_reason(&parsed, &settings.own) {
        return Decided {
            meta,
            outcome: Outcome::Ignored,
            note: why,
            tables: Vec::new(),
            answer: Answer::None,
        };
    }
    let tables = message::tables(&parsed, forms, settings.limits);
    if tables.is_empty() {
        let (outcome, answer) = if settings.reply_without_table {
            (Outcome::NoTable, Answer::HowTo)
        } else {
            (Outcome::Left, Answer::None)
        };
        return Decided {
            meta,
            outcome,
            note: String::new(),
            tables,
            answer,
        };
    }
    let stored = tables
        .iter()
        .any(|t| matches!(t, message::Table::Rows { .. }));
    let oversize: Vec<String> = tables
        .iter()
        .filter_map(|t| match t {
            message::Table::Refused {
                name,
                problems,
                oversize: true,
                ..
            } => Some(format!("附件“{name}”：{}", problems.join(" "))),
            _ => None,
        })
        .collect();
    let outcome = if stored {
        Outcome::Stored
    } else if !oversize.is_empty() {
        Outcome::Failed
    } else {
        Outcome::Refused
    };
    Decided {
        meta,
        outcome,
        note: oversize.join("；"),
        tables,
        answer: Answer::Result,
    }
}

/// A message too large to read: its headers only.
fn decide_too_large(header: &[u8], size: u64, settings: &Settings) -> Decided {
    let mut d = decide_inner(header, &FormSet::new(), settings);
    let note = format!(
        "邮件太大（{:.1} MB），超过 [mailbox] max_message_bytes，没有读取。",
        size as f64 / (1024.0 * 1024.0)
    );
    if d.outcome == Outcome::Ignored {
        d.note = format!("{note}（{}）", d.note);
    } else {
        d.note = note;
        d.answer = Answer::TooLarge(settings.max_message);
    }
    // The key of a message without Message-ID is its headers' hash here;
    // its size is part of it, so a different message is not taken for it.
    if d.meta.message_id.is_empty() {
        d.meta.key = format!("{}:{size}", d.meta.key);
    }
    d.outcome = Outcome::Failed;
    d.tables.clear();
    d
}

/// One pass over the folder: every waiting message judged, stored, answered
/// and moved. `wake` is told after each commit (the outbox worker).
async fn pass(
    session: &mut imap::Session,
    settings: &Settings,
    config: &Config,
    forms: &FormSet,
    store: &Store,
    wake: Option<&tokio::sync::Notify>,
) -> anyhow::Result<PassReport> {
    session
        .select(&settings.folder)
        .await
        .with_context(|| format!("[mailbox.folder] cannot open {:?}", settings.folder))?;
    let can_move = session
        .capabilities()
        .await
        .map(|c| c.has_str("MOVE"))
        .unwrap_or(false);
    let waiting = imap::waiting(session).await?;
    let mut report = PassReport::default();
    let (small, large): (Vec<_>, Vec<_>) = waiting
        .into_iter()
        .partition(|(_, size)| *size <= settings.max_message);
    for chunk in batches(&small) {
        let raws = imap::fetch(session, &chunk, false).await?;
        let decided: Vec<(u32, Decided)> = raws
            .iter()
            .map(|(uid, raw)| (*uid, decide(raw, forms, settings)))
            .collect();
        finish(
            session,
            settings,
            config,
            forms,
            store,
            decided,
            can_move,
            wake,
            &mut report,
        )
        .await?;
    }
    for chunk in large.chunks(BATCH) {
        let uids: Vec<u32> = chunk.iter().map(|(u, _)| *u).collect();
        let headers = imap::fetch(session, &uids, true).await?;
        let decided: Vec<(u32, Decided)> = headers
            .iter()
            .map(|(uid, raw)| {
                let size = chunk
                    .iter()
                    .find(|(u, _)| u == uid)
                    .map(|(_, s)| *s)
                    .unwrap_or(0);
                (*uid, decide_too_large(raw, size, settings))
            })
            .collect();
        finish(
            session,
            settings,
            config,
            forms,
            store,
            decided,
            can_move,
            wake,
            &mut report,
        )
        .await?;
    }
    Ok(report)
}

/// Most bytes of messages held at once (a batch is cut short before it).
const BATCH_BYTES: u64 = 64 * 1024 * 1024;

/// The uids in batches of at most [`BATCH`] messages and [`BATCH_BYTES`].
fn batches(waiting: &[(u32, u64)]) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut bytes = 0u64;
    for (uid, size) in waiting {
        match out.last_mut() {
            Some(b) if b.len() < BATCH && bytes + size <= BATCH_BYTES => {
                b.push(*uid);
                bytes += size;
            }
            _ => {
                out.push(vec![*uid]);
                bytes = *size;
            }
        }
    }
    out
}

/// Stores the messages `which` of `decided` in one write transaction.
async fn write(
    store: &Store,
    config: &Config,
    all: &[Arc<FormDef>],
    decided: &Arc<Vec<Decided>>,
    which: Vec<usize>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Outcome>, crate::store::StoreError> {
    let (config, all, decided) = (config.clone(), all.to_vec(), Arc::clone(decided));
    store
        .write(move |db| {
            let batch: Vec<&Decided> = which.iter().map(|&i| &decided[i]).collect();
            db::store_batch(db, &config, &all, &batch, now)
        })
        .await
}

/// Stores the batch; should that fail, each message alone, and a message
/// that still cannot be stored is recorded as failed (moved to the failed
/// folder with the reason, not read again forever). An error that stops
/// even that (the disk full, the database gone) is returned: the pass ends
/// and the messages stay in the folder for the next one.
async fn store_all(
    store: &Store,
    config: &Config,
    all: &[Arc<FormDef>],
    decided: &Arc<Vec<Decided>>,
) -> anyhow::Result<Vec<Outcome>> {
    let now = chrono::Utc::now();
    let every: Vec<usize> = (0..decided.len()).collect();
    let first = match write(store, config, all, decided, every, now).await {
        Ok(o) => return Ok(o),
        Err(e) => e,
    };
    if decided.len() > 1 {
        tracing::warn!(
            "mailbox: a batch of {} failed ({first}); storing them one by one",
            decided.len()
        );
    }
    let mut out = Vec::with_capacity(decided.len());
    for i in 0..decided.len() {
        let e = if decided.len() > 1 {
            match write(store, config, all, decided, vec![i], now).await {
                Ok(o) => {
                    out.extend(o);
                    continue;
                }
                Err(e) => e,
            }
        } else {
            first.clone()
        };
        let d = &decided[i];
        tracing::error!("mailbox: cannot store {:?}: {e}", d.meta.key);
        let failed = Arc::new(vec![Decided {
            meta: d.meta.clone(),
            outcome: Outcome::Failed,
            note: format!("无法保存这封邮件的数据：{e}"),
            tables: Vec::new(),
            answer: Answer::None,
        }]);
        out.extend(
            write(store, config, all, &failed, vec![0], now)
                .await
                .context("cannot store the messages' returns")?,
        );
    }
    Ok(out)
}

/// Commits a batch, then moves its messages where their outcome says.
#[allow(clippy::too_many_arguments)]
async fn finish(
    session: &mut imap::Session,
    settings: &Settings,
    config: &Config,
    forms: &FormSet,
    store: &Store,
    decided: Vec<(u32, Decided)>,
    can_move: bool,
    wake: Option<&tokio::sync::Notify>,
    report: &mut PassReport,
) -> anyhow::Result<()> {
    if decided.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = decided.iter().map(|(_, d)| d.meta.key.clone()).collect();
    let known = store.read(move |db| db::known(db, &keys)).await?;
    let (uids, decided): (Vec<u32>, Vec<Decided>) = decided.into_iter().unzip();
    let decided = Arc::new(decided);
    let mut all: Vec<Arc<FormDef>> = forms.values().cloned().collect();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    let outcomes = store_all(store, config, &all, &decided).await?;
    if let Some(w) = wake {
        w.notify_one();
    }
    let (mut processed, mut failed, mut left) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = std::collections::HashSet::new();
    for ((uid, d), outcome) in uids.iter().zip(decided.iter()).zip(outcomes) {
        report.read += 1;
        // Known before this batch, or a second copy within it.
        if known.contains_key(&d.meta.key) || !seen.insert(d.meta.key.clone()) {
            report.again += 1;
        } else {
            match outcome {
                Outcome::Stored => report.stored += 1,
                Outcome::Refused => report.refused += 1,
                Outcome::NoTable => report.answered_howto += 1,
                Outcome::Left => report.left += 1,
                Outcome::Ignored => report.ignored += 1,
                Outcome::Failed => report.failed += 1,
            }
            if outcome == Outcome::Failed {
                tracing::warn!(
                    "mailbox: message {:?} from {:?}: {}",
                    d.meta.subject,
                    d.meta.sender,
                    d.note
                );
            }
        }
        match outcome {
            Outcome::Failed => failed.push(*uid),
            Outcome::Left => left.push(*uid),
            _ => processed.push(*uid),
        }
    }
    imap::move_to(session, &processed, &settings.processed, can_move).await?;
    imap::move_to(session, &failed, &settings.failed, can_move).await?;
    imap::mark_left(session, &left).await?;
    Ok(())
}

/// Logs in and makes sure the processed and failed folders exist.
async fn open_session(settings: &Settings) -> anyhow::Result<imap::Session> {
    let mut session = imap::login(&settings.account).await?;
    imap::ensure_folder(&mut session, &settings.processed).await?;
    imap::ensure_folder(&mut session, &settings.failed).await?;
    Ok(session)
}

/// `gazette mailbox --once`: one pass, then log out. The answers and
/// notifications are queued; a running `gazette intake` sends them.
pub fn once(root: &std::path::Path) -> anyhow::Result<String> {
    let config = Config::load(root)?;
    if !config.mailbox.enabled() {
        anyhow::bail!(
            "{}: [mailbox] server is empty; set server, user and password (or password_file) to read the office mailbox",
            root.join(config::FILE_NAME).display()
        );
    }
    let settings = Settings::from_config(&config)?;
    let defs = FormDef::load_dir(&root.join("content").join("forms"))?;
    let forms: FormSet = defs
        .into_iter()
        .map(|d| (d.id.clone(), Arc::new(d)))
        .collect();
    let c = &config;
    let report = crate::store::command(&config, |store| async move {
        let mut session = open_session(&settings).await?;
        let report = pass(&mut session, &settings, c, &forms, &store, None).await?;
        let _ = session.logout().await;
        anyhow::Ok(report)
    })?;
    let mut text = report.to_string();
    if report.stored + report.refused + report.answered_howto + report.failed > 0 {
        text.push_str("回复和通知已排入发送队列，由运行中的 gazette intake 或 gazette serve 发送（gazette outbox 可查看）。\n");
    }
    Ok(text)
}

/// The mailbox reader thread of `gazette intake` or `gazette serve`.
pub struct Reader {
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Reader {
    /// Whether a reader runs (`[mailbox] server` is set).
    pub fn running(&self) -> bool {
        self.thread.is_some()
    }

    /// Asks the reader to stop and waits for it: it ends the pass it is in
    /// at a message boundary, so nothing is left half stored.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

impl crate::Service {
    /// Starts the mailbox reader when `[mailbox] server` is set (else a
    /// reader that does nothing); an unusable `[mailbox]` is an error.
    pub fn start_mailbox(&self) -> anyhow::Result<Reader> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let thread = start(Arc::clone(&self.inner), stopped)?;
        Ok(Reader { stop, thread })
    }
}

/// The reader inside `gazette intake`: on a thread of its own, a pass every
/// `poll` (or at once on new mail with IDLE), reconnecting after errors,
/// until `stop` turns true.
pub(crate) fn start(
    inner: Arc<crate::state::Inner>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<std::thread::JoinHandle<()>>> {
    if !inner.config.mailbox.enabled() {
        return Ok(None);
    }
    let settings = Settings::from_config(&inner.config)?;
    let thread = std::thread::Builder::new()
        .name("gazette-mailbox".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("mailbox: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                let mut failures = 0u32;
                loop {
                    if *stop.borrow() {
                        return;
                    }
                    match serve(&inner, &settings, &mut stop, &mut failures).await {
                        Ok(()) => return,
                        Err(e) => {
                            failures += 1;
                            tracing::warn!("mailbox: {e:#}; trying again");
                        }
                    }
                    // After an error: wait a little longer each time, at most the poll interval.
                    let pause = crate::outbox::backoff(Duration::from_millis(200), failures)
                        .min(settings.poll);
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stop.changed() => {}
                    }
                }
            });
        })
        .context("cannot start the mailbox thread")?;
    Ok(Some(thread))
}

/// One connection's life: passes until an error (returned) or the stop.
async fn serve(
    inner: &crate::state::Inner,
    settings: &Settings,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    failures: &mut u32,
) -> anyhow::Result<()> {
    let mut session = open_session(settings).await?;
    loop {
        let forms = inner.forms();
        let report = pass(
            &mut session,
            settings,
            &inner.config,
            &forms,
            &inner.store,
            Some(&inner.outbox_wake),
        )
        .await?;
        *failures = 0;
        if report.read > 0 {
            tracing::info!("mailbox: {}", report.to_string().trim_end());
        }
        if settings.idle {
            let mut handle = session.idle();
            handle.init().await.context("IDLE")?;
            let stopped = {
                let (wait, interrupt) = handle.wait_with_timeout(settings.poll);
                tokio::select! {
                    r = wait => { r.context("IDLE")?; false }
                    _ = stop.changed() => { drop(interrupt); true }
                }
            };
            session = handle.done().await.context("IDLE DONE")?;
            if stopped || *stop.borrow() {
                let _ = session.logout().await;
                return Ok(());
            }
        } else {
            tokio::select! {
                _ = tokio::time::sleep(settings.poll) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                let _ = session.logout().await;
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(config::FILE_NAME), text).unwrap();
        let c = Config::load_with_env(dir.path(), vec![]).unwrap();
        (dir, c)
    }

    #[test]
    fn plain_imap_only_to_loopback_and_the_password_file_is_read() {
        let (_d, c) = config(
            "[mailbox]\nserver = \"imap.example.org:143\"\ntls = \"none\"\nuser = \"u\"\npassword = \"p\"\n",
        );
        let e = Settings::from_config(&c).unwrap_err().to_string();
        assert!(e.contains("[mailbox.tls]") && e.contains("loopback"), "{e}");
        let (d, c) = config(
            "[mailbox]\nserver = \"127.0.0.1:143\"\ntls = \"none\"\nuser = \"office@hrss.test\"\npassword_file = \"pw\"\n",
        );
        let e = Settings::from_config(&c).unwrap_err().to_string();
        assert!(e.contains("[mailbox.password_file]"), "{e}");
        std::fs::write(d.path().join("pw"), "秘密 pass\nignored\n").unwrap();
        let s = Settings::from_config(&c).unwrap();
        assert_eq!(s.account.password, "秘密 pass");
        assert_eq!(
            (s.account.host.as_str(), s.account.port),
            ("127.0.0.1", 143)
        );
        // Its own addresses are never answered.
        assert!(s.own.contains(&"office@hrss.test".to_string()));
        assert!(s.own.contains(&"gazette@localhost".to_string()));
    }

    #[test]
    fn batches_are_cut_by_count_and_bytes() {
        let many: Vec<(u32, u64)> = (1..=250).map(|u| (u, 1000)).collect();
        let b = batches(&many);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [100, 100, 50]);
        let big = [(1, BATCH_BYTES - 10), (2, 20), (3, 5)];
        assert_eq!(batches(&big), [vec![1], vec![2, 3]]);
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn the_filer_address_is_the_first_email_answer() {
        let def = FormDef::parse(
            std::path::Path::new("t.toml"),
            "title = \"表\"\n[[fields]]\nname = \"unit\"\nlabel = \"单位\"\nkind = \"text\"\n[[fields]]\nname = \"email\"\nlabel = \"邮箱\"\nkind = \"email\"\n",
        )
        .unwrap();
        let answers = forms::Answers(vec![
            ("unit".into(), forms::Value::One("局".into())),
            ("email".into(), forms::Value::One("a@unit.test".into())),
        ]);
        assert_eq!(
            filer_address(&def, &answers).as_deref(),
            Some("a@unit.test")
        );
        let none = forms::Answers(vec![("unit".into(), forms::Value::One("局".into()))]);
        assert_eq!(filer_address(&def, &none), None);
    }
}
