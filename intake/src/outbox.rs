//! The outbox worker: sends each pending notification, retries with
//! exponential backoff, and marks rows sent or failed. It never touches the
//! request path: posts are answered once their row commits, whatever the mail
//! server does.

use crate::fax::Fax;
use crate::mail::{self, Mailer};
use crate::state::Inner;
use crate::status::{Channel, Delivery};
use crate::store::{self, Mark, OutboxItem};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Where notifications actually go with this configuration, for the words
/// people read: 已发送 only where a server took the message; a folder of
/// `.eml` files is 已写入文件夹 and names the folder.
pub(crate) struct Routes {
    /// `[mail] transport` as a folder, or None for SMTP.
    mail_folder: Option<std::path::PathBuf>,
    fax: Option<crate::fax::Transport>,
    fax_numbers: usize,
}

impl Routes {
    pub(crate) fn new(config: &config::Config) -> Routes {
        let mail_folder = match mail::MailSettings::from_config(config).map(|m| m.transport) {
            Ok(mail::TransportSpec::Smtp(_)) => None,
            Ok(mail::TransportSpec::Folder(dir)) => Some(dir),
            // Not startable anyway; name what the setting says.
            Err(_) => Some(config.resolve(std::path::Path::new(config.mail.transport.trim()))),
        };
        Routes {
            mail_folder,
            fax: crate::fax::Transport::from_config(config),
            fax_numbers: config
                .fax
                .numbers
                .iter()
                .filter(|n| !n.trim().is_empty())
                .count(),
        }
    }

    /// A row's state as the admin pages show it.
    pub(crate) fn label(&self, channel: Channel, status: Delivery) -> String {
        let folder = |done: bool| {
            self.mail_folder.as_ref().map(|d| {
                let verb = if done {
                    "已写入文件夹"
                } else {
                    "待写入文件夹"
                };
                format!("{verb} {}（未发出）", d.display())
            })
        };
        let via_mail = channel == Channel::Email
            || matches!(self.fax, Some(crate::fax::Transport::Gateway(_)));
        match status {
            Delivery::Failed => Delivery::Failed.label().into(),
            Delivery::Pending => match folder(false) {
                Some(f) if via_mail => f,
                _ => Delivery::Pending.label().into(),
            },
            Delivery::Sent => match (channel, folder(true)) {
                (_, Some(f)) if via_mail => f,
                (Channel::Email, _) => "已发送（邮件服务器已接收）".into(),
                (Channel::Fax, _) if via_mail => "已发送至传真网关（邮件服务器已接收）".into(),
                (Channel::Fax, _) => "已交给传真命令（命令执行成功）".into(),
            },
        }
    }

    /// Where mail and faxes go, in Chinese (the admin pages).
    pub(crate) fn describe_zh(&self) -> String {
        let mail = match &self.mail_folder {
            Some(d) => format!(
                "通知邮件只写入文件夹 {}，不会发出（[mail] transport 设为 smtp:// 地址后才会发送）",
                d.display()
            ),
            None => "通知邮件经 SMTP 服务器发送，服务器接收后显示“已发送”".into(),
        };
        let fax = match (&self.fax, self.fax_numbers) {
            (None, _) => "传真：未配置传真网关或传真命令，不发送传真".to_string(),
            (_, 0) => "传真：未设置传真号码，不发送传真".to_string(),
            (Some(crate::fax::Transport::Gateway(_)), _) => match &self.mail_folder {
                Some(_) => "传真经邮件网关发送，但邮件只写入文件夹，传真也不会发出".into(),
                None => "传真经邮件网关发送".into(),
            },
            (Some(crate::fax::Transport::Command(_)), _) => "传真由传真命令发送".into(),
        };
        format!("{mail}；{fax}。")
    }

    /// Where mail and faxes go, in English (start-up log, `gazette outbox`).
    pub(crate) fn describe(&self) -> String {
        let mail = match &self.mail_folder {
            Some(d) => format!(
                "mail is written to the folder {} as .eml files and NOT sent (set [mail] transport to an smtp:// URL to send)",
                d.display()
            ),
            None => "mail is sent through the SMTP server ([mail] transport)".into(),
        };
        let fax = match (&self.fax, self.fax_numbers) {
            (None, _) => "no faxes are sent (no [fax] gateway or command)".to_string(),
            (_, 0) => "no faxes are sent (no [fax] numbers)".to_string(),
            (Some(crate::fax::Transport::Gateway(_)), n) => match &self.mail_folder {
                Some(_) => format!("faxes to {n} number(s) go by the email gateway, so they end up in the mail folder too"),
                None => format!("faxes to {n} number(s) go by the email gateway"),
            },
            (Some(crate::fax::Transport::Command(_)), n) => {
                format!("faxes to {n} number(s) are handed to the [fax] command")
            }
        };
        format!("{mail}; {fax}")
    }

    /// How `gazette outbox` counts the delivered rows.
    fn delivered(&self, n: i64) -> String {
        match &self.mail_folder {
            Some(d) => format!("{n} written to the folder {} (not sent)", d.display()),
            None => format!("{n} sent (accepted by the SMTP server or the fax command)"),
        }
    }
}

/// Longest wait between two tries, however many have failed.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(3600);

/// How often the queue is looked at even without news (rows requeued by
/// `gazette outbox retry` from another process).
const POLL: Duration = Duration::from_secs(2);

/// Rows sent at the same time.
const CONCURRENCY: usize = 16;

/// Wait after the `tries`-th failure (1-based): base, 2·base, 4·base, … capped at [`MAX_DELAY`].
pub(crate) fn backoff(base: Duration, tries: u32) -> Duration {
    let exp = tries.saturating_sub(1).min(30);
    base.saturating_mul(1u32 << exp).min(MAX_DELAY)
}

/// What to write back after an attempt.
pub(crate) fn after_attempt(
    item_id: i64,
    tries_before: i64,
    result: Result<(), mail::SendError>,
    now: i64,
    base: Duration,
    max_tries: u32,
) -> Mark {
    let tries = tries_before + 1;
    match result {
        Ok(()) => Mark::Sent {
            id: item_id,
            at: now,
        },
        Err(e) if e.permanent || tries >= i64::from(max_tries) => Mark::Failed {
            id: item_id,
            tries,
            error: e.text,
        },
        Err(e) => Mark::Retry {
            id: item_id,
            tries,
            next_at: now + backoff(base, tries as u32).as_millis() as i64,
            error: e.text,
        },
    }
}

/// Runs until `stop` turns true.
pub(crate) async fn run(inner: Arc<Inner>, mailer: Arc<Mailer>, mut stop: watch::Receiver<bool>) {
    // The font is found once, at start-up, so a missing one is said at once.
    let config = inner.config.clone();
    let fax = match tokio::task::spawn_blocking(move || Fax::load(&config)).await {
        Ok(fax) => Arc::new(fax),
        Err(e) => {
            tracing::error!("fax: start-up: {e}");
            return;
        }
    };
    let base = inner.config.mail.retry_base;
    let max_tries = inner.config.mail.retry_max;
    loop {
        if *stop.borrow() {
            break;
        }
        let now = store::now_ms();
        let rows = match inner.store.claim(now, CONCURRENCY * 4).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!("outbox: cannot read the queue: {e}");
                wait(&inner, &mut stop, POLL).await;
                continue;
            }
        };
        // Replies (mail senders, filers' copies), claimed as outbox rows are.
        let replies = inner.store.claim_replies(now, CONCURRENCY * 4).await;
        let replies = match replies {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("outbox: cannot read the replies queue: {e}");
                Vec::new()
            }
        };
        // Counted once the queue has been read: a test that expects nothing
        // to be sent waits for a pass that began after its commit.
        inner
            .outbox_passes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if !replies.is_empty() {
            send_replies(&inner, &mailer, replies, base, max_tries).await;
        }
        if rows.is_empty() {
            let next = inner.store.next_due().await.ok().flatten();
            let pause = match next {
                Some(t) => Duration::from_millis((t - store::now_ms()).max(0) as u64).min(POLL),
                None => POLL,
            };
            if !pause.is_zero() && wait(&inner, &mut stop, pause).await {
                break;
            }
            continue;
        }
        let mut marks = Vec::with_capacity(rows.len());
        for chunk in rows.chunks(CONCURRENCY) {
            let mut set = tokio::task::JoinSet::new();
            for item in chunk.iter().cloned() {
                let inner = Arc::clone(&inner);
                let mailer = Arc::clone(&mailer);
                let fax = Arc::clone(&fax);
                set.spawn(async move {
                    let result = deliver(&inner, &mailer, &fax, &item).await;
                    let mark = after_attempt(
                        item.id,
                        item.tries,
                        result,
                        store::now_ms(),
                        base,
                        max_tries,
                    );
                    log_mark(&item, &mark);
                    mark
                });
            }
            while let Some(r) = set.join_next().await {
                if let Ok(mark) = r {
                    marks.push(mark);
                }
            }
        }
        if let Err(e) = inner.store.mark(marks).await {
            tracing::warn!("outbox: cannot record delivery results: {e}");
            if wait(&inner, &mut stop, POLL).await {
                break;
            }
        }
    }
}

/// Sends replies to people (mail senders, web filers), as many at once as
/// notifications, and writes back how each went.
async fn send_replies(
    inner: &Arc<Inner>,
    mailer: &Arc<Mailer>,
    replies: Vec<crate::mailbox::ReplyItem>,
    base: Duration,
    max_tries: u32,
) {
    let mut marks = Vec::with_capacity(replies.len());
    for chunk in replies.chunks(CONCURRENCY) {
        let mut set = tokio::task::JoinSet::new();
        for item in chunk.iter().cloned() {
            let inner = Arc::clone(inner);
            let mailer = Arc::clone(mailer);
            set.spawn(async move {
                let result = deliver_reply(&inner, &mailer, &item).await;
                let mark = after_attempt(
                    item.id,
                    item.tries,
                    result,
                    store::now_ms(),
                    base,
                    max_tries,
                );
                match &mark {
                    Mark::Sent { .. } => tracing::debug!("outbox: reply {} sent", item.id),
                    Mark::Retry { error, .. } => {
                        tracing::warn!("outbox: reply {} failed, will retry: {error}", item.id)
                    }
                    Mark::Failed { error, .. } => {
                        tracing::error!("outbox: reply {} failed: {error}", item.id)
                    }
                }
                mark
            });
        }
        while let Some(r) = set.join_next().await {
            if let Ok(mark) = r {
                marks.push(mark);
            }
        }
    }
    if let Err(e) = inner
        .store
        .write(move |db| crate::mailbox::mark_replies(db, &marks))
        .await
    {
        tracing::warn!("outbox: cannot record reply results: {e}");
    }
}

async fn deliver_reply(
    inner: &Inner,
    mailer: &Mailer,
    item: &crate::mailbox::ReplyItem,
) -> Result<(), mail::SendError> {
    let (subject, text) = match &item.submission {
        // A web filer's copy is laid out from the return when sent.
        Some(sub) if item.kind == "filer_copy" => {
            let forms = inner.forms();
            let def = forms.get(&sub.form_id);
            let rows = crate::present::answer_rows(def.map(|d| d.as_ref()), &sub.answers);
            (
                format!("【回执】《{}》参考编号 {}", sub.form_title, sub.reference),
                crate::mailbox::filer_copy_text(
                    &inner.config,
                    &sub.form_title,
                    &sub.reference,
                    &crate::present::cst_text(sub.received_at),
                    &rows,
                ),
            )
        }
        _ => (item.subject.clone(), item.body.clone()),
    };
    let message = mail::reply_message(
        &mailer.from,
        mail::Reply {
            id: item.id,
            to: &item.recipient,
            subject: &subject,
            text,
            in_reply_to: &item.in_reply_to,
            references: &item.refs,
        },
    )?;
    mailer.send(message).await
}

/// Sleeps up to `pause` or until new rows commit; true when told to stop.
async fn wait(inner: &Inner, stop: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    tokio::select! {
        _ = inner.outbox_wake.notified() => false,
        _ = tokio::time::sleep(pause) => false,
        r = stop.changed() => r.is_err() || *stop.borrow(),
    }
}

async fn deliver(
    inner: &Inner,
    mailer: &Mailer,
    fax: &Fax,
    item: &OutboxItem,
) -> Result<(), mail::SendError> {
    let sub = &item.submission;
    let forms = inner.forms();
    let def = forms.get(&sub.form_id);
    if item.channel == Channel::Fax {
        return fax.send(mailer, item, def.map(|d| d.as_ref())).await;
    }
    let rows = crate::present::answer_rows(def.map(|d| d.as_ref()), &sub.answers);
    let layout = mail::layout(
        &inner.theme(),
        sub,
        def.and_then(|d| d.annex),
        &rows,
        &crate::present::cst_text(sub.received_at),
        &inner.config.office,
    );
    let message = mail::message(&mailer.from, &item.recipients, layout)?;
    mailer.send(message).await
}

fn log_mark(item: &OutboxItem, mark: &Mark) {
    let r = &item.submission.reference;
    match mark {
        Mark::Sent { .. } => tracing::debug!("outbox: sent {r} (row {})", item.id),
        Mark::Retry { tries, error, .. } => {
            tracing::warn!(
                "outbox: {r} (row {}) try {tries} failed, will retry: {error}",
                item.id
            )
        }
        Mark::Failed { tries, error, .. } => {
            tracing::error!(
                "outbox: {r} (row {}) failed after {tries} tries: {error}",
                item.id
            )
        }
    }
}

/// Rows listed per status by `gazette outbox`; the rest are counted.
pub(crate) const REPORT_MAX: usize = 100;

/// The text `gazette outbox` prints.
pub(crate) fn report(summary: &store::OutboxSummary, routes: &Routes) -> String {
    let pending = summary
        .lines
        .iter()
        .filter(|l| l.status == Delivery::Pending)
        .count();
    let failed = summary
        .lines
        .iter()
        .filter(|l| l.status == Delivery::Failed)
        .count();
    let mut out = format!(
        "{} submission(s); notifications: {}, {} pending, {} failed\n{}\n",
        summary.submissions,
        routes.delivered(summary.sent),
        pending,
        failed,
        routes.describe()
    );
    let mut shown = (0usize, 0usize);
    for l in &summary.lines {
        let n = if l.status == Delivery::Pending {
            &mut shown.0
        } else {
            &mut shown.1
        };
        *n += 1;
        if *n > REPORT_MAX {
            continue;
        }
        let when = if l.status == Delivery::Pending {
            format!("next try {}", crate::present::cst_text(l.next_attempt_at))
        } else {
            "gave up".to_string()
        };
        out.push_str(&format!(
            "{:<7} #{:<5} {} {:<5} {:<12} tries {:<2} {} {}\n",
            l.status, l.id, l.reference, l.channel, l.form_id, l.tries, when, l.unit
        ));
        if let Some(e) = &l.last_error {
            out.push_str(&format!("        last error: {}\n", e.replace('\n', " ")));
        }
    }
    for (status, total) in [(Delivery::Pending, pending), (Delivery::Failed, failed)] {
        if total > REPORT_MAX {
            out.push_str(&format!("… and {} more {status}\n", total - REPORT_MAX));
        }
    }
    if failed > 0 {
        out.push_str("requeue the failed ones with: gazette outbox retry\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        let base = Duration::from_secs(30);
        let waits: Vec<u64> = (1..=9).map(|n| backoff(base, n).as_secs()).collect();
        assert_eq!(waits, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(
            backoff(Duration::from_millis(200), 3),
            Duration::from_millis(800)
        );
        assert_eq!(backoff(base, 1000), MAX_DELAY);
        assert_eq!(backoff(base, 0), base);
    }

    #[test]
    fn report_counts_and_caps_the_listing() {
        let line = |id: i64, status: Delivery| store::OutboxRow {
            id,
            status,
            reference: "K7M2XR9P".into(),
            form_id: "departments".into(),
            form_title: "市直主管部门信息一览表".into(),
            unit: "梅州市某局".into(),
            channel: if id == 999 {
                Channel::Fax
            } else {
                Channel::Email
            },
            tries: 2,
            next_attempt_at: 0,
            last_error: Some("connection refused".into()),
        };
        let mut lines: Vec<_> = (0..150).map(|i| line(i, Delivery::Pending)).collect();
        lines.push(line(999, Delivery::Failed));
        let summary = store::OutboxSummary {
            submissions: 200,
            sent: 49,
            lines,
        };
        let smtp = Routes {
            mail_folder: None,
            fax: None,
            fax_numbers: 1,
        };
        let text = report(&summary, &smtp);
        assert!(
            text.starts_with("200 submission(s); notifications: 49 sent (accepted by the SMTP server or the fax command), 150 pending, 1 failed\n"),
            "{text}"
        );
        assert!(
            text.contains("no faxes are sent (no [fax] gateway or command)"),
            "{text}"
        );
        let folder = Routes {
            mail_folder: Some("var/outbox".into()),
            fax: Some(crate::fax::Transport::Command(vec!["sendfax".into()])),
            fax_numbers: 1,
        };
        let folder_text = report(&summary, &folder);
        assert!(
            folder_text.starts_with("200 submission(s); notifications: 49 written to the folder var/outbox (not sent), 150 pending, 1 failed\n"),
            "{folder_text}"
        );
        assert!(!folder_text.contains(" sent,"), "{folder_text}");
        assert_eq!(text.matches("pending #").count(), REPORT_MAX);
        assert!(text.contains("… and 50 more pending"));
        assert!(
            text.contains("failed  #999   K7M2XR9P fax   departments"),
            "{text}"
        );
        assert!(
            text.contains("pending #0     K7M2XR9P email departments"),
            "{text}"
        );
        assert!(text.contains("last error: connection refused"));
        assert!(text.contains("gazette outbox retry"));
    }

    #[test]
    fn labels_say_sent_only_when_a_server_took_it() {
        let folder = Routes {
            mail_folder: Some("var/outbox".into()),
            fax: Some(crate::fax::Transport::Gateway(
                "{number}@fax.example.org".into(),
            )),
            fax_numbers: 1,
        };
        assert_eq!(
            folder.label(Channel::Email, Delivery::Sent),
            "已写入文件夹 var/outbox（未发出）"
        );
        assert_eq!(
            folder.label(Channel::Fax, Delivery::Sent),
            "已写入文件夹 var/outbox（未发出）"
        );
        assert_eq!(
            folder.label(Channel::Email, Delivery::Pending),
            "待写入文件夹 var/outbox（未发出）"
        );
        assert_eq!(folder.label(Channel::Email, Delivery::Failed), "失败");
        assert!(folder.describe_zh().contains("不会发出"));
        let smtp = Routes {
            mail_folder: None,
            fax: Some(crate::fax::Transport::Command(vec!["sendfax".into()])),
            fax_numbers: 1,
        };
        assert_eq!(
            smtp.label(Channel::Email, Delivery::Sent),
            "已发送（邮件服务器已接收）"
        );
        assert_eq!(
            smtp.label(Channel::Fax, Delivery::Sent),
            "已交给传真命令（命令执行成功）"
        );
        assert_eq!(smtp.label(Channel::Email, Delivery::Pending), "待发送");
    }

    #[test]
    fn attempts_retry_then_fail() {
        let base = Duration::from_millis(200);
        let err = |permanent| {
            Err(mail::SendError {
                permanent,
                text: "connection refused".into(),
            })
        };
        assert_eq!(
            after_attempt(7, 0, Ok(()), 1000, base, 3),
            Mark::Sent { id: 7, at: 1000 }
        );
        assert_eq!(
            after_attempt(7, 0, err(false), 1000, base, 3),
            Mark::Retry {
                id: 7,
                tries: 1,
                next_at: 1200,
                error: "connection refused".into()
            }
        );
        assert_eq!(
            after_attempt(7, 1, err(false), 1000, base, 3),
            Mark::Retry {
                id: 7,
                tries: 2,
                next_at: 1400,
                error: "connection refused".into()
            }
        );
        assert!(matches!(
            after_attempt(7, 2, err(false), 1000, base, 3),
            Mark::Failed { tries: 3, .. }
        ));
        assert!(matches!(
            after_attempt(7, 0, err(true), 1000, base, 3),
            Mark::Failed { tries: 1, .. }
        ));
    }
}
